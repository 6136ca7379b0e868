//! `sinks:` and `delivery:` in the config: where incident events are sent (docs/design.md
//! §11). The serde mirrors (`SinkConfig`, `DeliveryConfig`) and the checks that turn them
//! into `SinkSettings` / `DeliverySettings`, every error with its key.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use crate::clock::parse_duration;
use crate::mapping::Template;
use crate::outcome::Priority;
use crate::store::Transition;
use crate::yaml::Errors;

/// Default PagerDuty Events API v2 endpoint.
pub const PAGERDUTY_URL: &str = "https://events.pagerduty.com/v2/enqueue";
pub const DEFAULT_MAX_ATTEMPTS: u32 = 8;
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(3600);
pub const DEFAULT_SINK_TIMEOUT: Duration = Duration::from_secs(10);
pub const DEFAULT_BACKOFF_INITIAL: Duration = Duration::from_secs(1);
pub const DEFAULT_BACKOFF_MAX: Duration = Duration::from_secs(300);
pub const DEFAULT_CLAIM_IDLE: Duration = Duration::from_secs(60);

/// One notification sink as written (`sinks.{id}`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SinkConfig {
    /// `webhook`, `slack` or `pagerduty`.
    #[serde(rename = "type")]
    pub kind: SinkKindConfig,
    /// Where to POST. Required for `webhook` and `slack` (the incoming-webhook URL);
    /// `pagerduty` defaults to `https://events.pagerduty.com/v2/enqueue`.
    #[serde(default)]
    pub url: Option<String>,
    /// Webhook: when set, every request carries `X-Alertgate-Signature: sha256=<hex
    /// HMAC-SHA256 of the body>`. Use `${VAR}`.
    #[serde(default)]
    pub secret: Option<String>,
    /// PagerDuty only (required): the integration's routing key. Use `${VAR}`.
    #[serde(default)]
    pub routing_key: Option<String>,
    /// Only events of these sources. Default: every source.
    #[serde(default)]
    pub sources: Option<Vec<String>>,
    /// Only these transitions (`opened`, `updated`, `resolved`, `flapping_ended`,
    /// `acknowledged`, `noted`). Default: `DEFAULT_TRANSITIONS`.
    #[serde(default)]
    pub transitions: Option<Vec<String>>,
    /// Only incidents at least this urgent; an incident without a priority counts as
    /// `medium`. Default: every priority.
    #[serde(default)]
    pub min_priority: Option<String>,
    /// Attempts per event before it is dead-lettered. Default 8.
    #[serde(default)]
    pub max_attempts: Option<u32>,
    /// An event older than this (since the transition) is dead-lettered after its next
    /// failed attempt. Default `1h`.
    #[serde(default)]
    pub max_age: Option<String>,
    /// Time one HTTP attempt may take. Default `10s`.
    #[serde(default)]
    pub timeout: Option<String>,
    /// First retry delay; doubles per attempt (with jitter) up to `backoff_max`.
    /// Default `1s`.
    #[serde(default)]
    pub backoff_initial: Option<String>,
    /// Longest retry delay (a `Retry-After` may ask for more). Default `5m`.
    #[serde(default)]
    pub backoff_max: Option<String>,
    /// Extra request headers. Use `${VAR}` for secrets.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Webhook only: the body, a `{{ }}` template (the mapping language) over the event as
    /// JSON (`event_id`, `transition`, `at`, `incident.*`). Default: the event as JSON.
    #[serde(default)]
    pub template: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SinkKindConfig {
    Webhook,
    Slack,
    Pagerduty,
}

/// Delivery settings shared by every sink (`delivery:`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryConfig {
    /// Redis: entries another replica took but has not acknowledged for this long are
    /// claimed (`XAUTOCLAIM`) by a live one. Default `60s`.
    #[serde(default)]
    pub claim_idle: Option<String>,
}

/// A webhook body template, compared by its text.
#[derive(Clone)]
pub struct SinkTemplate {
    pub source: String,
    pub compiled: Arc<Template>,
}

impl PartialEq for SinkTemplate {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Eq for SinkTemplate {}

impl fmt::Debug for SinkTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SinkTemplate({:?})", self.source)
    }
}

/// What a sink speaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SinkKind {
    Webhook { template: Option<SinkTemplate> },
    Slack,
    PagerDuty { routing_key: String },
}

impl SinkKind {
    pub fn name(&self) -> &'static str {
        match self {
            SinkKind::Webhook { .. } => "webhook",
            SinkKind::Slack => "slack",
            SinkKind::PagerDuty { .. } => "pagerduty",
        }
    }
}

/// One checked sink.
#[derive(Clone, PartialEq, Eq)]
pub struct SinkSettings {
    pub id: String,
    pub kind: SinkKind,
    pub url: String,
    pub secret: Option<String>,
    pub headers: Vec<(String, String)>,
    /// `None`: every source.
    pub sources: Option<BTreeSet<String>>,
    pub transitions: BTreeSet<&'static str>,
    /// `None`: every priority.
    pub min_priority: Option<Priority>,
    pub max_attempts: u32,
    pub max_age: Duration,
    pub timeout: Duration,
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
}

impl fmt::Debug for SinkSettings {
    // Secrets (the HMAC key, routing keys, headers) never reach a log line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SinkSettings")
            .field("id", &self.id)
            .field("kind", &self.kind.name())
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl SinkSettings {
    /// Whether an event of `source` with this transition and priority goes to this sink.
    pub fn wants(&self, source: &str, transition: Transition, priority: Option<Priority>) -> bool {
        if !self.transitions.contains(transition.as_str()) {
            return false;
        }
        if let Some(sources) = &self.sources {
            if !sources.contains(source) {
                return false;
            }
        }
        match self.min_priority {
            Some(min) => priority.unwrap_or(Priority::Medium) <= min,
            None => true,
        }
    }
}

/// The transitions a sink may list in `transitions:`.
pub const SINK_TRANSITIONS: [&str; 6] = [
    "opened",
    "updated",
    "resolved",
    "flapping_ended",
    "acknowledged",
    "noted",
];

/// The transitions a sink gets when it lists none: what the incident does by itself.
/// People's acts (`acknowledged`, `noted`) only when listed.
pub const DEFAULT_TRANSITIONS: [&str; 4] = ["opened", "updated", "resolved", "flapping_ended"];

/// Checked `delivery:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliverySettings {
    pub claim_idle: Duration,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        DeliverySettings {
            claim_idle: DEFAULT_CLAIM_IDLE,
        }
    }
}

fn duration(
    errors: &mut Errors<'_>,
    path: &str,
    text: Option<&String>,
    default: Duration,
) -> Duration {
    match text {
        None => default,
        Some(text) => match parse_duration(text) {
            Some(d) if !d.is_zero() => d,
            _ => {
                errors.push(
                    path,
                    format!("invalid duration {text:?}: expected a positive number with ms, s, m, h or d, like 10s"),
                );
                default
            }
        },
    }
}

pub(crate) fn check_delivery(raw: &DeliveryConfig, errors: &mut Errors<'_>) -> DeliverySettings {
    DeliverySettings {
        claim_idle: duration(
            errors,
            "delivery.claim_idle",
            raw.claim_idle.as_ref(),
            DEFAULT_CLAIM_IDLE,
        ),
    }
}

/// Checks every sink; a sink with an error is left out (the errors fail the build).
pub(crate) fn check_sinks(
    raw: &BTreeMap<String, SinkConfig>,
    errors: &mut Errors<'_>,
) -> BTreeMap<String, Arc<SinkSettings>> {
    let mut out = BTreeMap::new();
    for (id, sink) in raw {
        let before = errors.list.len();
        let settings = check_sink(id, sink, errors);
        if errors.list.len() == before {
            out.insert(id.clone(), Arc::new(settings));
        }
    }
    out
}

fn check_sink(id: &str, sink: &SinkConfig, errors: &mut Errors<'_>) -> SinkSettings {
    let path = format!("sinks.{id}");
    if id.is_empty()
        || !id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
    {
        errors.push(
            path.clone(),
            format!("invalid sink id {id:?}: use lower-case letters, digits, _ and -"),
        );
    }
    let url = match (sink.kind, &sink.url) {
        (_, Some(url)) => url.clone(),
        (SinkKindConfig::Pagerduty, None) => PAGERDUTY_URL.to_owned(),
        (_, None) => {
            errors.push(format!("{path}.url"), "required for this sink type");
            String::new()
        }
    };
    if !(url.is_empty() || url.starts_with("http://") || url.starts_with("https://")) {
        errors.push(format!("{path}.url"), "expected an http:// or https:// url");
    }
    if sink.template.is_some() && sink.kind != SinkKindConfig::Webhook {
        errors.push(
            format!("{path}.template"),
            "only a webhook sink takes a template",
        );
    }
    if sink.routing_key.is_some() && sink.kind != SinkKindConfig::Pagerduty {
        errors.push(
            format!("{path}.routing_key"),
            "only a pagerduty sink takes it",
        );
    }
    let kind = match sink.kind {
        SinkKindConfig::Webhook => {
            let template = sink
                .template
                .as_ref()
                .and_then(|text| match Template::parse(text) {
                    Ok(t) => Some(SinkTemplate {
                        source: text.clone(),
                        compiled: Arc::new(t),
                    }),
                    Err(e) => {
                        errors.push(format!("{path}.template"), e.to_string());
                        None
                    }
                });
            SinkKind::Webhook { template }
        }
        SinkKindConfig::Slack => SinkKind::Slack,
        SinkKindConfig::Pagerduty => {
            let routing_key = sink.routing_key.clone().unwrap_or_default();
            if routing_key.is_empty() {
                errors.push(format!("{path}.routing_key"), "a pagerduty sink needs one");
            }
            SinkKind::PagerDuty { routing_key }
        }
    };
    let mut transitions = BTreeSet::new();
    match &sink.transitions {
        None => transitions.extend(DEFAULT_TRANSITIONS),
        Some(list) => {
            for (i, t) in list.iter().enumerate() {
                let place = format!("{path}.transitions[{i}]");
                match SINK_TRANSITIONS.iter().find(|known| **known == t.as_str()) {
                    None => errors.push(
                        place,
                        format!(
                            "unknown transition {t:?}: expected one of {}",
                            SINK_TRANSITIONS.join(", ")
                        ),
                    ),
                    Some(&"noted") if matches!(kind, SinkKind::PagerDuty { .. }) => errors.push(
                        place,
                        "PagerDuty has no event for a note: list noted on a webhook or slack sink",
                    ),
                    Some(known) => {
                        transitions.insert(*known);
                    }
                }
            }
        }
    }
    let min_priority = sink.min_priority.as_ref().and_then(|p| {
        let parsed = Priority::parse(p);
        if parsed.is_none() {
            errors.push(
                format!("{path}.min_priority"),
                format!("unknown priority {p:?}: expected critical, high, medium or low"),
            );
        }
        parsed
    });
    let max_attempts = sink.max_attempts.unwrap_or(DEFAULT_MAX_ATTEMPTS);
    if max_attempts == 0 {
        errors.push(format!("{path}.max_attempts"), "must be at least 1");
    }
    let mut headers = Vec::new();
    for (name, value) in &sink.headers {
        if http::HeaderName::from_bytes(name.as_bytes()).is_err()
            || http::HeaderValue::from_str(value).is_err()
        {
            errors.push(format!("{path}.headers.{name}"), "not a valid HTTP header");
        }
        headers.push((name.clone(), value.clone()));
    }
    SinkSettings {
        id: id.to_owned(),
        kind,
        url,
        secret: sink.secret.clone().filter(|s| !s.is_empty()),
        headers,
        sources: sink.sources.as_ref().map(|s| s.iter().cloned().collect()),
        transitions,
        min_priority,
        max_attempts,
        max_age: duration(
            errors,
            &format!("{path}.max_age"),
            sink.max_age.as_ref(),
            DEFAULT_MAX_AGE,
        ),
        timeout: duration(
            errors,
            &format!("{path}.timeout"),
            sink.timeout.as_ref(),
            DEFAULT_SINK_TIMEOUT,
        ),
        backoff_initial: duration(
            errors,
            &format!("{path}.backoff_initial"),
            sink.backoff_initial.as_ref(),
            DEFAULT_BACKOFF_INITIAL,
        ),
        backoff_max: duration(
            errors,
            &format!("{path}.backoff_max"),
            sink.backoff_max.as_ref(),
            DEFAULT_BACKOFF_MAX,
        ),
    }
}
