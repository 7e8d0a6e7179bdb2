//! Which HTTP the client speaks to an emulator over plain TCP (`NOTEBOOKS_EMULATOR_PROTOCOL`).
//!
//! Google's tools read `*_EMULATOR_HOST` as plain HTTP, and most local servers (the test
//! servers of Python and Node, WireMock, recorders, proxies) speak HTTP/1.1 only. HTTP/2 still
//! matters where the other side speaks it: every call in progress shares one connection, where
//! HTTP/1.1 needs a connection per call in progress, and thousands of launches polling at once
//! would hold thousands of connections, with their buffers, that production (HTTP/2 over TLS
//! with Google) never has. The emulator shipped with the service serves both on one port.
//!
//! Over plain TCP nothing negotiates the version (there is no ALPN, and the client cannot
//! upgrade a connection to h2c), so `auto`, the default, asks once: one request with HTTP/2
//! prior knowledge to the emulator's root. An answer over HTTP/2, whatever its status, settles
//! h2c; a connection that fails in HTTP/2's terms (an HTTP/1.1 server answers the preface with
//! text that is no frame, or hangs up) settles HTTP/1.1. A connection that cannot be opened,
//! or no answer in time, settles nothing, and the next call asks again. The first call asks,
//! not start-up, so the service starts whether or not the emulator is up yet. `h2c` and
//! `http1` skip the question, for a server that answers the probe misleadingly.

use std::str::FromStr;
use std::sync::Arc;

use reqwest::Url;
use tokio::sync::OnceCell;

/// How to speak HTTP to an emulator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmulatorProtocol {
    /// h2c if the emulator answers HTTP/2 with prior knowledge, else HTTP/1.1.
    Auto,
    /// HTTP/2 with prior knowledge only.
    H2c,
    /// HTTP/1.1 only.
    Http1,
}

impl FromStr for EmulatorProtocol {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim() {
            "auto" => Ok(EmulatorProtocol::Auto),
            "h2c" => Ok(EmulatorProtocol::H2c),
            "http1" => Ok(EmulatorProtocol::Http1),
            other => Err(format!("`{other}` is not auto, h2c or http1")),
        }
    }
}

/// An HTTP client and the HTTP it speaks, where the service chose it: a failed call says which,
/// since the same broken connection reads differently in each.
#[derive(Debug, Clone)]
pub(super) struct Speaker {
    pub(super) http: reqwest::Client,
    /// `None`: TLS negotiates.
    pub(super) spoken: Option<&'static str>,
}

/// The HTTP client calls go out on; cheap to clone.
#[derive(Debug, Clone)]
pub(super) enum Connections {
    /// Known before the first call: reqwest's own choice (ALPN over TLS), or a forced one.
    Fixed(Speaker),
    /// `auto`: settled by the first call that gets an answer.
    Probed(Arc<Probe>),
}

#[derive(Debug)]
pub(super) struct Probe {
    /// The emulator's root, asked over HTTP/2.
    root: Url,
    h2c: Speaker,
    http1: Speaker,
    settled: OnceCell<Speaker>,
}

impl Connections {
    /// `protocol` is `None` for Google and `NOTEBOOKS_ENDPOINT`: TLS negotiates there.
    pub(super) fn new(
        protocol: Option<EmulatorProtocol>,
        root: &Url,
        builder: impl Fn() -> reqwest::ClientBuilder,
    ) -> Result<Self, reqwest::Error> {
        let h2c = || -> Result<Speaker, reqwest::Error> {
            Ok(Speaker {
                http: builder().http2_prior_knowledge().build()?,
                spoken: Some("h2c"),
            })
        };
        let http1 = || -> Result<Speaker, reqwest::Error> {
            Ok(Speaker {
                http: builder().http1_only().build()?,
                spoken: Some("HTTP/1.1"),
            })
        };
        Ok(match protocol {
            None => Connections::Fixed(Speaker {
                http: builder().build()?,
                spoken: None,
            }),
            Some(EmulatorProtocol::H2c) => Connections::Fixed(h2c()?),
            Some(EmulatorProtocol::Http1) => Connections::Fixed(http1()?),
            Some(EmulatorProtocol::Auto) => Connections::Probed(Arc::new(Probe {
                root: root.clone(),
                h2c: h2c()?,
                http1: http1()?,
                settled: OnceCell::new(),
            })),
        })
    }

    /// The client for the next call. Calls that arrive while the question is asked wait for
    /// its answer.
    ///
    /// # Errors
    /// `auto` only: the emulator could not be reached, or did not answer in time.
    pub(super) async fn speaker(&self) -> Result<&Speaker, reqwest::Error> {
        match self {
            Connections::Fixed(speaker) => Ok(speaker),
            Connections::Probed(probe) => probe.settled.get_or_try_init(|| probe.ask()).await,
        }
    }
}

impl Probe {
    async fn ask(&self) -> Result<Speaker, reqwest::Error> {
        match self.h2c.http.get(self.root.clone()).send().await {
            Ok(response) => {
                tracing::info!(
                    emulator = %self.root,
                    status = response.status().as_u16(),
                    "the Notebooks emulator speaks HTTP/2 (h2c): calls share its connections"
                );
                Ok(self.h2c.clone())
            }
            Err(error) if error.is_connect() || error.is_timeout() => Err(error.without_url()),
            Err(error) => {
                tracing::info!(
                    emulator = %self.root,
                    reason = %crate::cause::chain(&error.without_url()),
                    "the Notebooks emulator does not speak HTTP/2 with prior knowledge: calls use HTTP/1.1, a connection for each call in progress"
                );
                Ok(self.http1.clone())
            }
        }
    }
}

#[cfg(test)]
mod tests;
