//! The spool as the server sees it: a cheap-clone handle that either applies a webhook's
//! outcome to the store or queues it on disk (docs/design.md §10).
//!
//! - Spool empty: the outcome goes to the store as usual. When the store answers
//!   `Unavailable`, the outcome is appended (fsynced) instead and the webhook is `queued`.
//! - Spool not empty: every outcome is appended behind what is waiting, so this replica's
//!   arrival order holds; the replayer (`replay`) applies them in order and, once none is
//!   left, truncates the log and live writes resume.
//!
//! The log sits under one std mutex, held only on the blocking pool (`spawn_blocking`):
//! an append's fsync never stalls a runtime worker.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::Notify;

use super::file::{FileError, Recovery, SpoolFile};
use super::record::SpooledEvent;
use crate::metrics::Metrics;
use crate::outcome::Outcome;
use crate::store::{Applied, IncidentStore, StoreError};

/// `store.spool` as checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpoolSettings {
    /// Resolved against the config file's folder. One per replica.
    pub dir: PathBuf,
    /// Bound on the log file's size; an append that would pass it is refused (503).
    pub max_bytes: u64,
}

/// Why a webhook could neither be applied nor queued, or the spool could not open.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("spool full: {len} of {max_bytes} bytes used")]
    Full { len: u64, max_bytes: u64 },
    #[error("spool: {0}")]
    File(#[from] FileError),
    #[error("spool write failed: {0}")]
    Io(String),
    #[error(transparent)]
    Store(StoreError),
}

/// What became of a webhook handed to [`Spool::submit`].
#[derive(Debug)]
pub enum Submitted {
    /// The store applied it now.
    Applied(Box<Applied>),
    /// It is on disk, waiting for the store.
    Queued,
}

/// A cheap-clone handle on one open spool.
#[derive(Clone)]
pub struct Spool {
    shared: Arc<Shared>,
}

struct Shared {
    file: Mutex<SpoolFile>,
    settings: SpoolSettings,
    /// Mirrors of the file's counters, readable without the lock.
    pending: AtomicU64,
    len: AtomicU64,
    /// Whether the last store call anyone made succeeded.
    store_ok: AtomicBool,
    /// Wakes the replayer after an append.
    pub(super) wake: Notify,
    metrics: Metrics,
}

impl Spool {
    /// Opens the spool in `settings.dir` (blocking: call at startup). Frames left by an
    /// earlier run are pending: the replayer applies them before any live write.
    pub fn open(
        settings: SpoolSettings,
        metrics: Metrics,
    ) -> Result<(Spool, Recovery), SpoolError> {
        let (file, recovery) = SpoolFile::open(&settings.dir)?;
        let spool = Spool {
            shared: Arc::new(Shared {
                pending: AtomicU64::new(file.pending()),
                len: AtomicU64::new(file.len()),
                file: Mutex::new(file),
                settings,
                store_ok: AtomicBool::new(true),
                wake: Notify::new(),
                metrics,
            }),
        };
        spool.publish();
        Ok((spool, recovery))
    }

    pub fn settings(&self) -> &SpoolSettings {
        &self.shared.settings
    }

    /// Webhooks waiting for the store.
    pub fn pending(&self) -> u64 {
        self.shared.pending.load(Ordering::Acquire)
    }

    /// Size of the log file.
    pub fn len_bytes(&self) -> u64 {
        self.shared.len.load(Ordering::Acquire)
    }

    /// True while webhooks are queued rather than applied, or the store last failed.
    pub fn degraded(&self) -> bool {
        self.pending() > 0 || !self.shared.store_ok.load(Ordering::Acquire)
    }

    /// Records whether a store call (a readiness ping, a replayed step) just succeeded.
    pub fn note_store(&self, ok: bool) {
        self.shared.store_ok.store(ok, Ordering::Release);
        self.publish();
    }

    /// Applies `outcome` now, or queues it as the module says. `now_ms` is the arrival
    /// time; `outcome` is `open` or `resolve` (an `ignore` never reaches a store).
    pub async fn submit<S: IncidentStore>(
        &self,
        store: &S,
        source: &str,
        outcome: &Outcome,
        now_ms: i64,
    ) -> Result<Submitted, SpoolError> {
        if self.pending() == 0 {
            match store.apply(source, outcome, now_ms).await {
                Ok(applied) => {
                    if !self.shared.store_ok.load(Ordering::Acquire) {
                        self.note_store(true);
                    }
                    return Ok(Submitted::Applied(Box::new(applied)));
                }
                Err(StoreError::Unavailable(detail)) => {
                    tracing::warn!(source, detail, "store unavailable: queueing on the spool");
                    self.note_store(false);
                }
                Err(e) => return Err(SpoolError::Store(e)),
            }
        }
        let event = SpooledEvent::of(source, outcome, now_ms).ok_or_else(|| {
            SpoolError::Store(StoreError::Corrupt(format!(
                "{} outcome cannot be spooled",
                outcome.action
            )))
        })?;
        self.append(event).await?;
        Ok(Submitted::Queued)
    }

    /// Appends one event with an fsync; `Full` when it would pass `max_bytes`.
    pub async fn append(&self, mut event: SpooledEvent) -> Result<(), SpoolError> {
        let shared = Arc::clone(&self.shared);
        let appended = tokio::task::spawn_blocking(move || {
            let mut file = lock(&shared.file);
            let max_bytes = shared.settings.max_bytes;
            let ok = file
                .append(&mut event, max_bytes)
                .map_err(|e| SpoolError::Io(e.to_string()))?;
            shared.pending.store(file.pending(), Ordering::Release);
            shared.len.store(file.len(), Ordering::Release);
            if ok {
                Ok(())
            } else {
                Err(SpoolError::Full {
                    len: file.len(),
                    max_bytes,
                })
            }
        })
        .await
        .map_err(|e| SpoolError::Io(format!("spool task: {e}")))?;
        if appended.is_ok() {
            self.shared.wake.notify_one();
        }
        self.publish();
        appended
    }

    /// Up to `max` pending events, each with the offset to [`Spool::advance`] to once
    /// applied.
    pub(super) async fn read_pending(
        &self,
        max: usize,
    ) -> Result<Vec<(u64, SpooledEvent)>, SpoolError> {
        let shared = Arc::clone(&self.shared);
        tokio::task::spawn_blocking(move || lock(&shared.file).read_pending(max))
            .await
            .map_err(|e| SpoolError::Io(format!("spool task: {e}")))?
            .map_err(SpoolError::File)
    }

    /// Marks everything before `to` applied; truncates the log when nothing is left.
    pub(super) async fn advance(&self, to: u64) -> Result<(), SpoolError> {
        let shared = Arc::clone(&self.shared);
        tokio::task::spawn_blocking(move || {
            let mut file = lock(&shared.file);
            let result = file.advance(to);
            shared.pending.store(file.pending(), Ordering::Release);
            shared.len.store(file.len(), Ordering::Release);
            result
        })
        .await
        .map_err(|e| SpoolError::Io(format!("spool task: {e}")))?
        .map_err(|e| SpoolError::Io(e.to_string()))?;
        self.publish();
        Ok(())
    }

    /// Waits for an append (returns at once if one came since the last wait).
    pub(super) async fn appended(&self) {
        self.shared.wake.notified().await;
    }

    pub(super) fn metrics(&self) -> &Metrics {
        &self.shared.metrics
    }

    fn publish(&self) {
        self.shared
            .metrics
            .set_spool(self.len_bytes(), self.pending(), self.degraded());
    }
}

fn lock(file: &Mutex<SpoolFile>) -> MutexGuard<'_, SpoolFile> {
    // A panic under the lock leaves the file's counters as they were; carry on.
    file.lock().unwrap_or_else(PoisonError::into_inner)
}
