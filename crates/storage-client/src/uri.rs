//! Where an object is: `gs://` URIs, and the base URL an emulator host names.

/// `gs://BUCKET/OBJECT`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GsUri {
    pub bucket: String,
    pub object: String,
}

impl GsUri {
    /// # Errors
    /// A message saying why `text` is not `gs://BUCKET/OBJECT`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let rest = text
            .strip_prefix("gs://")
            .ok_or_else(|| format!("`{text}` is not a gs:// URI"))?;
        match rest.split_once('/') {
            Some((bucket, object)) if !bucket.is_empty() && !object.is_empty() => Ok(Self {
                bucket: bucket.to_owned(),
                object: object.to_owned(),
            }),
            _ => Err(format!("`{text}` names no object (gs://BUCKET/OBJECT)")),
        }
    }
}

impl std::fmt::Display for GsUri {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "gs://{}/{}", self.bucket, self.object)
    }
}

/// The base URL for a `STORAGE_EMULATOR_HOST` value: Google's libraries take both `host:port`
/// and `http://host:port`.
///
/// # Errors
/// A message when the value is not a URL or `host:port`.
pub fn emulator_base_url(host: &str) -> Result<reqwest::Url, String> {
    let host = host.trim().trim_end_matches('/');
    let with_scheme = if host.contains("://") {
        host.to_owned()
    } else {
        format!("http://{host}")
    };
    let url = reqwest::Url::parse(&with_scheme)
        .map_err(|error| format!("STORAGE_EMULATOR_HOST `{host}`: {error}"))?;
    if url.host_str().is_none() || !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "STORAGE_EMULATOR_HOST `{host}` is not http://HOST:PORT"
        ));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gs_uris_name_a_bucket_and_an_object() {
        let uri = GsUri::parse("gs://b/dir/s.sh").unwrap();
        assert_eq!(
            (uri.bucket.as_str(), uri.object.as_str()),
            ("b", "dir/s.sh")
        );
        assert_eq!(uri.to_string(), "gs://b/dir/s.sh");
        for bad in [
            "b/s.sh",
            "gs://b",
            "gs://b/",
            "gs:///s.sh",
            "https://b/s.sh",
        ] {
            assert!(GsUri::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn emulator_hosts_come_with_or_without_a_scheme() {
        assert_eq!(
            emulator_base_url("127.0.0.1:4443").unwrap().as_str(),
            "http://127.0.0.1:4443/"
        );
        assert_eq!(
            emulator_base_url("http://localhost:9000/")
                .unwrap()
                .as_str(),
            "http://localhost:9000/"
        );
        assert!(emulator_base_url("ftp://x:1").is_err());
        assert!(emulator_base_url("").is_err());
    }
}
