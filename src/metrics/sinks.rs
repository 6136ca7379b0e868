//! The delivery task's metrics: events handled and HTTP attempts per sink, each sink's
//! lag and dead letters (recorded through `Metrics`).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// Events handled per sink, by `result` (`delivered`, `dead_lettered`, `filtered`).
pub const NOTIFICATIONS_TOTAL: &str = "alertgate_notifications_total";
/// HTTP attempts per sink (first tries and retries).
pub const NOTIFICATION_ATTEMPTS_TOTAL: &str = "alertgate_notification_attempts_total";
/// Events of the stream a sink has not taken yet.
pub const SINK_LAG_EVENTS: &str = "alertgate_sink_lag_events";
/// Events in a sink's dead-letter stream.
pub const SINK_DEAD_LETTERS: &str = "alertgate_sink_dead_letters";

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct SinkResultLabels {
    sink: String,
    result: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct SinkLabels {
    sink: String,
}

/// The per-sink families, registered once.
#[derive(Debug)]
pub(super) struct SinkFamilies {
    notifications: Family<SinkResultLabels, Counter>,
    notification_attempts: Family<SinkLabels, Counter>,
    sink_lag: Family<SinkLabels, Gauge>,
    sink_dead: Family<SinkLabels, Gauge>,
}

impl SinkFamilies {
    pub(super) fn register(registry: &mut Registry) -> SinkFamilies {
        let families = SinkFamilies {
            notifications: Family::default(),
            notification_attempts: Family::default(),
            sink_lag: Family::default(),
            sink_dead: Family::default(),
        };
        // prometheus-client appends `_total` to counters itself (the names above).
        registry.register(
            "alertgate_notifications",
            "Incident events handled per sink by result (delivered, dead_lettered, filtered)",
            families.notifications.clone(),
        );
        registry.register(
            "alertgate_notification_attempts",
            "HTTP attempts per sink, retries included",
            families.notification_attempts.clone(),
        );
        registry.register(
            SINK_LAG_EVENTS,
            "Events a sink has not taken from the stream yet",
            families.sink_lag.clone(),
        );
        registry.register(
            SINK_DEAD_LETTERS,
            "Events in a sink's dead-letter stream",
            families.sink_dead.clone(),
        );
        families
    }
}

impl SinkFamilies {
    pub(super) fn record(&self, sink: &str, result: &'static str) {
        let labels = SinkResultLabels {
            sink: sink.to_owned(),
            result,
        };
        self.notifications.get_or_create(&labels).inc();
    }

    pub(super) fn count(&self, sink: &str, result: &'static str) -> u64 {
        let labels = SinkResultLabels {
            sink: sink.to_owned(),
            result,
        };
        self.notifications.get_or_create(&labels).get()
    }

    pub(super) fn attempt(&self, sink: &str) {
        let labels = SinkLabels {
            sink: sink.to_owned(),
        };
        self.notification_attempts.get_or_create(&labels).inc();
    }

    pub(super) fn backlog(&self, sink: &str, lag: u64, dead: u64) {
        let labels = SinkLabels {
            sink: sink.to_owned(),
        };
        self.sink_lag
            .get_or_create(&labels)
            .set(i64::try_from(lag).unwrap_or(i64::MAX));
        self.sink_dead
            .get_or_create(&labels)
            .set(i64::try_from(dead).unwrap_or(i64::MAX));
    }

    pub(super) fn forget(&self, sink: &str) {
        let labels = SinkLabels {
            sink: sink.to_owned(),
        };
        self.sink_lag.remove(&labels);
        self.sink_dead.remove(&labels);
    }
}
