//! `/v1/sources` (admin token): what to paste where, and sources created the way senders'
//! docs expect, kept as files in `sources_dir` (docs/design.md §6).
//!
//! `GET` lists every source with its webhook URL (the token as the placeholder `<token>`:
//! the API never shows a stored token). `POST` creates a source file with a fresh token,
//! shown once; `DELETE /{id}` removes it; `POST /{id}/rotate` gives it a new token and
//! keeps the old ones for an overlap. Each write goes through `config::sources_edit` (the
//! CLI's code too), then triggers a reload so the change serves at once.

use std::fmt::Write as _;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Body;
use serde::{Deserialize, Serialize};

use super::auth::{authorize, authorize_admin};
use super::error::{json_response, ApiError};
use super::http::read_body;
use super::state::AppState;
use crate::clock;
use crate::config::sources_edit::{self, EditError, Written};
use crate::config::{parse_duration, Scope, Snapshot, Source};
use crate::decode::DecodeMode;
use crate::reload::{Reloader, Trigger};

/// The placeholder standing for a token in listed URLs.
pub const TOKEN_PLACEHOLDER: &str = "<token>";

/// Overlap of a rotation when the request names none.
pub const DEFAULT_OVERLAP: Duration = Duration::from_secs(24 * 3600);

/// Largest request body the source routes read.
const MAX_BODY: u64 = 64 * 1024;

/// One source as listed by `GET /v1/sources` and `alertgate sources`.
#[derive(Debug, Clone, Serialize)]
pub struct SourceInfo {
    pub id: String,
    pub integration: String,
    /// HTTP methods its webhook accepts.
    pub methods: Vec<String>,
    /// Content types its mapping decodes.
    pub content_types: Vec<&'static str>,
    /// `{public_url}/hooks/{id}?token=<token>`.
    pub url: String,
    /// `config` (the main config's `sources`) or `sources_dir`.
    pub origin: &'static str,
    /// The `sources_dir` file, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// The kinds of its `verify:` checks, in order.
    pub verify: Vec<&'static str>,
}

/// The webhook URL of `id` with `token` (percent-encoded), or with the placeholder.
pub fn webhook_url(public_url: &str, id: &str, token: &str) -> String {
    if token == TOKEN_PLACEHOLDER {
        return format!("{public_url}/hooks/{id}?token={token}");
    }
    let mut encoded = String::with_capacity(token.len());
    for b in token.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            encoded.push(char::from(b));
        } else {
            let _ = write!(encoded, "%{b:02X}");
        }
    }
    format!("{public_url}/hooks/{id}?token={encoded}")
}

/// Every source of `snapshot`, by id.
pub fn source_listing(snapshot: &Snapshot) -> Vec<SourceInfo> {
    snapshot
        .sources
        .values()
        .map(|source| info(snapshot, source))
        .collect()
}

fn info(snapshot: &Snapshot, source: &Source) -> SourceInfo {
    let content_types = match source.mapping.decode {
        DecodeMode::Auto => vec!["application/json", "application/x-www-form-urlencoded"],
        DecodeMode::Json => vec!["application/json"],
        DecodeMode::Form => vec!["application/x-www-form-urlencoded"],
    };
    SourceInfo {
        id: source.id.clone(),
        integration: source.mapping.integration.clone(),
        methods: source
            .methods
            .iter()
            .map(|m| m.as_str().to_owned())
            .collect(),
        content_types,
        url: webhook_url(&snapshot.settings.public_url, &source.id, TOKEN_PLACEHOLDER),
        origin: if source.file.is_some() {
            "sources_dir"
        } else {
            "config"
        },
        file: source.file.as_ref().map(|f| f.display().to_string()),
        verify: source.verify.kinds(),
    }
}

/// `GET /v1/sources`.
pub(super) fn list<B>(
    snapshot: &Snapshot,
    request: &Request<B>,
) -> Result<Response<Full<Bytes>>, ApiError> {
    authorize(snapshot, request, Scope::Read)?;
    Ok(json_response(
        StatusCode::OK,
        &serde_json::json!({ "sources": source_listing(snapshot) }),
    ))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    id: String,
    integration: String,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RotateBody {
    #[serde(default)]
    overlap: Option<String>,
}

/// `POST /v1/sources` `{id, integration}` → 201 with the URL and the token, shown once.
pub(super) async fn create<B>(
    state: &AppState,
    snapshot: &Snapshot,
    request: Request<B>,
) -> Result<Response<Full<Bytes>>, ApiError>
where
    B: Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    authorize_admin(snapshot, &request)?;
    let reloader = reloader(state)?;
    let body: CreateBody = parse_body(request).await?;
    if let Some(existing) = snapshot.source(&body.id) {
        return Err(ApiError::Conflict(format!(
            "source {:?} already exists ({})",
            body.id,
            origin_text(existing)
        )));
    }
    if snapshot.mappings.get(&body.integration).is_none() {
        let known = snapshot.mappings.integrations();
        return Err(ApiError::UnknownIntegration(format!(
            "no loaded mapping defines integration {:?} (known: {})",
            body.integration,
            known.join(", ")
        )));
    }
    let dir = snapshot.settings.sources_dir.clone();
    let (id, integration) = (body.id.clone(), body.integration.clone());
    let written = blocking(move || sources_edit::add(&dir, &id, &integration)).await?;
    let reload = reload_after_write(reloader).await;
    let url = webhook_url(&snapshot.settings.public_url, &body.id, &written.token);
    Ok(json_response(
        StatusCode::CREATED,
        &serde_json::json!({
            "id": body.id,
            "integration": body.integration,
            "url": url,
            "token": written.token,
            "file": written.file.display().to_string(),
            "reload": reload,
        }),
    ))
}

/// `DELETE /v1/sources/{id}`: only sources defined by a `sources_dir` file.
pub(super) async fn delete<B>(
    state: &AppState,
    snapshot: &Snapshot,
    request: &Request<B>,
    id: &str,
) -> Result<Response<Full<Bytes>>, ApiError> {
    authorize_admin(snapshot, request)?;
    let reloader = reloader(state)?;
    refuse_main_config(snapshot, id, "removed")?;
    let dir = snapshot.settings.sources_dir.clone();
    let owned = id.to_owned();
    let file = blocking(move || sources_edit::remove(&dir, &owned)).await?;
    let reload = reload_after_write(reloader).await;
    Ok(json_response(
        StatusCode::OK,
        &serde_json::json!({
            "id": id,
            "removed": file.display().to_string(),
            "reload": reload,
        }),
    ))
}

/// `POST /v1/sources/{id}/rotate` `{overlap}` → the new URL and token; the old tokens stay
/// valid for the overlap (default 24h; `0s` ends them now).
pub(super) async fn rotate<B>(
    state: &AppState,
    snapshot: &Snapshot,
    request: Request<B>,
    id: &str,
) -> Result<Response<Full<Bytes>>, ApiError>
where
    B: Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    authorize_admin(snapshot, &request)?;
    let reloader = reloader(state)?;
    refuse_main_config(snapshot, id, "rotated")?;
    let body: RotateBody = parse_body(request).await?;
    let overlap = match body.overlap.as_deref() {
        None => DEFAULT_OVERLAP,
        Some(text) => parse_duration(text).ok_or_else(|| {
            ApiError::BadRequest(format!(
                "invalid overlap {text:?}: expected a number with ms, s, m, h or d, like 24h"
            ))
        })?,
    };
    let dir = snapshot.settings.sources_dir.clone();
    let owned = id.to_owned();
    let now = clock::now_ms();
    let written: Written =
        blocking(move || sources_edit::rotate(&dir, &owned, overlap, now)).await?;
    let reload = reload_after_write(reloader).await;
    let until = i64::try_from(overlap.as_millis())
        .ok()
        .filter(|ms| *ms > 0)
        .map(|ms| clock::format_rfc3339_ms(now.saturating_add(ms)));
    Ok(json_response(
        StatusCode::OK,
        &serde_json::json!({
            "id": id,
            "url": webhook_url(&snapshot.settings.public_url, id, &written.token),
            "token": written.token,
            "file": written.file.display().to_string(),
            "old_tokens_valid_until": until,
            "reload": reload,
        }),
    ))
}

fn origin_text(source: &Source) -> String {
    match &source.file {
        Some(file) => format!("file {}", file.display()),
        None => "in the main config file".to_owned(),
    }
}

/// 409 for a source of the main config: the API edits `sources_dir` files only.
fn refuse_main_config(snapshot: &Snapshot, id: &str, what: &str) -> Result<(), ApiError> {
    match snapshot.source(id) {
        Some(source) if source.file.is_none() => Err(ApiError::Conflict(format!(
            "source {id:?} is defined in the main config file, not in sources_dir: it cannot be \
             {what} through the API; edit the config file"
        ))),
        _ => Ok(()),
    }
}

fn reloader(state: &AppState) -> Result<&Reloader<Snapshot>, ApiError> {
    state.reloader().ok_or_else(|| {
        ApiError::Conflict(
            "this server does not load its configuration from files: sources cannot be \
             changed through the API"
                .to_owned(),
        )
    })
}

async fn parse_body<T, B>(request: Request<B>) -> Result<T, ApiError>
where
    T: serde::de::DeserializeOwned + Default,
    B: Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let bytes = read_body(request, MAX_BODY).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::BadRequest(format!("invalid JSON body: {e}")))
}

/// Runs a file edit on the blocking pool and maps its error to the HTTP table.
async fn blocking<T: Send + 'static>(
    edit: impl FnOnce() -> Result<T, EditError> + Send + 'static,
) -> Result<T, ApiError> {
    let result = tokio::task::spawn_blocking(edit)
        .await
        .map_err(|e| ApiError::Internal(format!("source edit task failed: {e}")))?;
    result.map_err(|e| match e {
        EditError::InvalidId(_) => ApiError::BadParam {
            param: "id",
            message: e.to_string(),
        },
        EditError::Unknown { .. } => ApiError::UnknownSource,
        EditError::Exists { .. } | EditError::NotWritable { .. } | EditError::Invalid { .. } => {
            ApiError::Conflict(e.to_string())
        }
    })
}

/// Reloads after a write; the write stands either way, and the answer says whether the
/// new set is serving.
async fn reload_after_write(reloader: &Reloader<Snapshot>) -> serde_json::Value {
    match reloader.reload(Trigger::Api).await {
        Ok(summary) => serde_json::json!({ "ok": true, "version": summary.version }),
        Err(failure) => {
            serde_json::json!({ "ok": false, "errors": failure.errors, "version": failure.version })
        }
    }
}

/// 405 for the methods a sources route does not serve.
pub(super) fn not_allowed(allow: &'static str) -> ApiError {
    ApiError::MethodNotAllowed {
        allow: allow.into(),
    }
}

/// Whether `method` lists (GET or HEAD).
pub(super) fn is_read(method: &Method) -> bool {
    method == Method::GET || method == Method::HEAD
}
