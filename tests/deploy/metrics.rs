//! Every metric the dashboard and the rules query is one a running gateway exports: the
//! real binary, serving the shipped example config, scraped after a few webhooks.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::promql::{dashboard_metric_names, rules_metric_names};
use crate::{read, repo_root};

/// The suffixes OpenMetrics adds to a metric family's name in its samples.
const SUFFIXES: [&str; 5] = ["_total", "_bucket", "_sum", "_count", "_created"];

/// Kills the gateway (by its own handle) when the test ends, passed or failed.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One HTTP/1.1 request over a fresh connection: (status, body).
fn http(
    port: u16,
    method: &str,
    path: &str,
    content_type: &str,
    body: &[u8],
) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .ok()?;
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).ok()?;
    stream.write_all(body).ok()?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).ok()?;
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text.get(9..12)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned())?;
    Some((status, body))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

fn start_gateway() -> (Running, u16) {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_alertgate"))
        .args(["serve", "--config", "config.example.yaml", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .current_dir(repo_root())
        .env_remove("STATUSCAKE_TOKEN")
        .env_remove("STATUSPAGE_TOKEN")
        .env_remove("ALERTGATE_ADMIN_TOKEN")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start alertgate serve");
    let running = Running(child);
    let deadline = Instant::now() + Duration::from_secs(60);
    while http(port, "GET", "/-/healthy", "text/plain", b"").map(|r| r.0) != Some(200) {
        assert!(
            Instant::now() < deadline,
            "gateway on port {port} never became healthy"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (running, port)
}

/// The names a scrape exports: every sample's name and every family's `# TYPE` name.
fn exported(scrape: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut samples = BTreeSet::new();
    let mut families = BTreeSet::new();
    for line in scrape.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            families.extend(rest.split_whitespace().next().map(str::to_owned));
        } else if !line.starts_with('#') && !line.is_empty() {
            let end = line.find(['{', ' ']).unwrap_or(line.len());
            samples.insert(line[..end].to_owned());
        }
    }
    (samples, families)
}

fn is_exported(name: &str, samples: &BTreeSet<String>, families: &BTreeSet<String>) -> bool {
    samples.contains(name)
        || families.contains(name)
        || SUFFIXES.iter().any(|s| {
            name.strip_suffix(s)
                .is_some_and(|base| families.contains(base))
        })
}

#[test]
fn dashboard_and_rules_query_only_exported_metrics() {
    let (_gateway, port) = start_gateway();
    let form = std::fs::read(repo_root().join("tests/fixtures/statuscake/down-basic.form"))
        .expect("fixture");
    let json = std::fs::read(
        repo_root().join("tests/fixtures/statuspage/incident-identified-critical.json"),
    )
    .expect("fixture");
    let form_type = "application/x-www-form-urlencoded";
    let sent = [
        (
            "/hooks/statuscake?token=demo-statuscake-token",
            form_type,
            &form[..],
            202,
        ),
        (
            "/hooks/statuspage?token=demo-statuspage-token",
            "application/json",
            &json[..],
            202,
        ),
        ("/hooks/statuscake?token=wrong", form_type, &form[..], 401),
    ];
    for (path, content_type, body, want) in sent {
        let (status, answer) =
            http(port, "POST", path, content_type, body).expect("webhook answered");
        assert_eq!(status, want, "{path}: {answer}");
    }
    let (status, scrape) = http(port, "GET", "/metrics", "text/plain", b"").expect("scrape");
    assert_eq!(status, 200);
    let (samples, families) = exported(&scrape);
    // The scrape holds what the webhooks produced, so histogram samples exist.
    for name in [
        "alertgate_webhook_duration_seconds_bucket",
        "alertgate_webhooks_total",
    ] {
        assert!(samples.contains(name), "{name} not in\n{scrape}");
    }
    assert!(!is_exported("alertgate_nope_total", &samples, &families));

    let mut queried = dashboard_metric_names(&read("deploy/grafana-dashboard.json"));
    queried.extend(rules_metric_names(&read("deploy/prometheus-rules.yaml")));
    assert!(queried.len() >= 4, "{queried:?}");
    let missing: Vec<&String> = queried
        .iter()
        .filter(|name| !is_exported(name, &samples, &families))
        .collect();
    assert!(
        missing.is_empty(),
        "queried but not exported: {missing:?}\nscrape:\n{scrape}"
    );
}
