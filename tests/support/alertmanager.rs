//! A real Prometheus Alertmanager of a test's own (Debian `prometheus-alertmanager`,
//! tested with 0.25): a free loopback port, its own config and storage dir, clustering
//! off (`--cluster.listen-address=`), one webhook receiver, killed when dropped.
//!
//! Without the binary, `start` prints "skipped: prometheus-alertmanager not found" and
//! returns `None`; with `ALERTGATE_REQUIRE_ALL=1` it panics instead.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const NAMES: [&str; 2] = ["prometheus-alertmanager", "alertmanager"];
const NOT_FOUND: &str = "prometheus-alertmanager not found";
const READY_WITHIN: Duration = Duration::from_secs(30);

pub struct TestAlertmanager {
    port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl TestAlertmanager {
    /// Starts one whose only receiver posts to `webhook_url`, grouping by `alertname`
    /// with `group_wait` and `group_interval` of 1 s and `send_resolved: true`.
    pub fn start(webhook_url: &str) -> Option<TestAlertmanager> {
        let Some(binary) = binary() else {
            assert!(
                std::env::var("ALERTGATE_REQUIRE_ALL").as_deref() != Ok("1"),
                "{NOT_FOUND} (ALERTGATE_REQUIRE_ALL=1: Alertmanager tests may not be skipped)"
            );
            eprintln!("skipped: {NOT_FOUND}");
            return None;
        };
        let dir = tempfile::Builder::new()
            .prefix("alertgate-alertmanager-")
            .tempdir()
            .expect("alertmanager temp dir");
        let config = dir.path().join("alertmanager.yml");
        std::fs::write(
            &config,
            format!(
                "route:\n  receiver: alertgate\n  group_by: ['alertname']\n  group_wait: 1s\n  group_interval: 1s\n  repeat_interval: 1h\nreceivers:\n  - name: alertgate\n    webhook_configs:\n      - url: '{webhook_url}'\n        send_resolved: true\n        max_alerts: 0\n"
            ),
        )
        .expect("alertmanager config");
        let mut last = String::new();
        // A port picked free can be taken before the server binds it: try another.
        for _ in 0..5 {
            let port = free_port();
            let log = std::fs::File::create(dir.path().join("alertmanager.log")).expect("log");
            let mut child = Command::new(&binary)
                .arg(format!("--config.file={}", config.display()))
                .arg(format!(
                    "--storage.path={}",
                    dir.path().join("data").display()
                ))
                .arg(format!("--web.listen-address=127.0.0.1:{port}"))
                .arg("--cluster.listen-address=")
                .arg("--log.level=debug")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("spawn {}: {e}", binary.display()));
            let addr = SocketAddr::from(([127, 0, 0, 1], port));
            let deadline = Instant::now() + READY_WITHIN;
            while Instant::now() < deadline {
                if let Ok(Some(status)) = child.try_wait() {
                    last = format!("exited with {status}: {}", log_tail(dir.path()));
                    break;
                }
                if matches!(request(addr, "GET", "/-/ready", ""), Ok((200, _))) {
                    return Some(TestAlertmanager {
                        port,
                        dir,
                        child: Some(child),
                    });
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
            if last.is_empty() {
                last = format!(
                    "not ready within {READY_WITHIN:?}: {}",
                    log_tail(dir.path())
                );
            }
        }
        panic!("alertmanager did not start: {last}");
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// POSTs `alerts` (a JSON array of postable alerts) to `/api/v2/alerts`.
    pub fn post_alerts(&self, alerts: &serde_json::Value) {
        let (status, body) = request(self.addr(), "POST", "/api/v2/alerts", &alerts.to_string())
            .expect("post alerts");
        assert_eq!(status, 200, "alertmanager refused the alerts: {body}");
    }

    /// The last lines of its log, for failure messages.
    pub fn log_tail(&self) -> String {
        log_tail(self.dir.path())
    }
}

fn log_tail(dir: &Path) -> String {
    let log = std::fs::read_to_string(dir.join("alertmanager.log")).unwrap_or_default();
    let lines: Vec<&str> = log.lines().rev().take(15).collect();
    lines.into_iter().rev().collect::<Vec<_>>().join("\n")
}

/// One HTTP/1.1 request on a fresh connection: status and body.
fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: &str,
) -> std::io::Result<(u16, String)> {
    let mut conn = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    conn.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        conn,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut response = String::new();
    conn.read_to_string(&mut response)?;
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}

impl Drop for TestAlertmanager {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn binary() -> Option<PathBuf> {
    let paths = std::env::var_os("PATH").unwrap_or_default();
    NAMES
        .iter()
        .flat_map(|name| std::env::split_paths(&paths).map(move |dir| dir.join(name)))
        .chain([PathBuf::from("/usr/bin/prometheus-alertmanager")])
        .find(|p| std::fs::metadata(p).is_ok_and(|m| m.is_file()))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}
