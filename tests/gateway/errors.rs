//! Every error status: its code, its message, and the store left unchanged.

use bytes::Bytes;
use http::{Method, StatusCode};

use crate::harness::{
    fixture, Backend, Gateway, GENERIC_TOKEN, STATUSCAKE_TOKEN, STATUSPAGE_TOKEN,
};

/// What, method, path, headers, body → status, code, a piece of the message.
type Case = (
    &'static str,
    Method,
    String,
    Vec<(&'static str, &'static str)>,
    Bytes,
    StatusCode,
    &'static str,
    &'static str,
);

const FORM: (&str, &str) = ("content-type", "application/x-www-form-urlencoded");

crate::both_backends!(every_webhook_error_has_its_status_and_message_and_changes_nothing);

async fn every_webhook_error_has_its_status_and_message_and_changes_nothing(gw: &Gateway) {
    let down = fixture("statuscake/down-basic.form");
    let sc = format!("/hooks/statuscake?token={STATUSCAKE_TOKEN}");
    let sp = format!("/hooks/statuspage?token={STATUSPAGE_TOKEN}");
    let cases: Vec<Case> = vec![
        (
            "missing token",
            Method::POST,
            "/hooks/statuscake".into(),
            vec![FORM],
            down.clone().into(),
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "missing token",
        ),
        (
            "wrong token",
            Method::POST,
            "/hooks/statuscake?token=nope".into(),
            vec![FORM],
            down.clone().into(),
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "wrong token",
        ),
        (
            "other source's token",
            Method::POST,
            format!("/hooks/statuscake?token={STATUSPAGE_TOKEN}"),
            vec![FORM],
            down.clone().into(),
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "wrong token",
        ),
        (
            "unknown source",
            Method::POST,
            "/hooks/nagios?token=x".into(),
            vec![FORM],
            down.clone().into(),
            StatusCode::NOT_FOUND,
            "unknown_source",
            "unknown source",
        ),
        (
            "unknown route",
            Method::GET,
            "/nope".into(),
            vec![],
            Bytes::new(),
            StatusCode::NOT_FOUND,
            "not_found",
            "no such route",
        ),
        (
            "method",
            Method::PUT,
            sc.clone(),
            vec![FORM],
            down.clone().into(),
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "use get, post",
        ),
        (
            "content type",
            Method::POST,
            format!("/hooks/generic?token={GENERIC_TOKEN}"),
            vec![("content-type", "text/plain")],
            Bytes::from_static(b"hello"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "text/plain",
        ),
        (
            "malformed json",
            Method::POST,
            sp.clone(),
            vec![("content-type", "application/json")],
            Bytes::from_static(b"{\"incident\":"),
            StatusCode::BAD_REQUEST,
            "malformed_body",
            "malformed json",
        ),
        (
            "malformed form",
            Method::POST,
            sc.clone(),
            vec![FORM],
            Bytes::from_static(b"Status=%FF"),
            StatusCode::BAD_REQUEST,
            "malformed_body",
            "utf-8",
        ),
        (
            "missing status",
            Method::POST,
            sc.clone(),
            vec![FORM],
            fixture("statuscake/invalid-missing-status.form").into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unprocessable_payload",
            "status",
        ),
        (
            "missing fingerprint field",
            Method::POST,
            sc.clone(),
            vec![FORM],
            Bytes::from_static(b"Status=Down&URL=x"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unprocessable_payload",
            "name",
        ),
    ];
    for (what, method, path, headers, body, status, code, message) in cases {
        let (s, h, json) = gw.send(method, &path, &headers, body).await;
        assert_eq!(s, status, "{what}: {json}");
        assert_eq!(json["error"]["code"], code, "{what}: {json}");
        let text = json["error"]["message"]
            .as_str()
            .unwrap_or("")
            .to_lowercase();
        assert!(text.contains(message), "{what}: {text:?} lacks {message:?}");
        assert!(
            !text.contains(STATUSCAKE_TOKEN) && !text.contains("nope"),
            "{what} echoes a token"
        );
        if status == StatusCode::METHOD_NOT_ALLOWED {
            assert_eq!(h["allow"], "GET, POST");
        }
    }
    assert!(
        gw.incidents().await.is_empty(),
        "no error may touch the store"
    );
}

#[tokio::test]
async fn too_large_is_refused_from_content_length_before_the_body_arrives() {
    let gw = Gateway::start_with(Backend::Memory, "limits:\n  max_body_bytes: 64")
        .await
        .expect("gw");
    // A chunked body (no Content-Length) over the limit is cut off by `Limited`.
    let (s, _, json) = gw
        .send(
            Method::POST,
            &format!("/hooks/statuscake?token={STATUSCAKE_TOKEN}"),
            &[FORM],
            vec![b'a'; 65],
        )
        .await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE, "{json}");
    assert!(json["error"]["message"]
        .as_str()
        .unwrap_or("")
        .contains("64 bytes"));
    gw.stop().await;
}

#[tokio::test]
async fn too_large_content_length_is_refused_before_the_body_is_sent() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let gw = Gateway::start(Backend::Memory).await.expect("gw");
    // Headers only: the server must answer from Content-Length, without waiting for 2 MiB.
    let mut socket = tokio::net::TcpStream::connect(gw.addr)
        .await
        .expect("connect");
    let head = format!(
        "POST /hooks/statuscake?token={STATUSCAKE_TOKEN} HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: 2097152\r\n\r\n"
    );
    socket.write_all(head.as_bytes()).await.expect("write");
    let mut response = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        socket.read_to_end(&mut response),
    )
    .await
    .expect("answered without the body");
    let text = String::from_utf8_lossy(&response);
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    assert!(text.contains("payload_too_large") && text.contains("larger than 1048576 bytes"));
    assert!(gw.incidents().await.is_empty());
    gw.stop().await;
}
