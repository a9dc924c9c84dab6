//! HTTP headers ↔ gRPC metadata.
//!
//! Forwarded upstream: `authorization`, `traceparent`, `tracestate`, `x-request-id` (generated
//! when absent), `x-forwarded-for` (with the client's address appended), every
//! `Grpc-Metadata-<key>` as `<key>`, and `grpc-timeout` as the call's deadline. Upstream
//! response metadata (headers and trailers) comes back as `Grpc-Metadata-<key>` headers.

use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine;
use http::{HeaderMap, HeaderName, HeaderValue};
use tonic::metadata::{AsciiMetadataKey, BinaryMetadataKey, KeyAndValueRef, MetadataMap};

use crate::errors::Error;

/// The request-id header, forwarded and echoed back.
pub const REQUEST_ID: &str = "x-request-id";
/// Prefix of passthrough headers.
pub const METADATA_PREFIX: &str = "grpc-metadata-";

const FORWARDED: [&str; 3] = ["authorization", "traceparent", "tracestate"];

/// Metadata the upstream sets that must not be echoed as `Grpc-Metadata-*`.
const RESERVED: [&str; 7] = [
    "content-type",
    "grpc-status",
    "grpc-message",
    "grpc-status-details-bin",
    "grpc-encoding",
    "grpc-accept-encoding",
    "date",
];

/// What the edge derives from the request headers.
#[derive(Debug)]
pub struct Forwarded {
    /// The metadata for the upstream call.
    pub metadata: MetadataMap,
    /// The request id (the client's or a new one).
    pub request_id: String,
    /// The deadline from `grpc-timeout`.
    pub timeout: Option<Duration>,
}

/// Builds the upstream metadata from the request headers and the client's address.
pub fn forward(headers: &HeaderMap, peer: Option<SocketAddr>) -> Result<Forwarded, Error> {
    let mut metadata = MetadataMap::new();
    for name in FORWARDED {
        for value in headers.get_all(name) {
            if let Ok(key) = AsciiMetadataKey::from_bytes(name.as_bytes())
                && let Ok(value) = value.to_str().map(str::parse)
                && let Ok(value) = value
            {
                metadata.append(key, value);
            }
        }
    }
    let request_id = headers
        .get(REQUEST_ID)
        .and_then(|value| value.to_str().ok())
        .filter(|value| !value.is_empty() && value.len() <= 128)
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    if let Ok(value) = request_id.parse() {
        metadata.insert(REQUEST_ID, value);
    }
    let mut forwarded_for: Vec<String> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok().map(str::to_owned))
        .collect();
    if let Some(peer) = peer {
        forwarded_for.push(peer.ip().to_string());
    }
    if !forwarded_for.is_empty()
        && let Ok(value) = forwarded_for.join(", ").parse()
    {
        metadata.insert("x-forwarded-for", value);
    }
    for (name, value) in headers {
        let Some(key) = name.as_str().strip_prefix(METADATA_PREFIX) else {
            continue;
        };
        let invalid =
            || Error::invalid_field(name.as_str(), "not a valid gRPC metadata key or value");
        if FORWARDED.contains(&key)
            || matches!(key, REQUEST_ID | "x-forwarded-for")
            || key.starts_with("grpc-")
        {
            // `Grpc-Metadata-Authorization` would smuggle a credential past the API-key exchange.
            return Err(Error::invalid_field(
                name.as_str(),
                format!("{key} cannot be passed as Grpc-Metadata-*; send the header itself"),
            ));
        }
        if key.ends_with("-bin") {
            let key = BinaryMetadataKey::from_bytes(key.as_bytes()).map_err(|_| invalid())?;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(value.as_bytes())
                .map_err(|_| invalid())?;
            metadata.append_bin(key, tonic::metadata::MetadataValue::from_bytes(&bytes));
        } else {
            let key = AsciiMetadataKey::from_bytes(key.as_bytes()).map_err(|_| invalid())?;
            let value = value
                .to_str()
                .ok()
                .and_then(|text| text.parse().ok())
                .ok_or_else(invalid)?;
            metadata.append(key, value);
        }
    }
    let timeout = match headers.get("grpc-timeout") {
        Some(value) => Some(
            value
                .to_str()
                .ok()
                .and_then(parse_grpc_timeout)
                .ok_or_else(|| {
                    Error::invalid_field(
                        "grpc-timeout",
                        "expected 1 to 8 digits and a unit (H, M, S, m, u, n), e.g. 500m",
                    )
                })?,
        ),
        None => None,
    };
    Ok(Forwarded {
        metadata,
        request_id,
        timeout,
    })
}

/// Parses a gRPC timeout (`100m`, `5S`, `1H`).
pub fn parse_grpc_timeout(text: &str) -> Option<Duration> {
    let (digits, unit) = text.split_at(text.char_indices().last()?.0);
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let value: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(value * 3600),
        "M" => Duration::from_secs(value * 60),
        "S" => Duration::from_secs(value),
        "m" => Duration::from_millis(value),
        "u" => Duration::from_micros(value),
        "n" => Duration::from_nanos(value),
        _ => return None,
    })
}

/// Adds upstream metadata to `headers` as `Grpc-Metadata-<key>` (binary values base64).
pub fn metadata_to_headers(metadata: &MetadataMap, headers: &mut HeaderMap) {
    for entry in metadata.iter() {
        let (name, value) = match entry {
            KeyAndValueRef::Ascii(key, value) => {
                (key.as_str().to_owned(), value.as_bytes().to_vec())
            }
            KeyAndValueRef::Binary(key, value) => (
                key.as_str().to_owned(),
                base64::engine::general_purpose::STANDARD
                    .encode(value.to_bytes().unwrap_or_default())
                    .into_bytes(),
            ),
        };
        if RESERVED.contains(&name.as_str()) || name.starts_with(':') {
            continue;
        }
        if let Ok(header) = HeaderName::from_bytes(format!("{METADATA_PREFIX}{name}").as_bytes())
            && let Ok(value) = HeaderValue::from_bytes(&value)
        {
            headers.append(header, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_timeouts_parse() {
        assert_eq!(parse_grpc_timeout("100m"), Some(Duration::from_millis(100)));
        assert_eq!(parse_grpc_timeout("2S"), Some(Duration::from_secs(2)));
        assert_eq!(parse_grpc_timeout("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_grpc_timeout("m"), None);
        assert_eq!(parse_grpc_timeout("123456789S"), None);
        assert_eq!(parse_grpc_timeout("5x"), None);
        assert_eq!(parse_grpc_timeout(""), None);
        assert_eq!(parse_grpc_timeout("1é"), None);
    }

    #[test]
    fn headers_become_metadata_and_a_request_id_is_made() {
        let mut headers = HeaderMap::new();
        headers.insert("authorization", HeaderValue::from_static("Bearer abc"));
        headers.insert("grpc-metadata-x-tenant", HeaderValue::from_static("t1"));
        headers.insert("cookie", HeaderValue::from_static("secret"));
        let forwarded = forward(&headers, None).expect("valid headers");
        assert_eq!(
            forwarded
                .metadata
                .get("authorization")
                .map(|v| v.to_str().ok()),
            Some(Some("Bearer abc"))
        );
        assert_eq!(
            forwarded.metadata.get("x-tenant").map(|v| v.to_str().ok()),
            Some(Some("t1"))
        );
        assert!(forwarded.metadata.get("cookie").is_none());
        assert_eq!(forwarded.request_id.len(), 36);
    }
}
