//! The fixture sequences of `tests/fixtures/README.md`, over HTTP, on both backends.

use http::{Method, StatusCode};
use serde_json::Value;

use crate::harness::{fixture, Gateway, STATUSCAKE_TOKEN};

crate::both_backends!(
    down_repeat_up_is_one_incident_opened_updated_resolved,
    statuspage_incident_lifecycle_is_one_incident,
    up_with_nothing_open_is_already_resolved_and_creates_nothing,
    down_after_resolve_opens_a_new_incident,
    component_degraded_major_operational_is_one_incident,
    maintenance_in_progress_opens_low,
    token_via_header_and_rotated_token_are_accepted,
    get_webhook_reads_fields_from_the_query,
    unmapped_status_is_ignored_with_reason,
);

fn transition(json: &Value) -> &str {
    json["transition"].as_str().unwrap_or("<none>")
}

async fn down_repeat_up_is_one_incident_opened_updated_resolved(gw: &Gateway) {
    let (s, open) = gw.post_fixture("statuscake", "down-basic.form").await;
    assert_eq!(s, StatusCode::ACCEPTED, "{open}");
    assert_eq!(transition(&open), "opened");
    assert_eq!(open["action"], "open");
    assert_eq!(open["priority"], "high");
    assert_eq!(
        open["fingerprint"],
        "Example Website|https://www.example.com"
    );
    let id = open["incident_id"]
        .as_str()
        .expect("incident id")
        .to_owned();

    let (_, repeat) = gw.post_fixture("statuscake", "down-repeat.form").await;
    assert_eq!(transition(&repeat), "updated");
    assert_eq!(repeat["incident_id"], id.as_str());

    let (_, up) = gw.post_fixture("statuscake", "up-basic.form").await;
    assert_eq!(transition(&up), "resolved", "{up}");
    assert_eq!(up["action"], "resolve");
    assert_eq!(up["incident_id"], id.as_str());

    let (s, incident) = gw.admin_get(&format!("/v1/incidents/{id}")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(incident["status"], "resolved");
    assert_eq!(incident["event_count"], 2);
    assert!(incident["resolved_at"].is_string());
    assert_eq!(gw.incidents().await.len(), 1);
}

async fn statuspage_incident_lifecycle_is_one_incident(gw: &Gateway) {
    let mut ids = Vec::new();
    for (name, expected) in [
        ("incident-investigating-critical.json", "opened"),
        ("incident-identified-critical.json", "updated"),
        ("incident-monitoring-critical.json", "updated"),
        ("incident-resolved-critical.json", "resolved"),
    ] {
        let (s, json) = gw.post_fixture("statuspage", name).await;
        assert_eq!(s, StatusCode::ACCEPTED, "{name}: {json}");
        assert_eq!(transition(&json), expected, "{name}: {json}");
        assert_eq!(json["fingerprint"], "incident:lbkhbwn21v5q", "{name}");
        ids.push(json["incident_id"].clone());
    }
    assert!(
        ids.windows(2).all(|w| w[0] == w[1]),
        "one incident: {ids:?}"
    );
    let (_, open) = gw
        .post_fixture("statuspage", "incident-investigating-critical.json")
        .await;
    assert_eq!(open["priority"], "critical");
}

async fn up_with_nothing_open_is_already_resolved_and_creates_nothing(gw: &Gateway) {
    let (s, json) = gw.post_fixture("statuscake", "up-minimal.form").await;
    assert_eq!(s, StatusCode::ACCEPTED);
    assert_eq!(transition(&json), "already_resolved");
    assert_eq!(json["incident_id"], Value::Null);
    assert!(gw.incidents().await.is_empty());
}

async fn down_after_resolve_opens_a_new_incident(gw: &Gateway) {
    let (_, first) = gw.post_fixture("statuscake", "down-minimal.form").await;
    let (_, up) = gw.post_fixture("statuscake", "up-minimal.form").await;
    assert_eq!(transition(&up), "resolved");
    let (_, second) = gw.post_fixture("statuscake", "down-minimal.form").await;
    assert_eq!(transition(&second), "opened");
    assert_ne!(first["incident_id"], second["incident_id"]);
    assert_eq!(first["fingerprint"], second["fingerprint"]);
}

async fn component_degraded_major_operational_is_one_incident(gw: &Gateway) {
    let (_, a) = gw
        .post_fixture("statuspage", "component-degraded-performance.json")
        .await;
    assert_eq!(transition(&a), "opened", "{a}");
    assert_eq!(a["fingerprint"], "component:rb5wq1dczvbm");
    assert_eq!(a["priority"], "medium");
    let (_, b) = gw
        .post_fixture("statuspage", "component-major-outage.json")
        .await;
    assert_eq!(transition(&b), "updated", "{b}");
    let (_, c) = gw
        .post_fixture("statuspage", "component-operational.json")
        .await;
    assert_eq!(transition(&c), "resolved", "{c}");
    assert_eq!(a["incident_id"], c["incident_id"]);
}

async fn maintenance_in_progress_opens_low(gw: &Gateway) {
    let (_, json) = gw
        .post_fixture("statuspage", "maintenance-in-progress.json")
        .await;
    assert_eq!(transition(&json), "opened", "{json}");
    assert_eq!(json["priority"], "low");
    assert_eq!(json["fingerprint"], "incident:m5k8q2w7e4rt");
}

async fn token_via_header_and_rotated_token_are_accepted(gw: &Gateway) {
    for token in [STATUSCAKE_TOKEN, "sc-rotated-token"] {
        let (s, _, json) = gw
            .send(
                Method::POST,
                "/hooks/statuscake",
                &[
                    ("x-itoc360-token", token),
                    ("content-type", "application/x-www-form-urlencoded"),
                ],
                fixture("statuscake/down-timeout.form"),
            )
            .await;
        assert_eq!(s, StatusCode::ACCEPTED, "{json}");
    }
}

async fn get_webhook_reads_fields_from_the_query(gw: &Gateway) {
    let (s, _, json) = gw
        .send(
            Method::GET,
            &format!("/hooks/statuscake?Status=Down&Name=Get+Test&URL=https%3A%2F%2Fget.example.com&token={STATUSCAKE_TOKEN}"),
            &[],
            bytes::Bytes::new(),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{json}");
    assert_eq!(transition(&json), "opened");
    assert_eq!(json["fingerprint"], "Get Test|https://get.example.com");
}

async fn unmapped_status_is_ignored_with_reason(gw: &Gateway) {
    let (s, _, json) = gw
        .send(
            Method::POST,
            &format!("/hooks/statuscake?token={STATUSCAKE_TOKEN}"),
            &[("content-type", "application/x-www-form-urlencoded")],
            "Status=Paused&Name=P&URL=https%3A%2F%2Fp.example.com",
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    assert_eq!(transition(&json), "ignored");
    assert_eq!(json["incident_id"], Value::Null);
    assert!(
        json["reason"].as_str().unwrap_or("").contains("Paused"),
        "{json}"
    );
    assert!(gw.incidents().await.is_empty());
}
