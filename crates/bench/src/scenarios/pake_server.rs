//! The system under test: the all-in-one `pake serve` started in-process on a loopback port
//! over a fresh temporary data dir (SQLite, generated signing key) or, with `--store postgres`,
//! a fresh PostgreSQL database, and a user signed up and in through the public API, as a
//! client would. Shared by every scenario against PAKE.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use anyhow::Context;
use futures::{StreamExt, TryStreamExt};
use pake::AppHandle;
use pake_api::identity::identity_service_client::IdentityServiceClient;
use pake_api::identity::{CreateSessionRequest, CreateUserRequest, User};
use pake_core::config::{Config, ServiceRole};
use pake_runtime::Shutdown;
use tempfile::TempDir;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::Channel;

use crate::options::{Options, StoreKind};
use crate::scenarios::connect;
use crate::scenarios::scratch_database::ScratchDatabase;

/// Lifetime of the benchmark user's access token: the longest the configuration allows, so a
/// run of up to about a quarter of an hour needs no refresh.
pub const ACCESS_TOKEN_TTL: Duration = Duration::from_secs(900);

const USERNAME: &str = "bench_user";
/// The password of every account the benchmark registers.
pub const PASSWORD: &str = "correct horse battery staple 42!";
/// Sign-ups in flight at once while preparing (well under the hashing queue).
const SIGN_UP_CONCURRENCY: usize = 8;

/// A running all-in-one server and its temporary data dir (removed when this is dropped).
pub struct PakeServer {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    shutdown: Shutdown,
    handle: AppHandle,
    database: Option<ScratchDatabase>,
    _data_dir: TempDir,
}

/// The signed-in benchmark user.
#[derive(Clone, Debug)]
pub struct SignedIn {
    /// The access token itself (a JWT).
    pub access_token: String,
    /// `authorization` metadata: `Bearer <access token>`.
    pub bearer: MetadataValue<Ascii>,
    /// When the access token stops being accepted (measured from before the sign-in).
    pub expires_at: Instant,
}

impl PakeServer {
    /// Starts every service in this process on a free loopback port.
    pub async fn start() -> anyhow::Result<Self> {
        Self::start_with(|_| {}).await
    }

    /// Starts every service on the store of `--store`, with the identity configuration of
    /// the options (`--hashing-concurrency`).
    pub async fn start_for(options: &Options) -> anyhow::Result<Self> {
        Self::start_for_identity(options, options.identity_config(), Vec::new()).await
    }

    /// [`start_for`](Self::start_for) with this identity configuration.
    pub async fn start_for_identity(
        options: &Options,
        identity: pake_core::config::IdentityConfig,
        trusted_proxies: Vec<String>,
    ) -> anyhow::Result<Self> {
        let database = match options.store {
            StoreKind::Sqlite => None,
            StoreKind::Postgres => Some(ScratchDatabase::create(&options.postgres_url).await?),
        };
        let url = database.as_ref().map(|database| database.url.clone());
        Self::start_on(database, move |config| {
            config.identity = pake_core::config::IdentityConfig {
                access_token_ttl_secs: ACCESS_TOKEN_TTL.as_secs(),
                ..identity
            };
            config.database_url = url.map(pake_core::config::SecretString::new);
            config.trusted_proxies = trusted_proxies;
        })
        .await
    }

    /// Starts every service with the defaults changed by `adjust` (which sees the temporary
    /// data dir and the benchmark's token lifetime already set).
    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> anyhow::Result<Self> {
        Self::start_on(None, adjust).await
    }

    /// Starts every service, owning `database` (dropped when the server stops).
    async fn start_on(
        database: Option<ScratchDatabase>,
        adjust: impl FnOnce(&mut Config),
    ) -> anyhow::Result<Self> {
        let data_dir = tempfile::tempdir().context("creating a temporary data dir")?;
        let mut config = Config {
            grpc_listen: "127.0.0.1:0".to_owned(),
            data_dir: data_dir.path().to_path_buf(),
            ..Config::default()
        };
        config.identity.access_token_ttl_secs = ACCESS_TOKEN_TTL.as_secs();
        // The benchmarks drive one user far beyond any per-caller limit on purpose: they measure
        // the server's capacity, not the limiter's refusals.
        config.rate_limit.read_per_second = 0;
        config.rate_limit.write_per_second = 0;
        adjust(&mut config);
        let listener = tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
            .await
            .context("binding pake to a loopback port")?;
        let shutdown = Shutdown::new();
        let handle = match pake::start(&config, ServiceRole::All, listener, shutdown.clone()).await
        {
            Ok(handle) => handle,
            Err(error) => {
                if let Some(database) = database {
                    database.drop_database().await.ok();
                }
                return Err(error.context("starting pake serve in-process"));
            }
        };
        Ok(PakeServer {
            url: handle.grpc_url(),
            shutdown,
            handle,
            database,
            _data_dir: data_dir,
        })
    }

    /// Registers the benchmark user and signs in.
    pub async fn sign_up_and_in(&self) -> anyhow::Result<SignedIn> {
        let channel = connect(&self.url).await?;
        sign_up(&channel, USERNAME).await?;
        let signed_in_at = Instant::now();
        let session = IdentityServiceClient::new(channel)
            .create_session(CreateSessionRequest {
                username: USERNAME.to_owned(),
                password: PASSWORD.to_owned(),
            })
            .await
            .context("signing in")?
            .into_inner();
        let bearer = format!("Bearer {}", session.access_token)
            .parse()
            .context("the access token is not valid metadata")?;
        Ok(SignedIn {
            access_token: session.access_token,
            bearer,
            expires_at: signed_in_at + ACCESS_TOKEN_TTL,
        })
    }

    /// The server's gRPC services in-process (what the all-in-one's edge calls).
    pub fn local_service(&self) -> pake_runtime::server::LocalService {
        self.handle.local_service()
    }

    /// The URL of the PostgreSQL database the server runs on, if it does.
    pub fn postgres_url(&self) -> Option<&str> {
        self.database.as_ref().map(|database| database.url.as_str())
    }

    /// Triggers shutdown, waits for the drain, then drops the scratch database if any.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.trigger();
        let stopped = self.handle.wait().await.context("stopping pake");
        if let Some(database) = self.database {
            database.drop_database().await?;
        }
        stopped
    }
}

/// Registers `username` with [`PASSWORD`] (self-registration, open on the defaults).
pub async fn sign_up(channel: &Channel, username: &str) -> anyhow::Result<()> {
    IdentityServiceClient::new(channel.clone())
        .create_user(CreateUserRequest {
            user: Some(User {
                username: username.to_owned(),
                ..User::default()
            }),
            password: PASSWORD.to_owned(),
            ..CreateUserRequest::default()
        })
        .await
        .with_context(|| format!("signing up {username}"))?;
    Ok(())
}

/// Registers `count` accounts named `{prefix}{index}`, a few at a time (each costs one Argon2id
/// hash), and returns their names.
pub async fn sign_up_many(
    channel: &Channel,
    prefix: &str,
    count: usize,
) -> anyhow::Result<Vec<String>> {
    let names: Vec<String> = (0..count).map(|index| format!("{prefix}{index}")).collect();
    futures::stream::iter(&names)
        .map(|name| sign_up(channel, name))
        .buffer_unordered(SIGN_UP_CONCURRENCY)
        .try_collect::<()>()
        .await?;
    Ok(names)
}

impl SignedIn {
    /// `message` with this user's `authorization` metadata.
    pub fn authorize<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        request
            .metadata_mut()
            .insert("authorization", self.bearer.clone());
        request
    }
}
