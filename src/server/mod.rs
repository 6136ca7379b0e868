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
use tokio::net::TcpListener;

pub use self::error::{ApiError, RETRY_AFTER_SECS};
pub use self::events::{serve, ServedBody, CSP};
pub use self::router::handle;
pub use self::sources::{
    source_listing, webhook_url, SourceInfo, DEFAULT_OVERLAP, TOKEN_PLACEHOLDER,
};
pub use self::state::{AppState, TOKEN_HEADER};

/// Serves `listener` until `shutdown` completes, then stops accepting and gives requests
/// in flight up to `limits.shutdown_grace` to finish.
pub async fn run(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let graceful = GracefulShutdown::new();
    let sweeper = sweeper::spawn(state.clone());
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(pair) => pair,
                    Err(e) => {
                        // Out of file descriptors and the like: back off, keep serving.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let limits = *state.snapshot().limits();
                let mut builder = auto::Builder::new(TokioExecutor::new());
                builder
                    .http1()
                    .timer(TokioTimer::new())
                    .header_read_timeout(limits.header_read_timeout);
                builder.http2().timer(TokioTimer::new());
                let state = state.clone();
                let service = service_fn(move |request| {
                    let state = state.clone();
                    async move { Ok::<_, Infallible>(serve(&state, request).await) }
                });
                let connection = builder
                    .serve_connection_with_upgrades(TokioIo::new(stream), service)
                    .into_owned();
                let connection = graceful.watch(connection);
                tokio::spawn(async move {
                    if let Err(e) = connection.await {
                        tracing::debug!(%peer, error = %e, "connection ended with an error");
                    }
                });
            }
            () = &mut shutdown => break,
        }
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
