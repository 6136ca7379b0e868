//! `store.spool`: checked into `SpoolSettings` (redis only), and byte sizes (`512MiB`).

use std::path::Path;

use super::raw::{BackendConfig, ByteSize, StoreConfig};
use super::settings::Overrides;
use crate::spool::SpoolSettings;
use crate::yaml::Errors;

/// `store.spool.max_bytes` when not given.
pub const DEFAULT_SPOOL_MAX_BYTES: u64 = 256 * 1024 * 1024;
/// The smallest spool accepted: a few records.
pub const MIN_SPOOL_BYTES: u64 = 1024;

/// Checks `store.spool`; `base` is the config file's folder. `None` when there is no
/// spool or it is in error (the error is pushed).
pub(crate) fn check(
    store: &StoreConfig,
    overrides: &Overrides,
    base: &Path,
    errors: &mut Errors<'_>,
) -> Option<SpoolSettings> {
    let spool = store.spool.as_ref()?;
    let redis = overrides.redis_url.is_some() || store.backend == BackendConfig::Redis;
    if !redis {
        errors.push(
            "store.spool",
            "only used by the redis backend (the memory store is never unavailable): set \
             `backend: redis` or remove it",
        );
        return None;
    }
    if spool.dir.trim().is_empty() {
        errors.push("store.spool.dir", "must not be empty");
        return None;
    }
    let max_bytes = match &spool.max_bytes {
        None => DEFAULT_SPOOL_MAX_BYTES,
        Some(size) => {
            let parsed = match size {
                ByteSize::Bytes(n) => Some(*n),
                ByteSize::Text(text) => parse_size(text),
            };
            match parsed {
                Some(n) if n >= MIN_SPOOL_BYTES => n,
                _ => {
                    let shown = match size {
                        ByteSize::Bytes(n) => n.to_string(),
                        ByteSize::Text(t) => format!("{t:?}"),
                    };
                    errors.push(
                        "store.spool.max_bytes",
                        format!(
                            "invalid size {shown}: expected at least 1KiB, as a number with \
                             B, KB, MB, GB, KiB, MiB or GiB, like 512MiB"
                        ),
                    );
                    return None;
                }
            }
        }
    };
    Some(SpoolSettings {
        dir: base.join(&spool.dir),
        max_bytes,
    })
}

/// `4096`, `512B`, `64KB`, `512MiB`, `2GiB` → bytes. KB/MB/GB are powers of 1000,
/// KiB/MiB/GiB powers of 1024; a space before the unit is allowed.
pub fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().ok()?;
    let factor: u64 = match unit.trim() {
        "" | "B" => 1,
        "KB" => 1000,
        "MB" => 1000 * 1000,
        "GB" => 1000 * 1000 * 1000,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_take_decimal_and_binary_units() {
        assert_eq!(parse_size("4096"), Some(4096));
        assert_eq!(parse_size("512B"), Some(512));
        assert_eq!(parse_size("64KB"), Some(64_000));
        assert_eq!(parse_size("2 MB"), Some(2_000_000));
        assert_eq!(parse_size("1GB"), Some(1_000_000_000));
        assert_eq!(parse_size("1KiB"), Some(1024));
        assert_eq!(parse_size("512MiB"), Some(512 * 1024 * 1024));
        assert_eq!(parse_size("2GiB"), Some(2 * 1024 * 1024 * 1024));
        for bad in ["", "MiB", "1.5MiB", "-1KB", "10mb", "1TiB", "12 parsecs"] {
            assert_eq!(parse_size(bad), None, "{bad}");
        }
        assert_eq!(parse_size(&format!("{}GiB", u64::MAX)), None);
    }
}
