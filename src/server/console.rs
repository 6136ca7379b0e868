//! `GET /ui` (no token): the admin console, a page and its static files embedded in the
//! binary from `ui/`. The page asks for an API token and sends it as `Authorization:
//! Bearer` on every data request; it needs no network beyond this server.

use bytes::Bytes;
use http::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE};
use http::{Method, Response, StatusCode};
use http_body_util::Full;

use super::error::ApiError;

/// Every embedded file: name under `/ui/`, content type, bytes.
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "index.html",
        "text/html; charset=utf-8",
        include_str!("../../ui/index.html"),
    ),
    (
        "style.css",
        "text/css; charset=utf-8",
        include_str!("../../ui/style.css"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("../../ui/app.js"),
    ),
    (
        "api.js",
        "text/javascript; charset=utf-8",
        include_str!("../../ui/api.js"),
    ),
    (
        "dom.js",
        "text/javascript; charset=utf-8",
        include_str!("../../ui/dom.js"),
    ),
    (
        "incidents.js",
        "text/javascript; charset=utf-8",
        include_str!("../../ui/incidents.js"),
    ),
    (
        "chart.js",
        "text/javascript; charset=utf-8",
        include_str!("../../ui/chart.js"),
    ),
    (
        "playground.js",
        "text/javascript; charset=utf-8",
        include_str!("../../ui/playground.js"),
    ),
    (
        "sources.js",
        "text/javascript; charset=utf-8",
        include_str!("../../ui/sources.js"),
    ),
    (
        "config.js",
        "text/javascript; charset=utf-8",
        include_str!("../../ui/config.js"),
    ),
    (
        "favicon.svg",
        "image/svg+xml",
        include_str!("../../ui/favicon.svg"),
    ),
];

/// `GET /ui`, `/ui/`, `/ui/{file}`.
pub(super) fn asset(method: &Method, name: &str) -> Result<Response<Full<Bytes>>, ApiError> {
    if method != Method::GET && method != Method::HEAD {
        return Err(ApiError::MethodNotAllowed {
            allow: "GET, HEAD".into(),
        });
    }
    let name = if name.is_empty() { "index.html" } else { name };
    let (_, content_type, text) = ASSETS
        .iter()
        .find(|(n, _, _)| *n == name)
        .ok_or(ApiError::NotFound("no such console file"))?;
    let mut response = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(response)
}
