//! The embedded mode's key store: one file per signing key in `<data_dir>/signing-keys/`,
//! `<kid>.json` with mode 0600, holding the algorithm, the two times and the PKCS#8 PEM private
//! key. Files appear atomically (temporary file + link) and are never rewritten; a key is
//! destroyed by removing its file.
//!
//! A data dir from before key rotation holds one `signing-key.pem`; on first open it is imported
//! as the active key (tokens it signed stay valid) and the old file is removed.

use std::path::{Path, PathBuf};

use pake_core::Error;
use serde::{Deserialize, Serialize};

use crate::key_set::{KeyStore, StoredKey};
use crate::signing_key::{Algorithm, SigningKey};

/// Directory of the key files inside the data dir.
pub const KEY_DIR_NAME: &str = "signing-keys";
/// The single key file of data dirs created before key rotation existed.
pub const LEGACY_KEY_FILE_NAME: &str = "signing-key.pem";

#[derive(Serialize, Deserialize)]
struct KeyFile {
    algorithm: String,
    create_time: i64,
    activate_time: i64,
    private_key_pem: String,
}

/// Signing keys as files in a directory.
#[derive(Debug)]
pub struct FileKeyStore {
    dir: PathBuf,
}

impl FileKeyStore {
    /// The key store of `data_dir`, importing a legacy `signing-key.pem` if there is one and no
    /// key file yet.
    pub fn open(data_dir: &Path, now: i64) -> Result<FileKeyStore, Error> {
        let store = FileKeyStore {
            dir: data_dir.join(KEY_DIR_NAME),
        };
        std::fs::create_dir_all(&store.dir).map_err(|e| store.io_error(&store.dir, e))?;
        let legacy = data_dir.join(LEGACY_KEY_FILE_NAME);
        if legacy.exists() && store.key_files()?.is_empty() {
            let pem = match std::fs::read_to_string(&legacy) {
                Ok(pem) => pem,
                // Another process starting at the same time imported it first.
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(store),
                Err(error) => return Err(store.io_error(&legacy, error)),
            };
            let key = SigningKey::from_pkcs8_pem(Algorithm::EdDsa, &pem).ok_or_else(|| {
                Error::internal(format!(
                    "signing key {}: not a PKCS#8 PEM Ed25519 private key; restore it from backup or move it away to generate a new one",
                    legacy.display()
                ))
            })?;
            store.write(&StoredKey {
                key,
                create_time: now,
                activate_time: 0,
            })?;
            match std::fs::remove_file(&legacy) {
                Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                    return Err(store.io_error(&legacy, error));
                }
                _ => {}
            }
            tracing::info!(path = %legacy.display(), "imported the signing key into the key set");
        }
        Ok(store)
    }

    fn key_files(&self) -> Result<Vec<PathBuf>, Error> {
        let entries = std::fs::read_dir(&self.dir).map_err(|e| self.io_error(&self.dir, e))?;
        let mut files = Vec::new();
        for entry in entries {
            let path = entry.map_err(|e| self.io_error(&self.dir, e))?.path();
            if path.extension().is_some_and(|ext| ext == "json") {
                files.push(path);
            }
        }
        Ok(files)
    }

    fn read(&self, path: &Path) -> Result<StoredKey, Error> {
        let malformed = |what: &str| {
            Error::internal(format!(
                "signing key file {}: {what}; restore it from backup or remove it (tokens it signed stop working)",
                path.display()
            ))
        };
        let text = std::fs::read_to_string(path).map_err(|e| self.io_error(path, e))?;
        let file: KeyFile = serde_json::from_str(&text).map_err(|_| malformed("not valid JSON"))?;
        let algorithm = Algorithm::from_jose_name(&file.algorithm)
            .ok_or_else(|| malformed("unknown algorithm"))?;
        let key = SigningKey::from_pkcs8_pem(algorithm, &file.private_key_pem)
            .ok_or_else(|| malformed("not a PKCS#8 PEM private key of its algorithm"))?;
        if path.file_stem().is_none_or(|stem| stem != key.kid()) {
            return Err(malformed("the file name is not the key's thumbprint"));
        }
        Ok(StoredKey {
            key,
            create_time: file.create_time,
            activate_time: file.activate_time,
        })
    }

    fn write(&self, key: &StoredKey) -> Result<(), Error> {
        let file = KeyFile {
            algorithm: key.key.algorithm().jose_name().to_owned(),
            create_time: key.create_time,
            activate_time: key.activate_time,
            private_key_pem: key.key.private_pem().expose().to_owned(),
        };
        let text = serde_json::to_vec_pretty(&file)
            .map_err(|e| Error::internal(format!("encoding a key file: {e}")))?;
        let name = format!("{}.json", key.key.kid());
        crate::secret_file::create_once(&self.dir, &name, &text)
            .map_err(|e| self.io_error(&self.dir.join(&name), e))?;
        Ok(())
    }

    fn io_error(&self, path: &Path, error: std::io::Error) -> Error {
        Error::internal(format!("signing key store {}: {error}", path.display()))
    }
}

#[async_trait::async_trait]
impl KeyStore for FileKeyStore {
    async fn load(&self) -> Result<Vec<StoredKey>, Error> {
        self.key_files()?
            .iter()
            .map(|path| self.read(path))
            .collect()
    }

    async fn save(&self, key: &StoredKey) -> Result<(), Error> {
        self.write(key)
    }

    async fn remove(&self, kid: &str) -> Result<(), Error> {
        let path = self.dir.join(format!("{kid}.json"));
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(error) => Err(self.io_error(&path, error)),
        }
    }
}
