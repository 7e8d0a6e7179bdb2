use super::*;

fn client(base: &str, version: ApiVersion) -> NotebooksClient {
    let endpoint = Endpoint {
        base_url: Url::parse(base).unwrap(),
        credentials: Credentials::Anonymous,
        emulator_protocol: None,
    };
    let timeouts = Timeouts {
        connect: Duration::from_secs(1),
        request: Duration::from_secs(1),
    };
    NotebooksClient::new(endpoint, version, timeouts).unwrap()
}

#[test]
fn call_urls_sit_under_the_version_root_of_the_endpoint() {
    let cases = [
        ("https://notebooks.googleapis.com", ApiVersion::V2),
        ("https://notebooks.googleapis.com/", ApiVersion::V2),
        ("https://proxy.example/notebooks", ApiVersion::V1),
        ("https://proxy.example/notebooks/", ApiVersion::V1),
    ];
    for (base, version) in cases {
        let root = base.trim_end_matches('/');
        let url = client(base, version)
            .url("projects/p/locations/z/instances?instanceId=nb&requestId=r")
            .unwrap();
        assert_eq!(
            url.as_str(),
            format!("{root}/{version}/projects/p/locations/z/instances?instanceId=nb&requestId=r"),
            "{base}"
        );
    }
}

/// The query of a URL as ordered pairs.
fn query(url: &Url) -> Vec<(String, String)> {
    url.query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

#[test]
fn the_create_call_carries_the_request_id_to_v2_only() {
    let request_id = Uuid::new_v4();
    let parent = "projects/p/locations/us-central1-a";
    for (base, version) in [
        ("http://127.0.0.1:8090", ApiVersion::V2),
        ("https://proxy.example/notebooks/", ApiVersion::V2),
        ("http://127.0.0.1:8090", ApiVersion::V1),
    ] {
        let call = client(base, version)
            .create_call(parent, "nb-1", request_id)
            .unwrap();
        assert_eq!(call.method, reqwest::Method::POST);
        let root = base.trim_end_matches('/');
        assert_eq!(
            format!(
                "{}{}",
                call.url.origin().ascii_serialization(),
                call.url.path()
            ),
            format!("{root}/{version}/{parent}/instances"),
            "{base} {version}"
        );
        let mut expected = vec![("instanceId".to_owned(), "nb-1".to_owned())];
        if version == ApiVersion::V2 {
            expected.push(("requestId".to_owned(), request_id.to_string()));
        }
        assert_eq!(query(&call.url), expected, "{base} {version}");
    }
}

#[test]
fn a_name_from_the_server_cannot_leave_the_endpoint() {
    let client = client("http://127.0.0.1:8090", ApiVersion::V2);
    for name in [
        "//evil.example/x",
        "https://evil.example/x",
        "evil:8080/x",
        "projects/p/locations/z/operations/op-1:cancel",
    ] {
        let url = client.url(name).unwrap();
        assert_eq!(url.host_str(), Some("127.0.0.1"), "{name}: {url}");
        assert_eq!(url.port(), Some(8090), "{name}: {url}");
        assert!(url.path().starts_with("/v2/"), "{name}: {url}");
    }
}

/// A server that speaks HTTP/1.1 only: it answers whatever arrives as an HTTP/1.1 server
/// answers what it cannot parse, and holds the connection until the client lets go.
/// Stopped when dropped.
struct Http1Only {
    addr: std::net::SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Http1Only {
    async fn start() -> Self {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let mut buffer = [0; 1024];
                let _ = stream.read(&mut buffer).await;
                let _ = stream
                    .write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    .await;
                while stream.read(&mut buffer).await.is_ok_and(|n| n > 0) {}
            }
        });
        Self { addr, task }
    }
}

impl Drop for Http1Only {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[tokio::test]
async fn a_transport_failure_keeps_what_the_connection_said() {
    let server = Http1Only::start().await;
    let endpoint = Endpoint {
        base_url: Url::parse(&format!("http://{}", server.addr)).unwrap(),
        credentials: Credentials::Anonymous,
        emulator_protocol: Some(EmulatorProtocol::H2c),
    };
    let timeouts = Timeouts {
        connect: Duration::from_secs(2),
        request: Duration::from_secs(2),
    };
    let client = NotebooksClient::new(endpoint, ApiVersion::V2, timeouts).unwrap();
    let error = client
        .get_instance("projects/p/locations/z/instances/nb")
        .await
        .unwrap_err();
    let told = crate::cause::chain(&error).to_string();
    assert!(matches!(error, ClientError::Transport { .. }), "{told}");
    assert!(error.is_transient(), "{told}");
    assert!(
        told.contains("http2 error") && told.contains("frame with invalid size"),
        "the h2 protocol error is named: {told}"
    );
    assert_eq!(
        told.matches(&server.addr.to_string()).count(),
        1,
        "the URL is told once: {told}"
    );
}
