//! The bounds of `limits.*`, a source's `rate_limit` and `max_open`, and `log_format`:
//! their defaults and their checks (the rest of the settings are `settings`').

use std::time::Duration;

use super::admin_tokens::DEFAULT_RECENT_PAYLOADS;
use super::raw::{FileConfig, SourceConfig};
use crate::yaml::Errors;

pub const DEFAULT_MAX_BODY_BYTES: u64 = 1024 * 1024;
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(25);
pub const DEFAULT_MAX_PAGE_SIZE: usize = 500;
pub const DEFAULT_SHUTDOWN_DELAY: Duration = Duration::ZERO;
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
pub const DEFAULT_MAX_FINGERPRINT_BYTES: usize = 1024;
pub const DEFAULT_MAX_TITLE_BYTES: usize = 1024;
pub const DEFAULT_MAX_LABEL_BYTES: usize = 1024;
pub const DEFAULT_MAX_LABELS: usize = 64;
pub const DEFAULT_MAX_OPEN: u64 = 100_000;
pub const DEFAULT_MAX_ITEMS_PER_PAYLOAD: usize = 1000;

/// The largest `limits.max_page_size`: a page is built in memory at once.
pub const MAX_PAGE_SIZE_BOUND: usize = 10_000;

/// How log lines are written to stderr.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

impl LogFormat {
    pub fn parse(text: &str) -> Option<LogFormat> {
        match text.trim() {
            "text" => Some(LogFormat::Text),
            "json" => Some(LogFormat::Json),
            _ => None,
        }
    }
}

/// A source's token bucket (`sources.{id}.rate_limit`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Tokens added per second, > 0.
    pub per_second: f64,
    /// Bucket size, >= 1.
    pub burst: u32,
}

// `per_second` is checked finite and positive, so equality is total on what we build.
impl Eq for RateLimit {}

/// Bounds, all with defaults; each can change on reload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_body_bytes: u64,
    pub header_read_timeout: Duration,
    pub request_timeout: Duration,
    pub shutdown_grace: Duration,
    pub max_page_size: usize,
    /// Time `/-/ready` answers 503 after SIGTERM before the listener closes; may be zero.
    pub shutdown_delay: Duration,
    /// Connections open at once (restart needed).
    pub max_connections: usize,
    pub max_fingerprint_bytes: usize,
    pub max_title_bytes: usize,
    pub max_label_bytes: usize,
    pub max_labels: usize,
    pub max_items_per_payload: usize,
    /// Rejected or ignored payloads kept per source for the console (`0`: none).
    pub recent_payloads: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
            max_page_size: DEFAULT_MAX_PAGE_SIZE,
            shutdown_delay: DEFAULT_SHUTDOWN_DELAY,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_fingerprint_bytes: DEFAULT_MAX_FINGERPRINT_BYTES,
            max_title_bytes: DEFAULT_MAX_TITLE_BYTES,
            max_label_bytes: DEFAULT_MAX_LABEL_BYTES,
            max_labels: DEFAULT_MAX_LABELS,
            max_items_per_payload: DEFAULT_MAX_ITEMS_PER_PAYLOAD,
            recent_payloads: DEFAULT_RECENT_PAYLOADS,
        }
    }
}

/// `sources.{id}.rate_limit` and `.max_open`.
pub(super) fn check_source_limits(
    path: &str,
    source: &SourceConfig,
    errors: &mut Errors<'_>,
) -> (Option<RateLimit>, u64) {
    let max_open = source.max_open.unwrap_or(DEFAULT_MAX_OPEN);
    if max_open == 0 {
        errors.push(format!("{path}.max_open"), "must be at least 1");
    }
    let rate_limit = source.rate_limit.and_then(|r| {
        if !(r.per_second.is_finite() && r.per_second > 0.0) {
            errors.push(
                format!("{path}.rate_limit.per_second"),
                "must be a positive number",
            );
            return None;
        }
        // One second's worth by default; the float→int cast saturates.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let burst = r.burst.unwrap_or(r.per_second.ceil().max(1.0) as u32);
        if burst == 0 {
            errors.push(format!("{path}.rate_limit.burst"), "must be at least 1");
            return None;
        }
        Some(RateLimit {
            per_second: r.per_second,
            burst,
        })
    });
    (rate_limit, max_open)
}

pub(super) fn check_limits(raw: &FileConfig, errors: &mut Errors<'_>) -> Option<Limits> {
    let l = &raw.limits;
    let mut ok = true;
    let mut duration = |key: &str, text: &Option<String>, default: Duration| match text {
        None => default,
        Some(text) => match parse_duration(text) {
            Some(d) if !d.is_zero() => d,
            _ => {
                ok = false;
                errors.push(
                    format!("limits.{key}"),
                    format!("invalid duration {text:?}: expected a positive number with ms, s, m, h or d, like 10s"),
                );
                default
            }
        },
    };
    let limits = Limits {
        header_read_timeout: duration(
            "header_read_timeout",
            &l.header_read_timeout,
            DEFAULT_HEADER_READ_TIMEOUT,
        ),
        request_timeout: duration(
            "request_timeout",
            &l.request_timeout,
            DEFAULT_REQUEST_TIMEOUT,
        ),
        shutdown_grace: duration("shutdown_grace", &l.shutdown_grace, DEFAULT_SHUTDOWN_GRACE),
        max_body_bytes: l.max_body_bytes.unwrap_or(DEFAULT_MAX_BODY_BYTES),
        max_page_size: l.max_page_size.unwrap_or(DEFAULT_MAX_PAGE_SIZE),
        // Zero is the default here: no delay.
        shutdown_delay: match &l.shutdown_delay {
            None => DEFAULT_SHUTDOWN_DELAY,
            Some(text) => parse_duration(text).unwrap_or_else(|| {
                ok = false;
                errors.push(
                    "limits.shutdown_delay",
                    format!("invalid duration {text:?}: expected a number with ms, s, m, h or d, like 5s"),
                );
                DEFAULT_SHUTDOWN_DELAY
            }),
        },
        max_connections: l.max_connections.unwrap_or(DEFAULT_MAX_CONNECTIONS),
        max_fingerprint_bytes: l
            .max_fingerprint_bytes
            .unwrap_or(DEFAULT_MAX_FINGERPRINT_BYTES),
        max_title_bytes: l.max_title_bytes.unwrap_or(DEFAULT_MAX_TITLE_BYTES),
        max_label_bytes: l.max_label_bytes.unwrap_or(DEFAULT_MAX_LABEL_BYTES),
        max_labels: l.max_labels.unwrap_or(DEFAULT_MAX_LABELS),
        max_items_per_payload: l
            .max_items_per_payload
            .unwrap_or(DEFAULT_MAX_ITEMS_PER_PAYLOAD),
        recent_payloads: l.recent_payloads.unwrap_or(DEFAULT_RECENT_PAYLOADS),
    };
    for (key, value) in [
        ("max_connections", limits.max_connections),
        ("max_fingerprint_bytes", limits.max_fingerprint_bytes),
        ("max_title_bytes", limits.max_title_bytes),
        ("max_label_bytes", limits.max_label_bytes),
    ] {
        if value == 0 {
            ok = false;
            errors.push(format!("limits.{key}"), "must be at least 1");
        }
    }
    if limits.max_body_bytes == 0 {
        ok = false;
        errors.push("limits.max_body_bytes", "must be at least 1");
    }
    if limits.max_page_size == 0 || limits.max_page_size > MAX_PAGE_SIZE_BOUND {
        ok = false;
        errors.push(
            "limits.max_page_size",
            format!("must be from 1 to {MAX_PAGE_SIZE_BOUND}"),
        );
    }
    if limits.max_items_per_payload == 0 {
        ok = false;
        errors.push("limits.max_items_per_payload", "must be at least 1");
    }
    ok.then_some(limits)
}

/// `500ms`, `10s`, `2m`, `1h`, `7d` → a duration.
pub fn parse_duration(text: &str) -> Option<Duration> {
    crate::clock::parse_duration(text)
}
