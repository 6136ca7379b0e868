//! A Redis Cluster of a test's own: three `redis-server --cluster-enabled yes` masters on
//! free loopback ports (each with its own dir and `nodes.conf`), joined by
//! `redis-cli --cluster create … --cluster-replicas 0`, ready once every node reports
//! `cluster_state:ok`. Killed (dirs removed) when dropped.
//!
//! The cluster bus listens on `port + 10000`: ports are picked below 55535 with that
//! port free too. Without `redis-server`/`redis-cli` on PATH, `start` prints a skip line
//! and returns `None`, or panics under `ALERTGATE_REQUIRE_ALL=1`.

#![allow(dead_code)]

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const MASTERS: usize = 3;
const READY_WITHIN: Duration = Duration::from_secs(30);

pub struct TestCluster {
    nodes: Vec<(u16, tempfile::TempDir, Child)>,
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

/// A loopback port below 55535 whose bus port (+10000) is free too.
fn free_cluster_port() -> u16 {
    for _ in 0..1000 {
        let Ok(listener) = TcpListener::bind("127.0.0.1:0") else {
            continue;
        };
        let Ok(port) = listener.local_addr().map(|a| a.port()) else {
            continue;
        };
        if port >= 55535 {
            // Ask for one in range instead: try a few fixed-range candidates.
            let candidate = 20000 + (port % 30000);
            if TcpListener::bind(("127.0.0.1", candidate)).is_ok()
                && TcpListener::bind(("127.0.0.1", candidate + 10000)).is_ok()
            {
                return candidate;
            }
            continue;
        }
        if TcpListener::bind(("127.0.0.1", port + 10000)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port pair for a cluster node");
}

fn cli(port: u16, args: &[&str]) -> Option<String> {
    let out = Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .ok()?;
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

impl TestCluster {
    pub fn start() -> Option<TestCluster> {
        for tool in ["redis-server", "redis-cli"] {
            if !on_path(tool) {
                assert!(
                    std::env::var("ALERTGATE_REQUIRE_ALL").as_deref() != Ok("1"),
                    "{tool} not found on PATH (ALERTGATE_REQUIRE_ALL=1: Redis tests may not be skipped)"
                );
                eprintln!("skipped: {tool} not found on PATH");
                return None;
            }
        }
        let mut cluster = TestCluster { nodes: Vec::new() };
        while cluster.nodes.len() < MASTERS {
            let port = free_cluster_port();
            let dir = tempfile::Builder::new()
                .prefix("alertgate-cluster-")
                .tempdir()
                .expect("cluster node dir");
            let child = Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--cluster-enabled", "yes", "--cluster-config-file"])
                .arg(dir.path().join("nodes.conf"))
                .arg("--dir")
                .arg(dir.path())
                .arg("--logfile")
                .arg(dir.path().join("redis.log"))
                .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn redis-server");
            let deadline = Instant::now() + Duration::from_secs(10);
            let mut up = false;
            while Instant::now() < deadline {
                if cli(port, &["PING"]).is_some_and(|o| o.trim() == "PONG") {
                    up = true;
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let mut child = child;
            if up {
                cluster.nodes.push((port, dir, child));
            } else {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        let addrs: Vec<String> = cluster
            .nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.0))
            .collect();
        let status = Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(&addrs)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("redis-cli --cluster create");
        assert!(status.success(), "redis-cli --cluster create failed");
        let deadline = Instant::now() + READY_WITHIN;
        loop {
            let ok = cluster.nodes.iter().all(|n| {
                cli(n.0, &["CLUSTER", "INFO"]).is_some_and(|o| o.contains("cluster_state:ok"))
            });
            if ok {
                return Some(cluster);
            }
            assert!(
                Instant::now() < deadline,
                "cluster not ok within {READY_WITHIN:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `redis://127.0.0.1:<port>` of every node.
    pub fn urls(&self) -> Vec<String> {
        self.nodes
            .iter()
            .map(|n| format!("redis://127.0.0.1:{}", n.0))
            .collect()
    }

    pub fn ports(&self) -> Vec<u16> {
        self.nodes.iter().map(|n| n.0).collect()
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        for (_, _, child) in &mut self.nodes {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
