//! Per source, in this process only: accepted/rejected/ignored webhook counts and the
//! last `limits.recent_payloads` rejected or ignored payloads (`GET
//! /v1/sources/{id}/recent`), so a person can see what a sender really posts and try it
//! in the console's playground. Bodies are cut at `MAX_BODY`; the `token` query parameter
//! and the token, authorization and cookie headers are never kept.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};

use http::HeaderMap;
use serde::Serialize;

use crate::clock;
use crate::decode::{decode_component, TOKEN_PARAM};

/// Bytes of a body kept; the rest is dropped (`truncated: true`).
pub const MAX_BODY: usize = 8 * 1024;

/// Headers never kept: they carry secrets.
const SECRET_HEADERS: [&str; 4] = [
    "x-itoc360-token",
    "authorization",
    "cookie",
    "proxy-authorization",
];

/// One kept payload.
#[derive(Debug, Clone, Serialize)]
pub struct RecentPayload {
    #[serde(with = "clock::rfc3339_ms")]
    pub at: i64,
    pub method: String,
    pub content_type: Option<String>,
    /// The query string without its `token` parameter.
    pub query: String,
    pub headers: Vec<(String, String)>,
    /// The body as text (invalid UTF-8 replaced), at most `MAX_BODY` bytes.
    pub body: String,
    pub truncated: bool,
    /// `rejected` or `ignored`.
    pub outcome: &'static str,
    /// The error message, or the ignore's reason.
    pub reason: String,
}

/// What a webhook request looked like, taken before its body is read.
#[derive(Debug, Clone)]
pub struct Capture {
    method: String,
    content_type: Option<String>,
    query: String,
    headers: Vec<(String, String)>,
    body: bytes::Bytes,
}

impl Capture {
    pub fn of(method: &http::Method, query: Option<&str>, headers: &HeaderMap) -> Capture {
        Capture {
            method: method.to_string(),
            content_type: headers
                .get(http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            query: redact_query(query.unwrap_or("")),
            headers: headers
                .iter()
                .filter(|(name, _)| !SECRET_HEADERS.contains(&name.as_str()))
                .map(|(name, value)| {
                    let value = String::from_utf8_lossy(value.as_bytes());
                    (name.to_string(), value.chars().take(256).collect())
                })
                .take(32)
                .collect(),
            body: bytes::Bytes::new(),
        }
    }

    pub fn set_body(&mut self, body: bytes::Bytes) {
        self.body = body;
    }
}

/// The query string without any `token` parameter.
pub fn redact_query(query: &str) -> String {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .filter(|p| {
            let key = p.split_once('=').map_or(*p, |(k, _)| k);
            decode_component(key).as_deref() != Some(TOKEN_PARAM)
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// Counts and payloads of one source.
#[derive(Debug, Default, Clone, Serialize)]
pub struct SourceLog {
    pub accepted: u64,
    pub rejected: u64,
    pub ignored: u64,
    #[serde(skip)]
    pub payloads: VecDeque<RecentPayload>,
}

/// Every source's log.
#[derive(Debug, Default)]
pub struct Recent {
    sources: Mutex<HashMap<String, SourceLog>>,
}

impl Recent {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, SourceLog>> {
        self.sources.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts one webhook answer of a configured source: `status` 2xx is accepted.
    pub fn count(&self, source: &str, status: u16, ignored: bool) {
        let mut sources = self.lock();
        let log = sources.entry(source.to_owned()).or_default();
        if ignored {
            log.ignored += 1;
        } else if (200..300).contains(&status) {
            log.accepted += 1;
        } else {
            log.rejected += 1;
        }
    }

    /// Keeps a rejected or ignored payload, the oldest dropped beyond `keep`.
    pub fn keep(
        &self,
        source: &str,
        capture: Capture,
        outcome: &'static str,
        reason: String,
        keep: usize,
    ) {
        if keep == 0 {
            return;
        }
        let truncated = capture.body.len() > MAX_BODY;
        let mut cut = capture.body.len().min(MAX_BODY);
        // Cut on a character boundary when the body is UTF-8.
        if let Ok(text) = std::str::from_utf8(&capture.body) {
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
        }
        let payload = RecentPayload {
            at: clock::now_ms(),
            method: capture.method,
            content_type: capture.content_type,
            query: capture.query,
            headers: capture.headers,
            body: String::from_utf8_lossy(&capture.body[..cut]).into_owned(),
            truncated,
            outcome,
            reason: reason.chars().take(1024).collect(),
        };
        let mut sources = self.lock();
        let log = sources.entry(source.to_owned()).or_default();
        while log.payloads.len() >= keep {
            log.payloads.pop_front();
        }
        log.payloads.push_back(payload);
    }

    /// A source's counts and kept payloads, newest first.
    pub fn of(&self, source: &str) -> (SourceLog, Vec<RecentPayload>) {
        let sources = self.lock();
        let log = sources.get(source).cloned().unwrap_or_default();
        let payloads = log.payloads.iter().rev().cloned().collect();
        (log, payloads)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_parameter_is_dropped_from_queries() {
        assert_eq!(redact_query("a=1&token=s3cret&b=2"), "a=1&b=2");
        assert_eq!(redact_query("to%6Ben=s3cret"), "");
        assert_eq!(redact_query(""), "");
    }

    #[test]
    fn bodies_are_cut_and_the_oldest_dropped() {
        let recent = Recent::default();
        let mut headers = HeaderMap::new();
        headers.insert("x-itoc360-token", "s3cret".parse().expect("header"));
        headers.insert("content-type", "text/plain".parse().expect("header"));
        for n in 0..3 {
            let mut capture = Capture::of(&http::Method::POST, Some("token=s3cret"), &headers);
            capture.set_body(bytes::Bytes::from(format!("{n}{}", "é".repeat(MAX_BODY))));
            recent.keep("s", capture, "rejected", "bad".into(), 2);
        }
        let (_, payloads) = recent.of("s");
        assert_eq!(payloads.len(), 2);
        assert!(payloads[0].body.starts_with('2'));
        assert!(payloads[0].truncated && payloads[0].body.len() <= MAX_BODY);
        let text = serde_json::to_string(&payloads).expect("json");
        assert!(!text.contains("s3cret"), "{text}");
    }
}
