//! Every way a request can fail, and the one table that maps each to an HTTP response.
//!
//! Errors are classed by who caused them (pingora-style): the caller (4xx, logged at
//! WARN or DEBUG, never ERROR), the store (503 with `Retry-After`, WARN), or us (500,
//! ERROR). Messages are lower-case, name the input at fault, and never echo a token or a
//! whole payload.

use std::borrow::Cow;

use bytes::Bytes;
use http::header::{HeaderValue, ALLOW, CONNECTION, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{Response, StatusCode};
use http_body_util::Full;

use crate::decode::DecodeError;
use crate::outcome::Rejection;
use crate::reload::{FailureKind, ReloadFailure};
use crate::spool::SpoolError;
use crate::store::StoreError;

/// Seconds a client should wait before retrying after a 503.
pub const RETRY_AFTER_SECS: &str = "5";

/// A failed request, typed by cause.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// An admin request's body or a parameter in it is invalid (400).
    #[error("{0}")]
    BadRequest(String),
    /// The body could not be read (400).
    #[error("cannot read request body")]
    BodyRead(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The body could not be decoded: 415 for a content type no decoder takes, else 400.
    #[error("{0}")]
    Decode(#[from] DecodeError),
    /// A query parameter is invalid (400); names the parameter.
    #[error("invalid query parameter `{param}`: {message}")]
    BadParam {
        param: &'static str,
        message: String,
    },
    /// No token, or not the right one (401). `bearer` adds `WWW-Authenticate: Bearer`.
    #[error("{message}")]
    Unauthorized { message: &'static str, bearer: bool },
    /// The token is known but its scope does not allow the request (403).
    #[error("{0}")]
    Forbidden(&'static str),
    /// `/hooks/{source}` names no configured source (404).
    #[error("unknown source")]
    UnknownSource,
    /// No such route or resource (404).
    #[error("{0}")]
    NotFound(&'static str),
    /// The route exists, the method does not (405); `allow` lists the methods.
    #[error("method not allowed: use {allow}")]
    MethodNotAllowed { allow: Cow<'static, str> },
    /// A fan-out payload with more elements than `limits.max_items_per_payload` (413).
    #[error("{count} items, more than the {limit} a payload may carry")]
    TooManyItems { count: usize, limit: usize },
    /// The request took longer than `limits.request_timeout` (408).
    #[error("request timed out")]
    Timeout,
    /// The body is over `limits.max_body_bytes` (413).
    #[error("request body larger than {limit} bytes")]
    TooLarge { limit: u64 },
    /// The body's Content-Type header cannot be read (415).
    #[error("{0}")]
    UnsupportedType(&'static str),
    /// The mapping cannot evaluate the payload (422); names the field.
    #[error("{0}")]
    Rejected(#[from] Rejection),
    /// The store cannot serve now (503), or holds data it cannot read (500); the
    /// detail is logged, not sent.
    #[error("{}", store_message(.0))]
    Store(#[source] StoreError),
    /// A configuration reload was not applied: 422 when the files do not build, 500 when
    /// the build itself failed. The old configuration keeps serving.
    #[error(transparent)]
    Reload(#[from] ReloadFailure),
    /// The store is unavailable and the spool cannot take the webhook either: it is full
    /// (`spool_full`) or cannot be written (503); the detail is logged, not sent.
    #[error("{}", spool_message(.0))]
    Spool(#[source] SpoolError),
    /// A bug on our side (500); the detail is logged, not sent.
    #[error("internal error")]
    Internal(String),
    /// The token passed but a `verify:` check did not (401); names the check, never a
    /// secret: `verify[0] hmac_sha256: signature mismatch`.
    #[error("{0}")]
    VerifyFailed(String),
    /// The request conflicts with what exists or how sources are managed (409).
    #[error("{0}")]
    Conflict(String),
    /// A mapping pasted into `POST /v1/eval` does not compile (422); every error with
    /// its `mapping.yaml:line:col`.
    #[error("the mapping does not compile")]
    MappingInvalid(Vec<String>),
    /// `POST /v1/sources` names an integration no loaded mapping defines (422).
    #[error("{0}")]
    UnknownIntegration(String),
}

fn store_message(e: &StoreError) -> &'static str {
    match e {
        StoreError::Corrupt(_) => "internal error",
        _ => "store unavailable, retry later",
    }
}

fn spool_message(e: &SpoolError) -> &'static str {
    match e {
        SpoolError::Full { .. } => "store unavailable and spool full, retry later",
        _ => "store unavailable, retry later",
    }
}

impl From<SpoolError> for ApiError {
    fn from(e: SpoolError) -> Self {
        match e {
            SpoolError::Store(e) => e.into(),
            other => ApiError::Spool(other),
        }
    }
}

impl From<crate::verify::Failure> for ApiError {
    fn from(e: crate::verify::Failure) -> Self {
        ApiError::VerifyFailed(e.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::BadCursor(_) => ApiError::BadParam {
                param: "cursor",
                message: "not a cursor this server returned".to_owned(),
            },
            other => ApiError::Store(other),
        }
    }
}

impl ApiError {
    /// The one status table.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BodyRead(_) | ApiError::BadRequest(_) | ApiError::BadParam { .. } => {
                StatusCode::BAD_REQUEST
            }
            ApiError::Decode(e) if e.is_unsupported_type() => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Decode(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized { .. } | ApiError::VerifyFailed(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::UnknownSource | ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Timeout => StatusCode::REQUEST_TIMEOUT,
            ApiError::TooLarge { .. } | ApiError::TooManyItems { .. } => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            ApiError::UnsupportedType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Rejected(_)
            | ApiError::UnknownIntegration(_)
            | ApiError::MappingInvalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Store(StoreError::Corrupt(_)) | ApiError::Internal(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
            ApiError::Store(_) | ApiError::Spool(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Reload(failure) => match failure.kind {
                FailureKind::Invalid => StatusCode::UNPROCESSABLE_ENTITY,
                FailureKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            },
            ApiError::Conflict(_) => StatusCode::CONFLICT,
        }
    }

    /// The stable, machine-readable `error.code`.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BodyRead(_) | ApiError::BadRequest(_) => "malformed_body",
            ApiError::Decode(e) if e.is_unsupported_type() => "unsupported_media_type",
            ApiError::Decode(_) => "malformed_body",
            ApiError::BadParam { .. } => "bad_parameter",
            ApiError::Unauthorized { .. } | ApiError::VerifyFailed(_) => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::UnknownSource => "unknown_source",
            ApiError::NotFound(_) => "not_found",
            ApiError::MethodNotAllowed { .. } => "method_not_allowed",
            ApiError::Timeout => "request_timeout",
            ApiError::TooLarge { .. } | ApiError::TooManyItems { .. } => "payload_too_large",
            ApiError::UnsupportedType(_) => "unsupported_media_type",
            ApiError::Rejected(_) => "unprocessable_payload",
            ApiError::Store(StoreError::Corrupt(_)) | ApiError::Internal(_) => "internal",
            ApiError::Store(_) => "store_unavailable",
            ApiError::Spool(SpoolError::Full { .. }) => "spool_full",
            ApiError::Spool(_) => "store_unavailable",
            ApiError::Reload(failure) => match failure.kind {
                FailureKind::Invalid => "config_invalid",
                FailureKind::Internal => "reload_failed",
            },
            ApiError::Conflict(_) => "conflict",
            ApiError::UnknownIntegration(_) => "unknown_integration",
            ApiError::MappingInvalid(_) => "mapping_invalid",
        }
    }

    /// Logs the error at the level its cause deserves, naming the request (its path only:
    /// the query may hold a token).
    pub fn log(&self, method: &http::Method, path: &str) {
        let (status, code) = (self.status().as_u16(), self.code());
        match self {
            ApiError::Internal(detail) => {
                tracing::error!(%method, path, status, code, detail, "request failed");
            }
            ApiError::Store(e @ StoreError::Corrupt(_)) => {
                tracing::error!(%method, path, status, code, detail = %e, "request failed");
            }
            ApiError::Store(e) => {
                tracing::warn!(%method, path, status, code, detail = %e, "store unavailable");
            }
            ApiError::Spool(e) => {
                tracing::warn!(%method, path, status, code, detail = %e, "store unavailable");
            }
            ApiError::BodyRead(e) => {
                tracing::warn!(%method, path, status, code, detail = %e, "{self}");
            }
            ApiError::NotFound(_) => tracing::debug!(%method, path, status, code, "{self}"),
            _ => tracing::warn!(%method, path, status, code, "{self}"),
        }
    }

    /// The JSON response `{"error":{"code","message"}}` with the headers its status needs.
    pub fn into_response(self) -> Response<Full<Bytes>> {
        let body = match &self {
            ApiError::Reload(failure) => serde_json::json!({
                "error": {
                    "code": self.code(),
                    "message": self.to_string(),
                    "errors": failure.errors,
                    "version": failure.version,
                }
            }),
            ApiError::MappingInvalid(errors) => serde_json::json!({
                "error": { "code": self.code(), "message": self.to_string(), "errors": errors }
            }),
            _ => serde_json::json!({
                "error": { "code": self.code(), "message": self.to_string() }
            }),
        };
        let mut response = json_response(self.status(), &body);
        let headers = response.headers_mut();
        match &self {
            ApiError::MethodNotAllowed { allow } => {
                if let Ok(value) = HeaderValue::from_str(allow) {
                    headers.insert(ALLOW, value);
                }
            }
            ApiError::Store(StoreError::Unavailable(_)) | ApiError::Spool(_) => {
                headers.insert(RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER_SECS));
            }
            ApiError::TooLarge { .. } => {
                // The body stays unread, so the connection cannot carry another request:
                // say so, or a pooling client would reuse a connection we are closing.
                headers.insert(CONNECTION, HeaderValue::from_static("close"));
            }
            ApiError::Unauthorized { bearer: true, .. } => {
                headers.insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            _ => {}
        }
        response
    }
}

/// A JSON response, serialised straight into the body.
pub fn json_response<T: serde::Serialize + ?Sized>(
    status: StatusCode,
    body: &T,
) -> Response<Full<Bytes>> {
    let (status, bytes) = match serde_json::to_vec(body) {
        Ok(bytes) => (status, bytes),
        // Only a type with a failing `Serialize` gets here; none of ours has one.
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            br#"{"error":{"code":"internal","message":"response did not serialise"}}"#.to_vec(),
        ),
    };
    let mut response = Response::new(Full::new(Bytes::from(bytes)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_errors_split_into_415_and_400() {
        let e: ApiError = DecodeError::UnsupportedContentType("text/plain".into()).into();
        assert_eq!(e.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let e: ApiError = DecodeError::Form("bad".into()).into();
        assert_eq!(e.status(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn store_unavailable_is_503_with_retry_after_and_no_detail() {
        let e: ApiError = StoreError::Unavailable("redis://secret@host refused".into()).into();
        let response = e.into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[RETRY_AFTER], RETRY_AFTER_SECS);
        let body = body_json(response);
        assert_eq!(
            body,
            serde_json::json!({"error": {
                "code": "store_unavailable",
                "message": "store unavailable, retry later",
            }})
        );
        assert!(!body.to_string().contains("secret"));
    }

    #[test]
    fn decode_errors_keep_their_cause() {
        let e: ApiError = DecodeError::Form("bad escape".into()).into();
        let source = std::error::Error::source(&e).expect("the decode error is the source");
        assert!(source.to_string().contains("bad escape"), "{source}");
    }

    #[test]
    fn a_reload_failure_is_422_with_every_error_or_500() {
        let failure = ReloadFailure {
            trigger: crate::reload::Trigger::Api,
            kind: FailureKind::Invalid,
            errors: vec!["m.yaml:3:7: rules[0].when: bad".into()],
            version: "abc".into(),
        };
        let response = ApiError::from(failure.clone()).into_response();
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let body = body_json(response);
        assert_eq!(body["error"]["code"], "config_invalid");
        assert_eq!(body["error"]["errors"][0], "m.yaml:3:7: rules[0].when: bad");
        assert_eq!(body["error"]["version"], "abc");
        let internal = ReloadFailure {
            kind: FailureKind::Internal,
            ..failure
        };
        let response = ApiError::from(internal).into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body_json(response)["error"]["code"], "reload_failed");
    }

    fn body_json(response: Response<Full<Bytes>>) -> serde_json::Value {
        use http_body_util::BodyExt;
        let collected = block_on(response.into_body().collect()).expect("a full body");
        serde_json::from_slice(&collected.to_bytes()).expect("json body")
    }

    /// A `Full` body is ready at once: poll it without a runtime.
    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
            .block_on(f)
    }

    #[test]
    fn method_not_allowed_lists_allowed_methods() {
        let response = ApiError::MethodNotAllowed {
            allow: "GET, POST".into(),
        }
        .into_response();
        assert_eq!(response.headers()[ALLOW], "GET, POST");
    }
}
