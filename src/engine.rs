//! The pure core: `(&Mapping, &Payload) → Outcome`.
//!
//! Owns the decision types (`Action`, `Priority`, `Outcome`, `Rejection`) and the
//! evaluation of compiled rules. Does no I/O, never parses config text, never panics on
//! payload data.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

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
    pub labels: BTreeMap<String, serde_json::Value>,
    /// The payload's own time of the event (Unix ms), when the mapping names one.
    pub event_time: Option<i64>,
    /// The name of the rule that decided; `None` when no rule matched.
    pub rule: Option<String>,
    /// Why the payload is ignored; `None` unless `action` is `ignore`.
    pub reason: Option<String>,
}

impl Outcome {
    /// An `ignore` decision with a reason and nothing else.
    pub fn ignore(rule: Option<String>, reason: String) -> Outcome {
        Outcome {
            action: Action::Ignore,
            fingerprint: None,
            priority: None,
            title: None,
            labels: BTreeMap::new(),
            event_time: None,
            rule,
            reason: Some(reason),
        }
    }
}
