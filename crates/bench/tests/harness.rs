//! The benchmark program works end to end: short runs, no timing assertions. Every client makes
//! at least one call and, with no warm-up, that call is recorded, so the counts asserted here do
//! not depend on how fast the machine is.

use std::time::Duration;

use pake_bench::load::{self, Call, LoadOptions};
use pake_bench::{Options, ScenarioKind, Summary};

fn short_run(scenario: ScenarioKind) -> Options {
    Options {
        concurrency: 2,
        warmup: Duration::ZERO,
        duration: Duration::from_millis(200),
        items: 5,
        // Generous: a loaded CI machine must not turn a slow call into an error.
        call_timeout: Duration::from_secs(60),
        ..Options::defaults(scenario)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_item_is_measured_against_the_echo_ceiling_without_errors() -> anyhow::Result<()> {
    let report = pake_bench::run(&short_run(ScenarioKind::GetItem)).await?;

    assert!(!report.failed(), "{:?}", report.failure_lines());
    let Some(get_item) = &report.scenario else {
        panic!("the get-item run is missing from the report");
    };
    assert!(get_item.requests >= 2, "{get_item:?}");
    assert_eq!(get_item.latency_micros.len(), get_item.requests);
    assert!(report.echo.requests >= 2, "{:?}", report.echo);
    assert!(report.ratios().is_some());

    let row = report.markdown_row();
    assert!(row.starts_with(&format!(
        "| {} | get-item (5 items, SQLite) | 2 |",
        report.date
    )));
    let header_columns = pake_bench::report::MARKDOWN_HEADER
        .lines()
        .next()
        .map(|line| line.matches('|').count());
    assert_eq!(Some(row.matches('|').count()), header_columns);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_alone_is_its_own_ceiling() -> anyhow::Result<()> {
    let report = pake_bench::run(&short_run(ScenarioKind::Echo)).await?;

    assert!(!report.failed(), "{:?}", report.failure_lines());
    assert!(report.scenario.is_none());
    assert!(report.ratios().is_none());
    assert!(report.echo.requests >= 2, "{:?}", report.echo);
    assert!(report.markdown_row().contains("| echo | 2 |"));
    Ok(())
}

#[tokio::test]
async fn options_no_run_can_use_are_rejected() {
    let no_clients = Options {
        concurrency: 0,
        ..short_run(ScenarioKind::Echo)
    };
    let error = pake_bench::run(&no_clients)
        .await
        .err()
        .map(|e| e.to_string());
    assert_eq!(error.as_deref(), Some("--concurrency must be at least 1"));
}

/// A client whose every call fails, as a server answering errors would.
struct Failing;

impl Call for Failing {
    async fn call(&mut self) -> Result<(), tonic::Status> {
        tokio::task::yield_now().await;
        Err(tonic::Status::unavailable("the store cannot be reached"))
    }
}

#[tokio::test]
async fn failed_calls_are_errors_not_throughput() -> anyhow::Result<()> {
    let options = LoadOptions {
        concurrency: 2,
        warmup: Duration::ZERO,
        duration: Duration::from_millis(50),
        call_timeout: Duration::from_secs(60),
        pace: None,
    };
    let measurement = load::drive(vec![Failing, Failing], &options).await?;

    assert_eq!(measurement.requests, 0);
    assert!(measurement.errors >= 2, "{measurement:?}");
    assert_eq!(
        measurement.first_error.as_deref(),
        Some("Unavailable: the store cannot be reached")
    );
    assert_eq!(measurement.latency_micros.len(), 0);

    let report = pake_bench::Report {
        date: "2026-01-01".to_owned(),
        machine: pake_bench::Machine::detect(),
        options: short_run(ScenarioKind::Echo),
        echo: measurement,
        scenario: None,
    };
    assert!(report.failed());
    let failures = report.failure_lines();
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(
        failures[0].ends_with("first: Unavailable: the store cannot be reached"),
        "{failures:?}"
    );
    Ok(())
}

/// A short run of one of the sign-in or token scenarios: few accounts, items and clients.
fn short_study(scenario: ScenarioKind) -> Options {
    Options {
        accounts: 4,
        path_clients: 2,
        rate: 50.0,
        flood_clients: 2,
        hashing_concurrency: Some(1),
        ..short_run(scenario)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_is_measured_against_argon2id_alone() -> anyhow::Result<()> {
    let options = short_study(ScenarioKind::Login);
    let report = pake_bench::scenarios::login::run(&options).await?;

    assert!(
        report.failure_lines().is_empty(),
        "{:?}",
        report.failure_lines()
    );
    assert_eq!(report.baseline.threads, 1);
    assert!(report.baseline.verifications >= 1, "{:?}", report.baseline);
    assert!(report.login.requests >= 2, "{:?}", report.login);
    assert!(report.ratio() > 0.0);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_sign_in_path_answers_as_expected_and_none_is_throttled() -> anyhow::Result<()> {
    // Long enough for both clients to go round the four paths even on a busy machine.
    let options = Options {
        duration: Duration::from_secs(1),
        ..short_study(ScenarioKind::LoginPaths)
    };
    let report = pake_bench::scenarios::login_paths::run(&options).await?;

    assert!(
        report.failure_lines().is_empty(),
        "{:?}",
        report.failure_lines()
    );
    assert_eq!(report.clients, 2);
    let failure = "UNAUTHENTICATED INVALID_CREDENTIALS";
    for (index, path) in pake_bench::scenarios::login_paths::PATHS.iter().enumerate() {
        assert!(
            report.paths[index].requests >= 1,
            "{path}: {:?}",
            report.paths[index]
        );
        let labels = report.tally.for_group(path);
        assert_eq!(labels.len(), 1, "{path}: {labels:?}");
        if *path == "success" {
            assert_eq!(labels[0].0, "OK");
        } else {
            assert!(labels[0].0.starts_with(failure), "{path}: {labels:?}");
        }
    }
    // The three failures are indistinguishable in what they answer.
    let answers: std::collections::BTreeSet<String> = pake_bench::scenarios::login_paths::PATHS
        [..3]
        .iter()
        .flat_map(|path| report.tally.for_group(path))
        .map(|(label, _)| label)
        .collect();
    assert_eq!(answers.len(), 1, "{answers:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_verification_is_measured_alone_and_per_request() -> anyhow::Result<()> {
    let options = short_study(ScenarioKind::VerifyToken);
    let report = pake_bench::scenarios::verify_token::run(&options).await?;

    assert!(
        report.failure_lines().is_empty(),
        "{:?}",
        report.failure_lines()
    );
    assert!(report.verifications >= 100);
    assert!(report.verify_micros() > 0.0);
    assert!(report.token_bytes > 100, "{}", report.token_bytes);
    assert!(report.echo.requests >= 2, "{:?}", report.echo);
    assert!(
        report.echo_with_token.requests >= 2,
        "{:?}",
        report.echo_with_token
    );
    assert!(report.anonymous.requests >= 2, "{:?}", report.anonymous);
    assert!(report.with_token.requests >= 2, "{:?}", report.with_token);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_item_is_measured_with_and_without_a_login_flood() -> anyhow::Result<()> {
    let options = short_study(ScenarioKind::GetItemUnderLoginFlood);
    let report = pake_bench::scenarios::login_flood::run(&options).await?;

    assert!(
        report.failure_lines().is_empty(),
        "{:?}",
        report.failure_lines()
    );
    assert_eq!(report.hashing_threads, 1);
    assert!(report.baseline.requests >= 2, "{:?}", report.baseline);
    assert!(report.under_flood.requests >= 1, "{:?}", report.under_flood);
    assert!(report.flood.requests >= 1, "{:?}", report.flood);
    Ok(())
}

#[test]
fn every_scenario_has_its_command_line_name() {
    use clap::ValueEnum;
    for kind in ScenarioKind::value_variants() {
        let parsed = ScenarioKind::from_str(kind.name(), false);
        assert_eq!(parsed, Ok(*kind));
    }
    assert_eq!(
        ScenarioKind::GetItemUnderLoginFlood.name(),
        "getitem-under-login-flood"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_item_is_measured_against_the_echo_ceiling_without_errors() -> anyhow::Result<()> {
    let report = pake_bench::run(&short_run(ScenarioKind::CreateItem)).await?;

    assert!(!report.failed(), "{:?}", report.failure_lines());
    let Some(create_item) = &report.scenario else {
        panic!("the create-item run is missing from the report");
    };
    assert!(create_item.requests >= 2, "{create_item:?}");
    assert!(
        report
            .markdown_row()
            .contains("| create-item (SQLite) | 2 |")
    );
    Ok(())
}

/// The machine's PostgreSQL for the `--store postgres` runs: `None` with a printed reason
/// locally when PAKE_TEST_DATABASE_URL is unset; in CI (`CI=true`) its absence fails the test.
fn postgres_url() -> Option<String> {
    match std::env::var("PAKE_TEST_DATABASE_URL") {
        Ok(url) => Some(url),
        Err(_) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("CI=true but PAKE_TEST_DATABASE_URL is unset")
        }
        Err(_) => {
            eprintln!("skipped: the PostgreSQL runs need PAKE_TEST_DATABASE_URL");
            None
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn knowledge_scenarios_run_on_postgres_in_a_database_of_their_own() -> anyhow::Result<()> {
    let Some(postgres_url) = postgres_url() else {
        return Ok(());
    };
    for scenario in [ScenarioKind::GetItem, ScenarioKind::CreateItem] {
        let options = Options {
            store: pake_bench::options::StoreKind::Postgres,
            postgres_url: postgres_url.clone(),
            ..short_run(scenario)
        };
        let report = pake_bench::run(&options).await?;
        assert!(!report.failed(), "{:?}", report.failure_lines());
        assert!(
            report.markdown_row().contains("PostgreSQL) | 2 |"),
            "{}",
            report.markdown_row()
        );
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vault_import_creates_every_note_then_finds_them_unchanged() -> anyhow::Result<()> {
    let mut stores = vec![pake_bench::options::StoreKind::Sqlite];
    let postgres_url = postgres_url();
    if postgres_url.is_some() {
        stores.push(pake_bench::options::StoreKind::Postgres);
    }
    for store in stores {
        let options = Options {
            notes: 30,
            store,
            postgres_url: postgres_url.clone().unwrap_or_default(),
            ..short_run(ScenarioKind::VaultImport)
        };
        // The run checks the counts of both imports itself and fails otherwise.
        let report = pake_bench::scenarios::vault_import::run(&options).await?;
        assert_eq!(report.notes, 30);
        let mut printed = Vec::new();
        report.print(&mut printed)?;
        let printed = String::from_utf8(printed)?;
        assert!(
            printed.contains("vault-import, re-import (all unchanged)"),
            "{printed}"
        );
    }
    Ok(())
}

#[test]
fn the_generated_vault_links_its_notes_to_each_other() {
    let vault = pake_bench::scenarios::vault_import::vault(100);
    assert_eq!(vault.len(), 100);
    let (path, content) = &vault[7];
    assert_eq!(path, "Area 7/Note 7.md");
    let text = String::from_utf8_lossy(content);
    assert!(text.contains("[[Note 52]]"), "{text}");
    assert!(text.contains("(Note%208.md)"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_freshness_finds_every_probe_under_a_write_load() -> anyhow::Result<()> {
    let options = Options {
        probe_rate: 10.0,
        duration: Duration::from_millis(500),
        ..short_run(ScenarioKind::SearchFreshness)
    };
    let report = pake_bench::scenarios::freshness::run(&options).await?;

    assert!(
        report.failure_lines().is_empty(),
        "{:?}",
        report.failure_lines()
    );
    assert!(report.saturated.requests >= 2, "{:?}", report.saturated);
    // Ticks at 0, 100, …, 400 ms of the window are recorded: five probes, each found.
    assert!(
        report.delays_micros.len() >= 4,
        "{}",
        report.delays_micros.len()
    );
    assert!(report.delay_millis(0.5) > 0.0);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_is_measured_against_postgres_on_both_corpora() -> anyhow::Result<()> {
    use pake_bench::eval::dataset::{Dataset, default_dir};
    use pake_bench::scenarios::{search, search_corpus};
    let Some(postgres_url) = postgres_url() else {
        return Ok(());
    };
    let mut dataset = Dataset::load(&default_dir())?;
    dataset.docs.truncate(40);
    dataset.queries.truncate(5);
    let corpora = [
        search_corpus::cranfield(&dataset),
        search_corpus::generated(&dataset, 30),
    ];
    let options = Options {
        postgres_url,
        ..short_run(ScenarioKind::Search)
    };
    let report = search::run_on(&options, &corpora).await?;
    assert!(!report.failed(), "{:?}", report.failure_lines());
    assert_eq!(report.corpora.len(), 2);
    for corpus in &report.corpora {
        // The fresh index rebuilt from the feed holds every note, and the generated queries,
        // taken from the notes, all find something.
        assert_eq!(
            corpus.rebuilt_docs as usize, corpus.notes,
            "{}",
            corpus.name
        );
        assert!(corpus.pake.requests >= 2 && corpus.postgres.requests >= 2);
        assert!(
            corpus.pake_hits.0 > 0.0,
            "{}: {:?}",
            corpus.name,
            corpus.pake_hits
        );
    }
    assert!(report.corpora[1].pake_hits.0 >= 1.0);
    assert!(report.corpora[1].pg_hits > 0.0);
    let mut printed = Vec::new();
    pake_bench::Summary::print(&report, &mut printed)?;
    assert!(String::from_utf8(printed)?.contains("| generated | 30 |"));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_item_through_the_edge_is_measured_against_grpc() -> anyhow::Result<()> {
    let options = short_run(ScenarioKind::EdgeGetItem);
    let report = pake_bench::scenarios::edge_get_item::run(&options).await?;

    // Every edge response was a 200 carrying the requested item, or the run would have errors.
    assert!(
        report.failure_lines().is_empty(),
        "{:?}",
        report.failure_lines()
    );
    assert!(report.direct.requests >= 2, "{:?}", report.direct);
    assert!(report.edge.requests >= 2, "{:?}", report.edge);
    assert!(report.ratio() > 0.0);
    Ok(())
}
