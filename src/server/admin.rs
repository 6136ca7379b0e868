//! Operator routes: `POST /-/reload`, `GET /-/config` (admin token) and `GET /metrics`.
//!
//! The reload itself is `reload::Reloader`'s; these routes only ask for it and show its
//! state. `/metrics` is open, as Prometheus scrapers expect: it carries counts, never a
//! token or a payload.

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_TYPE};
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;

use super::auth::authorize_admin;
use super::error::{json_response, ApiError};
use super::http::only_get;
use super::state::AppState;
use crate::config::Snapshot;
use crate::metrics;
use crate::reload::{FailureKind, Reloader, Trigger};

/// `POST /-/reload`: 200 with the summary; 422 with every error line when the files do
/// not build (the old configuration keeps serving); 500 when the build itself failed.
pub(super) async fn reload<B>(
    state: &AppState,
    snapshot: &Snapshot,
    request: &Request<B>,
) -> Result<Response<Full<Bytes>>, ApiError> {
    if request.method() != Method::POST {
        return Err(ApiError::MethodNotAllowed { allow: "POST" });
    }
    authorize_admin(snapshot, request)?;
    let reloader = reloader(state)?;
    Ok(match reloader.reload(Trigger::Api).await {
        Ok(summary) => json_response(StatusCode::OK, &to_json(&summary)?),
        Err(failure) => {
            let (status, code) = match failure.kind {
                FailureKind::Invalid => (StatusCode::UNPROCESSABLE_ENTITY, "config_invalid"),
                FailureKind::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "reload_failed"),
            };
            let body = serde_json::json!({
                "error": {
                    "code": code,
                    "message": failure.to_string(),
                    "errors": failure.errors,
                    "version": failure.version,
                }
            });
            json_response(status, &body)
        }
    })
}

/// `GET /-/config`: the version serving, when it was loaded, the last reload's errors and
/// the settings waiting for a restart.
pub(super) fn config<B>(
    state: &AppState,
    snapshot: &Snapshot,
    request: &Request<B>,
) -> Result<Response<Full<Bytes>>, ApiError> {
    only_get(request.method())?;
    authorize_admin(snapshot, request)?;
    let status = reloader(state)?.status();
    let mut body = to_json(&status)?;
    if let (Some(delivery), serde_json::Value::Object(map)) = (state.delivery(), &mut body) {
        let durable = delivery.durable();
        map.insert(
            "delivery".into(),
            serde_json::json!({
                "consumer": delivery.consumer(),
                "durable": durable,
                "note": if durable {
                    "undelivered events are kept in the Redis stream until every sink acknowledges them"
                } else {
                    "memory store: undelivered notifications and dead letters are lost on restart"
                },
            }),
        );
    }
    Ok(json_response(StatusCode::OK, &body))
}

/// `GET /metrics`: the Prometheus text format.
pub(super) fn metrics<B>(
    state: &AppState,
    request: &Request<B>,
) -> Result<Response<Full<Bytes>>, ApiError> {
    only_get(request.method())?;
    let mut response = Response::new(Full::new(Bytes::from(state.metrics().encode())));
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static(metrics::CONTENT_TYPE),
    );
    Ok(response)
}

fn reloader(state: &AppState) -> Result<&Reloader<Snapshot>, ApiError> {
    state.reloader().ok_or(ApiError::NotFound(
        "this server does not reload its configuration",
    ))
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<serde_json::Value, ApiError> {
    serde_json::to_value(value).map_err(|e| ApiError::Internal(e.to_string()))
}
