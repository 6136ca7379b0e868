//! Open incidents, keyed by (source, fingerprint), behind one `IncidentStore` interface.
//!
//! Owns the incident lifecycle (docs/design.md §4): one atomic step per `Outcome`, producing a
//! `Transition`, and an event stream of every transition that changed an incident
//! (`opened`, `updated`, `resolved`; `already_resolved`, `stale` and `ignored` change
//! nothing and carry no incident). Two backends pass one conformance suite
//! (`tests/store/main.rs`): `memory` (the embedded default) and `redis` (one Lua
//! script per step, shared by replicas). It does not decide what a payload means (that is
//! `engine`) nor speak HTTP (that is `server`).
//!
//! Ordering: an outcome with an `event_time` older than the last one applied to its key
//! is `stale`; equal times are not. The key's last time outlives its incident, so a late
//! "investigating" after "resolved" stays stale instead of opening a new incident.

mod memory;
mod model;
mod redis;

pub use self::memory::{MemorySettings, MemoryStore};
pub use self::model::{
    Act, Acted, Applied, Beat, DeadLetter, EventPage, GroupInfo, Incident, IncidentEvent,
    IncidentStore, ListQuery, Page, Status, Stepped, StoreError, SweepReport, Transition,
    DEFAULT_EVENT_STREAM_LEN, DEFAULT_MAX_RESOLVED, DEFAULT_RESOLVED_TTL,
};
pub use self::redis::{
    migrate_v1, Backlog, Health, MigrateReport, RedisSettings, RedisStore, RedisTarget,
    TlsSettings, DEAD_LETTER_CAP, DEFAULT_CLUSTER_BUCKETS, DEFAULT_REPLICA_ACK_TIMEOUT,
    LAYOUT_VERSION, MAX_BUCKETS, STREAM_HARD_CAP,
};
use crate::outcome::{HeartbeatPolicy, Outcome};

/// The backend chosen by config: a closed set, so no boxing on the hot path.
#[derive(Clone)]
pub enum Store {
    Memory(MemoryStore),
    Redis(RedisStore),
}

impl Store {
    /// The store's connection state, for readiness, metrics and `/-/config`.
    pub fn health(&self) -> Health {
        match self {
            Store::Memory(_) => Health::Up,
            Store::Redis(s) => s.health(),
        }
    }

    /// A signal bumped on every event this process's memory store records; `None` for
    /// Redis, whose events come from every replica (readers poll it).
    pub fn watch_events(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        match self {
            Store::Memory(s) => Some(s.watch_events()),
            Store::Redis(_) => None,
        }
    }

    /// Applies a fan-out's `outcomes` in order, each as `apply` would: on Redis pipelined,
    /// one round trip per bucket (`RedisStore::apply_batch`); in memory one after another.
    pub async fn apply_many(
        &self,
        source: &str,
        outcomes: &[&Outcome],
        now_ms: i64,
    ) -> Vec<Result<Applied, StoreError>> {
        match self {
            Store::Memory(s) => {
                let mut out = Vec::with_capacity(outcomes.len());
                for outcome in outcomes {
                    out.push(s.apply(source, outcome, now_ms).await);
                }
                out
            }
            Store::Redis(s) => s.apply_batch(source, outcomes, now_ms).await,
        }
    }

    pub fn backend_name(&self) -> &'static str {
        match self {
            Store::Memory(_) => "memory",
            Store::Redis(_) => "redis",
        }
    }
}

impl IncidentStore for Store {
    async fn apply(
        &self,
        source: &str,
        outcome: &Outcome,
        now_ms: i64,
    ) -> Result<Applied, StoreError> {
        match self {
            Store::Memory(s) => s.apply(source, outcome, now_ms).await,
            Store::Redis(s) => s.apply(source, outcome, now_ms).await,
        }
    }

    async fn get(&self, id: &str) -> Result<Option<Incident>, StoreError> {
        match self {
            Store::Memory(s) => s.get(id).await,
            Store::Redis(s) => s.get(id).await,
        }
    }

    async fn list(&self, query: &ListQuery) -> Result<Page, StoreError> {
        match self {
            Store::Memory(s) => s.list(query).await,
            Store::Redis(s) => s.list(query).await,
        }
    }

    async fn recent_events(&self, limit: usize) -> Result<Vec<IncidentEvent>, StoreError> {
        match self {
            Store::Memory(s) => s.recent_events(limit).await,
            Store::Redis(s) => s.recent_events(limit).await,
        }
    }

    async fn incident_events(
        &self,
        id: &str,
        within: usize,
    ) -> Result<Vec<IncidentEvent>, StoreError> {
        match self {
            Store::Memory(s) => s.incident_events(id, within).await,
            Store::Redis(s) => s.incident_events(id, within).await,
        }
    }

    async fn events_after(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<EventPage, StoreError> {
        match self {
            Store::Memory(s) => s.events_after(cursor, limit).await,
            Store::Redis(s) => s.events_after(cursor, limit).await,
        }
    }

    async fn act(&self, id: &str, act: &Act, by: &str, now_ms: i64) -> Result<Acted, StoreError> {
        match self {
            Store::Memory(s) => s.act(id, act, by, now_ms).await,
            Store::Redis(s) => s.act(id, act, by, now_ms).await,
        }
    }

    async fn ping(&self) -> Result<(), StoreError> {
        match self {
            Store::Memory(s) => s.ping().await,
            Store::Redis(s) => s.ping().await,
        }
    }

    async fn open_count(&self, source: &str) -> Result<u64, StoreError> {
        match self {
            Store::Memory(s) => s.open_count(source).await,
            Store::Redis(s) => s.open_count(source).await,
        }
    }

    async fn is_open(&self, source: &str, fingerprint: &str) -> Result<bool, StoreError> {
        match self {
            Store::Memory(s) => s.is_open(source, fingerprint).await,
            Store::Redis(s) => s.is_open(source, fingerprint).await,
        }
    }

    async fn heartbeat(
        &self,
        source: &str,
        policy: HeartbeatPolicy,
        beat: Beat,
        now_ms: i64,
    ) -> Result<Option<Incident>, StoreError> {
        match self {
            Store::Memory(s) => s.heartbeat(source, policy, beat, now_ms).await,
            Store::Redis(s) => s.heartbeat(source, policy, beat, now_ms).await,
        }
    }

    async fn sweep(
        &self,
        now_ms: i64,
        heartbeats: &[(String, HeartbeatPolicy)],
    ) -> Result<SweepReport, StoreError> {
        match self {
            Store::Memory(s) => s.sweep(now_ms, heartbeats).await,
            Store::Redis(s) => s.sweep(now_ms, heartbeats).await,
        }
    }
}
