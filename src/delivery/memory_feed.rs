//! `EventFeed` on the memory store's event ring: an in-process queue per sink (a cursor
//! into the numbered ring), with the same retries. Nothing survives a restart, and a
//! sink more than `store.event_stream_len` events behind loses the oldest (counted and
//! logged): the ring is the bound.

use std::collections::{BTreeSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use super::feed::{EventFeed, FeedEntry, FeedStats};
use crate::store::{DeadLetter, IncidentStore, MemoryStore, StoreError};

/// Dead letters kept per sink in memory; the oldest go first.
const DEAD_CAP: usize = 10_000;

#[derive(Debug, Default)]
struct State {
    /// The number of the last event handed out.
    cursor: u64,
    pending: BTreeSet<u64>,
    dead: VecDeque<DeadLetter>,
    dead_seq: u64,
    /// Events the ring dropped before this sink read them.
    lost: u64,
}

#[derive(Clone)]
pub(super) struct MemoryFeed {
    store: MemoryStore,
    state: Arc<Mutex<State>>,
}

impl MemoryFeed {
    /// A queue starting after the newest event so far.
    pub(super) fn new(store: MemoryStore) -> MemoryFeed {
        let cursor = store.last_event_number();
        MemoryFeed {
            store,
            state: Arc::new(Mutex::new(State {
                cursor,
                ..State::default()
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    async fn take(&self, count: usize) -> Result<Vec<FeedEntry>, StoreError> {
        let cursor = self.lock().cursor.to_string();
        let page = self.store.events_after(Some(&cursor), count).await?;
        let mut state = self.lock();
        let mut expected = state.cursor + 1;
        let mut out = Vec::with_capacity(page.events.len());
        for event in page.events {
            let n = parse_seq(&event.id)?;
            if n > expected {
                let lost = n - expected;
                state.lost += lost;
                tracing::warn!(lost, "memory event ring overran a sink: events lost");
            }
            expected = n + 1;
            state.cursor = n;
            state.pending.insert(n);
            out.push(FeedEntry {
                id: event.id.clone(),
                event,
            });
        }
        Ok(out)
    }
}

/// A memory event id (`<seq>`) as its number.
fn parse_seq(id: &str) -> Result<u64, StoreError> {
    id.parse()
        .map_err(|_| StoreError::Corrupt(format!("memory event id {id:?}")))
}

impl EventFeed for MemoryFeed {
    async fn read_group(
        &self,
        count: usize,
        block: Duration,
    ) -> Result<Vec<FeedEntry>, StoreError> {
        let mut watch = self.store.watch_events();
        let got = self.take(count).await?;
        if !got.is_empty() {
            return Ok(got);
        }
        let _ = tokio::time::timeout(block, watch.changed()).await;
        self.take(count).await
    }

    async fn ack(&self, ids: &[String]) -> Result<(), StoreError> {
        let mut state = self.lock();
        for id in ids {
            if let Ok(n) = id.parse::<u64>() {
                state.pending.remove(&n);
            }
        }
        Ok(())
    }

    async fn claim_stale(&self, _: Duration, _: usize) -> Result<Vec<FeedEntry>, StoreError> {
        Ok(Vec::new())
    }

    async fn touch(&self, _: &[String]) -> Result<(), StoreError> {
        Ok(())
    }

    async fn stats(&self) -> Result<FeedStats, StoreError> {
        let last = self.store.last_event_number();
        let state = self.lock();
        Ok(FeedStats {
            lag: Some(last.saturating_sub(state.cursor)),
            pending: state.pending.len() as u64,
        })
    }

    async fn trim_safe(&self, _: &[String], _: usize) -> Result<u64, StoreError> {
        Ok(0)
    }

    async fn dead_letter(
        &self,
        entry: &FeedEntry,
        error: &str,
        attempts: u32,
    ) -> Result<(), StoreError> {
        let mut state = self.lock();
        state.dead_seq += 1;
        let id = state.dead_seq.to_string();
        if state.dead.len() >= DEAD_CAP {
            state.dead.pop_front();
        }
        state.dead.push_back(DeadLetter {
            id,
            event_id: entry.id.clone(),
            error: error.to_owned(),
            attempts,
            failed_at: crate::clock::now_ms(),
            event: entry.event.clone(),
        });
        Ok(())
    }

    async fn dead_list(&self, limit: usize) -> Result<Vec<DeadLetter>, StoreError> {
        Ok(self.lock().dead.iter().take(limit).cloned().collect())
    }

    async fn dead_remove(&self, ids: &[String]) -> Result<(), StoreError> {
        self.lock().dead.retain(|d| !ids.contains(&d.id));
        Ok(())
    }

    async fn dead_count(&self) -> Result<u64, StoreError> {
        Ok(self.lock().dead.len() as u64)
    }
}
