//! Redis retention of what senders create (docs/design.md §5): once resolved incidents
//! expire (`resolved_ttl`), the sweeper removes their ids from the `ids:{source}`
//! indexes (and a source with none left from `sources`); their `fp:` records expire with
//! them. Counted with `SCAN` on a real server.

use alertgate::store::{IncidentStore, RedisSettings, RedisStore, Status};
use futures_util::StreamExt;

use crate::backend::{Backend, Redis, REDIS_BUCKETS};
use crate::common::*;

/// Distinct fingerprints opened and resolved (each one open, one resolve, with an
/// `event_time`, so each `fp:` record keeps its last time after the resolve). 100 000
/// pass as well, in about 40 s of a debug build: too long for every run.
const KEYS: usize = 20_000;
/// Steps in flight at once (the store pipelines them on its connection).
const IN_FLIGHT: usize = 256;
const TINY_TTL: std::time::Duration = std::time::Duration::from_millis(100);
/// Sweeps allowed to drain the indexes: far more than `KEYS` entries need at 500 per
/// bucket and run (a test that never drains fails here rather than hanging).
const MAX_SWEEPS: usize = 10_000;

/// What is left under the test's prefix, every key found by `SCAN`.
#[derive(Debug, Default, PartialEq, Eq)]
struct Left {
    index_entries: usize,
    sources: usize,
    fp_records: usize,
    inc_hashes: usize,
}

fn scan(conn: &mut ::redis::Connection, pattern: &str) -> Vec<String> {
    let mut cursor = 0_u64;
    let mut keys = Vec::new();
    loop {
        let (next, batch): (u64, Vec<String>) = ::redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(10_000)
            .query(conn)
            .expect("SCAN");
        keys.extend(batch);
        if next == 0 {
            return keys;
        }
        cursor = next;
    }
}

fn left(b: &Redis) -> Left {
    let mut conn = b.raw();
    let prefix = &b.settings.key_prefix;
    let mut out = Left::default();
    for index in scan(&mut conn, &format!("{prefix}{{b*}}ids:*")) {
        let n: usize = ::redis::cmd("ZCARD")
            .arg(&index)
            .query(&mut conn)
            .expect("ZCARD");
        out.index_entries += n;
    }
    for set in scan(&mut conn, &format!("{prefix}{{b*}}sources")) {
        let n: usize = ::redis::cmd("SCARD")
            .arg(&set)
            .query(&mut conn)
            .expect("SCARD");
        out.sources += n;
    }
    out.fp_records = scan(&mut conn, &format!("{prefix}{{b*}}fp:*")).len();
    out.inc_hashes = scan(&mut conn, &format!("{prefix}{{b*}}inc:*")).len();
    out
}

/// Opens and resolves `count` distinct fingerprints, spread over two sources.
async fn open_and_resolve(s: &RedisStore, count: usize) {
    futures_util::stream::iter(0..count)
        .map(|n| async move {
            let source = if n % 2 == 0 { "sc" } else { "sp" };
            let fp = format!("fp-{n}");
            let t = 1_000 + n as i64;
            s.apply(source, &at(open(&fp), t), t).await.expect("open");
            s.apply(source, &at(resolve(&fp), t + 1), t + 1)
                .await
                .expect("resolve");
        })
        .buffer_unordered(IN_FLIGHT)
        .collect::<()>()
        .await;
}

/// Sweeps until a sweep removes nothing; returns the entries removed.
async fn sweep_until_done(s: &RedisStore) -> u64 {
    let mut pruned = 0;
    for sweeps in 0..MAX_SWEEPS {
        let report = s
            .sweep(alertgate::clock::now_ms(), &[])
            .await
            .expect("sweep");
        if report.pruned == 0 {
            eprintln!("{sweeps} sweeps removed {pruned} index entries");
            return pruned;
        }
        pruned += report.pruned;
    }
    panic!("the indexes never drained ({pruned} entries removed)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn expired_incidents_leave_no_index_entry_fp_record_or_hash() {
    let Some(b) = Redis::with(STREAM_LEN, TINY_TTL, REDIS_BUCKETS).await else {
        return;
    };
    let s = b.store();
    let started = std::time::Instant::now();
    open_and_resolve(s, KEYS).await;
    eprintln!("{KEYS} keys opened and resolved in {:?}", started.elapsed());
    tokio::time::sleep(TINY_TTL * 3).await;
    let before = left(&b);
    eprintln!("after the TTL, before any sweep: {before:?}");
    // The hashes and records expire by themselves; the index entries do not.
    assert_eq!(before.index_entries, KEYS, "{before:?}");

    let started = std::time::Instant::now();
    let pruned = sweep_until_done(s).await;
    eprintln!("sweeps removed {pruned} entries in {:?}", started.elapsed());
    let after = left(&b);
    eprintln!("after the sweeps: {after:?}");
    assert_eq!(after, Left::default());
    assert_eq!(pruned, KEYS as u64);
    assert_eq!(
        list_all(s, query(None, None, 100)).await,
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn sweeps_keep_open_and_unexpired_incidents_indexed() {
    let Some(b) = Redis::with_ttl(STREAM_LEN, TINY_TTL).await else {
        return;
    };
    let s = b.store();
    let keeper = RedisStore::connect(RedisSettings {
        resolved_ttl: RESOLVED_TTL,
        ..b.settings.clone()
    })
    .await
    .expect("long-ttl replica");
    let open_id = s.apply("sc", &open("still-open"), 1).await.expect("open");
    let open_id = open_id.incident.expect("incident").id;
    let kept = s.apply("sc", &open("kept"), 2).await.expect("open");
    let kept = kept.incident.expect("incident").id;
    keeper
        .apply("sc", &at(resolve("kept"), 5), 3)
        .await
        .expect("resolve");
    // Expired ids behind the live ones (a live id first in line blocks nothing), under
    // a second source too.
    open_and_resolve(s, 300).await;
    tokio::time::sleep(TINY_TTL * 3).await;
    assert_eq!(left(&b).index_entries, 302);

    assert_eq!(sweep_until_done(s).await, 300);
    let after = left(&b);
    assert_eq!(
        after,
        Left {
            index_entries: 2,
            sources: 1,
            fp_records: 2,
            inc_hashes: 2,
        }
    );
    assert_eq!(
        list_all(s, query(None, Some("sc"), 10)).await,
        vec![kept.clone(), open_id.clone()]
    );
    assert_eq!(
        s.get(&kept).await.expect("get").map(|i| i.status),
        Some(Status::Resolved)
    );
    // A source whose index emptied comes back with its next incident.
    let again = s.apply("sp", &open("new"), 10).await.expect("open");
    let again = again.incident.expect("incident").id;
    assert_eq!(list_all(s, query(None, Some("sp"), 10)).await, vec![again]);
    assert_eq!(left(&b).sources, 2);
}
