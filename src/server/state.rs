//! The state every request shares: a cheap-clone handle on the current snapshot, the
//! store, the metrics and (when serving from a config file) the reloader.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwap;
use tokio::sync::watch;

use super::limiter::RateLimiters;
use super::lograte::LogLimiter;
use super::opencounts::OpenCounts;
use super::recent::Recent;
use crate::config::Snapshot;
use crate::delivery::Delivery;
use crate::metrics::Metrics;
use crate::reload::Reloader;
use crate::spool::Spool;
use crate::store::{Store, StoreError};

/// Header that may carry a source's token (the query's `token` is the other place).
pub const TOKEN_HEADER: &str = "x-itoc360-token";

/// What every request needs: a cheap-clone handle.
#[derive(Clone)]
pub struct AppState {
    snapshot: Arc<ArcSwap<Snapshot>>,
    store: Store,
    metrics: Metrics,
    /// Absent when the state was built from a fixed snapshot (tests): `POST /-/reload`
    /// and `GET /-/config` then answer 404.
    reloader: Option<Reloader<Snapshot>>,
    edges: Arc<Edges>,
    /// Absent when nothing delivers notifications (tests without sinks): `/v1/sinks`
    /// then lists none.
    delivery: Option<Delivery>,
    /// The on-disk spool (`store.spool`), when configured: webhooks the store cannot take
    /// now are queued there (docs/design.md §10).
    spool: Option<Spool>,
    /// Per source: traffic counts and the last rejected or ignored payloads.
    recent: Arc<Recent>,
}

/// Per-process state of the production limits and of shutdown.
#[derive(Debug)]
struct Edges {
    rate_limiters: RateLimiters,
    /// The open counts `max_open` last read, per source.
    open_counts: OpenCounts,
    log_limiter: LogLimiter,
    /// Set on SIGTERM: `/-/ready` answers 503 from then on.
    draining: AtomicBool,
    /// The one shutdown signal for long-lived responses: `true` once `server::run` closes
    /// the listener; the event stream (`/v1/events`) ends on it.
    closing: watch::Sender<bool>,
}

impl Default for Edges {
    fn default() -> Self {
        Edges {
            rate_limiters: RateLimiters::default(),
            open_counts: OpenCounts::default(),
            log_limiter: LogLimiter::default(),
            draining: AtomicBool::new(false),
            closing: watch::Sender::new(false),
        }
    }
}

impl AppState {
    /// A state serving one fixed snapshot, with no reloading.
    pub fn new(snapshot: Snapshot, store: Store) -> AppState {
        AppState {
            snapshot: Arc::new(ArcSwap::from_pointee(snapshot)),
            store,
            metrics: Metrics::new(),
            reloader: None,
            edges: Arc::default(),
            delivery: None,
            spool: None,
            recent: Arc::default(),
        }
    }

    /// A state serving whatever `reloader` swaps in, recording into its metrics.
    pub fn with_reloader(reloader: Reloader<Snapshot>, store: Store) -> AppState {
        AppState {
            snapshot: Arc::clone(reloader.current()),
            store,
            metrics: reloader.metrics().clone(),
            reloader: Some(reloader),
            edges: Arc::default(),
            delivery: None,
            spool: None,
            recent: Arc::default(),
        }
    }

    /// The same state, serving `delivery` on `/v1/sinks`.
    pub fn with_delivery(mut self, delivery: Delivery) -> AppState {
        self.delivery = Some(delivery);
        self
    }

    pub fn delivery(&self) -> Option<&Delivery> {
        self.delivery.as_ref()
    }

    /// The same state, queueing on `spool` while the store is unavailable.
    pub fn with_spool(self, spool: Spool) -> AppState {
        AppState {
            spool: Some(spool),
            ..self
        }
    }

    pub fn spool(&self) -> Option<&Spool> {
        self.spool.as_ref()
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    pub fn reloader(&self) -> Option<&Reloader<Snapshot>> {
        self.reloader.as_ref()
    }

    /// The current snapshot. A request calls this once and keeps it to the end, so a
    /// reload never changes the rules under a request in flight.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.load_full()
    }

    /// The swappable cell itself, for the reload machinery.
    pub fn snapshot_cell(&self) -> &Arc<ArcSwap<Snapshot>> {
        &self.snapshot
    }

    /// Replaces the snapshot for every later request; returns the previous one.
    pub fn replace_snapshot(&self, newer: Arc<Snapshot>) -> Arc<Snapshot> {
        self.snapshot.swap(newer)
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub(super) fn rate_limiters(&self) -> &RateLimiters {
        &self.edges.rate_limiters
    }

    pub(super) fn open_counts(&self) -> &OpenCounts {
        &self.edges.open_counts
    }

    pub(super) fn log_limiter(&self) -> &LogLimiter {
        &self.edges.log_limiter
    }

    /// From SIGTERM on: `/-/ready` answers 503 while requests are still served.
    pub fn begin_draining(&self) {
        self.edges.draining.store(true, Ordering::Relaxed);
    }

    pub fn is_draining(&self) -> bool {
        self.edges.draining.load(Ordering::Relaxed)
    }

    /// Tells every long-lived response (the event stream) to end now: the listener is
    /// closed and the shutdown grace has begun.
    pub fn begin_closing(&self) {
        self.edges.closing.send_replace(true);
    }

    /// Changes to `true` when the listener closes: a streaming handler ends its stream on
    /// it (`/-/ready` has answered 503 since the shutdown began, see `is_draining`).
    pub fn closing(&self) -> watch::Receiver<bool> {
        self.edges.closing.subscribe()
    }

    /// Runs one store call, timing it (`alertgate_store_duration_seconds{op}`) and
    /// counting its failure (`alertgate_store_errors_total{kind}`).
    pub(super) async fn store_call<T>(
        &self,
        op: &'static str,
        call: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let started = tokio::time::Instant::now();
        let result = call.await;
        let kind = result.as_ref().err().and_then(store_error_kind);
        self.metrics.store_call(op, started.elapsed(), kind);
        result
    }

    pub(super) fn recent(&self) -> &Recent {
        &self.recent
    }
}

/// The `kind` label of `alertgate_store_errors_total` for a failed store call; `None` for
/// a caller's mistake (a bad cursor), which is no store error.
pub(super) fn store_error_kind(e: &StoreError) -> Option<&'static str> {
    match e {
        StoreError::Unavailable(_) => Some("unavailable"),
        StoreError::Corrupt(_) => Some("corrupt"),
        StoreError::BadCursor(_) => None,
    }
}
