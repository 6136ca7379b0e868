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
use tokio::net::TcpListener;

const ACCEPTED: &[u8] = br#"{"status":"accepted"}"#;
const BENCH_KEY: &str = "alertgate-baseline:counter";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Bare,
    Redis,
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
    if state.mode == Mode::Redis {
        // Cloning a ConnectionManager is cheap: all clones multiplex one connection.
        let mut con = state.redis.clone().expect("redis mode has a connection");
        let res: redis::RedisResult<i64> = state.script.key(BENCH_KEY).invoke_async(&mut con).await;
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
    eprintln!("usage: baseline bare|redis [LISTEN_ADDR] [REDIS_URL]");
    std::process::exit(2);
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mode = match args.first().map(String::as_str) {
        Some("bare") => Mode::Bare,
        Some("redis") => Mode::Redis,
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
    let script = redis::Script::new("return redis.call('INCR', KEYS[1])");
    let redis = match mode {
        Mode::Bare => None,
        Mode::Redis => {
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
        if mode == Mode::Bare { "bare" } else { "redis" },
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
