//! The shared store: incidents in Redis, so that every replica sees one state.
//!
//! Owns the Redis key layout (`Keys`, the one place names are built), the apply step (one
//! Lua script, `apply.lua`, per outcome: atomic across replicas, one round trip), and the
//! parsing of what Redis returns (defensive: malformed data is `StoreError::Corrupt`,
//! never a panic). Connection trouble is `StoreError::Unavailable`, reported fast rather
//! than waited out, so the server can answer 503.

use std::future::Future;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{ErrorKind, RedisError, Script, Value};

mod keys;
mod reply;
mod stream;

pub use self::keys::{DEAD_LETTER_CAP, STREAM_HARD_CAP};

use self::keys::Keys;
use self::reply::{
    corrupt, field_pairs, items, parse_applied, parse_incident, parse_stream_entry, text,
};
use super::model::{
    page_limit, parse_cursor, parse_id, step_of, Applied, Incident, IncidentEvent, IncidentStore,
    ListQuery, Page, Status, StoreError,
};
use crate::outcome::{Action, Outcome, Priority};

/// Each connection attempt gives up after this long.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// Each command gives up after this long without a reply.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);
/// Reconnect attempts after the first: none. A call that finds the connection broken
/// fails at once (503) and the next call tries again, so no request waits out a backoff.
/// (With redis 0.32 the first retry always waits backon's 1 s minimum, whatever
/// `set_factor`/`set_max_delay` say, so any retry at all costs each waiting call 1–2 s.)
const RECONNECT_RETRIES: usize = 0;
/// A last bound on any one store call (waiting for a reconnect included).
const CALL_TIMEOUT: Duration = Duration::from_secs(5);
/// A listing reads the indexes at most this many times to fill a page that expired
/// incidents thinned out; after that it returns a shorter page with a cursor (the ids it
/// skipped are removed from the indexes, so the next call gets further).
const MAX_LIST_ROUNDS: usize = 8;

/// How to reach Redis and where to keep the keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisSettings {
    /// `redis://[user:password@]host:port[/db]` (or `rediss://`).
    pub url: String,
    /// Prepended verbatim to every key, e.g. `alertgate:`; replicas sharing state use one.
    pub key_prefix: String,
    /// Approximate bound on the event stream (`XADD … MAXLEN ~`); reads never return more.
    pub event_stream_len: usize,
    /// How long a resolved incident (its hash) and its key's last `event_time` are kept
    /// after the resolve (`PEXPIRE`, millisecond precision, at least 1 ms). Open incidents
    /// never expire.
    pub resolved_ttl: Duration,
}

/// A cheap-clone handle on the Redis incident store.
#[derive(Clone)]
pub struct RedisStore {
    conn: ConnectionManager,
    keys: Keys,
    apply_script: Script,
    event_stream_len: usize,
    /// `resolved_ttl` in ms, at least 1 (`PEXPIRE` rejects 0).
    resolved_ttl_ms: u64,
}

impl RedisStore {
    /// Connects (failing fast if Redis is down) and loads the apply script.
    pub async fn connect(settings: RedisSettings) -> Result<Self, StoreError> {
        let client = redis::Client::open(settings.url.as_str())
            .map_err(|e| StoreError::Unavailable(format!("redis url: {e}")))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(CONNECT_TIMEOUT)
            .set_response_timeout(RESPONSE_TIMEOUT)
            .set_number_of_retries(RECONNECT_RETRIES);
        let connect = ConnectionManager::new_with_config(client, config);
        let conn = bounded(connect).await?;
        let store = RedisStore {
            conn,
            keys: Keys::new(settings.key_prefix),
            apply_script: Script::new(include_str!("apply.lua")),
            event_stream_len: settings.event_stream_len,
            resolved_ttl_ms: u64::try_from(settings.resolved_ttl.as_millis())
                .unwrap_or(u64::MAX)
                .max(1),
        };
        // Loading now surfaces a script Redis rejects at startup, not on the first webhook;
        // `Script` reloads it by itself if Redis restarts and forgets it.
        let mut conn = store.conn.clone();
        bounded(store.apply_script.prepare_invoke().load_async(&mut conn)).await?;
        Ok(store)
    }

    /// Each id's incident, in order; `None` where its hash is gone (expired after its
    /// resolve, or deleted by hand).
    async fn fetch_incidents(&self, ids: &[u64]) -> Result<Vec<Option<Incident>>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for &id in ids {
            pipe.cmd("HGETALL").arg(self.keys.incident(id));
        }
        let mut conn = self.conn.clone();
        let hashes: Vec<Value> = bounded(pipe.query_async(&mut conn)).await?;
        if hashes.len() != ids.len() {
            return Err(StoreError::Corrupt("short pipeline reply".into()));
        }
        hashes
            .into_iter()
            .map(|hash| {
                let fields = field_pairs(hash)?;
                if fields.is_empty() {
                    Ok(None)
                } else {
                    parse_incident(fields.into_iter().collect()).map(Some)
                }
            })
            .collect()
    }

    /// Up to `per_range` ids from each (source, status) range strictly older than
    /// `before`, newest first, each with the index (source) it came from.
    async fn read_index(
        &self,
        sources: &[String],
        statuses: &[Status],
        before: Option<u64>,
        per_range: usize,
    ) -> Result<Vec<(u64, usize)>, StoreError> {
        if sources.is_empty() {
            return Ok(Vec::new());
        }
        // Open ids are scored -id, resolved ones +id (see `Keys`), so both statuses read
        // newest first: open ones ascending from -cursor, resolved ones descending from
        // +cursor, never crossing 0.
        let mut pipe = redis::pipe();
        let mut origin = Vec::new();
        for (n, source) in sources.iter().enumerate() {
            for &status in statuses {
                let key = self.keys.index(source);
                match status {
                    Status::Open => pipe
                        .cmd("ZRANGEBYSCORE")
                        .arg(key)
                        .arg(before.map_or("-inf".to_owned(), |c| format!("(-{c}")))
                        .arg("(0"),
                    Status::Resolved => pipe
                        .cmd("ZREVRANGEBYSCORE")
                        .arg(key)
                        .arg(before.map_or("+inf".to_owned(), |c| format!("({c}")))
                        .arg("(0"),
                };
                pipe.arg("LIMIT").arg(0).arg(per_range);
                origin.push(n);
            }
        }
        let mut conn = self.conn.clone();
        let lists: Vec<Value> = bounded(pipe.query_async(&mut conn)).await?;
        let mut ids = Vec::new();
        for (list, n) in lists.into_iter().zip(origin) {
            for v in items(list)? {
                let text = text(v)?;
                let id = parse_id(&text).ok_or_else(|| corrupt("index member", &text))?;
                ids.push((id, n));
            }
        }
        ids.sort_unstable_by_key(|e| std::cmp::Reverse(e.0));
        ids.dedup_by_key(|e| e.0);
        Ok(ids)
    }

    /// Removes ids whose incident is gone from the indexes they were read from. Ids are
    /// never reused, so a gone id never comes back.
    async fn forget(&self, sources: &[String], gone: &[(u64, usize)]) -> Result<(), StoreError> {
        if gone.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        for &(id, n) in gone {
            pipe.cmd("ZREM")
                .arg(self.keys.index(&sources[n]))
                .arg(id)
                .ignore();
        }
        let mut conn = self.conn.clone();
        bounded(pipe.query_async::<()>(&mut conn)).await
    }
}

/// Runs one Redis call under `CALL_TIMEOUT`, classing its error.
async fn bounded<T>(call: impl Future<Output = Result<T, RedisError>>) -> Result<T, StoreError> {
    match tokio::time::timeout(CALL_TIMEOUT, call).await {
        Ok(result) => result.map_err(classify),
        Err(_) => Err(StoreError::Unavailable(format!(
            "redis call timed out after {CALL_TIMEOUT:?}"
        ))),
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

impl IncidentStore for RedisStore {
    async fn apply(
        &self,
        source: &str,
        outcome: &Outcome,
        now_ms: i64,
    ) -> Result<Applied, StoreError> {
        let Some((action, fingerprint)) = step_of(outcome)? else {
            return Ok(Applied::ignored());
        };
        let labels = outcome.labels.as_json();
        let mut invocation = self
            .apply_script
            .key(self.keys.fingerprint(source, fingerprint));
        invocation
            .key(self.keys.index(source))
            .key(self.keys.seq())
            .key(self.keys.events())
            .key(self.keys.sources());
        invocation
            .arg(&self.keys.prefix)
            .arg(if action == Action::Open {
                "open"
            } else {
                "resolve"
            })
            .arg(source)
            .arg(fingerprint)
            .arg(now_ms)
            .arg(
                outcome
                    .event_time
                    .map(|t| t.to_string())
                    .unwrap_or_default(),
            )
            .arg(outcome.priority.map_or("", Priority::as_str))
            .arg(if outcome.title.is_some() { "1" } else { "0" })
            .arg(outcome.title.as_deref().unwrap_or(""))
            .arg(labels)
            .arg(self.event_stream_len.max(STREAM_HARD_CAP))
            .arg(self.resolved_ttl_ms);
        let mut conn = self.conn.clone();
        let reply: Value = bounded(invocation.invoke_async(&mut conn)).await?;
        // A create replies with its new id only: the script stored exactly what was sent.
        parse_applied(reply, |id| Incident {
            id,
            source: source.into(),
            fingerprint: fingerprint.into(),
            status: Status::Open,
            priority: outcome.priority,
            title: outcome.title.as_deref().map(Into::into),
            labels: outcome.labels.clone(),
            opened_at: now_ms,
            last_event_at: now_ms,
            resolved_at: None,
            event_count: 1,
        })
    }

    async fn get(&self, id: &str) -> Result<Option<Incident>, StoreError> {
        let Some(id) = parse_id(id) else {
            return Ok(None);
        };
        Ok(self.fetch_incidents(&[id]).await?.pop().flatten())
    }

    async fn list(&self, query: &ListQuery) -> Result<Page, StoreError> {
        let before = match &query.cursor {
            Some(cursor) => Some(parse_cursor(cursor)?),
            None => None,
        };
        let limit = page_limit(query);
        let mut conn = self.conn.clone();
        let sources = if let Some(source) = &query.source {
            vec![source.clone()]
        } else {
            let members: Vec<Value> = bounded(
                redis::cmd("SMEMBERS")
                    .arg(self.keys.sources())
                    .query_async(&mut conn),
            )
            .await?;
            members.into_iter().map(text).collect::<Result<_, _>>()?
        };
        let statuses: &[Status] = match query.status {
            Some(Status::Open) => &[Status::Open],
            Some(Status::Resolved) => &[Status::Resolved],
            None => &[Status::Open, Status::Resolved],
        };
        // One more than the ids still wanted from each (source, status) range tells
        // whether more follow; a round reads at most (ranges × (limit + 1)) ids. Ids whose
        // incident expired are skipped and removed from their index; the next round
        // continues below the last id examined, until the page is full, the indexes are
        // exhausted, or `MAX_LIST_ROUNDS` (then the page is shorter, with a cursor).
        let mut incidents = Vec::with_capacity(limit);
        let mut cursor = before;
        let mut next_cursor = None;
        for round in 1..=MAX_LIST_ROUNDS {
            let need = limit - incidents.len();
            let mut ids = self
                .read_index(&sources, statuses, cursor, need + 1)
                .await?;
            let more = ids.len() > need;
            ids.truncate(need);
            let found = self
                .fetch_incidents(&ids.iter().map(|e| e.0).collect::<Vec<_>>())
                .await?;
            let mut gone = Vec::new();
            for (entry, incident) in ids.iter().zip(found) {
                match incident {
                    Some(incident) => incidents.push(incident),
                    None => gone.push(*entry),
                }
            }
            self.forget(&sources, &gone).await?;
            cursor = ids.last().map(|e| e.0);
            if !more {
                break;
            }
            if incidents.len() == limit || round == MAX_LIST_ROUNDS {
                next_cursor = cursor.map(|c| c.to_string());
                break;
            }
        }
        Ok(Page {
            incidents,
            next_cursor,
        })
    }

    async fn recent_events(&self, limit: usize) -> Result<Vec<IncidentEvent>, StoreError> {
        // `MAXLEN ~` trims lazily, so the stream may hold a little more than the bound;
        // reads apply it exactly, as the memory ring does.
        let limit = limit.min(self.event_stream_len);
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut conn = self.conn.clone();
        let entries: Vec<Value> = bounded(
            redis::cmd("XREVRANGE")
                .arg(self.keys.events())
                .arg("+")
                .arg("-")
                .arg("COUNT")
                .arg(limit)
                .query_async(&mut conn),
        )
        .await?;
        let mut events = entries
            .into_iter()
            .map(parse_stream_entry)
            .collect::<Result<Vec<_>, _>>()?;
        events.reverse();
        Ok(events)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let _: Value = bounded(redis::cmd("PING").query_async(&mut conn)).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::Labels;

    #[test]
    fn keys_follow_the_documented_scheme() {
        let keys = Keys::new("ag:".into());
        assert_eq!(keys.incident(7), "ag:inc:7");
        assert_eq!(keys.events(), "ag:events");
        assert_eq!(keys.seq(), "ag:seq");
        assert_eq!(keys.sources(), "ag:sources");
        assert_eq!(keys.index("sc"), "ag:ids:sc");
    }

    #[test]
    fn fingerprint_key_is_a_fixed_length_hash_scoped_by_source() {
        let keys = Keys::new("ag:".into());
        let long = "x".repeat(10_000);
        let key = keys.fingerprint("sc", &long);
        assert_eq!(key.len(), "ag:fp:".len() + 64);
        assert!(key.starts_with("ag:fp:"));
        assert_ne!(keys.fingerprint("sc", "a"), keys.fingerprint("sp", "a"));
        // Moving bytes between source and fingerprint must not collide.
        assert_ne!(keys.fingerprint("ab", "c"), keys.fingerprint("a", "bc"));
    }

    fn stub(id: String) -> Incident {
        Incident {
            id,
            source: "s".into(),
            fingerprint: "f".into(),
            status: Status::Open,
            priority: None,
            title: None,
            labels: Labels::default(),
            opened_at: 1,
            last_event_at: 1,
            resolved_at: None,
            event_count: 1,
        }
    }

    #[test]
    fn opened_reply_carries_only_the_new_id() {
        let reply = Value::Array(vec![bulk("opened"), bulk("7")]);
        let applied = parse_applied(reply, stub).expect("applied");
        assert_eq!(applied.incident.map(|i| i.id), Some("7".to_owned()));
        for bad in ["", "x", "-1"] {
            let reply = Value::Array(vec![bulk("opened"), bulk(bad)]);
            assert!(
                matches!(parse_applied(reply, stub), Err(StoreError::Corrupt(_))),
                "{bad:?}"
            );
        }
    }

    fn bulk(s: &str) -> Value {
        Value::BulkString(s.as_bytes().to_vec())
    }

    #[test]
    fn malformed_incident_hash_is_corrupt_not_a_panic() {
        let reply = Value::Array(vec![bulk("opened"), bulk("id"), bulk("1"), bulk("status")]);
        assert!(matches!(
            parse_applied(reply, stub),
            Err(StoreError::Corrupt(_))
        ));
        let fields = [
            ("id", "1"),
            ("source", "s"),
            ("fingerprint", "f"),
            ("status", "half-open"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        assert!(matches!(
            parse_incident(fields),
            Err(StoreError::Corrupt(_))
        ));
        let reply = Value::Array(vec![bulk("exploded")]);
        assert!(matches!(
            parse_applied(reply, stub),
            Err(StoreError::Corrupt(_))
        ));
    }
}
