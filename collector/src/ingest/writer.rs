//! Group commit: report batches from many concurrent calls queue here and a dedicated
//! thread commits whatever has queued in one transaction, then answers each caller. One
//! fsync serves hundreds of agents, and the ack goes out only after the commit.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{mpsc, oneshot};

use crate::metrics::Metrics;
use tilsyn_collector_store::{BatchOutcome, IngestBatch, Store, StoreError};

/// Most batches in one transaction.
const MAX_GROUP: usize = 512;

struct Job {
    batch: IngestBatch,
    received: Instant,
    received_ms: i64,
    reply: oneshot::Sender<Result<BatchOutcome, StoreError>>,
}

#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<Job>,
    clock: fn() -> i64,
    lag: Arc<Lag>,
}

/// How far behind the writer is, for offline detection: a report that waits here has
/// arrived, but its host still looks silent. Holds the receipt time (ms) of the oldest
/// batch of the group being committed; 0 while the writer is idle (nothing waits).
#[derive(Default)]
struct Lag(AtomicI64);

impl Writer {
    /// Starts the writer thread; `clock` gives "now" in ms (injected for tests).
    pub fn start(
        store: Arc<dyn Store>,
        metrics: Arc<Metrics>,
        queue: usize,
        clock: fn() -> i64,
    ) -> Writer {
        let (tx, mut rx) = mpsc::channel::<Job>(queue.max(1));
        let lag = Arc::new(Lag::default());
        let l = lag.clone();
        std::thread::Builder::new()
            .name("tilsyn-writer".into())
            .spawn(move || {
                let mut jobs = Vec::with_capacity(MAX_GROUP);
                while let Some(first) = rx.blocking_recv() {
                    jobs.push(first);
                    while jobs.len() < MAX_GROUP {
                        match rx.try_recv() {
                            Ok(j) => jobs.push(j),
                            Err(_) => break,
                        }
                    }
                    let oldest = jobs.iter().map(|j| j.received_ms).min().unwrap_or(0);
                    l.0.store(oldest.max(1), Ordering::Relaxed);
                    commit(&*store, &metrics, std::mem::take(&mut jobs), clock());
                    l.0.store(0, Ordering::Relaxed);
                }
            })
            .expect("spawn writer thread");
        Writer { tx, clock, lag }
    }

    /// How long (ms) reports have been waiting to be committed at `now_ms`: the age of the
    /// oldest batch in the group being committed (it waited in the queue, then for the
    /// commit), 0 when the writer is idle. Behind a backlog the writer is always busy, so
    /// a check sees the backlog; when it has drained there is nothing to wait for.
    pub fn lag_ms(&self, now_ms: i64) -> i64 {
        match self.lag.0.load(Ordering::Relaxed) {
            0 => 0,
            oldest => (now_ms - oldest).max(0),
        }
    }

    /// Queues a batch and waits for its commit. Waiting for queue space is the
    /// back-pressure that keeps a flood of agents from exhausting memory.
    pub async fn submit(&self, batch: IngestBatch) -> Result<BatchOutcome, StoreError> {
        let (reply, rx) = oneshot::channel();
        let job = Job {
            batch,
            received: Instant::now(),
            received_ms: (self.clock)(),
            reply,
        };
        self.tx
            .send(job)
            .await
            .map_err(|_| StoreError::Db("writer stopped".into()))?;
        rx.await
            .map_err(|_| StoreError::Db("writer dropped the batch".into()))?
    }
}

fn commit(store: &dyn Store, metrics: &Metrics, jobs: Vec<Job>, now_ms: i64) {
    let started = Instant::now();
    let batches: Vec<IngestBatch> = jobs.iter().map(|j| j.batch.clone()).collect();
    metrics.commit_batches.observe(jobs.len() as f64);
    match store.ingest(&batches, now_ms) {
        Ok(outcomes) => {
            metrics
                .commit_duration
                .observe(started.elapsed().as_secs_f64());
            for (job, outcome) in jobs.into_iter().zip(outcomes) {
                metrics
                    .ingest_duration
                    .observe(job.received.elapsed().as_secs_f64());
                let _ = job.reply.send(Ok(outcome));
            }
        }
        Err(e) if jobs.len() > 1 => {
            // One bad batch must not fail its neighbours: commit them one by one.
            tracing::warn!(error = %e, batches = jobs.len(), "group commit failed; retrying batches singly");
            for job in jobs {
                let r = store
                    .ingest(std::slice::from_ref(&job.batch), now_ms)
                    .map(|mut v| v.remove(0));
                if let Err(e) = &r {
                    metrics.store_errors.with_label_values(&["ingest"]).inc();
                    tracing::error!(agent_id = %job.batch.agent_id, error = %e, "cannot commit report batch");
                }
                metrics
                    .ingest_duration
                    .observe(job.received.elapsed().as_secs_f64());
                let _ = job.reply.send(r);
            }
        }
        Err(e) => {
            metrics.store_errors.with_label_values(&["ingest"]).inc();
            tracing::error!(error = %e, "cannot commit report batch");
            for job in jobs {
                let _ = job.reply.send(Err(StoreError::Db(e.to_string())));
            }
        }
    }
}
