//! The built binary: `serve` with the shipped example config as it is, and `check`.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::harness::repo_root;

const BIN: &str = env!("CARGO_BIN_EXE_alertgate");

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_runs_the_example_config_as_is_and_stops_on_sigterm() {
    let port = free_port();
    let mut child = Command::new(BIN)
        .current_dir(repo_root())
        .args(["serve", "--config", "config.example.yaml", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .env_remove("STATUSCAKE_TOKEN")
        .env_remove("STATUSPAGE_TOKEN")
        .env_remove("ALERTGATE_ADMIN_TOKEN")
        .env("ALERTGATE_LOG", "info")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn alertgate");
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Full<bytes::Bytes>>();
    let base = format!("http://127.0.0.1:{port}");
    let mut up = false;
    for _ in 0..100 {
        if let Ok(uri) = format!("{base}/-/ready").parse::<http::Uri>() {
            if let Ok(r) = client.get(uri).await {
                if r.status() == http::StatusCode::OK {
                    up = true;
                    break;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(up, "serve did not become ready");
    let request = http::Request::builder()
        .method("POST")
        .uri(format!(
            "{base}/hooks/statuscake?token=demo-statuscake-token"
        ))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(http_body_util::Full::new(bytes::Bytes::from_static(
            b"Status=Down&Name=Example&URL=https%3A%2F%2Fexample.com",
        )))
        .expect("request");
    let response = client.request(request).await.expect("webhook");
    assert_eq!(response.status(), http::StatusCode::ACCEPTED);

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let exit = child.wait().expect("wait");
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut stderr);
    }
    assert!(exit.success(), "exit {exit:?}: {stderr}");
    for var in [
        "STATUSCAKE_TOKEN",
        "STATUSPAGE_TOKEN",
        "ALERTGATE_ADMIN_TOKEN",
    ] {
        assert!(
            stderr
                .lines()
                .any(|l| l.contains("WARN") && l.contains(var)),
            "no WARN naming {var}: {stderr}"
        );
    }
    assert!(
        !stderr.contains("demo-statuscake-token"),
        "a token reached the logs"
    );
}

#[test]
fn check_accepts_the_example_config() {
    let out = Command::new(BIN)
        .current_dir(repo_root())
        .args(["check", "--config", "config.example.yaml"])
        .output()
        .expect("run check");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Writes `config` to `path`, runs `alertgate check --config` on it, and returns whether
/// it passed and its stderr.
fn check_config(path: &std::path::Path, config: &str) -> (bool, String) {
    std::fs::write(path, config).expect("write");
    let out = Command::new(BIN)
        .args(["check", "--config"])
        .arg(path)
        .output()
        .expect("run check");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn check_reports_every_config_problem_with_file_line_and_key() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("bad.yaml");
    let mappings = repo_root().join("mappings");
    let head = format!(
        "mappings_dir: {}\nsources:\n  cake:\n    integration: nothere\n",
        mappings.display()
    );

    let (ok, stderr) = check_config(
        &path,
        &format!("{head}    tokens: [\"${{ALERTGATE_TEST_SURELY_UNSET}}\"]\nadmin_token: x\n"),
    );
    assert!(!ok, "check passed an unset env var in a token: {stderr}");
    assert!(
        stderr.contains("bad.yaml:5:") && stderr.contains("ALERTGATE_TEST_SURELY_UNSET"),
        "{stderr}"
    );

    let (ok, stderr) = check_config(
        &path,
        &format!("{head}    tokens: [t]\nadmin_token: x\nlimitz: {{}}\n"),
    );
    assert!(!ok, "check passed a config with an unknown field: {stderr}");
    assert!(
        stderr.contains("bad.yaml:7:1: limitz: unknown field"),
        "{stderr}"
    );

    let (ok, stderr) = check_config(&path, &format!("{head}    tokens: [t]\nadmin_token: x\n"));
    assert!(!ok, "check passed a source with no mapping: {stderr}");
    assert!(
        stderr.contains("bad.yaml:4:18: sources.cake.integration: no mapping"),
        "{stderr}"
    );
}
