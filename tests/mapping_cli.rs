//! The mapping CLI as an admin uses it: `eval` on every shipped fixture, `test` on the
//! shipped mappings, `check` on broken files.

use serde_json::Value;

#[path = "support/cli.rs"]
mod cli;

use cli::{alertgate, eval, eval_fixture, root};

/// `tests/fixtures/README.md`'s table of expected outcomes.
#[test]
fn every_fixture_gets_the_documented_outcome() {
    let cases: &[(&str, &str, &str, Option<&str>, &str)] = &[
        (
            "statuscake",
            "down-basic.form",
            "open",
            Some("high"),
            "Example Website|https://www.example.com",
        ),
        (
            "statuscake",
            "down-repeat.form",
            "open",
            Some("high"),
            "Example Website|https://www.example.com",
        ),
        (
            "statuscake",
            "up-basic.form",
            "resolve",
            Some("high"),
            "Example Website|https://www.example.com",
        ),
        (
            "statuscake",
            "down-uppercase-firehydrant.form",
            "open",
            Some("high"),
            "My Website|https://www.example.com",
        ),
        (
            "statuscake",
            "up-uppercase-firehydrant.form",
            "resolve",
            Some("high"),
            "My Website|https://www.example.com",
        ),
        (
            "statuscake",
            "down-timeout.form",
            "open",
            Some("high"),
            "API Health|https://api.example.com/health",
        ),
        (
            "statuscake",
            "down-minimal.form",
            "open",
            Some("high"),
            "Minimal Test|https://minimal.example.com",
        ),
        (
            "statuscake",
            "up-minimal.form",
            "resolve",
            Some("high"),
            "Minimal Test|https://minimal.example.com",
        ),
        (
            "statuspage",
            "incident-investigating-critical.json",
            "open",
            Some("critical"),
            "incident:lbkhbwn21v5q",
        ),
        (
            "statuspage",
            "incident-identified-critical.json",
            "open",
            Some("critical"),
            "incident:lbkhbwn21v5q",
        ),
        (
            "statuspage",
            "incident-monitoring-critical.json",
            "open",
            Some("critical"),
            "incident:lbkhbwn21v5q",
        ),
        (
            "statuspage",
            "incident-resolved-critical.json",
            "resolve",
            Some("critical"),
            "incident:lbkhbwn21v5q",
        ),
        (
            "statuspage",
            "incident-identified-none.json",
            "open",
            Some("low"),
            "incident:z3lct0r596n4",
        ),
        (
            "statuspage",
            "incident-resolved-none.json",
            "resolve",
            Some("low"),
            "incident:z3lct0r596n4",
        ),
        (
            "statuspage",
            "incident-investigating-minor.json",
            "open",
            Some("medium"),
            "incident:r3n8m2x7k4pq",
        ),
        (
            "statuspage",
            "component-degraded-performance.json",
            "open",
            Some("medium"),
            "component:rb5wq1dczvbm",
        ),
        (
            "statuspage",
            "component-major-outage.json",
            "open",
            Some("medium"),
            "component:rb5wq1dczvbm",
        ),
        (
            "statuspage",
            "component-operational.json",
            "resolve",
            Some("medium"),
            "component:rb5wq1dczvbm",
        ),
        (
            "statuspage",
            "maintenance-in-progress.json",
            "open",
            Some("low"),
            "incident:m5k8q2w7e4rt",
        ),
    ];
    for (source, file, action, priority, fingerprint) in cases {
        let out = eval_fixture(source, file, &[]);
        assert_eq!(out["action"], *action, "{file}");
        assert_eq!(out["fingerprint"], *fingerprint, "{file}");
        assert_eq!(out["priority"].as_str(), *priority, "{file}");
    }
}

#[test]
fn fixture_missing_status_is_rejected_with_the_field_named() {
    let out = eval(
        "statuscake.yaml",
        &root().join("tests/fixtures/statuscake/invalid-missing-status.form"),
        &[],
    );
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("missing field `Status`"), "{err}");
}

#[test]
fn statuspage_event_time_comes_from_the_payload() {
    let out = eval_fixture("statuspage", "incident-identified-critical.json", &[]);
    assert_eq!(out["event_time"], "2013-05-29T21:18:51Z");
    assert_eq!(out["rule"], "incident");
    assert_eq!(out["title"], "Virginia Is Down");
}

#[test]
fn explain_lists_rules_tried_and_table_entries_hit() {
    let payload = root().join("tests/fixtures/statuspage/incident-identified-none.json");
    let out = eval("statuspage.yaml", &payload, &["--explain"]);
    assert!(out.status.success());
    let json: Value = serde_json::from_slice(&out.stdout).expect("json");
    let steps = json["steps"].as_array().expect("steps");
    assert_eq!(
        steps[0],
        serde_json::json!({"step": "when", "rule": "component", "expr": "component_update", "matched": false})
    );
    assert_eq!(steps[1]["matched"], true);
    assert_eq!(steps[2]["table"], "action");
    assert_eq!(steps[2]["key"], "identified");
    assert_eq!(steps[2]["entry"], "hit");
    assert_eq!(steps[3]["table"], "priority");
    assert_eq!(steps[3]["value"], "low");
}

#[test]
fn get_query_payload_and_content_type_override() {
    let dir = tempfile::tempdir().expect("tempdir");
    let query = dir.path().join("q.txt");
    std::fs::write(&query, "Status=DOWN&Name=Edge%20Router&URL=192.0.2.7\n").expect("write");
    let out = eval("statuscake.yaml", &query, &["--method", "GET"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(json["fingerprint"], "Edge Router|192.0.2.7");
    assert_eq!(json["action"], "open");

    let body = dir.path().join("bad.json");
    std::fs::write(&body, "{\"incident\":").expect("write");
    let out = eval(
        "statuspage.yaml",
        &body,
        &["--content-type", "application/json"],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("malformed JSON body"));
}

#[test]
fn shipped_mapping_tests_all_pass() {
    let out = alertgate(&["test", "--mappings", "mappings"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout
            .lines()
            .last()
            .is_some_and(|l| l.ends_with(" passed, 0 failed")),
        "{stdout}"
    );
    assert!(!stdout.contains("FAIL"), "{stdout}");
}

#[test]
fn failing_mapping_test_prints_a_diff_and_exits_non_zero() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("m.yaml"),
        "integration: m\nrules:\n  - name: r\n    action: { from: s, map: { x: open } }\n    fingerprint: \"{{ id }}\"\ntests:\n  - name: wrong\n    body: '{\"s\":\"x\",\"id\":\"1\"}'\n    expect: { action: resolve, fingerprint: \"2\" }\n",
    )
    .expect("write");
    let out = alertgate(&["test", "--mappings", dir.path().to_str().expect("utf-8")]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success());
    assert!(stdout.contains("FAIL m: wrong"), "{stdout}");
    assert!(
        stdout.contains("action: expected \"resolve\", got \"open\""),
        "{stdout}"
    );
    assert!(
        stdout.contains("fingerprint: expected \"2\", got \"1\""),
        "{stdout}"
    );
    assert!(stdout.contains("0 passed, 1 failed"), "{stdout}");
}

#[test]
fn check_reports_every_problem_of_every_file_with_its_place() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("a.yaml"),
        "integration: a\nrules:\n  - name: r\n    when: \"incident.[\"\n    action: { from: s, map: { x: opne } }\n    fingerprint: \"{{ id }}\"\n",
    )
    .expect("write");
    std::fs::write(
        dir.path().join("b.yaml"),
        "integration: b\nrules:\n  - name: r\n    colour: red\n",
    )
    .expect("write");
    let out = alertgate(&["check", "--mappings", dir.path().to_str().expect("utf-8")]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let a = dir.path().join("a.yaml");
    let b = dir.path().join("b.yaml");
    assert!(
        err.contains(&format!(
            "{}:4:11: rules[0].when: invalid JMESPath",
            a.display()
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{}:5:34: rules[0].action.map.x: unknown action \"opne\"",
            a.display()
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{}:4:5: rules[0].colour: unknown field `colour`",
            b.display()
        )),
        "{err}"
    );
}

#[test]
fn check_passes_on_the_shipped_mappings() {
    let out = alertgate(&["check", "--mappings", "mappings"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The server decodes only what a mapping reads; every fixture must get the outcome the
/// whole payload gets.
#[test]
fn shaped_decode_gives_the_outcome_of_the_whole_payload() {
    use alertgate::{decode, engine, mapping};
    for (source, content_type) in [
        ("statuscake", "application/x-www-form-urlencoded"),
        ("statuspage", "application/json"),
    ] {
        let m = mapping::load_file(&root().join("mappings").join(format!("{source}.yaml")))
            .expect("mapping");
        let dir = root().join("tests/fixtures").join(source);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .expect("fixtures")
            .filter_map(Result::ok)
            .map(|e| e.path())
            .collect();
        files.sort();
        assert!(files.len() >= 9, "{source}: {files:?}");
        for file in files {
            let body = std::fs::read(&file).expect("fixture");
            let whole = decode::decode(&body, Some(content_type), m.decode).expect("decodes");
            let shaped = m.decode_body(&body, Some(content_type)).expect("decodes");
            assert_eq!(
                engine::evaluate(&m, &shaped),
                engine::evaluate(&m, &whole),
                "{}",
                file.display()
            );
        }
    }
}

#[test]
fn statuspage_mapping_never_builds_the_update_history() {
    let m =
        alertgate::mapping::load_file(&root().join("mappings/statuspage.yaml")).expect("mapping");
    let body =
        std::fs::read(root().join("tests/fixtures/statuspage/incident-resolved-critical.json"))
            .expect("fixture");
    let shaped = m
        .decode_body(&body, Some("application/json"))
        .expect("decodes");
    assert!(shaped
        .get_field("incident")
        .get_field("incident_updates")
        .is_null());
    assert!(shaped.get_field("meta").is_null());
    assert_eq!(
        shaped
            .get_field("incident")
            .get_field("status")
            .as_string()
            .map(String::as_str),
        Some("resolved")
    );
}
