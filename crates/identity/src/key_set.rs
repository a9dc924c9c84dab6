//! The signing-key set and its rotation (SPEC §3 "Keys").
//!
//! Every key carries two times: when it was created (and published in the JWKS) and when it
//! starts signing. Everything else follows from those times and the clock, so replicas that read
//! the same key store agree without coordinating:
//! - the *active* key is the one with the latest activation time not in the future;
//! - keys activating in the future are *pending* (published, not signing);
//! - older keys are *retiring* from the moment their successor activated, and are removed from
//!   the key store once every token they signed has expired (successor's activation + the longest
//!   access-token lifetime + the verification leeway).
//!
//! A rotation creates a key that activates after the publication delay, which is at least every
//! consumer's JWKS refresh interval, so no verifier meets a token signed by a key it has not
//! fetched. An emergency rotation activates the new key at once and removes every other key.
//! Where keys live is a [`KeyStore`]: a directory in the data dir when embedded
//! ([`crate::key_store::FileKeyStore`]), Vault in production.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use pake_core::Error;

use crate::signing_key::{Algorithm, SigningKey};

/// A key as kept in the key store: the private key and its two times (µs since the epoch).
#[derive(Clone, Debug)]
pub struct StoredKey {
    /// The key.
    pub key: SigningKey,
    /// When it was generated and published.
    pub create_time: i64,
    /// When it starts (or started) signing.
    pub activate_time: i64,
}

/// Where signing keys are kept. Implementations never log key material.
#[async_trait::async_trait]
pub trait KeyStore: Send + Sync + std::fmt::Debug + 'static {
    /// Every stored key.
    async fn load(&self) -> Result<Vec<StoredKey>, Error>;
    /// Stores a new key.
    async fn save(&self, key: &StoredKey) -> Result<(), Error>;
    /// Removes (destroys) a key; removing an absent key is not an error.
    async fn remove(&self, kid: &str) -> Result<(), Error>;
}

/// The rotation state of a key at some instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Published, not signing yet.
    Pending,
    /// Signing every new token.
    Active,
    /// Published, no longer signing, kept until its tokens have expired.
    Retiring,
}

/// The public view of a key at some instant (what ListSigningKeys shows).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyView {
    /// Key id.
    pub kid: String,
    /// Algorithm.
    pub algorithm: Algorithm,
    /// State now.
    pub state: State,
    /// Creation (publication) time, µs.
    pub create_time: i64,
    /// Activation time, µs.
    pub activate_time: i64,
    /// When it stopped signing (retiring keys only), µs.
    pub retire_time: Option<i64>,
    /// When it will be removed (retiring keys only), µs.
    pub expire_time: Option<i64>,
}

/// Settings of the key set.
#[derive(Clone, Debug)]
pub struct Policy {
    /// Algorithm of new keys when a rotation does not name one.
    pub default_algorithm: Algorithm,
    /// Algorithms a rotation may use.
    pub enabled: Vec<Algorithm>,
    /// Publication before signing.
    pub publication_delay: Duration,
    /// Longest access-token lifetime plus the verification leeway: how long a retiring key stays.
    pub token_lifetime: Duration,
}

/// Why a rotation was refused.
#[derive(Debug, thiserror::Error)]
pub enum RotateError {
    /// The algorithm is not enabled.
    #[error("algorithm {0} is not enabled in identity.signing_algorithms")]
    AlgorithmDisabled(&'static str),
    /// A key is already pending.
    #[error("a key is already pending; wait until it activates or rotate with emergency")]
    InProgress,
    /// Storing or generating failed.
    #[error(transparent)]
    Store(#[from] Error),
}

struct Entry {
    stored: StoredKey,
    encoding: Arc<jsonwebtoken::EncodingKey>,
}

/// The key that signs now.
#[derive(Clone)]
pub struct ActiveKey {
    /// Its id.
    pub kid: String,
    /// Its algorithm.
    pub algorithm: Algorithm,
    /// The encoding key.
    pub encoding: Arc<jsonwebtoken::EncodingKey>,
}

/// The published keys, kept in step with a [`KeyStore`].
pub struct KeySet {
    store: Arc<dyn KeyStore>,
    policy: Policy,
    /// Sorted by (activation time, kid).
    keys: RwLock<Vec<Entry>>,
    rotating: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeySet")
            .field("store", &self.store)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl KeySet {
    /// Opens the key set of `store`, generating a first, immediately active key when it is empty
    /// (nothing can hold a token of this deployment yet).
    pub async fn open(
        store: Arc<dyn KeyStore>,
        policy: Policy,
        now: i64,
    ) -> Result<Arc<KeySet>, Error> {
        let set = Arc::new(KeySet {
            store,
            policy,
            keys: RwLock::new(Vec::new()),
            rotating: tokio::sync::Mutex::new(()),
        });
        set.reload().await?;
        if set.read().is_empty() {
            let key = generate(set.policy.default_algorithm)?;
            set.store
                .save(&StoredKey {
                    key,
                    create_time: now,
                    activate_time: now,
                })
                .await?;
            set.reload().await?;
            tracing::info!(kid = %set.views(now)[0].kid, "generated the first signing key");
        }
        Ok(set)
    }

    /// Rereads the key store (picks up rotations made by other replicas).
    pub async fn reload(&self) -> Result<(), Error> {
        let mut entries = Vec::new();
        for stored in self.store.load().await? {
            let encoding = stored
                .key
                .encoding_key()
                .map_err(|e| Error::internal(format!("signing key {}: {e}", stored.key.kid())))?;
            entries.push(Entry {
                stored,
                encoding: Arc::new(encoding),
            });
        }
        entries.sort_by(|a, b| {
            (a.stored.activate_time, a.stored.key.kid())
                .cmp(&(b.stored.activate_time, b.stored.key.kid()))
        });
        *self.keys.write().unwrap_or_else(|p| p.into_inner()) = entries;
        Ok(())
    }

    /// Removes expired keys from the store, then reloads. Returns the removed key ids.
    pub async fn remove_expired(&self, now: i64) -> Result<Vec<String>, Error> {
        self.reload().await?;
        let expired: Vec<String> = {
            let keys = self.read();
            let lifetime = micros(self.policy.token_lifetime);
            keys.windows(2)
                .filter(|pair| pair[1].stored.activate_time.saturating_add(lifetime) <= now)
                .map(|pair| pair[0].stored.key.kid().to_owned())
                .collect()
        };
        for kid in &expired {
            self.store.remove(kid).await?;
            tracing::info!(kid = %kid, "removed an expired signing key");
        }
        if !expired.is_empty() {
            self.reload().await?;
        }
        Ok(expired)
    }

    /// The key that signs at `now`.
    pub fn active(&self, now: i64) -> Result<ActiveKey, Error> {
        let keys = self.read();
        keys.iter()
            .rev()
            .find(|entry| entry.stored.activate_time <= now)
            // Only a clock set back behind every activation gets here: sign with the oldest.
            .or_else(|| keys.first())
            .map(|entry| ActiveKey {
                kid: entry.stored.key.kid().to_owned(),
                algorithm: entry.stored.key.algorithm(),
                encoding: entry.encoding.clone(),
            })
            .ok_or_else(|| Error::internal("the signing-key set is empty"))
    }

    /// Every published key at `now`, newest first, with its state and times.
    pub fn views(&self, now: i64) -> Vec<KeyView> {
        let keys = self.read();
        let lifetime = micros(self.policy.token_lifetime);
        let active = keys
            .iter()
            .rposition(|entry| entry.stored.activate_time <= now)
            .unwrap_or(0);
        let mut views: Vec<KeyView> = keys
            .iter()
            .enumerate()
            .filter_map(|(index, entry)| {
                let (state, retire_time) = match index.cmp(&active) {
                    std::cmp::Ordering::Less => {
                        (State::Retiring, Some(keys[index + 1].stored.activate_time))
                    }
                    std::cmp::Ordering::Equal => (State::Active, None),
                    std::cmp::Ordering::Greater => (State::Pending, None),
                };
                let expire_time = retire_time.map(|at| at.saturating_add(lifetime));
                if expire_time.is_some_and(|at| at <= now) {
                    return None;
                }
                Some(KeyView {
                    kid: entry.stored.key.kid().to_owned(),
                    algorithm: entry.stored.key.algorithm(),
                    state,
                    create_time: entry.stored.create_time,
                    activate_time: entry.stored.activate_time,
                    retire_time,
                    expire_time,
                })
            })
            .collect();
        views.sort_by(|a, b| (b.create_time, &b.kid).cmp(&(a.create_time, &a.kid)));
        views
    }

    /// The public keys to publish at `now` (every key [`KeySet::views`] lists).
    pub fn published(&self, now: i64) -> Vec<SigningKey> {
        let listed: Vec<String> = self.views(now).into_iter().map(|view| view.kid).collect();
        self.read()
            .iter()
            .filter(|entry| listed.contains(&entry.stored.key.kid().to_owned()))
            .map(|entry| entry.stored.key.clone())
            .collect()
    }

    /// Starts a rotation at `now`: a new key of `algorithm` (or the default), published at once,
    /// signing after the publication delay — or at once, with every other key removed, when
    /// `emergency`. Returns the new key's view.
    pub async fn rotate(
        &self,
        algorithm: Option<Algorithm>,
        emergency: bool,
        now: i64,
    ) -> Result<KeyView, RotateError> {
        let algorithm = algorithm.unwrap_or(self.policy.default_algorithm);
        if !self.policy.enabled.contains(&algorithm) {
            return Err(RotateError::AlgorithmDisabled(algorithm.jose_name()));
        }
        let _one_at_a_time = self.rotating.lock().await;
        self.reload().await?;
        let pending = self
            .views(now)
            .iter()
            .any(|view| view.state == State::Pending);
        if pending && !emergency {
            return Err(RotateError::InProgress);
        }
        let key = generate(algorithm)?;
        let kid = key.kid().to_owned();
        let activate_time = if emergency {
            now
        } else {
            now.saturating_add(micros(self.policy.publication_delay))
        };
        let others: Vec<String> = self
            .read()
            .iter()
            .map(|entry| entry.stored.key.kid().to_owned())
            .collect();
        self.store
            .save(&StoredKey {
                key,
                create_time: now,
                activate_time,
            })
            .await?;
        if emergency {
            for other in &others {
                self.store.remove(other).await?;
            }
        }
        self.reload().await?;
        self.views(now)
            .into_iter()
            .find(|view| view.kid == kid)
            .ok_or_else(|| RotateError::Store(Error::internal("a new signing key vanished")))
    }

    /// Keeps the set current until `shutdown`: rereads the store and removes expired keys
    /// every `interval`.
    pub fn spawn_maintenance(
        self: Arc<Self>,
        interval: Duration,
        shutdown: pake_runtime::Shutdown,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(interval) => {}
                }
                if let Err(error) = self.remove_expired(pake_runtime::db::now_micros()).await {
                    tracing::warn!(error = %error, "maintaining the signing-key set failed");
                }
            }
        })
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Vec<Entry>> {
        self.keys.read().unwrap_or_else(|p| p.into_inner())
    }
}

fn generate(algorithm: Algorithm) -> Result<SigningKey, Error> {
    SigningKey::generate(algorithm)
        .map_err(|e| Error::internal(format!("generating a signing key: {e}")))
}

fn micros(duration: Duration) -> i64 {
    i64::try_from(duration.as_micros()).unwrap_or(i64::MAX)
}

#[cfg(test)]
#[path = "key_set_tests.rs"]
mod tests;
