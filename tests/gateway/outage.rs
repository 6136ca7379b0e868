//! Redis going away under a running gateway: webhooks get 503 with `Retry-After`,
//! readiness fails, nothing is half-written, and service resumes by itself.

use std::net::SocketAddr;

use alertgate::config::StoreSettings;
use alertgate::server::AppState;
use alertgate::store::{RedisStore, Store};
use http::{Method, StatusCode};

use crate::harness::{config_dir, fixture, redis_store_yaml, Gateway, TestRedis, STATUSCAKE_TOKEN};
use crate::relay::Relay;

const FORM: (&str, &str) = ("content-type", "application/x-www-form-urlencoded");

/// A gateway on the Redis store, reaching Redis through a `Relay` (to cut), and the real
/// Redis address (to relay again); `None` when Redis is not installed.
pub(crate) async fn relayed_gateway() -> Option<(Gateway, Relay, SocketAddr)> {
    let redis = TestRedis::start()?;
    let relay = Relay::start("127.0.0.1:0", redis.addr()).await;
    let (dir, snapshot) = config_dir(&redis_store_yaml(&format!("redis://{}", relay.addr)), "");
    let StoreSettings::Redis(settings) = snapshot.settings.store.clone() else {
        panic!("redis config expected");
    };
    let store = RedisStore::connect(settings)
        .await
        .expect("redis through the relay");
    let upstream = redis.addr();
    let gw = Gateway::serve(
        AppState::new(snapshot, Store::Redis(store)),
        Some(dir),
        Some(redis),
    )
    .await;
    Some((gw, relay, upstream))
}

/// `tests/fixtures/statuscake/<file>` posted to statuscake.
async fn post_statuscake(
    gw: &Gateway,
    file: &str,
) -> (StatusCode, http::HeaderMap, serde_json::Value) {
    let hook = format!("/hooks/statuscake?token={STATUSCAKE_TOKEN}");
    gw.send(
        Method::POST,
        &hook,
        &[FORM],
        fixture(&format!("statuscake/{file}")),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_outage_gives_503_with_retry_after_and_recovers() {
    let Some((gw, relay, upstream)) = relayed_gateway().await else {
        return;
    };
    let hook = format!("/hooks/statuscake?token={STATUSCAKE_TOKEN}");

    let (status, json) = gw.post_fixture("statuscake", "down-basic.form").await;
    assert_eq!(
        (status, json["transition"].as_str()),
        (StatusCode::ACCEPTED, Some("opened"))
    );

    relay.cut();
    let (status, headers, json) = post_statuscake(&gw, "down-repeat.form").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{json}");
    assert_eq!(json["error"]["code"], "store_unavailable");
    assert_eq!(
        headers.get("retry-after").and_then(|v| v.to_str().ok()),
        Some("5")
    );
    let (status, _, json) = gw
        .send(Method::GET, "/-/ready", &[], bytes::Bytes::new())
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{json}");
    // An ignored payload needs no store: it is still answered.
    let (status, _, json) = gw
        .send(
            Method::POST,
            &hook,
            &[FORM],
            "Status=Paused&Name=Site&URL=https%3A%2F%2Fsite",
        )
        .await;
    assert_eq!(
        (status, json["transition"].as_str()),
        (StatusCode::ACCEPTED, Some("ignored"))
    );

    // Redis back on the same address: the next requests reconnect by themselves.
    let _back = Relay::start(&relay.addr.to_string(), upstream).await;
    let mut answer = None;
    for _ in 0..300 {
        let (status, _, json) = post_statuscake(&gw, "down-repeat.form").await;
        if status == StatusCode::ACCEPTED {
            answer = Some(json);
            break;
        }
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{json}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let json = answer.expect("the gateway recovers once Redis is back");
    // The refused DOWN left nothing behind: this one is the first update of incident 1.
    assert_eq!(json["transition"], "updated");
    let incidents = gw.incidents().await;
    assert_eq!(incidents.len(), 1);
    assert_eq!(incidents[0]["event_count"], 2);
    gw.stop().await;
}

/// `serve` with Redis down: the gateway starts anyway, is not ready (503) while healthy
/// (200), answers webhooks 503, shows the store down in `/metrics` and `/-/config`; once
/// Redis starts, it connects in the background and serves without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_started_without_redis_serves_once_redis_starts() {
    let Some(mut redis) = TestRedis::start() else {
        return;
    };
    redis.stop();
    let (dir, snapshot) = config_dir(&redis_store_yaml(&redis.url()), "");
    let StoreSettings::Redis(settings) = snapshot.settings.store.clone() else {
        panic!("redis config expected");
    };
    let store = RedisStore::start(settings, std::time::Duration::from_millis(300))
        .await
        .expect("a gateway starts without redis");
    // With a reloader, as `serve` has, so `/-/config` answers.
    let reloader = alertgate::app::reloader(
        &dir.path().join("config.yaml"),
        alertgate::config::Overrides::default(),
        snapshot,
        alertgate::metrics::Metrics::new(),
    );
    let gw = Gateway::serve(
        AppState::with_reloader(reloader, Store::Redis(store)),
        Some(dir),
        None,
    )
    .await;
    let (status, _, json) = gw
        .send(Method::GET, "/-/ready", &[], bytes::Bytes::new())
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{json}");
    let (status, _, _) = gw
        .send(Method::GET, "/-/healthy", &[], bytes::Bytes::new())
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, headers, json) = post_statuscake(&gw, "down-basic.form").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{json}");
    assert!(headers.get("retry-after").is_some());
    let (_, config) = gw.admin_get("/-/config").await;
    assert_eq!(config["store"]["backend"], "redis", "{config}");
    assert_ne!(config["store"]["state"], "up", "{config}");
    assert!(metrics_text(&gw).await.contains("alertgate_store_up 0"));

    redis.restart();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let (status, _, _) = gw
            .send(Method::GET, "/-/ready", &[], bytes::Bytes::new())
            .await;
        if status == StatusCode::OK {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not ready 15 s after redis started"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let (status, json) = gw.post_fixture("statuscake", "down-basic.form").await;
    assert_eq!(
        (status, json["transition"].as_str()),
        (StatusCode::ACCEPTED, Some("opened"))
    );
    let (_, config) = gw.admin_get("/-/config").await;
    assert_eq!(config["store"]["state"], "up", "{config}");
    assert!(metrics_text(&gw).await.contains("alertgate_store_up 1"));
    gw.stop().await;
    drop(redis);
}

async fn metrics_text(gw: &Gateway) -> String {
    let request = http::Request::builder()
        .uri(gw.url("/metrics"))
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .expect("request");
    let response = gw.client.request(request).await.expect("metrics");
    let body = http_body_util::BodyExt::collect(response.into_body())
        .await
        .expect("body")
        .to_bytes();
    String::from_utf8_lossy(&body).into_owned()
}
