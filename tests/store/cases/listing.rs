//! Conformance cases for reading back: listings and their pages, lookups, the event
//! stream, and two replicas racing on one key.

use std::sync::Arc;

use alertgate::outcome::Outcome;
use alertgate::store::{IncidentStore, Status, StoreError, Transition};

use crate::backend::Backend;
use crate::common::*;

pub async fn list_is_newest_first_and_filters_by_status_and_source<B: Backend>(b: &B) {
    let s = b.store();
    let mut ids = Vec::new();
    for (i, source) in ["a", "b", "a", "b", "a"].into_iter().enumerate() {
        let o = open(&format!("k{i}"));
        ids.push(
            s.apply(source, &o, i as i64)
                .await
                .expect("open")
                .incident
                .expect("i")
                .id,
        );
    }
    s.apply("a", &resolve("k2"), 10).await.expect("resolve");
    s.apply("b", &resolve("k3"), 11).await.expect("resolve");
    let rev = |picks: &[usize]| {
        picks
            .iter()
            .rev()
            .map(|&i| ids[i].clone())
            .collect::<Vec<_>>()
    };

    assert_eq!(
        list_all(s, query(None, None, 10)).await,
        rev(&[0, 1, 2, 3, 4])
    );
    assert_eq!(
        list_all(s, query(Some(Status::Open), None, 10)).await,
        rev(&[0, 1, 4])
    );
    assert_eq!(
        list_all(s, query(Some(Status::Resolved), None, 10)).await,
        rev(&[2, 3])
    );
    assert_eq!(
        list_all(s, query(None, Some("a"), 10)).await,
        rev(&[0, 2, 4])
    );
    assert_eq!(
        list_all(s, query(Some(Status::Open), Some("a"), 10)).await,
        rev(&[0, 4])
    );
    assert_eq!(
        list_all(s, query(Some(Status::Resolved), Some("b"), 10)).await,
        rev(&[3])
    );
    assert!(list_all(s, query(None, Some("nobody"), 10))
        .await
        .is_empty());

    let page = s
        .list(&query(Some(Status::Open), Some("a"), 10))
        .await
        .expect("list");
    assert!(page
        .incidents
        .iter()
        .all(|i| &*i.source == "a" && i.status == Status::Open));
    assert_eq!(page.next_cursor, None);
}

pub async fn list_pages_with_cursor_until_exhausted<B: Backend>(b: &B) {
    let s = b.store();
    let mut ids = Vec::new();
    for i in 0..7 {
        let inc = s
            .apply("sc", &open(&format!("k{i}")), i)
            .await
            .expect("open");
        ids.push(inc.incident.expect("incident").id);
    }
    ids.reverse();
    let mut q = query(None, None, 3);
    let mut pages = Vec::new();
    loop {
        let page = s.list(&q).await.expect("list");
        pages.push(
            page.incidents
                .iter()
                .map(|i| i.id.clone())
                .collect::<Vec<_>>(),
        );
        match page.next_cursor {
            Some(cursor) => {
                assert_eq!(Some(&cursor), pages.last().and_then(|p| p.last()));
                q.cursor = Some(cursor);
            }
            None => break,
        }
    }
    assert_eq!(
        pages,
        vec![ids[0..3].to_vec(), ids[3..6].to_vec(), ids[6..7].to_vec()]
    );
    // A page that ends exactly at the last incident says so.
    let exact = s.list(&query(None, None, 7)).await.expect("list");
    assert_eq!((exact.incidents.len(), exact.next_cursor), (7, None));
    // Filtered pagination walks the filter's index, not the global one.
    s.apply("sc", &resolve("k1"), 20).await.expect("resolve");
    let open_ids = list_all(s, query(Some(Status::Open), None, 2)).await;
    assert_eq!(open_ids.len(), 6);
    assert!(!open_ids.contains(&ids[5]));
}

pub async fn every_filter_pages_newest_first_across_sources<B: Backend>(b: &B) {
    let s = b.store();
    // Nine incidents over three sources; every third one (and the last) resolved.
    let mut all = Vec::new();
    for i in 0..9 {
        let source = ["a", "b", "c"][i % 3];
        let o = open(&format!("k{i}"));
        let inc = s.apply(source, &o, i as i64).await.expect("open");
        all.push((source, inc.incident.expect("incident").id, i));
    }
    for &(source, _, i) in &all {
        if i % 3 == 1 || i == 8 {
            s.apply(source, &resolve(&format!("k{i}")), 20)
                .await
                .expect("resolve");
        }
    }
    let status_of = |i: usize| {
        if i % 3 == 1 || i == 8 {
            Status::Resolved
        } else {
            Status::Open
        }
    };
    for status in [None, Some(Status::Open), Some(Status::Resolved)] {
        for source in [None, Some("a"), Some("b"), Some("c")] {
            let want: Vec<String> = all
                .iter()
                .rev()
                .filter(|(src, _, i)| {
                    source.is_none_or(|s| s == *src) && status.is_none_or(|st| st == status_of(*i))
                })
                .map(|(_, id, _)| id.clone())
                .collect();
            for limit in [1, 2, 4, 10] {
                assert_eq!(
                    list_all(s, query(status, source, limit)).await,
                    want,
                    "{status:?} {source:?} limit {limit}"
                );
            }
        }
    }
}

pub async fn list_rejects_bad_cursor<B: Backend>(b: &B) {
    let s = b.store();
    s.apply("sc", &open("k"), 1).await.expect("open");
    for bad in ["abc", "-1", "1.5", "", "+1", "1 "] {
        let mut q = query(None, None, 10);
        q.cursor = Some(bad.into());
        let err = s.list(&q).await.expect_err("bad cursor must fail");
        assert!(
            matches!(err, StoreError::BadCursor(ref c) if c == bad),
            "{bad:?}: {err:?}"
        );
    }
}

pub async fn get_unknown_or_malformed_id_is_none<B: Backend>(b: &B) {
    let s = b.store();
    let id = s
        .apply("sc", &open("k"), 1)
        .await
        .expect("open")
        .incident
        .expect("i")
        .id;
    assert!(s.get(&id).await.expect("get").is_some());
    for missing in ["999999", "", "abc", "1:x", "-1"] {
        assert_eq!(s.get(missing).await.expect("get"), None, "{missing:?}");
    }
}

pub async fn event_stream_records_transitions_in_order<B: Backend>(b: &B) {
    let s = b.store();
    s.apply("sc", &open("k"), 10).await.expect("open");
    s.apply("sc", &open("k"), 20).await.expect("update");
    s.apply("sc", &resolve("nothing"), 25)
        .await
        .expect("already resolved");
    s.apply("sc", &Outcome::ignore(None, "x".into()), 26)
        .await
        .expect("ignored");
    s.apply("sc", &resolve("k"), 30).await.expect("resolve");
    let events = s.recent_events(10).await.expect("events");
    let seen: Vec<_> = events
        .iter()
        .map(|e| {
            (
                e.transition,
                e.at,
                e.incident.event_count,
                e.incident.status,
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            (Transition::Opened, 10, 1, Status::Open),
            (Transition::Updated, 20, 2, Status::Open),
            (Transition::Resolved, 30, 2, Status::Resolved),
        ]
    );
    let last = s
        .get(&events[2].incident.id)
        .await
        .expect("get")
        .expect("incident");
    assert_eq!(
        events[2].incident, last,
        "an event carries the incident after its step"
    );
    let newest = s.recent_events(2).await.expect("events");
    assert_eq!(
        newest,
        events[1..].to_vec(),
        "a limit keeps the newest, oldest first"
    );
}

pub async fn incident_events_are_that_incidents_own_oldest_first<B: Backend>(b: &B) {
    let s = b.store();
    let a = s.apply("sc", &open("a"), 10).await.expect("open a");
    let a = a.incident.expect("a").id;
    s.apply("sc", &open("b"), 11).await.expect("open b");
    s.apply("sc", &open("a"), 12).await.expect("update a");
    s.apply("sc", &resolve("b"), 13).await.expect("resolve b");
    s.apply("sc", &resolve("a"), 14).await.expect("resolve a");
    let mine = s.incident_events(&a, 100).await.expect("events");
    let seen: Vec<_> = mine
        .iter()
        .map(|e| {
            (
                e.transition,
                e.at,
                &*e.incident.fingerprint,
                e.incident.event_count,
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            (Transition::Opened, 10, "a", 1),
            (Transition::Updated, 12, "a", 2),
            (Transition::Resolved, 14, "a", 2),
        ]
    );
    let window = s.incident_events(&a, 2).await.expect("events");
    assert_eq!(
        window.iter().map(|e| e.at).collect::<Vec<_>>(),
        [14],
        "only among the newest entries asked for"
    );
    assert!(s
        .incident_events("999", 100)
        .await
        .expect("events")
        .is_empty());
}

pub async fn event_stream_keeps_only_newest_bounded_events<B: Backend>(b: &B) {
    // Set up with a stream bound of 5 (see `conformance!`).
    let s = b.store();
    for i in 0..12 {
        s.apply("sc", &open(&format!("k{i}")), i)
            .await
            .expect("open");
    }
    let events = s.recent_events(100).await.expect("events");
    let times: Vec<i64> = events.iter().map(|e| e.at).collect();
    assert_eq!(times, vec![7, 8, 9, 10, 11]);
}

pub async fn concurrent_opens_from_two_replicas_make_one_incident_and_one_resolve<B: Backend>(
    b: &B,
) {
    let replicas = [Arc::new(b.store().clone()), Arc::new(b.replica().await)];
    let mut tasks = Vec::new();
    for i in 0..200 {
        let s = Arc::clone(&replicas[i % 2]);
        tasks.push(tokio::spawn(async move {
            s.apply("sc", &open("hot"), i as i64).await
        }));
    }
    let mut opened = 0;
    for task in tasks {
        let applied = task.await.expect("task").expect("open");
        match applied.transition {
            Transition::Opened => opened += 1,
            Transition::Updated => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(opened, 1);
    let open_now = replicas[0]
        .list(&query(Some(Status::Open), None, 10))
        .await
        .expect("list");
    assert_eq!(open_now.incidents.len(), 1);
    assert_eq!(open_now.incidents[0].event_count, 200);

    let mut tasks = Vec::new();
    for i in 0..50 {
        let s = Arc::clone(&replicas[i % 2]);
        tasks.push(tokio::spawn(async move {
            s.apply("sc", &resolve("hot"), 1_000).await
        }));
    }
    let mut resolved = 0;
    for task in tasks {
        match task.await.expect("task").expect("resolve").transition {
            Transition::Resolved => resolved += 1,
            Transition::AlreadyResolved => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(resolved, 1);
    assert!(list_all(&*replicas[1], query(Some(Status::Open), None, 10))
        .await
        .is_empty());
    assert_eq!(
        list_all(&*replicas[1], query(None, None, 10)).await.len(),
        1
    );
}
