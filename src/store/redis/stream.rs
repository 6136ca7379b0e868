//! The bucket streams as a work queue (docs/design.md §11): a consumer group per sink on
//! every bucket's stream `P{bB}events`, reads across all buckets, acknowledgements and
//! claims by event id (`<bucket>-<entry id>`: the bucket names the stream), and trimming
//! each stream by its slowest group. Verbs only; the delivery module decides when to
//! call them.
//!
//! One server (or Sentinel's master): one `XREADGROUP … STREAMS` names every bucket's
//! stream and blocks until any has news. Redis Cluster refuses commands whose keys span
//! slots, so there each bucket is read by a command of its own (not blocking: several
//! blocking reads on one node's connection would wait for each other), polled.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use redis::{Cmd, Value};

use super::conn::Conn;
use super::read::merge;
use super::reply::{items, parse_entry_id, parse_stream_entry, text, EntryId, RawEvent};
use super::store::RedisStore;
use crate::store::model::{GroupInfo, IncidentEvent, StoreError};

/// On Cluster, how often the buckets are read again while a read waits for news.
const CLUSTER_POLL: Duration = Duration::from_millis(200);

/// Entries of several buckets, each with its entry id and bucket.
type Entries = Vec<(EntryId, u16, RawEvent)>;

/// A global event id `<bucket>-<ms>-<seq>` as its bucket and stream entry id.
pub(super) fn split_event_id(id: &str) -> Option<(u16, &str)> {
    let (bucket, entry) = id.split_once('-')?;
    if bucket.is_empty() || !bucket.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    parse_entry_id(entry)?;
    Some((bucket.parse().ok()?, entry))
}

/// What a group's backlog adds up to over every bucket's stream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Backlog {
    /// Entries not yet handed to any consumer (`None`: Redis cannot tell for some bucket,
    /// as after some trims).
    pub lag: Option<u64>,
    /// Entries handed to a consumer and not yet acknowledged.
    pub pending: u64,
}

impl RedisStore {
    /// The ids of `ids` by bucket (entry ids); ids this store did not make are skipped.
    fn by_bucket(&self, ids: &[String]) -> BTreeMap<u16, Vec<String>> {
        let mut out: BTreeMap<u16, Vec<String>> = BTreeMap::new();
        for id in ids {
            if let Some((b, entry)) = split_event_id(id) {
                if b < self.keys.buckets {
                    out.entry(b).or_default().push(entry.to_owned());
                }
            }
        }
        out
    }

    /// Runs one command per bucket (built by `cmd`) concurrently; the first error wins.
    async fn each_bucket<T: redis::FromRedisValue + Send>(
        &self,
        buckets: impl Iterator<Item = u16>,
        cmd: impl Fn(u16) -> Cmd,
    ) -> Result<Vec<(u16, T)>, StoreError> {
        let calls = buckets.map(|b| {
            let cmd = cmd(b);
            async move {
                let value: T = self
                    .call(|mut c| async move { cmd.query_async(&mut c).await })
                    .await?;
                Ok::<_, StoreError>((b, value))
            }
        });
        join_all(calls).await.into_iter().collect()
    }

    /// Creates `group` on every bucket's stream at its current end (`$`), and the stream
    /// where missing; where the group exists it is left where it is.
    pub async fn group_create(&self, group: &str) -> Result<(), StoreError> {
        let calls = self.keys.all().map(|b| {
            let mut cmd = redis::cmd("XGROUP");
            cmd.arg("CREATE")
                .arg(self.keys.events(b))
                .arg(group)
                .arg("$")
                .arg("MKSTREAM");
            self.call(|mut c| async move {
                match cmd.query_async::<Value>(&mut c).await {
                    Err(e) if e.code() == Some("BUSYGROUP") => Ok(()),
                    other => other.map(drop),
                }
            })
        });
        join_all(calls).await.into_iter().collect()
    }

    /// Removes `group` from every bucket's stream.
    pub async fn group_destroy(&self, group: &str) -> Result<(), StoreError> {
        self.each_bucket::<Value>(self.keys.all(), |b| {
            let mut cmd = redis::cmd("XGROUP");
            cmd.arg("DESTROY").arg(self.keys.events(b)).arg(group);
            cmd
        })
        .await
        .map(drop)
    }

    /// `XREADGROUP … >` on every bucket's stream: the entries no consumer of `group` has
    /// taken yet (up to `count` per bucket), now `consumer`'s, in the order of
    /// `events_after` (by `at`, then entry id, then bucket). Waits up to `block_ms` for
    /// one. Blocks the connection: call it on a store of its own. A group missing on
    /// some stream (removed on another replica, or the stream deleted) is created again
    /// at the end, and this read returns nothing.
    pub async fn read_group(
        &self,
        group: &str,
        consumer: &str,
        count: usize,
        block_ms: u64,
    ) -> Result<Vec<IncidentEvent>, StoreError> {
        let (_, conn) = self.link.get().map_err(StoreError::Unavailable)?;
        let read = match conn {
            Conn::Single(_) => self.read_all(group, consumer, count, block_ms).await?,
            Conn::Cluster(_) => self.read_each(group, consumer, count, block_ms).await?,
        };
        if let Some(entries) = read {
            self.complete(entries.into_iter().map(|e| e.2).collect())
                .await
        } else {
            self.group_create(group).await?;
            Ok(Vec::new())
        }
    }

    /// One `XREADGROUP` naming every bucket's stream (one server). `None`: a group is
    /// missing.
    async fn read_all(
        &self,
        group: &str,
        consumer: &str,
        count: usize,
        block_ms: u64,
    ) -> Result<Option<Entries>, StoreError> {
        let keys: Vec<String> = self
            .keys
            .all()
            .map(|b| self.keys.events(b).to_owned())
            .collect();
        let mut cmd = redis::cmd("XREADGROUP");
        cmd.arg("GROUP")
            .arg(group)
            .arg(consumer)
            .arg("COUNT")
            .arg(count)
            .arg("BLOCK")
            .arg(block_ms)
            .arg("STREAMS")
            .arg(&keys);
        for _ in &keys {
            cmd.arg(">");
        }
        let Some(reply) = self.group_read_reply(cmd).await? else {
            return Ok(None);
        };
        let mut lists = Vec::new();
        for (key, entries) in streams_of(reply)? {
            let bucket = keys
                .iter()
                .position(|k| *k == key)
                .and_then(|n| u16::try_from(n).ok())
                .ok_or_else(|| StoreError::Corrupt(format!("XREADGROUP named {key:?}")))?;
            lists.push(entries_of(entries, bucket)?);
        }
        Ok(Some(merge(lists, false)))
    }

    /// Runs an `XREADGROUP`; `None` when its group is missing (`NOGROUP`).
    async fn group_read_reply(&self, cmd: redis::Cmd) -> Result<Option<Value>, StoreError> {
        self.call(|mut c| async move {
            match cmd.query_async::<Value>(&mut c).await {
                Err(e) if e.code() == Some("NOGROUP") => Ok(None),
                other => other.map(Some),
            }
        })
        .await
    }

    /// One `XREADGROUP` per bucket, again every `CLUSTER_POLL` until one has news or
    /// `block_ms` passed (Cluster). `None`: a group is missing. Entries read from some
    /// buckets are returned even when another bucket's read failed (they are this
    /// consumer's now); an error only when nothing was read.
    async fn read_each(
        &self,
        group: &str,
        consumer: &str,
        count: usize,
        block_ms: u64,
    ) -> Result<Option<Entries>, StoreError> {
        let deadline = Instant::now() + Duration::from_millis(block_ms);
        loop {
            let calls = self.keys.all().map(|b| {
                let mut cmd = redis::cmd("XREADGROUP");
                cmd.arg("GROUP")
                    .arg(group)
                    .arg(consumer)
                    .arg("COUNT")
                    .arg(count)
                    .arg("STREAMS")
                    .arg(self.keys.events(b))
                    .arg(">");
                async move {
                    let Some(reply) = self.group_read_reply(cmd).await? else {
                        return Ok(None);
                    };
                    let mut entries = Vec::new();
                    for (_, list) in streams_of(reply)? {
                        entries.extend(entries_of(list, b)?);
                    }
                    Ok::<_, StoreError>(Some(entries))
                }
            });
            let mut lists = Vec::new();
            let mut missing = false;
            let mut failed = None;
            for result in join_all(calls).await {
                match result {
                    Ok(Some(list)) => lists.push(list),
                    Ok(None) => missing = true,
                    Err(e) => failed = failed.or(Some(e)),
                }
            }
            let entries = merge(lists, false);
            if !entries.is_empty() {
                if missing {
                    self.group_create(group).await?;
                }
                return Ok(Some(entries));
            }
            if let Some(e) = failed {
                return Err(e);
            }
            if missing {
                return Ok(None);
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(Some(Vec::new()));
            }
            tokio::time::sleep(CLUSTER_POLL.min(deadline - now)).await;
        }
    }

    /// Marks events done for `group`: `XACK` on each one's bucket stream.
    pub async fn ack(&self, group: &str, ids: &[String]) -> Result<(), StoreError> {
        let by_bucket = self.by_bucket(ids);
        self.each_bucket::<Value>(by_bucket.keys().copied(), |b| {
            let mut cmd = redis::cmd("XACK");
            cmd.arg(self.keys.events(b))
                .arg(group)
                .arg(by_bucket.get(&b).map_or(&[][..], Vec::as_slice));
            cmd
        })
        .await
        .map(drop)
    }

    /// `XAUTOCLAIM` on every bucket's stream: up to `count` entries per bucket pending
    /// in `group` for longer than `min_idle_ms` (whoever held them), now `consumer`'s,
    /// in the order of `read_group`. Entries claimed from some buckets are returned even
    /// when another bucket's claim failed; an error only when nothing was claimed.
    pub async fn claim_stale(
        &self,
        group: &str,
        consumer: &str,
        min_idle_ms: u64,
        count: usize,
    ) -> Result<Vec<IncidentEvent>, StoreError> {
        let calls = self.keys.all().map(|b| {
            let mut cmd = redis::cmd("XAUTOCLAIM");
            cmd.arg(self.keys.events(b))
                .arg(group)
                .arg(consumer)
                .arg(min_idle_ms)
                .arg("0-0")
                .arg("COUNT")
                .arg(count);
            async move {
                let reply: Value = self
                    .call(|mut c| async move { cmd.query_async(&mut c).await })
                    .await?;
                let entries = items(reply)?
                    .into_iter()
                    .nth(1)
                    .ok_or_else(|| StoreError::Corrupt("XAUTOCLAIM reply".into()))?;
                entries_of(entries, b)
            }
        });
        let mut lists = Vec::new();
        let mut failed = None;
        for result in join_all(calls).await {
            match result {
                Ok(list) => lists.push(list),
                Err(e) => failed = failed.or(Some(e)),
            }
        }
        let entries = merge(lists, false);
        match failed {
            Some(e) if entries.is_empty() => Err(e),
            _ => {
                self.complete(entries.into_iter().map(|e| e.2).collect())
                    .await
            }
        }
    }

    /// Resets the idle time of events `consumer` holds (`XCLAIM … 0 … JUSTID` on each
    /// one's bucket stream), so that no other replica claims them while this one is
    /// still retrying.
    pub async fn touch(
        &self,
        group: &str,
        consumer: &str,
        ids: &[String],
    ) -> Result<(), StoreError> {
        let by_bucket = self.by_bucket(ids);
        self.each_bucket::<Value>(by_bucket.keys().copied(), |b| {
            let mut cmd = redis::cmd("XCLAIM");
            cmd.arg(self.keys.events(b))
                .arg(group)
                .arg(consumer)
                .arg(0)
                .arg(by_bucket.get(&b).map_or(&[][..], Vec::as_slice))
                .arg("JUSTID");
            cmd
        })
        .await
        .map(drop)
    }

    /// `group`'s backlog summed over every bucket's stream.
    pub async fn backlog(&self, group: &str) -> Result<Backlog, StoreError> {
        let calls = self.keys.all().map(|b| self.groups(b));
        let mut total = Backlog {
            lag: Some(0),
            pending: 0,
        };
        for groups in join_all(calls).await {
            if let Some(g) = groups?.into_iter().find(|g| g.name == group) {
                total.pending += g.pending;
                total.lag = match (total.lag, g.lag) {
                    (Some(a), Some(b)) => Some(a.saturating_add(b)),
                    _ => None,
                };
            }
        }
        Ok(total)
    }

    /// Every group on bucket `bucket`'s stream (`XINFO GROUPS`); none when the stream
    /// does not exist.
    pub(super) async fn groups(&self, bucket: u16) -> Result<Vec<GroupInfo>, StoreError> {
        let mut cmd = redis::cmd("XINFO");
        cmd.arg("GROUPS").arg(self.keys.events(bucket));
        let reply = self
            .call(|mut c| async move {
                match cmd.query_async::<Value>(&mut c).await {
                    Err(e) if e.to_string().contains("no such key") => Ok(Value::Nil),
                    other => other,
                }
            })
            .await?;
        items(reply)?.into_iter().map(group_info).collect()
    }
}

/// One `XINFO GROUPS` element (a RESP3 map or a flat RESP2 list).
fn group_info(group: Value) -> Result<GroupInfo, StoreError> {
    let pairs = match group {
        Value::Map(pairs) => pairs,
        other => {
            let mut it = items(other)?.into_iter();
            let mut pairs = Vec::new();
            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                pairs.push((k, v));
            }
            pairs
        }
    };
    let mut info = GroupInfo::default();
    for (k, v) in pairs {
        match text(k)?.as_str() {
            "name" => info.name = text(v)?,
            "pending" => info.pending = text(v)?.parse().unwrap_or(0),
            "last-delivered-id" => info.last_delivered = text(v)?,
            "lag" => info.lag = text(v).ok().and_then(|l| l.parse().ok()),
            _ => {}
        }
    }
    Ok(info)
}

/// An `XREADGROUP` reply (RESP3 map or RESP2 list of `[key, entries]`; nil when nothing
/// came) as (key, entries) pairs.
fn streams_of(reply: Value) -> Result<Vec<(String, Value)>, StoreError> {
    match reply {
        Value::Map(pairs) => pairs.into_iter().map(|(k, v)| Ok((text(k)?, v))).collect(),
        other => items(other)?
            .into_iter()
            .map(|s| {
                let mut parts = items(s)?.into_iter();
                match (parts.next(), parts.next()) {
                    (Some(k), Some(v)) => Ok((text(k)?, v)),
                    _ => Err(StoreError::Corrupt("XREADGROUP reply".into())),
                }
            })
            .collect(),
    }
}

/// `[[id, [field, value, …]], …]` of bucket `bucket`'s stream → events; entries whose
/// fields are gone (nil: trimmed while pending) are skipped.
fn entries_of(entries: Value, bucket: u16) -> Result<Entries, StoreError> {
    let mut out = Vec::new();
    for entry in items(entries)? {
        let parts = items(entry)?;
        if parts.len() != 2 || matches!(parts[1], Value::Nil) {
            continue;
        }
        let (id, event) = parse_stream_entry(Value::Array(parts), bucket)?;
        out.push((id, bucket, event));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_ids_name_their_bucket_and_entry() {
        assert_eq!(split_event_id("3-1717-0"), Some((3, "1717-0")));
        assert_eq!(split_event_id("0-5-12"), Some((0, "5-12")));
        assert_eq!(split_event_id("17"), None);
        assert_eq!(split_event_id("x-1-0"), None);
        assert_eq!(split_event_id("1-1"), None);
        assert_eq!(split_event_id("-1-1"), None);
    }
}
