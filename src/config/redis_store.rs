//! The Redis part of `store:`: which of `url`, `sentinel`, `cluster` (exactly one, or
//! `serve --redis-url`), the bucket count, and the TLS file paths.

use std::path::Path;

use super::raw::StoreConfig;
use crate::store::{RedisSettings, RedisTarget, DEFAULT_CLUSTER_BUCKETS, MAX_BUCKETS};
use crate::yaml::Errors;

/// The redis-only keys of this module that are set, for the memory backend's check.
pub(super) fn keys_set(store: &StoreConfig) -> [(&'static str, bool); 6] {
    [
        ("sentinel", store.sentinel.is_some()),
        ("cluster", store.cluster.is_some()),
        ("tls", store.tls.is_some()),
        ("buckets", store.buckets.is_some()),
        ("min_replicas_ack", store.min_replicas_ack.is_some()),
        ("replica_ack_timeout", store.replica_ack_timeout.is_some()),
    ]
}

fn check_url(path: &str, url: &str, errors: &mut Errors<'_>) {
    if !(url.starts_with("redis://")
        || url.starts_with("rediss://")
        || url.starts_with("unix://")
        || url.starts_with("redis+unix://"))
    {
        errors.push(path, "expected a redis:// or rediss:// url");
    }
}

/// Where Redis is: `--redis-url`, else the one of `url`, `sentinel`, `cluster` the file
/// sets. Two of them (or `--redis-url` beside `sentinel`/`cluster`) is an error naming
/// both.
pub(super) fn target(
    store: &StoreConfig,
    redis_url: Option<&str>,
    errors: &mut Errors<'_>,
) -> Option<RedisTarget> {
    let url_key = if redis_url.is_some() {
        "--redis-url"
    } else {
        "store.url"
    };
    let set: Vec<&str> = [
        (url_key, redis_url.is_some() || store.url.is_some()),
        ("store.sentinel", store.sentinel.is_some()),
        ("store.cluster", store.cluster.is_some()),
    ]
    .into_iter()
    .filter_map(|(k, on)| on.then_some(k))
    .collect();
    match set.as_slice() {
        [] => {
            errors.push(
                "store",
                "the redis backend needs one of `url`, `sentinel` or `cluster`",
            );
            return None;
        }
        [_] => {}
        [first, second, ..] => {
            errors.push(
                if *second == "store.cluster" {
                    "store.cluster"
                } else {
                    "store.sentinel"
                },
                format!("{first} and {second} exclude each other: keep one"),
            );
            return None;
        }
    }
    if let Some(url) = redis_url.or(store.url.as_deref()) {
        check_url("store.url", url, errors);
        return Some(RedisTarget::Url(url.to_owned()));
    }
    if let Some(s) = &store.sentinel {
        if s.master_name.is_empty() {
            errors.push("store.sentinel.master_name", "must not be empty");
        }
        if s.urls.is_empty() {
            errors.push("store.sentinel.urls", "name at least one Sentinel");
        }
        for (i, url) in s.urls.iter().enumerate() {
            check_url(&format!("store.sentinel.urls[{i}]"), url, errors);
        }
        return Some(RedisTarget::Sentinel {
            master_name: s.master_name.clone(),
            urls: s.urls.clone(),
            password: s.password.clone().filter(|p| !p.is_empty()),
        });
    }
    let c = store.cluster.as_ref()?;
    if c.urls.is_empty() {
        errors.push("store.cluster.urls", "name at least one cluster node");
    }
    for (i, url) in c.urls.iter().enumerate() {
        check_url(&format!("store.cluster.urls[{i}]"), url, errors);
    }
    Some(RedisTarget::Cluster {
        urls: c.urls.clone(),
    })
}

/// `store.buckets`, or its default for the target.
pub(super) fn buckets(
    store: &StoreConfig,
    target: &RedisTarget,
    errors: &mut Errors<'_>,
) -> Option<u16> {
    let default = match target {
        RedisTarget::Cluster { .. } => DEFAULT_CLUSTER_BUCKETS,
        _ => 1,
    };
    match store.buckets {
        None => Some(default),
        Some(n) if (1..=MAX_BUCKETS).contains(&n) => Some(n),
        Some(n) => {
            errors.push(
                "store.buckets",
                format!("{n} is out of range: 1 to {MAX_BUCKETS}"),
            );
            None
        }
    }
}

/// Makes a relative `tls.ca_file` relative to the config file's folder.
pub(super) fn resolve_paths(redis: &mut RedisSettings, base: &Path) {
    if let Some(ca) = redis.tls.as_mut().and_then(|t| t.ca_file.as_mut()) {
        if ca.is_relative() {
            *ca = base.join(&*ca);
        }
    }
}
