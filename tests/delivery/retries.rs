//! Retries: the same event id on every attempt, one accepted delivery per transition, a
//! valid signature; a receiver down for a while gets everything, in order per incident.

use std::sync::Arc;
use std::time::Duration;

use alertgate::delivery::signature;
use alertgate::store::IncidentStore;
use serial_test::serial;

use crate::harness::{Backend, TestRedis};
use crate::receiver::{always, gateway, hook, started, wait_for, Receiver, BUCKETS};

const SECRET: &str = "s3cret";

fn sink_yaml(url: &str, extra: &str) -> String {
    format!(
        "sinks:\n  oncall:\n    type: webhook\n    url: \"{url}\"\n    secret: \"{SECRET}\"\n    backoff_initial: 100ms\n    backoff_max: 500ms\n{extra}"
    )
}

async fn fails_twice_then_succeeds(backend: Backend, redis: Option<&TestRedis>) {
    // 500, 500, then 200 for every request after: per event, the first two attempts fail
    // only for the first event; later ones may succeed at once.
    let rx = Receiver::start(Arc::new(|n| {
        (if n < 2 { 500 } else { 200 }, Duration::ZERO)
    }))
    .await;
    let (gw, delivery) = gateway(backend, &sink_yaml(&rx.url(), ""), redis).await;
    started(&delivery).await;
    hook(&gw, "db", "down").await;
    hook(&gw, "db", "up").await;
    wait_for("two accepted deliveries", Duration::from_secs(30), || {
        rx.accepted().len() >= 2
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let all = rx.received();
    let accepted = rx.accepted();
    assert_eq!(
        accepted.len(),
        2,
        "exactly one accepted delivery per transition"
    );
    assert_eq!(all.len(), 4, "two failures, then two successes");
    // Every attempt of the first event carried its id.
    let first_id = all[0].header("x-alertgate-event-id");
    assert!(!first_id.is_empty());
    assert_eq!(all[1].header("x-alertgate-event-id"), first_id);
    assert_eq!(all[2].header("x-alertgate-event-id"), first_id);
    assert_ne!(all[3].header("x-alertgate-event-id"), first_id);
    // The ids are the store's own event ids: Redis `<bucket>-<stream entry id>` (the
    // bucket of one of the keyspace's streams), memory `<seq>`.
    let stored: Vec<String> = gw
        .state
        .store()
        .events_after(None, 10)
        .await
        .expect("events")
        .events
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(
        stored,
        [first_id.clone(), all[3].header("x-alertgate-event-id")]
    );
    let parts: Vec<&str> = first_id.split('-').collect();
    assert!(parts.iter().all(|p| p.parse::<u64>().is_ok()), "{first_id}");
    match backend {
        Backend::Redis => {
            assert_eq!(parts.len(), 3, "{first_id}");
            assert!(parts[0].parse::<u16>().unwrap() < BUCKETS, "{first_id}");
        }
        Backend::Memory => assert_eq!(parts.len(), 1, "{first_id}"),
    }
    let transitions: Vec<String> = accepted
        .iter()
        .map(|r| r.json()["transition"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(transitions, ["opened", "resolved"]);
    for r in &all {
        assert_eq!(
            r.header("x-alertgate-signature"),
            signature(SECRET, &r.body)
        );
        let body = r.json();
        assert_eq!(body["event_id"], r.header("x-alertgate-event-id"));
        assert_eq!(body["incident"]["fingerprint"], "db");
    }
    let sinks = delivery.sinks().await;
    assert_eq!(sinks[0].pending, 0);
    assert_eq!(sinks[0].delivered, 2);
    assert!(sinks[0].last_error.as_deref().unwrap_or("").contains("500"));
    delivery.stop().await;
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[serial(timing)]
async fn memory_retries_until_accepted_with_one_event_id() {
    fails_twice_then_succeeds(Backend::Memory, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[serial(timing)]
async fn redis_retries_until_accepted_with_one_event_id() {
    let Some(redis) = TestRedis::start() else {
        return;
    };
    fails_twice_then_succeeds(Backend::Redis, Some(&redis)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[serial(timing)]
async fn redis_receiver_down_then_up_gets_everything_in_order() {
    let Some(redis) = TestRedis::start() else {
        return;
    };
    // Reserve a port, then free it: nothing listens there for the first ~10 s.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/hook");
    let (gw, delivery) = gateway(
        Backend::Redis,
        &sink_yaml(&url, "    max_attempts: 100\n"),
        Some(&redis),
    )
    .await;
    started(&delivery).await;
    for round in 0..3 {
        for id in ["a", "b"] {
            hook(&gw, id, if round == 2 { "up" } else { "down" }).await;
        }
    }
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert!(
        delivery.sinks().await[0].last_error.is_some(),
        "attempts failed while down"
    );
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("rebind");
    let rx = Receiver::on(listener, always(200));
    wait_for("six deliveries", Duration::from_secs(60), || {
        rx.accepted().len() >= 6
    })
    .await;
    let accepted = rx.accepted();
    for id in ["a", "b"] {
        let seen: Vec<String> = accepted
            .iter()
            .map(super::receiver::Received::json)
            .filter(|j| j["incident"]["fingerprint"] == id)
            .map(|j| j["transition"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(seen, ["opened", "updated", "resolved"], "incident {id}");
    }
    delivery.stop().await;
    gw.stop().await;
    rx.stop();
}
