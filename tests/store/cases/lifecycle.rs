//! Conformance cases for the lifecycle of one key: open, update, resolve, staleness.

use std::collections::BTreeMap;

use alertgate::outcome::{Action, Labels, Outcome, Priority};
use alertgate::store::{IncidentStore, Status, StoreError, Transition};

use crate::backend::Backend;
use crate::common::*;

pub async fn open_update_resolve_tracks_one_incident<B: Backend>(b: &B) {
    let s = b.store();
    let mut first = open("web|https://example.com");
    first.priority = Some(Priority::High);
    first.title = Some("web is down".into());
    let labels = BTreeMap::from([
        ("url".to_owned(), serde_json::json!("https://example.com")),
        ("code".to_owned(), serde_json::json!(503)),
    ]);
    first.labels = Labels::from_map(&labels);
    let opened = s.apply("statuscake", &first, 1_000).await.expect("open");
    assert_eq!(opened.transition, Transition::Opened);
    let stepped = opened.incident.clone().expect("opened incident");
    let inc = held(s, &opened).await;
    assert_eq!(stepped.id, inc.id);
    assert_eq!(stepped.priority, Some(Priority::High));
    assert_eq!(&*inc.source, "statuscake");
    assert_eq!(&*inc.fingerprint, "web|https://example.com");
    assert_eq!(inc.status, Status::Open);
    assert_eq!(inc.priority, Some(Priority::High));
    assert_eq!(inc.title.as_deref(), Some("web is down"));
    assert_eq!(inc.labels.to_map(), labels);
    assert_eq!(
        (inc.opened_at, inc.last_event_at, inc.resolved_at),
        (1_000, 1_000, None)
    );
    assert_eq!(inc.event_count, 1);

    // An update without title or priority keeps them; one with them replaces them.
    let updated = s
        .apply("statuscake", &open("web|https://example.com"), 2_000)
        .await;
    let inc2 = held(s, &updated.expect("update")).await;
    assert_eq!(inc2.id, inc.id);
    assert_eq!(
        (inc2.event_count, inc2.last_event_at, inc2.opened_at),
        (2, 2_000, 1_000)
    );
    assert_eq!(inc2.title.as_deref(), Some("web is down"));
    assert_eq!(inc2.priority, Some(Priority::High));
    let mut again = open("web|https://example.com");
    again.priority = Some(Priority::Critical);
    again.title = Some("web is still down".into());
    let updated = s.apply("statuscake", &again, 3_000).await.expect("update");
    assert_eq!(updated.transition, Transition::Updated);
    assert_eq!(
        updated.incident.as_ref().map(|i| i.priority),
        Some(Some(Priority::Critical))
    );
    let inc3 = held(s, &updated).await;
    assert_eq!(
        (inc3.event_count, inc3.priority),
        (3, Some(Priority::Critical))
    );
    assert_eq!(inc3.title.as_deref(), Some("web is still down"));
    assert_eq!(
        inc3.labels.to_map(),
        labels,
        "labels are kept from the open"
    );

    let resolved = s
        .apply("statuscake", &resolve("web|https://example.com"), 4_000)
        .await;
    let resolved = resolved.expect("resolve");
    assert_eq!(resolved.transition, Transition::Resolved);
    let inc4 = held(s, &resolved).await;
    assert_eq!(inc4.id, inc.id);
    assert_eq!(inc4.status, Status::Resolved);
    assert_eq!(
        (inc4.resolved_at, inc4.last_event_at, inc4.event_count),
        (Some(4_000), 4_000, 3)
    );
    assert_eq!(s.get(&inc.id).await.expect("get"), Some(inc4));
}

pub async fn resolve_with_nothing_open_is_already_resolved_and_creates_nothing<B: Backend>(b: &B) {
    let s = b.store();
    let applied = s
        .apply("statuscake", &resolve("never-opened"), 1_000)
        .await
        .expect("resolve");
    assert_eq!(applied.transition, Transition::AlreadyResolved);
    assert_eq!(applied.incident, None);
    assert!(list_all(s, query(None, None, 10)).await.is_empty());
    assert!(s.recent_events(10).await.expect("events").is_empty());
    // It did not open anything behind the scenes either.
    let opened = s
        .apply("statuscake", &open("never-opened"), 2_000)
        .await
        .expect("open");
    assert_eq!(opened.transition, Transition::Opened);
}

pub async fn open_after_resolve_creates_new_incident<B: Backend>(b: &B) {
    let s = b.store();
    let first = s
        .apply("sp", &open("inc-1"), 1)
        .await
        .expect("open")
        .incident
        .expect("incident");
    s.apply("sp", &resolve("inc-1"), 2).await.expect("resolve");
    let second = s.apply("sp", &open("inc-1"), 3).await.expect("reopen");
    assert_eq!(second.transition, Transition::Opened);
    let second = held(s, &second).await;
    assert_ne!(second.id, first.id);
    assert!(second.id.parse::<u64>().expect("decimal id") > first.id.parse().expect("decimal id"));
    assert_eq!((second.event_count, second.opened_at), (1, 3));
    let old = s
        .get(&first.id)
        .await
        .expect("get")
        .expect("old incident kept");
    assert_eq!(old.status, Status::Resolved);
}

pub async fn older_event_time_is_stale_and_time_outlives_resolve<B: Backend>(b: &B) {
    let s = b.store();
    let opened = s.apply("sp", &at(open("i"), 100), 1).await.expect("open");
    let inc = held(s, &opened).await;
    let stale = s
        .apply("sp", &at(open("i"), 99), 2)
        .await
        .expect("stale open");
    assert_eq!(stale.transition, Transition::Stale);
    assert_eq!(
        stale.incident.as_ref().map(|i| &i.id),
        Some(&inc.id),
        "stale names the open incident"
    );
    assert_eq!(s.get(&inc.id).await.expect("get").as_ref(), Some(&inc));

    let resolved = s
        .apply("sp", &at(resolve("i"), 200), 3)
        .await
        .expect("resolve");
    assert_eq!(resolved.transition, Transition::Resolved);
    // A late "investigating" sent before the resolve must not open a new incident.
    let late = s
        .apply("sp", &at(open("i"), 150), 4)
        .await
        .expect("late open");
    assert_eq!(late.transition, Transition::Stale);
    assert_eq!(late.incident, None);
    assert_eq!(
        list_all(s, query(None, None, 10)).await,
        vec![inc.id.clone()]
    );
    // Events without a time are never stale, and do not move the key's time.
    let untimed = s.apply("sp", &open("i"), 5).await.expect("untimed open");
    assert_eq!(untimed.transition, Transition::Opened);
    let still_stale = s
        .apply("sp", &at(resolve("i"), 199), 6)
        .await
        .expect("stale resolve");
    assert_eq!(still_stale.transition, Transition::Stale);
    assert_eq!(held(s, &still_stale).await.status, Status::Open);
    assert_eq!(s.recent_events(10).await.expect("events").len(), 3);
}

pub async fn equal_event_time_is_not_stale<B: Backend>(b: &B) {
    let s = b.store();
    s.apply("sp", &at(open("i"), 100), 1).await.expect("open");
    let same = s
        .apply("sp", &at(open("i"), 100), 2)
        .await
        .expect("same time");
    assert_eq!(same.transition, Transition::Updated);
    let resolved = s
        .apply("sp", &at(resolve("i"), 100), 3)
        .await
        .expect("resolve");
    assert_eq!(resolved.transition, Transition::Resolved);
    // already_resolved with a time also advances the key's time.
    let again = s
        .apply("sp", &at(resolve("i"), 300), 4)
        .await
        .expect("resolve again");
    assert_eq!(again.transition, Transition::AlreadyResolved);
    let late = s
        .apply("sp", &at(open("i"), 200), 5)
        .await
        .expect("late open");
    assert_eq!(late.transition, Transition::Stale);
}

pub async fn ignored_outcome_touches_nothing<B: Backend>(b: &B) {
    let s = b.store();
    let applied = s
        .apply("sc", &Outcome::ignore(None, "no rule matched".into()), 1)
        .await
        .expect("ignore");
    assert_eq!(applied.transition, Transition::Ignored);
    assert_eq!(applied.incident, None);
    // An ignore that carries a fingerprint and time is still not applied.
    let ignore = at(outcome(Action::Ignore, "k"), 500);
    assert_eq!(
        s.apply("sc", &ignore, 2).await.expect("ignore").transition,
        Transition::Ignored
    );
    assert!(list_all(s, query(None, None, 10)).await.is_empty());
    assert!(s.recent_events(10).await.expect("events").is_empty());
    let opened = s.apply("sc", &at(open("k"), 400), 3).await.expect("open");
    assert_eq!(
        opened.transition,
        Transition::Opened,
        "the ignore left no event time"
    );
}

pub async fn open_or_resolve_without_fingerprint_is_an_error<B: Backend>(b: &B) {
    let s = b.store();
    for action in [Action::Open, Action::Resolve] {
        let mut o = outcome(action, "unused");
        o.fingerprint = None;
        assert!(matches!(
            s.apply("sc", &o, 1).await,
            Err(StoreError::Corrupt(_))
        ));
    }
    assert!(list_all(s, query(None, None, 10)).await.is_empty());
}

pub async fn same_fingerprint_under_two_sources_is_two_incidents<B: Backend>(b: &B) {
    let s = b.store();
    let a = s
        .apply("statuscake", &open("shared"), 1)
        .await
        .expect("open a");
    let b2 = s
        .apply("statuspage", &open("shared"), 2)
        .await
        .expect("open b");
    assert_eq!(
        (a.transition, b2.transition),
        (Transition::Opened, Transition::Opened)
    );
    assert_ne!(a.incident.expect("a").id, b2.incident.expect("b").id);
    let r = s
        .apply("statuscake", &resolve("shared"), 3)
        .await
        .expect("resolve a");
    assert_eq!(&*held(s, &r).await.source, "statuscake");
    let open_ids = list_all(s, query(Some(Status::Open), None, 10)).await;
    assert_eq!(open_ids.len(), 1, "the other source's incident stays open");
}

pub async fn ten_kilobyte_fingerprint_round_trips<B: Backend>(b: &B) {
    let s = b.store();
    let fp: String = (0..10_240)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    let opened = s.apply("sc", &open(&fp), 1).await.expect("open");
    assert_eq!(&*held(s, &opened).await.fingerprint, fp);
    let updated = s.apply("sc", &open(&fp), 2).await.expect("update");
    assert_eq!(updated.transition, Transition::Updated);
    let mut other = fp.clone();
    other.push('!');
    let different = s.apply("sc", &open(&other), 3).await.expect("open other");
    assert_eq!(different.transition, Transition::Opened);
    let resolved = s.apply("sc", &resolve(&fp), 4).await.expect("resolve");
    assert_eq!(&*held(s, &resolved).await.fingerprint, fp);
}
