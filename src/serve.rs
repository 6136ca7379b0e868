//! `alertgate serve`: build the first snapshot, connect the store, bind, serve.
//!
//! The glue between the binary and the library; owns no policy of its own.

use std::process::ExitCode;

use tokio::net::TcpListener;

use crate::cli::{print_errors, ServeArgs};
use crate::config::{self, Overrides, StoreSettings};
use crate::server::{self, AppState};
use crate::store::{MemoryStore, RedisStore, Store};

/// Exit code when the config does not load.
const EXIT_CONFIG: u8 = 2;

/// Runs the gateway until SIGTERM/SIGINT. Config errors exit 2, startup failures 1.
pub async fn serve(args: &ServeArgs) -> ExitCode {
    let overrides = Overrides {
        listen: args.listen,
        redis_url: args.redis_url.clone(),
        mappings_dir: None,
    };
    let snapshot = match config::build_snapshot(&args.config, &overrides) {
        Ok(s) => s,
        Err(errors) => {
            print_errors(&errors);
            eprintln!("{} problem(s) in the config; not starting", errors.len());
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    for fallback in snapshot.secret_fallbacks() {
        tracing::warn!(
            var = %fallback.var,
            key = %fallback.path,
            "{} is not set: using the demo default from the config; set it in production",
            fallback.var
        );
    }
    let store = match &snapshot.settings.store {
        StoreSettings::Memory { event_stream_len } => {
            Store::Memory(MemoryStore::new(*event_stream_len))
        }
        StoreSettings::Redis(settings) => match RedisStore::connect(settings.clone()).await {
            Ok(store) => Store::Redis(store),
            Err(e) => {
                tracing::error!(error = %e, "cannot connect to redis");
                return ExitCode::FAILURE;
            }
        },
    };
    let listen = snapshot.settings.listen;
    let listener = match TcpListener::bind(listen).await {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(%listen, error = %e, "cannot listen");
            return ExitCode::FAILURE;
        }
    };
    let local = listener.local_addr().unwrap_or(listen);
    tracing::info!(
        listen = %local,
        store = store.backend_name(),
        sources = snapshot.sources.len(),
        mappings = snapshot.mappings.len(),
        version = %snapshot.version,
        "alertgate serving"
    );
    let state = AppState::new(snapshot, store);
    match server::run(listener, state, server::shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "server failed");
            ExitCode::FAILURE
        }
    }
}

/// Logs to stderr; filter from `ALERTGATE_LOG`, else `RUST_LOG`, else `info`.
pub fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = std::env::var("ALERTGATE_LOG")
        .ok()
        .or_else(|| std::env::var("RUST_LOG").ok())
        .and_then(|f| EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
