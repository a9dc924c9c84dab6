//! Reads beyond Get/List: BatchGetItems and item revisions.

use pake_api::knowledge::{
    BatchGetItemsRequest, BatchGetItemsResponse, GetItemRevisionRequest, Item, ItemRevision,
    ItemView, ListItemRevisionsRequest, ListItemRevisionsResponse,
};
use pake_core::Error;
use pake_core::auth::Caller;
use pake_runtime::db::timestamp;

use crate::model::{can_read_item, item_id_from_name};
use crate::present::Links;
use crate::service::KnowledgeService;
use crate::store::Revision;

const MAX_BATCH: usize = 100;
const DEFAULT_REVISIONS_PAGE: i32 = 50;
const MAX_REVISIONS_PAGE: i32 = 1000;

/// Applies an AIP-157 view: BASIC leaves out `content` and `metadata`.
pub(crate) fn with_view(mut item: Item, view: ItemView) -> Item {
    if view == ItemView::Basic {
        item.content = String::new();
        item.metadata = None;
    }
    item
}

impl KnowledgeService {
    pub(crate) async fn batch_get_items(
        &self,
        caller: &Caller,
        request: BatchGetItemsRequest,
    ) -> Result<BatchGetItemsResponse, Error> {
        if request.names.is_empty() {
            return Err(Error::invalid_field("names", "must not be empty"));
        }
        if request.names.len() > MAX_BATCH {
            return Err(Error::invalid_field("names", "at most 100 names"));
        }
        let view = ItemView::try_from(request.view).unwrap_or(ItemView::Unspecified);
        let mut items = Vec::with_capacity(request.names.len());
        for (index, name) in request.names.iter().enumerate() {
            let id = item_id_from_name(name, &format!("names[{index}]"))?;
            let item = self
                .store
                .get(id)
                .await?
                .filter(|item| can_read_item(caller, item))
                .ok_or_else(|| Error::not_found(name).with_reason("ITEM_NOT_FOUND"))?;
            items.push(item);
        }
        self.present(caller, &mut items, Links::Full).await?;
        Ok(BatchGetItemsResponse {
            items: items
                .into_iter()
                .map(|item| with_view(item, view))
                .collect(),
        })
    }

    /// The item at `name` if the caller owns it or is an admin (revisions may hold text removed
    /// before the item was shared).
    async fn history_owner_check(
        &self,
        caller: &Caller,
        name: &str,
        field: &str,
    ) -> Result<String, Error> {
        let id = item_id_from_name(name, field)?.to_owned();
        let item = self
            .store
            .get(&id)
            .await?
            .filter(|item| can_read_item(caller, item))
            .ok_or_else(|| Error::not_found(name).with_reason("ITEM_NOT_FOUND"))?;
        let allowed = match caller {
            Caller::Authenticated(principal) => {
                principal.is_admin() || principal.subject == item.owner
            }
            Caller::Anonymous => false,
        };
        if !allowed {
            return Err(match caller {
                Caller::Anonymous => Error::unauthenticated("authorization: required"),
                Caller::Authenticated(_) => {
                    Error::permission_denied("only the owner or an admin may read revisions")
                }
            });
        }
        Ok(id)
    }

    pub(crate) async fn list_item_revisions(
        &self,
        caller: &Caller,
        request: ListItemRevisionsRequest,
    ) -> Result<ListItemRevisionsResponse, Error> {
        if request.page_size < 0 {
            return Err(Error::invalid_field("page_size", "must not be negative"));
        }
        let id = self
            .history_owner_check(caller, &request.parent, "parent")
            .await?;
        let page_size = match request.page_size {
            0 => DEFAULT_REVISIONS_PAGE,
            n => n.min(MAX_REVISIONS_PAGE),
        } as usize;
        let view = match ItemView::try_from(request.view).unwrap_or(ItemView::Unspecified) {
            ItemView::Unspecified => ItemView::Basic,
            other => other,
        };
        let token_prefix = format!("{}|{}|", request.parent, view as i32);
        let before = if request.page_token.is_empty() {
            None
        } else {
            let revision = request
                .page_token
                .strip_prefix(&token_prefix)
                .and_then(|rest| rest.parse::<i64>().ok())
                .ok_or_else(|| {
                    Error::invalid_field("page_token", "was not issued for this item and view")
                })?;
            Some(revision)
        };
        let mut revisions = self
            .store
            .revisions(&id, before, page_size as i64 + 1)
            .await?;
        let more = revisions.len() > page_size;
        revisions.truncate(page_size);
        let next_page_token = match revisions.last() {
            Some(last) if more => format!("{token_prefix}{}", last.revision),
            _ => String::new(),
        };
        let mut revisions: Vec<ItemRevision> = revisions
            .into_iter()
            .map(|r| to_proto(&request.parent, r, view))
            .collect();
        self.present_revisions(caller, &mut revisions).await?;
        // Every write stores one revision, numbered from 1 and never removed while the item
        // exists: the current revision number is the count.
        let total_size = match self.store.get(&id).await? {
            Some(item) => item.revision_id.parse().unwrap_or(0),
            None => 0,
        };
        Ok(ListItemRevisionsResponse {
            revisions,
            next_page_token,
            total_size,
        })
    }

    pub(crate) async fn get_item_revision(
        &self,
        caller: &Caller,
        request: GetItemRevisionRequest,
    ) -> Result<ItemRevision, Error> {
        let invalid = || Error::invalid_field("name", "must be items/{item}/revisions/{revision}");
        let (item_name, revision) = request
            .name
            .rsplit_once("/revisions/")
            .ok_or_else(invalid)?;
        let revision: i64 = revision.parse().map_err(|_| invalid())?;
        let id = self.history_owner_check(caller, item_name, "name").await?;
        let found = self
            .store
            .revision(&id, revision)
            .await?
            .ok_or_else(|| Error::not_found(&request.name).with_reason("REVISION_NOT_FOUND"))?;
        let mut revisions = [to_proto(item_name, found, ItemView::Full)];
        self.present_revisions(caller, &mut revisions).await?;
        let [revision] = revisions;
        Ok(revision)
    }

    /// Revisions' items as `caller` sees them: `links` filtered, no `derived_links` (a revision's
    /// content need not be the item's current content).
    async fn present_revisions(
        &self,
        caller: &Caller,
        revisions: &mut [ItemRevision],
    ) -> Result<(), Error> {
        let mut items: Vec<Item> = revisions
            .iter_mut()
            .map(|revision| revision.item.take().unwrap_or_default())
            .collect();
        self.present(caller, &mut items, Links::ExplicitOnly)
            .await?;
        for (revision, item) in revisions.iter_mut().zip(items) {
            revision.item = Some(item);
        }
        Ok(())
    }
}

fn to_proto(item_name: &str, revision: Revision, view: ItemView) -> ItemRevision {
    ItemRevision {
        name: format!("{item_name}/revisions/{}", revision.revision),
        item: Some(with_view(revision.item, view)),
        create_time: Some(timestamp(revision.create_time)),
        author: revision.author,
    }
}
