//! Delivery on a Redis Cluster of its own (3 masters, 16 buckets spread over their slots):
//! one consumer group per sink on every bucket's stream, read one bucket per command;
//! every event delivered once with its `<bucket>-<entry id>` id, in order per incident;
//! dead letters in bucket 0's slot; each bucket's stream trimmed once acknowledged.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use http::StatusCode;
use serial_test::serial;

use crate::harness::config_dir;
use crate::receiver::{always, hook, redis_of, serve, started, wait_for, Receiver};
use crate::test_cluster::TestCluster;

const INCIDENTS: usize = 12;
const BUCKETS: u16 = 16;

/// The length of every bucket's stream, asked of the node that holds it.
async fn xlens(urls: &[String]) -> Vec<u64> {
    let client = redis::cluster::ClusterClient::new(urls.to_vec()).unwrap();
    let mut conn = client.get_async_connection().await.unwrap();
    let mut out = Vec::new();
    for b in 0..BUCKETS {
        let len: u64 = redis::cmd("XLEN")
            .arg(format!("alertgate-test:{{b{b}}}events"))
            .query_async(&mut conn)
            .await
            .unwrap();
        out.push(len);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[serial(timing)]
async fn cluster_delivers_every_bucket_once_in_order_and_trims_each() {
    let Some(cluster) = TestCluster::start() else {
        return;
    };
    let urls = cluster.urls();
    let rx = Receiver::start(always(200)).await;
    let bad = Receiver::start(always(500)).await;
    let store_yaml = format!(
        "store:\n  backend: redis\n  cluster:\n    urls: [{}]\n  key_prefix: \"alertgate-test:\"\n  event_stream_len: 1",
        urls.iter()
            .map(|u| format!("\"{u}\""))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let extra = format!(
        "sinks:\n  oncall:\n    type: webhook\n    url: \"{}\"\n  broken:\n    type: webhook\n    url: \"{}\"\n    max_attempts: 1\n    transitions: [resolved]\n",
        rx.url(),
        bad.url()
    );
    let (dir, snapshot) = config_dir(&store_yaml, &extra);
    let store = redis_of(&snapshot).await;
    let (gw, delivery) = serve(snapshot, store, Some(dir)).await;
    started(&delivery).await;
    for n in 0..INCIDENTS {
        hook(&gw, &format!("c{n}"), "down").await;
    }
    for n in 0..INCIDENTS {
        hook(&gw, &format!("c{n}"), "up").await;
    }
    wait_for("every event", Duration::from_secs(60), || {
        rx.accepted().len() >= 2 * INCIDENTS
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let accepted = rx.accepted();
    assert_eq!(accepted.len(), 2 * INCIDENTS, "each event once");
    let mut by_incident: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut buckets = BTreeSet::new();
    let mut ids = BTreeSet::new();
    for r in &accepted {
        let body = r.json();
        let id = r.header("x-alertgate-event-id");
        assert_eq!(body["event_id"], id.as_str());
        let parts: Vec<&str> = id.split('-').collect();
        assert_eq!(parts.len(), 3, "{id}");
        let bucket: u16 = parts[0].parse().unwrap();
        assert!(bucket < BUCKETS, "{id}");
        buckets.insert(bucket);
        assert!(ids.insert(id.clone()), "one delivery per event id: {id}");
        by_incident
            .entry(body["incident"]["fingerprint"].as_str().unwrap().to_owned())
            .or_default()
            .push(body["transition"].as_str().unwrap().to_owned());
    }
    assert!(
        buckets.len() > 1,
        "events came from several buckets: {buckets:?}"
    );
    assert_eq!(by_incident.len(), INCIDENTS);
    for (fingerprint, seen) in &by_incident {
        assert_eq!(seen, &["opened", "resolved"], "incident {fingerprint}");
    }
    // The broken sink dead-letters every resolve (kept in bucket 0's slot) and filters the
    // opens; nothing stays pending on either sink.
    wait_for("dead letters", Duration::from_secs(30), || {
        bad.received().len() >= INCIDENTS
    })
    .await;
    let mut dead = Vec::new();
    for _ in 0..200 {
        let (status, body) = gw.admin_get("/v1/sinks/broken/dead?limit=100").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        dead = body["dead_letters"].as_array().cloned().unwrap_or_default();
        if dead.len() == INCIDENTS {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(dead.len(), INCIDENTS);
    for d in &dead {
        assert!(ids.contains(d["event_id"].as_str().unwrap()), "{d}");
        assert_eq!(d["event"]["transition"], "resolved");
    }
    let mut settled = false;
    for _ in 0..100 {
        let sinks = delivery.sinks().await;
        if sinks.iter().all(|s| s.pending == 0 && s.lag == Some(0)) {
            settled = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(settled, "{:?}", delivery.sinks().await);
    // Every bucket's stream trimmed to event_stream_len (1) once both sinks acknowledged.
    let mut lens = Vec::new();
    for _ in 0..150 {
        lens = xlens(&urls).await;
        if lens.iter().all(|&n| n <= 1) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(lens.iter().all(|&n| n <= 1), "{lens:?}");
    assert!(lens.iter().filter(|&&n| n == 1).count() > 1, "{lens:?}");
    delivery.stop().await;
    gw.stop().await;
    rx.stop();
    bad.stop();
}
