//! The ceiling of the load benchmark (`bench/run.sh`): axum and tokio as the service uses them,
//! built with the same release profile, answering every `POST /` with 204 after reading the
//! body and doing nothing else. What the service reaches under the same load, on the same core,
//! is the share its own work (decoding, the Notebooks call, the answer) leaves of this.
//!
//! `PORT=8081 cargo run --release -p loadbench --bin bare_axum`

use axum::Router;
use axum::body::Bytes;
use axum::http::StatusCode;
use axum::routing::post;

fn main() -> std::io::Result<()> {
    let port: u16 = match std::env::var("PORT") {
        Ok(port) => port
            .parse()
            .map_err(|_| std::io::Error::other(format!("PORT `{port}` is not a port number")))?,
        Err(_) => 8080,
    };
    // The service's runtime: `Runtime::new()`, one worker per CPU it may run on.
    tokio::runtime::Runtime::new()?.block_on(async {
        let listener = tokio::net::TcpListener::bind(("0.0.0.0", port)).await?;
        let app = Router::new().route("/", post(|_body: Bytes| async { StatusCode::NO_CONTENT }));
        axum::serve(listener, app).await
    })
}
