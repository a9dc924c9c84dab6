//! `pake-testkit`: what every PAKE test suite shares, defined once.
//!
//! - [`spawn_app`]: the real all-in-one server on port 0 over a fresh SQLite data dir, with a
//!   handle to stop it — tests talk to it only over gRPC, as a user would.
//! - [`sqlite_database`] / [`postgres_database`] and [`store_conformance_suite!`]: one test
//!   suite per store trait, run against both backends, each test on a fresh database.
//! - The names of the environment variables that point tests at external services, and
//!   [`require`], which skips with a printed reason locally and fails in CI (`CI=true`).
//! - [`redis`]: the shared Redis under a unique key prefix per test, and a private
//!   `redis-server` for outage tests.
//! - [`postgres_server`]: a private PostgreSQL (`initdb` + `pg_ctl`) for outage tests.
//! - [`process`]: the `pake` binary as a child process, its banner read (the CLI's tests).
//! - [`query_record`]: records the SQL the store suites run (`PAKE_RECORD_QUERIES`), the
//!   release snapshots under `compat/` that the expand/contract test checks.

mod app;
mod database;
pub mod feed;
pub mod leak;
pub mod postgres_server;
mod prerequisites;
pub mod process;
pub mod query_record;
pub mod raw_grpc;
pub mod redis;
mod users;

pub use app::{TestApp, spawn_app, spawn_app_with};
pub use database::{TestDatabase, postgres_database, sqlite_database};
pub use prerequisites::{DATABASE_URL_ENV, REDIS_URL_ENV, find_program, in_ci, require};
pub use users::{
    SignedIn, TEST_PASSWORD, authorized, create_api_key, create_service_account, sign_in_admin,
    sign_up_and_in,
};
