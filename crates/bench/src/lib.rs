//! `pake-bench`: the benchmark program. It drives one unary RPC of PAKE with N concurrent
//! clients over real loopback gRPC, in the same process as the server, and prints throughput
//! and latency percentiles next to a bare tonic echo server driven by the same client code in
//! the same run (the ceiling). Results are recorded in `docs/performance.md`; nothing here is a
//! timed assertion in `cargo test`.
//!
//! - [`load`]: the closed-loop driver and its HDR histograms;
//! - [`scenarios`]: what is measured (`echo`, `get-item`) and how to add one;
//! - [`report`], [`machine`], [`options`]: output, the machine, the command line.
//!
//! It depends on `pake` (to start the all-in-one server in-process) and `pake-api` (the public
//! clients); nothing depends on it.

pub mod load;
pub mod machine;
pub mod options;
pub mod report;
pub mod scenarios;

pub use machine::Machine;
pub use options::Options;
pub use report::Report;
pub use scenarios::ScenarioKind;

/// Measures the echo ceiling, then the chosen scenario (unless it is `echo`), with the same
/// clients, concurrency, warm-up and window. Progress goes to stderr.
pub async fn run(options: &Options) -> anyhow::Result<Report> {
    options.validate()?;
    let date = chrono::Utc::now().format("%Y-%m-%d").to_string();
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
