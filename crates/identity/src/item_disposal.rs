//! The second half of DeleteUser: carrying out the deleted user's item disposition in the
//! knowledge service, durably. DeleteUser records the disposition in the same transaction that
//! removes the user; this worker calls `KnowledgeService/DisposeOwnerItems` as the service account
//! `services/identity` until it succeeds (the call is idempotent), then marks it done. A restart,
//! a knowledge outage or a crash midway only delays it.

use std::sync::Arc;
use std::time::Duration;

use pake_api::knowledge::DisposeOwnerItemsRequest;
use pake_api::knowledge::dispose_owner_items_request::Disposition;
use pake_api::knowledge::knowledge_service_client::KnowledgeServiceClient;
use pake_core::token::ServiceTokenSource;
use pake_runtime::Shutdown;
use pake_runtime::db::now_micros;
use tokio::sync::Notify;
use tonic::transport::Channel;

use crate::store::{IdentityStore, PendingDisposal};

/// How often pending dispositions are retried when nothing wakes the worker.
const RETRY_INTERVAL: Duration = Duration::from_secs(5);
/// Dispositions handled per round.
const BATCH: i64 = 50;

/// Carries out pending item dispositions.
#[derive(Debug)]
pub struct ItemDisposer {
    store: Arc<dyn IdentityStore>,
    knowledge: Option<Channel>,
    tokens: Arc<dyn ServiceTokenSource>,
    wake: Arc<Notify>,
}

impl ItemDisposer {
    /// A worker over `store` calling the knowledge service at `knowledge_url` (none: dispositions
    /// wait, with a warning, until one is configured) with tokens from `tokens`; `wake` is
    /// notified by DeleteUser.
    pub fn new(
        store: Arc<dyn IdentityStore>,
        knowledge_url: Option<&str>,
        tokens: Arc<dyn ServiceTokenSource>,
        wake: Arc<Notify>,
    ) -> Result<Self, tonic::transport::Error> {
        let knowledge = match knowledge_url {
            Some(url) => Some(
                pake_runtime::tls::client_endpoint(url)?
                    .connect_timeout(Duration::from_secs(5))
                    .connect_lazy(),
            ),
            None => None,
        };
        Ok(ItemDisposer {
            store,
            knowledge,
            tokens,
            wake,
        })
    }

    /// Runs until `shutdown`.
    pub fn spawn(self, shutdown: Shutdown) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                match self.run_once().await {
                    Ok(0) => {}
                    Ok(done) => tracing::info!(users = done, "disposed of deleted users' items"),
                    Err(error) => tracing::warn!(error = %error, "item disposal round failed"),
                }
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = self.wake.notified() => {}
                    () = tokio::time::sleep(RETRY_INTERVAL) => {}
                }
            }
        })
    }

    /// One round over the pending dispositions; returns how many were completed.
    pub async fn run_once(&self) -> Result<usize, pake_core::Error> {
        let pending = self.store.pending_disposals(BATCH).await?;
        if pending.is_empty() {
            return Ok(0);
        }
        let Some(channel) = &self.knowledge else {
            tracing::warn!(
                pending = pending.len(),
                "deleted users' items wait for disposal: upstream.knowledge is not configured"
            );
            return Ok(0);
        };
        let mut done = 0;
        for disposal in pending {
            match self.dispose(channel.clone(), &disposal).await {
                Ok(count) => {
                    self.store
                        .finish_disposal(&disposal.user_id, now_micros())
                        .await?;
                    tracing::info!(user = %disposal.user_id, items = count, "item disposal done");
                    done += 1;
                }
                Err(status) => {
                    tracing::warn!(
                        user = %disposal.user_id,
                        code = ?status.code(),
                        message = status.message(),
                        "item disposal failed; will retry"
                    );
                    self.store
                        .fail_disposal(&disposal.user_id, status.message())
                        .await?;
                }
            }
        }
        Ok(done)
    }

    async fn dispose(
        &self,
        channel: Channel,
        disposal: &PendingDisposal,
    ) -> Result<i32, tonic::Status> {
        let token = self
            .tokens
            .token()
            .await
            .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
        let mut request = tonic::Request::new(DisposeOwnerItemsRequest {
            owner: format!("users/{}", disposal.user_id),
            disposition: if disposal.reassign_to.is_empty() {
                Disposition::DeleteItems
            } else {
                Disposition::ReassignItems
            } as i32,
            new_owner: disposal.reassign_to.clone(),
        });
        let header = format!("Bearer {token}")
            .parse()
            .map_err(|_| tonic::Status::internal("service token is not ASCII"))?;
        request.metadata_mut().insert("authorization", header);
        request.set_timeout(Duration::from_secs(120));
        let response = KnowledgeServiceClient::new(channel)
            .dispose_owner_items(request)
            .await?;
        Ok(response.into_inner().item_count)
    }
}
