//! The `tests:` of a mapping file: payloads with the decision they must get.

use std::collections::BTreeMap;
use std::path::Path;

use super::compile::Errors;
use super::spec::TestSpec;
use super::Mapping;
use crate::decode::{DecodeError, Payload};
use crate::engine::{self, Action, Outcome, Priority, Rejection};

/// A compiled test.
#[derive(Debug, Clone)]
pub struct MappingTest {
    pub name: String,
    /// GET tests decode `body` as a query string.
    pub get: bool,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
    pub expect: Expect,
}

/// Expected decision; `None` fields are not checked.
#[derive(Debug, Clone, Default)]
pub struct Expect {
    pub action: Option<Action>,
    pub fingerprint: Option<String>,
    pub priority: Option<Option<Priority>>,
    pub title: Option<String>,
    pub rule: Option<String>,
    pub reason: Option<String>,
    pub reject: Option<String>,
    pub labels: Option<BTreeMap<String, serde_json::Value>>,
}

pub(crate) fn compile_tests(
    specs: &[TestSpec],
    base: &Path,
    errors: &mut Errors<'_>,
) -> Vec<MappingTest> {
    let mut tests = Vec::with_capacity(specs.len());
    for (i, spec) in specs.iter().enumerate() {
        let path = format!("tests[{i}]");
        let get = match spec
            .method
            .as_deref()
            .map(str::to_ascii_uppercase)
            .as_deref()
        {
            None | Some("POST") => false,
            Some("GET") => true,
            Some(other) => {
                errors.push(
                    format!("{path}.method"),
                    format!("unknown method {other:?}: expected GET or POST"),
                );
                continue;
            }
        };
        let body = match (&spec.body, &spec.payload) {
            (Some(body), None) => body.clone().into_bytes(),
            (None, Some(file)) => match std::fs::read(base.join(file)) {
                Ok(bytes) => bytes,
                Err(e) => {
                    errors.push(
                        format!("{path}.payload"),
                        format!("cannot read {}: {e}", base.join(file).display()),
                    );
                    continue;
                }
            },
            _ => {
                errors.push(path, "give exactly one of `body` or `payload`");
                continue;
            }
        };
        let e = &spec.expect;
        let action = match e.action.as_deref() {
            Some(a) => match Action::parse(a) {
                Some(a) => Some(a),
                None => {
                    errors.push(
                        format!("{path}.expect.action"),
                        format!(
                            "unknown action {a:?}: expected one of {}",
                            Action::NAMES.join(", ")
                        ),
                    );
                    continue;
                }
            },
            None => None,
        };
        if action.is_some() == e.reject.is_some() {
            errors.push(
                format!("{path}.expect"),
                "give exactly one of `action` or `reject`",
            );
            continue;
        }
        let priority = match &e.priority {
            Some(Some(p)) => match Priority::parse(p) {
                Some(p) => Some(Some(p)),
                None => {
                    errors.push(
                        format!("{path}.expect.priority"),
                        format!(
                            "unknown priority {p:?}: expected one of {}",
                            Priority::NAMES.join(", ")
                        ),
                    );
                    continue;
                }
            },
            Some(None) => Some(None),
            None => None,
        };
        tests.push(MappingTest {
            name: spec.name.clone(),
            get,
            content_type: spec.content_type.clone(),
            body,
            expect: Expect {
                action,
                fingerprint: e.fingerprint.clone(),
                priority,
                title: e.title.clone(),
                rule: e.rule.clone(),
                reason: e.reason.clone(),
                reject: e.reject.clone(),
                labels: e.labels.clone(),
            },
        });
    }
    tests
}

/// Decodes a test's payload the way the server would.
pub fn decode_payload(
    mapping: &Mapping,
    get: bool,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<Payload, DecodeError> {
    if get {
        let query = std::str::from_utf8(body)
            .map_err(|_| DecodeError::Form("query string is not UTF-8".into()))?;
        mapping.decode_query(query.trim_end_matches(['\r', '\n']))
    } else {
        mapping.decode_body(body, content_type)
    }
}

/// Runs one test; returns one line per difference (`field: expected X, got Y`).
pub fn run(mapping: &Mapping, test: &MappingTest) -> Vec<String> {
    let payload = match decode_payload(mapping, test.get, test.content_type.as_deref(), &test.body)
    {
        Ok(p) => p,
        Err(e) => return vec![format!("payload: cannot decode: {e}")],
    };
    check(&test.expect, &engine::evaluate(mapping, &payload))
}

fn check(expect: &Expect, result: &Result<Outcome, Rejection>) -> Vec<String> {
    let mut diffs = Vec::new();
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
                shown(&expected),
                shown(&actual)
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
fn shown(value: &Option<String>) -> String {
    value
        .as_ref()
        .map_or_else(|| "none".to_owned(), |v| format!("{v:?}"))
}
