//! The gRPC adapter of the search service: the service value, the index status, freshness
//! waits and the tonic trait. The methods live beside it: `search_rpc` (Search) and
//! `related_rpc` (Suggest, FindRelated).

use std::time::Duration;

use pake_api::search::search_service_server::{self, SearchServiceServer};
use pake_api::search::{
    FindRelatedRequest, FindRelatedResponse, GetIndexStatusRequest, IndexState, IndexStatus,
    SearchRequest, SearchResponse, SuggestRequest, SuggestResponse,
};
use pake_core::Error;
use pake_core::auth::Caller;
use pake_runtime::auth::caller;
use tokio::sync::watch;
use tonic::{Request, Response, Status};

use crate::cache::QueryCache;
use crate::index::{Access, SearchIndex};
use crate::progress::{Progress, State};

const MAX_FRESHNESS_WAIT: Duration = Duration::from_secs(5);

/// `pake.search.v1.SearchService`.
#[derive(Clone, Debug)]
pub struct SearchService {
    pub(crate) index: SearchIndex,
    pub(crate) applied: watch::Receiver<String>,
    pub(crate) progress: Progress,
    pub(crate) cache: std::sync::Arc<dyn QueryCache>,
}

impl SearchService {
    /// A service answering from `index`, whose applied feed cursor is published on `applied`
    /// and whose state the feed consumer reports in `progress`.
    pub fn new(index: SearchIndex, applied: watch::Receiver<String>, progress: Progress) -> Self {
        SearchService {
            index,
            applied,
            progress,
            cache: std::sync::Arc::new(crate::cache::InProcessQueryCache::new(
                crate::cache::DEFAULT_ENTRIES,
            )),
        }
    }

    /// The service with `cache` for hot Search queries (Redis in production; entries are keyed
    /// on the applied feed cursor and the caller's read scope, so they are never stale or
    /// foreign).
    pub fn with_cache(mut self, cache: std::sync::Arc<dyn QueryCache>) -> Self {
        self.cache = cache;
        self
    }

    /// UNAVAILABLE while a snapshot rebuild is incomplete: answers would silently miss items.
    pub(crate) fn require_complete(&self) -> Result<(), Error> {
        if self.progress.snapshot().state == State::Rebuilding {
            return Err(Error::new(
                pake_core::ErrorKind::Unavailable,
                "the search index is being rebuilt from the change feed; retry shortly",
            )
            .with_reason("INDEX_REBUILDING")
            .with_retry_after(Duration::from_secs(1)));
        }
        Ok(())
    }

    fn index_status(&self, caller: &Caller) -> Result<IndexStatus, Error> {
        match caller {
            Caller::Anonymous => return Err(Error::unauthenticated("authorization: required")),
            Caller::Authenticated(p) if !(p.is_admin() || p.is_service()) => {
                return Err(Error::permission_denied(
                    "only admins and service accounts read the index status",
                ));
            }
            Caller::Authenticated(_) => {}
        }
        let progress = self.progress.snapshot();
        let lag = progress
            .oldest_pending
            .and_then(|oldest| oldest.elapsed().ok())
            .unwrap_or_default();
        Ok(IndexStatus {
            replica: std::env::var("HOSTNAME").unwrap_or_else(|_| "local".to_owned()),
            state: match progress.state {
                State::CatchingUp => IndexState::CatchingUp,
                State::Ready => IndexState::Ready,
                State::Rebuilding => IndexState::Rebuilding,
            } as i32,
            applied_cursor: self.applied.borrow().clone(),
            document_count: i64::try_from(self.index.num_docs()).unwrap_or(i64::MAX),
            last_commit_time: progress.last_commit_time.map(prost_types::Timestamp::from),
            feed_lag: prost_types::Duration::try_from(lag).ok(),
            pending_event_count: i64::try_from(progress.pending_events).unwrap_or(i64::MAX),
        })
    }

    /// The tonic server for this service.
    pub fn into_server(self) -> SearchServiceServer<Self> {
        SearchServiceServer::new(self)
    }

    /// Waits until the index has applied `cursor` (byte-wise order), at most `limit`.
    async fn wait_for(&self, cursor: &str, limit: Duration) -> Result<(), Error> {
        let mut applied = self.applied.clone();
        let reached = tokio::time::timeout(
            limit,
            applied.wait_for(|current| current.as_str() >= cursor),
        )
        .await;
        match reached {
            Ok(Ok(_)) => Ok(()),
            _ => Err(Error::new(
                pake_core::ErrorKind::Unavailable,
                "the search index has not applied min_cursor yet; retry",
            )
            .with_reason("INDEX_BEHIND_CURSOR")
            .with_retry_after(Duration::from_millis(500))),
        }
    }

    /// Waits for a non-empty `min_cursor`, at most 5 s and answering before the call's deadline.
    pub(crate) async fn wait_for_min_cursor(
        &self,
        min_cursor: &str,
        deadline: Option<Duration>,
    ) -> Result<(), Error> {
        if min_cursor.is_empty() {
            return Ok(());
        }
        let wait = deadline
            .map(|d| d.saturating_sub(Duration::from_millis(50)))
            .unwrap_or(MAX_FRESHNESS_WAIT)
            .min(MAX_FRESHNESS_WAIT);
        self.wait_for(min_cursor, wait).await
    }
}

const MAX_ITEM_NAME_BYTES: usize = 69;

/// `items/{id}` with an id of `[a-z0-9]([a-z0-9-]*[a-z0-9])?`, at most 69 bytes in all.
pub(crate) fn valid_item_name(name: &str) -> bool {
    name.len() <= MAX_ITEM_NAME_BYTES
        && name.strip_prefix("items/").is_some_and(|id| {
            !id.is_empty()
                && !id.starts_with('-')
                && !id.ends_with('-')
                && id
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        })
}

/// The caller's read scope, enforced inside the index query.
pub(crate) fn access(caller: &Caller) -> Access {
    match caller {
        Caller::Anonymous => Access::Anonymous,
        Caller::Authenticated(p) if p.is_service() => Access::Service,
        Caller::Authenticated(p) => Access::User {
            subject: p.subject.clone(),
            admin: p.is_admin(),
        },
    }
}

pub(crate) fn caller_key(caller: &Caller) -> String {
    match caller {
        Caller::Anonymous => String::new(),
        Caller::Authenticated(principal) => principal.subject.clone(),
    }
}

/// The time left before the call's deadline (`grpc-timeout`), if the client set one.
fn deadline<T>(request: &Request<T>) -> Option<Duration> {
    let value = request.metadata().get("grpc-timeout")?.to_str().ok()?;
    let (digits, unit) = value.split_at(value.len().checked_sub(1)?);
    let amount: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(amount * 3600),
        "M" => Duration::from_secs(amount * 60),
        "S" => Duration::from_secs(amount),
        "m" => Duration::from_millis(amount),
        "u" => Duration::from_micros(amount),
        "n" => Duration::from_nanos(amount),
        _ => return None,
    })
}

#[tonic::async_trait]
impl search_service_server::SearchService for SearchService {
    async fn get_index_status(
        &self,
        request: Request<GetIndexStatusRequest>,
    ) -> Result<Response<IndexStatus>, Status> {
        let caller = caller(&request);
        Ok(Response::new(self.index_status(&caller)?))
    }

    async fn suggest(
        &self,
        request: Request<SuggestRequest>,
    ) -> Result<Response<SuggestResponse>, Status> {
        let caller = caller(&request);
        Ok(Response::new(
            self.suggest(&caller, request.into_inner()).await?,
        ))
    }

    async fn find_related(
        &self,
        request: Request<FindRelatedRequest>,
    ) -> Result<Response<FindRelatedResponse>, Status> {
        let caller = caller(&request);
        let deadline = deadline(&request);
        Ok(Response::new(
            self.find_related(&caller, deadline, request.into_inner())
                .await?,
        ))
    }

    async fn search(
        &self,
        request: Request<SearchRequest>,
    ) -> Result<Response<SearchResponse>, Status> {
        let caller = caller(&request);
        let deadline = deadline(&request);
        Ok(Response::new(
            self.search(&caller, deadline, request.into_inner()).await?,
        ))
    }
}
