//! `alertgate sources` with the built binary: add → serve → post to the printed URL,
//! listing with and without tokens, rotate, remove, refusals; and a verifying source
//! whose secret never reaches the answer or the logs.

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use crate::harness::repo_root;

const BIN: &str = env!("CARGO_BIN_EXE_alertgate");
const SECRET: &str = "cli-hmac-secret-7d1c";

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

fn sources(config: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("sources")
        .args(args)
        .arg("--config")
        .arg(config)
        .output()
        .expect("run alertgate sources")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A config dir with the shipped mappings, a listen port and a signed source.
fn config(port: u16) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("tmp");
    let mappings = dir.path().join("mappings");
    std::fs::create_dir(&mappings).expect("mkdir");
    for entry in std::fs::read_dir(repo_root().join("mappings")).expect("mappings") {
        let path = entry.expect("entry").path();
        std::fs::copy(&path, mappings.join(path.file_name().expect("name"))).expect("copy");
    }
    let path = dir.path().join("alertgate.yaml");
    std::fs::write(
        &path,
        format!(
            "listen: 127.0.0.1:{port}\nadmin_token: admin\nsources:\n  signed:\n    integration: statuspage\n    tokens: [signed-token]\n    verify:\n      - hmac_sha256: {{header: X-Hub-Signature-256, secret: {SECRET}, prefix: \"sha256=\"}}\n"
        ),
    )
    .expect("write config");
    (dir, path)
}

async fn post(url: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, String) {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Full<bytes::Bytes>>();
    let mut builder = http::Request::builder().method("POST").uri(url);
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    let request = builder
        .body(http_body_util::Full::new(bytes::Bytes::copy_from_slice(
            body,
        )))
        .expect("request");
    let response = client.request(request).await.expect("response");
    let status = response.status().as_u16();
    let body = http_body_util::BodyExt::collect(response.into_body())
        .await
        .expect("body")
        .to_bytes();
    (status, text(&body))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sources_add_prints_a_url_that_a_served_gateway_accepts() {
    let port = free_port();
    let (dir, config) = config(port);

    let out = sources(&config, &["add", "pager", "--integration", "statuspage"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let url = text(&out.stdout).trim().to_owned();
    let prefix = format!("http://127.0.0.1:{port}/hooks/pager?token=");
    let token = url
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("{url}"))
        .to_owned();
    assert_eq!(token.len(), 64);
    let file = dir.path().join("sources.d/pager.yaml");
    let mode = std::fs::metadata(&file).expect("file").permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    assert!(!std::fs::read_to_string(&config)
        .expect("config")
        .contains("pager"));

    // Refusals: exists (1), unknown integration (1), a main-config source (1).
    assert_eq!(
        sources(&config, &["add", "pager", "--integration", "statuspage"])
            .status
            .code(),
        Some(1)
    );
    let out = sources(&config, &["add", "x", "--integration", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("no mapping"),
        "{}",
        text(&out.stderr)
    );
    let out = sources(&config, &["remove", "signed"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("main config"),
        "{}",
        text(&out.stderr)
    );

    // Listing: the placeholder, unless --show-tokens.
    let out = sources(&config, &[]);
    let listing = text(&out.stdout);
    assert!(
        listing.contains(&format!(
            "http://127.0.0.1:{port}/hooks/pager?token=<token>"
        )),
        "{listing}"
    );
    assert!(listing.contains("verify:        hmac_sha256"), "{listing}");
    assert!(!listing.contains(&token) && !listing.contains("signed-token"));
    let shown = text(&sources(&config, &["--show-tokens"]).stdout);
    assert!(
        shown.contains(&url) && shown.contains("token=signed-token"),
        "{shown}"
    );

    // Serve the config and post to the printed URL.
    let mut child = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(&config)
        .env("ALERTGATE_LOG", "debug")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn serve");
    let base = format!("http://127.0.0.1:{port}");
    let mut up = false;
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(up, "serve did not listen");
    let page = crate::harness::fixture("statuspage/incident-investigating-critical.json");
    let json = [("content-type", "application/json")];
    let (status, body) = post(&url, &json, &page).await;
    assert_eq!(status, 202, "{body}");

    // The signed source: a wrong signature names the check, never the secret.
    let signed = format!("{base}/hooks/signed?token=signed-token");
    let (status, body) = post(&signed, &[("x-hub-signature-256", "sha256=00")], &page).await;
    assert_eq!(status, 401, "{body}");
    assert!(
        body.contains("verify[0] hmac_sha256: signature mismatch"),
        "{body}"
    );
    assert!(!body.contains(SECRET));

    // Rotate with no overlap: the printed URL works, the old one no longer does once
    // the watcher has reloaded.
    let out = sources(&config, &["rotate-token", "pager", "--overlap", "0s"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let new_url = text(&out.stdout).trim().to_owned();
    assert_ne!(new_url, url);
    let mut rotated = false;
    for _ in 0..100 {
        if post(&url, &json, &page).await.0 == 401 && post(&new_url, &json, &page).await.0 == 202 {
            rotated = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(rotated, "rotation not applied by the watcher");

    let out = sources(&config, &["remove", "pager"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!file.exists());

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let exit = child.wait().expect("wait");
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut stderr);
    }
    assert!(exit.success(), "exit {exit:?}: {stderr}");
    assert!(
        stderr.contains("verify[0] hmac_sha256"),
        "the failure is logged: {stderr}"
    );
    for secret in [SECRET, token.as_str(), "signed-token"] {
        assert!(
            !stderr.contains(secret),
            "{secret} reached the logs: {stderr}"
        );
    }
}
