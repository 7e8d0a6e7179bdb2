//! What a message asks for, read once and handed to the use case that does it: a launch, a
//! dry run or a reap.
//!
//! `POST /` and `notebook-trigger launch` both come here. The payload says which use case
//! runs, so it is read here and only here, under the deployment's override policy, and the
//! launcher and the reaper are handed what it said instead of reading it again.
//!
//! A launch is bounded by the launcher's `MAX_CONCURRENT_LAUNCHES`, as every launch is; a reap
//! is not.

use std::sync::Arc;

use jiff::Timestamp;

use crate::launch::{CreateRequest, Failure, Launched, Launcher, Progress};
use crate::payload::{self, Action, LaunchRequest, OverridePolicy};
use crate::push::Trigger;
use crate::reap::{Reap, Reaper};
use crate::rejection::Rejection;

/// Reads messages and hands each to its use case; one for the whole service.
#[derive(Debug)]
pub struct Dispatcher {
    launcher: Arc<Launcher>,
    /// Carries out `{"action": "reap"}`; `None`: such a message is refused as not a launch.
    reaper: Option<Arc<Reaper>>,
    policy: OverridePolicy,
}

/// The use case a message asks for.
enum Route<'a> {
    Reap {
        reaper: &'a Reaper,
        dry_run: bool,
    },
    /// Boxed: it stays with the launch while it waits, and only there.
    Launch(Box<CreateRequest>),
}

/// What a message led to.
#[derive(Debug)]
pub enum Dispatched {
    Launched(Launched),
    /// What the reap did, as the reaper logged it.
    Reaped(Reap),
}

impl Dispatcher {
    pub fn new(
        launcher: Arc<Launcher>,
        reaper: Option<Arc<Reaper>>,
        policy: OverridePolicy,
    ) -> Self {
        Self {
            launcher,
            reaper,
            policy,
        }
    }

    /// Does what `trigger` asks for: a reap, or a launch (a dry run when it asks for one).
    ///
    /// # Errors
    /// [`Failure`]; `http::answer` says what each means to Pub/Sub.
    pub async fn dispatch(
        &self,
        trigger: &Trigger,
        progress: &(dyn Fn(Progress<'_>) + Sync),
    ) -> Result<Dispatched, Failure> {
        // Read and derived before the first wait, so that a waiting launch keeps neither the
        // payload nor a second copy of what it asks for.
        match self.route(trigger)? {
            Route::Reap { reaper, dry_run } => {
                // Boxed: a reap's listing and calls would otherwise size every push's state.
                let reaped = Box::pin(reaper.reap(Timestamp::now(), dry_run)).await;
                Ok(Dispatched::Reaped(reaped))
            }
            Route::Launch(create) => self
                .launcher
                .launch(trigger, create, progress)
                .await
                .map(Dispatched::Launched),
        }
    }

    /// Which use case the message asks for, read once under the policy.
    fn route(&self, trigger: &Trigger) -> Result<Route<'_>, Rejection> {
        let request = read(trigger, &self.policy)?;
        match (request.action, &self.reaper) {
            (Some(Action::Reap), Some(reaper)) => Ok(Route::Reap {
                reaper,
                dry_run: request.dry_run,
            }),
            _ => Ok(Route::Launch(Box::new(
                self.launcher.create_request(trigger, request)?,
            ))),
        }
    }

    /// `launch` in a terminal: a launch, never a reap. With `dry_run`, a dry run whatever the
    /// payload says: whoever runs it there holds the deployment's configuration already, so it
    /// needs no `dry_run` in `ALLOWED_OVERRIDES`; every other check of the policy stays.
    ///
    /// # Errors
    /// [`Failure`], as for a push.
    pub async fn launch(
        &self,
        trigger: &Trigger,
        dry_run: bool,
        progress: &(dyn Fn(Progress<'_>) + Sync),
    ) -> Result<Launched, Failure> {
        let create = if dry_run {
            let policy = self.policy.clone().allowing_dry_run();
            let mut request = read(trigger, &policy)?;
            request.dry_run = true;
            self.launcher.create_request(trigger, request)?
        } else {
            self.create_request(trigger)?
        };
        let create = Box::new(create);
        self.launcher.launch(trigger, create, progress).await
    }

    /// The create a push of `trigger` would send, derived as [`dispatch`](Self::dispatch)
    /// derives it, without a call: every check a hostile message meets inside the process.
    ///
    /// # Errors
    /// [`Rejection`], as the push would be refused.
    pub fn create_request(&self, trigger: &Trigger) -> Result<CreateRequest, Rejection> {
        let request = read(trigger, &self.policy)?;
        self.launcher.create_request(trigger, request)
    }
}

/// The message's data and attributes, as `policy` lets them be read.
fn read(trigger: &Trigger, policy: &OverridePolicy) -> Result<LaunchRequest, Rejection> {
    Ok(payload::parse(&trigger.data, &trigger.attributes, policy)?)
}
