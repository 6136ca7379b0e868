//! The decision types every layer shares: `Action`, `Priority`, `Outcome`, `Labels` and
//! `Rejection`. `engine` produces them, `mapping` names them in its tables, `store`
//! applies them, `server` answers with them. This module depends on nothing of the crate.

use std::collections::BTreeMap;
use std::fmt;

use std::sync::Arc;

use jmespath::Rcvar;
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
use serde_json::value::RawValue;

/// What an outcome asks of the incident store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Open,
    Resolve,
    Ignore,
}

impl Action {
    pub const NAMES: &'static [&'static str] = &["open", "resolve", "ignore"];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Open => "open",
            Action::Resolve => "resolve",
            Action::Ignore => "ignore",
        }
    }

    pub fn parse(s: &str) -> Option<Action> {
        match s {
            "open" => Some(Action::Open),
            "resolve" => Some(Action::Resolve),
            "ignore" => Some(Action::Ignore),
            _ => None,
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Incident priority, shown as Critical/High/Medium/Low; `critical` is the most urgent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Critical,
    High,
    Medium,
    Low,
}

impl Priority {
    pub const NAMES: &'static [&'static str] = &["critical", "high", "medium", "low"];

    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Critical => "critical",
            Priority::High => "high",
            Priority::Medium => "medium",
            Priority::Low => "low",
        }
    }

    pub fn parse(s: &str) -> Option<Priority> {
        match s {
            "critical" => Some(Priority::Critical),
            "high" => Some(Priority::High),
            "medium" => Some(Priority::Medium),
            "low" => Some(Priority::Low),
            _ => None,
        }
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The decision for one payload.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    pub action: Action,
    /// Set for `open` and `resolve`; may be absent for `ignore`.
    pub fingerprint: Option<String>,
    pub priority: Option<Priority>,
    pub title: Option<String>,
    pub labels: Labels,
    /// The payload's own time of the event (Unix ms), when the mapping names one.
    pub event_time: Option<i64>,
    /// The name of the rule that decided; `None` when no rule matched.
    pub rule: Option<String>,
    /// Why the payload is ignored; `None` unless `action` is `ignore`.
    pub reason: Option<String>,
    /// An open incident that gets no event for this long (ms) resolves itself
    /// (docs/design.md §4): the rule's `auto_resolve_after`, else the source's (the
    /// gateway fills the latter in before the store step). `None`: never.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_resolve_after_ms: Option<u64>,
    /// The source's flapping policy, filled in by the gateway before the store step.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flapping: Option<FlapPolicy>,
}

/// `sources.<id>.flapping`: the `opens`-th open of one fingerprint within `within_ms`
/// (inclusive) and every later one carry `flapping: true` until a whole window passes
/// with no open (docs/design.md §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct FlapPolicy {
    pub opens: u32,
    pub within_ms: u64,
}

/// `sources.<id>.heartbeat`: a source silent for `every_ms` gets an incident of its own
/// (fingerprint `heartbeat`, this priority), resolved by its next request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct HeartbeatPolicy {
    pub every_ms: u64,
    pub priority: Priority,
}

/// The fingerprint of a source's heartbeat incident.
pub const HEARTBEAT_FINGERPRINT: &str = "heartbeat";

impl Outcome {
    /// An `ignore` decision with a reason and nothing else.
    pub fn ignore(rule: Option<String>, reason: String) -> Outcome {
        Outcome {
            action: Action::Ignore,
            fingerprint: None,
            priority: None,
            title: None,
            labels: Labels::default(),
            event_time: None,
            rule,
            reason: Some(reason),
            auto_resolve_after_ms: None,
            flapping: None,
        }
    }
}

/// Labels as one JSON object text: the form both stores keep and the API shows, built
/// straight from the payload's values and never parsed on the webhook path. The text is
/// known to be JSON once built, so serialising it writes it as it is, unparsed. Cloning
/// shares the text.
#[derive(Debug, Clone, Default)]
pub struct Labels {
    /// `None` when there are no labels.
    json: Option<Arc<RawValue>>,
}

impl PartialEq for Labels {
    fn eq(&self, other: &Labels) -> bool {
        self.as_json() == other.as_json()
    }
}

impl Eq for Labels {}

impl Labels {
    /// Serialises `(name, value)` pairs, in order, as a JSON object.
    pub fn from_values(values: &[(&str, Rcvar)]) -> Result<Labels, String> {
        if values.is_empty() {
            return Ok(Labels::default());
        }
        struct Pairs<'a>(&'a [(&'a str, Rcvar)]);
        impl Serialize for Pairs<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut map = s.serialize_map(Some(self.0.len()))?;
                for (name, value) in self.0 {
                    map.serialize_entry(name, &**value)?;
                }
                map.end()
            }
        }
        // `to_raw_value` keeps the text it wrote without parsing it again.
        serde_json::value::to_raw_value(&Pairs(values))
            .map(|json| Labels {
                json: Some(json.into()),
            })
            .map_err(|e| e.to_string())
    }

    /// Labels from stored JSON text; errors unless it is a JSON object.
    pub fn from_json(text: &str) -> Result<Labels, String> {
        let trimmed = text.trim();
        if !trimmed.starts_with('{') {
            return Err("labels are not a JSON object".into());
        }
        if trimmed == "{}" {
            return Ok(Labels::default());
        }
        let raw = serde_json::from_str::<Box<RawValue>>(trimmed).map_err(|e| e.to_string())?;
        Ok(Labels {
            json: Some(raw.into()),
        })
    }

    /// Labels from a map (tests, tools).
    pub fn from_map(map: &BTreeMap<String, serde_json::Value>) -> Labels {
        if map.is_empty() {
            return Labels::default();
        }
        Labels {
            json: serde_json::value::to_raw_value(map).ok().map(Into::into),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.json.is_none()
    }

    /// The JSON object text; `{}` when empty.
    pub fn as_json(&self) -> &str {
        self.json.as_deref().map_or("{}", RawValue::get)
    }

    /// The labels as a map.
    pub fn to_map(&self) -> BTreeMap<String, serde_json::Value> {
        self.json
            .as_deref()
            .and_then(|j| serde_json::from_str(j.get()).ok())
            .unwrap_or_default()
    }
}

impl Serialize for Labels {
    /// Writes the stored object as it is, unparsed.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match &self.json {
            Some(raw) => raw.serialize(s),
            None => s.serialize_map(Some(0))?.end(),
        }
    }
}

/// The mapping cannot evaluate this payload (HTTP 422): names the field.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("rule {rule:?}: {message}")]
pub struct Rejection {
    pub rule: String,
    /// The expression or field at fault (`Name`, `incident.status`).
    pub field: String,
    pub message: String,
}
