//! The gRPC adapter of the knowledge service. Methods not implemented yet answer UNIMPLEMENTED
//! through the generated default bodies and are listed in `UNIMPLEMENTED.md`.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use pake_api::knowledge::knowledge_service_server::{self, KnowledgeServiceServer};
use pake_api::knowledge::{
    BatchGetItemsRequest, BatchGetItemsResponse, CreateItemRequest, DeleteItemRequest,
    GetItemGraphRequest, GetItemRequest, GetItemRevisionRequest, GetItemStatsRequest, Item,
    ItemEvent, ItemGraph, ItemRevision, ItemStats, ListBacklinksRequest, ListBacklinksResponse,
    ListItemRevisionsRequest, ListItemRevisionsResponse, ListItemsRequest, ListItemsResponse,
    UndeleteItemRequest, UpdateItemRequest, VerifyItemRequest, WatchItemsRequest,
};
use pake_core::Error;
use pake_core::auth::Caller;
use pake_runtime::Shutdown;
use pake_runtime::auth::{caller, principal};
use pake_runtime::db::{now_micros, timestamp};
use tonic::{Request, Response, Status};

use crate::feed::FeedSignal;
use crate::model::{self, can_read_item, item_id_from_name, limits, valid_item_id};
use crate::store::{Created, ItemStore};

const REQUEST_ID_WINDOW: Duration = Duration::from_secs(24 * 3600);
/// Largest request message: a 4 MiB VaultFile with its path and framing.
const MAX_REQUEST_MESSAGE: usize = 4 * 1024 * 1024 + 16 * 1024;

/// `pake.knowledge.v1.KnowledgeService`.
#[derive(Clone, Debug)]
pub struct KnowledgeService {
    pub(crate) store: Arc<dyn ItemStore>,
    pub(crate) feed: FeedSignal,
    pub(crate) shutdown: Shutdown,
    pub(crate) retention: crate::purge::Retention,
}

impl KnowledgeService {
    /// A service over `store`; open feed streams end when `shutdown` fires.
    pub fn new(store: Arc<dyn ItemStore>, shutdown: Shutdown) -> Self {
        KnowledgeService {
            store,
            feed: FeedSignal::default(),
            shutdown,
            retention: crate::purge::Retention::default(),
        }
    }

    /// The service with the retention settings of `config` (purge of deleted items, feed
    /// history).
    pub fn with_retention(mut self, config: &pake_core::config::KnowledgeConfig) -> Self {
        self.retention = crate::purge::Retention::of(config);
        self
    }

    /// The tonic server for this service.
    pub fn into_server(self) -> KnowledgeServiceServer<Self> {
        // An ImportItems message carries a file of up to 4 MiB plus its path: above tonic's
        // default 4 MiB decoding limit.
        KnowledgeServiceServer::new(self).max_decoding_message_size(MAX_REQUEST_MESSAGE)
    }

    async fn create_item(
        &self,
        caller: &Caller,
        request: CreateItemRequest,
    ) -> Result<Item, Error> {
        let principal = match caller {
            Caller::Authenticated(principal) => principal,
            Caller::Anonymous => return Err(Error::unauthenticated("authorization: required")),
        };
        if !principal.can_create_items() {
            return Err(Error::permission_denied(
                "creating items needs the editor or admin role",
            ));
        }
        if request.request_id.len() > limits::REQUEST_ID {
            return Err(Error::invalid_field(
                "request_id",
                "must be at most 64 bytes",
            ));
        }
        let id = if request.item_id.is_empty() {
            uuid::Uuid::now_v7().to_string()
        } else if valid_item_id(&request.item_id) {
            request.item_id.clone()
        } else {
            return Err(Error::invalid_field(
                "item_id",
                "must be 1 to 63 characters of a-z, 0-9 and '-', not starting or ending with '-'",
            ));
        };
        let mut item = request
            .item
            .ok_or_else(|| Error::invalid_field("item", "is required"))?;
        model::validate_and_complete(&mut item)?;
        self.check_links_readable(caller, &item.links, &[]).await?;
        let now = now_micros();
        item.name = format!("items/{id}");
        item.owner = principal.subject.clone();
        item.create_time = Some(timestamp(now));
        item.update_time = Some(timestamp(now));
        item.delete_time = None;
        item.expire_time = None;
        item.human_notes = String::new();
        item.derived_links = Vec::new();
        item.etag = etag(1);
        item.revision_id = "1".to_owned();
        let since = now - REQUEST_ID_WINDOW.as_micros() as i64;
        let request_key = (!request.request_id.is_empty()).then_some((
            principal.subject.as_str(),
            request.request_id.as_str(),
            since,
        ));
        let item = match self
            .store
            .create(item, &principal.subject, request_key)
            .await?
        {
            Created::New(item) => {
                if let Ok(position) = crate::feed::decode_cursor(&item.feed_cursor, "feed_cursor") {
                    self.feed.notify(position);
                }
                item
            }
            Created::Replayed(item) => item,
        };
        self.present_one(caller, item).await
    }

    /// The stored item `name` if `caller` may read it (as stored: see `present` for responses).
    /// Explicit links must name items the writer may read (`known` are accepted unchecked: links
    /// the item already had).
    pub(crate) async fn check_links_readable(
        &self,
        caller: &Caller,
        links: &[String],
        known: &[String],
    ) -> Result<(), Error> {
        for (index, link) in links.iter().enumerate() {
            if known.contains(link) {
                continue;
            }
            let target_id = item_id_from_name(link, &format!("item.links[{index}]"))?;
            let readable = self
                .store
                .get(target_id)
                .await?
                .is_some_and(|target| can_read_item(caller, &target));
            if !readable {
                return Err(Error::invalid_field(
                    format!("item.links[{index}]"),
                    "is not an item you can read",
                ));
            }
        }
        Ok(())
    }

    pub(crate) async fn get_item(&self, caller: &Caller, name: &str) -> Result<Item, Error> {
        let id = item_id_from_name(name, "name")?;
        let item = self
            .store
            .get(id)
            .await?
            .filter(|item| can_read_item(caller, item))
            .ok_or_else(|| Error::not_found(name).with_reason("ITEM_NOT_FOUND"))?;
        Ok(item)
    }
}

/// The etag of a revision (AIP-154).
pub(crate) fn etag(revision: i64) -> String {
    format!("\"{revision}\"")
}

type EventStream = Pin<Box<dyn tokio_stream::Stream<Item = Result<ItemEvent, Status>> + Send>>;

#[tonic::async_trait]
impl knowledge_service_server::KnowledgeService for KnowledgeService {
    async fn create_item(
        &self,
        request: Request<CreateItemRequest>,
    ) -> Result<Response<Item>, Status> {
        let caller = caller(&request);
        Ok(Response::new(
            self.create_item(&caller, request.into_inner()).await?,
        ))
    }

    async fn get_item(&self, request: Request<GetItemRequest>) -> Result<Response<Item>, Status> {
        let caller = caller(&request);
        let item = self.get_item(&caller, &request.get_ref().name).await?;
        Ok(Response::new(self.present_one(&caller, item).await?))
    }

    async fn list_items(
        &self,
        request: Request<ListItemsRequest>,
    ) -> Result<Response<ListItemsResponse>, Status> {
        let caller = caller(&request);
        Ok(Response::new(
            self.list_items(&caller, request.into_inner()).await?,
        ))
    }

    async fn batch_get_items(
        &self,
        request: Request<BatchGetItemsRequest>,
    ) -> Result<Response<BatchGetItemsResponse>, Status> {
        let caller = caller(&request);
        Ok(Response::new(
            self.batch_get_items(&caller, request.into_inner()).await?,
        ))
    }

    async fn update_item(
        &self,
        request: Request<UpdateItemRequest>,
    ) -> Result<Response<Item>, Status> {
        let caller = caller(&request);
        Ok(Response::new(
            self.update_item(&caller, request.into_inner()).await?,
        ))
    }

    async fn delete_item(
        &self,
        request: Request<DeleteItemRequest>,
    ) -> Result<Response<Item>, Status> {
        let caller = caller(&request);
        Ok(Response::new(
            self.delete_item(&caller, request.into_inner()).await?,
        ))
    }

    async fn undelete_item(
        &self,
        request: Request<UndeleteItemRequest>,
    ) -> Result<Response<Item>, Status> {
        let caller = caller(&request);
        Ok(Response::new(
            self.undelete_item(&caller, request.into_inner()).await?,
        ))
    }

    async fn verify_item(
        &self,
        request: Request<VerifyItemRequest>,
    ) -> Result<Response<Item>, Status> {
        let caller = caller(&request);
        Ok(Response::new(
            self.verify_item(&caller, request.into_inner()).await?,
        ))
    }

    async fn purge_items(
        &self,
        request: Request<pake_api::knowledge::PurgeItemsRequest>,
    ) -> Result<Response<pake_api::knowledge::PurgeItemsResponse>, Status> {
        let principal = principal(&request)?;
        Ok(Response::new(
            self.purge_items(&principal, request.into_inner()).await?,
        ))
    }

    async fn dispose_owner_items(
        &self,
        request: Request<pake_api::knowledge::DisposeOwnerItemsRequest>,
    ) -> Result<Response<pake_api::knowledge::DisposeOwnerItemsResponse>, Status> {
        let principal = principal(&request)?;
        Ok(Response::new(
            self.dispose_owner_items(&principal, request.into_inner())
                .await?,
        ))
    }

    async fn get_item_stats(
        &self,
        request: Request<GetItemStatsRequest>,
    ) -> Result<Response<ItemStats>, Status> {
        let caller = caller(&request);
        Ok(Response::new(
            self.get_item_stats(&caller, request.into_inner()).await?,
        ))
    }

    async fn list_backlinks(
        &self,
        request: Request<ListBacklinksRequest>,
    ) -> Result<Response<ListBacklinksResponse>, Status> {
        let caller = caller(&request);
        Ok(Response::new(
            self.list_backlinks(&caller, request.into_inner()).await?,
        ))
    }

    async fn get_item_graph(
        &self,
        request: Request<GetItemGraphRequest>,
    ) -> Result<Response<ItemGraph>, Status> {
        let caller = caller(&request);
        Ok(Response::new(
            self.get_item_graph(&caller, request.into_inner()).await?,
        ))
    }

    async fn list_item_revisions(
        &self,
        request: Request<ListItemRevisionsRequest>,
    ) -> Result<Response<ListItemRevisionsResponse>, Status> {
        let caller = caller(&request);
        Ok(Response::new(
            self.list_item_revisions(&caller, request.into_inner())
                .await?,
        ))
    }

    async fn get_item_revision(
        &self,
        request: Request<GetItemRevisionRequest>,
    ) -> Result<Response<ItemRevision>, Status> {
        let caller = caller(&request);
        Ok(Response::new(
            self.get_item_revision(&caller, request.into_inner())
                .await?,
        ))
    }

    async fn watch_items(
        &self,
        request: Request<WatchItemsRequest>,
    ) -> Result<Response<EventStream>, Status> {
        let principal = principal(&request)?;
        let stream = crate::watch::start(self.clone(), principal, request.into_inner()).await?;
        Ok(Response::new(stream))
    }

    async fn import_items(
        &self,
        request: Request<tonic::Streaming<pake_api::knowledge::ImportItemsRequest>>,
    ) -> Result<Response<pake_api::knowledge::ImportItemsResponse>, Status> {
        let caller = caller(&request);
        Ok(Response::new(
            self.import_items(&caller, request.into_inner()).await?,
        ))
    }

    async fn export_items(
        &self,
        request: Request<pake_api::knowledge::ExportItemsRequest>,
    ) -> Result<Response<crate::vault::ExportStream>, Status> {
        let caller = caller(&request);
        let stream = self.export_items(&caller, request.into_inner()).await?;
        Ok(Response::new(stream))
    }
}
