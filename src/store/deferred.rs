//! A Redis store that may start before Redis answers: it connects on first use, and
//! until it has, every call is `Unavailable`. Used only with a spool (docs/design.md
//! §10): a replica with a spool starts and accepts webhooks while Redis is away, queues
//! them, and replays them once a connection succeeds. Without a spool `serve` still
//! refuses to start when Redis is unreachable (exit 2).
//!
//! Connection attempts are one at a time and at most one per [`RETRY_EVERY`]; a call that
//! finds an attempt under way or too recent fails at once instead of waiting for it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{Mutex, OnceCell};

use super::model::{Applied, Incident, IncidentEvent, IncidentStore, ListQuery, Page, StoreError};
use super::redis::{RedisSettings, RedisStore};
use crate::outcome::Outcome;

/// Least time between two connection attempts.
const RETRY_EVERY: Duration = Duration::from_millis(250);

/// A cheap-clone handle: every clone shares one connection once made.
#[derive(Clone)]
pub struct DeferredRedis {
    inner: Arc<Inner>,
}

struct Inner {
    settings: RedisSettings,
    store: OnceCell<RedisStore>,
    /// When the last attempt started; held while one runs.
    attempt: Mutex<Option<Instant>>,
}

impl DeferredRedis {
    /// A store that has not connected yet.
    pub fn new(settings: RedisSettings) -> DeferredRedis {
        DeferredRedis {
            inner: Arc::new(Inner {
                settings,
                store: OnceCell::new(),
                attempt: Mutex::new(None),
            }),
        }
    }

    /// Whether a connection has been made.
    pub fn is_connected(&self) -> bool {
        self.inner.store.initialized()
    }

    async fn store(&self) -> Result<&RedisStore, StoreError> {
        if let Some(store) = self.inner.store.get() {
            return Ok(store);
        }
        let Ok(mut last) = self.inner.attempt.try_lock() else {
            return Err(StoreError::Unavailable(
                "redis: a connection attempt is under way".into(),
            ));
        };
        if let Some(store) = self.inner.store.get() {
            return Ok(store);
        }
        if last.is_some_and(|at| at.elapsed() < RETRY_EVERY) {
            return Err(StoreError::Unavailable(
                "redis: unreachable since start".into(),
            ));
        }
        *last = Some(Instant::now());
        let store = RedisStore::connect(self.inner.settings.clone()).await?;
        tracing::info!("redis: connected");
        Ok(self.inner.store.get_or_init(|| async { store }).await)
    }
}

impl IncidentStore for DeferredRedis {
    async fn apply(
        &self,
        source: &str,
        outcome: &Outcome,
        now_ms: i64,
    ) -> Result<Applied, StoreError> {
        self.store().await?.apply(source, outcome, now_ms).await
    }

    async fn get(&self, id: &str) -> Result<Option<Incident>, StoreError> {
        self.store().await?.get(id).await
    }

    async fn list(&self, query: &ListQuery) -> Result<Page, StoreError> {
        self.store().await?.list(query).await
    }

    async fn recent_events(&self, limit: usize) -> Result<Vec<IncidentEvent>, StoreError> {
        self.store().await?.recent_events(limit).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.store().await?.ping().await
    }
}
