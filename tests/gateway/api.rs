//! The incidents API, its auth, filters and pages; the health probes; the handler
//! called without a socket.

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};

use crate::harness::{Backend, Gateway, ADMIN_TOKEN, STATUSCAKE_TOKEN};

crate::both_backends!(incidents_filter_by_status_and_source_and_paginate_newest_first);

async fn open(gw: &Gateway, name: &str) {
    let (s, _, json) = gw
        .send(
            Method::GET,
            &format!("/hooks/statuscake?Status=Down&Name={name}&URL=u&token={STATUSCAKE_TOKEN}"),
            &[],
            Bytes::new(),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{json}");
}

async fn incidents_filter_by_status_and_source_and_paginate_newest_first(gw: &Gateway) {
    for i in 0..5 {
        open(gw, &format!("t{i}")).await;
    }
    gw.post_fixture("statuspage", "incident-investigating-minor.json")
        .await;
    gw.post_fixture("statuscake", "down-minimal.form").await;
    gw.post_fixture("statuscake", "up-minimal.form").await;

    let (_, resolved) = gw.admin_get("/v1/incidents?status=resolved").await;
    assert_eq!(resolved["incidents"].as_array().map(Vec::len), Some(1));
    let (_, sp) = gw.admin_get("/v1/incidents?source=statuspage").await;
    assert_eq!(sp["incidents"][0]["fingerprint"], "incident:r3n8m2x7k4pq");
    let (_, open_sc) = gw
        .admin_get("/v1/incidents?status=open&source=statuscake")
        .await;
    assert_eq!(open_sc["incidents"].as_array().map(Vec::len), Some(5));

    // Pages of 2, newest first, cover all 7 once.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let q = match &cursor {
            Some(c) => format!("/v1/incidents?limit=2&cursor={c}"),
            None => "/v1/incidents?limit=2".to_owned(),
        };
        let (s, page) = gw.admin_get(&q).await;
        assert_eq!(s, StatusCode::OK, "{page}");
        for i in page["incidents"].as_array().into_iter().flatten() {
            seen.push(i["id"].as_str().unwrap_or("").parse::<u64>().unwrap_or(0));
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 7);
    assert!(
        seen.windows(2).all(|w| w[0] > w[1]),
        "newest first: {seen:?}"
    );

    for (q, param) in [
        ("status=closed", "status"),
        ("limit=0", "limit"),
        ("limit=x", "limit"),
        ("cursor=abc", "cursor"),
        ("state=open", "state"),
    ] {
        let (s, json) = gw.admin_get(&format!("/v1/incidents?{q}")).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{q}");
        assert!(
            json["error"]["message"]
                .as_str()
                .unwrap_or("")
                .contains(param),
            "{q}: {json}"
        );
    }
    let (s, json) = gw.admin_get("/v1/incidents/999999").await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{json}");
    let (s, json) = gw.admin_get("/v1/incidents/not-an-id").await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{json}");
}

#[tokio::test]
async fn admin_api_needs_the_bearer_admin_token() {
    let gw = Gateway::start(Backend::Memory).await.expect("gw");
    for auth in [None, Some("Bearer wrong"), Some(STATUSCAKE_TOKEN)] {
        let headers: Vec<(&str, &str)> = auth.map(|a| ("authorization", a)).into_iter().collect();
        let (s, h, json) = gw
            .send(Method::GET, "/v1/incidents", &headers, Bytes::new())
            .await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{auth:?}: {json}");
        assert_eq!(h["www-authenticate"], "Bearer");
    }
    let (s, _) = gw.admin_get("/v1/incidents").await;
    assert_eq!(s, StatusCode::OK);
    gw.stop().await;
}

#[tokio::test]
async fn limit_is_clamped_to_max_page_size() {
    let gw = Gateway::start_with(Backend::Memory, "limits:\n  max_page_size: 2")
        .await
        .expect("gw");
    for i in 0..3 {
        open(&gw, &format!("c{i}")).await;
    }
    let (_, page) = gw.admin_get("/v1/incidents?limit=100").await;
    assert_eq!(page["incidents"].as_array().map(Vec::len), Some(2));
    assert!(page["next_cursor"].is_string());
    gw.stop().await;
}

#[tokio::test]
async fn healthy_and_ready_answer_200_with_a_reachable_store() {
    let gw = Gateway::start(Backend::Memory).await.expect("gw");
    for path in ["/-/healthy", "/-/ready"] {
        let (s, _, json) = gw.send(Method::GET, path, &[], Bytes::new()).await;
        assert_eq!(s, StatusCode::OK, "{path}: {json}");
    }
    gw.stop().await;
}

#[tokio::test]
async fn handler_answers_without_a_socket() {
    let gw = Gateway::start(Backend::Memory).await.expect("gw");
    let request = Request::builder()
        .method(Method::POST)
        .uri(format!("/hooks/statuscake?token={STATUSCAKE_TOKEN}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Full::new(Bytes::from_static(b"Status=Down&Name=N&URL=u")))
        .expect("request");
    let response = alertgate::server::handle(&gw.state, request).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    let json: serde_json::Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(json["transition"], "opened");
    let _ = ADMIN_TOKEN;
    gw.stop().await;
}
