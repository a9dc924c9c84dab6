//! The embedded mode's signing key: an Ed25519 key generated into the data dir on first start
//! (`<data_dir>/signing-key.pem`, PKCS#8, mode 0600) and reused on every later start.
//!
//! The key id (`kid`) is the RFC 7638 JWK thumbprint of the public key, so it is stable across
//! restarts and identical wherever the same key is loaded. In production the key comes from
//! Vault instead (same type, another source).

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey, spki::der::pem::LineEnding};
use pake_core::config::SecretString;
use sha2::{Digest, Sha256};

/// File name of the generated key inside the data dir.
pub const KEY_FILE_NAME: &str = "signing-key.pem";

/// Errors loading or generating the key. They name the file; they never contain key material.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading, writing or creating the file failed.
    #[error("signing key {path}: {source}")]
    Io {
        /// The key file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file exists but is not a PKCS#8 Ed25519 private key. It is never overwritten.
    #[error(
        "signing key {path}: not a PKCS#8 PEM Ed25519 private key; restore it from backup or move it away to generate a new one (tokens signed with the old key stop working)"
    )]
    Malformed {
        /// The key file.
        path: PathBuf,
    },
    /// Encoding a freshly generated key failed.
    #[error("encoding a new signing key: {0}")]
    Encode(String),
}

/// An Ed25519 signing key with its public half and key id.
#[derive(Clone)]
pub struct SigningKey {
    kid: String,
    private_pem: SecretString,
    public_key: [u8; 32],
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("private_pem", &self.private_pem)
            .finish()
    }
}

impl SigningKey {
    /// Loads `<data_dir>/signing-key.pem`, generating it first if it does not exist. Safe when
    /// several processes start at once: the file appears atomically and only once.
    pub fn load_or_generate(data_dir: &Path) -> Result<SigningKey, Error> {
        let path = data_dir.join(KEY_FILE_NAME);
        let io = |source| Error::Io {
            path: path.clone(),
            source,
        };
        if !path.exists() {
            let generated = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
            let pem = generated
                .to_pkcs8_pem(LineEnding::LF)
                .map_err(|e| Error::Encode(e.to_string()))?;
            if crate::secret_file::create_once(data_dir, KEY_FILE_NAME, pem.as_bytes())
                .map_err(io)?
            {
                tracing::info!(path = %path.display(), "generated a new signing key");
            }
        }
        let pem = std::fs::read_to_string(&path).map_err(io)?;
        Self::from_pkcs8_pem(&pem).ok_or(Error::Malformed { path })
    }

    /// Parses a PKCS#8 PEM Ed25519 private key.
    pub fn from_pkcs8_pem(pem: &str) -> Option<SigningKey> {
        let key = ed25519_dalek::SigningKey::from_pkcs8_pem(pem).ok()?;
        let public_key = key.verifying_key().to_bytes();
        Some(SigningKey {
            kid: thumbprint(&public_key),
            private_pem: SecretString::new(pem),
            public_key,
        })
    }

    /// The key id: the RFC 7638 thumbprint of the public JWK.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The raw 32-byte Ed25519 public key.
    pub fn public_key(&self) -> &[u8; 32] {
        &self.public_key
    }

    /// The public key's `x` member of a JWK (base64url, no padding).
    pub fn public_key_b64(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.public_key)
    }

    /// The private key in PKCS#8 PEM, for the token signer.
    pub fn private_pem(&self) -> &SecretString {
        &self.private_pem
    }
}

fn thumbprint(public_key: &[u8; 32]) -> String {
    // RFC 7638 §3.2: required members in lexicographic order, no whitespace.
    let canonical = format!(
        r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
        URL_SAFE_NO_PAD.encode(public_key)
    );
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_start_generates_later_starts_reuse() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = SigningKey::load_or_generate(dir.path()).expect("generate");
        let second = SigningKey::load_or_generate(dir.path()).expect("reload");
        assert_eq!(first.kid(), second.kid());
        assert_eq!(first.public_key(), second.public_key());
        assert_eq!(first.kid().len(), 43, "base64url sha-256");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE_NAME))
                .expect("metadata")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_corrupt_key_file_is_reported_and_never_overwritten() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(KEY_FILE_NAME);
        std::fs::write(&path, "not a key").expect("write");
        let error = SigningKey::load_or_generate(dir.path()).expect_err("malformed");
        assert!(
            error
                .to_string()
                .contains("not a PKCS#8 PEM Ed25519 private key")
        );
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "not a key");
    }

    #[test]
    fn concurrent_first_starts_agree_on_one_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let kids: Vec<String> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    scope.spawn(|| {
                        SigningKey::load_or_generate(dir.path()).map(|k| k.kid().to_owned())
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("thread").expect("key"))
                .collect()
        });
        assert!(kids.windows(2).all(|w| w[0] == w[1]), "{kids:?}");
    }

    #[test]
    fn debug_never_prints_the_private_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let key = SigningKey::load_or_generate(dir.path()).expect("generate");
        let printed = format!("{key:?}");
        assert!(!printed.contains("PRIVATE KEY"), "{printed}");
    }

    #[test]
    fn thumbprint_matches_rfc_8037_example() {
        // RFC 8037 appendix A.3: the thumbprint of its example Ed25519 public key.
        let x = URL_SAFE_NO_PAD
            .decode("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
            .expect("b64");
        let key: [u8; 32] = x.try_into().expect("32 bytes");
        assert_eq!(
            thumbprint(&key),
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );
    }
}
