//! What a trigger asks of the API, derived in full before the first call from the message as
//! the override policy let it be read: the profile chosen and layered, the spec checked, the
//! names and the request body. A refusal here is a [`Rejection`]: nothing was asked of the API yet.

use super::body;
use super::run::Asked;
use super::slot::Cap;
use super::{ExecutionPlan, Launcher};
use crate::naming::{self, InstanceId};
use crate::notebooks::ApiVersion;
use crate::payload::{LaunchRequest, PayloadError};
use crate::profile::LaunchSpec;
use crate::push::Trigger;
use crate::rejection::Rejection;
use crate::run::{Origin, RunId, RunRecord};

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
    /// The run this launch starts, when the profile names a notebook.
    pub run_id: Option<RunId>,
    /// The run's record, written before the create, then dropped, or kept until the instance
    /// exists when run events announce the launch. Boxed: the request stays with every waiting
    /// launch, and most launches are not runs.
    pub record: Option<Box<RunRecord>>,
    /// The run's folder (`gs://B/PREFIX/{run id}/`), which names its record: kept when the
    /// record is dropped, so that a create refused for good can still end it.
    pub folder: Option<String>,
    /// Answer with what would be created, and create nothing.
    pub dry_run: bool,
    /// The cap on the runs of the profile, when it has one: a slot is taken before the run's
    /// record is written.
    pub cap: Option<Cap>,
    /// What the create of a run's job needs, when its profile's runs execute as jobs; `None`
    /// for an instance. Boxed: most launches are not executions.
    pub execution: Option<Box<ExecutionPlan>>,
}

impl Launcher {
    /// What the message `request` read from `trigger` asks of the API: profile → spec → names
    /// and body. Synchronous, so that the payload, the spec and the labels are gone before the
    /// launch starts to wait: thousands of launches may wait at once, and each keeps only what
    /// its calls need.
    ///
    /// # Errors
    /// [`Rejection`] for an action, or a profile or field the API rules refuse.
    pub fn create_request(
        &self,
        trigger: &Trigger,
        request: LaunchRequest,
    ) -> Result<CreateRequest, Rejection> {
        self.create_request_from(trigger, request, None)
    }

    /// [`create_request`](Self::create_request) for a launch of `origin`, which the run's
    /// record keeps.
    ///
    /// # Errors
    /// As [`create_request`](Self::create_request).
    pub(super) fn create_request_from(
        &self,
        trigger: &Trigger,
        request: LaunchRequest,
        origin: Option<&Origin>,
    ) -> Result<CreateRequest, Rejection> {
        if let Some(action) = request.action {
            return Err(PayloadError::NotALaunch(action).into());
        }
        let profile = request.profile.as_deref().unwrap_or("default");
        let base = self
            .profiles
            .get(request.profile.as_deref())
            .ok_or_else(|| Rejection::UnknownProfile {
                name: profile.to_owned(),
                known: self.profiles.names().collect::<Vec<_>>().join(", "),
            })?;
        let mut spec = LaunchSpec::parse(&base.overlay(&request.overrides), &self.project)?;
        if let Some(execution) = spec.backend.execution() {
            let asked = Asked {
                trigger,
                profile,
                overrides: &request.overrides,
                event: request.event.as_ref(),
                origin,
            };
            let cap = Cap::of(profile, base, &spec, origin.is_some());
            return self.execution_request(&spec, execution, asked, request.dry_run, cap);
        }
        let id = naming::instance_id(spec.instance_id.as_ref(), &self.prefix, trigger);
        let parent = format!("projects/{}/locations/{}", self.project, spec.location);
        let name = format!("{parent}/instances/{id}");
        let mut labels = spec.labels.clone();
        labels.extend(naming::provenance(trigger, profile));
        let asked = Asked {
            trigger,
            profile,
            overrides: &request.overrides,
            event: request.event.as_ref(),
            origin,
        };
        let run = self.runs.prepare(&mut spec, &mut labels, asked, &name)?;
        let cap = Cap::of(profile, base, &spec, origin.is_some());
        let (run_id, record) = run.map_or((None, None), |(id, record)| {
            (Some(id), Some(Box::new(record)))
        });
        if request.event.is_some() && run_id.is_none() {
            tracing::info!(
                profile,
                "the profile runs no notebook: the event only triggers the launch"
            );
        }
        // Kept as JSON text: a few hundred bytes instead of a tree of maps for every waiting
        // launch, and serialised once rather than for every create.
        let body = match self.client.version() {
            ApiVersion::V2 => body::v2(&spec, &labels),
            ApiVersion::V1 => body::v1(&spec, &labels),
        }
        .to_string()
        .into_bytes();
        tracing::Span::current().record("instance", name.as_str());
        tracing::info!(
            instance = %name,
            profile,
            trigger = %trigger.data.display(),
            source = trigger.source.label(),
            run_id = run_id.as_ref().map(RunId::as_str),
            dry_run = request.dry_run,
            "{}",
            if request.dry_run { "checked for a dry run" } else { "launching" }
        );
        Ok(CreateRequest {
            parent,
            id,
            name,
            body,
            request_id: naming::request_id(&trigger.key),
            key_hash: naming::key_hash(&trigger.key),
            profile: profile.to_owned(),
            run_id,
            folder: record.as_ref().map(|record| record.output.clone()),
            record,
            dry_run: request.dry_run,
            cap,
            execution: None,
        })
    }
}
