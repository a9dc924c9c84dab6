-- The security audit log: append-only, pruned after `identity.audit_retention_days`.
-- No foreign keys: events about a user outlive the user. Times are microseconds since the Unix
-- epoch; `attributes` is a JSON object of strings (at most 16 entries, bounded sizes).

CREATE TABLE audit_events (
    -- UUIDv7 (time-ordered); the resource name is `auditEvents/{id}`.
    id             TEXT PRIMARY KEY,
    -- The AuditEventType name without its prefix, lower case: `sign_in_failed`.
    event_type     TEXT NOT NULL,
    create_time    BIGINT NOT NULL,
    -- `users/{user}`, or '' for an anonymous caller.
    actor          TEXT NOT NULL DEFAULT '',
    -- The resource acted on, or '' (e.g. a failed sign-in for an unknown username).
    target         TEXT NOT NULL DEFAULT '',
    client_address TEXT NOT NULL DEFAULT '',
    user_agent     TEXT NOT NULL DEFAULT '',
    trace_id       TEXT NOT NULL DEFAULT '',
    attributes     TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_events_by_time ON audit_events (create_time, id);
CREATE INDEX audit_events_by_actor ON audit_events (actor, create_time);
CREATE INDEX audit_events_by_target ON audit_events (target, create_time);
