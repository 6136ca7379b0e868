//! A fan-out's steps in one round trip per bucket (docs/design.md §5 "Batches"): every
//! element's `apply.lua` run, in order, pipelined on the bucket's connection (one Cluster
//! slot per pipeline). Each run is still one atomic step; a pipeline only saves the
//! round trips between them.

use std::collections::BTreeMap;

use redis::{Pipeline, Value};

use super::reply::{items, parse_applied};
use super::store::RedisStore;
use crate::outcome::Outcome;
use crate::store::model::{Applied, StoreError};

impl RedisStore {
    /// Applies `outcomes` of `source` in order, each as `IncidentStore::apply` would,
    /// with one pipeline per bucket. A pipeline that fails fails each of its elements
    /// with the same error (some may have been applied: a sender's retry reads them as
    /// updates). With `store.min_replicas_ack` each step is applied alone, so each can be
    /// waited for.
    pub async fn apply_batch(
        &self,
        source: &str,
        outcomes: &[&Outcome],
        now_ms: i64,
    ) -> Vec<Result<Applied, StoreError>> {
        if self.min_replicas_ack > 0 || outcomes.len() < 2 {
            let mut out = Vec::with_capacity(outcomes.len());
            for outcome in outcomes {
                out.push(self.apply_step(source, outcome, now_ms).await);
            }
            return out;
        }
        let mut out: Vec<Option<Result<Applied, StoreError>>> = std::iter::repeat_with(|| None)
            .take(outcomes.len())
            .collect();
        let mut groups = BTreeMap::<u16, (Vec<usize>, Pipeline)>::new();
        for (n, outcome) in outcomes.iter().enumerate() {
            match self.step_invocation(source, outcome, now_ms) {
                Ok(None) => out[n] = Some(Ok(Applied::ignored())),
                Ok(Some((invocation, bucket, _))) => {
                    let (positions, pipe) = groups.entry(bucket).or_default();
                    positions.push(n);
                    pipe.invoke_script(&invocation);
                }
                Err(e) => out[n] = Some(Err(e)),
            }
        }
        let runs = groups
            .into_values()
            .map(|(positions, pipe)| async move { (positions, self.run_steps(&pipe).await) });
        for (positions, replies) in futures_util::future::join_all(runs).await {
            match replies {
                Ok(replies) if replies.len() == positions.len() => {
                    for (n, reply) in positions.into_iter().zip(replies) {
                        out[n] = Some(parse_applied(reply, outcomes[n].priority));
                    }
                }
                Ok(_) => {
                    for n in positions {
                        out[n] = Some(Err(StoreError::Corrupt("short pipeline reply".into())));
                    }
                }
                Err(e) => {
                    let why = e.to_string();
                    for n in positions {
                        out[n] = Some(Err(match &e {
                            StoreError::Corrupt(_) => StoreError::Corrupt(why.clone()),
                            _ => StoreError::Unavailable(why.clone()),
                        }));
                    }
                }
            }
        }
        out.into_iter()
            .map(|r| r.unwrap_or_else(|| Err(StoreError::Corrupt("step left out".into()))))
            .collect()
    }

    /// Runs a pipeline of `apply.lua` runs. `NOSCRIPT` (Redis forgot its scripts, as a
    /// restart does) means none of them ran: the script is loaded and the pipeline sent
    /// once more.
    async fn run_steps(&self, pipe: &Pipeline) -> Result<Vec<Value>, StoreError> {
        let script = self.apply_script();
        let sent = self
            .call(|mut c| async move {
                match pipe.query_async::<Value>(&mut c).await {
                    Err(e) if e.code() == Some("NOSCRIPT") => {
                        script.prepare_invoke().load_async(&mut c).await?;
                        pipe.query_async::<Value>(&mut c).await
                    }
                    other => other,
                }
            })
            .await?;
        items(sent)
    }
}
