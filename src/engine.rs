//! The pure core: `(&Mapping, &Payload) → Outcome`.
//!
//! Owns the evaluation of compiled rules and its trace (`Step`, for `eval --explain`).
//! Does no I/O, never parses config text, never panics on payload data. The decision
//! types it produces live in `outcome`.

use std::fmt;

use serde::Serialize;

use crate::decode::Payload;
use crate::mapping::{Mapping, RenderError, RootScope, Rule, Selected, Selector};
use crate::outcome::{Action, Labels, Outcome, Rejection};

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

/// The name a fan-out's whole-payload rejection carries as its rule.
pub const ITEMS_RULE: &str = "items";

/// A fan-out mapping's elements for this payload (docs/design.md §3): `None` when the
/// payload is one event (no `items`, or its `when` does not hold). A missing or non-list
/// `items` is a rejection naming the field; an empty list is no events.
pub fn items(mapping: &Mapping, payload: &Payload) -> Result<Option<Vec<Payload>>, Rejection> {
    let Some(items) = &mapping.items else {
        return Ok(None);
    };
    let _root = RootScope::enter(payload);
    let rejection = |field: &str, message: &dyn fmt::Display| Rejection {
        rule: ITEMS_RULE.to_owned(),
        field: field.to_owned(),
        message: message.to_string(),
    };
    if let Some(when) = &items.when {
        let holds = when
            .search(payload)
            .map_err(|m| rejection(when.as_str(), &m))?;
        if !holds.is_truthy() {
            return Ok(None);
        }
    }
    let from = items.from.as_str();
    let list = items
        .from
        .search(payload)
        .map_err(|m| rejection(from, &m))?;
    match list.as_array() {
        Some(elements) => Ok(Some(elements.clone())),
        None if list.is_null() => Err(rejection(
            from,
            &format!("missing field `{from}`: expected the list of items"),
        )),
        None => Err(rejection(
            from,
            &format!("`{from}` is not a list: expected the list of items"),
        )),
    }
}

/// Decides what `payload` means under `mapping`: the first rule whose `when` holds wins.
/// For a fan-out payload, call [`items`] and then [`evaluate_item`] on each element.
pub fn evaluate(mapping: &Mapping, payload: &Payload) -> Result<Outcome, Rejection> {
    evaluate_traced(mapping, payload, &mut NoTrace)
}

/// `evaluate`, reporting each step to `trace`.
pub fn evaluate_traced(
    mapping: &Mapping,
    payload: &Payload,
    trace: &mut impl Trace,
) -> Result<Outcome, Rejection> {
    evaluate_item_traced(mapping, payload, payload, trace)
}

/// Decides what one element of a fan-out means: the rules run on `item` (the current
/// node, `@`), and `root()` is `root`, the whole payload.
pub fn evaluate_item(
    mapping: &Mapping,
    root: &Payload,
    item: &Payload,
) -> Result<Outcome, Rejection> {
    evaluate_item_traced(mapping, root, item, &mut NoTrace)
}

/// `evaluate_item`, reporting each step to `trace`.
pub fn evaluate_item_traced(
    mapping: &Mapping,
    root: &Payload,
    payload: &Payload,
    trace: &mut impl Trace,
) -> Result<Outcome, Rejection> {
    let _root = RootScope::enter(root);
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
        None => return Err(reject(rule, "fingerprint", "rule has no fingerprint")),
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
        auto_resolve_after_ms: rule.auto_resolve_after_ms,
        flapping: None,
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

/// A rejection naming the rule and the field at fault; `message` is the cause's text (the
/// decision types sit below `mapping`, so they carry text, not its error types).
fn reject(rule: &Rule, field: &str, message: impl fmt::Display) -> Rejection {
    Rejection {
        rule: rule.name.clone(),
        field: field.to_owned(),
        message: message.to_string(),
    }
}

#[cfg(test)]
mod fanout_tests;
#[cfg(test)]
mod tests;
