//! The database health probe: `SELECT 1` every `database.health_interval_ms` on a connection of
//! its own (so a saturated pool is not mistaken for an outage), bounded by
//! `database.health_timeout_ms`. While it fails, the services that use the database report
//! NOT_SERVING in `grpc.health.v1.Health`; when it answers again they report SERVING. One log
//! line when an outage starts and one when it ends, not one per probe.
//!
//! Only PostgreSQL is probed: the embedded SQLite file has no server to lose.

use std::sync::Arc;
use std::time::Duration;

use pake_core::config::DatabaseConfig;
use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use tokio::task::JoinHandle;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use crate::db::Database;
use crate::shutdown::Shutdown;

/// Options → Service: what to probe and whose health it drives.
pub struct DatabaseProbe {
    options: Arc<PgConnectOptions>,
    interval: Duration,
    timeout: Duration,
}

impl DatabaseProbe {
    /// A probe of `database`; `None` for SQLite.
    pub fn new(database: &Database, settings: &DatabaseConfig) -> Option<DatabaseProbe> {
        let Database::Postgres(pool) = database else {
            return None;
        };
        Some(DatabaseProbe {
            options: pool.connect_options(),
            interval: Duration::from_millis(settings.health_interval_ms),
            timeout: Duration::from_millis(settings.health_timeout_ms),
        })
    }

    /// Probes until `shutdown`, setting `services`' status in `health` on every change. Start it
    /// after the server has reported its services SERVING; it begins by assuming the database is
    /// up (it has just been opened).
    pub fn spawn(
        self,
        health: HealthReporter,
        services: Vec<&'static str>,
        shutdown: Shutdown,
    ) -> JoinHandle<()> {
        tokio::spawn(async move {
            let target = crate::db::describe_postgres(&self.options);
            let mut connection: Option<PgConnection> = None;
            let mut reachable = true;
            loop {
                tokio::select! {
                    () = tokio::time::sleep(self.interval) => {}
                    () = shutdown.cancelled() => break,
                }
                let result =
                    match tokio::time::timeout(self.timeout, check(&mut connection, &self.options))
                        .await
                    {
                        Ok(result) => result.map_err(|error| error.to_string()),
                        Err(_) => {
                            // The connection's state is unknown after an abandoned query.
                            connection = None;
                            Err(format!("no answer within {:?}", self.timeout))
                        }
                    };
                if result.is_ok() == reachable || shutdown.is_triggered() {
                    continue;
                }
                reachable = result.is_ok();
                let status = match result {
                    Ok(()) => {
                        tracing::info!(database = %target, ?services, "postgresql reachable again; services SERVING");
                        ServingStatus::Serving
                    }
                    Err(error) => {
                        tracing::warn!(database = %target, ?services, %error, "postgresql unreachable; services NOT_SERVING");
                        ServingStatus::NotServing
                    }
                };
                for service in &services {
                    health.set_service_status(*service, status).await;
                }
            }
            if let Some(connection) = connection {
                connection.close().await.ok();
            }
        })
    }
}

/// `SELECT 1` on the probe's connection, reconnecting once when it has been lost (a restarted
/// server or a dropped idle connection is not an outage if a new connection works).
async fn check(
    connection: &mut Option<PgConnection>,
    options: &PgConnectOptions,
) -> Result<(), sqlx::Error> {
    if let Some(open) = connection.as_mut() {
        if sqlx::query("SELECT 1").execute(&mut *open).await.is_ok() {
            return Ok(());
        }
        *connection = None;
    }
    let mut fresh = PgConnection::connect_with(options).await?;
    sqlx::query("SELECT 1").execute(&mut fresh).await?;
    *connection = Some(fresh);
    Ok(())
}
