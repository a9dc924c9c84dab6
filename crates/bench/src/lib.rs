//! `pake-bench`: the benchmark program. It drives one unary RPC of PAKE with N concurrent
//! clients over real loopback gRPC, in the same process as the server, and prints throughput
//! and latency percentiles next to a bare tonic echo server driven by the same client code in
//! the same run (the ceiling). Results are recorded in `docs/performance.md`; nothing here is a
//! timed assertion in `cargo test`.
//!
//! - [`load`]: the closed-loop (or paced) driver and its HDR histograms;
//! - [`scenarios`]: what is measured (`echo`, `get-item`, `create-item`, `vault-import`,
//!   `search-freshness`, `login`, `login-paths`, `verify-token`, `getitem-under-login-flood`; the knowledge
//!   scenarios on SQLite or PostgreSQL) and how to add one;
//! - [`report`], [`status`], [`machine`], [`options`]: output, gRPC statuses by name, the
//!   machine, the command line.
//! - [`eval`]: the relevance evaluation on Cranfield behind the `pake-eval` binary (and the
//!   `search` scenario's corpora).
//!
//! The sign-in and token scenarios compare with baselines measured in the same run that suit
//! them better than the echo ceiling: Argon2id verification alone, the token verifier alone,
//! GetItem without a token or without a concurrent login flood.
//!
//! It depends on `pake` (to start the all-in-one server in-process) and `pake-api` (the public
//! clients); nothing depends on it.

pub mod eval;
pub mod load;
pub mod machine;
pub mod options;
pub mod report;
pub mod scenarios;
pub mod status;

pub use machine::Machine;
pub use options::Options;
pub use report::{Report, Summary};
pub use scenarios::ScenarioKind;

/// Runs the chosen scenario against its baseline: [`run`] for those compared with the echo
/// ceiling, the scenario's own `run` for the others. Progress goes to stderr.
pub async fn run_any(options: &Options) -> anyhow::Result<Box<dyn Summary>> {
    options.validate()?;
    Ok(match options.scenario {
        ScenarioKind::Echo | ScenarioKind::GetItem | ScenarioKind::CreateItem => {
            Box::new(run(options).await?)
        }
        ScenarioKind::Login => Box::new(scenarios::login::run(options).await?),
        ScenarioKind::LoginPaths => Box::new(scenarios::login_paths::run(options).await?),
        ScenarioKind::VerifyToken => Box::new(scenarios::verify_token::run(options).await?),
        ScenarioKind::GetItemUnderLoginFlood => {
            Box::new(scenarios::login_flood::run(options).await?)
        }
        ScenarioKind::VaultImport => Box::new(scenarios::vault_import::run(options).await?),
        ScenarioKind::SearchFreshness => Box::new(scenarios::freshness::run(options).await?),
        ScenarioKind::EdgeGetItem => Box::new(scenarios::edge_get_item::run(options).await?),
        ScenarioKind::Search => Box::new(scenarios::search::run(options).await?),
    })
}

/// Measures the echo ceiling, then the chosen scenario (unless it is `echo`), with the same
/// clients, concurrency, warm-up and window. Progress goes to stderr. Only for scenarios that
/// are [`against_echo`](ScenarioKind::against_echo); [`run_any`] runs every scenario.
pub async fn run(options: &Options) -> anyhow::Result<Report> {
    options.validate()?;
    anyhow::ensure!(
        options.scenario.against_echo(),
        "{} is not measured against the echo ceiling; use run_any",
        options.scenario.name()
    );
    let date = report::today();
    eprintln!(
        "measuring echo (ceiling): {} clients, {:?} warm-up, {:?} window",
        options.concurrency, options.warmup, options.duration
    );
    let echo = scenarios::measure_kind(ScenarioKind::Echo, options).await?;
    let scenario = match options.scenario {
        ScenarioKind::Echo => None,
        kind => {
            eprintln!("preparing and measuring {}", kind.name());
            Some(scenarios::measure_kind(kind, options).await?)
        }
    };
    Ok(Report {
        date,
        machine: Machine::detect(),
        options: options.clone(),
        echo,
        scenario,
    })
}
