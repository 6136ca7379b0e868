//! Every way a request can fail, and the one table that maps each to an HTTP response.
//!
//! Errors are classed by who caused them (pingora-style): the caller (4xx, logged at
//! WARN or DEBUG, never ERROR), the store (503 with `Retry-After`, WARN), or us (500,
//! ERROR). Messages are lower-case, name the input at fault, and never echo a token or a
//! whole payload.

use bytes::Bytes;
use http::header::{HeaderValue, ALLOW, CONNECTION, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{Response, StatusCode};
use http_body_util::Full;

use crate::decode::DecodeError;
use crate::outcome::Rejection;
use crate::store::StoreError;

/// Seconds a client should wait before retrying after a 503.
pub const RETRY_AFTER_SECS: &str = "5";

/// A failed request, typed by cause.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The body could not be read or decoded (400).
    #[error("{0}")]
    MalformedBody(String),
    /// A query parameter is invalid (400); names the parameter.
    #[error("invalid query parameter `{param}`: {message}")]
    BadParam {
        param: &'static str,
        message: String,
    },
    /// No token, or not the right one (401). `bearer` adds `WWW-Authenticate: Bearer`.
    #[error("{message}")]
    Unauthorized { message: &'static str, bearer: bool },
    /// `/hooks/{source}` names no configured source (404).
    #[error("unknown source")]
    UnknownSource,
    /// No such route or resource (404).
    #[error("{0}")]
    NotFound(&'static str),
    /// The route exists, the method does not (405); `allow` lists the methods.
    #[error("method not allowed: use {allow}")]
    MethodNotAllowed { allow: &'static str },
    /// The request took longer than `limits.request_timeout` (408).
    #[error("request timed out")]
    Timeout,
    /// The body is over `limits.max_body_bytes` (413).
    #[error("request body larger than {limit} bytes")]
    TooLarge { limit: u64 },
    /// The body's Content-Type is neither form nor JSON (415).
    #[error("{0}")]
    UnsupportedType(String),
    /// The mapping cannot evaluate the payload (422); names the field.
    #[error("{0}")]
    Rejected(#[from] Rejection),
    /// The source's `rate_limit` bucket is empty (429); `retry_after` in seconds.
    #[error("rate limit of this source reached: retry after {retry_after} s")]
    RateLimited { retry_after: u64 },
    /// The source already has `max_open` incidents open; this open would add one (429).
    #[error(
        "this source has {max_open} open incidents (sources.<id>.max_open): not opening another"
    )]
    TooManyOpen { max_open: u64 },
    /// The process is shutting down (`/-/ready` 503 during `limits.shutdown_delay`).
    #[error("shutting down")]
    ShuttingDown,
    /// The store cannot serve now (503); the detail is logged, not sent.
    #[error("store unavailable, retry later")]
    Unavailable(String),
    /// A bug or corrupt data on our side (500); the detail is logged, not sent.
    #[error("internal error")]
    Internal(String),
}

impl From<DecodeError> for ApiError {
    fn from(e: DecodeError) -> Self {
        if e.is_unsupported_type() {
            ApiError::UnsupportedType(e.to_string())
        } else {
            ApiError::MalformedBody(e.to_string())
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(detail) => ApiError::Unavailable(detail),
            StoreError::BadCursor(_) => ApiError::BadParam {
                param: "cursor",
                message: "not a cursor this server returned".to_owned(),
            },
            StoreError::Corrupt(detail) => ApiError::Internal(detail),
        }
    }
}

impl ApiError {
    /// The one status table.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::MalformedBody(_) | ApiError::BadParam { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            ApiError::UnknownSource | ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Timeout => StatusCode::REQUEST_TIMEOUT,
            ApiError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Rejected(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::RateLimited { .. } | ApiError::TooManyOpen { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            ApiError::Unavailable(_) | ApiError::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable, machine-readable `error.code`.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::MalformedBody(_) => "malformed_body",
            ApiError::BadParam { .. } => "bad_parameter",
            ApiError::Unauthorized { .. } => "unauthorized",
            ApiError::UnknownSource => "unknown_source",
            ApiError::NotFound(_) => "not_found",
            ApiError::MethodNotAllowed { .. } => "method_not_allowed",
            ApiError::Timeout => "request_timeout",
            ApiError::TooLarge { .. } => "payload_too_large",
            ApiError::UnsupportedType(_) => "unsupported_media_type",
            ApiError::Rejected(_) => "unprocessable_payload",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::TooManyOpen { .. } => "too_many_open_incidents",
            ApiError::ShuttingDown => "shutting_down",
            ApiError::Unavailable(_) => "store_unavailable",
            ApiError::Internal(_) => "internal",
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
            ApiError::Unavailable(detail) => {
                tracing::warn!(%method, path, status, code, detail, "store unavailable");
            }
            ApiError::NotFound(_) => tracing::debug!(%method, path, status, code, "{self}"),
            _ => tracing::warn!(%method, path, status, code, "{self}"),
        }
    }

    /// The JSON response `{"error":{"code","message"}}` with the headers its status needs.
    pub fn into_response(self) -> Response<Full<Bytes>> {
        let body = serde_json::json!({
            "error": { "code": self.code(), "message": self.to_string() }
        });
        let mut response = json_response(self.status(), &body);
        let headers = response.headers_mut();
        match &self {
            ApiError::MethodNotAllowed { allow } => {
                headers.insert(ALLOW, HeaderValue::from_static(allow));
            }
            ApiError::Unavailable(_) | ApiError::ShuttingDown => {
                headers.insert(RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER_SECS));
            }
            ApiError::RateLimited { retry_after } => {
                headers.insert(RETRY_AFTER, HeaderValue::from(*retry_after));
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
    }

    #[test]
    fn method_not_allowed_lists_allowed_methods() {
        let response = ApiError::MethodNotAllowed { allow: "GET, POST" }.into_response();
        assert_eq!(response.headers()[ALLOW], "GET, POST");
    }
}
