//! Notifications of incidents that flap, and of people's acts (docs/design.md §4, §11):
//! nothing is sent while a fingerprint flaps, one notification when it stops; an
//! acknowledgement reaches PagerDuty as `acknowledge` only where it is listed.

use std::time::Duration;

use alertgate::delivery::dedup_key;
use alertgate::store::{MemorySettings, MemoryStore, Store};
use http::{Method, StatusCode};
use serial_test::serial;

use crate::harness::{config_dir_with, TestRedis};
use crate::receiver::{
    always, bucketed_yaml, hook, redis_of, serve, started, wait_for, Received, Receiver,
};

fn bodies(rx: &Receiver) -> Vec<serde_json::Value> {
    rx.accepted().iter().map(Received::json).collect()
}

/// The webhook bodies about fingerprint `fp`, as `(transition, status, flap_count)`.
fn webhook_story(rx: &Receiver, fp: &str) -> Vec<(String, String, serde_json::Value)> {
    bodies(rx)
        .iter()
        .filter(|b| b["incident"]["fingerprint"] == fp)
        .map(|b| {
            (
                b["transition"].as_str().unwrap().to_owned(),
                b["incident"]["status"].as_str().unwrap().to_owned(),
                b["incident"]["flap_count"].clone(),
            )
        })
        .collect()
}

async fn flapping_case(redis: Option<&TestRedis>) {
    let hook_rx = Receiver::start(always(200)).await;
    let slack = Receiver::start(always(200)).await;
    let pd = Receiver::start(always(202)).await;
    let extra = format!(
        "sinks:\n  hook:\n    type: webhook\n    url: \"{}\"\n  chat:\n    type: slack\n    url: \"{}\"\n  pager:\n    type: pagerduty\n    url: \"{}\"\n    routing_key: rk-1\n",
        hook_rx.url(),
        slack.url(),
        pd.url()
    );
    let store_yaml = match redis {
        Some(redis) => bucketed_yaml(&redis.url()),
        None => "store:\n  backend: memory".to_owned(),
    };
    let (dir, snapshot) = config_dir_with(
        &store_yaml,
        "    flapping: { opens: 2, within: 2s }",
        &extra,
    );
    let store = match redis {
        Some(_) => redis_of(&snapshot).await,
        None => Store::Memory(MemoryStore::new(MemorySettings::default())),
    };
    let (gw, delivery) = serve(snapshot, store, Some(dir)).await;
    started(&delivery).await;

    // `db` flaps and ends resolved; `api` flaps and ends open. The first open of each is
    // not flapping yet; the second (2 opens within 2 s) starts the spell.
    for state in ["down", "up", "down", "up", "down", "up"] {
        hook(&gw, "db", state).await;
    }
    for state in ["down", "up", "down"] {
        hook(&gw, "api", state).await;
    }
    // The spell ends a whole quiet window later, on the sweeper's next round.
    wait_for(
        "flapping_ended at every sink",
        Duration::from_secs(60),
        || {
            let ended = |rx: &Receiver| {
                bodies(rx)
                    .iter()
                    .filter(|b| b["transition"] == "flapping_ended")
                    .count()
            };
            ended(&hook_rx) >= 2 && slack.accepted().len() >= 6 && pd.accepted().len() >= 6
        },
    )
    .await;
    // Delivery is in stream order, so everything before `flapping_ended` has been seen.
    let n = serde_json::Value::Null;
    assert_eq!(
        webhook_story(&hook_rx, "db"),
        [
            ("opened".into(), "open".into(), n.clone()),
            ("resolved".into(), "resolved".into(), n.clone()),
            ("flapping_ended".into(), "resolved".into(), 3.into()),
        ],
        "nothing while flapping"
    );
    assert_eq!(
        webhook_story(&hook_rx, "api"),
        [
            ("opened".into(), "open".into(), n.clone()),
            ("resolved".into(), "resolved".into(), n.clone()),
            ("flapping_ended".into(), "open".into(), 2.into()),
        ]
    );
    assert!(bodies(&hook_rx)
        .iter()
        .all(|b| b["incident"].get("flapping").is_none()));

    let texts: Vec<String> = bodies(&slack)
        .iter()
        .map(|b| b["text"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(texts.len(), 6, "{texts:?}");
    assert!(
        texts.contains(
            &"[RESOLVED] generic db (generic) stopped flapping after 3 opens: now resolved"
                .to_owned()
        ),
        "{texts:?}"
    );
    assert!(
        texts
            .contains(&"generic api (generic) stopped flapping after 2 opens: now open".to_owned()),
        "{texts:?}"
    );

    let actions = |fp: &str| -> Vec<String> {
        let key = dedup_key("generic", fp);
        bodies(&pd)
            .iter()
            .filter(|b| b["dedup_key"] == key.as_str())
            .map(|b| b["event_action"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(actions("db"), ["trigger", "resolve", "resolve"]);
    assert_eq!(actions("api"), ["trigger", "resolve", "trigger"]);
    let (status, sinks) = gw.admin_get("/v1/sinks").await;
    assert_eq!(status, StatusCode::OK);
    assert!(sinks["sinks"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["dead_lettered"] == 0));
    delivery.stop().await;
    gw.stop().await;
    for rx in [hook_rx, slack, pd] {
        rx.stop();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[serial(timing)]
async fn memory_flapping_sends_nothing_then_once_when_it_ends() {
    flapping_case(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[serial(timing)]
async fn redis_flapping_sends_nothing_then_once_when_it_ends() {
    let Some(redis) = TestRedis::start() else {
        return;
    };
    flapping_case(Some(&redis)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[serial(timing)]
async fn memory_acknowledged_reaches_pagerduty_only_where_listed() {
    let listed = Receiver::start(always(202)).await;
    let default = Receiver::start(always(202)).await;
    let hook_rx = Receiver::start(always(200)).await;
    let extra = format!(
        "sinks:\n  pager:\n    type: pagerduty\n    url: \"{}\"\n    routing_key: rk-2\n    transitions: [opened, acknowledged, resolved]\n  quiet:\n    type: pagerduty\n    url: \"{}\"\n    routing_key: rk-3\n  notes:\n    type: webhook\n    url: \"{}\"\n    transitions: [noted]\n",
        listed.url(),
        default.url(),
        hook_rx.url()
    );
    let (dir, snapshot) = config_dir_with("store:\n  backend: memory", "", &extra);
    let store = Store::Memory(MemoryStore::new(MemorySettings::default()));
    let (gw, delivery) = serve(snapshot, store, Some(dir)).await;
    started(&delivery).await;

    hook(&gw, "cache", "down").await;
    let id = gw.incidents().await[0]["id"].as_str().unwrap().to_owned();
    let (status, body) = gw
        .admin_send(Method::POST, &format!("/v1/incidents/{id}/acknowledge"), "")
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = gw
        .admin_send(
            Method::POST,
            &format!("/v1/incidents/{id}/notes"),
            r#"{"text": "restarting the cache"}"#,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    hook(&gw, "cache", "up").await;
    wait_for(
        "both pagers see the resolve",
        Duration::from_secs(30),
        || {
            let resolved =
                |rx: &Receiver| bodies(rx).iter().any(|b| b["event_action"] == "resolve");
            resolved(&listed) && resolved(&default) && !hook_rx.accepted().is_empty()
        },
    )
    .await;

    let key = dedup_key("generic", "cache");
    let listed_bodies = bodies(&listed);
    let actions: Vec<&str> = listed_bodies
        .iter()
        .map(|b| b["event_action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["trigger", "acknowledge", "resolve"]);
    assert_eq!(listed_bodies[1]["dedup_key"], key.as_str());
    assert_eq!(listed_bodies[1]["routing_key"], "rk-2");
    let default_actions: Vec<String> = bodies(&default)
        .iter()
        .map(|b| b["event_action"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        default_actions,
        ["trigger", "resolve"],
        "acknowledged and noted pass only when listed"
    );
    let notes = bodies(&hook_rx);
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0]["transition"], "noted");
    assert_eq!(notes[0]["actor"], "user:admin");
    assert_eq!(notes[0]["note"], "restarting the cache");
    delivery.stop().await;
    gw.stop().await;
    for rx in [listed, default, hook_rx] {
        rx.stop();
    }
}
