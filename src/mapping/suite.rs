//! The `tests:` of a mapping file: payloads with the decision they must get.

use std::collections::BTreeMap;
use std::path::Path;

use super::spec::{ExpectSpec, TestSpec};
use crate::outcome::{Action, Priority};
use crate::yaml::Errors;

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
    /// A fan-out payload: one expectation per element, in order.
    pub results: Option<Vec<Expect>>,
}

/// A test's or an eval's `method` (any case): `Some(true)` for GET, `Some(false)` for
/// POST or none given, `None` for anything else.
pub fn is_get(method: Option<&str>) -> Option<bool> {
    match method.map(str::to_ascii_uppercase).as_deref() {
        None | Some("POST") => Some(false),
        Some("GET") => Some(true),
        Some(_) => None,
    }
}

pub(crate) fn compile_tests(
    specs: &[TestSpec],
    base: &Path,
    errors: &mut Errors<'_>,
) -> Vec<MappingTest> {
    let mut tests = Vec::with_capacity(specs.len());
    for (i, spec) in specs.iter().enumerate() {
        let path = format!("tests[{i}]");
        let Some(get) = is_get(spec.method.as_deref()) else {
            // Named as matched: upper case.
            let other = spec.method.as_deref().unwrap_or_default();
            errors.push(
                format!("{path}.method"),
                format!(
                    "unknown method {:?}: expected GET or POST",
                    other.to_ascii_uppercase()
                ),
            );
            continue;
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
        let Some(expect) = compile_expect(&format!("{path}.expect"), &spec.expect, errors) else {
            continue;
        };
        tests.push(MappingTest {
            name: spec.name.clone(),
            get,
            content_type: spec.content_type.clone(),
            body,
            expect,
        });
    }
    tests
}

/// One `expect:` (or one entry of its `results:`): exactly one of `action`, `reject` or
/// (at the top only) `results`.
fn compile_expect(path: &str, e: &ExpectSpec, errors: &mut Errors<'_>) -> Option<Expect> {
    let action = match e.action.as_deref() {
        Some(a) => {
            let Some(a) = Action::parse(a) else {
                errors.push(
                    format!("{path}.action"),
                    format!(
                        "unknown action {a:?}: expected one of {}",
                        Action::NAMES.join(", ")
                    ),
                );
                return None;
            };
            Some(a)
        }
        None => None,
    };
    let given = [action.is_some(), e.reject.is_some(), e.results.is_some()];
    if given.iter().filter(|g| **g).count() != 1 {
        errors.push(
            path.to_owned(),
            "give exactly one of `action`, `reject` or `results`",
        );
        return None;
    }
    let results = match &e.results {
        Some(list) => {
            let mut results = Vec::with_capacity(list.len());
            for (i, entry) in list.iter().enumerate() {
                let at = format!("{path}.results[{i}]");
                if entry.results.is_some() {
                    errors.push(at, "`results` do not nest");
                    return None;
                }
                results.push(compile_expect(&at, entry, errors)?);
            }
            Some(results)
        }
        None => None,
    };
    let priority = match &e.priority {
        Some(Some(p)) => {
            let Some(p) = Priority::parse(p) else {
                errors.push(
                    format!("{path}.priority"),
                    format!(
                        "unknown priority {p:?}: expected one of {}",
                        Priority::NAMES.join(", ")
                    ),
                );
                return None;
            };
            Some(Some(p))
        }
        Some(None) => Some(None),
        None => None,
    };
    Some(Expect {
        action,
        fingerprint: e.fingerprint.clone(),
        priority,
        title: e.title.clone(),
        rule: e.rule.clone(),
        reason: e.reason.clone(),
        reject: e.reject.clone(),
        labels: e.labels.clone(),
        results,
    })
}
