//! The shared store: incidents in Redis, so that every replica sees one state.
//!
//! Owns the Redis key layout (`keys`, the one place names are built; docs/design.md §5),
//! the apply step (one Lua script, `apply.lua`, per outcome: atomic across replicas, one
//! round trip, one Cluster slot), the connection kept in the background (`link`: the
//! gateway starts without Redis and reconnects with backoff), the topologies (`conn`: one
//! server, Sentinel, Cluster; TLS), the layout version and its migration (`layout`), the
//! event streams as the delivery work queue (`stream`: a consumer group per sink on every
//! bucket's stream, dead letters), and the parsing of what Redis returns (`reply`: malformed data is `StoreError::Corrupt`,
//! never a panic). Connection trouble is `StoreError::Unavailable`, reported at once
//! rather than waited out, so the server can answer 503.

mod act;
mod batch;
mod complete;
mod conn;
mod dead;
mod keys;
mod layout;
mod link;
mod read;
mod record;
mod reply;
mod settings;
mod store;
mod stream;
mod sweep;
mod trim;

pub use self::conn::{RedisTarget, TlsSettings};
pub use self::keys::{DEAD_LETTER_CAP, MAX_BUCKETS, STREAM_HARD_CAP};
pub use self::layout::{migrate_v1, MigrateReport, LAYOUT_VERSION};
pub use self::link::Health;
pub use self::settings::{RedisSettings, DEFAULT_CLUSTER_BUCKETS, DEFAULT_REPLICA_ACK_TIMEOUT};
pub use self::store::RedisStore;
pub use self::stream::Backlog;
