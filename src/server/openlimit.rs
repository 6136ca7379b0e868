//! `sources.{id}.max_open`: refuses an open that would create a source's
//! `max_open + 1`-th open incident, for a single event and for each element of a fan-out.
//!
//! An open of a key already open (an update) passes. The count is read from the store
//! once per request, on its first open, and kept up to date from the request's own
//! steps, so a fan-out of n elements costs one count, not n. Count and apply are two
//! steps, so replicas (or requests) racing at the cap may overshoot it by a few.
//!
//! Far below the cap a request does not read the count at all: each replica keeps the
//! last count it read per source (`OpenCounts`), moved by the steps it applies since, and
//! while that count is under 90 % of `max_open` and was read less than a second ago, the
//! open passes (with a cap of 10 or less every open reads it). So the common open costs no
//! store call; other replicas' opens within that second are what the margin is for.
//!
//! With a spool (`store.spool`), a store that cannot be read (`Unavailable`) does not
//! refuse the open: the cap is skipped for the rest of the request and the open is queued;
//! the replay applies it later without the cap (docs/design.md §10). Without a spool, an
//! unreadable count is the usual 503.

use super::error::ApiError;
use super::state::AppState;
use crate::config::Source;
use crate::outcome::{Action, Outcome};
use crate::store::{IncidentStore, StoreError, Transition};

/// One request's view of its source's open count.
pub(super) struct OpenLimit<'a> {
    state: &'a AppState,
    source: &'a Source,
    /// Read on the first open, then adjusted by each step this request applied.
    open: Option<u64>,
    /// The store could not be read and a spool takes the opens: no cap for this request.
    skipped: bool,
}

impl<'a> OpenLimit<'a> {
    pub(super) fn new(state: &'a AppState, source: &'a Source) -> Self {
        OpenLimit {
            state,
            source,
            open: None,
            skipped: false,
        }
    }

    /// `Ok` when `outcome` may be applied: not an open, under the cap, or an update of
    /// an incident already open. `TooManyOpen` (counted) when it would create one more;
    /// `Store` when the store cannot say, unless a spool will queue the open.
    pub(super) async fn check(&mut self, outcome: &Outcome) -> Result<(), ApiError> {
        if outcome.action != Action::Open || self.skipped {
            return Ok(());
        }
        match self.at_cap(outcome).await {
            Ok(false) => Ok(()),
            Ok(true) => {
                self.state.metrics().open_limited(&self.source.id);
                Err(ApiError::TooManyOpen {
                    max_open: self.source.max_open,
                })
            }
            Err(StoreError::Unavailable(_)) if self.state.spool().is_some() => {
                self.skipped = true;
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Whether this open would create the source's `max_open + 1`-th open incident.
    async fn at_cap(&mut self, outcome: &Outcome) -> Result<bool, StoreError> {
        let store = self.state.store();
        let counts = self.state.open_counts();
        if self.open.is_none() && counts.far_below(&self.source.id, self.source.max_open, 0) {
            return Ok(false);
        }
        let open = match self.open {
            Some(n) => n,
            None => self.read_count().await?,
        };
        if open < self.source.max_open {
            return Ok(false);
        }
        let fingerprint = outcome.fingerprint.as_deref().unwrap_or_default();
        let is_open = self
            .state
            .store_call("is_open", store.is_open(&self.source.id, fingerprint))
            .await?;
        Ok(!is_open)
    }

    /// Whether `opens` opens may be applied without a check each: the source's count,
    /// read now unless this replica read it in the last second, is far enough below the
    /// cap (`OpenCounts`). `false` when the count cannot be read (each open is then
    /// checked in turn, and answered as that check decides).
    pub(super) async fn clears(&mut self, opens: usize) -> bool {
        let opens = u64::try_from(opens).unwrap_or(u64::MAX);
        let (id, max_open) = (&self.source.id, self.source.max_open);
        let counts = self.state.open_counts();
        if self.open.is_none()
            && !counts.far_below(id, max_open, opens)
            && self.read_count().await.is_err()
        {
            return false;
        }
        counts.far_below(id, max_open, opens)
    }

    /// Reads the source's open count from the store, for this request and for the
    /// requests of the next second (`OpenCounts`).
    async fn read_count(&mut self) -> Result<u64, StoreError> {
        let id = &self.source.id;
        let n = self
            .state
            .store_call("open_count", self.state.store().open_count(id))
            .await?;
        self.state.open_counts().remember(id, n);
        self.open = Some(n);
        Ok(n)
    }

    /// Keeps the count in step with what this request applied.
    pub(super) fn applied(&mut self, transition: Transition) {
        self.state.open_counts().moved(&self.source.id, transition);
        if let Some(open) = &mut self.open {
            match transition {
                Transition::Opened => *open = open.saturating_add(1),
                Transition::Resolved => *open = open.saturating_sub(1),
                _ => {}
            }
        }
    }
}
