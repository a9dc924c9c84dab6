//! Page tokens of Search and FindRelated: the offset of the next page and what it is bound to
//! (caller, query, order, ranges), base64url JSON. Access is decided on every call, never from
//! the token.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use pake_api::search::TextRange;
use pake_core::Error;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// The deepest offset a page token may reach.
pub(crate) const MAX_OFFSET: usize = 10_000;

#[derive(Deserialize)]
struct PageToken<B> {
    binding: B,
    offset: usize,
}

pub(crate) fn encode_page_token<B: Serialize>(binding: &B, offset: usize) -> String {
    let token = serde_json::json!({ "binding": binding, "offset": offset });
    URL_SAFE_NO_PAD.encode(token.to_string())
}

/// The offset in `token`, which must have been issued for `binding` (`mismatch` describes the
/// error when it was issued for another).
pub(crate) fn decode_page_token<B: DeserializeOwned + PartialEq>(
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

pub(crate) fn ranges(ranges: Vec<(usize, usize)>) -> Vec<TextRange> {
    ranges
        .into_iter()
        .map(|(start, end)| TextRange {
            start_offset: i32::try_from(start).unwrap_or(i32::MAX),
            end_offset: i32::try_from(end).unwrap_or(i32::MAX),
        })
        .collect()
}
