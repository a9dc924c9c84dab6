//! Knowledge service settings: how long soft-deleted items and change-feed history are kept.

use serde::{Deserialize, Serialize};

/// Knowledge service settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KnowledgeConfig {
    /// Days a soft-deleted item is kept (undeletable) before it is purged, 1..=3650.
    pub deleted_retention_days: u64,
    /// Days of change-feed history kept for resuming consumers, 1..=3650; a cursor older than
    /// that fails with CURSOR_EXPIRED and the consumer restarts from a snapshot.
    pub feed_retention_days: u64,
    /// How often the purge of expired items and the pruning of the feed run, 10..=86400 s.
    pub maintenance_interval_secs: u64,
}

impl Default for KnowledgeConfig {
    fn default() -> Self {
        KnowledgeConfig {
            deleted_retention_days: 30,
            feed_retention_days: 7,
            maintenance_interval_secs: 600,
        }
    }
}

impl KnowledgeConfig {
    /// Problems as (key, message) pairs.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut problems = Vec::new();
        for (key, value) in [
            (
                "knowledge.deleted_retention_days",
                self.deleted_retention_days,
            ),
            ("knowledge.feed_retention_days", self.feed_retention_days),
        ] {
            if !(1..=3650).contains(&value) {
                problems.push((key, format!("{value} is out of range; expected 1..=3650")));
            }
        }
        if !(10..=86_400).contains(&self.maintenance_interval_secs) {
            problems.push((
                "knowledge.maintenance_interval_secs",
                format!(
                    "{} is out of range; expected 10..=86400",
                    self.maintenance_interval_secs
                ),
            ));
        }
        problems
    }
}
