//! A real gateway on `127.0.0.1:0` with a temp config dir, and an HTTP client for it.
//!
//! Memory gateways always run. A Redis gateway runs on a `redis-server` of its own
//! (`tests/support/redis.rs`), stopped with the gateway; without one on PATH the test is
//! skipped, or fails under `ALERTGATE_REQUIRE_ALL=1`.

use std::net::SocketAddr;
use std::path::PathBuf;

use alertgate::config::{self, Overrides, Snapshot, StoreSettings};
use alertgate::server::{self, AppState};
use alertgate::store::{MemorySettings, MemoryStore, RedisSettings, RedisStore, Store};
use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use crate::test_redis::TestRedis;

pub const STATUSCAKE_TOKEN: &str = "sc-test-token";
pub const STATUSPAGE_TOKEN: &str = "sp-test-token";
pub const GENERIC_TOKEN: &str = "generic-test-token";
pub const ALERTMANAGER_TOKEN: &str = "am-test-token";
pub const GRAFANA_TOKEN: &str = "grafana-test-token";
pub const ADMIN_TOKEN: &str = "admin-test-token";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Memory,
    Redis,
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixture(name: &str) -> Vec<u8> {
    let path = repo_root().join("tests/fixtures").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()))
}

/// The store section of a config for a Redis at `url`.
pub fn redis_store_yaml(url: &str) -> String {
    format!("store:\n  backend: redis\n  url: \"{url}\"\n  key_prefix: \"alertgate-test:\"")
}

/// Writes a config dir (config.yaml + a copy of the shipped mappings) and builds its
/// snapshot. `extra` is appended to the config (limits and the like).
pub fn config_dir(store_yaml: &str, extra: &str) -> (tempfile::TempDir, Snapshot) {
    config_dir_with(store_yaml, "", extra)
}

/// As `config_dir`, with `generic_extra` (indented keys) added to the `generic` source.
pub fn config_dir_with(
    store_yaml: &str,
    generic_extra: &str,
    extra: &str,
) -> (tempfile::TempDir, Snapshot) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mappings = dir.path().join("mappings");
    std::fs::create_dir(&mappings).expect("mappings dir");
    for entry in std::fs::read_dir(repo_root().join("mappings")).expect("shipped mappings") {
        let path = entry.expect("entry").path();
        if let Some(name) = path.file_name() {
            std::fs::copy(&path, mappings.join(name)).expect("copy mapping");
        }
    }
    // A mapping that decodes by Content-Type (the shipped ones force theirs), so 415 is
    // reachable.
    std::fs::write(
        mappings.join("generic.yaml"),
        "integration: generic\nrules:\n  - name: any\n    action:\n      from: state\n      map: { down: open, up: resolve }\n    fingerprint: \"{{ id }}\"\n    priority: medium\n",
    )
    .expect("generic mapping");
    let text = format!(
        "listen: 127.0.0.1:0\nmappings_dir: mappings\n{store_yaml}\nsources:\n  generic:\n    integration: generic\n    tokens: [\"{GENERIC_TOKEN}\"]\n{generic_extra}\n  statuscake:\n    integration: statuscake\n    tokens: [\"{STATUSCAKE_TOKEN}\", \"sc-rotated-token\"]\n  statuspage:\n    integration: statuspage\n    tokens: [\"{STATUSPAGE_TOKEN}\"]\n  alertmanager:\n    integration: alertmanager\n    tokens: [\"{ALERTMANAGER_TOKEN}\"]\n  grafana:\n    integration: grafana\n    tokens: [\"{GRAFANA_TOKEN}\"]\n    methods: [POST, PUT]\nadmin_token: \"{ADMIN_TOKEN}\"\n{extra}\n"
    );
    let path = dir.path().join("config.yaml");
    std::fs::write(&path, text).expect("write config");
    let snapshot = config::build_snapshot(&path, &Overrides::default()).unwrap_or_else(|errors| {
        panic!(
            "test config: {}",
            errors
                .iter()
                .map(std::string::ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        )
    });
    (dir, snapshot)
}

/// A gateway running in this process.
pub struct Gateway {
    pub addr: SocketAddr,
    pub state: AppState,
    pub client: Client<HttpConnector, Full<Bytes>>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
    dir: Option<tempfile::TempDir>,
    /// The Redis this gateway owns (none for memory gateways and replicas); stopped after
    /// the server task.
    redis: Option<TestRedis>,
}

impl Gateway {
    /// A gateway with the given backend; `None` when Redis is skipped (no `redis-server`
    /// on PATH).
    pub async fn start(backend: Backend) -> Option<Gateway> {
        Self::start_with(backend, "").await
    }

    /// As `start`, with `extra` appended to the config.
    pub async fn start_with(backend: Backend, extra: &str) -> Option<Gateway> {
        Self::start_generic(backend, "", extra).await
    }

    /// As `start_with`, with `generic_extra` added to the `generic` source's settings.
    pub async fn start_generic(
        backend: Backend,
        generic_extra: &str,
        extra: &str,
    ) -> Option<Gateway> {
        match backend {
            Backend::Memory => {
                let (dir, snapshot) =
                    config_dir_with("store:\n  backend: memory", generic_extra, extra);
                let store = Store::Memory(MemoryStore::new(MemorySettings {
                    event_stream_len: 1000,
                    ..MemorySettings::default()
                }));
                Some(Gateway::serve(AppState::new(snapshot, store), Some(dir), None).await)
            }
            Backend::Redis => {
                let redis = TestRedis::start()?;
                let (dir, snapshot) =
                    config_dir_with(&redis_store_yaml(&redis.url()), generic_extra, extra);
                let store = redis_store(&snapshot).await;
                Some(Gateway::serve(AppState::new(snapshot, store), Some(dir), Some(redis)).await)
            }
        }
    }

    /// A gateway whose `generic` source has `generic_extra` (indented keys such as
    /// `    auto_resolve_after: 1s`) and whose store has `store_extra` (`  buckets: 4`).
    pub async fn start_policies(
        backend: Backend,
        store_extra: &str,
        generic_extra: &str,
    ) -> Option<Gateway> {
        match backend {
            Backend::Memory => {
                let (dir, snapshot) =
                    config_dir_with("store:\n  backend: memory", generic_extra, "");
                let store = Store::Memory(MemoryStore::new(MemorySettings::default()));
                Some(Gateway::serve(AppState::new(snapshot, store), Some(dir), None).await)
            }
            Backend::Redis => {
                let redis = TestRedis::start()?;
                let store_yaml = format!("{}\n{store_extra}", redis_store_yaml(&redis.url()));
                let (dir, snapshot) = config_dir_with(&store_yaml, generic_extra, "");
                let store = redis_store(&snapshot).await;
                Some(Gateway::serve(AppState::new(snapshot, store), Some(dir), Some(redis)).await)
            }
        }
    }

    /// A memory gateway that reloads from its config file (as `serve` does, without the
    /// file watcher): the `/v1/sources` writes need one. `extra` is appended to the config.
    pub async fn start_reloading(extra: &str) -> Gateway {
        let (dir, snapshot) = config_dir("store:\n  backend: memory", extra);
        let path = dir.path().join("config.yaml");
        let reloader = alertgate::app::reloader(
            &path,
            Overrides::default(),
            snapshot,
            alertgate::metrics::Metrics::new(),
        );
        let store = Store::Memory(MemoryStore::new(MemorySettings::default()));
        Gateway::serve(AppState::with_reloader(reloader, store), Some(dir), None).await
    }

    /// The gateway's config folder (config.yaml, mappings/).
    pub fn dir(&self) -> &std::path::Path {
        self.dir.as_ref().expect("gateway with a config dir").path()
    }

    /// Sends a request with the admin token and a JSON body.
    pub async fn admin_send(
        &self,
        method: Method,
        path: &str,
        body: &str,
    ) -> (StatusCode, serde_json::Value) {
        let auth = format!("Bearer {ADMIN_TOKEN}");
        let (status, _, json) = self
            .send(
                method,
                path,
                &[
                    ("authorization", &auth),
                    ("content-type", "application/json"),
                ],
                Bytes::from(body.to_owned()),
            )
            .await;
        (status, json)
    }

    /// Serves `state` on a fresh port.
    pub async fn serve(
        state: AppState,
        dir: Option<tempfile::TempDir>,
        redis: Option<TestRedis>,
    ) -> Gateway {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(server::run(listener, state.clone(), async move {
            let _ = rx.await;
        }));
        Gateway {
            addr,
            state,
            client: Client::builder(TokioExecutor::new()).build_http(),
            shutdown: Some(tx),
            task: Some(task),
            dir,
            redis,
        }
    }

    /// Another gateway on the same state store (Redis: a separate connection), as a second
    /// replica would be. Stop it before the gateway it copies (which owns the Redis).
    pub async fn replica(&self) -> Gateway {
        let snapshot = (*self.state.snapshot()).clone();
        let store = match self.state.store() {
            Store::Memory(m) => Store::Memory(m.clone()),
            Store::Redis(_) => redis_store(&snapshot).await,
        };
        Gateway::serve(AppState::new(snapshot, store), None, None).await
    }

    /// Stops accepting and waits for `run` to return.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("server task").expect("server run");
        }
        drop(self.redis.take());
    }

    /// The URL of the gateway's own Redis, when it has one.
    pub fn redis_url(&self) -> Option<String> {
        self.redis.as_ref().map(TestRedis::url)
    }

    pub fn url(&self, path_and_query: &str) -> String {
        format!("http://{}{path_and_query}", self.addr)
    }

    /// Sends one request; returns status, headers and the body as JSON (null if empty).
    pub async fn send(
        &self,
        method: Method,
        path_and_query: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> (StatusCode, HeaderMap, serde_json::Value) {
        let mut builder = Request::builder()
            .method(method)
            .uri(self.url(path_and_query));
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let request = builder.body(Full::new(body.into())).expect("request");
        let response = self.client.request(request).await.expect("response");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        let json = if bytes.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                panic!("non-JSON body {:?}: {e}", String::from_utf8_lossy(&bytes))
            })
        };
        (status, headers, json)
    }

    /// POSTs a fixture to a source with its token in the query.
    pub async fn post_fixture(
        &self,
        source: &str,
        fixture_name: &str,
    ) -> (StatusCode, serde_json::Value) {
        let (token, content_type) = match source {
            "statuscake" => (STATUSCAKE_TOKEN, "application/x-www-form-urlencoded"),
            _ => (STATUSPAGE_TOKEN, "application/json"),
        };
        let (status, _, json) = self
            .send(
                Method::POST,
                &format!("/hooks/{source}?token={token}"),
                &[("content-type", content_type)],
                fixture(&format!("{source}/{fixture_name}")),
            )
            .await;
        (status, json)
    }

    /// `GET` an admin route with the admin token.
    pub async fn admin_get(&self, path_and_query: &str) -> (StatusCode, serde_json::Value) {
        let auth = format!("Bearer {ADMIN_TOKEN}");
        let (status, _, json) = self
            .send(
                Method::GET,
                path_and_query,
                &[("authorization", &auth)],
                Bytes::new(),
            )
            .await;
        (status, json)
    }

    /// Every incident, newest first (one big page).
    pub async fn incidents(&self) -> Vec<serde_json::Value> {
        let (status, json) = self.admin_get("/v1/incidents?limit=500").await;
        assert_eq!(status, StatusCode::OK, "{json}");
        json["incidents"].as_array().cloned().unwrap_or_default()
    }
}

pub async fn redis_store(snapshot: &Snapshot) -> Store {
    let StoreSettings::Redis(settings) = &snapshot.settings.store else {
        panic!("not a redis config");
    };
    let settings: RedisSettings = settings.clone();
    let target = format!("{:?}", settings.target);
    let store = RedisStore::connect(settings)
        .await
        .unwrap_or_else(|e| panic!("redis store on {target}: {e}"));
    Store::Redis(store)
}
