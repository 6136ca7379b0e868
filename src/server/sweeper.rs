//! The lifecycle sweeper (docs/design.md §4, §5): every 500 ms–1 s (jittered, so
//! replicas spread out), fires the store's due deadlines (auto-resolve, heartbeat
//! silence, the end of a flapping spell) and records what it did. Every replica runs
//! one; the store makes each deadline fire once. On each new config it also arms the
//! heartbeat of every source that has one and was never heard.

use std::time::Duration;

use super::state::AppState;
use crate::clock;
use crate::outcome::HeartbeatPolicy;
use crate::store::{Beat, IncidentStore};

/// Sweeps `state`'s store until the task is aborted.
pub(super) fn spawn(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut armed = String::new();
        loop {
            let pause = rand::random_range(500..=1000);
            tokio::time::sleep(Duration::from_millis(pause)).await;
            sweep_once(&state, &mut armed).await;
        }
    })
}

/// One sweep; `armed` is the config version whose heartbeats were armed.
async fn sweep_once(state: &AppState, armed: &mut String) {
    let snapshot = state.snapshot();
    let heartbeats: Vec<(String, HeartbeatPolicy)> = snapshot
        .sources
        .values()
        .filter_map(|s| s.policies.heartbeat.map(|p| (s.id.clone(), p)))
        .collect();
    let store = state.store();
    let now = clock::now_ms();
    if *armed != snapshot.version {
        let mut all = true;
        for (source, policy) in &heartbeats {
            let arm = store.heartbeat(source, *policy, Beat::Arm, now);
            if let Err(e) = state.store_call("heartbeat", arm).await {
                tracing::debug!(%source, error = %e, "heartbeat not armed yet");
                all = false;
            }
        }
        if all {
            armed.clone_from(&snapshot.version);
        }
    }
    match state
        .store_call("sweep", store.sweep(now, &heartbeats))
        .await
    {
        Ok(report) => {
            for source in &report.heartbeats_opened {
                tracing::info!(%source, "source silent: heartbeat incident opened");
            }
            if report.auto_resolved > 0 || report.flapping_ended > 0 || report.pruned > 0 {
                tracing::debug!(
                    auto_resolved = report.auto_resolved,
                    flapping_ended = report.flapping_ended,
                    index_pruned = report.pruned,
                    "lifecycle sweep"
                );
            }
            state.metrics().record_sweep(
                report.auto_resolved,
                &report.heartbeats_opened,
                report.flapping_now,
            );
        }
        // The store's own state (503s, `alertgate_store_up`) reports an outage.
        Err(e) => tracing::debug!(error = %e, "lifecycle sweep failed"),
    }
}
