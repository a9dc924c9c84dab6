//! The search service's index on disk and its health as the composition root wires them.

use std::time::Duration;

use anyhow::Context;
use pake_runtime::Shutdown;

/// Reports search NOT_SERVING while its index is rebuilding or its change feed is unreachable.
pub(super) fn follow_search_health(
    health: tonic_health::server::HealthReporter,
    mut serving: tokio::sync::watch::Receiver<bool>,
    shutdown: Shutdown,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                changed = serving.changed() => if changed.is_err() { return },
                () = shutdown.cancelled() => return,
            }
            let status = if *serving.borrow_and_update() {
                tonic_health::ServingStatus::Serving
            } else {
                tonic_health::ServingStatus::NotServing
            };
            if shutdown.is_triggered() {
                return;
            }
            health
                .set_service_status(pake_api::service_names::SEARCH, status)
                .await;
        }
    })
}

/// Opens the index, wiping and recreating it when it is corrupt (it rebuilds from the feed).
/// How long start-up waits for the search index's writer lock: a restart (of the process, or of
/// the services in one process) can overlap the previous owner's last commit.
const INDEX_LOCK_WAIT: Duration = Duration::from_secs(10);

pub(super) async fn open_search_index(
    dir: &std::path::Path,
) -> anyhow::Result<pake_search::index::SearchIndex> {
    use pake_search::index::{Error, SearchIndex};
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let started = std::time::Instant::now();
    let mut opened = SearchIndex::open_in_dir(dir);
    if matches!(opened, Err(Error::Locked(_))) {
        tracing::info!(dir = %dir.display(), "search index is locked by its previous owner; waiting");
    }
    while matches!(opened, Err(Error::Locked(_))) && started.elapsed() < INDEX_LOCK_WAIT {
        tokio::time::sleep(Duration::from_millis(100)).await;
        opened = SearchIndex::open_in_dir(dir);
    }
    match opened {
        Ok(index) => Ok(index),
        Err(Error::Corrupt(reason)) => {
            tracing::warn!(%reason, dir = %dir.display(), "search index is corrupt; rebuilding it from the change feed");
            std::fs::remove_dir_all(dir).with_context(|| format!("removing {}", dir.display()))?;
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            Ok(SearchIndex::open_in_dir(dir)?)
        }
        Err(error) => {
            Err(error).with_context(|| format!("opening the search index in {}", dir.display()))
        }
    }
}
