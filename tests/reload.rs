//! Hot reload end to end: a real server on 127.0.0.1:0 over a temporary config and
//! mappings directory, the memory store, file edits on disk, `/-/reload`, `/-/config` and
//! `/metrics`. Every wait is a bounded poll.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use alertgate::app;
use alertgate::config::{self, Overrides};
use alertgate::metrics::Metrics;
use alertgate::reload::Watchers;
use alertgate::server::{self, AppState};
use alertgate::store::{MemorySettings, MemoryStore, Store};
use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use tokio::time::Instant;

const TOKEN: &str = "demo-token";
const ADMIN: &str = "admin-token";
/// How long a change on disk may take to show (debounce 200 ms, storms 1 s, plus slack).
const APPLIES_WITHIN: Duration = Duration::from_secs(2);

fn mapping(integration: &str, down: &str) -> String {
    format!(
        "integration: {integration}\n\
         decode: json\n\
         rules:\n\
         \x20 - name: state\n\
         \x20   action:\n\
         \x20     from: state\n\
         \x20     map: {{ down: {down}, up: resolve }}\n\
         \x20   fingerprint: \"{{{{ name }}}}\"\n\
         \x20   priority: high\n"
    )
}

fn config_text(sources: &[&str]) -> String {
    let mut text = String::from("listen: 127.0.0.1:0\nmappings_dir: mappings\nsources:\n");
    for s in sources {
        let _ = write!(
            text,
            "  {s}:\n    integration: {s}\n    tokens: [\"{TOKEN}\"]\n"
        );
    }
    let _ = writeln!(text, "admin_token: \"{ADMIN}\"");
    text
}

/// Writes like an editor: a hidden temporary file renamed over the target, so no reader
/// ever sees half a file.
fn write_atomic(path: &Path, text: &str) {
    let tmp = path.with_file_name(format!(
        ".{}.tmp",
        path.file_name()
            .and_then(|n| n.to_str())
            .expect("file name")
    ));
    std::fs::write(&tmp, text).expect("write temp file");
    std::fs::rename(&tmp, path).expect("rename into place");
}

struct Gateway {
    addr: SocketAddr,
    dir: tempfile::TempDir,
    client: Client<HttpConnector, Full<Bytes>>,
    stop: tokio::sync::watch::Sender<()>,
    server: tokio::task::JoinHandle<()>,
    triggers: Watchers,
}

impl Gateway {
    /// The gateway `serve` runs, over a `demo` source whose `down` maps to `open`.
    async fn start() -> Gateway {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("mappings")).expect("mkdir");
        std::fs::create_dir(dir.path().join("sources.d")).expect("mkdir");
        std::fs::write(
            dir.path().join("mappings/demo.yaml"),
            mapping("demo", "open"),
        )
        .expect("write mapping");
        let config = dir.path().join("alertgate.yaml");
        std::fs::write(&config, config_text(&["demo"])).expect("write config");

        let snapshot = config::build_snapshot(&config, &Overrides::default()).expect("valid");
        let reloader = app::reloader(&config, Overrides::default(), snapshot, Metrics::new());
        let (stop, stopped) = tokio::sync::watch::channel(());
        let until = |mut rx: tokio::sync::watch::Receiver<()>| async move {
            let _ = rx.changed().await;
        };
        let triggers = app::spawn_reload_triggers(&reloader, &config, until(stopped.clone()));
        assert!(triggers.watching_files());
        let state = AppState::with_reloader(
            reloader,
            Store::Memory(MemoryStore::new(MemorySettings {
                event_stream_len: 1000,
                ..MemorySettings::default()
            })),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let server = tokio::spawn(async move {
            server::run(listener, state, until(stopped))
                .await
                .expect("server runs");
        });
        Gateway {
            addr,
            dir,
            client: Client::builder(TokioExecutor::new()).build_http(),
            stop,
            server,
            triggers,
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        admin: bool,
        body: &str,
    ) -> Result<(StatusCode, String), String> {
        let mut builder = Request::builder()
            .method(method)
            .uri(format!("http://{}{path}", self.addr))
            .header("content-type", "application/json");
        if admin {
            builder = builder.header("authorization", format!("Bearer {ADMIN}"));
        }
        let request = builder
            .body(Full::new(Bytes::from(body.to_owned())))
            .map_err(|e| e.to_string())?;
        let response = tokio::time::timeout(Duration::from_secs(5), self.client.request(request))
            .await
            .map_err(|_| "timed out".to_owned())?
            .map_err(|e| e.to_string())?;
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        Ok((status, String::from_utf8_lossy(&bytes).into_owned()))
    }

    /// `send` with no body, which must be answered.
    async fn call(&self, method: Method, path: &str, admin: bool) -> (StatusCode, String) {
        self.send(method.clone(), path, admin, "")
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: no answer: {e}"))
    }

    /// Waits for `/-/config` to show a failed reload; its error lines.
    async fn failed_reload_errors(&self) -> Vec<String> {
        assert!(
            eventually(APPLIES_WITHIN, || async {
                !self.config_status().await["last_error"].is_null()
            })
            .await,
            "failed reload not visible at /-/config"
        );
        let status = self.config_status().await;
        serde_json::from_value(status["last_error"].clone()).expect("list")
    }

    /// Posts a `down` webhook to `source`; returns the status and the body's `action`.
    async fn down(&self, source: &str, name: &str) -> (StatusCode, Option<String>) {
        let body = format!(r#"{{"state":"down","name":"{name}"}}"#);
        let path = format!("/hooks/{source}?token={TOKEN}");
        let (status, text) = self
            .send(Method::POST, &path, false, &body)
            .await
            .expect("webhook answered");
        let action = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v["action"].as_str().map(str::to_owned));
        (status, action)
    }

    async fn config_status(&self) -> serde_json::Value {
        let (status, text) = self.call(Method::GET, "/-/config", true).await;
        assert_eq!(status, StatusCode::OK, "{text}");
        serde_json::from_str(&text).expect("config JSON")
    }

    async fn metrics(&self) -> String {
        let (status, text) = self.call(Method::GET, "/metrics", false).await;
        assert_eq!(status, StatusCode::OK);
        text
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(5), async {
            let _ = self.server.await;
            self.triggers.join().await;
        })
        .await
        .expect("gateway stops");
    }
}

/// Polls `check` every 25 ms until it holds or `within` passes; returns whether it held.
async fn eventually<F, Fut>(within: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    loop {
        if check().await {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The value of one sample line (`name{labels}`) of the metrics text.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn table_change_on_disk_applies_to_the_next_webhook() {
    let gw = Gateway::start().await;
    assert_eq!(
        gw.down("demo", "a").await,
        (StatusCode::ACCEPTED, Some("open".into()))
    );
    // A plain in-place write, as `echo > file` does.
    std::fs::write(gw.path("mappings/demo.yaml"), mapping("demo", "ignore")).expect("write");
    let started = Instant::now();
    assert!(
        eventually(APPLIES_WITHIN, || async {
            gw.down("demo", "a").await.1.as_deref() == Some("ignore")
        })
        .await,
        "new table not applied within {APPLIES_WITHIN:?}"
    );
    println!("table change applied after {:?}", started.elapsed());
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_source_file_dropped_into_sources_dir_serves_without_restart() {
    let gw = Gateway::start().await;
    assert_eq!(gw.down("late", "a").await.0, StatusCode::NOT_FOUND);
    write_atomic(
        &gw.path("sources.d/late.yaml"),
        &format!("id: late\nintegration: demo\ntokens: [\"{TOKEN}\"]\n"),
    );
    let started = Instant::now();
    assert!(
        eventually(APPLIES_WITHIN, || async {
            gw.down("late", "a").await.0 == StatusCode::ACCEPTED
        })
        .await,
        "new source file not served within {APPLIES_WITHIN:?}"
    );
    println!("source file applied after {:?}", started.elapsed());
    // A second file with the same id fails the reload and names both files; the first
    // keeps serving.
    write_atomic(
        &gw.path("sources.d/copy.yaml"),
        &format!("id: late\nintegration: demo\ntokens: [\"{TOKEN}\"]\n"),
    );
    assert!(
        eventually(APPLIES_WITHIN, || async {
            let status = gw.config_status().await;
            status["last_error"]
                .to_string()
                .contains("duplicate source id")
        })
        .await,
        "duplicate id not reported"
    );
    let errors = gw.config_status().await["last_error"].to_string();
    assert!(
        errors.contains("copy.yaml") && errors.contains("late.yaml"),
        "{errors}"
    );
    assert_eq!(gw.down("late", "b").await.0, StatusCode::ACCEPTED);
    std::fs::remove_file(gw.path("sources.d/copy.yaml")).expect("rm");
    std::fs::remove_file(gw.path("sources.d/late.yaml")).expect("rm");
    assert!(
        eventually(APPLIES_WITHIN, || async {
            gw.down("late", "c").await.0 == StatusCode::NOT_FOUND
        })
        .await,
        "removed source file still served"
    );
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn invalid_yaml_keeps_old_table_shows_the_error_and_fixing_it_recovers() {
    let gw = Gateway::start().await;
    let file = gw.path("mappings/demo.yaml");
    write_atomic(&file, "integration: demo\nrules: [\n  - name: x\n");
    let errors = gw.failed_reload_errors().await;
    assert!(
        errors.iter().any(|e| e.contains("demo.yaml:")),
        "error names the file and line: {errors:?}"
    );
    assert_eq!(
        gw.down("demo", "a").await,
        (StatusCode::ACCEPTED, Some("open".into()))
    );
    let metrics = gw.metrics().await;
    assert_eq!(
        sample(&metrics, "alertgate_config_last_reload_successful"),
        Some(0.0)
    );
    assert!(
        sample(
            &metrics,
            "alertgate_config_reloads_total{result=\"failure\"}"
        ) >= Some(1.0)
    );

    write_atomic(&file, &mapping("demo", "ignore"));
    assert!(
        eventually(APPLIES_WITHIN, || async {
            gw.down("demo", "a").await.1.as_deref() == Some("ignore")
        })
        .await,
        "fixed file not applied"
    );
    assert!(gw.config_status().await["last_error"].is_null());
    let metrics = gw.metrics().await;
    assert_eq!(
        sample(&metrics, "alertgate_config_last_reload_successful"),
        Some(1.0)
    );
    gw.stop().await;
}

/// A `when:` nested 20,000 parentheses deep, as an admin might save by mistake: the
/// recursive JMESPath parser would overflow the stack and abort the process.
fn deeply_nested_mapping() -> String {
    let when = format!("{}state{}", "(".repeat(20_000), ")".repeat(20_000));
    mapping("demo", "open").replace(
        "  - name: state\n",
        &format!("  - name: state\n    when: \"{when} == 'down'\"\n"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_deeply_nested_expression_is_refused_and_the_gateway_keeps_serving() {
    let gw = Gateway::start().await;
    let file = gw.path("mappings/demo.yaml");
    write_atomic(&file, &deeply_nested_mapping());
    let errors = gw.failed_reload_errors().await;
    assert!(
        errors
            .iter()
            .any(|e| e.contains("demo.yaml:") && e.contains("expression longer than 4096 bytes")),
        "the error names the file and the limit: {errors:?}"
    );
    // Still up, on the old mappings.
    assert_eq!(
        gw.down("demo", "a").await,
        (StatusCode::ACCEPTED, Some("open".into()))
    );
    let metrics = gw.metrics().await;
    assert_eq!(
        sample(&metrics, "alertgate_config_last_reload_successful"),
        Some(0.0)
    );
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn new_mapping_and_source_start_routing_and_a_deleted_source_is_404() {
    let gw = Gateway::start().await;
    assert_eq!(gw.down("other", "a").await.0, StatusCode::NOT_FOUND);
    // The mapping first, then the source that needs it (one debounced burst either way).
    write_atomic(&gw.path("mappings/other.yaml"), &mapping("other", "open"));
    write_atomic(&gw.path("alertgate.yaml"), &config_text(&["demo", "other"]));
    assert!(
        eventually(APPLIES_WITHIN, || async {
            gw.down("other", "a").await == (StatusCode::ACCEPTED, Some("open".into()))
        })
        .await,
        "new source not routed"
    );
    write_atomic(&gw.path("alertgate.yaml"), &config_text(&["other"]));
    assert!(
        eventually(APPLIES_WITHIN, || async {
            gw.down("demo", "a").await.0 == StatusCode::NOT_FOUND
        })
        .await,
        "deleted source still routed"
    );
    assert_eq!(gw.down("other", "b").await.0, StatusCode::ACCEPTED);
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn post_reload_returns_the_summary_or_every_error() {
    let gw = Gateway::start().await;
    let (status, _) = gw.call(Method::POST, "/-/reload", false).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = gw.call(Method::GET, "/-/reload", true).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);

    let (status, text) = gw.call(Method::POST, "/-/reload", true).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let summary: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(summary["trigger"], "api");
    assert_eq!(summary["changed"], false);
    assert_eq!(summary["version"], summary["old_version"]);
    assert_eq!(summary["restart_needed"], serde_json::json!([]));

    // Two broken files: both reported, each with its place.
    write_atomic(
        &gw.path("mappings/demo.yaml"),
        "integration: demo\nrules: 7\n",
    );
    write_atomic(&gw.path("mappings/bad.yaml"), "integration: [\n");
    let (status, text) = gw.call(Method::POST, "/-/reload", true).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{text}");
    let body: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(body["error"]["code"], "config_invalid");
    let errors: Vec<String> =
        serde_json::from_value(body["error"]["errors"].clone()).expect("list");
    assert!(
        errors.iter().any(|e| e.contains("demo.yaml:2:")),
        "{errors:?}"
    );
    assert!(errors.iter().any(|e| e.contains("bad.yaml:")), "{errors:?}");
    assert_eq!(
        body["error"]["version"], summary["version"],
        "old version serving"
    );
    assert_eq!(
        gw.down("demo", "a").await,
        (StatusCode::ACCEPTED, Some("open".into()))
    );
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn get_config_needs_the_admin_token_and_shows_the_version() {
    let gw = Gateway::start().await;
    let (status, _) = gw.call(Method::GET, "/-/config", false).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let status = gw.config_status().await;
    assert_eq!(status["version"].as_str().map(str::len), Some(64));
    assert!(status["loaded_at"]
        .as_str()
        .is_some_and(|t| t.ends_with('Z')));
    assert!(status["last_error"].is_null());
    let (code, text) = gw.call(Method::GET, "/metrics", false).await;
    assert_eq!(code, StatusCode::OK);
    assert!(text.contains("alertgate_webhooks_total") || text.contains("# TYPE"));
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reload_storm_under_load_fails_no_request() {
    const WRITES: usize = 50;
    const WORKERS: usize = 4;
    const MAX_REQUESTS_PER_WORKER: u64 = 50_000;
    let gw = Arc::new(Gateway::start().await);
    let sent = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let deadline = Instant::now() + Duration::from_secs(30);

    let mut workers = Vec::new();
    for w in 0..WORKERS {
        let (gw, sent, failed, stop) = (gw.clone(), sent.clone(), failed.clone(), stop.clone());
        workers.push(tokio::spawn(async move {
            for i in 0..MAX_REQUESTS_PER_WORKER {
                if stop.load(Ordering::Relaxed) || Instant::now() > deadline {
                    break;
                }
                let body = format!(r#"{{"state":"down","name":"w{w}-{}"}}"#, i % 16);
                let result = gw
                    .send(
                        Method::POST,
                        &format!("/hooks/demo?token={TOKEN}"),
                        false,
                        &body,
                    )
                    .await;
                sent.fetch_add(1, Ordering::Relaxed);
                match result {
                    Ok((StatusCode::ACCEPTED, _)) => {}
                    other => {
                        failed.fetch_add(1, Ordering::Relaxed);
                        eprintln!("failed request: {other:?}");
                    }
                }
            }
        }));
    }

    // 50 writes, 30 ms apart, alternating the two tables; the last (index 49) is `ignore`.
    // The watcher reloads at least once a second through the storm; every 5th write also
    // asks `POST /-/reload`, so swaps come from two triggers at once.
    let file = gw.path("mappings/demo.yaml");
    let before = gw.metrics().await;
    let started = Instant::now();
    for i in 0..WRITES {
        let down = if i % 2 == 0 { "open" } else { "ignore" };
        write_atomic(&file, &mapping("demo", down));
        if i % 5 == 4 {
            let (status, text) = gw.call(Method::POST, "/-/reload", true).await;
            assert_eq!(status, StatusCode::OK, "{text}");
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    let storm = started.elapsed();
    let settled = eventually(APPLIES_WITHIN, || async {
        gw.down("demo", "probe").await.1.as_deref() == Some("ignore")
    })
    .await;
    // Keep the load on a little longer, across any reload still in flight.
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.await.expect("worker");
    }
    let after = gw.metrics().await;
    let reloads = |text: &str, result: &str| {
        sample(
            text,
            &format!("alertgate_config_reloads_total{{result=\"{result}\"}}"),
        )
        .unwrap_or(0.0)
    };
    let (sent, failed) = (sent.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    println!(
        "reload storm: {WRITES} writes in {storm:?}; {sent} requests sent by {WORKERS} workers, \
         {failed} failed; reloads applied {}, failed {}",
        reloads(&after, "success") - reloads(&before, "success"),
        reloads(&after, "failure") - reloads(&before, "failure"),
    );
    assert!(settled, "final table not applied within {APPLIES_WITHIN:?}");
    assert_eq!(failed, 0, "requests failed during the storm");
    assert!(sent > 0);
    assert!(reloads(&after, "success") > reloads(&before, "success"));
    // The last file content decides, for every later request too.
    for i in 0..5 {
        assert_eq!(
            gw.down("demo", &format!("final-{i}")).await,
            (StatusCode::ACCEPTED, Some("ignore".into()))
        );
    }
    let Ok(gw) = Arc::try_unwrap(gw) else {
        panic!("workers still hold the gateway")
    };
    gw.stop().await;
}
