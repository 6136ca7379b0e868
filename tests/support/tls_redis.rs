//! A TLS-only Redis of a test's own: `redis-server --port 0 --tls-port P` with a CA and a
//! server certificate (SAN `127.0.0.1`, `localhost`) made by `rcgen` in its temp dir,
//! clients not asked for certificates (`--tls-auth-clients no`). Killed (dir removed)
//! when dropped.
//!
//! Without `redis-server` on PATH, `start` prints a skip line and returns `None`, or
//! panics under `ALERTGATE_REQUIRE_ALL=1`. A `redis-server` built without TLS fails the
//! start with its own log line.

#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};

pub struct TlsRedis {
    port: u16,
    dir: tempfile::TempDir,
    child: Child,
}

/// A CA: its certificate (PEM) and what signs with it.
pub struct TestCa {
    pub pem: String,
    cert: rcgen::Certificate,
    key: KeyPair,
}

impl TestCa {
    pub fn new(name: &str) -> TestCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().expect("ca key");
        let cert = params.self_signed(&key).expect("ca cert");
        TestCa {
            pem: cert.pem(),
            cert,
            key,
        }
    }

    /// A server certificate for `127.0.0.1` and `localhost`: (cert PEM, key PEM).
    pub fn server_cert(&self) -> (String, String) {
        let mut params =
            CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
                .expect("server params");
        params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        let key = KeyPair::generate().expect("server key");
        let cert = params
            .signed_by(&key, &self.cert, &self.key)
            .expect("server cert");
        (cert.pem(), key.serialize_pem())
    }

    /// Writes the CA certificate to `dir/<name>`; its path.
    pub fn write(&self, dir: &Path, name: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, &self.pem).expect("write ca");
        path
    }
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

impl TlsRedis {
    /// A TLS-only server whose certificate `ca` signed.
    pub fn start(ca: &TestCa) -> Option<TlsRedis> {
        if !on_path("redis-server") {
            assert!(
                std::env::var("ALERTGATE_REQUIRE_ALL").as_deref() != Ok("1"),
                "redis-server not found on PATH (ALERTGATE_REQUIRE_ALL=1: Redis tests may not be skipped)"
            );
            eprintln!("skipped: redis-server not found on PATH");
            return None;
        }
        let dir = tempfile::Builder::new()
            .prefix("alertgate-tls-redis-")
            .tempdir()
            .expect("tls redis dir");
        let (cert, key) = ca.server_cert();
        std::fs::write(dir.path().join("server.pem"), cert).expect("server cert");
        std::fs::write(dir.path().join("server.key"), key).expect("server key");
        let ca_file = ca.write(dir.path(), "ca.pem");
        let mut last = String::new();
        for _ in 0..10 {
            let port = free_port();
            match spawn(dir.path(), &ca_file, port) {
                Ok(child) => return Some(TlsRedis { port, dir, child }),
                Err(e) => last = e,
            }
        }
        panic!("TLS redis-server did not start: {last}");
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `rediss://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("rediss://127.0.0.1:{}", self.port)
    }

    /// The server's log (to show why a handshake failed).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("redis.log")).unwrap_or_default()
    }
}

fn spawn(dir: &Path, ca_file: &Path, port: u16) -> Result<Child, String> {
    let log = dir.join("redis.log");
    let _ = std::fs::remove_file(&log);
    let mut child = Command::new("redis-server")
        .args(["--port", "0", "--tls-port", &port.to_string()])
        .arg("--tls-cert-file")
        .arg(dir.join("server.pem"))
        .arg("--tls-key-file")
        .arg(dir.join("server.key"))
        .arg("--tls-ca-cert-file")
        .arg(ca_file)
        .args(["--tls-auth-clients", "no", "--bind", "127.0.0.1", "--dir"])
        .arg(dir)
        .arg("--logfile")
        .arg(&log)
        .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("spawn redis-server: {e}"))?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if let Ok(Some(status)) = child.try_wait() {
            let tail: Vec<&str> = text.lines().rev().take(5).collect();
            return Err(format!(
                "exited with {status} on TLS port {port}: {}",
                tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
            ));
        }
        if text.contains("Ready to accept connections")
            && TcpStream::connect(("127.0.0.1", port)).is_ok()
        {
            return Ok(child);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
    Err(format!("no TLS listener on port {port} within 10 s"))
}

impl Drop for TlsRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
