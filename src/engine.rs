//! The pure core: `(&Mapping, &Payload) → Outcome`.
//!
//! Owns the decision types (`Action`, `Priority`, `Outcome`, `Rejection`) and the
//! evaluation of compiled rules. Does no I/O, never parses config text, never panics on
//! payload data.

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
}

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
        }
    }
}

/// Labels as one JSON object text: the form both stores keep and the API shows, built
/// straight from the payload's values and never parsed on the webhook path. Cloning
/// shares the text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Labels {
    /// `None` when there are no labels.
    json: Option<Arc<str>>,
}

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
        serde_json::to_string(&Pairs(values))
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
        serde_json::from_str::<&RawValue>(trimmed).map_err(|e| e.to_string())?;
        Ok(if trimmed == "{}" {
            Labels::default()
        } else {
            Labels {
                json: Some(trimmed.into()),
            }
        })
    }

    /// Labels from a map (tests, tools).
    pub fn from_map(map: &BTreeMap<String, serde_json::Value>) -> Labels {
        if map.is_empty() {
            return Labels::default();
        }
        Labels {
            json: serde_json::to_string(map).ok().map(Into::into),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.json.is_none()
    }

    /// The JSON object text; `{}` when empty.
    pub fn as_json(&self) -> &str {
        self.json.as_deref().unwrap_or("{}")
    }

    /// The labels as a map.
    pub fn to_map(&self) -> BTreeMap<String, serde_json::Value> {
        self.json
            .as_deref()
            .and_then(|j| serde_json::from_str(j).ok())
            .unwrap_or_default()
    }
}

impl Serialize for Labels {
    /// Writes the stored object as it is.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let raw: &RawValue =
            serde_json::from_str(self.as_json()).map_err(serde::ser::Error::custom)?;
        raw.serialize(s)
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

/// One step of an evaluation, for `alertgate eval --explain`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Step {
    /// A rule's `when` was evaluated.
    When {
        rule: String,
        expr: String,
        matched: bool,
    },
    /// A rule without `when` applies to every payload.
    Always { rule: String },
    /// A table was consulted.
    Lookup {
        rule: String,
        table: &'static str,
        from: String,
        /// The key looked up; null when the field was missing.
        key: Option<String>,
        /// `hit`, `default`, `unmapped`, `missing`, `not_scalar`, `constant`.
        entry: &'static str,
        value: Option<String>,
    },
}

/// Receives evaluation steps; `NoTrace` makes the hot path build none.
pub trait Trace {
    fn step(&mut self, build: impl FnOnce() -> Step);
}

/// Records nothing.
pub struct NoTrace;

impl Trace for NoTrace {
    #[inline]
    fn step(&mut self, _build: impl FnOnce() -> Step) {}
}

impl Trace for Vec<Step> {
    fn step(&mut self, build: impl FnOnce() -> Step) {
        self.push(build());
    }
}

use crate::decode::Payload;
use crate::mapping::{Mapping, RenderError, Rule, Selected, Selector};

/// Decides what `payload` means under `mapping`: the first rule whose `when` holds wins.
pub fn evaluate(mapping: &Mapping, payload: &Payload) -> Result<Outcome, Rejection> {
    evaluate_traced(mapping, payload, &mut NoTrace)
}

/// `evaluate`, reporting each step to `trace`.
pub fn evaluate_traced(
    mapping: &Mapping,
    payload: &Payload,
    trace: &mut impl Trace,
) -> Result<Outcome, Rejection> {
    for rule in &mapping.rules {
        match &rule.when {
            Some(when) => {
                let value = when
                    .search(payload)
                    .map_err(|m| reject(rule, when.as_str(), m))?;
                let matched = value.is_truthy();
                trace.step(|| Step::When {
                    rule: rule.name.clone(),
                    expr: when.as_str().to_owned(),
                    matched,
                });
                if !matched {
                    continue;
                }
            }
            None => trace.step(|| Step::Always {
                rule: rule.name.clone(),
            }),
        }
        return apply_rule(rule, payload, trace);
    }
    Ok(Outcome::ignore(None, "no rule matched".into()))
}

fn apply_rule(
    rule: &Rule,
    payload: &Payload,
    trace: &mut impl Trace,
) -> Result<Outcome, Rejection> {
    let selected = select(rule, &rule.action, "action", payload, trace)?;
    // A missing action field is malformed input even where the table has a default: the
    // default is for values the table does not list, not for payloads without the field.
    let action = match (&selected, selected.value()) {
        (Selected::Missing { .. }, _) => {
            let from = rule.action.from_text().unwrap_or_default();
            return Err(reject(
                rule,
                from,
                format!("missing field `{from}` that decides the action"),
            ));
        }
        (_, Some(action)) => action,
        (Selected::Unmapped { key, .. }, None) => {
            let from = rule.action.from_text().unwrap_or_default();
            return Ok(Outcome::ignore(
                Some(rule.name.clone()),
                format!("unmapped {from} {key:?}"),
            ));
        }
        (_, None) => {
            let from = rule.action.from_text().unwrap_or_default();
            return Ok(Outcome::ignore(
                Some(rule.name.clone()),
                format!("{from} is not a string, number or boolean"),
            ));
        }
    };
    if action == Action::Ignore {
        let reason = match &selected {
            Selected::Hit { key, .. } => format!(
                "{} {key:?} maps to ignore",
                rule.action.from_text().unwrap_or_default()
            ),
            _ => format!("rule {:?} ignores it", rule.name),
        };
        return Ok(Outcome::ignore(Some(rule.name.clone()), reason));
    }
    let fingerprint = match &rule.fingerprint {
        Some(t) => t.render_strict(payload).map_err(|e| match e {
            RenderError::Missing(field) => reject(
                rule,
                &field,
                format!("fingerprint field `{field}` is missing or empty"),
            ),
            RenderError::Failed(message) => reject(rule, "fingerprint", message),
        })?,
        // `compile` requires a fingerprint on every rule that can open or resolve.
        None => {
            return Err(reject(
                rule,
                "fingerprint",
                "rule has no fingerprint".into(),
            ))
        }
    };
    let priority = match &rule.priority {
        Some(p) => select(rule, p, "priority", payload, trace)?.value(),
        None => None,
    };
    let title = match &rule.title {
        Some(t) => Some(
            t.render_lossy(payload)
                .map_err(|m| reject(rule, "title", m))?,
        ),
        None => None,
    };
    let mut values = Vec::with_capacity(rule.labels.len());
    for (name, expr) in &rule.labels {
        let value = expr
            .search(payload)
            .map_err(|m| reject(rule, expr.as_str(), m))?;
        if !value.is_null() {
            values.push((name.as_str(), value));
        }
    }
    let labels = Labels::from_values(&values).map_err(|m| reject(rule, "labels", m))?;
    let event_time = match &rule.event_time {
        Some(expr) => {
            let value = expr
                .search(payload)
                .map_err(|m| reject(rule, expr.as_str(), m))?;
            match value.as_string() {
                Some(text) => Some(crate::clock::parse_rfc3339_ms(text).ok_or_else(|| {
                    reject(
                        rule,
                        expr.as_str(),
                        format!(
                            "event_time `{}` is {text:?}, not an RFC 3339 time",
                            expr.as_str()
                        ),
                    )
                })?),
                None if value.is_null() => None,
                None => {
                    return Err(reject(
                        rule,
                        expr.as_str(),
                        format!("event_time `{}` is not a string", expr.as_str()),
                    ))
                }
            }
        }
        None => None,
    };
    Ok(Outcome {
        action,
        fingerprint: Some(fingerprint),
        priority,
        title,
        labels,
        event_time,
        rule: Some(rule.name.clone()),
        reason: None,
    })
}

fn select<T: Copy + fmt::Display>(
    rule: &Rule,
    selector: &Selector<T>,
    table: &'static str,
    payload: &Payload,
    trace: &mut impl Trace,
) -> Result<Selected<T>, Rejection> {
    let selected = selector
        .select(payload)
        .map_err(|m| reject(rule, selector.from_text().unwrap_or(table), m))?;
    trace.step(|| {
        let (key, entry) = match &selected {
            Selected::Const(_) => (None, "constant"),
            Selected::Hit { key, .. } => (Some(key.clone()), "hit"),
            Selected::Unmapped { key, default } => (
                Some(key.clone()),
                if default.is_some() {
                    "default"
                } else {
                    "unmapped"
                },
            ),
            Selected::Missing { default } => (
                None,
                if default.is_some() {
                    "default"
                } else {
                    "missing"
                },
            ),
            Selected::NotScalar { default } => (
                None,
                if default.is_some() {
                    "default"
                } else {
                    "not_scalar"
                },
            ),
        };
        Step::Lookup {
            rule: rule.name.clone(),
            table,
            from: selector.from_text().unwrap_or_default().to_owned(),
            key,
            entry,
            value: selected.value().map(|v| v.to_string()),
        }
    });
    Ok(selected)
}

fn reject(rule: &Rule, field: &str, message: String) -> Rejection {
    Rejection {
        rule: rule.name.clone(),
        field: field.to_owned(),
        message,
    }
}

#[cfg(test)]
mod tests;
