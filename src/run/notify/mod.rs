//! Notifications: webhooks told of a run's events, as each profile's `notify` rules say.
//!
//! A notification is sent where the event is announced ([`Transitions`](super::Transitions)),
//! by the writer whose record write made the step, so racing reports and reapers notify once.
//! Each goes out in a task of its own: a webhook that is slow, down or hanging never holds up
//! a report's answer or a reap. The task tries again with backoff while the receiver may
//! succeed later, within bounds (`webhook`), logs each attempt and the result, and is stopped
//! when the service stops: [`Notifier::shutdown`] lets deliveries under way finish for a
//! while, then stops the rest. A URL from Secret Manager is read when sending.
//!
//! `rules` parses a profile's rules at start-up, and tells a deployment which variables and
//! secrets their URLs come from; `message` is what each format says.

mod message;
mod rules;

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument as _;

pub use message::Notice;
pub use rules::{
    DEFAULT_ON, Destination, Format, Rule, WebhookSource, check_url, notifiable, parse_rules,
    webhook_sources,
};

use super::{RunEvent, RunRecord};
use crate::cause;
use crate::secret_manager::SecretManager;
use crate::webhook::{Delivery, Webhooks};

/// Sends the notifications of every profile's rules.
pub struct Notifier {
    /// Profile name → its rules; a profile without rules is absent.
    rules: BTreeMap<String, Vec<Rule>>,
    webhooks: Webhooks,
    secrets: SecretManager,
    /// `SERVICE_URL`: where a run's page is.
    service_url: Option<String>,
    tasks: TaskTracker,
    stop: CancellationToken,
}

impl fmt::Debug for Notifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notifier")
            .field("rules", &self.rules)
            .field("in_flight", &self.tasks.len())
            .finish_non_exhaustive()
    }
}

impl Notifier {
    /// A notifier of `rules` (profile → rules; empty lists are dropped).
    pub fn new(
        rules: BTreeMap<String, Vec<Rule>>,
        webhooks: Webhooks,
        secrets: SecretManager,
        service_url: Option<String>,
    ) -> Self {
        Self {
            rules: rules.into_iter().filter(|(_, r)| !r.is_empty()).collect(),
            webhooks,
            secrets,
            service_url,
            tasks: TaskTracker::new(),
            stop: CancellationToken::new(),
        }
    }

    /// Whether some profile notifies anything.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Sends `event` of `record` to each webhook of its profile that asked for it, each in a
    /// task of its own; returns at once. Nothing is sent once the notifier is shut down.
    pub fn notify(&self, event: RunEvent, record: &RunRecord) {
        let Some(rules) = self.rules.get(&record.profile) else {
            return;
        };
        let notice = Notice::new(event, record, self.service_url.as_deref());
        for (index, rule) in rules.iter().enumerate() {
            if !rule.on.contains(&event) || self.tasks.is_closed() {
                continue;
            }
            let span = tracing::info_span!(
                "notification",
                run = %record.run_id,
                event = event.as_str(),
                profile = %record.profile,
                rule = index + 1,
                source = %rule.source,
                format = rule.format.as_str(),
            );
            let send = Sending {
                body: notice.body(rule.format),
                destination: rule.destination.clone(),
                webhooks: self.webhooks.clone(),
                secrets: self.secrets.clone(),
                stop: self.stop.clone(),
            };
            self.tasks.spawn(send.run().instrument(span));
        }
    }

    /// Stops taking notifications, gives those under way up to `drain` to finish, then stops
    /// the rest and waits for them to end.
    pub async fn shutdown(&self, drain: Duration) {
        self.tasks.close();
        if tokio::time::timeout(drain, self.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                in_flight = self.tasks.len(),
                "notifications still being sent at shutdown are stopped"
            );
            self.stop.cancel();
            self.tasks.wait().await;
        }
    }
}

/// One notification to one webhook.
struct Sending {
    body: serde_json::Value,
    destination: Destination,
    webhooks: Webhooks,
    secrets: SecretManager,
    stop: CancellationToken,
}

impl Sending {
    async fn run(self) {
        let url = match &self.destination {
            Destination::Url(url) => url.clone(),
            Destination::Secret(version) => {
                let read = tokio::select! {
                    () = self.stop.cancelled() => return,
                    read = self.secrets.access(version) => read,
                };
                match read
                    .map_err(|e| cause::chain(&e).to_string())
                    .and_then(|text| {
                        check_url(text.trim()).map_err(|e| format!("the payload of {version} {e}"))
                    }) {
                    Ok(url) => url,
                    Err(error) => {
                        tracing::warn!(error = %error, "notification not sent: its webhook URL cannot be read");
                        return;
                    }
                }
            }
        };
        match self.webhooks.deliver(&url, &self.body, &self.stop).await {
            Delivery::Delivered { attempts } => {
                tracing::info!(attempts, "notification sent");
            }
            Delivery::Failed { attempts, error } => {
                tracing::warn!(attempts, error = %error, "notification not sent");
            }
            Delivery::Stopped { attempts } => {
                tracing::warn!(attempts, "notification not sent: the service stopped");
            }
        }
    }
}
