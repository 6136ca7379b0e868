//! The config file as written: serde mirrors (`*Config`) with `deny_unknown_fields`.
//!
//! These structs are operator documentation: every field says what it does and its
//! default. They hold unchecked text; `config::settings` turns them into `Settings`.

use std::collections::BTreeMap;

use serde::Deserialize;

/// The whole config file (`config.example.yaml`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Address to listen on, `host:port`. Default `127.0.0.1:8080`. Changing it needs a
    /// restart. Overridden by `serve --listen`.
    #[serde(default)]
    pub listen: Option<String>,
    /// Directory of mapping files (`*.yaml`, `*.yml`), relative to this file's folder.
    /// Default `mappings`.
    #[serde(default)]
    pub mappings_dir: Option<String>,
    /// Where incidents are kept. Default: the in-process `memory` store.
    #[serde(default)]
    pub store: StoreConfig,
    /// Webhook senders by id (`[a-z0-9_-]+`): each posts to `/hooks/{id}`.
    #[serde(default)]
    pub sources: BTreeMap<String, SourceConfig>,
    /// Bearer token for the admin API (`/v1/…`): an `admin`-scoped token named `admin`.
    /// This or `admin_tokens` is required; use `${VAR}` to keep it out of the file.
    #[serde(default)]
    pub admin_token: Option<String>,
    /// Named API tokens with a scope: `read` may view, `admin` may also act on incidents,
    /// reload, manage sources and eval. Every action records the token's name.
    #[serde(default)]
    pub admin_tokens: Vec<AdminTokenConfig>,
    /// Bounds on requests and responses.
    #[serde(default)]
    pub limits: LimitsConfig,
    /// Log line format on stderr: `text` (default) or `json` (one JSON object a line).
    /// `ALERTGATE_LOG_FORMAT` wins over it. Read once at startup (changing it needs a
    /// restart); `${VAR}` is not expanded in this key.
    #[serde(default)]
    pub log_format: Option<String>,
    /// The address senders reach this gateway at (behind a load balancer, say), used in
    /// Where incident events are sent, by sink id (`[a-z0-9_-]+`); see README
    /// "Notifications".
    #[serde(default)]
    pub sinks: BTreeMap<String, super::sinks::SinkConfig>,
    /// Settings shared by every sink.
    #[serde(default)]
    pub delivery: super::sinks::DeliveryConfig,
    /// The address senders and people reach this gateway at (behind a load balancer,
    /// say): the base of every webhook URL alertgate prints and of the links
    /// notifications carry (`{public_url}/v1/incidents/{id}`):
    /// `https://alerts.example.com`. Default `http://{listen}`.
    #[serde(default)]
    pub public_url: Option<String>,
    /// Directory of source files (`*.yaml`, one source each), relative to this file's
    /// folder, merged into `sources`; written by `alertgate sources add` and
    /// `POST /v1/sources`. Default `sources.d`. A missing directory holds no sources.
    #[serde(default)]
    pub sources_dir: Option<String>,
}

/// Which store backend, and how to reach it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// `memory` (default: no setup, state lives in this process, not shared between
    /// replicas) or `redis` (shared by every replica using the same `key_prefix`).
    #[serde(default)]
    pub backend: BackendConfig,
    /// Redis only: `redis://[user:password@]host:port[/db]`. Overridden (and the backend
    /// set to `redis`) by `serve --redis-url`.
    #[serde(default)]
    pub url: Option<String>,
    /// Redis only: prepended to every key. Default `alertgate:`.
    #[serde(default)]
    pub key_prefix: Option<String>,
    /// Bound on the incident event stream (Redis `MAXLEN ~`, memory ring size).
    /// Default 10000.
    #[serde(default)]
    pub event_stream_len: Option<usize>,
    /// Memory only: how many resolved incidents are kept; beyond it the oldest-resolved is
    /// forgotten (404 by id, gone from listings; the event stream keeps its copies), and
    /// with it the last `event_time` of its key if nothing newer of that key is kept.
    /// Open incidents are never evicted. `0` keeps none. Default 10000. Changing it
    /// needs a restart. An error with `backend: redis`, which bounds them by
    /// `resolved_ttl` instead.
    #[serde(default)]
    pub max_resolved: Option<usize>,
    /// Redis only: how long a resolved incident is kept after its resolve (`PEXPIRE` on
    /// its hash), then it is gone (404 by id, gone from listings; the event stream keeps
    /// its copies). Its key's last `event_time` (for stale detection) expires after the
    /// same time unless a newer event on that key comes; an open incident never expires.
    /// A duration: `30m`, `24h`, `7d` (units `ms`, `s`, `m`, `h`, `d`). Default `7d`.
    /// Changing it needs a restart and applies to later resolves only.
    #[serde(default)]
    pub resolved_ttl: Option<String>,
    /// Redis only: the master that Redis Sentinels name, instead of `url` (the two and
    /// `cluster` exclude each other). The master is asked for again after every lost
    /// connection, so a failover needs no restart.
    #[serde(default)]
    pub sentinel: Option<SentinelConfig>,
    /// Redis only: a Redis Cluster, instead of `url` or `sentinel`.
    #[serde(default)]
    pub cluster: Option<ClusterConfig>,
    /// Redis only: TLS options. TLS itself is on with `rediss://` urls (for Sentinel:
    /// with this block present, the master is reached over TLS).
    #[serde(default)]
    pub tls: Option<TlsConfig>,
    /// Redis only: how many buckets (1–1000) the keyspace is cut into; each (source,
    /// fingerprint) lives in one, with all its keys in one Cluster slot. Fixed for the
    /// life of a keyspace (recorded in `<key_prefix>layout`; a gateway configured
    /// otherwise refuses it). Default 16 with `cluster`, else 1.
    #[serde(default)]
    pub buckets: Option<u16>,
    /// Redis only: after each write, wait for this many replicas to acknowledge it
    /// (`WAIT`); fewer within `replica_ack_timeout` answers 503 (the write stays on the
    /// master and the sender retries). Default 0 (no wait).
    #[serde(default)]
    pub min_replicas_ack: Option<u32>,
    /// Redis only: how long `min_replicas_ack` waits. Default `1s`.
    #[serde(default)]
    pub replica_ack_timeout: Option<String>,
    /// Redis only, optional: an on-disk spool that accepts webhooks while Redis is
    /// unavailable (answered 202 `queued`) and replays them, in arrival order, when it is
    /// back. One directory per replica. Changing it needs a restart.
    #[serde(default)]
    pub spool: Option<SpoolConfig>,
}

/// `store.sentinel`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SentinelConfig {
    /// The name the Sentinels monitor the master under.
    pub master_name: String,
    /// The Sentinels, `redis://host:port` each (a password in a url is the Sentinel's).
    pub urls: Vec<String>,
    /// The master's password, if it needs one. Use `${VAR}`.
    #[serde(default)]
    pub password: Option<String>,
}

/// `store.cluster`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// Some of the cluster's nodes, `redis://host:port` (`rediss://` for TLS); the rest
    /// is found from them.
    pub urls: Vec<String>,
}

/// `store.tls`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM file of the CA that signed the Redis servers' certificates, instead of the
    /// system's trust store; relative to this file's folder.
    #[serde(default)]
    pub ca_file: Option<String>,
}

/// `store.spool`: where the spool lives and how large it may grow.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpoolConfig {
    /// Directory of the spool files, relative to the config file's folder; created if
    /// missing. Each replica needs its own (a second process on it is refused).
    pub dir: String,
    /// Largest size of the spool file: `512MiB`, `64MB`, `4096` (bytes); units B, KB, MB,
    /// GB (powers of 1000) and KiB, MiB, GiB (powers of 1024); at least 1KiB. Once full,
    /// webhooks get 503 again. Default `256MiB`.
    #[serde(default)]
    pub max_bytes: Option<ByteSize>,
}

/// A byte size as written: a plain number of bytes or a text with a unit.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum ByteSize {
    Bytes(u64),
    Text(String),
}

/// A store backend name.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendConfig {
    #[default]
    Memory,
    Redis,
}

/// One webhook sender.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// The `integration` name of the mapping that reads this source's payloads.
    pub integration: String,
    /// Accepted tokens (query `?token=` or header `X-ITOC360-Token`). More than one lets
    /// you rotate a token without downtime. Use `${VAR}` to keep them out of the file.
    pub tokens: Vec<String>,
    /// HTTP methods the sender may use: any of `GET` (payload in the query string),
    /// `POST`, `PUT`, `PATCH` (payload in the body). Default `[GET, POST]`; others get 405
    /// with an `Allow` header listing these.
    #[serde(default)]
    pub methods: Option<Vec<String>>,
    /// Checks a request must also pass, in order, after the token: a signature over the
    /// raw body (`hmac_sha256`), a body field equal to a secret (`field_equals`) or in an
    /// allow-list (`field_in`). Default: none.
    #[serde(default)]
    pub verify: Vec<VerifyConfig>,
    /// Token bucket on this source's requests, per replica: `{per_second, burst}`. Off
    /// when absent. Each request takes one token whatever its size; an empty bucket
    /// answers 429 with `Retry-After`.
    #[serde(default)]
    pub rate_limit: Option<RateLimitConfig>,
    /// Most open incidents this source may have; an open that would create one more gets
    /// 429 (never an eviction). Default 100000.
    #[serde(default)]
    pub max_open: Option<u64>,
    /// An open incident of this source that gets no event for this long resolves itself
    /// (`resolved_by: timeout`). A duration (`4h`). A mapping rule's own
    /// `auto_resolve_after` wins. Default: never.
    #[serde(default)]
    pub auto_resolve_after: Option<String>,
    /// Marks a fingerprint that keeps opening as flapping (notifications held back).
    /// Default: off.
    #[serde(default)]
    pub flapping: Option<FlappingConfig>,
    /// Dead man's switch: an incident of its own when the source goes silent. Default: off.
    #[serde(default)]
    pub heartbeat: Option<HeartbeatConfig>,
}

/// `sources.<id>.flapping`: the `opens`-th open of one fingerprint within `within`
/// (inclusive) and every later one carry `flapping: true`, until a whole `within` passes
/// with no open.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlappingConfig {
    /// At least 2.
    pub opens: u32,
    /// A duration: `10m`.
    pub within: String,
}

/// `sources.<id>.heartbeat`: when the source has not posted (any authenticated request)
/// for `every`, an incident opens (fingerprint `heartbeat`), resolved by its next request.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeartbeatConfig {
    /// A duration: `5m`.
    pub every: String,
    /// The incident's priority. Default `high`.
    #[serde(default)]
    pub priority: Option<String>,
}

/// A source's token bucket: refilled at `per_second`, holding at most `burst`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Tokens added per second (> 0; fractions allowed: `0.5` is one every 2 s).
    pub per_second: f64,
    /// Bucket size: requests accepted at once after a quiet spell (>= 1). Default: one
    /// second's worth, at least 1.
    #[serde(default)]
    pub burst: Option<u32>,
}

/// One `verify:` entry: exactly one of its keys.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyConfig {
    #[serde(default)]
    pub hmac_sha256: Option<HmacConfig>,
    #[serde(default)]
    pub field_equals: Option<FieldEqualsConfig>,
    #[serde(default)]
    pub field_in: Option<FieldInConfig>,
}

/// `hmac_sha256`: HMAC-SHA256 of the raw body keyed with `secret`, hex in `header`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HmacConfig {
    /// The header carrying the hex signature (`X-Grafana-Alerting-Signature`).
    pub header: String,
    /// The shared secret, as the sender was given it. Use `${VAR}`.
    pub secret: String,
    /// Text before the hex (`sha256=`, GitHub style). Default: none.
    #[serde(default)]
    pub prefix: Option<String>,
    /// A header carrying the send time in Unix seconds; the MAC is then over
    /// `{timestamp}:{body}`, and the time must be within `max_age` of ours.
    #[serde(default)]
    pub timestamp_header: Option<String>,
    /// How far the signed timestamp may be from now, either way. Default `5m`.
    #[serde(default)]
    pub max_age: Option<String>,
}

/// `field_equals`: a body field (JMESPath, or a top-level name) that must equal `secret`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldEqualsConfig {
    pub field: String,
    pub secret: String,
}

/// `field_in`: a body field that must be one of `values`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldInConfig {
    pub field: String,
    pub values: Vec<String>,
}

/// Bounds; every one has a default. Durations are written `500ms`, `10s`, `2m`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Largest request body accepted, in bytes; larger ones get 413 before anything
    /// reads them. Default 1048576 (1 MiB).
    #[serde(default)]
    pub max_body_bytes: Option<u64>,
    /// Time a client has to send a request's headers (HTTP/1). Default `10s`.
    #[serde(default)]
    pub header_read_timeout: Option<String>,
    /// Time one request may take, body read and store step included; 408 after it.
    /// Default `30s` (Statuspage gives up after 30 s).
    #[serde(default)]
    pub request_timeout: Option<String>,
    /// On SIGTERM/SIGINT, time in-flight requests get to finish. Default `25s`.
    #[serde(default)]
    pub shutdown_grace: Option<String>,
    /// Largest page `GET /v1/incidents` returns; a larger `limit` is clamped. Default 500.
    #[serde(default)]
    pub max_page_size: Option<usize>,
    /// On SIGTERM/SIGINT, time `/-/ready` answers 503 while requests are still served,
    /// before the listener closes (lets a load balancer take the replica out first).
    /// Default `0s`.
    #[serde(default)]
    pub shutdown_delay: Option<String>,
    /// Most connections open at once; beyond it the server stops accepting until one
    /// closes. Default 1024. Changing it needs a restart.
    #[serde(default)]
    pub max_connections: Option<usize>,
    /// Longest fingerprint an event may have, in bytes; longer: 422. Default 1024.
    #[serde(default)]
    pub max_fingerprint_bytes: Option<usize>,
    /// Longest title kept, in bytes; longer ones are cut with `…[truncated]`. Default 1024.
    #[serde(default)]
    pub max_title_bytes: Option<usize>,
    /// Longest label value kept, in bytes; longer ones are cut like titles. Default 1024.
    #[serde(default)]
    pub max_label_bytes: Option<usize>,
    /// Most labels kept per event; later ones are dropped. Default 64.
    #[serde(default)]
    pub max_labels: Option<usize>,
    /// Most elements a fan-out payload (a mapping with `items:`) may carry; more get 413
    /// before any is evaluated. Default 1000.
    #[serde(default)]
    pub max_items_per_payload: Option<usize>,
    /// Rejected or ignored payloads each source keeps (in memory, per replica) for
    /// `GET /v1/sources/{id}/recent` and the console's playground. Default 20; `0` keeps
    /// none.
    #[serde(default)]
    pub recent_payloads: Option<usize>,
}

/// One entry of `admin_tokens`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminTokenConfig {
    /// Recorded on every action taken with the token (`acknowledged_by: user:<name>`).
    pub name: String,
    /// The secret. Use `${VAR}`.
    pub token: String,
    /// `read` (view only) or `admin` (default).
    #[serde(default)]
    pub scope: Option<String>,
}
