//! How to reach the store's Redis and how its keyspace is cut (`store.*` in the config).

use std::time::Duration;

use super::conn::{RedisTarget, TlsSettings};

/// Buckets of a keyspace made on Redis Cluster when the config names none: enough to
/// spread a keyspace over 16 masters' slots; listings read every bucket, so not more.
pub const DEFAULT_CLUSTER_BUCKETS: u16 = 16;

/// How long `WAIT` waits for `min_replicas_ack` replicas when the config names no time.
pub const DEFAULT_REPLICA_ACK_TIMEOUT: Duration = Duration::from_secs(1);

/// How to reach Redis and where to keep the keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisSettings {
    /// One server, the master Sentinels name, or a Cluster.
    pub target: RedisTarget,
    /// TLS options (a CA file); TLS itself is on with `rediss://` urls.
    pub tls: Option<TlsSettings>,
    /// Prepended verbatim to every key, e.g. `alertgate:`; replicas sharing state use one.
    /// Must not hold `{` or `}` (Redis Cluster hash tags).
    pub key_prefix: String,
    /// Bound on each bucket's event stream, kept by the delivery task (trimmed to about
    /// this many, never past an entry a sink still needs; `XADD` itself caps at
    /// `STREAM_HARD_CAP`); reads never return more than this many of the newest.
    pub event_stream_len: usize,
    /// How long a resolved incident (its hash) and its key's last `event_time` are kept
    /// after the resolve (`PEXPIRE`, millisecond precision, at least 1 ms). Open incidents
    /// never expire.
    pub resolved_ttl: Duration,
    /// How many buckets the keyspace is cut into (1–1000), fixed for its life: recorded
    /// in `<prefix>layout`, and a store configured otherwise refuses the keyspace.
    pub buckets: u16,
    /// After each write, `WAIT` for this many replicas to acknowledge it; fewer within
    /// `replica_ack_timeout` is a 503 (the write stays on the master). 0: no `WAIT`.
    pub min_replicas_ack: u32,
    pub replica_ack_timeout: Duration,
}

impl RedisSettings {
    /// One Redis server at `url` with every other setting at its default (1 bucket).
    pub fn new(url: impl Into<String>, key_prefix: impl Into<String>) -> RedisSettings {
        RedisSettings {
            target: RedisTarget::Url(url.into()),
            tls: None,
            key_prefix: key_prefix.into(),
            event_stream_len: crate::store::model::DEFAULT_EVENT_STREAM_LEN,
            resolved_ttl: crate::store::model::DEFAULT_RESOLVED_TTL,
            buckets: 1,
            min_replicas_ack: 0,
            replica_ack_timeout: DEFAULT_REPLICA_ACK_TIMEOUT,
        }
    }

    /// The single server's url, if the target is one.
    pub fn url(&self) -> Option<&str> {
        match &self.target {
            RedisTarget::Url(url) => Some(url),
            _ => None,
        }
    }
}
