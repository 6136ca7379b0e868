//! Conformance cases for `open_count` and `is_open` (`sources.{id}.max_open`): on Redis
//! a source's open incidents are spread over every bucket, and the count is their sum.

use std::collections::BTreeSet;

use alertgate::store::{IncidentStore, Transition};

use crate::backend::Backend;
use crate::common::*;

pub async fn open_count_and_is_open_follow_every_bucket<B: Backend>(b: &B) {
    let s = b.store();
    assert_eq!(s.open_count("sc").await.expect("count"), 0);
    let mut ids = Vec::new();
    for n in 0..24 {
        let applied = s
            .apply("sc", &open(&format!("fp-{n}")), 1_000 + n)
            .await
            .expect("open");
        assert_eq!(applied.transition, Transition::Opened);
        ids.push(applied.incident.expect("incident").id);
    }
    for n in 0..3 {
        s.apply("sp", &open(&format!("fp-{n}")), 2_000 + n)
            .await
            .expect("open");
    }
    // The ids name their bucket in their last three digits: 24 keys land in more than
    // one (on Redis; the memory store's ids differ anyway).
    let buckets: BTreeSet<u64> = ids
        .iter()
        .map(|id| id.parse::<u64>().expect("numeric id") % 1000)
        .collect();
    assert!(buckets.len() > 1, "all in one bucket: {ids:?}");
    assert_eq!(s.open_count("sc").await.expect("count"), 24);
    assert_eq!(s.open_count("sp").await.expect("count"), 3);
    assert_eq!(s.open_count("none").await.expect("count"), 0);

    for n in 0..10 {
        let applied = s
            .apply("sc", &resolve(&format!("fp-{n}")), 3_000 + n)
            .await
            .expect("resolve");
        assert_eq!(applied.transition, Transition::Resolved);
    }
    // A resolve of nothing and an update change no count.
    s.apply("sc", &resolve("never-opened"), 4_000)
        .await
        .expect("resolve of nothing");
    s.apply("sc", &open("fp-20"), 4_001).await.expect("update");
    assert_eq!(s.open_count("sc").await.expect("count"), 14);
    assert_eq!(s.open_count("sp").await.expect("count"), 3);

    assert!(s.is_open("sc", "fp-20").await.expect("is_open"));
    assert!(!s.is_open("sc", "fp-3").await.expect("is_open"), "resolved");
    assert!(!s.is_open("sc", "never-opened").await.expect("is_open"));
    assert!(!s.is_open("sc", "unknown").await.expect("is_open"));
    assert!(s.is_open("sp", "fp-1").await.expect("is_open"));
    assert!(
        !s.is_open("sp", "fp-20").await.expect("is_open"),
        "other source"
    );

    // A reopen counts again.
    s.apply("sc", &open("fp-3"), 5_000).await.expect("reopen");
    assert!(s.is_open("sc", "fp-3").await.expect("is_open"));
    assert_eq!(s.open_count("sc").await.expect("count"), 15);
}
