//! The built binary under test: `serve` on a free port with its own config dir, stderr
//! collected, stopped by signals; plus shutdown and logging tests against it.

use std::io::Read;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::harness::{config_dir, ADMIN_TOKEN, GENERIC_TOKEN, STATUSPAGE_TOKEN};

const BIN: &str = env!("CARGO_BIN_EXE_alertgate");

pub struct Served {
    child: Child,
    pub port: u16,
    stderr: Arc<Mutex<String>>,
    _dir: tempfile::TempDir,
}

impl Served {
    /// Starts `serve` on a config with `extra` appended; waits until `/-/ready` is 200.
    pub async fn start(extra: &str, env: &[(&str, &str)]) -> Served {
        let (dir, _) = config_dir("store:\n  backend: memory", extra);
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("bind")
            .local_addr()
            .expect("addr")
            .port();
        let mut command = Command::new(BIN);
        command
            .args(["serve", "--config"])
            .arg(dir.path().join("config.yaml"))
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .env("ALERTGATE_LOG", "info")
            .env_remove("ALERTGATE_LOG_FORMAT")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("spawn alertgate");
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut pipe = child.stderr.take().expect("stderr");
        let sink = Arc::clone(&stderr);
        std::thread::spawn(move || {
            let mut buf = [0_u8; 4096];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .expect("lock")
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let served = Served {
            child,
            port,
            stderr,
            _dir: dir,
        };
        for _ in 0..200 {
            if served.get("/-/ready").await.starts_with("HTTP/1.1 200") {
                return served;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("serve did not become ready: {}", served.stderr());
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().expect("lock").clone()
    }

    pub fn sigterm(&self) {
        let ok = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill")
            .success();
        assert!(ok, "kill -TERM");
    }

    /// Waits up to `within` for the process to exit.
    pub async fn exit_within(&mut self, within: Duration) -> ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                // Let the reader thread drain the pipe.
                tokio::time::sleep(Duration::from_millis(100)).await;
                return status;
            }
            if started.elapsed() > within {
                let _ = self.child.kill();
                panic!("still running after {within:?}: {}", self.stderr());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// One request on a fresh connection (closed after); the raw response text, or the
    /// I/O error's text.
    pub async fn raw(&self, request: &str) -> String {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)).await else {
            return "connect failed".to_owned();
        };
        if s.write_all(request.as_bytes()).await.is_err() {
            return "write failed".to_owned();
        }
        let mut buf = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(20), s.read_to_end(&mut buf)).await;
        String::from_utf8_lossy(&buf).into_owned()
    }

    pub async fn get(&self, path: &str) -> String {
        self.raw(&format!(
            "GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"
        ))
        .await
    }

    pub async fn webhook(&self, id: &str) -> String {
        let body = format!(r#"{{"state":"down","id":"{id}"}}"#);
        self.raw(&format!(
            "POST /hooks/generic?token={GENERIC_TOKEN} HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        ))
        .await
    }

    /// A webhook whose body is sent in two halves: the first now, the second when the
    /// returned sender fires. Resolves to the raw response.
    pub async fn slow_webhook(
        &self,
        id: &str,
    ) -> (
        tokio::sync::oneshot::Sender<()>,
        tokio::task::JoinHandle<String>,
    ) {
        let body = format!(r#"{{"state":"down","id":"{id}"}}"#);
        let (first, second) = body.split_at(body.len() / 2);
        let (first, second) = (first.to_owned(), second.to_owned());
        let mut s = TcpStream::connect(("127.0.0.1", self.port))
            .await
            .expect("connect");
        let head = format!(
            "POST /hooks/generic?token={GENERIC_TOKEN} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{first}",
            body.len()
        );
        s.write_all(head.as_bytes()).await.expect("write head");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = rx.await;
            let _ = s.write_all(second.as_bytes()).await;
            let mut buf = Vec::new();
            let _ = tokio::time::timeout(Duration::from_secs(20), s.read_to_end(&mut buf)).await;
            String::from_utf8_lossy(&buf).into_owned()
        });
        (tx, task)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[serial_test::serial(timing)]
async fn sigterm_lets_a_request_in_flight_finish_with_202_and_exits_0() {
    let mut served = Served::start("limits:\n  shutdown_grace: 20s", &[]).await;
    let (finish, response) = served.slow_webhook("in-flight").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    served.sigterm();
    tokio::time::sleep(Duration::from_millis(700)).await;
    finish.send(()).expect("finish");
    let response = response.await.expect("response");
    assert!(response.starts_with("HTTP/1.1 202"), "{response}");
    let status = served.exit_within(Duration::from_secs(15)).await;
    assert!(status.success(), "{status:?}: {}", served.stderr());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[serial_test::serial(timing)]
async fn ready_is_503_during_the_shutdown_delay_while_webhooks_still_get_202() {
    let mut served = Served::start("limits:\n  shutdown_delay: 3s", &[]).await;
    served.sigterm();
    let mut ready = String::new();
    for _ in 0..40 {
        ready = served.get("/-/ready").await;
        if ready.starts_with("HTTP/1.1 503") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        ready.starts_with("HTTP/1.1 503") && ready.contains("shutting_down"),
        "{ready}"
    );
    let hook = served.webhook("during-delay").await;
    assert!(hook.starts_with("HTTP/1.1 202"), "{hook}");
    let healthy = served.get("/-/healthy").await;
    assert!(healthy.starts_with("HTTP/1.1 200"), "{healthy}");
    let status = served.exit_within(Duration::from_secs(15)).await;
    assert!(status.success(), "{status:?}: {}", served.stderr());
}

/// Reads from `stream` into `seen` until it holds `needle` or the stream ends; true when
/// found. Gives up after 20 s.
async fn read_until(stream: &mut TcpStream, seen: &mut String, needle: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut buf = [0_u8; 4096];
    while !seen.contains(needle) {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => seen.push_str(&String::from_utf8_lossy(&buf[..n])),
            _ => return false,
        }
    }
    true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[serial_test::serial(timing)]
async fn the_event_stream_lives_through_the_shutdown_delay_and_ends_when_the_listener_closes() {
    // A grace far longer than the test allows: only the closing signal can end the stream.
    let mut served =
        Served::start("limits:\n  shutdown_delay: 2s\n  shutdown_grace: 120s", &[]).await;
    let mut stream = TcpStream::connect(("127.0.0.1", served.port))
        .await
        .expect("connect");
    let request = format!(
        "GET /v1/events HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {ADMIN_TOKEN}\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut seen = String::new();
    assert!(
        read_until(&mut stream, &mut seen, "\r\n\r\n").await,
        "no stream head: {seen}"
    );
    assert!(seen.starts_with("HTTP/1.1 200"), "{seen}");
    served.sigterm();
    let mut ready = String::new();
    for _ in 0..40 {
        ready = served.get("/-/ready").await;
        if ready.starts_with("HTTP/1.1 503") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ready.contains("shutting_down"), "{ready}");
    // During the delay the stream still carries events.
    let hook = served.webhook("during-delay-stream").await;
    assert!(hook.starts_with("HTTP/1.1 202"), "{hook}");
    assert!(
        read_until(&mut stream, &mut seen, "during-delay-stream").await,
        "no event during the delay: {seen}"
    );
    // Then the listener closes and the stream ends, so the process exits long before the
    // grace is over.
    assert!(
        !read_until(&mut stream, &mut seen, "never-sent").await,
        "stream still open"
    );
    let status = served.exit_within(Duration::from_secs(60)).await;
    assert!(status.success(), "{status:?}: {}", served.stderr());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[serial_test::serial(timing)]
async fn a_second_sigterm_exits_at_once() {
    let mut served = Served::start("limits:\n  shutdown_grace: 60s", &[]).await;
    // A request that never finishes holds the graceful shutdown for the whole grace.
    let (_never, _response) = served.slow_webhook("stuck").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    served.sigterm();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        served.child.try_wait().expect("try_wait").is_none(),
        "exited on the first signal"
    );
    served.sigterm();
    let status = served.exit_within(Duration::from_secs(10)).await;
    assert_eq!(status.code(), Some(2), "{}", served.stderr());
    assert!(
        served.stderr().contains("second signal"),
        "{}",
        served.stderr()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[serial_test::serial(timing)]
async fn a_flood_of_bad_requests_logs_a_handful_of_lines_and_never_a_token() {
    let mut served = Served::start("", &[]).await;
    let baseline = served.stderr().lines().count();
    // Malformed JSON with the right token, and a wrong token in the query: 2000 in all,
    // on keep-alive connections.
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Full<bytes::Bytes>>();
    for i in 0..2000 {
        let uri = if i % 2 == 0 {
            format!(
                "http://127.0.0.1:{}/hooks/statuspage?token={STATUSPAGE_TOKEN}",
                served.port
            )
        } else {
            format!(
                "http://127.0.0.1:{}/hooks/statuspage?token=secret-wrong-token",
                served.port
            )
        };
        let request = http::Request::post(uri)
            .header("content-type", "application/json")
            .body(http_body_util::Full::new(bytes::Bytes::from_static(
                b"{not json",
            )))
            .expect("request");
        let response = client.request(request).await.expect("response");
        assert!(response.status().is_client_error());
    }
    let metrics = served.get("/metrics").await;
    assert!(
        metrics.contains(
            "alertgate_client_errors_total{source=\"statuspage\",code=\"malformed_body\"} 1000\n"
        ),
        "{metrics}"
    );
    served.sigterm();
    served.exit_within(Duration::from_secs(15)).await;
    let stderr = served.stderr();
    let lines = stderr.lines().count() - baseline;
    // One line per (source, code) and the shutdown's few.
    assert!(lines <= 10, "{lines} lines:\n{stderr}");
    assert!(
        stderr.contains("malformed_body") && stderr.contains("unauthorized"),
        "{stderr}"
    );
    assert!(!stderr.contains("secret-wrong-token"), "{stderr}");
    assert!(!stderr.contains(STATUSPAGE_TOKEN), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[serial_test::serial(timing)]
async fn json_logs_are_one_object_a_line_and_the_env_wins_over_the_file() {
    let mut served = Served::start("log_format: text", &[("ALERTGATE_LOG_FORMAT", "json")]).await;
    let bad = served
        .raw(&format!(
            "POST /hooks/statuspage?token={STATUSPAGE_TOKEN} HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: 1\r\n\r\n{{"
        ))
        .await;
    assert!(bad.starts_with("HTTP/1.1 400"), "{bad}");
    served.sigterm();
    served.exit_within(Duration::from_secs(15)).await;
    let stderr = served.stderr();
    assert!(
        !stderr.contains('\u{1b}'),
        "ANSI colours on a pipe: {stderr}"
    );
    let mut saw_error = false;
    for line in stderr.lines() {
        let value: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        for key in ["timestamp", "level", "target", "message"] {
            assert!(value.get(key).is_some(), "no {key}: {line}");
        }
        if value["code"] == "malformed_body" {
            saw_error = true;
            assert_eq!(value["level"], "WARN");
            assert_eq!(value["path"], "/hooks/statuspage", "{line}");
        }
    }
    assert!(saw_error, "{stderr}");
}
