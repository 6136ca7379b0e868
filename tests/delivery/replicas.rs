//! Two replicas share a sink's work; one crashes mid-batch: every event is delivered at
//! least once, duplicates carry the same event id, nothing is left pending.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use alertgate::delivery::Delivery;
use alertgate::metrics::Metrics;
use serial_test::serial;

use crate::harness::{Backend, TestRedis};
use crate::receiver::{gateway, hook, redis_of, started, wait_for, Receiver};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[serial(timing)]
async fn redis_replica_killed_mid_batch_loses_nothing() {
    let Some(redis) = TestRedis::start() else {
        return;
    };
    // A slow receiver, so that the first replica is still busy when it dies.
    let rx = Receiver::start(Arc::new(|_| (200, Duration::from_millis(300)))).await;
    let extra = format!(
        "delivery:\n  claim_idle: 2s\nsinks:\n  oncall:\n    type: webhook\n    url: \"{}\"\n",
        rx.url()
    );
    let (gw, first) = gateway(Backend::Redis, &extra, Some(&redis)).await;
    started(&first).await;
    for n in 0..10 {
        hook(&gw, &format!("inc{n}"), "down").await;
    }
    wait_for("the first deliveries", Duration::from_secs(30), || {
        rx.accepted().len() >= 2
    })
    .await;
    // The second replica: its own store connection and consumer name.
    let snapshot = gw.state.snapshot();
    let store = redis_of(&snapshot).await;
    let alertgate::config::StoreSettings::Redis(settings) = &snapshot.settings.store else {
        unreachable!()
    };
    let second = Delivery::start(
        &store,
        Some(settings.clone()),
        Arc::clone(gw.state.snapshot_cell()),
        Metrics::new(),
    );
    assert_ne!(first.consumer(), second.consumer());
    started(&second).await;
    // Crash the first replica: its consumer stops between two steps, entries pending.
    first.stop().await;
    let pending_after_crash = second.sinks().await[0].pending;
    assert!(pending_after_crash > 0, "the crashed replica held entries");
    wait_for("every event", Duration::from_secs(60), || {
        let ids: std::collections::BTreeSet<String> = rx
            .accepted()
            .iter()
            .map(|r| r.header("x-alertgate-event-id"))
            .collect();
        ids.len() >= 10
    })
    .await;
    wait_for("nothing pending", Duration::from_secs(30), || true).await;
    let mut pending = u64::MAX;
    for _ in 0..100 {
        pending = second.sinks().await[0].pending;
        if pending == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(pending, 0, "nothing left pending");
    // Duplicates (an attempt in flight when the replica died) carry the same id and event.
    let mut by_id: BTreeMap<String, serde_json::Value> = BTreeMap::new();
    for r in rx.accepted() {
        let body = r.json();
        if let Some(seen) = by_id.get(&r.header("x-alertgate-event-id")) {
            assert_eq!(seen, &body, "a duplicate is the same event");
        }
        by_id.insert(r.header("x-alertgate-event-id"), body);
    }
    let fingerprints: std::collections::BTreeSet<String> = by_id
        .values()
        .map(|b| b["incident"]["fingerprint"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(fingerprints.len(), 10);
    second.stop().await;
    gw.stop().await;
    rx.stop();
}
