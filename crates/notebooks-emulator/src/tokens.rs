//! OAuth access tokens that emulated instances get from their metadata server, and that the
//! in-process Cloud Storage and Secret Manager accept.
//!
//! A script on a real VM takes `…/service-accounts/default/token` and sends it as a bearer
//! token; the emulator's services must therefore tell their own tokens from anything else, or a
//! client that sends real Google credentials to them would look as if it worked. Each token
//! remembers the account it was issued to: Secret Manager grants access per account.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use jiff::Timestamp;

use super::clock::{Clock, later};

/// How long a token lives, as on Compute Engine (a little under an hour).
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(3599);

/// An issued token, in the shape the metadata server returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessToken {
    pub access_token: String,
    pub expires_in: u64,
    pub email: String,
}

#[derive(Debug)]
pub struct AccessTokens {
    clock: Arc<dyn Clock>,
    /// Token → when it expires, and the account it was issued to.
    issued: Mutex<HashMap<String, (Timestamp, String)>>,
}

impl AccessTokens {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            issued: Mutex::new(HashMap::new()),
        }
    }

    /// A new token for `email`, valid for [`TOKEN_LIFETIME`].
    pub fn issue(&self, email: &str) -> AccessToken {
        let now = self.clock.now();
        let token = format!("ya29.emulator.{}", uuid::Uuid::new_v4().simple());
        let mut issued = self.issued.lock().unwrap_or_else(PoisonError::into_inner);
        issued.retain(|_, (expiry, _)| *expiry > now);
        issued.insert(
            token.clone(),
            (later(now, TOKEN_LIFETIME), email.to_owned()),
        );
        AccessToken {
            access_token: token,
            expires_in: TOKEN_LIFETIME.as_secs(),
            email: email.to_owned(),
        }
    }

    /// Whether `token` was issued here and has not expired.
    pub fn accepts(&self, token: &str) -> bool {
        self.holder(token).is_some()
    }

    /// The account `token` was issued to, if it was issued here and has not expired.
    pub fn holder(&self, token: &str) -> Option<String> {
        let now = self.clock.now();
        self.issued
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(token)
            .filter(|(expiry, _)| *expiry > now)
            .map(|(_, email)| email.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    #[test]
    fn issued_tokens_are_accepted_until_they_expire() {
        let clock = Arc::new(ManualClock::new("2026-01-01T00:00:00Z".parse().unwrap()));
        let tokens = AccessTokens::new(clock.clone());
        let token = tokens.issue("sa@p.iam.gserviceaccount.com");
        assert!(token.access_token.starts_with("ya29."));
        assert!(tokens.accepts(&token.access_token));
        assert_eq!(
            tokens.holder(&token.access_token).as_deref(),
            Some("sa@p.iam.gserviceaccount.com")
        );
        assert!(!tokens.accepts("ya29.someone-else"));
        clock.advance(TOKEN_LIFETIME);
        assert!(!tokens.accepts(&token.access_token));
        assert_eq!(tokens.holder(&token.access_token), None);
    }
}
