//! Printing a run: one line per measurement, the ratios against the echo ceiling, failures
//! loudly, and a markdown table row to paste into `docs/performance.md`. [`Summary`] is what
//! every scenario's results offer `main`; [`table`] prints the markdown tables of the scenarios
//! that compare against their own baselines (sign-in, token verification).

use std::io::{self, Write};

use crate::load::Measurement;
use crate::machine::Machine;
use crate::options::Options;
use crate::scenarios::ScenarioKind;

/// Everything one run measured.
#[derive(Debug)]
pub struct Report {
    /// UTC date of the run, `YYYY-MM-DD`.
    pub date: String,
    /// Where it ran.
    pub machine: Machine,
    /// How it was driven.
    pub options: Options,
    /// The bare tonic echo server, driven the same way.
    pub echo: Measurement,
    /// The chosen scenario; `None` when it is `echo` itself.
    pub scenario: Option<Measurement>,
}

/// The header of the markdown table [`Report::markdown_row`] belongs to.
pub const MARKDOWN_HEADER: &str = "\
| date | scenario | clients | req/s | p50 ms | p99 ms | max ms | errors | echo req/s | echo p50 ms | req/s ÷ echo | p50 ÷ echo | machine |
| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |";

impl Report {
    /// Whether any call of either measurement failed (the numbers are then not valid).
    pub fn failed(&self) -> bool {
        self.echo.errors > 0 || self.scenario.as_ref().is_some_and(|run| run.errors > 0)
    }

    /// The scenario's name with its parameters, e.g. `get-item (1000 items)`.
    pub fn scenario_label(&self) -> String {
        match self.options.scenario {
            ScenarioKind::GetItem => format!(
                "get-item ({} items, {})",
                self.options.items,
                self.options.store.name()
            ),
            ScenarioKind::CreateItem => format!("create-item ({})", self.options.store.name()),
            kind => kind.name().to_owned(),
        }
    }

    /// Scenario throughput ÷ echo throughput, and scenario p50 ÷ echo p50.
    pub fn ratios(&self) -> Option<(f64, f64)> {
        let scenario = self.scenario.as_ref()?;
        let echo_p50 = self.echo.quantile_millis(0.5);
        let echo_throughput = self.echo.throughput();
        if echo_p50 <= 0.0 || echo_throughput <= 0.0 {
            return None;
        }
        Some((
            scenario.throughput() / echo_throughput,
            scenario.quantile_millis(0.5) / echo_p50,
        ))
    }

    /// Prints the results, the ratios and the markdown row.
    pub fn print(&self, out: &mut impl Write) -> io::Result<()> {
        writeln!(out)?;
        writeln!(out, "{}", measurement_line("echo (ceiling)", &self.echo))?;
        if let Some(scenario) = &self.scenario {
            let name = self.options.scenario.name();
            writeln!(out, "{}", measurement_line(name, scenario))?;
            if let Some((throughput_ratio, p50_ratio)) = self.ratios() {
                writeln!(
                    out,
                    "{name} / echo: throughput {throughput_ratio:.3} ({:.1} % of the ceiling), \
                     p50 {p50_ratio:.2} × the echo p50",
                    throughput_ratio * 100.0
                )?;
            }
        }
        writeln!(out)?;
        writeln!(out, "{MARKDOWN_HEADER}")?;
        writeln!(out, "{}", self.markdown_row())?;
        Ok(())
    }

    /// The run as one row of the table under [`MARKDOWN_HEADER`].
    pub fn markdown_row(&self) -> String {
        let run = self.scenario.as_ref().unwrap_or(&self.echo);
        let (throughput_ratio, p50_ratio) = match self.ratios() {
            Some((throughput, p50)) => (format!("{throughput:.3}"), format!("{p50:.2}")),
            None => ("—".to_owned(), "—".to_owned()),
        };
        format!(
            "| {} | {} | {} | {:.0} | {:.3} | {:.3} | {:.3} | {} | {:.0} | {:.3} | {} | {} | {} |",
            self.date,
            self.scenario_label(),
            self.options.concurrency,
            run.throughput(),
            run.quantile_millis(0.5),
            run.quantile_millis(0.99),
            run.max_millis(),
            run.errors
                + if self.scenario.is_some() {
                    self.echo.errors
                } else {
                    0
                },
            self.echo.throughput(),
            self.echo.quantile_millis(0.5),
            throughput_ratio,
            p50_ratio,
            self.machine.summary(),
        )
    }

    /// The failures, for stderr: which measurement, how many, and the first one.
    pub fn failure_lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        let mut add = |name: &str, run: &Measurement| {
            if run.errors > 0 {
                lines.push(format!(
                    "{name}: {} failed calls (warm-up included); first: {}",
                    run.errors,
                    run.first_error.as_deref().unwrap_or("unknown")
                ));
            }
        };
        add("echo (ceiling)", &self.echo);
        if let Some(scenario) = &self.scenario {
            add(self.options.scenario.name(), scenario);
        }
        lines
    }
}

/// What `main` needs of a run's results, whatever the scenario.
pub trait Summary: Send {
    /// Prints the results (human-readable tables, ready for `docs/performance.md`).
    fn print(&self, out: &mut dyn Write) -> io::Result<()>;

    /// The failures, for stderr; empty when the numbers are valid.
    fn failure_lines(&self) -> Vec<String>;

    /// Whether any call failed (the numbers are then not valid).
    fn failed(&self) -> bool {
        !self.failure_lines().is_empty()
    }
}

impl Summary for Report {
    fn print(&self, mut out: &mut dyn Write) -> io::Result<()> {
        Report::print(self, &mut out)
    }

    fn failure_lines(&self) -> Vec<String> {
        Report::failure_lines(self)
    }
}

/// Prints a markdown table: a header row, its separator (the `text_columns` left-aligned, the
/// others, numbers, right-aligned), and the rows.
pub fn table(
    out: &mut dyn Write,
    header: &[&str],
    text_columns: &[usize],
    rows: &[Vec<String>],
) -> io::Result<()> {
    writeln!(out, "| {} |", header.join(" | "))?;
    let separator: Vec<&str> = (0..header.len())
        .map(|column| {
            if text_columns.contains(&column) {
                "---"
            } else {
                "---:"
            }
        })
        .collect();
    writeln!(out, "| {} |", separator.join(" | "))?;
    for row in rows {
        writeln!(out, "| {} |", row.join(" | "))?;
    }
    Ok(())
}

/// `name: N failed calls (warm-up included); first: …`, when `run` had failures.
pub fn failure_line(name: &str, run: &Measurement) -> Option<String> {
    (run.errors > 0).then(|| {
        format!(
            "{name}: {} failed calls (warm-up included); first: {}",
            run.errors,
            run.first_error.as_deref().unwrap_or("unknown")
        )
    })
}

/// Today's UTC date, `YYYY-MM-DD`.
pub fn today() -> String {
    chrono::Utc::now().format("%Y-%m-%d").to_string()
}

/// Milliseconds with three decimals.
pub fn millis(value: f64) -> String {
    format!("{value:.3}")
}

fn measurement_line(name: &str, run: &Measurement) -> String {
    format!(
        "{name:<16} {:>10.0} req/s   p50 {:>8.3} ms   p99 {:>8.3} ms   max {:>8.3} ms   \
         errors {}   ({} calls in {:.2} s)",
        run.throughput(),
        run.quantile_millis(0.5),
        run.quantile_millis(0.99),
        run.max_millis(),
        run.errors,
        run.requests,
        run.elapsed.as_secs_f64(),
    )
}
