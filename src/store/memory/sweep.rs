//! The memory store's lifecycle policies (docs/design.md §4): flapping marks on open, and
//! the sweep that fires due deadlines (auto-resolve, heartbeat silence, the end of a
//! flapping spell) under the same lock as every other step, so each fires once.

use std::sync::Arc;

use super::record::Event;
use super::Inner;
use crate::clock;
use crate::outcome::{Action, HeartbeatPolicy, Labels, Outcome, HEARTBEAT_FINGERPRINT};
use crate::store::model::{Beat, Status, StoreError, SweepReport, Transition};

/// At most this many auto-resolves per sweep (the rest wait for the next one).
const SWEEP_BATCH: usize = 1000;

impl Inner {
    /// After a create: the new incident's auto-resolve deadline and flapping mark.
    pub(super) fn after_open(&mut self, id: u64, outcome: &Outcome, now_ms: i64) {
        self.timers
            .set_deadline(id, outcome.auto_resolve_after_ms, now_ms);
        let Some(policy) = outcome.flapping else {
            return;
        };
        let Some(rec) = self.incidents.get(&id) else {
            return;
        };
        let key = (Arc::clone(&rec.source), Arc::clone(&rec.fingerprint));
        let count = self.timers.record_open(key, id, policy, now_ms);
        if let Some(rec) = self.incidents.get_mut(&id) {
            if count.is_some() {
                let marks = rec.marks_mut();
                marks.flapping = true;
                marks.flap_count = count;
            }
        }
    }

    /// Resolves open incident `id` on the gateway's own account (`by`): the same change
    /// and event as a resolve step. Nothing when it is no longer open.
    fn close(&mut self, id: u64, now_ms: i64, by: &'static str) -> Option<Event> {
        let rec = self.incidents.get(&id)?;
        if rec.status != Status::Open {
            return None;
        }
        let (source, fingerprint) = (Arc::clone(&rec.source), Arc::clone(&rec.fingerprint));
        self.resolve(id, &source, now_ms);
        self.timers.set_deadline(id, None, now_ms);
        if let Some(rec) = self.incidents.get_mut(&id) {
            rec.marks_mut().resolved_by = Some(Arc::from(by));
        }
        if let Some(state) = self
            .keys
            .get(&source)
            .and_then(|fps| fps.get(&fingerprint))
            .copied()
            .filter(|state| state.open == Some(id))
        {
            let mut state = state;
            state.open = None;
            self.store_key_state(&source, fingerprint, state);
        }
        let (_, record) = self.snapshot(id)?;
        let event = Event {
            transition: Transition::Resolved,
            at: now_ms,
            id,
            record,
            actor: None,
            note: None,
        };
        self.push_event(event.clone());
        self.resolved_order.push_back(id);
        self.evict_resolved();
        Some(event)
    }

    /// `IncidentStore::heartbeat`.
    pub(super) fn heartbeat(
        &mut self,
        source: &str,
        policy: HeartbeatPolicy,
        beat: Beat,
        now_ms: i64,
    ) -> Option<Event> {
        let source = self.intern_source(source);
        if beat == Beat::Arm && self.timers.heard.contains_key(&source) {
            return None;
        }
        self.timers.heard(&source, policy.every_ms, now_ms);
        let open = self
            .keys
            .get(&source)
            .and_then(|fps| fps.get(HEARTBEAT_FINGERPRINT))
            .and_then(|state| state.open)?;
        self.close(open, now_ms, "heartbeat")
    }

    /// `IncidentStore::sweep`.
    pub(super) fn sweep(
        &mut self,
        now_ms: i64,
        heartbeats: &[(String, HeartbeatPolicy)],
    ) -> Result<SweepReport, StoreError> {
        let mut report = SweepReport::default();
        for id in self.timers.take_due_deadlines(now_ms, SWEEP_BATCH) {
            if self.close(id, now_ms, "timeout").is_some() {
                report.auto_resolved += 1;
            }
        }
        for source in self.timers.take_due_beats(now_ms) {
            // A source whose heartbeat was removed by a reload stays quiet.
            let Some((_, policy)) = heartbeats.iter().find(|(s, _)| **s == *source) else {
                continue;
            };
            let last = self.timers.heard.get(&source).map_or(now_ms, |e| e.0);
            let outcome = heartbeat_outcome(&source, *policy, last);
            let (transition, _) = self.apply(
                &source,
                Action::Open,
                HEARTBEAT_FINGERPRINT,
                &outcome,
                now_ms,
            )?;
            if transition == Transition::Opened {
                report.heartbeats_opened.push(source.to_string());
            }
        }
        for (_, _, flap) in self.timers.take_due_flaps(now_ms) {
            if flap.count == 0 {
                continue;
            }
            // The newest incident as it stands, no longer held back, with the spell's count.
            if let Some((id, mut record)) = self.snapshot(flap.newest) {
                let marks = record.marks_mut();
                marks.flapping = false;
                marks.flap_count = Some(flap.count);
                self.push_event(Event {
                    transition: Transition::FlappingEnded,
                    at: now_ms,
                    id,
                    record,
                    actor: None,
                    note: None,
                });
            }
            report.flapping_ended += 1;
        }
        report.flapping_now = self.timers.flapping_now();
        Ok(report)
    }
}

/// The open a silent source gets: fingerprint `heartbeat`, the policy's priority, a
/// title that says when it was last heard.
pub(super) fn heartbeat_outcome(source: &str, policy: HeartbeatPolicy, last_ms: i64) -> Outcome {
    Outcome {
        action: Action::Open,
        fingerprint: Some(HEARTBEAT_FINGERPRINT.to_owned()),
        priority: Some(policy.priority),
        title: Some(format!(
            "{source}: no webhook since {}",
            clock::format_rfc3339_ms(last_ms - last_ms.rem_euclid(1000))
        )),
        labels: Labels::default(),
        event_time: None,
        rule: None,
        reason: None,
        auto_resolve_after_ms: None,
        flapping: None,
    }
}
