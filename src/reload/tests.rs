//! Reloader tests over a fake configuration built from a temporary directory.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::metrics::Metrics;
use crate::metrics::ReloadResult;
use crate::yaml::CompileError;

/// A stand-in for the server's snapshot: `listen` is restart-only; `table` is the
/// content requests would see.
#[derive(Debug)]
struct Fake {
    listen: String,
    table: String,
}

impl Versioned for Fake {
    fn version(&self) -> String {
        format!("{}|{}", self.listen, self.table)
    }

    fn restart_needed(&self, newer: &Self) -> Vec<String> {
        if self.listen == newer.listen {
            Vec::new()
        } else {
            vec!["listen".to_owned()]
        }
    }
}

/// Reads `listen` and `table.yaml`; a line `invalid` in the table is an error at that line.
fn build_fake(dir: &Path) -> Result<Fake, Vec<CompileError>> {
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap_or_default();
    let table_file = dir.join("table.yaml");
    let table = read("table.yaml");
    let errors: Vec<CompileError> = table
        .lines()
        .enumerate()
        .filter(|(_, l)| l.trim() == "invalid")
        .map(|(i, _)| CompileError {
            kind: crate::yaml::ErrorKind::Invalid,
            file: table_file.clone(),
            line: Some(i + 1),
            column: Some(1),
            path: "table".to_owned(),
            message: "not a table entry".to_owned(),
        })
        .collect();
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Fake {
        listen: read("listen").trim().to_owned(),
        table: table.trim().to_owned(),
    })
}

struct Fixture {
    dir: tempfile::TempDir,
    reloader: Reloader<Fake>,
}

impl Fixture {
    async fn new(table: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), "listen", "127.0.0.1:8080");
        write(dir.path(), "table.yaml", table);
        let path = dir.path().to_owned();
        let build: BuildFn<Fake> = Arc::new(move || build_fake(&path));
        let reloader = Reloader::load(build, Metrics::new())
            .await
            .expect("initial build");
        Fixture { dir, reloader }
    }

    fn write(&self, name: &str, text: &str) {
        write(self.dir.path(), name, text);
    }

    fn table(&self) -> String {
        self.reloader.load_current().table.clone()
    }
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).expect("write fixture");
}

#[tokio::test]
async fn success_swaps_and_reports_versions() {
    let f = Fixture::new("down: open").await;
    let before = f.reloader.load_current();
    f.write("table.yaml", "down: resolve");
    let summary = f.reloader.reload(Trigger::Api).await.expect("valid");
    assert_eq!(summary.old_version, "127.0.0.1:8080|down: open");
    assert_eq!(summary.version, "127.0.0.1:8080|down: resolve");
    assert!(summary.changed);
    assert!(summary.restart_needed.is_empty());
    assert_eq!(f.table(), "down: resolve");
    // A request that loaded the old snapshot still holds it, unchanged.
    assert_eq!(before.table, "down: open");
    assert_eq!(f.reloader.metrics().reloads(ReloadResult::Success), 2);
    let status = f.reloader.status();
    assert_eq!(status.version, summary.version);
    assert_eq!(status.last_error, None);
    assert_eq!(status.last_trigger, Some(Trigger::Api));
}

#[tokio::test]
async fn unchanged_files_reload_as_unchanged() {
    let f = Fixture::new("down: open").await;
    let summary = f.reloader.reload(Trigger::Signal).await.expect("valid");
    assert!(!summary.changed);
    assert_eq!(summary.version, summary.old_version);
}

#[tokio::test]
async fn failure_keeps_old_records_every_error_and_sets_metric_to_zero() {
    let f = Fixture::new("down: open").await;
    f.write("table.yaml", "down: resolve\ninvalid\nup: open\ninvalid");
    let failure = f
        .reloader
        .reload(Trigger::Watch)
        .await
        .expect_err("invalid");
    assert_eq!(failure.kind, FailureKind::Invalid);
    let file = f.dir.path().join("table.yaml");
    assert_eq!(
        failure.errors,
        vec![
            format!("{}:2:1: table: not a table entry", file.display()),
            format!("{}:4:1: table: not a table entry", file.display()),
        ]
    );
    assert_eq!(failure.version, "127.0.0.1:8080|down: open");
    assert_eq!(f.table(), "down: open", "old configuration keeps serving");

    let status = f.reloader.status();
    assert_eq!(status.last_error.as_ref(), Some(&failure.errors));
    assert_eq!(status.version, "127.0.0.1:8080|down: open");
    assert!(status.last_reload_at.is_some());

    let metrics = f.reloader.metrics();
    assert!(!metrics.last_reload_successful());
    assert_eq!(metrics.reloads(ReloadResult::Failure), 1);
    assert!(metrics
        .encode()
        .contains("alertgate_config_last_reload_successful 0\n"));
}

#[tokio::test]
async fn fixing_the_files_recovers() {
    let f = Fixture::new("down: open").await;
    f.write("table.yaml", "invalid");
    f.reloader
        .reload(Trigger::Watch)
        .await
        .expect_err("invalid");
    f.write("table.yaml", "down: ignore");
    let summary = f.reloader.reload(Trigger::Watch).await.expect("fixed");
    assert_eq!(summary.old_version, "127.0.0.1:8080|down: open");
    assert_eq!(f.table(), "down: ignore");
    assert_eq!(f.reloader.status().last_error, None);
    assert!(f.reloader.metrics().last_reload_successful());
}

#[tokio::test]
async fn restart_only_setting_is_reported_until_put_back() {
    let f = Fixture::new("down: open").await;
    f.write("listen", "0.0.0.0:9090");
    let summary = f.reloader.reload(Trigger::Api).await.expect("valid");
    assert_eq!(summary.restart_needed, vec!["listen".to_owned()]);
    // Still needed after an unrelated reload: the process still listens on the old one.
    f.write("table.yaml", "down: resolve");
    let summary = f.reloader.reload(Trigger::Api).await.expect("valid");
    assert_eq!(summary.restart_needed, vec!["listen".to_owned()]);
    assert_eq!(
        f.reloader.status().restart_needed,
        vec!["listen".to_owned()]
    );
    f.write("listen", "127.0.0.1:8080");
    let summary = f.reloader.reload(Trigger::Api).await.expect("valid");
    assert!(summary.restart_needed.is_empty());
}

#[tokio::test]
async fn startup_failure_returns_every_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "table.yaml", "invalid");
    let path = dir.path().to_owned();
    let metrics = Metrics::new();
    let result = Reloader::load(Arc::new(move || build_fake(&path)), metrics.clone()).await;
    let failure = result.err().expect("invalid at startup");
    assert_eq!(failure.trigger, Trigger::Startup);
    assert_eq!(failure.errors.len(), 1);
    assert!(!metrics.last_reload_successful());
}

#[tokio::test]
async fn panicking_build_is_an_internal_failure_and_keeps_old() {
    let initial = Fake {
        listen: "127.0.0.1:8080".to_owned(),
        table: "down: open".to_owned(),
    };
    let reloader = Reloader::new(initial, Arc::new(|| panic!("bug in build")), Metrics::new());
    let failure = reloader.reload(Trigger::Api).await.expect_err("panics");
    assert_eq!(failure.kind, FailureKind::Internal);
    assert_eq!(reloader.load_current().table, "down: open");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_reloads_run_one_at_a_time_and_the_last_write_wins() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "table.yaml", "v0");
    let path: PathBuf = dir.path().to_owned();
    let running = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let build: BuildFn<Fake> = {
        let (running, most) = (Arc::clone(&running), Arc::clone(&most));
        Arc::new(move || {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(now, Ordering::SeqCst);
            let built = build_fake(&path);
            // Slow builds: without serialisation an early build would finish last.
            std::thread::sleep(Duration::from_millis(15));
            running.fetch_sub(1, Ordering::SeqCst);
            built
        })
    };
    let reloader = Reloader::load(build, Metrics::new()).await.expect("v0");
    let mut tasks = Vec::new();
    for i in 1..=10 {
        write(dir.path(), "table.yaml", &format!("v{i}"));
        let r = reloader.clone();
        tasks.push(tokio::spawn(async move { r.reload(Trigger::Api).await }));
    }
    for t in tasks {
        t.await.expect("join").expect("valid");
    }
    assert_eq!(most.load(Ordering::SeqCst), 1, "builds overlapped");
    assert_eq!(reloader.load_current().table, "v10");
    assert_eq!(reloader.metrics().reloads(ReloadResult::Success), 11);
}

/// Polls `cond` every 20 ms for up to `within`; real file events need real time.
async fn eventually(within: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    while tokio::time::Instant::now() < deadline {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cond()
}

#[tokio::test]
async fn watcher_reloads_when_an_editor_renames_a_file_into_place() {
    let f = Fixture::new("down: open").await;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let watchers = spawn_watchers_with(
        f.reloader.clone(),
        WatchPaths {
            config_file: Some(f.dir.path().join("listen")),
            mappings_dir: f.dir.path().to_owned(),
            sources_dir: None,
        },
        WatchOptions {
            sighup: false,
            ..WatchOptions::default()
        },
        async move {
            let _ = stopped.await;
        },
    );
    assert!(watchers.watching_files());

    // What vim and most editors do: write a hidden temporary file, rename it over.
    f.write(".table.yaml.swp", "down: resolve");
    std::fs::rename(
        f.dir.path().join(".table.yaml.swp"),
        f.dir.path().join("table.yaml"),
    )
    .expect("rename");
    assert!(
        eventually(Duration::from_secs(3), || f.table() == "down: resolve").await,
        "rename into place was not picked up"
    );
    assert_eq!(f.reloader.status().last_trigger, Some(Trigger::Watch));

    // An irrelevant file changes nothing.
    let successes = f.reloader.metrics().reloads(ReloadResult::Success);
    f.write("notes.txt", "hello");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        f.reloader.metrics().reloads(ReloadResult::Success),
        successes
    );

    // The config file, watched through its directory.
    f.write("listen", "0.0.0.0:1");
    assert!(
        eventually(Duration::from_secs(3), || {
            f.reloader.load_current().listen == "0.0.0.0:1"
        })
        .await
    );
    stop.send(()).expect("watchers running");
    tokio::time::timeout(Duration::from_secs(2), watchers.join())
        .await
        .expect("watchers stop on shutdown");
}

#[tokio::test]
async fn sighup_reloads() {
    let f = Fixture::new("down: open").await;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let watchers = spawn_watchers_with(
        f.reloader.clone(),
        WatchPaths {
            config_file: None,
            mappings_dir: f.dir.path().to_owned(),
            sources_dir: None,
        },
        WatchOptions {
            window: Duration::from_secs(60),
            max_delay: Duration::from_secs(60),
            sighup: true,
        },
        async move {
            let _ = stopped.await;
        },
    );
    assert!(watchers.watching_files());
    // Only the signal can explain a reload: the table file is rewritten, and the watcher
    // is given a window so long that it cannot fire first.
    f.write("table.yaml", "down: ignore");
    let status = std::process::Command::new("kill")
        .args(["-HUP", &std::process::id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success());
    assert!(
        eventually(Duration::from_secs(3), || {
            f.reloader.status().last_trigger == Some(Trigger::Signal)
        })
        .await,
        "SIGHUP did not reload"
    );
    assert_eq!(f.table(), "down: ignore");
    stop.send(()).expect("watchers running");
    watchers.join().await;
}
