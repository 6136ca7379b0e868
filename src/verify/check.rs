//! A source's compiled `verify:` list, and the two points of the request path that run it.

use std::time::Duration;

use http::HeaderMap;

use super::field::{FieldEquals, FieldIn};
use super::signature::HmacSha256;
use crate::decode::{Payload, Shape};

/// One compiled check.
#[derive(Debug, Clone)]
pub enum Check {
    /// Over the raw body, before decoding.
    HmacSha256(HmacSha256),
    /// Over the decoded payload, before evaluation.
    FieldEquals(FieldEquals),
    FieldIn(FieldIn),
}

impl Check {
    /// The config key naming the check.
    pub fn kind(&self) -> &'static str {
        match self {
            Check::HmacSha256(_) => "hmac_sha256",
            Check::FieldEquals(_) => "field_equals",
            Check::FieldIn(_) => "field_in",
        }
    }

    /// Shorthand for an `hmac_sha256` check.
    pub fn hmac_sha256(
        header: &str,
        secret: &str,
        prefix: Option<&str>,
        timestamp_header: Option<&str>,
        max_age: Duration,
    ) -> Result<Check, String> {
        HmacSha256::new(header, secret, prefix, timestamp_header, max_age).map(Check::HmacSha256)
    }
}

/// Why a request failed verification: `verify[0] hmac_sha256: signature mismatch`.
/// Never carries a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("verify[{index}] {kind}: {reason}")]
pub struct Failure {
    pub index: usize,
    pub kind: &'static str,
    pub reason: String,
}

/// A source's checks, in config order (an empty list verifies nothing).
#[derive(Debug, Clone, Default)]
pub struct Verify {
    checks: Vec<Check>,
}

impl Verify {
    pub fn new(checks: Vec<Check>) -> Verify {
        Verify { checks }
    }

    pub fn is_empty(&self) -> bool {
        self.checks.is_empty()
    }

    /// The kinds of the checks, in order (for listings).
    pub fn kinds(&self) -> Vec<&'static str> {
        self.checks.iter().map(Check::kind).collect()
    }

    /// Whether any check reads the raw request (so the handler keeps the headers).
    pub fn reads_raw(&self) -> bool {
        self.checks
            .iter()
            .any(|c| matches!(c, Check::HmacSha256(_)))
    }

    /// What the field checks read of a payload, or `None` when there are none.
    pub fn reads(&self) -> Option<Shape> {
        self.checks.iter().fold(None, |acc, check| {
            let shape = match check {
                Check::FieldEquals(c) => c.reads(),
                Check::FieldIn(c) => c.reads(),
                Check::HmacSha256(_) => return acc,
            };
            Some(match acc {
                Some(acc) => Shape::union(acc, shape),
                None => shape,
            })
        })
    }

    /// The checks over the raw request: signatures over `body` (the bytes as received;
    /// empty for a GET). `now_secs` is the receive time, Unix seconds.
    pub fn check_raw(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now_secs: i64,
    ) -> Result<(), Failure> {
        for (index, check) in self.checks.iter().enumerate() {
            if let Check::HmacSha256(c) = check {
                c.check(headers, body, now_secs)
                    .map_err(|reason| failure(index, check, reason))?;
            }
        }
        Ok(())
    }

    /// The checks over the decoded payload.
    pub fn check_payload(&self, payload: &Payload) -> Result<(), Failure> {
        for (index, check) in self.checks.iter().enumerate() {
            let result = match check {
                Check::FieldEquals(c) => c.check(payload),
                Check::FieldIn(c) => c.check(payload),
                Check::HmacSha256(_) => Ok(()),
            };
            result.map_err(|reason| failure(index, check, reason))?;
        }
        Ok(())
    }
}

fn failure(index: usize, check: &Check, reason: String) -> Failure {
    Failure {
        index,
        kind: check.kind(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::DEFAULT_MAX_AGE;

    #[test]
    fn failures_name_the_index_and_kind_and_payload_checks_skip_signatures() {
        let verify = Verify::new(vec![
            Check::hmac_sha256("X-Sig", "s3cret", None, None, DEFAULT_MAX_AGE).expect("hmac"),
            Check::FieldIn(FieldIn::new("page.id", &["p1".into()]).expect("in")),
        ]);
        assert!(verify.reads_raw());
        assert_eq!(verify.kinds(), vec!["hmac_sha256", "field_in"]);
        let err = verify
            .check_raw(&HeaderMap::new(), b"{}", 0)
            .expect_err("no signature");
        assert_eq!(
            err.to_string(),
            "verify[0] hmac_sha256: missing header x-sig"
        );
        let payload = crate::decode::decode(
            br#"{"page":{"id":"p2"}}"#,
            None,
            crate::decode::DecodeMode::default(),
        )
        .expect("json");
        let err = verify.check_payload(&payload).expect_err("not allowed");
        assert_eq!(
            err.to_string(),
            "verify[1] field_in: field page.id is not an allowed value"
        );
        assert!(verify.reads().is_some_and(|s| s.reads_field("page")));
        assert!(Verify::default().reads().is_none());
    }
}
