//! Starts a consumer per configured sink, stops removed ones, trims the Redis stream by
//! the slowest sink, keeps the lag and dead-letter gauges, and answers the admin API.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use arc_swap::ArcSwap;
use serde::Serialize;
use tokio::task::JoinHandle;

use super::client::HttpClient;
use super::consumer::{Delivered, Runtime, SinkStatus};
use super::feed::{EventFeed, FeedEntry, FeedStats};
use super::memory_feed::MemoryFeed;
use super::redis_feed::{group_of, trim_safe, RedisFeed};
use crate::config::Snapshot;
use crate::metrics::Metrics;
use crate::store::{DeadLetter, MemoryStore, RedisSettings, RedisStore, Store, StoreError};

/// How often the supervisor looks for sink changes.
const SYNC_EVERY: Duration = Duration::from_millis(500);
/// How often it trims the stream and refreshes the gauges.
const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(5);
/// Dead letters one replay takes.
const REPLAY_BATCH: usize = 1000;

#[derive(Clone)]
enum Backend {
    Memory(MemoryStore),
    Redis(RedisStore, Box<RedisSettings>),
}

#[derive(Clone)]
#[allow(clippy::large_enum_variant)] // one per sink, never moved around
enum AnyFeed {
    Memory(MemoryFeed),
    Redis(RedisFeed),
}

macro_rules! each {
    ($feed:expr, $f:ident => $body:expr) => {
        match $feed {
            AnyFeed::Memory($f) => $body,
            AnyFeed::Redis($f) => $body,
        }
    };
}

impl EventFeed for AnyFeed {
    async fn read_group(
        &self,
        count: usize,
        block: Duration,
    ) -> Result<Vec<FeedEntry>, StoreError> {
        each!(self, f => f.read_group(count, block).await)
    }
    async fn ack(&self, ids: &[String]) -> Result<(), StoreError> {
        each!(self, f => f.ack(ids).await)
    }
    async fn claim_stale(
        &self,
        min_idle: Duration,
        count: usize,
    ) -> Result<Vec<FeedEntry>, StoreError> {
        each!(self, f => f.claim_stale(min_idle, count).await)
    }
    async fn touch(&self, ids: &[String]) -> Result<(), StoreError> {
        each!(self, f => f.touch(ids).await)
    }
    async fn stats(&self) -> Result<FeedStats, StoreError> {
        each!(self, f => f.stats().await)
    }
    async fn trim_safe(&self, sinks: &[String], keep: usize) -> Result<u64, StoreError> {
        each!(self, f => f.trim_safe(sinks, keep).await)
    }
    async fn dead_letter(
        &self,
        entry: &FeedEntry,
        error: &str,
        attempts: u32,
    ) -> Result<(), StoreError> {
        each!(self, f => f.dead_letter(entry, error, attempts).await)
    }
    async fn dead_list(&self, limit: usize) -> Result<Vec<DeadLetter>, StoreError> {
        each!(self, f => f.dead_list(limit).await)
    }
    async fn dead_remove(&self, ids: &[String]) -> Result<(), StoreError> {
        each!(self, f => f.dead_remove(ids).await)
    }
    async fn dead_count(&self) -> Result<u64, StoreError> {
        each!(self, f => f.dead_count().await)
    }
}

struct Running {
    feed: AnyFeed,
    runtime: Runtime,
    task: JoinHandle<()>,
}

/// One sink as `GET /v1/sinks` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct SinkReport {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Events not yet taken by any replica (null: unknown, or the sink is not running).
    pub lag: Option<u64>,
    /// Events taken and not yet acknowledged.
    pub pending: u64,
    pub dead_lettered: u64,
    pub delivered: u64,
    pub last_error: Option<String>,
    #[serde(with = "crate::clock::rfc3339_ms_opt")]
    pub last_error_at: Option<i64>,
    #[serde(with = "crate::clock::rfc3339_ms_opt")]
    pub last_delivered_at: Option<i64>,
    /// Whether this replica runs a consumer for it (false while its start fails).
    pub running: bool,
}

struct Inner {
    backend: Backend,
    snapshot: Arc<ArcSwap<Snapshot>>,
    metrics: Metrics,
    client: HttpClient,
    consumer: String,
    running: tokio::sync::Mutex<BTreeMap<String, Running>>,
    supervisor: Mutex<Option<JoinHandle<()>>>,
}

/// The delivery side of one replica: a cheap-clone handle.
#[derive(Clone)]
pub struct Delivery {
    inner: Arc<Inner>,
}

/// A consumer name unique to this process: host, pid and a random tag.
fn consumer_name() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "alertgate".to_owned());
    format!(
        "{host}-{}-{:08x}",
        std::process::id(),
        rand::random::<u32>()
    )
}

impl Delivery {
    /// Starts delivering the events of `store` to the sinks of whatever snapshot `cell`
    /// holds. `redis` is the store's connection settings (each Redis sink reads on a
    /// connection of its own).
    pub fn start(
        store: &Store,
        redis: Option<RedisSettings>,
        cell: Arc<ArcSwap<Snapshot>>,
        metrics: Metrics,
    ) -> Delivery {
        let backend = match (store, redis) {
            (Store::Redis(r), Some(settings)) => Backend::Redis(r.clone(), Box::new(settings)),
            (Store::Memory(m), _) => Backend::Memory(m.clone()),
            (Store::Redis(r), None) => {
                tracing::error!("redis store without its settings: notifications disabled");
                Backend::Redis(
                    r.clone(),
                    Box::new(RedisSettings::new(String::new(), String::new())),
                )
            }
        };
        let delivery = Delivery {
            inner: Arc::new(Inner {
                backend,
                snapshot: cell,
                metrics,
                client: HttpClient::new(),
                consumer: consumer_name(),
                running: tokio::sync::Mutex::new(BTreeMap::new()),
                supervisor: Mutex::new(None),
            }),
        };
        let this = delivery.clone();
        let task = tokio::spawn(async move { this.supervise().await });
        *delivery
            .inner
            .supervisor
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(task);
        delivery
    }

    /// This replica's consumer name in the sinks' groups.
    pub fn consumer(&self) -> &str {
        &self.inner.consumer
    }

    /// Whether undelivered events survive a restart (Redis) or not (memory).
    pub fn durable(&self) -> bool {
        matches!(self.inner.backend, Backend::Redis(..))
    }

    /// Stops every consumer at once, as a crash would: events in flight stay pending
    /// (Redis: claimed by a live replica after `delivery.claim_idle`).
    pub async fn stop(&self) {
        if let Some(task) = self
            .inner
            .supervisor
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            task.abort();
        }
        for (_, running) in std::mem::take(&mut *self.inner.running.lock().await) {
            running.task.abort();
        }
    }

    async fn supervise(&self) {
        let mut seen: Option<Arc<Snapshot>> = None;
        let mut last_housekeeping = tokio::time::Instant::now();
        loop {
            let current = self.inner.snapshot.load_full();
            let changed = seen.as_ref().is_none_or(|s| !Arc::ptr_eq(s, &current));
            let missing = {
                let running = self.inner.running.lock().await;
                current
                    .settings
                    .sinks
                    .keys()
                    .any(|id| !running.contains_key(id))
            };
            if changed || missing {
                self.sync(&current).await;
                seen = Some(current);
            }
            if last_housekeeping.elapsed() >= HOUSEKEEPING_EVERY {
                last_housekeeping = tokio::time::Instant::now();
                self.housekeeping().await;
            }
            tokio::time::sleep(SYNC_EVERY).await;
        }
    }

    async fn sync(&self, snapshot: &Snapshot) {
        let mut running = self.inner.running.lock().await;
        let removed: Vec<String> = running
            .keys()
            .filter(|id| !snapshot.settings.sinks.contains_key(*id))
            .cloned()
            .collect();
        for id in removed {
            if let Some(r) = running.remove(&id) {
                r.task.abort();
                self.inner.metrics.forget_sink(&id);
                if let Backend::Redis(store, _) = &self.inner.backend {
                    // A sink added again later starts from the end, as a new one does.
                    if let Err(e) = store.group_destroy(&group_of(&id)).await {
                        tracing::warn!(sink = %id, error = %e, "cannot remove the sink's group");
                    }
                }
                tracing::info!(sink = %id, "sink removed: delivery stopped");
            }
        }
        for id in snapshot.settings.sinks.keys() {
            if running.contains_key(id) {
                continue;
            }
            let feed = match &self.inner.backend {
                Backend::Memory(store) => AnyFeed::Memory(MemoryFeed::new(store.clone())),
                Backend::Redis(store, settings) => {
                    match RedisFeed::connect(settings, store.clone(), id, &self.inner.consumer)
                        .await
                    {
                        Ok(feed) => AnyFeed::Redis(feed),
                        Err(e) => {
                            tracing::warn!(sink = %id, error = %e, "cannot start the sink; retrying");
                            continue;
                        }
                    }
                }
            };
            let runtime = Runtime {
                sink: id.clone(),
                snapshot: Arc::clone(&self.inner.snapshot),
                client: self.inner.client.clone(),
                metrics: self.inner.metrics.clone(),
                status: Arc::new(Mutex::new(SinkStatus::default())),
                claim_idle: snapshot.settings.delivery.claim_idle,
            };
            let task = tokio::spawn(runtime.clone().run(feed.clone()));
            tracing::info!(sink = %id, consumer = %self.inner.consumer, "sink started");
            running.insert(
                id.clone(),
                Running {
                    feed,
                    runtime,
                    task,
                },
            );
        }
    }

    async fn housekeeping(&self) {
        let snapshot = self.inner.snapshot.load_full();
        if let Backend::Redis(store, settings) = &self.inner.backend {
            let sinks: Vec<String> = snapshot.settings.sinks.keys().cloned().collect();
            if let Err(e) = trim_safe(store, &sinks, settings.event_stream_len).await {
                tracing::warn!(error = %e, "event stream trim failed");
            }
        }
        let running = self.inner.running.lock().await;
        for (id, r) in running.iter() {
            let lag = r.feed.stats().await.ok().and_then(|s| s.lag).unwrap_or(0);
            let dead = r.feed.dead_count().await.unwrap_or(0);
            self.inner.metrics.set_sink_backlog(id, lag, dead);
        }
    }

    /// Every configured sink with its backlog and last error.
    pub async fn sinks(&self) -> Vec<SinkReport> {
        let snapshot = self.inner.snapshot.load_full();
        let running = self.inner.running.lock().await;
        let mut out = Vec::new();
        for (id, sink) in &snapshot.settings.sinks {
            let r = running.get(id);
            let (stats, dead, status) = match r {
                Some(r) => (
                    r.feed.stats().await.ok(),
                    r.feed.dead_count().await.unwrap_or(0),
                    r.runtime
                        .status
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .clone(),
                ),
                None => (None, 0, SinkStatus::default()),
            };
            out.push(SinkReport {
                id: id.clone(),
                kind: sink.kind.name(),
                lag: stats.and_then(|s| s.lag),
                pending: stats.map_or(0, |s| s.pending),
                dead_lettered: dead,
                delivered: self.inner.metrics.notifications(id, "delivered"),
                last_error: status.last_error,
                last_error_at: status.last_error_at,
                last_delivered_at: status.last_delivered_at,
                running: r.is_some(),
            });
        }
        out
    }

    async fn feed_of(&self, id: &str) -> Option<(AnyFeed, Runtime)> {
        let running = self.inner.running.lock().await;
        running.get(id).map(|r| (r.feed.clone(), r.runtime.clone()))
    }

    /// The oldest `limit` dead letters of sink `id`; `None` when no such sink runs here.
    pub async fn dead(
        &self,
        id: &str,
        limit: usize,
    ) -> Option<Result<Vec<DeadLetter>, StoreError>> {
        let (feed, _) = self.feed_of(id).await?;
        Some(feed.dead_list(limit).await)
    }

    /// Delivers sink `id`'s dead letters again, in the background, each with the sink's
    /// retry policy; delivered ones leave the dead-letter stream, failed ones stay.
    /// Returns how many were queued; `None` when no such sink runs here.
    pub async fn replay(&self, id: &str) -> Option<Result<usize, StoreError>> {
        let (feed, runtime) = self.feed_of(id).await?;
        let dead = match feed.dead_list(REPLAY_BATCH).await {
            Ok(dead) => dead,
            Err(e) => return Some(Err(e)),
        };
        let count = dead.len();
        tokio::spawn(async move {
            for letter in dead {
                let entry = FeedEntry {
                    id: letter.event_id.clone(),
                    event: letter.event.clone(),
                };
                match runtime.deliver(&feed, &entry, &[], false).await {
                    Delivered::Sent => {
                        runtime
                            .metrics
                            .record_notification(&runtime.sink, "delivered");
                        if let Err(e) = feed.dead_remove(std::slice::from_ref(&letter.id)).await {
                            tracing::warn!(sink = %runtime.sink, error = %e, "replayed, but cannot remove the dead letter");
                        }
                    }
                    Delivered::Removed => return,
                    Delivered::Filtered | Delivered::GaveUp { .. } => {}
                }
            }
        });
        Some(Ok(count))
    }
}
