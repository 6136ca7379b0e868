//! One sink's delivery loop on one replica: claim what dead replicas left, read new
//! events, deliver each in order with retries, dead-letter what cannot be delivered,
//! acknowledge. The sink's settings are read from the current snapshot before every
//! attempt, so a reload applies to the next delivery.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;

use super::client::HttpClient;
use super::feed::{EventFeed, FeedEntry};
use super::render::render;
use super::retry::backoff;
use crate::config::{SinkSettings, Snapshot};
use crate::metrics::Metrics;

/// Events read (or claimed) per round.
const BATCH: usize = 32;
/// How long one read waits for new events.
const BLOCK: Duration = Duration::from_secs(1);
/// Wait after a failed stream call.
const STREAM_RETRY: Duration = Duration::from_secs(1);

/// What a sink reports to the admin API.
#[derive(Debug, Default, Clone)]
#[allow(clippy::struct_field_names)]
pub(super) struct SinkStatus {
    pub last_error: Option<String>,
    pub last_error_at: Option<i64>,
    pub last_delivered_at: Option<i64>,
}

/// What one consumer needs, besides its feed.
#[derive(Clone)]
pub(super) struct Runtime {
    pub sink: String,
    pub snapshot: Arc<ArcSwap<Snapshot>>,
    pub client: HttpClient,
    pub metrics: Metrics,
    pub status: Arc<Mutex<SinkStatus>>,
    pub claim_idle: Duration,
}

/// How one event ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Delivered {
    Sent,
    Filtered,
    GaveUp {
        error: String,
        attempts: u32,
    },
    /// The sink is no longer configured.
    Removed,
}

impl Runtime {
    fn settings(&self) -> Option<(Arc<SinkSettings>, String)> {
        let snapshot = self.snapshot.load();
        let sink = snapshot.settings.sinks.get(&self.sink)?;
        Some((Arc::clone(sink), snapshot.settings.public_url.clone()))
    }

    fn note_error(&self, error: &str) {
        let mut s = self.status.lock().unwrap_or_else(PoisonError::into_inner);
        s.last_error = Some(error.to_owned());
        s.last_error_at = Some(crate::clock::now_ms());
    }

    /// Delivers one event with retries. `held` are the ids this consumer holds (kept
    /// from being claimed by others while it waits); `filter` is off for replays.
    pub(super) async fn deliver<F: EventFeed>(
        &self,
        feed: &F,
        entry: &FeedEntry,
        held: &[String],
        filter: bool,
    ) -> Delivered {
        let mut attempts = 0u32;
        let mut last_touch = Instant::now();
        loop {
            let Some((sink, public_url)) = self.settings() else {
                return Delivered::Removed;
            };
            let i = &entry.event.incident;
            // An incident flapping is not news: its entries are acknowledged unsent, and
            // the sink hears once, from `flapping_ended`, how the spell ended (docs/design.md §4).
            if filter && (i.flapping || !sink.wants(&i.source, entry.event.transition, i.priority))
            {
                return Delivered::Filtered;
            }
            attempts += 1;
            self.metrics.record_notification_attempt(&self.sink);
            let failure = match render(&sink, entry, &public_url) {
                Err(e) => super::client::Failure {
                    message: e,
                    permanent: true,
                    retry_after: None,
                },
                Ok(body) => match self.client.send(&sink, &entry.id, body).await {
                    Ok(_) => {
                        let mut s = self.status.lock().unwrap_or_else(PoisonError::into_inner);
                        s.last_delivered_at = Some(crate::clock::now_ms());
                        return Delivered::Sent;
                    }
                    Err(f) => f,
                },
            };
            self.note_error(&failure.message);
            let age_ms = crate::clock::now_ms().saturating_sub(entry.event.at);
            let too_old = u128::try_from(age_ms).unwrap_or(0) >= sink.max_age.as_millis();
            tracing::warn!(
                sink = %self.sink,
                event_id = %entry.id,
                attempts,
                error = %failure.message,
                "notification attempt failed"
            );
            if failure.permanent || attempts >= sink.max_attempts || too_old {
                return Delivered::GaveUp {
                    error: failure.message,
                    attempts,
                };
            }
            let wait = failure
                .retry_after
                .unwrap_or_else(|| backoff(attempts, sink.backoff_initial, sink.backoff_max));
            // A configured backoff past what an Instant holds waits "forever", not a panic.
            let deadline = Instant::now()
                .checked_add(wait)
                .unwrap_or_else(|| Instant::now() + Duration::from_secs(365 * 86_400));
            // Sleep in slices, keeping our held entries fresh so no replica claims them.
            while Instant::now() < deadline {
                let touch_every = self.claim_idle / 3;
                if last_touch.elapsed() >= touch_every {
                    if let Err(e) = feed.touch(held).await {
                        tracing::warn!(sink = %self.sink, error = %e, "cannot keep entries claimed");
                    }
                    last_touch = Instant::now();
                }
                let left = deadline.saturating_duration_since(Instant::now());
                tokio::time::sleep(left.min(touch_every.max(Duration::from_millis(10)))).await;
            }
        }
    }

    /// Finishes an event: dead-letters it if it gave up, then acknowledges it.
    async fn finish<F: EventFeed>(&self, feed: &F, entry: &FeedEntry, outcome: Delivered) -> bool {
        let result = match &outcome {
            Delivered::Sent => "delivered",
            Delivered::Filtered => "filtered",
            Delivered::Removed => return false,
            Delivered::GaveUp { error, attempts } => {
                while let Err(e) = feed.dead_letter(entry, error, *attempts).await {
                    tracing::warn!(sink = %self.sink, error = %e, "cannot dead-letter; retrying");
                    tokio::time::sleep(STREAM_RETRY).await;
                }
                tracing::error!(sink = %self.sink, event_id = %entry.id, attempts, "notification dead-lettered");
                "dead_lettered"
            }
        };
        self.metrics.record_notification(&self.sink, result);
        let ids = [entry.id.clone()];
        while let Err(e) = feed.ack(&ids).await {
            tracing::warn!(sink = %self.sink, error = %e, "cannot acknowledge; retrying");
            tokio::time::sleep(STREAM_RETRY).await;
        }
        true
    }

    /// Runs until the task is aborted or the sink is removed.
    pub(super) async fn run<F: EventFeed>(self, feed: F) {
        let mut last_claim: Option<Instant> = None;
        loop {
            if self.settings().is_none() {
                return;
            }
            let mut batch = Vec::new();
            if last_claim.is_none_or(|t| t.elapsed() >= self.claim_idle / 2) {
                last_claim = Some(Instant::now());
                match feed.claim_stale(self.claim_idle, BATCH).await {
                    Ok(claimed) => {
                        if !claimed.is_empty() {
                            tracing::info!(sink = %self.sink, claimed = claimed.len(), "claimed entries a replica left");
                        }
                        batch = claimed;
                    }
                    Err(e) => tracing::warn!(sink = %self.sink, error = %e, "claim failed"),
                }
            }
            if batch.is_empty() {
                match feed.read_group(BATCH, BLOCK).await {
                    Ok(read) => batch = read,
                    Err(e) => {
                        self.note_error(&format!("stream: {e}"));
                        tracing::warn!(sink = %self.sink, error = %e, "stream read failed");
                        tokio::time::sleep(STREAM_RETRY).await;
                        continue;
                    }
                }
            }
            let mut held: Vec<String> = batch.iter().map(|e| e.id.clone()).collect();
            for entry in &batch {
                let outcome = self.deliver(&feed, entry, &held, true).await;
                if !self.finish(&feed, entry, outcome).await {
                    return;
                }
                held.retain(|id| id != &entry.id);
            }
        }
    }
}
