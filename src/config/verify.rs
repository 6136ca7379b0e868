//! `sources.{id}.verify` → a compiled `crate::verify::Verify`, every problem placed.

use super::raw::VerifyConfig;
use super::settings::parse_duration;
use crate::verify::{Check, FieldEquals, FieldIn, Verify, DEFAULT_MAX_AGE};
use crate::yaml::Errors;

/// Compiles a source's `verify:` list; `path` is its YAML path (`sources.grafana.verify`).
/// Problems go to `errors`; the checks that compiled are returned either way.
pub(crate) fn compile(list: &[VerifyConfig], path: &str, errors: &mut Errors<'_>) -> Verify {
    let mut checks = Vec::new();
    for (i, entry) in list.iter().enumerate() {
        let at = format!("{path}[{i}]");
        let set = usize::from(entry.hmac_sha256.is_some())
            + usize::from(entry.field_equals.is_some())
            + usize::from(entry.field_in.is_some());
        if set != 1 {
            errors.push(
                at,
                "each verify entry is exactly one of hmac_sha256, field_equals, field_in",
            );
            continue;
        }
        let (key, result) = if let Some(h) = &entry.hmac_sha256 {
            let max_age = match &h.max_age {
                None => Ok(DEFAULT_MAX_AGE),
                Some(text) => parse_duration(text).filter(|d| !d.is_zero()).ok_or_else(|| {
                    format!("max_age: invalid duration {text:?}: expected a positive number with ms, s, m, h or d, like 5m")
                }),
            };
            let check = max_age.and_then(|max_age| {
                Check::hmac_sha256(
                    &h.header,
                    &h.secret,
                    h.prefix.as_deref(),
                    h.timestamp_header.as_deref(),
                    max_age,
                )
            });
            ("hmac_sha256", check)
        } else if let Some(f) = &entry.field_equals {
            (
                "field_equals",
                FieldEquals::new(&f.field, &f.secret).map(Check::FieldEquals),
            )
        } else if let Some(f) = &entry.field_in {
            (
                "field_in",
                FieldIn::new(&f.field, &f.values).map(Check::FieldIn),
            )
        } else {
            continue;
        };
        match result {
            Ok(check) => checks.push(check),
            Err(message) => errors.push(format!("{at}.{key}"), message),
        }
    }
    Verify::new(checks)
}
