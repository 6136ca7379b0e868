//! The one retry policy: capped exponential backoff with jitter; a `Retry-After` (on 429
//! and 503) wins over it.

use std::time::Duration;

/// The longest wait a `Retry-After` may ask for.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// The wait after failed attempt number `attempt` (1-based): `initial · 2^(attempt-1)`,
/// capped at `max`, then drawn uniformly from its upper half (jitter spreads replicas
/// and sinks that failed together).
pub fn backoff(attempt: u32, initial: Duration, max: Duration) -> Duration {
    let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(30));
    let full = initial.saturating_mul(factor).min(max);
    let half = full / 2;
    half + half.mul_f64(rand::random::<f64>())
}

/// A `Retry-After` header: delay-seconds (an HTTP date is not honoured: backoff applies).
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let secs: u64 = value.trim().parse().ok()?;
    Some(Duration::from_secs(secs).min(MAX_RETRY_AFTER))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_within_jitter_and_is_capped() {
        let (i, m) = (Duration::from_millis(100), Duration::from_secs(1));
        for _ in 0..50 {
            let d1 = backoff(1, i, m);
            assert!(
                d1 >= Duration::from_millis(50) && d1 <= Duration::from_millis(100),
                "{d1:?}"
            );
            let d3 = backoff(3, i, m);
            assert!(
                d3 >= Duration::from_millis(200) && d3 <= Duration::from_millis(400),
                "{d3:?}"
            );
            let d20 = backoff(20, i, m);
            assert!(d20 >= Duration::from_millis(500) && d20 <= m, "{d20:?}");
        }
    }

    #[test]
    fn retry_after_takes_seconds_only() {
        assert_eq!(parse_retry_after("7"), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after("99999"), Some(MAX_RETRY_AFTER));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }
}
