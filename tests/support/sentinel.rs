//! A Sentinel-watched Redis of a test's own: one master and `replicas` replicas
//! (`TestRedis`, `--replicaof` the master), and three Sentinels on free loopback ports,
//! each with its own temp dir and config file (`sentinel monitor m 127.0.0.1 <master> 2`,
//! down after 1 s, failover timeout 3 s; Sentinels rewrite that file as they learn).
//! Everything is killed (dirs removed) when dropped.
//!
//! The Sentinels run as `redis-sentinel <conf>` (Debian package `redis-sentinel`), or as
//! `redis-server <conf> --sentinel` when only `redis-server` is installed (the same
//! program). Without `redis-server` on PATH, `start` prints a skip line and returns
//! `None`, or panics under `ALERTGATE_REQUIRE_ALL=1`.

#![allow(dead_code)]

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::test_redis::TestRedis;

/// The name the Sentinels monitor the master under.
pub const MASTER_NAME: &str = "m";
const SENTINELS: usize = 3;
/// How long a start waits for the replicas to sync and the Sentinels to find each other.
const READY_WITHIN: Duration = Duration::from_secs(60);

pub struct TestSentinel {
    /// The first master (after a failover: a stopped, killed or demoted server).
    pub master: TestRedis,
    pub replicas: Vec<TestRedis>,
    sentinels: Vec<(u16, tempfile::TempDir, Child)>,
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// A short-lived connection to `127.0.0.1:port` with tight timeouts.
fn conn(port: u16) -> Option<redis::Connection> {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}/")).ok()?;
    let conn = client
        .get_connection_with_timeout(Duration::from_millis(500))
        .ok()?;
    conn.set_read_timeout(Some(Duration::from_secs(1))).ok()?;
    conn.set_write_timeout(Some(Duration::from_secs(1))).ok()?;
    Some(conn)
}

/// `INFO <section>` of the server at `port`, as `key:value` lines.
fn info(port: u16, section: &str) -> Option<String> {
    redis::cmd("INFO").arg(section).query(&mut conn(port)?).ok()
}

fn info_field(info: &str, key: &str) -> Option<String> {
    info.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .map(|v| v.trim().to_owned())
}

impl TestSentinel {
    /// A master, `replicas` replicas in sync with it, and three Sentinels that agree on
    /// it and see each other.
    pub fn start(replicas: usize) -> Option<TestSentinel> {
        let master = TestRedis::start()?;
        let master_port = master.port().to_string();
        let replicas: Vec<TestRedis> = (0..replicas)
            .map(|_| {
                TestRedis::start_with(&["--replicaof", "127.0.0.1", &master_port]).expect("replica")
            })
            .collect();
        let mut setup = TestSentinel {
            master,
            replicas,
            sentinels: Vec::new(),
        };
        // The replicas first, so the Sentinels' first INFO of the master lists them.
        let deadline = Instant::now() + READY_WITHIN;
        loop {
            let online = info(setup.master.port(), "replication").is_some_and(|i| {
                (0..setup.replicas.len()).all(|n| {
                    info_field(&i, &format!("slave{n}")).is_some_and(|s| s.contains("state=online"))
                })
            });
            if online {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "replicas not in sync within {READY_WITHIN:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        while setup.sentinels.len() < SENTINELS {
            if let Some(sentinel) = spawn_sentinel(setup.master.port()) {
                setup.sentinels.push(sentinel);
            }
        }
        // Every Sentinel knows the replicas and the two other Sentinels (hello messages
        // every 2 s): a failover can then reach its quorum.
        loop {
            let ready = setup.sentinels.iter().all(|(port, _, _)| {
                master_state(*port).is_some_and(|m| {
                    m.get("num-slaves").map(String::as_str)
                        == Some(&setup.replicas.len().to_string())
                        && m.get("num-other-sentinels").map(String::as_str)
                            == Some(&(SENTINELS - 1).to_string())
                })
            });
            if ready {
                return Some(setup);
            }
            assert!(
                Instant::now() < deadline,
                "sentinels not ready within {READY_WITHIN:?}: {:?}",
                setup
                    .sentinels
                    .iter()
                    .map(|s| master_state(s.0))
                    .collect::<Vec<_>>()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `redis://127.0.0.1:<port>` of every Sentinel.
    pub fn urls(&self) -> Vec<String> {
        self.sentinels
            .iter()
            .map(|s| format!("redis://127.0.0.1:{}", s.0))
            .collect()
    }

    /// The master's port as every answering Sentinel names it, when they all agree.
    pub fn master_port(&self) -> Option<u16> {
        let named: Vec<u16> = self
            .sentinels
            .iter()
            .filter_map(|(port, _, _)| {
                let addr: Vec<String> = redis::cmd("SENTINEL")
                    .arg("get-master-addr-by-name")
                    .arg(MASTER_NAME)
                    .query(&mut conn(*port)?)
                    .ok()?;
                addr.get(1)?.parse().ok()
            })
            .collect();
        match named.split_first() {
            Some((first, rest)) if rest.iter().all(|p| p == first) => Some(*first),
            _ => None,
        }
    }

    /// Waits until every Sentinel names a master other than `old`; its port.
    pub fn wait_new_master(&self, old: u16, within: Duration) -> u16 {
        let deadline = Instant::now() + within;
        loop {
            if let Some(port) = self.master_port().filter(|p| *p != old) {
                return port;
            }
            assert!(
                Instant::now() < deadline,
                "no failover away from port {old} within {within:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Waits until the server at `port` is a master with at least `replicas` replicas
/// online.
pub fn wait_replicas_online(port: u16, replicas: usize, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let online = info(port, "replication").is_some_and(|i| {
            info_field(&i, "role").as_deref() == Some("master")
                && (0..replicas).all(|n| {
                    info_field(&i, &format!("slave{n}")).is_some_and(|s| s.contains("state=online"))
                })
        });
        if online {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "port {port}: not a master with {replicas} replica(s) online within {within:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Sends `signal` (`STOP`, `CONT`, `KILL`) to a server.
pub fn signal(redis: &TestRedis, signal: &str) {
    let pid = redis.pid().expect("a running server");
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .expect("kill");
    assert!(status.success(), "kill -{signal} {pid}");
}

/// `SENTINEL MASTER m` of the Sentinel at `port`, as a map.
fn master_state(port: u16) -> Option<std::collections::HashMap<String, String>> {
    let flat: Vec<String> = redis::cmd("SENTINEL")
        .arg("master")
        .arg(MASTER_NAME)
        .query(&mut conn(port)?)
        .ok()?;
    Some(
        flat.chunks(2)
            .filter_map(|kv| Some((kv.first()?.clone(), kv.get(1)?.clone())))
            .collect(),
    )
}

/// One Sentinel on a free port, up and answering; `None` when the port was taken.
fn spawn_sentinel(master_port: u16) -> Option<(u16, tempfile::TempDir, Child)> {
    let port = free_port();
    let dir = tempfile::Builder::new()
        .prefix("alertgate-sentinel-")
        .tempdir()
        .expect("sentinel dir");
    let conf = dir.path().join("sentinel.conf");
    std::fs::write(
        &conf,
        format!(
            "port {port}\nbind 127.0.0.1\ndaemonize no\ndir {dir}\nlogfile {dir}/sentinel.log\n\
             sentinel monitor {MASTER_NAME} 127.0.0.1 {master_port} 2\n\
             sentinel down-after-milliseconds {MASTER_NAME} 1000\n\
             sentinel failover-timeout {MASTER_NAME} 3000\n",
            dir = dir.path().display()
        ),
    )
    .expect("sentinel conf");
    let mut command = if on_path("redis-sentinel") {
        let mut c = Command::new("redis-sentinel");
        c.arg(&conf);
        c
    } else {
        let mut c = Command::new("redis-server");
        c.arg(&conf).arg("--sentinel");
        c
    };
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn sentinel");
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return None;
        }
        let ours = info(port, "server")
            .and_then(|i| info_field(&i, "process_id"))
            .is_some_and(|pid| pid == child.id().to_string());
        if ours {
            return Some((port, dir, child));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

impl Drop for TestSentinel {
    fn drop(&mut self) {
        for (_, _, child) in &mut self.sentinels {
            let _ = child.kill();
            let _ = child.wait();
        }
        // The servers (TestRedis) kill themselves; a stopped one dies of SIGKILL too.
    }
}
