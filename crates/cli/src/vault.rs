//! `pake import DIR` and `pake export DIR`: an Obsidian vault folder streamed through
//! `ImportItems` / `ExportItems` of a running server, with a progress bar on a terminal.
//!
//! Import sends every file under DIR in path order, except folders whose name starts with `.`
//! (`.obsidian/`, `.git/`: never sent); attachments are sent without their bytes (the server
//! only reports them SKIPPED). Notes over the 4 MiB limit fail locally rather than fail the
//! whole call; more than 10,000 files or 256 MiB go in several calls. It prints a line per
//! FAILED or SKIPPED file (and per warning), then the counts, and exits 1 when a file failed.
//! Export writes each file at its path under DIR, creating folders, replacing files of the
//! same path and leaving others alone.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use pake_api::knowledge::import_file_result::Outcome;
use pake_api::knowledge::import_items_request::Payload;
use pake_api::knowledge::item::Visibility;
use pake_api::knowledge::knowledge_service_client::KnowledgeServiceClient;
use pake_api::knowledge::{
    ExportItemsRequest, ImportItemsRequest, ImportItemsResponse, ImportOptions, VaultFile,
};
use tonic::transport::Channel;

use crate::remote::{RemoteArgs, Session, connect, status_error};

mod local;

use local::{LocalFile, LocalLines, batches, collect, folder_name};

/// `pake import` flags.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The vault's folder.
    pub dir: PathBuf,
    /// Name of the vault: importing again under the same name updates the notes of the earlier
    /// import instead of duplicating them (default: the folder's name).
    #[arg(long, value_name = "NAME")]
    pub vault_name: Option<String>,
    /// Visibility of new notes whose frontmatter has none.
    #[arg(long, value_enum, default_value_t = VisibilityArg::Private)]
    pub visibility: VisibilityArg,
    /// Report what would happen without writing anything.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub remote: RemoteArgs,
}

/// `--visibility` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum VisibilityArg {
    /// Only you (and admins).
    Private,
    /// Any signed-in user.
    Internal,
    /// Anyone.
    Public,
}

/// `pake export` flags.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// The folder to write the vault into (created if missing).
    pub dir: PathBuf,
    /// Export only the notes matching this ListItems filter, e.g. `owner = "users/me"`.
    #[arg(long, default_value = "", value_name = "FILTER")]
    pub filter: String,
    #[command(flatten)]
    pub remote: RemoteArgs,
}

/// Runs `pake import`; exit code 0, 1 when a file failed or the import did.
pub async fn run_import(args: ImportArgs) -> ExitCode {
    report(import(args).await)
}

/// Runs `pake export`.
pub async fn run_export(args: ExportArgs) -> ExitCode {
    report(export(args).await.map(|()| true))
}

fn report(result: anyhow::Result<bool>) -> ExitCode {
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(error) => {
            eprintln!("pake: {error:#}");
            ExitCode::from(1)
        }
    }
}

fn progress(length: Option<u64>, template: &str) -> ProgressBar {
    if !std::io::stdout().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = length.map_or_else(ProgressBar::new_spinner, ProgressBar::new);
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// Imports; `Ok(false)` when a file failed.
async fn import(args: ImportArgs) -> anyhow::Result<bool> {
    let vault_name = match &args.vault_name {
        Some(name) => name.clone(),
        None => folder_name(&args.dir)?,
    };
    let (files, local) = collect(&args.dir)?;
    let session = connect(&args.remote).await?;
    let bar = progress(
        Some(files.len() as u64),
        "{spinner} {bar:40} {pos}/{len} files {wide_msg}",
    );
    let options = ImportOptions {
        vault_name,
        dry_run: args.dry_run,
        visibility: match args.visibility {
            VisibilityArg::Private => Visibility::Private,
            VisibilityArg::Internal => Visibility::Internal,
            VisibilityArg::Public => Visibility::Public,
        } as i32,
    };
    let mut total = ImportItemsResponse::default();
    for batch in batches(&files) {
        let response = send(&session, &options, batch, &bar, &local).await?;
        total.created_count += response.created_count;
        total.updated_count += response.updated_count;
        total.unchanged_count += response.unchanged_count;
        total.skipped_count += response.skipped_count;
        total.failed_count += response.failed_count;
        total.results.extend(response.results);
    }
    bar.finish_and_clear();
    for result in &total.results {
        let outcome = Outcome::try_from(result.outcome).unwrap_or(Outcome::Unspecified);
        let shown =
            matches!(outcome, Outcome::Failed | Outcome::Skipped) || !result.message.is_empty();
        if shown {
            let label = outcome.as_str_name().trim_start_matches("OUTCOME_");
            println!("{label:<9} {}: {}", result.path, result.message);
        }
    }
    let local = std::mem::take(&mut *local.lock().map_err(|_| anyhow::anyhow!("poisoned"))?);
    let local_failed = local
        .iter()
        .filter(|(outcome, _)| *outcome == Outcome::Failed)
        .count();
    let local_skipped = local.len() - local_failed;
    for (outcome, line) in &local {
        let label = outcome.as_str_name().trim_start_matches("OUTCOME_");
        println!("{label:<9} {line}");
    }
    let failed = total.failed_count as usize + local_failed;
    println!(
        "{}created {}, updated {}, unchanged {}, skipped {}, failed {failed}",
        if args.dry_run { "dry run: " } else { "" },
        total.created_count,
        total.updated_count,
        total.unchanged_count,
        total.skipped_count as usize + local_skipped,
    );
    Ok(failed == 0)
}

/// One ImportItems call: options, then the batch's files, read as they are sent.
async fn send(
    session: &Session,
    options: &ImportOptions,
    batch: &[LocalFile],
    bar: &ProgressBar,
    local: &LocalLines,
) -> anyhow::Result<ImportItemsResponse> {
    let first = ImportItemsRequest {
        payload: Some(Payload::Options(options.clone())),
    };
    let (bar_files, bar_end, lines) = (bar.clone(), bar.clone(), local.clone());
    // Owned: the request stream outlives this call's borrow of `batch`.
    let owned: Vec<LocalFile> = batch.to_vec();
    let files = owned.into_iter().filter_map(move |file| {
        bar_files.inc(1);
        bar_files.set_message(file.path.clone());
        let content = if file.note {
            match std::fs::read(&file.full) {
                Ok(content) => content,
                Err(error) => {
                    if let Ok(mut lines) = lines.lock() {
                        lines.push((
                            Outcome::Failed,
                            format!("{}: reading it: {error}", file.path),
                        ));
                    }
                    return None;
                }
            }
        } else {
            Vec::new()
        };
        Some(ImportItemsRequest {
            payload: Some(Payload::File(VaultFile {
                path: file.path,
                content,
            })),
        })
    });
    let end = std::iter::once_with(move || -> Option<ImportItemsRequest> {
        bar_end.set_message("waiting for the server to import…");
        None
    })
    .flatten();
    let stream = tokio_stream::iter(std::iter::once(first).chain(files).chain(end));
    let response = client(session.channel.clone())
        .import_items(session.request(stream)?)
        .await
        .map_err(status_error)
        .context("importing")?;
    Ok(response.into_inner())
}

fn client(channel: Channel) -> KnowledgeServiceClient<Channel> {
    KnowledgeServiceClient::new(channel)
        .max_decoding_message_size(usize::MAX)
        .max_encoding_message_size(usize::MAX)
}

/// Exports into `args.dir`.
async fn export(args: ExportArgs) -> anyhow::Result<()> {
    let session = connect(&args.remote).await?;
    let request = session.request(ExportItemsRequest {
        filter: args.filter.clone(),
    })?;
    let mut stream = client(session.channel.clone())
        .export_items(request)
        .await
        .map_err(status_error)
        .context("exporting")?
        .into_inner();
    std::fs::create_dir_all(&args.dir).with_context(|| format!("{}", args.dir.display()))?;
    let bar = progress(None, "{spinner} {pos} files {wide_msg}");
    let mut count = 0_u64;
    while let Some(file) = stream
        .message()
        .await
        .map_err(status_error)
        .context("exporting")?
    {
        let target = args.dir.join(relative(&file.path)?);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("{}", parent.display()))?;
        }
        std::fs::write(&target, &file.content).with_context(|| format!("{}", target.display()))?;
        count += 1;
        bar.inc(1);
        bar.set_message(file.path);
    }
    bar.finish_and_clear();
    println!("exported {count} files to {}", args.dir.display());
    Ok(())
}

/// A server-sent path as a relative path, refusing anything that could leave the folder.
fn relative(path: &str) -> anyhow::Result<PathBuf> {
    let mut relative = PathBuf::new();
    for segment in path.split('/') {
        let clean = !segment.is_empty()
            && segment != "."
            && segment != ".."
            && !segment.contains(['\\', ':'])
            && !segment.chars().any(char::is_control);
        if !clean {
            bail!("the server sent an unsafe path: {path:?}");
        }
        relative.push(segment);
    }
    Ok(relative)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsafe_paths_are_refused() {
        assert_eq!(
            relative("a/b.md").expect("ok"),
            PathBuf::from("a").join("b.md")
        );
        for bad in ["/abs", "a/../b", "", "a//b", "c:/x", "a\\b", "./a"] {
            assert!(relative(bad).is_err(), "{bad}");
        }
    }
}
