//! `pake-eval`: relevance of PAKE's Search on Cranfield against an untuned BM25 in the same run
//! (see `pake_bench::eval` and docs/search.md).
//!
//! `cargo run --release -p pake-bench --bin pake-eval -- [--sweep] [--data-dir DIR]`

use std::io::Write;

use clap::Parser;
use pake_bench::Machine;
use pake_bench::eval::EvalOptions;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let options = EvalOptions::parse();
    let machine = Machine::detect();
    println!(
        "pake-eval: {} CPUs ({}), {} build, {}",
        machine.cpus,
        machine.cpu_model,
        machine.profile,
        pake_bench::report::today()
    );
    if let Some(load) = pake_bench::machine::load_average() {
        println!("load average before the run (1, 5, 15 min): {load}");
    }
    let run = pake_bench::eval::run(&options).await?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout)?;
    run.print(&mut stdout)?;
    stdout.flush()?;
    Ok(())
}
