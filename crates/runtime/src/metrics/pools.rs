//! Connection-pool gauges, read from every open [`Database`] at scrape time:
//!
//! - `pake_db_pool_connections{backend}` — open connections (in use and idle);
//! - `pake_db_pool_idle_connections{backend}` — open connections not in use;
//! - `pake_db_pool_max_connections{backend}` — the pools' configured maximum.
//!
//! `backend` is `sqlite` or `postgres`. A process normally has one pool (identity and knowledge
//! share it in the all-in-one); several pools of one backend (test processes) are summed.
//! sqlx does not report how many callers wait for a connection, so there is no waiters gauge:
//! in-use == max with rising RPC latency is the sign of a starved pool.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, Once};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};

use super::{Family, Gauge, Labels};
use crate::db::Database;

/// Pools being reported, by tracking id.
type Tracked = Vec<(u64, Database)>;

fn pools() -> &'static Mutex<Tracked> {
    static POOLS: Mutex<Tracked> = Mutex::new(Vec::new());
    &POOLS
}

/// Reports `database`'s pool in the pool gauges until it is closed or the async runtime that
/// opened it shuts down (a task watches both, so a test's pools never outlive its runtime).
/// Call it from within a tokio runtime.
pub fn track(database: &Database) {
    static REGISTER: Once = Once::new();
    static NEXT_ID: AtomicU64 = AtomicU64::new(0);
    REGISTER.call_once(|| super::register_collector(Box::new(PoolCollector)));
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let closed = match database {
        Database::Sqlite(pool) => pool.close_event(),
        Database::Postgres(pool) => pool.close_event(),
    };
    pools()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push((id, database.clone()));
    let untrack = Untrack(id);
    runtime.spawn(async move {
        // Dropped when the pool closes or the runtime shuts down (the future is dropped).
        let _untrack = untrack;
        closed.await;
    });
}

/// Removes a pool from the tracked ones when dropped.
struct Untrack(u64);

impl Drop for Untrack {
    fn drop(&mut self) {
        let mut pools = pools().lock().unwrap_or_else(|p| p.into_inner());
        pools.retain(|(id, _)| *id != self.0);
    }
}

/// Open, idle and maximum connections, in the order of [`FAMILIES`].
type Usage = [i64; 3];

/// Name and help of each gauge, in the order of [`Usage`].
const FAMILIES: [(&str, &str); 3] = [
    (
        "pake_db_pool_connections",
        "Open database connections (in use and idle).",
    ),
    (
        "pake_db_pool_idle_connections",
        "Open database connections not in use.",
    ),
    (
        "pake_db_pool_max_connections",
        "Most connections the database pools may open.",
    ),
];

/// The usage of one pool.
fn usage(database: &Database) -> Usage {
    let (size, idle, max) = match database {
        Database::Sqlite(pool) => (
            pool.size(),
            pool.num_idle(),
            pool.options().get_max_connections(),
        ),
        Database::Postgres(pool) => (
            pool.size(),
            pool.num_idle(),
            pool.options().get_max_connections(),
        ),
    };
    [
        i64::from(size),
        i64::try_from(idle).unwrap_or(i64::MAX),
        i64::from(max),
    ]
}

#[derive(Debug)]
struct PoolCollector;

impl Collector for PoolCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let mut by_backend: BTreeMap<&'static str, Usage> = BTreeMap::new();
        {
            let pools = pools().lock().unwrap_or_else(|p| p.into_inner());
            for (_, pool) in pools.iter() {
                let total = by_backend.entry(pool.backend()).or_default();
                for (sum, value) in total.iter_mut().zip(usage(pool)) {
                    *sum += value;
                }
            }
        }
        for (column, (name, help)) in FAMILIES.into_iter().enumerate() {
            let family: Family<Labels, Gauge> = Family::default();
            for (backend, usage) in &by_backend {
                family
                    .get_or_create(&vec![("backend", (*backend).to_owned())])
                    .set(usage[column]);
            }
            let metric_encoder =
                encoder.encode_descriptor(name, help, None, family.metric_type())?;
            family.encode(metric_encoder)?;
        }
        Ok(())
    }
}
