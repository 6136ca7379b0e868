//! The Redis store over TLS: a real TLS-only `redis-server` (`tests/support/tls_redis.rs`)
//! with a CA the test makes; the gateway reaches it through `store.url: rediss://…` and
//! `store.tls.ca_file` (relative to the config file). The wrong CA leaves the store down
//! with the reason named (503s, `/-/ready` 503), never a panic.

use std::time::Duration;

use alertgate::config::StoreSettings;
use alertgate::server::AppState;
use alertgate::store::{Health, RedisStore, Store};
use bytes::Bytes;
use http::{Method, StatusCode};

use crate::harness::{config_dir, redis_store, Gateway};
use crate::test_tls_redis::{TestCa, TlsRedis};

fn tls_store_yaml(url: &str) -> String {
    format!(
        "store:\n  backend: redis\n  url: \"{url}\"\n  key_prefix: \"alertgate-test:\"\n  tls:\n    ca_file: ca.pem"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rediss_with_ca_file_opens_resolves_and_lists() {
    let ca = TestCa::new("alertgate test CA");
    let Some(server) = TlsRedis::start(&ca) else {
        return;
    };
    let (dir, snapshot) = config_dir(&tls_store_yaml(&server.url()), "");
    ca.write(dir.path(), "ca.pem");
    let store = redis_store(&snapshot).await;
    let gw = Gateway::serve(AppState::new(snapshot, store), Some(dir), None).await;

    let (status, json) = gw.post_fixture("statuscake", "down-basic.form").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{json}");
    assert_eq!(json["transition"], "opened");
    let id = json["incident_id"].as_str().expect("id").to_owned();
    let (status, json) = gw.post_fixture("statuscake", "down-repeat.form").await;
    assert_eq!(
        (status, json["transition"].as_str()),
        (StatusCode::ACCEPTED, Some("updated"))
    );
    let open = gw.incidents().await;
    assert_eq!(open.len(), 1);
    assert_eq!(open[0]["status"], "open");
    assert_eq!(open[0]["event_count"], 2);

    let (status, json) = gw.post_fixture("statuscake", "up-basic.form").await;
    assert_eq!(
        (status, json["transition"].as_str()),
        (StatusCode::ACCEPTED, Some("resolved")),
        "{json}"
    );
    let (status, json) = gw.admin_get(&format!("/v1/incidents/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(json["status"], "resolved");
    let (status, json) = gw.admin_get("/v1/incidents?status=open").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json["incidents"].as_array().map(Vec::len), Some(0));

    let (status, _, _) = gw.send(Method::GET, "/-/ready", &[], Bytes::new()).await;
    assert_eq!(status, StatusCode::OK);
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rediss_with_the_wrong_ca_is_a_store_down_with_the_reason() {
    let ca = TestCa::new("alertgate test CA");
    let Some(server) = TlsRedis::start(&ca) else {
        return;
    };
    let (dir, snapshot) = config_dir(&tls_store_yaml(&server.url()), "");
    TestCa::new("some other CA").write(dir.path(), "ca.pem");
    let StoreSettings::Redis(settings) = snapshot.settings.store.clone() else {
        panic!("redis config expected");
    };

    let err = RedisStore::connect(settings.clone())
        .await
        .err()
        .expect("a server signed by another CA is refused");
    let message = err.to_string();
    assert!(
        message.to_lowercase().contains("certificate"),
        "the error names the certificate: {message}"
    );

    // As `serve` starts: up, the store down in the background, requests answered 503.
    let store = RedisStore::start(settings, Duration::from_secs(3))
        .await
        .expect("start waits for Redis in the background");
    assert_eq!(store.health(), Health::Down);
    let reason = store.health_reason().unwrap_or_default();
    assert!(reason.to_lowercase().contains("certificate"), "{reason}");
    let gw = Gateway::serve(
        AppState::new(snapshot, Store::Redis(store)),
        Some(dir),
        None,
    )
    .await;
    let (status, json) = gw.post_fixture("statuscake", "down-basic.form").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{json}");
    assert_eq!(json["error"]["code"], "store_unavailable");
    let (status, _, _) = gw.send(Method::GET, "/-/ready", &[], Bytes::new()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    eprintln!("wrong CA: {message}");
    gw.stop().await;
}
