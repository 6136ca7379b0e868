//! A Redis server of a test's own: `redis-server` on a free loopback port, with a temp
//! dir of its own, killed (and the dir removed) when dropped. Shared by the store and
//! gateway test binaries (`#[path]`-included), so no test needs a Redis of the machine's
//! and tests run in parallel without sharing state.
//!
//! Without `redis-server` on `PATH`, `start` prints "skipped: redis-server not found on
//! PATH" and returns `None` (the test returns early); with `ALERTGATE_REQUIRE_ALL=1` it
//! panics with that message instead.
//!
//! Every call is synchronous (a start takes a few milliseconds): usable from plain and
//! async tests alike.

#![allow(dead_code)] // each including binary uses its own part of the API

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SERVER: &str = "redis-server";
const NOT_FOUND: &str = "redis-server not found on PATH";

/// How long a start waits for the server to answer.
const READY_WITHIN: Duration = Duration::from_secs(10);

pub struct TestRedis {
    port: u16,
    dir: tempfile::TempDir,
    extra: Vec<String>,
    child: Option<Child>,
}

impl TestRedis {
    /// A fresh, empty server without persistence (`--save "" --appendonly no`).
    pub fn start() -> Option<TestRedis> {
        Self::start_with(&[])
    }

    /// As `start`, with `extra` arguments after the defaults (later ones win, so
    /// `&["--appendonly", "yes"]` turns the AOF on, written under `dir()`).
    pub fn start_with(extra: &[&str]) -> Option<TestRedis> {
        if !on_path(SERVER) {
            assert!(
                std::env::var("ALERTGATE_REQUIRE_ALL").as_deref() != Ok("1"),
                "{NOT_FOUND} (ALERTGATE_REQUIRE_ALL=1: Redis tests may not be skipped)"
            );
            eprintln!("skipped: {NOT_FOUND}");
            return None;
        }
        let dir = tempfile::Builder::new()
            .prefix("alertgate-redis-")
            .tempdir()
            .expect("redis temp dir");
        let mut redis = TestRedis {
            port: 0,
            dir,
            extra: extra.iter().map(|a| (*a).to_owned()).collect(),
            child: None,
        };
        // A port picked free can be taken before the server binds it: try another.
        let mut last = String::new();
        for _ in 0..10 {
            redis.port = free_port();
            match redis.spawn() {
                Ok(()) => return Some(redis),
                Err(e) => last = e,
            }
        }
        panic!("redis-server did not start: {last}");
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://{}", self.addr())
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's working dir (`--dir`): where an RDB or AOF would be written.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// The server's process id, while it runs (to send it signals: `kill -STOP`).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Kills the server (as a crash would: nothing is saved on the way out). Its dir stays.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port, dir and arguments (stopping it first if
    /// it runs); back once it answers. What it holds afterwards is what its persistence
    /// settings kept: nothing, by default.
    pub fn restart(&mut self) {
        self.stop();
        // The port was ours a moment ago; give the kernel a moment if it is not yet free.
        let mut last = String::new();
        for _ in 0..50 {
            match self.spawn() {
                Ok(()) => return,
                Err(e) => last = e,
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("redis-server did not restart on port {}: {last}", self.port);
    }

    /// Spawns on `self.port` and waits until this very process answers there.
    fn spawn(&mut self) -> Result<(), String> {
        let port = self.port.to_string();
        let log = self.dir.path().join("redis.log");
        let mut child = Command::new(SERVER)
            .args(["--port", &port, "--bind", "127.0.0.1", "--dir"])
            .arg(self.dir.path())
            .arg("--logfile")
            .arg(&log)
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .args(&self.extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("spawn {SERVER}: {e}"))?;
        let pid = child.id();
        let deadline = Instant::now() + READY_WITHIN;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                let tail = std::fs::read_to_string(&log).unwrap_or_default();
                let tail: Vec<&str> = tail.lines().rev().take(5).collect();
                return Err(format!(
                    "exited with {status} on port {port}: {}",
                    tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
                ));
            }
            // Another server may hold the port (and answer): only ours counts.
            if server_pid(self.addr()) == Some(pid) {
                self.child = Some(child);
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = child.kill();
        let _ = child.wait();
        Err(format!("no answer on port {port} within {READY_WITHIN:?}"))
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        self.stop();
        // `dir` (a TempDir) removes itself after this.
    }
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths).any(|dir| {
            let candidate = dir.join(program);
            std::fs::metadata(&candidate).is_ok_and(|m| m.is_file())
        })
    })
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// The `process_id` of the Redis answering at `addr` (which also proves it answers
/// commands: not loading, not refusing), if any.
fn server_pid(addr: SocketAddr) -> Option<u32> {
    let mut conn = TcpStream::connect_timeout(&addr, Duration::from_millis(200)).ok()?;
    conn.set_read_timeout(Some(Duration::from_millis(500)))
        .ok()?;
    conn.write_all(b"INFO server\r\n").ok()?;
    let mut reader = BufReader::new(conn);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    // A bulk string: `$<len>`, then the text. An error (`-LOADING ...`) means not ready.
    let len: usize = line.trim_end().strip_prefix('$')?.parse().ok()?;
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    String::from_utf8_lossy(&body)
        .lines()
        .find_map(|l| l.strip_prefix("process_id:"))
        .and_then(|pid| pid.trim().parse().ok())
}
