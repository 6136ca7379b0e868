//! `alertgate migrate` and `serve` as processes, on a Redis of the test's own: a layout-1
//! keyspace (written by the earlier apply script, `tests/store/v1/apply_v1.lua`) is
//! counted by `--dry-run` without a write, upgraded by `migrate`, then served: the
//! incidents come back through `GET /v1/incidents`. `serve` on a newer layout exits 2
//! and says why.

use std::collections::BTreeMap;
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};

use crate::harness::{config_dir, redis_store_yaml, TestRedis, ADMIN_TOKEN};

const BIN: &str = env!("CARGO_BIN_EXE_alertgate");
/// `redis_store_yaml`'s prefix.
const PREFIX: &str = "alertgate-test:";
const SOURCE: &str = "statuscake";

/// One layout-1 step, as earlier versions ran it.
fn v1_apply(conn: &mut redis::Connection, action: &str, fp: &str, now: i64) {
    let digest = {
        use sha2::Digest;
        let mut d = sha2::Sha256::new();
        d.update((SOURCE.len() as u64).to_be_bytes());
        d.update(SOURCE.as_bytes());
        d.update(fp.as_bytes());
        hex::encode(d.finalize())
    };
    let script = redis::Script::new(include_str!("../store/v1/apply_v1.lua"));
    let _: redis::Value = script
        .key(format!("{PREFIX}fp:{digest}"))
        .key(format!("{PREFIX}ids:{SOURCE}"))
        .key(format!("{PREFIX}seq"))
        .key(format!("{PREFIX}events"))
        .key(format!("{PREFIX}sources"))
        .arg(PREFIX)
        .arg(action)
        .arg(SOURCE)
        .arg(fp)
        .arg(now)
        .arg("")
        .arg("high")
        .arg("1")
        .arg(format!("{fp} is down"))
        .arg("{}")
        .arg(1000)
        .arg(3_600_000)
        .invoke(conn)
        .expect("v1 apply");
}

/// Every key and its `DUMP`: what a write would change.
fn keyspace(conn: &mut redis::Connection) -> BTreeMap<String, Vec<u8>> {
    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(conn).expect("KEYS");
    keys.into_iter()
        .map(|k| {
            let dump: Vec<u8> = redis::cmd("DUMP").arg(&k).query(conn).expect("DUMP");
            (k, dump)
        })
        .collect()
}

fn migrate(config: &std::path::Path, dry_run: bool) -> serde_json::Value {
    let mut command = Command::new(BIN);
    command.arg("migrate").arg("--config").arg(config);
    if dry_run {
        command.arg("--dry-run");
    }
    let out = command.output().expect("run alertgate migrate");
    assert!(
        out.status.success(),
        "migrate (dry run: {dry_run}) exit {:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "migrate printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

fn serve(config: &std::path::Path, port: u16) -> std::process::Child {
    Command::new(BIN)
        .arg("serve")
        .arg("--config")
        .arg(config)
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .env("ALERTGATE_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn alertgate serve")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_dry_run_writes_nothing_then_migrates_and_serve_lists_the_incidents() {
    let Some(redis) = TestRedis::start() else {
        return;
    };
    let mut conn = redis::Client::open(redis.url())
        .and_then(|c| c.get_connection())
        .expect("raw connection");
    // Layout 1: "a" resolved, "b" and "c" open.
    v1_apply(&mut conn, "open", "a", 10);
    v1_apply(&mut conn, "resolve", "a", 11);
    v1_apply(&mut conn, "open", "b", 12);
    v1_apply(&mut conn, "open", "c", 13);
    let (dir, _) = config_dir(&redis_store_yaml(&redis.url()), "");
    let config = dir.path().join("config.yaml");

    let before = keyspace(&mut conn);
    let dry = migrate(&config, true);
    assert_eq!(dry["dry_run"], true, "{dry}");
    assert_eq!(
        (&dry["from"], &dry["incidents"], &dry["events"]),
        (&1.into(), &3.into(), &4.into()),
        "{dry}"
    );
    assert_eq!(keyspace(&mut conn), before, "--dry-run wrote to Redis");

    let done = migrate(&config, false);
    assert_eq!(done["dry_run"], false, "{done}");
    assert_eq!((&done["from"], &done["incidents"]), (&1.into(), &3.into()));
    assert_ne!(keyspace(&mut conn), before);

    let port = free_port();
    let mut child = serve(&config, port);
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Full<Bytes>>();
    let base = format!("http://127.0.0.1:{port}");
    let mut listed = None;
    for _ in 0..300 {
        let request = http::Request::get(format!("{base}/v1/incidents"))
            .header("authorization", format!("Bearer {ADMIN_TOKEN}"))
            .body(Full::new(Bytes::new()))
            .expect("request");
        if let Ok(response) = client.request(request).await {
            if response.status() == http::StatusCode::OK {
                let body = response
                    .into_body()
                    .collect()
                    .await
                    .expect("body")
                    .to_bytes();
                listed = Some(serde_json::from_slice::<serde_json::Value>(&body).expect("json"));
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let exit = child.wait().expect("wait");
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut stderr);
    }
    let listed = listed.unwrap_or_else(|| panic!("serve did not list incidents: {stderr}"));
    assert!(exit.success(), "serve exit {exit:?}: {stderr}");
    let incidents: Vec<(String, String, String)> = listed["incidents"]
        .as_array()
        .expect("incidents")
        .iter()
        .map(|i| {
            (
                i["fingerprint"].as_str().unwrap_or("").to_owned(),
                i["status"].as_str().unwrap_or("").to_owned(),
                i["title"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    // Newest first, as layout 1 numbered them.
    assert_eq!(
        incidents,
        vec![
            ("c".into(), "open".into(), "c is down".into()),
            ("b".into(), "open".into(), "b is down".into()),
            ("a".into(), "resolved".into(), "a is down".into()),
        ],
        "{listed}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_on_a_newer_layout_exits_2_and_says_why() {
    let Some(redis) = TestRedis::start() else {
        return;
    };
    let mut conn = redis::Client::open(redis.url())
        .and_then(|c| c.get_connection())
        .expect("raw connection");
    let _: () = redis::cmd("SET")
        .arg(format!("{PREFIX}layout"))
        .arg(r#"{"version":3,"buckets":1}"#)
        .query(&mut conn)
        .expect("SET");
    let (dir, _) = config_dir(&redis_store_yaml(&redis.url()), "");
    let config = dir.path().join("config.yaml");

    let mut child = serve(&config, free_port());
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let exit = loop {
        if let Some(exit) = child.try_wait().expect("try_wait") {
            break exit;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("serve kept running on a layout-3 keyspace");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut stderr);
    }
    assert_eq!(exit.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("holds layout 3") && stderr.contains("run a newer alertgate"),
        "{stderr}"
    );
    // `migrate` refuses it too (exit 1), writing nothing.
    let out = Command::new(BIN)
        .arg("migrate")
        .arg("--config")
        .arg(&config)
        .output()
        .expect("migrate");
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let layout: String = redis::cmd("GET")
        .arg(format!("{PREFIX}layout"))
        .query(&mut conn)
        .expect("GET");
    assert_eq!(layout, r#"{"version":3,"buckets":1}"#);
}
