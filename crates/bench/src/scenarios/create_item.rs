//! `create-item`: CreateItem of new notes (the same ~600-byte markdown as `get-item` reads,
//! each with its own title) by one signed-in user, through the all-in-one server on the store
//! of `--store`. Each call is a write transaction: the item, its first revision, its links and
//! its change-feed event; the search service in the same process consumes the feed while the
//! clients write, as it does in production. Each response is checked to carry a name and a
//! feed cursor.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use pake_api::knowledge::CreateItemRequest;
use pake_api::knowledge::item::Visibility;
use pake_api::knowledge::knowledge_service_client::KnowledgeServiceClient;
use tonic::Status;
use tonic::transport::Channel;

use crate::load::Call;
use crate::options::Options;
use crate::scenarios::get_item::sample_item;
use crate::scenarios::pake_server::{ACCESS_TOKEN_TTL, PakeServer, SignedIn};
use crate::scenarios::{Scenario, connect};

/// The server and the user writing to it.
pub struct CreateItemScenario {
    server: PakeServer,
    user: SignedIn,
    next_index: Arc<AtomicUsize>,
}

impl CreateItemScenario {
    /// Starts PAKE on the chosen store and signs a user up and in.
    pub async fn prepare(options: &Options) -> anyhow::Result<Self> {
        let server = PakeServer::start_for(options).await?;
        let user = server.sign_up_and_in().await?;
        anyhow::ensure!(
            Instant::now() + options.warmup + options.duration <= user.expires_at,
            "the run would outlast the access token ({ACCESS_TOKEN_TTL:?}): shorten --warmup or \
             --duration"
        );
        Ok(CreateItemScenario {
            server,
            user,
            next_index: Arc::new(AtomicUsize::new(0)),
        })
    }

    /// The server's URL.
    pub fn server_url(&self) -> &str {
        &self.server.url
    }

    /// The signed-in user writing the notes.
    pub fn user(&self) -> &SignedIn {
        &self.user
    }

    /// `count` clients, each with its own connection.
    pub async fn clients(&self, count: usize) -> anyhow::Result<Vec<CreateItemCall>> {
        let mut clients = Vec::with_capacity(count);
        for _ in 0..count {
            clients.push(Scenario::client(self).await?);
        }
        Ok(clients)
    }
}

impl Scenario for CreateItemScenario {
    type Call = CreateItemCall;

    async fn client(&self) -> anyhow::Result<CreateItemCall> {
        Ok(CreateItemCall {
            client: KnowledgeServiceClient::new(connect(&self.server.url).await?),
            user: self.user.clone(),
            next_index: self.next_index.clone(),
        })
    }

    async fn stop(self) -> anyhow::Result<()> {
        self.server.stop().await
    }
}

/// One client creating notes back to back.
pub struct CreateItemCall {
    client: KnowledgeServiceClient<Channel>,
    user: SignedIn,
    next_index: Arc<AtomicUsize>,
}

impl Call for CreateItemCall {
    async fn call(&mut self) -> Result<(), Status> {
        let index = self.next_index.fetch_add(1, Ordering::Relaxed);
        let request = self.user.authorize(CreateItemRequest {
            item: Some(sample_item(index, Visibility::Unspecified)),
            ..CreateItemRequest::default()
        });
        let item = self.client.create_item(request).await?.into_inner();
        if item.name.is_empty() || item.feed_cursor.is_empty() {
            return Err(Status::internal(format!(
                "CreateItem answered without a name or feed cursor: {:?} {:?}",
                item.name, item.feed_cursor
            )));
        }
        Ok(())
    }
}
