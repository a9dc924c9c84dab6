//! PAKE through its public gRPC API, as a user reaches it: items written with `CreateItem`
//! (concurrently), the write's feed cursor waited for with `min_cursor`, queries answered by the
//! default `Search` (typo tolerance and prefix on, relevance order, no filters).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::Context;
use futures::{StreamExt, TryStreamExt};
use pake_api::knowledge::knowledge_service_client::KnowledgeServiceClient;
use pake_api::knowledge::{CreateItemRequest, Item};
use pake_api::search::SearchRequest;
use pake_api::search::search_service_client::SearchServiceClient;
use tonic::Code;
use tonic::transport::Channel;

use super::dataset::{Doc, EvalQuery};
use crate::scenarios::pake_server::SignedIn;

/// Prefix of the client-chosen item ids: Cranfield document `12` is `items/cran-12`.
pub const ITEM_ID_PREFIX: &str = "cran-";
/// Retries of a CreateItem answered UNAVAILABLE (safe to retry, with the same request id).
const MAX_RETRIES: u64 = 20;
/// How long to wait for the index to apply the last write.
const INDEX_WAIT: Duration = Duration::from_secs(600);

/// Title of the two documents whose title is empty (471 and 995; a title is required).
pub const EMPTY_TITLE: &str = "(untitled)";

/// A Cranfield document as a private note of the signed-in user: title, abstract as content.
pub fn doc_item(doc: &Doc) -> (String, Item) {
    let title = if doc.title.trim().is_empty() {
        EMPTY_TITLE.to_owned()
    } else {
        doc.title.clone()
    };
    (
        format!("{ITEM_ID_PREFIX}{}", doc.id),
        Item {
            title,
            content: doc.text.clone(),
            ..Item::default()
        },
    )
}

/// The Cranfield document id of an item name (`items/cran-12` → `12`).
pub fn doc_id(item_name: &str) -> &str {
    item_name
        .strip_prefix("items/")
        .and_then(|id| id.strip_prefix(ITEM_ID_PREFIX))
        .unwrap_or(item_name)
}

/// What loading wrote.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub items: usize,
    /// From the first request to the last acknowledgement.
    pub elapsed: Duration,
    /// The feed cursor of the last write (cursors compare in feed order as byte strings).
    pub last_cursor: String,
}

/// Creates `items` (client-chosen id, item) with `concurrency` CreateItem calls in flight.
pub async fn create_items(
    channel: &Channel,
    user: &SignedIn,
    items: Vec<(String, Item)>,
    concurrency: usize,
) -> anyhow::Result<Loaded> {
    let client = KnowledgeServiceClient::new(channel.clone());
    let started = Instant::now();
    let count = items.len();
    let cursors: Vec<String> = futures::stream::iter(items)
        .map(|(item_id, item)| {
            let mut client = client.clone();
            async move {
                let mut attempt = 0;
                loop {
                    // The request id makes a retry of a write that did happen return it.
                    let request = user.authorize(CreateItemRequest {
                        item: Some(item.clone()),
                        item_id: item_id.clone(),
                        request_id: format!("load-{item_id}"),
                    });
                    match client.create_item(request).await {
                        Ok(created) => {
                            return Ok::<_, anyhow::Error>(created.into_inner().feed_cursor);
                        }
                        Err(status)
                            if status.code() == Code::Unavailable && attempt < MAX_RETRIES =>
                        {
                            attempt += 1;
                            eprintln!("retrying {item_id} ({attempt}): {}", status.message());
                            tokio::time::sleep(Duration::from_millis(250 * attempt.min(8))).await;
                        }
                        Err(status) => {
                            return Err(status).with_context(|| format!("creating {item_id}"));
                        }
                    }
                }
            }
        })
        .buffer_unordered(concurrency.max(1))
        .try_collect()
        .await?;
    Ok(Loaded {
        items: count,
        elapsed: started.elapsed(),
        last_cursor: cursors.into_iter().max().unwrap_or_default(),
    })
}

/// Waits until Search answers with `min_cursor = cursor` (the index has applied it); returns how
/// long that took.
pub async fn wait_for_cursor(
    channel: &Channel,
    user: &SignedIn,
    cursor: &str,
) -> anyhow::Result<Duration> {
    let mut client = SearchServiceClient::new(channel.clone());
    let started = Instant::now();
    loop {
        let request = user.authorize(SearchRequest {
            page_size: 1,
            min_cursor: cursor.to_owned(),
            ..SearchRequest::default()
        });
        match client.search(request).await {
            Ok(_) => return Ok(started.elapsed()),
            Err(status) if status.code() == Code::Unavailable && started.elapsed() < INDEX_WAIT => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(status) => {
                return Err(status)
                    .with_context(|| format!("waiting for the index to apply cursor {cursor}"));
            }
        }
    }
}

/// Runs every query through `Search` (one page of `page_size`, everything else default) and
/// returns query id → document ids, best first.
pub async fn run_queries(
    channel: &Channel,
    user: &SignedIn,
    queries: &[EvalQuery],
    page_size: i32,
) -> anyhow::Result<BTreeMap<u32, Vec<String>>> {
    let mut client = SearchServiceClient::new(channel.clone());
    let mut rankings = BTreeMap::new();
    for query in queries {
        let request = user.authorize(SearchRequest {
            query: query.text.clone(),
            page_size,
            ..SearchRequest::default()
        });
        let response = client
            .search(request)
            .await
            .with_context(|| format!("query {}: {}", query.id, query.text))?
            .into_inner();
        let ids = response
            .results
            .iter()
            .map(|r| doc_id(&r.name).to_owned())
            .collect();
        rankings.insert(query.id, ids);
    }
    Ok(rankings)
}
