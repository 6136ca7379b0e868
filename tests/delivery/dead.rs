//! A receiver that never succeeds: events are dead-lettered after `max_attempts`, shown
//! on `/v1/sinks/{id}/dead` (read scope), and a replay (admin scope) delivers them once
//! the receiver is fixed.

use std::time::Duration;

use http::{Method, StatusCode};
use serial_test::serial;

use crate::harness::{Backend, Gateway, TestRedis, ADMIN_TOKEN};
use crate::receiver::{always, gateway, hook, started, wait_for, Receiver};

/// A `read`-scoped API token (`admin_tokens`).
const READ_TOKEN: &str = "read-sinks-token";

async fn dead_then_replay(backend: Backend, redis: Option<&TestRedis>) {
    let rx = Receiver::start(always(500)).await;
    let extra = format!(
        "admin_tokens:\n  - {{name: viewer, token: {READ_TOKEN}, scope: read}}\nsinks:\n  oncall:\n    type: webhook\n    url: \"{}\"\n    max_attempts: 3\n    backoff_initial: 50ms\n    backoff_max: 100ms\n",
        rx.url()
    );
    let (gw, delivery) = gateway(backend, &extra, redis).await;
    started(&delivery).await;
    hook(&gw, "disk", "down").await;
    hook(&gw, "disk", "up").await;
    wait_for("two dead letters", Duration::from_secs(30), || {
        rx.received().len() >= 6
    })
    .await;
    let dead = wait_dead(&gw, 2).await;
    assert_eq!(dead[0]["attempts"], 3);
    assert!(dead[0]["error"].as_str().unwrap().contains("HTTP 500"));
    assert_eq!(dead[0]["event"]["transition"], "opened");
    assert_eq!(dead[1]["event"]["transition"], "resolved");
    let (status, sinks) = gw.admin_get("/v1/sinks").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(sinks["sinks"][0]["dead_lettered"], 2);
    assert_eq!(sinks["sinks"][0]["pending"], 0);
    let ids: Vec<String> = dead
        .iter()
        .map(|d| d["event_id"].as_str().unwrap().to_owned())
        .collect();
    // A read-scoped token sees the sinks and their dead letters, and may not replay.
    let reader = format!("Bearer {READ_TOKEN}");
    for path in ["/v1/sinks", "/v1/sinks/oncall/dead"] {
        let (status, _, body) = gw
            .send(Method::GET, path, &[("authorization", &reader)], "")
            .await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
    }
    let (status, _, body) = gw
        .send(
            Method::POST,
            "/v1/sinks/oncall/dead/replay",
            &[("authorization", &reader)],
            "",
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(wait_dead(&gw, 2).await.len(), 2, "nothing replayed");
    // Fixed: the replay delivers each once, with its original event id.
    rx.set_script(always(200));
    let auth = format!("Bearer {ADMIN_TOKEN}");
    let (status, _, body) = gw
        .send(
            Method::POST,
            "/v1/sinks/oncall/dead/replay",
            &[("authorization", &auth)],
            "",
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["replaying"], 2);
    wait_for("replayed", Duration::from_secs(30), || {
        rx.accepted().len() >= 2
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let replayed: Vec<String> = rx
        .accepted()
        .iter()
        .map(|r| r.header("x-alertgate-event-id"))
        .collect();
    assert_eq!(replayed, ids);
    assert!(wait_dead(&gw, 0).await.is_empty());
    let (status, _, _) = gw
        .send(
            Method::GET,
            "/v1/sinks/nope/dead",
            &[("authorization", &auth)],
            "",
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    delivery.stop().await;
    gw.stop().await;
    rx.stop();
}

async fn wait_dead(gw: &Gateway, n: usize) -> Vec<serde_json::Value> {
    for _ in 0..200 {
        let (status, body) = gw.admin_get("/v1/sinks/oncall/dead").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let list = body["dead_letters"].as_array().cloned().unwrap_or_default();
        if list.len() == n {
            return list;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("expected {n} dead letters");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[serial(timing)]
async fn memory_dead_letters_then_replay() {
    dead_then_replay(Backend::Memory, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[serial(timing)]
async fn redis_dead_letters_then_replay() {
    let Some(redis) = TestRedis::start() else {
        return;
    };
    dead_then_replay(Backend::Redis, Some(&redis)).await;
}
