use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::*;
use crate::clock::ManualClock;
use crate::lifecycle::{Transition, Verb};
use crate::status::{ApiError, Code};

const PARENT: &str = "projects/p/locations/us-central1-a";

fn setup() -> (Arc<ManualClock>, Store) {
    let clock = Arc::new(ManualClock::new("2026-01-01T00:00:00Z".parse().unwrap()));
    (clock.clone(), Store::new(clock))
}

fn creation(id: &str, request_id: Option<&str>) -> Creation {
    let body = json!({"gceSetup": {"machineType": "n1-standard-4"}, "labels": {"team": "a"}});
    Creation {
        version: ApiVersion::V2,
        parent: PARENT.to_owned(),
        instance_id: id.to_owned(),
        request_id: request_id.map(str::to_owned),
        body: body.as_object().unwrap().clone(),
    }
}

fn transition(secs: u64) -> Transition {
    Transition {
        duration: Duration::from_secs(secs),
        failure: None,
    }
}

fn name(id: &str) -> String {
    format!("{PARENT}/instances/{id}")
}

#[test]
fn create_provisions_then_becomes_active_without_any_task() {
    let (clock, store) = setup();
    let operation = store
        .create(creation("a", None), transition(30))
        .unwrap()
        .operation;
    assert_eq!(operation["done"], false);
    assert_eq!(
        operation["metadata"]["@type"],
        "type.googleapis.com/google.cloud.notebooks.v2.OperationMetadata"
    );
    assert_eq!(operation["metadata"]["verb"], "create");
    assert_eq!(operation["metadata"]["target"], name("a"));
    let op_name = operation["name"].as_str().unwrap();
    assert!(op_name.starts_with(&format!("{PARENT}/operations/operation-")));
    assert_eq!(
        store.instance(ApiVersion::V2, &name("a")).unwrap()["state"],
        "PROVISIONING"
    );

    clock.advance(Duration::from_secs(29));
    assert_eq!(
        store.operation(ApiVersion::V2, op_name).unwrap()["done"],
        false
    );
    clock.advance(Duration::from_secs(1));
    let done = store.operation(ApiVersion::V2, op_name).unwrap();
    assert_eq!(done["done"], true);
    assert_eq!(
        done["response"]["@type"],
        "type.googleapis.com/google.cloud.notebooks.v2.Instance"
    );
    assert_eq!(done["response"]["state"], "ACTIVE");
    assert_eq!(done["response"]["gceSetup"]["machineType"], "n1-standard-4");
    assert_eq!(done["metadata"]["endTime"], "2026-01-01T00:00:30Z");
    let instance = store.instance(ApiVersion::V2, &name("a")).unwrap();
    assert_eq!(instance["state"], "ACTIVE");
    assert_eq!(instance["updateTime"], "2026-01-01T00:00:30Z");
    assert_eq!(instance["createTime"], "2026-01-01T00:00:00Z");
}

#[test]
fn stop_start_and_delete_move_state_the_same_way() {
    let (clock, store) = setup();
    store.create(creation("a", None), transition(10)).unwrap();
    let n = name("a");
    assert!(matches!(
        store.mutate(ApiVersion::V2, &n, Verb::Stop, None, transition(5)),
        Err(StoreError::Busy { .. })
    ));
    clock.advance(Duration::from_secs(10));
    assert!(matches!(
        store.mutate(ApiVersion::V2, &n, Verb::Start, None, transition(5)),
        Err(StoreError::WrongState { .. })
    ));
    let state = |store: &Store| {
        store
            .instance(ApiVersion::V2, &n)
            .map(|i| i["state"].clone())
    };

    let stop = store
        .mutate(ApiVersion::V2, &n, Verb::Stop, None, transition(5))
        .unwrap()
        .operation;
    assert_eq!(state(&store).unwrap(), "STOPPING");
    clock.advance(Duration::from_secs(5));
    assert_eq!(state(&store).unwrap(), "STOPPED");
    let stop = store
        .operation(ApiVersion::V2, stop["name"].as_str().unwrap())
        .unwrap();
    assert_eq!(stop["response"]["state"], "STOPPED");

    store
        .mutate(ApiVersion::V2, &n, Verb::Start, None, transition(5))
        .unwrap();
    assert_eq!(state(&store).unwrap(), "STARTING");
    clock.advance(Duration::from_secs(5));
    assert_eq!(state(&store).unwrap(), "ACTIVE");

    let delete = store
        .mutate(ApiVersion::V2, &n, Verb::Delete, None, transition(5))
        .unwrap()
        .operation;
    assert_eq!(state(&store).unwrap(), "DELETED");
    clock.advance(Duration::from_secs(5));
    assert_eq!(state(&store), Err(StoreError::NotFound(n.clone())));
    let delete = store
        .operation(ApiVersion::V2, delete["name"].as_str().unwrap())
        .unwrap();
    assert_eq!(
        delete["response"],
        json!({"@type": "type.googleapis.com/google.protobuf.Empty"})
    );
    assert!(store.instances().is_empty());
}

#[test]
fn failed_create_leaves_nothing_and_failed_stop_keeps_state() {
    let (clock, store) = setup();
    let error = ApiError::new(Code::ResourceExhausted, "Quota exceeded");
    let failing = Transition {
        duration: Duration::from_secs(1),
        failure: Some(error.clone()),
    };
    let operation = store
        .create(creation("a", None), failing.clone())
        .unwrap()
        .operation;
    assert_eq!(
        store.instance(ApiVersion::V2, &name("a")).unwrap()["state"],
        "PROVISIONING"
    );
    clock.advance(Duration::from_secs(1));
    let operation = store
        .operation(ApiVersion::V2, operation["name"].as_str().unwrap())
        .unwrap();
    assert_eq!(
        operation["error"],
        json!({"code": 8, "message": "Quota exceeded"})
    );
    assert!(operation.get("response").is_none());
    assert!(store.instance(ApiVersion::V2, &name("a")).is_err());

    store.create(creation("b", None), transition(1)).unwrap();
    clock.advance(Duration::from_secs(1));
    store
        .mutate(ApiVersion::V2, &name("b"), Verb::Stop, None, failing)
        .unwrap();
    clock.advance(Duration::from_secs(1));
    assert_eq!(
        store.instance(ApiVersion::V2, &name("b")).unwrap()["state"],
        "ACTIVE"
    );
}

#[test]
fn request_id_replays_and_a_new_one_conflicts() {
    let (_clock, store) = setup();
    let first = store
        .create(creation("a", Some("r1")), transition(5))
        .unwrap();
    let again = store
        .create(creation("a", Some("r1")), transition(5))
        .unwrap();
    assert_eq!(first.operation, again.operation);
    assert_eq!(first.done_at, Some("2026-01-01T00:00:05Z".parse().unwrap()));
    assert_eq!(again.done_at, None, "a replay starts nothing");
    assert_eq!(
        store.create(creation("a", Some("r2")), transition(5)),
        Err(StoreError::AlreadyExists(name("a")))
    );
}

#[test]
fn list_pages_by_name_filters_labels_and_spans_locations() {
    let (_clock, store) = setup();
    for i in 0..7 {
        store
            .create(creation(&format!("i-{i}"), None), transition(5))
            .unwrap();
    }
    let mut other = creation("elsewhere", None);
    other.parent = "projects/p/locations/europe-west1-b".to_owned();
    other.body.insert("labels".to_owned(), json!({"team": "b"}));
    store.create(other, transition(5)).unwrap();

    let mut query = ListQuery {
        page_size: 3,
        ..ListQuery::default()
    };
    let mut seen = Vec::new();
    loop {
        let page = store.list(ApiVersion::V2, PARENT, &query).unwrap();
        seen.extend(
            page["instances"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["name"].as_str().unwrap().to_owned()),
        );
        match page["nextPageToken"].as_str() {
            Some(token) => query.page_token = Some(token.to_owned()),
            None => break,
        }
    }
    assert_eq!(
        seen,
        (0..7).map(|i| name(&format!("i-{i}"))).collect::<Vec<_>>()
    );

    let all = ListQuery {
        page_size: 100,
        ..ListQuery::default()
    };
    let everywhere = store
        .list(ApiVersion::V2, "projects/p/locations/-", &all)
        .unwrap();
    assert_eq!(everywhere["instances"].as_array().unwrap().len(), 8);
    let team_b = ListQuery {
        filter: Filter::parse("labels.team=b").unwrap(),
        ..all.clone()
    };
    let page = store
        .list(ApiVersion::V2, "projects/p/locations/-", &team_b)
        .unwrap();
    assert_eq!(page["instances"].as_array().unwrap().len(), 1);
    assert_eq!(store.list(ApiVersion::V1, PARENT, &all).unwrap(), json!({}));
    let bad = ListQuery {
        page_token: Some("!!".to_owned()),
        ..all
    };
    assert_eq!(
        store.list(ApiVersion::V2, PARENT, &bad),
        Err(StoreError::BadPageToken)
    );
}

#[test]
fn ten_thousand_pending_operations_are_cheap() {
    let (clock, store) = setup();
    for i in 0..10_000 {
        store
            .create(creation(&format!("i-{i}"), None), transition(60))
            .unwrap();
    }
    clock.advance(Duration::from_secs(60));
    let instances = store.instances();
    assert_eq!(instances.len(), 10_000);
    assert!(instances.iter().all(|i| i["state"] == "ACTIVE"));
}
