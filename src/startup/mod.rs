//! Building the service from settings, and running it until shutdown.
//!
//! `Application::build` binds the listener itself (port 0 allowed) and exposes the real port,
//! so tests start the real thing on a free port. With nothing configured it also starts the
//! Notebooks emulator in-process: `cargo run` is a working demo without a cloud account.
//!
//! - `services`: the composition root, which builds every service once, for `serve` and for
//!   each command; `demo`: the embedded emulator and what its instances run; `profiles`: the
//!   named profiles of `PROFILES_FILE`, from a file or from Cloud Storage.

mod demo;
mod profiles;
mod services;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::ServiceExt;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::{Backend, Settings};
use crate::http::{AppState, FormKeys, HistoryRoutes, Limits, Peer, Peered, Readers, router};
use crate::push_token::{PushAuthMode, TokenVerifier};
use notebooks_emulator::Emulator;

pub use profiles::{ProfilesFileError, load as load_profiles};
pub use services::Services;

/// Cloud Run sends SIGKILL 10 s after SIGTERM; in-flight requests get this long to answer.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(8);

/// Says at start-up who may push. Unchecked on Cloud Run is a warning unless `PUSH_AUTH=off`
/// says it is meant.
fn announce_push_auth(mode: &PushAuthMode, on_cloud_run: bool) {
    match mode {
        PushAuthMode::Verify(verify) => tracing::info!(
            audience = %verify.audience,
            service_accounts = ?verify.service_accounts,
            "push requests need a Google-signed OIDC token"
        ),
        PushAuthMode::Off => tracing::info!(
            "PUSH_AUTH=off: push requests are not authenticated by this service; Cloud Run IAM (--no-allow-unauthenticated) must protect the endpoint"
        ),
        PushAuthMode::Unset if on_cloud_run => tracing::warn!(
            "PUSH_AUTH_AUDIENCE is not set: push requests are not authenticated by this service, only Cloud Run IAM (--no-allow-unauthenticated) protects the endpoint; set PUSH_AUTH_AUDIENCE and PUSH_AUTH_SERVICE_ACCOUNTS, or PUSH_AUTH=off to state that this is intended"
        ),
        PushAuthMode::Unset => {}
    }
}

/// The HTTP service, bound and ready to run.
pub struct Application {
    listener: TcpListener,
    services: Services,
    limits: Limits,
    push_auth: Option<Arc<TokenVerifier>>,
    readers: Readers,
    cancel: CancellationToken,
}

impl Application {
    /// Binds `HOST:PORT` (tests pass port 0) and prepares everything a request needs.
    ///
    /// # Errors
    /// Configuration, credentials, or a port that cannot be bound.
    pub async fn build(settings: Settings, cancel: CancellationToken) -> anyhow::Result<Self> {
        let port = settings.port;
        let limits = Limits {
            max_body_bytes: settings.max_body_bytes,
            max_payload_bytes: settings.max_payload_bytes,
        };
        let push_auth = match &settings.push_auth {
            PushAuthMode::Verify(verify) => Some(Arc::new(
                TokenVerifier::new(verify, settings.timeouts)
                    .context("building the JWKS client")?,
            )),
            PushAuthMode::Off | PushAuthMode::Unset => None,
        };
        announce_push_auth(&settings.push_auth, settings.on_cloud_run);
        let embedded = matches!(settings.backend, Backend::Embedded);
        let readers = Readers::new(&settings.runs_auth, embedded, settings.timeouts)
            .context("building the JWKS client")?;
        tracing::info!("{}", readers.describe());
        let address = SocketAddr::new(settings.host, port);
        let listener = TcpListener::bind(address)
            .await
            .with_context(|| format!("HOST, PORT: cannot listen on {address}"))?;
        // The bound port, which the demo's runners report to (PORT may be 0).
        let mut settings = settings;
        settings.port = listener.local_addr().map_or(port, |a| a.port());
        let services = Services::build(settings, cancel.clone()).await?;
        Ok(Self {
            listener,
            services,
            limits,
            push_auth,
            readers,
            cancel,
        })
    }

    pub fn port(&self) -> u16 {
        self.listener
            .local_addr()
            .map(|a| a.port())
            .unwrap_or_default()
    }

    /// The embedded emulator, when running the demo.
    pub fn embedded(&self) -> Option<&Emulator> {
        self.services.embedded.as_ref()
    }

    /// Serves until the token is cancelled, then gives in-flight requests [`SHUTDOWN_GRACE`].
    ///
    /// # Errors
    /// When the server fails.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let port = self.port();
        let services = self.services;
        let state = AppState::new(
            services.dispatcher.clone(),
            services.project.clone(),
            self.limits,
        );
        let state = match &services.completer {
            Some(completer) => {
                tracing::info!("runs report to /runs/ID/complete");
                state.with_completion(completer.clone())
            }
            None => state,
        }
        .with_history(Arc::new(HistoryRoutes {
            history: services.history.clone(),
            readers: self.readers,
            operations: services.operations.clone(),
            forms: FormKeys::new(
                services.records.clone(),
                services.history.outputs().first().cloned(),
            ),
            links: services.links.clone(),
        }));
        let app = ServiceExt::<axum::extract::Request>::into_make_service_with_connect_info::<Peer>(
            router(state, self.push_auth.clone()),
        );
        if let Some(emulator) = &services.embedded {
            tracing::info!(
                "no GOOGLE_CLOUD_PROJECT or Notebooks endpoint configured: demo mode, instances are created in the embedded Notebooks emulator at {}. Try: curl -d '{{\"data\":\"TweetiNoteStartTopic\"}}' localhost:{port}/",
                emulator.base_url()
            );
        }
        let address = self.listener.local_addr().map(|a| a.to_string());
        let address = address.unwrap_or_default();
        tracing::info!(port, %address, project = %services.project, api = %services.api_version, "listening");
        let cancel = self.cancel.clone();
        let server = axum::serve(
            Peered(notebooks_wire::net::without_nagle(self.listener)),
            app,
        )
        .with_graceful_shutdown(cancel.clone().cancelled_owned());
        let grace = async {
            cancel.cancelled().await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        };
        tokio::select! {
            result = server => result.context("serving HTTP")?,
            () = grace => tracing::warn!("requests still open after {SHUTDOWN_GRACE:?}; exiting anyway"),
        }
        services.shutdown().await;
        tracing::info!("stopped");
        Ok(())
    }
}
