-- Deleted users. The users row (with its sessions and API keys) is removed at once; this row
-- keeps the id from ever being reused and carries the item disposition that the knowledge
-- service still has to carry out (DeleteUser's asynchronous half, retried until it succeeds).

CREATE TABLE deleted_users (
    id               TEXT PRIMARY KEY,
    delete_time      BIGINT NOT NULL,
    -- Empty: delete the items; otherwise the new owner, `users/{id}`.
    reassign_to      TEXT NOT NULL DEFAULT '',
    -- Set once the knowledge service has disposed of every item.
    items_done_time  BIGINT,
    disposal_attempts BIGINT NOT NULL DEFAULT 0,
    last_disposal_error TEXT NOT NULL DEFAULT ''
);
CREATE INDEX deleted_users_pending ON deleted_users (delete_time) WHERE items_done_time IS NULL;
