//! The replayer: one task per spool that applies queued webhooks to the store, oldest
//! first, through the same atomic step a live webhook takes (docs/design.md §10).
//!
//! Each event is applied with its arrival time as the step's `now` (so `opened_at` and
//! `last_event_at` say when the webhook came, not when Redis came back) and, when its
//! payload had no `event_time`, as its `event_time` too. An `Unavailable` store is
//! retried with backoff (100 ms doubling to 2 s) on the same event, so the order holds;
//! any other failure drops that one event with an ERROR (the store refused it for a
//! reason a retry will not change). After each applied event the position advances; the
//! last one truncates the log and live writes resume.

use std::time::Duration;

use tokio::task::JoinHandle;

use super::handle::Spool;
use crate::store::{IncidentStore, StoreError};

const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// Events read from the log per batch.
const BATCH: usize = 256;

/// The running replayer; aborted when dropped.
pub struct Replayer {
    task: JoinHandle<()>,
}

impl Replayer {
    /// Stops the task and waits until it is gone (an event being applied may have been
    /// applied without its position saved: it is applied again by the next run).
    pub async fn stop(mut self) {
        self.task.abort();
        let _ = (&mut self.task).await;
    }
}

impl Drop for Replayer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts replaying `spool` into `store`.
pub fn spawn_replayer<S>(spool: Spool, store: S) -> Replayer
where
    S: IncidentStore + Clone,
{
    Replayer {
        task: tokio::spawn(run(spool, store)),
    }
}

async fn run<S: IncidentStore>(spool: Spool, store: S) {
    let mut backoff = FIRST_BACKOFF;
    let mut failing = false;
    loop {
        if spool.pending() == 0 {
            spool.appended().await;
            continue;
        }
        let batch = match spool.read_pending(BATCH).await {
            Ok(batch) => batch,
            Err(e) => {
                tracing::error!(error = %e, "spool: cannot read queued webhooks; retrying");
                tokio::time::sleep(MAX_BACKOFF).await;
                continue;
            }
        };
        for (next, event) in batch {
            loop {
                let result = match event.to_outcome() {
                    Ok(outcome) => store.apply(&event.source, &outcome, event.arrival_ms).await,
                    Err(e) => Err(StoreError::Corrupt(e)),
                };
                match result {
                    Ok(applied) => {
                        tracing::debug!(
                            source = %event.source,
                            transition = applied.transition.as_str(),
                            "spool: replayed"
                        );
                        spool.metrics().spool_replayed(true);
                        backoff = FIRST_BACKOFF;
                        if failing {
                            tracing::info!(
                                pending = spool.pending(),
                                "spool: store back, replaying"
                            );
                            failing = false;
                        }
                        spool.note_store(true);
                        break;
                    }
                    Err(StoreError::Unavailable(detail)) => {
                        if !failing {
                            tracing::warn!(detail, "spool: store unavailable; will retry");
                            failing = true;
                        }
                        spool.note_store(false);
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(MAX_BACKOFF);
                    }
                    Err(e) => {
                        tracing::error!(
                            source = %event.source,
                            arrival_ms = event.arrival_ms,
                            error = %e,
                            "spool: the store refused a queued webhook; dropped"
                        );
                        spool.metrics().spool_replayed(false);
                        break;
                    }
                }
            }
            if let Err(e) = advance(&spool, next).await {
                tracing::error!(error = %e, "spool: cannot save the replay position");
            }
        }
    }
}

/// Saves the position, retrying a failing disk rather than replaying out of order.
async fn advance(spool: &Spool, to: u64) -> Result<(), super::handle::SpoolError> {
    let mut last = None;
    for _ in 0..5 {
        match spool.advance(to).await {
            Ok(()) => return Ok(()),
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(FIRST_BACKOFF).await;
    }
    match last {
        Some(e) => Err(e),
        None => Ok(()),
    }
}
