//! Two gateway replicas on one Redis (a single server, or a 3-master Redis Cluster
//! through `store.cluster`) never open two incidents for one key.

use bytes::Bytes;
use http::{Method, StatusCode};
use tokio::task::JoinSet;

use alertgate::server::AppState;

use crate::harness::{config_dir, redis_store, Backend, Gateway, STATUSCAKE_TOKEN};
use crate::test_cluster::TestCluster;

const REQUESTS: usize = 200;

async fn burst(a: &Gateway, b: &Gateway, status: &str) -> Vec<String> {
    let mut set = JoinSet::new();
    for i in 0..REQUESTS {
        let (client, url) = {
            let gw = if i % 2 == 0 { a } else { b };
            (
                gw.client.clone(),
                gw.url(&format!("/hooks/statuscake?token={STATUSCAKE_TOKEN}")),
            )
        };
        let body = format!("Status={status}&Name=Race&URL=https%3A%2F%2Frace.example.com");
        set.spawn(async move {
            let request = http::Request::builder()
                .method(Method::POST)
                .uri(url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(http_body_util::Full::new(Bytes::from(body)))
                .expect("request");
            let response = client.request(request).await.expect("response");
            assert_eq!(response.status(), StatusCode::ACCEPTED);
            let bytes = http_body_util::BodyExt::collect(response.into_body())
                .await
                .expect("body")
                .to_bytes();
            let json: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
            json["transition"].as_str().unwrap_or("").to_owned()
        });
    }
    let mut transitions = Vec::new();
    while let Some(t) = set.join_next().await {
        transitions.push(t.expect("task"));
    }
    transitions
}

fn count(list: &[String], t: &str) -> usize {
    list.iter().filter(|x| x.as_str() == t).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_concurrent_downs_open_one_incident_and_ups_resolve_it_once() {
    let Some(a) = Gateway::start(Backend::Redis).await else {
        return;
    };
    race(a).await;
}

/// The same race on a real 3-master Redis Cluster: the key's bucket (one slot) makes the
/// script atomic there too, and listings merge every bucket.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_race_on_redis_cluster_opens_one_incident_and_resolves_it_once() {
    let Some(cluster) = TestCluster::start() else {
        return;
    };
    let urls = cluster
        .urls()
        .iter()
        .map(|u| format!("\"{u}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let (dir, snapshot) = config_dir(
        &format!(
            "store:\n  backend: redis\n  key_prefix: \"alertgate-test:\"\n  cluster:\n    urls: [{urls}]"
        ),
        "",
    );
    let store = redis_store(&snapshot).await;
    let a = Gateway::serve(AppState::new(snapshot, store), Some(dir), None).await;
    race(a).await;
    drop(cluster);
}

/// 200 DOWNs split over `a` and a replica of it, then 200 UPs.
async fn race(a: Gateway) {
    let b = a.replica().await;

    let downs = burst(&a, &b, "Down").await;
    assert_eq!(count(&downs, "opened"), 1, "{downs:?}");
    assert_eq!(count(&downs, "updated"), REQUESTS - 1);
    let open = a.incidents().await;
    assert_eq!(open.len(), 1, "exactly one incident");
    assert_eq!(open[0]["status"], "open");
    assert_eq!(open[0]["event_count"], REQUESTS as u64);

    let ups = burst(&a, &b, "Up").await;
    assert_eq!(count(&ups, "resolved"), 1, "{ups:?}");
    assert_eq!(count(&ups, "already_resolved"), REQUESTS - 1);
    let after = b.incidents().await;
    assert_eq!(after.len(), 1);
    assert_eq!(after[0]["status"], "resolved");

    b.stop().await;
    a.stop().await;
}
