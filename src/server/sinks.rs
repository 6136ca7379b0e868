//! Routes of the notification sinks: `GET /v1/sinks` and `GET /v1/sinks/{id}/dead?limit=`
//! (read scope), `POST /v1/sinks/{id}/dead/replay` (admin scope).

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use serde_json::json;

use super::auth::{authorize, authorize_admin};
use super::error::ApiError;
use super::http::{ok_json, only_post, query_param};
use super::state::AppState;
use crate::config::{Scope, Snapshot};

/// Dead letters one `GET …/dead` shows at most.
const MAX_DEAD_PAGE: usize = 1000;

/// `GET /v1/sinks`: every configured sink with lag, pending, dead letters, last error.
pub(super) async fn list<B>(
    state: &AppState,
    snapshot: &Snapshot,
    request: &Request<B>,
) -> Result<Response<Full<Bytes>>, ApiError> {
    authorize(snapshot, request, Scope::Read)?;
    let sinks = match state.delivery() {
        Some(d) => d.sinks().await,
        None => Vec::new(),
    };
    Ok(ok_json(StatusCode::OK, &json!({ "sinks": sinks })))
}

/// `GET /v1/sinks/{id}/dead?limit=`: the oldest dead letters (default 100).
pub(super) async fn dead<B>(
    state: &AppState,
    snapshot: &Snapshot,
    request: &Request<B>,
    id: &str,
) -> Result<Response<Full<Bytes>>, ApiError> {
    authorize(snapshot, request, Scope::Read)?;
    let limit = match query_param(request.uri().query(), "limit")? {
        None => 100,
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or(ApiError::BadParam {
                param: "limit",
                message: "expected a positive integer".to_owned(),
            })?
            .min(MAX_DEAD_PAGE),
    };
    let delivery = state.delivery().ok_or(ApiError::NotFound("no such sink"))?;
    let dead = delivery
        .dead(id, limit)
        .await
        .ok_or(ApiError::NotFound("no such sink"))?
        .map_err(ApiError::from)?;
    Ok(ok_json(StatusCode::OK, &json!({ "dead_letters": dead })))
}

/// `POST /v1/sinks/{id}/dead/replay`: 202 `{replaying: n}`; delivery runs in the
/// background with the sink's retry policy, and delivered entries leave the dead letters.
pub(super) async fn replay<B>(
    state: &AppState,
    snapshot: &Snapshot,
    request: &Request<B>,
    id: &str,
) -> Result<Response<Full<Bytes>>, ApiError> {
    only_post(request.method())?;
    authorize_admin(snapshot, request)?;
    let delivery = state.delivery().ok_or(ApiError::NotFound("no such sink"))?;
    let count = delivery
        .replay(id)
        .await
        .ok_or(ApiError::NotFound("no such sink"))?
        .map_err(ApiError::from)?;
    Ok(ok_json(
        StatusCode::ACCEPTED,
        &json!({ "replaying": count }),
    ))
}
