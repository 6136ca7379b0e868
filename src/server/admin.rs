//! Operator routes: `POST /-/reload`, `GET /-/config` (admin token) and `GET /metrics`.
//!
//! The reload itself is `reload::Reloader`'s; these routes only ask for it and show its
//! state. `/metrics` is open, as Prometheus scrapers expect: it carries counts, never a
//! token or a payload.

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_TYPE};
use http::{Request, Response, StatusCode};
use http_body_util::Full;

use super::auth::{authorize, authorize_admin};
use super::error::{json_response, ApiError};
use super::http::{only_get, only_post};
use super::state::AppState;
use crate::config::{Scope, Snapshot};
use crate::metrics;
use crate::reload::{Reloader, Trigger};
use crate::store::{Health, IncidentStore, Store};

/// `POST /-/reload`: 200 with the summary; 422 with every error line when the files do
/// not build (the old configuration keeps serving); 500 when the build itself failed.
pub(super) async fn reload<B>(
    state: &AppState,
    snapshot: &Snapshot,
    request: &Request<B>,
) -> Result<Response<Full<Bytes>>, ApiError> {
    only_post(request.method())?;
    authorize_admin(snapshot, request)?;
    let reloader = reloader(state)?;
    let summary = reloader.reload(Trigger::Api).await?;
    Ok(json_response(StatusCode::OK, &summary))
}

/// `GET /-/config`: the version serving, when it was loaded, the last reload's errors and
/// the settings waiting for a restart.
pub(super) fn config<B>(
    state: &AppState,
    snapshot: &Snapshot,
    request: &Request<B>,
) -> Result<Response<Full<Bytes>>, ApiError> {
    only_get(request.method())?;
    authorize(snapshot, request, Scope::Read)?;
    let status = reloader(state)?.status();
    let mut body = serde_json::to_value(&status).map_err(|e| ApiError::Internal(e.to_string()))?;
    if let Some(fields) = body.as_object_mut() {
        fields.insert("store".to_owned(), store_view(state));
        if let Some(delivery) = state.delivery() {
            let durable = delivery.durable();
            fields.insert(
                "delivery".to_owned(),
                serde_json::json!({
                    "consumer": delivery.consumer(),
                    "durable": durable,
                    "note": if durable {
                        "undelivered events are kept in the Redis streams until every sink acknowledges them"
                    } else {
                        "memory store: undelivered notifications and dead letters are lost on restart"
                    },
                }),
            );
        }
    }
    Ok(json_response(StatusCode::OK, &body))
}

/// The store part of `/-/config`: backend, connection state, and for Redis the target
/// (passwords hidden), bucket count and why it is not up; `degraded` and `spool` (null
/// without one) say whether webhooks are being queued and how much is waiting.
fn store_view(state: &AppState) -> serde_json::Value {
    let store = state.store();
    let mut view = serde_json::json!({
        "backend": store.backend_name(),
        "state": store.health(),
    });
    let Some(fields) = view.as_object_mut() else {
        return view;
    };
    if let Store::Redis(redis) = store {
        fields.insert("target".into(), redis.target().into());
        fields.insert("buckets".into(), redis.buckets().into());
        if let Some(reason) = redis.health_reason() {
            fields.insert("reason".into(), reason.into());
        }
    }
    match state.spool() {
        None => {
            fields.insert("degraded".into(), false.into());
            fields.insert("spool".into(), serde_json::Value::Null);
        }
        Some(spool) => {
            fields.insert("degraded".into(), spool.degraded().into());
            fields.insert(
                "spool".into(),
                serde_json::json!({
                    "dir": spool.settings().dir,
                    "max_bytes": spool.settings().max_bytes,
                    "bytes": spool.len_bytes(),
                    "records": spool.pending(),
                }),
            );
        }
    }
    view
}

/// `GET /metrics`: the Prometheus text format. Each scrape first creates the series of
/// every configured source (so sources added by a reload show at once) and reads each
/// source's open-incident count from the store (one `ZCOUNT` per bucket on Redis); a store
/// failure leaves that gauge out of this scrape and counts as a store error.
pub(super) async fn metrics<B>(
    state: &AppState,
    snapshot: &Snapshot,
    request: &Request<B>,
) -> Result<Response<Full<Bytes>>, ApiError> {
    only_get(request.method())?;
    let m = state.metrics();
    m.set_store_up(state.store().health() == Health::Up);
    m.register_sources(snapshot.sources.keys().map(String::as_str));
    let store = state.store();
    let mut counts = Vec::with_capacity(snapshot.sources.len());
    for id in snapshot.sources.keys() {
        if let Ok(n) = state.store_call("open_count", store.open_count(id)).await {
            counts.push((id, n));
        }
    }
    m.clear_open_incidents();
    for (id, n) in counts {
        m.set_open_incidents(id, n);
    }
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
