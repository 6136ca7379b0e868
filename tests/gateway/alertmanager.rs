//! A real Alertmanager (0.25) sending its webhooks to a running gateway: one incident per
//! alert of a group, each resolved when Alertmanager reports it resolved, on memory and
//! Redis; and Alertmanager's retry after a 503 lands.
//!
//! Timing-dependent (Alertmanager batches by `group_wait`/`group_interval` of 1 s): run
//! serialised, polling up to 30 s.

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use serde_json::{json, Value};
use serial_test::serial;

use crate::harness::{Backend, Gateway, ALERTMANAGER_TOKEN};
use crate::test_alertmanager::TestAlertmanager;

const WAIT: Duration = Duration::from_secs(30);

fn alerts(ends_at: Option<&str>) -> Value {
    let mut list = Vec::new();
    for (instance, severity) in [("db-1", "critical"), ("db-2", "warning"), ("db-3", "info")] {
        let mut alert = json!({
            "labels": {"alertname": "AlertgateDiskFull", "instance": instance, "job": "node", "severity": severity},
            "annotations": {"summary": format!("Disk full on {instance}")},
            "generatorURL": "http://127.0.0.1/graph",
        });
        if let Some(ends_at) = ends_at {
            alert["endsAt"] = json!(ends_at);
        }
        list.push(alert);
    }
    Value::Array(list)
}

/// Polls the gateway's alertmanager incidents until `done` holds for them.
async fn wait_for(
    gw: &Gateway,
    am: &TestAlertmanager,
    what: &str,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let incidents: Vec<Value> = gw
            .incidents()
            .await
            .into_iter()
            .filter(|i| i["source"] == "alertmanager")
            .collect();
        if done(&incidents) {
            return incidents;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what} not seen within {WAIT:?}: {incidents:?}\nalertmanager log:\n{}",
            am.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn opens_one_incident_per_alert_and_resolves_each(backend: Backend) {
    let Some(gw) = Gateway::start(backend).await else {
        return;
    };
    let Some(am) = TestAlertmanager::start(
        &gw.url(&format!("/hooks/alertmanager?token={ALERTMANAGER_TOKEN}")),
    ) else {
        gw.stop().await;
        return;
    };
    am.post_alerts(&alerts(None));
    let open = wait_for(&gw, &am, "three open incidents", |list| {
        list.len() == 3 && list.iter().all(|i| i["status"] == "open")
    })
    .await;
    let mut seen: Vec<(String, String, String)> = open
        .iter()
        .map(|i| {
            (
                i["labels"]["instance"].as_str().unwrap_or("").to_owned(),
                i["priority"].as_str().unwrap_or("").to_owned(),
                i["title"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            ("db-1".into(), "critical".into(), "Disk full on db-1".into()),
            ("db-2".into(), "medium".into(), "Disk full on db-2".into()),
            ("db-3".into(), "low".into(), "Disk full on db-3".into()),
        ]
    );
    // Alertmanager's own fingerprints key them: 16 hex digits each, all different.
    let mut fingerprints: Vec<&str> = open
        .iter()
        .filter_map(|i| i["fingerprint"].as_str())
        .collect();
    fingerprints.sort_unstable();
    fingerprints.dedup();
    assert_eq!(fingerprints.len(), 3);
    assert!(fingerprints
        .iter()
        .all(|f| f.len() == 16 && f.bytes().all(|b| b.is_ascii_hexdigit())));

    // The same alerts ending in the past: Alertmanager sends them as `resolved`.
    let ended = alertgate::clock::format_rfc3339_ms(alertgate::clock::now_ms() - 1000);
    am.post_alerts(&alerts(Some(&ended)));
    let resolved = wait_for(&gw, &am, "three resolved incidents", |list| {
        list.len() == 3 && list.iter().all(|i| i["status"] == "resolved")
    })
    .await;
    let mut ids: Vec<&Value> = resolved.iter().map(|i| &i["id"]).collect();
    let mut open_ids: Vec<&Value> = open.iter().map(|i| &i["id"]).collect();
    ids.sort_by_key(ToString::to_string);
    open_ids.sort_by_key(ToString::to_string);
    assert_eq!(ids, open_ids, "the incidents opened are the ones resolved");
    drop(am);
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[serial(timing)]
async fn alertmanager_opens_and_resolves_each_alert_on_memory() {
    opens_one_incident_per_alert_and_resolves_each(Backend::Memory).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[serial(timing)]
async fn alertmanager_opens_and_resolves_each_alert_on_redis() {
    opens_one_incident_per_alert_and_resolves_each(Backend::Redis).await;
}

/// A proxy in front of the gateway that answers the first request with 503 and relays
/// every later one: Alertmanager must retry, and the retry must land.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[serial(timing)]
async fn alertmanager_retries_after_a_503_and_the_retry_lands() {
    let gw = Gateway::start(Backend::Memory).await.expect("gateway");
    let seen = Arc::new(AtomicUsize::new(0));
    let target = gw.url(&format!("/hooks/alertmanager?token={ALERTMANAGER_TOKEN}"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let proxy_addr = listener.local_addr().expect("addr");
    let (client, counter) = (gw.client.clone(), Arc::clone(&seen));
    let proxy = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (client, counter, target) = (client.clone(), Arc::clone(&counter), target.clone());
            let service =
                hyper::service::service_fn(move |request: Request<hyper::body::Incoming>| {
                    let (client, counter, target) =
                        (client.clone(), Arc::clone(&counter), target.clone());
                    async move {
                        let body = request
                            .into_body()
                            .collect()
                            .await
                            .map(http_body_util::Collected::to_bytes)
                            .unwrap_or_default();
                        if counter.fetch_add(1, Ordering::SeqCst) == 0 {
                            let mut refused = Response::new(Full::new(Bytes::from_static(b"{}")));
                            *refused.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
                            return Ok::<_, Infallible>(refused);
                        }
                        let forward = Request::post(target)
                            .header("content-type", "application/json")
                            .body(Full::new(body))
                            .expect("request");
                        let response = if let Ok(r) = client.request(forward).await {
                            let status = r.status();
                            let bytes = r
                                .into_body()
                                .collect()
                                .await
                                .map(http_body_util::Collected::to_bytes)
                                .unwrap_or_default();
                            let mut relayed = Response::new(Full::new(bytes));
                            *relayed.status_mut() = status;
                            relayed
                        } else {
                            let mut failed = Response::new(Full::new(Bytes::new()));
                            *failed.status_mut() = StatusCode::BAD_GATEWAY;
                            failed
                        };
                        Ok(response)
                    }
                });
            tokio::spawn(async move {
                let _ = hyper_util::server::conn::auto::Builder::new(
                    hyper_util::rt::TokioExecutor::new(),
                )
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
            });
        }
    });
    let Some(am) = TestAlertmanager::start(&format!("http://{proxy_addr}/")) else {
        proxy.abort();
        gw.stop().await;
        return;
    };
    am.post_alerts(&alerts(None));
    wait_for(&gw, &am, "three incidents after the retry", |list| {
        list.len() == 3
    })
    .await;
    let attempts = seen.load(Ordering::SeqCst);
    assert!(
        attempts >= 2,
        "the first attempt was refused, a retry followed: {attempts}"
    );
    assert!(
        gw.state.metrics().webhooks("alertmanager", "opened") == 3,
        "the retry opened the three"
    );
    drop(am);
    proxy.abort();
    gw.stop().await;
}
