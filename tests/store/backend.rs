//! A store under test, set up fresh for one test: the memory store, or a Redis store on a
//! `redis-server` of the test's own.

use alertgate::store::{
    IncidentStore, MemorySettings, MemoryStore, RedisSettings, RedisStore, RedisTarget,
    DEFAULT_CLUSTER_BUCKETS,
};

use crate::common::RESOLVED_TTL;
use crate::test_cluster::TestCluster;
use crate::test_redis::TestRedis;

/// The key prefix of every Redis test store: not empty, so every case also runs the
/// store's prefixing (`redis_only` proves that two prefixes keep apart).
pub const PREFIX: &str = "alertgate-test:";

/// Buckets of the single-server test keyspace.
pub const REDIS_BUCKETS: u16 = 4;

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
        Redis::with(event_stream_len, RESOLVED_TTL, REDIS_BUCKETS).await
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
    /// One bucket (`{b0}` in every key name), as a single server has by default.
    pub async fn with_ttl(
        event_stream_len: usize,
        resolved_ttl: std::time::Duration,
    ) -> Option<Self> {
        Self::with(event_stream_len, resolved_ttl, 1).await
    }

    pub async fn with(
        event_stream_len: usize,
        resolved_ttl: std::time::Duration,
        buckets: u16,
    ) -> Option<Self> {
        let server = TestRedis::start()?;
        let settings = RedisSettings {
            event_stream_len,
            resolved_ttl,
            // More than one bucket on one server: every case also runs the merge of
            // buckets (listings, cursors, event streams) that Redis Cluster needs.
            buckets,
            ..RedisSettings::new(server.url(), PREFIX)
        };
        let store = RedisStore::connect(settings.clone())
            .await
            .unwrap_or_else(|e| panic!("redis store on {}: {e}", server.url()));
        Some(Redis {
            store,
            settings,
            server,
        })
    }

    /// A plain connection, to look at what the store API does not show.
    pub fn raw(&self) -> ::redis::Connection {
        ::redis::Client::open(self.server.url())
            .and_then(|c| c.get_connection())
            .expect("raw redis connection")
    }
}

/// A Redis store on a 3-master Redis Cluster of its own (16 buckets, the cluster default).
pub struct Cluster {
    pub store: RedisStore,
    pub settings: RedisSettings,
    /// Kept alive for the store; killed on drop.
    pub _nodes: TestCluster,
}

impl Backend for Cluster {
    type S = RedisStore;

    async fn setup(event_stream_len: usize) -> Option<Self> {
        let cluster = TestCluster::start()?;
        let settings = RedisSettings {
            target: RedisTarget::Cluster {
                urls: cluster.urls(),
            },
            event_stream_len,
            resolved_ttl: RESOLVED_TTL,
            buckets: DEFAULT_CLUSTER_BUCKETS,
            ..RedisSettings::new("", PREFIX)
        };
        let store = RedisStore::connect(settings.clone())
            .await
            .unwrap_or_else(|e| panic!("redis cluster store: {e}"));
        Some(Cluster {
            store,
            settings,
            _nodes: cluster,
        })
    }

    fn store(&self) -> &RedisStore {
        &self.store
    }

    async fn replica(&self) -> RedisStore {
        RedisStore::connect(self.settings.clone())
            .await
            .expect("second cluster store")
    }
}
