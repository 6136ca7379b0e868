//! `FileConfig` → `Settings`: every check on the config file, every error with its place.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use std::sync::Arc;

use super::admin_tokens::{check_admin_tokens, AdminToken, TokenDigest};
use super::limits::{
    check_limits, check_source_limits, parse_duration, Limits, LogFormat, RateLimit,
};
use super::raw::{BackendConfig, FileConfig};
use super::sinks::{check_delivery, check_sinks, DeliverySettings, SinkSettings};
use crate::spool::SpoolSettings;
use crate::store::{
    MemorySettings, RedisSettings, TlsSettings, DEFAULT_EVENT_STREAM_LEN, DEFAULT_MAX_RESOLVED,
    DEFAULT_REPLICA_ACK_TIMEOUT, DEFAULT_RESOLVED_TTL,
};
use crate::yaml::Errors;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_MAPPINGS_DIR: &str = "mappings";
pub const DEFAULT_KEY_PREFIX: &str = "alertgate:";
/// The methods a source accepts unless it lists its own.
pub const DEFAULT_METHODS: [http::Method; 2] = [http::Method::GET, http::Method::POST];
/// The methods a source may list.
pub const KNOWN_METHODS: [http::Method; 4] = [
    http::Method::GET,
    http::Method::POST,
    http::Method::PUT,
    http::Method::PATCH,
];

/// The checked config: addresses parsed, paths resolved, tokens kept only as digests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub listen: SocketAddr,
    /// Resolved against the config file's folder.
    pub mappings_dir: PathBuf,
    pub store: StoreSettings,
    /// By source id.
    pub sources: BTreeMap<String, SourceSettings>,
    /// The API tokens: `admin_tokens`, and `admin_token` as an admin token named `admin`.
    pub admin_tokens: Vec<AdminToken>,
    pub limits: Limits,
    /// `log_format`: read before the rest (the logger starts first); checked here.
    pub log_format: LogFormat,
    /// Where senders and people reach us, without a trailing slash (`public_url`,
    /// default `http://{listen}`): the base of every webhook URL alertgate prints and of
    /// the links notifications carry.
    pub public_url: String,
    /// Resolved against the config file's folder; may not exist.
    pub sources_dir: PathBuf,
    /// Notification sinks by id (`sinks:`).
    pub sinks: BTreeMap<String, Arc<SinkSettings>>,
    pub delivery: DeliverySettings,
    /// `store.spool` (redis only); filled in by `config::spool`.
    pub spool: Option<SpoolSettings>,
}

/// The store backend to connect to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreSettings {
    Memory(MemorySettings),
    Redis(RedisSettings),
}

impl StoreSettings {
    pub fn backend_name(&self) -> &'static str {
        match self {
            StoreSettings::Memory(_) => "memory",
            StoreSettings::Redis(_) => "redis",
        }
    }
}

/// One checked source, before its mapping is attached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceSettings {
    pub integration: String,
    pub tokens: Vec<TokenDigest>,
    /// Per replica; `None`: no rate limit.
    pub rate_limit: Option<RateLimit>,
    /// Most open incidents of this source.
    pub max_open: u64,
    /// Tokens kept through a rotation's overlap: accepted until the time (Unix ms).
    pub expiring: Vec<(TokenDigest, i64)>,
    /// The `sources_dir` file that defines it; `None` for the main config's `sources`.
    pub file: Option<PathBuf>,
    /// The methods it accepts, in the order written (the `Allow` header's order).
    pub methods: Vec<http::Method>,
    /// `auto_resolve_after`, `flapping`, `heartbeat`.
    pub policies: super::policies::Policies,
}

/// Checks a parsed config file; `mappings_dir` is already resolved.
pub(crate) fn check(
    raw: FileConfig,
    mappings_dir: PathBuf,
    sources_dir: PathBuf,
    overrides: &Overrides,
    errors: &mut Errors<'_>,
) -> Option<Settings> {
    let listen = if let Some(addr) = overrides.listen {
        Some(addr)
    } else {
        let text = raw.listen.as_deref().unwrap_or(DEFAULT_LISTEN);
        text.parse::<SocketAddr>()
            .map_err(|_| {
                errors.push(
                    "listen",
                    format!("invalid address {text:?}: expected ip:port like {DEFAULT_LISTEN}"),
                );
            })
            .ok()
    };
    let store = check_store(&raw, overrides, errors);
    let mut sources = BTreeMap::new();
    for (id, source) in &raw.sources {
        let path = format!("sources.{id}");
        if id.is_empty()
            || !id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
        {
            errors.push(
                path.clone(),
                format!("invalid source id {id:?}: use lower-case letters, digits, _ and -"),
            );
        }
        if source.tokens.is_empty() {
            errors.push(
                format!("{path}.tokens"),
                "a source needs at least one token",
            );
        }
        for (i, token) in source.tokens.iter().enumerate() {
            if token.is_empty() {
                errors.push(format!("{path}.tokens[{i}]"), "token must not be empty");
            }
        }
        let tokens = source.tokens.iter().map(|t| TokenDigest::of(t)).collect();
        let (rate_limit, max_open) = check_source_limits(&path, source, errors);
        let methods = check_methods(&path, source.methods.as_deref(), errors);
        let policies = super::policies::check(&path, source, errors);
        sources.insert(
            id.clone(),
            SourceSettings {
                integration: source.integration.clone(),
                tokens,
                rate_limit,
                max_open,
                expiring: Vec::new(),
                file: None,
                methods,
                policies,
            },
        );
    }
    let admin_tokens = check_admin_tokens(&raw, errors);
    let limits = check_limits(&raw, errors);
    let log_format = match raw.log_format.as_deref() {
        None => LogFormat::Text,
        Some(text) => LogFormat::parse(text).unwrap_or_else(|| {
            errors.push(
                "log_format",
                format!("invalid {text:?}: expected text or json"),
            );
            LogFormat::Text
        }),
    };
    // Whether the sources a sink names exist is checked once `sources_dir` is merged.
    let sinks = check_sinks(&raw.sinks, errors);
    let delivery = check_delivery(&raw.delivery, errors);
    let listen = listen?;
    let public_url = match raw.public_url.as_deref().map(str::trim) {
        None | Some("") => format!("http://{listen}"),
        Some(url) => {
            if !(url.starts_with("http://") || url.starts_with("https://")) || url.contains('?') {
                errors.push(
                    "public_url",
                    format!("invalid url {url:?}: expected http(s)://host[:port][/path], no query"),
                );
            }
            url.trim_end_matches('/').to_owned()
        }
    };
    Some(Settings {
        listen,
        public_url,
        sources_dir,
        mappings_dir,
        store: store?,
        sources,
        admin_tokens,
        limits: limits?,
        log_format,
        sinks,
        delivery,
        spool: None,
    })
}

fn check_methods(
    path: &str,
    listed: Option<&[String]>,
    errors: &mut Errors<'_>,
) -> Vec<http::Method> {
    let Some(listed) = listed else {
        return DEFAULT_METHODS.to_vec();
    };
    if listed.is_empty() {
        errors.push(format!("{path}.methods"), "list at least one method");
    }
    let mut methods = Vec::with_capacity(listed.len());
    for (i, name) in listed.iter().enumerate() {
        let upper = name.to_ascii_uppercase();
        match KNOWN_METHODS.iter().find(|m| m.as_str() == upper) {
            Some(m) if methods.contains(m) => {
                errors.push(
                    format!("{path}.methods[{i}]"),
                    format!("{upper} is listed twice"),
                );
            }
            Some(m) => methods.push(m.clone()),
            None => errors.push(
                format!("{path}.methods[{i}]"),
                format!("unknown method {name:?}: expected GET, POST, PUT or PATCH"),
            ),
        }
    }
    methods
}

fn check_store(
    raw: &FileConfig,
    overrides: &Overrides,
    errors: &mut Errors<'_>,
) -> Option<StoreSettings> {
    let store = &raw.store;
    let event_stream_len = store.event_stream_len.unwrap_or(DEFAULT_EVENT_STREAM_LEN);
    if event_stream_len == 0 {
        errors.push("store.event_stream_len", "must be at least 1");
    }
    let backend = if overrides.redis_url.is_some() {
        BackendConfig::Redis
    } else {
        store.backend
    };
    // A memory-only key in a file that asks for redis is a mistake; `--redis-url` switching
    // a memory config (such as the example) to redis is not, so it ignores such keys.
    if store.backend == BackendConfig::Redis && store.max_resolved.is_some() {
        errors.push(
            "store.max_resolved",
            "only used by the memory backend (the redis backend bounds resolved incidents \
             by time: use `resolved_ttl`): remove it",
        );
    }
    match backend {
        BackendConfig::Memory => {
            for (key, set) in [
                ("url", store.url.is_some()),
                ("key_prefix", store.key_prefix.is_some()),
                ("resolved_ttl", store.resolved_ttl.is_some()),
            ]
            .into_iter()
            .chain(super::redis_store::keys_set(store))
            {
                if set {
                    errors.push(
                        format!("store.{key}"),
                        "only used by the redis backend: set `backend: redis` or remove it",
                    );
                }
            }
            Some(StoreSettings::Memory(MemorySettings {
                event_stream_len,
                max_resolved: store.max_resolved.unwrap_or(DEFAULT_MAX_RESOLVED),
            }))
        }
        BackendConfig::Redis => {
            let target = super::redis_store::target(store, overrides.redis_url.as_deref(), errors)?;
            let resolved_ttl = match &store.resolved_ttl {
                None => DEFAULT_RESOLVED_TTL,
                Some(text) => match parse_duration(text) {
                    Some(d) if d >= Duration::from_millis(1) => d,
                    _ => {
                        errors.push(
                            "store.resolved_ttl",
                            format!(
                                "invalid duration {text:?}: expected a positive number with \
                                 ms, s, m, h or d, like 7d"
                            ),
                        );
                        return None;
                    }
                },
            };
            let replica_ack_timeout = match &store.replica_ack_timeout {
                None => DEFAULT_REPLICA_ACK_TIMEOUT,
                Some(text) => match parse_duration(text) {
                    Some(d) if d >= Duration::from_millis(1) => d,
                    _ => {
                        errors.push(
                            "store.replica_ack_timeout",
                            format!("invalid duration {text:?}: expected e.g. 500ms or 2s"),
                        );
                        return None;
                    }
                },
            };
            let key_prefix = store
                .key_prefix
                .clone()
                .unwrap_or_else(|| DEFAULT_KEY_PREFIX.to_owned());
            if key_prefix.contains(['{', '}']) {
                errors.push(
                    "store.key_prefix",
                    "must not contain `{` or `}` (the store's keys carry Redis Cluster hash tags)",
                );
            }
            let buckets = super::redis_store::buckets(store, &target, errors)?;
            Some(StoreSettings::Redis(RedisSettings {
                tls: store.tls.as_ref().map(|t| TlsSettings {
                    ca_file: t.ca_file.as_ref().map(PathBuf::from),
                }),
                target,
                key_prefix,
                event_stream_len,
                resolved_ttl,
                buckets,
                min_replicas_ack: store.min_replicas_ack.unwrap_or(0),
                replica_ack_timeout,
            }))
        }
    }
}

/// Command-line settings that win over the config file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    /// `serve --listen`.
    pub listen: Option<SocketAddr>,
    /// `serve --redis-url`: selects the redis backend with this url.
    pub redis_url: Option<String>,
    /// `check --mappings`: the mappings directory instead of the config's.
    pub mappings_dir: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_need_a_unit() {
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("10s"), Some(Duration::from_secs(10)));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("24h"), Some(Duration::from_secs(86_400)));
        assert_eq!(parse_duration("7d"), Some(Duration::from_secs(7 * 86_400)));
        assert_eq!(parse_duration(&format!("{}d", u64::MAX)), None);
        for bad in ["10", "s", "1.5s", "-1s", "10 parsecs", "1w", "d"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn token_matches_any_accepted_and_nothing_else() {
        let accepted = [TokenDigest::of("old"), TokenDigest::of("new")];
        assert!(TokenDigest::matches_any(&accepted, "new"));
        assert!(TokenDigest::matches_any(&accepted, "old"));
        assert!(!TokenDigest::matches_any(&accepted, "ne"));
        assert!(!TokenDigest::matches_any(&[], "new"));
        assert_eq!(format!("{:?}", accepted[0]), "TokenDigest(…)");
    }

    #[test]
    fn expiring_tokens_match_until_their_end() {
        let accepted = [TokenDigest::of("new")];
        let expiring = [(TokenDigest::of("old"), 1_000)];
        assert!(TokenDigest::matches_any_live(
            &accepted, &expiring, "new", 5_000
        ));
        assert!(TokenDigest::matches_any_live(
            &accepted, &expiring, "old", 999
        ));
        assert!(!TokenDigest::matches_any_live(
            &accepted, &expiring, "old", 1_000
        ));
        assert!(!TokenDigest::matches_any_live(
            &accepted, &expiring, "other", 0
        ));
    }
}
