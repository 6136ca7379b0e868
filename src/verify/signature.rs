//! `hmac_sha256`: a MAC over the raw body (or `timestamp:body`), hex in a header.
//!
//! Grafana Alerting's webhook contact point signs this way: HMAC-SHA256 keyed with the
//! secret's UTF-8 bytes over the raw body, lower-case hex, bare, in
//! `X-Grafana-Alerting-Signature`; with a timestamp header configured it sends Unix
//! seconds there and signs `{timestamp}:{body}`. GitHub's `X-Hub-Signature-256` is the
//! same MAC over the body with a `sha256=` prefix.

use std::fmt;
use std::time::Duration;

use hmac::{Hmac, Mac};
use http::HeaderMap;
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// Default `max_age` of a signed timestamp.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(300);

/// A compiled `hmac_sha256` check. `Debug` never shows the secret.
#[derive(Clone)]
pub struct HmacSha256 {
    header: http::HeaderName,
    key: Vec<u8>,
    prefix: Option<String>,
    timestamp_header: Option<http::HeaderName>,
    max_age: Duration,
}

impl fmt::Debug for HmacSha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HmacSha256")
            .field("header", &self.header)
            .field("key", &"…")
            .field("prefix", &self.prefix)
            .field("timestamp_header", &self.timestamp_header)
            .field("max_age", &self.max_age)
            .finish()
    }
}

impl HmacSha256 {
    /// Checks the names and the secret; the error says which part is wrong.
    pub fn new(
        header: &str,
        secret: &str,
        prefix: Option<&str>,
        timestamp_header: Option<&str>,
        max_age: Duration,
    ) -> Result<HmacSha256, String> {
        let name = |text: &str, what: &str| {
            http::HeaderName::from_bytes(text.as_bytes())
                .map_err(|_| format!("{what} {text:?} is not a header name"))
        };
        if secret.is_empty() {
            return Err("secret must not be empty".into());
        }
        if max_age.is_zero() {
            return Err("max_age must be positive".into());
        }
        Ok(HmacSha256 {
            header: name(header, "header")?,
            key: secret.as_bytes().to_vec(),
            prefix: prefix.filter(|p| !p.is_empty()).map(str::to_owned),
            timestamp_header: timestamp_header
                .map(|t| name(t, "timestamp_header"))
                .transpose()?,
            max_age,
        })
    }

    /// Checks the signature over `body`; `now_secs` is the receive time (Unix seconds).
    /// The error is the reason, without the secret or the expected MAC.
    pub fn check(&self, headers: &HeaderMap, body: &[u8], now_secs: i64) -> Result<(), String> {
        let presented = headers
            .get(&self.header)
            .ok_or_else(|| format!("missing header {}", self.header))?;
        let presented = presented
            .to_str()
            .map_err(|_| format!("header {} is not ASCII", self.header))?
            .trim();
        let hex_text = match &self.prefix {
            Some(prefix) => presented
                .strip_prefix(prefix.as_str())
                .ok_or_else(|| format!("header {} lacks the prefix {prefix:?}", self.header))?,
            None => presented,
        };
        let presented = hex::decode(hex_text)
            .map_err(|_| format!("header {} is not a hex signature", self.header))?;
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key)
            .map_err(|_| "the secret cannot key an HMAC".to_owned())?;
        if let Some(ts_header) = &self.timestamp_header {
            let ts = headers
                .get(ts_header)
                .ok_or_else(|| format!("missing header {ts_header}"))?
                .to_str()
                .map_err(|_| format!("header {ts_header} is not ASCII"))?
                .trim();
            let secs: i64 = ts
                .parse()
                .map_err(|_| format!("header {ts_header} is not Unix seconds"))?;
            let age = now_secs.saturating_sub(secs).unsigned_abs();
            if age > self.max_age.as_secs() {
                return Err(format!(
                    "timestamp in {ts_header} is {age}s away from now (max_age {}s)",
                    self.max_age.as_secs()
                ));
            }
            mac.update(ts.as_bytes());
            mac.update(b":");
        }
        mac.update(body);
        let expected = mac.finalize().into_bytes();
        // Lengths are public (32 bytes); the contents are compared in constant time.
        if bool::from(expected.as_slice().ct_eq(presented.as_slice())) {
            Ok(())
        } else {
            Err("signature mismatch".into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "grafana-shared-secret";
    const NOW: i64 = 1_750_000_000;

    fn sign(message: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).expect("key");
        mac.update(message);
        hex::encode(mac.finalize().into_bytes())
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(
                http::HeaderName::from_bytes(k.as_bytes()).expect("name"),
                v.parse().expect("value"),
            );
        }
        map
    }

    fn grafana(timestamp: bool) -> HmacSha256 {
        HmacSha256::new(
            "X-Grafana-Alerting-Signature",
            SECRET,
            None,
            timestamp.then_some("X-Grafana-Alerting-Signature-Timestamp"),
            DEFAULT_MAX_AGE,
        )
        .expect("valid")
    }

    #[test]
    fn body_signature_good_bad_and_missing() {
        let body = br#"{"status":"firing"}"#;
        let check = grafana(false);
        let good = headers(&[("x-grafana-alerting-signature", &sign(body))]);
        assert_eq!(check.check(&good, body, NOW), Ok(()));
        // Upper-case hex is the same signature.
        let upper = headers(&[("x-grafana-alerting-signature", &sign(body).to_uppercase())]);
        assert_eq!(check.check(&upper, body, NOW), Ok(()));
        let err = check.check(&good, br#"{"status":"resolved"}"#, NOW);
        assert_eq!(err, Err("signature mismatch".into()));
        let err = check
            .check(&HeaderMap::new(), body, NOW)
            .expect_err("missing");
        assert_eq!(err, "missing header x-grafana-alerting-signature");
        let err = check
            .check(
                &headers(&[("x-grafana-alerting-signature", "zz")]),
                body,
                NOW,
            )
            .expect_err("not hex");
        assert!(err.contains("not a hex signature"), "{err}");
        assert!(!err.contains(SECRET));
    }

    #[test]
    fn timestamp_is_signed_and_bounded_by_max_age() {
        let body = b"{}";
        let check = grafana(true);
        let ts = NOW.to_string();
        let signed = sign(format!("{ts}:{{}}").as_bytes());
        let good = headers(&[
            ("x-grafana-alerting-signature", &signed),
            ("x-grafana-alerting-signature-timestamp", &ts),
        ]);
        assert_eq!(check.check(&good, body, NOW), Ok(()));
        assert_eq!(check.check(&good, body, NOW + 299), Ok(()));
        let stale = check.check(&good, body, NOW + 301).expect_err("stale");
        assert!(stale.contains("max_age 300s"), "{stale}");
        let future = check.check(&good, body, NOW - 301).expect_err("future");
        assert!(future.contains("away from now"), "{future}");
        // The body alone, without the timestamp, is not what is signed.
        let body_only = headers(&[
            ("x-grafana-alerting-signature", &sign(body)),
            ("x-grafana-alerting-signature-timestamp", &ts),
        ]);
        assert_eq!(
            check.check(&body_only, body, NOW),
            Err("signature mismatch".into())
        );
        let no_ts = headers(&[("x-grafana-alerting-signature", &signed)]);
        assert_eq!(
            check.check(&no_ts, body, NOW),
            Err("missing header x-grafana-alerting-signature-timestamp".into())
        );
        let bad_ts = headers(&[
            ("x-grafana-alerting-signature", &signed),
            ("x-grafana-alerting-signature-timestamp", "yesterday"),
        ]);
        assert!(check
            .check(&bad_ts, body, NOW)
            .expect_err("bad ts")
            .contains("not Unix seconds"));
    }

    #[test]
    fn github_style_prefix_is_required_when_configured() {
        let body = b"payload";
        let check = HmacSha256::new(
            "X-Hub-Signature-256",
            SECRET,
            Some("sha256="),
            None,
            DEFAULT_MAX_AGE,
        )
        .expect("valid");
        let good = headers(&[("x-hub-signature-256", &format!("sha256={}", sign(body)))]);
        assert_eq!(check.check(&good, body, NOW), Ok(()));
        let bare = headers(&[("x-hub-signature-256", &sign(body))]);
        let err = check.check(&bare, body, NOW).expect_err("no prefix");
        assert!(err.contains("lacks the prefix \"sha256=\""), "{err}");
    }

    #[test]
    fn bad_settings_are_refused_and_debug_hides_the_secret() {
        assert!(HmacSha256::new("bad header", SECRET, None, None, DEFAULT_MAX_AGE).is_err());
        assert!(HmacSha256::new("X-Sig", "", None, None, DEFAULT_MAX_AGE).is_err());
        assert!(HmacSha256::new("X-Sig", SECRET, None, None, Duration::ZERO).is_err());
        let text = format!("{:?}", grafana(true));
        assert!(!text.contains(SECRET), "{text}");
    }
}
