//! One conformance suite for every `IncidentStore` backend (DESIGN §4).
//!
//! Each case in `cases` is written once, generic over a `Backend`, and the
//! `conformance!` macro instantiates every case for the memory store and for the Redis
//! store. Redis tests talk to a real server (`ALERTGATE_TEST_REDIS_URL`, default
//! `redis://127.0.0.1:6379`), each under its own key prefix, deleted when the test ends.
//! An unreachable Redis fails them, unless `ALERTGATE_SKIP_REDIS_TESTS=1`.

use std::collections::BTreeMap;
use std::sync::Arc;

#[path = "support/relay.rs"]
mod relay;

use alertgate::outcome::{Action, Labels, Outcome, Priority};
use alertgate::store::{
    IncidentStore, ListQuery, MemorySettings, MemoryStore, RedisSettings, RedisStore, Status,
    StoreError, Transition,
};

/// Event stream bound for every case but the one that tests the bound.
const STREAM_LEN: usize = 1_000;

/// Redis `resolved_ttl` for every case but the expiry ones: longer than any test runs.
const RESOLVED_TTL: std::time::Duration = std::time::Duration::from_secs(3600);

/// A store under test, set up fresh for one test.
trait Backend: Sized {
    type S: IncidentStore + Clone;

    /// A fresh, empty store; `None` when the backend is skipped on purpose.
    async fn setup(test: &str, event_stream_len: usize) -> Option<Self>;

    fn store(&self) -> &Self::S;

    /// Another handle on the same state, as a second gateway replica would have.
    async fn replica(&self) -> Self::S;
}

struct Memory(MemoryStore);

impl Backend for Memory {
    type S = MemoryStore;

    async fn setup(_test: &str, event_stream_len: usize) -> Option<Self> {
        Some(Memory(MemoryStore::new(MemorySettings {
            event_stream_len,
            ..MemorySettings::default()
        })))
    }

    fn store(&self) -> &MemoryStore {
        &self.0
    }

    async fn replica(&self) -> MemoryStore {
        self.0.clone()
    }
}

fn redis_url() -> String {
    std::env::var("ALERTGATE_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// A Redis store under a prefix of its own; its keys are deleted on drop, pass or fail.
struct Redis {
    store: RedisStore,
    settings: RedisSettings,
}

impl Backend for Redis {
    type S = RedisStore;

    async fn setup(test: &str, event_stream_len: usize) -> Option<Self> {
        Redis::with_ttl(test, event_stream_len, RESOLVED_TTL).await
    }

    fn store(&self) -> &RedisStore {
        &self.store
    }

    async fn replica(&self) -> RedisStore {
        RedisStore::connect(self.settings.clone())
            .await
            .expect("second redis store")
    }
}

impl Redis {
    async fn with_ttl(
        test: &str,
        event_stream_len: usize,
        resolved_ttl: std::time::Duration,
    ) -> Option<Self> {
        if std::env::var("ALERTGATE_SKIP_REDIS_TESTS").as_deref() == Ok("1") {
            eprintln!("skipping {test}: ALERTGATE_SKIP_REDIS_TESTS=1");
            return None;
        }
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock after 1970")
            .as_nanos();
        let settings = RedisSettings {
            url: redis_url(),
            key_prefix: format!("alertgate-test:{test}:{}:{nanos}:", std::process::id()),
            event_stream_len,
            resolved_ttl,
        };
        let store = RedisStore::connect(settings.clone())
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "redis at {} is needed for this test ({e}); \
                 set ALERTGATE_SKIP_REDIS_TESTS=1 to skip",
                    settings.url
                )
            });
        Some(Redis { store, settings })
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        // Synchronous so it also runs when the test panics.
        let cleanup = || -> ::redis::RedisResult<()> {
            let mut conn = ::redis::Client::open(self.settings.url.as_str())?.get_connection()?;
            let pattern = format!("{}*", self.settings.key_prefix);
            let keys: Vec<String> = ::redis::cmd("SCAN")
                .cursor_arg(0)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(1000)
                .clone()
                .iter::<String>(&mut conn)?
                .collect();
            for chunk in keys.chunks(500) {
                ::redis::cmd("DEL").arg(chunk).exec(&mut conn)?;
            }
            Ok(())
        };
        if let Err(e) = cleanup() {
            eprintln!("cleaning up {}: {e}", self.settings.key_prefix);
        }
    }
}

fn outcome(action: Action, fingerprint: &str) -> Outcome {
    Outcome {
        action,
        fingerprint: Some(fingerprint.to_owned()),
        priority: None,
        title: None,
        labels: Labels::default(),
        event_time: None,
        rule: Some("test".into()),
        reason: None,
    }
}

fn open(fingerprint: &str) -> Outcome {
    outcome(Action::Open, fingerprint)
}

fn resolve(fingerprint: &str) -> Outcome {
    outcome(Action::Resolve, fingerprint)
}

fn at(mut o: Outcome, event_time: i64) -> Outcome {
    o.event_time = Some(event_time);
    o
}

fn query(status: Option<Status>, source: Option<&str>, limit: usize) -> ListQuery {
    ListQuery {
        status,
        source: source.map(str::to_owned),
        limit,
        cursor: None,
    }
}

/// Every incident the store lists, newest first, walking all pages.
async fn list_all<S: IncidentStore>(store: &S, mut q: ListQuery) -> Vec<String> {
    let mut ids = Vec::new();
    loop {
        let page = store.list(&q).await.expect("list");
        ids.extend(page.incidents.iter().map(|i| i.id.clone()));
        match page.next_cursor {
            Some(cursor) => q.cursor = Some(cursor),
            None => return ids,
        }
    }
}

/// The cases, each generic over the backend.
mod cases {
    use super::*;

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
        let inc = opened.incident.expect("opened incident");
        assert_eq!(&*inc.source, "statuscake");
        assert_eq!(&*inc.fingerprint, "web|https://example.com");
        assert_eq!(inc.status, Status::Open);
        assert_eq!(inc.priority, Some(Priority::High));
        assert_eq!(inc.title.as_deref(), Some("web is down"));
        assert_eq!(inc.labels.to_map(), labels);
        assert_eq!(
            s.get(&inc.id).await.expect("get").as_ref(),
            Some(&inc),
            "an open's reply is the incident as stored"
        );
        assert_eq!(
            (inc.opened_at, inc.last_event_at, inc.resolved_at),
            (1_000, 1_000, None)
        );
        assert_eq!(inc.event_count, 1);

        // An update without title or priority keeps them; one with them replaces them.
        let updated = s
            .apply("statuscake", &open("web|https://example.com"), 2_000)
            .await;
        let inc2 = updated.expect("update").incident.expect("updated incident");
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
        let inc3 = updated.incident.expect("updated incident");
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
        let inc4 = resolved.incident.expect("resolved incident");
        assert_eq!(inc4.id, inc.id);
        assert_eq!(inc4.status, Status::Resolved);
        assert_eq!(
            (inc4.resolved_at, inc4.last_event_at, inc4.event_count),
            (Some(4_000), 4_000, 3)
        );
        assert_eq!(s.get(&inc.id).await.expect("get"), Some(inc4));
    }

    pub async fn resolve_with_nothing_open_is_already_resolved_and_creates_nothing<B: Backend>(
        b: &B,
    ) {
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
        let second = second.incident.expect("incident");
        assert_ne!(second.id, first.id);
        assert!(
            second.id.parse::<u64>().expect("decimal id") > first.id.parse().expect("decimal id")
        );
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
        let inc = opened.incident.expect("incident");
        let stale = s
            .apply("sp", &at(open("i"), 99), 2)
            .await
            .expect("stale open");
        assert_eq!(stale.transition, Transition::Stale);
        assert_eq!(
            stale.incident.as_ref(),
            Some(&inc),
            "stale returns the open incident unchanged"
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
        assert_eq!(still_stale.incident.map(|i| i.status), Some(Status::Open));
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
        assert_eq!(&*r.incident.expect("a").source, "statuscake");
        let open_ids = list_all(s, query(Some(Status::Open), None, 10)).await;
        assert_eq!(open_ids.len(), 1, "the other source's incident stays open");
    }

    pub async fn ten_kilobyte_fingerprint_round_trips<B: Backend>(b: &B) {
        let s = b.store();
        let fp: String = (0..10_240)
            .map(|i| char::from(b'a' + (i % 26) as u8))
            .collect();
        let opened = s
            .apply("sc", &open(&fp), 1)
            .await
            .expect("open")
            .incident
            .expect("incident");
        assert_eq!(&*opened.fingerprint, fp);
        let updated = s.apply("sc", &open(&fp), 2).await.expect("update");
        assert_eq!(updated.transition, Transition::Updated);
        let mut other = fp.clone();
        other.push('!');
        let different = s.apply("sc", &open(&other), 3).await.expect("open other");
        assert_eq!(different.transition, Transition::Opened);
        let resolved = s.apply("sc", &resolve(&fp), 4).await.expect("resolve");
        assert_eq!(&*resolved.incident.expect("incident").fingerprint, fp);
    }

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
                        source.is_none_or(|s| s == *src)
                            && status.is_none_or(|st| st == status_of(*i))
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

    pub async fn concurrent_opens_from_two_replicas_make_one_incident_and_one_resolve<
        B: Backend,
    >(
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
}

/// Instantiates every case for one backend as `#[tokio::test]`s of the same name.
macro_rules! conformance {
    ($backend:ty) => {
        conformance!(@cases $backend, STREAM_LEN;
            open_update_resolve_tracks_one_incident,
            resolve_with_nothing_open_is_already_resolved_and_creates_nothing,
            open_after_resolve_creates_new_incident,
            older_event_time_is_stale_and_time_outlives_resolve,
            equal_event_time_is_not_stale,
            ignored_outcome_touches_nothing,
            open_or_resolve_without_fingerprint_is_an_error,
            same_fingerprint_under_two_sources_is_two_incidents,
            ten_kilobyte_fingerprint_round_trips,
            list_is_newest_first_and_filters_by_status_and_source,
            list_pages_with_cursor_until_exhausted,
            every_filter_pages_newest_first_across_sources,
            list_rejects_bad_cursor,
            get_unknown_or_malformed_id_is_none,
            event_stream_records_transitions_in_order,
            concurrent_opens_from_two_replicas_make_one_incident_and_one_resolve,
        );
        conformance!(@cases $backend, 5; event_stream_keeps_only_newest_bounded_events);
    };
    (@cases $backend:ty, $stream_len:expr; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                let Some(backend) = <$backend>::setup(stringify!($case), $stream_len).await else {
                    return;
                };
                crate::cases::$case(&backend).await;
            }
        )+
    };
}

mod memory {
    use super::*;
    conformance!(Memory);
}

/// The memory store's `max_resolved` bound. Memory only: the redis backend does not
/// bound resolved incidents yet.
mod memory_retention {
    use super::*;

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
        assert_eq!(
            applied.incident.map(|i| (i.id, i.status)),
            Some((id.clone(), Status::Resolved))
        );
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
        assert_eq!(late.incident.map(|i| i.status), Some(Status::Open));
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
}

mod redis {
    use super::*;
    use relay::Relay;
    conformance!(Redis);

    /// Not part of the shared suite: only a networked store can be down.
    #[tokio::test]
    async fn unreachable_redis_fails_fast_as_unavailable() {
        let started = std::time::Instant::now();
        let settings = RedisSettings {
            url: "redis://127.0.0.1:1".into(),
            key_prefix: "alertgate-test:unreachable:".into(),
            event_stream_len: 10,
            resolved_ttl: RESOLVED_TTL,
        };
        let err = RedisStore::connect(settings)
            .await
            .err()
            .expect("connect must fail");
        assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn redis_going_away_makes_calls_fail_fast_as_unavailable() {
        let Some(backend) = <Redis as Backend>::setup("going_away", STREAM_LEN).await else {
            return;
        };
        let relay = Relay::start("127.0.0.1:0", &redis_url()).await;
        let settings = RedisSettings {
            url: format!("redis://{}", relay.addr),
            ..backend.settings.clone()
        };
        let store = RedisStore::connect(settings)
            .await
            .expect("connect through relay");
        store
            .apply("sc", &open("k"), 1)
            .await
            .expect("open through relay");

        relay.cut();
        for _ in 0..3 {
            let started = std::time::Instant::now();
            let err = store
                .apply("sc", &open("k"), 2)
                .await
                .expect_err("redis is gone");
            assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
            let err = store.ping().await.expect_err("redis is gone");
            assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
            let took = started.elapsed();
            assert!(
                took < std::time::Duration::from_millis(500),
                "took {took:?}"
            );
        }

        // Once Redis is reachable again, the next calls reconnect by themselves.
        let _back = Relay::start(&relay.addr.to_string(), &redis_url()).await;
        let mut recovered = None;
        for _ in 0..3 {
            match store.apply("sc", &open("k"), 3).await {
                Ok(applied) => {
                    recovered = Some(applied);
                    break;
                }
                Err(StoreError::Unavailable(_)) => continue,
                Err(e) => panic!("{e:?}"),
            }
        }
        let applied = recovered.expect("store recovers after redis returns");
        assert_eq!(applied.transition, Transition::Updated);
        assert_eq!(applied.incident.map(|i| i.event_count), Some(2));
    }

    /// A plain connection, to look at TTLs the store API does not show.
    fn raw(b: &Redis) -> ::redis::Connection {
        ::redis::Client::open(b.settings.url.as_str())
            .and_then(|c| c.get_connection())
            .expect("raw redis connection")
    }

    fn pttl(conn: &mut ::redis::Connection, key: &str) -> i64 {
        ::redis::cmd("PTTL").arg(key).query(conn).expect("PTTL")
    }

    /// The one `fp:*` key under the test's prefix (tests using it touch one fingerprint).
    fn fp_key(b: &Redis, conn: &mut ::redis::Connection) -> String {
        let keys: Vec<String> = ::redis::cmd("KEYS")
            .arg(format!("{}fp:*", b.settings.key_prefix))
            .query(conn)
            .expect("KEYS");
        assert_eq!(keys.len(), 1, "{keys:?}");
        keys.into_iter().next().expect("one fp key")
    }

    /// Polls `done` every 10 ms for up to 5 s; true once it holds.
    async fn eventually<F: std::future::Future<Output = bool>>(
        mut done: impl FnMut() -> F,
    ) -> bool {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while std::time::Instant::now() < deadline {
            if done().await {
                return true;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        false
    }

    const TINY_TTL: std::time::Duration = std::time::Duration::from_millis(100);

    #[tokio::test]
    async fn resolved_incident_expires_while_open_ones_stay() {
        let Some(b) = Redis::with_ttl("ttl_expires", STREAM_LEN, TINY_TTL).await else {
            return;
        };
        let s = b.store();
        let mut conn = raw(&b);
        let gone = s.apply("sc", &at(open("a"), 10), 1).await.expect("open");
        let gone = gone.incident.expect("incident").id;
        let kept = s.apply("sc", &open("b"), 2).await.expect("open");
        let kept = kept.incident.expect("incident").id;
        let prefix = &b.settings.key_prefix;
        assert_eq!(pttl(&mut conn, &format!("{prefix}inc:{gone}")), -1);
        s.apply("sc", &at(resolve("a"), 20), 3)
            .await
            .expect("resolve");
        let ttl = pttl(&mut conn, &format!("{prefix}inc:{gone}"));
        assert!(ttl > 0 && ttl <= 100, "resolved hash PTTL {ttl}");
        assert_eq!(pttl(&mut conn, &format!("{prefix}inc:{kept}")), -1);
        assert!(
            eventually(|| async { s.get(&gone).await.expect("get").is_none() }).await,
            "resolved incident never expired"
        );
        // The key's last event_time went with it: a late event now opens afresh.
        let fp_pattern = format!("{prefix}fp:*");
        let fps: Vec<String> = ::redis::cmd("KEYS")
            .arg(&fp_pattern)
            .query(&mut conn)
            .expect("KEYS");
        assert_eq!(fps.len(), 1, "only b's key is left: {fps:?}");
        let late = s.apply("sp", &at(open("a"), 15), 4).await.expect("late");
        assert_eq!(late.transition, Transition::Opened);
        let late = late.incident.expect("incident").id;

        assert_eq!(
            s.get(&kept).await.expect("get").map(|i| i.status),
            Some(Status::Open)
        );
        let index = format!("{prefix}ids:sc");
        let members: usize = ::redis::cmd("ZCARD")
            .arg(&index)
            .query(&mut conn)
            .expect("ZCARD");
        assert_eq!(
            members, 2,
            "the expired id is still indexed until a listing meets it"
        );
        assert_eq!(
            list_all(s, query(None, None, 10)).await,
            vec![late.clone(), kept.clone()]
        );
        assert_eq!(
            list_all(s, query(Some(Status::Resolved), Some("sc"), 10)).await,
            Vec::<String>::new()
        );
        let members: usize = ::redis::cmd("ZCARD")
            .arg(&index)
            .query(&mut conn)
            .expect("ZCARD");
        assert_eq!(
            members, 1,
            "the listing removed the expired id from the index"
        );
    }

    #[tokio::test]
    async fn an_open_key_and_its_incident_carry_no_ttl() {
        let ttl = std::time::Duration::from_secs(60);
        let Some(b) = Redis::with_ttl("ttl_reopen", STREAM_LEN, ttl).await else {
            return;
        };
        let s = b.store();
        let mut conn = raw(&b);
        let prefix = b.settings.key_prefix.clone();
        let first = s.apply("sc", &at(open("k"), 10), 1).await.expect("open");
        let first = first.incident.expect("incident").id;
        let fp = fp_key(&b, &mut conn);
        assert_eq!(pttl(&mut conn, &fp), -1);
        s.apply("sc", &at(resolve("k"), 20), 2)
            .await
            .expect("resolve");
        for key in [fp.clone(), format!("{prefix}inc:{first}")] {
            let left = pttl(&mut conn, &key);
            assert!(left > 50_000 && left <= 60_000, "{key}: {left}");
        }
        // Within the TTL the key remembers its last time: a late event is stale.
        let late = s.apply("sc", &at(open("k"), 15), 3).await.expect("late");
        assert_eq!(late.transition, Transition::Stale);
        // A resolve with nothing open stamps the key and renews its TTL.
        ::redis::cmd("PEXPIRE")
            .arg(&fp)
            .arg(30_000)
            .exec(&mut conn)
            .expect("shorten");
        let again = s
            .apply("sc", &at(resolve("k"), 25), 4)
            .await
            .expect("resolve");
        assert_eq!(again.transition, Transition::AlreadyResolved);
        assert!(pttl(&mut conn, &fp) > 50_000);

        let second = s.apply("sc", &at(open("k"), 30), 5).await.expect("reopen");
        assert_eq!(second.transition, Transition::Opened);
        let second = second.incident.expect("incident").id;
        assert_ne!(second, first);
        assert_eq!(pttl(&mut conn, &fp), -1, "an open key must not expire");
        assert_eq!(pttl(&mut conn, &format!("{prefix}inc:{second}")), -1);
        let update = s.apply("sc", &at(open("k"), 40), 6).await.expect("update");
        assert_eq!(update.transition, Transition::Updated);
        assert_eq!(pttl(&mut conn, &fp), -1);
        assert_eq!(pttl(&mut conn, &format!("{prefix}inc:{second}")), -1);
        // The first incident keeps the TTL of its own resolve.
        assert!(pttl(&mut conn, &format!("{prefix}inc:{first}")) > 0);
    }

    #[tokio::test]
    async fn a_resolve_without_an_open_incident_leaves_no_lasting_key() {
        let ttl = std::time::Duration::from_secs(60);
        let Some(b) = Redis::with_ttl("ttl_bare_resolve", STREAM_LEN, ttl).await else {
            return;
        };
        let s = b.store();
        let mut conn = raw(&b);
        let bare = s
            .apply("sc", &at(resolve("never-opened"), 10), 1)
            .await
            .expect("resolve");
        assert_eq!(bare.transition, Transition::AlreadyResolved);
        let fp = fp_key(&b, &mut conn);
        assert!(pttl(&mut conn, &fp) > 0, "a bare resolve's key must expire");
    }

    #[tokio::test]
    async fn reopened_incident_outlives_the_ttl_and_keeps_stale_detection() {
        let Some(b) = Redis::with_ttl("ttl_outlives", STREAM_LEN, TINY_TTL).await else {
            return;
        };
        let s = b.store();
        s.apply("sc", &at(open("k"), 10), 1).await.expect("open");
        s.apply("sc", &at(resolve("k"), 20), 2)
            .await
            .expect("resolve");
        let reopened = s.apply("sc", &at(open("k"), 30), 3).await.expect("reopen");
        let id = reopened.incident.expect("incident").id;
        tokio::time::sleep(TINY_TTL * 3).await;
        let inc = s.get(&id).await.expect("get").expect("open incident stays");
        assert_eq!(inc.status, Status::Open);
        let late = s.apply("sc", &at(open("k"), 25), 4).await.expect("late");
        assert_eq!(late.transition, Transition::Stale);
        assert_eq!(late.incident.map(|i| i.id), Some(id));
    }

    /// Two sources; per source and run: one open incident, four resolved ones that
    /// expire, and one resolved through a replica whose `resolved_ttl` is long (so it
    /// stays). Returns the live ids with their statuses, newest first, once every
    /// short-lived one has expired: runs of 8 expired ids sit between live ones.
    async fn expired_between_live(b: &Redis, runs: usize) -> Vec<(String, Status)> {
        let s = b.store();
        let keeper = RedisStore::connect(RedisSettings {
            resolved_ttl: RESOLVED_TTL,
            ..b.settings.clone()
        })
        .await
        .expect("long-ttl replica");
        let mut live = Vec::new();
        let mut doomed = Vec::new();
        for run in 0..runs {
            for source in ["sc", "sp"] {
                let fp = format!("{source}-open-{run}");
                let o = s.apply(source, &open(&fp), 1).await.expect("open");
                live.push((o.incident.expect("incident").id, Status::Open));
                for n in 0..4 {
                    let fp = format!("{source}-gone-{run}-{n}");
                    let o = s.apply(source, &open(&fp), 1).await.expect("open");
                    s.apply(source, &resolve(&fp), 2).await.expect("resolve");
                    doomed.push(o.incident.expect("incident").id);
                }
                let fp = format!("{source}-kept-{run}");
                let o = s.apply(source, &open(&fp), 1).await.expect("open");
                keeper
                    .apply(source, &resolve(&fp), 2)
                    .await
                    .expect("resolve");
                live.push((o.incident.expect("incident").id, Status::Resolved));
            }
        }
        for id in &doomed {
            assert!(
                eventually(|| async { s.get(id).await.expect("get").is_none() }).await,
                "{id} never expired"
            );
        }
        live.sort_by_key(|(id, _)| std::cmp::Reverse(id.parse::<u64>().expect("id")));
        live
    }

    #[tokio::test]
    async fn pagination_across_expired_incidents_lists_each_live_one_once() {
        for limit in [1, 2, 3, 7, 500] {
            let Some(b) = Redis::with_ttl("ttl_pages", STREAM_LEN, TINY_TTL).await else {
                return;
            };
            let live = expired_between_live(&b, 3).await;
            let ids = |status: Option<Status>| -> Vec<String> {
                live.iter()
                    .filter(|(_, st)| status.is_none_or(|want| *st == want))
                    .map(|(id, _)| id.clone())
                    .collect()
            };
            assert_eq!(ids(None).len(), 12);
            // The first listing meets every expired id (more than one round's worth at
            // small limits); a filtered one before it must skip them too.
            assert_eq!(
                list_all(b.store(), query(Some(Status::Resolved), None, limit)).await,
                ids(Some(Status::Resolved)),
                "resolved, limit {limit}"
            );
            assert_eq!(
                list_all(b.store(), query(None, None, limit)).await,
                ids(None),
                "all, limit {limit}"
            );
            assert_eq!(
                list_all(b.store(), query(Some(Status::Open), None, limit)).await,
                ids(Some(Status::Open)),
                "open, limit {limit}"
            );
            // Once listings met them, the indexes hold only live ids.
            let mut conn = raw(&b);
            let mut indexed = 0;
            for source in ["sc", "sp"] {
                let n: usize = ::redis::cmd("ZCARD")
                    .arg(format!("{}ids:{source}", b.settings.key_prefix))
                    .query(&mut conn)
                    .expect("ZCARD");
                indexed += n;
            }
            assert_eq!(indexed, 12, "limit {limit}");
        }
    }

    #[tokio::test]
    async fn a_page_is_full_when_enough_live_incidents_follow_expired_ones() {
        let Some(b) = Redis::with_ttl("ttl_full_page", STREAM_LEN, TINY_TTL).await else {
            return;
        };
        let live = expired_between_live(&b, 3).await;
        let page = b.store().list(&query(None, None, 5)).await.expect("list");
        let want: Vec<String> = live.iter().take(5).map(|(id, _)| id.clone()).collect();
        let got: Vec<String> = page.incidents.iter().map(|i| i.id.clone()).collect();
        assert_eq!(got, want);
        assert_eq!(page.next_cursor.as_deref(), Some(want[4].as_str()));
    }

    #[tokio::test]
    async fn ping_succeeds_on_a_live_redis() {
        let Some(backend) = <Redis as Backend>::setup("ping", STREAM_LEN).await else {
            return;
        };
        backend.store().ping().await.expect("ping");
    }
}
