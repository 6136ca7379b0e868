//! The HTTP server: accept loop, per-connection limits, graceful shutdown, routes.
//!
//! Owns HTTP (hyper 1.x via hyper-util's `auto::Builder`: HTTP/1.1 and HTTP/2) and the
//! request limits (header read time, request time, body size). Inside, one way down:
//! `router` → the handlers (`hooks` runs verify → decode → engine → store; `api` serves
//! incidents and health; `sources` lists and edits sources; `admin` reload, config and
//! metrics; `actions` people's acts on incidents; `eval` the mapping playground; `console`
//! the embedded admin page; `events` the event stream, and `serve` above `router`) → `auth` (tokens) and `http` (bounded bodies, query parameters, JSON answers) → `error` (the one error → status table) and
//! `state`. It does not decide what a payload means, and does not build or reload config:
//! it reads whatever `Snapshot` `AppState` holds, once per request.

mod actions;
mod admin;
mod api;
mod auth;
mod console;
mod error;
mod eval;
mod events;
mod fanout;
mod hooks;
mod http;
mod limiter;
mod lograte;
mod opencounts;
mod openlimit;
mod recent;
mod router;
mod sinks;
mod sources;
mod state;
mod sweeper;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

pub use self::error::{ApiError, RETRY_AFTER_SECS};
pub use self::events::{serve, ServedBody, CSP};
pub use self::router::handle;
pub use self::sources::{
    source_listing, webhook_url, SourceInfo, DEFAULT_OVERLAP, TOKEN_PLACEHOLDER,
};
pub use self::state::{AppState, TOKEN_HEADER};

/// Serves `listener` until `shutdown` completes; then `/-/ready` answers 503 for
/// `limits.shutdown_delay` while requests are still served; then stops accepting, tells
/// keep-alive connections and long-lived streams to close, and gives requests in flight
/// up to `limits.shutdown_grace` to finish.
pub async fn run(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let graceful = GracefulShutdown::new();
    let sweeper = sweeper::spawn(state.clone());
    // Fixed at start (a change needs a restart): permits are held by live connections.
    let max_connections = state.snapshot().limits().max_connections;
    let permits = Arc::new(Semaphore::new(max_connections));
    accept_until(&listener, &state, &graceful, &permits, shutdown).await;
    state.begin_draining();
    let delay = state.snapshot().limits().shutdown_delay;
    if !delay.is_zero() {
        tracing::info!(
            ?delay,
            "shutting down: /-/ready answers 503, still serving until the delay is over"
        );
        accept_until(
            &listener,
            &state,
            &graceful,
            &permits,
            tokio::time::sleep(delay),
        )
        .await;
    }
    drop(listener);
    sweeper.abort();
    // Long-lived responses (the event stream) end now, so connections can close.
    state.begin_closing();
    let grace = state.snapshot().limits().shutdown_grace;
    tracing::info!(
        connections = graceful.count(),
        ?grace,
        "shutting down: finishing requests in flight"
    );
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("all connections closed"),
        () = tokio::time::sleep(grace) => {
            tracing::warn!(?grace, "shutdown grace period over: dropping open connections");
        }
    }
    Ok(())
}

/// Accepts connections until `until` completes, at most `permits` open at once: when
/// all are taken it stops accepting (the kernel's backlog holds new ones) until a
/// connection closes, and says so once a minute at most.
async fn accept_until(
    listener: &TcpListener,
    state: &AppState,
    graceful: &GracefulShutdown,
    permits: &Arc<Semaphore>,
    until: impl Future<Output = ()>,
) {
    let mut until = std::pin::pin!(until);
    let mut last_warned: Option<tokio::time::Instant> = None;
    loop {
        let permit = if let Ok(permit) = Arc::clone(permits).try_acquire_owned() {
            permit
        } else {
            state.metrics().connection_limit_reached();
            if last_warned.is_none_or(|t| t.elapsed() >= Duration::from_secs(60)) {
                last_warned = Some(tokio::time::Instant::now());
                tracing::warn!(
                    max_connections = state.snapshot().limits().max_connections,
                    "connection limit reached: not accepting until a connection closes"
                );
            }
            tokio::select! {
                permit = Arc::clone(permits).acquire_owned() => match permit {
                    Ok(permit) => permit,
                    // Never closed; stop accepting rather than spin.
                    Err(_) => return,
                },
                () = &mut until => return,
            }
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors and the like: back off, keep serving.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut until => return,
        };
        let limits = *state.snapshot().limits();
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout);
        builder.http2().timer(TokioTimer::new());
        let service_state = state.clone();
        let service = service_fn(move |request| {
            let state = service_state.clone();
            async move { Ok::<_, Infallible>(serve(&state, request).await) }
        });
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service)
            .into_owned();
        let connection = graceful.watch(connection);
        let metrics = state.metrics().clone();
        metrics.connection_delta(1);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
            metrics.connection_delta(-1);
            drop(permit);
        });
    }
}

/// Completes on SIGTERM or SIGINT (Ctrl-C).
pub async fn shutdown_signal() {
    let interrupt = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %e, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => tracing::info!("SIGINT received"),
        () = terminate => tracing::info!("SIGTERM received"),
    }
}
