//! `EventFeed` on today's single Redis stream `{prefix}events`: one consumer group per
//! sink (`sink:{id}`), one consumer per replica, dead letters in `{prefix}dead:{sink}`.

use std::time::Duration;

use super::feed::{EventFeed, FeedEntry, FeedStats};
use crate::store::{DeadLetter, RedisSettings, RedisStore, StoreError};

/// The consumer group of a sink.
pub(super) fn group_of(sink: &str) -> String {
    format!("sink:{sink}")
}

#[derive(Clone)]
pub(super) struct RedisFeed {
    /// A connection of its own: `XREADGROUP … BLOCK` holds it while it waits.
    blocking: RedisStore,
    shared: RedisStore,
    sink: String,
    group: String,
    consumer: String,
}

impl RedisFeed {
    /// Connects the sink's own reading connection and makes sure its group exists (new
    /// groups start at the stream's current end).
    pub(super) async fn connect(
        settings: &RedisSettings,
        shared: RedisStore,
        sink: &str,
        consumer: &str,
    ) -> Result<RedisFeed, StoreError> {
        let blocking = RedisStore::connect(settings.clone()).await?;
        let group = group_of(sink);
        shared.group_create(&group).await?;
        Ok(RedisFeed {
            blocking,
            shared,
            sink: sink.to_owned(),
            group,
            consumer: consumer.to_owned(),
        })
    }
}

fn entries(list: Vec<(String, crate::store::IncidentEvent)>) -> Vec<FeedEntry> {
    list.into_iter()
        .map(|(id, event)| FeedEntry { id, event })
        .collect()
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl EventFeed for RedisFeed {
    async fn read_group(
        &self,
        count: usize,
        block: Duration,
    ) -> Result<Vec<FeedEntry>, StoreError> {
        let read = self
            .blocking
            .read_group(&self.group, &self.consumer, count, millis(block))
            .await;
        match read {
            // The group went away (the sink was removed on another replica, or the stream
            // was deleted): it is recreated at the end while this sink is configured.
            Err(StoreError::Unavailable(e)) if e.contains("NOGROUP") => {
                self.shared.group_create(&self.group).await?;
                Ok(Vec::new())
            }
            other => other.map(entries),
        }
    }

    async fn ack(&self, ids: &[String]) -> Result<(), StoreError> {
        self.shared.ack(&self.group, ids).await
    }

    async fn claim_stale(
        &self,
        min_idle: Duration,
        count: usize,
    ) -> Result<Vec<FeedEntry>, StoreError> {
        self.shared
            .claim_stale(&self.group, &self.consumer, millis(min_idle), count)
            .await
            .map(entries)
    }

    async fn touch(&self, ids: &[String]) -> Result<(), StoreError> {
        self.shared.touch(&self.group, &self.consumer, ids).await
    }

    async fn stats(&self) -> Result<FeedStats, StoreError> {
        let groups = self.shared.groups().await?;
        Ok(groups
            .into_iter()
            .find(|g| g.name == self.group)
            .map(|g| FeedStats {
                lag: g.lag,
                pending: g.pending,
            })
            .unwrap_or_default())
    }

    async fn trim_safe(&self, sinks: &[String], keep: usize) -> Result<u64, StoreError> {
        trim_safe(&self.shared, sinks, keep).await
    }

    async fn dead_letter(
        &self,
        entry: &FeedEntry,
        error: &str,
        attempts: u32,
    ) -> Result<(), StoreError> {
        self.shared
            .dead_add(
                &self.sink,
                &entry.id,
                &entry.event,
                error,
                attempts,
                crate::clock::now_ms(),
            )
            .await
    }

    async fn dead_list(&self, limit: usize) -> Result<Vec<DeadLetter>, StoreError> {
        self.shared.dead_list(&self.sink, limit).await
    }

    async fn dead_remove(&self, ids: &[String]) -> Result<(), StoreError> {
        self.shared.dead_remove(&self.sink, ids).await
    }

    async fn dead_count(&self) -> Result<u64, StoreError> {
        self.shared.dead_len(&self.sink).await
    }
}

fn parse_id(id: &str) -> Option<(u64, u64)> {
    let (ms, seq) = id.split_once('-')?;
    Some((ms.parse().ok()?, seq.parse().ok()?))
}

fn next_of(id: &str) -> String {
    match parse_id(id) {
        Some((ms, seq)) => match seq.checked_add(1) {
            Some(s) => format!("{ms}-{s}"),
            None => format!("{}-0", ms.saturating_add(1)),
        },
        None => "0-1".to_owned(),
    }
}

/// Trims the stream to about `keep` entries, never past the oldest entry one of `sinks`
/// still needs: its oldest pending entry, else the one after its last delivered. Groups
/// of sinks no longer configured do not hold the stream back.
pub(super) async fn trim_safe(
    store: &RedisStore,
    sinks: &[String],
    keep: usize,
) -> Result<u64, StoreError> {
    let wanted: Vec<String> = sinks.iter().map(|s| group_of(s)).collect();
    let mut floor: Option<((u64, u64), String)> = None;
    for group in store.groups().await? {
        if !wanted.contains(&group.name) {
            continue;
        }
        let pending = if group.pending > 0 {
            store.oldest_pending(&group.name).await?
        } else {
            None
        };
        let needed = pending.unwrap_or_else(|| next_of(&group.last_delivered));
        if let Some(key) = parse_id(&needed) {
            if floor.as_ref().is_none_or(|f| key < f.0) {
                floor = Some((key, needed));
            }
        }
    }
    store.trim(keep, floor.as_ref().map(|f| f.1.as_str())).await
}
