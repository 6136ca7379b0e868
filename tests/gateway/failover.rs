//! A gateway on Redis Sentinel (`store.sentinel`) under a steady webhook load while the
//! master goes away: webhooks fail (503) while no master answers, then succeed again once
//! the Sentinels have promoted the replica, without a gateway restart. With
//! `min_replicas_ack: 1`, every webhook that got a 2xx is on the new master.
//!
//! Real processes (`tests/support/sentinel.rs`): a master, a replica, three Sentinels
//! (down after 1 s). A failover takes a few seconds; every wait polls up to 60 s.
//! Serialised (`#[serial(timing)]`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use alertgate::server::AppState;
use bytes::Bytes;
use http::{Method, StatusCode};
use serial_test::serial;

use crate::harness::{config_dir, redis_store, Gateway, STATUSCAKE_TOKEN};
use crate::test_sentinel::{signal, wait_replicas_online, TestSentinel, MASTER_NAME};

const WITHIN: Duration = Duration::from_secs(60);

/// One webhook of the load: its status and, when it succeeded, the fingerprint it opened.
type Sent = (StatusCode, Option<String>);

/// DOWNs with a new fingerprint each, one after the other, until stopped.
struct Load {
    sent: Arc<Mutex<Vec<Sent>>>,
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Load {
    fn start(gw: &Gateway) -> Load {
        let sent = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let client = gw.client.clone();
        let url = gw.url(&format!("/hooks/statuscake?token={STATUSCAKE_TOKEN}"));
        let task = {
            let (sent, stop) = (Arc::clone(&sent), Arc::clone(&stop));
            tokio::spawn(async move {
                let mut n = 0u32;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let body =
                        format!("Status=Down&Name=failover-{n}&URL=https%3A%2F%2Ffo.example.com");
                    let request = http::Request::builder()
                        .method(Method::POST)
                        .uri(&url)
                        .header("content-type", "application/x-www-form-urlencoded")
                        .body(http_body_util::Full::new(Bytes::from(body)))
                        .expect("request");
                    let response = client.request(request).await.expect("response");
                    let status = response.status();
                    let bytes = http_body_util::BodyExt::collect(response.into_body())
                        .await
                        .expect("body")
                        .to_bytes();
                    let json: serde_json::Value =
                        serde_json::from_slice(&bytes).unwrap_or_default();
                    let fingerprint = status
                        .is_success()
                        .then(|| json["fingerprint"].as_str().map(str::to_owned))
                        .flatten();
                    if status.is_success() {
                        assert!(fingerprint.is_some(), "2xx without fingerprint: {json}");
                    }
                    sent.lock().expect("lock").push((status, fingerprint));
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            })
        };
        Load { sent, stop, task }
    }

    fn len(&self) -> usize {
        self.sent.lock().expect("lock").len()
    }

    /// Waits until `check` holds for the webhooks sent from index `from` on; the index
    /// where it first held.
    async fn wait(&self, from: usize, what: &str, check: impl Fn(&Sent) -> bool) -> usize {
        let deadline = tokio::time::Instant::now() + WITHIN;
        loop {
            let found = self
                .sent
                .lock()
                .expect("lock")
                .get(from..)
                .and_then(|later| later.iter().position(&check));
            if let Some(at) = found {
                return from + at;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{what}: not within {WITHIN:?} ({} sent)",
                self.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn finish(self) -> Vec<Sent> {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.expect("load task");
        Arc::try_unwrap(self.sent)
            .expect("sole owner")
            .into_inner()
            .expect("lock")
    }
}

fn ok(sent: &Sent) -> bool {
    sent.0.is_success()
}

/// A gateway whose store is the Sentinels' master; `extra` goes under `store:`.
async fn sentinel_gateway(setup: &TestSentinel, extra: &str) -> Gateway {
    let urls = setup
        .urls()
        .iter()
        .map(|u| format!("\"{u}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let store = format!(
        "store:\n  backend: redis\n  key_prefix: \"alertgate-test:\"\n  sentinel:\n    \
         master_name: {MASTER_NAME}\n    urls: [{urls}]\n{extra}"
    );
    let (dir, snapshot) = config_dir(&store, "");
    let store = redis_store(&snapshot).await;
    Gateway::serve(AppState::new(snapshot, store), Some(dir), None).await
}

/// Every incident the gateway lists (all pages): fingerprint → status.
async fn listed(gw: &Gateway) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/incidents?limit=500&cursor={c}"),
            None => "/v1/incidents?limit=500".to_owned(),
        };
        let (status, json) = gw.admin_get(&path).await;
        assert_eq!(status, StatusCode::OK, "{json}");
        for incident in json["incidents"].as_array().expect("incidents") {
            out.insert(
                incident["fingerprint"].as_str().expect("fp").to_owned(),
                incident["status"].as_str().expect("status").to_owned(),
            );
        }
        match json["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return out,
        }
    }
}

/// `min_replicas_ack: 1`: the master is frozen (SIGSTOP) mid-load; webhooks fail, the
/// Sentinels promote the replica, the old master is let go on (SIGCONT) and rejoins as
/// the new master's replica (so `WAIT 1` can be met again), webhooks succeed again, and
/// every one answered 2xx (before or after) is open on the new master.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[serial(timing)]
async fn sentinel_failover_with_replica_ack_keeps_every_acknowledged_webhook() {
    let Some(setup) = TestSentinel::start(1) else {
        return;
    };
    let old = setup.master.port();
    let gw = sentinel_gateway(&setup, "  min_replicas_ack: 1\n").await;
    let load = Load::start(&gw);
    load.wait(0, "a first 2xx", ok).await;
    // A few more before the fault.
    let before = load.len();
    load.wait(before + 10, "ten more webhooks", |_| true).await;

    signal(&setup.master, "STOP");
    let stopped_at = load.len();
    let failed = load
        .wait(stopped_at, "a failed webhook after SIGSTOP", |s| !ok(s))
        .await;
    let new = tokio::task::block_in_place(|| setup.wait_new_master(old, WITHIN));
    assert_ne!(new, old);
    signal(&setup.master, "CONT");
    tokio::task::block_in_place(|| wait_replicas_online(new, 1, WITHIN));
    let back = load.wait(failed, "a 2xx after the failover", ok).await;
    load.wait(back + 20, "twenty more webhooks", |_| true).await;
    let sent = load.finish().await;

    let statuses: Vec<u16> = sent[failed..back].iter().map(|s| s.0.as_u16()).collect();
    assert!(
        statuses.iter().all(|s| *s == 503),
        "failures while no master answered are 503: {statuses:?}"
    );
    assert!(
        sent[back..].iter().filter(|s| ok(s)).count() >= 20,
        "webhooks succeed again after the failover"
    );
    // The gateway now reads the new master: every acknowledged webhook is there, open.
    let incidents = listed(&gw).await;
    let acked: Vec<&String> = sent.iter().filter_map(|s| s.1.as_ref()).collect();
    let missing: Vec<&&String> = acked
        .iter()
        .filter(|fp| incidents.get(fp.as_str()).map(String::as_str) != Some("open"))
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged webhooks missing after the failover: {missing:?}",
        missing.len(),
        acked.len()
    );
    eprintln!(
        "sent {}, acknowledged {}, failed {} (master frozen at #{stopped_at}, first failure #{failed}, back at #{back})",
        sent.len(),
        acked.len(),
        sent.iter().filter(|s| !ok(s)).count()
    );
    gw.stop().await;
}

/// No `min_replicas_ack`: the master is killed mid-load; the gateway follows the
/// Sentinels to the promoted replica by itself, and every webhook answered 2xx after
/// the failover is open there.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[serial(timing)]
async fn sentinel_failover_is_followed_without_a_restart() {
    let Some(mut setup) = TestSentinel::start(1) else {
        return;
    };
    let old = setup.master.port();
    let gw = sentinel_gateway(&setup, "").await;
    let load = Load::start(&gw);
    load.wait(0, "a first 2xx", ok).await;

    setup.master.stop();
    let killed_at = load.len();
    let failed = load
        .wait(killed_at, "a failed webhook after the kill", |s| !ok(s))
        .await;
    let new = tokio::task::block_in_place(|| setup.wait_new_master(old, WITHIN));
    let back = load.wait(failed, "a 2xx after the failover", ok).await;
    load.wait(back + 20, "twenty more webhooks", |_| true).await;
    let sent = load.finish().await;

    let incidents = listed(&gw).await;
    for s in &sent[back..] {
        if let Some(fp) = &s.1 {
            assert_eq!(
                incidents.get(fp).map(String::as_str),
                Some("open"),
                "{fp} answered 2xx after the failover but is not open on the new master"
            );
        }
    }
    // The replica promoted is the one the gateway writes to now.
    let mut raw = redis::Client::open(format!("redis://127.0.0.1:{new}/"))
        .and_then(|c| c.get_connection())
        .expect("new master");
    let role: Vec<redis::Value> = redis::cmd("ROLE").query(&mut raw).expect("ROLE");
    assert_eq!(
        role.first(),
        Some(&redis::Value::BulkString(b"master".to_vec()))
    );
    let (status, _, _) = gw.send(Method::GET, "/-/ready", &[], Bytes::new()).await;
    assert_eq!(status, StatusCode::OK);
    gw.stop().await;
}
