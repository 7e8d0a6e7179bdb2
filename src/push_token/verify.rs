//! The checks a push token must pass, in the order that costs least first: a readable
//! `Bearer` JWT, RS256 with a `kid` and nothing critical, the signature under Google's key of
//! that id, `iss`, `aud`, `exp`/`nbf`/`iat` within the leeway, then the email.

use axum::http::{HeaderMap, HeaderName, header};
use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;

use super::{ISSUERS, LEEWAY, TokenError, TokenVerifier};

/// What a checked token says about its bearer, for checks beyond the push account's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Claims {
    #[serde(default)]
    iat: Option<i64>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    email_verified: Option<serde_json::Value>,
    /// Present in Compute Engine identity tokens asked for with `format=full`.
    #[serde(default)]
    pub google: Option<GoogleClaims>,
}

impl Claims {
    /// Whether Google vouches for the email (a JSON `true`, not the string).
    pub fn email_verified(&self) -> bool {
        self.email_verified == Some(serde_json::Value::Bool(true))
    }
}

/// The `google` claim.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct GoogleClaims {
    #[serde(default)]
    pub compute_engine: Option<ComputeEngine>,
}

/// The VM a Compute Engine identity token was issued to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ComputeEngine {
    pub instance_name: String,
    pub zone: String,
    pub project_id: String,
    #[serde(default)]
    pub instance_id: String,
    /// Names the project's Compute Engine default account, which a VM created without an
    /// account of its own runs as.
    #[serde(default)]
    pub project_number: Option<serde_json::Value>,
}

impl ComputeEngine {
    /// `{project number}-compute@developer.gserviceaccount.com`, when the token says the number.
    pub fn default_account(&self) -> Option<String> {
        let number = match self.project_number.as_ref()? {
            serde_json::Value::Number(n) => n.to_string(),
            serde_json::Value::String(s) if s.chars().all(|c| c.is_ascii_digit()) => s.clone(),
            _ => return None,
        };
        Some(format!("{number}-compute@developer.gserviceaccount.com"))
    }
}

impl TokenVerifier {
    pub(super) async fn verify(&self, token: &str) -> Result<String, TokenError> {
        let claims = self.verify_claims(token).await?;
        let email = claims.email.clone().ok_or_else(|| {
            TokenError::AccountNotAllowed("(none: the token has no email)".into())
        })?;
        if !self.service_accounts.contains(&email) {
            return Err(TokenError::AccountNotAllowed(email));
        }
        if !claims.email_verified() {
            return Err(TokenError::EmailNotVerified(email));
        }
        Ok(email)
    }

    /// Every check but the account's: header, signature, issuer, audience and times.
    pub(super) async fn verify_claims(&self, token: &str) -> Result<Claims, TokenError> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|e| TokenError::Unreadable(e.to_string()))?;
        if header.alg != Algorithm::RS256 {
            return Err(TokenError::Rejected(format!(
                "algorithm {:?} is not RS256",
                header.alg
            )));
        }
        if header.crit.is_some() {
            return Err(TokenError::Rejected(
                "critical header parameters are not understood".into(),
            ));
        }
        let kid = header
            .kid
            .ok_or_else(|| TokenError::Rejected("the token names no key (`kid`)".into()))?;
        let key = self.keys.key(&kid).await?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.leeway = LEEWAY.as_secs();
        validation.validate_nbf = true;
        validation.set_issuer(&ISSUERS);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        let claims = jsonwebtoken::decode::<Claims>(token, &key, &validation)
            .map_err(|e| TokenError::Rejected(e.to_string()))?
            .claims;
        let now = jsonwebtoken::get_current_timestamp();
        match claims.iat {
            Some(iat) if iat <= (now + LEEWAY.as_secs()) as i64 => Ok(claims),
            Some(_) => Err(TokenError::Rejected("issued in the future (`iat`)".into())),
            None => Err(TokenError::Rejected("no `iat` claim".into())),
        }
    }
}

/// The token from `Authorization: Bearer <token>`.
pub(super) fn bearer(headers: &HeaderMap) -> Result<&str, TokenError> {
    bearer_in(headers, &header::AUTHORIZATION)
}

/// The token from `NAME: Bearer <token>`: Cloud Run also reads `X-Serverless-Authorization`.
pub fn bearer_in<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Result<&'a str, TokenError> {
    let value = headers.get(name).ok_or(TokenError::Missing)?;
    let text = value
        .to_str()
        .map_err(|_| TokenError::Unreadable(format!("the {name} header is not ASCII")))?;
    match text.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(token.trim())
        }
        _ => Err(TokenError::Unreadable(format!(
            "the {name} header is not `Bearer <token>`"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn only_bearer_tokens_are_read() {
        let headers = |value: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
            h
        };
        assert!(matches!(
            bearer(&HeaderMap::new()),
            Err(TokenError::Missing)
        ));
        assert_eq!(
            bearer(&headers("Bearer abc.def.ghi")).ok(),
            Some("abc.def.ghi")
        );
        assert_eq!(bearer(&headers("bearer  abc ")).ok(), Some("abc"));
        for bad in ["Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "abc.def.ghi"] {
            assert!(
                matches!(bearer(&headers(bad)), Err(TokenError::Unreadable(_))),
                "{bad}"
            );
        }
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_bytes(b"Bearer \xff").unwrap(),
        );
        assert!(matches!(bearer(&h), Err(TokenError::Unreadable(_))));
    }

    #[test]
    fn errors_never_echo_the_token() {
        let token = "eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.";
        let error = jsonwebtoken::decode_header(token).unwrap_err();
        let message = TokenError::Unreadable(error.to_string()).to_string();
        assert!(!message.contains("eyJ"), "{message}");
    }
}
