//! Request and response helpers every route shares: method checks, bounded body reads,
//! query parameters, JSON answers.

use std::borrow::Cow;
use std::error::Error as StdError;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Body;

use super::error::{json_response, ApiError};
use crate::decode::decode_component;

pub(super) fn only_get(method: &Method) -> Result<(), ApiError> {
    if method == Method::GET || method == Method::HEAD {
        Ok(())
    } else {
        Err(ApiError::MethodNotAllowed {
            allow: "GET, HEAD".into(),
        })
    }
}

pub(super) fn only_post(method: &Method) -> Result<(), ApiError> {
    if method == Method::POST {
        Ok(())
    } else {
        Err(ApiError::MethodNotAllowed {
            allow: "POST".into(),
        })
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
    read_limited(request.into_body(), limit).await
}

/// Reads a body of at most `limit` bytes, for a caller that has already refused an
/// oversized Content-Length with [`check_content_length`].
pub(super) async fn read_limited<B>(body: B, limit: u64) -> Result<Bytes, ApiError>
where
    B: Body,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    let limit_usize = usize::try_from(limit).unwrap_or(usize::MAX);
    match Limited::new(body, limit_usize).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
            Err(ApiError::TooLarge { limit })
        }
        Err(e) => Err(ApiError::BodyRead(e)),
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
        "priority" => "priority",
        "acknowledged" => "acknowledged",
        _ => "query",
    }
}

/// A `202`/`200` JSON body.
pub(super) fn ok_json<T: serde::Serialize + ?Sized>(
    status: StatusCode,
    body: &T,
) -> Response<Full<Bytes>> {
    json_response(status, body)
}
