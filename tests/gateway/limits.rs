//! Abuse limits through HTTP: per-source rate limit, cap on open incidents, bounds on
//! what one event stores, the connection cap, and the metrics that count each.

use http::{Method, StatusCode};

use crate::harness::{Backend, Gateway, GENERIC_TOKEN, STATUSCAKE_TOKEN};

const JSON: (&str, &str) = ("content-type", "application/json");

async fn generic(
    gw: &Gateway,
    token: &str,
    body: &str,
) -> (StatusCode, http::HeaderMap, serde_json::Value) {
    gw.send(
        Method::POST,
        &format!("/hooks/generic?token={token}"),
        &[JSON],
        body.to_owned(),
    )
    .await
}

async fn scrape(gw: &Gateway) -> String {
    let response = gw
        .client
        .get(gw.url("/metrics").parse().expect("uri"))
        .await
        .expect("scrape");
    assert_eq!(response.status(), StatusCode::OK);
    let body = http_body_util::BodyExt::collect(response.into_body())
        .await
        .expect("body")
        .to_bytes();
    String::from_utf8(body.to_vec()).expect("utf-8")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_answers_429_with_retry_after_and_wrong_tokens_spend_nothing() {
    // One token every 10 s, two at once.
    let gw = Gateway::start_generic(
        Backend::Memory,
        "    rate_limit: { per_second: 0.1, burst: 2 }",
        "",
    )
    .await
    .expect("gw");
    for _ in 0..5 {
        let (s, _, _) = generic(&gw, "wrong", r#"{"state":"down","id":"a"}"#).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
    }
    for id in ["a", "b"] {
        let body = format!(r#"{{"state":"down","id":"{id}"}}"#);
        let (s, _, json) = generic(&gw, GENERIC_TOKEN, &body).await;
        assert_eq!(s, StatusCode::ACCEPTED, "{json}");
    }
    let (s, headers, json) = generic(&gw, GENERIC_TOKEN, r#"{"state":"down","id":"c"}"#).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{json}");
    assert_eq!(json["error"]["code"], "rate_limited");
    let retry: u64 = headers["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((1..=10).contains(&retry), "Retry-After {retry}");
    // Another source has no limit.
    let (s, _, _) = gw
        .send(
            Method::POST,
            &format!("/hooks/statuscake?token={STATUSCAKE_TOKEN}"),
            &[("content-type", "application/x-www-form-urlencoded")],
            "Status=Down&Name=x&URL=y",
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let text = scrape(&gw).await;
    assert!(
        text.contains("alertgate_rate_limited_total{source=\"generic\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("alertgate_rate_limited_total{source=\"statuspage\"} 0\n"),
        "{text}"
    );
    assert_eq!(gw.incidents().await.len(), 3);
    gw.stop().await;
}

async fn max_open_case(backend: Backend) {
    let Some(gw) = Gateway::start_generic(backend, "    max_open: 2", "").await else {
        return;
    };
    let open = |id: &'static str| format!(r#"{{"state":"down","id":"{id}"}}"#);
    for id in ["a", "b"] {
        let (s, _, json) = generic(&gw, GENERIC_TOKEN, &open(id)).await;
        assert_eq!(s, StatusCode::ACCEPTED, "{json}");
    }
    let (s, _, json) = generic(&gw, GENERIC_TOKEN, &open("c")).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{json}");
    assert_eq!(json["error"]["code"], "too_many_open_incidents");
    // An open of a key already open updates it: allowed at the cap.
    let (s, _, json) = generic(&gw, GENERIC_TOKEN, &open("a")).await;
    assert_eq!(
        (s, json["transition"].as_str()),
        (StatusCode::ACCEPTED, Some("updated"))
    );
    // A resolve frees a place.
    let (s, _, _) = generic(&gw, GENERIC_TOKEN, r#"{"state":"up","id":"a"}"#).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let (s, _, json) = generic(&gw, GENERIC_TOKEN, &open("c")).await;
    assert_eq!(
        (s, json["transition"].as_str()),
        (StatusCode::ACCEPTED, Some("opened"))
    );
    let text = scrape(&gw).await;
    assert!(
        text.contains("alertgate_open_limit_rejections_total{source=\"generic\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("alertgate_open_incidents{source=\"generic\"} 2\n"),
        "{text}"
    );
    assert!(
        text.contains("alertgate_open_incidents{source=\"statuspage\"} 0\n"),
        "{text}"
    );
    assert!(
        text.contains("alertgate_store_duration_seconds_count{op=\"open_count\"}"),
        "{text}"
    );
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_open_refuses_new_opens_never_updates_memory() {
    max_open_case(Backend::Memory).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_open_refuses_new_opens_never_updates_redis() {
    max_open_case(Backend::Redis).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_titles_and_labels_are_cut_and_long_fingerprints_refused() {
    let gw = Gateway::start_with(
        Backend::Memory,
        "limits:\n  max_title_bytes: 40\n  max_label_bytes: 30\n  max_fingerprint_bytes: 300",
    )
    .await
    .expect("gw");
    let sc = format!("/hooks/statuscake?token={STATUSCAKE_TOKEN}");
    let form = ("content-type", "application/x-www-form-urlencoded");
    let url = format!("https://example.com/{}", "é".repeat(60));
    let body = format!("Status=Down&Name=Site&URL={url}");
    let (s, _, json) = gw.send(Method::POST, &sc, &[form], body).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{json}");
    let incident = &gw.incidents().await[0];
    let title = incident["title"].as_str().expect("title");
    assert!(
        title.len() <= 40 && title.ends_with("…[truncated]"),
        "{title}"
    );
    let label = incident["labels"]["url"].as_str().expect("url label");
    assert!(
        label.len() <= 30 && label.ends_with("…[truncated]"),
        "{label}"
    );
    // The fingerprint is never cut: over the limit, the event is refused.
    let body = format!(
        "Status=Down&Name=Site&URL=https://example.com/{}",
        "a".repeat(300)
    );
    let (s, _, json) = gw.send(Method::POST, &sc, &[form], body).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{json}");
    let message = json["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("limits.max_fingerprint_bytes (300)"),
        "{message}"
    );
    let text = scrape(&gw).await;
    assert!(
        text.contains("alertgate_truncations_total{field=\"title\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("alertgate_truncations_total{field=\"label_value\"} 1\n"),
        "{text}"
    );
    assert_eq!(gw.incidents().await.len(), 1);
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_scrape_lists_every_metric_and_every_source() {
    let gw = Gateway::start(Backend::Memory).await.expect("gw");
    let text = scrape(&gw).await;
    for name in alertgate::metrics::NAMES {
        let family = name
            .strip_suffix("_total")
            .or_else(|| name.strip_suffix("_info"))
            .unwrap_or(name);
        assert!(
            text.contains(&format!("# TYPE {family} ")),
            "{name} missing:\n{text}"
        );
    }
    for source in ["generic", "statuscake", "statuspage"] {
        assert!(
            text.contains(&format!(
                "alertgate_open_incidents{{source=\"{source}\"}} 0\n"
            )),
            "{source}:\n{text}"
        );
    }
    gw.stop().await;
}

/// Connections beyond `max_connections` wait in the backlog: nothing answers them until
/// one of the open connections closes, then they are served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[serial_test::serial(timing)]
async fn connections_over_the_cap_wait_until_one_closes() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let gw = Gateway::start_with(Backend::Memory, "limits:\n  max_connections: 2")
        .await
        .expect("gw");
    let idle1 = tokio::net::TcpStream::connect(gw.addr)
        .await
        .expect("idle 1");
    let _idle2 = tokio::net::TcpStream::connect(gw.addr)
        .await
        .expect("idle 2");
    let mut third = tokio::net::TcpStream::connect(gw.addr)
        .await
        .expect("third");
    third
        .write_all(b"GET /-/healthy HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .await
        .expect("write");
    let mut buf = Vec::new();
    let early = tokio::time::timeout(
        std::time::Duration::from_secs(1),
        third.read_to_end(&mut buf),
    )
    .await;
    assert!(
        early.is_err(),
        "answered over the cap: {:?}",
        String::from_utf8_lossy(&buf)
    );
    drop(idle1);
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        third.read_to_end(&mut buf),
    )
    .await
    .expect("served once a connection closed")
    .expect("read");
    assert!(String::from_utf8_lossy(&buf).starts_with("HTTP/1.1 200"));
    let text = scrape_raw(&gw).await;
    assert!(
        !text.contains("alertgate_connection_limit_reached_total 0\n"),
        "{text}"
    );
    gw.stop().await;
}

/// `/metrics` on a fresh connection that closes (the pooled client would hold a slot).
async fn scrape_raw(gw: &Gateway) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(gw.addr)
        .await
        .expect("connect");
    s.write_all(b"GET /metrics HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .await
        .expect("write");
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.expect("read");
    String::from_utf8_lossy(&buf).into_owned()
}

/// A client that sends its headers a byte a second is cut off at
/// `header_read_timeout`; one whose body stalls half-way gets 408 at `request_timeout`;
/// a normal request meanwhile gets 202.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[serial_test::serial(timing)]
async fn slow_headers_and_stalled_bodies_are_closed_at_their_timeouts() {
    use std::time::{Duration, Instant};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let gw = Gateway::start_with(
        Backend::Memory,
        "limits:\n  header_read_timeout: 1s\n  request_timeout: 2s",
    )
    .await
    .expect("gw");
    let addr = gw.addr;
    let slowloris = tokio::spawn(async move {
        let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let started = Instant::now();
        for byte in b"POST /hooks/generic HTTP/1.1\r\nhost: x\r\nx-padding: aaaaaaaaaaaaaaaa\r\n" {
            if s.write_all(&[*byte]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let mut rest = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut rest)).await;
        (started.elapsed(), rest)
    });
    let stalled = tokio::spawn(async move {
        let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let head = format!(
            "POST /hooks/generic?token={GENERIC_TOKEN} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 40\r\n\r\n{{\"state\":"
        );
        s.write_all(head.as_bytes()).await.expect("write");
        let started = Instant::now();
        let mut response = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut response)).await;
        (started.elapsed(), response)
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (s, _, json) = generic(&gw, GENERIC_TOKEN, r#"{"state":"down","id":"ok"}"#).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{json}");

    let (elapsed, rest) = slowloris.await.expect("slowloris");
    // Cut off long before its ~30 s of headers, and never answered as a request.
    assert!(
        elapsed < Duration::from_secs(9),
        "slow headers kept for {elapsed:?}"
    );
    let rest = String::from_utf8_lossy(&rest);
    assert!(!rest.contains("202"), "{rest}");
    let (elapsed, response) = stalled.await.expect("stalled");
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 408"), "{response}");
    assert!(
        elapsed >= Duration::from_millis(1500),
        "408 after {elapsed:?}"
    );
    assert!(gw.incidents().await.len() == 1);
    gw.stop().await;
}
