//! `sources.<id>.auto_resolve_after`, `flapping` and `heartbeat`: the lifecycle policies
//! of a source (docs/design.md §4), checked into the store's terms.

use std::time::Duration;

use super::raw::SourceConfig;
use crate::clock::parse_duration;
use crate::outcome::{FlapPolicy, HeartbeatPolicy, Outcome, Priority};
use crate::yaml::Errors;

/// One source's lifecycle policies; all off by default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Policies {
    /// Auto-resolve after this many ms without an event, unless the rule says otherwise.
    pub auto_resolve_after_ms: Option<u64>,
    pub flapping: Option<FlapPolicy>,
    pub heartbeat: Option<HeartbeatPolicy>,
}

impl Policies {
    /// Fills this source's policies into an outcome before its store step; the rule's
    /// `auto_resolve_after` wins over the source's.
    pub fn fill(&self, outcome: &mut Outcome) {
        outcome.auto_resolve_after_ms =
            outcome.auto_resolve_after_ms.or(self.auto_resolve_after_ms);
        outcome.flapping = self.flapping;
    }
}

/// A positive duration in ms, or an error at `path`.
fn duration_ms(errors: &mut Errors<'_>, path: String, text: &str) -> Option<u64> {
    let ms = parse_duration(text)
        .filter(|d| *d >= Duration::from_millis(1))
        .and_then(|d| u64::try_from(d.as_millis()).ok());
    if ms.is_none() {
        errors.push(
            path,
            format!(
                "invalid duration {text:?}: expected a positive number with ms, s, m, h or d, \
                 like 10m"
            ),
        );
    }
    ms
}

/// Checks the policies of source `sources.<id>` (`path`).
pub(super) fn check(path: &str, raw: &SourceConfig, errors: &mut Errors<'_>) -> Policies {
    let auto_resolve_after_ms = raw
        .auto_resolve_after
        .as_deref()
        .and_then(|t| duration_ms(errors, format!("{path}.auto_resolve_after"), t));
    let flapping = raw.flapping.as_ref().and_then(|f| {
        if f.opens < 2 {
            errors.push(
                format!("{path}.flapping.opens"),
                "must be at least 2 (the count of opens within the window that flaps)",
            );
        }
        let within_ms = duration_ms(errors, format!("{path}.flapping.within"), &f.within)?;
        (f.opens >= 2).then_some(FlapPolicy {
            opens: f.opens,
            within_ms,
        })
    });
    let heartbeat = raw.heartbeat.as_ref().and_then(|h| {
        let every_ms = duration_ms(errors, format!("{path}.heartbeat.every"), &h.every);
        let priority = match h.priority.as_deref() {
            None => Some(Priority::High),
            Some(name) => {
                let p = Priority::parse(name);
                if p.is_none() {
                    errors.push(
                        format!("{path}.heartbeat.priority"),
                        format!(
                            "unknown priority {name:?}: expected one of {}",
                            Priority::NAMES.join(", ")
                        ),
                    );
                }
                p
            }
        };
        Some(HeartbeatPolicy {
            every_ms: every_ms?,
            priority: priority?,
        })
    });
    Policies {
        auto_resolve_after_ms,
        flapping,
        heartbeat,
    }
}
