//! Recording the SQL a release runs, for the expand/contract check (`compat/`, ADR 19).
//!
//! With `PAKE_RECORD_QUERIES=<file>` set, the store test suites append every distinct statement
//! they execute to `<file>` as JSON lines (`{"sql": "..."}`), read from sqlx's own statement
//! log (tracing target `sqlx::query`). `compat/record VERSION` runs the identity and knowledge
//! store suites once per backend with it and keeps the result as that release's queries; the
//! next release's test (`crates/testkit/tests/release_compat.rs`) prepares each of them against
//! the migrated schema. Schema changes (the migrations run by the suites), transaction control
//! and the migration history table are left out: they are not queries of the running release.
//! Without the variable this module does nothing.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::sync::{Mutex, Once};

use tracing::field::{Field, Visit};
use tracing::subscriber::Interest;
use tracing::{Event, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;

/// The variable naming the file statements are appended to.
pub const RECORD_QUERIES_ENV: &str = "PAKE_RECORD_QUERIES";

const SQLX_QUERY_TARGET: &str = "sqlx::query";

/// Installs the recorder as this process's subscriber when [`RECORD_QUERIES_ENV`] is set
/// (once; later calls do nothing). Panics when the file cannot be opened: a recording run that
/// silently records nothing would produce an empty release snapshot.
pub fn install_if_requested() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let Some(path) = std::env::var_os(RECORD_QUERIES_ENV) else {
            return;
        };
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .unwrap_or_else(|error| panic!("{RECORD_QUERIES_ENV}={path:?}: {error}"));
        let recorder = Recorder {
            state: Mutex::new((file, HashSet::new())),
        };
        if tracing_subscriber::registry()
            .with(recorder)
            .try_init()
            .is_err()
        {
            panic!("{RECORD_QUERIES_ENV} is set but another tracing subscriber is installed");
        }
    });
}

/// Whether `statement` is one of the release's queries (see the module documentation).
pub fn is_release_query(statement: &str) -> bool {
    let first = first_keyword(statement).to_ascii_uppercase();
    let schema_or_control = matches!(
        first.as_str(),
        "CREATE"
            | "ALTER"
            | "DROP"
            | "COMMENT"
            | "PRAGMA"
            | "BEGIN"
            | "COMMIT"
            | "ROLLBACK"
            | "SAVEPOINT"
            | "RELEASE"
            | "END"
            | "SET"
            | "LOCK"
            | "VACUUM"
    );
    !statement.trim().is_empty() && !schema_or_control && !statement.contains("_migrations")
}

/// The statement's first word, after any leading `--` and `/* */` comments (migration files
/// start with comments).
fn first_keyword(statement: &str) -> &str {
    let mut rest = statement;
    loop {
        rest = rest.trim_start();
        if let Some(after) = rest.strip_prefix("--") {
            rest = after.split_once('\n').map_or("", |(_, next)| next);
        } else if let Some(after) = rest.strip_prefix("/*") {
            rest = after.split_once("*/").map_or("", |(_, next)| next);
        } else {
            break;
        }
    }
    rest.split(|c: char| !c.is_ascii_alphabetic())
        .next()
        .unwrap_or_default()
}

struct Recorder {
    state: Mutex<(File, HashSet<String>)>,
}

impl<S: Subscriber> Layer<S> for Recorder {
    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        if metadata.target() == SQLX_QUERY_TARGET {
            Interest::always()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, metadata: &Metadata<'_>, _context: Context<'_, S>) -> bool {
        metadata.target() == SQLX_QUERY_TARGET
    }

    fn on_event(&self, event: &Event<'_>, _context: Context<'_, S>) {
        let mut fields = StatementFields::default();
        event.record(&mut fields);
        // sqlx logs the whole statement as `db.statement` unless it is its own four-word summary.
        let statement = match fields.statement.trim() {
            "" => fields.summary.trim().to_owned(),
            full => full.to_owned(),
        };
        if !is_release_query(&statement) {
            return;
        }
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        let (file, seen) = &mut *state;
        if !seen.insert(statement.clone()) {
            return;
        }
        let mut line = serde_json::json!({ "sql": statement }).to_string();
        line.push('\n');
        // One write per line on an O_APPEND file: concurrent recording processes do not interleave.
        if let Err(error) = file.write_all(line.as_bytes()) {
            panic!("{RECORD_QUERIES_ENV}: writing a statement: {error}");
        }
    }
}

#[derive(Default)]
struct StatementFields {
    summary: String,
    statement: String,
}

impl Visit for StatementFields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "summary" => value.clone_into(&mut self.summary),
            "db.statement" => value.clone_into(&mut self.statement),
            _ => {}
        }
    }

    fn record_debug(&mut self, _field: &Field, _value: &dyn std::fmt::Debug) {
        // sqlx 0.9 records both fields as strings. Were that to change, nothing is recorded here
        // (a Debug rendering would quote and escape the SQL) and release_compat.rs refuses the
        // then near-empty recording.
    }
}

#[cfg(test)]
mod tests {
    use super::is_release_query;

    #[test]
    fn schema_changes_and_transaction_control_are_not_release_queries() {
        assert!(is_release_query("SELECT id FROM items WHERE id = $1"));
        assert!(is_release_query(
            "  insert into users (id) values ($1) on conflict do nothing"
        ));
        assert!(!is_release_query("CREATE TABLE items (id TEXT)"));
        assert!(!is_release_query("alter table items add column x text"));
        assert!(!is_release_query("BEGIN IMMEDIATE"));
        assert!(!is_release_query("COMMIT"));
        assert!(!is_release_query("PRAGMA foreign_keys = ON"));
        assert!(!is_release_query(
            "SELECT version FROM _pake_identity_migrations ORDER BY version"
        ));
        assert!(!is_release_query("   "));
        assert!(!is_release_query(
            "-- users\n/* and sessions */\n\nCREATE TABLE users (id TEXT)"
        ));
        assert!(is_release_query("-- the newest first\nSELECT 1"));
    }
}
