//! AIP-158 pagination shared by every list method: `page_size` rules, AIP-132 `order_by`
//! parsing, keyset positions and the opaque page tokens that carry them.
//!
//! A page token holds the position the next page starts after (the sort-key values and the id
//! of the previous page's last row) and a digest of what it is bound to: the method, the caller,
//! the filter and the order (canonically spelled), plus whatever else the method's result
//! depends on. A token reused with anything else is INVALID_ARGUMENT. Access is decided from the
//! actual caller on every call, never from the token, so a token is opaque but needs no secrecy.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::Error;

/// Longest page token accepted (every `page_token` field documents this maximum).
pub const MAX_PAGE_TOKEN: usize = 1024;
/// Longest `order_by` accepted.
pub const MAX_ORDER_BY: usize = 256;
const TOKEN_VERSION: u8 = 1;

/// `page_size` as AIP-158 says: 0 → `default`, negative → INVALID_ARGUMENT, above `max` → `max`.
pub fn page_size(requested: i32, default: usize, max: usize) -> Result<usize, Error> {
    match usize::try_from(requested) {
        Err(_) => Err(Error::invalid_field("page_size", "must not be negative")),
        Ok(0) => Ok(default),
        Ok(size) => Ok(size.min(max)),
    }
}

/// What a page token is bound to: a digest of the method, caller and request fields it depends on.
pub type Binding = [u8; 16];

/// The digest of `parts`, each length-prefixed so that no two part lists collide.
pub fn binding(parts: &[&[u8]]) -> Binding {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part);
    }
    let digest = hasher.finalize();
    let mut binding = Binding::default();
    let length = binding.len();
    binding.copy_from_slice(&digest[..length]);
    binding
}

/// The type of a sort key's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortValueType {
    Int,
    Float,
    Text,
}

/// A sort key's value for one row.
#[derive(Clone, Debug, PartialEq)]
pub enum SortValue {
    /// An integer, e.g. a time in microseconds.
    Int(i64),
    /// A floating-point number (always finite).
    Float(f64),
    /// A text, as stored.
    Text(String),
}

impl SortValue {
    /// The kind of value this is.
    pub fn value_type(&self) -> SortValueType {
        match self {
            SortValue::Int(_) => SortValueType::Int,
            SortValue::Float(_) => SortValueType::Float,
            SortValue::Text(_) => SortValueType::Text,
        }
    }
}

/// Where the previous page ended: the sort key values and id of its last row.
#[derive(Clone, Debug, PartialEq)]
pub struct Position {
    /// One value per sort key of the order, in order.
    pub keys: Vec<SortValue>,
    /// The row's id, which breaks ties.
    pub id: String,
}

/// Version, binding, each key (`i64`/`f64` big-endian, text as a `u16` length and UTF-8), then
/// the id; base64url without padding.
pub fn encode_page_token(binding: &Binding, position: &Position) -> String {
    let mut bytes = vec![TOKEN_VERSION];
    bytes.extend_from_slice(binding);
    for key in &position.keys {
        match key {
            SortValue::Int(value) => bytes.extend_from_slice(&value.to_be_bytes()),
            SortValue::Float(value) => bytes.extend_from_slice(&value.to_bits().to_be_bytes()),
            SortValue::Text(value) => {
                let length = u16::try_from(value.len()).unwrap_or(u16::MAX);
                bytes.extend_from_slice(&length.to_be_bytes());
                bytes.extend_from_slice(
                    value
                        .as_bytes()
                        .get(..usize::from(length))
                        .unwrap_or_default(),
                );
            }
        }
    }
    bytes.extend_from_slice(position.id.as_bytes());
    URL_SAFE_NO_PAD.encode(bytes)
}

/// What a page token must fit to be decoded.
#[derive(Clone, Copy, Debug)]
pub struct TokenSpec<'a> {
    /// The digest of what the token is bound to.
    pub binding: &'a Binding,
    /// The value type of each sort key of the order.
    pub key_types: &'a [SortValueType],
    /// The method, for messages (`ListUsers`).
    pub method: &'a str,
    /// What the binding covers, for messages (`filter, order or caller`).
    pub bound_to: &'a str,
    /// Whether an id read from the token is a possible row id.
    pub valid_id: fn(&str) -> bool,
}

/// The position in `token`, checked against `spec`. Anything not produced by
/// [`encode_page_token`] for the same binding and key types is INVALID_ARGUMENT naming
/// `page_token`.
pub fn decode_page_token(token: &str, spec: &TokenSpec<'_>) -> Result<Position, Error> {
    let method = spec.method;
    let invalid =
        || Error::invalid_field("page_token", format!("is not a token issued by {method}"));
    if token.len() > MAX_PAGE_TOKEN {
        return Err(invalid());
    }
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| invalid())?;
    let Some((&TOKEN_VERSION, rest)) = bytes.split_first() else {
        return Err(invalid());
    };
    let (digest, mut rest) = rest
        .split_at_checked(spec.binding.len())
        .ok_or_else(invalid)?;
    if digest != spec.binding {
        return Err(Error::invalid_field(
            "page_token",
            format!("was issued for another {}", spec.bound_to),
        ));
    }
    let mut keys = Vec::with_capacity(spec.key_types.len());
    for key_type in spec.key_types {
        let value = match key_type {
            SortValueType::Int => {
                let (value, remaining) = rest.split_first_chunk::<8>().ok_or_else(invalid)?;
                rest = remaining;
                SortValue::Int(i64::from_be_bytes(*value))
            }
            SortValueType::Float => {
                let (value, remaining) = rest.split_first_chunk::<8>().ok_or_else(invalid)?;
                rest = remaining;
                let value = f64::from_bits(u64::from_be_bytes(*value));
                if !value.is_finite() {
                    return Err(invalid());
                }
                SortValue::Float(value)
            }
            SortValueType::Text => {
                let (length, remaining) = rest.split_first_chunk::<2>().ok_or_else(invalid)?;
                let (text, remaining) = remaining
                    .split_at_checked(usize::from(u16::from_be_bytes(*length)))
                    .ok_or_else(invalid)?;
                rest = remaining;
                SortValue::Text(String::from_utf8(text.to_vec()).map_err(|_| invalid())?)
            }
        };
        keys.push(value);
    }
    let id = std::str::from_utf8(rest)
        .ok()
        .filter(|id| (spec.valid_id)(id))
        .ok_or_else(invalid)?;
    Ok(Position {
        keys,
        id: id.to_owned(),
    })
}

/// Parses an AIP-132 `order_by` against the sortable `fields` (name → field): comma-separated
/// names, each optionally followed by `desc` or `asc` (any case); extra spaces are ignored; each
/// field at most once. Returns `(field, descending)` pairs; empty for a blank `order_by` (the
/// method's default applies). Errors are INVALID_ARGUMENT naming `order_by`.
pub fn parse_order<F: Copy + PartialEq>(
    text: &str,
    fields: &[(&str, F)],
) -> Result<Vec<(F, bool)>, Error> {
    let invalid = |description: String| Error::invalid_field("order_by", description);
    if text.len() > MAX_ORDER_BY {
        return Err(invalid(format!("must be at most {MAX_ORDER_BY} bytes")));
    }
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    let mut keys: Vec<(F, bool)> = Vec::new();
    for part in text.split(',') {
        let words: Vec<&str> = part.split_whitespace().collect();
        let (name, descending) = match words.as_slice() {
            [name] => (*name, false),
            [name, direction] if direction.eq_ignore_ascii_case("desc") => (*name, true),
            [name, direction] if direction.eq_ignore_ascii_case("asc") => (*name, false),
            [] => return Err(invalid("has an empty entry between commas".to_owned())),
            _ => {
                return Err(invalid(format!(
                    "`{}` is not `field` or `field desc`",
                    crate::filter::value::shorten(part.trim())
                )));
            }
        };
        let field = fields
            .iter()
            .find(|(known, _)| *known == name)
            .map(|(_, field)| *field)
            .ok_or_else(|| {
                let names: Vec<&str> = fields.iter().map(|(known, _)| *known).collect();
                invalid(format!(
                    "cannot sort by `{}`; sortable fields: {}",
                    crate::filter::value::shorten(name),
                    names.join(", ")
                ))
            })?;
        if keys.iter().any(|(known, _)| *known == field) {
            return Err(invalid(format!("lists `{name}` more than once")));
        }
        keys.push((field, descending));
    }
    Ok(keys)
}

#[cfg(test)]
#[path = "paging_tests.rs"]
mod tests;
