//! The event stream as a work queue: consumer groups, acknowledgements, claims of
//! stale entries, trimming by the slowest group, and per-sink dead-letter streams
//! (docs/design.md §10). Verbs only; the delivery module decides when to call them.

use redis::Value;

use super::bounded;
use super::keys::DEAD_LETTER_CAP;
use super::reply::{field_pairs, items, parse_stream_entry, text};
use crate::store::model::{DeadLetter, GroupInfo, IncidentEvent, StoreError};

impl super::RedisStore {
    /// Creates `group` at the stream's current end (`$`), and the stream if missing; an
    /// existing group is left where it is.
    pub async fn group_create(&self, group: &str) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let created: Result<Value, StoreError> = bounded(
            redis::cmd("XGROUP")
                .arg("CREATE")
                .arg(self.keys.events())
                .arg(group)
                .arg("$")
                .arg("MKSTREAM")
                .query_async(&mut conn),
        )
        .await;
        match created {
            Err(StoreError::Unavailable(e)) if e.contains("BUSYGROUP") => Ok(()),
            other => other.map(drop),
        }
    }

    pub async fn group_destroy(&self, group: &str) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        bounded(
            redis::cmd("XGROUP")
                .arg("DESTROY")
                .arg(self.keys.events())
                .arg(group)
                .query_async::<Value>(&mut conn),
        )
        .await
        .map(drop)
    }

    /// `XREADGROUP … >`: up to `count` new entries for `consumer`, waiting up to
    /// `block_ms` for one. Blocks the connection: call it on a store of its own.
    pub async fn read_group(
        &self,
        group: &str,
        consumer: &str,
        count: usize,
        block_ms: u64,
    ) -> Result<Vec<(String, IncidentEvent)>, StoreError> {
        let mut conn = self.conn.clone();
        let reply: Value = bounded(
            redis::cmd("XREADGROUP")
                .arg("GROUP")
                .arg(group)
                .arg(consumer)
                .arg("COUNT")
                .arg(count)
                .arg("BLOCK")
                .arg(block_ms)
                .arg("STREAMS")
                .arg(self.keys.events())
                .arg(">")
                .query_async(&mut conn),
        )
        .await?;
        let mut out = Vec::new();
        let streams = match reply {
            Value::Map(pairs) => pairs.into_iter().map(|(_, v)| v).collect(),
            other => items(other)?
                .into_iter()
                .map(|s| {
                    let mut parts = items(s)?.into_iter();
                    parts
                        .nth(1)
                        .ok_or_else(|| StoreError::Corrupt("XREADGROUP reply".into()))
                })
                .collect::<Result<Vec<_>, _>>()?,
        };
        for entries in streams {
            out.extend(entries_of(entries)?);
        }
        Ok(out)
    }

    pub async fn ack(&self, group: &str, ids: &[String]) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut conn = self.conn.clone();
        bounded(
            redis::cmd("XACK")
                .arg(self.keys.events())
                .arg(group)
                .arg(ids)
                .query_async::<Value>(&mut conn),
        )
        .await
        .map(drop)
    }

    /// `XAUTOCLAIM`: up to `count` entries pending in `group` for longer than
    /// `min_idle_ms` (whoever held them), now `consumer`'s, oldest first.
    pub async fn claim_stale(
        &self,
        group: &str,
        consumer: &str,
        min_idle_ms: u64,
        count: usize,
    ) -> Result<Vec<(String, IncidentEvent)>, StoreError> {
        let mut conn = self.conn.clone();
        let reply: Value = bounded(
            redis::cmd("XAUTOCLAIM")
                .arg(self.keys.events())
                .arg(group)
                .arg(consumer)
                .arg(min_idle_ms)
                .arg("0-0")
                .arg("COUNT")
                .arg(count)
                .query_async(&mut conn),
        )
        .await?;
        let mut parts = items(reply)?.into_iter();
        let entries = parts
            .nth(1)
            .ok_or_else(|| StoreError::Corrupt("XAUTOCLAIM reply".into()))?;
        entries_of(entries)
    }

    /// Resets the idle time of entries `consumer` holds (`XCLAIM … 0 … JUSTID`), so that
    /// no other replica claims them while this one is still retrying.
    pub async fn touch(
        &self,
        group: &str,
        consumer: &str,
        ids: &[String],
    ) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut conn = self.conn.clone();
        bounded(
            redis::cmd("XCLAIM")
                .arg(self.keys.events())
                .arg(group)
                .arg(consumer)
                .arg(0)
                .arg(ids)
                .arg("JUSTID")
                .query_async::<Value>(&mut conn),
        )
        .await
        .map(drop)
    }

    /// Every group on the stream (`XINFO GROUPS`); none when the stream does not exist.
    pub async fn groups(&self) -> Result<Vec<GroupInfo>, StoreError> {
        let mut conn = self.conn.clone();
        let reply: Result<Value, StoreError> = bounded(
            redis::cmd("XINFO")
                .arg("GROUPS")
                .arg(self.keys.events())
                .query_async(&mut conn),
        )
        .await;
        let reply = match reply {
            Err(StoreError::Unavailable(e)) if e.contains("no such key") => return Ok(Vec::new()),
            other => other?,
        };
        let mut out = Vec::new();
        for group in items(reply)? {
            let mut info = GroupInfo::default();
            let pairs = match group {
                Value::Map(pairs) => pairs,
                other => {
                    let flat = items(other)?;
                    let mut it = flat.into_iter();
                    let mut pairs = Vec::new();
                    while let (Some(k), Some(v)) = (it.next(), it.next()) {
                        pairs.push((k, v));
                    }
                    pairs
                }
            };
            for (k, v) in pairs {
                match text(k)?.as_str() {
                    "name" => info.name = text(v)?,
                    "pending" => info.pending = text(v)?.parse().unwrap_or(0),
                    "last-delivered-id" => info.last_delivered = text(v)?,
                    "lag" => info.lag = text(v).ok().and_then(|l| l.parse().ok()),
                    _ => {}
                }
            }
            out.push(info);
        }
        Ok(out)
    }

    /// The oldest entry id `group` has not acknowledged, if any is pending.
    pub async fn oldest_pending(&self, group: &str) -> Result<Option<String>, StoreError> {
        let mut conn = self.conn.clone();
        let reply: Value = bounded(
            redis::cmd("XPENDING")
                .arg(self.keys.events())
                .arg(group)
                .query_async(&mut conn),
        )
        .await?;
        let mut parts = items(reply)?.into_iter();
        Ok(parts.nth(1).and_then(|v| text(v).ok()))
    }

    /// Trims the stream to its newest `keep` entries, but never past `floor` (the oldest
    /// entry some sink still needs): `XTRIM MINID`. Returns the entries removed.
    pub async fn trim(&self, keep: usize, floor: Option<&str>) -> Result<u64, StoreError> {
        let mut conn = self.conn.clone();
        let len: u64 = bounded(
            redis::cmd("XLEN")
                .arg(self.keys.events())
                .query_async(&mut conn),
        )
        .await?;
        let excess = usize::try_from(len)
            .unwrap_or(usize::MAX)
            .saturating_sub(keep);
        if excess == 0 {
            return Ok(0);
        }
        // The `excess` oldest entries, but none at or after the floor.
        let end = floor.map_or_else(|| "+".to_owned(), |f| format!("({f}"));
        let oldest: Vec<Value> = bounded(
            redis::cmd("XRANGE")
                .arg(self.keys.events())
                .arg("-")
                .arg(&end)
                .arg("COUNT")
                .arg(excess)
                .query_async(&mut conn),
        )
        .await?;
        let Some(last) = oldest.into_iter().last() else {
            return Ok(0);
        };
        let last_id = items(last)?
            .into_iter()
            .next()
            .map(text)
            .transpose()?
            .unwrap_or_default();
        let Some(min_id) = next_id(&last_id) else {
            return Err(StoreError::Corrupt(format!("stream id {last_id:?}")));
        };
        bounded(
            redis::cmd("XTRIM")
                .arg(self.keys.events())
                .arg("MINID")
                .arg(min_id)
                .query_async(&mut conn),
        )
        .await
    }

    /// Appends `event` to `sink`'s dead-letter stream with why it failed.
    pub async fn dead_add(
        &self,
        sink: &str,
        event_id: &str,
        event: &IncidentEvent,
        error: &str,
        attempts: u32,
        failed_at: i64,
    ) -> Result<(), StoreError> {
        let i = &event.incident;
        let mut cmd = redis::cmd("XADD");
        cmd.arg(self.keys.dead(sink))
            .arg("MAXLEN")
            .arg("~")
            .arg(DEAD_LETTER_CAP)
            .arg("*")
            .arg("event_id")
            .arg(event_id)
            .arg("error")
            .arg(error)
            .arg("attempts")
            .arg(attempts)
            .arg("failed_at")
            .arg(failed_at)
            .arg("transition")
            .arg(event.transition.as_str())
            .arg("at")
            .arg(event.at)
            .arg("id")
            .arg(&i.id)
            .arg("source")
            .arg(&*i.source)
            .arg("fingerprint")
            .arg(&*i.fingerprint)
            .arg("status")
            .arg(i.status.as_str())
            .arg("labels")
            .arg(i.labels.as_json())
            .arg("opened_at")
            .arg(i.opened_at)
            .arg("last_event_at")
            .arg(i.last_event_at)
            .arg("event_count")
            .arg(i.event_count);
        if let Some(p) = i.priority {
            cmd.arg("priority").arg(p.as_str());
        }
        if let Some(t) = &i.title {
            cmd.arg("title").arg(&**t);
        }
        if let Some(r) = i.resolved_at {
            cmd.arg("resolved_at").arg(r);
        }
        let mut conn = self.conn.clone();
        bounded(cmd.query_async::<Value>(&mut conn)).await.map(drop)
    }

    /// The oldest `limit` dead letters of `sink`.
    pub async fn dead_list(&self, sink: &str, limit: usize) -> Result<Vec<DeadLetter>, StoreError> {
        let mut conn = self.conn.clone();
        let entries: Vec<Value> = bounded(
            redis::cmd("XRANGE")
                .arg(self.keys.dead(sink))
                .arg("-")
                .arg("+")
                .arg("COUNT")
                .arg(limit)
                .query_async(&mut conn),
        )
        .await?;
        let mut out = Vec::new();
        for entry in entries {
            let parts = items(entry.clone())?;
            let dead_id = parts
                .into_iter()
                .next()
                .map(text)
                .transpose()?
                .unwrap_or_default();
            let fields = {
                let mut p = items(entry.clone())?.into_iter();
                p.nth(1).map(field_pairs).transpose()?.unwrap_or_default()
            };
            let get = |k: &str| fields.iter().find(|(f, _)| f == k).map(|(_, v)| v.clone());
            out.push(DeadLetter {
                id: dead_id,
                event_id: get("event_id").unwrap_or_default(),
                error: get("error").unwrap_or_default(),
                attempts: get("attempts").and_then(|a| a.parse().ok()).unwrap_or(0),
                failed_at: get("failed_at").and_then(|a| a.parse().ok()).unwrap_or(0),
                event: parse_stream_entry(entry)?,
            });
        }
        Ok(out)
    }

    pub async fn dead_remove(&self, sink: &str, ids: &[String]) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut conn = self.conn.clone();
        bounded(
            redis::cmd("XDEL")
                .arg(self.keys.dead(sink))
                .arg(ids)
                .query_async::<Value>(&mut conn),
        )
        .await
        .map(drop)
    }

    pub async fn dead_len(&self, sink: &str) -> Result<u64, StoreError> {
        let mut conn = self.conn.clone();
        bounded(
            redis::cmd("XLEN")
                .arg(self.keys.dead(sink))
                .query_async(&mut conn),
        )
        .await
    }
}

/// `[[id, [field, value, …]], …]` → events with their ids; entries whose fields were
/// deleted (nil) are skipped.
fn entries_of(entries: Value) -> Result<Vec<(String, IncidentEvent)>, StoreError> {
    let mut out = Vec::new();
    for entry in items(entries)? {
        let parts = items(entry.clone())?;
        if parts.len() != 2 || matches!(parts[1], Value::Nil) {
            continue;
        }
        let id = parts
            .into_iter()
            .next()
            .map(text)
            .transpose()?
            .unwrap_or_default();
        out.push((id, parse_stream_entry(entry)?));
    }
    Ok(out)
}

/// The smallest stream id after `id` (`ms-seq` → `ms-(seq+1)`).
fn next_id(id: &str) -> Option<String> {
    let (ms, seq) = id.split_once('-')?;
    let ms: u64 = ms.parse().ok()?;
    let seq: u64 = seq.parse().ok()?;
    Some(match seq.checked_add(1) {
        Some(s) => format!("{ms}-{s}"),
        None => format!("{}-0", ms.checked_add(1)?),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn next_id_steps_the_sequence() {
        assert_eq!(super::next_id("5-1").as_deref(), Some("5-2"));
        assert_eq!(
            super::next_id(&format!("5-{}", u64::MAX)).as_deref(),
            Some("6-0")
        );
        assert_eq!(super::next_id("x"), None);
    }
}
