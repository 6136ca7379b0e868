//! `POST /v1/eval` (admin scope): what a mapping makes of a payload, with every step —
//! the JSON of `alertgate eval --explain` — for a configured source's mapping or one
//! pasted as YAML. Never touches the store.

use std::error::Error as StdError;
use std::path::Path;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Body;
use serde::Deserialize;

use super::auth::authorize_admin;
use super::error::ApiError;
use super::http::{ok_json, only_post, read_body};
use crate::config::Snapshot;
use crate::explain::{explain, ExplainError};
use crate::mapping;

/// Largest pasted mapping.
const MAX_MAPPING_BYTES: usize = 64 * 1024;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EvalBody {
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    mapping_yaml: Option<String>,
    /// The body as text; for `GET`, the query string.
    payload: String,
    #[serde(default)]
    content_type: Option<String>,
    #[serde(default)]
    method: Option<String>,
}

/// 200 with the explained outcome; 422 `{error: {code: "config_invalid"|"unprocessable_payload"|..., errors}}`
/// for a pasted mapping that does not compile (each error `mapping.yaml:line:col: …`) or a
/// payload the mapping rejects; 400 for a payload that does not decode.
pub(super) async fn eval<B>(
    snapshot: &Snapshot,
    request: Request<B>,
) -> Result<Response<Full<Bytes>>, ApiError>
where
    B: Body,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    only_post(request.method())?;
    authorize_admin(snapshot, &request)?;
    let limit = snapshot
        .limits()
        .max_body_bytes
        .saturating_add(MAX_MAPPING_BYTES as u64 + 4096);
    let raw = read_body(request, limit).await?;
    let body: EvalBody = serde_json::from_slice(&raw).map_err(|e| {
        ApiError::BadRequest(format!(
            "expected {{source | mapping_yaml, payload, content_type, method}}: {e}"
        ))
    })?;
    let get = mapping::suite::is_get(body.method.as_deref())
        .ok_or_else(|| ApiError::BadRequest("method is GET or POST".to_owned()))?;
    let compiled;
    let mapping = match (&body.source, &body.mapping_yaml) {
        (Some(id), None) => &*snapshot.source(id).ok_or(ApiError::UnknownSource)?.mapping,
        (None, Some(text)) => {
            if text.len() > MAX_MAPPING_BYTES {
                return Err(ApiError::TooLarge {
                    limit: MAX_MAPPING_BYTES as u64,
                });
            }
            compiled = mapping::compile_str(Path::new("mapping.yaml"), text).map_err(|errors| {
                let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
                ApiError::MappingInvalid(lines)
            })?;
            &compiled
        }
        _ => {
            return Err(ApiError::BadRequest(
                "give either source or mapping_yaml".to_owned(),
            ))
        }
    };
    if body.payload.len() as u64 > snapshot.limits().max_body_bytes {
        return Err(ApiError::TooLarge {
            limit: snapshot.limits().max_body_bytes,
        });
    }
    match explain(
        mapping,
        get,
        body.content_type.as_deref().filter(|c| !c.is_empty()),
        body.payload.as_bytes(),
        true,
    ) {
        Ok((json, _)) => Ok(ok_json(StatusCode::OK, &json)),
        Err(ExplainError::Decode(e)) => Err(ApiError::Decode(e)),
        Err(ExplainError::Rejected(r)) => Err(ApiError::Rejected(r)),
    }
}
