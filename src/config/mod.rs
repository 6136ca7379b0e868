//! The gateway's configuration: the config file, checked, joined with the compiled
//! mappings into one immutable `Snapshot`.
//!
//! Owns the config file format (`raw`: serde mirrors, `deny_unknown_fields`), `${VAR}`
//! expansion (`env`), the checks that turn it into `Settings` (`settings`), and
//! `build_snapshot`, the one function that reads config + mappings from disk. It does not
//! watch files or swap snapshots (that is `reload`), nor connect to the store.

mod admin_tokens;
mod env;
mod limits;
mod policies;
mod raw;
mod redis_store;
mod settings;
mod sinks;
mod sources_dir;
pub mod sources_edit;
mod spool;
mod verify;

use std::collections::BTreeMap;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};

pub use self::admin_tokens::{AdminToken, Scope, TokenDigest, DEFAULT_RECENT_PAYLOADS};
pub use self::env::Fallback;
pub use self::limits::{parse_duration, Limits, LogFormat, RateLimit};
pub use self::policies::Policies;
pub use self::raw::{
    AdminTokenConfig, BackendConfig, ByteSize, ClusterConfig, FieldEqualsConfig, FieldInConfig,
    FileConfig, FlappingConfig, HeartbeatConfig, HmacConfig, LimitsConfig, RateLimitConfig,
    SentinelConfig, SourceConfig, SpoolConfig, StoreConfig, TlsConfig, VerifyConfig,
};
pub use self::settings::{Overrides, Settings, SourceSettings, StoreSettings, DEFAULT_LISTEN};
pub use self::sinks::{
    DeliveryConfig, DeliverySettings, SinkConfig, SinkKind, SinkSettings, SinkTemplate,
    PAGERDUTY_URL,
};
pub use self::sources_dir::{is_valid_id, DirSource, DEFAULT_SOURCES_DIR};
pub use self::spool::parse_size;
use crate::decode::Shape;
use crate::mapping::{self, Mapping, MappingSet};
use crate::verify::Verify;
use crate::yaml::{self, CompileError, Errors};

/// A source ready to serve: its token digests and its compiled mapping.
#[derive(Debug, Clone)]
pub struct Source {
    pub id: String,
    pub tokens: Vec<TokenDigest>,
    pub mapping: Arc<Mapping>,
    /// Per-replica token bucket; `None`: unlimited.
    pub rate_limit: Option<RateLimit>,
    /// Most open incidents this source may have.
    pub max_open: u64,
    /// The HTTP methods it accepts (`sources.{id}.methods`).
    pub methods: Vec<http::Method>,
    /// `methods` as an `Allow` header value: `GET, POST`.
    pub allow: String,
    /// Tokens kept through a rotation's overlap, accepted until the time (Unix ms).
    pub expiring: Vec<(TokenDigest, i64)>,
    /// The `verify:` checks after the token (empty: the token is the whole proof).
    pub verify: Arc<Verify>,
    /// What to decode when `verify` reads fields the mapping does not: the mapping's
    /// shape joined with theirs. `None`: the mapping's own.
    pub decode_shape: Option<Shape>,
    /// The `sources_dir` file that defines it; `None` for the main config.
    pub file: Option<PathBuf>,
    /// Its lifecycle policies (`auto_resolve_after`, `flapping`, `heartbeat`).
    pub policies: Policies,
}

/// Everything that can change at run time, built at once and never mutated: a request
/// uses one snapshot from start to end, and a reload replaces it whole.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub settings: Settings,
    /// By source id.
    pub sources: BTreeMap<String, Source>,
    pub mappings: MappingSet,
    /// Hex SHA-256 over the config text and the mappings' digest.
    pub version: String,
    /// When it was built (Unix ms).
    pub loaded_at_ms: i64,
    /// Variables that were unset and took their `:-` default (to warn about).
    pub env_fallbacks: Vec<Fallback>,
}

impl Snapshot {
    pub fn source(&self, id: &str) -> Option<&Source> {
        self.sources.get(id)
    }

    pub fn limits(&self) -> &Limits {
        &self.settings.limits
    }

    /// Settings that differ in `newer` but only take effect after a restart.
    pub fn restart_needed(&self, newer: &Snapshot) -> Vec<String> {
        let (old, new) = (&self.settings, &newer.settings);
        let mut changed = Vec::new();
        if old.listen != new.listen {
            changed.push("listen".to_owned());
        }
        if old.limits.max_connections != new.limits.max_connections {
            changed.push("limits.max_connections".to_owned());
        }
        if old.log_format != new.log_format {
            changed.push("log_format".to_owned());
        }
        match (&old.store, &new.store) {
            (StoreSettings::Redis(a), StoreSettings::Redis(b)) => {
                for (key, differs) in [
                    ("store.url", a.target != b.target),
                    ("store.tls", a.tls != b.tls),
                    ("store.buckets", a.buckets != b.buckets),
                    (
                        "store.min_replicas_ack",
                        a.min_replicas_ack != b.min_replicas_ack
                            || a.replica_ack_timeout != b.replica_ack_timeout,
                    ),
                    ("store.key_prefix", a.key_prefix != b.key_prefix),
                    ("store.resolved_ttl", a.resolved_ttl != b.resolved_ttl),
                    (
                        "store.event_stream_len",
                        a.event_stream_len != b.event_stream_len,
                    ),
                ] {
                    if differs {
                        changed.push(key.to_owned());
                    }
                }
            }
            (StoreSettings::Memory(a), StoreSettings::Memory(b)) => {
                for (key, differs) in [
                    (
                        "store.event_stream_len",
                        a.event_stream_len != b.event_stream_len,
                    ),
                    ("store.max_resolved", a.max_resolved != b.max_resolved),
                ] {
                    if differs {
                        changed.push(key.to_owned());
                    }
                }
            }
            _ => changed.push("store.backend".to_owned()),
        }
        if old.spool != new.spool {
            changed.push("store.spool".to_owned());
        }
        changed
    }

    /// Fallbacks taken for secrets (tokens): a demo secret must not go unnoticed.
    pub fn secret_fallbacks(&self) -> impl Iterator<Item = &Fallback> {
        self.env_fallbacks.iter().filter(|f| {
            f.path == "admin_token"
                || (f.path.starts_with("admin_tokens[") && f.path.ends_with(".token"))
                || f.path.contains(".tokens[")
                || (f.path.contains("verify[") && f.path.ends_with(".secret"))
                || (f.path.starts_with("sinks.")
                    && (f.path.ends_with(".secret") || f.path.ends_with(".routing_key")))
        })
    }
}

/// The config file parsed, `${VAR}` expanded, with its folder.
struct RawConfig {
    text: String,
    raw: FileConfig,
    base: PathBuf,
    fallbacks: Vec<Fallback>,
    /// Every value read from a `${file:…}`, to scrub from error messages.
    file_values: Vec<String>,
}

fn read_raw(config_path: &Path) -> Result<RawConfig, Vec<CompileError>> {
    let text = yaml::read(config_path).map_err(|e| vec![e])?;
    let base = config_path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_owned();
    let lookup = |name: &str| std::env::var(name).ok();
    let read_file = |name: &str| env::read_secret_file(&base, name);
    let mut sources = env::Sources {
        lookup: &lookup,
        read_file: &read_file,
        fallbacks: Vec::new(),
        file_values: Vec::new(),
    };
    let raw: FileConfig = yaml::from_yaml_rewriting(config_path, &text, &mut |path, value| {
        env::expand(value, path, &mut sources)
    })
    .map_err(|errors| scrub(errors, &sources.file_values))?;
    let env::Sources {
        fallbacks,
        file_values,
        ..
    } = sources;
    Ok(RawConfig {
        text,
        raw,
        base,
        fallbacks,
        file_values,
    })
}

fn sources_dir_of(raw: &FileConfig, base: &Path) -> PathBuf {
    base.join(
        raw.sources_dir
            .as_deref()
            .unwrap_or(sources_dir::DEFAULT_SOURCES_DIR),
    )
}

/// Every source's accepted tokens in plain text, main config and `sources_dir` alike,
/// expired ones left out (for `alertgate sources --show-tokens`).
pub fn source_tokens(
    config_path: &Path,
) -> Result<BTreeMap<String, Vec<String>>, Vec<CompileError>> {
    let RawConfig { raw, base, .. } = read_raw(config_path)?;
    let mut tokens: BTreeMap<String, Vec<String>> = raw
        .sources
        .iter()
        .map(|(id, s)| (id.clone(), s.tokens.clone()))
        .collect();
    let lookup = |name: &str| std::env::var(name).ok();
    let dir = sources_dir_of(&raw, &base);
    for source in sources_dir::load(&dir, &lookup, &mut Vec::new(), crate::clock::now_ms())? {
        let mut list = source.tokens;
        list.extend(source.expiring.into_iter().map(|(t, _)| t));
        tokens.entry(source.id).or_insert(list);
    }
    Ok(tokens)
}

/// Reads the config file, its `sources_dir` and its mappings directory afresh and builds
/// a snapshot, or returns every problem found, each with its file, line:column and key.
pub fn build_snapshot(
    config_path: &Path,
    overrides: &Overrides,
) -> Result<Snapshot, Vec<CompileError>> {
    let RawConfig {
        text,
        raw,
        base,
        mut fallbacks,
        file_values,
    } = read_raw(config_path)?;
    // Resolved before the other checks so that one bad setting does not hide mapping errors.
    let mappings_dir = match &overrides.mappings_dir {
        Some(dir) => dir.clone(),
        None => base.join(
            raw.mappings_dir
                .as_deref()
                .unwrap_or(settings::DEFAULT_MAPPINGS_DIR),
        ),
    };
    let sources_dir = sources_dir_of(&raw, &base);
    let mut errors = Errors::new(config_path, &text);
    let mut verifies: BTreeMap<String, Verify> = BTreeMap::new();
    for (id, source) in &raw.sources {
        let checks = verify::compile(&source.verify, &format!("sources.{id}.verify"), &mut errors);
        verifies.insert(id.clone(), checks);
    }
    let spool = spool::check(&raw.store, overrides, &base, &mut errors);
    let mut settings = settings::check(
        raw,
        mappings_dir.clone(),
        sources_dir.clone(),
        overrides,
        &mut errors,
    )
    .map(|settings| Settings { spool, ..settings });
    if let Some(Settings {
        store: StoreSettings::Redis(redis),
        ..
    }) = &mut settings
    {
        redis_store::resolve_paths(redis, &base);
    }
    let mut all = errors.list.split_off(0);
    let lookup = |name: &str| std::env::var(name).ok();
    let dir_sources = match sources_dir::load(
        &sources_dir,
        &lookup,
        &mut fallbacks,
        crate::clock::now_ms(),
    ) {
        Ok(list) => list,
        Err(list) => {
            all.extend(list);
            Vec::new()
        }
    };
    let mappings = match mapping::load_dir(&mappings_dir) {
        Ok(set) => Some(set),
        Err(list) => {
            all.extend(list);
            None
        }
    };
    let (Some(mut settings), Some(mappings)) = (settings, mappings) else {
        return Err(scrub(all, &file_values));
    };
    let mut hasher = Sha256::new();
    hasher.update(text.as_bytes());
    hasher.update([0]);
    hasher.update(mappings.digest);
    for source in dir_sources {
        hasher.update(source.file.as_os_str().as_encoded_bytes());
        hasher.update([0]);
        hasher.update(source.text.as_bytes());
        hasher.update([0]);
        if settings.sources.contains_key(&source.id) {
            let mut file_errors = Errors::new(&source.file, &source.text);
            file_errors.push(
                "id",
                format!(
                    "duplicate source id {:?}: also defined in {} (sources.{})",
                    source.id,
                    config_path.display(),
                    source.id
                ),
            );
            all.extend(file_errors.list);
            continue;
        }
        verifies.insert(source.id.clone(), source.verify);
        settings.sources.insert(
            source.id,
            SourceSettings {
                integration: source.integration,
                tokens: source.tokens.iter().map(|t| TokenDigest::of(t)).collect(),
                expiring: source
                    .expiring
                    .iter()
                    .map(|(t, end)| (TokenDigest::of(t), *end))
                    .collect(),
                file: Some(source.file),
                // A sources_dir file names no methods, limits nor policies: the defaults.
                methods: settings::DEFAULT_METHODS.to_vec(),
                rate_limit: None,
                max_open: limits::DEFAULT_MAX_OPEN,
                policies: Policies::default(),
            },
        );
    }
    for sink in settings.sinks.values() {
        for source in sink.sources.iter().flatten() {
            if !settings.sources.contains_key(source) {
                errors.push(
                    format!("sinks.{}.sources", sink.id),
                    format!("no source {source:?} is configured"),
                );
            }
        }
    }
    let mut sources = BTreeMap::new();
    for (id, source) in &settings.sources {
        if let Some(mapping) = mappings.get(&source.integration) {
            let verify = verifies.remove(id).unwrap_or_default();
            let decode_shape = verify
                .reads()
                .map(|reads| Shape::union(mapping.reads.clone(), reads));
            sources.insert(
                id.clone(),
                Source {
                    id: id.clone(),
                    tokens: source.tokens.clone(),
                    mapping: Arc::clone(mapping),
                    rate_limit: source.rate_limit,
                    max_open: source.max_open,
                    expiring: source.expiring.clone(),
                    verify: Arc::new(verify),
                    decode_shape,
                    file: source.file.clone(),
                    policies: source.policies,
                    methods: source.methods.clone(),
                    allow: source
                        .methods
                        .iter()
                        .map(http::Method::as_str)
                        .collect::<Vec<_>>()
                        .join(", "),
                },
            );
        } else {
            let known = mappings.integrations();
            let message = format!(
                "no mapping in {} defines integration {:?} (known: {})",
                settings.mappings_dir.display(),
                source.integration,
                known.join(", ")
            );
            match &source.file {
                None => errors.push(format!("sources.{id}.integration"), message),
                Some(file) => {
                    let text = std::fs::read_to_string(file).unwrap_or_default();
                    let mut file_errors = Errors::new(file, &text);
                    file_errors.push("integration", message);
                    all.extend(file_errors.list);
                }
            }
        }
    }
    all.extend(errors.list);
    if !all.is_empty() {
        return Err(scrub(all, &file_values));
    }
    Ok(Snapshot {
        settings,
        sources,
        mappings,
        version: hex::encode(hasher.finalize()),
        loaded_at_ms: crate::clock::now_ms(),
        env_fallbacks: fallbacks,
    })
}

/// Errors with every value read from a `${file:…}` replaced by a mention of it.
fn scrub(mut errors: Vec<CompileError>, file_values: &[String]) -> Vec<CompileError> {
    for e in &mut errors {
        e.message = env::scrub(&e.message, file_values);
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A snapshot of a config whose `store:` block is `store`, using the shipped mappings.
    fn snapshot_with(
        dir: &Path,
        store: &str,
        overrides: &Overrides,
    ) -> Result<Snapshot, Vec<CompileError>> {
        let mappings = Path::new(env!("CARGO_MANIFEST_DIR")).join("mappings");
        let text = format!(
            "mappings_dir: {}\nadmin_token: t\nstore:\n{store}\n",
            mappings.display()
        );
        let path = dir.join("config.yaml");
        std::fs::write(&path, text).expect("write config");
        build_snapshot(&path, overrides)
    }

    #[test]
    fn max_resolved_defaults_and_needs_a_restart_to_change() {
        let dir = tempfile::tempdir().expect("tempdir");
        let none = Overrides::default();
        let old = snapshot_with(dir.path(), "  backend: memory", &none).expect("default");
        assert_eq!(
            old.settings.store,
            StoreSettings::Memory(crate::store::MemorySettings::default())
        );
        let new = snapshot_with(dir.path(), "  max_resolved: 5", &none).expect("set");
        assert_eq!(old.restart_needed(&new), vec!["store.max_resolved"]);
    }

    #[test]
    fn max_resolved_is_an_error_with_backend_redis_but_not_with_redis_url() {
        let dir = tempfile::tempdir().expect("tempdir");
        let errors = snapshot_with(
            dir.path(),
            "  backend: redis\n  url: redis://127.0.0.1:6379\n  max_resolved: 5",
            &Overrides::default(),
        )
        .expect_err("memory-only key with redis");
        assert!(
            errors.iter().any(|e| e.path == "store.max_resolved"),
            "{errors:?}"
        );
        let switched = Overrides {
            redis_url: Some("redis://127.0.0.1:6379".into()),
            ..Overrides::default()
        };
        let snap = snapshot_with(dir.path(), "  max_resolved: 5", &switched).expect("switched");
        assert_eq!(snap.settings.store.backend_name(), "redis");
    }

    #[test]
    fn resolved_ttl_defaults_to_seven_days_parses_units_and_needs_a_restart() {
        let dir = tempfile::tempdir().expect("tempdir");
        let none = Overrides::default();
        let redis = "  backend: redis\n  url: redis://127.0.0.1:6379";
        let ttl_of = |snap: &Snapshot| match &snap.settings.store {
            StoreSettings::Redis(r) => r.resolved_ttl,
            StoreSettings::Memory(m) => panic!("{m:?}"),
        };
        let old = snapshot_with(dir.path(), redis, &none).expect("default");
        assert_eq!(ttl_of(&old), crate::store::DEFAULT_RESOLVED_TTL);
        assert_eq!(ttl_of(&old), std::time::Duration::from_secs(7 * 86_400));
        let new = snapshot_with(dir.path(), &format!("{redis}\n  resolved_ttl: 24h"), &none)
            .expect("set");
        assert_eq!(ttl_of(&new), std::time::Duration::from_secs(86_400));
        assert_eq!(old.restart_needed(&new), vec!["store.resolved_ttl"]);
        for bad in ["0s", "0d", "7", "1w", "soon"] {
            let errors = snapshot_with(
                dir.path(),
                &format!("{redis}\n  resolved_ttl: {bad}"),
                &none,
            )
            .expect_err(bad);
            assert!(
                errors.iter().any(|e| e.path == "store.resolved_ttl"),
                "{bad}: {errors:?}"
            );
        }
    }

    #[test]
    fn resolved_ttl_is_an_error_with_the_memory_backend() {
        let dir = tempfile::tempdir().expect("tempdir");
        let errors = snapshot_with(
            dir.path(),
            "  backend: memory\n  resolved_ttl: 1d",
            &Overrides::default(),
        )
        .expect_err("redis-only key with memory");
        assert!(
            errors.iter().any(|e| e.path == "store.resolved_ttl"),
            "{errors:?}"
        );
    }

    #[test]
    fn production_limits_default_parse_and_refuse_nonsense() {
        let dir = tempfile::tempdir().expect("tempdir");
        let none = Overrides::default();
        let source = "sources:\n  sc:\n    integration: statuscake\n    tokens: [x]\n";
        let old = snapshot_with(dir.path(), &format!("  backend: memory\n{source}"), &none)
            .expect("defaults");
        assert_eq!(old.settings.limits, Limits::default());
        assert_eq!(old.sources["sc"].rate_limit, None);
        assert_eq!(old.sources["sc"].max_open, 100_000);
        assert_eq!(old.settings.log_format, LogFormat::Text);
        let set = format!(
            "  backend: memory\n{source}    rate_limit: {{ per_second: 2.5 }}\n    max_open: 3\n\
             limits:\n  shutdown_delay: 0s\n  max_connections: 8\nlog_format: json\n"
        );
        let new = snapshot_with(dir.path(), &set, &none).expect("set");
        assert_eq!(
            new.sources["sc"].rate_limit,
            Some(RateLimit {
                per_second: 2.5,
                burst: 3
            })
        );
        assert_eq!(new.sources["sc"].max_open, 3);
        assert_eq!(
            old.restart_needed(&new),
            vec!["limits.max_connections", "log_format"]
        );
        for (bad, path) in [
            (
                "    rate_limit: { per_second: 0 }\n",
                "sources.sc.rate_limit.per_second",
            ),
            (
                "    rate_limit: { per_second: 1, burst: 0 }\n",
                "sources.sc.rate_limit.burst",
            ),
            ("    max_open: 0\n", "sources.sc.max_open"),
            (
                "limits:\n  max_labels: 1\n  max_title_bytes: 0\n",
                "limits.max_title_bytes",
            ),
            ("limits:\n  shutdown_delay: soon\n", "limits.shutdown_delay"),
            ("log_format: xml\n", "log_format"),
        ] {
            let errors = snapshot_with(
                dir.path(),
                &format!("  backend: memory\n{source}{bad}"),
                &none,
            )
            .expect_err(bad);
            assert!(errors.iter().any(|e| e.path == path), "{bad}: {errors:?}");
        }
    }

    #[test]
    fn spool_is_redis_only_resolves_its_dir_and_parses_its_size() {
        let dir = tempfile::tempdir().expect("tempdir");
        let none = Overrides::default();
        let redis = "  backend: redis\n  url: redis://127.0.0.1:6379";
        let snap = snapshot_with(
            dir.path(),
            &format!("{redis}\n  spool:\n    dir: spool\n    max_bytes: 512MiB"),
            &none,
        )
        .expect("spool");
        let spool = snap.settings.spool.clone().expect("spool settings");
        assert_eq!(spool.dir, dir.path().join("spool"));
        assert_eq!(spool.max_bytes, 512 * 1024 * 1024);
        let plain = snapshot_with(dir.path(), redis, &none).expect("no spool");
        assert_eq!(plain.settings.spool, None);
        assert_eq!(plain.restart_needed(&snap), vec!["store.spool"]);
        let default = snapshot_with(
            dir.path(),
            &format!("{redis}\n  spool: {{ dir: /var/spool/alertgate }}"),
            &none,
        )
        .expect("default size");
        assert_eq!(
            default.settings.spool.expect("spool").max_bytes,
            spool::DEFAULT_SPOOL_MAX_BYTES
        );
        for bad in ["10", "1.5GiB", "lots", "0"] {
            let errors = snapshot_with(
                dir.path(),
                &format!("{redis}\n  spool:\n    dir: s\n    max_bytes: \"{bad}\""),
                &none,
            )
            .expect_err(bad);
            assert!(
                errors.iter().any(|e| e.path == "store.spool.max_bytes"),
                "{bad}: {errors:?}"
            );
        }
        let errors =
            snapshot_with(dir.path(), "  spool: { dir: s }", &none).expect_err("spool with memory");
        assert!(errors.iter().any(|e| e.path == "store.spool"), "{errors:?}");
    }

    #[test]
    fn url_sentinel_and_cluster_exclude_each_other_and_name_both() {
        let dir = tempfile::tempdir().expect("dir");
        let none = Overrides::default();
        let sentinel = "  sentinel:\n    master_name: m\n    urls: [\"redis://127.0.0.1:26379\"]";
        let cluster = "  cluster:\n    urls: [\"redis://127.0.0.1:7000\"]";
        let url = "  url: redis://127.0.0.1:6379";
        for (a, b, first, second) in [
            (url, sentinel, "store.url", "store.sentinel"),
            (url, cluster, "store.url", "store.cluster"),
            (sentinel, cluster, "store.sentinel", "store.cluster"),
        ] {
            let errors = snapshot_with(dir.path(), &format!("  backend: redis\n{a}\n{b}"), &none)
                .expect_err("two targets");
            assert!(
                errors
                    .iter()
                    .any(|e| e.message.contains(first) && e.message.contains(second)),
                "{errors:?}"
            );
        }
        // `--redis-url` beside `sentinel` is an error too; beside `url` it wins.
        let flag = Overrides {
            redis_url: Some("redis://127.0.0.1:6380".into()),
            ..Overrides::default()
        };
        let errors = snapshot_with(dir.path(), &format!("  backend: redis\n{sentinel}"), &flag)
            .expect_err("flag and sentinel");
        assert!(
            errors.iter().any(|e| e.message.contains("--redis-url")),
            "{errors:?}"
        );
        let snap = snapshot_with(dir.path(), &format!("  backend: redis\n{cluster}"), &none)
            .expect("cluster");
        let StoreSettings::Redis(r) = &snap.settings.store else {
            panic!("redis");
        };
        assert_eq!(r.buckets, crate::store::DEFAULT_CLUSTER_BUCKETS);
        let errors = snapshot_with(
            dir.path(),
            &format!("  backend: redis\n{url}\n  buckets: 0\n  key_prefix: \"a{{b}}\""),
            &none,
        )
        .expect_err("bad buckets and prefix");
        assert!(
            errors.iter().any(|e| e.path == "store.buckets"),
            "{errors:?}"
        );
        assert!(
            errors.iter().any(|e| e.path == "store.key_prefix"),
            "{errors:?}"
        );
    }
}
