//! The on-disk spool end to end (docs/design.md §10): webhooks accepted while Redis is
//! away are answered `202 queued`, survive a gateway restart, and are replayed in arrival
//! order once Redis is back, leaving the store as if Redis had never gone.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use alertgate::app;
use alertgate::config::{Overrides, StoreSettings};
use alertgate::server::AppState;
use alertgate::spool::{spawn_replayer, Replayer};
use alertgate::store::{IncidentStore, RedisStore, Store};
use bytes::Bytes;
use http::{Method, StatusCode};
use serde_json::Value;

use crate::harness::{
    config_dir, fixture, redis_store_yaml, Backend, Gateway, TestRedis, ALERTMANAGER_TOKEN,
    STATUSCAKE_TOKEN, STATUSPAGE_TOKEN,
};

const FORM: (&str, &str) = ("content-type", "application/x-www-form-urlencoded");
const JSON: (&str, &str) = ("content-type", "application/json");

/// A gateway with a spool in `spool_dir`, on the Redis at `url` (which may be down: the
/// store connects in the background), serving from a config file so `/-/config` answers.
pub struct SpoolGateway {
    pub gw: Gateway,
    replayer: Replayer,
}

impl SpoolGateway {
    pub async fn start(url: &str, spool_dir: &Path, max_bytes: &str) -> SpoolGateway {
        let store_yaml = format!(
            "{}\n  spool:\n    dir: \"{}\"\n    max_bytes: {max_bytes}",
            redis_store_yaml(url),
            spool_dir.display()
        );
        let (dir, snapshot) = config_dir(&store_yaml, "");
        let StoreSettings::Redis(settings) = snapshot.settings.store.clone() else {
            panic!("redis config expected");
        };
        let spool_settings = snapshot.settings.spool.clone().expect("spool settings");
        let metrics = alertgate::metrics::Metrics::new();
        let spool = app::open_spool(&spool_settings, &metrics).expect("open spool");
        // As `app::serve` does: Redis may be down; the store connects in the background.
        let store = Store::Redis(
            RedisStore::start(settings, Duration::from_millis(500))
                .await
                .expect("redis store"),
        );
        let replayer = spawn_replayer(spool.clone(), store.clone());
        let reloader = app::reloader(
            &dir.path().join("config.yaml"),
            Overrides::default(),
            snapshot,
            metrics,
        );
        let state = AppState::with_reloader(reloader, store).with_spool(spool);
        SpoolGateway {
            gw: Gateway::serve(state, Some(dir), None).await,
            replayer,
        }
    }

    pub async fn stop(self) {
        self.replayer.stop().await;
        self.gw.stop().await;
    }

    /// Waits until the spool is empty and the store answers.
    pub async fn drained(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let (status, _, json) = self
                .gw
                .send(Method::GET, "/-/ready", &[], Bytes::new())
                .await;
            assert_eq!(status, StatusCode::OK, "{json}");
            if json["degraded"] == false {
                return;
            }
            assert!(Instant::now() < deadline, "spool not drained: {json}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// A StatusCake form for site `k`, DOWN or UP.
fn statuscake_form(k: u32, down: bool) -> String {
    let status = if down { "Down" } else { "Up" };
    format!("Status={status}&StatusCode=503&Name=Site+{k}&URL=https%3A%2F%2Fsite{k}.example.com")
}

/// A fixed pseudo-random DOWN/UP sequence over `sites` sites.
fn load(n: usize, sites: u32) -> Vec<(u32, bool)> {
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (
                u32::try_from(x % u64::from(sites)).expect("small"),
                (x >> 32) % 3 != 0,
            )
        })
        .collect()
}

async fn post_statuscake(gw: &Gateway, k: u32, down: bool) -> (StatusCode, Value) {
    let hook = format!("/hooks/statuscake?token={STATUSCAKE_TOKEN}");
    let (status, _, json) = gw
        .send(Method::POST, &hook, &[FORM], statuscake_form(k, down))
        .await;
    (status, json)
}

/// Every incident by fingerprint, oldest first: (status, event_count).
async fn incidents_by_fingerprint(gw: &Gateway) -> BTreeMap<String, Vec<(String, u64)>> {
    let mut all = Vec::new();
    let mut cursor = String::new();
    loop {
        let (status, json) = gw
            .admin_get(&format!("/v1/incidents?limit=500{cursor}"))
            .await;
        assert_eq!(status, StatusCode::OK, "{json}");
        all.extend(json["incidents"].as_array().cloned().unwrap_or_default());
        match json["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    all.reverse();
    let mut map: BTreeMap<String, Vec<(String, u64)>> = BTreeMap::new();
    for i in all {
        map.entry(i["fingerprint"].as_str().expect("fp").to_owned())
            .or_default()
            .push((
                i["status"].as_str().expect("status").to_owned(),
                i["event_count"].as_u64().expect("count"),
            ));
    }
    map
}

/// The event stream by fingerprint: (transition, event_count), in order.
async fn events_by_fingerprint(gw: &Gateway) -> BTreeMap<String, Vec<(String, u64)>> {
    let events = gw
        .state
        .store()
        .recent_events(100_000)
        .await
        .expect("events");
    let mut map: BTreeMap<String, Vec<(String, u64)>> = BTreeMap::new();
    for e in events {
        map.entry(e.incident.fingerprint.to_string())
            .or_default()
            .push((e.transition.as_str().to_owned(), e.incident.event_count));
    }
    map
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_queued_through_an_outage_and_a_restart_replay_as_if_redis_never_left() {
    let Some(reference) = Gateway::start(Backend::Redis).await else {
        return;
    };
    let Some(mut redis) = TestRedis::start() else {
        return;
    };
    let spool_dir = tempfile::tempdir().expect("spool dir");
    let webhooks = load(1000, 8);

    // The reference: every webhook with Redis up.
    for &(k, down) in &webhooks {
        let (status, json) = post_statuscake(&reference, k, down).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{json}");
    }

    redis.stop();
    let (first_half, second_half) = webhooks.split_at(webhooks.len() / 2);
    let mut queued_for = Duration::ZERO;
    let mut gateway = SpoolGateway::start(&redis.url(), spool_dir.path(), "64MiB").await;
    for (n, half) in [first_half, second_half].into_iter().enumerate() {
        if n == 1 {
            // A gateway restart in the middle of the outage: a new process, same spool.
            gateway.stop().await;
            gateway = SpoolGateway::start(&redis.url(), spool_dir.path(), "64MiB").await;
            let (_, _, ready) = gateway
                .gw
                .send(Method::GET, "/-/ready", &[], Bytes::new())
                .await;
            assert_eq!(ready["spool_records"], first_half.len(), "{ready}");
        }
        let started = Instant::now();
        for &(k, down) in half {
            let (status, json) = post_statuscake(&gateway.gw, k, down).await;
            assert_eq!(status, StatusCode::ACCEPTED, "{json}");
            assert_eq!(json["transition"], "queued", "{json}");
            assert_eq!(json["incident_id"], Value::Null, "{json}");
        }
        queued_for += started.elapsed();
    }
    eprintln!(
        "spool: {} webhooks queued (fsync each) in {queued_for:?}, {:?} per webhook",
        webhooks.len(),
        queued_for / u32::try_from(webhooks.len()).expect("small")
    );

    // Degraded, yet ready; the metrics and /-/config say so.
    let (status, _, ready) = gateway
        .gw
        .send(Method::GET, "/-/ready", &[], Bytes::new())
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (ready["status"].as_str(), ready["spool_records"].as_u64()),
        (Some("degraded"), Some(1000))
    );
    let text = metrics_text(&gateway.gw).await;
    assert!(text.contains("alertgate_store_degraded 1\n"), "{text}");
    assert!(text.contains("alertgate_spool_records 1000\n"), "{text}");
    assert!(text.contains("alertgate_store_up 0\n"), "{text}");
    let (_, config) = gateway.gw.admin_get("/-/config").await;
    // One `store` block: the connection state beside the spool's.
    assert_eq!(config["store"]["backend"], "redis", "{config}");
    assert_ne!(config["store"]["state"], "up", "{config}");
    assert_eq!(config["store"]["degraded"], true, "{config}");
    assert_eq!(config["store"]["spool"]["records"], 1000, "{config}");

    redis.restart();
    gateway.drained().await;
    assert_eq!(
        incidents_by_fingerprint(&gateway.gw).await,
        incidents_by_fingerprint(&reference).await
    );
    assert_eq!(
        events_by_fingerprint(&gateway.gw).await,
        events_by_fingerprint(&reference).await
    );
    let text = metrics_text(&gateway.gw).await;
    assert!(text.contains("alertgate_store_up 1\n"), "{text}");
    assert!(text.contains("alertgate_store_degraded 0\n"), "{text}");
    assert!(text.contains("alertgate_spool_records 0\n"), "{text}");
    assert!(text.contains("alertgate_spool_bytes 8\n"), "{text}");

    // Live again: the next webhook is applied at once.
    let (status, json) = post_statuscake(&gateway.gw, 0, true).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_ne!(json["transition"], "queued", "{json}");
    gateway.stop().await;
    reference.stop().await;
}

async fn metrics_text(gw: &Gateway) -> String {
    use http_body_util::BodyExt;
    let request = http::Request::builder()
        .uri(gw.url("/metrics"))
        .body(http_body_util::Full::new(Bytes::new()))
        .expect("request");
    let response = gw.client.request(request).await.expect("response");
    let body = response.into_body().collect().await.expect("body");
    String::from_utf8(body.to_bytes().to_vec()).expect("utf-8")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fan_out_while_redis_is_down_queues_each_element_in_order() {
    let Some(mut redis) = TestRedis::start() else {
        return;
    };
    redis.stop();
    let spool_dir = tempfile::tempdir().expect("spool dir");
    let gateway = SpoolGateway::start(&redis.url(), spool_dir.path(), "1MiB").await;
    // Open, resolve, open again of one alert (two incidents, in this order only), a
    // rejected element, an ignored one, and an open of another alert.
    let body = serde_json::json!({"alerts": [
        {"status": "firing", "fingerprint": "a", "labels": {"alertname": "A"}},
        {"status": "resolved", "fingerprint": "a", "labels": {"alertname": "A"}},
        {"status": "firing", "fingerprint": "a", "labels": {"alertname": "A"}},
        {"fingerprint": "b", "labels": {"alertname": "B"}},
        {"status": "pending", "fingerprint": "c", "labels": {"alertname": "C"}},
        {"status": "firing", "fingerprint": "d", "labels": {"alertname": "D"}},
    ]});
    let hook = format!("/hooks/alertmanager?token={ALERTMANAGER_TOKEN}");
    let (status, _, json) = gateway
        .gw
        .send(Method::POST, &hook, &[JSON], body.to_string())
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{json}");
    let results = json["results"].as_array().expect("results");
    let transitions: Vec<&Value> = results.iter().map(|r| &r["transition"]).collect();
    let queued = Value::from("queued");
    assert_eq!(
        transitions,
        [
            &queued,
            &queued,
            &queued,
            &Value::Null,
            &Value::from("ignored"),
            &queued
        ],
        "{json}"
    );
    assert!(results.iter().all(|r| r["incident_id"].is_null()), "{json}");
    assert_eq!(
        results[3]["error"]["code"], "unprocessable_payload",
        "{json}"
    );
    assert_eq!(
        gateway
            .gw
            .state
            .metrics()
            .webhooks("alertmanager", "queued"),
        4
    );
    // A single event queues behind the elements.
    let (status, json) = post_statuscake(&gateway.gw, 0, true).await;
    assert_eq!(json["transition"], "queued", "{status} {json}");
    let (_, _, ready) = gateway
        .gw
        .send(Method::GET, "/-/ready", &[], Bytes::new())
        .await;
    assert_eq!(ready["spool_records"], 5, "{ready}");

    redis.restart();
    gateway.drained().await;
    let incidents = incidents_by_fingerprint(&gateway.gw).await;
    let expected: BTreeMap<String, Vec<(String, u64)>> = [
        ("a", vec![("resolved", 1), ("open", 1)]),
        ("d", vec![("open", 1)]),
        ("Site 0|https://site0.example.com", vec![("open", 1)]),
    ]
    .into_iter()
    .map(|(fp, list)| {
        (
            fp.to_owned(),
            list.into_iter().map(|(s, n)| (s.to_owned(), n)).collect(),
        )
    })
    .collect();
    assert_eq!(incidents, expected);
    gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_torn_last_record_is_dropped_and_the_rest_replays() {
    let Some(mut redis) = TestRedis::start() else {
        return;
    };
    redis.stop();
    let spool_dir = tempfile::tempdir().expect("spool dir");
    let gateway = SpoolGateway::start(&redis.url(), spool_dir.path(), "1MiB").await;
    for k in 0..10 {
        let (status, json) = post_statuscake(&gateway.gw, k, true).await;
        assert_eq!(
            (status, json["transition"].as_str()),
            (StatusCode::ACCEPTED, Some("queued"))
        );
    }
    gateway.stop().await;
    // A crash in the middle of the last write: its tail never reached the disk.
    let log = spool_dir.path().join("spool.log");
    let len = std::fs::metadata(&log).expect("spool.log").len();
    std::fs::File::options()
        .write(true)
        .open(&log)
        .expect("open")
        .set_len(len - 20)
        .expect("truncate");

    redis.restart();
    let gateway = SpoolGateway::start(&redis.url(), spool_dir.path(), "1MiB").await;
    gateway.drained().await;
    let incidents = incidents_by_fingerprint(&gateway.gw).await;
    let sites: Vec<&str> = incidents.keys().map(String::as_str).collect();
    assert_eq!(incidents.len(), 9, "{sites:?}");
    assert!(
        !incidents.contains_key("Site 9|https://site9.example.com"),
        "{sites:?}"
    );
    assert!(incidents.values().all(|v| v == &[("open".to_owned(), 1)]));
    gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_spool_answers_503_with_retry_after_then_drains() {
    let Some(mut redis) = TestRedis::start() else {
        return;
    };
    redis.stop();
    let spool_dir = tempfile::tempdir().expect("spool dir");
    let gateway = SpoolGateway::start(&redis.url(), spool_dir.path(), "1KiB").await;
    let hook = format!("/hooks/statuscake?token={STATUSCAKE_TOKEN}");
    let mut queued = 0;
    let full = loop {
        let (status, headers, json) = gateway
            .gw
            .send(Method::POST, &hook, &[FORM], statuscake_form(queued, true))
            .await;
        if status == StatusCode::ACCEPTED {
            assert_eq!(json["transition"], "queued", "{json}");
            queued += 1;
            assert!(queued < 100, "a 1 KiB spool never filled");
            continue;
        }
        break (status, headers, json);
    };
    let (status, headers, json) = full;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{json}");
    assert_eq!(json["error"]["code"], "spool_full");
    assert_eq!(
        headers.get("retry-after").and_then(|v| v.to_str().ok()),
        Some("5")
    );
    assert!(queued >= 2, "{queued}");
    assert!(
        std::fs::metadata(spool_dir.path().join("spool.log"))
            .expect("log")
            .len()
            <= 1024
    );

    redis.restart();
    gateway.drained().await;
    let incidents = incidents_by_fingerprint(&gateway.gw).await;
    assert_eq!(incidents.len(), usize::try_from(queued).expect("small"));
    // Room again, and live: the refused webhook can now be sent.
    let (status, json) = post_statuscake(&gateway.gw, queued, true).await;
    assert_eq!(
        (status, json["transition"].as_str()),
        (StatusCode::ACCEPTED, Some("opened"))
    );
    gateway.stop().await;
}

/// A Statuspage incident update: the shipped fixture with another id, status and time.
fn statuspage_update(id: &str, status: &str, minute: u32) -> Vec<u8> {
    let mut json: Value =
        serde_json::from_slice(&fixture("statuspage/incident-investigating-critical.json"))
            .expect("fixture");
    json["incident"]["id"] = Value::from(id);
    json["incident"]["status"] = Value::from(status);
    json["incident"]["updated_at"] = Value::from(format!("2024-05-29T15:{minute:02}:00Z"));
    serde_json::to_vec(&json).expect("json")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_with_their_own_spools_converge_for_a_source_with_event_times() {
    let Some(mut redis) = TestRedis::start() else {
        return;
    };
    redis.stop();
    let (dir_a, dir_b) = (
        tempfile::tempdir().expect("a"),
        tempfile::tempdir().expect("b"),
    );
    let a = SpoolGateway::start(&redis.url(), dir_a.path(), "1MiB").await;
    let b = SpoolGateway::start(&redis.url(), dir_b.path(), "1MiB").await;
    let hook = format!("/hooks/statuspage?token={STATUSPAGE_TOKEN}");
    // Per incident, updates in time order, alternately sent to one replica or the other
    // (as a load balancer would); the last one decides how each incident must end.
    let statuses = ["investigating", "identified", "monitoring", "resolved"];
    let mut expected_open = std::collections::BTreeSet::new();
    let mut step = 0usize;
    for incident in 0..6u32 {
        let id = format!("inc{incident}");
        let updates = 2 + incident as usize % 4;
        for u in 0..updates {
            // Ends resolved for odd incidents, open for even ones.
            let status = if u + 1 == updates {
                if incident % 2 == 1 {
                    "resolved"
                } else {
                    "monitoring"
                }
            } else {
                statuses[(u + incident as usize) % 3]
            };
            step += 1;
            let replica = if (step * 7 + incident as usize) % 3 == 0 {
                &a
            } else {
                &b
            };
            let minute = u32::try_from(u).expect("small") * 5 + incident;
            let (code, _, json) = replica
                .gw
                .send(
                    Method::POST,
                    &hook,
                    &[JSON],
                    statuspage_update(&id, status, minute),
                )
                .await;
            assert_eq!(
                (code, json["transition"].as_str()),
                (StatusCode::ACCEPTED, Some("queued"))
            );
            if status == "resolved" {
                expected_open.remove(&format!("incident:{id}"));
            } else {
                expected_open.insert(format!("incident:{id}"));
            }
        }
    }
    redis.restart();
    a.drained().await;
    b.drained().await;
    // Whatever order the two replays interleave in, event times decide: an incident is
    // open exactly when its newest update is not a resolve, and never open twice. (A
    // resolve replayed before an older open makes that open stale, so a fingerprint may
    // end with fewer incidents and counts than with Redis up: docs/design.md §10.)
    let incidents = incidents_by_fingerprint(&a.gw).await;
    let open: std::collections::BTreeSet<String> = incidents
        .iter()
        .filter(|(fp, list)| {
            let open = list.iter().filter(|(s, _)| s == "open").count();
            assert!(open <= 1, "{fp}: {list:?}");
            open == 1
        })
        .map(|(fp, _)| fp.clone())
        .collect();
    assert_eq!(open, expected_open);
    assert!(!expected_open.is_empty() && expected_open.len() < 6);
    b.stop().await;
    a.stop().await;
}
