//! The shipped fan-out and monitor integrations (Alertmanager, Grafana, UptimeRobot,
//! Uptime Kuma, generic) as an admin meets them: every collected payload through
//! `alertgate eval` against its folder's EXPECTED.md, the fan-out answer shape, and the
//! shaped decode.

use serde_json::Value;

#[path = "support/cli.rs"]
mod cli;

use cli::{alertgate, eval, eval_fixture, root};

/// (action, fingerprint, priority; None = not checked (resolves), title)
type Row = (
    &'static str,
    &'static str,
    Option<&'static str>,
    &'static str,
);

/// The label-set fingerprint the Alertmanager mapping falls back to.
fn label_key(labels: &Value) -> String {
    serde_json::to_string(labels).expect("labels")
}

fn check_results(source: &str, file: &str, rows: &[Row]) {
    let out = eval_fixture(source, file, &[]);
    let results = out["results"]
        .as_array()
        .unwrap_or_else(|| panic!("{file}: {out}"));
    assert_eq!(results.len(), rows.len(), "{file}: {out}");
    let body: Value = serde_json::from_slice(
        &std::fs::read(root().join("tests/fixtures").join(source).join(file)).expect("fixture"),
    )
    .expect("json");
    for (i, (result, (action, fingerprint, priority, title))) in
        results.iter().zip(rows).enumerate()
    {
        let fingerprint = if fingerprint.is_empty() {
            label_key(&body["alerts"][i]["labels"])
        } else {
            (*fingerprint).to_owned()
        };
        assert_eq!(result["action"], *action, "{file}[{i}]");
        assert_eq!(result["fingerprint"], fingerprint.as_str(), "{file}[{i}]");
        if let Some(p) = priority {
            assert_eq!(result["priority"], *p, "{file}[{i}]");
        }
        assert_eq!(result["title"], *title, "{file}[{i}]");
    }
}

/// tests/fixtures/alertmanager/EXPECTED.md, every row. "" = the label-set fallback.
#[test]
fn alertmanager_fixtures_get_their_expected_outcomes() {
    let cpu = "High CPU core temperature";
    let two_critical: &[Row] = &[
        ("open", "a1bc48475b20e73d", Some("critical"), cpu),
        ("open", "c2ea85182f28cbd9", Some("critical"), cpu),
    ];
    check_results("alertmanager", "firing-critical-summary.json", two_critical);
    check_results("alertmanager", "extra-top-level-fields.json", two_critical);
    check_results(
        "alertmanager",
        "firing-three-no-summary.json",
        &[
            ("open", "f404ecabc8dd5cd7", Some("critical"), "InstanceDown"),
            ("open", "f8f08d4e32c61a9d", Some("critical"), "InstanceDown"),
            ("open", "39f38c0611ee7abd", Some("critical"), "InstanceDown"),
        ],
    );
    check_results(
        "alertmanager",
        "mixed-no-severity.json",
        &[
            (
                "resolve",
                "20ff339993fb7178",
                None,
                "【机器节点下线】Instance 192.168.80.94:9100 down",
            ),
            (
                "open",
                "120cb5c2008192c9",
                Some("medium"),
                "【机器节点下线】Instance 192.168.80.94:9101 down",
            ),
        ],
    );
    check_results(
        "alertmanager",
        "mixed-severity-case.json",
        &[
            ("resolve", "ef8e10c065780d35", None, "Network map[] change"),
            (
                "open",
                "4c3ea395fcf5a715",
                Some("medium"),
                "Network map[] change",
            ),
        ],
    );
    check_results(
        "alertmanager",
        "resolved-all.json",
        &[(
            "resolve",
            "fbab788ec4c1018b",
            None,
            "Kubernetes Deployment Replicas Mismatch",
        )],
    );
    let icmp: Row = ("open", "", Some("medium"), "ICMP ping failed");
    check_results("alertmanager", "no-fingerprint-firing.json", &[icmp; 3]);
    let icmp_resolved: Row = ("resolve", "", None, "ICMP ping failed");
    check_results(
        "alertmanager",
        "no-fingerprint-resolved.json",
        &[icmp_resolved; 3],
    );
    check_results(
        "alertmanager",
        "no-fingerprint-no-alert-status.json",
        &[("open", "", Some("medium"), "Server High Memory usage")],
    );
    check_results(
        "alertmanager",
        "severities.json",
        &[
            (
                "open",
                "0b4948975c57ca92",
                Some("critical"),
                "High CPU core temperature on andromeda-0",
            ),
            (
                "open",
                "fec96c8c00ec59f4",
                Some("high"),
                "High CPU core temperature on andromeda-1",
            ),
            (
                "open",
                "526845b0e2bcb78f",
                Some("high"),
                "High CPU Temperature",
            ),
            (
                "open",
                "1351693456a24080",
                Some("medium"),
                "High CPU core temperature on andromeda-3",
            ),
            (
                "open",
                "1141beba4e27192d",
                Some("low"),
                "High CPU Temperature",
            ),
            (
                "open",
                "1e4e57434d40d74d",
                Some("medium"),
                "High CPU Temperature",
            ),
            (
                "open",
                "acc03ee7aeac9496",
                Some("medium"),
                "High CPU core temperature on andromeda-6",
            ),
        ],
    );
    // The firing and the resolve of an old sender's alerts get the same keys.
    let firing = eval_fixture("alertmanager", "no-fingerprint-firing.json", &[]);
    let resolved = eval_fixture("alertmanager", "no-fingerprint-resolved.json", &[]);
    for i in 0..3 {
        assert_eq!(
            firing["results"][i]["fingerprint"],
            resolved["results"][i]["fingerprint"]
        );
    }
}

/// tests/fixtures/grafana/EXPECTED.md, every row.
#[test]
fn grafana_fixtures_get_their_expected_outcomes() {
    check_results(
        "grafana",
        "firing-docs-example.json",
        &[
            (
                "open",
                "c6eadffa33fcdf37",
                Some("medium"),
                "This alert was triggered for zone us-1",
            ),
            (
                "open",
                "bc97ff14869b13e3",
                Some("medium"),
                "This alert was triggered for zone eu-1",
            ),
        ],
    );
    check_results(
        "grafana",
        "firing-values-v11.json",
        &[(
            "open",
            "e6349a25f5ef0e9e",
            Some("medium"),
            "High memory usage",
        )],
    );
    check_results(
        "grafana",
        "firing-grafana12-test-alert.json",
        &[("open", "c4edaaf9f9f839b0", Some("medium"), "TEST")],
    );
    check_results(
        "grafana",
        "mixed.json",
        &[
            (
                "resolve",
                "aaafafe0953f0962",
                None,
                "This is a summary field, failure on badhost.example.com",
            ),
            (
                "resolve",
                "fb31814ac93dbe7d",
                None,
                "This is a summary field, failure on otherhost.example.com",
            ),
            (
                "open",
                "6f9cd313db421ef1",
                Some("medium"),
                "Testing **another** failing alert",
            ),
        ],
    );
    check_results(
        "grafana",
        "resolved.json",
        &[(
            "resolve",
            "d8a21484c9c25a60",
            None,
            "This is a summary field, failure on <no value>",
        )],
    );
    check_results(
        "grafana",
        "firing-no-summary.json",
        &[(
            "open",
            "93070e04dcab3ea0",
            Some("medium"),
            "systemd failures",
        )],
    );
    check_results(
        "grafana",
        "resolved-no-summary.json",
        &[("resolve", "93070e04dcab3ea0", None, "systemd failures")],
    );
    // Per-alert Grafana fields are kept as labels.
    let out = eval_fixture("grafana", "firing-values-v11.json", &[]);
    let labels = &out["results"][0]["labels"];
    assert!(labels["values"].is_object(), "{labels}");
    assert!(labels["dashboardURL"].is_string(), "{labels}");
}

/// tests/fixtures/uptimerobot/EXPECTED.md and uptimekuma/EXPECTED.md, every row.
#[test]
fn monitor_fixtures_get_their_expected_outcomes() {
    let single = |source: &str, file: &str, extra: &[&str], action: &str, fp: Option<&str>| {
        let out = eval_fixture(source, file, extra);
        assert_eq!(out["action"], action, "{file}: {out}");
        if let Some(fp) = fp {
            assert_eq!(out["fingerprint"], fp, "{file}: {out}");
        }
        out
    };
    let down = single("uptimerobot", "down.json", &[], "open", Some("784350743"));
    assert_eq!(down["title"], "ZUTesting (HTTP 502 - Bad Gateway)");
    assert!(
        down["labels"].get("alert_duration").is_none(),
        "an unfilled placeholder is absent: {down}"
    );
    single("uptimerobot", "up.json", &[], "resolve", Some("784350743"));
    let ssl = single(
        "uptimerobot",
        "ssl-expiry.json",
        &[],
        "open",
        Some("784350743:ssl"),
    );
    assert_eq!(ssl["priority"], "low");
    assert_eq!(ssl["title"], "ZUTesting (SSL expires in 5 days)");
    let query = single(
        "uptimerobot",
        "down.query",
        &["--method", "GET"],
        "open",
        Some("778368750"),
    );
    assert_eq!(
        query["title"],
        "ur checker (HTTP 500 - Internal Server Error)"
    );
    let form = single("uptimerobot", "down.form", &[], "open", Some("778368750"));
    assert_eq!(form, query, "the form gives what the query gives");

    single("uptimekuma", "down.json", &[], "open", Some("89"));
    single("uptimekuma", "up.json", &[], "resolve", Some("89"));
    let again = single("uptimekuma", "down-again.json", &[], "open", Some("89"));
    assert_eq!(
        again["title"],
        "test: getaddrinfo ENOTFOUND exampleasdsda.com"
    );
    let test = single("uptimekuma", "test-notification.json", &[], "ignore", None);
    assert_eq!(test["fingerprint"], Value::Null);
}

/// tests/fixtures/generic/EXPECTED.md: one alert → the single object, a batch → results.
#[test]
fn generic_fixtures_single_and_batch() {
    let one = eval_fixture("generic", "firing.json", &[]);
    assert_eq!(one["action"], "open");
    assert_eq!(one["fingerprint"], "db-1/disk");
    assert_eq!(one["priority"], "critical");
    assert!(one.get("results").is_none());
    let resolved = eval_fixture("generic", "resolved.json", &[]);
    assert_eq!(resolved["action"], "resolve");
    let minimal = eval_fixture("generic", "minimal.json", &[]);
    assert_eq!(minimal["priority"], "medium");
    assert_eq!(minimal["title"], "cron/backup");

    let batch = eval_fixture("generic", "batch.json", &[]);
    let actions: Vec<&str> = batch["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["action"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(actions, ["open", "resolve", "open"]);

    let mixed = eval_fixture("generic", "batch-mixed.json", &[]);
    let results = mixed["results"].as_array().expect("results");
    assert_eq!(results.len(), 4);
    assert_eq!(results[0]["action"], "open");
    assert_eq!(results[1]["action"], Value::Null);
    assert_eq!(results[1]["error"]["code"], "unprocessable_payload");
    assert!(results[1]["error"]["message"]
        .as_str()
        .is_some_and(|m| m.contains("missing field `status`")));
    assert_eq!(results[2]["action"], "ignore");
    assert_eq!(results[3]["error"]["code"], "unprocessable_payload");

    let empty = eval_fixture("generic", "batch-empty.json", &[]);
    assert_eq!(empty, serde_json::json!({ "results": [] }));
}

#[test]
fn explain_gives_steps_per_element() {
    let out = eval_fixture("alertmanager", "mixed-severity-case.json", &["--explain"]);
    let results = out["results"].as_array().expect("results");
    assert_eq!(results.len(), 2);
    for (result, key) in results.iter().zip(["resolved", "firing"]) {
        let steps = result["steps"].as_array().expect("steps");
        assert_eq!(steps[0]["step"], "always");
        assert_eq!(steps[1]["table"], "action");
        assert_eq!(steps[1]["key"], key);
    }
}

#[test]
fn eval_exits_1_when_the_payload_or_every_element_is_rejected() {
    let dir = tempfile::tempdir().expect("tempdir");
    let no_alerts = dir.path().join("no-alerts.json");
    std::fs::write(&no_alerts, r#"{"status":"firing"}"#).expect("write");
    let out = eval("alertmanager.yaml", &no_alerts, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing field `alerts`"));

    let all_bad = dir.path().join("all-bad.json");
    std::fs::write(&all_bad, r#"{"alerts":[{"labels":{"a":"b"}},{}]}"#).expect("write");
    let out = eval("alertmanager.yaml", &all_bad, &[]);
    assert_eq!(out.status.code(), Some(1));
    let json: Value = serde_json::from_slice(&out.stdout).expect("results still printed");
    assert_eq!(json["results"].as_array().map(Vec::len), Some(2));
}

#[test]
fn check_warns_on_a_priority_table_without_default_and_still_passes() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("m.yaml"),
        "integration: m\nrules:\n  - name: r\n    action: open\n    fingerprint: \"{{ id }}\"\n    priority: { from: p, map: { x: high } }\n",
    )
    .expect("write");
    let out = alertgate(&["check", "--mappings", dir.path().to_str().expect("utf-8")]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "warning: {}:6:5: rules[0].priority: priority table without `default`",
            dir.path().join("m.yaml").display()
        )),
        "{err}"
    );
    let shipped = alertgate(&["check", "--mappings", "mappings"]);
    assert!(shipped.status.success());
    assert!(
        !String::from_utf8_lossy(&shipped.stderr).contains("warning"),
        "every shipped priority table has a default"
    );
}

/// The server decodes only what a mapping reads, fan-out elements included: every new
/// fixture gets from the shaped decode what the whole payload gets.
#[test]
fn shaped_decode_gives_the_outcome_of_the_whole_payload() {
    use alertgate::{decode, engine, mapping};
    for source in [
        "alertmanager",
        "grafana",
        "uptimekuma",
        "uptimerobot",
        "generic",
    ] {
        let m = mapping::load_file(&root().join("mappings").join(format!("{source}.yaml")))
            .expect("mapping");
        let dir = root().join("tests/fixtures").join(source);
        for entry in std::fs::read_dir(&dir).expect("fixtures") {
            let file = entry.expect("entry").path();
            let content_type = match file.extension().and_then(|e| e.to_str()) {
                Some("json") => "application/json",
                Some("form" | "query") => "application/x-www-form-urlencoded",
                _ => continue,
            };
            let body = std::fs::read(&file).expect("fixture");
            let whole = decode::decode(&body, Some(content_type), m.decode).expect("decodes");
            let shaped = m.decode_body(&body, Some(content_type)).expect("decodes");
            let run = |payload| match engine::items(&m, payload).expect("items") {
                None => vec![engine::evaluate(&m, payload)],
                Some(items) => items
                    .iter()
                    .map(|item| engine::evaluate_item(&m, payload, item))
                    .collect(),
            };
            assert_eq!(run(&shaped), run(&whole), "{}", file.display());
        }
    }
}

/// An Alertmanager batch builds the fields its rules read, in every alert, and none of
/// the rest: neither the alerts' `startsAt`/`annotations.description` nor the group's
/// `commonLabels`; the group `status` (read through `root()`) is built.
#[test]
fn alertmanager_batch_decodes_the_fields_the_rules_read() {
    let m =
        alertgate::mapping::load_file(&root().join("mappings/alertmanager.yaml")).expect("mapping");
    let body =
        std::fs::read(root().join("tests/fixtures/alertmanager/severities.json")).expect("fixture");
    let shaped = m
        .decode_body(&body, Some("application/json"))
        .expect("decodes");
    let alerts = shaped.get_field("alerts");
    let alerts = alerts.as_array().expect("alerts list");
    assert_eq!(alerts.len(), 7);
    for alert in alerts {
        assert!(alert.get_field("status").is_string());
        assert!(alert.get_field("fingerprint").is_string());
        assert!(alert.get_field("labels").get_field("alertname").is_string());
        assert!(alert.get_field("generatorURL").is_string());
        assert!(alert.get_field("startsAt").is_null());
        assert!(alert
            .get_field("annotations")
            .get_field("description")
            .is_null());
    }
    assert!(
        shaped.get_field("status").is_string(),
        "root().status is read"
    );
    assert!(shaped.get_field("commonLabels").is_null());
    assert!(shaped.get_field("receiver").is_null());
}
