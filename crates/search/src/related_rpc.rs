//! Suggest (completions of titles and tags) and FindRelated (more like this).

use pake_api::search::{
    FindRelatedRequest, FindRelatedResponse, SuggestRequest, SuggestResponse, SuggestionType,
};
use pake_core::Error;
use pake_core::auth::Caller;
use serde::{Deserialize, Serialize};
use std::time::Duration;

use crate::index::SuggestionKind;
use crate::paging::{MAX_OFFSET, decode_page_token, encode_page_token, ranges};
use crate::search_rpc::{MAX_PAGE_SIZE, to_result};
use crate::service::{SearchService, access, caller_key, valid_item_name};

const MAX_PREFIX_BYTES: usize = 256;
const DEFAULT_SUGGESTIONS: i32 = 10;
const MAX_SUGGESTIONS: i32 = 50;
const DEFAULT_RELATED_PAGE_SIZE: i32 = 10;
const RELATED_SNIPPET_BYTES: usize = 200;

impl SearchService {
    pub(crate) async fn suggest(
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

    pub(crate) async fn find_related(
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

/// What a FindRelated page token is bound to.
#[derive(Serialize, Deserialize, PartialEq)]
struct RelatedBinding {
    caller: String,
    item: String,
}
