//! `evaluate` against mappings compiled from small YAML texts by the crate's own loader.

use std::collections::BTreeMap;
use std::path::Path;

use super::*;
use crate::decode::{self, DecodeMode};
use crate::mapping::compile_str;
use crate::outcome::Priority;

/// Compiles a mapping whose `rules:` list is `rules` (YAML, indented under `rules:`).
fn mapping(rules: &str) -> Mapping {
    let text = format!("integration: t\nrules:\n{rules}");
    compile_str(Path::new("t.yaml"), &text).unwrap_or_else(|errors| {
        panic!(
            "test mapping does not compile:\n{}\n{text}",
            errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        )
    })
}

fn payload(json: &str) -> Payload {
    decode::decode(json.as_bytes(), None, DecodeMode::Json).expect("test payload")
}

fn eval(m: &Mapping, json: &str) -> Result<Outcome, Rejection> {
    evaluate(m, &payload(json))
}

fn ok(m: &Mapping, json: &str) -> Outcome {
    eval(m, json).unwrap_or_else(|r| panic!("{json}: rejected: {r}"))
}

fn rejected(m: &Mapping, json: &str) -> Rejection {
    match eval(m, json) {
        Ok(o) => panic!("{json}: expected a rejection, got {o:?}"),
        Err(r) => r,
    }
}

/// One rule `r` opening on `state: down`, resolving on `state: up`, fingerprint `{{ id }}`.
const STATE_RULE: &str = "  - name: r\n    action: { from: state, map: { down: open, up: resolve } }\n    fingerprint: \"{{ id }}\"\n";

// --- Rule selection -----------------------------------------------------------------

#[test]
fn first_rule_whose_when_holds_wins() {
    let m = mapping(
        "  - name: critical\n    when: \"severity == 'critical'\"\n    action: open\n    fingerprint: \"{{ id }}\"\n    priority: critical\n\
         \x20 - name: any-severity\n    when: severity\n    action: open\n    fingerprint: \"{{ id }}\"\n    priority: low\n\
         \x20 - name: fallback\n    action: resolve\n    fingerprint: \"{{ id }}\"\n",
    );
    let both_match = ok(&m, r#"{"id": "a", "severity": "critical"}"#);
    assert_eq!(both_match.rule.as_deref(), Some("critical"));
    assert_eq!(both_match.priority, Some(Priority::Critical));

    let second = ok(&m, r#"{"id": "a", "severity": "minor"}"#);
    assert_eq!(second.rule.as_deref(), Some("any-severity"));
    assert_eq!(second.priority, Some(Priority::Low));

    // No `when` matches every payload, so the last rule catches the rest.
    let last = ok(&m, r#"{"id": "a"}"#);
    assert_eq!(last.rule.as_deref(), Some("fallback"));
    assert_eq!(last.action, Action::Resolve);
}

#[test]
fn a_falsy_when_is_skipped_even_when_the_rule_would_reject() {
    // The first rule would reject (no `name`), but its `when` does not hold.
    let m = mapping(
        "  - name: named\n    when: \"kind == 'named'\"\n    action: open\n    fingerprint: \"{{ name }}\"\n\
         \x20 - name: by-id\n    action: open\n    fingerprint: \"{{ id }}\"\n",
    );
    for falsy in [
        r#"{"id": "x", "kind": "other"}"#,
        r#"{"id": "x"}"#,
        r#"{"id": "x", "kind": ""}"#,
    ] {
        let o = ok(&m, falsy);
        assert_eq!(o.rule.as_deref(), Some("by-id"), "{falsy}");
        assert_eq!(o.fingerprint.as_deref(), Some("x"));
    }
}

#[test]
fn no_matching_rule_is_an_ignore_without_a_rule() {
    let m = mapping(
        "  - name: only\n    when: alert\n    action: open\n    fingerprint: \"{{ id }}\"\n",
    );
    let o = ok(&m, r#"{"id": "a"}"#);
    assert_eq!(o, Outcome::ignore(None, "no rule matched".into()));
}

#[test]
fn a_when_that_fails_at_runtime_is_a_rejection_naming_the_expression() {
    let m = mapping(
        "  - name: r\n    when: \"length(count) > `0`\"\n    action: open\n    fingerprint: \"{{ id }}\"\n",
    );
    let r = rejected(&m, r#"{"id": "a", "count": 5}"#);
    assert_eq!(r.rule, "r");
    assert_eq!(r.field, "length(count) > `0`");
}

#[test]
fn a_constant_ignore_rule_needs_no_fingerprint_and_says_why() {
    let m = mapping("  - name: drop-tests\n    when: test\n    action: ignore\n");
    let o = ok(&m, r#"{"test": true}"#);
    assert_eq!(o.action, Action::Ignore);
    assert_eq!(o.rule.as_deref(), Some("drop-tests"));
    assert_eq!(o.fingerprint, None);
    assert_eq!(o.reason.as_deref(), Some("rule \"drop-tests\" ignores it"));
}

// --- Action and priority tables ------------------------------------------------------

#[test]
fn action_table_hit_opens_and_resolves() {
    let m = mapping(STATE_RULE);
    let open = ok(&m, r#"{"id": "k", "state": "down"}"#);
    assert_eq!(
        (open.action, open.fingerprint.as_deref(), open.reason),
        (Action::Open, Some("k"), None)
    );
    assert_eq!(
        ok(&m, r#"{"id": "k", "state": "up"}"#).action,
        Action::Resolve
    );
}

#[test]
fn unmapped_action_without_default_is_ignored_naming_the_value() {
    let m = mapping(STATE_RULE);
    let o = ok(&m, r#"{"id": "k", "state": "paused"}"#);
    assert_eq!(o.action, Action::Ignore);
    assert_eq!(o.rule.as_deref(), Some("r"));
    assert_eq!(o.reason.as_deref(), Some("unmapped state \"paused\""));
    assert_eq!(o.fingerprint, None);
}

#[test]
fn unmapped_action_takes_the_default() {
    let m = mapping(
        "  - name: r\n    action: { from: state, map: { up: resolve }, default: open }\n    fingerprint: \"{{ id }}\"\n",
    );
    assert_eq!(
        ok(&m, r#"{"id": "k", "state": "weird"}"#).action,
        Action::Open
    );
    assert_eq!(
        ok(&m, r#"{"id": "k", "state": "up"}"#).action,
        Action::Resolve
    );
}

#[test]
fn missing_action_field_is_rejected_naming_it_even_with_a_default() {
    for rules in [
        STATE_RULE.to_owned(),
        "  - name: r\n    action: { from: state, map: { up: resolve }, default: open }\n    fingerprint: \"{{ id }}\"\n".to_owned(),
    ] {
        let m = mapping(&rules);
        for json in [r#"{"id": "k"}"#, r#"{"id": "k", "state": null}"#] {
            let r = rejected(&m, json);
            assert_eq!((r.rule.as_str(), r.field.as_str()), ("r", "state"), "{json}");
            assert_eq!(r.message, "missing field `state` that decides the action");
        }
    }
}

#[test]
fn action_maps_to_ignore_with_the_key_named() {
    let m = mapping(
        "  - name: r\n    action: { from: state, map: { down: open, maintenance: ignore } }\n    fingerprint: \"{{ id }}\"\n",
    );
    let o = ok(&m, r#"{"id": "k", "state": "maintenance"}"#);
    assert_eq!(o.action, Action::Ignore);
    assert_eq!(
        o.reason.as_deref(),
        Some("state \"maintenance\" maps to ignore")
    );
}

#[test]
fn case_insensitive_table_matches_any_case_and_others_do_not() {
    let m = mapping(
        "  - name: r\n    action: { from: state, case_insensitive: true, map: { Down: open } }\n    fingerprint: \"{{ id }}\"\n",
    );
    for state in ["down", "DOWN", "Down", "dOwN"] {
        let json = format!(r#"{{"id": "k", "state": "{state}"}}"#);
        assert_eq!(ok(&m, &json).action, Action::Open, "{state}");
    }
    let strict = mapping(STATE_RULE);
    let o = ok(&strict, r#"{"id": "k", "state": "DOWN"}"#);
    assert_eq!(o.action, Action::Ignore);
    assert_eq!(o.reason.as_deref(), Some("unmapped state \"DOWN\""));
}

#[test]
fn numeric_and_boolean_table_keys_match_their_payload_values() {
    let m = mapping(
        "  - name: r\n    action: { from: failing, map: { true: open, false: resolve } }\n    fingerprint: \"{{ id }}\"\n    priority: { from: code, map: { 500: critical, 404: low } }\n",
    );
    let o = ok(&m, r#"{"id": "k", "failing": true, "code": 500}"#);
    assert_eq!(
        (o.action, o.priority),
        (Action::Open, Some(Priority::Critical))
    );
    let o = ok(&m, r#"{"id": "k", "failing": false, "code": 404}"#);
    assert_eq!(
        (o.action, o.priority),
        (Action::Resolve, Some(Priority::Low))
    );
    // Keys are compared as text: the string "500" hits the entry of the number 500.
    let o = ok(&m, r#"{"id": "k", "failing": true, "code": "500"}"#);
    assert_eq!(o.priority, Some(Priority::Critical));
}

#[test]
fn a_non_scalar_action_field_is_ignored_unless_there_is_a_default() {
    let m = mapping(STATE_RULE);
    let o = ok(&m, r#"{"id": "k", "state": ["down"]}"#);
    assert_eq!(o.action, Action::Ignore);
    assert_eq!(
        o.reason.as_deref(),
        Some("state is not a string, number or boolean")
    );
    let with_default = mapping(
        "  - name: r\n    action: { from: state, map: { up: resolve }, default: open }\n    fingerprint: \"{{ id }}\"\n",
    );
    assert_eq!(
        ok(&with_default, r#"{"id": "k", "state": {"s": 1}}"#).action,
        Action::Open
    );
}

#[test]
fn priority_table_falls_back_to_its_default_for_unmapped_and_missing_values() {
    let m = mapping(
        "  - name: r\n    action: open\n    fingerprint: \"{{ id }}\"\n    priority: { from: sev, map: { p1: critical, p2: high }, default: medium }\n",
    );
    let prio = |json: &str| ok(&m, json).priority;
    assert_eq!(
        prio(r#"{"id": "k", "sev": "p1"}"#),
        Some(Priority::Critical)
    );
    assert_eq!(prio(r#"{"id": "k", "sev": "p2"}"#), Some(Priority::High));
    assert_eq!(prio(r#"{"id": "k", "sev": "p9"}"#), Some(Priority::Medium));
    assert_eq!(prio(r#"{"id": "k"}"#), Some(Priority::Medium));

    // Without a default, a priority that cannot be looked up is simply absent.
    let bare = mapping(
        "  - name: r\n    action: open\n    fingerprint: \"{{ id }}\"\n    priority: { from: sev, map: { p1: critical } }\n",
    );
    assert_eq!(ok(&bare, r#"{"id": "k", "sev": "p9"}"#).priority, None);
    assert_eq!(ok(&bare, r#"{"id": "k"}"#).priority, None);
    // And a rule without any priority gives none.
    assert_eq!(
        ok(&mapping(STATE_RULE), r#"{"id": "k", "state": "down"}"#).priority,
        None
    );
}

// --- Fingerprint and title -----------------------------------------------------------

#[test]
fn fingerprint_renders_every_part_in_order() {
    let m = mapping(
        "  - name: r\n    action: open\n    fingerprint: \"{{ check.name }}|{{ check.url }}|{{ code }}|{{ up }}\"\n",
    );
    let o = ok(
        &m,
        r#"{"check": {"name": "web", "url": "https://x"}, "code": 503, "up": false}"#,
    );
    assert_eq!(o.fingerprint.as_deref(), Some("web|https://x|503|false"));
}

#[test]
fn missing_fingerprint_field_is_rejected_naming_the_field() {
    let m = mapping("  - name: r\n    action: open\n    fingerprint: \"{{ Name }}|{{ URL }}\"\n");
    let r = rejected(&m, r#"{"URL": "https://x"}"#);
    assert_eq!((r.rule.as_str(), r.field.as_str()), ("r", "Name"));
    assert_eq!(r.message, "fingerprint field `Name` is missing or empty");
    let r = rejected(&m, r#"{"Name": "web", "URL": null}"#);
    assert_eq!(r.field, "URL");
    assert_eq!(r.message, "fingerprint field `URL` is missing or empty");
}

#[test]
fn empty_fingerprint_part_is_rejected_naming_the_field() {
    let m = mapping("  - name: r\n    action: open\n    fingerprint: \"{{ Name }}|{{ URL }}\"\n");
    let r = rejected(&m, r#"{"Name": "web", "URL": ""}"#);
    assert_eq!(r.field, "URL");
    assert_eq!(r.message, "fingerprint field `URL` is missing or empty");
    // The rejection comes before anything else is evaluated: no partial outcome.
    let r = rejected(&m, r#"{"Name": "", "URL": "https://x"}"#);
    assert_eq!(r.field, "Name");
}

#[test]
fn title_renders_missing_fields_as_empty_text() {
    let m = mapping(
        "  - name: r\n    action: open\n    fingerprint: \"{{ id }}\"\n    title: \"{{ name }} is down ({{ url }})\"\n",
    );
    let o = ok(&m, r#"{"id": "k", "name": "web"}"#);
    assert_eq!(o.title.as_deref(), Some("web is down ()"));
    assert_eq!(
        ok(&mapping(STATE_RULE), r#"{"id": "k", "state": "down"}"#).title,
        None
    );
}

// --- Event time ----------------------------------------------------------------------

fn timed() -> Mapping {
    mapping("  - name: r\n    action: open\n    fingerprint: \"{{ id }}\"\n    event_time: incident.updated_at\n")
}

#[test]
fn event_time_parses_rfc3339_to_unix_ms_in_any_offset() {
    let m = timed();
    let at = |t: &str| {
        let json = format!(r#"{{"id": "k", "incident": {{"updated_at": "{t}"}}}}"#);
        ok(&m, &json).event_time
    };
    assert_eq!(at("1970-01-01T00:00:01Z"), Some(1_000));
    assert_eq!(at("2024-06-03T10:15:00.112Z"), Some(1_717_409_700_112));
    assert_eq!(at("2024-06-03T12:15:00.112+02:00"), Some(1_717_409_700_112));
    assert_eq!(at("2024-06-03T10:15:00.112999Z"), Some(1_717_409_700_112));
}

#[test]
fn event_time_that_is_not_rfc3339_is_rejected_naming_the_expression() {
    let m = timed();
    for bad in [
        "yesterday",
        "2024-06-03",
        "2024-06-03T10:15:00",
        "1717409700",
        "",
    ] {
        let json = format!(r#"{{"id": "k", "incident": {{"updated_at": "{bad}"}}}}"#);
        let r = rejected(&m, &json);
        assert_eq!(
            (r.rule.as_str(), r.field.as_str()),
            ("r", "incident.updated_at")
        );
        assert_eq!(
            r.message,
            format!("event_time `incident.updated_at` is {bad:?}, not an RFC 3339 time")
        );
    }
    let r = rejected(&m, r#"{"id": "k", "incident": {"updated_at": 1717409700}}"#);
    assert_eq!(r.field, "incident.updated_at");
    assert_eq!(
        r.message,
        "event_time `incident.updated_at` is not a string"
    );
}

#[test]
fn absent_event_time_is_none() {
    let m = timed();
    assert_eq!(ok(&m, r#"{"id": "k"}"#).event_time, None);
    assert_eq!(
        ok(&m, r#"{"id": "k", "incident": {"updated_at": null}}"#).event_time,
        None
    );
    assert_eq!(
        ok(&mapping(STATE_RULE), r#"{"id": "k", "state": "up"}"#).event_time,
        None
    );
}

// --- Labels --------------------------------------------------------------------------

#[test]
fn labels_keep_values_of_any_json_type_and_drop_nulls() {
    let m = mapping(
        "  - name: r\n    action: open\n    fingerprint: \"{{ id }}\"\n    labels:\n      url: check.url\n      code: code\n      tags: \"tags && split(tags, ',')\"\n      up: up\n      gone: nothere\n",
    );
    let o = ok(
        &m,
        r#"{"id": "k", "check": {"url": "https://x"}, "code": 503, "tags": "a, b", "up": false}"#,
    );
    let want = BTreeMap::from([
        ("code".to_owned(), serde_json::json!(503)),
        ("tags".to_owned(), serde_json::json!(["a", "b"])),
        ("up".to_owned(), serde_json::json!(false)),
        ("url".to_owned(), serde_json::json!("https://x")),
    ]);
    assert_eq!(o.labels.to_map(), want);
    // Shown as one JSON object, in the mapping's (name) order.
    assert_eq!(
        o.labels.as_json(),
        r#"{"code":503,"tags":["a","b"],"up":false,"url":"https://x"}"#
    );
}

#[test]
fn a_rule_without_labels_or_with_only_null_ones_has_empty_labels() {
    let none = ok(&mapping(STATE_RULE), r#"{"id": "k", "state": "down"}"#);
    assert!(none.labels.is_empty());
    assert_eq!(none.labels.as_json(), "{}");
    let m = mapping(
        "  - name: r\n    action: open\n    fingerprint: \"{{ id }}\"\n    labels: { a: missing }\n",
    );
    assert!(ok(&m, r#"{"id": "k"}"#).labels.is_empty());
}

#[test]
fn labels_from_json_accept_objects_only() {
    assert!(Labels::from_json("{}").expect("empty object").is_empty());
    let l = Labels::from_json(r#" {"a": 1} "#).expect("object");
    assert_eq!(l.as_json(), r#"{"a": 1}"#);
    for bad in ["[]", "1", "\"x\"", "{", "null"] {
        assert!(Labels::from_json(bad).is_err(), "{bad}");
    }
    // Serialised as the stored text, unparsed.
    assert_eq!(serde_json::to_string(&l).expect("serialize"), r#"{"a": 1}"#);
}

// --- Names and traces ----------------------------------------------------------------

#[test]
fn action_and_priority_names_round_trip() {
    for name in Action::NAMES {
        let a = Action::parse(name).expect("action name");
        assert_eq!((a.as_str(), a.to_string()), (*name, (*name).to_owned()));
    }
    for name in Priority::NAMES {
        let p = Priority::parse(name).expect("priority name");
        assert_eq!((p.as_str(), p.to_string()), (*name, (*name).to_owned()));
    }
    assert_eq!(Action::parse("Open"), None);
    assert_eq!(Priority::parse("urgent"), None);
    assert!(Priority::Critical < Priority::Low, "critical sorts first");
}

#[test]
fn trace_records_each_when_and_lookup_in_order() {
    let m = mapping(
        "  - name: skipped\n    when: never\n    action: open\n    fingerprint: \"{{ id }}\"\n\
         \x20 - name: r\n    action: { from: state, map: { down: open } }\n    fingerprint: \"{{ id }}\"\n    priority: { from: sev, map: { p1: critical }, default: low }\n",
    );
    let mut steps = Vec::new();
    let o = evaluate_traced(
        &m,
        &payload(r#"{"id": "k", "state": "down", "sev": "p7"}"#),
        &mut steps,
    )
    .expect("outcome");
    assert_eq!(
        o,
        evaluate(&m, &payload(r#"{"id": "k", "state": "down", "sev": "p7"}"#)).expect("outcome")
    );
    assert_eq!(
        steps,
        vec![
            Step::When {
                rule: "skipped".into(),
                expr: "never".into(),
                matched: false
            },
            Step::Always { rule: "r".into() },
            Step::Lookup {
                rule: "r".into(),
                table: "action",
                from: "state".into(),
                key: Some("down".into()),
                entry: "hit",
                value: Some("open".into())
            },
            Step::Lookup {
                rule: "r".into(),
                table: "priority",
                from: "sev".into(),
                key: Some("p7".into()),
                entry: "default",
                value: Some("low".into())
            },
        ]
    );
}
