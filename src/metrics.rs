//! Prometheus metrics: one registry, named events, text encoding.
//!
//! Owns the metric names (constants in `names`, re-exported here), their help texts and the recording verbs the
//! reloader and the webhook handler call. It does not serve `/metrics` (the server does,
//! with [`Metrics::encode`] and [`CONTENT_TYPE`]) and it does not decide what a request's
//! outcome was (the handler passes it in).
//!
//! Recording is cheap: counters and gauges are atomics; a labelled counter costs one hash
//! lookup under a read lock. Label values are `&'static str` or a source id interned on
//! first use, so after warm-up the hot path allocates nothing.

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

mod edges;
mod labels;
mod names;
mod sinks;

use self::sinks::SinkFamilies;
pub use self::sinks::{
    NOTIFICATIONS_TOTAL, NOTIFICATION_ATTEMPTS_TOTAL, SINK_DEAD_LETTERS, SINK_LAG_EVENTS,
};

pub use self::labels::ReloadResult;
use self::labels::{
    store_histogram, Edges, HistogramFamily, KindLabels, OpLabels, ReloadLabels, ReplayLabels,
    SourceLabel, SourceOnly, WebhookLabels,
};
pub use self::names::{
    AUTO_RESOLVED_TOTAL, BUILD_INFO, CLIENT_ERRORS_TOTAL, CONFIG_LAST_RELOAD_SUCCESSFUL,
    CONFIG_LAST_RELOAD_SUCCESS_TIMESTAMP, CONFIG_RELOADS_TOTAL, CONNECTION_LIMIT_REACHED_TOTAL,
    FLAPPING_FINGERPRINTS, FLAPPING_TOTAL, HEARTBEATS_MISSED_TOTAL, NAMES, OPEN_CONNECTIONS,
    OPEN_INCIDENTS, OPEN_LIMIT_REJECTIONS_TOTAL, RATE_LIMITED_TOTAL, SPOOL_BYTES, SPOOL_RECORDS,
    SPOOL_REPLAYED_TOTAL, STORE_DEGRADED, STORE_DURATION_SECONDS, STORE_ERRORS_TOTAL, STORE_UP,
    TRUNCATIONS_TOTAL, WEBHOOKS_TOTAL, WEBHOOK_DURATION_SECONDS,
};

/// The `source` label of client errors off the webhook routes (admin API, probes).
pub const API_SOURCE: &str = "_api";

/// The `Content-Type` of [`Metrics::encode`]'s output: prometheus-client writes the
/// OpenMetrics text format (`# EOF`, counters typed without `_total`), which Prometheus
/// scrapes natively; labelling it `text/plain; version=0.0.4` would mislead strict parsers.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The `source` label used for requests to a source the config does not define: a
/// scanner must not be able to create one time series per URL it tries.
pub const UNKNOWN_SOURCE: &str = "_unknown";

/// How one webhook ended, the `transition` label of [`WEBHOOKS_TOTAL`].
///
/// A webhook the store applied carries its store transition's name (`opened`, `updated`,
/// `resolved`, `already_resolved`, `stale`, `ignored`: `Transition::as_str`). One that
/// never reached the store is [`REJECTED`] when the caller is at fault (any 4xx: bad
/// token, bad body, a payload the mapping cannot evaluate) and [`ERROR`] when we are (any
/// 5xx, store unavailable included). A `&'static str` so recording allocates nothing and
/// this module does not depend on the store's types.
pub type WebhookOutcome = &'static str;

/// The `transition` label of a webhook refused with a 4xx.
pub const REJECTED: WebhookOutcome = "rejected";
/// The `transition` label of a webhook that failed with a 5xx.
pub const ERROR: WebhookOutcome = "error";

/// The `transition` label of a response that did not come from the store.
pub fn outcome_for_status(status: u16) -> WebhookOutcome {
    if (400..500).contains(&status) {
        REJECTED
    } else {
        ERROR
    }
}

/// The process's metrics: a cheap-clone handle over one registry.
#[derive(Debug, Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    registry: Registry,
    reload_successful: Gauge,
    reload_success_timestamp: Gauge<f64, AtomicU64>,
    reloads: Family<ReloadLabels, Counter>,
    webhooks: Family<WebhookLabels, Counter>,
    webhook_duration: Histogram,
    edges: Edges,
    store_duration: HistogramFamily<OpLabels>,
    /// The delivery task's metrics (`sinks.rs`).
    sinks: SinkFamilies,
    spool_bytes: Gauge,
    spool_records: Gauge,
    store_degraded: Gauge,
    spool_replayed: Family<ReplayLabels, Counter>,
    /// `alertgate_store_up`: set from the store's state at each scrape.
    store_up: Gauge,
    /// The lifecycle sweep's and flapping's metrics.
    flapping: Family<SourceOnly, Counter>,
    flapping_now: Gauge,
    auto_resolved: Counter,
    heartbeats_missed: Family<SourceOnly, Counter>,
    /// Source ids seen so far. Bounded by the configured sources: callers pass
    /// [`UNKNOWN_SOURCE`] for anything else. A std lock: held for one map operation.
    sources: RwLock<HashMap<Box<str>, SourceLabel>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A registry holding every alertgate metric, all at zero.
    pub fn new() -> Self {
        let reload_successful = Gauge::default();
        let reload_success_timestamp = Gauge::<f64, AtomicU64>::default();
        let reloads = Family::<ReloadLabels, Counter>::default();
        let webhooks = Family::<WebhookLabels, Counter>::default();
        // 0.5 ms … ~1.9 s: a webhook is a decode, a table lookup and one store round trip.
        let webhook_duration = Histogram::new(exponential_buckets(0.0005, 2.5, 10));

        let mut registry = Registry::default();
        let store_up = Gauge::default();
        registry.register(
            STORE_UP,
            "Whether the incident store is connected (1) or not (0); memory is always 1",
            store_up.clone(),
        );
        registry.register(
            CONFIG_LAST_RELOAD_SUCCESSFUL,
            "Whether the last configuration reload attempt succeeded (1) or failed (0)",
            reload_successful.clone(),
        );
        registry.register(
            CONFIG_LAST_RELOAD_SUCCESS_TIMESTAMP,
            "Unix time of the last successful configuration reload",
            reload_success_timestamp.clone(),
        );
        // prometheus-client appends `_total` to counters itself.
        registry.register(
            counter_base(CONFIG_RELOADS_TOTAL),
            "Configuration reload attempts by result",
            reloads.clone(),
        );
        registry.register(
            counter_base(WEBHOOKS_TOTAL),
            "Webhook events handled by source and transition, each element of a fan-out \
             payload counted (rejected = 4xx, error = 5xx)",
            webhooks.clone(),
        );
        registry.register(
            WEBHOOK_DURATION_SECONDS,
            "Time to handle a webhook, in seconds",
            webhook_duration.clone(),
        );
        let sinks = SinkFamilies::register(&mut registry);
        let spool_bytes = Gauge::default();
        let spool_records = Gauge::default();
        let store_degraded = Gauge::default();
        let spool_replayed = Family::<ReplayLabels, Counter>::default();
        registry.register(
            SPOOL_BYTES,
            "Bytes of the spool log on disk",
            spool_bytes.clone(),
        );
        registry.register(
            SPOOL_RECORDS,
            "Webhooks queued on the spool, waiting for the store",
            spool_records.clone(),
        );
        registry.register(
            STORE_DEGRADED,
            "Whether webhooks are being queued on the spool instead of applied (1) or not (0)",
            store_degraded.clone(),
        );
        registry.register(
            counter_base(SPOOL_REPLAYED_TOTAL),
            "Spooled webhooks taken off the spool by result (applied, dropped)",
            spool_replayed.clone(),
        );
        for result in ["applied", "dropped"] {
            drop(spool_replayed.get_or_create(&ReplayLabels { result }));
        }
        let flapping = Family::<SourceOnly, Counter>::default();
        let flapping_now = Gauge::default();
        let auto_resolved = Counter::default();
        let heartbeats_missed = Family::<SourceOnly, Counter>::default();
        registry.register(
            counter_base(FLAPPING_TOTAL),
            "Incidents opened while their fingerprint flapped (notifications held back)",
            flapping.clone(),
        );
        registry.register(
            FLAPPING_FINGERPRINTS,
            "Fingerprints flapping at the last sweep",
            flapping_now.clone(),
        );
        registry.register(
            counter_base(AUTO_RESOLVED_TOTAL),
            "Incidents resolved by their auto_resolve_after deadline (by this process)",
            auto_resolved.clone(),
        );
        registry.register(
            counter_base(HEARTBEATS_MISSED_TOTAL),
            "Heartbeat incidents opened for a silent source (by this process)",
            heartbeats_missed.clone(),
        );
        // Both results present from the start, so `rate()` sees the first failure.
        for result in [ReloadResult::Success, ReloadResult::Failure] {
            drop(reloads.get_or_create(&ReloadLabels { result }));
        }
        let edges = Edges::default();
        let store_duration: HistogramFamily<OpLabels> =
            Family::new_with_constructor(store_histogram);
        register_edges(&mut registry, &edges, &store_duration);

        Metrics {
            inner: Arc::new(Inner {
                registry,
                reload_successful,
                reload_success_timestamp,
                reloads,
                webhooks,
                webhook_duration,
                edges,
                store_duration,
                sinks,
                spool_bytes,
                spool_records,
                store_degraded,
                spool_replayed,
                store_up,
                flapping,
                flapping_now,
                auto_resolved,
                heartbeats_missed,
                sources: RwLock::default(),
            }),
        }
    }

    /// Records a successful (re)load at Unix time `at_seconds`.
    pub fn reload_succeeded(&self, at_seconds: f64) {
        self.inner.reload_successful.set(1);
        self.inner.reload_success_timestamp.set(at_seconds);
        self.count_reload(ReloadResult::Success);
    }

    /// Records a failed reload: the old config keeps serving.
    pub fn reload_failed(&self) {
        self.inner.reload_successful.set(0);
        self.count_reload(ReloadResult::Failure);
    }

    fn count_reload(&self, result: ReloadResult) {
        self.inner
            .reloads
            .get_or_create(&ReloadLabels { result })
            .inc();
    }

    /// Reload attempts so far with this result.
    pub fn reloads(&self, result: ReloadResult) -> u64 {
        self.inner
            .reloads
            .get_or_create(&ReloadLabels { result })
            .get()
    }

    /// Whether the last reload succeeded.
    pub fn last_reload_successful(&self) -> bool {
        self.inner.reload_successful.get() == 1
    }

    /// Records one handled webhook. Pass [`UNKNOWN_SOURCE`] for a source the config does
    /// not define: every distinct `source` is a time series kept for the process's life.
    pub fn record_webhook(&self, source: &str, outcome: WebhookOutcome, elapsed: Duration) {
        let labels = WebhookLabels {
            source: self.source_label(source),
            transition: outcome,
        };
        self.inner.webhooks.get_or_create(&labels).inc();
        self.inner.webhook_duration.observe(elapsed.as_secs_f64());
    }

    /// Records one fan-out request: each element's outcome in [`WEBHOOKS_TOTAL`] (an
    /// empty list counts nothing there), the request once in the duration histogram.
    pub fn record_webhook_items(
        &self,
        source: &str,
        outcomes: &[WebhookOutcome],
        elapsed: Duration,
    ) {
        let label = self.source_label(source);
        for outcome in outcomes {
            self.inner
                .webhooks
                .get_or_create(&WebhookLabels {
                    source: label.clone(),
                    transition: outcome,
                })
                .inc();
        }
        self.inner.webhook_duration.observe(elapsed.as_secs_f64());
    }

    fn source_label(&self, source: &str) -> SourceLabel {
        let known = self
            .inner
            .sources
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(source)
            .cloned();
        known.unwrap_or_else(|| {
            self.inner
                .sources
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .entry(source.into())
                .or_insert_with(|| SourceLabel(Arc::from(source)))
                .clone()
        })
    }

    /// Webhooks counted so far for `source` with `outcome`.
    pub fn webhooks(&self, source: &str, outcome: WebhookOutcome) -> u64 {
        let labels = WebhookLabels {
            source: self.source_label(source),
            transition: outcome,
        };
        self.inner.webhooks.get_or_create(&labels).get()
    }

    /// Counts one event a sink finished with (`delivered`, `dead_lettered`, `filtered`).
    pub fn record_notification(&self, sink: &str, result: &'static str) {
        self.inner.sinks.record(sink, result);
    }

    /// Events `sink` finished with this result so far.
    pub fn notifications(&self, sink: &str, result: &'static str) -> u64 {
        self.inner.sinks.count(sink, result)
    }

    pub fn record_notification_attempt(&self, sink: &str) {
        self.inner.sinks.attempt(sink);
    }

    pub fn set_sink_backlog(&self, sink: &str, lag: u64, dead: u64) {
        self.inner.sinks.backlog(sink, lag, dead);
    }

    /// Drops a removed sink's series.
    pub fn forget_sink(&self, sink: &str) {
        self.inner.sinks.forget(sink);
    }

    /// Records the spool's size, its queued webhooks and whether the store is degraded.
    pub fn set_spool(&self, bytes: u64, records: u64, degraded: bool) {
        self.inner
            .spool_bytes
            .set(i64::try_from(bytes).unwrap_or(i64::MAX));
        self.inner
            .spool_records
            .set(i64::try_from(records).unwrap_or(i64::MAX));
        self.inner.store_degraded.set(i64::from(degraded));
    }

    /// Counts one webhook taken off the spool: applied, or dropped as refused.
    pub fn spool_replayed(&self, applied: bool) {
        let result = if applied { "applied" } else { "dropped" };
        self.inner
            .spool_replayed
            .get_or_create(&ReplayLabels { result })
            .inc();
    }

    /// Counts an incident of `source` opened while its fingerprint flapped.
    pub fn record_flapping_open(&self, source: &str) {
        let labels = SourceOnly {
            source: self.source_label(source),
        };
        self.inner.flapping.get_or_create(&labels).inc();
    }

    /// Records one lifecycle sweep: auto-resolves, heartbeat opens by source, and the
    /// fingerprints flapping after it.
    pub fn record_sweep(&self, auto_resolved: u64, heartbeats: &[String], flapping_now: u64) {
        self.inner.auto_resolved.inc_by(auto_resolved);
        for source in heartbeats {
            let labels = SourceOnly {
                source: self.source_label(source),
            };
            self.inner.heartbeats_missed.get_or_create(&labels).inc();
        }
        self.inner
            .flapping_now
            .set(i64::try_from(flapping_now).unwrap_or(i64::MAX));
    }

    /// Sets `alertgate_store_up`.
    pub fn set_store_up(&self, up: bool) {
        self.inner.store_up.set(i64::from(up));
    }

    /// Every metric in the Prometheus text exposition format ([`CONTENT_TYPE`]).
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail; an encoder error would be a bug in a metric,
        // logged rather than allowed to take the scrape (or the process) down.
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.inner.registry) {
            tracing::error!(error = %e, "metrics encoding failed");
        }
        out
    }
}

fn counter_base(name: &'static str) -> &'static str {
    name.strip_suffix("_total").unwrap_or(name)
}

fn register_edges(registry: &mut Registry, e: &Edges, store_duration: &HistogramFamily<OpLabels>) {
    let r = registry;
    r.register(
        counter_base(RATE_LIMITED_TOTAL),
        "Webhooks refused by their source's rate limit (429)",
        e.rate_limited.clone(),
    );
    r.register(
        counter_base(OPEN_LIMIT_REJECTIONS_TOTAL),
        "Opens refused because the source had max_open incidents open (429)",
        e.open_limited.clone(),
    );
    r.register(
        counter_base(CLIENT_ERRORS_TOTAL),
        "Requests answered with a 4xx, by source and error code",
        e.client_errors.clone(),
    );
    r.register(
        counter_base(TRUNCATIONS_TOTAL),
        "Titles and labels cut to the configured limits, by field",
        e.truncations.clone(),
    );
    r.register(
        counter_base(CONNECTION_LIMIT_REACHED_TOTAL),
        "Times the server reached limits.max_connections and paused accepting",
        e.connection_limit_reached.clone(),
    );
    r.register(
        counter_base(STORE_ERRORS_TOTAL),
        "Failed store calls by kind",
        e.store_errors.clone(),
    );
    r.register(
        OPEN_CONNECTIONS,
        "Connections open now",
        e.open_connections.clone(),
    );
    r.register(
        OPEN_INCIDENTS,
        "Open incidents by source, read from the store at each scrape",
        e.open_incidents.clone(),
    );
    r.register(
        STORE_DURATION_SECONDS,
        "Time of store calls by operation, in seconds",
        store_duration.clone(),
    );
    r.register(
        BUILD_INFO.strip_suffix("_info").unwrap_or(BUILD_INFO),
        "The running build",
        Info::new(vec![("version", env!("CARGO_PKG_VERSION"))]),
    );
    for kind in ["unavailable", "corrupt"] {
        drop(e.store_errors.get_or_create(&KindLabels { kind }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text_of(m: &Metrics) -> String {
        m.encode()
    }

    #[test]
    fn text_output_names_every_metric() {
        let m = Metrics::new();
        m.reload_succeeded(1_700_000_000.5);
        m.record_webhook("statuscake", "opened", Duration::from_millis(3));
        let text = m.encode();
        m.register_sources(["statuscake"]);
        m.store_call("apply", Duration::from_millis(1), Some("unavailable"));
        for name in NAMES {
            let family = counter_base(name);
            let family = if *name == BUILD_INFO {
                "alertgate_build"
            } else {
                family
            };
            assert!(
                text_of(&m).contains(&format!("# TYPE {family} ")),
                "{name}\n{text}"
            );
        }
        let text = m.encode();
        assert!(text.contains(&format!(
            "alertgate_build_info{{version=\"{}\"}} 1\n",
            env!("CARGO_PKG_VERSION")
        )));
        assert!(text.contains("alertgate_rate_limited_total{source=\"statuscake\"} 0\n"));
        assert!(text.contains("alertgate_open_incidents{source=\"statuscake\"} 0\n"));
        assert!(text.contains("alertgate_store_errors_total{kind=\"unavailable\"} 1\n"));
        assert!(text.contains("alertgate_store_duration_seconds_count{op=\"apply\"} 1\n"));
        assert!(
            text.contains("alertgate_config_last_reload_successful 1\n"),
            "{text}"
        );
        assert!(text.contains("alertgate_config_reloads_total{result=\"success\"} 1\n"));
        assert!(text.contains("alertgate_config_reloads_total{result=\"failure\"} 0\n"));
        assert!(text
            .contains("alertgate_webhooks_total{source=\"statuscake\",transition=\"opened\"} 1\n"));
        assert!(text.contains("alertgate_webhook_duration_seconds_count 1\n"));
        assert!(text.ends_with("# EOF\n"));
    }

    #[test]
    fn failed_reload_sets_gauge_to_zero_and_keeps_success_timestamp() {
        let m = Metrics::new();
        m.reload_succeeded(42.0);
        m.reload_failed();
        let text = m.encode();
        assert!(
            text.contains("alertgate_config_last_reload_successful 0\n"),
            "{text}"
        );
        assert!(text.contains("alertgate_config_last_reload_success_timestamp_seconds 42.0\n"));
        assert_eq!(m.reloads(ReloadResult::Failure), 1);
        assert!(!m.last_reload_successful());
    }

    #[test]
    fn non_store_outcomes_are_rejected_or_error_by_status() {
        let m = Metrics::new();
        let src = "statuspage";
        m.record_webhook(src, outcome_for_status(401), Duration::ZERO);
        m.record_webhook(src, outcome_for_status(503), Duration::ZERO);
        let text = m.encode();
        assert!(text.contains("source=\"statuspage\",transition=\"rejected\"} 1\n"));
        assert!(text.contains("source=\"statuspage\",transition=\"error\"} 1\n"));
    }
}
