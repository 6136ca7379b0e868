//! The Redis incident record (docs/design.md §5 "Incident record", "Stream entries"): a
//! long text kept once, the hash a listpack, stream entries with the step's own fields
//! only, completed from the hash on read; records written before these rules still read.

use std::collections::BTreeMap;

use alertgate::outcome::{Labels, Priority};
use alertgate::store::{IncidentStore, Status, Transition};

use crate::backend::{Backend, Redis, PREFIX};
use crate::common::*;

/// A StatusCake-like URL, long as the bench's (its query string padded).
fn url() -> String {
    format!(
        "https://check-0000001.bench.example.com/health/deep?region=eu-west-1&q={}",
        "x".repeat(240)
    )
}

fn cmd<T: ::redis::FromRedisValue>(conn: &mut ::redis::Connection, args: &[&str]) -> T {
    let mut c = ::redis::cmd(args[0]);
    for a in &args[1..] {
        c.arg(*a);
    }
    c.query(conn).expect("redis command")
}

fn statuscake_open(url: &str) -> alertgate::outcome::Outcome {
    let mut o = open(&format!("Check 1|{url}"));
    o.title = Some(format!("Check 1 is down ({url})"));
    o.priority = Some(Priority::High);
    o.labels = Labels::from_map(&BTreeMap::from([
        ("url".to_owned(), serde_json::json!(url)),
        ("tags".to_owned(), serde_json::json!(["production", "web"])),
    ]));
    o
}

/// Opens `outcome` at time 1; the new incident's id.
async fn opened_id<S: IncidentStore>(s: &S, outcome: &alertgate::outcome::Outcome) -> String {
    let opened = s.apply("sc", outcome, 1).await.expect("open");
    assert_eq!(opened.transition, Transition::Opened);
    opened.incident.expect("incident").id
}

#[tokio::test]
async fn a_long_url_is_stored_once_in_a_listpack_hash_and_never_in_the_stream() {
    let Some(b) = Redis::with_ttl(STREAM_LEN, RESOLVED_TTL).await else {
        return;
    };
    let s = b.store();
    let mut conn = b.raw();
    let url = url();
    let sent = statuscake_open(&url);
    let opened = s.apply("sc", &sent, 1).await.expect("open");
    let id = opened.incident.expect("incident").id;
    s.apply("sc", &sent, 2).await.expect("update");
    s.apply("sc", &resolve(&format!("Check 1|{url}")), 3)
        .await
        .expect("resolve");

    let inc = format!("{PREFIX}{{b0}}inc:{id}");
    let encoding: String = cmd(&mut conn, &["OBJECT", "ENCODING", &inc]);
    assert_eq!(
        encoding, "listpack",
        "every value of the hash is at most 64 bytes"
    );
    let values: Vec<String> = cmd(&mut conn, &["HVALS", &inc]);
    assert!(values.iter().all(|v| v.len() <= 64), "{values:?}");
    let padding = "x".repeat(240);
    // 240 of the padding and the one of "example": the URL is there once, not three times.
    let xs: usize = values.iter().map(|v| v.matches('x').count()).sum();
    assert_eq!(xs, 241, "the URL is stored exactly once");

    // The stream: three entries, none holding the long text.
    let entries: Vec<(String, BTreeMap<String, String>)> = cmd(
        &mut conn,
        &["XRANGE", &format!("{PREFIX}{{b0}}events"), "-", "+"],
    );
    assert_eq!(entries.len(), 3);
    for (_, fields) in &entries {
        assert!(fields.values().all(|v| !v.contains(&padding)), "{fields:?}");
        assert!(!fields.contains_key("labels") && !fields.contains_key("fingerprint"));
    }

    // Read back whole: the API, and every event.
    let incident = s.get(&id).await.expect("get").expect("kept");
    assert_eq!(&*incident.fingerprint, format!("Check 1|{url}"));
    assert_eq!(
        incident.title.as_deref(),
        Some(&*format!("Check 1 is down ({url})"))
    );
    assert_eq!(incident.labels, sent.labels);
    assert_eq!(
        (incident.status, incident.event_count),
        (Status::Resolved, 2)
    );
    let events = s.events_after(None, 10).await.expect("events").events;
    let seen: Vec<(Transition, u64, Status)> = events
        .iter()
        .map(|e| (e.transition, e.incident.event_count, e.incident.status))
        .collect();
    assert_eq!(
        seen,
        vec![
            (Transition::Opened, 1, Status::Open),
            (Transition::Updated, 2, Status::Open),
            (Transition::Resolved, 2, Status::Resolved),
        ],
        "each event as the incident stood after its step"
    );
    for e in &events {
        assert_eq!(&*e.incident.fingerprint, format!("Check 1|{url}"));
        assert_eq!(e.incident.labels, sent.labels);
        assert_eq!(e.incident.opened_at, 1);
        assert_eq!(e.incident.priority, Some(Priority::High));
    }
}

#[tokio::test]
async fn an_update_writes_a_title_only_when_it_changed() {
    let Some(b) = Redis::with_ttl(STREAM_LEN, RESOLVED_TTL).await else {
        return;
    };
    let s = b.store();
    let mut conn = b.raw();
    let url = url();
    let first = statuscake_open(&url);
    let id = opened_id(s, &first).await;
    s.apply("sc", &first, 2).await.expect("same title");
    let mut renamed = first.clone();
    let long_title = format!("Check 1 still down after {} ({url})", "y".repeat(100));
    renamed.title = Some(long_title.clone());
    s.apply("sc", &renamed, 3).await.expect("new title");
    let mut short = first.clone();
    short.title = Some("short again".into());
    s.apply("sc", &short, 4).await.expect("short title");

    let entries: Vec<(String, BTreeMap<String, String>)> = cmd(
        &mut conn,
        &["XRANGE", &format!("{PREFIX}{{b0}}events"), "-", "+"],
    );
    let titles: Vec<Option<&str>> = entries
        .iter()
        .map(|(_, f)| f.get("title").map(String::as_str))
        .collect();
    assert_eq!(
        titles,
        vec![None, None, Some(long_title.as_str()), Some("short again")],
        "only the steps that changed the title stream it"
    );
    let inc = format!("{PREFIX}{{b0}}inc:{id}");
    let fields: BTreeMap<String, String> = cmd(&mut conn, &["HGETALL", &inc]);
    assert!(
        fields.keys().all(|k| !k.starts_with("title#")),
        "the long title's pieces went with it: {fields:?}"
    );
    let encoding: String = cmd(&mut conn, &["OBJECT", "ENCODING", &inc]);
    assert_eq!(encoding, "listpack");

    let events = s.recent_events(10).await.expect("events");
    let read: Vec<Option<String>> = events
        .iter()
        .map(|e| e.incident.title.as_deref().map(str::to_owned))
        .collect();
    assert_eq!(
        read[2..],
        [Some(long_title), Some("short again".to_owned())],
        "a title change reads as its step wrote it"
    );
    let incident = s.get(&id).await.expect("get").expect("kept");
    assert_eq!(
        (incident.title.as_deref(), incident.event_count),
        (Some("short again"), 4)
    );
}

/// Records written before the record rules (whole values, `fpkey`, full stream entries)
/// read as they did, and the steps that follow keep working on them.
#[tokio::test]
async fn records_written_whole_by_an_earlier_version_still_read_and_resolve() {
    let Some(b) = Redis::with_ttl(STREAM_LEN, RESOLVED_TTL).await else {
        return;
    };
    let s = b.store();
    let mut conn = b.raw();
    // A first step lays out the keyspace; its incident is then rewritten the old way.
    let url = url();
    let sent = statuscake_open(&url);
    let id = opened_id(s, &sent).await;
    let tag = format!("{PREFIX}{{b0}}");
    let inc = format!("{tag}inc:{id}");
    let fp_key: String = {
        let fp_hex: String = cmd(&mut conn, &["HGET", &inc, "fp"]);
        format!("{tag}fp:{fp_hex}")
    };
    let labels = sent.labels.as_json().to_owned();
    let title = format!("Check 1 is down ({url})");
    let fingerprint = format!("Check 1|{url}");
    let _: i64 = cmd(&mut conn, &["DEL", &inc, &format!("{tag}events")]);
    let old = [
        "id",
        &id,
        "source",
        "sc",
        "fingerprint",
        &fingerprint,
        "status",
        "open",
        "labels",
        &labels,
        "opened_at",
        "1",
        "last_event_at",
        "1",
        "event_count",
        "1",
        "fpkey",
        &fp_key,
        "priority",
        "high",
        "title",
        &title,
    ];
    let mut hset = vec!["HSET", inc.as_str()];
    hset.extend(old);
    let _: i64 = cmd(&mut conn, &hset);
    let events_key = format!("{tag}events");
    let mut xadd = vec![
        "XADD",
        events_key.as_str(),
        "*",
        "transition",
        "opened",
        "at",
        "1",
    ];
    xadd.extend(old);
    let _: String = cmd(&mut conn, &xadd);

    let incident = s.get(&id).await.expect("get").expect("kept");
    assert_eq!(
        (&*incident.fingerprint, incident.title.as_deref()),
        (fingerprint.as_str(), Some(title.as_str()))
    );
    let updated = s.apply("sc", &sent, 2).await.expect("update");
    assert_eq!(updated.transition, Transition::Updated);
    let resolved = s
        .apply("sc", &resolve(&fingerprint), 3)
        .await
        .expect("resolve");
    assert_eq!(resolved.transition, Transition::Resolved);
    let events = s.events_after(None, 10).await.expect("events").events;
    let read: Vec<(Transition, &str, u64)> = events
        .iter()
        .map(|e| {
            (
                e.transition,
                &*e.incident.fingerprint,
                e.incident.event_count,
            )
        })
        .collect();
    assert_eq!(
        read,
        vec![
            (Transition::Opened, fingerprint.as_str(), 1),
            (Transition::Updated, fingerprint.as_str(), 2),
            (Transition::Resolved, fingerprint.as_str(), 2),
        ]
    );
    let fp_open: Option<String> = cmd(&mut conn, &["HGET", &fp_key, "open"]);
    assert_eq!(fp_open, None, "the resolve freed the key");
}
