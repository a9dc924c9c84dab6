//! The composition root: from a validated [`Config`] and a [`ServiceRole`], open the stores the
//! chosen services need, build the services and start the gRPC server.

use std::time::Duration;

use pake_core::config::{Config, ServiceRole};
use pake_runtime::db::Database;
use pake_runtime::{GrpcServer, ServerHandle, Shutdown};
use tokio::net::TcpListener;

/// A running PAKE process (or in-process test server).
#[derive(Debug)]
pub struct AppHandle {
    server: ServerHandle,
    database: Option<Database>,
    role: ServiceRole,
}

/// Starts the services of `role` on `listener`; they stop when `shutdown` is triggered.
pub async fn start(
    config: &Config,
    role: ServiceRole,
    listener: TcpListener,
    shutdown: Shutdown,
) -> anyhow::Result<AppHandle> {
    config.validate_for(role)?;
    let mut server = GrpcServer::new(
        shutdown,
        Duration::from_secs(config.shutdown.drain_timeout_secs),
    );

    let needs_database = role.runs(ServiceRole::Identity) || role.runs(ServiceRole::Knowledge);
    let database = if needs_database {
        Some(Database::open(config.database_url.as_ref(), &config.data_dir).await?)
    } else {
        None
    };

    if role.runs(ServiceRole::Identity)
        && let Some(database) = &database
    {
        database.migrate(pake_identity::migrations()).await?;
        let signing_key = pake_identity::SigningKey::load_or_generate(&config.data_dir)?;
        tracing::info!(kid = signing_key.kid(), "signing key loaded");
        server.add_service(pake_identity::IdentityService::new(signing_key).into_server());
    }
    if role.runs(ServiceRole::Knowledge)
        && let Some(database) = &database
    {
        database.migrate(pake_knowledge::migrations()).await?;
        server.add_service(pake_knowledge::KnowledgeService::new(database.clone()).into_server());
    }
    if role.runs(ServiceRole::Search) {
        server.add_service(pake_search::SearchService::new().into_server());
    }

    let server = server.start(listener).await?;
    Ok(AppHandle {
        server,
        database,
        role,
    })
}

impl AppHandle {
    /// The bound gRPC address.
    pub fn grpc_addr(&self) -> std::net::SocketAddr {
        self.server.local_addr()
    }

    /// `http://ip:port` for clients.
    pub fn grpc_url(&self) -> String {
        self.server.url()
    }

    /// What this process runs.
    pub fn role(&self) -> ServiceRole {
        self.role
    }

    /// Waits for the server to stop (after shutdown and drain), then closes the pools.
    pub async fn wait(self) -> anyhow::Result<()> {
        let result = self.server.wait().await;
        if let Some(database) = &self.database {
            database.close().await;
        }
        result?;
        Ok(())
    }
}
