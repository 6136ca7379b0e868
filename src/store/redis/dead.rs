//! Per-sink dead-letter streams `P{b0}dead:{sink}` (docs/design.md §11): the events a
//! sink gave up on, from whichever bucket, with why; one key per sink, in bucket 0's
//! Cluster slot.

use redis::Value;

use super::keys::DEAD_LETTER_CAP;
use super::record::encode;
use super::reply::{field_pairs, items, parse_stream_entry, text};
use super::store::RedisStore;
use crate::store::model::{DeadLetter, IncidentEvent, StoreError};

impl RedisStore {
    /// Appends `event` to `sink`'s dead-letter stream with why it failed.
    pub async fn dead_add(
        &self,
        sink: &str,
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
            .arg(&event.id)
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
            .arg(encode(&i.fingerprint, &[]).as_ref())
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
            cmd.arg("title").arg(encode(t, &[]).as_ref());
        }
        if let Some(r) = i.resolved_at {
            cmd.arg("resolved_at").arg(r);
        }
        // The lifecycle and console fields, so a replayed letter reads as the event did.
        if i.flapping {
            cmd.arg("flapping").arg("1");
        }
        if let Some(n) = i.flap_count {
            cmd.arg("flap_count").arg(n);
        }
        if let Some(t) = i.acknowledged_at {
            cmd.arg("acknowledged_at").arg(t);
        }
        if let Some(by) = &i.acknowledged_by {
            cmd.arg("acknowledged_by").arg(&**by);
        }
        if let Some(by) = &i.resolved_by {
            cmd.arg("resolved_by").arg(&**by);
        }
        if let Some(actor) = &event.actor {
            cmd.arg("actor").arg(&**actor);
        }
        if let Some(note) = &event.note {
            cmd.arg("note").arg(&**note);
        }
        self.call(|mut c| async move { cmd.query_async::<Value>(&mut c).await })
            .await
            .map(drop)
    }

    /// The oldest `limit` dead letters of `sink`, each event with its own id.
    pub async fn dead_list(&self, sink: &str, limit: usize) -> Result<Vec<DeadLetter>, StoreError> {
        let mut cmd = redis::cmd("XRANGE");
        cmd.arg(self.keys.dead(sink))
            .arg("-")
            .arg("+")
            .arg("COUNT")
            .arg(limit);
        let entries: Vec<Value> = self
            .call(|mut c| async move { cmd.query_async(&mut c).await })
            .await?;
        let mut out = Vec::with_capacity(entries.len());
        for entry in entries {
            let parts = items(entry.clone())?;
            let (Some(dead_id), Some(fields)) = (parts.first(), parts.get(1)) else {
                return Err(StoreError::Corrupt(
                    "dead letter is not [id, fields]".into(),
                ));
            };
            let dead_id = text(dead_id.clone())?;
            let fields = field_pairs(fields.clone())?;
            let get = |k: &str| fields.iter().find(|(f, _)| f == k).map(|(_, v)| v.clone());
            let (_, raw) = parse_stream_entry(entry, 0)?;
            let mut event = self
                .complete(vec![raw])
                .await?
                .pop()
                .ok_or_else(|| StoreError::Corrupt("dead letter without its event".into()))?;
            event.id = get("event_id").unwrap_or_default();
            out.push(DeadLetter {
                id: dead_id,
                event_id: event.id.clone(),
                error: get("error").unwrap_or_default(),
                attempts: get("attempts").and_then(|a| a.parse().ok()).unwrap_or(0),
                failed_at: get("failed_at").and_then(|a| a.parse().ok()).unwrap_or(0),
                event,
            });
        }
        Ok(out)
    }

    /// Removes dead letters (by their ids in the dead-letter stream).
    pub async fn dead_remove(&self, sink: &str, ids: &[String]) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut cmd = redis::cmd("XDEL");
        cmd.arg(self.keys.dead(sink)).arg(ids);
        self.call(|mut c| async move { cmd.query_async::<Value>(&mut c).await })
            .await
            .map(drop)
    }

    pub async fn dead_len(&self, sink: &str) -> Result<u64, StoreError> {
        let mut cmd = redis::cmd("XLEN");
        cmd.arg(self.keys.dead(sink));
        self.call(|mut c| async move { cmd.query_async(&mut c).await })
            .await
    }
}
