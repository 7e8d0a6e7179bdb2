//! Each way a connection to an emulator fails is told with its cause and the HTTP spoken, in
//! every mode (forced h2c to a server without HTTP/2 is in `client`'s tests).

use std::net::SocketAddr;
use std::time::Duration;

use reqwest::Url;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use super::EmulatorProtocol::{self, Auto, H2c, Http1};
use crate::credentials::Credentials;
use crate::notebooks::ApiVersion;
use crate::notebooks::client::{ClientError, Endpoint, NotebooksClient, Timeouts};

/// A server on a free loopback port that treats each connection with `serve`, one at a time
/// in one task, so that stopping it (when dropped) closes them all.
struct Server {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Server {
    async fn start<F>(serve: fn(TcpStream) -> F) -> Self
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                serve(stream).await;
            }
        });
        Self { addr, task }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Reads what the client sends, then resets the connection instead of answering.
async fn reset(mut stream: TcpStream) {
    let mut buffer = [0; 1024];
    let _ = stream.read(&mut buffer).await;
    stream.set_zero_linger().unwrap();
}

/// Answers whatever arrives as an HTTP/1.1 server answers what it cannot parse, and holds the
/// connection until the client lets go.
async fn http1_only(mut stream: TcpStream) {
    let mut buffer = [0; 1024];
    let _ = stream.read(&mut buffer).await;
    let _ = stream
        .write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        .await;
    while stream.read(&mut buffer).await.is_ok_and(|n| n > 0) {}
}

/// Answers whatever arrives with the SETTINGS frame (empty) that opens an HTTP/2 server's side
/// of a connection, and holds the connection until the client lets go.
async fn http2_only(mut stream: TcpStream) {
    let mut buffer = [0; 1024];
    let _ = stream.read(&mut buffer).await;
    let _ = stream.write_all(&[0, 0, 0, 4, 0, 0, 0, 0, 0]).await;
    while stream.read(&mut buffer).await.is_ok_and(|n| n > 0) {}
}

fn client(addr: SocketAddr, protocol: EmulatorProtocol) -> NotebooksClient {
    let endpoint = Endpoint {
        base_url: Url::parse(&format!("http://{addr}/")).unwrap(),
        credentials: Credentials::Anonymous,
        emulator_protocol: Some(protocol),
    };
    let timeouts = Timeouts {
        connect: Duration::from_secs(2),
        request: Duration::from_secs(2),
    };
    NotebooksClient::new(endpoint, ApiVersion::V2, timeouts).unwrap()
}

/// The failure of one call, told as a 503 and a log line tell it.
async fn failure(client: &NotebooksClient) -> (ClientError, String) {
    let error = client
        .get_instance("projects/p/locations/z/instances/nb")
        .await
        .unwrap_err();
    let told = crate::cause::chain(&error).to_string();
    (error, told)
}

/// The call could not be made, may succeed later, and the message names `cause`.
async fn assert_transport_failure(addr: SocketAddr, protocol: EmulatorProtocol, cause: &str) {
    let (error, told) = failure(&client(addr, protocol)).await;
    assert!(
        matches!(error, ClientError::Transport { .. }),
        "{protocol:?}: {told}"
    );
    assert!(error.is_transient(), "{protocol:?}: {told}");
    assert!(told.contains(cause), "{protocol:?} names {cause:?}: {told}");
    let spoken = match protocol {
        H2c => " over h2c",
        Http1 => " over HTTP/1.1",
        // Refused, the question is still open: nothing was spoken yet.
        Auto if cause.contains("refused") => "",
        // Reset, the HTTP/2 request failed: settled on HTTP/1.1.
        Auto => " over HTTP/1.1",
    };
    assert!(
        told.starts_with(&format!("cannot reach the Notebooks API{spoken} (")),
        "{protocol:?} says what it spoke: {told}"
    );
    assert_eq!(
        told.matches(&addr.to_string()).count(),
        1,
        "the URL is told once: {told}"
    );
}

#[tokio::test]
async fn a_refused_connection_is_named_in_every_mode() {
    let addr = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    for protocol in [Auto, H2c, Http1] {
        assert_transport_failure(addr, protocol, "Connection refused").await;
    }
}

/// Over HTTP/1.1 the reset itself is named. The HTTP/2 client tells a call only that its
/// connection closed; the reset under it reaches hyper's debug log, not the error.
#[tokio::test]
async fn a_reset_connection_is_named_in_every_mode() {
    let server = Server::start(reset).await;
    for (protocol, cause) in [
        (Auto, "Connection reset by peer"),
        (Http1, "Connection reset by peer"),
        (H2c, "connection closed"),
    ] {
        assert_transport_failure(server.addr, protocol, cause).await;
    }
}

#[tokio::test]
async fn forced_http1_to_an_http2_server_names_what_it_could_not_parse() {
    let server = Server::start(http2_only).await;
    assert_transport_failure(server.addr, Http1, "invalid HTTP version").await;
}

/// `auto` asks once: the HTTP/1.1 server's answers then reach the calls, the first and the
/// next.
#[tokio::test]
async fn auto_settles_on_http1_for_a_server_without_http2() {
    let server = Server::start(http1_only).await;
    let client = client(server.addr, Auto);
    for call in ["first", "second"] {
        let (error, told) = failure(&client).await;
        assert!(
            matches!(error, ClientError::Api { http: 400, .. }),
            "{call} call answered over HTTP/1.1: {told}"
        );
    }
}

#[test]
fn each_protocol_is_read_from_its_name() {
    for (text, protocol) in [("auto", Auto), ("h2c", H2c), ("http1", Http1)] {
        assert_eq!(text.parse::<EmulatorProtocol>(), Ok(protocol));
    }
    for text in ["", "h2", "HTTP/1.1", "http2"] {
        assert!(text.parse::<EmulatorProtocol>().is_err(), "{text}");
    }
}
