//! What a mapping makes of one payload, as JSON with every evaluation step: the one shape
//! `alertgate eval --explain` prints and `POST /v1/eval` answers (docs/design.md §6).
//!
//! A plain outcome is `{action, fingerprint, priority, title, labels, event_time, rule,
//! reason, steps}`; a fan-out payload is `{"results": [...]}`, one such object per
//! element, a rejected element carrying `error: {code, message}` and `action: null`.
//! It never touches a store.

use crate::clock;
use crate::decode::DecodeError;
use crate::engine::{self, Step};
use crate::mapping::Mapping;
use crate::outcome::{Outcome, Rejection};

/// Why a payload got no outcome.
#[derive(Debug, thiserror::Error)]
pub enum ExplainError {
    /// The payload could not be decoded (content type, syntax).
    #[error("{0}")]
    Decode(#[from] DecodeError),
    /// The mapping rejected the payload (or its `items:`).
    #[error("{0}")]
    Rejected(#[from] Rejection),
}

/// The JSON answer for a payload and whether any outcome was accepted (false when every
/// fan-out element was rejected). `get`: the payload is a query string.
pub fn explain(
    mapping: &Mapping,
    get: bool,
    content_type: Option<&str>,
    body: &[u8],
    with_steps: bool,
) -> Result<(serde_json::Value, bool), ExplainError> {
    let payload = mapping.decode_input(get, content_type, body)?;
    let Some(items) = engine::items(mapping, &payload)? else {
        let mut steps: Vec<Step> = Vec::new();
        let outcome = engine::evaluate_traced(mapping, &payload, &mut steps)?;
        let mut json = outcome_json(&outcome);
        if with_steps {
            json["steps"] = serde_json::to_value(&steps).unwrap_or_default();
        }
        return Ok((json, true));
    };
    let mut results = Vec::with_capacity(items.len());
    let mut accepted = 0usize;
    for item in &items {
        let mut steps: Vec<Step> = Vec::new();
        let mut json = match engine::evaluate_item_traced(mapping, &payload, item, &mut steps) {
            Ok(outcome) => {
                accepted += 1;
                outcome_json(&outcome)
            }
            Err(rejection) => serde_json::json!({
                "action": null,
                "error": { "code": "unprocessable_payload", "message": rejection.to_string() },
            }),
        };
        if with_steps {
            json["steps"] = serde_json::to_value(&steps).unwrap_or_default();
        }
        results.push(json);
    }
    let any = accepted > 0 || items.is_empty();
    Ok((serde_json::json!({ "results": results }), any))
}

/// One outcome as JSON.
pub fn outcome_json(outcome: &Outcome) -> serde_json::Value {
    serde_json::json!({
        "action": outcome.action,
        "fingerprint": outcome.fingerprint,
        "priority": outcome.priority,
        "title": outcome.title,
        "labels": outcome.labels,
        "event_time": outcome.event_time.map(clock::format_rfc3339_ms),
        "rule": outcome.rule,
        "reason": outcome.reason,
    })
}
