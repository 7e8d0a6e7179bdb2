//! Integration tests: the service on a free port against the Notebooks emulator on another.
#[path = "../support/child.rs"]
mod child;
mod concurrency;
mod dry_run;
mod ending;
mod events;
mod execution_races;
mod executions;
#[path = "../support/fake_gcs.rs"]
mod fake_gcs;
mod helpers;
mod history;
mod hostile;
mod interposer;
mod launch;
#[path = "../support/local_server.rs"]
mod local_server;
mod logs;
mod message_keys;
mod notify;
#[path = "../support/openssl.rs"]
mod openssl;
mod operate;
mod policy;
mod preflight;
mod profiles_object;
mod protocol;
#[path = "../support/pubsub_emulator.rs"]
mod pubsub_emulator;
#[path = "../support/pubsub_pull.rs"]
mod pubsub_pull;
mod reap;
mod retention;
mod retries;
mod retry_cancel;
mod run_launch;
mod runs;
#[path = "../support/secrets.rs"]
mod secrets;
mod surface;
#[path = "../support/test_log.rs"]
mod test_log;
mod tokens;
