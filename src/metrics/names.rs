//! The metric family names, as a scrape shows them (each a constant the registry in
//! `metrics` registers under, less the `_total` OpenMetrics adds to counters' samples), and
//! `NAMES`, the list dashboards and alert rules are checked against.

/// `1` when the last reload attempt succeeded, `0` when it failed (the old config serves).
pub const CONFIG_LAST_RELOAD_SUCCESSFUL: &str = "alertgate_config_last_reload_successful";
/// Unix time (seconds) of the last successful reload, or of the startup load.
pub const CONFIG_LAST_RELOAD_SUCCESS_TIMESTAMP: &str =
    "alertgate_config_last_reload_success_timestamp_seconds";
/// Reload attempts by `result` (`success` | `failure`).
pub const CONFIG_RELOADS_TOTAL: &str = "alertgate_config_reloads_total";
/// Webhooks handled, by `source` and `transition` (see `WebhookOutcome`).
pub const WEBHOOKS_TOTAL: &str = "alertgate_webhooks_total";
/// Time from request head to response, for `/hooks/…` requests.
pub const WEBHOOK_DURATION_SECONDS: &str = "alertgate_webhook_duration_seconds";
/// Webhooks refused by their source's `rate_limit` (429), by `source`.
pub const RATE_LIMITED_TOTAL: &str = "alertgate_rate_limited_total";
/// Opens refused because their source had `max_open` incidents open (429), by `source`.
pub const OPEN_LIMIT_REJECTIONS_TOTAL: &str = "alertgate_open_limit_rejections_total";
/// Requests answered 4xx, by `source` (`_api` off the webhook routes) and `code`.
pub const CLIENT_ERRORS_TOTAL: &str = "alertgate_client_errors_total";
/// Titles and labels cut to `limits.*`, by `field` (`title`, `label_value`, `labels`).
pub const TRUNCATIONS_TOTAL: &str = "alertgate_truncations_total";
/// Connections open now.
pub const OPEN_CONNECTIONS: &str = "alertgate_open_connections";
/// Times the accept loop reached `limits.max_connections` and paused accepting.
pub const CONNECTION_LIMIT_REACHED_TOTAL: &str = "alertgate_connection_limit_reached_total";
/// Open incidents by `source`, read from the store at each scrape.
pub const OPEN_INCIDENTS: &str = "alertgate_open_incidents";
/// Time of store calls, by `op` (`apply`, `get`, `list`, `ping`, `open_count`, `is_open`,
/// `heartbeat`, `sweep`, `act`, `recent_events`).
pub const STORE_DURATION_SECONDS: &str = "alertgate_store_duration_seconds";
/// Failed store calls, by `kind` (`unavailable`, `corrupt`).
pub const STORE_ERRORS_TOTAL: &str = "alertgate_store_errors_total";
/// Always 1, labelled with the crate `version` (an info metric: the scrape shows
/// `alertgate_build_info{version="…"} 1`).
pub const BUILD_INFO: &str = "alertgate_build_info";
/// Gauge: 1 while the incident store is connected, 0 while not.
pub const STORE_UP: &str = "alertgate_store_up";

/// Every metric family name as a scrape shows it (dashboards and alert rules are
/// checked against this list).
pub const NAMES: &[&str] = &[
    CONFIG_LAST_RELOAD_SUCCESSFUL,
    CONFIG_LAST_RELOAD_SUCCESS_TIMESTAMP,
    CONFIG_RELOADS_TOTAL,
    WEBHOOKS_TOTAL,
    WEBHOOK_DURATION_SECONDS,
    RATE_LIMITED_TOTAL,
    OPEN_LIMIT_REJECTIONS_TOTAL,
    CLIENT_ERRORS_TOTAL,
    TRUNCATIONS_TOTAL,
    OPEN_CONNECTIONS,
    CONNECTION_LIMIT_REACHED_TOTAL,
    OPEN_INCIDENTS,
    STORE_DURATION_SECONDS,
    STORE_ERRORS_TOTAL,
    BUILD_INFO,
    STORE_UP,
    SPOOL_BYTES,
    SPOOL_RECORDS,
    STORE_DEGRADED,
    SPOOL_REPLAYED_TOTAL,
    FLAPPING_TOTAL,
    FLAPPING_FINGERPRINTS,
    AUTO_RESOLVED_TOTAL,
    HEARTBEATS_MISSED_TOTAL,
    super::sinks::NOTIFICATIONS_TOTAL,
    super::sinks::NOTIFICATION_ATTEMPTS_TOTAL,
    super::sinks::SINK_LAG_EVENTS,
    super::sinks::SINK_DEAD_LETTERS,
];

/// Bytes of the spool log on disk (0 without a spool, or when it is empty).
pub const SPOOL_BYTES: &str = "alertgate_spool_bytes";
/// Webhooks queued on the spool, waiting for the store.
pub const SPOOL_RECORDS: &str = "alertgate_spool_records";
/// `1` while webhooks are queued rather than applied, or the store's last call failed
/// (with a spool configured); else `0`.
pub const STORE_DEGRADED: &str = "alertgate_store_degraded";
/// Spooled webhooks taken off the spool, by `result` (`applied` | `dropped`).
pub const SPOOL_REPLAYED_TOTAL: &str = "alertgate_spool_replayed_total";
/// Incidents opened while their fingerprint flapped, by `source` (docs/design.md §4).
pub const FLAPPING_TOTAL: &str = "alertgate_flapping_total";
/// Gauge: fingerprints flapping now (the last sweep's count, every replica's on Redis).
pub const FLAPPING_FINGERPRINTS: &str = "alertgate_flapping_fingerprints";
/// Incidents this process resolved by their `auto_resolve_after` deadline.
pub const AUTO_RESOLVED_TOTAL: &str = "alertgate_auto_resolved_total";
/// Heartbeat incidents this process opened for a silent source, by `source`.
pub const HEARTBEATS_MISSED_TOTAL: &str = "alertgate_heartbeats_missed_total";
