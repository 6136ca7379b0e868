//! The Redis side of the lifecycle policies (docs/design.md §4, §5): a heartbeat
//! source's request (`heard.lua`) and the sweep of due deadlines (`sweep.lua`, one run
//! per bucket). Each is one script, so replicas sweeping at once fire each deadline once.

use std::sync::LazyLock;

use redis::{Script, Value};

use super::record::parse_incident;
use super::reply::{field_pairs, items, text};
use super::store::RedisStore;
use crate::clock;
use crate::outcome::{HeartbeatPolicy, HEARTBEAT_FINGERPRINT};
use crate::store::model::{Beat, Incident, StoreError, SweepReport};

/// At most this many deadlines of each kind per bucket and script run.
const SWEEP_BATCH: usize = 500;

/// Retention of the `ids:{source}` indexes: at most this many resolved entries looked at
/// per bucket and script run, and at most [`PRUNE_PER_SOURCE`] of one source.
const PRUNE_BATCH: usize = 500;
const PRUNE_PER_SOURCE: usize = 100;

/// A run that removed a full batch of one source's entries (a backlog, e.g. a burst of
/// expiries) is followed by at most this many more in the same sweep: the cost of a
/// sweep stays flat.
const PRUNE_RUNS: usize = 8;

static SWEEP: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "{}\n{}",
        include_str!("lib.lua"),
        include_str!("sweep.lua")
    ))
});

static HEARD: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "{}\n{}",
        include_str!("lib.lua"),
        include_str!("heard.lua")
    ))
});

impl RedisStore {
    /// `IncidentStore::heartbeat`: one `heard.lua` run in the bucket of (source,
    /// `heartbeat`).
    pub(super) async fn heartbeat_step(
        &self,
        source: &str,
        policy: HeartbeatPolicy,
        beat: Beat,
        now_ms: i64,
    ) -> Result<Option<Incident>, StoreError> {
        let (bucket, fp_key) = self.keys.fingerprint(source, HEARTBEAT_FINGERPRINT);
        let every = i64::try_from(policy.every_ms).unwrap_or(i64::MAX);
        let title = format!(
            "{source}: no webhook since {}",
            clock::format_rfc3339_ms(now_ms - now_ms.rem_euclid(1000))
        );
        let mut invocation = HEARD.key(self.keys.heartbeats(bucket));
        invocation
            .key(self.keys.events(bucket))
            .key(self.keys.heartbeat(bucket, source))
            .key(fp_key)
            .key(self.keys.deadlines(bucket))
            .arg(self.keys.tag(bucket))
            .arg(source)
            .arg(now_ms)
            .arg(now_ms.saturating_add(every))
            .arg(title)
            .arg(if beat == Beat::Heard { "heard" } else { "arm" })
            .arg(self.stream_cap())
            .arg(self.resolved_ttl_ms);
        let reply: Value = self
            .call(|mut c| async move { invocation.invoke_async(&mut c).await })
            .await?;
        let fields = field_pairs(reply)?;
        if fields.is_empty() {
            return Ok(None);
        }
        parse_incident(fields.into_iter().collect(), None).map(Some)
    }

    /// `IncidentStore::sweep`: every bucket, concurrently; a bucket with a full batch
    /// of due deadlines is swept again at once.
    pub(super) async fn sweep_all(
        &self,
        now_ms: i64,
        heartbeats: &[(String, HeartbeatPolicy)],
    ) -> Result<SweepReport, StoreError> {
        let configured = heartbeats
            .iter()
            .map(|(source, policy)| format!("{source}={}", policy.priority))
            .collect::<Vec<_>>()
            .join(",");
        let runs = self
            .keys
            .all()
            .map(|bucket| self.sweep_bucket(bucket, now_ms, &configured));
        let mut report = SweepReport::default();
        let mut first_error = None;
        for result in futures_util::future::join_all(runs).await {
            match result {
                Ok(part) => {
                    report.auto_resolved += part.auto_resolved;
                    report.flapping_ended += part.flapping_ended;
                    report.flapping_now += part.flapping_now;
                    report.pruned += part.pruned;
                    report.heartbeats_opened.extend(part.heartbeats_opened);
                }
                Err(e) => first_error = first_error.or(Some(e)),
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(report),
        }
    }

    async fn sweep_bucket(
        &self,
        bucket: u16,
        now_ms: i64,
        configured: &str,
    ) -> Result<SweepReport, StoreError> {
        let mut report = SweepReport::default();
        let mut prune_runs = 0;
        loop {
            let mut invocation = SWEEP.key(self.keys.deadlines(bucket));
            invocation
                .key(self.keys.events(bucket))
                .key(self.keys.heartbeats(bucket))
                .key(self.keys.flapping(bucket))
                .key(self.keys.sources(bucket))
                .arg(self.keys.tag(bucket))
                .arg(now_ms)
                .arg(SWEEP_BATCH)
                .arg(self.stream_cap())
                .arg(self.resolved_ttl_ms)
                .arg(format!("{bucket:03}"))
                .arg(configured)
                .arg(PRUNE_BATCH)
                .arg(PRUNE_PER_SOURCE);
            let reply: Value = self
                .call(|mut c| async move { invocation.invoke_async(&mut c).await })
                .await?;
            let mut parts = items(reply)?.into_iter();
            let mut number = || -> Result<u64, StoreError> {
                let t = parts.next().map(text).transpose()?.unwrap_or_default();
                t.parse()
                    .map_err(|_| StoreError::Corrupt(format!("sweep count {t:?}")))
            };
            let (resolved, ended, flapping) = (number()?, number()?, number()?);
            let (pruned, more) = (number()?, number()?);
            report.auto_resolved += resolved;
            report.flapping_ended += ended;
            report.flapping_now = flapping;
            report.pruned += pruned;
            for source in parts {
                report.heartbeats_opened.push(text(source)?);
            }
            // A full batch may have left more due: go again (the next run sees fewer).
            // An index backlog gets a few more runs, no more: the next sweep goes on.
            prune_runs += 1;
            let backlog = more == 1 && prune_runs <= PRUNE_RUNS;
            if resolved < SWEEP_BATCH as u64 && ended < SWEEP_BATCH as u64 && !backlog {
                return Ok(report);
            }
        }
    }
}
