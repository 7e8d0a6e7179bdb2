//! notebook-trigger: a Pub/Sub push endpoint that launches Vertex AI Workbench instances.
//!
//! # Layout
//! - [`push_token`] checks the OIDC token Pub/Sub attaches, before anything else is read.
//! - [`push`] decodes what arrives on `POST /` (push envelope, manual message, CloudEvent)
//!   into a [`push::Trigger`] with a dedupe key; [`json_depth`] bounds nesting first.
//! - [`payload`] reads the message data: a profile choice and policy-checked overrides.
//! - [`profile`] layers env defaults, named profiles and overrides into a valid
//!   [`profile::LaunchSpec`].
//! - [`naming`] derives the instance id, the request id and provenance labels.
//! - [`notebooks`] builds v1/v2 request bodies and calls the API; [`credentials`] supplies
//!   its access tokens.
//! - [`poll`] waits on operations with backoff, a deadline and cancellation.
//! - [`rejection`] is every refusal before a launch begins (token, envelope, payload).
//! - [`launch`] runs one launch end to end; [`answer`] maps every outcome to an HTTP status;
//!   [`cause`] tells an error with every cause under it, in answers and logs.
//! - [`http`], [`startup`], [`config`], [`telemetry`], [`shutdown`]: the service;
//!   [`cli`] and [`commands`]: the command line and what each subcommand does.
//! - [`runner`] is the post-startup script that executes a run's notebook on its instance;
//!   [`runs`] is the product's idea of a run (ids, reports, cleanup, records, the reaper's
//!   judgement); [`completion`] takes a runner's report and [`reap`] cleans up after runs
//!   nobody reported; [`history`] lists runs from their records with their live states.
//! - The local Notebooks API for demos, tests and users' CI is the `notebooks-emulator` crate.
//! - [`pubsub`] publishes trigger messages and replays dead-lettered ones.
//! - [`scheduler`] validates `scheduler.yaml` and plans the gcloud commands of the deploy.
pub mod answer;
pub use notebooks_wire::cause;
pub mod cli;
pub mod commands;
pub mod completion;
pub mod config;
pub mod credentials;
pub mod history;
pub mod http;
pub mod json_depth;
pub mod launch;
pub mod naming;
pub mod notebooks;
pub mod payload;
pub mod poll;
pub mod profile;
pub mod pubsub;
pub mod push;
pub mod push_token;
pub mod reap;
pub mod rejection;
pub mod runner;
pub mod runs;
pub mod scheduler;
pub mod shutdown;
pub mod startup;
pub mod telemetry;
