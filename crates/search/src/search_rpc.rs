//! Search: validation, the page token, the hot-query cache and the index query.

use pake_api::search::{
    Facet, FacetField as WireFacet, FacetValue, SearchRequest, SearchResponse, SearchResult,
};
use pake_core::Error;
use pake_core::auth::Caller;
use pake_runtime::db::timestamp;
use prost::Message;
use serde::{Deserialize, Serialize};
use std::time::Duration;

use crate::cache::CacheKey;
use crate::index::{Access, FacetField, Order, Query};
use crate::paging::{MAX_OFFSET, decode_page_token, encode_page_token, ranges};
use crate::service::{SearchService, access, caller_key};

const DEFAULT_PAGE_SIZE: i32 = 20;
pub(crate) const MAX_PAGE_SIZE: i32 = 100;

impl SearchService {
    pub(crate) async fn search(
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
        // The index reader is at least as new as `applied_cursor` (the consumer reloads it
        // before publishing the cursor), so a cached page is never older than its key says.
        let key = CacheKey::new(&applied_cursor, &scope_key(&access), &format!("{query:?}"));
        // A page that does not decode (foreign data in a shared cache) is a miss, not an error.
        let cached = self.cache.get(&key).await.and_then(|bytes| {
            SearchResponse::decode(bytes.as_slice())
                .inspect_err(|error| tracing::warn!(%error, "ignoring an undecodable cached page"))
                .ok()
        });
        let mut response = match cached {
            Some(response) => response,
            None => {
                let response = self.run_query(query, access, applied_cursor).await?;
                self.cache.put(key, response.encode_to_vec()).await;
                response
            }
        };
        let next_offset = offset + response.results.len();
        if (next_offset as u64) < u64::try_from(response.total_size).unwrap_or(0)
            && next_offset < MAX_OFFSET
            && !response.results.is_empty()
        {
            response.next_page_token = encode_page_token(&binding, next_offset);
        }
        Ok(response)
    }

    /// Answers `query` from the index (off the async runtime).
    async fn run_query(
        &self,
        query: Query,
        access: Access,
        applied_cursor: String,
    ) -> Result<SearchResponse, Error> {
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
            next_page_token: String::new(),
            applied_cursor,
        })
    }
}

/// The read scope as a cache-key part: callers who read the same items share entries.
fn scope_key(access: &Access) -> String {
    match access {
        Access::Anonymous => "public".to_owned(),
        Access::Service | Access::User { admin: true, .. } => "all".to_owned(),
        Access::User { subject, .. } => format!("user:{subject}"),
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

pub(crate) fn to_result(hit: crate::index::Hit) -> SearchResult {
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
