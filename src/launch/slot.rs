//! A run of a profile with `max_concurrent_runs` takes one of its slots before its record is
//! written and its instance created, and gives it back when its end is recorded (`run`'s
//! transitions do that).
//!
//! The slot is taken before the record, so that a record `launched` always means a run that
//! counts; a redelivery of a run that has a record already (started or ended) takes none: it
//! follows its run, which holds its slot or has given it back. When every slot is held, a
//! message's `when_busy` decides: `queue` fails the push with [`LaunchError::NoSlot`] (429),
//! so Pub/Sub keeps the message and delivers it again later, and the subscription is the
//! queue; `skip` records the run `skipped` and acknowledges. A launch the product starts
//! itself (a retry, a rerun, a "run now") is never skipped: its starter is told
//! ([`Failure::is_busy`]) and tries again later, so a retry that finds no slot stays due.

use std::time::Duration;

use super::{CreateRequest, Failure, LaunchError, Launched, Launcher, Outcome};
use crate::profile::{Concurrency, Fields, LaunchSpec, WhenBusy};
use crate::push::Trigger;
use crate::run::{Created, Place, RunRecord, bucket_of};

/// The cap a launch meets: its profile's slots, and what to do when they are all held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cap {
    pub place: Place,
    pub when_busy: WhenBusy,
}

impl Cap {
    /// The cap of a launch of `profile`, whose own fields are `base` and whose launch is
    /// `spec`; `product` when the product starts it itself, which is never skipped. The slots
    /// are in the bucket of the profile's own output, so a message allowed to override
    /// `output` still counts against its profile.
    pub fn of(profile: &str, base: &Fields, spec: &LaunchSpec, product: bool) -> Option<Cap> {
        let Concurrency { max, when_busy } = spec.concurrency?;
        let output = base
            .output
            .as_deref()
            .or(spec.run.as_ref().map(|run| run.output.as_str()))?;
        let bucket = bucket_of(output)?;
        Some(Cap {
            place: Place {
                bucket: bucket.to_owned(),
                profile: profile.to_owned(),
                max,
            },
            when_busy: if product { WhenBusy::Queue } else { when_busy },
        })
    }
}

/// What holding a slot came to.
pub(super) enum Held {
    /// The launch needs none: its profile has no cap, or its run has a record already.
    Unneeded,
    /// This launch took the slot at this `gs://` URI; the record names it.
    Taken(String),
    /// Every slot is held and the run was recorded skipped: the answer.
    Skipped(Box<Launched>),
}

impl Launcher {
    /// Takes a slot of the cap `request` meets for its run, naming it in the run's record.
    ///
    /// # Errors
    /// [`LaunchError::NoSlot`] when every slot is held and the launch waits;
    /// [`LaunchError::Slot`] or [`LaunchError::Record`] when the slots or the record cannot be
    /// read or written.
    pub(super) async fn hold_slot(
        &self,
        trigger: &Trigger,
        request: &mut CreateRequest,
        elapsed: Duration,
    ) -> Result<Held, Failure> {
        let (Some(cap), Some(record)) = (&request.cap, &mut request.record) else {
            return Ok(Held::Unneeded);
        };
        if self.transitions.recorded(&record.output).await {
            return Ok(Held::Unneeded);
        }
        let taken = self
            .transitions
            .slots()
            .take(&cap.place, &record.run_id, &record.output)
            .await
            .map_err(LaunchError::Slot)?;
        if let Some(lease) = taken {
            tracing::info!(run = %record.run_id, slot = %lease, "slot taken");
            record.lease = Some(lease.clone());
            return Ok(Held::Taken(lease));
        }
        let busy = LaunchError::NoSlot {
            profile: cap.place.profile.clone(),
            max: cap.place.max.get(),
        };
        if cap.when_busy == WhenBusy::Queue {
            return Err(busy.into());
        }
        let skipped = record
            .skipped(&skipped_reason(&cap.place))
            .expect("a new run's record has no outcome yet");
        match self
            .transitions
            .skip(&skipped)
            .await
            .map_err(LaunchError::Record)?
        {
            None => tracing::info!(run = %skipped.run_id, error = %skipped.error, "run skipped"),
            // Another delivery started the run meanwhile: the next delivery follows it.
            Some(existing) if !existing.has_outcome() => return Err(busy.into()),
            Some(_) => {}
        }
        Ok(Held::Skipped(Box::new(Launched {
            outcome: Outcome::SkippedBusy,
            instance: request.name.clone(),
            state: skipped.state.as_str().to_owned(),
            profile: request.profile.clone(),
            trigger: trigger.data.display(),
            run_id: request.run_id.clone(),
            elapsed_ms: elapsed.as_millis(),
            request: None,
            notebook: None,
        })))
    }

    /// Gives back the slot this launch took as `lease` when its run turned out to have a
    /// record already, written by another delivery that went on with another slot or none.
    pub(super) async fn keep_slot(&self, created: &Created, lease: &str, record: &RunRecord) {
        let Created::Existing(existing) = created else {
            return;
        };
        if existing.lease.as_deref() == Some(lease) {
            return;
        }
        match self
            .transitions
            .slots()
            .release(lease, &record.run_id)
            .await
        {
            Ok(_) => {
                tracing::info!(run = %record.run_id, slot = %lease, "slot given back: another delivery started the run")
            }
            Err(error) => {
                tracing::warn!(run = %record.run_id, slot = %lease, error = %crate::cause::chain(&error), "the slot is not given back; the next launch that needs it frees it");
            }
        }
    }
}

/// What a skipped run's record says.
fn skipped_reason(place: &Place) -> String {
    format!(
        "skipped: {} runs of profile `{}` were going (max_concurrent_runs), and its when_busy is skip",
        place.max, place.profile
    )
}
