//! The memory store's event ring: the newest `cap` entries, each numbered by a sequence
//! that only grows (1, 2, 3…): its event id and its `events_after` cursor. A watch
//! channel carries the newest number, so that a reader (the delivery queue) can wait for
//! the next event.

use std::collections::VecDeque;

use tokio::sync::watch;

#[derive(Debug)]
pub(super) struct Ring<T> {
    items: VecDeque<(u64, T)>,
    /// The number the last pushed item got (0: none yet).
    last: u64,
    newest: watch::Sender<u64>,
}

impl<T> Default for Ring<T> {
    fn default() -> Self {
        Ring {
            items: VecDeque::new(),
            last: 0,
            newest: watch::Sender::new(0),
        }
    }
}

impl<T: Clone> Ring<T> {
    /// Numbers `item` and keeps it, dropping the oldest beyond `cap` (`0` keeps none: the
    /// number still advances, so readers see the gap).
    pub(super) fn push(&mut self, item: T, cap: usize) {
        self.last += 1;
        if cap > 0 {
            while self.items.len() >= cap {
                self.items.pop_front();
            }
            self.items.push_back((self.last, item));
        }
        self.newest.send_replace(self.last);
    }

    /// The number of the newest item so far (0: none).
    pub(super) fn last(&self) -> u64 {
        self.last
    }

    /// A receiver of the newest number, changed on every push.
    pub(super) fn subscribe(&self) -> watch::Receiver<u64> {
        self.newest.subscribe()
    }

    /// The newest `n`, oldest first.
    pub(super) fn newest(&self, n: usize) -> Vec<(u64, T)> {
        let skip = self.items.len().saturating_sub(n);
        self.items.iter().skip(skip).cloned().collect()
    }

    /// Up to `limit` entries numbered above `after`, oldest first, and the number to read
    /// on from. Numbers are consecutive in the ring, so the first is found by arithmetic.
    /// A number this ring has not reached reads on from its end.
    pub(super) fn after(&self, after: u64, limit: usize) -> (Vec<(u64, T)>, u64) {
        let first = self.items.front().map_or(0, |e| e.0);
        let skip = usize::try_from((after + 1).saturating_sub(first)).unwrap_or(usize::MAX);
        let found: Vec<(u64, T)> = self.items.iter().skip(skip).take(limit).cloned().collect();
        let next = found.last().map_or(after.min(self.last), |e| e.0);
        (found, next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn after_reads_on_from_a_cursor_and_skips_what_was_trimmed() {
        let mut ring = Ring::default();
        for n in 0..10 {
            ring.push(n, 4);
        }
        // Kept: 7..=10 (values 6..=9).
        let (found, next) = ring.after(0, 2);
        assert_eq!(found, vec![(7, 6), (8, 7)]);
        let (found, next) = ring.after(next, 10);
        assert_eq!((found.len(), next), (2, 10));
        assert_eq!(ring.after(next, 10), (vec![], 10));
        assert_eq!(ring.after(99, 10), (vec![], 10));
        assert_eq!(ring.newest(1), vec![(10, 9)]);
        assert_eq!(ring.last(), 10);
    }

    #[test]
    fn subscribers_see_every_push_even_when_nothing_is_kept() {
        let mut ring = Ring::default();
        let watch = ring.subscribe();
        ring.push(1, 0);
        assert_eq!(*watch.borrow(), 1);
        assert!(ring.after(0, 10).0.is_empty());
        assert_eq!(ring.last(), 1);
    }
}
