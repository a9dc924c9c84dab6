//! DisposeOwnerItems: what happens to a deleted user's items (identity's DeleteUser calls it).
//! Each item is one ordinary write (revision + feed event), so search and sync clients learn of
//! it through the change feed like any other change.

use pake_api::knowledge::dispose_owner_items_request::Disposition;
use pake_api::knowledge::{DisposeOwnerItemsRequest, DisposeOwnerItemsResponse, Item};
use pake_core::auth::Principal;
use pake_core::{Error, ErrorKind};
use pake_runtime::db::{now_micros, timestamp};

use crate::order::Order;
use crate::service::{KnowledgeService, etag};
use crate::sql::{SqlFragment, SqlValue};
use crate::store::{ListQuery, ReadScope, Replaced};

const PAGE: i64 = 200;
const MAX_USER_NAME_BYTES: usize = 128;
/// Attempts per item when concurrent writers keep changing it.
const MAX_ATTEMPTS: usize = 5;

impl KnowledgeService {
    pub(crate) async fn dispose_owner_items(
        &self,
        principal: &Principal,
        request: DisposeOwnerItemsRequest,
    ) -> Result<DisposeOwnerItemsResponse, Error> {
        if !principal.is_service() {
            return Err(Error::permission_denied(
                "only service accounts dispose of a deleted user's items",
            ));
        }
        check_user_name(&request.owner, "owner")?;
        let disposition = Disposition::try_from(request.disposition)
            .ok()
            .filter(|d| *d != Disposition::Unspecified)
            .ok_or_else(|| {
                Error::invalid_field("disposition", "must be DELETE_ITEMS or REASSIGN_ITEMS")
            })?;
        match disposition {
            Disposition::ReassignItems => {
                check_user_name(&request.new_owner, "new_owner")?;
                if request.new_owner == request.owner {
                    return Err(Error::invalid_field("new_owner", "must differ from owner"));
                }
            }
            _ if !request.new_owner.is_empty() => {
                return Err(Error::invalid_field(
                    "new_owner",
                    "must be empty unless the disposition is REASSIGN_ITEMS",
                ));
            }
            _ => {}
        }
        let reassign = disposition == Disposition::ReassignItems;
        let mut filter = SqlFragment::new();
        filter
            .sql("items.owner = ")
            .value(SqlValue::Text(request.owner.clone()));
        let order = Order::default();
        let mut after = None;
        let mut response = DisposeOwnerItemsResponse::default();
        loop {
            let page = self
                .store
                .list(&ListQuery {
                    scope: &ReadScope::All,
                    // Reassigning keeps soft-deleted items too; deleting leaves them as they are.
                    show_deleted: reassign,
                    filter: &filter,
                    order: &order,
                    after: after.as_ref(),
                    limit: PAGE,
                })
                .await?;
            let Some((_, last)) = page.last() else {
                break;
            };
            after = Some(last.clone());
            for (item, _) in &page {
                if let Some(done) = self
                    .dispose_one(item, &request, reassign, &principal.subject)
                    .await?
                {
                    response.item_count += 1;
                    response.feed_cursor = done.feed_cursor;
                }
            }
        }
        tracing::info!(
            owner = %request.owner,
            reassign,
            items = response.item_count,
            "disposed of a deleted user's items"
        );
        Ok(response)
    }

    /// Deletes or reassigns one item; `None` when there was nothing left to do.
    async fn dispose_one(
        &self,
        listed: &Item,
        request: &DisposeOwnerItemsRequest,
        reassign: bool,
        author: &str,
    ) -> Result<Option<Item>, Error> {
        let id = listed.name.trim_start_matches("items/").to_owned();
        for _ in 0..MAX_ATTEMPTS {
            let Some(current) = self.store.get(&id).await? else {
                return Ok(None);
            };
            if current.owner != request.owner || (!reassign && current.delete_time.is_some()) {
                return Ok(None);
            }
            let revision: i64 = current.revision_id.parse().unwrap_or(1);
            let mut next = current.clone();
            let event = if reassign {
                next.owner = request.new_owner.clone();
                "updated"
            } else {
                next.delete_time = Some(timestamp(now_micros()));
                "deleted"
            };
            next.revision_id = (revision + 1).to_string();
            next.etag = etag(revision + 1);
            next.update_time = Some(timestamp(now_micros()));
            match self.store.replace(next, revision, event, author).await? {
                Replaced::Done(item) => {
                    if let Ok(position) =
                        crate::feed::decode_cursor(&item.feed_cursor, "feed_cursor")
                    {
                        self.feed.notify(position);
                    }
                    return Ok(Some(*item));
                }
                Replaced::Missing => return Ok(None),
                Replaced::Conflict => continue,
            }
        }
        Err(Error::new(
            ErrorKind::Aborted,
            format!(
                "{}: changed concurrently too often; call again",
                listed.name
            ),
        ))
    }
}

fn check_user_name(name: &str, field: &str) -> Result<(), Error> {
    let valid = name.len() <= MAX_USER_NAME_BYTES
        && name
            .strip_prefix("users/")
            .is_some_and(|id| !id.is_empty() && !id.contains('/'));
    if valid {
        Ok(())
    } else {
        Err(Error::invalid_field(field, "must be users/{user}"))
    }
}
