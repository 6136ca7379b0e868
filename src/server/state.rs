//! The state every request shares: a cheap-clone handle on the current snapshot, the
//! store, the metrics and (when serving from a config file) the reloader.

use std::sync::Arc;

use arc_swap::ArcSwap;

use super::recent::Recent;
use crate::config::Snapshot;
use crate::delivery::Delivery;
use crate::metrics::Metrics;
use crate::reload::Reloader;
use crate::spool::Spool;
use crate::store::Store;

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
    /// Absent when nothing delivers notifications (tests without sinks): `/v1/sinks`
    /// then lists none.
    delivery: Option<Delivery>,
    /// The on-disk spool (`store.spool`), when configured: webhooks the store cannot take
    /// now are queued there (docs/design.md §10).
    spool: Option<Spool>,
    /// Set once when `server::run` begins its shutdown: long-lived responses (the event
    /// stream) end on it.
    closing: Arc<tokio::sync::watch::Sender<bool>>,
    /// Per source: traffic counts and the last rejected or ignored payloads.
    recent: Arc<Recent>,
}

impl AppState {
    /// A state serving one fixed snapshot, with no reloading.
    pub fn new(snapshot: Snapshot, store: Store) -> AppState {
        AppState {
            snapshot: Arc::new(ArcSwap::from_pointee(snapshot)),
            store,
            metrics: Metrics::new(),
            reloader: None,
            delivery: None,
            spool: None,
            closing: Arc::new(tokio::sync::watch::Sender::new(false)),
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
            delivery: None,
            spool: None,
            closing: Arc::new(tokio::sync::watch::Sender::new(false)),
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

    /// Changes to `true` when the server starts shutting down.
    pub fn closing(&self) -> tokio::sync::watch::Receiver<bool> {
        self.closing.subscribe()
    }

    /// Tells long-lived responses that the server is shutting down.
    pub fn begin_closing(&self) {
        self.closing.send_replace(true);
    }

    pub(super) fn recent(&self) -> &Recent {
        &self.recent
    }
}
