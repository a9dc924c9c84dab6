//! The threads Argon2id runs on: a fixed number of dedicated threads at a lower scheduling
//! priority, fed by a bounded queue.
//!
//! Measured with `pake-bench --scenario getitem-under-login-flood` (docs/performance.md): on the
//! async runtime's blocking pool, at normal priority, hashing threads take their fair share of
//! the CPU from the runtime's workers — the scheduler cannot tell a 30 ms hash from a 50 µs
//! GetItem — and under a login flood GetItem waited behind hashes (p99 × 50 and worse). Here the
//! threads lower their own priority (`nice` [`HASHING_NICE`] on Linux, per thread), so whenever
//! a worker has requests to serve it gets the CPU first, and hashing takes what is left: all of
//! it on an otherwise idle machine, so sign-ins lose no throughput when nothing else runs.
//!
//! A full queue refuses at once ([`Full`]); the caller turns that into RESOURCE_EXHAUSTED. The
//! threads end when the last [`HashingPool`] clone is dropped.

use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};

/// The `nice` value of the hashing threads (0 = normal, 19 = lowest).
pub const HASHING_NICE: i32 = 10;

type Job = Box<dyn FnOnce() + Send>;

/// A submission refused because the queue is full.
#[derive(Debug, PartialEq, Eq)]
pub struct Full;

/// `threads` hashing threads behind a queue of `queue` jobs.
#[derive(Clone)]
pub struct HashingPool {
    jobs: Arc<SyncSender<Job>>,
    threads: usize,
}

impl std::fmt::Debug for HashingPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HashingPool")
            .field("threads", &self.threads)
            .finish_non_exhaustive()
    }
}

impl HashingPool {
    /// Starts `threads` (at least 1) threads named `pake-hashing-N`; at most `queue` jobs wait
    /// beyond those running.
    pub fn start(threads: usize, queue: usize) -> std::io::Result<Self> {
        let threads = threads.max(1);
        let (sender, receiver) = sync_channel::<Job>(queue);
        let receiver = Arc::new(Mutex::new(receiver));
        for index in 0..threads {
            let receiver = receiver.clone();
            std::thread::Builder::new()
                .name(format!("pake-hashing-{index}"))
                .spawn(move || work(&receiver))?;
        }
        Ok(HashingPool {
            jobs: Arc::new(sender),
            threads,
        })
    }

    /// The number of threads.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Runs `job` on a hashing thread and waits for its result without blocking the async
    /// runtime; `Err(Full)` at once when the queue is full.
    pub async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Full> {
        let (reply, result) = tokio::sync::oneshot::channel();
        let boxed: Job = Box::new(move || {
            // The caller may have gone away (its request was cancelled); nothing to tell then.
            let _ = reply.send(job());
        });
        match self.jobs.try_send(boxed) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => return Err(Full),
            // Unreachable while `self` holds a sender and the threads hold the receiver; a
            // thread that died took no other thread's receiver with it.
            Err(TrySendError::Disconnected(_)) => return Err(Full),
        }
        result.await.map_err(|_| Full)
    }
}

/// A hashing thread: lowers its priority, then runs jobs until every sender is gone.
fn work(receiver: &Mutex<Receiver<Job>>) {
    lower_priority();
    loop {
        let job = {
            let Ok(receiver) = receiver.lock() else {
                return;
            };
            match receiver.recv() {
                Ok(job) => job,
                Err(_) => return,
            }
        };
        job();
    }
}

#[cfg(target_os = "linux")]
fn lower_priority() {
    // On Linux `setpriority(PRIO_PROCESS, tid)` sets the nice value of that one thread. Raising
    // one's own nice value needs no privilege; a process already running nicer (`nice -n 19
    // pake serve`) keeps its value. Failing leaves the thread at the process's priority.
    let thread = rustix::thread::gettid();
    let current = rustix::process::getpriority_process(Some(thread)).unwrap_or(0);
    if current >= HASHING_NICE {
        return;
    }
    if let Err(error) = rustix::process::setpriority_process(Some(thread), HASHING_NICE) {
        tracing::warn!(%error, "could not lower the priority of a password-hashing thread");
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn jobs_run_and_return_their_results() {
        let pool = HashingPool::start(2, 4).expect("pool");
        let results = futures_join(&pool).await;
        assert_eq!(results, vec![Ok(0), Ok(1), Ok(4), Ok(9)]);
    }

    async fn futures_join(pool: &HashingPool) -> Vec<Result<u32, Full>> {
        let mut results = Vec::new();
        for value in 0..4u32 {
            results.push(pool.run(move || value * value).await);
        }
        results
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_queue_refuses_at_once() {
        let pool = HashingPool::start(1, 1).expect("pool");
        let (release, blocked) = std::sync::mpsc::channel::<()>();
        let blocked = Arc::new(Mutex::new(blocked));
        // One job holds the only thread until released; one waits in the queue.
        let holder = {
            let (pool, blocked) = (pool.clone(), blocked.clone());
            tokio::spawn(async move {
                pool.run(move || {
                    let _ = blocked.lock().map(|blocked| blocked.recv());
                })
                .await
            })
        };
        // Until the holder's job is running, a queued job may still fit; wait for the state
        // "one running, one queued" by filling the queue.
        let mut queued = None;
        for _ in 0..1000 {
            let pool = pool.clone();
            let attempt = tokio::spawn(async move { pool.run(|| 1).await });
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            if attempt.is_finished() {
                continue;
            }
            queued = Some(attempt);
            break;
        }
        let queued = queued.expect("a job waits in the queue");
        assert_eq!(pool.run(|| 2).await, Err(Full));
        release.send(()).expect("release");
        assert_eq!(holder.await.expect("join"), Ok(()));
        assert_eq!(queued.await.expect("join"), Ok(1));
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn hashing_threads_run_at_a_lower_priority() {
        let pool = HashingPool::start(1, 1).expect("pool");
        let nice = pool
            .run(|| rustix::process::getpriority_process(Some(rustix::thread::gettid())))
            .await
            .expect("run")
            .expect("getpriority");
        // At least HASHING_NICE (more when the whole test runs under `nice`).
        let here = rustix::process::getpriority_process(None).expect("getpriority");
        assert_eq!(nice, here.max(HASHING_NICE), "caller at {here}");
    }
}
