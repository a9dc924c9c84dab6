//! Opening PostgreSQL: start-up waits for the server with a bounded, exponentially backed-off
//! retry (`database.connect_timeout_secs`), logging each attempt with the server's
//! `host:port/database` (never the URL: it may hold a password); the pool it then opens makes
//! calls fail fast while the server is away (`database.acquire_timeout_ms`, after which the
//! stores answer UNAVAILABLE). sqlx reconnects by itself when the server returns.

use std::str::FromStr;
use std::time::{Duration, Instant};

use pake_core::config::{DatabaseConfig, SecretString};
use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};

use super::Error;

/// First pause between attempts; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
/// Longest pause between attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// Bounds of one connection attempt (a silent host would otherwise hang until the TCP timeout).
const MIN_ATTEMPT: Duration = Duration::from_secs(2);
const MAX_ATTEMPT: Duration = Duration::from_secs(10);

/// Waits until PostgreSQL at `url` accepts a connection (within `settings.connect_timeout_secs`),
/// then opens the pool.
pub(super) async fn open_postgres(
    url: &SecretString,
    settings: &DatabaseConfig,
) -> Result<PgPool, Error> {
    let options = PgConnectOptions::from_str(url.expose()).map_err(|source| Error::Connect {
        backend: "postgres",
        source,
    })?;
    wait_until_reachable(&options, Duration::from_secs(settings.connect_timeout_secs)).await?;
    PgPoolOptions::new()
        .max_connections(settings.max_connections)
        .acquire_timeout(Duration::from_millis(settings.acquire_timeout_ms))
        .connect_with(options)
        .await
        .map_err(|source| Error::Connect {
            backend: "postgres",
            source,
        })
}

/// `host:port/database` (or the socket path) of `options`, for logs and errors.
pub fn describe(options: &PgConnectOptions) -> String {
    let database = options
        .get_database()
        .unwrap_or_else(|| options.get_username());
    match options.get_socket() {
        Some(socket) => format!("{}/{database}", socket.display()),
        None => format!("{}:{}/{database}", options.get_host(), options.get_port()),
    }
}

async fn wait_until_reachable(options: &PgConnectOptions, bound: Duration) -> Result<(), Error> {
    let target = describe(options);
    let started = Instant::now();
    let deadline = started + bound;
    let mut backoff = FIRST_BACKOFF;
    let mut attempt: u32 = 0;
    loop {
        attempt += 1;
        let attempt_timeout = deadline
            .saturating_duration_since(Instant::now())
            .clamp(MIN_ATTEMPT, MAX_ATTEMPT);
        let result = match tokio::time::timeout(
            attempt_timeout,
            PgConnection::connect_with(options),
        )
        .await
        {
            Ok(result) => result,
            Err(_) => Err(sqlx::Error::Io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("no answer within {attempt_timeout:?}"),
            ))),
        };
        let error = match result {
            Ok(connection) => {
                connection.close().await.ok();
                tracing::info!(database = %target, attempt, "postgresql is reachable");
                return Ok(());
            }
            Err(error) => error,
        };
        if !is_transient(&error) {
            return Err(Error::Refused {
                target,
                source: error,
            });
        }
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(Error::Unreachable {
                target,
                attempts: attempt,
                waited_secs: started.elapsed().as_secs(),
                source: error,
            });
        }
        let pause = backoff.min(remaining);
        tracing::warn!(
            database = %target,
            attempt,
            retry_in_ms = u64::try_from(pause.as_millis()).unwrap_or(u64::MAX),
            gives_up_in_secs = remaining.as_secs(),
            %error,
            "postgresql is not reachable yet; retrying"
        );
        tokio::time::sleep(pause).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Whether waiting may help: the server is unreachable, starting, shutting down or full —
/// not a wrong password, a missing database or a TLS misconfiguration.
pub(crate) fn is_transient(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut => true,
        sqlx::Error::Database(error) => error.code().is_some_and(|code| {
            // 08: connection exception; 57: operator intervention (57P03 cannot_connect_now
            // while starting, 57P01 admin_shutdown); 53: insufficient resources.
            code.starts_with("08") || code.starts_with("57") || code.starts_with("53")
        }),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_target_names_host_port_and_database_but_not_the_password() {
        let options =
            PgConnectOptions::from_str("postgres://pake:hunter2@db.internal:6543/knowledge")
                .expect("url");
        assert_eq!(describe(&options), "db.internal:6543/knowledge");
    }

    #[tokio::test]
    async fn a_closed_port_is_retried_until_the_bound_and_the_error_names_database_url() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let url = SecretString::new(format!("postgres://pake:hunter2@127.0.0.1:{port}/pake"));
        let settings = DatabaseConfig {
            connect_timeout_secs: 1,
            ..DatabaseConfig::default()
        };
        let started = Instant::now();
        let error = open_postgres(&url, &settings)
            .await
            .expect_err("nothing listens there")
            .to_string();
        assert!(started.elapsed() >= Duration::from_secs(1), "it waited");
        assert!(started.elapsed() < Duration::from_secs(5), "and gave up");
        assert!(error.contains("database_url"), "{error}");
        assert!(error.contains(&format!("127.0.0.1:{port}/pake")), "{error}");
        assert!(!error.contains("hunter2"), "{error}");
    }
}
