//! Fan-out over HTTP: one request, one store step and one result per element, in order;
//! per-element rejections; 202 / 422 / 413 / 503; per-element metrics; configured methods.

use http::{Method, StatusCode};
use serde_json::{json, Value};

use crate::harness::{fixture, Backend, Gateway, ALERTMANAGER_TOKEN, GRAFANA_TOKEN};
use crate::outage::relayed_gateway;

const JSON: (&str, &str) = ("content-type", "application/json");

fn am_hook() -> String {
    format!("/hooks/alertmanager?token={ALERTMANAGER_TOKEN}")
}

async fn post(gw: &Gateway, path: &str, body: impl Into<bytes::Bytes>) -> (StatusCode, Value) {
    let (status, _, json) = gw.send(Method::POST, path, &[JSON], body).await;
    (status, json)
}

/// Each element's `key` in a fan-out answer's `results`.
pub(crate) fn field<'a>(json: &'a Value, key: &str) -> Vec<&'a Value> {
    json["results"]
        .as_array()
        .unwrap_or_else(|| panic!("no results: {json}"))
        .iter()
        .map(|r| &r[key])
        .collect()
}

/// The request count: one observation of the duration histogram per request.
fn requests_counted(gw: &Gateway) -> u64 {
    let text = gw.state.metrics().encode();
    text.lines()
        .find_map(|l| l.strip_prefix("alertgate_webhook_duration_seconds_count "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no duration count in {text}"))
}

crate::both_backends!(
    alertmanager_batch_opens_and_resolves_one_incident_per_alert,
    bad_elements_are_rejected_alone_and_all_bad_is_422,
    a_batch_is_sent_together_each_element_its_own_step_in_order,
);

/// The store calls of `op` so far (`alertgate_store_duration_seconds_count`).
fn store_calls(gw: &Gateway, op: &str) -> u64 {
    let text = gw.state.metrics().encode();
    let prefix = format!("alertgate_store_duration_seconds_count{{op=\"{op}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

fn alerts(statuses: &[(&str, String)]) -> String {
    let alerts: Vec<Value> = statuses
        .iter()
        .map(|(status, fp)| {
            json!({"status": status, "fingerprint": fp, "labels": {"alertname": fp}})
        })
        .collect();
    json!({"status": "firing", "alerts": alerts}).to_string()
}

/// Far below `max_open`, a payload's steps are sent together (one `apply` store call: on
/// Redis one pipeline), each element still its own step, in payload order: an alert
/// opened and resolved in one payload ends resolved; Redis forgetting its scripts costs
/// nothing but their reload.
async fn a_batch_is_sent_together_each_element_its_own_step_in_order(gw: &Gateway) {
    let fps: Vec<String> = (0..100).map(|i| format!("batch-{i}")).collect();
    let firing: Vec<(&str, String)> = fps.iter().map(|f| ("firing", f.clone())).collect();
    let (status, json) = post(gw, &am_hook(), alerts(&firing)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{json}");
    assert_eq!(field(&json, "transition"), vec![&json!("opened"); 100]);
    let ids = field(&json, "incident_id");
    let ids: Vec<Value> = ids.into_iter().cloned().collect();
    assert_eq!(store_calls(gw, "apply"), 1, "one call for the payload");

    // Each alert again, then resolved, in one payload: updated then resolved, in order.
    let mixed: Vec<(&str, String)> = fps
        .iter()
        .flat_map(|f| [("firing", f.clone()), ("resolved", f.clone())])
        .collect();
    let (status, json) = post(gw, &am_hook(), alerts(&mixed)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{json}");
    let transitions = field(&json, "transition");
    for pair in transitions.chunks(2) {
        assert_eq!(pair, [&json!("updated"), &json!("resolved")], "{json}");
    }
    let again: Vec<Value> = field(&json, "incident_id")
        .into_iter()
        .step_by(2)
        .cloned()
        .collect();
    assert_eq!(again, ids, "the same incidents, in order");

    if let Some(url) = gw.redis_url() {
        let client = ::redis::Client::open(url).expect("redis url");
        let mut conn = client.get_connection().expect("redis connection");
        let _: () = ::redis::cmd("SCRIPT")
            .arg("FLUSH")
            .query(&mut conn)
            .expect("SCRIPT FLUSH");
    }
    let (status, json) = post(gw, &am_hook(), alerts(&firing)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{json}");
    assert_eq!(field(&json, "transition"), vec![&json!("opened"); 100]);
    assert_eq!(store_calls(gw, "apply"), 3);
    let incidents = gw.incidents().await;
    assert_eq!(incidents.len(), 200);
    assert_eq!(
        incidents.iter().filter(|i| i["status"] == "open").count(),
        100
    );
}

async fn alertmanager_batch_opens_and_resolves_one_incident_per_alert(gw: &Gateway) {
    let (status, json) = post(
        gw,
        &am_hook(),
        fixture("alertmanager/firing-three-no-summary.json"),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{json}");
    assert_eq!(field(&json, "action"), [&json!("open"); 3]);
    assert_eq!(field(&json, "transition"), [&json!("opened"); 3]);
    assert_eq!(
        field(&json, "fingerprint"),
        [
            &json!("f404ecabc8dd5cd7"),
            &json!("f8f08d4e32c61a9d"),
            &json!("39f38c0611ee7abd")
        ]
    );
    assert_eq!(field(&json, "priority"), [&json!("critical"); 3]);
    let ids: Vec<&Value> = field(&json, "incident_id");
    assert!(ids.iter().all(|id| id.is_string()), "{json}");
    assert!(
        ids[0] != ids[1] && ids[1] != ids[2] && ids[0] != ids[2],
        "{json}"
    );
    assert_eq!(gw.incidents().await.len(), 3);

    // The same notification again updates the three; then each one resolves.
    let (_, json) = post(
        gw,
        &am_hook(),
        fixture("alertmanager/firing-three-no-summary.json"),
    )
    .await;
    assert_eq!(field(&json, "transition"), [&json!("updated"); 3]);
    assert_eq!(field(&json, "incident_id"), ids);
    let mut resolved: Value =
        serde_json::from_slice(&fixture("alertmanager/firing-three-no-summary.json"))
            .expect("json");
    resolved["status"] = json!("resolved");
    for alert in resolved["alerts"].as_array_mut().expect("alerts") {
        alert["status"] = json!("resolved");
    }
    let (status, json) = post(gw, &am_hook(), resolved.to_string()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{json}");
    assert_eq!(field(&json, "transition"), [&json!("resolved"); 3]);
    assert_eq!(field(&json, "incident_id"), ids);
    let incidents = gw.incidents().await;
    assert_eq!(incidents.len(), 3);
    assert!(
        incidents.iter().all(|i| i["status"] == "resolved"),
        "{incidents:?}"
    );

    // Metrics: each element's transition; the request once.
    let m = gw.state.metrics();
    assert_eq!(m.webhooks("alertmanager", "opened"), 3);
    assert_eq!(m.webhooks("alertmanager", "updated"), 3);
    assert_eq!(m.webhooks("alertmanager", "resolved"), 3);
    assert_eq!(requests_counted(gw), 3);
}

async fn bad_elements_are_rejected_alone_and_all_bad_is_422(gw: &Gateway) {
    // In order: open, no status anywhere (rejected), unknown status (ignore, accepted),
    // no fingerprint nor labels (rejected), resolve of nothing.
    let body = json!({"alerts": [
        {"status": "firing", "fingerprint": "a", "labels": {"alertname": "A"}},
        {"fingerprint": "b", "labels": {"alertname": "B"}},
        {"status": "pending", "fingerprint": "c", "labels": {"alertname": "C"}},
        {"status": "firing"},
        {"status": "resolved", "fingerprint": "d", "labels": {"alertname": "D"}},
    ]});
    let (status, json) = post(gw, &am_hook(), body.to_string()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{json}");
    assert_eq!(
        field(&json, "transition"),
        [
            &json!("opened"),
            &Value::Null,
            &json!("ignored"),
            &Value::Null,
            &json!("already_resolved")
        ]
    );
    let results = json["results"].as_array().expect("results");
    for i in [1, 3] {
        assert_eq!(
            results[i]["error"]["code"], "unprocessable_payload",
            "{json}"
        );
        assert!(results[i]["action"].is_null());
    }
    assert!(results[1]["error"]["message"]
        .as_str()
        .is_some_and(|m| m.contains("missing field `status || root().status`")));
    assert!(results[2]["reason"]
        .as_str()
        .is_some_and(|r| r.contains("pending")));
    assert!(results[0].get("error").is_none() && results[0].get("reason").is_none());
    assert_eq!(gw.state.metrics().webhooks("alertmanager", "rejected"), 2);

    // Every element rejected: 422, the same body.
    let (status, json) = post(
        gw,
        &am_hook(),
        json!({"alerts": [{}, {"status": "firing"}]}).to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{json}");
    assert_eq!(field(&json, "error").len(), 2);
    assert!(field(&json, "error")
        .iter()
        .all(|e| e["code"] == "unprocessable_payload"));

    // An empty list: 202, no results. No list: 422 naming the field.
    let (status, json) = post(gw, &am_hook(), r#"{"status":"firing","alerts":[]}"#).await;
    assert_eq!(
        (status, json),
        (StatusCode::ACCEPTED, json!({"results": []}))
    );
    let (status, json) = post(gw, &am_hook(), r#"{"status":"firing"}"#).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{json}");
    assert_eq!(json["error"]["code"], "unprocessable_payload");
    assert!(json["error"]["message"]
        .as_str()
        .is_some_and(|m| m.contains("missing field `alerts`")));
    let (status, json) = post(gw, &am_hook(), r#"{"alerts":{"status":"firing"}}"#).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{json}");
    assert!(json["error"]["message"]
        .as_str()
        .is_some_and(|m| m.contains("`alerts` is not a list")));
    assert_eq!(gw.incidents().await.len(), 1, "only alert `a` opened");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_items_than_the_limit_is_413_and_changes_nothing() {
    let gw = Gateway::start_with(Backend::Memory, "limits:\n  max_items_per_payload: 2")
        .await
        .expect("gateway");
    let (status, json) = post(
        &gw,
        &am_hook(),
        fixture("alertmanager/firing-three-no-summary.json"),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{json}");
    assert_eq!(json["error"]["code"], "payload_too_large");
    assert!(json["error"]["message"]
        .as_str()
        .is_some_and(|m| m.contains("3 items, more than the 2")));
    let (status, _) = post(
        &gw,
        &am_hook(),
        fixture("alertmanager/firing-critical-summary.json"),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::ACCEPTED,
        "two items are within the limit"
    );
    assert_eq!(gw.incidents().await.len(), 2);
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configured_methods_are_served_and_405_lists_them() {
    let gw = Gateway::start(Backend::Memory).await.expect("gateway");
    let hook = format!("/hooks/grafana?token={GRAFANA_TOKEN}");
    let (status, _, json) = gw
        .send(
            Method::PUT,
            &hook,
            &[JSON],
            fixture("grafana/firing-docs-example.json"),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{json}");
    assert_eq!(field(&json, "transition"), [&json!("opened"); 2]);
    let (status, _, json) = gw
        .send(
            Method::POST,
            &hook,
            &[JSON],
            fixture("grafana/resolved-no-summary.json"),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{json}");
    for method in [Method::GET, Method::PATCH] {
        let (status, headers, json) = gw.send(method, &hook, &[], bytes::Bytes::new()).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{json}");
        assert_eq!(headers["allow"], "POST, PUT");
        assert!(json["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("POST, PUT")));
    }
    // A source without `methods` keeps GET and POST.
    let (status, headers, _) = gw
        .send(Method::PUT, &am_hook(), &[JSON], bytes::Bytes::new())
        .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(headers["allow"], "GET, POST");
    gw.stop().await;
}

/// The store gone: elements that need it get `store_unavailable`, the others keep their
/// own result, and the answer is 503 with `Retry-After`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_failure_is_503_with_each_element_result() {
    let Some((gw, relay, _)) = relayed_gateway().await else {
        return;
    };
    relay.cut();
    let body = json!({"alerts": [
        {"status": "pending", "fingerprint": "i", "labels": {"alertname": "I"}},
        {"status": "firing", "fingerprint": "a", "labels": {"alertname": "A"}},
        {"labels": {}},
        {"status": "firing", "fingerprint": "b", "labels": {"alertname": "B"}},
    ]});
    let (status, headers, json) = gw
        .send(Method::POST, &am_hook(), &[JSON], body.to_string())
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{json}");
    assert_eq!(
        headers.get("retry-after").and_then(|v| v.to_str().ok()),
        Some("5")
    );
    let results = json["results"].as_array().expect("results");
    assert_eq!(results[0]["transition"], "ignored");
    for i in [1, 3] {
        assert_eq!(results[i]["error"]["code"], "store_unavailable", "{json}");
        assert_eq!(results[i]["action"], "open");
        assert!(results[i]["transition"].is_null());
    }
    assert_eq!(results[2]["error"]["code"], "unprocessable_payload");
    let m = gw.state.metrics();
    assert_eq!(m.webhooks("alertmanager", "error"), 2);
    assert_eq!(m.webhooks("alertmanager", "ignored"), 1);
    gw.stop().await;
}
