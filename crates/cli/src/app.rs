//! The composition root: from a validated [`Config`] and a [`ServiceRole`], open the stores the
//! chosen services need, build the services and start the gRPC server. The only place that
//! chooses implementations.
//!
//! Services reach each other over gRPC in every mode — in the all-in-one, at this process's own
//! address — so the code paths are the same as in the mesh.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use pake_core::client_address::TrustedProxies;
use pake_core::config::SecretString;
use pake_core::config::{Config, ServiceRole};
use pake_core::revocation::{InProcessRevokedSessions, RevokedSessions};
use pake_core::token::{ServiceTokenSource, Verifier};
use pake_runtime::auth::{ExchangedServiceTokens, GrpcJwksSource};
use pake_runtime::db::Database;
use pake_runtime::{GrpcServer, ServerHandle, Shutdown};
use tokio::net::TcpListener;

#[path = "app_edge.rs"]
mod edge;
#[path = "app_identity.rs"]
mod identity;
#[path = "app_search.rs"]
mod search;
#[path = "app_secrets.rs"]
pub mod secrets;
#[path = "app_tls.rs"]
mod tls;

use edge::start_metrics_listener;
pub use edge::{edge_options, start_edge};
pub use identity::identity_service;
use search::{follow_search_health, open_search_index};
use tls::{dialable, tls_setup};

/// Directory of the search index inside the data dir.
pub const SEARCH_INDEX_DIR: &str = "search-index";

/// A running PAKE process (or in-process test server).
#[derive(Debug)]
pub struct AppHandle {
    server: ServerHandle,
    database: Option<Database>,
    background: Vec<tokio::task::JoinHandle<()>>,
    role: ServiceRole,
    metrics: Option<pake_runtime::metrics::listener::MetricsHandle>,
    redis: Option<pake_runtime::redis::Redis>,
}

/// Starts the services of `role` on `listener`; they stop when `shutdown` is triggered.
pub async fn start(
    config: &Config,
    role: ServiceRole,
    listener: TcpListener,
    shutdown: Shutdown,
) -> anyhow::Result<AppHandle> {
    config.validate_for(role)?;
    // Vault's database_url and redis_url, when `vault.address` is set.
    let (resolved, vault) = secrets::resolve(config).await?;
    let config = &resolved;
    let own_url = format!(
        "{}://{}",
        tls_setup(config, role)?,
        dialable(listener.local_addr()?)
    );
    let upstream = |runs_here: bool, configured: &Option<String>| -> String {
        if runs_here {
            own_url.clone()
        } else {
            configured.clone().unwrap_or_default()
        }
    };
    let identity_url = upstream(role.runs(ServiceRole::Identity), &config.upstream.identity);
    let knowledge_url = upstream(
        role.runs(ServiceRole::Knowledge),
        &config.upstream.knowledge,
    );

    // Redis, when configured, holds what replicas share (search cache, sign-in throttling,
    // revoked sessions); each use falls back to in-process state while it is unreachable.
    let redis = match &config.redis_url {
        Some(url) => {
            let redis = pake_runtime::redis::Redis::connect(url, &config.redis)?;
            redis.wait_connected(Duration::from_secs(1)).await;
            Some(redis)
        }
        None => None,
    };
    // Shared by identity (which adds to it) and the verifier (which consults it). Without
    // Redis a process only sees its own revocations.
    let revoked: Arc<dyn RevokedSessions> = match &redis {
        Some(redis) => Arc::new(pake_runtime::redis_revocation::RedisRevokedSessions::new(
            redis.clone(),
        )),
        None => Arc::new(InProcessRevokedSessions::default()),
    };
    let verifier = Arc::new(
        Verifier::new(
            Arc::new(GrpcJwksSource::new(&identity_url).context("upstream.identity")?),
            config.auth.issuer.clone(),
            config.auth.audience.clone(),
            Duration::from_secs(config.auth.jwks_refresh_secs),
        )
        .with_revocation(revoked.clone()),
    );
    let mut server = GrpcServer::new(
        shutdown.clone(),
        Duration::from_secs(config.shutdown.drain_timeout_secs),
        verifier,
    );
    server.set_rate_limits(&config.rate_limit);
    server.set_trusted_proxies(
        TrustedProxies::parse(&config.trusted_proxies)
            .map_err(|(index, message)| anyhow::anyhow!("trusted_proxies[{index}]: {message}"))?,
    );
    if let Some(files) = pake_runtime::tls::ServerTlsFiles::from_config(&config.tls) {
        let reload = Duration::from_secs(config.tls.reload_interval_secs);
        server.set_tls(pake_runtime::tls::ServerTls::load(files, reload).context("tls")?);
    }

    let needs_database = role.runs(ServiceRole::Identity) || role.runs(ServiceRole::Knowledge);
    let database = if needs_database {
        Some(
            Database::open_with(
                config.database_url.as_ref(),
                &config.data_dir,
                &config.database,
            )
            .await?,
        )
    } else {
        None
    };

    let mut background = Vec::new();
    let mut service_tokens: Option<Arc<dyn ServiceTokenSource>> = None;
    if role.runs(ServiceRole::Identity)
        && let Some(database) = &database
    {
        let (service, signer) =
            identity_service(config, vault.as_ref(), database, revoked.clone()).await?;
        let service = match &redis {
            Some(redis) => service.with_throttle(Arc::new(
                pake_identity::throttle_redis::RedisThrottle::new(redis.clone()),
            )),
            None => service,
        };
        // Picks up rotations made by other replicas and destroys expired keys.
        background.push(
            signer
                .key_set()
                .clone()
                .spawn_maintenance(secrets::key_refresh_interval(config), shutdown.clone()),
        );
        // Deleted users' items are disposed of by the knowledge service, called as
        // `services/identity` (in the mesh: `upstream.knowledge`; unset, they wait).
        let disposer = service
            .item_disposer(
                (!knowledge_url.is_empty()).then_some(knowledge_url.as_str()),
                pake_identity::service_tokens::InProcessServiceTokens::new(
                    signer.clone(),
                    "identity",
                ),
            )
            .context("upstream.knowledge")?;
        background.push(disposer.spawn(shutdown.clone()));
        service_tokens = Some(pake_identity::service_tokens::InProcessServiceTokens::new(
            signer, "search",
        ));
        server.add_service(service.into_server());
    }
    if role.runs(ServiceRole::Knowledge)
        && let Some(database) = &database
    {
        database.migrate(pake_knowledge::migrations()).await?;
        let store = Arc::new(pake_knowledge::store::SqlItemStore::new(database.clone()));
        let knowledge = pake_knowledge::KnowledgeService::new(store, shutdown.clone())
            .with_retention(&config.knowledge);
        // Purges items past their retention and prunes old feed history.
        background.push(knowledge.clone().spawn_maintenance(
            Duration::from_secs(config.knowledge.maintenance_interval_secs),
            shutdown.clone(),
        ));
        server.add_service(knowledge.into_server());
    }
    if role.runs(ServiceRole::Search) {
        let index = open_search_index(&config.data_dir.join(SEARCH_INDEX_DIR)).await?;
        let (applied_tx, applied_rx) =
            tokio::sync::watch::channel(index.applied_cursor().unwrap_or_default());
        // In-process tokens when identity runs here; otherwise the service account's API key
        // (required by `validate_for`) is exchanged with identity.
        let tokens: Arc<dyn ServiceTokenSource> = match service_tokens.clone() {
            Some(tokens) => tokens,
            None => Arc::new(
                ExchangedServiceTokens::new(
                    &identity_url,
                    config
                        .search
                        .service_api_key
                        .clone()
                        .unwrap_or_else(|| SecretString::new("")),
                )
                .context("upstream.identity")?,
            ),
        };
        let checkpoint = index
            .applied_cursor()
            .is_some_and(|cursor| !cursor.is_empty());
        let progress = pake_search::progress::Progress::starting_with(checkpoint);
        background.push(follow_search_health(
            server.health(),
            progress.serving(),
            shutdown.clone(),
        ));
        let consumer = pake_search::consumer::FeedConsumer::new(
            index.clone(),
            &knowledge_url,
            tokens,
            applied_tx,
            progress.clone(),
            shutdown.clone(),
        )
        .context("upstream.knowledge")?;
        background.push(consumer.spawn());
        let cache: Arc<dyn pake_search::cache::QueryCache> = match &redis {
            Some(redis) => Arc::new(pake_search::cache_redis::RedisQueryCache::new(
                redis.clone(),
                Duration::from_secs(config.redis.cache_ttl_secs),
                config.redis.cache_max_entry_bytes,
            )),
            None => Arc::new(pake_search::cache::InProcessQueryCache::new(
                config.search.cache_entries,
            )),
        };
        server.add_service(
            pake_search::SearchService::new(index, applied_rx, progress)
                .with_cache(cache)
                .into_server(),
        );
    }

    // Before the server: a configured metrics address in use fails the start-up cleanly.
    let metrics = start_metrics_listener(config, role, shutdown.clone()).await?;
    let health = server.health();
    let server = server.start(listener).await?;
    // After `start` has reported every service SERVING: PostgreSQL outages turn the services
    // that use it NOT_SERVING until it answers again.
    if let Some(probe) = database.as_ref().and_then(|database| {
        pake_runtime::db_health::DatabaseProbe::new(database, &config.database)
    }) {
        let services = [
            (ServiceRole::Identity, pake_api::service_names::IDENTITY),
            (ServiceRole::Knowledge, pake_api::service_names::KNOWLEDGE),
        ]
        .into_iter()
        .filter(|(service, _)| role.runs(*service))
        .map(|(_, name)| name)
        .collect();
        background.push(probe.spawn(health, services, shutdown));
    }
    Ok(AppHandle {
        server,
        database,
        background,
        role,
        metrics,
        redis,
    })
}

impl AppHandle {
    /// The bound gRPC address.
    pub fn grpc_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// The gRPC services' call path in-process (what the all-in-one's edge uses).
    pub fn local_service(&self) -> pake_runtime::server::LocalService {
        self.server.local_service()
    }

    /// `http://ip:port` for clients.
    pub fn grpc_url(&self) -> String {
        self.server.url()
    }

    /// What this process runs.
    pub fn role(&self) -> ServiceRole {
        self.role
    }

    /// The address of the metrics listener, when this process serves one.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics
            .as_ref()
            .map(pake_runtime::metrics::listener::MetricsHandle::local_addr)
    }

    /// Waits for the server to stop (after shutdown and drain), then for background tasks, then
    /// flushes the trace export, then closes the pools (SPEC §7).
    pub async fn wait(self) -> anyhow::Result<()> {
        let result = self.server.wait().await;
        if let Some(metrics) = self.metrics {
            metrics.wait().await;
        }
        for task in self.background {
            let _ = task.await;
        }
        pake_core::telemetry::flush().await;
        if let Some(database) = &self.database {
            database.close().await;
        }
        if let Some(redis) = &self.redis {
            redis.quit().await;
        }
        result?;
        Ok(())
    }
}
