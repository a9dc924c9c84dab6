//! Response compression: a response of at least [`MIN_BYTES`] is sent gzip- or
//! Brotli-compressed when the request's `Accept-Encoding` allows it (quality values honoured,
//! `Vary: Accept-Encoding` added), as Envoy's compressor filter and the usual grpc-gateway
//! middleware do. Server streams (NDJSON, SSE) are never compressed: a compressor holds bytes
//! back until its buffer fills, which would delay each event of a live stream. Images and gRPC
//! are left alone too. Off with `edge.compression = false` (e.g. when Kong compresses).

use tower_http::compression::predicate::{NotForContentType, Predicate, SizeAbove};
use tower_http::compression::{CompressionLayer, CompressionLevel};

/// Smaller responses are sent as they are: compression would save a few bytes at best.
pub const MIN_BYTES: u16 = 1024;

/// The layer the edge's HTTP router is wrapped in.
pub fn layer() -> CompressionLayer<impl Predicate> {
    let predicate = SizeAbove::new(MIN_BYTES)
        .and(NotForContentType::GRPC)
        .and(NotForContentType::IMAGES)
        .and(NotForContentType::SSE)
        .and(NotForContentType::const_new("application/x-ndjson"));
    CompressionLayer::new()
        .gzip(true)
        .br(true)
        // Level 4 for both: gzip near its default ratio at about half its CPU, Brotli well
        // clear of its slow high levels; the edge's CPU is the whole API's.
        .quality(CompressionLevel::Precise(4))
        .compress_when(predicate)
}
