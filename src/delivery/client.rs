//! One HTTP attempt: POST the body with the sink's headers, the event id and the
//! signature; classify the answer. hyper-util's client over rustls (ring, the system's
//! roots): hyper is already the server's stack, so this adds only the TLS connector.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use super::render::{signature, Rendered};
use super::retry::parse_retry_after;
use crate::config::SinkSettings;

/// Header carrying the event's unique id: the receiver's idempotency key.
pub const EVENT_ID_HEADER: &str = "x-alertgate-event-id";
/// Header carrying `sha256=<hex HMAC-SHA256 of the body>` when the sink has a `secret`.
pub const SIGNATURE_HEADER: &str = "x-alertgate-signature";
/// How much of an error answer's body is kept for `last_error` and dead letters.
const ERROR_BODY_SHOWN: usize = 200;

type Connector = hyper_rustls::HttpsConnector<HttpConnector>;

/// Why an attempt failed, and whether another may help.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Failure {
    pub message: String,
    /// A 4xx other than 408/429: the request itself is wrong; retrying will not help.
    pub permanent: bool,
    /// The receiver's `Retry-After` (429/503).
    pub retry_after: Option<Duration>,
}

#[derive(Clone)]
pub(super) struct HttpClient {
    client: Client<Connector, Full<Bytes>>,
}

impl HttpClient {
    pub(super) fn new() -> HttpClient {
        let builder = hyper_rustls::HttpsConnectorBuilder::new();
        let connector = match builder.with_native_roots() {
            Ok(b) => b.https_or_http().enable_http1().build(),
            Err(e) => {
                tracing::warn!(error = %e, "no system TLS roots: https sinks will fail");
                hyper_rustls::HttpsConnectorBuilder::new()
                    .with_tls_config(
                        rustls::ClientConfig::builder()
                            .with_root_certificates(rustls::RootCertStore::empty())
                            .with_no_client_auth(),
                    )
                    .https_or_http()
                    .enable_http1()
                    .build()
            }
        };
        HttpClient {
            client: Client::builder(TokioExecutor::new()).build(connector),
        }
    }

    /// Sends one attempt; `Ok` on a 2xx.
    pub(super) async fn send(
        &self,
        sink: &SinkSettings,
        event_id: &str,
        rendered: Rendered,
    ) -> Result<StatusCode, Failure> {
        let fail = |message: String| Failure {
            message,
            permanent: false,
            retry_after: None,
        };
        let mut builder = Request::post(&sink.url)
            .header(http::header::CONTENT_TYPE, rendered.content_type)
            .header(
                http::header::USER_AGENT,
                concat!("alertgate/", env!("CARGO_PKG_VERSION")),
            )
            .header(EVENT_ID_HEADER, event_id);
        if let Some(secret) = &sink.secret {
            builder = builder.header(SIGNATURE_HEADER, signature(secret, &rendered.body));
        }
        for (name, value) in &sink.headers {
            if let (Ok(n), Ok(v)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) {
                builder = builder.header(n, v);
            }
        }
        let request = builder
            .body(Full::new(Bytes::from(rendered.body)))
            .map_err(|e| Failure {
                message: format!("bad request: {e}"),
                permanent: true,
                retry_after: None,
            })?;
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| fail(format!("{e:?}")))?;
            let status = response.status();
            let retry_after = response
                .headers()
                .get(http::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(parse_retry_after);
            let body = response
                .into_body()
                .collect()
                .await
                .map(http_body_util::Collected::to_bytes)
                .unwrap_or_default();
            Ok::<_, Failure>((status, retry_after, body))
        };
        let (status, retry_after, body) = tokio::time::timeout(sink.timeout, exchange)
            .await
            .map_err(|_| fail(format!("no answer within {:?}", sink.timeout)))??;
        if status.is_success() {
            return Ok(status);
        }
        let shown: String = String::from_utf8_lossy(&body)
            .chars()
            .take(ERROR_BODY_SHOWN)
            .collect();
        let code = status.as_u16();
        Err(Failure {
            message: format!("HTTP {code}: {shown}"),
            permanent: status.is_client_error() && code != 408 && code != 429,
            retry_after: if code == 429 || code == 503 {
                retry_after
            } else {
                None
            },
        })
    }
}
