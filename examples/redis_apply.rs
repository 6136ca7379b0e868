//! Drives `RedisStore::apply` directly (no HTTP): the Redis store's cost per webhook.
//!
//! Usage: `redis_apply REDIS_URL [NAMES] [CYCLES] [CONCURRENCY]`
//!
//! Like `bench/statuscake.lua`: NAMES distinct fingerprints (default 10000), each opened
//! then resolved, CYCLES times (default 3), CONCURRENCY applies in flight (default 64).
//! Every apply is one EVALSHA. Prints applies/s; read `INFO commandstats` on the server
//! for `evalsha` usec_per_call. Keys go under a fresh `alertgate-bench:{nanos}:` prefix.

use std::sync::Arc;
use std::time::Instant;

use alertgate::outcome::{Action, Labels, Outcome, Priority};
use alertgate::store::{IncidentStore, RedisSettings, RedisStore};

fn outcome(action: Action, i: usize, labels: &Labels) -> Outcome {
    let name = format!("Bench Check {i:07}");
    let url = format!("https://check-{i:07}.bench.example.com/health/deep?region=eu-west-1");
    Outcome {
        action,
        fingerprint: Some(format!("{name}|{url}")),
        priority: Some(Priority::High),
        title: Some(format!("{name} is down ({url})")),
        labels: labels.clone(),
        event_time: None,
        rule: Some("bench".into()),
        reason: None,
        auto_resolve_after_ms: None,
        flapping: None,
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .ok_or("usage: redis_apply REDIS_URL [NAMES] [CYCLES] [CONC]")?;
    let names: usize = args.next().map_or(Ok(10_000), |a| a.parse())?;
    let cycles: usize = args.next().map_or(Ok(3), |a| a.parse())?;
    let conc: usize = args.next().map_or(Ok(64), |a| a.parse())?;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_nanos();
    let store = Arc::new(
        RedisStore::connect(RedisSettings {
            event_stream_len: 10_000,
            ..RedisSettings::new(url, format!("alertgate-bench:{nanos}:"))
        })
        .await?,
    );
    // About the size of the StatusCake bench payload's labels.
    let tags: Vec<String> = (0..40).map(|i| format!("\"tag-{i}\"")).collect();
    let labels = Labels::from_json(&format!(
        r#"{{"check_rate":"300","ip":"93.184.216.34","status_code":"503","tags":[{}],"test_id":"0000001","url":"https://check-0000001.bench.example.com/health/deep?region=eu-west-1"}}"#,
        tags.join(",")
    ))?;
    let labels = Arc::new(labels);
    let started = Instant::now();
    let total = names * 2 * cycles;
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..conc {
        let (store, next, labels) = (store.clone(), next.clone(), labels.clone());
        workers.push(tokio::spawn(async move {
            loop {
                let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if n >= total {
                    return Ok::<_, alertgate::store::StoreError>(());
                }
                let action = if (n / names) % 2 == 0 {
                    Action::Open
                } else {
                    Action::Resolve
                };
                store
                    .apply(
                        "statuscake",
                        &outcome(action, n % names, &labels),
                        i64::try_from(n).unwrap_or(i64::MAX),
                    )
                    .await?;
            }
        }));
    }
    for w in workers {
        w.await??;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{total} applies in {secs:.2} s: {:.0} applies/s",
        total as f64 / secs
    );
    Ok(())
}
