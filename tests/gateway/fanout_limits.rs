//! The production limits on fan-out payloads (Alertmanager batches): each element is
//! capped by `max_open` and bounded by `limits.max_*` like a single event, a refused
//! element gets its own `error` in `results`, and the request takes one rate-limit token
//! whatever its number of elements.

use http::{Method, StatusCode};
use serde_json::Value;

use crate::fanout::field;
use crate::harness::{fixture, Backend, Gateway};

const JSON: (&str, &str) = ("content-type", "application/json");
const AMCAP_TOKEN: &str = "amcap-test-token";

/// The harness's `generic_extra`, used to define one more source, `amcap` (the shipped
/// Alertmanager mapping), with `settings` (YAML lines indented 4 spaces).
fn amcap(settings: &str) -> String {
    format!("  amcap:\n    integration: alertmanager\n    tokens: [\"{AMCAP_TOKEN}\"]\n{settings}")
}

/// An Alertmanager notification with the fixture's alerts `picked` (index, status),
/// each changed by `edit`.
fn batch(picked: &[(usize, &str)], edit: impl Fn(usize, &mut Value)) -> String {
    let mut payload: Value =
        serde_json::from_slice(&fixture("alertmanager/firing-three-no-summary.json"))
            .expect("fixture json");
    let alerts = payload["alerts"].as_array().expect("alerts").clone();
    let chosen: Vec<Value> = picked
        .iter()
        .map(|&(n, status)| {
            let mut alert = alerts[n].clone();
            alert["status"] = status.into();
            edit(n, &mut alert);
            alert
        })
        .collect();
    payload["alerts"] = Value::Array(chosen);
    payload.to_string()
}

async fn post(gw: &Gateway, body: String) -> (StatusCode, http::HeaderMap, Value) {
    gw.send(
        Method::POST,
        &format!("/hooks/amcap?token={AMCAP_TOKEN}"),
        &[JSON],
        body,
    )
    .await
}

fn codes(json: &Value) -> Vec<Option<&str>> {
    field(json, "error")
        .into_iter()
        .map(|e| e["code"].as_str())
        .collect()
}

fn transitions(json: &Value) -> Vec<Option<&str>> {
    field(json, "transition")
        .into_iter()
        .map(Value::as_str)
        .collect()
}

const FP2: &str = "39f38c0611ee7abd";
const CAPPED: Option<&str> = Some("too_many_open_incidents");

async fn max_open_caps_each_element(backend: Backend) {
    let Some(gw) = Gateway::start_generic(backend, &amcap("    max_open: 2"), "").await else {
        return;
    };
    let same = |_: usize, _: &mut Value| {};
    // Two of three fit: the third is refused in its place, the others are applied.
    let (s, _, json) = post(
        &gw,
        batch(&[(0, "firing"), (1, "firing"), (2, "firing")], same),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{json}");
    assert_eq!(
        transitions(&json),
        [Some("opened"), Some("opened"), None],
        "{json}"
    );
    assert_eq!(codes(&json), [None, None, CAPPED], "{json}");
    assert_eq!(json["results"][2]["action"], "open");
    assert_eq!(json["results"][2]["fingerprint"], FP2);
    assert!(json["results"][2]["incident_id"].is_null(), "{json}");

    // Nothing accepted and a refusal by max_open: 429, the body still says per element.
    let (s, _, json) = post(&gw, batch(&[(2, "firing")], same)).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{json}");
    assert_eq!(codes(&json), [CAPPED], "{json}");

    // At the cap an update passes; a new key does not.
    let (s, _, json) = post(&gw, batch(&[(0, "firing"), (2, "firing")], same)).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{json}");
    assert_eq!(transitions(&json), [Some("updated"), None], "{json}");
    assert_eq!(codes(&json), [None, CAPPED], "{json}");

    // A resolve earlier in the same batch frees the place a later open takes.
    let (s, _, json) = post(&gw, batch(&[(0, "resolved"), (2, "firing")], same)).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{json}");
    assert_eq!(
        transitions(&json),
        [Some("resolved"), Some("opened")],
        "{json}"
    );
    let text = gw.state.metrics().encode();
    let rejections = "alertgate_open_limit_rejections_total{source=\"amcap\"} 3\n";
    assert!(text.contains(rejections), "{text}");
    let open: Vec<Value> = gw
        .incidents()
        .await
        .into_iter()
        .filter(|i| i["source"] == "amcap" && i["status"] == "open")
        .collect();
    assert_eq!(open.len(), 2, "{open:?}");
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fan_out_elements_are_capped_by_max_open_memory() {
    max_open_caps_each_element(Backend::Memory).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fan_out_elements_are_capped_by_max_open_redis() {
    max_open_caps_each_element(Backend::Redis).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fan_out_elements_are_bounded_and_the_batch_takes_one_rate_token() {
    // One token every 10 s, one at a time: a batch of three passes whole, the next
    // request is refused.
    let gw = Gateway::start_generic(
        Backend::Memory,
        &amcap("    rate_limit: { per_second: 0.1, burst: 1 }"),
        "limits:\n  max_fingerprint_bytes: 16\n  max_title_bytes: 40",
    )
    .await
    .expect("gw");
    let body = batch(
        &[(0, "firing"), (1, "firing"), (2, "firing")],
        |n, alert| match n {
            0 => alert["annotations"]["summary"] = "s".repeat(100).into(),
            1 => alert["fingerprint"] = "f".repeat(17).into(),
            _ => {}
        },
    );
    let (s, _, json) = post(&gw, body).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{json}");
    assert_eq!(
        transitions(&json),
        [Some("opened"), None, Some("opened")],
        "{json}"
    );
    assert_eq!(
        codes(&json),
        [None, Some("unprocessable_payload"), None],
        "{json}"
    );
    let message = json["results"][1]["error"]["message"]
        .as_str()
        .expect("message");
    assert!(message.contains("max_fingerprint_bytes"), "{message}");
    let incidents = gw.incidents().await;
    let cut = incidents
        .iter()
        .find(|i| i["fingerprint"] == "f404ecabc8dd5cd7")
        .expect("first alert's incident");
    let title = cut["title"].as_str().expect("title");
    assert!(
        title.len() <= 40 && title.ends_with("…[truncated]"),
        "{title}"
    );
    assert_eq!(incidents.len(), 2);
    let text = gw.state.metrics().encode();
    assert!(
        text.contains("alertgate_truncations_total{field=\"title\"} 1\n"),
        "{text}"
    );

    let (s, headers, json) = post(&gw, batch(&[(0, "resolved")], |_, _| {})).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{json}");
    assert_eq!(json["error"]["code"], "rate_limited");
    assert!(headers.contains_key("retry-after"));
    let text = gw.state.metrics().encode();
    assert!(
        text.contains("alertgate_rate_limited_total{source=\"amcap\"} 1\n"),
        "{text}"
    );
    gw.stop().await;
}
