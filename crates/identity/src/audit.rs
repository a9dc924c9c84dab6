//! The security audit log (SPEC §3): which events are recorded, how each is bounded, and the
//! API the rest of the service records them with.
//!
//! Two ways to record, both from an [`AuditEvent`] and the [`RequestContext`] of the request:
//! - **With the write** (preferred): [`IdentityService::audit_record`] builds the stored record
//!   and the store method making the change inserts it in the same transaction, so the log holds
//!   an event exactly when the change committed.
//! - **Best effort**: [`IdentityService::audit`] appends it on its own, for events that come with
//!   no write (failed sign-ins, lockouts, failed API-key exchanges, exports). A failure is logged
//!   at `error` and never fails the RPC: refusing a sign-in or an export because the log is
//!   unavailable would hand an attacker a way to block users (ADR 7).
//!
//! Events never hold passwords, secrets, tokens, or the text typed as a username that matched
//! no account. Old events are pruned on write, at most once an hour per process, past
//! `identity.audit_retention_days`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use pake_api::identity::{AuditEvent as AuditEventMessage, AuditEventType};
use pake_core::auth::{Caller, Principal};
use pake_runtime::db::{now_micros, timestamp};
use tonic::Request;

use crate::service::IdentityService;
use crate::store::{AuditRecord, IdentityStore, UserRecord};

/// Most attributes per event; further keys (in key order) are dropped.
pub const MAX_ATTRIBUTES: usize = 16;
/// Longest attribute key, in bytes; longer keys are truncated.
pub const MAX_ATTRIBUTE_KEY: usize = 64;
/// Longest attribute value, in bytes; longer values are truncated.
pub const MAX_ATTRIBUTE_VALUE: usize = 1024;
const MAX_ACTOR: usize = 128;
const MAX_TARGET: usize = 256;
const MAX_CLIENT_ADDRESS: usize = 45;
const MAX_USER_AGENT: usize = 512;
const TYPE_PREFIX: &str = "AUDIT_EVENT_TYPE_";
const PRUNE_INTERVAL_MICROS: i64 = 3600 * 1_000_000;
const DAY_MICROS: i64 = 86_400 * 1_000_000;

/// An event to record: what happened, who did it, to what, and details.
///
/// ```ignore
/// self.audit(
///     AuditEvent::new(AuditEventType::UserDeleted, actor_of(&principal), user.resource_name())
///         .with("item_disposition", "delete_items"),
///     &context,
/// )
/// .await;
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEvent {
    /// What happened.
    pub event_type: AuditEventType,
    /// `users/{user}` (see [`actor_of`]), or empty for an anonymous caller.
    pub actor: String,
    /// The resource acted on, or empty.
    pub target: String,
    /// Details; never passwords, secrets, tokens or typed usernames.
    pub attributes: BTreeMap<String, String>,
}

impl AuditEvent {
    /// An event without attributes.
    pub fn new(
        event_type: AuditEventType,
        actor: impl Into<String>,
        target: impl Into<String>,
    ) -> Self {
        AuditEvent {
            event_type,
            actor: actor.into(),
            target: target.into(),
            attributes: BTreeMap::new(),
        }
    }

    /// The event with the attribute `key` set to `value`.
    pub fn with(mut self, key: &str, value: impl Into<String>) -> Self {
        self.attributes.insert(key.to_owned(), value.into());
        self
    }
}

/// Where a request came from, as recorded with its events.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestContext {
    /// The client address, derived as for `Session.client_address`.
    pub client_address: String,
    /// The `user-agent` metadata.
    pub user_agent: String,
    /// The W3C trace id from `traceparent` metadata, or empty.
    pub trace_id: String,
}

impl RequestContext {
    /// The context of `request`; the client address is the one the server's auth layer resolved
    /// (through trusted proxies' `X-Forwarded-For`, see `pake_core::client_address`).
    pub fn of<T>(request: &Request<T>) -> Self {
        let traceparent = request
            .metadata()
            .get("traceparent")
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default();
        RequestContext {
            client_address: crate::service::client_address(request),
            user_agent: crate::service::user_agent(request),
            trace_id: trace_id(traceparent),
        }
    }
}

/// The trace id of a W3C `traceparent` (`00-{32 hex}-{16 hex}-{2 hex}`), or empty when the
/// header is absent or malformed.
pub fn trace_id(traceparent: &str) -> String {
    let mut parts = traceparent.trim().split('-');
    let (Some(version), Some(trace), Some(parent), Some(flags)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return String::new();
    };
    let hex = |text: &str, length: usize| {
        text.len() == length
            && text
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    let valid = hex(version, 2)
        && version != "ff"
        && (version != "00" || parts.next().is_none())
        && hex(trace, 32)
        && trace.bytes().any(|b| b != b'0')
        && hex(parent, 16)
        && hex(flags, 2);
    if valid {
        trace.to_owned()
    } else {
        String::new()
    }
}

/// The actor recorded for `principal`: its subject when it is a user (`users/…`) or a service
/// (`services/…`), else empty (the command-line operator).
pub fn actor_of(principal: &Principal) -> String {
    let subject = principal.subject.as_str();
    if subject.starts_with("users/") || subject.starts_with("services/") {
        subject.to_owned()
    } else {
        String::new()
    }
}

/// The actor recorded for `caller`: empty when anonymous.
pub fn actor_of_caller(caller: &Caller) -> String {
    match caller {
        Caller::Anonymous => String::new(),
        Caller::Authenticated(principal) => actor_of(principal),
    }
}

/// The stored name of an event type: `AUDIT_EVENT_TYPE_SIGN_IN_FAILED` → `sign_in_failed`.
pub fn type_name(event_type: AuditEventType) -> String {
    event_type
        .as_str_name()
        .trim_start_matches(TYPE_PREFIX)
        .to_ascii_lowercase()
}

/// The event type of a stored name; UNSPECIFIED for an unknown one.
pub fn parse_type_name(stored: &str) -> AuditEventType {
    AuditEventType::from_str_name(&format!("{TYPE_PREFIX}{}", stored.to_ascii_uppercase()))
        .unwrap_or(AuditEventType::Unspecified)
}

/// `text` cut to at most `max` bytes at a character boundary.
pub fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

/// The record of `event`, bounded: every field cut to its documented maximum, at most
/// [`MAX_ATTRIBUTES`] attributes, keys and values truncated.
pub fn to_record(
    event: AuditEvent,
    context: &RequestContext,
    id: String,
    create_time: i64,
) -> AuditRecord {
    let mut attributes = BTreeMap::new();
    for (key, value) in event.attributes {
        if attributes.len() == MAX_ATTRIBUTES {
            break;
        }
        attributes.insert(
            truncate(&key, MAX_ATTRIBUTE_KEY),
            truncate(&value, MAX_ATTRIBUTE_VALUE),
        );
    }
    AuditRecord {
        id,
        event_type: type_name(event.event_type),
        create_time,
        actor: truncate(&event.actor, MAX_ACTOR),
        target: truncate(&event.target, MAX_TARGET),
        client_address: truncate(&context.client_address, MAX_CLIENT_ADDRESS),
        user_agent: truncate(&context.user_agent, MAX_USER_AGENT),
        trace_id: context.trace_id.clone(),
        attributes: serde_json::to_string(&attributes).unwrap_or_else(|_| "{}".to_owned()),
    }
}

/// The wire form of a stored event.
pub fn to_message(record: &AuditRecord) -> AuditEventMessage {
    AuditEventMessage {
        name: record.resource_name(),
        r#type: parse_type_name(&record.event_type) as i32,
        create_time: Some(timestamp(record.create_time)),
        actor: record.actor.clone(),
        target: record.target.clone(),
        client_address: record.client_address.clone(),
        user_agent: record.user_agent.clone(),
        trace_id: record.trace_id.clone(),
        attributes: serde_json::from_str(&record.attributes).unwrap_or_default(),
    }
}

/// Retention: prunes events older than the retention, at most once per interval per process,
/// triggered by writes of the log.
#[derive(Debug)]
pub(crate) struct Retention {
    retention_micros: i64,
    next_prune: AtomicI64,
}

impl Retention {
    /// Keeps events for `days`.
    pub(crate) fn new(days: u64) -> Self {
        Retention {
            retention_micros: i64::try_from(days)
                .unwrap_or(i64::MAX)
                .saturating_mul(DAY_MICROS),
            next_prune: AtomicI64::new(0),
        }
    }

    /// The cutoff to prune before when a prune is due at `now` (and claims it), else `None`.
    pub(crate) fn due(&self, now: i64) -> Option<i64> {
        let next = self.next_prune.load(Ordering::Relaxed);
        if now < next {
            return None;
        }
        self.next_prune
            .compare_exchange(
                next,
                now.saturating_add(PRUNE_INTERVAL_MICROS),
                Ordering::Relaxed,
                Ordering::Relaxed,
            )
            .ok()
            .map(|_| now.saturating_sub(self.retention_micros))
    }
}

/// Prunes in the background (errors are logged): the request that triggered it never waits.
fn spawn_prune(store: Arc<dyn IdentityStore>, cutoff: i64) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    runtime.spawn(async move {
        match store.prune_audit_events(cutoff).await {
            Ok(0) => {}
            Ok(pruned) => tracing::info!(pruned, "audit events past retention pruned"),
            Err(error) => tracing::error!(%error, "pruning audit events failed"),
        }
    });
}

impl IdentityService {
    /// The context of `request` (client address, user agent, trace id).
    pub(crate) fn request_context<T>(&self, request: &Request<T>) -> RequestContext {
        RequestContext::of(request)
    }

    /// The stored record of `event`, for a store write that inserts it in its transaction.
    pub(crate) fn audit_record(&self, event: AuditEvent, context: &RequestContext) -> AuditRecord {
        let now = now_micros();
        if let Some(cutoff) = self.retention.due(now) {
            spawn_prune(self.store.clone(), cutoff);
        }
        to_record(event, context, uuid::Uuid::now_v7().to_string(), now)
    }

    /// Records `event` on its own, best effort: a failure is logged, never returned.
    pub(crate) async fn audit(&self, event: AuditEvent, context: &RequestContext) {
        self.record_audit(self.audit_record(event, context)).await;
    }

    /// Records a refused sign-in, and the lockout it caused, best effort. The target is the
    /// account when it exists; the text typed as a username is never recorded.
    pub(crate) async fn record_sign_in_failure(
        &self,
        user: Option<&UserRecord>,
        reason: &str,
        locked: bool,
        context: &RequestContext,
    ) {
        let target = user.map(UserRecord::resource_name).unwrap_or_default();
        let failed = AuditEvent::new(AuditEventType::SignInFailed, "", target.clone())
            .with("reason", reason);
        self.audit(failed, context).await;
        if locked && user.is_some() {
            let lockout = crate::throttle::LOCKOUT.as_secs().to_string();
            let event = AuditEvent::new(AuditEventType::AccountLocked, "", target)
                .with("lockout_seconds", lockout);
            self.audit(event, context).await;
        }
    }

    /// Appends `record` on its own, best effort: a failure is logged, never returned.
    pub(crate) async fn record_audit(&self, record: AuditRecord) {
        if let Err(error) = self.store.append_audit_event(&record).await {
            tracing::error!(
                %error,
                event_type = %record.event_type,
                target = %record.target,
                "audit event not recorded"
            );
        }
    }
}

#[cfg(test)]
#[path = "audit_tests.rs"]
mod tests;
