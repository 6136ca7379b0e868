//! The [`Reloader`]: the one path every trigger goes through, and what it reports.

use std::fmt;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use serde::Serialize;

use crate::clock;
use crate::metrics::Metrics;
use crate::yaml::CompileError;

/// What a reloadable configuration tells the reloader about itself.
pub trait Versioned {
    /// A short identifier of the content (a digest), equal for equal content.
    fn version(&self) -> String;
    /// The settings that differ between `self` (what the process started with) and
    /// `newer` but only take effect on restart, such as the listen address.
    fn restart_needed(&self, newer: &Self) -> Vec<String>;
}

/// Builds a complete configuration, or returns every error with its place. It does
/// blocking I/O and runs on tokio's blocking pool.
pub type BuildFn<T> = Arc<dyn Fn() -> Result<T, Vec<CompileError>> + Send + Sync>;

/// What asked for a reload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// The first load, before the server listens.
    Startup,
    /// The file watcher saw a relevant file change.
    Watch,
    /// SIGHUP.
    Signal,
    /// `POST /-/reload`.
    Api,
}

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Trigger::Startup => "startup",
            Trigger::Watch => "watch",
            Trigger::Signal => "signal",
            Trigger::Api => "api",
        })
    }
}

/// A reload that was applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReloadSummary {
    pub trigger: Trigger,
    /// The version now serving.
    pub version: String,
    /// The version that served before.
    pub old_version: String,
    /// Whether the version changed.
    pub changed: bool,
    /// Settings changed since startup that only take effect on restart.
    pub restart_needed: Vec<String>,
}

/// Why a reload failed: the caller's files (422) or us (500).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The configuration does not build; `errors` says where.
    Invalid,
    /// The build panicked or could not run.
    Internal,
}

/// A reload that was not applied: the old configuration keeps serving.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("configuration reload failed with {} error(s); still serving version {version}", errors.len())]
pub struct ReloadFailure {
    pub trigger: Trigger,
    pub kind: FailureKind,
    /// Every error line, `file:line:col: path: message`.
    pub errors: Vec<String>,
    /// The version still serving (empty when nothing was ever loaded).
    pub version: String,
}

/// The reload state an admin sees at `GET /-/config`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfigStatus {
    /// The version serving.
    pub version: String,
    /// When the serving version was loaded.
    #[serde(with = "clock::rfc3339_ms")]
    pub loaded_at: i64,
    /// The errors of the last reload attempt, when it failed.
    pub last_error: Option<Vec<String>>,
    /// When the last reload was attempted, successful or not.
    #[serde(with = "clock::rfc3339_ms_opt")]
    pub last_reload_at: Option<i64>,
    /// What triggered the last attempt.
    pub last_trigger: Option<Trigger>,
    /// Settings changed since startup that only take effect on restart.
    pub restart_needed: Vec<String>,
}

/// The one path from "something changed" to "requests see the new configuration".
/// A cheap-clone handle.
pub struct Reloader<T> {
    inner: Arc<Inner<T>>,
}

impl<T> Clone for Reloader<T> {
    fn clone(&self) -> Self {
        Reloader {
            inner: Arc::clone(&self.inner),
        }
    }
}

struct Inner<T> {
    current: Arc<ArcSwap<T>>,
    /// What the process started with: restart-only settings are compared against it, so
    /// "restart needed" stays true until a restart, or until the setting is put back.
    started: Arc<T>,
    build: BuildFn<T>,
    /// A std mutex: held only to copy or replace a few fields, never across `.await`.
    status: Mutex<ConfigStatus>,
    /// Serialises reloads. tokio's mutex is fair (FIFO), so reloads apply in the order
    /// they were asked for and the last one, which read the files last, wins.
    serial: tokio::sync::Mutex<()>,
    metrics: Metrics,
}

impl<T> Reloader<T>
where
    T: Versioned + Send + Sync + 'static,
{
    /// Builds the first configuration (on the blocking pool) and a reloader serving it.
    /// Fails with every error when it does not build; the metrics record the failure.
    pub async fn load(build: BuildFn<T>, metrics: Metrics) -> Result<Self, ReloadFailure> {
        match run_build(&build).await {
            Ok(initial) => Ok(Self::new(initial, build, metrics)),
            Err((kind, errors)) => {
                metrics.reload_failed();
                let failure = ReloadFailure {
                    trigger: Trigger::Startup,
                    kind,
                    errors,
                    version: String::new(),
                };
                log_failure(&failure);
                Err(failure)
            }
        }
    }

    /// A reloader serving `initial`, which the caller built with `build` at startup.
    pub fn new(initial: T, build: BuildFn<T>, metrics: Metrics) -> Self {
        let now = clock::now_ms();
        metrics.reload_succeeded(now as f64 / 1000.0);
        let initial = Arc::new(initial);
        let status = ConfigStatus {
            version: initial.version(),
            loaded_at: now,
            last_error: None,
            last_reload_at: None,
            last_trigger: Some(Trigger::Startup),
            restart_needed: Vec::new(),
        };
        tracing::info!(version = %status.version, "configuration loaded");
        Reloader {
            inner: Arc::new(Inner {
                current: Arc::new(ArcSwap::new(Arc::clone(&initial))),
                started: initial,
                build,
                status: Mutex::new(status),
                serial: tokio::sync::Mutex::new(()),
                metrics,
            }),
        }
    }

    /// The swap cell requests load from (once per request).
    pub fn current(&self) -> &Arc<ArcSwap<T>> {
        &self.inner.current
    }

    /// The configuration serving now.
    pub fn load_current(&self) -> Arc<T> {
        self.inner.current.load_full()
    }

    /// The metrics this reloader records into.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// The status view for `GET /-/config`.
    pub fn status(&self) -> ConfigStatus {
        lock(&self.inner.status).clone()
    }

    /// Rebuilds the configuration and swaps it in; on failure keeps the old one, logs
    /// every error and records it. Reloads run one at a time, in the order asked.
    ///
    /// The work runs in its own task: a caller that goes away (an HTTP client hanging
    /// up) does not cancel a reload half-way.
    pub async fn reload(&self, trigger: Trigger) -> Result<ReloadSummary, ReloadFailure> {
        let inner = Arc::clone(&self.inner);
        match tokio::spawn(async move { inner.reload(trigger).await }).await {
            Ok(result) => result,
            // Only a panic in our own code gets here; the build's panics are caught below.
            Err(e) => Err(ReloadFailure {
                trigger,
                kind: FailureKind::Internal,
                errors: vec![format!("reload task failed: {e}")],
                version: self.load_current().version(),
            }),
        }
    }
}

impl<T> Inner<T>
where
    T: Versioned + Send + Sync + 'static,
{
    async fn reload(&self, trigger: Trigger) -> Result<ReloadSummary, ReloadFailure> {
        let _serial = self.serial.lock().await;
        let built = run_build(&self.build).await;
        let now = clock::now_ms();
        let old = self.current.load_full();
        match built {
            Ok(new) => {
                let summary = ReloadSummary {
                    trigger,
                    version: new.version(),
                    old_version: old.version(),
                    changed: new.version() != old.version(),
                    restart_needed: self.started.restart_needed(&new),
                };
                // Swap even when the version is unchanged: the version is the caller's
                // digest, and a fresh build is never worse than the old one.
                self.current.store(Arc::new(new));
                self.metrics.reload_succeeded(now as f64 / 1000.0);
                {
                    let mut status = lock(&self.status);
                    status.version.clone_from(&summary.version);
                    status.loaded_at = now;
                    status.last_error = None;
                    status.last_reload_at = Some(now);
                    status.last_trigger = Some(trigger);
                    status.restart_needed.clone_from(&summary.restart_needed);
                }
                log_success(&summary);
                Ok(summary)
            }
            Err((kind, errors)) => {
                self.metrics.reload_failed();
                let failure = ReloadFailure {
                    trigger,
                    kind,
                    errors,
                    version: old.version(),
                };
                {
                    let mut status = lock(&self.status);
                    status.last_error = Some(failure.errors.clone());
                    status.last_reload_at = Some(now);
                    status.last_trigger = Some(trigger);
                }
                log_failure(&failure);
                Err(failure)
            }
        }
    }
}

/// Runs the build on the blocking pool; a panic there is an internal failure, not a
/// crash of the reload path.
async fn run_build<T: Send + 'static>(build: &BuildFn<T>) -> Result<T, (FailureKind, Vec<String>)> {
    let build = Arc::clone(build);
    let (done, result) = tokio::sync::oneshot::channel();
    // A thread of its own with a large stack, not the blocking pool (whose threads have
    // tokio's 2 MiB): every parser of config input is bounded (docs/design.md §9), and
    // the headroom keeps a bound that is too generous for some parser from aborting the
    // process. A panic comes back as an error; the old configuration keeps serving.
    let spawned = std::thread::Builder::new()
        .name("alertgate-build".into())
        .stack_size(BUILD_STACK_BYTES)
        .spawn(move || {
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| build()));
            let _ = done.send(outcome.map_err(|panic| panic_text(&*panic)));
        });
    let internal = |message: String| Err((FailureKind::Internal, vec![message]));
    if let Err(e) = spawned {
        return internal(format!("configuration build could not start: {e}"));
    }
    match result.await {
        Ok(Ok(Ok(t))) => Ok(t),
        Ok(Ok(Err(errors))) => Err((
            FailureKind::Invalid,
            errors.iter().map(ToString::to_string).collect(),
        )),
        Ok(Err(panic)) => internal(format!("configuration build failed: panicked: {panic}")),
        Err(_) => internal("configuration build failed: its thread ended without a result".into()),
    }
}

/// Stack of the thread that builds a configuration.
const BUILD_STACK_BYTES: usize = 64 * 1024 * 1024;

/// The text of a panic's payload.
fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

fn log_success(s: &ReloadSummary) {
    if s.changed {
        tracing::info!(trigger = %s.trigger, version = %s.version, old_version = %s.old_version,
            "configuration reloaded");
    } else {
        tracing::debug!(trigger = %s.trigger, version = %s.version,
            "configuration reloaded; unchanged");
    }
    for setting in &s.restart_needed {
        tracing::warn!(%setting, "setting changed; it takes effect only after a restart");
    }
}

/// A failed reload is an operator's problem: ERROR, one line per error so each carries
/// its `file:line`.
fn log_failure(f: &ReloadFailure) {
    tracing::error!(trigger = %f.trigger, errors = f.errors.len(), version = %f.version,
        "configuration reload failed; keeping the configuration that serves");
    for line in &f.errors {
        tracing::error!(trigger = %f.trigger, "{line}");
    }
}

/// The status lock is never held across a panic-prone call, but a poisoned lock must not
/// take the admin API down with it.
fn lock<S>(m: &Mutex<S>) -> std::sync::MutexGuard<'_, S> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
