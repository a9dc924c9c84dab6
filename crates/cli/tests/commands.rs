//! `pake migrate`, `pake backup FILE` and `pake token` as an operator or a script runs them:
//! the real binary, against real servers (`pake serve` on port 0, or the in-process server of
//! the testkit), SQLite and — when `PAKE_TEST_DATABASE_URL` is set — PostgreSQL; with their
//! database URL in a real OpenBao (`commands/vault.rs`).

#[path = "commands/backup.rs"]
mod backup;
#[path = "commands/migrate.rs"]
mod migrate;
#[path = "commands/support.rs"]
mod support;
#[path = "commands/token.rs"]
mod token;
#[path = "commands/vault.rs"]
mod vault;
