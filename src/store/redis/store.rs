//! The Redis store handle: the apply step (one `apply.lua` run per outcome, in the key's
//! bucket), reads by id, and the connection kept by `link`. Listings and event reads are
//! `read`'s.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use redis::{ErrorKind, RedisError, RedisResult, Script, ScriptInvocation, Value};

use super::conn::{redact, Conn, Connector, RedisTarget};
use super::keys::{bucket_of, Keys, STREAM_HARD_CAP};
use super::layout::prepare;
use super::link::{Health, Link, Prepare};
use super::record::{self, parse_incident};
use super::reply::{field_pairs, parse_applied};
use super::settings::RedisSettings;
use crate::outcome::{Action, Outcome, Priority};
use crate::store::model::{parse_id, step_of, Applied, Incident, StoreError};

/// A last bound on any one store call.
const CALL_TIMEOUT: Duration = Duration::from_secs(5);
/// `connect` waits this long for the first connection.
const FIRST_CONNECT: Duration = Duration::from_secs(5);

/// A cheap-clone handle on the Redis incident store.
#[derive(Clone)]
pub struct RedisStore {
    pub(super) link: Link,
    pub(super) keys: Keys,
    apply_script: Arc<Script>,
    pub(super) event_stream_len: usize,
    /// `resolved_ttl` in ms, at least 1 (`PEXPIRE` rejects 0).
    pub(super) resolved_ttl_ms: u64,
    pub(super) min_replicas_ack: u32,
    replica_ack_timeout_ms: u64,
    /// What `/-/config` shows of the target (no password).
    target: Arc<str>,
}

impl RedisStore {
    /// The `MAXLEN ~` every script's `XADD` to a bucket's stream uses: a last resort well
    /// above `event_stream_len`, which the delivery task trims to (§11).
    pub(super) fn stream_cap(&self) -> usize {
        self.event_stream_len.max(STREAM_HARD_CAP)
    }

    /// The store, connecting in the background (and reconnecting whenever the connection
    /// is lost): calls fail with `Unavailable` until it is up. Fails only on settings
    /// that can never work (a malformed url, an unreadable CA file). Needs a tokio
    /// runtime.
    pub fn new(settings: RedisSettings) -> Result<Self, StoreError> {
        if settings.key_prefix.contains(['{', '}']) {
            return Err(StoreError::Unavailable(
                "store.key_prefix must not contain `{` or `}` (Redis Cluster hash tags)".into(),
            ));
        }
        let connector = Connector::new(settings.target.clone(), settings.tls.as_ref())
            .map_err(StoreError::Unavailable)?;
        let keys = Keys::new(settings.key_prefix.clone(), settings.buckets);
        let apply_script = Arc::new(Script::new(include_str!("apply.lua")));
        let prepare: Prepare = {
            let keys = keys.clone();
            let script = Arc::clone(&apply_script);
            Arc::new(move |conn: Conn| Box::pin(prepare(conn, keys.clone(), (*script).clone())))
        };
        let target = match &settings.target {
            RedisTarget::Url(url) => redact(url),
            RedisTarget::Sentinel {
                master_name, urls, ..
            } => format!(
                "sentinel {master_name} via {}",
                urls.iter().map(|u| redact(u)).collect::<Vec<_>>().join(",")
            ),
            RedisTarget::Cluster { urls } => format!(
                "cluster via {}",
                urls.iter().map(|u| redact(u)).collect::<Vec<_>>().join(",")
            ),
        };
        Ok(RedisStore {
            link: Link::start(connector, prepare),
            keys,
            apply_script,
            event_stream_len: settings.event_stream_len,
            resolved_ttl_ms: u64::try_from(settings.resolved_ttl.as_millis())
                .unwrap_or(u64::MAX)
                .max(1),
            min_replicas_ack: settings.min_replicas_ack,
            replica_ack_timeout_ms: u64::try_from(settings.replica_ack_timeout.as_millis())
                .unwrap_or(u64::MAX)
                .max(1),
            target: target.into(),
        })
    }

    /// As `new`, then waits (a few seconds at most) for the first connection: an error
    /// when Redis is unreachable or holds a keyspace this version cannot use.
    pub async fn connect(settings: RedisSettings) -> Result<Self, StoreError> {
        let store = Self::new(settings)?;
        match store.link.settled(FIRST_CONNECT).await {
            Health::Up => Ok(store),
            _ => Err(StoreError::Unavailable(store.link.get().err().map_or_else(
                || "redis did not connect".to_owned(),
                |e| format!("{e}: {}", store.link.reason().unwrap_or_default()),
            ))),
        }
    }

    /// As `new`, then waits up to `within` for the first answer: an error only when Redis
    /// answers with a keyspace this version must not use (a gateway must not start on
    /// it); an unreachable Redis is waited for in the background.
    pub async fn start(settings: RedisSettings, within: Duration) -> Result<Self, StoreError> {
        let store = Self::new(settings)?;
        if store.link.settled(within).await == Health::Incompatible {
            return Err(StoreError::Unavailable(
                store.link.reason().unwrap_or_default(),
            ));
        }
        Ok(store)
    }

    /// The connection state.
    pub fn health(&self) -> Health {
        self.link.health()
    }

    /// Why the store is not up, if it is not (the last connection error, or the layout
    /// problem).
    pub fn health_reason(&self) -> Option<String> {
        if self.health() == Health::Up {
            None
        } else {
            self.link.reason()
        }
    }

    /// The target as `/-/config` shows it (passwords hidden).
    pub fn target(&self) -> &str {
        &self.target
    }

    pub fn buckets(&self) -> u16 {
        self.keys.buckets
    }

    /// Runs one call on the live connection under `CALL_TIMEOUT`, classing its error; a
    /// connection-level failure drops the connection for the keeper to replace.
    pub(super) async fn call<T, F, Fut>(&self, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(Conn) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        let (generation, conn) = self.link.get().map_err(StoreError::Unavailable)?;
        match tokio::time::timeout(CALL_TIMEOUT, f(conn)).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => {
                self.link.report(generation, Some(&e));
                Err(classify(e))
            }
            Err(_) => {
                self.link.report(generation, None);
                Err(StoreError::Unavailable(format!(
                    "redis call timed out after {CALL_TIMEOUT:?}"
                )))
            }
        }
    }

    /// Each id's incident, in order; `None` where its hash is gone (expired after its
    /// resolve, or deleted by hand).
    pub(super) async fn fetch_incidents(
        &self,
        ids: &[u64],
    ) -> Result<Vec<Option<Incident>>, StoreError> {
        self.fetch_hashes(ids)
            .await?
            .into_iter()
            .map(|fields| fields.map(|f| parse_incident(f, None)).transpose())
            .collect()
    }

    /// Each id's hash fields as stored, in order; `None` where the hash is gone. One
    /// pipeline per bucket (a Cluster pipeline stays in one slot), run concurrently.
    pub(super) async fn fetch_hashes(
        &self,
        ids: &[u64],
    ) -> Result<Vec<Option<BTreeMap<String, String>>>, StoreError> {
        let mut groups = BTreeMap::<u16, Vec<usize>>::new();
        for (n, &id) in ids.iter().enumerate() {
            groups.entry(bucket_of(id)).or_default().push(n);
        }
        let calls = groups.values().map(|positions| {
            let mut pipe = redis::pipe();
            for &n in positions {
                pipe.cmd("HGETALL").arg(self.keys.incident(ids[n]));
            }
            async move {
                let hashes: Vec<Value> = self
                    .call(|mut c| async move { pipe.query_async(&mut c).await })
                    .await?;
                Ok::<_, StoreError>((positions, hashes))
            }
        });
        let mut out = vec![None; ids.len()];
        for result in futures_util::future::join_all(calls).await {
            let (positions, hashes) = result?;
            if hashes.len() != positions.len() {
                return Err(StoreError::Corrupt("short pipeline reply".into()));
            }
            for (&n, hash) in positions.iter().zip(hashes) {
                let fields = field_pairs(hash)?;
                if !fields.is_empty() {
                    out[n] = Some(fields.into_iter().collect());
                }
            }
        }
        Ok(out)
    }

    /// `apply.lua`, for a pipeline to load when Redis forgot it.
    pub(super) fn apply_script(&self) -> &Script {
        &self.apply_script
    }

    /// The `apply.lua` run of one outcome, with its bucket and fingerprint record's key;
    /// `None` for an `ignore` (no store step).
    pub(super) fn step_invocation(
        &self,
        source: &str,
        outcome: &Outcome,
        now_ms: i64,
    ) -> Result<Option<(ScriptInvocation<'_>, u16, String)>, StoreError> {
        let Some((action, fingerprint)) = step_of(outcome)? else {
            return Ok(None);
        };
        let (bucket, fp_key) = self.keys.fingerprint(source, fingerprint);
        let fp_hex = fp_key
            .get(fp_key.len().saturating_sub(64)..)
            .unwrap_or_default();
        let mut invocation = self.apply_script.key(&fp_key);
        invocation
            .key(self.keys.index(bucket, source))
            .key(self.keys.seq(bucket))
            .key(self.keys.events(bucket))
            .key(self.keys.deadlines(bucket))
            .key(self.keys.flapping(bucket))
            .key(self.keys.sources(bucket));
        // A resolve writes no title: its digest and text would be sent for nothing.
        let title = outcome.title.as_deref().filter(|_| action == Action::Open);
        invocation
            .arg(self.keys.tag(bucket))
            .arg(if action == Action::Open {
                "open"
            } else {
                "resolve"
            })
            .arg(source)
            .arg(now_ms)
            .arg(
                outcome
                    .event_time
                    .map(|t| t.to_string())
                    .unwrap_or_default(),
            )
            .arg(outcome.priority.map_or("", Priority::as_str))
            .arg(self.stream_cap())
            .arg(self.resolved_ttl_ms)
            .arg(self.keys.digits(bucket))
            .arg(
                outcome
                    .auto_resolve_after_ms
                    .map(|ms| ms.to_string())
                    .unwrap_or_default(),
            )
            .arg(outcome.flapping.map_or(0, |f| f.opens))
            .arg(outcome.flapping.map_or(0, |f| f.within_ms))
            .arg(title.map(record::title_digest).unwrap_or_default())
            .arg(
                title
                    .map_or(Cow::Borrowed(""), |t| record::encode(t, &[]))
                    .as_ref(),
            );
        // Only an open can create; a resolve's fields would be sent for nothing.
        if action == Action::Open {
            invocation.arg(record::create_fields(
                source,
                fingerprint,
                outcome,
                now_ms,
                fp_hex,
            ));
        }
        Ok(Some((invocation, bucket, fp_key)))
    }

    pub(super) async fn apply_step(
        &self,
        source: &str,
        outcome: &Outcome,
        now_ms: i64,
    ) -> Result<Applied, StoreError> {
        let Some((invocation, _, fp_key)) = self.step_invocation(source, outcome, now_ms)? else {
            return Ok(Applied::ignored());
        };
        let min_acks = self.min_replicas_ack;
        let ack_timeout = self.replica_ack_timeout_ms;
        let (reply, acked): (Value, Option<i64>) = self
            .call(|mut c| async move {
                let reply: Value = invocation.invoke_async(&mut c).await?;
                if min_acks == 0 {
                    return Ok((reply, None));
                }
                // `WAIT` goes to the master that ran the script, on the same connection.
                let mut wait = redis::cmd("WAIT");
                wait.arg(min_acks).arg(ack_timeout);
                let acked = c.on_node_of(&fp_key, &wait).await?;
                let acked = match acked {
                    Value::Int(n) => n,
                    _ => -1,
                };
                Ok((reply, Some(acked)))
            })
            .await?;
        if let Some(acked) = acked {
            if acked < i64::from(min_acks) {
                return Err(StoreError::Unavailable(format!(
                    "only {acked} of the {min_acks} replicas (store.min_replicas_ack) \
                     acknowledged the write within {ack_timeout} ms"
                )));
            }
        }
        parse_applied(reply, outcome.priority)
    }

    pub(super) async fn get_one(&self, id: &str) -> Result<Option<Incident>, StoreError> {
        let Some(id) = parse_id(id) else {
            return Ok(None);
        };
        if bucket_of(id) >= self.keys.buckets {
            return Ok(None);
        }
        Ok(self.fetch_incidents(&[id]).await?.pop().flatten())
    }

    /// Open incidents of `source`: its open ids are scored `-v` in each bucket's
    /// `ids:{source}`, so one `ZCOUNT … -inf (0` per bucket (each call routed to its
    /// bucket's slot), run concurrently and summed.
    pub(super) async fn count_open(&self, source: &str) -> Result<u64, StoreError> {
        let calls = self.keys.all().map(|b| {
            let key = self.keys.index(b, source);
            self.call(|mut c| async move {
                redis::cmd("ZCOUNT")
                    .arg(key)
                    .arg("-inf")
                    .arg("(0")
                    .query_async::<u64>(&mut c)
                    .await
            })
        });
        let mut total = 0u64;
        for count in futures_util::future::join_all(calls).await {
            total = total.saturating_add(count?);
        }
        Ok(total)
    }

    /// Whether (source, fingerprint) has an open incident: its own bucket's `fp:` hash
    /// holds an `open` field exactly while it does.
    pub(super) async fn has_open(
        &self,
        source: &str,
        fingerprint: &str,
    ) -> Result<bool, StoreError> {
        let (_, key) = self.keys.fingerprint(source, fingerprint);
        self.call(|mut c| async move {
            redis::cmd("HEXISTS")
                .arg(key)
                .arg("open")
                .query_async::<bool>(&mut c)
                .await
        })
        .await
    }

    pub(super) async fn ping_once(&self) -> Result<(), StoreError> {
        let _: Value = self
            .call(|mut c| async move { redis::cmd("PING").query_async(&mut c).await })
            .await?;
        Ok(())
    }
}

/// A reply of the wrong shape is corrupt data; everything else (I/O, timeouts, server
/// errors such as LOADING, OOM or a failing script) makes the store unavailable.
fn classify(e: RedisError) -> StoreError {
    match e.kind() {
        ErrorKind::TypeError | ErrorKind::ParseError => StoreError::Corrupt(e.to_string()),
        _ => StoreError::Unavailable(e.to_string()),
    }
}
