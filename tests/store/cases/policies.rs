//! Conformance cases for the lifecycle policies (docs/design.md §4): auto-resolve,
//! flapping, heartbeats. Times are given, not waited for: `sweep(now)` fires what is due.

use alertgate::outcome::{FlapPolicy, HeartbeatPolicy, Priority};
use alertgate::store::{Beat, IncidentEvent, IncidentStore, Status, Transition};

use crate::backend::Backend;
use crate::common::*;

const SC: &str = "statuscake";

fn with_deadline(fingerprint: &str, ms: u64) -> alertgate::outcome::Outcome {
    let mut o = open(fingerprint);
    o.auto_resolve_after_ms = Some(ms);
    o
}

async fn events<S: IncidentStore>(s: &S) -> Vec<IncidentEvent> {
    s.recent_events(10_000).await.expect("events")
}

pub async fn auto_resolve_fires_once_at_its_deadline<B: Backend>(b: &B) {
    let s = b.store();
    let opened = s
        .apply(SC, &with_deadline("web", 1_000), 10_000)
        .await
        .expect("open");
    let id = opened.incident.expect("incident").id;
    assert_eq!(s.sweep(10_999, &[]).await.expect("sweep").auto_resolved, 0);
    assert_eq!(s.sweep(11_000, &[]).await.expect("sweep").auto_resolved, 1);
    let inc = s.get(&id).await.expect("get").expect("kept");
    assert_eq!(inc.status, Status::Resolved);
    assert_eq!(inc.resolved_by.as_deref(), Some("timeout"));
    assert_eq!(inc.resolved_at, Some(11_000));
    assert_eq!(s.sweep(20_000, &[]).await.expect("sweep").auto_resolved, 0);
    let all = events(s).await;
    let last = all.last().expect("an event");
    assert_eq!(
        (last.transition, last.incident.id.as_str(), last.at),
        (Transition::Resolved, id.as_str(), 11_000)
    );
    assert_eq!(last.incident.resolved_by.as_deref(), Some("timeout"));
    // A later event for the fingerprint opens a new incident.
    let again = s.apply(SC, &open("web"), 30_000).await.expect("open");
    assert_eq!(again.transition, Transition::Opened);
    assert_ne!(again.incident.expect("incident").id, id);
}

pub async fn update_pushes_the_deadline_out_and_resolve_clears_it<B: Backend>(b: &B) {
    let s = b.store();
    let id = s
        .apply(SC, &with_deadline("a", 1_000), 10_000)
        .await
        .expect("open");
    let id = id.incident.expect("incident").id;
    let updated = s
        .apply(SC, &with_deadline("a", 1_000), 10_800)
        .await
        .expect("update");
    assert_eq!(updated.transition, Transition::Updated);
    assert_eq!(s.sweep(11_000, &[]).await.expect("sweep").auto_resolved, 0);
    assert_eq!(
        s.get(&id).await.expect("get").expect("kept").status,
        Status::Open
    );
    assert_eq!(s.sweep(11_800, &[]).await.expect("sweep").auto_resolved, 1);

    // An update under no policy removes the deadline; a resolve does too.
    s.apply(SC, &with_deadline("b", 1_000), 20_000)
        .await
        .expect("open");
    s.apply(SC, &open("b"), 20_100).await.expect("update");
    s.apply(SC, &with_deadline("c", 1_000), 20_000)
        .await
        .expect("open");
    s.apply(SC, &resolve("c"), 20_100).await.expect("resolve");
    let before = events(s).await.len();
    assert_eq!(s.sweep(99_000, &[]).await.expect("sweep").auto_resolved, 0);
    assert_eq!(events(s).await.len(), before, "nothing more streamed");
}

pub async fn flapping_marks_the_nth_open_until_a_quiet_window<B: Backend>(b: &B) {
    let s = b.store();
    let policy = FlapPolicy {
        opens: 3,
        within_ms: 10_000,
    };
    let mut marks = Vec::new();
    for n in 1..=4_i64 {
        let mut o = open("db");
        o.flapping = Some(policy);
        let opened = s.apply(SC, &o, n * 1_000).await.expect("open");
        assert_eq!(opened.transition, Transition::Opened);
        let inc = opened.incident.expect("incident");
        let stored = s.get(&inc.id).await.expect("get").expect("kept");
        assert_eq!(
            (stored.flapping, stored.flap_count),
            (inc.flapping, inc.flap_count)
        );
        marks.push((inc.flapping, inc.flap_count));
        let resolved = s
            .apply(SC, &resolve("db"), n * 1_000 + 500)
            .await
            .expect("resolve");
        assert_eq!(held(s, &resolved).await.flapping, inc.flapping);
    }
    assert_eq!(
        marks,
        [
            (false, None),
            (false, None),
            (true, Some(3)),
            (true, Some(4))
        ]
    );
    let flaps = events(s).await;
    assert!(flaps[4..].iter().all(|e| e.incident.flapping), "{flaps:?}");
    let report = s.sweep(13_999, &[]).await.expect("sweep");
    assert_eq!((report.flapping_ended, report.flapping_now), (0, 1));
    let report = s.sweep(14_000, &[]).await.expect("sweep");
    assert_eq!((report.flapping_ended, report.flapping_now), (1, 0));
    let all = events(s).await;
    let ended = all.last().expect("an event");
    assert_eq!(ended.transition, Transition::FlappingEnded);
    assert!(!ended.incident.flapping);
    assert_eq!(ended.incident.flap_count, Some(4));
    assert_eq!(ended.incident.status, Status::Resolved);
    assert_eq!(s.sweep(99_000, &[]).await.expect("sweep").flapping_ended, 0);
    // A quiet window later the count starts over.
    let mut o = open("db");
    o.flapping = Some(policy);
    let inc = s
        .apply(SC, &o, 30_000)
        .await
        .expect("open")
        .incident
        .expect("incident");
    assert!(!inc.flapping);
}

pub async fn heartbeat_opens_once_when_silent_and_resolves_when_heard<B: Backend>(b: &B) {
    let s = b.store();
    let policy = HeartbeatPolicy {
        every_ms: 1_000,
        priority: Priority::High,
    };
    let hb = [(SC.to_owned(), policy)];
    s.heartbeat(SC, policy, Beat::Arm, 1_000)
        .await
        .expect("arm");
    s.heartbeat(SC, policy, Beat::Arm, 1_500)
        .await
        .expect("arm again");
    assert!(s
        .sweep(1_999, &hb)
        .await
        .expect("sweep")
        .heartbeats_opened
        .is_empty());
    let report = s.sweep(2_000, &hb).await.expect("sweep");
    assert_eq!(report.heartbeats_opened, [SC.to_owned()]);
    assert!(s
        .sweep(9_000, &hb)
        .await
        .expect("sweep")
        .heartbeats_opened
        .is_empty());
    let page = s
        .list(&query(Some(Status::Open), None, 10))
        .await
        .expect("list");
    assert_eq!(page.incidents.len(), 1);
    let inc = &page.incidents[0];
    assert_eq!(&*inc.fingerprint, "heartbeat");
    assert_eq!(inc.priority, Some(Priority::High));
    assert_eq!(
        inc.title.as_deref(),
        Some("statuscake: no webhook since 1970-01-01T00:00:01Z")
    );
    let resolved = s
        .heartbeat(SC, policy, Beat::Heard, 10_000)
        .await
        .expect("heard");
    let resolved = resolved.expect("the heartbeat incident");
    assert_eq!(
        (resolved.id.as_str(), resolved.status),
        (inc.id.as_str(), Status::Resolved)
    );
    assert_eq!(resolved.resolved_by.as_deref(), Some("heartbeat"));
    assert!(s
        .heartbeat(SC, policy, Beat::Heard, 10_500)
        .await
        .expect("heard")
        .is_none());
    // Silent again: a new incident; a source no longer configured stays quiet.
    assert!(s
        .sweep(12_000, &[])
        .await
        .expect("sweep")
        .heartbeats_opened
        .is_empty());
    s.heartbeat(SC, policy, Beat::Heard, 13_000)
        .await
        .expect("heard");
    let report = s.sweep(14_000, &hb).await.expect("sweep");
    assert_eq!(report.heartbeats_opened, [SC.to_owned()]);
    let page = s
        .list(&query(Some(Status::Open), None, 10))
        .await
        .expect("list");
    assert_eq!(
        page.incidents[0].title.as_deref(),
        Some("statuscake: no webhook since 1970-01-01T00:00:13Z")
    );
}

pub async fn concurrent_sweeps_fire_each_deadline_once<B: Backend>(b: &B) {
    let s = b.store();
    let other = b.replica().await;
    for n in 0..200 {
        s.apply(SC, &with_deadline(&format!("f{n}"), 1_000), 10_000 + n)
            .await
            .expect("open");
    }
    let mut total = 0;
    for now in [10_500, 10_700, 11_000, 11_100, 11_200, 11_300] {
        let (a, b) = tokio::join!(s.sweep(now, &[]), other.sweep(now, &[]));
        total += a.expect("sweep").auto_resolved + b.expect("sweep").auto_resolved;
    }
    assert_eq!(total, 200);
    let resolved = events(s)
        .await
        .into_iter()
        .filter(|e| e.transition == Transition::Resolved)
        .count();
    assert_eq!(resolved, 200);
}
