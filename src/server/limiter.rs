//! Per-source token buckets (`sources.{id}.rate_limit`), one set per replica.
//!
//! A bucket holds at most `burst` tokens and gains `per_second` a second; each request
//! takes one, whatever its size. An empty bucket gives the seconds until a token is back,
//! rounded up (`Retry-After`). A reload that changes a source's limit starts its bucket
//! afresh, full. Buckets live in this process only: N replicas accept up to N times the
//! rate.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use tokio::time::Instant;

use crate::config::RateLimit;

#[derive(Debug, Default)]
pub(super) struct RateLimiters {
    /// By source id; bounded by the configured sources (only they are asked for).
    buckets: Mutex<HashMap<String, Bucket>>,
}

#[derive(Debug)]
struct Bucket {
    limit: RateLimit,
    tokens: f64,
    at: Instant,
}

impl RateLimiters {
    /// Takes one token of `source`'s bucket; `Err(seconds)` until one is back when empty.
    pub(super) fn take(&self, source: &str, limit: RateLimit, now: Instant) -> Result<(), u64> {
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        let bucket = match buckets.get_mut(source) {
            Some(bucket) if bucket.limit == limit => bucket,
            _ => {
                let fresh = Bucket {
                    limit,
                    tokens: f64::from(limit.burst),
                    at: now,
                };
                buckets.insert(source.to_owned(), fresh);
                buckets.get_mut(source).ok_or(1_u64)?
            }
        };
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * limit.per_second).min(f64::from(limit.burst));
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait = ((1.0 - bucket.tokens) / limit.per_second).ceil();
            // Finite and positive: per_second > 0 and tokens < 1; the cast saturates.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            Err((wait as u64).max(1))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn burst_then_refill_and_retry_after_rounds_up() {
        let limiters = RateLimiters::default();
        let limit = RateLimit {
            per_second: 0.5,
            burst: 2,
        };
        let t0 = Instant::now();
        assert_eq!(limiters.take("sc", limit, t0), Ok(()));
        assert_eq!(limiters.take("sc", limit, t0), Ok(()));
        // Empty: a token every 2 s.
        assert_eq!(limiters.take("sc", limit, t0), Err(2));
        assert_eq!(
            limiters.take("sc", limit, t0 + Duration::from_millis(1500)),
            Err(1)
        );
        assert_eq!(
            limiters.take("sc", limit, t0 + Duration::from_secs(2)),
            Ok(())
        );
        // Another source has its own bucket.
        assert_eq!(limiters.take("sp", limit, t0), Ok(()));
        // A changed limit starts a full bucket.
        let more = RateLimit {
            per_second: 1.0,
            burst: 3,
        };
        for _ in 0..3 {
            assert_eq!(
                limiters.take("sc", more, t0 + Duration::from_secs(2)),
                Ok(())
            );
        }
        assert_eq!(
            limiters.take("sc", more, t0 + Duration::from_secs(2)),
            Err(1)
        );
    }
}
