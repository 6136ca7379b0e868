//! The recording verbs of the production limits and of the store calls (docs/design.md
//! §9): rate and open limits, 4xx, truncations, connections, open incidents, store timing
//! and errors.

use std::time::Duration;

use super::labels::{ClientErrorLabels, FieldLabels, KindLabels, OpLabels, SourceOnly};
use super::Metrics;

impl Metrics {
    /// Creates the per-source series of every configured source at zero, so a fresh
    /// scrape lists them (at startup, and at each scrape for sources added by a reload).
    pub fn register_sources<'a>(&self, ids: impl IntoIterator<Item = &'a str>) {
        for id in ids {
            let labels = SourceOnly {
                source: self.source_label(id),
            };
            drop(self.inner.edges.rate_limited.get_or_create(&labels));
            drop(self.inner.edges.open_limited.get_or_create(&labels));
            drop(self.inner.edges.open_incidents.get_or_create(&labels));
        }
    }

    /// A webhook refused by its source's rate limit.
    pub fn rate_limited(&self, source: &str) {
        let labels = SourceOnly {
            source: self.source_label(source),
        };
        self.inner.edges.rate_limited.get_or_create(&labels).inc();
    }

    /// An open refused because its source is at `max_open`.
    pub fn open_limited(&self, source: &str) {
        let labels = SourceOnly {
            source: self.source_label(source),
        };
        self.inner.edges.open_limited.get_or_create(&labels).inc();
    }

    /// A 4xx answer. `source`: a configured id, [`UNKNOWN_SOURCE`] or [`API_SOURCE`].
    pub fn client_error(&self, source: &str, code: &'static str) {
        let labels = ClientErrorLabels {
            source: self.source_label(source),
            code,
        };
        self.inner.edges.client_errors.get_or_create(&labels).inc();
    }

    /// 4xx answers counted so far for (`source`, `code`).
    pub fn client_errors(&self, source: &str, code: &'static str) -> u64 {
        let labels = ClientErrorLabels {
            source: self.source_label(source),
            code,
        };
        self.inner.edges.client_errors.get_or_create(&labels).get()
    }

    /// A title or labels cut to the limits; `field` names which.
    pub fn truncated(&self, field: &'static str) {
        self.inner
            .edges
            .truncations
            .get_or_create(&FieldLabels { field })
            .inc();
    }

    /// A connection opened (`+1`) or closed (`-1`).
    pub fn connection_delta(&self, delta: i64) {
        self.inner.edges.open_connections.inc_by(delta);
    }

    /// The accept loop reached `limits.max_connections`.
    pub fn connection_limit_reached(&self) {
        self.inner.edges.connection_limit_reached.inc();
    }

    /// Sets the open-incident gauge of `source`.
    pub fn set_open_incidents(&self, source: &str, open: u64) {
        let labels = SourceOnly {
            source: self.source_label(source),
        };
        let open = i64::try_from(open).unwrap_or(i64::MAX);
        self.inner
            .edges
            .open_incidents
            .get_or_create(&labels)
            .set(open);
    }

    /// Drops the open-incident gauges (before setting the configured sources' afresh, so
    /// a source removed by a reload leaves no stale series).
    pub fn clear_open_incidents(&self) {
        self.inner.edges.open_incidents.clear();
    }

    /// One store call of kind `op` that took `elapsed`; `error` names its failure kind.
    pub fn store_call(&self, op: &'static str, elapsed: Duration, error: Option<&'static str>) {
        self.inner
            .store_duration
            .get_or_create(&OpLabels { op })
            .observe(elapsed.as_secs_f64());
        if let Some(kind) = error {
            self.inner
                .edges
                .store_errors
                .get_or_create(&KindLabels { kind })
                .inc();
        }
    }
}
