//! GetItemStats: aggregates over the live items the caller may read, computed in SQL.

use pake_api::knowledge::{
    ConfidenceBuckets, GetItemStatsRequest, ItemStats, KindCount, LinkedItem, StatusCount,
    VerificationCount,
};
use pake_core::Error;
use pake_core::auth::Caller;

use crate::filter::Filter;
use crate::service::KnowledgeService;
use crate::store::{KINDS, ReadScope, STATUSES, VERIFICATIONS};

fn count(value: i64) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

impl KnowledgeService {
    pub(crate) async fn get_item_stats(
        &self,
        caller: &Caller,
        request: GetItemStatsRequest,
    ) -> Result<ItemStats, Error> {
        let filter = Filter::parse(&request.filter)?;
        let subject = match caller {
            Caller::Authenticated(principal) => Some(principal.subject.as_str()),
            Caller::Anonymous => None,
        };
        let stats = self
            .store
            .stats(&ReadScope::of(caller), &filter.to_sql(subject))
            .await?;
        let [very_high, high, medium, low, very_low] = stats.buckets.map(count);
        Ok(ItemStats {
            total_count: count(stats.total),
            kind_counts: KINDS
                .into_iter()
                .zip(stats.kinds)
                .map(|(kind, n)| KindCount {
                    kind: kind as i32,
                    count: count(n),
                })
                .collect(),
            status_counts: STATUSES
                .into_iter()
                .zip(stats.statuses)
                .map(|(status, n)| StatusCount {
                    status: status as i32,
                    count: count(n),
                })
                .collect(),
            verification_counts: VERIFICATIONS
                .into_iter()
                .zip(stats.verifications)
                .map(|(verification, n)| VerificationCount {
                    verification: verification as i32,
                    count: count(n),
                })
                .collect(),
            confidence_buckets: Some(ConfidenceBuckets {
                very_high,
                high,
                medium,
                low,
                very_low,
            }),
            average_confidence: stats.average_confidence,
            most_linked: stats
                .most_linked
                .into_iter()
                .map(|(item, backlinks)| LinkedItem {
                    item: Some(item),
                    backlink_count: count(backlinks),
                })
                .collect(),
            most_recent: stats.most_recent,
        })
    }
}
