//! Redis expiry of resolved incidents (`resolved_ttl`): TTLs on resolve, none while open,
//! and listings across expired ids.

use alertgate::store::{IncidentStore, RedisSettings, RedisStore, Status, Transition};

use crate::backend::{Backend, Redis};
use crate::common::*;

fn pttl(conn: &mut ::redis::Connection, key: &str) -> i64 {
    ::redis::cmd("PTTL").arg(key).query(conn).expect("PTTL")
}

/// The one `fp:*` key under the test's prefix (tests using it touch one fingerprint).
fn fp_key(b: &Redis, conn: &mut ::redis::Connection) -> String {
    let keys: Vec<String> = ::redis::cmd("KEYS")
        .arg(format!("{}{{b0}}fp:*", b.settings.key_prefix))
        .query(conn)
        .expect("KEYS");
    assert_eq!(keys.len(), 1, "{keys:?}");
    keys.into_iter().next().expect("one fp key")
}

/// Polls `done` every 10 ms for up to 5 s; true once it holds.
async fn eventually<F: std::future::Future<Output = bool>>(mut done: impl FnMut() -> F) -> bool {
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
    let Some(b) = Redis::with_ttl(STREAM_LEN, TINY_TTL).await else {
        return;
    };
    let s = b.store();
    let mut conn = b.raw();
    let gone = s.apply("sc", &at(open("a"), 10), 1).await.expect("open");
    let gone = gone.incident.expect("incident").id;
    let kept = s.apply("sc", &open("b"), 2).await.expect("open");
    let kept = kept.incident.expect("incident").id;
    let prefix = &b.settings.key_prefix;
    assert_eq!(pttl(&mut conn, &format!("{prefix}{{b0}}inc:{gone}")), -1);
    s.apply("sc", &at(resolve("a"), 20), 3)
        .await
        .expect("resolve");
    let ttl = pttl(&mut conn, &format!("{prefix}{{b0}}inc:{gone}"));
    assert!(ttl > 0 && ttl <= 100, "resolved hash PTTL {ttl}");
    assert_eq!(pttl(&mut conn, &format!("{prefix}{{b0}}inc:{kept}")), -1);
    assert!(
        eventually(|| async { s.get(&gone).await.expect("get").is_none() }).await,
        "resolved incident never expired"
    );
    // The key's last event_time went with it: a late event now opens afresh.
    let fp_pattern = format!("{prefix}{{b0}}fp:*");
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
    let index = format!("{prefix}{{b0}}ids:sc");
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
    let Some(b) = Redis::with_ttl(STREAM_LEN, ttl).await else {
        return;
    };
    let s = b.store();
    let mut conn = b.raw();
    let prefix = b.settings.key_prefix.clone();
    let first = s.apply("sc", &at(open("k"), 10), 1).await.expect("open");
    let first = first.incident.expect("incident").id;
    let fp = fp_key(&b, &mut conn);
    assert_eq!(pttl(&mut conn, &fp), -1);
    s.apply("sc", &at(resolve("k"), 20), 2)
        .await
        .expect("resolve");
    for key in [fp.clone(), format!("{prefix}{{b0}}inc:{first}")] {
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
    assert_eq!(pttl(&mut conn, &format!("{prefix}{{b0}}inc:{second}")), -1);
    let update = s.apply("sc", &at(open("k"), 40), 6).await.expect("update");
    assert_eq!(update.transition, Transition::Updated);
    assert_eq!(pttl(&mut conn, &fp), -1);
    assert_eq!(pttl(&mut conn, &format!("{prefix}{{b0}}inc:{second}")), -1);
    // The first incident keeps the TTL of its own resolve.
    assert!(pttl(&mut conn, &format!("{prefix}{{b0}}inc:{first}")) > 0);
}

#[tokio::test]
async fn a_resolve_without_an_open_incident_leaves_no_lasting_key() {
    let ttl = std::time::Duration::from_secs(60);
    let Some(b) = Redis::with_ttl(STREAM_LEN, ttl).await else {
        return;
    };
    let s = b.store();
    let mut conn = b.raw();
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
    let Some(b) = Redis::with_ttl(STREAM_LEN, TINY_TTL).await else {
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
        let Some(b) = Redis::with_ttl(STREAM_LEN, TINY_TTL).await else {
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
        let mut conn = b.raw();
        let mut indexed = 0;
        for source in ["sc", "sp"] {
            let n: usize = ::redis::cmd("ZCARD")
                .arg(format!("{}{{b0}}ids:{source}", b.settings.key_prefix))
                .query(&mut conn)
                .expect("ZCARD");
            indexed += n;
        }
        assert_eq!(indexed, 12, "limit {limit}");
    }
}

#[tokio::test]
async fn a_page_is_full_when_enough_live_incidents_follow_expired_ones() {
    let Some(b) = Redis::with_ttl(STREAM_LEN, TINY_TTL).await else {
        return;
    };
    let live = expired_between_live(&b, 3).await;
    let page = b.store().list(&query(None, None, 5)).await.expect("list");
    let want: Vec<String> = live.iter().take(5).map(|(id, _)| id.clone()).collect();
    let got: Vec<String> = page.incidents.iter().map(|i| i.id.clone()).collect();
    assert_eq!(got, want);
    assert_eq!(page.next_cursor.as_deref(), Some(want[4].as_str()));
}
