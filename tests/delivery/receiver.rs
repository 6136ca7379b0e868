//! A local HTTP receiver: records every request and answers what the test scripts.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use alertgate::config::{Snapshot, StoreSettings};
use alertgate::delivery::Delivery;
use alertgate::server::AppState;
use alertgate::store::{MemorySettings, MemoryStore, RedisStore, Store};
use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

use crate::harness::{config_dir, redis_store_yaml, Backend, Gateway, TestRedis, GENERIC_TOKEN};

#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    pub answered: u16,
}

impl Received {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }
    pub fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    }
}

/// Answers request number `n` (0-based) with a status after a delay.
pub type Script = Arc<dyn Fn(usize) -> (u16, Duration) + Send + Sync>;

pub struct Receiver {
    pub addr: SocketAddr,
    pub log: Arc<Mutex<Vec<Received>>>,
    pub script: Arc<Mutex<Script>>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    pub async fn start(script: Script) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        Self::on(listener, script)
    }

    pub fn on(listener: TcpListener, script: Script) -> Receiver {
        let addr = listener.local_addr().expect("addr");
        let log = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(script));
        let (l, s) = (Arc::clone(&log), Arc::clone(&script));
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (l, s) = (Arc::clone(&l), Arc::clone(&s));
                let service = service_fn(move |req: Request<Incoming>| {
                    let (l, s) = (Arc::clone(&l), Arc::clone(&s));
                    async move {
                        let headers = req.headers().clone();
                        let body = req
                            .into_body()
                            .collect()
                            .await
                            .map(http_body_util::Collected::to_bytes)
                            .unwrap_or_default();
                        let n = l.lock().unwrap().len();
                        let f = Arc::clone(&*s.lock().unwrap());
                        let (status, delay) = f(n);
                        l.lock().unwrap().push(Received {
                            headers,
                            body: body.to_vec(),
                            answered: status,
                        });
                        tokio::time::sleep(delay).await;
                        let mut r = Response::new(Full::new(Bytes::from_static(b"{}")));
                        *r.status_mut() = StatusCode::from_u16(status).unwrap();
                        Ok::<_, std::convert::Infallible>(r)
                    }
                });
                tokio::spawn(async move {
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Receiver {
            addr,
            log,
            script,
            task,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    pub fn received(&self) -> Vec<Received> {
        self.log.lock().unwrap().clone()
    }

    pub fn accepted(&self) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.answered < 300)
            .collect()
    }

    pub fn set_script(&self, script: Script) {
        *self.script.lock().unwrap() = script;
    }

    pub fn stop(&self) {
        self.task.abort();
    }
}

pub fn always(status: u16) -> Script {
    Arc::new(move |_| (status, Duration::ZERO))
}

/// A gateway (memory, or Redis on `redis`) with `sinks_yaml` appended and delivery running.
pub async fn gateway(
    backend: Backend,
    extra: &str,
    redis: Option<&TestRedis>,
) -> (Gateway, Delivery) {
    let (dir, snapshot, store) = match backend {
        Backend::Memory => {
            let (dir, snapshot) = config_dir("store:\n  backend: memory", extra);
            let store = Store::Memory(MemoryStore::new(MemorySettings::default()));
            (dir, snapshot, store)
        }
        Backend::Redis => {
            let url = redis.expect("redis").url();
            let (dir, snapshot) = config_dir(&bucketed_yaml(&url), extra);
            let store = redis_of(&snapshot).await;
            (dir, snapshot, store)
        }
    };
    serve(snapshot, store, Some(dir)).await
}

/// Buckets of the delivery tests' Redis keyspaces (as the store conformance runs): several
/// streams to read, acknowledge, claim and trim.
pub const BUCKETS: u16 = 4;

/// The `store:` block of a Redis at `url` with `BUCKETS` buckets.
pub fn bucketed_yaml(url: &str) -> String {
    format!("{}\n  buckets: {BUCKETS}", redis_store_yaml(url))
}

/// Every bucket's event stream key of the test prefix.
pub fn stream_keys() -> Vec<String> {
    (0..BUCKETS)
        .map(|b| format!("alertgate-test:{{b{b}}}events"))
        .collect()
}

pub async fn redis_of(snapshot: &Snapshot) -> Store {
    let StoreSettings::Redis(s) = &snapshot.settings.store else {
        panic!("not redis")
    };
    Store::Redis(RedisStore::connect(s.clone()).await.expect("redis"))
}

pub async fn serve(
    snapshot: Snapshot,
    store: Store,
    dir: Option<tempfile::TempDir>,
) -> (Gateway, Delivery) {
    let redis_settings = match &snapshot.settings.store {
        StoreSettings::Redis(s) => Some(s.clone()),
        StoreSettings::Memory(_) => None,
    };
    let state = AppState::new(snapshot, store.clone());
    let delivery = Delivery::start(
        &store,
        redis_settings,
        Arc::clone(state.snapshot_cell()),
        state.metrics().clone(),
    );
    let state = state.with_delivery(delivery.clone());
    (Gateway::serve(state, dir, None).await, delivery)
}

/// Sends one generic webhook: `down` opens, `up` resolves incident `id`.
pub async fn hook(gw: &Gateway, id: &str, state: &str) {
    let (status, _, body) = gw
        .send(
            http::Method::POST,
            &format!("/hooks/generic?token={GENERIC_TOKEN}"),
            &[("content-type", "application/json")],
            format!("{{\"id\":\"{id}\",\"state\":\"{state}\"}}"),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
}

/// Waits (generously) until `done` holds; panics with `what` otherwise.
pub async fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits for the delivery supervisor to have started its sinks.
pub async fn started(delivery: &Delivery) {
    for _ in 0..200 {
        if delivery.sinks().await.iter().all(|s| s.running) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("sinks did not start");
}
