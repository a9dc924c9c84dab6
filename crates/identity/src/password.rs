//! Password rules and hashing: Argon2id (PHC strings) on a bounded pool off the async runtime.
//!
//! Hashing is deliberately slow (~25 ms per hash in release at OWASP parameters), so it never runs
//! on the async runtime: at most `concurrency` hashes run at once on the dedicated, lower-priority
//! threads of a [`HashingPool`] and at most `queue` more wait. Beyond that, [`Hasher`] answers
//! RESOURCE_EXHAUSTED with a retry delay, so a login flood cannot slow other RPCs. Unknown-user sign-ins verify against a dummy hash with the
//! same parameters ([`Hasher::verify_dummy`]) so all failures cost the same.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use pake_core::Error;

use crate::hashing_pool::HashingPool;

/// Shortest password, in bytes.
pub const MIN_PASSWORD_BYTES: usize = 12;
/// Longest password, in bytes (checked before hashing).
pub const MAX_PASSWORD_BYTES: usize = 1024;
/// Minimum zxcvbn score (0..=4).
pub const MIN_STRENGTH_SCORE: u8 = 3;

/// Checks length (before anything expensive) and strength. `field` names the request field and
/// `context` holds user data (username, email) that must not make a password "strong".
pub fn check_new_password(password: &str, field: &str, context: &[&str]) -> Result<(), Error> {
    if password.len() < MIN_PASSWORD_BYTES {
        return Err(Error::invalid_field(
            field,
            format!("must be at least {MIN_PASSWORD_BYTES} bytes"),
        ));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(Error::invalid_field(
            field,
            format!("must be at most {MAX_PASSWORD_BYTES} bytes"),
        ));
    }
    // zxcvbn is superlinear in length; its own reference implementation looks at the first 100
    // characters, and so do we.
    let sample: String = password.chars().take(100).collect();
    let estimate = zxcvbn::zxcvbn(&sample, context);
    if (estimate.score() as u8) < MIN_STRENGTH_SCORE {
        let hint = estimate
            .feedback()
            .and_then(|feedback| feedback.warning().map(|w| w.to_string()))
            .unwrap_or_else(|| "add more words or characters".to_owned());
        return Err(
            Error::invalid_field(field, format!("is too easy to guess ({hint})"))
                .with_reason("WEAK_PASSWORD"),
        );
    }
    Ok(())
}

/// The hashing threads for `identity.hashing_concurrency = configured`: that many, or for 0,
/// half the CPUs (at least one), so that a login flood leaves the other half to every other
/// RPC (docs/performance.md has the measurements behind the choice).
pub fn hashing_threads(configured: usize) -> usize {
    match configured {
        0 => std::thread::available_parallelism().map_or(1, |cpus| (cpus.get() / 2).max(1)),
        threads => threads,
    }
}

/// Argon2id hashing on a bounded pool.
#[derive(Clone)]
pub struct Hasher {
    params: Params,
    pool: HashingPool,
    queue: usize,
    dummy_hash: Arc<String>,
    verifications: Arc<AtomicU64>,
}

impl std::fmt::Debug for Hasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hasher")
            .field("m_cost", &self.params.m_cost())
            .field("t_cost", &self.params.t_cost())
            .field("threads", &self.pool.threads())
            .field("queue", &self.queue)
            .finish_non_exhaustive()
    }
}

/// The result of checking a password against a stored hash.
#[derive(Debug, PartialEq, Eq)]
pub enum Verification {
    /// Wrong password.
    Mismatch,
    /// Right password, hash up to date.
    Match,
    /// Right password; the stored hash uses other parameters — store this one instead.
    MatchRehashed(String),
}

impl Hasher {
    /// A hasher with memory `m_kib`, `t` iterations, parallelism 1; `concurrency` 0 means half
    /// the CPUs ([`hashing_threads`]).
    pub fn new(m_kib: u32, t: u32, concurrency: usize, queue: usize) -> Result<Self, Error> {
        let params = Params::new(m_kib, t, 1, None).map_err(|e| Error::internal(e.to_string()))?;
        let concurrency = hashing_threads(concurrency);
        let argon = argon(&params);
        let salt = SaltString::generate(&mut OsRng);
        let dummy_hash = argon
            .hash_password(b"dummy password for unknown users", &salt)
            .map_err(|e| Error::internal(e.to_string()))?
            .to_string();
        let pool = HashingPool::start(concurrency, queue)
            .map_err(|e| Error::internal(format!("starting the password-hashing threads: {e}")))?;
        Ok(Hasher {
            params,
            pool,
            queue,
            dummy_hash: Arc::new(dummy_hash),
            verifications: Arc::new(AtomicU64::new(0)),
        })
    }

    /// Hashes a new password into a PHC string.
    pub async fn hash(&self, password: String) -> Result<String, Error> {
        let params = self.params.clone();
        self.run(move || {
            let salt = SaltString::generate(&mut OsRng);
            argon(&params)
                .hash_password(password.as_bytes(), &salt)
                .map(|hash| hash.to_string())
                .map_err(|e| Error::internal(e.to_string()))
        })
        .await
    }

    /// Verifies `password` against `stored` (a PHC string), rehashing when its parameters differ
    /// from the configured ones.
    pub async fn verify(&self, password: String, stored: String) -> Result<Verification, Error> {
        let params = self.params.clone();
        let counter = self.verifications.clone();
        self.run(move || {
            counter.fetch_add(1, Ordering::Relaxed);
            let parsed = PasswordHash::new(&stored).map_err(|e| Error::internal(e.to_string()))?;
            let stored_params = Params::try_from(&parsed).ok();
            let verifier = match &stored_params {
                Some(p) => argon(p),
                None => argon(&params),
            };
            if verifier
                .verify_password(password.as_bytes(), &parsed)
                .is_err()
            {
                return Ok(Verification::Mismatch);
            }
            let current = parsed.algorithm.as_str() == "argon2id"
                && stored_params.as_ref().is_some_and(|p| {
                    p.m_cost() == params.m_cost()
                        && p.t_cost() == params.t_cost()
                        && p.p_cost() == params.p_cost()
                });
            if current {
                return Ok(Verification::Match);
            }
            let salt = SaltString::generate(&mut OsRng);
            let rehashed = argon(&params)
                .hash_password(password.as_bytes(), &salt)
                .map_err(|e| Error::internal(e.to_string()))?;
            Ok(Verification::MatchRehashed(rehashed.to_string()))
        })
        .await
    }

    /// Spends exactly one verification at the configured parameters and always fails: the
    /// unknown-user path, so that it costs what a wrong password costs.
    pub async fn verify_dummy(&self, password: String) -> Result<(), Error> {
        let dummy = self.dummy_hash.as_ref().clone();
        self.verify(password, dummy).await.map(|_| ())
    }

    /// How many verifications ran (for tests of the enumeration defence).
    pub fn verification_count(&self) -> u64 {
        self.verifications.load(Ordering::Relaxed)
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, Error> + Send + 'static,
    ) -> Result<T, Error> {
        match self.pool.run(work).await {
            Ok(result) => result,
            Err(crate::hashing_pool::Full) => Err(Error::resource_exhausted(
                "too many sign-ins in progress; retry shortly",
                Duration::from_secs(1),
            )
            .with_reason("HASHING_QUEUE_FULL")),
        }
    }
}

fn argon(params: &Params) -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hasher(queue: usize) -> Hasher {
        Hasher::new(19456, 2, 1, queue).expect("hasher")
    }

    #[tokio::test]
    async fn hashes_are_argon2id_phc_strings_at_owasp_parameters() {
        let h = hasher(4);
        let phc = h.hash("correct horse battery".into()).await.expect("hash");
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert_eq!(
            h.verify("correct horse battery".into(), phc.clone())
                .await
                .expect("v"),
            Verification::Match
        );
        assert_eq!(
            h.verify("wrong".into(), phc).await.expect("v"),
            Verification::Mismatch
        );
    }

    #[tokio::test]
    async fn changed_parameters_rehash_on_a_successful_verify() {
        let old = Hasher::new(19456, 2, 1, 4).expect("old");
        let phc = old
            .hash("correct horse battery".into())
            .await
            .expect("hash");
        let new = Hasher::new(19456, 3, 1, 4).expect("new");
        match new
            .verify("correct horse battery".into(), phc)
            .await
            .expect("v")
        {
            Verification::MatchRehashed(rehashed) => {
                assert!(rehashed.contains("t=3"), "{rehashed}")
            }
            other => panic!("expected a rehash, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn the_dummy_path_costs_exactly_one_verification() {
        let h = hasher(4);
        let before = h.verification_count();
        h.verify_dummy("whatever".into()).await.expect("dummy");
        assert_eq!(h.verification_count(), before + 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_queue_is_resource_exhausted_with_retry_info() {
        let h = Hasher::new(19456, 2, 1, 1).expect("hasher");
        let calls: Vec<_> = (0..6)
            .map(|_| {
                let h = h.clone();
                tokio::spawn(async move { h.hash("correct horse battery".into()).await })
            })
            .collect();
        let mut exhausted = 0;
        for call in calls {
            if let Err(error) = call.await.expect("join") {
                assert_eq!(error.kind(), pake_core::ErrorKind::ResourceExhausted);
                exhausted += 1;
            }
        }
        assert!(exhausted >= 1, "1 running + 1 queued; the rest are refused");
    }

    #[test]
    fn password_rules_name_the_field() {
        let short = check_new_password("short", "password", &[]).expect_err("short");
        assert!(
            short
                .to_string()
                .starts_with("password: must be at least 12 bytes"),
            "{short}"
        );
        let long = check_new_password(&"x".repeat(1025), "new_password", &[]).expect_err("long");
        assert!(
            long.to_string()
                .starts_with("new_password: must be at most 1024 bytes")
        );
        let weak = check_new_password("password1234", "password", &[]).expect_err("weak");
        assert!(weak.to_string().contains("too easy to guess"), "{weak}");
        let personal = check_new_password("aliceliddell1", "password", &["aliceliddell"])
            .expect_err("personal");
        assert_eq!(personal.reason(), "WEAK_PASSWORD");
        check_new_password("correct horse battery staple 42!", "password", &["alice"])
            .expect("strong");
    }
}
