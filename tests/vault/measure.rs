//! A measurement, not a test: imports a generated vault of 10,000 linked notes through the RPC
//! and prints notes per second for the first import and for the unchanged re-import, on SQLite
//! and (with PAKE_TEST_DATABASE_URL) PostgreSQL, one at a time. Run it in release:
//!
//! ```sh
//! cargo test --release --test vault -- --ignored --nocapture --test-threads 1 import_10k
//! ```

use std::time::Instant;

use pake_testkit::sign_up_and_in;

use super::support::{Backend, import, spawn};

const NOTES: usize = 10_000;

/// Note `n`: frontmatter, a heading, tags, two wikilinks and a markdown link to other notes.
fn vault() -> Vec<(String, Vec<u8>)> {
    (0..NOTES)
        .map(|n| {
            let text = format!(
                "---\ntags: [generated, group-{group}]\nsource_uri: https://example.org/{n}\n\
                 connections:\n  - \"[[Note {next}]]\"\nreviewed: 2024-01-01\n---\n\
                 # Note {n}\n\nSee [[Note {a}]] and [[Note {b}#Part|that part]], or \
                 [the next one](Note%20{next}.md).\n\n- a list item\n- #inline tag\n\n{filler}\n",
                group = n % 50,
                next = (n + 1) % NOTES,
                a = (n * 7 + 3) % NOTES,
                b = (n * 13 + 5) % NOTES,
                filler = "Lorem ipsum dolor sit amet. ".repeat(20),
            );
            (format!("Area {}/Note {n}.md", n % 20), text.into_bytes())
        })
        .collect()
}

/// What autovacuum does in production: PostgreSQL plans with statistics. The test server may
/// run without autovacuum, so the measurement analyses every 15 s (autovacuum's naptime is 60 s).
fn analyze_periodically(url: String) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        use sqlx::Connection;
        let Ok(mut connection) = sqlx::PgConnection::connect(&url).await else {
            return;
        };
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(15)).await;
            let _ = sqlx::query("ANALYZE").execute(&mut connection).await;
        }
    })
}

async fn measure(backend: Backend) {
    let Some((app, database)) = spawn(backend).await else {
        return;
    };
    let analyzer = database
        .as_ref()
        .map(|database| analyze_periodically(database.url.clone()));
    let user = sign_up_and_in(&app, "bench").await;
    let files = vault();
    let bytes: usize = files.iter().map(|(_, content)| content.len()).sum();
    let started = Instant::now();
    let first = import(&app, &user.access_token, "generated", &files).await;
    let elapsed = started.elapsed();
    assert_eq!(
        first.created_count as usize,
        NOTES,
        "{:?}",
        first.results.first()
    );
    let started = Instant::now();
    let again = import(&app, &user.access_token, "generated", &files).await;
    let unchanged = started.elapsed();
    assert_eq!(again.unchanged_count as usize, NOTES);
    if let Some(analyzer) = analyzer {
        analyzer.abort();
    }
    println!(
        "vault import on {backend:?}: {NOTES} notes ({:.1} MiB) in {:.2} s = {:.0} notes/s; \
         unchanged re-import {:.2} s = {:.0} notes/s",
        bytes as f64 / 1_048_576.0,
        elapsed.as_secs_f64(),
        NOTES as f64 / elapsed.as_secs_f64(),
        unchanged.as_secs_f64(),
        NOTES as f64 / unchanged.as_secs_f64(),
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: run it in release with --ignored --nocapture"]
async fn import_10k_notes_on_sqlite() {
    measure(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: run it in release with --ignored --nocapture"]
async fn import_10k_notes_on_postgres() {
    measure(Backend::Postgres).await;
}
