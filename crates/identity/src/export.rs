//! ExportUserData: everything identity holds about a user, as a server stream — the user, its
//! live sessions, its API keys (metadata only), then the retained audit events whose actor or
//! target is the user (or a resource under it), oldest first, read from the store page by page.
//!
//! The export records `USER_DATA_EXPORTED` before it starts and includes events up to and
//! including that one, so an export is a consistent snapshot of the log and ends with itself.

use pake_api::identity::export_user_data_response::Record;
use pake_api::identity::{AuditEventType, ExportUserDataRequest, ExportUserDataResponse};
use pake_core::Error;
use pake_core::auth::Caller;
use pake_core::filter::Expr;
use pake_runtime::db::now_micros;
use pake_runtime::sql::{SqlFragment, all_of};
use tokio::sync::mpsc;
use tonic::Status;
use tonic::codegen::BoxStream;

use crate::audit::{AuditEvent, RequestContext, actor_of, to_message};
use crate::audit_list::{after_sql, concerning, created_until, order_by_sql, position_of, to_sql};
use crate::service::{IdentityService, session_to_proto};
use crate::store::ListQuery;

/// Audit events read per store query.
const AUDIT_PAGE: usize = 200;
/// Messages buffered ahead of a slow client.
const BUFFER: usize = 32;

impl IdentityService {
    /// Checks the caller, records the export and starts the stream's producer task.
    pub(crate) async fn export_user_data(
        &self,
        caller: &Caller,
        context: &RequestContext,
        request: ExportUserDataRequest,
    ) -> Result<BoxStream<ExportUserDataResponse>, Error> {
        let (principal, user) = self.readable_user(caller, &request.name, "name").await?;
        let sessions = self.store.live_sessions(&user.id, now_micros()).await?;
        let api_keys = self.store.api_keys_of(&user.id).await?;
        let record = self.audit_record(
            AuditEvent::new(
                AuditEventType::UserDataExported,
                actor_of(&principal),
                user.resource_name(),
            ),
            context,
        );
        let horizon = record.create_time;
        self.record_audit(record).await;

        let mut head = vec![Record::User(
            self.user_to_proto_for(Some(&principal), &user).await,
        )];
        head.extend(sessions.iter().map(|session| {
            let current = principal.session_id.as_deref() == Some(&session.resource_name());
            Record::Session(session_to_proto(session, current))
        }));
        head.extend(
            api_keys
                .iter()
                .map(|key| Record::ApiKey(crate::api_keys::to_proto(key))),
        );
        let filter = to_sql(&Some(Expr::And(vec![
            concerning(&user.resource_name()),
            created_until(horizon),
        ])));
        let (sender, receiver) = mpsc::channel(BUFFER);
        let service = self.clone();
        tokio::spawn(async move {
            for record in head {
                let message = ExportUserDataResponse {
                    record: Some(record),
                };
                if sender.send(Ok(message)).await.is_err() {
                    return;
                }
            }
            if let Err(status) = service.send_audit_events(&filter, &sender).await {
                let _ = sender.send(Err(status)).await;
            }
        });
        Ok(Box::pin(tokio_stream::wrappers::ReceiverStream::new(
            receiver,
        )))
    }

    /// Sends the events matching `filter`, oldest first, a store page at a time; stops early
    /// (with `Ok`) when the client went away.
    async fn send_audit_events(
        &self,
        filter: &SqlFragment,
        sender: &mpsc::Sender<Result<ExportUserDataResponse, Status>>,
    ) -> Result<(), Status> {
        let order_by = order_by_sql(false);
        let mut after = SqlFragment::new();
        loop {
            let condition = all_of(&[filter, &after]);
            let events = self
                .store
                .list_audit_events(&ListQuery {
                    condition: &condition,
                    order_by: &order_by,
                    limit: AUDIT_PAGE as i64,
                })
                .await
                .map_err(|error| Status::from(Error::from(error)))?;
            for event in &events {
                let message = ExportUserDataResponse {
                    record: Some(Record::AuditEvent(to_message(event))),
                };
                if sender.send(Ok(message)).await.is_err() {
                    return Ok(());
                }
            }
            match events.last() {
                Some(last) if events.len() == AUDIT_PAGE => {
                    after = after_sql(&position_of(last), false);
                }
                _ => return Ok(()),
            }
        }
    }
}
