//! Incidents that end by themselves, through real gateways with their sweepers running
//! (docs/design.md §4): auto-resolve across two Redis replicas (one of which stops),
//! an update pushing the deadline out, heartbeats, flapping.

use std::collections::BTreeMap;
use std::time::Duration;

use alertgate::store::{IncidentStore, Transition};
use http::{Method, StatusCode};
use serial_test::serial;

use crate::harness::{Backend, Gateway, GENERIC_TOKEN};

async fn post(gw: &Gateway, id: &str, state: &str) -> serde_json::Value {
    let (status, _, json) = gw
        .send(
            Method::POST,
            &format!("/hooks/generic?token={GENERIC_TOKEN}"),
            &[("content-type", "application/json")],
            format!(r#"{{"id":"{id}","state":"{state}"}}"#),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{json}");
    json
}

/// The value of a metric line starting with `prefix` (0 when absent).
fn metric(gw_metrics: &alertgate::metrics::Metrics, prefix: &str) -> u64 {
    gw_metrics
        .encode()
        .lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0)
}

async fn open_incidents(gw: &Gateway) -> Vec<serde_json::Value> {
    let (status, json) = gw.admin_get("/v1/incidents?status=open&limit=500").await;
    assert_eq!(status, StatusCode::OK, "{json}");
    json["incidents"].as_array().cloned().unwrap_or_default()
}

/// Polls `check` every 200 ms for up to `secs`.
async fn eventually<F, Fut>(secs: u64, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let end = tokio::time::Instant::now() + Duration::from_secs(secs);
    while tokio::time::Instant::now() < end {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    false
}

async fn incident(gw: &Gateway, id: &str) -> serde_json::Value {
    let (status, json) = gw.admin_get(&format!("/v1/incidents/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    json
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[serial(timing)]
async fn redis_two_replicas_auto_resolve_500_incidents_each_exactly_once() {
    let Some(gw) =
        Gateway::start_policies(Backend::Redis, "  buckets: 4", "    auto_resolve_after: 1s").await
    else {
        return;
    };
    let replica = gw.replica().await;
    let replica_metrics = replica.state.metrics().clone();
    let mut ids = Vec::new();
    for n in 0..500 {
        let target = if n % 2 == 0 { &gw } else { &replica };
        let json = post(target, &format!("check-{n}"), "down").await;
        assert_eq!(json["transition"], "opened", "{json}");
        ids.push(json["incident_id"].as_str().expect("id").to_owned());
    }
    // One replica dies while deadlines are falling due; the other finishes the work.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    replica.stop().await;
    assert!(
        eventually(60, || async { open_incidents(&gw).await.is_empty() }).await,
        "every incident auto-resolves"
    );
    let mut resolves = BTreeMap::<String, usize>::new();
    let mut cursor = None;
    loop {
        let page = gw
            .state
            .store()
            .events_after(cursor.as_deref(), 1000)
            .await
            .expect("events");
        if page.events.is_empty() {
            break;
        }
        for e in page.events {
            if e.transition == Transition::Resolved {
                assert_eq!(e.incident.resolved_by.as_deref(), Some("timeout"));
                *resolves.entry(e.incident.id.clone()).or_default() += 1;
            }
        }
        cursor = Some(page.next_cursor);
    }
    for id in &ids {
        assert_eq!(resolves.get(id), Some(&1), "incident {id} resolved once");
    }
    assert_eq!(resolves.len(), 500);
    let total = metric(gw.state.metrics(), "alertgate_auto_resolved_total")
        + metric(&replica_metrics, "alertgate_auto_resolved_total");
    assert_eq!(total, 500, "the two sweepers resolved 500 between them");
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[serial(timing)]
async fn memory_auto_resolve_and_an_update_pushes_the_deadline_out() {
    let gw = Gateway::start_policies(Backend::Memory, "", "    auto_resolve_after: 2s")
        .await
        .expect("memory gateway");
    let quiet = post(&gw, "quiet", "down").await["incident_id"].clone();
    let busy = post(&gw, "busy", "down").await["incident_id"].clone();
    let quiet = quiet.as_str().expect("id").to_owned();
    let busy = busy.as_str().expect("id").to_owned();
    // `busy` keeps getting events, each 300 ms apart, for 4 s.
    for _ in 0..13 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(post(&gw, "busy", "down").await["transition"], "updated");
    }
    let q = incident(&gw, &quiet).await;
    assert_eq!(q["status"], "resolved", "{q}");
    assert_eq!(q["resolved_by"], "timeout");
    assert_eq!(incident(&gw, &busy).await["status"], "open");
    assert!(
        eventually(15, || async {
            incident(&gw, &busy).await["status"] == "resolved"
        })
        .await,
        "busy resolves once its events stop"
    );
    // A later event opens a new incident.
    let again = post(&gw, "quiet", "down").await;
    assert_eq!(again["transition"], "opened");
    gw.stop().await;
}

async fn heartbeats(gw: &Gateway) -> Vec<serde_json::Value> {
    open_incidents(gw)
        .await
        .into_iter()
        .filter(|i| i["fingerprint"] == "heartbeat")
        .collect()
}

async fn heartbeat_case(backend: Backend) {
    let Some(gw) = Gateway::start_policies(
        backend,
        "  buckets: 4",
        "    heartbeat: { every: 1s, priority: critical }",
    )
    .await
    else {
        return;
    };
    let replica = if backend == Backend::Redis {
        Some(gw.replica().await)
    } else {
        None
    };
    assert!(
        eventually(15, || async { !heartbeats(&gw).await.is_empty() }).await,
        "a silent source gets a heartbeat incident"
    );
    // Both replicas keep sweeping: still one incident.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let open = heartbeats(&gw).await;
    assert_eq!(open.len(), 1, "{open:?}");
    let hb = &open[0];
    assert_eq!(hb["priority"], "critical");
    assert_eq!(hb["source"], "generic");
    let title = hb["title"].as_str().expect("title");
    assert!(title.starts_with("generic: no webhook since "), "{title}");
    // Any authenticated request resolves it.
    post(&gw, "unrelated", "up").await;
    let id = hb["id"].as_str().expect("id");
    let after = incident(&gw, id).await;
    assert_eq!(after["status"], "resolved", "{after}");
    assert_eq!(after["resolved_by"], "heartbeat");
    if let Some(replica) = replica {
        replica.stop().await;
    }
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[serial(timing)]
async fn memory_heartbeat_opens_when_silent_and_resolves_on_the_next_request() {
    heartbeat_case(Backend::Memory).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[serial(timing)]
async fn redis_heartbeat_opens_once_across_replicas_and_resolves_on_the_next_request() {
    heartbeat_case(Backend::Redis).await;
}

async fn flapping_case(backend: Backend) {
    let Some(gw) = Gateway::start_policies(
        backend,
        "  buckets: 4",
        "    flapping: { opens: 3, within: 2s }",
    )
    .await
    else {
        return;
    };
    let mut flags = Vec::new();
    for _ in 0..3 {
        let id = post(&gw, "db", "down").await["incident_id"].clone();
        let inc = incident(&gw, id.as_str().expect("id")).await;
        flags.push((inc["flapping"].clone(), inc["flap_count"].clone()));
        post(&gw, "db", "up").await;
    }
    assert_eq!(
        flags,
        [
            (serde_json::Value::Null, serde_json::Value::Null),
            (serde_json::Value::Null, serde_json::Value::Null),
            (serde_json::json!(true), serde_json::json!(3)),
        ]
    );
    assert_eq!(
        metric(
            gw.state.metrics(),
            "alertgate_flapping_total{source=\"generic\"}"
        ),
        1
    );
    let store = gw.state.store().clone();
    assert!(
        eventually(15, || {
            let store = store.clone();
            async move {
                store
                    .recent_events(100)
                    .await
                    .expect("events")
                    .iter()
                    .any(|e| e.transition == Transition::FlappingEnded)
            }
        })
        .await,
        "a quiet window ends the spell"
    );
    assert_eq!(
        metric(gw.state.metrics(), "alertgate_flapping_fingerprints"),
        0
    );
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[serial(timing)]
async fn memory_flapping_is_marked_and_ends() {
    flapping_case(Backend::Memory).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[serial(timing)]
async fn redis_flapping_is_marked_and_ends() {
    flapping_case(Backend::Redis).await;
}
