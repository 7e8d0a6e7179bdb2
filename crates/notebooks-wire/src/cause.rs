//! An error told with every cause under it, for answers and log lines.
//!
//! Errors here keep their cause as `source()` and say only their own part in `Display`
//! ("cannot reach the Notebooks API (…)"), so that nothing is said twice. Whoever tells a
//! person about a failure walks the chain: a 503 that says only "error sending request" leaves
//! the operator guessing, where "…: http2 error: connection error detected: frame with invalid
//! size" says the endpoint does not speak HTTP/2.

use std::error::Error;
use std::fmt;

/// `error: cause: cause of the cause…`; see [`chain`].
#[derive(Clone, Copy)]
pub struct Chain<'a>(&'a (dyn Error + 'static));

/// The error and its causes, `: `-separated. A cause whose text its parent already ends with
/// is skipped: some libraries print their source in their own message too.
pub fn chain<'a>(error: &'a (dyn Error + 'static)) -> Chain<'a> {
    Chain(error)
}

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut said = self.0.to_string();
        f.write_str(&said)?;
        let mut next = self.0.source();
        while let Some(cause) = next {
            let text = cause.to_string();
            if !text.is_empty() && !said.ends_with(&text) {
                write!(f, ": {text}")?;
            }
            said = text;
            next = cause.source();
        }
        Ok(())
    }
}

impl fmt::Debug for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot create nb")]
    struct Launch(#[source] Client);

    #[derive(Debug, thiserror::Error)]
    #[error("cannot reach the API")]
    struct Client(#[source] Library);

    /// Like gcp_auth's errors: the source is in the message and returned as the source.
    #[derive(Debug, thiserror::Error)]
    #[error("reading the key: {0}")]
    struct Library(#[source] std::io::Error);

    #[test]
    fn every_cause_is_told_once_in_order() {
        let error = Launch(Client(Library(std::io::Error::other("connection reset"))));
        assert_eq!(
            chain(&error).to_string(),
            "cannot create nb: cannot reach the API: reading the key: connection reset"
        );
        let alone = std::io::Error::other("no cause");
        assert_eq!(chain(&alone).to_string(), "no cause");
    }
}
