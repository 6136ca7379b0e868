//! People acting on incidents (admin scope): `POST /v1/incidents/{id}/acknowledge`,
//! `/resolve`, `/notes` — each recorded as an event like any other, with the token's name
//! as its actor — and `GET /v1/incidents/{id}/events`, an incident's transitions.

use std::error::Error as StdError;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Body;
use serde::Deserialize;

use super::auth::{authorize, authorize_admin};
use super::error::ApiError;
use super::http::{ok_json, only_post, read_body};
use super::state::AppState;
use crate::clock;
use crate::config::{Scope, Snapshot};
use crate::store::{Act, Acted, IncidentStore};

/// Most bytes of a note's text.
pub const MAX_NOTE_BYTES: usize = 1000;

/// Most events read back when listing one incident's transitions.
const MAX_SCAN: usize = 10_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoteBody {
    text: String,
}

/// `POST /v1/incidents/{id}/{acknowledge|resolve|notes}`: 200 with the incident after
/// the act; 404 for an unknown id, 409 when its state does not allow the act.
pub(super) async fn act<B>(
    state: &AppState,
    snapshot: &Snapshot,
    request: Request<B>,
    id: &str,
    verb: &str,
) -> Result<Response<Full<Bytes>>, ApiError>
where
    B: Body,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    only_post(request.method())?;
    let caller = authorize_admin(snapshot, &request)?;
    let act = match verb {
        "acknowledge" => Act::Acknowledge,
        "resolve" => Act::Resolve,
        _ => {
            let body = read_body(request, 16 * 1024).await?;
            let note: NoteBody = serde_json::from_slice(&body)
                .map_err(|e| ApiError::BadRequest(format!("expected {{\"text\": ...}}: {e}")))?;
            let text = note.text.trim();
            if text.is_empty() {
                return Err(ApiError::BadRequest("a note needs text".to_owned()));
            }
            if text.len() > MAX_NOTE_BYTES {
                return Err(ApiError::BadRequest(format!(
                    "a note is at most {MAX_NOTE_BYTES} bytes, this one is {}",
                    text.len()
                )));
            }
            Act::Note(text.to_owned())
        }
    };
    let actor = caller.actor();
    let step = state.store().act(id, &act, &actor, clock::now_ms());
    let acted = state.store_call("act", step).await?;
    match acted {
        Acted::Done(incident) => Ok(ok_json(
            StatusCode::OK,
            &serde_json::json!({
                "transition": act.transition(),
                "incident": incident,
            }),
        )),
        Acted::NotFound => Err(ApiError::NotFound("unknown incident")),
        Acted::Conflict(why) => Err(ApiError::Conflict(why.to_owned())),
    }
}

/// `GET /v1/incidents/{id}/events`: the incident's events still in the event stream,
/// oldest first (the stream is bounded by `store.event_stream_len`).
pub(super) async fn incident_events<B>(
    state: &AppState,
    snapshot: &Snapshot,
    request: &Request<B>,
    id: &str,
) -> Result<Response<Full<Bytes>>, ApiError> {
    authorize(snapshot, request, Scope::Read)?;
    let read = state.store().incident_events(id, MAX_SCAN);
    let mine = state.store_call("recent_events", read).await?;
    Ok(ok_json(
        StatusCode::OK,
        &serde_json::json!({ "events": mine }),
    ))
}

/// `GET /v1/sources/{id}/recent`: the source's traffic counts in this process and its
/// last rejected or ignored payloads, newest first.
pub(super) fn recent<B>(
    state: &AppState,
    snapshot: &Snapshot,
    request: &Request<B>,
    id: &str,
) -> Result<Response<Full<Bytes>>, ApiError> {
    authorize(snapshot, request, Scope::Read)?;
    if snapshot.source(id).is_none() {
        return Err(ApiError::UnknownSource);
    }
    let (log, payloads) = state.recent().of(id);
    Ok(ok_json(
        StatusCode::OK,
        &serde_json::json!({
            "source": id,
            "accepted": log.accepted,
            "rejected": log.rejected,
            "ignored": log.ignored,
            "payloads": payloads,
        }),
    ))
}
