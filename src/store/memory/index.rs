//! The memory store's listing indexes: incident ids by status, newest last.
//!
//! Owns paging order (newest first, below a cursor id) and nothing else: records and
//! eviction live in the parent module, which keeps these sets in step with them.

use std::collections::BTreeSet;

use crate::store::model::Status;

/// Incident ids of one status, newest last.
#[derive(Debug, Default)]
pub(super) struct StatusIndex {
    pub(super) open: BTreeSet<u64>,
    pub(super) resolved: BTreeSet<u64>,
}

impl StatusIndex {
    fn get(&self, status: Status) -> &BTreeSet<u64> {
        match status {
            Status::Open => &self.open,
            Status::Resolved => &self.resolved,
        }
    }

    pub(super) fn resolve(&mut self, id: u64) {
        self.open.remove(&id);
        self.resolved.insert(id);
    }

    /// Up to `n` ids below `below`, newest first, of one status or (`None`) both merged.
    pub(super) fn ids_below(&self, status: Option<Status>, below: u64, n: usize) -> Vec<u64> {
        if let Some(status) = status {
            take_newest(self.get(status).range(..below), n)
        } else {
            let mut ids = take_newest(self.open.range(..below), n);
            ids.extend(take_newest(self.resolved.range(..below), n));
            ids.sort_unstable_by(|a, b| b.cmp(a));
            ids.truncate(n);
            ids
        }
    }
}

fn take_newest<'a>(ids: impl DoubleEndedIterator<Item = &'a u64>, n: usize) -> Vec<u64> {
    ids.rev().take(n).copied().collect()
}

#[cfg(test)]
mod tests;
