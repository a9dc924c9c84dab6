-- Identity's first schema: users and their sign-in sessions.
-- Times are microseconds since the Unix epoch (UTC) in both dialects, so one store codebase
-- reads both backends and ordering is numeric.

CREATE TABLE users (
    id                   TEXT PRIMARY KEY,
    -- As the user typed it (display); `username_key` is the NFKC + case-folded form that is unique.
    username             TEXT NOT NULL,
    username_key         TEXT NOT NULL UNIQUE,
    email                TEXT,
    email_key            TEXT UNIQUE,
    display_name         TEXT NOT NULL DEFAULT '',
    -- Comma-separated role names: admin, editor, viewer, service.
    roles                TEXT NOT NULL,
    disabled             INTEGER NOT NULL DEFAULT 0,
    service_account      INTEGER NOT NULL DEFAULT 0,
    -- PHC string (Argon2id); empty for service accounts, which cannot sign in with a password.
    password_hash        TEXT NOT NULL,
    password_update_time INTEGER NOT NULL,
    last_sign_in_time    INTEGER,
    -- Bumped on every change; the etag is derived from it.
    revision             INTEGER NOT NULL DEFAULT 1,
    create_time          INTEGER NOT NULL,
    update_time          INTEGER NOT NULL
);

CREATE TABLE sessions (
    id                 TEXT PRIMARY KEY,
    user_id            TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- SHA-256 of the current refresh token; the token itself is never stored.
    refresh_hash       BLOB NOT NULL UNIQUE,
    refresh_generation INTEGER NOT NULL DEFAULT 1,
    client_address     TEXT NOT NULL DEFAULT '',
    user_agent         TEXT NOT NULL DEFAULT '',
    create_time        INTEGER NOT NULL,
    last_refresh_time  INTEGER NOT NULL,
    expire_time        INTEGER NOT NULL,
    -- Set when the session is revoked (logout, replay, password or role change, deletion).
    revoke_time        INTEGER
);
CREATE INDEX sessions_by_user ON sessions (user_id, create_time);

-- Refresh tokens that were rotated out: presenting one again is a replay and revokes the session.
CREATE TABLE rotated_refresh_tokens (
    refresh_hash BLOB PRIMARY KEY,
    session_id   TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    rotate_time  INTEGER NOT NULL
);

-- AIP-155 request ids of CreateUser: a retry returns the user created the first time.
CREATE TABLE create_user_requests (
    caller      TEXT NOT NULL,
    request_id  TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    create_time INTEGER NOT NULL,
    PRIMARY KEY (caller, request_id)
);

-- API keys (personal and service-account tokens). The secret is never stored: only its keyed
-- hash (HMAC-SHA256 with a server-side key).
CREATE TABLE api_keys (
    id            TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    display_name  TEXT NOT NULL,
    -- Comma-separated role names; empty means all of the owner's roles.
    roles         TEXT NOT NULL,
    secret_hash   BLOB NOT NULL,
    create_time   INTEGER NOT NULL,
    expire_time   INTEGER,
    last_use_time INTEGER,
    revoke_time   INTEGER
);
CREATE INDEX api_keys_by_user ON api_keys (user_id, create_time);
