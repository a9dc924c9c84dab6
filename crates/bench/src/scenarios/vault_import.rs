//! `vault-import`: a generated Obsidian vault of `--notes` linked notes (default 10,000)
//! streamed through `ImportItems` as `pake import` sends it (at most 10,000 files a call), on the
//! store of `--store`: notes per second for the first import (every note created, every link
//! resolved) and for an unchanged re-import (every note compared, nothing written).
//!
//! PostgreSQL plans with statistics that autovacuum keeps up to date; a server without
//! autovacuum (this machine's has it off) would plan the growing tables as empty, so with
//! `--store postgres` the run analyses the database every 15 s, as autovacuum's ANALYZE would
//! (docs/operations.md: run `ANALYZE` after bulk loads).

use std::io::{self, Write};
use std::time::{Duration, Instant};

use anyhow::Context;
use pake_api::knowledge::import_items_request::Payload;
use pake_api::knowledge::knowledge_service_client::KnowledgeServiceClient;
use pake_api::knowledge::{ImportItemsRequest, ImportItemsResponse, ImportOptions, VaultFile};

use crate::machine::Machine;
use crate::options::Options;
use crate::report::{self, Summary};
use crate::scenarios::connect;
use crate::scenarios::pake_server::{PakeServer, SignedIn};

/// Files per ImportItems call, as `pake import` batches them.
const FILES_PER_CALL: usize = 10_000;
/// How often the PostgreSQL database is analysed during the imports.
const ANALYZE_EVERY: Duration = Duration::from_secs(15);

/// The two imports of one run.
#[derive(Debug)]
pub struct VaultImportReport {
    options: Options,
    machine: Machine,
    date: String,
    /// Notes and their total size in bytes.
    pub notes: usize,
    bytes: usize,
    /// The first import: every note created.
    pub first: Duration,
    /// The unchanged re-import.
    pub again: Duration,
}

/// Generates the vault, imports it twice and checks the counts of each import.
pub async fn run(options: &Options) -> anyhow::Result<VaultImportReport> {
    let files = vault(options.notes);
    let bytes = files.iter().map(|(_, content)| content.len()).sum();
    let server = PakeServer::start_for(options).await?;
    let measured = measure(&server, &files).await;
    server.stop().await?;
    let (first, again) = measured?;
    Ok(VaultImportReport {
        options: options.clone(),
        machine: Machine::detect(),
        date: report::today(),
        notes: files.len(),
        bytes,
        first,
        again,
    })
}

async fn measure(
    server: &PakeServer,
    files: &[(String, Vec<u8>)],
) -> anyhow::Result<(Duration, Duration)> {
    let user = server.sign_up_and_in().await?;
    let analyzer = server
        .postgres_url()
        .map(|url| analyze_periodically(url.to_owned()));
    eprintln!("importing {} generated notes", files.len());
    let started = Instant::now();
    let first = import(server, &user, files).await;
    let first_took = started.elapsed();
    eprintln!("importing them again, unchanged");
    let started = Instant::now();
    let again = import(server, &user, files).await;
    let again_took = started.elapsed();
    if let Some(analyzer) = analyzer {
        analyzer.abort();
    }
    let (first, again) = (first?, again?);
    anyhow::ensure!(
        first.created_count as usize == files.len() && first.failed_count == 0,
        "the first import created {} of {} notes ({} failed; first result: {:?})",
        first.created_count,
        files.len(),
        first.failed_count,
        first.results.first()
    );
    anyhow::ensure!(
        again.unchanged_count as usize == files.len(),
        "the re-import left {} of {} notes unchanged (created {}, updated {})",
        again.unchanged_count,
        files.len(),
        again.created_count,
        again.updated_count
    );
    Ok((first_took, again_took))
}

/// ImportItems of `files` as the vault `generated`, in calls of [`FILES_PER_CALL`] files;
/// the counts summed.
async fn import(
    server: &PakeServer,
    user: &SignedIn,
    files: &[(String, Vec<u8>)],
) -> anyhow::Result<ImportItemsResponse> {
    let mut client = KnowledgeServiceClient::new(connect(&server.url).await?)
        .max_decoding_message_size(usize::MAX)
        .max_encoding_message_size(usize::MAX);
    let mut total = ImportItemsResponse::default();
    for batch in files.chunks(FILES_PER_CALL) {
        let options = ImportItemsRequest {
            payload: Some(Payload::Options(ImportOptions {
                vault_name: "generated".to_owned(),
                ..ImportOptions::default()
            })),
        };
        let messages: Vec<ImportItemsRequest> = std::iter::once(options)
            .chain(batch.iter().map(|(path, content)| ImportItemsRequest {
                payload: Some(Payload::File(VaultFile {
                    path: path.clone(),
                    content: content.clone(),
                })),
            }))
            .collect();
        let response = client
            .import_items(user.authorize(tokio_stream::iter(messages)))
            .await
            .context("ImportItems")?
            .into_inner();
        total.created_count += response.created_count;
        total.updated_count += response.updated_count;
        total.unchanged_count += response.unchanged_count;
        total.failed_count += response.failed_count;
        total.results.extend(response.results);
    }
    Ok(total)
}

/// Note `n` of `count`: frontmatter, a heading, tags, two wikilinks (one to a heading, with an
/// alias) and a markdown link to other notes, and a paragraph; in 20 folders.
pub fn vault(count: usize) -> Vec<(String, Vec<u8>)> {
    (0..count)
        .map(|n| {
            let text = format!(
                "---\ntags: [generated, group-{group}]\nsource_uri: https://example.org/{n}\n\
                 connections:\n  - \"[[Note {next}]]\"\nreviewed: 2024-01-01\n---\n\
                 # Note {n}\n\nSee [[Note {a}]] and [[Note {b}#Part|that part]], or \
                 [the next one](Note%20{next}.md).\n\n- a list item\n- #inline tag\n\n{filler}\n",
                group = n % 50,
                next = (n + 1) % count,
                a = (n * 7 + 3) % count,
                b = (n * 13 + 5) % count,
                filler = "Lorem ipsum dolor sit amet. ".repeat(20),
            );
            (format!("Area {}/Note {n}.md", n % 20), text.into_bytes())
        })
        .collect()
}

/// Runs `ANALYZE` on the database every [`ANALYZE_EVERY`] until aborted.
fn analyze_periodically(url: String) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        use sqlx::Connection;
        let Ok(mut connection) = sqlx::PgConnection::connect(&url).await else {
            return;
        };
        loop {
            tokio::time::sleep(ANALYZE_EVERY).await;
            let _ = sqlx::query("ANALYZE").execute(&mut connection).await;
        }
    })
}

fn per_second(notes: usize, took: Duration) -> f64 {
    notes as f64 / took.as_secs_f64().max(f64::EPSILON)
}

impl Summary for VaultImportReport {
    fn print(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(
            out,
            "vault-import: {} notes ({:.1} MiB) on {}, one user, {} notes per ImportItems call",
            self.notes,
            self.bytes as f64 / 1_048_576.0,
            self.options.store.name(),
            FILES_PER_CALL
        )?;
        let rows = [
            ("first import (all created)", self.first),
            ("re-import (all unchanged)", self.again),
        ]
        .map(|(label, took)| {
            vec![
                self.date.clone(),
                format!("vault-import, {label}"),
                self.options.store.name().to_owned(),
                self.notes.to_string(),
                format!("{:.2}", took.as_secs_f64()),
                format!("{:.0}", per_second(self.notes, took)),
                self.machine.summary(),
            ]
        });
        let header = [
            "date", "scenario", "store", "notes", "seconds", "notes/s", "machine",
        ];
        report::table(out, &header, &[0, 1, 2, 6], &rows)
    }

    fn failure_lines(&self) -> Vec<String> {
        Vec::new()
    }
}
