//! A fake HTTP server on a free loopback port (Google's token endpoint, its JWKS, the
//! Notebooks API), stopped when dropped, whether the test passed or failed.

use std::net::SocketAddr;

use tokio::task::JoinHandle;

pub struct LocalServer {
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl LocalServer {
    pub async fn start(app: axum::Router) -> Self {
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .expect("a free loopback port");
        let addr = listener.local_addr().expect("the listener's address");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { addr, task }
    }

    /// `http://ADDR{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
