//! Startup wiring: build the first snapshot, connect the store, bind, start the reload
//! triggers, serve.
//!
//! The glue between the command line and the library; owns no policy of its own. It also
//! joins `config` to `reload` (the snapshot's [`Versioned`] impl, [`reloader`],
//! [`spawn_reload_triggers`]), so tests can assemble the same gateway `serve` runs.

use std::future::Future;
use std::path::{Path, PathBuf};

use tokio::net::TcpListener;

use crate::config::{self, LogFormat, Overrides, Snapshot, StoreSettings};
use crate::delivery::Delivery;
use crate::metrics::Metrics;
use crate::reload::{self, Reloader, Versioned, WatchPaths, Watchers};
use crate::server::{self, AppState};
use crate::spool::{self, Dropped, Spool, SpoolError, SpoolSettings};
use crate::store::{MemoryStore, RedisStore, Store, StoreError};
use crate::yaml::CompileError;

impl Versioned for Snapshot {
    fn version(&self) -> String {
        self.version.clone()
    }

    fn restart_needed(&self, newer: &Self) -> Vec<String> {
        let mut settings = Snapshot::restart_needed(self, newer);
        // Mappings load from the new directory at once, but the watcher still watches the
        // old one: edits there need a SIGHUP or `POST /-/reload` until a restart.
        if self.settings.mappings_dir != newer.settings.mappings_dir {
            settings.push("mappings_dir (file watching)".to_owned());
        }
        if self.settings.sources_dir != newer.settings.sources_dir {
            settings.push("sources_dir (file watching)".to_owned());
        }
        settings
    }
}

/// A reloader serving `initial`, which rebuilds from `config_path` with `overrides` (the
/// command line keeps winning over the file after a reload).
pub fn reloader(
    config_path: &Path,
    overrides: Overrides,
    initial: Snapshot,
    metrics: Metrics,
) -> Reloader<Snapshot> {
    let config_path: PathBuf = config_path.to_owned();
    let build: reload::BuildFn<Snapshot> =
        std::sync::Arc::new(move || config::build_snapshot(&config_path, &overrides));
    Reloader::new(initial, build, metrics)
}

/// Watches the config file, the mappings directory and the sources directory the
/// reloader's snapshot names, and SIGHUP, until `shutdown`.
pub fn spawn_reload_triggers(
    reloader: &Reloader<Snapshot>,
    config_path: &Path,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Watchers {
    let current = reloader.load_current();
    let paths = WatchPaths {
        config_file: Some(config_path.to_owned()),
        mappings_dir: current.settings.mappings_dir.clone(),
        sources_dir: Some(current.settings.sources_dir.clone()),
    };
    reload::spawn_watchers(reloader.clone(), paths, shutdown)
}

/// How long `serve` waits for Redis' first answer (to refuse an incompatible keyspace)
/// before serving anyway.
const REDIS_FIRST_ANSWER: std::time::Duration = std::time::Duration::from_secs(2);

/// What `serve` needs from the command line.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub config: PathBuf,
    pub overrides: Overrides,
}

/// Why the gateway did not start, or stopped with a fault.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{} problem(s) in the config; not starting", .0.len())]
    Config(Vec<CompileError>),
    #[error("cannot use the redis store")]
    Store(#[source] StoreError),
    #[error("cannot open the spool")]
    Spool(#[source] SpoolError),
    #[error("cannot listen on {addr}")]
    Bind {
        addr: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("server failed")]
    Server(#[source] std::io::Error),
}

/// Runs the gateway until SIGTERM/SIGINT.
pub async fn serve(options: &ServeOptions) -> Result<(), StartError> {
    let overrides = options.overrides.clone();
    let snapshot =
        config::build_snapshot(&options.config, &overrides).map_err(StartError::Config)?;
    for fallback in snapshot.secret_fallbacks() {
        tracing::warn!(
            var = %fallback.var,
            key = %fallback.path,
            "{} is not set: using the demo default from the config; set it in production",
            fallback.var
        );
    }
    let metrics = Metrics::new();
    let spool = match &snapshot.settings.spool {
        Some(settings) => Some(open_spool(settings, &metrics).map_err(StartError::Spool)?),
        None => None,
    };
    let store = match &snapshot.settings.store {
        StoreSettings::Memory(settings) => Store::Memory(MemoryStore::new(*settings)),
        // Redis need not be up: the store connects (and reconnects) in the background and
        // answers 503 meanwhile (with a spool,
        // webhooks are queued instead: docs/design.md §10). Only a keyspace this version must not use stops the start.
        StoreSettings::Redis(settings) => Store::Redis(
            RedisStore::start(settings.clone(), REDIS_FIRST_ANSWER)
                .await
                .map_err(StartError::Store)?,
        ),
    };
    let replayer = spool
        .as_ref()
        .map(|spool| spool::spawn_replayer(spool.clone(), store.clone()));
    let listen = snapshot.settings.listen;
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|source| StartError::Bind {
            addr: listen,
            source,
        })?;
    let local = listener.local_addr().unwrap_or(listen);
    tracing::info!(
        listen = %local,
        store = store.backend_name(),
        sources = snapshot.sources.len(),
        mappings = snapshot.mappings.len(),
        version = %snapshot.version,
        "alertgate serving"
    );
    let reloader = reloader(&options.config, overrides, snapshot, metrics);
    let (stop, stopped) = tokio::sync::watch::channel(());
    let until_stopped = {
        let mut stopped = stopped.clone();
        async move {
            // Err: the sender is gone, which also means stop.
            let _ = stopped.changed().await;
        }
    };
    let triggers = spawn_reload_triggers(&reloader, &options.config, until_stopped);
    let redis_settings = match &reloader.load_current().settings.store {
        StoreSettings::Redis(settings) => Some(settings.clone()),
        StoreSettings::Memory(_) => None,
    };
    let delivery = Delivery::start(
        &store,
        redis_settings,
        std::sync::Arc::clone(reloader.current()),
        reloader.metrics().clone(),
    );
    let mut state = AppState::with_reloader(reloader, store).with_delivery(delivery.clone());
    if let Some(spool) = spool {
        state = state.with_spool(spool);
    }
    state
        .metrics()
        .register_sources(state.snapshot().sources.keys().map(String::as_str));
    let result = server::run(listener, state, first_signal()).await;
    delivery.stop().await;
    if let Some(replayer) = replayer {
        replayer.stop().await;
    }
    let _ = stop.send(());
    drop(stopped);
    triggers.join().await;
    result.map_err(StartError::Server)
}

/// Opens the spool (blocking, at startup) and logs what its recovery found: webhooks
/// left to replay, a torn tail cut off (WARN), a damaged part set aside (ERROR).
pub fn open_spool(settings: &SpoolSettings, metrics: &Metrics) -> Result<Spool, SpoolError> {
    let (spool, recovery) = Spool::open(settings.clone(), metrics.clone())?;
    let dir = settings.dir.display();
    match &recovery.dropped {
        None => {}
        Some(Dropped::TornTail { offset, bytes }) => tracing::warn!(
            %dir, offset, bytes,
            "spool: cut a torn last record (a write interrupted by a crash, never acknowledged)"
        ),
        Some(Dropped::Corrupt {
            offset,
            bytes,
            reason,
            kept_as,
        }) => tracing::error!(
            %dir, offset, bytes, reason, kept_as = %kept_as.display(),
            "spool: damaged record; replaying the records before it, the rest moved aside"
        ),
    }
    if recovery.position_reset {
        tracing::warn!(%dir, "spool: replay position unreadable; replaying every record");
    }
    if recovery.pending > 0 {
        tracing::info!(%dir, pending = recovery.pending, "spool: webhooks queued by an earlier run will be replayed");
    }
    Ok(spool)
}

/// Exit code of `serve` when a second SIGTERM/SIGINT cuts the shutdown short
/// (docs/design.md §8).
pub const FORCED_EXIT: u8 = 2;

/// Completes on the first SIGTERM/SIGINT; a second one exits the process at once, with
/// [`FORCED_EXIT`], whatever is still in flight.
async fn first_signal() {
    server::shutdown_signal().await;
    tokio::spawn(async {
        server::shutdown_signal().await;
        tracing::warn!("second signal: exiting now, requests in flight are dropped");
        std::process::exit(i32::from(FORCED_EXIT));
    });
}

/// The environment variable that chooses the log format; it wins over the config file.
pub const LOG_FORMAT_ENV: &str = "ALERTGATE_LOG_FORMAT";

/// The log format to start with: `ALERTGATE_LOG_FORMAT` if set (an invalid value is an
/// error), else the config file's top-level `log_format` key, peeked at before the file
/// is built (no `${VAR}` expansion; an invalid value there is reported by the build, and
/// logs start as text).
pub fn log_format(config: &Path) -> Result<LogFormat, String> {
    if let Ok(value) = std::env::var(LOG_FORMAT_ENV) {
        return LogFormat::parse(&value)
            .ok_or_else(|| format!("{LOG_FORMAT_ENV}={value:?}: expected text or json"));
    }
    #[derive(serde::Deserialize)]
    struct Peek {
        #[serde(default)]
        log_format: Option<String>,
    }
    let peeked = std::fs::read_to_string(config)
        .ok()
        .and_then(|text| serde_yaml::from_str::<Peek>(&text).ok())
        .and_then(|p| p.log_format)
        .and_then(|f| LogFormat::parse(&f));
    Ok(peeked.unwrap_or_default())
}

/// Logs to stderr in `format`; filter from `ALERTGATE_LOG`, else `RUST_LOG`, else
/// `info`. No ANSI colours unless stderr is a terminal. JSON lines carry `timestamp`,
/// `level`, `target`, the event's fields (`message` among them) and the current span's.
pub fn init_tracing(format: LogFormat) {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    let filter = std::env::var("ALERTGATE_LOG")
        .ok()
        .or_else(|| std::env::var("RUST_LOG").ok())
        .and_then(|f| EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .init(),
    }
}
