//! The knowledge store: items, their tags, links and link keys, revisions and the change feed,
//! behind a trait with one SQL implementation that runs on SQLite and PostgreSQL.
//!
//! Every write is one transaction that also appends to the feed. The feed position comes from the
//! single `feed_head` row (`UPDATE … RETURNING`), whose row lock serialises writers, so positions
//! are gap-free and visible in commit order (ADR 3). Writes are in `store/write.rs` (one path for
//! create and replace), item and feed reads in `store/read.rs`, link reads in `store/graph.rs`
//! and statistics in `store/stats.rs`.

use async_trait::async_trait;
use pake_api::knowledge::{Item, ItemSummary, LinkType};
use pake_core::auth::Caller;
use pake_runtime::db::Database;

use crate::order::{ListPosition, Order};
use crate::sql::SqlFragment;

mod graph;
mod purge;
mod read;
mod stats;
mod vault;
mod write;

pub(crate) use stats::{KINDS, STATUSES, VERIFICATIONS};
pub use vault::{ExportSnapshot, VaultStore};

/// Store failures.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// An item with that id exists (or existed).
    #[error("item already exists")]
    AlreadyExists,
    /// A list position that does not fit the list's order.
    #[error("list position does not fit the order")]
    Position,
    /// A stored item could not be decoded.
    #[error("corrupt item record: {0}")]
    Corrupt(#[from] prost::DecodeError),
    /// The database failed.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl From<StoreError> for pake_core::Error {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::AlreadyExists => pake_core::Error::new(
                pake_core::ErrorKind::AlreadyExists,
                "item_id: an item with this id already exists",
            )
            .with_reason("ITEM_ID_TAKEN"),
            StoreError::Position => pake_core::Error::internal(StoreError::Position),
            StoreError::Corrupt(source) => pake_core::Error::internal(source),
            StoreError::Database(source) => {
                pake_core::Error::unavailable("the knowledge store is unavailable", source)
            }
        }
    }
}

/// Which items a reader may see, as a SQL condition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReadScope {
    /// Admins and service accounts.
    All,
    /// Anonymous callers: public items.
    Public,
    /// A signed-in user: own, internal and public items.
    User(String),
}

impl ReadScope {
    /// What `caller` may read: admins and service accounts everything, signed-in users their own,
    /// internal and public items, anonymous callers public items.
    pub fn of(caller: &Caller) -> ReadScope {
        match caller {
            Caller::Anonymous => ReadScope::Public,
            Caller::Authenticated(principal) if principal.is_admin() || principal.is_service() => {
                ReadScope::All
            }
            Caller::Authenticated(principal) => ReadScope::User(principal.subject.clone()),
        }
    }
}

/// One change-feed event.
#[derive(Clone, Debug, PartialEq)]
pub struct FeedEvent {
    /// Feed position.
    pub position: i64,
    /// `created`, `updated`, `deleted`, `undeleted` or `purged`.
    pub event_type: String,
    /// Microseconds since the epoch.
    pub event_time: i64,
    /// The item after the event (for a purge: its last version).
    pub item: Item,
    /// Who could read the item before the event; `None` for a create.
    pub before: Option<Before>,
}

/// The access-relevant state of an item before a feed event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Before {
    /// The owner, `users/{id}`.
    pub owner: String,
    /// The visibility.
    pub visibility: pake_api::knowledge::item::Visibility,
    /// Whether it was soft-deleted.
    pub deleted: bool,
}

/// What a create did.
#[derive(Clone, Debug, PartialEq)]
pub enum Created {
    /// A new item, with its feed cursor.
    New(Item),
    /// A retry of an earlier request: the item it created (as it is now).
    Replayed(Item),
}

/// What a replace did.
#[derive(Clone, Debug, PartialEq)]
pub enum Replaced {
    /// Stored, with its feed cursor.
    Done(Box<Item>),
    /// The item changed since it was read (another writer won).
    Conflict,
    /// The item does not exist (any more).
    Missing,
}

/// A stored version of an item.
#[derive(Clone, Debug, PartialEq)]
pub struct Revision {
    /// The revision number (1 for the first version).
    pub revision: i64,
    /// Who wrote it.
    pub author: String,
    /// When, in microseconds.
    pub create_time: i64,
    /// The item as it was.
    pub item: Item,
}

/// What to list: which items (as `scope` may read them), in which order, from where.
#[derive(Clone, Copy, Debug)]
pub struct ListQuery<'a> {
    /// Who reads.
    pub scope: &'a ReadScope,
    /// Also soft-deleted items (those `scope` may read: its own, or all for [`ReadScope::All`]).
    pub show_deleted: bool,
    /// A condition over `items` (a compiled filter); empty for every item.
    pub filter: &'a SqlFragment,
    /// The order.
    pub order: &'a Order,
    /// Resume after this position (of the previous page's last item).
    pub after: Option<&'a ListPosition>,
    /// At most this many items.
    pub limit: i64,
}

/// One stored link, resolved: explicit or found in content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    /// The linking item's id.
    pub source_id: String,
    /// Its position among the source's links (explicit links first, then content links in order
    /// of appearance).
    pub seq: i64,
    /// How it is written.
    pub link_type: LinkType,
    /// The target as written (content links); empty for explicit links.
    pub text: String,
    /// The linked item's id.
    pub target_id: String,
}

/// One item of a backlinks page: the linking item, how it links (each type once, in enum order)
/// and its position in the page order.
#[derive(Clone, Debug, PartialEq)]
pub struct Backlink {
    /// The linking item.
    pub source: ItemSummary,
    /// How it links.
    pub types: Vec<LinkType>,
    /// Where it is in the order (`update_time desc`), to resume after it.
    pub position: ListPosition,
}

/// Aggregates over the items a reader may read (GetItemStats).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Stats {
    /// Items counted.
    pub total: i64,
    /// Per kind, in enum order (note, project, resource, daily, system).
    pub kinds: [i64; 5],
    /// Per status, in enum order (draft, processing, verified, archived).
    pub statuses: [i64; 4],
    /// Per verification, in enum order (pending, verified, rejected).
    pub verifications: [i64; 3],
    /// Confidence bands: >= 0.9, >= 0.7, >= 0.5, >= 0.3, below.
    pub buckets: [i64; 5],
    /// Mean confidence; `None` without items.
    pub average_confidence: Option<f64>,
    /// Up to 10 items with the most backlinks from live readable items, with their counts.
    pub most_linked: Vec<(ItemSummary, i64)>,
    /// Up to 10 most recently updated items.
    pub most_recent: Vec<ItemSummary>,
}

/// Persistence of items and the feed. Vault import and export add their own methods
/// ([`VaultStore`], `store/vault.rs`).
#[async_trait]
pub trait ItemStore: VaultStore + Send + Sync + std::fmt::Debug + 'static {
    /// Creates `item` (complete: name, owner, times set). With `request` (caller, request id,
    /// oldest time still deduplicated), a retry returns the earlier item instead. Stores its
    /// tags, keys and links (explicit and parsed from content) and resolves links.
    async fn create(
        &self,
        item: Item,
        author: &str,
        request: Option<(&str, &str, i64)>,
    ) -> Result<Created, StoreError>;
    /// Stores `item` as the next version of an existing item whose current revision is
    /// `expected_revision` (optimistic concurrency), with a revision record and a feed event of
    /// `event_type`, rewriting its tags, keys and links as `create` does. The item's
    /// `feed_cursor` is set here.
    async fn replace(
        &self,
        item: Item,
        expected_revision: i64,
        event_type: &str,
        author: &str,
    ) -> Result<Replaced, StoreError>;
    /// An item by id, deleted or not.
    async fn get(&self, id: &str) -> Result<Option<Item>, StoreError>;
    /// Purges item `id` for good if it is soft-deleted (before `deleted_before`, when given):
    /// row, revisions, tags and links go, links that could resolve to it are re-resolved, and a
    /// PURGED feed event is written. `None` when it was not eligible (nothing written).
    async fn purge(
        &self,
        id: &str,
        deleted_before: Option<i64>,
        now: i64,
    ) -> Result<Option<i64>, StoreError>;
    /// Deletes feed events older than `before` (µs); returns (events deleted, pruned horizon).
    async fn prune_feed(&self, before: i64) -> Result<(u64, i64), StoreError>;
    /// The pruned horizon: feed positions at or below it are gone.
    async fn pruned_through(&self) -> Result<i64, StoreError>;
    /// Revisions of an item, newest first, older than `before` (a revision number) if given.
    async fn revisions(
        &self,
        id: &str,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<Revision>, StoreError>;
    /// One revision.
    async fn revision(&self, id: &str, revision: i64) -> Result<Option<Revision>, StoreError>;
    /// A page of the items `query` selects, in its order, each with its position (to resume
    /// after it).
    async fn list(&self, query: &ListQuery<'_>) -> Result<Vec<(Item, ListPosition)>, StoreError>;
    /// How many items `scope` may read match `filter` (a condition over `items`).
    async fn count(
        &self,
        scope: &ReadScope,
        show_deleted: bool,
        filter: &SqlFragment,
    ) -> Result<i64, StoreError>;
    /// The feed head position.
    async fn head(&self) -> Result<i64, StoreError>;
    /// Up to `limit` events after `position`, in order.
    async fn events_after(&self, position: i64, limit: i64) -> Result<Vec<FeedEvent>, StoreError>;
    /// Every live item and the head position, read consistently.
    async fn snapshot(&self) -> Result<(Vec<Item>, i64), StoreError>;
    /// The links of `sources` (explicit, and resolved content links) whose target is a live item
    /// `scope` may read, by source and position. Self links included.
    async fn links_from(
        &self,
        scope: &ReadScope,
        sources: &[String],
    ) -> Result<Vec<Link>, StoreError>;
    /// The links into `targets` from live items `scope` may read. Self links included.
    async fn links_to(
        &self,
        scope: &ReadScope,
        targets: &[String],
    ) -> Result<Vec<Link>, StoreError>;
    /// The links whose source and target are both among `ids` (readability not checked).
    async fn links_among(&self, ids: &[String]) -> Result<Vec<Link>, StoreError>;
    /// Summaries of the items `ids` that exist (readability not checked), in no order.
    async fn summaries(&self, ids: &[String]) -> Result<Vec<ItemSummary>, StoreError>;
    /// A page of the live items `scope` may read that link to `target` (itself excluded), most
    /// recently updated first, after `after`.
    async fn backlinks(
        &self,
        scope: &ReadScope,
        target: &str,
        after: Option<&ListPosition>,
        limit: i64,
    ) -> Result<Vec<Backlink>, StoreError>;
    /// How many live items `scope` may read link to `target` (itself excluded).
    async fn count_backlinks(&self, scope: &ReadScope, target: &str) -> Result<i64, StoreError>;
    /// Statistics over the live items `scope` may read that match `filter`.
    async fn stats(&self, scope: &ReadScope, filter: &SqlFragment) -> Result<Stats, StoreError>;
}

/// The SQL implementation for both backends.
#[derive(Clone, Debug)]
pub struct SqlItemStore {
    database: Database,
}

impl SqlItemStore {
    /// A store over an already migrated database.
    pub fn new(database: Database) -> Self {
        SqlItemStore { database }
    }
}

#[async_trait]
impl ItemStore for SqlItemStore {
    async fn create(
        &self,
        item: Item,
        author: &str,
        request: Option<(&str, &str, i64)>,
    ) -> Result<Created, StoreError> {
        self.create_item(item, author, request).await
    }

    async fn replace(
        &self,
        item: Item,
        expected_revision: i64,
        event_type: &str,
        author: &str,
    ) -> Result<Replaced, StoreError> {
        self.replace_item(item, expected_revision, event_type, author)
            .await
    }

    async fn get(&self, id: &str) -> Result<Option<Item>, StoreError> {
        self.get_item(id).await
    }

    async fn purge(
        &self,
        id: &str,
        deleted_before: Option<i64>,
        now: i64,
    ) -> Result<Option<i64>, StoreError> {
        self.purge_deleted_item(id, deleted_before, now).await
    }

    async fn prune_feed(&self, before: i64) -> Result<(u64, i64), StoreError> {
        self.prune_feed_before(before).await
    }

    async fn pruned_through(&self) -> Result<i64, StoreError> {
        self.feed_pruned_through().await
    }

    async fn revisions(
        &self,
        id: &str,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<Revision>, StoreError> {
        self.list_revisions(id, before, limit).await
    }

    async fn revision(&self, id: &str, revision: i64) -> Result<Option<Revision>, StoreError> {
        self.get_revision(id, revision).await
    }

    async fn list(&self, query: &ListQuery<'_>) -> Result<Vec<(Item, ListPosition)>, StoreError> {
        self.list_items(query).await
    }

    async fn count(
        &self,
        scope: &ReadScope,
        show_deleted: bool,
        filter: &SqlFragment,
    ) -> Result<i64, StoreError> {
        self.count_items(scope, show_deleted, filter).await
    }

    async fn head(&self) -> Result<i64, StoreError> {
        self.feed_head().await
    }

    async fn events_after(&self, position: i64, limit: i64) -> Result<Vec<FeedEvent>, StoreError> {
        self.feed_events_after(position, limit).await
    }

    async fn snapshot(&self) -> Result<(Vec<Item>, i64), StoreError> {
        self.live_snapshot().await
    }

    async fn links_from(
        &self,
        scope: &ReadScope,
        sources: &[String],
    ) -> Result<Vec<Link>, StoreError> {
        self.readable_links(scope, graph::Direction::From, sources)
            .await
    }

    async fn links_to(
        &self,
        scope: &ReadScope,
        targets: &[String],
    ) -> Result<Vec<Link>, StoreError> {
        self.readable_links(scope, graph::Direction::To, targets)
            .await
    }

    async fn links_among(&self, ids: &[String]) -> Result<Vec<Link>, StoreError> {
        self.links_between(ids).await
    }

    async fn summaries(&self, ids: &[String]) -> Result<Vec<ItemSummary>, StoreError> {
        self.item_summaries(ids).await
    }

    async fn backlinks(
        &self,
        scope: &ReadScope,
        target: &str,
        after: Option<&ListPosition>,
        limit: i64,
    ) -> Result<Vec<Backlink>, StoreError> {
        self.backlink_page(scope, target, after, limit).await
    }

    async fn count_backlinks(&self, scope: &ReadScope, target: &str) -> Result<i64, StoreError> {
        self.backlink_count(scope, target).await
    }

    async fn stats(&self, scope: &ReadScope, filter: &SqlFragment) -> Result<Stats, StoreError> {
        self.item_stats(scope, filter).await
    }
}
