//! The stream source a sink consumes, behind one small trait so that another stream
//! layout (one stream per bucket, a composite cursor) can plug in.

use std::future::Future;
use std::time::Duration;

use crate::store::{DeadLetter, IncidentEvent, StoreError};

/// One event to deliver, with its unique id (the idempotency key every attempt carries).
#[derive(Debug, Clone, PartialEq)]
pub struct FeedEntry {
    pub id: String,
    pub event: IncidentEvent,
}

/// How far a sink is behind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FeedStats {
    /// Events not yet handed to any consumer of the sink (`None`: unknown).
    pub lag: Option<u64>,
    /// Events handed to a consumer and not yet acknowledged.
    pub pending: u64,
}

/// A sink's view of the event stream: a work queue shared by the replicas.
pub trait EventFeed: Send + Sync + 'static {
    /// Up to `count` events no consumer of this sink has taken yet, waiting up to `block`.
    fn read_group(
        &self,
        count: usize,
        block: Duration,
    ) -> impl Future<Output = Result<Vec<FeedEntry>, StoreError>> + Send;

    /// Marks events done (delivered or dead-lettered): never handed out again.
    fn ack(&self, ids: &[String]) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Takes over events another consumer took and left unacknowledged for `min_idle`.
    fn claim_stale(
        &self,
        min_idle: Duration,
        count: usize,
    ) -> impl Future<Output = Result<Vec<FeedEntry>, StoreError>> + Send;

    /// Tells the others this consumer still works on `ids` (resets their idle time).
    fn touch(&self, ids: &[String]) -> impl Future<Output = Result<(), StoreError>> + Send;

    fn stats(&self) -> impl Future<Output = Result<FeedStats, StoreError>> + Send;

    /// Trims the stream to about `keep` events without dropping one any of `sinks` still
    /// needs. A no-op where the source bounds itself.
    fn trim_safe(
        &self,
        sinks: &[String],
        keep: usize,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    fn dead_letter(
        &self,
        entry: &FeedEntry,
        error: &str,
        attempts: u32,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    fn dead_list(
        &self,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<DeadLetter>, StoreError>> + Send;

    fn dead_remove(&self, ids: &[String]) -> impl Future<Output = Result<(), StoreError>> + Send;

    fn dead_count(&self) -> impl Future<Output = Result<u64, StoreError>> + Send;
}
