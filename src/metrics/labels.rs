//! The label sets of the metrics and the families of the production limits: plain
//! types the registry in `metrics` is built from.

use std::sync::Arc;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};

/// A reload's result, the `result` label of `alertgate_config_reloads_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReloadResult {
    Success,
    Failure,
}

impl ReloadResult {
    pub fn as_str(self) -> &'static str {
        match self {
            ReloadResult::Success => "success",
            ReloadResult::Failure => "failure",
        }
    }
}

impl EncodeLabelValue for ReloadResult {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        EncodeLabelValue::encode(&self.as_str(), encoder)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(super) struct ReloadLabels {
    pub(super) result: ReloadResult,
}

/// A `source` label value: an interned `Arc<str>`, so recording clones a reference
/// count instead of allocating a string.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct SourceLabel(pub(super) Arc<str>);

impl EncodeLabelValue for SourceLabel {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        EncodeLabelValue::encode(&&*self.0, encoder)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(super) struct WebhookLabels {
    pub(super) source: SourceLabel,
    pub(super) transition: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(super) struct SourceOnly {
    pub(super) source: SourceLabel,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(super) struct ClientErrorLabels {
    pub(super) source: SourceLabel,
    pub(super) code: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(super) struct FieldLabels {
    pub(super) field: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(super) struct OpLabels {
    pub(super) op: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(super) struct ReplayLabels {
    pub(super) result: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(super) struct KindLabels {
    pub(super) kind: &'static str,
}

pub(super) type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

pub(super) fn store_histogram() -> Histogram {
    // 0.1 ms … ~2.6 s: a memory step is microseconds, a Redis call a round trip or a timeout.
    Histogram::new(exponential_buckets(0.0001, 3.0, 10))
}

/// The counters and gauges of the production limits (docs/design.md §9).
#[derive(Debug, Default)]
pub(super) struct Edges {
    pub(super) rate_limited: Family<SourceOnly, Counter>,
    pub(super) open_limited: Family<SourceOnly, Counter>,
    pub(super) client_errors: Family<ClientErrorLabels, Counter>,
    pub(super) truncations: Family<FieldLabels, Counter>,
    pub(super) open_connections: Gauge,
    pub(super) connection_limit_reached: Counter,
    pub(super) open_incidents: Family<SourceOnly, Gauge>,
    pub(super) store_errors: Family<KindLabels, Counter>,
}
