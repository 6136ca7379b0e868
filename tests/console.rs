//! The admin console in a real browser: the real gateway binary on a free port with a
//! temp config dir, and `ui-tests/console.test.mjs` (playwright-core driving Debian's
//! chromium) going through every page. Skipped without chromium, node or
//! `ui-tests/node_modules`, unless `ALERTGATE_REQUIRE_ALL=1`.
//!
//! Screenshots go to a temp dir, or to `ALERTGATE_SCREENSHOTS` (`docs/` refreshes the
//! README's pictures).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const ADMIN: &str = "console-admin-token";
const READER: &str = "console-read-token";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn skip(what: &str) -> bool {
    assert!(
        std::env::var("ALERTGATE_REQUIRE_ALL").as_deref() != Ok("1"),
        "{what} not found and ALERTGATE_REQUIRE_ALL=1"
    );
    eprintln!("skipped: {what} not found");
    true
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

fn healthy(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"GET /-/healthy HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut text = String::new();
    let _ = s.read_to_string(&mut text);
    text.starts_with("HTTP/1.1 200")
}

struct Gateway(Child);

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn write_config(dir: &Path, port: u16) {
    let mappings = dir.join("mappings");
    std::fs::create_dir_all(&mappings).expect("mappings dir");
    for entry in std::fs::read_dir(repo().join("mappings")).expect("shipped mappings") {
        let path = entry.expect("entry").path();
        std::fs::copy(&path, mappings.join(path.file_name().expect("name"))).expect("copy");
    }
    let config = format!(
        "listen: 127.0.0.1:{port}\npublic_url: http://127.0.0.1:{port}\nmappings_dir: mappings\n\
         sources:\n  statuscake:\n    integration: statuscake\n    tokens: [sc-console-token]\n\
         \x20 statuspage:\n    integration: statuspage\n    tokens: [sp-console-token]\n\
         admin_tokens:\n  - {{name: alice, token: {ADMIN}, scope: admin}}\n\
         \x20 - {{name: viewer, token: {READER}, scope: read}}\n"
    );
    std::fs::write(dir.join("config.yaml"), config).expect("config");
}

#[test]
fn the_console_in_a_real_browser() {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !Path::new(&chromium).exists() && skip("chromium") {
        return;
    }
    if Command::new("node").arg("--version").output().is_err() && skip("node") {
        return;
    }
    if !repo()
        .join("ui-tests/node_modules/playwright-core")
        .exists()
        && skip("ui-tests/node_modules (npm ci --prefix ui-tests)")
    {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    write_config(dir.path(), port);
    let mut gateway = Gateway(
        Command::new(env!("CARGO_BIN_EXE_alertgate"))
            .args(["serve", "--config"])
            .arg(dir.path().join("config.yaml"))
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .expect("start the gateway"),
    );
    let started = Instant::now();
    while !healthy(port) {
        if let Ok(Some(status)) = gateway.0.try_wait() {
            panic!("the gateway exited: {status}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the gateway did not come up"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let shots = std::env::var("ALERTGATE_SCREENSHOTS")
        .map_or_else(|_| dir.path().join("shots"), PathBuf::from);
    let status = Command::new("node")
        .arg(repo().join("ui-tests/console.test.mjs"))
        .arg(format!("http://127.0.0.1:{port}"))
        .args([ADMIN, READER])
        .arg(dir.path())
        .arg(repo().join("tests/fixtures"))
        .arg(&shots)
        .env("CHROMIUM", &chromium)
        .status()
        .expect("run node");
    assert!(status.success(), "the browser test failed: {status}");
    for page in ["incidents", "incident", "playground", "sources", "config"] {
        let shot = shots.join(format!("console-{page}.png"));
        assert!(shot.exists(), "no screenshot {}", shot.display());
    }
    drop(gateway);
}
