//! Trimming each bucket's stream by its slowest consumer group (docs/design.md §11):
//! `apply.lua` only caps a stream at `STREAM_HARD_CAP`; the delivery task calls this to
//! keep each to about `event_stream_len` without dropping an entry a sink still needs.

use futures_util::future::join_all;
use redis::Value;

use super::reply::{items, parse_entry_id, text, EntryId};
use super::store::RedisStore;
use crate::store::model::StoreError;

/// The smallest stream id after `id`.
fn next_id((ms, seq): EntryId) -> EntryId {
    match seq.checked_add(1) {
        Some(s) => (ms, s),
        None => (ms.saturating_add(1), 0),
    }
}

fn format_id((ms, seq): EntryId) -> String {
    format!("{ms}-{seq}")
}

impl RedisStore {
    /// Trims every bucket's stream to about its newest `keep` entries, never past the
    /// oldest entry one of `groups` still needs there: its oldest pending entry, else the
    /// one after its last delivered. Groups not listed (sinks no longer configured) do
    /// not hold a stream back. Returns the entries removed.
    pub async fn trim_streams(&self, groups: &[String], keep: usize) -> Result<u64, StoreError> {
        let calls = self.keys.all().map(|b| self.trim_bucket(b, groups, keep));
        let mut removed = 0;
        for result in join_all(calls).await {
            removed += result?;
        }
        Ok(removed)
    }

    async fn trim_bucket(
        &self,
        bucket: u16,
        groups: &[String],
        keep: usize,
    ) -> Result<u64, StoreError> {
        let mut floor: Option<EntryId> = None;
        for group in self.groups(bucket).await? {
            if !groups.contains(&group.name) {
                continue;
            }
            let pending = if group.pending > 0 {
                self.oldest_pending(bucket, &group.name).await?
            } else {
                None
            };
            // A position that cannot be read holds everything back.
            let needed = pending
                .unwrap_or_else(|| parse_entry_id(&group.last_delivered).map_or((0, 0), next_id));
            floor = Some(floor.map_or(needed, |f| f.min(needed)));
        }
        self.trim_below(bucket, keep, floor).await
    }

    /// The oldest entry `group` has not acknowledged on bucket `bucket`'s stream.
    async fn oldest_pending(
        &self,
        bucket: u16,
        group: &str,
    ) -> Result<Option<EntryId>, StoreError> {
        let mut cmd = redis::cmd("XPENDING");
        cmd.arg(self.keys.events(bucket)).arg(group);
        let reply: Value = self
            .call(|mut c| async move { cmd.query_async(&mut c).await })
            .await?;
        Ok(items(reply)?
            .into_iter()
            .nth(1)
            .and_then(|v| text(v).ok())
            .and_then(|id| parse_entry_id(&id)))
    }

    /// Trims bucket `bucket`'s stream to its newest `keep` entries, but none at or after
    /// `floor`: `XTRIM MINID` just past the last entry to go.
    async fn trim_below(
        &self,
        bucket: u16,
        keep: usize,
        floor: Option<EntryId>,
    ) -> Result<u64, StoreError> {
        let key = self.keys.events(bucket);
        let mut xlen = redis::cmd("XLEN");
        xlen.arg(key);
        let len: u64 = self
            .call(|mut c| async move { xlen.query_async(&mut c).await })
            .await?;
        let excess = usize::try_from(len)
            .unwrap_or(usize::MAX)
            .saturating_sub(keep);
        if excess == 0 {
            return Ok(0);
        }
        let Some(floor) = floor else {
            // No sink holds this stream back: Redis trims by length itself, reading
            // nothing (reading the entries to drop cost ~200 ms of Redis and tens of MB
            // of parsing at full webhook rate).
            let mut trim = redis::cmd("XTRIM");
            trim.arg(key).arg("MAXLEN").arg("~").arg(keep);
            return self
                .call(|mut c| async move { trim.query_async(&mut c).await })
                .await;
        };
        let end = format!("({}", format_id(floor));
        let mut range = redis::cmd("XRANGE");
        range.arg(key).arg("-").arg(end).arg("COUNT").arg(excess);
        let oldest: Vec<Value> = self
            .call(|mut c| async move { range.query_async(&mut c).await })
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
        let last = parse_entry_id(&last_id)
            .ok_or_else(|| StoreError::Corrupt(format!("stream id {last_id:?}")))?;
        let mut trim = redis::cmd("XTRIM");
        trim.arg(key).arg("MINID").arg(format_id(next_id(last)));
        self.call(|mut c| async move { trim.query_async(&mut c).await })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_id_steps_the_sequence() {
        assert_eq!(next_id((5, 1)), (5, 2));
        assert_eq!(next_id((5, u64::MAX)), (6, 0));
        assert_eq!(format_id((7, 0)), "7-0");
    }
}
