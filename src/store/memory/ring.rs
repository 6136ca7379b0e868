//! The memory store's event ring: the newest `capacity` events, each numbered in order
//! (1, 2, …, never reused in the process), with a watch channel carrying the newest
//! number so that a reader (the delivery queue) can wait for the next event.

use std::collections::VecDeque;

use tokio::sync::watch;

#[derive(Debug)]
pub(super) struct SeqRing<T> {
    items: VecDeque<(u64, T)>,
    /// The number the last pushed item got (0: none yet).
    last: u64,
    newest: watch::Sender<u64>,
}

impl<T> Default for SeqRing<T> {
    fn default() -> Self {
        SeqRing {
            items: VecDeque::new(),
            last: 0,
            newest: watch::Sender::new(0),
        }
    }
}

impl<T: Clone> SeqRing<T> {
    /// Appends, dropping the oldest items beyond `capacity`; `0` keeps nothing (the number
    /// still advances, so readers see the gap).
    pub(super) fn push(&mut self, item: T, capacity: usize) {
        self.last += 1;
        if capacity > 0 {
            while self.items.len() >= capacity {
                self.items.pop_front();
            }
            self.items.push_back((self.last, item));
        }
        self.newest.send_replace(self.last);
    }

    /// The newest `limit` items, oldest first.
    pub(super) fn newest(&self, limit: usize) -> Vec<T> {
        let skip = self.items.len().saturating_sub(limit);
        self.items
            .iter()
            .skip(skip)
            .map(|(_, t)| t.clone())
            .collect()
    }

    /// Up to `limit` items numbered after `after`, oldest first.
    pub(super) fn after(&self, after: u64, limit: usize) -> Vec<(u64, T)> {
        let first = self.items.front().map_or(self.last + 1, |(n, _)| *n);
        let skip =
            usize::try_from(after.saturating_add(1).saturating_sub(first)).unwrap_or(usize::MAX);
        self.items.iter().skip(skip).take(limit).cloned().collect()
    }

    pub(super) fn last(&self) -> u64 {
        self.last
    }

    pub(super) fn subscribe(&self) -> watch::Receiver<u64> {
        self.newest.subscribe()
    }
}
