//! `get-item`: GetItem on items chosen at random among the signed-in user's own items, through
//! the all-in-one server: authentication (token verification), the knowledge service, SQLite.
//! Each response is checked to be the item asked for. Other scenarios reuse its preparation and
//! clients (`verify-token` reads public items anonymously too).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use futures::{StreamExt, TryStreamExt};
use pake_api::knowledge::item::Visibility;
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

/// Whether a GetItem client presents the user's token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Credentials {
    /// `authorization: Bearer <the user's access token>`.
    Token,
    /// No `authorization` metadata (only public items are readable).
    Anonymous,
}

impl GetItemScenario {
    /// Starts PAKE, signs a user up and in, creates `options.items` items and waits until the
    /// search index has applied them, so that no indexing runs while measuring.
    pub async fn prepare(options: &Options) -> anyhow::Result<Self> {
        let server = PakeServer::start_for(options).await?;
        let run_time = options.warmup + options.duration;
        Self::prepare_on(server, options, Visibility::Unspecified, run_time).await
    }

    /// Prepares the user and `options.items` items of `visibility` on a started `server`, whose
    /// measurements will take `run_time` in all (the user's token must outlast them).
    pub async fn prepare_on(
        server: PakeServer,
        options: &Options,
        visibility: Visibility,
        run_time: Duration,
    ) -> anyhow::Result<Self> {
        anyhow::ensure!(options.items > 0, "--items must be at least 1 for get-item");
        let user = server.sign_up_and_in().await?;
        let channel = connect(&server.url).await?;
        let items = create_items(&channel, &user, options.items, visibility).await?;
        let response_bytes = items.first().map(prost::Message::encoded_len);
        eprintln!(
            "created {} items (a GetItem response is about {} bytes)",
            items.len(),
            response_bytes.unwrap_or(0)
        );
        wait_until_indexed(&channel, &user, &items).await?;
        anyhow::ensure!(
            Instant::now() + run_time + TOKEN_MARGIN <= user.expires_at,
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

    /// The server under test.
    pub fn server(&self) -> &PakeServer {
        &self.server
    }

    /// The names of the items.
    pub fn names(&self) -> Arc<[String]> {
        self.names.clone()
    }

    /// The signed-in user owning the items.
    pub fn user(&self) -> &SignedIn {
        &self.user
    }

    /// A client with its own connection, reading random items with `credentials`.
    pub async fn client_with(&self, credentials: Credentials) -> anyhow::Result<GetItemCall> {
        Ok(GetItemCall {
            client: KnowledgeServiceClient::new(connect(&self.server.url).await?),
            user: (credentials == Credentials::Token).then(|| self.user.clone()),
            names: self.names.clone(),
        })
    }

    /// `count` clients with `credentials`.
    pub async fn clients(
        &self,
        count: usize,
        credentials: Credentials,
    ) -> anyhow::Result<Vec<GetItemCall>> {
        let mut clients = Vec::with_capacity(count);
        for _ in 0..count {
            clients.push(self.client_with(credentials).await?);
        }
        Ok(clients)
    }
}

impl Scenario for GetItemScenario {
    type Call = GetItemCall;

    async fn client(&self) -> anyhow::Result<GetItemCall> {
        self.client_with(Credentials::Token).await
    }

    async fn stop(self) -> anyhow::Result<()> {
        self.server.stop().await
    }
}

/// One client reading random items, as the user or anonymously.
pub struct GetItemCall {
    client: KnowledgeServiceClient<Channel>,
    user: Option<SignedIn>,
    names: Arc<[String]>,
}

impl Call for GetItemCall {
    async fn call(&mut self) -> Result<(), Status> {
        let index = rand::thread_rng().gen_range(0..self.names.len());
        let name = &self.names[index];
        let message = GetItemRequest { name: name.clone() };
        let request = match &self.user {
            Some(user) => user.authorize(message),
            None => tonic::Request::new(message),
        };
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
    visibility: Visibility,
) -> anyhow::Result<Vec<Item>> {
    let client = KnowledgeServiceClient::new(channel.clone());
    futures::stream::iter(0..count)
        .map(|index| {
            let mut client = client.clone();
            let request = user.authorize(CreateItemRequest {
                item: Some(sample_item(index, visibility)),
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

pub(crate) fn sample_item(index: usize, visibility: Visibility) -> Item {
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
        visibility: visibility as i32,
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
