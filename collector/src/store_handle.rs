//! A store call from async code: run on the blocking pool, a failure counted by operation
//! and logged once, for every surface (gRPC, HTTP, the background loops).

use std::sync::Arc;

use tilsyn_collector_store::{Store, StoreError};

use crate::metrics::Metrics;

/// The store with what its callers need around it; cheap to clone.
#[derive(Clone)]
pub struct StoreHandle {
    store: Arc<dyn Store>,
    metrics: Arc<Metrics>,
}

impl StoreHandle {
    pub fn new(store: Arc<dyn Store>, metrics: Arc<Metrics>) -> StoreHandle {
        StoreHandle { store, metrics }
    }

    /// Runs `f` on the blocking pool; a failure is counted in
    /// `tilsyn_store_errors_total{operation}` and logged here.
    pub async fn call<T: Send + 'static>(
        &self,
        op: &'static str,
        f: impl FnOnce(&dyn Store) -> tilsyn_collector_store::Result<T> + Send + 'static,
    ) -> tilsyn_collector_store::Result<T> {
        let store = self.store.clone();
        let r = tokio::task::spawn_blocking(move || f(&*store))
            .await
            .unwrap_or_else(|e| Err(StoreError::Db(format!("store task failed: {e}"))));
        if let Err(e) = &r {
            self.metrics.store_errors.with_label_values(&[op]).inc();
            tracing::error!(operation = op, error = %e, "store error");
        }
        r
    }
}
