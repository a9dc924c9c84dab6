//! ExportItems: one consistent snapshot of the live items the caller may read that match the
//! filter, taken when the call starts, streamed as vault files in path order (`render.rs`).
//! Explicit links to items the caller may not read are left out. The stream ends with
//! UNAVAILABLE when the server shuts down.

use std::pin::Pin;

use pake_api::knowledge::{ExportItemsRequest, ExportItemsResponse};
use pake_core::auth::Caller;
use pake_core::{Error, ErrorKind};
use tokio::sync::mpsc;
use tonic::Status;

use super::render::{self, Linker};
use crate::filter::Filter;
use crate::service::KnowledgeService;
use crate::store::ReadScope;

/// The server stream of ExportItems.
pub(crate) type ExportStream =
    Pin<Box<dyn tokio_stream::Stream<Item = Result<ExportItemsResponse, Status>> + Send>>;

impl KnowledgeService {
    pub(crate) async fn export_items(
        &self,
        caller: &Caller,
        request: ExportItemsRequest,
    ) -> Result<ExportStream, Error> {
        let principal = match caller {
            Caller::Authenticated(principal) => principal,
            Caller::Anonymous => return Err(Error::unauthenticated("authorization: required")),
        };
        let filter = Filter::parse(&request.filter)?;
        let condition = filter.to_sql(Some(&principal.subject));
        let snapshot = self
            .store
            .export_snapshot(&ReadScope::of(caller), &condition)
            .await?;
        let readable = snapshot.readable_links;
        let files = render::layout(snapshot.items);
        let linker = Linker::new(&files);
        let (sender, receiver) = mpsc::channel(16);
        let shutdown = self.shutdown.clone();
        tokio::spawn(async move {
            let producer = async {
                for file in files {
                    let id = file.item.name.trim_start_matches("items/");
                    let connections = file
                        .item
                        .links
                        .iter()
                        .map(|link| link.trim_start_matches("items/"))
                        .filter(|target| readable.contains(&(id.to_owned(), (*target).to_owned())))
                        .map(|target| linker.connection(target))
                        .collect();
                    let content = render::render(&file.item, connections)
                        .map_err(|error| Status::from(Error::internal(error)))?;
                    let message = ExportItemsResponse {
                        path: file.path,
                        content,
                        item: file.item.name,
                    };
                    if sender.send(Ok(message)).await.is_err() {
                        return Ok(());
                    }
                }
                Ok(())
            };
            let result: Result<(), Status> = tokio::select! {
                result = producer => result,
                () = shutdown.cancelled() => Err(Error::new(
                    ErrorKind::Unavailable,
                    "the server is shutting down; export again",
                )
                .into()),
            };
            if let Err(status) = result {
                let _ = sender.send(Err(status)).await;
            }
        });
        Ok(Box::pin(tokio_stream::wrappers::ReceiverStream::new(
            receiver,
        )))
    }
}
