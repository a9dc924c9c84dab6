//! `get-item`: GetItem on items chosen at random among the signed-in user's own items, through
//! the all-in-one server: authentication (token verification), the knowledge service, SQLite.
//! Each response is checked to be the item asked for.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use futures::{StreamExt, TryStreamExt};
use pake_api::knowledge::knowledge_service_client::KnowledgeServiceClient;
use pake_api::knowledge::{CreateItemRequest, GetItemRequest, Item};
use pake_api::search::SearchRequest;
use pake_api::search::search_service_client::SearchServiceClient;
use rand::Rng;
use tonic::transport::Channel;
use tonic::{Code, Status};

use crate::load::Call;
use crate::options::Options;
use crate::scenarios::pake_server::{PakeServer, SignedIn};
use crate::scenarios::{Scenario, connect};

/// Items created (and index waits) at once while preparing.
const SETUP_CONCURRENCY: usize = 8;
/// How long preparing may wait for the search index to apply the created items.
const INDEX_WAIT: Duration = Duration::from_secs(120);
/// Time the token must still be valid for after the run, for setup and stragglers.
const TOKEN_MARGIN: Duration = Duration::from_secs(30);

/// The server with the user and their items.
pub struct GetItemScenario {
    server: PakeServer,
    user: SignedIn,
    names: Arc<[String]>,
}

impl GetItemScenario {
    /// Starts PAKE, signs a user up and in, creates `options.items` items and waits until the
    /// search index has applied them, so that no indexing runs while measuring.
    pub async fn prepare(options: &Options) -> anyhow::Result<Self> {
        anyhow::ensure!(options.items > 0, "--items must be at least 1 for get-item");
        let server = PakeServer::start().await?;
        let user = server.sign_up_and_in().await?;
        let channel = connect(&server.url).await?;
        let items = create_items(&channel, &user, options.items).await?;
        let response_bytes = items.first().map(prost::Message::encoded_len);
        eprintln!(
            "created {} items (a GetItem response is about {} bytes)",
            items.len(),
            response_bytes.unwrap_or(0)
        );
        wait_until_indexed(&channel, &user, &items).await?;
        let run_ends = Instant::now() + options.warmup + options.duration + TOKEN_MARGIN;
        anyhow::ensure!(
            run_ends <= user.expires_at,
            "the run would outlast the access token ({:?}): shorten --warmup or --duration",
            crate::scenarios::pake_server::ACCESS_TOKEN_TTL
        );
        let names = items.into_iter().map(|item| item.name).collect();
        Ok(GetItemScenario {
            server,
            user,
            names,
        })
    }
}

impl Scenario for GetItemScenario {
    type Call = GetItemCall;

    async fn client(&self) -> anyhow::Result<GetItemCall> {
        Ok(GetItemCall {
            client: KnowledgeServiceClient::new(connect(&self.server.url).await?),
            user: self.user.clone(),
            names: self.names.clone(),
        })
    }

    async fn stop(self) -> anyhow::Result<()> {
        self.server.stop().await
    }
}

/// One client reading random items.
pub struct GetItemCall {
    client: KnowledgeServiceClient<Channel>,
    user: SignedIn,
    names: Arc<[String]>,
}

impl Call for GetItemCall {
    async fn call(&mut self) -> Result<(), Status> {
        let index = rand::thread_rng().gen_range(0..self.names.len());
        let name = &self.names[index];
        let request = self.user.authorize(GetItemRequest { name: name.clone() });
        let item = self.client.get_item(request).await?.into_inner();
        if item.name != *name {
            return Err(Status::internal(format!(
                "GetItem {name} answered with {}",
                item.name
            )));
        }
        Ok(())
    }
}

/// Creates `count` notes of a few hundred bytes of markdown with two tags each.
async fn create_items(
    channel: &Channel,
    user: &SignedIn,
    count: usize,
) -> anyhow::Result<Vec<Item>> {
    let client = KnowledgeServiceClient::new(channel.clone());
    futures::stream::iter(0..count)
        .map(|index| {
            let mut client = client.clone();
            let request = user.authorize(CreateItemRequest {
                item: Some(sample_item(index)),
                ..CreateItemRequest::default()
            });
            async move {
                let created = client.create_item(request).await;
                created
                    .map(tonic::Response::into_inner)
                    .with_context(|| format!("creating item {index}"))
            }
        })
        .buffer_unordered(SETUP_CONCURRENCY)
        .try_collect()
        .await
}

fn sample_item(index: usize) -> Item {
    Item {
        title: format!("Benchmark note {index}"),
        content: format!(
            "# Benchmark note {index}\n\n\
             A note of ordinary size, so that GetItem reads and sends what a real one would: a \
             heading, a paragraph, a short list and a couple of tags.\n\n\
             - the first point about note {index}\n\
             - a second point, with *emphasis* and `code`\n\
             - a third point that links nowhere\n\n\
             Closing paragraph: knowledge items are markdown with frontmatter fields kept as \
             message fields; this one exists only to be read back. #bench\n"
        ),
        tags: vec!["bench".to_owned(), format!("bench/group-{}", index % 10)],
        ..Item::default()
    }
}

/// Waits until the search index has applied every created item (Search with each item's
/// `feed_cursor` as `min_cursor`; the server waits up to 5 s per call, then UNAVAILABLE).
async fn wait_until_indexed(
    channel: &Channel,
    user: &SignedIn,
    items: &[Item],
) -> anyhow::Result<()> {
    let client = SearchServiceClient::new(channel.clone());
    let give_up_at = Instant::now() + INDEX_WAIT;
    futures::stream::iter(items)
        .map(|item| {
            let mut client = client.clone();
            async move {
                loop {
                    let request = user.authorize(SearchRequest {
                        page_size: 1,
                        min_cursor: item.feed_cursor.clone(),
                        ..SearchRequest::default()
                    });
                    match client.search(request).await {
                        Ok(_) => return Ok(()),
                        Err(status)
                            if status.code() == Code::Unavailable
                                && Instant::now() < give_up_at =>
                        {
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                        Err(status) => {
                            return Err(status).with_context(|| {
                                format!("waiting for the search index to apply {}", item.name)
                            });
                        }
                    }
                }
            }
        })
        .buffer_unordered(SETUP_CONCURRENCY)
        .try_collect::<()>()
        .await
}
