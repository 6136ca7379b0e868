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
    /// Bearer token for the admin API (`/v1/…`). Required; use `${VAR}` to keep it out of
    /// the file.
    pub admin_token: String,
    /// Bounds on requests and responses.
    #[serde(default)]
    pub limits: LimitsConfig,
    /// Where incident events are sent, by sink id (`[a-z0-9_-]+`); see README
    /// "Notifications".
    #[serde(default)]
    pub sinks: BTreeMap<String, super::sinks::SinkConfig>,
    /// Settings shared by every sink.
    #[serde(default)]
    pub delivery: super::sinks::DeliveryConfig,
    /// The gateway's address as people reach it, for links in notifications
    /// (`{public_url}/v1/incidents/{id}`). Default `http://{listen}`.
    #[serde(default)]
    pub public_url: Option<String>,
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
}
