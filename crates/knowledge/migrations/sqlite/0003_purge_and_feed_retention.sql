-- Purging and feed retention (expand-only: the previous release ignores the new columns).
--
-- `pruned_through`: feed events at or below this position were pruned; a consumer resuming
-- from an older cursor gets CURSOR_EXPIRED and restarts from a snapshot.
ALTER TABLE feed_head ADD COLUMN pruned_through BIGINT NOT NULL DEFAULT 0;

-- Who could read the item before the event (NULL for a create), so that WatchItems can tell
-- each reader whether a write made an item readable or unreadable to them.
ALTER TABLE feed_events ADD COLUMN before_owner TEXT;
ALTER TABLE feed_events ADD COLUMN before_visibility TEXT;
ALTER TABLE feed_events ADD COLUMN before_deleted INTEGER;

CREATE INDEX feed_events_by_time ON feed_events (event_time);
