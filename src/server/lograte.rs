//! Bounded logging of client errors: a flood of bad requests must not flood the log.
//!
//! Per (source, code), the first 4xx of each interval is logged; the others are only
//! counted (`alertgate_client_errors_total` counts them all), and the next line logged
//! for that pair says how many were left out. 5xx and store faults are not limited.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

/// How often each (source, code) pair may log a line.
pub const CLIENT_ERROR_LOG_INTERVAL: Duration = Duration::from_secs(10);

#[derive(Debug, Default)]
pub(super) struct LogLimiter {
    /// code → source → window. Bounded: codes are constants, sources the configured ones
    /// plus `_unknown` and `_api`.
    windows: Mutex<HashMap<&'static str, HashMap<String, Window>>>,
}

#[derive(Debug)]
struct Window {
    started: Instant,
    suppressed: u64,
}

impl LogLimiter {
    /// `Some(n)`: log this one, `n` lines were left out since the last logged; `None`:
    /// leave it out.
    pub(super) fn admit(&self, source: &str, code: &'static str, now: Instant) -> Option<u64> {
        let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        let by_source = windows.entry(code).or_default();
        match by_source.get_mut(source) {
            Some(w) if now.saturating_duration_since(w.started) < CLIENT_ERROR_LOG_INTERVAL => {
                w.suppressed += 1;
                None
            }
            Some(w) => {
                let suppressed = std::mem::take(&mut w.suppressed);
                w.started = now;
                Some(suppressed)
            }
            None => {
                by_source.insert(
                    source.to_owned(),
                    Window {
                        started: now,
                        suppressed: 0,
                    },
                );
                Some(0)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_per_interval_is_logged_then_the_count_left_out() {
        let limiter = LogLimiter::default();
        let t0 = Instant::now();
        assert_eq!(limiter.admit("sc", "malformed_body", t0), Some(0));
        for _ in 0..5 {
            assert_eq!(limiter.admit("sc", "malformed_body", t0), None);
        }
        assert_eq!(limiter.admit("sc", "unauthorized", t0), Some(0));
        assert_eq!(limiter.admit("sp", "malformed_body", t0), Some(0));
        let later = t0 + CLIENT_ERROR_LOG_INTERVAL;
        assert_eq!(limiter.admit("sc", "malformed_body", later), Some(5));
        assert_eq!(limiter.admit("sc", "malformed_body", later), None);
    }
}
