//! Scenarios: a server under test, prepared with its data, that hands out benchmark clients.
//!
//! Adding one (say `search` or `create-item`) takes a module here with a [`Scenario`] and its
//! [`Call`](crate::load::Call), a [`ScenarioKind`] variant, and an arm in [`measure_kind`].
//! Scenarios against PAKE start it with [`pake_server::PakeServer`].
//!
//! The sign-in and token scenarios compare with baselines of their own instead of the echo
//! ceiling; each module has a `run` returning a [`Summary`](crate::report::Summary) and an arm in
//! [`crate::run_any`].

pub mod argon2_baseline;
pub mod create_item;
pub mod echo;
pub mod edge_get_item;
pub mod freshness;
pub mod get_item;
pub mod lockout;
pub mod login;
pub mod login_flood;
pub mod login_paths;
pub mod pake_server;
pub mod scratch_database;
pub mod search;
pub mod search_corpus;
pub mod search_pake;
pub mod search_postgres;
pub mod vault_import;
pub mod verify_token;

use std::future::Future;

use anyhow::Context;
use tonic::transport::{Channel, Endpoint};

use crate::load::{self, Call, LoadOptions, Measurement};
use crate::options::Options;

/// The scenarios `--scenario` accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ScenarioKind {
    /// The bare tonic echo server alone (the ceiling every other scenario is compared with).
    Echo,
    /// GetItem on random items of one signed-in user, through the all-in-one `pake serve`.
    GetItem,
    /// CreateItem of new notes by one signed-in user, through the all-in-one `pake serve`.
    CreateItem,
    /// CreateSession throughput against Argon2id verification alone at the pool's size.
    Login,
    /// Latency of unknown user, wrong password, locked account and success, side by side.
    LoginPaths,
    /// The verifier alone, and GetItem with a token against GetItem anonymously.
    VerifyToken,
    /// GetItem through the JSON edge against GetItem over gRPC directly.
    EdgeGetItem,
    /// How soon a new item is found by Search (no `min_cursor`) under a write load.
    SearchFreshness,
    /// ImportItems of a generated vault of `--notes` notes, then again unchanged (notes/s).
    VaultImport,
    /// GetItem latency at a fixed rate with and without a concurrent login flood.
    #[value(name = "getitem-under-login-flood")]
    GetItemUnderLoginFlood,
    /// Search on Cranfield and on `--notes` generated notes against PostgreSQL full-text search
    /// on the same queries, and the index build rate from the feed.
    Search,
}

impl ScenarioKind {
    /// The name on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            ScenarioKind::Echo => "echo",
            ScenarioKind::GetItem => "get-item",
            ScenarioKind::CreateItem => "create-item",
            ScenarioKind::Login => "login",
            ScenarioKind::LoginPaths => "login-paths",
            ScenarioKind::VerifyToken => "verify-token",
            ScenarioKind::GetItemUnderLoginFlood => "getitem-under-login-flood",
            ScenarioKind::VaultImport => "vault-import",
            ScenarioKind::SearchFreshness => "search-freshness",
            ScenarioKind::EdgeGetItem => "edge-get-item",
            ScenarioKind::Search => "search",
        }
    }

    /// Whether the scenario is measured against the echo ceiling (the others have baselines
    /// of their own).
    pub fn against_echo(self) -> bool {
        matches!(
            self,
            ScenarioKind::Echo | ScenarioKind::GetItem | ScenarioKind::CreateItem
        )
    }
}

/// A prepared server under test.
pub trait Scenario: Sized {
    /// The call each client repeats.
    type Call: Call;

    /// A new client with its own connection.
    fn client(&self) -> impl Future<Output = anyhow::Result<Self::Call>>;

    /// Stops the server and waits until it has stopped.
    fn stop(self) -> impl Future<Output = anyhow::Result<()>>;
}

/// Connects `options.concurrency` clients to `scenario`, drives them, then stops the server
/// (also when driving failed).
pub async fn measure<S: Scenario>(
    scenario: S,
    options: &LoadOptions,
) -> anyhow::Result<Measurement> {
    let driven = async {
        let mut clients = Vec::with_capacity(options.concurrency);
        for _ in 0..options.concurrency {
            clients.push(scenario.client().await?);
        }
        load::drive(clients, options).await
    }
    .await;
    let stopped = scenario.stop().await;
    let measurement = driven?;
    stopped?;
    Ok(measurement)
}

/// Prepares the scenario `kind` (server and data) and measures it.
pub async fn measure_kind(kind: ScenarioKind, options: &Options) -> anyhow::Result<Measurement> {
    let load = options.load();
    match kind {
        ScenarioKind::Echo => measure(echo::EchoScenario::start().await?, &load).await,
        ScenarioKind::GetItem => {
            let scenario = get_item::GetItemScenario::prepare(options).await?;
            measure(scenario, &load).await
        }
        ScenarioKind::CreateItem => {
            let scenario = create_item::CreateItemScenario::prepare(options).await?;
            measure(scenario, &load).await
        }
        kind => anyhow::bail!(
            "{} is not measured against the echo ceiling; run it with `pake_bench::run_any`",
            kind.name()
        ),
    }
}

/// Opens one HTTP/2 connection to `url`. Every client of every scenario, the echo ceiling
/// included, connects this way, so they differ only in the server they reach.
pub async fn connect(url: &str) -> anyhow::Result<Channel> {
    Endpoint::from_shared(url.to_owned())
        .with_context(|| format!("invalid server url {url}"))?
        .connect()
        .await
        .with_context(|| format!("connecting to {url}"))
}
