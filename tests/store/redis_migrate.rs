//! `alertgate migrate`: a keyspace written by the layout-1 apply script (the one earlier
//! versions shipped, kept in `v1/apply_v1.lua`) is refused by the new store, upgraded by
//! `migrate_v1`, then read by the new code with every incident, state and event kept.

use alertgate::store::{
    migrate_v1, IncidentStore, RedisSettings, RedisStore, Status, StoreError, Transition,
};

use crate::common::*;
use crate::test_redis::TestRedis;

const PREFIX: &str = "mig:";

/// One layout-1 step, as earlier versions ran it.
fn v1_apply(conn: &mut ::redis::Connection, action: &str, fp: &str, now: i64, event_time: &str) {
    let digest = {
        use sha2::Digest;
        let mut d = sha2::Sha256::new();
        d.update(2u64.to_be_bytes());
        d.update(b"sc");
        d.update(fp.as_bytes());
        hex::encode(d.finalize())
    };
    let script = ::redis::Script::new(include_str!("v1/apply_v1.lua"));
    let _: ::redis::Value = script
        .key(format!("{PREFIX}fp:{digest}"))
        .key(format!("{PREFIX}ids:sc"))
        .key(format!("{PREFIX}seq"))
        .key(format!("{PREFIX}events"))
        .key(format!("{PREFIX}sources"))
        .arg(PREFIX)
        .arg(action)
        .arg("sc")
        .arg(fp)
        .arg(now)
        .arg(event_time)
        .arg("")
        .arg("0")
        .arg("")
        .arg("{}")
        .arg(1000)
        .arg(3_600_000)
        .invoke(conn)
        .expect("v1 apply");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn layout_1_keyspace_is_refused_then_migrated_and_read_by_the_new_code() {
    let Some(server) = TestRedis::start() else {
        return;
    };
    let mut conn = ::redis::Client::open(server.url())
        .and_then(|c| c.get_connection())
        .expect("raw connection");
    // Layout 1: a resolved incident (1), an open one (2) with an event time, a third open.
    v1_apply(&mut conn, "open", "a", 10, "");
    v1_apply(&mut conn, "resolve", "a", 11, "");
    v1_apply(&mut conn, "open", "b", 12, "500");
    v1_apply(&mut conn, "open", "c", 13, "");
    let settings = RedisSettings {
        buckets: 4,
        resolved_ttl: RESOLVED_TTL,
        ..RedisSettings::new(server.url(), PREFIX)
    };

    let refused = RedisStore::connect(settings.clone())
        .await
        .err()
        .expect("refused");
    assert!(
        matches!(&refused, StoreError::Unavailable(m) if m.contains("alertgate migrate")),
        "{refused:?}"
    );

    let dry = migrate_v1(&settings, true).await.expect("dry run");
    // "a" resolved without an event time: its fp hash emptied and is gone.
    assert_eq!(
        (dry.from, dry.incidents, dry.fingerprints, dry.events),
        (1, 3, 2, 4)
    );
    let old_keys: Vec<String> = ::redis::cmd("KEYS")
        .arg("*")
        .query(&mut conn)
        .expect("KEYS");
    assert!(
        old_keys.iter().all(|k| !k.contains('{')),
        "dry run wrote: {old_keys:?}"
    );

    let done = migrate_v1(&settings, false).await.expect("migrate");
    assert!(!done.dry_run);
    let left: Vec<String> = ::redis::cmd("KEYS")
        .arg("*")
        .query(&mut conn)
        .expect("KEYS");
    assert!(
        left.iter().all(|k| k.contains('{') || k == "mig:layout"),
        "layout-1 keys left: {left:?}"
    );

    let store = RedisStore::connect(settings.clone())
        .await
        .expect("layout 2 accepted");
    let all = list_all(&store, query(None, None, 2)).await;
    assert_eq!(all.len(), 3);
    // Old id n is n*1000 + bucket: the old order survives.
    let olds: Vec<u64> = all
        .iter()
        .map(|id| id.parse::<u64>().expect("id") / 1000)
        .collect();
    assert_eq!(olds, vec![3, 2, 1]);
    let open = list_all(&store, query(Some(Status::Open), Some("sc"), 10)).await;
    assert_eq!(open.len(), 2);
    // The key states came along: "b" remembers its event time, "a" has nothing open.
    let stale = store
        .apply("sc", &at(open_("b"), 400), 20)
        .await
        .expect("stale");
    assert_eq!(stale.transition, Transition::Stale);
    let again = store.apply("sc", &open_("a"), 21).await.expect("reopen");
    assert_eq!(again.transition, Transition::Opened);
    let update = store.apply("sc", &open_("c"), 22).await.expect("update");
    assert_eq!(update.transition, Transition::Updated);
    assert_eq!(held(&store, &update).await.event_count, 2);
    // Events: the four old ones, then the two new, with their new incident ids.
    let events = store.events_after(None, 100).await.expect("events");
    assert_eq!(events.events.len(), 6, "{events:?}");
    assert_eq!(events.events[1].transition, Transition::Resolved);
    assert!(all.contains(&events.events[0].incident.id));
    // Migrating again changes nothing.
    let again = migrate_v1(&settings, false).await.expect("again");
    assert_eq!(again.from, 2);
}

fn open_(fp: &str) -> alertgate::outcome::Outcome {
    open(fp)
}

/// A keyspace of a newer layout, or cut into other buckets, is refused with a message
/// that says why; `start` (what `serve` runs) fails on it instead of serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn newer_layout_or_other_bucket_count_is_refused() {
    let Some(server) = TestRedis::start() else {
        return;
    };
    let mut conn = ::redis::Client::open(server.url())
        .and_then(|c| c.get_connection())
        .expect("raw connection");
    let settings = RedisSettings {
        buckets: 4,
        ..RedisSettings::new(server.url(), PREFIX)
    };
    RedisStore::connect(settings.clone())
        .await
        .expect("claims the empty keyspace");
    let layout: String = ::redis::cmd("GET")
        .arg("mig:layout")
        .query(&mut conn)
        .expect("GET");
    assert_eq!(layout, r#"{"version":2,"buckets":4}"#);

    let other = RedisSettings {
        buckets: 8,
        ..settings.clone()
    };
    let err = RedisStore::connect(other)
        .await
        .err()
        .expect("bucket mismatch");
    assert!(format!("{err}").contains("4 buckets"), "{err}");

    let _: () = ::redis::cmd("SET")
        .arg("mig:layout")
        .arg(r#"{"version":3,"buckets":4}"#)
        .query(&mut conn)
        .expect("SET");
    let err = RedisStore::start(settings, std::time::Duration::from_secs(5))
        .await
        .err()
        .expect("newer layout");
    assert!(format!("{err}").contains("layout 3"), "{err}");
}
