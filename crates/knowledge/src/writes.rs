//! Item writes after create: UpdateItem, DeleteItem (soft), UndeleteItem and VerifyItem. Each
//! reads the current version, checks access and the etag, computes the next version and stores
//! it with optimistic concurrency, a revision and a feed event.

use pake_api::knowledge::item::Verification;
use pake_api::knowledge::{
    DeleteItemRequest, Item, UndeleteItemRequest, UpdateItemRequest, VerifyItemRequest,
};
use pake_core::auth::{Caller, Principal};
use pake_core::{Error, ErrorKind};
use pake_runtime::db::{now_micros, timestamp};

use crate::model::{self, can_read_item, can_write, item_id_from_name};
use crate::service::{KnowledgeService, etag};
use crate::store::Replaced;
use crate::update;

const MAX_HUMAN_NOTES: usize = 16_384;

impl KnowledgeService {
    /// The current version of `name` if `caller` may change it and `etag` (if given) matches.
    async fn load_for_write(
        &self,
        caller: &Caller,
        name: &str,
        field: &str,
        expected_etag: &str,
    ) -> Result<(Principal, Item), Error> {
        let principal = match caller {
            Caller::Authenticated(principal) => principal.clone(),
            Caller::Anonymous => return Err(Error::unauthenticated("authorization: required")),
        };
        let id = item_id_from_name(name, field)?;
        let current = self
            .store
            .get(id)
            .await?
            .filter(|item| can_read_item(caller, item))
            .ok_or_else(|| Error::not_found(name).with_reason("ITEM_NOT_FOUND"))?;
        if !can_write(&principal, &current.owner) {
            return Err(Error::permission_denied(
                "only the owner (with the editor role) or an admin may change this item",
            ));
        }
        if !expected_etag.is_empty() && expected_etag != current.etag {
            return Err(Error::new(
                ErrorKind::Aborted,
                "etag: the item changed since you read it; read it again",
            )
            .with_reason("ETAG_MISMATCH"));
        }
        Ok((principal, current))
    }

    /// Stores `next` as the version after `current`.
    async fn store_next(
        &self,
        caller: &Caller,
        current: &Item,
        mut next: Item,
        event: &str,
        author: &str,
    ) -> Result<Item, Error> {
        let revision: i64 = current.revision_id.parse().unwrap_or(1);
        next.revision_id = (revision + 1).to_string();
        next.etag = etag(revision + 1);
        next.update_time = Some(timestamp(now_micros()));
        match self.store.replace(next, revision, event, author).await? {
            Replaced::Done(item) => {
                if let Ok(position) = crate::feed::decode_cursor(&item.feed_cursor, "feed_cursor") {
                    self.feed.notify(position);
                }
                self.present_one(caller, *item).await
            }
            Replaced::Conflict => Err(Error::new(
                ErrorKind::Aborted,
                "the item changed concurrently; read it again and retry",
            )
            .with_reason("CONCURRENT_UPDATE")),
            Replaced::Missing => Err(Error::not_found(&current.name).with_reason("ITEM_NOT_FOUND")),
        }
    }

    pub(crate) async fn update_item(
        &self,
        caller: &Caller,
        request: UpdateItemRequest,
    ) -> Result<Item, Error> {
        let patch = request
            .item
            .ok_or_else(|| Error::invalid_field("item", "is required"))?;
        let (principal, current) = self
            .load_for_write(caller, &patch.name, "item.name", &patch.etag)
            .await?;
        if current.delete_time.is_some() {
            return Err(Error::new(
                ErrorKind::FailedPrecondition,
                "the item is deleted; undelete it first",
            )
            .with_reason("ITEM_DELETED"));
        }
        let paths = request
            .update_mask
            .map(|mask| mask.paths)
            .unwrap_or_default();
        let paths = update::resolve_mask(&patch, &paths)?;
        let next = update::apply(&current, patch, &paths)?;
        self.check_links_readable(caller, &next.links, &current.links)
            .await?;
        if !update::changed(&current, &next) {
            return self.present_one(caller, current).await;
        }
        self.store_next(caller, &current, next, "updated", &principal.subject)
            .await
    }

    pub(crate) async fn delete_item(
        &self,
        caller: &Caller,
        request: DeleteItemRequest,
    ) -> Result<Item, Error> {
        let (principal, current) = self
            .load_for_write(caller, &request.name, "name", &request.etag)
            .await?;
        if current.delete_time.is_some() {
            return Err(Error::not_found(&request.name).with_reason("ITEM_NOT_FOUND"));
        }
        let mut next = current.clone();
        next.delete_time = Some(timestamp(now_micros()));
        self.store_next(caller, &current, next, "deleted", &principal.subject)
            .await
    }

    pub(crate) async fn undelete_item(
        &self,
        caller: &Caller,
        request: UndeleteItemRequest,
    ) -> Result<Item, Error> {
        let (principal, current) = self
            .load_for_write(caller, &request.name, "name", &request.etag)
            .await?;
        if current.delete_time.is_none() {
            return Err(
                Error::new(ErrorKind::AlreadyExists, "name: the item is not deleted")
                    .with_reason("ITEM_NOT_DELETED"),
            );
        }
        let mut next = current.clone();
        next.delete_time = None;
        next.expire_time = None;
        self.store_next(caller, &current, next, "undeleted", &principal.subject)
            .await
    }

    pub(crate) async fn verify_item(
        &self,
        caller: &Caller,
        request: VerifyItemRequest,
    ) -> Result<Item, Error> {
        let verification = Verification::try_from(request.verification)
            .ok()
            .filter(|v| *v != Verification::Unspecified)
            .ok_or_else(|| {
                Error::invalid_field("verification", "must be PENDING, VERIFIED or REJECTED")
            })?;
        if request.human_notes.len() > MAX_HUMAN_NOTES {
            return Err(Error::invalid_field(
                "human_notes",
                "must be at most 16384 bytes",
            ));
        }
        let (principal, current) = self
            .load_for_write(caller, &request.name, "name", &request.etag)
            .await?;
        if current.delete_time.is_some() {
            return Err(Error::new(
                ErrorKind::FailedPrecondition,
                "the item is deleted; undelete it first",
            )
            .with_reason("ITEM_DELETED"));
        }
        let mut next = current.clone();
        next.verification = verification as i32;
        next.human_notes = request.human_notes;
        if next.confidence_computed {
            next.confidence_score = Some(model::computed_confidence(&next));
        }
        self.store_next(caller, &current, next, "updated", &principal.subject)
            .await
    }
}
