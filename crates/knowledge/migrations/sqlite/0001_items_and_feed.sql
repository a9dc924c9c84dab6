-- Knowledge's first schema: items, their tags and links, revisions, the change feed and
-- request-id idempotency. Times are microseconds since the Unix epoch (UTC) in both dialects.
-- The authoritative copy of an item is the encoded pake.knowledge.v1.Item in `item`; the other
-- columns are kept in step for filtering, ordering and access checks in SQL.

CREATE TABLE items (
    id               TEXT PRIMARY KEY,
    -- The owner's user resource name, `users/{id}`.
    owner            TEXT NOT NULL,
    -- Enum values by their lower-case name (private, note, draft, pending, ...).
    visibility       TEXT NOT NULL,
    kind             TEXT NOT NULL,
    status           TEXT NOT NULL,
    verification     TEXT NOT NULL,
    folder           TEXT NOT NULL,
    title            TEXT NOT NULL,
    confidence_score REAL NOT NULL,
    -- Increases by one on every write; the etag and revision_id derive from it.
    revision         INTEGER NOT NULL,
    create_time      INTEGER NOT NULL,
    update_time      INTEGER NOT NULL,
    delete_time      INTEGER,
    -- Feed position of the write that produced this version.
    feed_position    INTEGER NOT NULL,
    item             BLOB NOT NULL
);
CREATE INDEX items_by_owner ON items (owner, update_time);
CREATE INDEX items_by_update_time ON items (update_time, id);
CREATE INDEX items_by_delete_time ON items (delete_time);

CREATE TABLE item_tags (
    item_id TEXT NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    -- Lower-cased for case-insensitive filtering; the item keeps the spelling.
    tag     TEXT NOT NULL,
    PRIMARY KEY (item_id, tag)
);
CREATE INDEX item_tags_by_tag ON item_tags (tag);

-- Edges of the note graph: explicit links (Item.links) and links found in content, rewritten
-- with the item on every write. A content link resolves (see docs/knowledge.md, "Links") to the
-- live item, readable by the source's owner, that answers to its best-ranked key in
-- item_link_keys; `target_id` holds that item, or NULL while none does. Every write re-resolves
-- the links its item could win or lose in the same transaction, so `target_id` stays current.
CREATE TABLE item_links (
    source_id TEXT NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    -- Explicit links first (in Item.links order), then content links in order of appearance.
    seq       INTEGER NOT NULL,
    -- explicit, wikilink, embed or markdown.
    link_type TEXT NOT NULL,
    -- Content links: the target as written (ItemLink.text); explicit links: empty.
    text      TEXT NOT NULL,
    target_id TEXT,
    PRIMARY KEY (source_id, seq)
);
CREATE INDEX item_links_by_target ON item_links (target_id, source_id);

-- The keys a content link may resolve by: `name:{id}`, `title:…`, `file:…`, `alias:…`,
-- case-folded (lower case).
CREATE TABLE item_link_keys (
    source_id TEXT NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    seq       INTEGER NOT NULL,
    key       TEXT NOT NULL,
    PRIMARY KEY (source_id, seq, key)
);
CREATE INDEX item_link_keys_by_key ON item_link_keys (key);

-- The keys each item answers to, with their rank in resolution (1 name, 2 title, 3 file name,
-- 4 alias): a link resolves by its best-ranked key that some candidate answers to.
CREATE TABLE item_keys (
    item_id TEXT NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    key     TEXT NOT NULL,
    rank    INTEGER NOT NULL,
    PRIMARY KEY (item_id, key)
);
CREATE INDEX item_keys_by_key ON item_keys (key);

-- Every version of an item, as an encoded pake.knowledge.v1.Item.
CREATE TABLE item_revisions (
    item_id     TEXT NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    revision    INTEGER NOT NULL,
    author      TEXT NOT NULL,
    create_time INTEGER NOT NULL,
    item        BLOB NOT NULL,
    PRIMARY KEY (item_id, revision)
);

-- The change feed. `feed_head` is a single row updated first in every write transaction:
-- its row lock serialises commits, so positions are gap-free and become
-- visible in order (a plain sequence commits out of order and readers would skip events).
CREATE TABLE feed_head (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    position INTEGER NOT NULL
);
INSERT INTO feed_head (id, position) VALUES (1, 0);

CREATE TABLE feed_events (
    position   INTEGER PRIMARY KEY,
    item_id    TEXT NOT NULL,
    event_type TEXT NOT NULL,
    event_time INTEGER NOT NULL,
    -- The item as it was after this event, as an encoded pake.knowledge.v1.Item.
    item       BLOB NOT NULL
);

-- AIP-155 request ids: a retried create returns the original item.
CREATE TABLE create_requests (
    caller      TEXT NOT NULL,
    request_id  TEXT NOT NULL,
    item_id     TEXT NOT NULL,
    create_time INTEGER NOT NULL,
    PRIMARY KEY (caller, request_id)
);
