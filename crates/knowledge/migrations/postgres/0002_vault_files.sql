-- Vault import (ImportItems): which item each file of an earlier import became, so that a file
-- without `pake_id` that is imported again by the same caller from the same vault name and path
-- updates that item instead of creating another (expand-only: the previous release ignores it).
--
-- A row is written before the item it names is created (with that id), so an import that stops
-- between the two leaves a row naming a missing item, and the next import creates the item
-- under the recorded id instead of a duplicate. No foreign key for the same reason; rows naming
-- purged items are harmless (the file then creates the item anew).
CREATE TABLE vault_files (
    -- The importing caller, `users/{id}`.
    owner      TEXT NOT NULL,
    -- ImportOptions.vault_name, as sent.
    vault_name TEXT NOT NULL,
    -- VaultFile.path, as sent.
    path       TEXT NOT NULL,
    item_id    TEXT NOT NULL,
    PRIMARY KEY (owner, vault_name, path)
);
CREATE INDEX vault_files_by_item ON vault_files (item_id);
