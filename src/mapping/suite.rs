//! The `tests:` of a mapping file: payloads with the decision they must get.

use std::collections::BTreeMap;
use std::path::Path;

use super::spec::TestSpec;
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
            Some(a) => {
                if let Some(a) = Action::parse(a) {
                    Some(a)
                } else {
                    errors.push(
                        format!("{path}.expect.action"),
                        format!(
                            "unknown action {a:?}: expected one of {}",
                            Action::NAMES.join(", ")
                        ),
                    );
                    continue;
                }
            }
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
            Some(Some(p)) => {
                if let Some(p) = Priority::parse(p) {
                    Some(Some(p))
                } else {
                    errors.push(
                        format!("{path}.expect.priority"),
                        format!(
                            "unknown priority {p:?}: expected one of {}",
                            Priority::NAMES.join(", ")
                        ),
                    );
                    continue;
                }
            }
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
