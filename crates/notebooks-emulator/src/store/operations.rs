//! `operations.list`, `operations.cancel` and `operations.delete` in the store.

use serde_json::{Value, json};

use super::{ListQuery, Store, StoreError, in_parent};
use crate::ApiVersion;
use crate::lifecycle::{Settle, Verb};
use crate::paging;
use crate::status::{ApiError, Code};

impl Store {
    /// One page of the operations under `projects/P/locations/L` (`L` may be `-`), oldest
    /// first: operation names start with their creation time.
    pub fn operations(
        &self,
        version: ApiVersion,
        parent: &str,
        query: &ListQuery,
    ) -> Result<Value, StoreError> {
        let now = self.clock.now();
        let inner = self.lock();
        let operations = inner
            .operations
            .iter()
            .filter(|((v, name), _)| *v == version && in_parent(parent, name))
            .map(|(_, operation)| operation.render(now))
            .filter(|operation| query.filter.matches(operation))
            .collect();
        drop(inner);
        Ok(paging::page(
            operations,
            &query.order,
            query.page_size,
            query.page_token.as_deref(),
            "operations",
        )?)
    }

    /// Cancels a running operation: it ends now with `CANCELLED`, and its instance is left as
    /// a failed operation leaves it (a cancelled create leaves none). A finished operation is
    /// left alone, as Google's long-running operations do.
    pub fn cancel_operation(&self, version: ApiVersion, name: &str) -> Result<Value, StoreError> {
        let now = self.clock.now();
        let mut inner = self.lock();
        let operation = inner
            .operations
            .get_mut(&(version, name.to_owned()))
            .ok_or_else(|| StoreError::NotFound(name.to_owned()))?;
        if operation.end_time > now {
            operation.end_time = now;
            operation.outcome =
                Err(ApiError::new(Code::Cancelled, "Operation was cancelled.").to_rpc_status());
            let (target, verb) = (operation.target.clone(), operation.verb);
            if let Some(pending) = inner
                .instances
                .get_mut(&(version, target))
                .and_then(|record| record.pending.as_mut())
            {
                pending.until = now;
                pending.then = if verb == Verb::Create {
                    Settle::Vanish
                } else {
                    Settle::Stay
                };
            }
        }
        Ok(json!({}))
    }

    /// Forgets an operation; whatever it does to its instance still happens.
    pub fn delete_operation(&self, version: ApiVersion, name: &str) -> Result<Value, StoreError> {
        self.lock()
            .operations
            .remove(&(version, name.to_owned()))
            .map(|_| json!({}))
            .ok_or_else(|| StoreError::NotFound(name.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::clock::ManualClock;
    use crate::filter::Filter;
    use crate::lifecycle::Transition;
    use crate::store::Creation;

    const PARENT: &str = "projects/p/locations/z";

    fn setup() -> (Arc<ManualClock>, Store) {
        let clock = Arc::new(ManualClock::new("2026-01-01T00:00:00Z".parse().unwrap()));
        (clock.clone(), Store::new(clock))
    }

    fn create(store: &Store, id: &str) -> Value {
        let creation = Creation {
            version: ApiVersion::V2,
            parent: PARENT.to_owned(),
            instance_id: id.to_owned(),
            request_id: None,
            body: serde_json::Map::new(),
        };
        let transition = Transition {
            duration: Duration::from_secs(10),
            failure: None,
        };
        store.create(creation, transition).unwrap().operation
    }

    fn names(page: &Value) -> Vec<&str> {
        page["operations"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|operation| operation["name"].as_str().unwrap())
            .collect()
    }

    #[test]
    fn operations_list_filter_cancel_and_delete() {
        let (clock, store) = setup();
        let first = create(&store, "a");
        clock.advance(Duration::from_secs(20));
        let second = create(&store, "b");
        let all = ListQuery {
            page_size: 10,
            ..ListQuery::default()
        };
        let page = store.operations(ApiVersion::V2, PARENT, &all).unwrap();
        assert_eq!(names(&page), [&first["name"], &second["name"]]);
        let running = ListQuery {
            filter: Filter::parse("done=false").unwrap(),
            ..all.clone()
        };
        let page = store.operations(ApiVersion::V2, "projects/p/locations/-", &running);
        assert_eq!(names(&page.unwrap()), [&second["name"]]);
        assert_eq!(
            store.operations(ApiVersion::V1, PARENT, &all).unwrap(),
            json!({})
        );

        let second_name = second["name"].as_str().unwrap();
        store.cancel_operation(ApiVersion::V2, second_name).unwrap();
        let cancelled = store.operation(ApiVersion::V2, second_name).unwrap();
        assert_eq!(cancelled["done"], true);
        assert_eq!(cancelled["error"]["code"], 1);
        assert_eq!(cancelled["metadata"]["requestedCancellation"], true);
        assert!(
            store
                .instance(ApiVersion::V2, &format!("{PARENT}/instances/b"))
                .is_err()
        );
        // A finished operation is not cancelled after the fact.
        let first_name = first["name"].as_str().unwrap();
        store.cancel_operation(ApiVersion::V2, first_name).unwrap();
        let done = store.operation(ApiVersion::V2, first_name).unwrap();
        assert_eq!(done["response"]["state"], "ACTIVE");
        assert_eq!(done["metadata"]["requestedCancellation"], false);

        store.delete_operation(ApiVersion::V2, first_name).unwrap();
        assert_eq!(
            store.operation(ApiVersion::V2, first_name),
            Err(StoreError::NotFound(first_name.to_owned()))
        );
        assert_eq!(
            store.delete_operation(ApiVersion::V2, first_name),
            Err(StoreError::NotFound(first_name.to_owned()))
        );
        assert!(store.cancel_operation(ApiVersion::V2, "nope").is_err());
    }
}
