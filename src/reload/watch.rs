//! Reload triggers outside the API: file events (debounced) and SIGHUP.
//!
//! The watcher watches *directories*, not files: editors save by writing a temporary file
//! and renaming it over the old one, which a watch on the old file's inode never sees, and
//! mapping files come and go. Events are filtered to the files that matter, then a burst
//! of them becomes one reload after a quiet window, or after `max_delay` if the burst
//! never stops.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::{EventKind, RecursiveMode, Watcher};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::reloader::{Reloader, Trigger, Versioned};

/// What to watch: the config file (through its directory), the mappings directory and
/// the sources directory (watched when it exists at start).
#[derive(Debug, Clone)]
pub struct WatchPaths {
    pub config_file: Option<PathBuf>,
    pub mappings_dir: PathBuf,
    pub sources_dir: Option<PathBuf>,
}

/// How the triggers behave.
#[derive(Debug, Clone)]
pub struct WatchOptions {
    /// Quiet time after the last file event before reloading.
    pub window: Duration,
    /// Longest a continuous burst of events can put a reload off.
    pub max_delay: Duration,
    /// Reload on SIGHUP.
    pub sighup: bool,
}

impl Default for WatchOptions {
    fn default() -> Self {
        WatchOptions {
            window: Duration::from_millis(200),
            max_delay: Duration::from_secs(1),
            sighup: true,
        }
    }
}

/// Events buffered between the watcher thread and the debouncer. When it is full an event
/// is dropped, which loses nothing: the events already queued guarantee a reload that
/// starts after the dropped one and so reads the newer files.
const EVENT_BUFFER: usize = 1024;

/// Waits for the first item of a burst, then until `window` passes without another or
/// `max_delay` has passed since the first. Returns how many items the burst held, or
/// `None` once the channel is closed and drained.
pub async fn debounce<E>(
    rx: &mut mpsc::Receiver<E>,
    window: Duration,
    max_delay: Duration,
) -> Option<usize> {
    rx.recv().await?;
    let mut count = 1;
    let deadline = Instant::now() + max_delay;
    loop {
        let quiet_until = (Instant::now() + window).min(deadline);
        match tokio::time::timeout_at(quiet_until, rx.recv()).await {
            Ok(Some(_)) => count += 1,
            Ok(None) | Err(_) => return Some(count),
        }
    }
}

/// The running triggers. Dropping it stops nothing; the shutdown future does.
pub struct Watchers {
    task: JoinHandle<()>,
    watching_files: bool,
}

impl Watchers {
    /// Whether the file watcher started (a failure to start it is logged at ERROR; the
    /// signal and the API still reload).
    pub fn watching_files(&self) -> bool {
        self.watching_files
    }

    /// Waits for the triggers to stop after shutdown.
    pub async fn join(self) {
        if let Err(e) = self.task.await {
            tracing::error!(error = %e, "reload trigger task failed");
        }
    }
}

/// Starts the file watcher and the SIGHUP handler with default options.
pub fn spawn_watchers<T>(
    reloader: Reloader<T>,
    paths: WatchPaths,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Watchers
where
    T: Versioned + Send + Sync + 'static,
{
    spawn_watchers_with(reloader, paths, WatchOptions::default(), shutdown)
}

/// Starts the file watcher and (per `options`) the SIGHUP handler; each feeds
/// [`Reloader::reload`] until `shutdown` completes.
///
/// Neither failing to start is fatal: the gateway still serves, and still reloads through
/// whichever trigger did start and through the API. Both failures are logged at ERROR.
pub fn spawn_watchers_with<T>(
    reloader: Reloader<T>,
    paths: WatchPaths,
    options: WatchOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Watchers
where
    T: Versioned + Send + Sync + 'static,
{
    let (tx, mut rx) = mpsc::channel::<PathBuf>(EVENT_BUFFER);
    // Kept alive with the task: when the watcher did not start, `rx` must pend, not close.
    let (watcher, idle_tx) = match watch_files(&paths, tx.clone()) {
        Ok(watcher) => (Some(watcher), None),
        Err(e) => {
            tracing::error!(error = %e, mappings_dir = %paths.mappings_dir.display(),
                "cannot watch the configuration files: use SIGHUP or POST /-/reload");
            (None, Some(tx))
        }
    };
    let watching_files = watcher.is_some();
    let mut hangup = if options.sighup {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
            Ok(signal) => Some(signal),
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGHUP");
                None
            }
        }
    } else {
        None
    };

    let task = tokio::spawn(async move {
        // Owned by the task: the watcher stops when the task ends.
        let _watcher = watcher;
        let _idle_tx = idle_tx;
        tokio::pin!(shutdown);
        loop {
            let trigger = tokio::select! {
                () = &mut shutdown => break,
                burst = debounce(&mut rx, options.window, options.max_delay) => match burst {
                    Some(events) => {
                        tracing::debug!(events, "configuration files changed");
                        Trigger::Watch
                    }
                    None => break,
                },
                Some(()) = recv_hangup(&mut hangup) => Trigger::Signal,
            };
            // Errors are logged and recorded by the reloader; nothing more to do here.
            let _ = reloader.reload(trigger).await;
        }
        tracing::debug!("reload triggers stopped");
    });
    Watchers {
        task,
        watching_files,
    }
}

/// A watcher on the directories of `paths` that sends each relevant changed path to `tx`.
fn watch_files(
    paths: &WatchPaths,
    tx: mpsc::Sender<PathBuf>,
) -> Result<notify::RecommendedWatcher, notify::Error> {
    let filter = Filter::new(paths)?;
    let mut watcher = notify::recommended_watcher({
        let filter = filter.clone();
        move |event: notify::Result<notify::Event>| match event {
            Ok(event) if is_change(event.kind) => {
                for path in event.paths.into_iter().filter(|p| filter.is_relevant(p)) {
                    // Full: a reload is already pending (see EVENT_BUFFER). Closed: shutting down.
                    let _ = tx.try_send(path);
                }
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "file watcher error"),
        }
    })?;
    for dir in filter.dirs() {
        watcher.watch(dir, RecursiveMode::NonRecursive)?;
        tracing::debug!(dir = %dir.display(), "watching for configuration changes");
    }
    Ok(watcher)
}

async fn recv_hangup(hangup: &mut Option<tokio::signal::unix::Signal>) -> Option<()> {
    match hangup {
        Some(signal) => signal.recv().await,
        None => std::future::pending().await,
    }
}

/// File-system changes that can change what a build reads. Opens and reads (`Access`)
/// cannot.
fn is_change(kind: EventKind) -> bool {
    matches!(
        kind,
        EventKind::Create(_) | EventKind::Modify(_) | EventKind::Remove(_) | EventKind::Any
    )
}

/// Which paths matter. Directories are canonicalised so event paths (which the watcher
/// reports under the directory it was given) compare equal however the config named them.
#[derive(Debug, Clone)]
struct Filter {
    mappings_dir: PathBuf,
    /// (directory, file name) of the config file.
    config: Option<(PathBuf, std::ffi::OsString)>,
    /// The sources directory, when it exists.
    sources_dir: Option<PathBuf>,
}

impl Filter {
    fn new(paths: &WatchPaths) -> Result<Self, notify::Error> {
        let mappings_dir = canonical(&paths.mappings_dir)?;
        let config = match &paths.config_file {
            Some(file) => {
                let name = file.file_name().ok_or_else(|| {
                    notify::Error::generic(&format!("{}: not a file path", file.display()))
                })?;
                let dir = match file.parent() {
                    Some(p) if !p.as_os_str().is_empty() => p,
                    _ => Path::new("."),
                };
                Some((canonical(dir)?, name.to_owned()))
            }
            None => None,
        };
        // A sources directory made after start is not watched until a restart (a reload
        // still reads it); the API and `sources add` create it before writing.
        let sources_dir = match &paths.sources_dir {
            Some(dir) => match canonical(dir) {
                Ok(dir) => Some(dir),
                Err(e) => {
                    tracing::debug!(dir = %dir.display(), error = %e, "sources_dir not watched");
                    None
                }
            },
            None => None,
        };
        Ok(Filter {
            mappings_dir,
            config,
            sources_dir,
        })
    }

    fn dirs(&self) -> Vec<&Path> {
        let mut dirs = vec![self.mappings_dir.as_path()];
        if let Some((dir, _)) = &self.config {
            if *dir != self.mappings_dir {
                dirs.push(dir);
            }
        }
        if let Some(dir) = &self.sources_dir {
            if !dirs.contains(&dir.as_path()) {
                dirs.push(dir);
            }
        }
        dirs
    }

    fn is_relevant(&self, path: &Path) -> bool {
        let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
            return false;
        };
        if let Some((config_dir, config_name)) = &self.config {
            if dir == config_dir && name == config_name {
                return true;
            }
        }
        if dir != self.mappings_dir && self.sources_dir.as_deref() != Some(dir) {
            return false;
        }
        let Some(name) = name.to_str() else {
            return false;
        };
        // A Kubernetes ConfigMap volume swaps a `..data` symlink; the files are links
        // through it and see no event of their own.
        if name == "..data" {
            return true;
        }
        is_mapping_file_name(name)
    }
}

/// `*.yaml`/`*.yml`, not an editor's temporary or backup file (`.x.yaml.swp`,
/// `x.yaml~`, `#x.yaml#`, `.#x.yaml`, hidden files).
fn is_mapping_file_name(name: &str) -> bool {
    !name.starts_with('.')
        && !name.starts_with('#')
        && (name.ends_with(".yaml") || name.ends_with(".yml"))
}

fn canonical(path: &Path) -> Result<PathBuf, notify::Error> {
    std::fs::canonicalize(path).map_err(|e| notify::Error::io(e).add_path(path.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `debounce` in a loop and returns when (since start) each burst ended and how
    /// many events it held.
    fn spawn_debouncer(
        mut rx: mpsc::Receiver<u32>,
        window: Duration,
        max_delay: Duration,
    ) -> JoinHandle<Vec<(Duration, usize)>> {
        let start = Instant::now();
        tokio::spawn(async move {
            let mut out = Vec::new();
            while let Some(n) = debounce(&mut rx, window, max_delay).await {
                out.push((start.elapsed(), n));
            }
            out
        })
    }

    const WINDOW: Duration = Duration::from_millis(200);
    const MAX: Duration = Duration::from_secs(1);

    /// Lets the debouncer task run to its next await, so timers it arms start now.
    async fn settle() {
        for _ in 0..8 {
            tokio::task::yield_now().await;
        }
    }

    /// Moves the paused clock forward 10 ms at a time, letting the debouncer run at each.
    async fn step(by: Duration) {
        let tick = Duration::from_millis(10);
        let mut left = by;
        while left > Duration::ZERO {
            let d = left.min(tick);
            tokio::time::advance(d).await;
            settle().await;
            left -= d;
        }
    }

    async fn send_every(tx: &mpsc::Sender<u32>, count: u32, every: Duration) {
        for i in 0..count {
            tx.send(i).await.expect("debouncer alive");
            settle().await;
            step(every).await;
        }
    }

    #[tokio::test(start_paused = true)]
    async fn burst_becomes_one_trigger_after_quiet_window() {
        let (tx, rx) = mpsc::channel(16);
        let task = spawn_debouncer(rx, WINDOW, MAX);
        // Five events 10 ms apart: one trigger, 200 ms after the last (at 40 ms).
        send_every(&tx, 5, Duration::from_millis(10)).await;
        step(Duration::from_secs(1)).await;
        drop(tx);
        let out = task.await.expect("debouncer task");
        assert_eq!(out, vec![(Duration::from_millis(240), 5)]);
    }

    #[tokio::test(start_paused = true)]
    async fn separate_bursts_give_separate_triggers() {
        let (tx, rx) = mpsc::channel(16);
        let task = spawn_debouncer(rx, WINDOW, MAX);
        // Events at 0 and 10 ms, then at 520, 530 and 540 ms.
        send_every(&tx, 2, Duration::from_millis(10)).await;
        step(Duration::from_millis(500)).await;
        send_every(&tx, 3, Duration::from_millis(10)).await;
        step(Duration::from_secs(1)).await;
        drop(tx);
        let out = task.await.expect("debouncer task");
        assert_eq!(
            out,
            vec![
                (Duration::from_millis(210), 2),
                (Duration::from_millis(740), 3)
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn continuous_storm_still_triggers_every_max_delay() {
        let (tx, rx) = mpsc::channel(16);
        let task = spawn_debouncer(rx, WINDOW, MAX);
        // An event every 100 ms for 3 s never leaves 200 ms of quiet.
        send_every(&tx, 30, Duration::from_millis(100)).await;
        step(Duration::from_secs(1)).await;
        drop(tx);
        let out = task.await.expect("debouncer task");
        let times: Vec<Duration> = out.iter().map(|(t, _)| *t).collect();
        assert_eq!(
            times,
            vec![
                Duration::from_secs(1),
                Duration::from_secs(2),
                Duration::from_secs(3)
            ],
            "{out:?}"
        );
        assert_eq!(
            out.iter().map(|(_, n)| *n).collect::<Vec<_>>(),
            vec![10, 10, 10]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn closed_channel_flushes_pending_burst_then_ends() {
        let (tx, mut rx) = mpsc::channel(16);
        tx.send(1u32).await.expect("open");
        tx.send(2).await.expect("open");
        drop(tx);
        assert_eq!(debounce(&mut rx, WINDOW, MAX).await, Some(2));
        assert_eq!(debounce(&mut rx, WINDOW, MAX).await, None);
    }

    #[test]
    fn filter_keeps_mapping_files_and_config_and_drops_editor_files() {
        let root = tempfile::tempdir().expect("tempdir");
        let mappings = root.path().join("mappings");
        std::fs::create_dir(&mappings).expect("mkdir");
        let filter = Filter::new(&WatchPaths {
            config_file: Some(root.path().join("alertgate.yaml")),
            mappings_dir: mappings.clone(),
            sources_dir: Some(root.path().join("sources.d")),
        })
        .expect("filter");
        let m = canonical(&mappings).expect("canonical");
        let r = canonical(root.path()).expect("canonical");
        for keep in ["statuscake.yaml", "x.yml", "..data"] {
            assert!(filter.is_relevant(&m.join(keep)), "{keep}");
        }
        for drop in [
            ".statuscake.yaml.swp",
            "statuscake.yaml~",
            "statuscake.yaml.swp",
            "#statuscake.yaml#",
            ".#statuscake.yaml",
            "4913",
            "notes.txt",
        ] {
            assert!(!filter.is_relevant(&m.join(drop)), "{drop}");
        }
        assert!(filter.is_relevant(&r.join("alertgate.yaml")));
        assert!(!filter.is_relevant(&r.join("other.yaml")));
        assert!(!filter.is_relevant(&r.join(".alertgate.yaml.swp")));
        assert_eq!(
            filter.dirs().len(),
            2,
            "a missing sources_dir is not watched"
        );
        std::fs::create_dir(root.path().join("sources.d")).expect("mkdir");
        let filter = Filter::new(&WatchPaths {
            config_file: Some(root.path().join("alertgate.yaml")),
            mappings_dir: mappings.clone(),
            sources_dir: Some(root.path().join("sources.d")),
        })
        .expect("filter");
        assert_eq!(filter.dirs().len(), 3);
        let s = r.join("sources.d");
        assert!(filter.is_relevant(&s.join("grafana.yaml")));
        assert!(!filter.is_relevant(&s.join(".grafana.yaml.123.tmp")));
    }
}
