//! The memory store's `max_resolved` bound. Memory only: the redis backend does not
//! bound resolved incidents yet.

use alertgate::store::{IncidentStore, MemorySettings, MemoryStore, Status, Transition};

use crate::common::*;

fn store(max_resolved: usize) -> MemoryStore {
    MemoryStore::new(MemorySettings {
        event_stream_len: STREAM_LEN,
        max_resolved,
    })
}

/// Opens `fp` under source `src` and returns the new incident's id.
async fn opened(s: &MemoryStore, src: &str, fp: &str) -> String {
    let applied = s.apply(src, &open(fp), 1).await.expect("open");
    assert_eq!(applied.transition, Transition::Opened, "{fp}");
    applied.incident.expect("incident").id
}

async fn resolved(s: &MemoryStore, src: &str, fp: &str) {
    let applied = s.apply(src, &resolve(fp), 2).await.expect("resolve");
    assert_eq!(applied.transition, Transition::Resolved, "{fp}");
}

async fn exists(s: &MemoryStore, id: &str) -> bool {
    s.get(id).await.expect("get").is_some()
}

#[tokio::test]
async fn oldest_resolved_are_evicted_first_by_resolve_order_not_id() {
    let s = store(3);
    let mut ids = Vec::new();
    for k in 0..5 {
        ids.push(opened(&s, "sc", &format!("k{k}")).await);
    }
    // Resolve order differs from id order: k3 and k0 are the oldest resolved.
    for k in [3, 0, 4, 1, 2] {
        resolved(&s, "sc", &format!("k{k}")).await;
    }
    for gone in [&ids[3], &ids[0]] {
        assert!(!exists(&s, gone).await, "{gone} should be evicted");
    }
    let kept = vec![ids[4].clone(), ids[2].clone(), ids[1].clone()];
    for id in &kept {
        assert!(exists(&s, id).await, "{id} should be kept");
    }
    for q in [
        query(None, None, 10),
        query(Some(Status::Resolved), None, 10),
        query(None, Some("sc"), 10),
        query(Some(Status::Resolved), Some("sc"), 10),
    ] {
        assert_eq!(list_all(&s, q.clone()).await, kept, "{q:?}");
    }
    // The event ring keeps its own copies: all 10 transitions are still there.
    assert_eq!(s.recent_events(100).await.expect("events").len(), 10);
}

#[tokio::test]
async fn open_incidents_are_never_evicted() {
    let s = store(3);
    let mut open_ids = Vec::new();
    for k in 0..50 {
        open_ids.push(opened(&s, "sc", &format!("open{k}")).await);
    }
    for k in 0..20 {
        opened(&s, "sc", &format!("churn{k}")).await;
        resolved(&s, "sc", &format!("churn{k}")).await;
    }
    open_ids.reverse();
    assert_eq!(
        list_all(&s, query(Some(Status::Open), None, 7)).await,
        open_ids
    );
    assert_eq!(
        list_all(&s, query(Some(Status::Resolved), None, 7))
            .await
            .len(),
        3
    );
    assert_eq!(list_all(&s, query(None, None, 7)).await.len(), 53);
}

#[tokio::test]
async fn max_resolved_zero_keeps_no_resolved_but_answers_with_it() {
    let s = store(0);
    let id = opened(&s, "sc", "a").await;
    let applied = s.apply("sc", &resolve("a"), 2).await.expect("resolve");
    assert_eq!(applied.transition, Transition::Resolved);
    assert_eq!(applied.incident.map(|i| i.id), Some(id.clone()));
    assert!(!exists(&s, &id).await);
    assert!(list_all(&s, query(None, None, 10)).await.is_empty());
    let events = s.recent_events(10).await.expect("events");
    assert_eq!(
        events.last().map(|e| e.transition),
        Some(Transition::Resolved)
    );
    // A new incident after the eviction gets a new id, never a reused one.
    assert_ne!(opened(&s, "sc", "a").await, id);
}

#[tokio::test]
async fn pages_after_evictions_yield_each_kept_incident_once_newest_first() {
    let s = store(3);
    // Two sources, ten keys each; every other key resolved, so 10 resolved (7 evicted)
    // and 10 open, with holes in the ids.
    for k in 0..10 {
        for src in ["sc", "sp"] {
            opened(&s, src, &format!("k{k}")).await;
        }
    }
    for k in (0..10).step_by(2) {
        for src in ["sc", "sp"] {
            resolved(&s, src, &format!("k{k}")).await;
        }
    }
    for q in [
        query(None, None, 2),
        query(Some(Status::Open), None, 3),
        query(Some(Status::Resolved), None, 2),
        query(None, Some("sc"), 2),
        query(None, Some("sp"), 4),
        query(Some(Status::Resolved), Some("sp"), 1),
    ] {
        // What one big page shows is the truth the paged walk must match.
        let mut all = q.clone();
        all.limit = 1000;
        let whole = s.list(&all).await.expect("list").incidents;
        let paged = list_all(&s, q.clone()).await;
        let ids: Vec<String> = whole.iter().map(|i| i.id.clone()).collect();
        assert_eq!(paged, ids, "{q:?}");
        let mut sorted: Vec<u64> = ids.iter().map(|id| id.parse().unwrap()).collect();
        sorted.sort_unstable_by(|a, b| b.cmp(a));
        sorted.dedup();
        assert_eq!(sorted.len(), ids.len(), "{q:?}: duplicates");
        assert_eq!(
            ids,
            sorted.iter().map(u64::to_string).collect::<Vec<_>>(),
            "{q:?}: newest first"
        );
        for i in &whole {
            assert!(q.status.is_none_or(|st| i.status == st), "{q:?}");
            assert!(q.source.as_deref().is_none_or(|src| &*i.source == src));
        }
    }
    assert_eq!(list_all(&s, query(None, None, 2)).await.len(), 13);
    assert_eq!(
        list_all(&s, query(Some(Status::Resolved), None, 2))
            .await
            .len(),
        3
    );
}

#[tokio::test]
async fn stale_detection_survives_evictions_of_other_incidents() {
    let s = store(1);
    // `live` stays open; `r` has an older incident that will be evicted and a newer
    // open one; both must keep their last event time.
    s.apply("sp", &at(open("live"), 100), 1)
        .await
        .expect("open");
    s.apply("sp", &at(open("r"), 10), 1).await.expect("open");
    s.apply("sp", &at(resolve("r"), 20), 2)
        .await
        .expect("resolve");
    s.apply("sp", &at(open("r"), 30), 3).await.expect("reopen");
    for k in 0..5 {
        opened(&s, "sp", &format!("churn{k}")).await;
        resolved(&s, "sp", &format!("churn{k}")).await;
    }
    // `kept` is the one resolved incident still kept: its time is remembered too.
    s.apply("sp", &at(open("kept"), 200), 4)
        .await
        .expect("open");
    s.apply("sp", &at(resolve("kept"), 300), 5)
        .await
        .expect("resolve");
    for (fp, t) in [("live", 99), ("r", 25), ("kept", 250)] {
        let late = s.apply("sp", &at(open(fp), t), 6).await.expect("late");
        assert_eq!(late.transition, Transition::Stale, "{fp}");
    }
    let late = s.apply("sp", &at(resolve("r"), 29), 7).await.expect("late");
    assert_eq!(late.transition, Transition::Stale);
    assert_eq!(held(&s, &late).await.status, Status::Open);
}

#[tokio::test]
async fn evicted_incidents_key_forgets_its_last_event_time() {
    let s = store(1);
    s.apply("sp", &at(open("i"), 100), 1).await.expect("open");
    s.apply("sp", &at(resolve("i"), 200), 2)
        .await
        .expect("resolve");
    opened(&s, "sp", "other").await;
    resolved(&s, "sp", "other").await;
    // `i`'s only incident is gone, and its key with it: a late event is judged like
    // one for a new key (documented on `store.max_resolved`).
    let late = s.apply("sp", &at(open("i"), 150), 3).await.expect("late");
    assert_eq!(late.transition, Transition::Opened);
}

/// A resolve of nothing that carries an `event_time` makes the store remember the key's
/// time; a sender can make any number of them. They are kept like resolved incidents:
/// at most `max_resolved`, oldest first out, and the newest still judge late events stale.
#[tokio::test]
async fn keys_made_by_resolves_of_nothing_are_bounded_like_resolved_incidents() {
    let s = store(1_000);
    for k in 0..100_000 {
        let applied = s
            .apply("sc", &at(resolve(&format!("ghost-{k}")), 1_000 + k), 5)
            .await
            .expect("resolve of nothing");
        assert_eq!(applied.transition, Transition::AlreadyResolved);
    }
    assert_eq!(
        s.record_count(),
        1_000,
        "keys left after 100k resolves of nothing"
    );
    assert_eq!(s.incident_count(), 0);
    // The newest keys still remember their time: an older open is stale…
    let late = s
        .apply("sc", &at(open("ghost-99999"), 5), 6)
        .await
        .expect("late open");
    assert_eq!(late.transition, Transition::Stale);
    // …the oldest were forgotten: the same late open now opens.
    let forgotten = s
        .apply("sc", &at(open("ghost-0"), 5), 6)
        .await
        .expect("open of a forgotten key");
    assert_eq!(forgotten.transition, Transition::Opened);
    // Open incidents are never what this bound evicts.
    for k in 0..2_000 {
        s.apply("sc", &at(resolve(&format!("more-{k}")), 1), 7)
            .await
            .expect("resolve of nothing");
    }
    assert_eq!(s.open_count("sc").await.expect("open count"), 1);
    assert!(s.is_open("sc", "ghost-0").await.expect("is_open"));
}

#[tokio::test]
async fn open_count_counts_open_incidents_of_one_source() {
    let s = store(10);
    assert_eq!(s.open_count("sc").await.expect("count"), 0);
    opened(&s, "sc", "a").await;
    opened(&s, "sc", "b").await;
    opened(&s, "sp", "a").await;
    resolved(&s, "sc", "a").await;
    assert_eq!(s.open_count("sc").await.expect("count"), 1);
    assert_eq!(s.open_count("sp").await.expect("count"), 1);
    assert!(s.is_open("sc", "b").await.expect("is_open"));
    assert!(!s.is_open("sc", "a").await.expect("is_open"));
}
