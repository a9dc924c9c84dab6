//! One key that signs access tokens: an Ed25519 (`EdDSA`) or P-256 (`ES256`) private key in
//! PKCS#8 PEM, with its public JWK members and key id.
//!
//! The key id (`kid`) is the RFC 7638 JWK thumbprint of the public key, so it is stable across
//! restarts and identical wherever the same key is loaded. Where keys are kept and when they sign
//! is [`crate::key_set`]'s business.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use pake_core::config::SecretString;
use sha2::{Digest, Sha256};

/// A signature algorithm PAKE signs access tokens with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// EdDSA over Ed25519.
    EdDsa,
    /// ECDSA over P-256 with SHA-256.
    Es256,
}

impl Algorithm {
    /// The JOSE `alg` name.
    pub fn jose_name(self) -> &'static str {
        match self {
            Algorithm::EdDsa => "EdDSA",
            Algorithm::Es256 => "ES256",
        }
    }

    /// Parses a JOSE `alg` name.
    pub fn from_jose_name(name: &str) -> Option<Algorithm> {
        match name {
            "EdDSA" => Some(Algorithm::EdDsa),
            "ES256" => Some(Algorithm::Es256),
            _ => None,
        }
    }

    /// The matching jsonwebtoken algorithm.
    pub fn jwt_algorithm(self) -> jsonwebtoken::Algorithm {
        match self {
            Algorithm::EdDsa => jsonwebtoken::Algorithm::EdDSA,
            Algorithm::Es256 => jsonwebtoken::Algorithm::ES256,
        }
    }
}

/// A private signing key with its public half and key id. `Debug` never shows key material.
#[derive(Clone)]
pub struct SigningKey {
    kid: String,
    algorithm: Algorithm,
    private_pem: SecretString,
    /// OKP: the public key; EC: the x coordinate (base64url, no padding).
    x: String,
    /// EC only: the y coordinate; empty for OKP.
    y: String,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .field("private_pem", &self.private_pem)
            .finish()
    }
}

impl SigningKey {
    /// Generates a fresh key from the operating system's random source.
    pub fn generate(algorithm: Algorithm) -> Result<SigningKey, String> {
        let pem = match algorithm {
            Algorithm::EdDsa => ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng)
                .to_pkcs8_pem(LineEnding::LF)
                .map_err(|e| e.to_string())?,
            Algorithm::Es256 => p256::SecretKey::random(&mut rand::rngs::OsRng)
                .to_pkcs8_pem(LineEnding::LF)
                .map_err(|e| e.to_string())?,
        };
        SigningKey::from_pkcs8_pem(algorithm, &pem)
            .ok_or_else(|| "a generated key did not parse back".to_owned())
    }

    /// Parses a PKCS#8 PEM private key of `algorithm`.
    pub fn from_pkcs8_pem(algorithm: Algorithm, pem: &str) -> Option<SigningKey> {
        let (x, y) = match algorithm {
            Algorithm::EdDsa => {
                let key = ed25519_dalek::SigningKey::from_pkcs8_pem(pem).ok()?;
                (
                    URL_SAFE_NO_PAD.encode(key.verifying_key().to_bytes()),
                    String::new(),
                )
            }
            Algorithm::Es256 => {
                let key = p256::SecretKey::from_pkcs8_pem(pem).ok()?;
                let point = key.public_key().to_encoded_point(false);
                (
                    URL_SAFE_NO_PAD.encode(point.x()?),
                    URL_SAFE_NO_PAD.encode(point.y()?),
                )
            }
        };
        Some(SigningKey {
            kid: thumbprint(algorithm, &x, &y),
            algorithm,
            private_pem: SecretString::new(pem),
            x,
            y,
        })
    }

    /// The key id: the RFC 7638 thumbprint of the public JWK.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The algorithm this key signs (and only ever verifies) with.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The JWK `kty` and `crv` members.
    pub fn key_type_and_curve(&self) -> (&'static str, &'static str) {
        match self.algorithm {
            Algorithm::EdDsa => ("OKP", "Ed25519"),
            Algorithm::Es256 => ("EC", "P-256"),
        }
    }

    /// The JWK `x` member (base64url, no padding).
    pub fn x(&self) -> &str {
        &self.x
    }

    /// The JWK `y` member; empty for Ed25519.
    pub fn y(&self) -> &str {
        &self.y
    }

    /// The private key in PKCS#8 PEM, for the token signer and the key store.
    pub fn private_pem(&self) -> &SecretString {
        &self.private_pem
    }

    /// The jsonwebtoken key that signs with this key.
    pub fn encoding_key(&self) -> Result<jsonwebtoken::EncodingKey, String> {
        let pem = self.private_pem.expose().as_bytes();
        match self.algorithm {
            Algorithm::EdDsa => jsonwebtoken::EncodingKey::from_ed_pem(pem),
            Algorithm::Es256 => jsonwebtoken::EncodingKey::from_ec_pem(pem),
        }
        .map_err(|e| e.to_string())
    }
}

/// RFC 7638 §3.2: the required members in lexicographic order, no whitespace, SHA-256, base64url.
fn thumbprint(algorithm: Algorithm, x: &str, y: &str) -> String {
    let canonical = match algorithm {
        Algorithm::EdDsa => format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#),
        Algorithm::Es256 => format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#),
    };
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_parse_back_with_the_same_kid() {
        for algorithm in [Algorithm::EdDsa, Algorithm::Es256] {
            let key = SigningKey::generate(algorithm).expect("generate");
            let again =
                SigningKey::from_pkcs8_pem(algorithm, key.private_pem().expose()).expect("parse");
            assert_eq!(key.kid(), again.kid());
            assert_eq!(key.kid().len(), 43, "base64url sha-256");
            assert!(key.encoding_key().is_ok(), "{algorithm:?}");
        }
    }

    #[test]
    fn a_key_of_one_algorithm_does_not_parse_as_the_other() {
        let ed = SigningKey::generate(Algorithm::EdDsa).expect("generate");
        assert!(SigningKey::from_pkcs8_pem(Algorithm::Es256, ed.private_pem().expose()).is_none());
        let ec = SigningKey::generate(Algorithm::Es256).expect("generate");
        assert!(SigningKey::from_pkcs8_pem(Algorithm::EdDsa, ec.private_pem().expose()).is_none());
    }

    #[test]
    fn debug_never_prints_the_private_key() {
        let key = SigningKey::generate(Algorithm::Es256).expect("generate");
        let printed = format!("{key:?}");
        assert!(!printed.contains("PRIVATE KEY"), "{printed}");
    }

    #[test]
    fn thumbprint_matches_rfc_8037_example() {
        // RFC 8037 appendix A.3: the thumbprint of its example Ed25519 public key.
        assert_eq!(
            thumbprint(
                Algorithm::EdDsa,
                "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
                ""
            ),
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );
    }

    #[test]
    fn thumbprint_matches_rfc_7638_style_ec_example() {
        // RFC 7517 appendix A.1's P-256 key; its RFC 7638 thumbprint computed independently
        // (python: base64url(sha256(canonical json))).
        assert_eq!(
            thumbprint(
                Algorithm::Es256,
                "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4",
                "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"
            ),
            "cn-I_WNMClehiVp51i_0VpOENW1upEerA8sEam5hn-s"
        );
    }
}
