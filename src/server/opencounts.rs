//! What `max_open` (openlimit.rs) remembers between requests: per source, the open count
//! this replica last read, moved by the steps it applied since.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::store::Transition;

/// A count read less than this long ago may spare a request reading it again.
const FRESH: Duration = Duration::from_secs(1);

/// Per source: the open count this replica last read, moved by the steps it applied
/// since, and when it was read.
#[derive(Debug, Default)]
pub(super) struct OpenCounts(Mutex<HashMap<String, (u64, Instant)>>);

impl OpenCounts {
    /// The remembered count when fresh and far enough below `max_open` that `opens` more
    /// opens cannot reach it before the next read.
    pub(super) fn far_below(&self, source: &str, max_open: u64, opens: u64) -> bool {
        if max_open <= 10 {
            return false;
        }
        let margin = max_open / 10;
        let counts = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        counts.get(source).is_some_and(|(n, at)| {
            at.elapsed() < FRESH && n.saturating_add(margin).saturating_add(opens) < max_open
        })
    }

    pub(super) fn remember(&self, source: &str, n: u64) {
        let mut counts = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        counts.insert(source.to_owned(), (n, Instant::now()));
    }

    pub(super) fn moved(&self, source: &str, transition: Transition) {
        let mut counts = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((n, _)) = counts.get_mut(source) {
            match transition {
                Transition::Opened => *n = n.saturating_add(1),
                Transition::Resolved => *n = n.saturating_sub(1),
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_fresh_count_well_below_the_cap_spares_a_read() {
        let counts = OpenCounts::default();
        assert!(!counts.far_below("sc", 1_000, 0), "nothing read yet");
        counts.remember("sc", 899);
        assert!(counts.far_below("sc", 1_000, 0));
        counts.moved("sc", Transition::Opened);
        assert!(
            !counts.far_below("sc", 1_000, 0),
            "900 + a 10 % margin reaches the cap"
        );
        counts.moved("sc", Transition::Resolved);
        counts.moved("sc", Transition::Updated);
        assert!(counts.far_below("sc", 1_000, 0));
        assert!(!counts.far_below("other", 1_000, 0));
        assert!(
            !counts.far_below("sc", 1_000, 1),
            "one more open would reach 900"
        );
        counts.remember("small", 0);
        assert!(
            !counts.far_below("small", 10, 0),
            "a cap of 10 or less reads every time"
        );
        let stale = OpenCounts(Mutex::new(HashMap::from([(
            "sc".to_owned(),
            (
                0,
                Instant::now()
                    .checked_sub(FRESH * 2)
                    .expect("an earlier instant"),
            ),
        )])));
        assert!(
            !stale.far_below("sc", 1_000, 0),
            "a count older than a second is read again"
        );
    }
}
