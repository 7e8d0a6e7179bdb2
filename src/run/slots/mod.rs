//! The slots of a profile's `max_concurrent_runs`, shared by every service instance.
//!
//! Cloud Run runs as many instances of the service as the load calls for, so the count of a
//! profile's runs cannot live in one process. Each slot is one object in Cloud Storage,
//! `gs://BUCKET/notebook-trigger-records/leases/PROFILE/N.json` (N below the cap), naming the
//! run that holds it; Cloud Storage's generation preconditions make every change a
//! compare-and-swap, so two services racing for the last slot cannot both get it: one write
//! lands and the other is refused (412) and looks on. A slot never used is taken by creating it
//! (`ifGenerationMatch=0`); one given back or whose holder is done (its record says it ended,
//! or it has had no record for [`UNRECORDED_AFTER`]: its launch died after taking the slot) is
//! taken by a swap on the generation read. A slot is given back by a swap too, to a free slot
//! naming its last holder, rather than deleted: the same one kind of conditional write as every
//! other step, and a record of who held it.
//!
//! Errors never count as "busy": a slot or a record that cannot be read fails the launch
//! (another delivery comes), since `when_busy = skip` would otherwise skip a run for a
//! network fault.

mod slot;

use std::collections::BTreeSet;
use std::num::NonZeroU32;

use jiff::Timestamp;
use reqwest::StatusCode;
use serde::Serialize;
use storage_client::{GsUri, StorageClient, StorageError};

use super::{RunId, RunStore};
use crate::credentials::CredentialsError;
pub use slot::UNRECORDED_AFTER;
use slot::{Holder, Seen, Slot, leases_prefix, profile_prefix, released_by, slot_number, slot_uri};

/// Why a slot could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum SlotError {
    #[error("no access token for Cloud Storage")]
    Credentials(#[source] CredentialsError),
    #[error("the concurrency slot {uri} cannot be read or written")]
    Storage {
        uri: String,
        #[source]
        source: StorageError,
    },
    #[error("`{0}` is not a concurrency slot")]
    NotASlot(String),
}

/// A profile's slots: `max` of them, in `bucket`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub bucket: String,
    pub profile: String,
    pub max: NonZeroU32,
}

/// The bucket of an output prefix (`gs://B[/PREFIX]`): a profile's slots are in its
/// output's bucket, beside its records.
pub fn bucket_of(output: &str) -> Option<&str> {
    output
        .strip_prefix("gs://")?
        .split('/')
        .next()
        .filter(|bucket| !bucket.is_empty())
}

/// A slot given back by whoever found its holder done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Freed {
    /// `gs://…` of the slot.
    pub slot: String,
    pub run_id: String,
    pub reason: String,
    /// `dry-run`, `done`, or `skipped: …`.
    pub result: String,
}

impl Freed {
    /// The line `reap` prints for it.
    pub fn line(&self) -> String {
        format!(
            "free slot {} of run {}: {} ({})",
            self.slot, self.run_id, self.reason, self.result
        )
    }
}

/// A slot that may be taken: its generation, why, and whether it is the run's own.
struct Open {
    uri: GsUri,
    generation: u64,
    reason: String,
    own: bool,
}

/// Takes, gives back and frees slots, reading holders' records from the run store.
#[derive(Debug, Clone)]
pub struct Slots {
    records: RunStore,
}

impl Slots {
    pub fn new(records: RunStore) -> Self {
        Self { records }
    }

    /// Takes a slot of `place` for the run `run_id` (folder `folder`): one never used, else
    /// the run's own from an earlier delivery, one given back or one whose holder is done.
    /// `None`: every slot is held.
    ///
    /// # Errors
    /// [`SlotError`] when a slot or a holder's record cannot be read or written.
    pub async fn take(
        &self,
        place: &Place,
        run_id: &RunId,
        folder: &str,
    ) -> Result<Option<String>, SlotError> {
        let storage = self.client().await?;
        let prefix = profile_prefix(&place.profile);
        let names = storage
            .list(&place.bucket, &prefix)
            .await
            .map_err(|source| SlotError::Storage {
                uri: format!("gs://{}/{prefix}", place.bucket),
                source,
            })?;
        let used: BTreeSet<u32> = names
            .iter()
            .filter_map(|n| slot_number(n, &prefix))
            .collect();
        let held = Slot::Held(Holder {
            run_id: run_id.clone(),
            folder: folder.to_owned(),
            taken: Timestamp::now(),
        });
        for number in (0..place.max.get()).filter(|n| !used.contains(n)) {
            let uri = slot_uri(&place.bucket, &place.profile, number);
            if write_if(&storage, &uri, &held, 0).await? {
                return Ok(Some(uri.to_string()));
            }
        }
        for open in self.open(place, run_id).await? {
            if write_if(&storage, &open.uri, &held, open.generation).await? {
                tracing::info!(slot = %open.uri, run = %run_id, reason = %open.reason, "slot taken");
                return Ok(Some(open.uri.to_string()));
            }
        }
        Ok(None)
    }

    /// The slots of `place` that `run_id` may take, its own first: each read, and each
    /// holder's record, at once.
    async fn open(&self, place: &Place, run_id: &RunId) -> Result<Vec<Open>, SlotError> {
        let mut looking = tokio::task::JoinSet::new();
        for number in 0..place.max.get() {
            let slots = self.clone();
            let uri = slot_uri(&place.bucket, &place.profile, number);
            let run_id = run_id.clone();
            looking.spawn(async move { slots.look(uri, &run_id, Timestamp::now()).await });
        }
        let mut open = Vec::new();
        while let Some(looked) = looking.join_next().await {
            let looked = looked.map_err(|e| SlotError::NotASlot(e.to_string()))?;
            open.extend(looked?);
        }
        open.sort_by_key(|open| !open.own);
        Ok(open)
    }

    /// Whether the slot at `uri` may be taken by `run_id` at `now`, and why.
    async fn look(
        &self,
        uri: GsUri,
        run_id: &RunId,
        now: Timestamp,
    ) -> Result<Option<Open>, SlotError> {
        let storage = self.client().await?;
        let open = |generation, reason: &str, own| Open {
            uri: uri.clone(),
            generation,
            reason: reason.to_owned(),
            own,
        };
        Ok(match read(&storage, &uri).await? {
            None => Some(open(0, "never used", false)),
            Some((None, generation)) => Some(open(generation, "not a slot", false)),
            Some((Some(Slot::Free { .. }), generation)) => {
                Some(open(generation, "given back", false))
            }
            Some((Some(Slot::Held(holder)), generation)) if &holder.run_id == run_id => {
                Some(open(generation, "its own, from an earlier delivery", true))
            }
            Some((Some(Slot::Held(holder)), generation)) => self
                .released(&holder, &uri, now)
                .await
                .map(|reason| open(generation, &reason, false)),
        })
    }

    /// Why `holder` no longer holds the slot at `uri`, as its record says at `now`.
    async fn released(&self, holder: &Holder, uri: &GsUri, now: Timestamp) -> Option<String> {
        let read = self.records.read(&holder.folder).await;
        let seen = match &read {
            Ok(Some(record)) => Seen::Record(record),
            Ok(None) => Seen::NoRecord,
            Err(error) => {
                tracing::warn!(slot = %uri, run = %holder.run_id, error = %crate::cause::chain(error), "cannot read the slot holder's record; the slot counts as held");
                Seen::Unreadable
            }
        };
        released_by(holder, &uri.to_string(), seen, now)
    }

    /// Gives the slot at `lease` back, when `run_id` holds it still: `false` when it does
    /// not (given back already, or taken over).
    ///
    /// # Errors
    /// [`SlotError`] when the slot cannot be read or written.
    pub async fn release(&self, lease: &str, run_id: &RunId) -> Result<bool, SlotError> {
        let uri = GsUri::parse(lease).map_err(|_| SlotError::NotASlot(lease.to_owned()))?;
        let storage = self.client().await?;
        loop {
            let Some((Some(Slot::Held(holder)), generation)) = read(&storage, &uri).await? else {
                return Ok(false);
            };
            if &holder.run_id != run_id {
                return Ok(false);
            }
            let free = Slot::Free {
                released: Timestamp::now(),
                was: holder.run_id,
            };
            if write_if(&storage, &uri, &free, generation).await? {
                return Ok(true);
            }
        }
    }

    /// Gives back every slot in `bucket` whose holder is done at `now` (its end was recorded
    /// but the slot not given back: the process died in between); with `dry_run`, only says
    /// which.
    ///
    /// # Errors
    /// [`SlotError`] when the slots cannot be listed.
    pub async fn free_done(
        &self,
        bucket: &str,
        now: Timestamp,
        dry_run: bool,
    ) -> Result<Vec<Freed>, SlotError> {
        let storage = self.client().await?;
        let prefix = leases_prefix();
        let names = storage
            .list(bucket, &prefix)
            .await
            .map_err(|source| SlotError::Storage {
                uri: format!("gs://{bucket}/{prefix}"),
                source,
            })?;
        let mut freed = Vec::new();
        for name in names.into_iter().filter(|name| name.ends_with(".json")) {
            let uri = GsUri {
                bucket: bucket.to_owned(),
                object: name,
            };
            let Some((Some(Slot::Held(holder)), generation)) = read(&storage, &uri).await? else {
                continue;
            };
            let Some(reason) = self.released(&holder, &uri, now).await else {
                continue;
            };
            let result = if dry_run {
                "dry-run".to_owned()
            } else {
                let free = Slot::Free {
                    released: now,
                    was: holder.run_id.clone(),
                };
                match write_if(&storage, &uri, &free, generation).await? {
                    true => "done".to_owned(),
                    false => "skipped: the slot changed meanwhile".to_owned(),
                }
            };
            freed.push(Freed {
                slot: uri.to_string(),
                run_id: holder.run_id.to_string(),
                reason,
                result,
            });
        }
        Ok(freed)
    }

    async fn client(&self) -> Result<StorageClient, SlotError> {
        self.records
            .storage()
            .client()
            .await
            .map_err(SlotError::Credentials)
    }
}

/// The slot at `uri` (`None` inside when the object is not one) and its generation; `None`
/// when there is no object.
async fn read(
    storage: &StorageClient,
    uri: &GsUri,
) -> Result<Option<(Option<Slot>, u64)>, SlotError> {
    match storage.download_versioned(&uri.bucket, &uri.object).await {
        Ok((bytes, generation)) => Ok(Some((serde_json::from_slice(&bytes).ok(), generation))),
        Err(error) if error.status() == Some(StatusCode::NOT_FOUND) => Ok(None),
        Err(source) => Err(SlotError::Storage {
            uri: uri.to_string(),
            source,
        }),
    }
}

/// Writes `slot` at `uri` if its generation is still `generation` (`0`: absent); `false`
/// when another write came first.
async fn write_if(
    storage: &StorageClient,
    uri: &GsUri,
    slot: &Slot,
    generation: u64,
) -> Result<bool, SlotError> {
    let body = serde_json::to_vec_pretty(slot).expect("a slot serialises");
    storage
        .swap_json(&uri.bucket, &uri.object, body, generation)
        .await
        .map_err(|source| SlotError::Storage {
            uri: uri.to_string(),
            source,
        })
}
