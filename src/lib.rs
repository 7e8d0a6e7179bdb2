//! notebook-trigger: a Pub/Sub push endpoint that turns a message into a notebook run on a
//! Vertex AI Workbench instance.
//!
//! # Layers
//! Each line is a layer, top first; a module imports only from its own layer or those below,
//! and no modules import each other in a circle (`tests/layers.rs` reads this picture and holds
//! the code to it; `cargo test --test layers -- --nocapture` prints the graph).
//!
//! ```text layers
//! root:      commands cli startup config
//! surface:   http
//! use-cases: dispatch launch reap completion retry history operate
//! run-model: run
//! message:   rejection payload profile naming push json_depth papermill
//! clients:   edits push_token notebooks executions credentials cloud_storage poll pubsub runner telemetry variable scheduler shutdown webhook secret_manager
//! ```
//!
//! - **root**: [`commands`] does what each subcommand of [`cli`] says; [`startup`] is the
//!   composition root that builds every service once from [`config`], the settings read from
//!   the environment, for `serve` and for each command.
//! - **surface**: [`http`] is the router, its handlers, the history pages and the table that
//!   maps every outcome to one HTTP status.
//! - **use cases**, each built from its dependencies passed in: [`dispatch`] reads a message
//!   once and hands it to a [`launch`] (or a dry run) or a [`reap`]; [`completion`] takes a
//!   runner's report; [`retry`] launches the next attempt of a run whose attempt ended in an
//!   outcome its profile retries, after a report or a reap ended it; [`history`] lists runs
//!   from their records with their live states; [`operate`] is what an operator does to
//!   runs: rerun, cancel, run now.
//! - **run model**: [`run`] is the product's idea of a run: its id, record, store, events,
//!   report, cleanup, the one transition that ends a run and cleans up after it, the reaper's
//!   judgement and the listing of managed instances.
//! - **what a message asks for**, with no I/O: [`push`] decodes what arrives on `POST /` into a
//!   trigger with a dedupe key ([`json_depth`] bounds nesting first); [`payload`] reads a
//!   profile choice, policy-checked overrides and an app's event from the message's data or
//!   its attributes; [`profile`] layers defaults, named profiles
//!   and overrides into a valid launch spec; [`naming`] derives instance ids, request ids and
//!   provenance labels; [`papermill`] reads a notebook's declared parameters and writes the
//!   cell papermill injects; [`rejection`] is every refusal before an instance is created.
//! - **clients and vocabulary**: [`notebooks`] calls the Notebooks API with [`credentials`];
//!   [`executions`] calls Vertex AI's notebook execution jobs, the other backend of a run;
//!   [`cloud_storage`] is Cloud Storage with the service's credentials (run records, notebooks);
//!   [`poll`] waits on operations; [`push_token`] checks Google-signed tokens; [`pubsub`]
//!   publishes and replays messages; [`runner`] is the script that runs a notebook on its
//!   instance, with the metadata keys it reads; [`edits`] measures how near a typed name is
//!   to one of ours; [`telemetry`] sets up logs; [`variable`] is
//!   what a documented environment variable is; [`scheduler`] validates `scheduler.yaml` and
//!   plans the deploy's gcloud commands; [`shutdown`] turns signals into a cancellation;
//!   [`webhook`] POSTs to a configured URL with retries; [`secret_manager`] reads a secret
//!   version with the service's credentials.
//!
//! The local Notebooks API for demos, tests and users' CI is the `notebooks-emulator` crate;
//! what it shares with this crate on the wire (API versions, [`cause`]) is `notebooks-wire`.
pub use notebooks_wire::cause;
pub mod cli;
pub mod cloud_storage;
pub mod commands;
pub mod completion;
pub mod config;
pub mod credentials;
pub mod dispatch;
pub mod edits;
pub mod executions;
pub mod history;
pub mod http;
pub mod json_depth;
pub mod launch;
pub mod naming;
pub mod notebooks;
pub mod operate;
pub mod papermill;
pub mod payload;
pub mod poll;
pub mod profile;
pub mod pubsub;
pub mod push;
pub mod push_token;
pub mod reap;
pub mod rejection;
pub mod retry;
pub mod run;
pub mod runner;
pub mod scheduler;
pub mod secret_manager;
pub mod shutdown;
pub mod startup;
pub mod telemetry;
pub mod variable;
pub mod webhook;
