//! The key that signs emulated instances' identity tokens, and the JWKS that publishes it.
//!
//! A service verifies an instance's token exactly as it verifies Google's: RS256, the key
//! picked by `kid` from a JWKS, issuer `https://accounts.google.com`, audience and expiry. So
//! the emulator holds one RSA key, made at start-up with `--run-scripts` and otherwise when
//! first needed (generation takes a moment, and most emulators never sign anything), and serves
//! its public half at `/oauth2/v3/certs`, the path of Google's own JWKS: pointing a verifier's
//! JWKS URL at the emulator is the only change.

use std::time::Duration;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

/// Google's issuer for identity tokens.
pub const ISSUER: &str = "https://accounts.google.com";

/// How long an identity token lives, as Google's (one hour).
pub const IDENTITY_LIFETIME: Duration = Duration::from_secs(3600);

/// The path of the JWKS on the emulator, the same as Google's.
pub const JWKS_PATH: &str = "/oauth2/v3/certs";

pub struct Signer {
    key: KeyPair,
    kid: String,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// A fresh 2048-bit key with a random `kid`.
    ///
    /// # Panics
    /// If the system cannot generate an RSA key (no entropy source).
    pub fn generate() -> Self {
        let key = KeyPair::generate(KeySize::Rsa2048).expect("an RSA key can be generated");
        Self {
            key,
            kid: uuid::Uuid::new_v4().simple().to_string(),
        }
    }

    /// `header.claims.signature`, RS256, with this key's `kid`.
    ///
    /// # Panics
    /// If signing fails, which only a broken crypto library does.
    pub fn sign(&self, claims: &Value) -> String {
        let header = json!({"alg": "RS256", "kid": self.kid, "typ": "JWT"});
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut signature = vec![0; self.key.public_modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                signing_input.as_bytes(),
                &mut signature,
            )
            .expect("RS256 signing succeeds");
        format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }

    /// The JWKS (`{"keys": [...]}`) a verifier fetches.
    pub fn jwks(&self) -> Value {
        let public = self.key.public_key();
        let encode = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
        json!({"keys": [{
            "kty": "RSA",
            "alg": "RS256",
            "use": "sig",
            "kid": self.kid,
            "n": encode(public.modulus().big_endian_without_leading_zero()),
            "e": encode(public.exponent().big_endian_without_leading_zero()),
        }]})
    }
}

#[cfg(test)]
mod tests {
    use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};

    use super::*;

    #[test]
    fn tokens_verify_against_the_published_key() {
        let signer = Signer::generate();
        let token = signer.sign(&json!({"aud": "a", "iss": ISSUER}));
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        let header: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
        assert_eq!(header["alg"], "RS256");
        let jwk = &signer.jwks()["keys"][0];
        assert_eq!(jwk["kid"], header["kid"]);
        assert_eq!(header["kid"].as_str().unwrap().len(), 32);
        let decode = |field: &str| {
            URL_SAFE_NO_PAD
                .decode(jwk[field].as_str().unwrap())
                .unwrap()
        };
        let public = RsaPublicKeyComponents {
            n: decode("n"),
            e: decode("e"),
        };
        let signed = format!("{}.{}", parts[0], parts[1]);
        let signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
        public
            .verify(&RSA_PKCS1_2048_8192_SHA256, signed.as_bytes(), &signature)
            .expect("the signature verifies with the JWKS key");
        let mut tampered = signature.clone();
        tampered[0] ^= 1;
        assert!(
            public
                .verify(&RSA_PKCS1_2048_8192_SHA256, signed.as_bytes(), &tampered)
                .is_err()
        );
    }
}
