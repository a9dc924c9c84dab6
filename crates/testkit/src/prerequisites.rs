//! External prerequisites of tests: where they are, and what happens when they are missing.

use std::path::PathBuf;

/// PostgreSQL URL for store tests, e.g. `postgres://postgres@127.0.0.1:5432/postgres`. Each test
/// creates (and drops) its own database on that server.
pub const DATABASE_URL_ENV: &str = "PAKE_TEST_DATABASE_URL";
/// Redis URL for cache, throttling and revocation tests, e.g. `redis://127.0.0.1:6379`.
pub const REDIS_URL_ENV: &str = "PAKE_TEST_REDIS_URL";

/// Whether the tests run in CI (`CI=true`), where a missing prerequisite is a failure.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|value| value == "true" || value == "1")
}

/// Returns `value` if present. Otherwise: in CI, panics with `reason`; locally, prints
/// "skipping: …" and returns `None` so the test can return early.
pub fn require<T>(value: Option<T>, reason: &str) -> Option<T> {
    if value.is_some() {
        return value;
    }
    assert!(!in_ci(), "required in CI: {reason}");
    eprintln!("skipping: {reason}");
    None
}

/// Finds a program: the path in `env_var` if set, else `name` on `PATH`.
pub fn find_program(name: &str, env_var: &str) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(env_var) {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}
