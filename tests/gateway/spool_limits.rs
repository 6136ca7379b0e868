//! `max_open` with a spool (docs/design.md §10): while the store cannot say how many
//! incidents are open, the cap is skipped and the open is queued; the replay applies it
//! without the cap; once the store is back the cap holds again.

use http::{Method, StatusCode};
use serde_json::Value;

use crate::harness::{Gateway, TestRedis, GENERIC_TOKEN};
use crate::spool::SpoolGateway;

async fn open(gw: &Gateway, id: &str) -> (StatusCode, Value) {
    let hook = format!("/hooks/generic?token={GENERIC_TOKEN}");
    let body = serde_json::json!({"state": "down", "id": id}).to_string();
    let (status, _, json) = gw
        .send(
            Method::POST,
            &hook,
            &[("content-type", "application/json")],
            body,
        )
        .await;
    (status, json)
}

async fn open_fingerprints(gw: &Gateway) -> Vec<String> {
    let (status, json) = gw
        .admin_get("/v1/incidents?status=open&source=generic&limit=500")
        .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    let mut fps: Vec<String> = json["incidents"]
        .as_array()
        .expect("incidents")
        .iter()
        .filter_map(|i| i["fingerprint"].as_str().map(str::to_owned))
        .collect();
    fps.sort();
    fps
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_count_with_a_spool_queues_the_open_and_the_replay_passes_the_cap() {
    // The AOF (fsync always) keeps what was applied before the outage across the restart.
    let Some(mut redis) =
        TestRedis::start_with(&["--appendonly", "yes", "--appendfsync", "always"])
    else {
        return;
    };
    let spool_dir = tempfile::tempdir().expect("spool dir");
    let gateway =
        SpoolGateway::start_with(&redis.url(), spool_dir.path(), "1MiB", "    max_open: 1").await;
    gateway.drained().await;
    let gw = &gateway.gw;
    let (status, json) = open(gw, "a").await;
    assert_eq!(
        (status, &json["transition"]),
        (StatusCode::ACCEPTED, &Value::from("opened")),
        "{json}"
    );
    // At the cap with the store up: refused, as without a spool.
    let (status, json) = open(gw, "b").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{json}");
    assert_eq!(json["error"]["code"], "too_many_open_incidents", "{json}");

    redis.stop();
    // The count cannot be read: no 503, no 429, the open waits on disk.
    let (status, json) = open(gw, "b").await;
    assert_eq!(
        (status, &json["transition"]),
        (StatusCode::ACCEPTED, &Value::from("queued")),
        "{json}"
    );
    assert!(json["incident_id"].is_null(), "{json}");
    assert_eq!(gw.state.metrics().webhooks("generic", "queued"), 1);

    redis.restart();
    gateway.drained().await;
    // Replayed without the cap: two open incidents under `max_open: 1`.
    assert_eq!(open_fingerprints(gw).await, ["a", "b"]);
    // The store answers again: the cap holds.
    let (status, json) = open(gw, "c").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{json}");
    gateway.stop().await;
}
