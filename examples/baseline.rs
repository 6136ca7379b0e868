//! Baseline HTTP server for the benchmark harness (`bench/run.sh`).
//!
//! The floor that alertgate is measured against: the same HTTP stack (hyper 1.x,
//! hyper-util auto builder, tokio multi-thread runtime) doing the least any webhook
//! gateway must do.
//!
//! Usage: `baseline MODE [LISTEN_ADDR] [REDIS_URL]`
//! - `bare`:  read the whole request body, answer 202 with a small JSON body.
//! - `redis`: the same plus exactly one Redis Lua call per request (EVALSHA of a script
//!   that INCRs one key), through a shared `ConnectionManager` — one round trip.
//! - `redis-ref`: the same, but the script is the reference lifecycle step any incident
//!   gateway on Redis needs (bench/README.md): on one hash keyed by the fingerprint,
//!   `EXISTS`, `HSET` of three fields, `HSET` of a first-seen field when new, `HINCRBY` of
//!   a counter, and `SADD` (open) or `SREM` (resolve) on one open set. Its Redis CPU per
//!   call (`INFO commandstats`) is what alertgate's apply script is compared against.
//!
//! Also answers `GET /-/ready` with 200 like alertgate, so the harness can wait on it.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use redis::aio::ConnectionManager;
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;

const ACCEPTED: &[u8] = br#"{"status":"accepted"}"#;
const BENCH_KEY: &str = "alertgate-baseline:counter";
const REF_OPEN_SET: &str = "alertgate-ref:open";
/// The reference lifecycle step (mode `redis-ref`). KEYS[1] the fingerprint's hash,
/// KEYS[2] the open set; ARGV[1] "open" | "resolve", ARGV[2] now (ms), ARGV[3] source.
const REF_SCRIPT: &str = r"
local new = redis.call('EXISTS', KEYS[1]) == 0
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'last_event_at', ARGV[2], 'source', ARGV[3])
if new then redis.call('HSET', KEYS[1], 'first_seen', ARGV[2]) end
redis.call('HINCRBY', KEYS[1], 'event_count', 1)
if ARGV[1] == 'open' then
  redis.call('SADD', KEYS[2], KEYS[1])
else
  redis.call('SREM', KEYS[2], KEYS[1])
end
if new then return 1 end
return 0
";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Bare,
    Redis,
    RedisRef,
}

/// The fingerprint the reference step keys on: the first `Name=` form value, else the
/// first JSON `"fingerprint"` or `"id"` string, else the whole body; hashed like
/// alertgate's keys (sha256 hex).
fn ref_fingerprint(body: &[u8]) -> String {
    fn after<'a>(body: &'a [u8], needle: &[u8], end: u8) -> Option<&'a [u8]> {
        let start = body.windows(needle.len()).position(|w| w == needle)? + needle.len();
        let rest = &body[start..];
        let len = rest.iter().position(|&b| b == end).unwrap_or(rest.len());
        Some(&rest[..len])
    }
    let fp = after(body, b"Name=", b'&')
        .or_else(|| after(body, b"\"fingerprint\":\"", b'"'))
        .or_else(|| after(body, b"\"id\":\"", b'"'))
        .unwrap_or(body);
    format!("alertgate-ref:fp:{}", hex::encode(Sha256::digest(fp)))
}

/// "resolve" when the body reads as an end (StatusCake Up, resolved, operational).
fn ref_action(body: &[u8]) -> &'static str {
    let has = |n: &[u8]| body.windows(n.len()).any(|w| w == n);
    if has(b"Status=Up") || has(b"\"resolved\"") || has(b"\"operational\"") {
        "resolve"
    } else {
        "open"
    }
}

struct State {
    mode: Mode,
    redis: Option<ConnectionManager>,
    script: redis::Script,
}

fn json(status: StatusCode, body: &'static [u8]) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from_static(body)))
        .expect("static response")
}

async fn handle(
    state: Arc<State>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    if req.method() == Method::GET && req.uri().path() == "/-/ready" {
        return Ok(json(StatusCode::OK, br#"{"ready":true}"#));
    }
    // Read the whole body, as any gateway must before it can decode a webhook.
    let body = match req.into_body().collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return Ok(json(StatusCode::BAD_REQUEST, br#"{"error":"body"}"#)),
    };
    std::hint::black_box(&body);
    if state.mode != Mode::Bare {
        // Cloning a ConnectionManager is cheap: all clones multiplex one connection.
        let mut con = state.redis.clone().expect("redis mode has a connection");
        let res: redis::RedisResult<i64> = if state.mode == Mode::Redis {
            state.script.key(BENCH_KEY).invoke_async(&mut con).await
        } else {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis());
            state
                .script
                .key(ref_fingerprint(&body))
                .key(REF_OPEN_SET)
                .arg(ref_action(&body))
                .arg(now.to_string())
                .arg("bench")
                .invoke_async(&mut con)
                .await
        };
        if res.is_err() {
            return Ok(json(
                StatusCode::SERVICE_UNAVAILABLE,
                br#"{"error":"store unavailable"}"#,
            ));
        }
    }
    Ok(json(StatusCode::ACCEPTED, ACCEPTED))
}

fn usage() -> ! {
    eprintln!("usage: baseline bare|redis|redis-ref [LISTEN_ADDR] [REDIS_URL]");
    std::process::exit(2);
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mode = match args.first().map(String::as_str) {
        Some("bare") => Mode::Bare,
        Some("redis") => Mode::Redis,
        Some("redis-ref") => Mode::RedisRef,
        _ => usage(),
    };
    let listen: SocketAddr = args
        .get(1)
        .map_or("127.0.0.1:8080", String::as_str)
        .parse()?;
    let redis_url = args
        .get(2)
        .cloned()
        .unwrap_or_else(|| "redis://127.0.0.1:6379/".to_string());

    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(serve(mode, listen, redis_url))
}

async fn serve(mode: Mode, listen: SocketAddr, redis_url: String) -> anyhow::Result<()> {
    let script = redis::Script::new(if mode == Mode::RedisRef {
        REF_SCRIPT
    } else {
        "return redis.call('INCR', KEYS[1])"
    });
    let redis = match mode {
        Mode::Bare => None,
        Mode::Redis | Mode::RedisRef => {
            let client = redis::Client::open(redis_url.as_str())?;
            let mut con = ConnectionManager::new(client).await?;
            // Load once so the hot path is a single EVALSHA round trip.
            script.prepare_invoke().load_async(&mut con).await?;
            Some(con)
        }
    };
    let state = Arc::new(State {
        mode,
        redis,
        script,
    });

    let listener = TcpListener::bind(listen).await?;
    eprintln!(
        "baseline {} listening on {}",
        match mode {
            Mode::Bare => "bare",
            Mode::Redis => "redis",
            Mode::RedisRef => "redis-ref",
        },
        listener.local_addr()?
    );
    let builder = Arc::new(auto::Builder::new(TokioExecutor::new()));

    loop {
        let (stream, _) = match listener.accept().await {
            Ok(conn) => conn,
            Err(err) => {
                // e.g. EMFILE under load: back off briefly instead of spinning.
                eprintln!("accept error: {err}");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let state = state.clone();
        let builder = builder.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| handle(state.clone(), req));
            let _ = builder
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
