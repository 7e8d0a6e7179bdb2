//! The named profiles of `PROFILES_FILE`: a file on this machine (or in the image), or an
//! object in Cloud Storage that the deployment ships (`deploy/deploy.sh` does), so changing a
//! profile needs no image. The object is read once, at start-up, with the client and the
//! credentials of the run records (`STORAGE_EMULATOR_HOST`, or Google's with the service's
//! account); a profiles file that cannot be read or used stops start-up, saying how to fix it.

use reqwest::StatusCode;
use storage_client::{GsUri, StorageError};

use crate::cloud_storage::CloudStorage;
use crate::config::ProfilesFile;
use crate::credentials::CredentialsError;
use crate::profile::{Fields, Profiles, ProfilesError};

/// Why the profiles of `PROFILES_FILE` cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ProfilesFileError {
    #[error(
        "PROFILES_FILE: {uri} does not exist: upload the profiles there (gcloud storage cp \
         profiles.toml {uri}; deploy/deploy.sh ships a local PROFILES_FILE) or set \
         PROFILES_FILE to the object that holds them"
    )]
    Missing {
        uri: GsUri,
        #[source]
        source: StorageError,
    },
    #[error(
        "PROFILES_FILE: the service's account may not read {uri}: grant it \
         roles/storage.objectViewer on gs://{bucket} or on the object (deploy/deploy.sh grants \
         it on the profiles it ships)",
        bucket = .uri.bucket
    )]
    Denied {
        uri: GsUri,
        #[source]
        source: StorageError,
    },
    #[error("PROFILES_FILE: {uri} cannot be read; start-up stops rather than run without it")]
    Unreadable {
        uri: GsUri,
        #[source]
        source: StorageError,
    },
    #[error("PROFILES_FILE: {uri} needs Google credentials to be read")]
    Credentials {
        uri: GsUri,
        #[source]
        source: CredentialsError,
    },
    #[error(
        "PROFILES_FILE cannot be used; fix the file (deployed: the local one, then run \
         deploy/deploy.sh, which ships it)"
    )]
    Unusable(#[source] ProfilesError),
}

impl ProfilesFileError {
    /// What a refused read of `uri` means for the person who deploys.
    fn refused(uri: GsUri, source: StorageError) -> Self {
        match source.status() {
            Some(StatusCode::NOT_FOUND) => Self::Missing { uri, source },
            Some(StatusCode::FORBIDDEN | StatusCode::UNAUTHORIZED) => Self::Denied { uri, source },
            _ => Self::Unreadable { uri, source },
        }
    }
}

/// The default profile and those of `file`, each layered over it and parsed for `project`.
///
/// # Errors
/// [`ProfilesFileError`] naming `PROFILES_FILE`, the file and what to do.
pub async fn load(
    file: &ProfilesFile,
    default: Fields,
    project: &str,
    storage: &CloudStorage,
) -> Result<Profiles, ProfilesFileError> {
    match file {
        ProfilesFile::Local(path) => {
            Profiles::load(default, path, project).map_err(ProfilesFileError::Unusable)
        }
        ProfilesFile::Object(uri) => {
            let text = download(uri, storage).await?;
            Profiles::parse(default, &uri.to_string(), &text, project)
                .map_err(ProfilesFileError::Unusable)
        }
    }
}

/// The object's text, read with the service's one Cloud Storage client and credentials.
async fn download(uri: &GsUri, storage: &CloudStorage) -> Result<String, ProfilesFileError> {
    let client = storage
        .client()
        .await
        .map_err(|source| ProfilesFileError::Credentials {
            uri: uri.clone(),
            source,
        })?;
    let bytes = client
        .download(&uri.bucket, &uri.object)
        .await
        .map_err(|source| ProfilesFileError::refused(uri.clone(), source))?;
    String::from_utf8(bytes).map_err(|e| {
        ProfilesFileError::Unusable(ProfilesError::Syntax {
            path: uri.to_string(),
            reason: format!("not UTF-8 text ({e})"),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(status: StatusCode) -> String {
        let uri = GsUri::parse("gs://config-bucket/notebook-trigger-config/profiles.toml").unwrap();
        let source = StorageError::Refused {
            what: uri.to_string(),
            status,
            message: "as Cloud Storage says it".into(),
        };
        format!(
            "{:#}",
            anyhow::Error::from(ProfilesFileError::refused(uri, source))
        )
    }

    /// Each refusal names the variable, the object and the fix, and keeps Cloud Storage's
    /// own words.
    #[test]
    fn a_refused_read_says_what_to_do() {
        let object = "gs://config-bucket/notebook-trigger-config/profiles.toml";
        for (status, fix) in [
            (
                StatusCode::NOT_FOUND,
                "does not exist: upload the profiles there",
            ),
            (
                StatusCode::FORBIDDEN,
                "roles/storage.objectViewer on gs://config-bucket",
            ),
            (
                StatusCode::UNAUTHORIZED,
                "roles/storage.objectViewer on gs://config-bucket",
            ),
            (StatusCode::SERVICE_UNAVAILABLE, "cannot be read"),
        ] {
            let said = refused(status);
            assert!(said.starts_with("PROFILES_FILE"), "{said}");
            assert!(
                said.contains(object) && said.contains(fix),
                "{status}: {said}"
            );
            assert!(said.contains("as Cloud Storage says it"), "{said}");
        }
    }

    #[tokio::test]
    async fn an_unparsable_local_file_names_the_variable_the_file_and_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("profiles.toml");
        std::fs::write(&path, "[profiles.gpu\nmachine_type = 1\n").unwrap();
        let storage = CloudStorage::from_settings(None);
        let error = load(
            &ProfilesFile::Local(path.clone()),
            Fields::default(),
            "p",
            &storage,
        )
        .await
        .unwrap_err();
        let said = format!("{:#}", anyhow::Error::from(error));
        assert!(said.starts_with("PROFILES_FILE cannot be used"), "{said}");
        assert!(
            said.contains(&path.display().to_string()) && said.contains("line 1"),
            "{said}"
        );
    }
}
