//! The gRPC adapter of the knowledge service. Methods not implemented yet answer UNIMPLEMENTED
//! through the generated default bodies and are listed in `UNIMPLEMENTED.md`.

use pake_api::knowledge::knowledge_service_server::{self, KnowledgeServiceServer};
use pake_runtime::db::Database;

/// `pake.knowledge.v1.KnowledgeService`.
#[derive(Clone, Debug)]
pub struct KnowledgeService {
    #[allow(dead_code)]
    database: Database,
}

impl KnowledgeService {
    /// A service storing items in `database`.
    pub fn new(database: Database) -> Self {
        KnowledgeService { database }
    }

    /// The tonic server for this service.
    pub fn into_server(self) -> KnowledgeServiceServer<Self> {
        KnowledgeServiceServer::new(self)
    }
}

#[tonic::async_trait]
impl knowledge_service_server::KnowledgeService for KnowledgeService {}
