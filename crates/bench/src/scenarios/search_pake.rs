//! PAKE's side of the `search` scenario: loading a corpus with concurrent `CreateItem`, rebuilding a
//! fresh index from the change feed with the service's own consumer, and the Search client.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use pake_api::knowledge::Item;
use pake_api::search::SearchRequest;
use pake_api::search::search_service_client::SearchServiceClient;
use pake_runtime::Shutdown;
use pake_search::consumer::FeedConsumer;
use pake_search::index::SearchIndex;
use pake_search::progress::Progress;
use tonic::Status;
use tonic::transport::Channel;

use crate::load::Call;
use crate::scenarios::pake_server::SignedIn;
use crate::scenarios::search_corpus::Note;

/// CreateItem calls in flight while loading (ImportItems measured about 40 notes/s here, too
/// slow for 100,000 notes; see docs/search.md).
const LOAD_CONCURRENCY: usize = 8;
/// How long a rebuild from the feed may take.
const REBUILD_LIMIT: Duration = Duration::from_secs(1800);

/// What loading a corpus took.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// Concurrent CreateItem calls, first request to last acknowledgement.
    pub load: Duration,
    /// From the last acknowledgement until Search had applied the last write's cursor.
    pub index_lag: Duration,
    pub last_cursor: String,
}

/// Creates `notes` with concurrent CreateItem calls (client-chosen ids) and waits for the index
/// to apply the last write.
pub async fn load(channel: &Channel, user: &SignedIn, notes: &[Note]) -> anyhow::Result<Loaded> {
    let items = notes
        .iter()
        .map(|note| {
            let item = Item {
                title: note.title.clone(),
                content: note.content.clone(),
                ..Item::default()
            };
            (note.id.clone(), item)
        })
        .collect();
    let loaded = crate::eval::api::create_items(channel, user, items, LOAD_CONCURRENCY).await?;
    let index_lag = crate::eval::api::wait_for_cursor(channel, user, &loaded.last_cursor).await?;
    Ok(Loaded {
        load: loaded.elapsed,
        index_lag,
        last_cursor: loaded.last_cursor,
    })
}

/// The signed-in user's token, as the source of the consumer's feed credentials.
#[derive(Debug)]
struct UserToken(String);

#[async_trait::async_trait]
impl pake_core::token::ServiceTokenSource for UserToken {
    async fn token(&self) -> Result<String, pake_core::Error> {
        Ok(self.0.clone())
    }
}

/// Builds a fresh index in a temporary directory from a SNAPSHOT of the feed at `url` with the
/// search service's own [`FeedConsumer`] (as a replica with an empty index does), until it has
/// applied `last_cursor`; returns the time taken and the documents indexed.
pub async fn rebuild_from_feed(
    url: &str,
    user: &SignedIn,
    last_cursor: &str,
) -> anyhow::Result<(Duration, u64)> {
    let dir = tempfile::tempdir().context("creating the rebuild's index dir")?;
    let index = SearchIndex::open_in_dir(dir.path())?;
    let (applied, mut watch) = tokio::sync::watch::channel(String::new());
    let shutdown = Shutdown::new();
    let consumer = FeedConsumer::new(
        index.clone(),
        url,
        Arc::new(UserToken(user.access_token.clone())),
        applied,
        Progress::default(),
        shutdown.clone(),
    )?;
    let started = Instant::now();
    let task = consumer.spawn();
    let reached = tokio::time::timeout(
        REBUILD_LIMIT,
        watch.wait_for(|cursor| cursor.as_str() >= last_cursor),
    )
    .await;
    let elapsed = started.elapsed();
    shutdown.trigger();
    task.await.context("the feed consumer panicked")?;
    reached
        .context("the rebuild from the feed did not finish in time")?
        .context("the feed consumer stopped")?;
    Ok((elapsed, index.num_docs()))
}

/// Mean results on the first page (of 10) and mean total matches over `queries`, asked once
/// each (which also warms the index up).
pub async fn mean_hits(
    channel: &Channel,
    user: &SignedIn,
    queries: &[String],
) -> anyhow::Result<(f64, f64)> {
    let mut client = SearchServiceClient::new(channel.clone());
    let (mut shown, mut total) = (0u64, 0u64);
    for query in queries {
        let request = user.authorize(SearchRequest {
            query: query.clone(),
            page_size: 10,
            ..SearchRequest::default()
        });
        let response = client
            .search(request)
            .await
            .with_context(|| format!("searching {query:?}"))?
            .into_inner();
        shown += response.results.len() as u64;
        total += u64::try_from(response.total_size).unwrap_or(0);
    }
    let n = queries.len().max(1) as f64;
    Ok((shown as f64 / n, total as f64 / n))
}

/// One client searching the corpus's queries in turn (each client from its own offset): one
/// page of 10 results as the signed-in user.
pub struct PakeSearchCall {
    client: SearchServiceClient<Channel>,
    user: SignedIn,
    queries: Arc<[String]>,
    next: usize,
}

impl PakeSearchCall {
    /// A client with its own connection to `url`, starting at query `start`.
    pub async fn connect(
        url: &str,
        user: &SignedIn,
        queries: Arc<[String]>,
        start: usize,
    ) -> anyhow::Result<Self> {
        Ok(PakeSearchCall {
            client: SearchServiceClient::new(crate::scenarios::connect(url).await?),
            user: user.clone(),
            queries,
            next: start,
        })
    }
}

impl Call for PakeSearchCall {
    async fn call(&mut self) -> Result<(), Status> {
        let query = &self.queries[self.next % self.queries.len()];
        self.next += 1;
        let request = self.user.authorize(SearchRequest {
            query: query.clone(),
            page_size: 10,
            ..SearchRequest::default()
        });
        self.client.search(request).await?;
        Ok(())
    }
}
