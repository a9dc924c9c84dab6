//! The composition root: from a validated [`Config`] and a [`ServiceRole`], open the stores the
//! chosen services need, build the services and start the gRPC server. The only place that
//! chooses implementations.
//!
//! Services reach each other over gRPC in every mode — in the all-in-one, at this process's own
//! address — so the code paths are the same as in the mesh.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
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

#[path = "app_secrets.rs"]
pub mod secrets;

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
        let progress = pake_search::progress::Progress::default();
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

/// Serves `/metrics` on `metrics_listen` when the JSON edge (whose `/metrics` has the same
/// metrics) does not run in this process: single services, or the all-in-one without the edge.
/// The default address in use is not fatal (several processes on one machine); a configured one
/// is.
async fn start_metrics_listener(
    config: &Config,
    role: ServiceRole,
    shutdown: Shutdown,
) -> anyhow::Result<Option<pake_runtime::metrics::listener::MetricsHandle>> {
    if role == ServiceRole::All && config.edge.enabled {
        return Ok(None);
    }
    let addr: SocketAddr = config
        .metrics_listen
        .parse()
        .context("metrics_listen: expected ip:port")?;
    let listener = match TcpListener::bind(addr).await {
        Ok(listener) => listener,
        Err(error) if config.metrics_listen == pake_core::config::DEFAULT_METRICS_LISTEN => {
            tracing::warn!(%addr, %error, "metrics listener not started (set metrics_listen)");
            return Ok(None);
        }
        Err(error) => return Err(error).with_context(|| format!("metrics_listen {addr}")),
    };
    let handle = pake_runtime::metrics::listener::MetricsServer::start(listener, shutdown)?;
    Ok(Some(handle))
}

/// The JSON edge's options from configuration. `default_upstream` (the all-in-one's own gRPC
/// URL) replaces `edge.upstream`; `edge.upstreams` still names single services.
pub fn edge_options(config: &Config, default_upstream: Option<String>) -> pake_edge::EdgeOptions {
    let edge = &config.edge;
    pake_edge::EdgeOptions {
        descriptor_set: edge.descriptor_set.clone(),
        default_upstream: default_upstream.or_else(|| edge.upstream.clone()),
        upstreams: edge.upstreams.clone(),
        limits: pake_edge::Limits {
            max_body_bytes: edge.max_body_bytes,
            max_stream_body_bytes: edge.max_stream_body_bytes,
        },
        drain_timeout: Duration::from_secs(config.shutdown.drain_timeout_secs),
        upstream_connections: edge.upstream_connections,
        local_upstream: None,
        compression: edge.compression,
    }
}

/// Starts the JSON edge on `listener` (see [`edge_options`]); it stops when `shutdown` is
/// triggered. With `local` (the all-in-one's own services, [`AppHandle::local_service`]) it
/// calls them in-process rather than through `default_upstream`'s socket.
pub async fn start_edge(
    config: &Config,
    default_upstream: Option<String>,
    local: Option<pake_runtime::server::LocalService>,
    listener: TcpListener,
    shutdown: Shutdown,
) -> anyhow::Result<pake_edge::EdgeHandle> {
    install_client_tls(config)?;
    let mut options = edge_options(config, default_upstream);
    options.local_upstream = local;
    let edge = pake_edge::Edge::new(&options, shutdown).context("starting the JSON edge")?;
    Ok(edge.serve(listener).await?)
}

/// Builds the identity service over `database` (migrating it first) and returns it with its
/// token signer; `vault` is the session of [`secrets::resolve`], when Vault is configured.
pub async fn identity_service(
    config: &Config,
    vault: Option<&pake_identity::hashicorp::Vault>,
    database: &Database,
    revoked: Arc<dyn RevokedSessions>,
) -> anyhow::Result<(
    pake_identity::IdentityService,
    pake_identity::tokens::Signer,
)> {
    database.migrate(pake_identity::migrations()).await?;
    let identity = &config.identity;
    let signer = pake_identity::tokens::Signer::new(
        signing_keys(config, vault).await?,
        config.auth.issuer.clone(),
        config.auth.audience.clone(),
        Duration::from_secs(identity.access_token_ttl_secs),
    );
    let hasher = pake_identity::password::Hasher::new(
        identity.argon2_memory_kib,
        identity.argon2_iterations,
        identity.hashing_concurrency,
        identity.hashing_queue,
    )?;
    let store = Arc::new(pake_identity::store::SqlIdentityStore::new(
        database.clone(),
    ));
    let service = pake_identity::IdentityService::new(
        store,
        hasher,
        signer.clone(),
        revoked,
        pake_identity::api_keys::KeyHasher::load_or_generate(&config.data_dir)?,
        identity.clone(),
    );
    Ok((service, signer))
}

/// Opens the signing-key set (a key file per key in the data dir when embedded, Vault's KV
/// when `vault.address` is set).
async fn signing_keys(
    config: &Config,
    vault: Option<&pake_identity::hashicorp::Vault>,
) -> anyhow::Result<Arc<pake_identity::key_set::KeySet>> {
    use pake_identity::key_set::{KeySet, Policy};
    use pake_identity::signing_key::Algorithm;
    let identity = &config.identity;
    // `validate()` has checked the names.
    let algorithm = |name: &String| Algorithm::from_jose_name(name);
    let policy = Policy {
        default_algorithm: algorithm(&identity.signing_algorithm).unwrap_or(Algorithm::EdDsa),
        enabled: identity
            .signing_algorithms
            .iter()
            .filter_map(algorithm)
            .collect(),
        publication_delay: Duration::from_secs(identity.key_publication_delay_secs),
        token_lifetime: Duration::from_secs(identity.access_token_ttl_secs)
            + pake_core::token::LEEWAY,
    };
    let now = pake_runtime::db::now_micros();
    let store = secrets::key_store(vault, policy.publication_delay, || {
        let store = pake_identity::key_store::FileKeyStore::open(&config.data_dir, now)?;
        Ok(Arc::new(store))
    })?;
    let keys = KeySet::open(store, policy, now).await?;
    tracing::info!(kid = %keys.active(now)?.kid, "signing keys loaded");
    Ok(keys)
}

/// Reports search NOT_SERVING while its index is rebuilding or its change feed is unreachable.
fn follow_search_health(
    health: tonic_health::server::HealthReporter,
    mut serving: tokio::sync::watch::Receiver<bool>,
    shutdown: Shutdown,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                changed = serving.changed() => if changed.is_err() { return },
                () = shutdown.cancelled() => return,
            }
            let status = if *serving.borrow_and_update() {
                tonic_health::ServingStatus::Serving
            } else {
                tonic_health::ServingStatus::NotServing
            };
            if shutdown.is_triggered() {
                return;
            }
            health
                .set_service_status(pake_api::service_names::SEARCH, status)
                .await;
        }
    })
}

/// Opens the index, wiping and recreating it when it is corrupt (it rebuilds from the feed).
/// How long start-up waits for the search index's writer lock: a restart (of the process, or of
/// the services in one process) can overlap the previous owner's last commit.
const INDEX_LOCK_WAIT: Duration = Duration::from_secs(10);

async fn open_search_index(
    dir: &std::path::Path,
) -> anyhow::Result<pake_search::index::SearchIndex> {
    use pake_search::index::{Error, SearchIndex};
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let started = std::time::Instant::now();
    let mut opened = SearchIndex::open_in_dir(dir);
    if matches!(opened, Err(Error::Locked(_))) {
        tracing::info!(dir = %dir.display(), "search index is locked by its previous owner; waiting");
    }
    while matches!(opened, Err(Error::Locked(_))) && started.elapsed() < INDEX_LOCK_WAIT {
        tokio::time::sleep(Duration::from_millis(100)).await;
        opened = SearchIndex::open_in_dir(dir);
    }
    match opened {
        Ok(index) => Ok(index),
        Err(Error::Corrupt(reason)) => {
            tracing::warn!(%reason, dir = %dir.display(), "search index is corrupt; rebuilding it from the change feed");
            std::fs::remove_dir_all(dir).with_context(|| format!("removing {}", dir.display()))?;
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            Ok(SearchIndex::open_in_dir(dir)?)
        }
        Err(error) => {
            Err(error).with_context(|| format!("opening the search index in {}", dir.display()))
        }
    }
}

/// Installs the process's client TLS (`tls.ca_file`, client certificate) for `https://`
/// upstreams and returns the scheme of this process's own address. A TLS server calls itself
/// (JWKS; in the all-in-one also the feed) where identity runs here, so it then needs the
/// client settings.
fn tls_setup(config: &Config, role: ServiceRole) -> anyhow::Result<&'static str> {
    install_client_tls(config)?;
    let tls = &config.tls;
    if !tls.serves_tls() {
        return Ok("http");
    }
    if role.runs(ServiceRole::Identity) {
        anyhow::ensure!(
            tls.ca_file.is_some(),
            "tls.ca_file: required with tls.cert_file when `{}` runs here (the process calls its own \
             TLS address; the certificate must also name that address)",
            role.as_str()
        );
        anyhow::ensure!(
            tls.client_ca_file.is_none() || tls.client_cert_file.is_some(),
            "tls.client_cert_file: required with tls.client_ca_file when `{}` runs here (the \
             process calls its own mTLS address)",
            role.as_str()
        );
    }
    Ok("https")
}

/// The client TLS of every `https://` upstream this process calls (`tls.ca_file`, client
/// certificate), when configured.
fn install_client_tls(config: &Config) -> anyhow::Result<()> {
    if let Some(client) = pake_runtime::tls::ClientTls::from_config(&config.tls).context("tls")? {
        pake_runtime::tls::set_client_tls(Some(client));
    }
    Ok(())
}

/// The address to dial to reach a listener bound to `addr` (wildcards become loopback).
fn dialable(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv4Addr::LOCALHOST.into(), addr.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv6Addr::LOCALHOST.into(), addr.port())
        }
        _ => addr,
    }
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
