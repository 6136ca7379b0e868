//! What only the Redis store does: a networked store that can be unreachable, go away
//! and come back; key prefixes that keep stores apart on one Redis; the keys it writes.

use alertgate::store::{
    IncidentStore, RedisSettings, RedisStore, RedisTarget, Status, StoreError, Transition,
};

use crate::backend::{Backend, Redis, PREFIX};
use crate::common::*;
use crate::relay::Relay;

/// Not part of the shared suite: only a networked store can be down.
#[tokio::test]
async fn unreachable_redis_fails_fast_as_unavailable() {
    let started = std::time::Instant::now();
    let settings = RedisSettings {
        event_stream_len: 10,
        resolved_ttl: RESOLVED_TTL,
        ..RedisSettings::new("redis://127.0.0.1:1", "alertgate-test:unreachable:")
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
    let Some(backend) = <Redis as Backend>::setup(STREAM_LEN).await else {
        return;
    };
    let relay = Relay::start("127.0.0.1:0", backend.server.addr()).await;
    let settings = RedisSettings {
        target: RedisTarget::Url(format!("redis://{}", relay.addr)),
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
    let _back = Relay::start(&relay.addr.to_string(), backend.server.addr()).await;
    // The store reconnects in the background (backoff from 100 ms): a generous deadline.
    let mut recovered = None;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while std::time::Instant::now() < deadline {
        match store.apply("sc", &open("k"), 3).await {
            Ok(applied) => {
                recovered = Some(applied);
                break;
            }
            Err(StoreError::Unavailable(_)) => {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            Err(e) => panic!("{e:?}"),
        }
    }
    let applied = recovered.expect("store recovers after redis returns");
    assert_eq!(applied.transition, Transition::Updated);
    assert_eq!(held(&store, &applied).await.event_count, 2);
}

#[tokio::test]
async fn ping_succeeds_on_a_live_redis() {
    let Some(backend) = <Redis as Backend>::setup(STREAM_LEN).await else {
        return;
    };
    backend.store().ping().await.expect("ping");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_stopped_is_unavailable_and_restarted_is_used_again() {
    let Some(mut backend) = <Redis as Backend>::setup(STREAM_LEN).await else {
        return;
    };
    let store = backend.store.clone();
    store.apply("sc", &open("k"), 1).await.expect("open");

    backend.server.stop();
    let started = std::time::Instant::now();
    let err = store.apply("sc", &open("k"), 2).await.expect_err("stopped");
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    let err = store.ping().await.expect_err("stopped");
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    let took = started.elapsed();
    assert!(took < std::time::Duration::from_secs(2), "took {took:?}");

    // Same address again (empty: the test server keeps nothing): calls reconnect.
    backend.server.restart();
    let mut answered = false;
    for _ in 0..300 {
        match store.ping().await {
            Ok(()) => {
                answered = true;
                break;
            }
            Err(StoreError::Unavailable(_)) => {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            Err(e) => panic!("{e:?}"),
        }
    }
    assert!(answered, "the store reconnects once redis is back");
    let applied = store.apply("sc", &open("k"), 3).await.expect("open");
    assert_eq!(applied.transition, Transition::Opened);
}

#[tokio::test]
async fn two_key_prefixes_on_one_redis_do_not_see_each_other() {
    let Some(a) = <Redis as Backend>::setup(STREAM_LEN).await else {
        return;
    };
    const OTHER: &str = "other-tenant:";
    let b = RedisStore::connect(RedisSettings {
        key_prefix: OTHER.into(),
        ..a.settings.clone()
    })
    .await
    .expect("second prefix");
    let a_store = a.store();

    // One source and fingerprint under both: each prefix opens (and numbers) its own.
    let in_a = a_store
        .apply("sc", &at(open("shared"), 100), 1)
        .await
        .expect("open a");
    let in_b = b.apply("sc", &open("shared"), 2).await.expect("open b");
    assert_eq!(
        (in_a.transition, in_b.transition),
        (Transition::Opened, Transition::Opened)
    );
    let (id_a, id_b) = (in_a.incident.expect("a").id, in_b.incident.expect("b").id);
    assert!(id_a.parse::<u64>().is_ok() && id_b.parse::<u64>().is_ok());
    // a's event time does not make b's event stale.
    let b_update = b.apply("sc", &at(open("shared"), 50), 3).await;
    assert_eq!(b_update.expect("b").transition, Transition::Updated);
    // A resolve under b leaves a's incident open.
    let b_resolve = b.apply("sc", &resolve("shared"), 4).await;
    assert_eq!(b_resolve.expect("b").transition, Transition::Resolved);
    let a_inc = a_store
        .get(&id_a)
        .await
        .expect("get")
        .expect("a's incident");
    assert_eq!((a_inc.status, a_inc.event_count), (Status::Open, 1));
    assert_eq!(
        list_all(a_store, query(Some(Status::Open), None, 10)).await,
        vec![id_a.clone()]
    );
    assert!(list_all(&b, query(Some(Status::Open), None, 10))
        .await
        .is_empty());
    assert_eq!(a_store.recent_events(10).await.expect("events").len(), 1);
    assert_eq!(b.recent_events(10).await.expect("events").len(), 3);

    // Every key on the server is under one prefix or the other.
    let keys: Vec<String> = ::redis::cmd("KEYS")
        .arg("*")
        .query(&mut a.raw())
        .expect("KEYS");
    assert!(keys.iter().any(|k| k.starts_with(PREFIX)), "{keys:?}");
    assert!(keys.iter().any(|k| k.starts_with(OTHER)), "{keys:?}");
    assert!(
        keys.iter()
            .all(|k| k.starts_with(PREFIX) || k.starts_with(OTHER)),
        "{keys:?}"
    );
}

/// The keys `apply` writes (the Lua script names the incident's own hash itself) are
/// the documented ones (`Keys` in src/store/redis.rs), all under the prefix.
#[tokio::test]
async fn keys_written_are_the_documented_ones_under_the_prefix() {
    let Some(b) = Redis::with_ttl(STREAM_LEN, RESOLVED_TTL).await else {
        return;
    };
    let s = b.store();
    let mut conn = b.raw();
    let opened = s.apply("sc", &at(open("web"), 10), 1).await.expect("open");
    let id = opened.incident.expect("incident").id;
    s.apply("sc", &open("web"), 2).await.expect("update");

    let digest = {
        use sha2::Digest;
        let mut d = sha2::Sha256::new();
        d.update(2u64.to_be_bytes());
        d.update(b"sc");
        d.update(b"web");
        hex::encode(d.finalize())
    };
    // One bucket: every key of a step carries the tag `{b0}`.
    let tag = format!("{PREFIX}{{b0}}");
    let fp = format!("{tag}fp:{digest}");
    let inc = format!("{tag}inc:{id}");
    let ids = format!("{tag}ids:sc");
    let mut want = vec![
        (fp.clone(), "hash"),
        (format!("{tag}seq"), "string"),
        (inc.clone(), "hash"),
        (ids.clone(), "zset"),
        (format!("{tag}sources"), "set"),
        (format!("{tag}events"), "stream"),
        (format!("{PREFIX}layout"), "string"),
    ];
    want.sort();
    let mut keys: Vec<String> = ::redis::cmd("KEYS")
        .arg("*")
        .query(&mut conn)
        .expect("KEYS");
    keys.sort();
    let typed: Vec<(String, String)> = keys
        .into_iter()
        .map(|k| {
            let t: String = ::redis::cmd("TYPE").arg(&k).query(&mut conn).expect("TYPE");
            (k, t)
        })
        .collect();
    let want_typed: Vec<(String, String)> = want
        .iter()
        .map(|(k, t)| (k.clone(), (*t).to_owned()))
        .collect();
    assert_eq!(typed, want_typed);

    let hget = |conn: &mut ::redis::Connection, key: &str, field: &str| -> Option<String> {
        ::redis::cmd("HGET")
            .arg(key)
            .arg(field)
            .query(conn)
            .expect("HGET")
    };
    let zscore = |conn: &mut ::redis::Connection| -> Option<f64> {
        ::redis::cmd("ZSCORE")
            .arg(&ids)
            .arg(&id)
            .query(conn)
            .expect("ZSCORE")
    };
    assert_eq!(hget(&mut conn, &fp, "open"), Some(id.clone()));
    assert_eq!(hget(&mut conn, &fp, "ts").as_deref(), Some("10"));
    assert_eq!(hget(&mut conn, &inc, "source").as_deref(), Some("sc"));
    assert_eq!(hget(&mut conn, &inc, "fingerprint").as_deref(), Some("web"));
    assert_eq!(hget(&mut conn, &inc, "event_count").as_deref(), Some("2"));
    // Scored by the id's time part v (the id without its 3 bucket digits).
    let n: f64 = (id.parse::<u64>().expect("numeric id") / 1000) as f64;
    assert_eq!(zscore(&mut conn), Some(-n), "scored -v while open");

    // A resolve writes through the same names: no key is added.
    s.apply("sc", &resolve("web"), 3).await.expect("resolve");
    assert_eq!(hget(&mut conn, &inc, "status").as_deref(), Some("resolved"));
    assert_eq!(hget(&mut conn, &fp, "open"), None);
    assert_eq!(zscore(&mut conn), Some(n), "scored +v once resolved");
    let mut after: Vec<String> = ::redis::cmd("KEYS")
        .arg("*")
        .query(&mut conn)
        .expect("KEYS");
    after.sort();
    assert_eq!(after, want.into_iter().map(|(k, _)| k).collect::<Vec<_>>());
}

/// Redis forgetting its scripts (`SCRIPT FLUSH`, as a restart does) costs nothing but a
/// reload: the next step runs `EVALSHA`, gets `NOSCRIPT`, loads the script and retries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_script_is_reloaded_after_redis_forgets_it() {
    let Some(backend) = <Redis as Backend>::setup(STREAM_LEN).await else {
        return;
    };
    let store = backend.store();
    store.apply("sc", &open("k"), 1).await.expect("open");
    let mut conn = backend.raw();
    let _: () = ::redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query(&mut conn)
        .expect("SCRIPT FLUSH");
    let applied = store
        .apply("sc", &open("k"), 2)
        .await
        .expect("update after flush");
    assert_eq!(applied.transition, Transition::Updated);
    assert_eq!(held(store, &applied).await.event_count, 2);
}
