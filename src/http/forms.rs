//! The token in each of the pages' POST forms: proof that the form was served by this service
//! to this operator for this one action, and the name of the request it makes.
//!
//! A page's form carries `ISSUED.NONCE.MAC`, where the MAC is an HMAC-SHA256 over the
//! operator's account, the action (`start`, `rerun:RUN`, `cancel:RUN`), the time of issue and
//! the nonce. A cross-site page cannot read the service's pages, so it cannot have a token;
//! one stolen from another operator or another run's form does not check. The nonce names the
//! relaunch a rerun or a "run now" starts, so a form posted twice starts one run.
//!
//! The key must be the same on every instance of the service (Cloud Run runs several, and a
//! form served by one is posted to another) and survive restarts: a random key per process
//! would refuse most posts. A key in an environment variable would need a deploy step and a
//! secret to rotate. So the key is made once, by whichever instance needs it first, and kept in
//! Cloud Storage beside the run records ([`RunStore::secret`]), under the prefix no run's VM
//! may read (the deploy's IAM condition): whoever may read the records may mint tokens, which
//! the service account may anyway. Deleting the object rotates the key; pages served before
//! then need a reload.

use std::time::Duration;

use aws_lc_rs::hmac;
use base64::Engine as _;
use jiff::Timestamp;
use tokio::sync::OnceCell;

use crate::run::{RunStore, StoreError};

/// How long a served form may be posted.
pub const FORM_LIFETIME: Duration = Duration::from_secs(12 * 3600);

/// The object, beside the records, that holds the key.
const KEY_OBJECT: &str = "operator-form-key";

/// Why a form's token is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormTokenError {
    #[error("the form has no token: reload the page and submit its form")]
    Missing,
    #[error("the form's token is not one this service issues: reload the page and submit again")]
    Malformed,
    #[error(
        "the form's token was not issued to you for this action: reload the page and submit again"
    )]
    Forged,
    #[error(
        "the form was served more than {} hours ago: reload the page and submit again",
        FORM_LIFETIME.as_secs() / 3600
    )]
    Expired,
}

/// Why no key can be had.
#[derive(Debug, thiserror::Error)]
pub enum FormKeyError {
    #[error(
        "the pages' forms need an output to keep their key beside (NOTEBOOK_OUTPUT, or output in \
         a profile)"
    )]
    NoOutput,
    #[error("the pages' form key cannot be read or written")]
    Store(#[source] StoreError),
}

/// Issues and checks form tokens with the key the service's instances share.
#[derive(Debug)]
pub struct FormKeys {
    store: RunStore,
    /// The output prefix the key is kept beside: the first, so every instance picks the same.
    output: Option<String>,
    key: OnceCell<hmac::Key>,
}

/// What a checked token asks for: the request it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormRequest(pub String);

impl FormKeys {
    pub fn new(store: RunStore, output: Option<String>) -> Self {
        Self {
            store,
            output,
            key: OnceCell::new(),
        }
    }

    /// With a key given rather than kept in Cloud Storage, for tests.
    #[cfg(test)]
    fn with_key(store: RunStore, key: &[u8]) -> Self {
        let keys = Self::new(store, None);
        keys.key
            .set(hmac::Key::new(hmac::HMAC_SHA256, key))
            .expect("a fresh cell");
        keys
    }

    /// A token for `operator` to do `action`, issued at `now`.
    ///
    /// # Errors
    /// [`FormKeyError`]: the key cannot be had.
    pub async fn issue(
        &self,
        operator: &str,
        action: &str,
        now: Timestamp,
    ) -> Result<String, FormKeyError> {
        let key = self.key().await?;
        let mut nonce = [0_u8; 16];
        aws_lc_rs::rand::fill(&mut nonce).expect("the system's random source");
        let nonce = hex(&nonce);
        let issued = now.as_second();
        let mac = hmac::sign(key, &message(operator, action, issued, &nonce));
        Ok(format!(
            "{issued}.{nonce}.{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.as_ref())
        ))
    }

    /// Whether `token` was issued to `operator` for `action` within `FORM_LIFETIME` of
    /// `now`; the request it names.
    ///
    /// # Errors
    /// [`CheckError`]: the token's fault, or no key.
    pub async fn check(
        &self,
        token: Option<&str>,
        operator: &str,
        action: &str,
        now: Timestamp,
    ) -> Result<FormRequest, CheckError> {
        let token = token
            .filter(|t| !t.is_empty())
            .ok_or(FormTokenError::Missing)?;
        let mut parts = token.split('.');
        let (Some(issued), Some(nonce), Some(mac), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(FormTokenError::Malformed.into());
        };
        let issued: i64 = issued.parse().map_err(|_| FormTokenError::Malformed)?;
        let mac = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(mac)
            .map_err(|_| FormTokenError::Malformed)?;
        if nonce.len() != 32 || !nonce.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(FormTokenError::Malformed.into());
        }
        let key = self.key().await.map_err(CheckError::Key)?;
        hmac::verify(key, &message(operator, action, issued, nonce), &mac)
            .map_err(|_| FormTokenError::Forged)?;
        let age = now.as_second().saturating_sub(issued);
        let lifetime = i64::try_from(FORM_LIFETIME.as_secs()).unwrap_or(i64::MAX);
        // A little ahead is another instance's clock; far ahead is not a time this service wrote.
        if !(-300..=lifetime).contains(&age) {
            return Err(FormTokenError::Expired.into());
        }
        Ok(FormRequest(format!("form-{nonce}")))
    }

    async fn key(&self) -> Result<&hmac::Key, FormKeyError> {
        self.key
            .get_or_try_init(|| async {
                let output = self.output.as_deref().ok_or(FormKeyError::NoOutput)?;
                let bytes = self
                    .store
                    .secret(output, KEY_OBJECT, || {
                        let mut key = vec![0_u8; 32];
                        aws_lc_rs::rand::fill(&mut key).expect("the system's random source");
                        key
                    })
                    .await
                    .map_err(FormKeyError::Store)?;
                Ok(hmac::Key::new(hmac::HMAC_SHA256, &bytes))
            })
            .await
    }
}

/// Why a form was not taken: its token, or the key to check it.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error(transparent)]
    Token(#[from] FormTokenError),
    #[error(transparent)]
    Key(FormKeyError),
}

/// What the MAC covers, each part on its own line (an account or a run id holds none).
fn message(operator: &str, action: &str, issued: i64, nonce: &str) -> Vec<u8> {
    format!("notebook-trigger form 1\n{operator}\n{action}\n{issued}\n{nonce}").into_bytes()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloud_storage::CloudStorage;

    fn keys(key: &[u8]) -> FormKeys {
        let storage = CloudStorage::from_settings(Some(&"http://127.0.0.1:9".parse().unwrap()));
        FormKeys::with_key(RunStore::on(storage), key)
    }

    #[tokio::test]
    async fn a_token_is_for_one_operator_one_action_and_twelve_hours() {
        let keys = keys(b"k1");
        let now: Timestamp = "2026-12-01T10:00:00Z".parse().unwrap();
        let token = keys
            .issue("ana@example.com", "cancel:r1", now)
            .await
            .unwrap();
        let check = |token: Option<&str>, who: &str, action: &str, at: Timestamp| {
            let keys = &keys;
            let token = token.map(str::to_owned);
            let who = who.to_owned();
            let action = action.to_owned();
            async move { keys.check(token.as_deref(), &who, &action, at).await }
        };
        let asked = check(Some(&token), "ana@example.com", "cancel:r1", now)
            .await
            .unwrap();
        assert!(
            asked.0.starts_with("form-") && asked.0.len() == 37,
            "{asked:?}"
        );
        let again = check(Some(&token), "ana@example.com", "cancel:r1", now)
            .await
            .unwrap();
        assert_eq!(asked, again, "a form posted twice names one request");
        let refused = |result: Result<FormRequest, CheckError>| match result {
            Err(CheckError::Token(error)) => error,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            refused(check(Some(&token), "bo@example.com", "cancel:r1", now).await),
            FormTokenError::Forged
        );
        assert_eq!(
            refused(check(Some(&token), "ana@example.com", "rerun:r1", now).await),
            FormTokenError::Forged
        );
        let later = now + jiff::SignedDuration::from_hours(13);
        assert_eq!(
            refused(check(Some(&token), "ana@example.com", "cancel:r1", later).await),
            FormTokenError::Expired
        );
        assert_eq!(
            refused(check(None, "ana@example.com", "cancel:r1", now).await),
            FormTokenError::Missing
        );
        assert_eq!(
            refused(check(Some("1.2.3"), "ana@example.com", "cancel:r1", now).await),
            FormTokenError::Malformed
        );
        let other = keys_other(&token, now).await;
        assert_eq!(other, FormTokenError::Forged, "another key's token");
    }

    async fn keys_other(token: &str, now: Timestamp) -> FormTokenError {
        match keys(b"k2")
            .check(Some(token), "ana@example.com", "cancel:r1", now)
            .await
        {
            Err(CheckError::Token(error)) => error,
            other => panic!("{other:?}"),
        }
    }
}
