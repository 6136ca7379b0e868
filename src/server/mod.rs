//! The HTTP server: accept loop, per-connection limits, graceful shutdown, routes.
//!
//! Owns HTTP (hyper 1.x via hyper-util's `auto::Builder`: HTTP/1.1 and HTTP/2), the
//! request limits (header read time, request time, body size), routing, and turning typed
//! errors into responses (`error`). The webhook route (`hooks`) runs decode → engine →
//! store; `api` serves incidents and health. It does not decide what a payload means, and
//! does not build or reload config: it reads whatever `Snapshot` `AppState` holds, once
//! per request.

mod admin;
mod api;
mod error;
mod handler;
mod hooks;

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;

use arc_swap::ArcSwap;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;

pub use self::error::{ApiError, RETRY_AFTER_SECS};
pub use self::handler::handle;
use crate::config::Snapshot;
use crate::metrics::Metrics;
use crate::reload::Reloader;
use crate::store::Store;

/// Header that may carry a source's token (the query's `token` is the other place).
pub const TOKEN_HEADER: &str = "x-itoc360-token";

/// What every request needs: a cheap-clone handle.
#[derive(Clone)]
pub struct AppState {
    snapshot: Arc<ArcSwap<Snapshot>>,
    store: Store,
    metrics: Metrics,
    /// Absent when the state was built from a fixed snapshot (tests): `POST /-/reload`
    /// and `GET /-/config` then answer 404.
    reloader: Option<Reloader<Snapshot>>,
}

impl AppState {
    /// A state serving one fixed snapshot, with no reloading.
    pub fn new(snapshot: Snapshot, store: Store) -> AppState {
        AppState {
            snapshot: Arc::new(ArcSwap::from_pointee(snapshot)),
            store,
            metrics: Metrics::new(),
            reloader: None,
        }
    }

    /// A state serving whatever `reloader` swaps in, recording into its metrics.
    pub fn with_reloader(reloader: Reloader<Snapshot>, store: Store) -> AppState {
        AppState {
            snapshot: Arc::clone(reloader.current()),
            store,
            metrics: reloader.metrics().clone(),
            reloader: Some(reloader),
        }
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    pub fn reloader(&self) -> Option<&Reloader<Snapshot>> {
        self.reloader.as_ref()
    }

    /// The current snapshot. A request calls this once and keeps it to the end, so a
    /// reload never changes the rules under a request in flight.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.load_full()
    }

    /// The swappable cell itself, for the reload machinery.
    pub fn snapshot_cell(&self) -> &Arc<ArcSwap<Snapshot>> {
        &self.snapshot
    }

    /// Replaces the snapshot for every later request; returns the previous one.
    pub fn replace_snapshot(&self, newer: Arc<Snapshot>) -> Arc<Snapshot> {
        self.snapshot.swap(newer)
    }

    pub fn store(&self) -> &Store {
        &self.store
    }
}

/// Serves `listener` until `shutdown` completes, then stops accepting and gives requests
/// in flight up to `limits.shutdown_grace` to finish.
pub async fn run(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let graceful = GracefulShutdown::new();
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
                    async move { Ok::<_, Infallible>(handle(&state, request).await) }
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
    let grace = state.snapshot().limits().shutdown_grace;
    tracing::info!(
        connections = graceful.count(),
        ?grace,
        "shutting down: finishing requests in flight"
    );
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("all connections closed"),
        () = tokio::time::sleep(grace) => {
            tracing::warn!(?grace, "shutdown grace period over: dropping open connections")
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
