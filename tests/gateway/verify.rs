//! `verify:` checks through a real gateway: 401 naming the failed check (never its
//! secret) and 202 when the sender proves itself.

use std::fmt::Write as _;

use hmac::{Hmac, Mac};
use http::{Method, StatusCode};
use sha2::Sha256;

use crate::harness::{fixture, Backend, Gateway};

const HMAC_SECRET: &str = "grafana-hmac-secret-0f9e";
const CAKE_SECRET: &str = "bb186e2b60dc01833c9a9cdfb8566927";
const TOKEN: &str = "verify-url-token";
const SIG: &str = "x-grafana-alerting-signature";
const TS: &str = "x-grafana-alerting-signature-timestamp";

fn sign(message: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(HMAC_SECRET.as_bytes()).expect("key");
    mac.update(message.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

fn now_secs() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs(),
    )
    .expect("secs")
}

/// A gateway whose `sources_dir` holds three verifying sources.
async fn gateway() -> (Gateway, tempfile::TempDir) {
    let sources = tempfile::tempdir().expect("tmp");
    let mut files = String::new();
    let _ = write!(
        files,
        "id: signed\nintegration: generic\ntokens: [{TOKEN}]\nverify:\n  - hmac_sha256:\n      header: X-Grafana-Alerting-Signature\n      secret: {HMAC_SECRET}\n      timestamp_header: X-Grafana-Alerting-Signature-Timestamp\n      max_age: 5m\n"
    );
    std::fs::write(sources.path().join("signed.yaml"), files).expect("write");
    std::fs::write(
        sources.path().join("cake.yaml"),
        format!("id: cake\nintegration: statuscake\ntokens: [{TOKEN}]\nverify:\n  - field_equals: {{field: Token, secret: {CAKE_SECRET}}}\n"),
    )
    .expect("write");
    std::fs::write(
        sources.path().join("page.yaml"),
        format!("id: page\nintegration: statuspage\ntokens: [{TOKEN}]\nverify:\n  - field_in: {{field: page.id, values: [j2mfxwj97wnj, other]}}\n"),
    )
    .expect("write");
    std::fs::write(
        sources.path().join("elsewhere.yaml"),
        format!("id: elsewhere\nintegration: statuspage\ntokens: [{TOKEN}]\nverify:\n  - field_in: {{field: page.id, values: [not-this-page]}}\n"),
    )
    .expect("write");
    let extra = format!("sources_dir: {}", sources.path().display());
    let gw = Gateway::start_with(Backend::Memory, &extra)
        .await
        .expect("memory gateway");
    (gw, sources)
}

async fn post_signed(
    gw: &Gateway,
    body: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, serde_json::Value) {
    let mut all = vec![("content-type", "application/json")];
    all.extend_from_slice(headers);
    let (status, _, json) = gw
        .send(
            Method::POST,
            &format!("/hooks/signed?token={TOKEN}"),
            &all,
            body.to_owned(),
        )
        .await;
    (status, json)
}

fn assert_401(status: StatusCode, json: &serde_json::Value, message: &str) {
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{json}");
    assert_eq!(json["error"]["code"], "unauthorized", "{json}");
    assert_eq!(json["error"]["message"], message, "{json}");
    let text = json.to_string();
    assert!(
        !text.contains(HMAC_SECRET) && !text.contains(CAKE_SECRET),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hmac_signed_source_accepts_grafana_signatures_and_names_the_failed_check() {
    let (gw, _sources) = gateway().await;
    let body = r#"{"state":"down","id":"db"}"#;
    let ts = now_secs().to_string();
    let good = sign(&format!("{ts}:{body}"));

    let (status, json) = post_signed(&gw, body, &[(SIG, &good), (TS, &ts)]).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{json}");
    assert_eq!(json["transition"], "opened");

    let (status, json) = post_signed(
        &gw,
        r#"{"state":"up","id":"db"}"#,
        &[(SIG, &good), (TS, &ts)],
    )
    .await;
    assert_401(status, &json, "verify[0] hmac_sha256: signature mismatch");

    let (status, json) = post_signed(&gw, body, &[(TS, &ts)]).await;
    assert_401(
        status,
        &json,
        "verify[0] hmac_sha256: missing header x-grafana-alerting-signature",
    );

    let stale = (now_secs() - 600).to_string();
    let stale_sig = sign(&format!("{stale}:{body}"));
    let (status, json) = post_signed(&gw, body, &[(SIG, &stale_sig), (TS, &stale)]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{json}");
    let message = json["error"]["message"].as_str().expect("message");
    assert!(
        message.starts_with("verify[0] hmac_sha256: timestamp"),
        "{message}"
    );

    // The URL token still comes first: a good signature with a wrong token is refused
    // before the body is read.
    let (status, _, json) = gw
        .send(
            Method::POST,
            "/hooks/signed?token=wrong",
            &[(SIG, &good), (TS, &ts)],
            body.to_owned(),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(json["error"]["message"], "wrong token");
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn field_checks_read_fields_the_mapping_does_not() {
    let (gw, _sources) = gateway().await;
    let form = String::from_utf8(fixture("statuscake/down-basic.form")).expect("utf8");
    let post = |source: &'static str, body: Vec<u8>, ct: &'static str| {
        let gw = &gw;
        async move {
            let (status, _, json) = gw
                .send(
                    Method::POST,
                    &format!("/hooks/{source}?token={TOKEN}"),
                    &[("content-type", ct)],
                    body,
                )
                .await;
            (status, json)
        }
    };
    let form_ct = "application/x-www-form-urlencoded";
    // The statuscake mapping never reads Token; the check still sees it.
    let (status, json) = post("cake", form.clone().into_bytes(), form_ct).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{json}");
    let wrong = form.replace(CAKE_SECRET, "0000");
    let (status, json) = post("cake", wrong.into_bytes(), form_ct).await;
    assert_401(
        status,
        &json,
        "verify[0] field_equals: field Token does not match",
    );
    let missing = form.replace(&format!("Token={CAKE_SECRET}&"), "");
    let (status, json) = post("cake", missing.into_bytes(), form_ct).await;
    assert_401(
        status,
        &json,
        "verify[0] field_equals: field Token is missing",
    );

    let page = fixture("statuspage/incident-investigating-critical.json");
    let (status, json) = post("page", page.clone(), "application/json").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{json}");
    let (status, json) = post("elsewhere", page, "application/json").await;
    assert_401(
        status,
        &json,
        "verify[0] field_in: field page.id is not an allowed value",
    );
    gw.stop().await;
}
