//! The admin API (`/v1/incidents…`, bearer admin token) and the health probes.

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;

use super::auth::authorize;
use super::error::ApiError;
use super::http::{ok_json, query_names, query_param};
use super::state::AppState;
use crate::config::{Scope, Snapshot};
use crate::outcome::Priority;
use crate::store::{IncidentStore, ListQuery, Status};

/// Page size when the request names none (clamped to `limits.max_page_size` too).
pub const DEFAULT_PAGE_SIZE: usize = 50;

const LIST_PARAMS: &[&str] = &[
    "status",
    "source",
    "limit",
    "cursor",
    "priority",
    "acknowledged",
];

/// `GET /v1/incidents?status=&source=&priority=&acknowledged=&limit=&cursor=`: newest
/// first, paginated.
pub(super) async fn list_incidents<B>(
    state: &AppState,
    snapshot: &Snapshot,
    request: &Request<B>,
) -> Result<Response<Full<Bytes>>, ApiError> {
    authorize(snapshot, request, Scope::Read)?;
    let query = request.uri().query();
    if let Some(unknown) = query_names(query)
        .into_iter()
        .find(|n| !LIST_PARAMS.contains(&n.as_str()))
    {
        // Echoed only when it looks like a parameter name: it is caller text.
        let shown = if unknown.len() <= 32
            && unknown
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            format!(" {unknown:?}")
        } else {
            String::new()
        };
        return Err(ApiError::BadParam {
            param: "query",
            message: format!("unknown parameter{shown}: expected status, source, priority, acknowledged, limit or cursor"),
        });
    }
    let status = match query_param(query, "status")? {
        None => None,
        Some(s) => Some(Status::parse(&s).ok_or_else(|| ApiError::BadParam {
            param: "status",
            message: "expected open or resolved".to_owned(),
        })?),
    };
    let max = snapshot.limits().max_page_size;
    let limit = match query_param(query, "limit")? {
        None => DEFAULT_PAGE_SIZE.min(max),
        Some(s) => match s.parse::<usize>() {
            Ok(n) if n > 0 => n.min(max),
            _ => {
                return Err(ApiError::BadParam {
                    param: "limit",
                    message: "expected a positive integer".to_owned(),
                })
            }
        },
    };
    let priority = match query_param(query, "priority")? {
        None => None,
        Some(p) => Some(Priority::parse(&p).ok_or_else(|| ApiError::BadParam {
            param: "priority",
            message: "expected critical, high, medium, low or info".to_owned(),
        })?),
    };
    let acknowledged = match query_param(query, "acknowledged")?.as_deref() {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(_) => {
            return Err(ApiError::BadParam {
                param: "acknowledged",
                message: "expected true or false".to_owned(),
            })
        }
    };
    let list = ListQuery {
        status,
        source: query_param(query, "source")?.map(std::borrow::Cow::into_owned),
        limit,
        cursor: query_param(query, "cursor")?.map(std::borrow::Cow::into_owned),
        priority,
        acknowledged,
    };
    let page = state.store().list(&list).await?;
    Ok(ok_json(StatusCode::OK, &page))
}

/// `GET /v1/incidents/{id}`.
pub(super) async fn get_incident<B>(
    state: &AppState,
    snapshot: &Snapshot,
    request: &Request<B>,
    id: &str,
) -> Result<Response<Full<Bytes>>, ApiError> {
    authorize(snapshot, request, Scope::Read)?;
    let incident = state
        .store()
        .get(id)
        .await?
        .ok_or(ApiError::NotFound("unknown incident"))?;
    Ok(ok_json(StatusCode::OK, &incident))
}

/// `GET /-/healthy`: the process is up.
pub(super) fn healthy(snapshot: &Snapshot) -> Response<Full<Bytes>> {
    ok_json(
        StatusCode::OK,
        &serde_json::json!({ "status": "ok", "config_version": snapshot.version }),
    )
}

/// `GET /-/ready`: config loaded (there is a snapshot) and the store answers — or, with a
/// spool, the store is away but webhooks can still be queued (200, `degraded: true`).
pub(super) async fn ready(state: &AppState, snapshot: &Snapshot) -> Response<Full<Bytes>> {
    let pinged = state.store().ping().await;
    if let Some(spool) = state.spool() {
        spool.note_store(pinged.is_ok());
        let degraded = spool.degraded();
        return ok_json(
            StatusCode::OK,
            &serde_json::json!({
                "status": if degraded { "degraded" } else { "ready" },
                "store": state.store().backend_name(),
                "degraded": degraded,
                "spool_records": spool.pending(),
                "config_version": snapshot.version,
            }),
        );
    }
    match pinged {
        Ok(()) => ok_json(
            StatusCode::OK,
            &serde_json::json!({
                "status": "ready",
                "store": state.store().backend_name(),
                "config_version": snapshot.version,
            }),
        ),
        Err(e) => {
            let e = ApiError::from(e);
            e.log(&http::Method::GET, "/-/ready");
            e.into_response()
        }
    }
}
