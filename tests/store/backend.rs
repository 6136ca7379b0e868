//! A store under test, set up fresh for one test: the memory store, or a Redis store on a
//! `redis-server` of the test's own.

use alertgate::store::{IncidentStore, MemorySettings, MemoryStore, RedisSettings, RedisStore};

use crate::common::RESOLVED_TTL;
use crate::test_redis::TestRedis;

/// The key prefix of every Redis test store: not empty, so every case also runs the
/// store's prefixing (`redis_only` proves that two prefixes keep apart).
pub const PREFIX: &str = "alertgate-test:";

pub trait Backend: Sized {
    type S: IncidentStore + Clone;

    /// A fresh, empty store; `None` when the backend is skipped (no `redis-server`).
    async fn setup(event_stream_len: usize) -> Option<Self>;

    fn store(&self) -> &Self::S;

    /// Another handle on the same state, as a second gateway replica would have.
    async fn replica(&self) -> Self::S;
}

pub struct Memory(MemoryStore);

impl Backend for Memory {
    type S = MemoryStore;

    async fn setup(event_stream_len: usize) -> Option<Self> {
        Some(Memory(MemoryStore::new(MemorySettings {
            event_stream_len,
            ..MemorySettings::default()
        })))
    }

    fn store(&self) -> &MemoryStore {
        &self.0
    }

    async fn replica(&self) -> MemoryStore {
        self.0.clone()
    }
}

/// A Redis store on a server of its own, which goes away (with every key) on drop.
pub struct Redis {
    pub store: RedisStore,
    pub settings: RedisSettings,
    pub server: TestRedis,
}

impl Backend for Redis {
    type S = RedisStore;

    async fn setup(event_stream_len: usize) -> Option<Self> {
        Redis::with_ttl(event_stream_len, RESOLVED_TTL).await
    }

    fn store(&self) -> &RedisStore {
        &self.store
    }

    async fn replica(&self) -> RedisStore {
        RedisStore::connect(self.settings.clone())
            .await
            .expect("second redis store")
    }
}

impl Redis {
    pub async fn with_ttl(
        event_stream_len: usize,
        resolved_ttl: std::time::Duration,
    ) -> Option<Self> {
        let server = TestRedis::start()?;
        let settings = RedisSettings {
            url: server.url(),
            key_prefix: PREFIX.into(),
            event_stream_len,
            resolved_ttl,
        };
        let store = RedisStore::connect(settings.clone())
            .await
            .unwrap_or_else(|e| panic!("redis store on {}: {e}", settings.url));
        Some(Redis {
            store,
            settings,
            server,
        })
    }

    /// A plain connection, to look at what the store API does not show.
    pub fn raw(&self) -> ::redis::Connection {
        ::redis::Client::open(self.settings.url.as_str())
            .and_then(|c| c.get_connection())
            .expect("raw redis connection")
    }
}
