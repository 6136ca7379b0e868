//! Every Redis key name, built in this one place (`apply.lua` mirrors it).

use sha2::{Digest, Sha256};

/// Where `apply.lua` caps the stream (`MAXLEN ~`) whatever `event_stream_len` says: a last
/// resort. The delivery task trims to `event_stream_len`, but never past an entry a sink
/// has not acknowledged; only a sink more than this many events behind loses entries.
pub const STREAM_HARD_CAP: usize = 1_000_000;

/// Bound on each dead-letter stream (`MAXLEN ~`).
pub const DEAD_LETTER_CAP: usize = 10_000;

/// Every Redis key name, built in this one place; `apply.lua` mirrors it.
///
/// Under prefix `P` (used verbatim):
/// - `P fp:{sha256hex}` hash `{open, ts}` per (source, fingerprint): the open incident id
///   and the last applied `event_time`; no TTL while an incident is open, `resolved_ttl`
///   from a resolve (or a resolve with nothing open). Hashed so any fingerprint length makes a short key;
///   the digest covers the source's length, the source, then the fingerprint, so no two
///   pairs share an input.
/// - `P seq` counter: `INCR` makes each new incident id.
/// - `P inc:{id}` hash of the incident's fields (`labels` as a JSON object string; absent
///   `priority`, `title`, `resolved_at` are absent fields); expires `resolved_ttl` after
///   its resolve. Listings skip ids whose hash is gone and `ZREM` them from `ids:*`.
/// - `P ids:{source}` sorted set of one source's incident ids, scored -id while open and
///   +id once resolved: a resolve is one ZADD (score update), and each status is one score
///   range, read newest first. Listings without a source merge every source's. (Named
///   apart from the `idx:*` sets of earlier versions, whose scores mean something else.)
/// - `P sources` set of every source that has opened an incident (whose indexes to merge).
/// - `P events` stream: one entry per incident-changing transition, fields `transition`,
///   `at`, then the incident's hash fields.
#[derive(Debug, Clone)]
pub(super) struct Keys {
    pub(super) prefix: String,
}

impl Keys {
    pub(super) fn new(prefix: String) -> Keys {
        Keys { prefix }
    }

    pub(super) fn fingerprint(&self, source: &str, fingerprint: &str) -> String {
        let mut digest = Sha256::new();
        digest.update((source.len() as u64).to_be_bytes());
        digest.update(source.as_bytes());
        digest.update(fingerprint.as_bytes());
        format!("{}fp:{}", self.prefix, hex::encode(digest.finalize()))
    }

    pub(super) fn incident(&self, id: u64) -> String {
        format!("{}inc:{id}", self.prefix)
    }

    pub(super) fn index(&self, source: &str) -> String {
        format!("{}ids:{source}", self.prefix)
    }

    pub(super) fn sources(&self) -> String {
        format!("{}sources", self.prefix)
    }

    pub(super) fn seq(&self) -> String {
        format!("{}seq", self.prefix)
    }

    /// `P dead:{sink}` stream: the events a sink gave up on (docs/design.md §10).
    pub(super) fn dead(&self, sink: &str) -> String {
        format!("{}dead:{sink}", self.prefix)
    }

    pub(super) fn events(&self) -> String {
        format!("{}events", self.prefix)
    }
}
