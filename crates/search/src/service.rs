//! The gRPC adapter of the search service. Methods not implemented yet answer UNIMPLEMENTED
//! through the generated default bodies and are listed in `UNIMPLEMENTED.md`.

use pake_api::search::search_service_server::{self, SearchServiceServer};

/// `pake.search.v1.SearchService`.
#[derive(Clone, Debug, Default)]
pub struct SearchService {}

impl SearchService {
    /// A search service.
    pub fn new() -> Self {
        SearchService {}
    }

    /// The tonic server for this service.
    pub fn into_server(self) -> SearchServiceServer<Self> {
        SearchServiceServer::new(self)
    }
}

#[tonic::async_trait]
impl search_service_server::SearchService for SearchService {}
