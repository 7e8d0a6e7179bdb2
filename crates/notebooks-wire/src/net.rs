//! Listener set-up shared by the service and the emulator.

use std::net::SocketAddr;

use axum::serve::{Listener, ListenerExt as _};
use tokio::net::{TcpListener, TcpStream};

/// The listener with Nagle's algorithm off on every accepted connection. An HTTP/2 server writes
/// its SETTINGS and then the first answer as separate small segments; with Nagle on, the answer
/// can wait for the peer's delayed ACK (40 ms on Linux): one first push in twenty took 50 ms
/// instead of 8 in the cold-start benchmark.
pub fn without_nagle(listener: TcpListener) -> impl Listener<Io = TcpStream, Addr = SocketAddr> {
    listener.tap_io(|stream| {
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "cannot turn Nagle's algorithm off on a connection");
        }
    })
}
