//! The memory store's deadlines (docs/design.md §4): when an open incident auto-resolves,
//! when a heartbeat source counts as silent, and when a fingerprint's flapping window
//! closes. Plain data, ordered by time so a sweep takes the due ones from the front.

use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;

use super::map::Map;
use crate::outcome::FlapPolicy;

/// Every deadline of one memory store.
#[derive(Debug, Default)]
pub(super) struct Timers {
    /// (deadline ms, incident id): open incidents with `auto_resolve_after`.
    deadlines: BTreeSet<(i64, u64)>,
    deadline_of: Map<u64, i64>,
    /// source → when it was last heard (a request, or its config loaded), and its
    /// pending silence deadline.
    pub(super) heard: Map<Arc<str>, (i64, Option<i64>)>,
    /// (deadline ms, source): heartbeat sources not yet found silent.
    beats: BTreeSet<(i64, Arc<str>)>,
    /// (source, fingerprint) → its recent opens, for keys of sources with `flapping`.
    flaps: Map<(Arc<str>, Arc<str>), Flap>,
    /// (window end ms, source, fingerprint): when each `flaps` entry is due.
    flap_due: BTreeSet<(i64, Arc<str>, Arc<str>)>,
}

/// One fingerprint's recent opens.
#[derive(Debug, Default)]
pub(super) struct Flap {
    /// Open times inside the window, oldest first, at most `opens` of them.
    opens: VecDeque<i64>,
    /// Opens in the current flapping spell; `0` while not flapping.
    pub(super) count: u64,
    /// The fingerprint's newest incident.
    pub(super) newest: u64,
    due: i64,
}

impl Timers {
    /// Sets (`Some`) or clears (`None`) incident `id`'s auto-resolve deadline.
    pub(super) fn set_deadline(&mut self, id: u64, after_ms: Option<u64>, now_ms: i64) {
        if let Some(old) = self.deadline_of.remove(&id) {
            self.deadlines.remove(&(old, id));
        }
        if let Some(after) = after_ms {
            let at = now_ms.saturating_add(i64::try_from(after).unwrap_or(i64::MAX));
            self.deadlines.insert((at, id));
            self.deadline_of.insert(id, at);
        }
    }

    /// Takes up to `n` incident ids whose deadline is at or before `now_ms`.
    pub(super) fn take_due_deadlines(&mut self, now_ms: i64, n: usize) -> Vec<u64> {
        let due: Vec<(i64, u64)> = self
            .deadlines
            .range(..=(now_ms, u64::MAX))
            .take(n)
            .copied()
            .collect();
        for entry in &due {
            self.deadlines.remove(entry);
            self.deadline_of.remove(&entry.1);
        }
        due.into_iter().map(|(_, id)| id).collect()
    }

    /// Source `source` was heard at `now_ms`: its silence deadline moves.
    pub(super) fn heard(&mut self, source: &Arc<str>, every_ms: u64, now_ms: i64) {
        if let Some((_, Some(at))) = self.heard.get(source) {
            self.beats.remove(&(*at, Arc::clone(source)));
        }
        let at = now_ms.saturating_add(i64::try_from(every_ms).unwrap_or(i64::MAX));
        self.beats.insert((at, Arc::clone(source)));
        self.heard.insert(Arc::clone(source), (now_ms, Some(at)));
    }

    /// Takes the sources whose silence deadline is at or before `now_ms`.
    pub(super) fn take_due_beats(&mut self, now_ms: i64) -> Vec<Arc<str>> {
        let mut due = Vec::new();
        while let Some(first) = self.beats.first() {
            if first.0 > now_ms {
                break;
            }
            if let Some((_, source)) = self.beats.pop_first() {
                if let Some(entry) = self.heard.get_mut(&source) {
                    entry.1 = None;
                }
                due.push(source);
            }
        }
        due
    }

    /// Records an open of (source, fingerprint) as incident `id`; returns the spell's
    /// count when the fingerprint flaps.
    pub(super) fn record_open(
        &mut self,
        key: (Arc<str>, Arc<str>),
        id: u64,
        policy: FlapPolicy,
        now_ms: i64,
    ) -> Option<u64> {
        let within = i64::try_from(policy.within_ms).unwrap_or(i64::MAX);
        let flap = self.flaps.entry(key.clone()).or_default();
        if flap.due != 0 {
            self.flap_due
                .remove(&(flap.due, Arc::clone(&key.0), Arc::clone(&key.1)));
        }
        while flap
            .opens
            .front()
            .is_some_and(|t| *t <= now_ms.saturating_sub(within))
        {
            flap.opens.pop_front();
        }
        flap.opens.push_back(now_ms);
        let limit = usize::try_from(policy.opens.max(1)).unwrap_or(usize::MAX);
        while flap.opens.len() > limit {
            flap.opens.pop_front();
        }
        if flap.count > 0 {
            flap.count += 1;
        } else if flap.opens.len() >= limit {
            flap.count = flap.opens.len() as u64;
        }
        flap.newest = id;
        flap.due = now_ms.saturating_add(within);
        self.flap_due.insert((flap.due, key.0, key.1));
        (flap.count > 0).then_some(flap.count)
    }

    /// Takes the fingerprints whose window closed at or before `now_ms` (flapping or
    /// not: either way their record goes).
    pub(super) fn take_due_flaps(&mut self, now_ms: i64) -> Vec<(Arc<str>, Arc<str>, Flap)> {
        let mut due = Vec::new();
        while let Some(first) = self.flap_due.first() {
            if first.0 > now_ms {
                break;
            }
            if let Some((_, source, fingerprint)) = self.flap_due.pop_first() {
                let key = (source, fingerprint);
                if let Some(flap) = self.flaps.remove(&key) {
                    due.push((key.0, key.1, flap));
                }
            }
        }
        due
    }

    /// How many fingerprints flap now.
    pub(super) fn flapping_now(&self) -> u64 {
        self.flaps.values().filter(|f| f.count > 0).count() as u64
    }
}
