//! `GET /v1/events` (read scope): the incident event stream as server-sent events, from a
//! cursor (`Last-Event-ID`, or `?cursor=`; with neither, from now on). Each event's `id:`
//! is the store's cursor just after it, so a reconnecting client resumes exactly there;
//! `event:` is the transition, `data:` the event as JSON (`IncidentEvent`).
//!
//! New events are waited for without busy work: the memory store signals each one
//! (`Store::watch_events`); the Redis store, written by every replica, is polled every
//! `REDIS_POLL`. A comment line every `KEEPALIVE` keeps proxies from timing the stream
//! out and finds clients that left. The stream ends when the client goes or the server
//! starts shutting down (`AppState::closing`).
//!
//! Also the connection's entry point (`serve`): this route's streamed body beside every
//! other route's `Full` one, and the security headers every response carries.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{Either, Full};
use hyper::body::{Body, Frame};
use tokio::sync::mpsc;

use super::auth::authorize;
use super::error::ApiError;
use super::http::{only_get, query_param};
use super::router::handle;
use super::state::AppState;
use crate::config::Scope;
use crate::store::{IncidentStore, Store};

/// How often the Redis store is read for new events while the stream is idle.
const REDIS_POLL: Duration = Duration::from_secs(1);
/// A comment line this often while idle.
const KEEPALIVE: Duration = Duration::from_secs(15);
/// Events read per store call.
const PAGE: usize = 100;
/// Reads made to find the end of the stream when no cursor is given (each `PAGE_END`).
const END_PAGES: usize = 200;
const PAGE_END: usize = 500;

/// The body every response has: a whole one, or the event stream.
pub type ServedBody = Either<Full<Bytes>, EventBody>;

/// `Content-Security-Policy` of every response: nothing but this origin, no inline script.
pub const CSP: &str = "default-src 'self'; img-src 'self' data:; object-src 'none'; \
                       base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/// Answers one request on a connection: `/v1/events` streams, the rest go to `handle`.
pub async fn serve<B>(state: &AppState, request: Request<B>) -> Response<ServedBody>
where
    B: Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut response = if request.uri().path() == "/v1/events" {
        let (method, path) = (request.method().clone(), request.uri().path().to_owned());
        match stream(state, &request).await {
            Ok(response) => response,
            Err(e) => {
                e.log(&method, &path);
                e.into_response().map(Either::Left)
            }
        }
    } else {
        handle(state, request).await.map(Either::Left)
    };
    secure(response.headers_mut());
    response
}

/// The headers every response carries.
pub fn secure(headers: &mut HeaderMap) {
    headers.insert("content-security-policy", HeaderValue::from_static(CSP));
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
}

/// The event stream's body: frames sent by the task that reads the store.
pub struct EventBody {
    rx: mpsc::Receiver<Bytes>,
}

impl Body for EventBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.rx
            .poll_recv(cx)
            .map(|chunk| chunk.map(|bytes| Ok(Frame::data(bytes))))
    }
}

async fn stream<B>(
    state: &AppState,
    request: &Request<B>,
) -> Result<Response<ServedBody>, ApiError> {
    only_get(request.method())?;
    authorize(state.snapshot().as_ref(), request, Scope::Read)?;
    let from_header = request
        .headers()
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned);
    let cursor = match from_header {
        Some(c) => Some(c),
        None => query_param(request.uri().query(), "cursor")?.map(std::borrow::Cow::into_owned),
    };
    let store = state.store().clone();
    // The first read answers a bad cursor with 400 before the stream starts.
    let cursor = match cursor {
        Some(c) => {
            store.events_after(Some(&c), 1).await?;
            c
        }
        None => end_cursor(&store).await?,
    };
    let (tx, rx) = mpsc::channel::<Bytes>(16);
    let closing = state.closing();
    tokio::spawn(pump(store, cursor, tx, closing));
    let mut response = Response::new(Either::Right(EventBody { rx }));
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(response)
}

/// The cursor after the newest event (bounded: `END_PAGES` reads at most).
async fn end_cursor(store: &Store) -> Result<String, ApiError> {
    let mut page = store.events_after(None, PAGE_END).await?;
    for _ in 0..END_PAGES {
        if page.events.len() < PAGE_END {
            break;
        }
        page = store
            .events_after(Some(&page.next_cursor), PAGE_END)
            .await?;
    }
    Ok(page.next_cursor)
}

/// Reads events from `cursor` on and sends them until the client leaves or the server
/// closes.
async fn pump(
    store: Store,
    mut cursor: String,
    tx: mpsc::Sender<Bytes>,
    mut closing: tokio::sync::watch::Receiver<bool>,
) {
    let mut signal = store.watch_events();
    // A retry hint for EventSource-like clients, and a first byte so the client knows
    // the stream is open.
    if tx
        .send(Bytes::from_static(b"retry: 2000\n\n"))
        .await
        .is_err()
    {
        return;
    }
    loop {
        if *closing.borrow() {
            return;
        }
        if let Some(signal) = &mut signal {
            signal.borrow_and_update();
        }
        let sent = match store.events_after(Some(&cursor), PAGE).await {
            Ok(page) => {
                let count = page.events.len();
                for (event, after) in page.events.iter().zip(&page.cursors) {
                    let data = serde_json::to_string(event).unwrap_or_default();
                    let frame = format!(
                        "id: {after}\nevent: {}\ndata: {data}\n\n",
                        event.transition.as_str()
                    );
                    if tx.send(Bytes::from(frame)).await.is_err() {
                        return;
                    }
                }
                cursor = page.next_cursor;
                count
            }
            Err(e) => {
                tracing::warn!(error = %e, "event stream: store read failed");
                let frame = "event: store_error\ndata: {\"error\":{\"code\":\"store_unavailable\",\"message\":\"store unavailable, retrying\"}}\n\n";
                if tx.send(Bytes::from_static(frame.as_bytes())).await.is_err() {
                    return;
                }
                0
            }
        };
        if sent == PAGE {
            continue;
        }
        let wait_new = async {
            match &mut signal {
                Some(signal) => {
                    if signal.changed().await.is_err() {
                        std::future::pending::<()>().await;
                    }
                }
                None => tokio::time::sleep(REDIS_POLL).await,
            }
        };
        tokio::select! {
            () = wait_new => {}
            () = tokio::time::sleep(KEEPALIVE) => {
                if tx.send(Bytes::from_static(b": keepalive\n\n")).await.is_err() {
                    return;
                }
            }
            () = tx.closed() => return,
            _ = closing.changed() => return,
        }
    }
}
