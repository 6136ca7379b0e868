//! Runs a mapping's `tests:` through the engine: each test's payload is decoded the way
//! the server would and its outcome compared, field by field, with what the test expects.

use crate::engine;
use crate::mapping::suite::{Expect, MappingTest};
use crate::mapping::Mapping;
use crate::outcome::{Action, Outcome, Rejection};

/// Runs one test; returns one line per difference (`field: expected X, got Y`).
pub fn run(mapping: &Mapping, test: &MappingTest) -> Vec<String> {
    let payload = match mapping.decode_input(test.get, test.content_type.as_deref(), &test.body) {
        Ok(p) => p,
        Err(e) => return vec![format!("payload: cannot decode: {e}")],
    };
    let items = match engine::items(mapping, &payload) {
        Ok(items) => items,
        Err(rejection) => return check(&test.expect, &Err(rejection)),
    };
    let Some(items) = items else {
        if test.expect.results.is_some() {
            return vec!["results: expected a fan-out, got a single event".to_owned()];
        }
        return check(&test.expect, &engine::evaluate(mapping, &payload));
    };
    let Some(expected) = &test.expect.results else {
        return vec![format!(
            "results: the payload fans out into {} item(s): expect `results`",
            items.len()
        )];
    };
    let mut diffs = Vec::new();
    if expected.len() != items.len() {
        diffs.push(format!(
            "results: expected {} item(s), got {}",
            expected.len(),
            items.len()
        ));
    }
    for (i, (expect, item)) in expected.iter().zip(&items).enumerate() {
        let result = engine::evaluate_item(mapping, &payload, item);
        diffs.extend(
            check(expect, &result)
                .into_iter()
                .map(|d| format!("results[{i}].{d}")),
        );
    }
    diffs
}

fn check(expect: &Expect, result: &Result<Outcome, Rejection>) -> Vec<String> {
    let mut diffs = Vec::new();
    if expect.results.is_some() {
        let got = match result {
            Ok(_) => "a single event".to_owned(),
            Err(rejection) => format!("rejection {:?}", rejection.to_string()),
        };
        return vec![format!("results: expected per-item results, got {got}")];
    }
    let outcome = match (result, &expect.reject) {
        (Err(rejection), Some(text)) => {
            if !rejection.to_string().contains(text.as_str()) {
                diffs.push(format!(
                    "reject: expected a message containing {text:?}, got {:?}",
                    rejection.to_string()
                ));
            }
            return diffs;
        }
        (Err(rejection), None) => {
            diffs.push(format!(
                "action: expected {:?}, got rejection {:?}",
                expect.action.map(Action::as_str),
                rejection.to_string()
            ));
            return diffs;
        }
        (Ok(outcome), Some(text)) => {
            diffs.push(format!(
                "reject: expected a rejection containing {text:?}, got action {}",
                outcome.action
            ));
            return diffs;
        }
        (Ok(outcome), None) => outcome,
    };
    let mut compare = |field: &str, expected: Option<String>, actual: Option<String>| {
        if expected != actual {
            diffs.push(format!(
                "{field}: expected {}, got {}",
                shown(expected.as_ref()),
                shown(actual.as_ref())
            ));
        }
    };
    if let Some(a) = expect.action {
        compare(
            "action",
            Some(a.to_string()),
            Some(outcome.action.to_string()),
        );
    }
    if let Some(f) = &expect.fingerprint {
        compare("fingerprint", Some(f.clone()), outcome.fingerprint.clone());
    }
    if let Some(p) = expect.priority {
        compare(
            "priority",
            p.map(|p| p.to_string()),
            outcome.priority.map(|p| p.to_string()),
        );
    }
    if let Some(t) = &expect.title {
        compare("title", Some(t.clone()), outcome.title.clone());
    }
    if let Some(r) = &expect.rule {
        compare("rule", Some(r.clone()), outcome.rule.clone());
    }
    if let Some(labels) = &expect.labels {
        let actual = outcome.labels.to_map();
        if labels != &actual {
            diffs.push(format!(
                "labels: expected {}, got {}",
                serde_json::Value::from(serde_json::Map::from_iter(labels.clone())),
                serde_json::Value::from(serde_json::Map::from_iter(actual))
            ));
        }
    }
    if let Some(r) = &expect.reason {
        let actual = outcome.reason.clone().unwrap_or_default();
        if !actual.contains(r.as_str()) {
            diffs.push(format!("reason: expected text {r:?}, got {actual:?}"));
        }
    }
    diffs
}

/// `"text"` for a value, `none` for its absence.
fn shown(value: Option<&String>) -> String {
    value.map_or_else(|| "none".to_owned(), |v| format!("{v:?}"))
}
