//! The benchmark program works end to end: short runs, no timing assertions. Every client makes
//! at least one call and, with no warm-up, that call is recorded, so the counts asserted here do
//! not depend on how fast the machine is.

use std::time::Duration;

use pake_bench::load::{self, Call, LoadOptions};
use pake_bench::{Options, ScenarioKind};

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
    assert!(row.starts_with(&format!("| {} | get-item (5 items) | 2 |", report.date)));
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
