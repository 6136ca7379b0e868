//! Keeping a connection to Redis: a background task connects, notices a lost connection
//! (a call's I/O error, a timeout, a `READONLY` demoted master, or a failed health ping)
//! and reconnects with capped exponential backoff (100 ms doubling to 5 s, each wait
//! jittered to 50–100 %). Calls never wait for it: with no connection they fail at once
//! (`StoreError::Unavailable`, HTTP 503). It logs once per change of state, not per
//! attempt.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use rand::Rng;
use redis::{ErrorKind, RedisError, Value};
use serde::Serialize;
use tokio::sync::{watch, Notify};

use super::conn::{Conn, Connector};

const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// While connected, a `PING` this often notices a connection lost without traffic.
const HEALTH_EVERY: Duration = Duration::from_secs(1);

/// The store's connection state (`/-/ready`, `alertgate_store_up`, `/-/config`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    /// Not connected yet since the start.
    Connecting,
    /// Connected: calls go to Redis.
    Up,
    /// Was up or tried, lost or refused: reconnecting in the background.
    Down,
    /// Redis answers but holds a key layout this version cannot use (`layout` says why).
    Incompatible,
}

/// Why a fresh connection cannot be used: a Redis error (retry), or a keyspace this
/// version must not touch (retry too, slowly, and say why).
pub(super) enum PrepareError {
    Redis(RedisError),
    Incompatible(String),
}

pub(super) type Prepare = Arc<
    dyn Fn(Conn) -> Pin<Box<dyn Future<Output = Result<(), PrepareError>> + Send>> + Send + Sync,
>;

/// A cheap-clone handle on the kept connection.
#[derive(Clone)]
pub(super) struct Link {
    shared: Arc<Shared>,
}

struct Shared {
    /// The live connection and its generation; `None` while down.
    conn: ArcSwapOption<(u64, Conn)>,
    generation: AtomicU64,
    /// A call saw the connection fail: wake the task.
    broken: Arc<Notify>,
    state: watch::Sender<Health>,
    /// The last reason the store is not up (an error, or the layout problem).
    reason: Mutex<Option<String>>,
    /// Dropped with the last handle: the task ends.
    _alive: watch::Sender<()>,
}

impl Link {
    /// Starts the keeper task (on the current tokio runtime); the first attempt is at once.
    pub(super) fn start(connector: Connector, prepare: Prepare) -> Link {
        let (alive, alive_rx) = watch::channel(());
        let shared = Arc::new(Shared {
            conn: ArcSwapOption::empty(),
            generation: AtomicU64::new(0),
            broken: Arc::new(Notify::new()),
            state: watch::channel(Health::Connecting).0,
            reason: Mutex::new(None),
            _alive: alive,
        });
        let task = Keeper {
            shared: Arc::downgrade(&shared),
            broken: Arc::clone(&shared.broken),
            alive: alive_rx,
            connector,
            prepare,
        };
        tokio::spawn(task.run());
        Link { shared }
    }

    pub(super) fn health(&self) -> Health {
        *self.shared.state.borrow()
    }

    pub(super) fn reason(&self) -> Option<String> {
        self.shared
            .reason
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The live connection, or why there is none.
    pub(super) fn get(&self) -> Result<(u64, Conn), String> {
        match self.shared.conn.load_full() {
            Some(live) => Ok((live.0, live.1.clone())),
            None => Err(match self.health() {
                Health::Incompatible => {
                    format!("redis key layout: {}", self.reason().unwrap_or_default())
                }
                _ => "redis is not connected (reconnecting in the background)".to_owned(),
            }),
        }
    }

    /// Tells the keeper that a call on connection `generation` failed with `e`; when
    /// the error means the connection (or the master behind it) is gone, it is dropped
    /// at once, so later calls fail fast until the keeper has a new one.
    pub(super) fn report(&self, generation: u64, e: Option<&RedisError>) {
        if e.is_some_and(|e| !is_connection_error(e)) {
            return;
        }
        let current = self.shared.conn.load();
        if current.as_ref().is_some_and(|live| live.0 == generation) {
            self.shared.conn.store(None);
            if let Some(e) = e {
                set_reason(&self.shared, e.to_string());
            }
            self.shared.broken.notify_one();
        }
    }

    /// Waits until the state is no longer `Connecting`, or `within` passes.
    pub(super) async fn settled(&self, within: Duration) -> Health {
        let mut rx = self.shared.state.subscribe();
        let _ = tokio::time::timeout(within, rx.wait_for(|h| *h != Health::Connecting)).await;
        self.health()
    }
}

/// Errors after which the connection is not worth keeping: I/O, timeouts, a refused or
/// dropped connection, a server that stopped being the master.
fn is_connection_error(e: &RedisError) -> bool {
    e.is_io_error()
        || e.is_timeout()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || matches!(e.kind(), ErrorKind::ReadOnly | ErrorKind::MasterDown)
}

fn set_reason(shared: &Shared, reason: String) {
    *shared.reason.lock().unwrap_or_else(PoisonError::into_inner) = Some(reason);
}

struct Keeper {
    shared: Weak<Shared>,
    broken: Arc<Notify>,
    alive: watch::Receiver<()>,
    connector: Connector,
    prepare: Prepare,
}

impl Keeper {
    async fn run(mut self) {
        let mut delay = BACKOFF_MIN;
        let mut down_since: Option<Instant> = None;
        let mut ever_up = false;
        loop {
            let attempt = match self.connector.connect().await {
                Ok(conn) => match (self.prepare)(conn.clone()).await {
                    Ok(()) => Ok(conn),
                    Err(e) => Err(e),
                },
                Err(e) => Err(PrepareError::Redis(e)),
            };
            let Some(shared) = self.shared.upgrade() else {
                return;
            };
            match attempt {
                Ok(conn) => {
                    let generation = shared.generation.fetch_add(1, Ordering::Relaxed) + 1;
                    shared
                        .conn
                        .store(Some(Arc::new((generation, conn.clone()))));
                    *shared.reason.lock().unwrap_or_else(PoisonError::into_inner) = None;
                    shared.state.send_replace(Health::Up);
                    match down_since.take() {
                        Some(since) if ever_up => tracing::info!(
                            down_for = ?since.elapsed(),
                            "redis reconnected"
                        ),
                        _ => tracing::info!("redis connected"),
                    }
                    ever_up = true;
                    delay = BACKOFF_MIN;
                    drop(shared);
                    if !self.watch(generation, conn).await {
                        return;
                    }
                    down_since = Some(Instant::now());
                    if let Some(shared) = self.shared.upgrade() {
                        shared.state.send_replace(Health::Down);
                        tracing::warn!(
                            error = shared
                                .reason
                                .lock()
                                .unwrap_or_else(PoisonError::into_inner)
                                .as_deref()
                                .unwrap_or("gone"),
                            "redis connection lost; reconnecting in the background"
                        );
                    }
                    // The first reconnect attempt is at once.
                    continue;
                }
                Err(PrepareError::Redis(e)) => {
                    let was = *shared.state.borrow();
                    set_reason(&shared, e.to_string());
                    if was != Health::Down {
                        down_since.get_or_insert_with(Instant::now);
                        shared.state.send_replace(Health::Down);
                        tracing::warn!(error = %e, "redis unreachable; retrying in the background");
                    }
                }
                Err(PrepareError::Incompatible(why)) => {
                    let known = shared
                        .reason
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .as_deref()
                        == Some(why.as_str());
                    if !known || *shared.state.borrow() != Health::Incompatible {
                        tracing::error!("redis key layout: {why}");
                    }
                    set_reason(&shared, why);
                    shared.state.send_replace(Health::Incompatible);
                    delay = BACKOFF_MAX;
                }
            }
            drop(shared);
            let wait = delay.mul_f64(rand::rng().random_range(0.5..=1.0));
            delay = (delay * 2).min(BACKOFF_MAX);
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                _ = self.alive.changed() => return,
            }
        }
    }

    /// Watches a live connection until it is lost (`true`) or the store is gone
    /// (`false`).
    async fn watch(&mut self, generation: u64, mut conn: Conn) -> bool {
        loop {
            tokio::select! {
                () = self.broken.notified() => {}
                () = tokio::time::sleep(HEALTH_EVERY) => {
                    let ping = tokio::time::timeout(
                        super::conn::RESPONSE_TIMEOUT,
                        redis::cmd("PING").query_async::<Value>(&mut conn),
                    )
                    .await;
                    let failed = match ping {
                        Ok(Ok(_)) => None,
                        Ok(Err(e)) if !is_connection_error(&e) => None,
                        Ok(Err(e)) => Some(e.to_string()),
                        Err(_) => Some("health ping timed out".to_owned()),
                    };
                    if let Some(why) = failed {
                        let Some(shared) = self.shared.upgrade() else {
                            return false;
                        };
                        set_reason(&shared, why);
                        shared.conn.store(None);
                    }
                }
                _ = self.alive.changed() => return false,
            }
            let Some(shared) = self.shared.upgrade() else {
                return false;
            };
            // A stale wake-up (a report about an older connection) changes nothing.
            let still = shared
                .conn
                .load()
                .as_ref()
                .is_some_and(|live| live.0 == generation);
            if !still {
                return true;
            }
        }
    }
}
