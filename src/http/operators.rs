//! Who may act on runs (`RUNS_OPERATORS`), and that a request to act is not a cross-site one.
//!
//! An operator is a reader (the same token check, [`Readers`]) whose account is in
//! `RUNS_OPERATORS`; in the embedded demo with nothing configured, a caller on this machine is
//! one, as it may read. `RUNS_AUTH=off` makes no one an operator: acting needs a name to record.
//!
//! Identity alone is not consent: `gcloud run services proxy` adds the operator's identity to
//! every request it forwards, including a form another site's page posts to
//! `http://localhost:8080` in the same browser. So a request to act must also come from the
//! service's own pages: where the browser says where a request comes from (`Sec-Fetch-Site`,
//! which every current browser sends and no page can forge), only `same-origin` passes;
//! where it sends only `Origin`, that must be the host the request was sent to. (`localhost`
//! on another port is another origin, though the same site.) A request with neither is not a
//! browser's (a terminal's, a program's): the checks of its account are all there is, as for
//! any API. And a form, the one kind of POST a cross-site page can send without the service's
//! consent, must carry the token its page was served with (`forms`); a JSON body cannot be
//! sent cross-site without a CORS preflight, which the service never grants.

use axum::http::{HeaderMap, HeaderName, header};

use super::readers::{Reader, Readers};

/// The header a browser tells a request's origin relative to its target in.
const SEC_FETCH_SITE: HeaderName = HeaderName::from_static("sec-fetch-site");

/// Why a request may not act on runs. `answer` maps each to a status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotOperator {
    #[error(
        "acting on runs is not configured: set RUNS_OPERATORS (the accounts that may rerun, \
         cancel and run now, checked on Google-signed ID tokens)"
    )]
    NotConfigured,
    #[error("the account `{0}` may read runs but is not in RUNS_OPERATORS")]
    NotListed(String),
    #[error(
        "a request from another site ({0}) may not act on runs: use the service's own pages, \
         or a program that sends no browser headers"
    )]
    CrossSite(String),
}

impl Readers {
    /// The operator `reader` is, by the name their acts are recorded under.
    ///
    /// # Errors
    /// [`NotOperator`] when the deployment names no operators or not this reader.
    pub fn operator(&self, reader: &Reader) -> Result<String, NotOperator> {
        match (self, reader) {
            (Readers::Loopback, Reader::Loopback) => Ok("loopback".to_owned()),
            (Readers::Listed { operators, .. }, Reader::Account(email))
                if operators.contains(email) =>
            {
                Ok(email.clone())
            }
            (Readers::Listed { operators, .. }, Reader::Account(email))
                if !operators.is_empty() =>
            {
                Err(NotOperator::NotListed(email.clone()))
            }
            _ => Err(NotOperator::NotConfigured),
        }
    }
}

/// Refuses a request a browser sent from another origin than the service's own.
///
/// # Errors
/// [`NotOperator::CrossSite`], naming what the browser said.
pub fn same_origin(headers: &HeaderMap) -> Result<(), NotOperator> {
    let text = |name| headers.get(name).and_then(|v| v.to_str().ok());
    if headers.contains_key(&SEC_FETCH_SITE) {
        return match text(&SEC_FETCH_SITE) {
            Some("same-origin") => Ok(()),
            other => Err(NotOperator::CrossSite(format!(
                "Sec-Fetch-Site: {}",
                other.unwrap_or("unreadable")
            ))),
        };
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(());
    };
    let origin = origin.to_str().unwrap_or("unreadable");
    let host = text(&header::HOST).unwrap_or("");
    let authority = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"));
    if authority.is_some_and(|a| !host.is_empty() && a.eq_ignore_ascii_case(host)) {
        Ok(())
    } else {
        Err(NotOperator::CrossSite(format!(
            "Origin: {origin}, not {host}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::time::Duration;

    use axum::http::HeaderValue;

    use super::*;
    use crate::http::{ReaderSettings, RunsAuthMode};
    use crate::notebooks::client::Timeouts;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| {
                (
                    HeaderName::from_bytes(k.as_bytes()).unwrap(),
                    HeaderValue::from_str(v).unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn a_cross_site_post_is_refused_and_the_services_own_pages_pass() {
        let host = ("host", "svc.example.run.app");
        for passes in [
            headers(&[host, ("sec-fetch-site", "same-origin")]),
            // Behind `Referrer-Policy: no-referrer` a browser's form says `Origin: null`, but
            // it says Sec-Fetch-Site too.
            headers(&[host, ("sec-fetch-site", "same-origin"), ("origin", "null")]),
            headers(&[host, ("origin", "https://svc.example.run.app")]),
            headers(&[
                ("host", "localhost:8080"),
                ("origin", "http://localhost:8080"),
            ]),
            headers(&[host]),
        ] {
            assert_eq!(same_origin(&passes), Ok(()), "{passes:?}");
        }
        for refused in [
            headers(&[host, ("sec-fetch-site", "cross-site")]),
            headers(&[host, ("sec-fetch-site", "same-site")]),
            headers(&[host, ("sec-fetch-site", "none")]),
            headers(&[host, ("origin", "https://evil.example")]),
            headers(&[
                ("host", "localhost:8080"),
                ("origin", "http://localhost:3000"),
            ]),
            headers(&[host, ("origin", "null")]),
            headers(&[("origin", "https://svc.example.run.app")]),
        ] {
            assert!(
                matches!(same_origin(&refused), Err(NotOperator::CrossSite(_))),
                "{refused:?}"
            );
        }
    }

    #[test]
    fn operators_are_the_listed_accounts_or_the_demos_loopback_callers() {
        let timeouts = Timeouts {
            connect: Duration::from_secs(1),
            request: Duration::from_secs(1),
        };
        let listed = |operators: &[&str]| {
            let settings = ReaderSettings {
                readers: BTreeSet::from(["rita@example.com".to_owned()]),
                operators: operators.iter().map(|o| (*o).to_owned()).collect(),
                audience: "aud".into(),
                jwks_url: "http://127.0.0.1:9/certs".into(),
            };
            Readers::new(&RunsAuthMode::Readers(settings), false, timeouts).unwrap()
        };
        let ana = Reader::Account("ana@example.com".into());
        let rita = Reader::Account("rita@example.com".into());
        assert_eq!(
            listed(&["ana@example.com"]).operator(&ana),
            Ok("ana@example.com".to_owned())
        );
        assert_eq!(
            listed(&["ana@example.com"]).operator(&rita),
            Err(NotOperator::NotListed("rita@example.com".into())),
            "a reader is not an operator"
        );
        assert_eq!(listed(&[]).operator(&rita), Err(NotOperator::NotConfigured));
        let demo = Readers::new(&RunsAuthMode::Unset, true, timeouts).unwrap();
        assert_eq!(demo.operator(&Reader::Loopback), Ok("loopback".to_owned()));
        let open = Readers::new(&RunsAuthMode::Off, false, timeouts).unwrap();
        assert_eq!(
            open.operator(&Reader::Unchecked),
            Err(NotOperator::NotConfigured),
            "RUNS_AUTH=off names no one to record"
        );
    }
}
