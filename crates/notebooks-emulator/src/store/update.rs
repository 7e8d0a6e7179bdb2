//! `instances.patch` in the store: the change and its operation under one lock.

use serde_json::{Map, Value};

use super::{Store, StoreError};
use crate::ApiVersion;
use crate::lifecycle::{Transition, Verb};

impl Store {
    /// Applies `change` to the instance's configuration and starts the update's operation; the
    /// state is left alone. A failing operation (an injected failure) changes nothing, and a
    /// retried request (same `request_id`) gets its first operation back.
    pub fn update(
        &self,
        version: ApiVersion,
        name: &str,
        request_id: Option<String>,
        change: impl FnOnce(&mut Map<String, Value>),
        transition: Transition,
    ) -> Result<Value, StoreError> {
        let now = self.clock.now();
        let mut inner = self.lock();
        if let Some(operation) = inner.replay(version, Verb::Update, request_id.as_deref(), now) {
            return Ok(operation);
        }
        let record = inner
            .live(version, name, now)
            .ok_or_else(|| StoreError::NotFound(name.to_owned()))?;
        if record.pending.is_some() {
            return Err(StoreError::Busy {
                name: name.to_owned(),
                state: record.shown_state(),
            });
        }
        let mut updated = record.clone();
        if transition.failure.is_none() {
            change(&mut updated.body);
        }
        updated.update_time = now;
        let (operation, pending) =
            inner.start_operation(&updated, Verb::Update, request_id, transition, now);
        updated.pending = Some(pending);
        inner.instances.insert((version, name.to_owned()), updated);
        Ok(operation)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use serde_json::json;

    use super::*;
    use crate::clock::ManualClock;
    use crate::faults;
    use crate::status::Code;
    use crate::store::Creation;

    const NAME: &str = "projects/p/locations/z/instances/nb";

    fn transition(failing: bool) -> Transition {
        Transition {
            duration: Duration::from_secs(5),
            failure: failing.then(|| faults::operation_error(Code::InvalidArgument, NAME)),
        }
    }

    fn relabel(body: &mut Map<String, Value>) {
        body.insert("labels".to_owned(), json!({"team": "new"}));
    }

    #[test]
    fn an_update_changes_the_configuration_and_keeps_the_state() {
        let clock = Arc::new(ManualClock::new("2026-01-01T00:00:00Z".parse().unwrap()));
        let store = Store::new(clock.clone());
        let creation = Creation {
            version: ApiVersion::V2,
            parent: "projects/p/locations/z".to_owned(),
            instance_id: "nb".to_owned(),
            request_id: None,
            body: json!({"labels": {"team": "old"}})
                .as_object()
                .unwrap()
                .clone(),
        };
        store.create(creation, transition(false)).unwrap();
        let busy = store.update(ApiVersion::V2, NAME, None, relabel, transition(false));
        assert!(matches!(busy, Err(StoreError::Busy { .. })));
        clock.advance(Duration::from_secs(5));

        let failed = store
            .update(ApiVersion::V2, NAME, None, relabel, transition(true))
            .unwrap();
        assert_eq!(failed["metadata"]["verb"], "update");
        clock.advance(Duration::from_secs(5));
        let instance = store.instance(ApiVersion::V2, NAME).unwrap();
        assert_eq!(instance["labels"]["team"], "old");

        let request = Some("r".to_owned());
        let first = store
            .update(
                ApiVersion::V2,
                NAME,
                request.clone(),
                relabel,
                transition(false),
            )
            .unwrap();
        let instance = store.instance(ApiVersion::V2, NAME).unwrap();
        assert_eq!(
            (
                instance["state"].clone(),
                instance["labels"]["team"].clone()
            ),
            (json!("ACTIVE"), json!("new"))
        );
        clock.advance(Duration::from_secs(5));
        let again = store
            .update(
                ApiVersion::V2,
                NAME,
                request,
                |body| body.clear(),
                transition(false),
            )
            .unwrap();
        assert_eq!(
            (again["name"].clone(), again["done"].clone()),
            (first["name"].clone(), json!(true))
        );
        assert_eq!(again["response"]["labels"]["team"], "new");
        assert_eq!(again["response"]["state"], "ACTIVE");
    }
}
