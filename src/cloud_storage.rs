//! Cloud Storage as the service reaches it: Google's with Application Default Credentials, or
//! an emulator's (`STORAGE_EMULATOR_HOST`) without. The run store keeps records there and the
//! launch reads notebooks there; both share one client and one lookup of the credentials.

use std::sync::Arc;

use storage_client::StorageClient;
use tokio::sync::OnceCell;

use crate::credentials::{Credentials, CredentialsError};

/// Cloud Storage's JSON API.
const GOOGLE_STORAGE: &str = "https://storage.googleapis.com/";

/// A Cloud Storage client and the credentials its calls carry.
#[derive(Debug, Clone)]
pub struct CloudStorage {
    storage: StorageClient,
    /// Found on first use for Google's store: a service that never reads or writes an object
    /// (or runs against emulators) needs no Cloud Storage credentials to start.
    credentials: Arc<OnceCell<Credentials>>,
}

impl CloudStorage {
    pub fn new(storage: StorageClient, credentials: Credentials) -> Self {
        Self {
            storage,
            credentials: Arc::new(OnceCell::new_with(Some(credentials))),
        }
    }

    /// The store the settings name: `STORAGE_EMULATOR_HOST` without credentials, else
    /// Google's with Application Default Credentials.
    pub fn from_settings(emulator: Option<&reqwest::Url>) -> Self {
        match emulator {
            Some(base) => Self::new(StorageClient::new(base.clone()), Credentials::Anonymous),
            None => Self {
                storage: StorageClient::new(
                    reqwest::Url::parse(GOOGLE_STORAGE).expect("Google's storage URL"),
                ),
                credentials: Arc::new(OnceCell::new()),
            },
        }
    }

    /// The client with a fresh token (the credentials cache it), or anonymous.
    ///
    /// # Errors
    /// No credentials can be found, or they give no token.
    pub async fn client(&self) -> Result<StorageClient, CredentialsError> {
        let credentials = self
            .credentials
            .get_or_try_init(Credentials::detect)
            .await?;
        let authorization = credentials.authorization().await?;
        Ok(
            match authorization
                .as_deref()
                .and_then(|a| a.strip_prefix("Bearer "))
            {
                Some(token) => self.storage.clone().with_token(token),
                None => self.storage.clone(),
            },
        )
    }
}
