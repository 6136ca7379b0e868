//! Fan-out: `items`, `evaluate_item`, `root()`, and what a fan-out mapping decodes.

use std::path::Path;

use super::*;
use crate::decode::{self, DecodeMode, Shape};
use crate::mapping::compile_str;

fn mapping(text: &str) -> Mapping {
    compile_str(Path::new("t.yaml"), text).unwrap_or_else(|errors| {
        panic!(
            "test mapping does not compile: {}",
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

const AM: &str = "integration: t\nitems: alerts\nrules:\n  - name: a\n    action:\n      from: \"status || root().status\"\n      map: { firing: open, resolved: resolve }\n    fingerprint: \"{{ root().receiver }}/{{ fp }}\"\n    title: \"{{ labels.name }}\"\n";

#[test]
fn each_element_is_the_current_node_and_root_is_the_payload() {
    let m = mapping(AM);
    let p = payload(
        r#"{"receiver":"r","status":"firing","alerts":[{"status":"resolved","fp":"1"},{"fp":"2","labels":{"name":"N"}}]}"#,
    );
    let items = items(&m, &p).expect("a list").expect("fans out");
    assert_eq!(items.len(), 2);
    let first = evaluate_item(&m, &p, &items[0]).expect("ok");
    assert_eq!(
        (first.action, first.fingerprint.as_deref()),
        (Action::Resolve, Some("r/1"))
    );
    let second = evaluate_item(&m, &p, &items[1]).expect("ok");
    assert_eq!(
        (
            second.action,
            second.fingerprint.as_deref(),
            second.title.as_deref()
        ),
        (Action::Open, Some("r/2"), Some("N"))
    );
}

#[test]
fn missing_or_non_list_items_reject_the_payload_and_empty_is_no_events() {
    let m = mapping(AM);
    let r = items(&m, &payload(r#"{"status":"firing"}"#)).expect_err("missing");
    assert_eq!((r.rule.as_str(), r.field.as_str()), (ITEMS_RULE, "alerts"));
    assert!(r.message.contains("missing field `alerts`"), "{r}");
    let r = items(&m, &payload(r#"{"alerts":"x"}"#)).expect_err("not a list");
    assert!(r.message.contains("`alerts` is not a list"), "{r}");
    assert_eq!(
        items(&m, &payload(r#"{"alerts":[]}"#))
            .expect("ok")
            .map(|v| v.len()),
        Some(0)
    );
}

#[test]
fn items_when_decides_between_one_event_and_a_batch() {
    let m = mapping("integration: t\nitems: { from: alerts, when: \"alerts != `null`\" }\nrules:\n  - name: a\n    action: { from: s, map: { x: open } }\n    fingerprint: \"{{ k }}\"\n");
    assert!(items(&m, &payload(r#"{"s":"x","k":"1"}"#))
        .expect("ok")
        .is_none());
    let one = evaluate(&m, &payload(r#"{"s":"x","k":"1"}"#)).expect("single");
    assert_eq!(one.fingerprint.as_deref(), Some("1"));
    assert_eq!(
        items(&m, &payload(r#"{"alerts":[{"s":"x","k":"2"}]}"#))
            .expect("ok")
            .map(|v| v.len()),
        Some(1)
    );
}

#[test]
fn without_fan_out_root_is_the_payload() {
    let m = mapping("integration: t\nrules:\n  - name: a\n    action: open\n    fingerprint: \"{{ root().k }}-{{ k }}\"\n");
    let o = evaluate(&m, &payload(r#"{"k":"v"}"#)).expect("ok");
    assert_eq!(o.fingerprint.as_deref(), Some("v-v"));
}

#[test]
fn a_fan_out_mapping_reads_each_element_and_the_root_paths_only() {
    let m = mapping(AM);
    let element = Shape::field("status", Shape::All)
        .union(Shape::field("fp", Shape::All))
        .union(Shape::field("labels", Shape::field("name", Shape::All)));
    let expected = Shape::field("alerts", Shape::each(element))
        .union(Shape::field("status", Shape::All))
        .union(Shape::field("receiver", Shape::All));
    assert_eq!(m.reads, expected);
    // A filter is not a path the decoder follows: everything is built.
    let m =
        mapping("integration: t\nitems: \"alerts[?x]\"\nrules:\n  - name: a\n    action: ignore\n");
    assert_eq!(
        m.reads,
        Shape::field("alerts", Shape::All).union(Shape::All)
    );
}
