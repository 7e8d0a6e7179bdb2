//! One launch, start to finish: payload → profile → create → wait → outcome.
//!
//! Idempotency rests on three things, in this order: the v2 `requestId` derived from the
//! message (a redelivery gets the same operation back), the instance id derived from the
//! message (a second create gets 409), and the provenance labels (on a 409 the instance is
//! recognised as this message's own, and followed instead of refused). A fixed `INSTANCE_ID`
//! that belongs to another trigger is skipped or replaced as `ON_EXISTING` says.
//!
//! - `body`: the create request's `Instance` from a validated profile, as the API takes it.
//! - `request`: what a trigger asks of the API, derived before the first call.
//! - `create`: the create call and its operation, with the request id's replay.
//! - `existing`: the id is taken: follow our own instance, skip or replace a foreign one.
//! - `wait`: following an operation or an instance to its end, under one deadline.
//! - `run`: a profile with a notebook makes the launch a run: runner, metadata, run record.
//! - `preflight`: a run's notebook exists and declares its parameters, before anything is
//!   written or created.
//! - `slot`: a run of a profile with `max_concurrent_runs` takes a slot first, or waits, or is
//!   skipped.
//! - `relaunch`: launches the product starts itself (a retry, a rerun, a "run now").
//! - `execution`: a run that executes as a notebook execution job: its job, the parameterized
//!   copy of its notebook, and a create that a redelivery follows.
//! - `dry_run`: the create a launch would send, shown instead of sent.
//! - `error`: why a launch that began did not end with an instance.

pub mod body;
mod create;
mod dry_run;
mod error;
pub mod execution;
mod existing;
mod limit;
mod preflight;
mod relaunch;
mod request;
mod run;
mod slot;
mod wait;

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::executions::ExecutionsClient;
use crate::naming::IdPrefix;
use crate::notebooks::{Instance, NotebooksClient};
use crate::poll::{Backoff, Poller};
use crate::profile::Profiles;
use crate::push::Trigger;
use crate::run::{RunId, RunStore, Transitions, Updated};

use create::CreateError;
pub use dry_run::DryRunRequest;
pub use error::{Failure, LaunchError};
pub use execution::ExecutionPlan;
pub use limit::LaunchLimit;
pub use preflight::{NotebookCheck, Preflight, Unreadable};
pub use relaunch::Relaunch;
pub use request::CreateRequest;
pub use run::{EVENT_PARAMETER, RunConfig};
pub use slot::Cap;

/// What to do when a fixed instance id is taken by an instance another trigger made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnExisting {
    /// Acknowledge and leave it: the instance exists, which is what the message asked for.
    #[default]
    Skip,
    /// Delete it, wait, and create a fresh one (needs delete permission).
    Replace,
}

impl FromStr for OnExisting {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim() {
            "skip" => Ok(OnExisting::Skip),
            "replace" => Ok(OnExisting::Replace),
            other => Err(format!("`{other}` is not skip or replace")),
        }
    }
}

/// How long and how often to poll.
#[derive(Debug, Clone, Copy)]
pub struct PollSettings {
    pub backoff: Backoff,
    pub timeout: Duration,
}

/// How the instance came to exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// This delivery created it.
    Created,
    /// An earlier delivery of the same message created it; this one followed it.
    AlreadyLaunched,
    /// A fixed id was taken by another trigger's instance, left as it is (`ON_EXISTING=skip`).
    Skipped,
    /// A fixed id was taken by another trigger's instance, deleted and created anew.
    Replaced,
    /// A dry run (`{"dry_run": true}` or `launch --dry-run`): nothing was written or created.
    DryRun,
    /// The run this message asked for has ended already, as its record says: a late
    /// redelivery creates nothing (the instance may be gone), and `state` is the run's.
    Ended,
    /// The profile's `max_concurrent_runs` were going and its `when_busy` is `skip`: the run
    /// is recorded `skipped`, and nothing is created.
    SkippedBusy,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Outcome::Created => "created",
            Outcome::AlreadyLaunched => "already-launched",
            Outcome::Skipped => "skipped",
            Outcome::Replaced => "replaced",
            Outcome::DryRun => "dry-run",
            Outcome::Ended => "ended",
            Outcome::SkippedBusy => "skipped-busy",
        })
    }
}

/// A finished launch: the instance exists.
#[derive(Debug, Clone, Serialize)]
pub struct Launched {
    pub outcome: Outcome,
    pub instance: String,
    pub state: String,
    pub profile: String,
    pub trigger: String,
    /// The run this launch started, when its profile names a notebook.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_id: Option<RunId>,
    pub elapsed_ms: u128,
    /// The create a dry run would have sent. Boxed, and absent from every other answer: an
    /// answer is one type whatever its outcome (one status in `answer`), and inline a URL, a
    /// query and a body would widen every launch's answer for the rare one that fills them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<Box<DryRunRequest>>,
    /// What a dry run of a run found of its notebook, and the cell papermill will inject.
    /// Boxed and absent elsewhere, like `request`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notebook: Option<Box<NotebookCheck>>,
}

/// Progress while a launch waits, for logs and the terminal.
#[derive(Debug, Clone, Copy)]
pub struct Progress<'a> {
    pub instance: &'a str,
    pub phase: &'a str,
    pub state: Option<&'a str>,
    pub elapsed: Duration,
}

/// Everything a launch needs; built once at start-up and shared by all requests.
#[derive(Debug)]
pub struct Launcher {
    pub client: NotebooksClient,
    /// Creates the jobs of the runs whose profile executes them as jobs.
    pub executions: ExecutionsClient,
    /// Where an execution's parameterized notebook is written, beside its run's record.
    pub records: RunStore,
    pub project: String,
    pub profiles: Profiles,
    pub prefix: IdPrefix,
    pub on_existing: OnExisting,
    pub poll: PollSettings,
    pub runs: RunConfig,
    /// Writes the run's record at launch, and ends it when the API refuses the instance.
    pub transitions: Transitions,
    /// Checks a run's notebook before its record and its instance.
    pub preflight: Preflight,
    pub cancel: CancellationToken,
    /// Bounds the launches in progress, whoever asked for them.
    pub limit: LaunchLimit,
}

/// What a launch does once it is prepared.
enum Prepared {
    /// Nothing is to be created: a dry run, a run skipped or ended already.
    Answered(Launched),
    /// The create, derived and, for a run, its slot taken and its record written.
    Create(Box<CreateRequest>),
}

/// A launch in progress.
struct Plan<'a> {
    request: Box<CreateRequest>,
    progress: &'a (dyn Fn(Progress<'_>) + Sync),
    poller: Poller,
}

impl Plan<'_> {
    /// The answer of this launch, ended with `outcome` on `name` (an instance or a job) in
    /// `state`.
    fn launched(
        &self,
        trigger: &Trigger,
        outcome: Outcome,
        name: String,
        state: String,
    ) -> Launched {
        Launched {
            outcome,
            instance: name,
            state,
            profile: self.request.profile.clone(),
            trigger: trigger.data.display(),
            run_id: self.request.run_id.clone(),
            elapsed_ms: self.poller.elapsed().as_millis(),
            request: None,
            notebook: None,
        }
    }
}

impl Launcher {
    /// Launches the instance `request` (derived from `trigger` by
    /// [`create_request`](Self::create_request)) asks for and waits until it is up; a dry run
    /// answers with the create it would send instead. A run's notebook is checked first, for
    /// a dry run too (see `preflight`). It takes the derived request, boxed, not
    /// the message: thousands of launches may wait at once, and each keeps only what its calls
    /// need, once, not the payload and the profile it came from.
    ///
    /// # Errors
    /// [`Failure`]; see `http::answer` for what each means to Pub/Sub.
    pub async fn launch(
        &self,
        trigger: &Trigger,
        request: Box<CreateRequest>,
        progress: &(dyn Fn(Progress<'_>) + Sync),
    ) -> Result<Launched, Failure> {
        // Held until the launch ends, whichever way it ends.
        let _permit = self.limit.hold()?;
        let poller = Poller::new(self.poll.backoff, self.poll.timeout, self.cancel.clone());
        // Boxed: what comes before the create is over before the launch waits, and inline its
        // state (Cloud Storage and credential futures among it) would size every waiting
        // launch.
        let request = match Box::pin(self.prepare(trigger, request, &poller)).await? {
            Prepared::Answered(answer) => return Ok(answer),
            Prepared::Create(request) => request,
        };
        let plan = Plan {
            request,
            progress,
            poller,
        };
        if let Some(execution) = &plan.request.execution {
            // Boxed: the job's create is as rare a path as a replace.
            let executed = Box::pin(self.execute(&plan, execution)).await;
            return Box::pin(self.executed(trigger, &plan, executed)).await;
        }
        let created = self.create_and_wait(&plan).await;
        // Boxed: what follows the wait (a replace, a record of a failure, the announcement)
        // would otherwise be held, with what it keeps, through every launch's wait.
        Box::pin(self.created(trigger, &plan, created)).await
    }

    /// The answer to a launch whose create has ended with `created`: an instance that
    /// existed already is followed (or replaced), a failure that no retry can mend ends the
    /// run, and a new instance is announced.
    async fn created(
        &self,
        trigger: &Trigger,
        plan: &Plan<'_>,
        created: Result<Instance, CreateError>,
    ) -> Result<Launched, Failure> {
        let created = match created {
            Err(CreateError::Exists) => self.existing(plan).await,
            Err(CreateError::Launch(error)) => Err(error),
            Ok(instance) => Ok((Outcome::Created, instance)),
        };
        let (outcome, instance) = match created {
            Ok(created) => created,
            Err(error) => {
                if let (true, Some(folder)) = (error.is_permanent(), &plan.request.folder) {
                    self.not_launched(folder, &error).await;
                }
                return Err(error.into());
            }
        };
        if matches!(outcome, Outcome::Created | Outcome::Replaced) {
            if let Some(record) = &plan.request.record {
                self.transitions.announce_launched(record).await;
            }
            if let Some(folder) = &plan.request.folder {
                self.transitions
                    .stop_if_cancelled(folder, &instance.name)
                    .await;
            }
        }
        let state = instance.state.unwrap_or_else(|| "UNKNOWN".to_owned());
        Ok(plan.launched(trigger, outcome, instance.name, state))
    }

    /// Everything before the create: a dry run's answer; otherwise the notebook's check (a
    /// redelivery of a run already started follows it, though its notebook may have changed
    /// since the check that let it start), then the run's slot and record.
    async fn prepare(
        &self,
        trigger: &Trigger,
        mut request: Box<CreateRequest>,
        poller: &Poller,
    ) -> Result<Prepared, Failure> {
        if request.dry_run {
            let notebook = self.preflight(&request).await?;
            let answer = self.dry_run_answer(*request, notebook, trigger, poller.elapsed())?;
            return Ok(Prepared::Answered(answer));
        }
        // What was found is for a dry run to show; a launch keeps none of it while it waits
        // but the generation an execution's copy is written from.
        match self.preflight(&request).await {
            Ok(checked) => {
                if let Some(execution) = request.execution.as_mut() {
                    execution.generation = checked.and_then(|c| c.generation);
                }
            }
            Err(refused) => match &request.folder {
                Some(folder) if self.transitions.recorded(folder).await => {
                    tracing::info!(error = %crate::cause::chain(&refused), "the notebook check fails now, but this message's run has started already; following it");
                }
                _ => return Err(refused),
            },
        }
        if let Some(answer) = self.start_run(trigger, &mut request, poller).await? {
            return Ok(Prepared::Answered(answer));
        }
        if !self.transitions.announces() {
            // Nothing announces the launch: the record need not wait with it.
            request.record = None;
        }
        Ok(Prepared::Create(request))
    }

    /// Takes the run's slot when its profile has a cap, then writes its record where it has
    /// none yet: the answer, when that is all the launch does (the run was skipped, or has
    /// ended already); `None` when the instance is to be created or followed.
    async fn start_run(
        &self,
        trigger: &Trigger,
        request: &mut CreateRequest,
        poller: &Poller,
    ) -> Result<Option<Launched>, Failure> {
        let taken = match self.hold_slot(trigger, request, poller.elapsed()).await? {
            slot::Held::Skipped(answer) => return Ok(Some(*answer)),
            slot::Held::Taken(lease) => Some(lease),
            slot::Held::Unneeded => None,
        };
        let Some(record) = &request.record else {
            return Ok(None);
        };
        let created = self
            .transitions
            .launch(record)
            .await
            .map_err(LaunchError::Record)?;
        if let Some(lease) = &taken {
            self.keep_slot(&created, lease, record).await;
        }
        let Some(existing) = created.ended() else {
            return Ok(None);
        };
        tracing::info!(run = %existing.run_id, state = existing.state.as_str(), "the run has ended already; nothing is created");
        Ok(Some(Launched {
            outcome: Outcome::Ended,
            state: existing.state.as_str().to_owned(),
            instance: existing.instance,
            profile: request.profile.clone(),
            trigger: trigger.data.display(),
            run_id: request.run_id.clone(),
            elapsed_ms: poller.elapsed().as_millis(),
            request: None,
            notebook: None,
        }))
    }

    /// Checks the notebook of the run `request` starts, before anything is written or
    /// created; `None` when it starts no run.
    async fn preflight(&self, request: &CreateRequest) -> Result<Option<NotebookCheck>, Failure> {
        match &request.record {
            Some(record) => self.preflight.check(record).await.map(Some),
            None => Ok(None),
        }
    }

    /// Ends the record of a run whose instance the API refused for good: no redelivery will
    /// create it, so the run is over. A record that cannot be ended now is ended as `lost` by a
    /// later reap.
    async fn not_launched(&self, folder: &str, error: &LaunchError) {
        let reason = crate::cause::chain(error).to_string();
        match self
            .transitions
            .end(folder, |record| record.not_launched(&reason))
            .await
        {
            Ok(ended) => {
                tracing::info!(
                    folder,
                    "the run is recorded failed: its instance was refused"
                );
                if let Some(Updated::Written { now, .. }) = ended {
                    // No instance to clean up: the run gives its slot back now.
                    self.transitions.give_back(&now).await;
                }
            }
            Err(store) => {
                tracing::warn!(folder, error = %crate::cause::chain(&store), "the refused run's record is not ended; a later reap ends it");
            }
        }
    }
}
