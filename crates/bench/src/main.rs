//! `pake-bench`: see the library's documentation and `docs/performance.md`.
//!
//! `cargo run --release -p pake-bench -- --scenario get-item`

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use pake_bench::{Machine, Options};

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    let options = Options::parse();
    if std::env::var_os("RUST_LOG").is_some() {
        pake_core::telemetry::init(&pake_core::config::LogConfig::default());
    }
    let machine = Machine::detect();
    println!(
        "pake-bench: {} CPUs ({}), {} build; clients and servers share this process and its \
         {} tokio worker threads",
        machine.cpus, machine.cpu_model, machine.profile, machine.cpus
    );
    println!(
        "scenario {}: {} clients, {:?} warm-up, {:?} window",
        options.scenario.name(),
        options.concurrency,
        options.warmup,
        options.duration
    );
    if let Some(load) = pake_bench::machine::load_average() {
        println!("load average before the run (1, 5, 15 min): {load}");
    }
    if machine.profile == "debug" {
        println!("warning: a debug build; run with --release for numbers worth recording");
    }

    let report = pake_bench::run_any(&options).await?;
    let mut stdout = std::io::stdout().lock();
    report.print(&mut stdout)?;
    if let Some(load) = pake_bench::machine::load_average() {
        writeln!(stdout, "load average after the run (1, 5, 15 min): {load}")?;
    }
    stdout.flush()?;

    if report.failed() {
        eprintln!();
        eprintln!("!!! THE RUN HAD ERRORS: these numbers are not valid !!!");
        for line in report.failure_lines() {
            eprintln!("!!! {line}");
        }
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}
