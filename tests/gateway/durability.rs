//! Redis persistence (README "Redis persistence"): with `appendonly yes` and
//! `appendfsync always`, a `kill -9` of Redis in the middle of a load loses no webhook the
//! gateway acknowledged with 202, and no incident id is handed out twice afterwards, not
//! even once the id counter is rolled back as a restore from an older snapshot would.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use alertgate::config::StoreSettings;
use alertgate::server::AppState;
use alertgate::store::{RedisStore, Store};
use http::{Method, StatusCode};
use serial_test::serial;

use crate::harness::{config_dir, redis_store_yaml, Gateway, TestRedis, STATUSCAKE_TOKEN};

const SITES: u32 = 8;
/// Webhooks acknowledged before Redis is killed.
const KILL_AFTER: usize = 200;

/// What one site's sender saw: every 202 (action, transition, incident id), and the
/// request that failed, if any (it may or may not have been applied).
#[derive(Debug, Default)]
struct Seen {
    acked: Vec<(bool, String, Option<String>)>,
    unanswered: Option<bool>,
}

async fn send_site(gw: Arc<Gateway>, site: u32, acks: Arc<AtomicUsize>) -> Seen {
    let hook = format!("/hooks/statuscake?token={STATUSCAKE_TOKEN}");
    let mut seen = Seen::default();
    let mut x = u64::from(site) * 0x9e37_79b9 + 7;
    for _ in 0..5_000 {
        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        let down = (x >> 33) % 3 != 0;
        let body = format!(
            "Status={}&Name=Site+{site}&URL=https%3A%2F%2Fsite{site}.example.com",
            if down { "Down" } else { "Up" }
        );
        let (status, _, json) = gw
            .send(
                Method::POST,
                &hook,
                &[("content-type", "application/x-www-form-urlencoded")],
                body,
            )
            .await;
        if status != StatusCode::ACCEPTED {
            assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{json}");
            seen.unanswered = Some(down);
            return seen;
        }
        seen.acked.push((
            down,
            json["transition"].as_str().expect("transition").to_owned(),
            json["incident_id"].as_str().map(str::to_owned),
        ));
        acks.fetch_add(1, Ordering::Relaxed);
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[serial(timing)]
async fn every_acknowledged_transition_survives_a_kill_9_with_appendfsync_always() {
    let Some(mut redis) =
        TestRedis::start_with(&["--appendonly", "yes", "--appendfsync", "always"])
    else {
        return;
    };
    let (dir, snapshot) = config_dir(&redis_store_yaml(&redis.url()), "");
    let StoreSettings::Redis(settings) = snapshot.settings.store.clone() else {
        panic!("redis config expected");
    };
    let store = RedisStore::connect(settings).await.expect("redis");
    let gw = Arc::new(
        Gateway::serve(
            AppState::new(snapshot, Store::Redis(store)),
            Some(dir),
            None,
        )
        .await,
    );

    let acks = Arc::new(AtomicUsize::new(0));
    let senders: Vec<_> = (0..SITES)
        .map(|site| tokio::spawn(send_site(Arc::clone(&gw), site, Arc::clone(&acks))))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    while acks.load(Ordering::Relaxed) < KILL_AFTER {
        assert!(Instant::now() < deadline, "load too slow");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    // SIGKILL (std's Child::kill): nothing is flushed on the way out.
    redis.stop();
    let mut seen = BTreeMap::new();
    for (site, sender) in senders.into_iter().enumerate() {
        seen.insert(
            format!("Site {site}|https://site{site}.example.com"),
            sender.await.expect("sender"),
        );
    }
    let acked: usize = seen.values().map(|s| s.acked.len()).sum();
    assert!(acked >= KILL_AFTER);
    redis.restart();

    // The gateway reconnects by itself.
    let deadline = Instant::now() + Duration::from_secs(30);
    while gw.admin_get("/v1/incidents?limit=1").await.0 != StatusCode::OK {
        assert!(Instant::now() < deadline, "no reconnect");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut max_id = 0u64;
    for (fp, site) in &seen {
        // Per incident: how many acknowledged opens/updates, and whether a resolve was.
        let mut per_id: BTreeMap<&str, (u64, bool)> = BTreeMap::new();
        for (_, transition, id) in &site.acked {
            let Some(id) = id.as_deref() else { continue };
            max_id = max_id.max(id.parse().expect("numeric id"));
            let entry = per_id.entry(id).or_default();
            match transition.as_str() {
                "opened" | "updated" => entry.0 += 1,
                "resolved" => entry.1 = true,
                other => panic!("{fp}: unexpected {other}"),
            }
        }
        for (id, (counted, resolved)) in &per_id {
            let (status, incident) = gw.admin_get(&format!("/v1/incidents/{id}")).await;
            assert_eq!(
                status,
                StatusCode::OK,
                "{fp}: acknowledged incident {id} lost"
            );
            assert_eq!(incident["fingerprint"], fp.as_str());
            assert!(
                incident["event_count"].as_u64().expect("count") >= *counted,
                "{fp}: {incident} has fewer events than the {counted} acknowledged"
            );
            if *resolved {
                assert_eq!(incident["status"], "resolved", "{fp}: {incident}");
            }
        }
        // The last acknowledged step holds, unless the one unanswered request (which may
        // have been applied before the kill) was a resolve of that open incident.
        if let Some((_, transition, Some(id))) = site.acked.last() {
            let (_, incident) = gw.admin_get(&format!("/v1/incidents/{id}")).await;
            let may_resolve = site.unanswered == Some(false);
            match transition.as_str() {
                "opened" | "updated" if !may_resolve => {
                    assert_eq!(incident["status"], "open", "{fp}: {incident}");
                }
                "resolved" => assert_eq!(incident["status"], "resolved", "{fp}: {incident}"),
                _ => {}
            }
        }
    }
    // Ids are never handed out twice, even after a restore from an older snapshot: roll
    // the bucket's counter back as such a restore would (here to before any incident);
    // `v` starts from the clock, so the next id is still above every acknowledged one.
    let client = redis::Client::open(redis.url()).expect("redis client");
    let mut conn = client.get_connection().expect("redis connection");
    let () = redis::cmd("SET")
        .arg("alertgate-test:{b0}seq")
        .arg("1")
        .query(&mut conn)
        .expect("roll back seq");
    let (status, _, json) = gw
        .send(
            Method::POST,
            &format!("/hooks/statuscake?token={STATUSCAKE_TOKEN}"),
            &[("content-type", "application/x-www-form-urlencoded")],
            "Status=Down&Name=After&URL=https%3A%2F%2Fafter.example.com",
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{json}");
    let new_id: u64 = json["incident_id"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .expect("id");
    assert!(
        new_id > max_id,
        "id {new_id} reused (max acknowledged {max_id})"
    );
    eprintln!("durability: {acked} webhooks acknowledged before kill -9, all found after restart");
    if let Ok(gw) = Arc::try_unwrap(gw) {
        gw.stop().await;
    }
}
