//! The request entry point: one snapshot load, the request timeout, routing, and the
//! helpers routes share (bounded body reads, query parameters).
//!
//! `handle` is generic over the body type, so tests can call it with a `Full` body and no
//! socket.

use std::borrow::Cow;
use std::error::Error as StdError;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Body;
use tracing::Instrument;

use super::error::ApiError;
use super::{admin, api, hooks, AppState};
use crate::config::Snapshot;
use crate::decode::decode_component;
use crate::metrics::{self, UNKNOWN_SOURCE};
use crate::store::Transition;

/// Answers one request. Never panics on request data; every failure is a JSON error.
pub async fn handle<B>(state: &AppState, request: Request<B>) -> Response<Full<Bytes>>
where
    B: Body,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    let started = tokio::time::Instant::now();
    let snapshot = state.snapshot();
    let hook_source = hook_source(&snapshot, request.uri().path());
    // The path only: the query may hold a token and must never reach the logs. DEBUG:
    // an INFO span per request costs more than a webhook's whole evaluation at load,
    // and error lines carry the method and path themselves.
    let (method, uri) = (request.method().clone(), request.uri().clone());
    let span = tracing::debug_span!(
        "request",
        method = %method,
        path = uri.path(),
        status = tracing::field::Empty,
    );
    let timeout = snapshot.limits().request_timeout;
    let routed = async {
        match tokio::time::timeout(timeout, route(state, &snapshot, request)).await {
            Ok(result) => result,
            Err(_) => Err(ApiError::Timeout),
        }
    }
    .instrument(span.clone())
    .await;
    let response = match routed {
        Ok(response) => response,
        Err(e) => {
            span.in_scope(|| e.log(&method, uri.path()));
            e.into_response()
        }
    };
    span.record("status", response.status().as_u16());
    if let Some(source) = hook_source {
        // The webhook route marks what the store did; any other response never got there.
        let outcome = match response.extensions().get::<Transition>() {
            Some(transition) => transition.as_str(),
            None => metrics::outcome_for_status(response.status().as_u16()),
        };
        state
            .metrics()
            .record_webhook(source, outcome, started.elapsed());
    }
    response
}

/// The `source` label of a `/hooks/{source}` request: the configured id, or
/// [`UNKNOWN_SOURCE`] so that made-up URLs cannot create time series.
fn hook_source<'s>(snapshot: &'s Snapshot, path: &str) -> Option<&'s str> {
    let source = path.strip_prefix("/hooks/")?;
    if source.is_empty() || source.contains('/') {
        return None;
    }
    Some(
        snapshot
            .source(source)
            .map_or(UNKNOWN_SOURCE, |s| s.id.as_str()),
    )
}

async fn route<B>(
    state: &AppState,
    snapshot: &Snapshot,
    request: Request<B>,
) -> Result<Response<Full<Bytes>>, ApiError>
where
    B: Body,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    let path = request.uri().path().to_owned();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match segments.as_slice() {
        ["hooks", source] if !source.is_empty() => {
            hooks::webhook(state, snapshot, source, request).await
        }
        ["v1", "incidents"] => {
            only_get(request.method())?;
            api::list_incidents(state, snapshot, &request).await
        }
        ["v1", "incidents", id] if !id.is_empty() => {
            only_get(request.method())?;
            api::get_incident(state, snapshot, &request, id).await
        }
        ["-", "healthy"] => {
            only_get(request.method())?;
            Ok(api::healthy(snapshot))
        }
        ["-", "ready"] => {
            only_get(request.method())?;
            Ok(api::ready(state, snapshot).await)
        }
        ["-", "reload"] => admin::reload(state, snapshot, &request).await,
        ["-", "config"] => admin::config(state, snapshot, &request),
        ["metrics"] => admin::metrics(state, &request),
        _ => Err(ApiError::NotFound("no such route")),
    }
}

pub(super) fn only_get(method: &Method) -> Result<(), ApiError> {
    if method == Method::GET || method == Method::HEAD {
        Ok(())
    } else {
        Err(ApiError::MethodNotAllowed { allow: "GET, HEAD" })
    }
}

/// Reads a body of at most `limit` bytes: refused from its Content-Length when that
/// already says too much, cut off by `Limited` otherwise.
pub(super) async fn read_body<B>(request: Request<B>, limit: u64) -> Result<Bytes, ApiError>
where
    B: Body,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    check_content_length(&request, limit)?;
    let limit_usize = usize::try_from(limit).unwrap_or(usize::MAX);
    match Limited::new(request.into_body(), limit_usize)
        .collect()
        .await
    {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
            Err(ApiError::TooLarge { limit })
        }
        Err(e) => Err(ApiError::MalformedBody(format!(
            "cannot read request body: {e}"
        ))),
    }
}

/// 413 before reading anything when Content-Length is over `limit`.
pub(super) fn check_content_length<B>(request: &Request<B>, limit: u64) -> Result<(), ApiError> {
    let declared = request
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    match declared {
        Some(n) if n > limit => Err(ApiError::TooLarge { limit }),
        _ => Ok(()),
    }
}

/// The first value of query parameter `name`, percent-decoded (`+` is a space).
pub(super) fn query_param<'q>(
    query: Option<&'q str>,
    name: &str,
) -> Result<Option<Cow<'q, str>>, ApiError> {
    let Some(query) = query else {
        return Ok(None);
    };
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if decode_component(key).as_deref() == Some(name) {
            return decode_component(value).map(Some).ok_or(ApiError::BadParam {
                param: static_name(name),
                message: "not valid UTF-8 after percent-decoding".to_owned(),
            });
        }
    }
    Ok(None)
}

/// Every parameter name of a query string (for rejecting unknown ones).
pub(super) fn query_names(query: Option<&str>) -> Vec<String> {
    query
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .filter_map(|p| decode_component(p.split_once('=').map_or(p, |(k, _)| k)))
        .map(Cow::into_owned)
        .collect()
}

/// Parameter names are compile-time constants of the routes; map one back for errors.
fn static_name(name: &str) -> &'static str {
    match name {
        "token" => "token",
        "status" => "status",
        "source" => "source",
        "limit" => "limit",
        "cursor" => "cursor",
        _ => "query",
    }
}

/// A `202`/`200` JSON body.
pub(super) fn ok_json<T: serde::Serialize + ?Sized>(
    status: StatusCode,
    body: &T,
) -> Response<Full<Bytes>> {
    super::error::json_response(status, body)
}
