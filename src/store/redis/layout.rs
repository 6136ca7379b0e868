//! The keyspace's layout version (`<prefix>layout`), checked on every (re)connect, and the
//! upgrade from layout 1 (the keys of earlier versions) to layout 2 (`alertgate migrate`).

use std::collections::BTreeMap;

use redis::{AsyncCommands, RedisResult, Script, Value};
use serde::Serialize;

use super::conn::{Conn, Connector};
use super::keys::Keys;
use super::link::PrepareError;
use super::reply::{field_pairs, items, text};
use super::settings::RedisSettings;

/// The key layout this version writes (docs/design.md §5).
pub const LAYOUT_VERSION: u64 = 2;

#[derive(Debug, serde::Deserialize)]
struct Layout {
    version: u64,
    buckets: u16,
}

fn layout_json(buckets: u16) -> String {
    format!("{{\"version\":{LAYOUT_VERSION},\"buckets\":{buckets}}}")
}

/// Whether layout-1 keys are there (`<prefix>seq` or `<prefix>events`).
async fn has_v1(conn: &mut Conn, keys: &Keys) -> RedisResult<bool> {
    for name in ["seq", "events"] {
        let n: i64 = conn.exists(format!("{}{name}", keys.prefix)).await?;
        if n > 0 {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Checks (or, on an empty keyspace, writes) the layout, then loads the apply script.
pub(super) async fn prepare(
    mut conn: Conn,
    keys: Keys,
    script: Script,
) -> Result<(), PrepareError> {
    let found: Option<String> = conn.get(keys.layout()).await.map_err(PrepareError::Redis)?;
    let found = if let Some(found) = found {
        found
    } else {
        if has_v1(&mut conn, &keys)
            .await
            .map_err(PrepareError::Redis)?
        {
            return Err(PrepareError::Incompatible(format!(
                "prefix {:?} holds layout 1 (keys of an earlier alertgate): stop every \
                 gateway on it and run `alertgate migrate --config <file>`",
                keys.prefix
            )));
        }
        // First use: claim the keyspace (another replica may win the race).
        let _: Value = redis::cmd("SET")
            .arg(keys.layout())
            .arg(layout_json(keys.buckets))
            .arg("NX")
            .query_async(&mut conn)
            .await
            .map_err(PrepareError::Redis)?;
        let again: Option<String> = conn.get(keys.layout()).await.map_err(PrepareError::Redis)?;
        again.unwrap_or_else(|| layout_json(keys.buckets))
    };
    let layout: Layout = serde_json::from_str(&found).map_err(|e| {
        PrepareError::Incompatible(format!(
            "{}layout is not a layout ({e}): {found:?}",
            keys.prefix
        ))
    })?;
    if layout.version > LAYOUT_VERSION {
        return Err(PrepareError::Incompatible(format!(
            "prefix {:?} holds layout {} but this alertgate knows layouts up to {LAYOUT_VERSION}: \
             run a newer alertgate (or use another key_prefix)",
            keys.prefix, layout.version
        )));
    }
    if layout.version < LAYOUT_VERSION {
        return Err(PrepareError::Incompatible(format!(
            "prefix {:?} holds layout {}: run `alertgate migrate --config <file>`",
            keys.prefix, layout.version
        )));
    }
    if layout.buckets != keys.buckets {
        return Err(PrepareError::Incompatible(format!(
            "prefix {:?} is cut into {} buckets but the config says store.buckets: {}; \
             buckets are fixed for the life of a keyspace",
            keys.prefix, layout.buckets, keys.buckets
        )));
    }
    script
        .prepare_invoke()
        .load_async(&mut conn)
        .await
        .map_err(PrepareError::Redis)?;
    Ok(())
}

/// What `alertgate migrate` found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MigrateReport {
    /// The layout found before: 0 for an empty keyspace, 1 or 2.
    pub from: u64,
    pub incidents: u64,
    pub fingerprints: u64,
    pub events: u64,
    /// Nothing was written (`--dry-run`, or nothing to do).
    pub dry_run: bool,
}

/// Upgrades the keyspace of `settings` from layout 1 to layout 2: every incident gets the
/// id `old_id·1000 + bucket` (so it sorts before every incident made later), its keys
/// move into its bucket, the event stream is split into the buckets' streams (entry ids
/// kept, incident ids rewritten), then the layout key is written and the layout-1 keys
/// deleted. No gateway may run on the prefix meanwhile. With `dry_run`, only counts.
pub async fn migrate_v1(settings: &RedisSettings, dry_run: bool) -> Result<MigrateReport, String> {
    let connector = Connector::new(settings.target.clone(), settings.tls.as_ref())?;
    let mut conn = connector.connect().await.map_err(|e| e.to_string())?;
    let keys = Keys::new(settings.key_prefix.clone(), settings.buckets);
    let err = |e: redis::RedisError| e.to_string();
    let found: Option<String> = conn.get(keys.layout()).await.map_err(err)?;
    if let Some(found) = found {
        let layout: Layout = serde_json::from_str(&found).map_err(|e| e.to_string())?;
        return Ok(MigrateReport {
            from: layout.version,
            dry_run: true,
            ..MigrateReport::default()
        });
    }
    if !has_v1(&mut conn, &keys).await.map_err(err)? {
        return Ok(MigrateReport {
            dry_run: true,
            ..MigrateReport::default()
        });
    }
    let p = &keys.prefix;
    let mut report = MigrateReport {
        from: 1,
        dry_run,
        ..MigrateReport::default()
    };
    let mut old_keys: Vec<String> = vec![
        format!("{p}seq"),
        format!("{p}events"),
        format!("{p}sources"),
    ];
    // Incidents: new id, new key, same fields and TTL; indexed in their bucket.
    let mut renamed: BTreeMap<String, String> = BTreeMap::new();
    let mut last_v: BTreeMap<u16, u64> = BTreeMap::new();
    for key in scan(&mut conn, &format!("{p}inc:*")).await.map_err(err)? {
        let hash: Value = conn.hgetall(&key).await.map_err(err)?;
        let mut fields: BTreeMap<String, String> = field_pairs(hash)
            .map_err(|e| e.to_string())?
            .into_iter()
            .collect();
        let (Some(old), Some(source), Some(fingerprint)) = (
            fields.get("id").cloned(),
            fields.get("source").cloned(),
            fields.get("fingerprint").cloned(),
        ) else {
            return Err(format!("{key}: not an incident hash"));
        };
        let v: u64 = old.parse().map_err(|_| format!("{key}: id {old:?}"))?;
        let (bucket, _) = keys.fingerprint(&source, &fingerprint);
        let id = v
            .checked_mul(1000)
            .and_then(|n| n.checked_add(u64::from(bucket)))
            .ok_or_else(|| format!("{key}: id {old:?} is too large for the new layout"))?;
        renamed.insert(old.clone(), id.to_string());
        let e = last_v.entry(bucket).or_default();
        *e = (*e).max(v);
        report.incidents += 1;
        old_keys.push(key.clone());
        old_keys.push(format!("{p}ids:{source}"));
        if dry_run {
            continue;
        }
        let ttl: i64 = conn.pttl(&key).await.map_err(err)?;
        let open = fields.get("status").map(String::as_str) == Some("open");
        fields.insert("id".into(), id.to_string());
        let new_key = keys.incident(id);
        let pairs: Vec<(String, String)> = fields.into_iter().collect();
        let _: () = conn.hset_multiple(&new_key, &pairs).await.map_err(err)?;
        if ttl > 0 {
            let _: () = conn.pexpire(&new_key, ttl).await.map_err(err)?;
        }
        let score = if open { -(v as f64) } else { v as f64 };
        let _: () = conn
            .zadd(keys.index(bucket, &source), id, score)
            .await
            .map_err(err)?;
        let _: () = conn
            .sadd(keys.sources(bucket), &source)
            .await
            .map_err(err)?;
    }
    // Fingerprint records: the digest names the bucket; `open` gets the new id.
    for key in scan(&mut conn, &format!("{p}fp:*")).await.map_err(err)? {
        report.fingerprints += 1;
        old_keys.push(key.clone());
        if dry_run {
            continue;
        }
        let hex = key.trim_start_matches(&format!("{p}fp:")).to_owned();
        let bucket =
            bucket_of_digest(&hex, keys.buckets).ok_or_else(|| format!("{key}: digest"))?;
        let hash: Value = conn.hgetall(&key).await.map_err(err)?;
        let mut fields: Vec<(String, String)> = field_pairs(hash).map_err(|e| e.to_string())?;
        for (k, v) in &mut fields {
            if k == "open" {
                *v = renamed
                    .get(v)
                    .cloned()
                    .ok_or_else(|| format!("{key}: open {v} unknown"))?;
            }
        }
        let new_key = format!("{}fp:{hex}", keys.tag(bucket));
        if !fields.is_empty() {
            let ttl: i64 = conn.pttl(&key).await.map_err(err)?;
            let _: () = conn.hset_multiple(&new_key, &fields).await.map_err(err)?;
            if ttl > 0 {
                let _: () = conn.pexpire(&new_key, ttl).await.map_err(err)?;
            }
        }
    }
    // Events: same entry ids, split by bucket, incident ids rewritten.
    let entries: Value = redis::cmd("XRANGE")
        .arg(format!("{p}events"))
        .arg("-")
        .arg("+")
        .query_async(&mut conn)
        .await
        .map_err(err)?;
    for entry in items(entries).map_err(|e| e.to_string())? {
        report.events += 1;
        if dry_run {
            continue;
        }
        let mut parts = items(entry).map_err(|e| e.to_string())?.into_iter();
        let (Some(entry_id), Some(fields)) = (parts.next(), parts.next()) else {
            return Err("malformed event entry".into());
        };
        let entry_id = text(entry_id).map_err(|e| e.to_string())?;
        let mut fields = field_pairs(fields).map_err(|e| e.to_string())?;
        let get = |name: &str| {
            fields
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        let (Some(source), Some(fingerprint)) = (get("source"), get("fingerprint")) else {
            return Err(format!("event {entry_id}: no source/fingerprint"));
        };
        let (bucket, _) = keys.fingerprint(&source, &fingerprint);
        for (k, v) in &mut fields {
            if k == "id" {
                // An incident gone since (expired) keeps the arithmetic id it would have.
                *v = renamed.get(v).cloned().unwrap_or_else(|| {
                    v.parse::<u64>().map_or_else(
                        |_| v.clone(),
                        |n| {
                            n.checked_mul(1000)
                                .and_then(|n| n.checked_add(u64::from(bucket)))
                                .map_or_else(|| v.clone(), |id| id.to_string())
                        },
                    )
                });
            }
        }
        let mut cmd = redis::cmd("XADD");
        cmd.arg(keys.events(bucket)).arg(&entry_id);
        for (k, v) in &fields {
            cmd.arg(k).arg(v);
        }
        let _: Value = cmd.query_async(&mut conn).await.map_err(err)?;
    }
    if dry_run {
        return Ok(report);
    }
    for (bucket, v) in last_v {
        let _: () = conn.set(keys.seq(bucket), v).await.map_err(err)?;
    }
    let _: () = conn
        .set(keys.layout(), layout_json(keys.buckets))
        .await
        .map_err(err)?;
    old_keys.sort();
    old_keys.dedup();
    for key in old_keys {
        let _: () = conn.del(key).await.map_err(err)?;
    }
    Ok(report)
}

/// The bucket of a fingerprint record from its hex digest (as `Keys::fingerprint`).
fn bucket_of_digest(hex: &str, buckets: u16) -> Option<u16> {
    let head = u64::from_str_radix(hex.get(..16)?, 16).ok()?;
    u16::try_from(head % u64::from(buckets.max(1))).ok()
}

/// Every key matching `pattern` (on one server; layout 1 never ran on a Cluster).
async fn scan(conn: &mut Conn, pattern: &str) -> RedisResult<Vec<String>> {
    let mut cursor = 0u64;
    let mut out = Vec::new();
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(500)
            .query_async(conn)
            .await?;
        out.extend(batch);
        if next == 0 {
            return Ok(out);
        }
        cursor = next;
    }
}
