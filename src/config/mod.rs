//! The gateway's configuration: the config file, checked, joined with the compiled
//! mappings into one immutable `Snapshot`.
//!
//! Owns the config file format (`raw`: serde mirrors, `deny_unknown_fields`), `${VAR}`
//! expansion (`env`), the checks that turn it into `Settings` (`settings`), and
//! `build_snapshot`, the one function that reads config + mappings from disk. It does not
//! watch files or swap snapshots (that is `reload`), nor connect to the store.

mod duration;
mod env;
mod raw;
mod settings;
mod sinks;

use std::collections::BTreeMap;

use std::path::Path;
use std::sync::Arc;

use sha2::{Digest, Sha256};

pub use self::env::Fallback;
pub use self::raw::{BackendConfig, FileConfig, LimitsConfig, SourceConfig, StoreConfig};
pub use self::settings::{
    parse_duration, Limits, Overrides, Settings, SourceSettings, StoreSettings, TokenDigest,
    DEFAULT_LISTEN,
};
pub use self::sinks::{
    DeliveryConfig, DeliverySettings, SinkConfig, SinkKind, SinkSettings, SinkTemplate,
    PAGERDUTY_URL,
};
use crate::mapping::{self, Mapping, MappingSet};
use crate::yaml::{self, CompileError, Errors};

/// A source ready to serve: its token digests and its compiled mapping.
#[derive(Debug, Clone)]
pub struct Source {
    pub id: String,
    pub tokens: Vec<TokenDigest>,
    pub mapping: Arc<Mapping>,
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
        match (&old.store, &new.store) {
            (StoreSettings::Redis(a), StoreSettings::Redis(b)) => {
                for (key, differs) in [
                    ("store.url", a.url != b.url),
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
        changed
    }

    /// Fallbacks taken for secrets (tokens): a demo secret must not go unnoticed.
    pub fn secret_fallbacks(&self) -> impl Iterator<Item = &Fallback> {
        self.env_fallbacks.iter().filter(|f| {
            f.path == "admin_token"
                || f.path.contains(".tokens[")
                || (f.path.starts_with("sinks.")
                    && (f.path.ends_with(".secret") || f.path.ends_with(".routing_key")))
        })
    }
}

/// Reads the config file and its mappings directory afresh and builds a snapshot, or
/// returns every problem found, each with its file, line:column and key.
pub fn build_snapshot(
    config_path: &Path,
    overrides: &Overrides,
) -> Result<Snapshot, Vec<CompileError>> {
    let text = yaml::read(config_path).map_err(|e| vec![e])?;
    let mut fallbacks = Vec::new();
    let lookup = |name: &str| std::env::var(name).ok();
    let raw: FileConfig = yaml::from_yaml_rewriting(config_path, &text, &mut |path, value| {
        env::expand(value, path, &lookup, &mut fallbacks)
    })?;
    let base = config_path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    // Resolved before the other checks so that one bad setting does not hide mapping errors.
    let mappings_dir = match &overrides.mappings_dir {
        Some(dir) => dir.clone(),
        None => base.join(
            raw.mappings_dir
                .as_deref()
                .unwrap_or(settings::DEFAULT_MAPPINGS_DIR),
        ),
    };
    let mut errors = Errors::new(config_path, &text);
    let settings = settings::check(raw, mappings_dir.clone(), overrides, &mut errors);
    let mut all = errors.list.split_off(0);
    let mappings = match mapping::load_dir(&mappings_dir) {
        Ok(set) => Some(set),
        Err(list) => {
            all.extend(list);
            None
        }
    };
    let (Some(settings), Some(mappings)) = (settings, mappings) else {
        return Err(all);
    };
    let mut sources = BTreeMap::new();
    for (id, source) in &settings.sources {
        if let Some(mapping) = mappings.get(&source.integration) {
            sources.insert(
                id.clone(),
                Source {
                    id: id.clone(),
                    tokens: source.tokens.clone(),
                    mapping: Arc::clone(mapping),
                },
            );
        } else {
            let mut known: Vec<&str> = mappings.by_integration.keys().map(String::as_str).collect();
            known.sort_unstable();
            errors.push(
                format!("sources.{id}.integration"),
                format!(
                    "no mapping in {} defines integration {:?} (known: {})",
                    settings.mappings_dir.display(),
                    source.integration,
                    known.join(", ")
                ),
            );
        }
    }
    all.extend(errors.list);
    if !all.is_empty() {
        return Err(all);
    }
    let mut hasher = Sha256::new();
    hasher.update(text.as_bytes());
    hasher.update([0]);
    hasher.update(mappings.digest);
    Ok(Snapshot {
        settings,
        sources,
        mappings,
        version: hex::encode(hasher.finalize()),
        loaded_at_ms: crate::clock::now_ms(),
        env_fallbacks: fallbacks,
    })
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
}
