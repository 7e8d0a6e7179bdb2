use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::http::{HeaderMap, StatusCode as Status};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;

use super::*;

fn quick(attempts: u32) -> Retry {
    Retry {
        attempts,
        backoff: Backoff {
            initial: Duration::from_millis(5),
            max: Duration::from_millis(20),
        },
        within: Duration::from_secs(10),
        timeout: Duration::from_secs(5),
    }
}

/// A receiver on a free loopback port whose `n`-th request (from 0) is answered by
/// `answer(n)`; the count of requests it got.
async fn receiver(
    answer: impl Fn(usize) -> Response + Clone + Send + Sync + 'static,
) -> (Url, Arc<AtomicUsize>, tokio::task::JoinHandle<()>) {
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    let app = Router::new().route(
        "/hook",
        post(move || {
            let n = seen.fetch_add(1, Ordering::SeqCst);
            let answer = answer.clone();
            async move { answer(n) }
        }),
    );
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url.parse().unwrap(), count, task)
}

#[test]
fn delays_grow_to_their_cap_and_stop_at_the_attempts_or_the_time() {
    let retry = Retry {
        attempts: 6,
        backoff: Backoff {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(5),
        },
        within: Duration::from_secs(60),
        timeout: Duration::from_secs(10),
    };
    let secs = |delays: Vec<Duration>| delays.iter().map(Duration::as_secs).collect::<Vec<_>>();
    assert_eq!(secs(retry.delays()), [1, 2, 4, 5, 5]);
    let short = Retry {
        within: Duration::from_secs(7),
        ..retry
    };
    assert_eq!(
        secs(short.delays()),
        [1, 2, 4],
        "no attempt starts after 7 s"
    );
    let once = Retry {
        attempts: 1,
        ..retry
    };
    assert!(once.delays().is_empty());
    assert_eq!(secs(Retry::default().delays()), [1, 2, 4, 8]);
}

#[test]
fn only_what_may_succeed_later_is_tried_again() {
    let status = |code: u16| AttemptError::Status {
        status: StatusCode::from_u16(code).unwrap(),
        body: String::new(),
        retry_after: None,
    };
    for code in [500, 502, 503, 504, 429] {
        assert!(status(code).retryable(), "{code}");
    }
    for code in [400, 401, 403, 404, 410, 302] {
        assert!(!status(code).retryable(), "{code}");
    }
}

#[tokio::test]
async fn a_receiver_that_fails_twice_gets_it_on_the_third_try() {
    let (url, count, task) = receiver(|n| match n {
        0 => Status::SERVICE_UNAVAILABLE.into_response(),
        1 => (Status::TOO_MANY_REQUESTS, "slow down").into_response(),
        _ => Status::OK.into_response(),
    })
    .await;
    let webhooks = Webhooks::new(quick(5)).unwrap();
    let delivery = webhooks
        .deliver(
            &url,
            &serde_json::json!({"a": 1}),
            &CancellationToken::new(),
        )
        .await;
    assert_eq!(delivery, Delivery::Delivered { attempts: 3 });
    assert_eq!(count.load(Ordering::SeqCst), 3);
    task.abort();
}

#[tokio::test]
async fn a_refusal_is_not_repeated_and_says_why() {
    let (url, count, task) =
        receiver(|_| (Status::BAD_REQUEST, "invalid_payload").into_response()).await;
    let webhooks = Webhooks::new(quick(5)).unwrap();
    let delivery = webhooks
        .deliver(&url, &serde_json::json!({}), &CancellationToken::new())
        .await;
    let Delivery::Failed { attempts, error } = delivery else {
        panic!("{delivery:?}");
    };
    assert_eq!(attempts, 1);
    assert!(
        error.contains("400") && error.contains("invalid_payload"),
        "{error}"
    );
    assert_eq!(count.load(Ordering::SeqCst), 1);
    task.abort();
}

#[tokio::test]
async fn a_receiver_that_always_fails_gets_the_attempts_and_no_more() {
    let (url, count, task) = receiver(|_| Status::INTERNAL_SERVER_ERROR.into_response()).await;
    let webhooks = Webhooks::new(quick(3)).unwrap();
    let delivery = webhooks
        .deliver(&url, &serde_json::json!({}), &CancellationToken::new())
        .await;
    assert!(
        matches!(delivery, Delivery::Failed { attempts: 3, .. }),
        "{delivery:?}"
    );
    assert_eq!(count.load(Ordering::SeqCst), 3);
    task.abort();
}

#[tokio::test]
async fn a_redirect_to_another_host_is_not_followed() {
    let (elsewhere, followed, other) = receiver(|_| Status::OK.into_response()).await;
    let target = elsewhere.as_str().replace("127.0.0.1", "localhost");
    let (url, count, task) = receiver(move |_| Redirect::temporary(&target).into_response()).await;
    let webhooks = Webhooks::new(quick(3)).unwrap();
    let delivery = webhooks
        .deliver(&url, &serde_json::json!({}), &CancellationToken::new())
        .await;
    let Delivery::Failed { attempts: 1, error } = delivery else {
        panic!("{delivery:?}");
    };
    assert!(error.contains("307"), "{error}");
    assert_eq!(count.load(Ordering::SeqCst), 1);
    assert_eq!(followed.load(Ordering::SeqCst), 0, "never sent elsewhere");
    task.abort();
    other.abort();
}

#[tokio::test]
async fn a_redirect_on_the_same_host_is_followed() {
    let (url, count, task) = receiver(|n| match n {
        0 => Redirect::temporary("/hook").into_response(),
        _ => Status::OK.into_response(),
    })
    .await;
    let webhooks = Webhooks::new(quick(1)).unwrap();
    let delivery = webhooks
        .deliver(&url, &serde_json::json!({}), &CancellationToken::new())
        .await;
    assert_eq!(delivery, Delivery::Delivered { attempts: 1 });
    assert_eq!(count.load(Ordering::SeqCst), 2);
    task.abort();
}

#[tokio::test]
async fn a_delivery_stops_when_the_service_stops() {
    let (url, _count, task) = receiver(|_| {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", "1".parse().unwrap());
        (Status::SERVICE_UNAVAILABLE, headers).into_response()
    })
    .await;
    let retry = Retry {
        backoff: Backoff {
            initial: Duration::from_secs(600),
            max: Duration::from_secs(600),
        },
        within: Duration::from_secs(3600),
        ..quick(5)
    };
    let webhooks = Webhooks::new(retry).unwrap();
    let cancel = CancellationToken::new();
    let stopping = cancel.clone();
    let body = serde_json::json!({});
    let delivery = tokio::join!(webhooks.deliver(&url, &body, &cancel), async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        stopping.cancel();
    })
    .0;
    assert!(matches!(delivery, Delivery::Stopped { .. }), "{delivery:?}");
    task.abort();
}
