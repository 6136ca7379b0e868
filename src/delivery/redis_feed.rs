//! `EventFeed` on the Redis store's bucket streams `{prefix}{bB}events`: one consumer
//! group per sink (`sink:{id}`) on every bucket's stream, one consumer per replica, event
//! ids `<bucket>-<entry id>` (they name the stream to acknowledge on), dead letters in
//! `{prefix}{b0}dead:{sink}`.

use std::time::Duration;

use super::feed::{EventFeed, FeedEntry, FeedStats};
use crate::store::{DeadLetter, IncidentEvent, RedisSettings, RedisStore, StoreError};

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
    /// Makes sure the sink's group exists on every bucket's stream (new groups start at
    /// the streams' current ends), then connects the sink's own reading connection.
    pub(super) async fn connect(
        settings: &RedisSettings,
        shared: RedisStore,
        sink: &str,
        consumer: &str,
    ) -> Result<RedisFeed, StoreError> {
        let group = group_of(sink);
        shared.group_create(&group).await?;
        let blocking = RedisStore::connect(settings.clone()).await?;
        Ok(RedisFeed {
            blocking,
            shared,
            sink: sink.to_owned(),
            group,
            consumer: consumer.to_owned(),
        })
    }
}

fn entries(list: Vec<IncidentEvent>) -> Vec<FeedEntry> {
    list.into_iter()
        .map(|event| FeedEntry {
            id: event.id.clone(),
            event,
        })
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
        // A group gone (the sink removed on another replica, a stream deleted) is made
        // again at the end by the read, while this sink is configured.
        self.blocking
            .read_group(&self.group, &self.consumer, count, millis(block))
            .await
            .map(entries)
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
        let backlog = self.shared.backlog(&self.group).await?;
        Ok(FeedStats {
            lag: backlog.lag,
            pending: backlog.pending,
        })
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

/// Trims every bucket's stream to about `keep` entries, never past the oldest entry one
/// of `sinks` still needs there. Groups of sinks no longer configured do not hold the
/// streams back.
pub(super) async fn trim_safe(
    store: &RedisStore,
    sinks: &[String],
    keep: usize,
) -> Result<u64, StoreError> {
    let groups: Vec<String> = sinks.iter().map(|s| group_of(s)).collect();
    store.trim_streams(&groups, keep).await
}
