//! One launch, start to finish: payload → profile → create → wait → outcome.
//!
//! Idempotency rests on three things, in this order: the v2 `requestId` derived from the
//! message (a redelivery gets the same operation back), the instance id derived from the
//! message (a second create gets 409), and the provenance labels (on a 409 the instance is
//! recognised as this message's own, and followed instead of refused). A fixed `INSTANCE_ID`
//! that belongs to another trigger is skipped or replaced as `ON_EXISTING` says.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::cause;
use crate::naming::{self, IdPrefix, InstanceId};
use crate::notebooks::model::{Finished, MalformedOperation};
use crate::notebooks::{
    ApiVersion, ClientError, Code, Instance, NotebooksClient, Operation, Status, body,
};
use crate::payload::{self, OverridePolicy};
use crate::poll::{Backoff, PollError, Poller, Step};
use crate::profile::{LaunchSpec, Profiles};
use crate::push::Trigger;
use crate::rejection::Rejection;

/// What to do when a fixed instance id is taken by an instance another trigger made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnExisting {
    /// Acknowledge and leave it (the seed's fixed name, without the crash).
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
}

/// A finished launch: the instance exists.
#[derive(Debug, Clone, Serialize)]
pub struct Launched {
    pub outcome: Outcome,
    pub instance: String,
    pub state: String,
    pub profile: String,
    pub trigger: String,
    pub elapsed_ms: u128,
}

/// Why a push ended without an instance: refused before its launch began, or a launch that
/// did not get there. `answer` maps each to one HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error(transparent)]
    Rejected(#[from] Rejection),
    #[error(transparent)]
    Launch(#[from] LaunchError),
}

/// Why a launch that began did not end with an instance.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    /// A call to the API failed; the [`ClientError`] says whether trying again can help.
    #[error("cannot {action} {instance}")]
    Call {
        action: &'static str,
        instance: String,
        #[source]
        source: ClientError,
    },
    /// The operation ended with an error; its code says whether trying again can help.
    #[error("the operation to {action} {instance} failed: {status}")]
    Operation {
        action: &'static str,
        instance: String,
        status: Status,
    },
    #[error(
        "the Notebooks v1 API refused the create; user-managed notebooks can no longer be created: set NOTEBOOKS_API_VERSION=v2 to create Workbench instances"
    )]
    V1Deprecated(#[source] ClientError),
    #[error(transparent)]
    Malformed(#[from] MalformedOperation),
    /// The id was taken at the create and free at the get: someone deleted it in between.
    #[error("{instance} vanished between create and get")]
    Vanished {
        instance: String,
        #[source]
        source: ClientError,
    },
    #[error("{instance} was created again by someone else while it was being replaced")]
    Recreated { instance: String },
    #[error(
        "{instance} is not ready after {waited:?} (POLL_TIMEOUT); the next delivery resumes it"
    )]
    PollTimeout {
        instance: String,
        waited: Duration,
        /// Why the last look got no answer, when it got none.
        #[source]
        last_failure: Option<Box<LaunchError>>,
    },
    #[error("shutting down; the next delivery resumes the launch")]
    ShuttingDown,
    #[error("{limit} launches are already running (MAX_CONCURRENT_LAUNCHES); try again later")]
    Busy { limit: usize },
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
    pub project: String,
    pub profiles: Profiles,
    pub policy: OverridePolicy,
    pub prefix: IdPrefix,
    pub on_existing: OnExisting,
    pub poll: PollSettings,
    pub cancel: CancellationToken,
}

/// Everything a launch derives from its trigger before the first call upstream: what it will
/// ask the API for. Public so that the fuzz target and its stable replay drive every check a
/// hostile message meets inside the process, not only the decoder's.
#[derive(Debug)]
pub struct CreateRequest {
    /// `projects/P/locations/ZONE`.
    pub parent: String,
    pub id: InstanceId,
    /// `{parent}/instances/{id}`.
    pub name: String,
    /// The create request's `Instance`, as JSON.
    pub body: Vec<u8>,
    pub request_id: uuid::Uuid,
    /// The provenance label that recognises our own instance on a later delivery.
    pub key_hash: String,
    pub profile: String,
}

/// A launch in progress.
struct Plan<'a> {
    request: CreateRequest,
    progress: &'a (dyn Fn(Progress<'_>) + Sync),
    poller: Poller,
}

impl Launcher {
    /// Launches the instance a trigger asks for and waits until it is up.
    ///
    /// # Errors
    /// [`Failure`]; see `answer` for what each means to Pub/Sub.
    pub async fn launch(
        &self,
        trigger: &Trigger,
        progress: &(dyn Fn(Progress<'_>) + Sync),
    ) -> Result<Launched, Failure> {
        let poller = Poller::new(self.poll.backoff, self.poll.timeout, self.cancel.clone());
        let plan = Plan {
            request: self.create_request(trigger)?,
            progress,
            poller,
        };
        let (outcome, instance) = match self.create_and_wait(&plan).await {
            // Boxed: the rare path (it may delete and create again) would otherwise size the
            // state of every waiting launch.
            Err(CreateError::Exists) => Box::pin(self.existing(&plan)).await?,
            Err(CreateError::Launch(error)) => return Err(error.into()),
            Ok(instance) => (Outcome::Created, instance),
        };
        Ok(Launched {
            outcome,
            state: instance.state.unwrap_or_else(|| "UNKNOWN".to_owned()),
            instance: instance.name,
            profile: plan.request.profile,
            trigger: trigger.data.display(),
            elapsed_ms: plan.poller.elapsed().as_millis(),
        })
    }

    /// Payload → profile → spec → names and body. Synchronous, so that the payload, the spec
    /// and the labels are gone before the launch starts to wait: thousands of launches may wait
    /// at once, and each keeps only what its calls need.
    ///
    /// # Errors
    /// [`Rejection`] for a payload, profile or field the policy or the API rules refuse.
    pub fn create_request(&self, trigger: &Trigger) -> Result<CreateRequest, Rejection> {
        let request = payload::parse(&trigger.data, &self.policy)?;
        let profile = request.profile.as_deref().unwrap_or("default");
        let base = self
            .profiles
            .get(request.profile.as_deref())
            .ok_or_else(|| Rejection::UnknownProfile {
                name: profile.to_owned(),
                known: self.profiles.names().collect::<Vec<_>>().join(", "),
            })?;
        let spec = LaunchSpec::parse(&base.overlay(&request.overrides), &self.project)?;
        let id = naming::instance_id(spec.instance_id.as_ref(), &self.prefix, trigger);
        let mut labels = spec.labels.clone();
        labels.extend(naming::provenance(trigger, profile));
        // Kept as JSON text: a few hundred bytes instead of a tree of maps for every waiting
        // launch, and serialised once rather than for every create.
        let body = match self.client.version() {
            ApiVersion::V2 => body::v2(&spec, &labels),
            ApiVersion::V1 => body::v1(&spec, &labels),
        }
        .to_string()
        .into_bytes();
        let parent = format!("projects/{}/locations/{}", self.project, spec.location);
        let name = format!("{parent}/instances/{id}");
        tracing::Span::current().record("instance", name.as_str());
        tracing::info!(
            instance = %name,
            profile,
            trigger = %trigger.data.display(),
            source = trigger.source.label(),
            "launching"
        );
        Ok(CreateRequest {
            parent,
            id,
            name,
            body,
            request_id: naming::request_id(&trigger.key),
            key_hash: naming::key_hash(&trigger.key),
            profile: profile.to_owned(),
        })
    }

    async fn create_and_wait(&self, plan: &Plan<'_>) -> Result<Instance, CreateError> {
        (plan.progress)(Progress {
            instance: &plan.request.name,
            phase: "creating",
            state: None,
            elapsed: plan.poller.elapsed(),
        });
        let mut operation = self.create(plan, plan.request.request_id).await?;
        if operation.error_code().is_some_and(Code::is_transient) {
            // The request id replayed an earlier attempt that failed transiently (quota, say).
            // The instance id still guards against duplicates, so a fresh request id is safe.
            tracing::info!(operation = %operation.name, "the request id replays a failed attempt; creating again with a new request id");
            operation = self.create(plan, uuid::Uuid::new_v4()).await?;
        }
        match self
            .wait_operation(plan, operation, "create", "provisioning")
            .await
        {
            Ok(response) => Ok(instance_from(response, &plan.request.name)),
            Err(LaunchError::Operation { status, .. }) if status.code == Code::AlreadyExists => {
                Err(CreateError::Exists)
            }
            Err(error) => Err(CreateError::Launch(error)),
        }
    }

    /// `instances.create`, under the wait's deadline and cancellation (see [`Poller::bounded`]).
    async fn create(
        &self,
        plan: &Plan<'_>,
        request_id: uuid::Uuid,
    ) -> Result<Operation, CreateError> {
        let call = self.client.create_instance(
            &plan.request.parent,
            plan.request.id.as_str(),
            request_id,
            &plan.request.body,
        );
        let answer = plan
            .poller
            .bounded(call)
            .await
            .map_err(|error| CreateError::Launch(poll_error(error, &plan.request.name)))?;
        match answer {
            Ok(operation) => Ok(operation),
            Err(error) if error.code() == Some(Code::AlreadyExists) => Err(CreateError::Exists),
            Err(error)
                if self.client.version() == ApiVersion::V1
                    && error.code() == Some(Code::FailedPrecondition) =>
            {
                Err(CreateError::Launch(LaunchError::V1Deprecated(error)))
            }
            Err(error) => Err(CreateError::Launch(call_error(
                "create",
                &plan.request.name,
                error,
            ))),
        }
    }

    /// The id is taken: follow our own instance, or apply `ON_EXISTING` to a foreign one.
    async fn existing(&self, plan: &Plan<'_>) -> Result<(Outcome, Instance), LaunchError> {
        let instance = self
            .client
            .get_instance(&plan.request.name)
            .await
            .map_err(|source| match source.code() {
                Some(Code::NotFound) => LaunchError::Vanished {
                    instance: plan.request.name.clone(),
                    source,
                },
                _ => call_error("get", &plan.request.name, source),
            })?;
        if instance.labels.get(naming::LABEL_KEY) == Some(&plan.request.key_hash) {
            tracing::info!(instance = %plan.request.name, state = ?instance.state, "already launched by an earlier delivery of this message; following it");
            let instance = self.follow_instance(plan).await?;
            return Ok((Outcome::AlreadyLaunched, instance));
        }
        match self.on_existing {
            OnExisting::Skip => {
                tracing::warn!(instance = %plan.request.name, state = ?instance.state, "instance id taken by another trigger's instance; skipping (ON_EXISTING=skip)");
                Ok((Outcome::Skipped, instance))
            }
            OnExisting::Replace => {
                tracing::warn!(instance = %plan.request.name, "instance id taken by another trigger's instance; replacing it (ON_EXISTING=replace)");
                (plan.progress)(Progress {
                    instance: &plan.request.name,
                    phase: "deleting",
                    state: instance.state.as_deref(),
                    elapsed: plan.poller.elapsed(),
                });
                let operation = self
                    .client
                    .delete_instance(&plan.request.name, uuid::Uuid::new_v4())
                    .await
                    .map_err(|e| call_error("delete", &plan.request.name, e))?;
                self.wait_operation(plan, operation, "delete", "deleting")
                    .await?;
                match self.create_and_wait(plan).await {
                    Ok(instance) => Ok((Outcome::Replaced, instance)),
                    Err(CreateError::Exists) => Err(LaunchError::Recreated {
                        instance: plan.request.name.clone(),
                    }),
                    Err(CreateError::Launch(error)) => Err(error),
                }
            }
        }
    }

    /// Follows the operation of `action` to its end; one the API returned already done is not
    /// polled.
    async fn wait_operation(
        &self,
        plan: &Plan<'_>,
        operation: Operation,
        action: &'static str,
        phase: &str,
    ) -> Result<serde_json::Value, LaunchError> {
        let name = operation.name.clone();
        let mut first = Some(operation);
        let result = plan
            .poller
            .wait(
                || {
                    let known = first.take();
                    let name = &name;
                    async move {
                        let operation = match known {
                            Some(operation) => Ok(operation),
                            None => self.client.get_operation(name).await,
                        };
                        match operation.map(Operation::outcome) {
                            Ok(Ok(None)) => Step::Pending { state: None },
                            Ok(Ok(Some(Finished::Response(response)))) => Step::Done(response),
                            Ok(Ok(Some(Finished::Error(status)))) => {
                                Step::Failed(LaunchError::Operation {
                                    action,
                                    instance: plan.request.name.clone(),
                                    status,
                                })
                            }
                            Ok(Err(malformed)) => Step::Failed(malformed.into()),
                            Err(error) => poll_failure(error, name),
                        }
                    }
                },
                |state, elapsed| {
                    (plan.progress)(Progress {
                        instance: &plan.request.name,
                        phase,
                        state,
                        elapsed,
                    })
                },
            )
            .await;
        result.map_err(|e| poll_error(e, &plan.request.name))
    }

    /// Waits until an existing instance leaves its transitional states.
    async fn follow_instance(&self, plan: &Plan<'_>) -> Result<Instance, LaunchError> {
        let result = plan
            .poller
            .wait(
                || async {
                    match self.client.get_instance(&plan.request.name).await {
                        Ok(instance) if instance.is_settled() => Step::Done(instance),
                        Ok(instance) => Step::Pending {
                            state: instance.state,
                        },
                        Err(error) => poll_failure(error, &plan.request.name),
                    }
                },
                |state, elapsed| {
                    (plan.progress)(Progress {
                        instance: &plan.request.name,
                        phase: "following",
                        state,
                        elapsed,
                    })
                },
            )
            .await;
        result.map_err(|e| poll_error(e, &plan.request.name))
    }
}

enum CreateError {
    Exists,
    Launch(LaunchError),
}

fn instance_from(response: serde_json::Value, name: &str) -> Instance {
    serde_json::from_value(response).unwrap_or_else(|_| Instance {
        name: name.to_owned(),
        state: None,
        labels: Default::default(),
    })
}

/// A failed `get`: transient failures are worth another look within the deadline.
fn poll_failure<T>(error: ClientError, what: &str) -> Step<T, LaunchError> {
    let transient = error.is_transient();
    let error = call_error("follow", what, error);
    if transient {
        tracing::debug!(error = %cause::chain(&error), "poll failed, polling again");
        Step::Retry(error)
    } else {
        Step::Failed(error)
    }
}

fn poll_error(error: PollError<LaunchError>, instance: &str) -> LaunchError {
    match error {
        PollError::Deadline {
            waited,
            last_failure,
        } => LaunchError::PollTimeout {
            instance: instance.to_owned(),
            waited,
            last_failure: last_failure.map(Box::new),
        },
        PollError::Cancelled => LaunchError::ShuttingDown,
        PollError::Failed(error) => error,
    }
}

fn call_error(action: &'static str, instance: &str, source: ClientError) -> LaunchError {
    LaunchError::Call {
        action,
        instance: instance.to_owned(),
        source,
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Outcome::Created => "created",
            Outcome::AlreadyLaunched => "already-launched",
            Outcome::Skipped => "skipped",
            Outcome::Replaced => "replaced",
        })
    }
}
