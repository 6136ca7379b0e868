//! Wall-clock time as Unix milliseconds, and its RFC 3339 wire form.

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Now, as Unix milliseconds.
pub fn now_ms() -> i64 {
    let now = OffsetDateTime::now_utc();
    i64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// Parses an RFC 3339 time (any offset) into Unix milliseconds.
pub fn parse_rfc3339_ms(text: &str) -> Option<i64> {
    let t = OffsetDateTime::parse(text, &Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

/// Formats Unix milliseconds as RFC 3339 in UTC (`2024-06-03T10:15:00.112Z`).
pub fn format_rfc3339_ms(ms: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| ms.to_string())
}

/// `500ms`, `10s`, `2m`, `1h`, `7d` → a duration.
pub fn parse_duration(text: &str) -> Option<std::time::Duration> {
    use std::time::Duration;
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().ok()?;
    match unit.trim() {
        "ms" => Some(Duration::from_millis(n)),
        "s" => Some(Duration::from_secs(n)),
        "m" => n.checked_mul(60).map(Duration::from_secs),
        "h" => n.checked_mul(3600).map(Duration::from_secs),
        "d" => n.checked_mul(24 * 3600).map(Duration::from_secs),
        _ => None,
    }
}

/// `#[serde(with)]` helper: Unix milliseconds ⇄ RFC 3339.
pub mod rfc3339_ms {
    use serde::Serializer;

    pub fn serialize<S: Serializer>(ms: &i64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format_rfc3339_ms(*ms))
    }
}

/// `#[serde(with)]` helper: optional Unix milliseconds ⇄ RFC 3339 or null.
pub mod rfc3339_ms_opt {
    use serde::Serializer;

    pub fn serialize<S: Serializer>(ms: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
        match ms {
            Some(ms) => s.serialize_str(&super::format_rfc3339_ms(*ms)),
            None => s.serialize_none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trips_with_offset() {
        let ms = parse_rfc3339_ms("2013-05-29T15:08:51-06:00").expect("valid time");
        assert_eq!(format_rfc3339_ms(ms), "2013-05-29T21:08:51Z");
        assert_eq!(
            parse_rfc3339_ms("2024-06-03T10:15:00.112Z"),
            Some(1_717_409_700_112)
        );
        assert_eq!(parse_rfc3339_ms("yesterday"), None);
    }
}
