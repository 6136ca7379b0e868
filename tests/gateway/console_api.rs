//! The console's API over HTTP: token scopes (403), people's acts as events, the
//! `priority`/`acknowledged` filters, `/v1/events` with `Last-Event-ID` resume,
//! `/v1/eval` errors, recent payloads without tokens, and the security headers.

use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};

use crate::harness::{fixture, Backend, Gateway, ADMIN_TOKEN, STATUSCAKE_TOKEN};

const READ_TOKEN: &str = "read-test-token";
const EXTRA: &str = "admin_tokens:\n  - {name: viewer, token: read-test-token, scope: read}\n";

async fn start(backend: Backend) -> Option<Gateway> {
    Gateway::start_with(backend, EXTRA).await
}

async fn as_reader(gw: &Gateway, method: Method, path: &str) -> (StatusCode, serde_json::Value) {
    let auth = format!("Bearer {READ_TOKEN}");
    let (status, _, json) = gw
        .send(method, path, &[("authorization", &auth)], Bytes::new())
        .await;
    (status, json)
}

/// Reads the event stream from `last_id` until `n` events came (or 10 s passed).
async fn read_events(gw: &Gateway, last_id: Option<&str>, n: usize) -> Vec<(String, String)> {
    let mut builder =
        Request::get(gw.url("/v1/events")).header("authorization", format!("Bearer {ADMIN_TOKEN}"));
    if let Some(id) = last_id {
        builder = builder.header("last-event-id", id);
    }
    let response = gw
        .client
        .request(builder.body(Full::new(Bytes::new())).expect("request"))
        .await
        .expect("response");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut body = response.into_body();
    let mut text = String::new();
    let mut events = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while events.len() < n {
        let frame = tokio::time::timeout_at(deadline, body.frame())
            .await
            .expect("events within 10 s")
            .expect("stream open")
            .expect("frame");
        if let Ok(data) = frame.into_data() {
            text.push_str(&String::from_utf8_lossy(&data));
        }
        while let Some(cut) = text.find("\n\n") {
            let block: String = text.drain(..cut + 2).collect();
            let id = block.lines().find_map(|l| l.strip_prefix("id: "));
            let name = block.lines().find_map(|l| l.strip_prefix("event: "));
            if let (Some(id), Some(name)) = (id, name) {
                events.push((id.to_owned(), name.to_owned()));
            }
        }
    }
    events
}

async fn scopes_acts_and_filters(gw: &Gateway) {
    let (status, opened) = gw.post_fixture("statuscake", "down-basic.form").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{opened}");
    let id = opened["incident_id"].as_str().expect("id").to_owned();
    let (status, _) = gw
        .post_fixture("statuspage", "incident-investigating-critical.json")
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);

    // A read token views, and gets 403 acting; a wrong one 401.
    let (status, _) = as_reader(gw, Method::GET, "/v1/incidents").await;
    assert_eq!(status, StatusCode::OK);
    let (status, json) =
        as_reader(gw, Method::POST, &format!("/v1/incidents/{id}/acknowledge")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{json}");
    assert_eq!(json["error"]["code"], "forbidden");
    let (status, _) = as_reader(gw, Method::POST, "/v1/eval").await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Priority filter, while paging.
    let (status, json) = gw.admin_get("/v1/incidents?priority=critical").await;
    assert_eq!(status, StatusCode::OK);
    let list = json["incidents"].as_array().expect("list");
    assert_eq!(list.len(), 1, "{json}");
    assert_eq!(list[0]["priority"], "critical");
    let (status, json) = gw.admin_get("/v1/incidents?priority=urgent").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{json}");

    // Acknowledge, then the acknowledged filter; twice is 409.
    let (status, json) = gw
        .admin_send(Method::POST, &format!("/v1/incidents/{id}/acknowledge"), "")
        .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(json["incident"]["acknowledged_by"], "user:admin");
    let (status, _) = gw
        .admin_send(Method::POST, &format!("/v1/incidents/{id}/acknowledge"), "")
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (_, json) = gw
        .admin_get("/v1/incidents?status=open&acknowledged=true")
        .await;
    let ids: Vec<&str> = json["incidents"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|i| i["id"].as_str())
        .collect();
    assert_eq!(ids, vec![id.as_str()]);
    let (_, json) = gw
        .admin_get("/v1/incidents?acknowledged=false&limit=1")
        .await;
    assert_eq!(json["incidents"].as_array().expect("list").len(), 1);

    // A note: bounded, recorded as an event.
    let long = format!("{{\"text\": \"{}\"}}", "x".repeat(1001));
    let (status, _) = gw
        .admin_send(Method::POST, &format!("/v1/incidents/{id}/notes"), &long)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = gw
        .admin_send(
            Method::POST,
            &format!("/v1/incidents/{id}/notes"),
            r#"{"text": "on it"}"#,
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    // Resolve by a person frees the key: the next DOWN opens a new incident.
    let (status, json) = gw
        .admin_send(Method::POST, &format!("/v1/incidents/{id}/resolve"), "")
        .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(json["incident"]["status"], "resolved");
    assert_eq!(json["incident"]["resolved_by"], "user:admin");
    let (status, _) = gw
        .admin_send(Method::POST, &format!("/v1/incidents/{id}/resolve"), "")
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (_, again) = gw.post_fixture("statuscake", "down-basic.form").await;
    assert_eq!(again["transition"], "opened");
    let (status, _) = gw
        .admin_send(Method::POST, "/v1/incidents/999999/acknowledge", "")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (_, json) = gw.admin_get(&format!("/v1/incidents/{id}/events")).await;
    let names: Vec<&str> = json["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["transition"].as_str())
        .collect();
    assert_eq!(names, vec!["opened", "acknowledged", "noted", "resolved"]);
    assert_eq!(json["events"][2]["note"], "on it");
    assert_eq!(json["events"][2]["actor"], "user:admin");

    // The stream from the start, then resumed from the second event's id.
    let all = read_events(gw, Some(&first_cursor(gw)), 6).await;
    let names: Vec<&str> = all.iter().map(|(_, n)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "opened",
            "opened",
            "acknowledged",
            "noted",
            "resolved",
            "opened"
        ]
    );
    let resumed = read_events(gw, Some(&all[2].0), 3).await;
    assert_eq!(resumed, all[3..6].to_vec());
}

/// A cursor before every event: the memory store's `0`, the Redis store's empty one.
fn first_cursor(gw: &Gateway) -> String {
    match gw.state.store() {
        alertgate::store::Store::Memory(_) => "0".to_owned(),
        alertgate::store::Store::Redis(_) => "e2:".to_owned(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scopes_acts_and_filters_memory() {
    let gw = start(Backend::Memory).await.expect("gateway");
    scopes_acts_and_filters(&gw).await;
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scopes_acts_and_filters_redis() {
    let Some(gw) = start(Backend::Redis).await else {
        return;
    };
    scopes_acts_and_filters(&gw).await;
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_need_a_token_and_refuse_a_bad_cursor() {
    let gw = start(Backend::Memory).await.expect("gateway");
    let (status, _, _) = gw.send(Method::GET, "/v1/events", &[], Bytes::new()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let auth = format!("Bearer {ADMIN_TOKEN}");
    let (status, _, json) = gw
        .send(
            Method::GET,
            "/v1/events?cursor=nonsense",
            &[("authorization", &auth)],
            Bytes::new(),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{json}");
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eval_explains_and_reports_compile_errors_with_line_and_column() {
    let gw = start(Backend::Memory).await.expect("gateway");
    let payload = String::from_utf8(fixture("statuscake/down-basic.form")).expect("utf8");
    let body = serde_json::json!({
        "source": "statuscake",
        "payload": payload,
        "content_type": "application/x-www-form-urlencoded",
    });
    let (status, json) = gw
        .admin_send(Method::POST, "/v1/eval", &body.to_string())
        .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(json["action"], "open");
    assert!(!json["steps"].as_array().expect("steps").is_empty());
    // Nothing was stored.
    assert!(gw.incidents().await.is_empty());

    let body = serde_json::json!({
        "mapping_yaml": "integration: x\nrules:\n  - name: a\n    action: opne\n",
        "payload": "{}",
    });
    let (status, json) = gw
        .admin_send(Method::POST, "/v1/eval", &body.to_string())
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{json}");
    assert_eq!(json["error"]["code"], "mapping_invalid");
    let first = json["error"]["errors"][0].as_str().expect("an error");
    assert!(first.starts_with("mapping.yaml:"), "{first}");
    assert!(
        first
            .split(':')
            .nth(1)
            .is_some_and(|l| l.parse::<u32>().is_ok()),
        "{first}"
    );

    let body = serde_json::json!({ "source": "statuspage", "payload": "{", "content_type": "application/json" });
    let (status, json) = gw
        .admin_send(Method::POST, "/v1/eval", &body.to_string())
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{json}");
    let (status, _) = gw.admin_send(Method::POST, "/v1/eval", "{}").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recent_payloads_drop_tokens_and_count_traffic() {
    let gw = start(Backend::Memory).await.expect("gateway");
    let (status, _, _) = gw
        .send(
            Method::POST,
            &format!("/hooks/statuscake?token={STATUSCAKE_TOKEN}&x=1"),
            &[("content-type", "application/x-www-form-urlencoded")],
            fixture("statuscake/invalid-missing-status.form"),
        )
        .await;
    assert!(status.is_client_error());
    let (status, _, _) = gw
        .send(
            Method::POST,
            "/hooks/statuscake",
            &[
                ("content-type", "application/x-www-form-urlencoded"),
                ("x-itoc360-token", STATUSCAKE_TOKEN),
            ],
            fixture("statuscake/invalid-missing-status.form"),
        )
        .await;
    assert!(status.is_client_error());
    gw.post_fixture("statuscake", "down-basic.form").await;
    let (status, json) = as_reader(&gw, Method::GET, "/v1/sources/statuscake/recent").await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(json["accepted"], 1);
    assert_eq!(json["rejected"], 2);
    let payloads = json["payloads"].as_array().expect("payloads");
    assert_eq!(payloads.len(), 2);
    assert_eq!(payloads[1]["query"], "x=1");
    assert_eq!(payloads[0]["outcome"], "rejected");
    assert!(!json.to_string().contains(STATUSCAKE_TOKEN), "{json}");
    let (status, _) = gw.admin_get("/v1/sources/nope/recent").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_carries_the_security_headers_and_ui_needs_no_token() {
    let gw = start(Backend::Memory).await.expect("gateway");
    for path in ["/ui", "/ui/app.js", "/v1/incidents", "/-/healthy", "/nope"] {
        let (_, headers, _) = send_text(&gw, path).await;
        assert_eq!(
            headers["content-security-policy"],
            alertgate::server::CSP,
            "{path}"
        );
        assert!(headers["content-security-policy"]
            .to_str()
            .expect("ascii")
            .starts_with("default-src 'self'"));
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["referrer-policy"], "no-referrer", "{path}");
    }
    let (status, headers, body) = send_text(&gw, "/ui").await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers["content-type"]
        .to_str()
        .expect("ascii")
        .starts_with("text/html"));
    assert!(
        body.contains("/ui/app.js") && !body.contains("<script>"),
        "no inline script"
    );
    gw.stop().await;
}

/// A GET whose body is kept as text (`Gateway::send` wants JSON).
async fn send_text(gw: &Gateway, path: &str) -> (StatusCode, http::HeaderMap, String) {
    let request = Request::get(gw.url(path))
        .body(Full::new(Bytes::new()))
        .expect("request");
    let response = gw.client.request(request).await.expect("response");
    let (status, headers) = (response.status(), response.headers().clone());
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}
