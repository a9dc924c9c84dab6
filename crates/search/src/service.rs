//! The gRPC adapter of the search service.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use pake_api::search::search_service_server::{self, SearchServiceServer};
use pake_api::search::{
    Facet, FacetField as WireFacet, FacetValue, FindRelatedRequest, FindRelatedResponse,
    GetIndexStatusRequest, IndexState, IndexStatus, SearchRequest, SearchResponse, SearchResult,
    SuggestRequest, SuggestResponse, SuggestionType, TextRange,
};
use pake_core::Error;
use pake_core::auth::Caller;
use pake_runtime::auth::caller;
use pake_runtime::db::timestamp;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tonic::{Request, Response, Status};

use crate::index::{Access, FacetField, Order, Query, SearchIndex, SuggestionKind};
use crate::progress::{Progress, State};

const DEFAULT_PAGE_SIZE: i32 = 20;
const MAX_PAGE_SIZE: i32 = 100;
const MAX_OFFSET: usize = 10_000;
const MAX_FRESHNESS_WAIT: Duration = Duration::from_secs(5);
const MAX_PREFIX_BYTES: usize = 256;
const DEFAULT_SUGGESTIONS: i32 = 10;
const MAX_SUGGESTIONS: i32 = 50;
const DEFAULT_RELATED_PAGE_SIZE: i32 = 10;
const MAX_ITEM_NAME_BYTES: usize = 69;
const RELATED_SNIPPET_BYTES: usize = 200;

/// `pake.search.v1.SearchService`.
#[derive(Clone, Debug)]
pub struct SearchService {
    index: SearchIndex,
    applied: watch::Receiver<String>,
    progress: Progress,
}

impl SearchService {
    /// A service answering from `index`, whose applied feed cursor is published on `applied`
    /// and whose state the feed consumer reports in `progress`.
    pub fn new(index: SearchIndex, applied: watch::Receiver<String>, progress: Progress) -> Self {
        SearchService {
            index,
            applied,
            progress,
        }
    }

    /// UNAVAILABLE while a snapshot rebuild is incomplete: answers would silently miss items.
    fn require_complete(&self) -> Result<(), Error> {
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
    async fn wait_for_min_cursor(
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

    async fn search(
        &self,
        caller: &Caller,
        deadline: Option<Duration>,
        request: SearchRequest,
    ) -> Result<SearchResponse, Error> {
        if request.page_size < 0 {
            return Err(Error::invalid_field("page_size", "must not be negative"));
        }
        if request.facet_limit < 0 {
            return Err(Error::invalid_field("facet_limit", "must not be negative"));
        }
        if !request.min_cursor.is_empty() {
            pake_core::cursor::decode(&request.min_cursor, "min_cursor")?;
        }
        if request.query.len() > crate::index::MAX_QUERY_BYTES {
            return Err(Error::invalid_field("query", "must be at most 1024 bytes"));
        }
        let order = parse_order(&request.order_by)?;
        let update_time_range = time_range(&request.update_time_range, "update_time_range")?;
        let create_time_range = time_range(&request.create_time_range, "create_time_range")?;
        let mut facets = Vec::new();
        for (index, value) in request.facets.iter().enumerate() {
            let field = match WireFacet::try_from(*value) {
                Ok(WireFacet::Tag) => FacetField::Tag,
                Ok(WireFacet::Kind) => FacetField::Kind,
                Ok(WireFacet::Status) => FacetField::Status,
                _ => {
                    return Err(Error::invalid_field(
                        format!("facets[{index}]"),
                        "unknown facet field",
                    ));
                }
            };
            if facets.contains(&field) {
                return Err(Error::invalid_field(
                    format!("facets[{index}]"),
                    "is repeated",
                ));
            }
            facets.push(field);
        }
        let snippet_max_bytes = match request.snippet_options.as_ref().map_or(0, |o| o.max_length) {
            n if n < 0 => {
                return Err(Error::invalid_field(
                    "snippet_options.max_length",
                    "must not be negative",
                ));
            }
            0 => 200,
            n => (n as usize).min(1000),
        };
        let binding = PageBinding {
            caller: caller_key(caller),
            query: request.query.clone(),
            order_by: request.order_by.clone(),
            update_time_range,
            create_time_range,
        };
        let offset = if request.page_token.is_empty() {
            0
        } else {
            decode_page_token(
                &request.page_token,
                &binding,
                "was issued for another query, time range, order or caller",
            )?
        };
        let limit = match request.page_size {
            0 => DEFAULT_PAGE_SIZE,
            n => n.min(MAX_PAGE_SIZE),
        } as usize;
        self.wait_for_min_cursor(&request.min_cursor, deadline)
            .await?;
        // After the wait: a rebuild ends when its snapshot is applied, which min_cursor waits for.
        self.require_complete()?;
        let applied_cursor = self.applied.borrow().clone();
        let query = Query {
            text: request.query,
            offset,
            limit,
            order,
            update_time_range,
            create_time_range,
            facets,
            facet_limit: match request.facet_limit {
                0 => 10,
                n => (n as usize).min(100),
            },
            snippet_max_bytes,
        };
        let access = access(caller);
        let index = self.index.clone();
        let page = tokio::task::spawn_blocking(move || index.search(&query, &access))
            .await
            .map_err(|e| Error::internal(e.to_string()))?
            .map_err(|error| match error {
                crate::index::Error::InvalidQuery(query_error) => Error::invalid_field(
                    "query",
                    format!("{} (at byte {})", query_error.message, query_error.offset),
                )
                .with_reason("INVALID_QUERY"),
                other => Error::internal(other.to_string()),
            })?;
        let next_offset = offset + page.hits.len();
        let next_page_token = if (next_offset as u64) < page.total
            && next_offset < MAX_OFFSET
            && !page.hits.is_empty()
        {
            encode_page_token(&binding, next_offset)
        } else {
            String::new()
        };
        Ok(SearchResponse {
            results: page.hits.into_iter().map(to_result).collect(),
            facets: page
                .facets
                .into_iter()
                .map(|facet| Facet {
                    field: match facet.field {
                        FacetField::Tag => WireFacet::Tag,
                        FacetField::Kind => WireFacet::Kind,
                        FacetField::Status => WireFacet::Status,
                    } as i32,
                    values: facet
                        .values
                        .into_iter()
                        .map(|(value, count)| FacetValue {
                            value,
                            count: i32::try_from(count).unwrap_or(i32::MAX),
                        })
                        .collect(),
                    distinct_value_count: i32::try_from(facet.distinct_values).unwrap_or(i32::MAX),
                })
                .collect(),
            total_size: i32::try_from(page.total).unwrap_or(i32::MAX),
            next_page_token,
            applied_cursor,
        })
    }
}

impl SearchService {
    async fn suggest(
        &self,
        caller: &Caller,
        request: SuggestRequest,
    ) -> Result<SuggestResponse, Error> {
        if request.prefix.trim().is_empty() {
            return Err(Error::invalid_field(
                "prefix",
                "must not be empty or only whitespace",
            ));
        }
        if request.prefix.len() > MAX_PREFIX_BYTES {
            return Err(Error::invalid_field("prefix", "must be at most 256 bytes"));
        }
        let limit = match request.limit {
            n if n < 0 => return Err(Error::invalid_field("limit", "must not be negative")),
            0 => DEFAULT_SUGGESTIONS,
            n => n.min(MAX_SUGGESTIONS),
        } as usize;
        let mut kinds = Vec::new();
        for (index, value) in request.types.iter().enumerate() {
            let kind = match SuggestionType::try_from(*value) {
                Ok(SuggestionType::Title) => SuggestionKind::Title,
                Ok(SuggestionType::Tag) => SuggestionKind::Tag,
                _ => {
                    return Err(Error::invalid_field(
                        format!("types[{index}]"),
                        "unknown suggestion type",
                    ));
                }
            };
            if kinds.contains(&kind) {
                return Err(Error::invalid_field(
                    format!("types[{index}]"),
                    "is repeated",
                ));
            }
            kinds.push(kind);
        }
        self.require_complete()?;
        let query = crate::index::SuggestRequest {
            prefix: request.prefix,
            limit,
            kinds,
        };
        let access = access(caller);
        let index = self.index.clone();
        let suggestions = tokio::task::spawn_blocking(move || index.suggest(&query, &access))
            .await
            .map_err(|e| Error::internal(e.to_string()))?
            .map_err(|e| Error::internal(e.to_string()))?;
        Ok(SuggestResponse {
            suggestions: suggestions
                .into_iter()
                .map(|s| pake_api::search::Suggestion {
                    text: s.text,
                    r#type: match s.kind {
                        SuggestionKind::Title => SuggestionType::Title,
                        SuggestionKind::Tag => SuggestionType::Tag,
                    } as i32,
                    item: s.item,
                    item_count: i32::try_from(s.item_count).unwrap_or(i32::MAX),
                    highlight: ranges(vec![s.highlight]).pop(),
                })
                .collect(),
        })
    }

    async fn find_related(
        &self,
        caller: &Caller,
        deadline: Option<Duration>,
        request: FindRelatedRequest,
    ) -> Result<FindRelatedResponse, Error> {
        if !valid_item_name(&request.name) {
            return Err(Error::invalid_field("name", "must be items/{item}"));
        }
        if request.page_size < 0 {
            return Err(Error::invalid_field("page_size", "must not be negative"));
        }
        let binding = RelatedBinding {
            caller: caller_key(caller),
            item: request.name.clone(),
        };
        let offset = if request.page_token.is_empty() {
            0
        } else {
            decode_page_token(
                &request.page_token,
                &binding,
                "was issued for another item or caller",
            )?
        };
        if !request.min_cursor.is_empty() {
            pake_core::cursor::decode(&request.min_cursor, "min_cursor")?;
        }
        let limit = match request.page_size {
            0 => DEFAULT_RELATED_PAGE_SIZE,
            n => n.min(MAX_PAGE_SIZE),
        } as usize;
        self.wait_for_min_cursor(&request.min_cursor, deadline)
            .await?;
        self.require_complete()?;
        let applied_cursor = self.applied.borrow().clone();
        let access = access(caller);
        let index = self.index.clone();
        let name = request.name.clone();
        let page = tokio::task::spawn_blocking(move || {
            index.related(&name, offset, limit, RELATED_SNIPPET_BYTES, &access)
        })
        .await
        .map_err(|e| Error::internal(e.to_string()))?
        .map_err(|e| Error::internal(e.to_string()))?
        .ok_or_else(|| Error::not_found(&request.name))?;
        let next_offset = offset + page.hits.len();
        let next_page_token = if (next_offset as u64) < page.total
            && next_offset < MAX_OFFSET
            && !page.hits.is_empty()
        {
            encode_page_token(&binding, next_offset)
        } else {
            String::new()
        };
        Ok(FindRelatedResponse {
            results: page.hits.into_iter().map(to_result).collect(),
            next_page_token,
            applied_cursor,
        })
    }
}

/// `items/{id}` with an id of `[a-z0-9]([a-z0-9-]*[a-z0-9])?`, at most 69 bytes in all.
fn valid_item_name(name: &str) -> bool {
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
fn access(caller: &Caller) -> Access {
    match caller {
        Caller::Anonymous => Access::Anonymous,
        Caller::Authenticated(p) if p.is_service() => Access::Service,
        Caller::Authenticated(p) => Access::User {
            subject: p.subject.clone(),
            admin: p.is_admin(),
        },
    }
}

fn caller_key(caller: &Caller) -> String {
    match caller {
        Caller::Anonymous => String::new(),
        Caller::Authenticated(principal) => principal.subject.clone(),
    }
}

fn parse_order(order_by: &str) -> Result<Order, Error> {
    let normalized = order_by.split_whitespace().collect::<Vec<_>>().join(" ");
    Ok(match normalized.as_str() {
        "" | "score desc" => Order::Relevance,
        "update_time desc" => Order::UpdateTimeDesc,
        "update_time" | "update_time asc" => Order::UpdateTimeAsc,
        "create_time desc" => Order::CreateTimeDesc,
        "create_time" | "create_time asc" => Order::CreateTimeAsc,
        "confidence_score desc" => Order::ConfidenceDesc,
        "confidence_score" | "confidence_score asc" => Order::ConfidenceAsc,
        _ => {
            return Err(Error::invalid_field(
                "order_by",
                "must be one of: score desc, update_time [desc], create_time [desc], confidence_score [desc]",
            ));
        }
    })
}

fn time_range(
    range: &Option<pake_api::search::TimeRange>,
    field: &str,
) -> Result<(Option<i64>, Option<i64>), Error> {
    let Some(range) = range else {
        return Ok((None, None));
    };
    let micros = |t: &Option<prost_types::Timestamp>| {
        t.as_ref().map(|t| {
            t.seconds
                .saturating_mul(1_000_000)
                .saturating_add(i64::from(t.nanos) / 1000)
        })
    };
    let (start, end) = (micros(&range.start_time), micros(&range.end_time));
    if let (Some(start), Some(end)) = (start, end)
        && start >= end
    {
        return Err(Error::invalid_field(
            field,
            "start_time must be before end_time",
        ));
    }
    Ok((start, end))
}

#[derive(Serialize, Deserialize, PartialEq)]
struct PageBinding {
    caller: String,
    query: String,
    order_by: String,
    update_time_range: (Option<i64>, Option<i64>),
    create_time_range: (Option<i64>, Option<i64>),
}

/// What a FindRelated page token is bound to.
#[derive(Serialize, Deserialize, PartialEq)]
struct RelatedBinding {
    caller: String,
    item: String,
}

#[derive(Deserialize)]
struct PageToken<B> {
    binding: B,
    offset: usize,
}

fn encode_page_token<B: Serialize>(binding: &B, offset: usize) -> String {
    let token = serde_json::json!({ "binding": binding, "offset": offset });
    URL_SAFE_NO_PAD.encode(token.to_string())
}

/// The offset in `token`, which must have been issued for `binding` (`mismatch` describes the
/// error when it was issued for another).
fn decode_page_token<B: DeserializeOwned + PartialEq>(
    token: &str,
    binding: &B,
    mismatch: &str,
) -> Result<usize, Error> {
    let invalid =
        || Error::invalid_field("page_token", "is not a page token issued by this method");
    if token.len() > 1024 {
        return Err(invalid());
    }
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| invalid())?;
    let token: PageToken<B> = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    if &token.binding != binding {
        return Err(Error::invalid_field("page_token", mismatch));
    }
    if token.offset > MAX_OFFSET {
        return Err(invalid());
    }
    Ok(token.offset)
}

fn ranges(ranges: Vec<(usize, usize)>) -> Vec<TextRange> {
    ranges
        .into_iter()
        .map(|(start, end)| TextRange {
            start_offset: i32::try_from(start).unwrap_or(i32::MAX),
            end_offset: i32::try_from(end).unwrap_or(i32::MAX),
        })
        .collect()
}

fn to_result(hit: crate::index::Hit) -> SearchResult {
    SearchResult {
        name: hit.name,
        title: hit.title,
        title_highlights: ranges(hit.title_highlights),
        snippet: hit.snippet,
        snippet_highlights: ranges(hit.snippet_highlights),
        score: f64::from(hit.score),
        tags: hit.tags,
        kind: hit.kind,
        status: hit.status,
        confidence_score: hit.confidence_score,
        create_time: Some(timestamp(hit.create_time_us)),
        update_time: Some(timestamp(hit.update_time_us)),
        owner: hit.owner,
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
