//! `${file:…}` secrets: tokens, the admin token and the Redis URL read from files (as
//! Docker and Kubernetes mount secrets), and errors that name the file and the key but
//! never print a secret.

use std::process::Command;

use alertgate::server::AppState;
use alertgate::store::{MemorySettings, MemoryStore, Store};
use bytes::Bytes;
use http::{Method, StatusCode};

use crate::harness::{config_dir, Gateway, TestRedis};

const BIN: &str = env!("CARGO_BIN_EXE_alertgate");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_and_the_redis_url_can_come_from_secret_files() {
    let Some(redis) = TestRedis::start() else {
        return;
    };
    let secrets = tempfile::tempdir().expect("secrets");
    let file = |name: &str, value: &str| {
        let path = secrets.path().join(name);
        std::fs::write(&path, value).expect("secret");
        path.display().to_string()
    };
    let token = file("statuscake", "file-token-123\n");
    let admin = file("admin", "file-admin-456\r\n");
    let url = file("redis_url", &format!("{}\n", redis.url()));
    let (dir, snapshot) = config_dir(
        &format!("store:\n  backend: redis\n  url: \"${{file:{url}}}\""),
        "",
    );
    // The config names the secrets only; the source and admin tokens are swapped in below.
    let text = std::fs::read_to_string(dir.path().join("config.yaml")).expect("config");
    let text = text
        .replace("sc-test-token", &format!("${{file:{token}}}"))
        .replace("admin-test-token", &format!("${{file:{admin}}}"));
    std::fs::write(dir.path().join("config.yaml"), text).expect("config");
    drop(snapshot);
    let snapshot = alertgate::config::build_snapshot(
        &dir.path().join("config.yaml"),
        &alertgate::config::Overrides::default(),
    )
    .expect("config with secret files");
    let alertgate::config::StoreSettings::Redis(settings) = &snapshot.settings.store else {
        panic!("redis expected");
    };
    assert_eq!(
        settings.url(),
        Some(redis.url().as_str()),
        "trailing newline trimmed"
    );
    let store = Store::Memory(MemoryStore::new(MemorySettings::default()));
    let gw = Gateway::serve(AppState::new(snapshot, store), Some(dir), None).await;
    let (status, _, json) = gw
        .send(
            Method::POST,
            "/hooks/statuscake?token=file-token-123",
            &[("content-type", "application/x-www-form-urlencoded")],
            "Status=Down&Name=Site&URL=https%3A%2F%2Fsite",
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{json}");
    let (status, _, _) = gw
        .send(
            Method::GET,
            "/v1/incidents",
            &[("authorization", "Bearer file-admin-456")],
            Bytes::new(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    gw.stop().await;
}

#[test]
fn check_names_the_file_and_key_and_never_prints_the_secret() {
    let dir = tempfile::tempdir().expect("dir");
    let secret = dir.path().join("listen-secret");
    std::fs::write(&secret, "not-an-address-TOPSECRET\n").expect("secret");
    let mappings = crate::harness::repo_root().join("mappings");
    let config = dir.path().join("config.yaml");
    let check = |admin: &str| {
        std::fs::write(
            &config,
            format!(
                "mappings_dir: {}\nlisten: \"${{file:{}}}\"\nadmin_token: \"{admin}\"\n",
                mappings.display(),
                secret.display()
            ),
        )
        .expect("config");
        let output = Command::new(BIN)
            .args(["check", "--config"])
            .arg(&config)
            .output()
            .expect("run check");
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert!(
            !stderr.contains("TOPSECRET") && !stdout.contains("TOPSECRET"),
            "{stderr}"
        );
        stderr
    };
    // An unreadable file: the key and the file are named.
    let stderr = check("${file:/nonexistent/admin}");
    assert!(
        stderr.contains("admin_token: cannot read /nonexistent/admin"),
        "{stderr}"
    );
    // A readable file whose value is invalid where it is used: the key is named, the
    // value is not printed.
    let stderr = check("admin");
    assert!(stderr.contains("listen: invalid address"), "{stderr}");
    assert!(stderr.contains("${file:"), "{stderr}");
}
