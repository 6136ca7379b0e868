//! Every Redis key name, built in this one place (`apply.lua` mirrors it), and the
//! incident id format. The scheme is docs/design.md §5 (layout version 2).
//!
//! Under prefix `P` (used verbatim), the keyspace is cut into `buckets` (fixed for the
//! life of a keyspace, recorded in `P layout`). A (source, fingerprint) belongs to bucket
//! `b = u64(sha256(key)[0..8]) mod buckets`, and every key a step touches carries the hash
//! tag `{b<b>}`, so one `apply.lua` run touches one Redis Cluster slot:
//! - `P{bB}fp:{sha256hex}` hash `{open, ts}`: the open incident's id, the last `event_time`.
//! - `P{bB}inc:{id}` hash of the incident's fields.
//! - `P{bB}ids:{source}` sorted set of the bucket's incidents of one source, scored
//!   `-v` while open and `+v` once resolved (`v` is the id's time part, below); the
//!   sweeper removes the ids of expired incidents (`sweep.lua`).
//! - `P{bB}sources` set of the sources with incidents in the bucket (the sweeper removes
//!   a source whose index it emptied).
//! - `P{bB}seq` string: the bucket's last `v`.
//! - `P{bB}events` stream of the bucket's transitions; each sink reads it through its
//!   consumer group `sink:{id}` (one per bucket stream).
//! - `P{b0}dead:{sink}` stream: the events a sink gave up on, every bucket's (in bucket
//!   0's slot: one key per sink).
//! - `P layout` (untagged, read apart from any step): `{"version":2,"buckets":N}`.
//!
//! Incident ids are decimal `v·1000 + b`: `v = max(now_ms·1024, last v + 1)` per bucket,
//! so ids grow with time across buckets (ms resolution) and strictly within one bucket,
//! and `id mod 1000` names the bucket (`buckets` is at most 1000).

use sha2::{Digest, Sha256};

/// Where `apply.lua` caps each bucket's stream (`MAXLEN ~`) whatever `event_stream_len`
/// says: a last resort. The delivery task trims each stream to `event_stream_len`, but
/// never past an entry a sink has not acknowledged; only a sink more than this many
/// events of one bucket behind loses entries.
pub const STREAM_HARD_CAP: usize = 1_000_000;

/// Bound on each dead-letter stream (`MAXLEN ~`).
pub const DEAD_LETTER_CAP: usize = 10_000;

/// The most buckets a keyspace can have: the id keeps the bucket in 3 decimal digits.
pub const MAX_BUCKETS: u16 = 1000;

/// Every Redis key name of one keyspace. The names that depend on the bucket alone are
/// built once, here, not on every step.
#[derive(Debug, Clone)]
pub(super) struct Keys {
    pub(super) prefix: String,
    pub(super) buckets: u16,
    /// Per bucket: its tag `P{bB}`, and its `seq`, `events` and `sources` keys.
    per_bucket: Vec<BucketKeys>,
}

#[derive(Debug, Clone)]
struct BucketKeys {
    tag: String,
    seq: String,
    events: String,
    sources: String,
    /// The bucket as `apply.lua` writes it into ids: three digits.
    digits: String,
}

impl Keys {
    pub(super) fn new(prefix: String, buckets: u16) -> Keys {
        let buckets = buckets.clamp(1, MAX_BUCKETS);
        let per_bucket = (0..buckets)
            .map(|bucket| {
                let tag = format!("{prefix}{{b{bucket}}}");
                BucketKeys {
                    seq: format!("{tag}seq"),
                    events: format!("{tag}events"),
                    sources: format!("{tag}sources"),
                    digits: format!("{bucket:03}"),
                    tag,
                }
            })
            .collect();
        Keys {
            prefix,
            buckets,
            per_bucket,
        }
    }

    /// The names of `bucket`; a bucket past the last (never made by this keyspace) is
    /// named as bucket 0's, which `fingerprint` and `bucket_of` never produce.
    fn of(&self, bucket: u16) -> &BucketKeys {
        &self.per_bucket[usize::from(bucket) % self.per_bucket.len()]
    }

    /// The digest that names a (source, fingerprint) key and picks its bucket: SHA-256
    /// over the source's length (u64, big-endian), the source, then the fingerprint.
    fn digest(source: &str, fingerprint: &str) -> [u8; 32] {
        let mut digest = Sha256::new();
        digest.update((source.len() as u64).to_be_bytes());
        digest.update(source.as_bytes());
        digest.update(fingerprint.as_bytes());
        digest.finalize().into()
    }

    /// The bucket of a (source, fingerprint) and its fingerprint record's key.
    pub(super) fn fingerprint(&self, source: &str, fingerprint: &str) -> (u16, String) {
        let digest = Self::digest(source, fingerprint);
        let mut head = [0u8; 8];
        head.copy_from_slice(&digest[..8]);
        let bucket =
            u16::try_from(u64::from_be_bytes(head) % u64::from(self.buckets)).unwrap_or_default();
        let key = format!("{}fp:{}", self.tag(bucket), hex::encode(digest));
        (bucket, key)
    }

    /// `P{bB}`: every key of bucket `B` starts so; `apply.lua` gets it as `ARGV[1]`.
    pub(super) fn tag(&self, bucket: u16) -> &str {
        &self.of(bucket).tag
    }

    /// The bucket as three digits, the way ids end.
    pub(super) fn digits(&self, bucket: u16) -> &str {
        &self.of(bucket).digits
    }

    pub(super) fn incident(&self, id: u64) -> String {
        format!("{}inc:{id}", self.tag(bucket_of(id)))
    }

    pub(super) fn index(&self, bucket: u16, source: &str) -> String {
        format!("{}ids:{source}", self.tag(bucket))
    }

    pub(super) fn sources(&self, bucket: u16) -> &str {
        &self.of(bucket).sources
    }

    pub(super) fn seq(&self, bucket: u16) -> &str {
        &self.of(bucket).seq
    }

    pub(super) fn events(&self, bucket: u16) -> &str {
        &self.of(bucket).events
    }

    /// `P{b0}dead:{sink}`: the sink's dead letters, whichever bucket their events came
    /// from (docs/design.md §11).
    pub(super) fn dead(&self, sink: &str) -> String {
        format!("{}dead:{sink}", self.tag(0))
    }

    /// `P{bB}deadlines`: auto-resolve deadlines (member incident id, score ms).
    pub(super) fn deadlines(&self, bucket: u16) -> String {
        format!("{}deadlines", self.tag(bucket))
    }

    /// `P{bB}heartbeats`: heartbeat sources' silence deadlines (member source, score ms).
    pub(super) fn heartbeats(&self, bucket: u16) -> String {
        format!("{}heartbeats", self.tag(bucket))
    }

    /// `P{bB}hb:{source}`: a heartbeat source's hash (`title`, `fpkey`).
    pub(super) fn heartbeat(&self, bucket: u16, source: &str) -> String {
        format!("{}hb:{source}", self.tag(bucket))
    }

    /// `P{bB}flapping`: flapping fingerprints (member fp key, score window end ms).
    pub(super) fn flapping(&self, bucket: u16) -> String {
        format!("{}flapping", self.tag(bucket))
    }

    pub(super) fn layout(&self) -> String {
        format!("{}layout", self.prefix)
    }

    /// Every bucket number, `0..buckets`.
    pub(super) fn all(&self) -> impl Iterator<Item = u16> {
        0..self.buckets
    }
}

/// The bucket an incident id names (its last three decimal digits).
pub(super) fn bucket_of(id: u64) -> u16 {
    u16::try_from(id % 1000).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_the_documented_scheme() {
        let keys = Keys::new("ag:".into(), 16);
        assert_eq!(keys.incident(7_003), "ag:{b3}inc:7003");
        assert_eq!(keys.events(2), "ag:{b2}events");
        assert_eq!(keys.seq(15), "ag:{b15}seq");
        assert_eq!(keys.sources(0), "ag:{b0}sources");
        assert_eq!(keys.index(4, "sc"), "ag:{b4}ids:sc");
        assert_eq!(keys.layout(), "ag:layout");
        assert_eq!(keys.dead("ops"), "ag:{b0}dead:ops");
        assert_eq!(keys.deadlines(3), "ag:{b3}deadlines");
        assert_eq!(keys.heartbeats(3), "ag:{b3}heartbeats");
        assert_eq!(keys.heartbeat(3, "sc"), "ag:{b3}hb:sc");
        assert_eq!(keys.flapping(3), "ag:{b3}flapping");
        assert_eq!(keys.all().count(), 16);
    }

    #[test]
    fn fingerprint_key_is_a_fixed_length_hash_scoped_by_source_in_its_bucket() {
        let keys = Keys::new("ag:".into(), 16);
        let long = "x".repeat(10_000);
        let (bucket, key) = keys.fingerprint("sc", &long);
        assert!(bucket < 16);
        assert!(key.starts_with(keys.tag(bucket)), "{key}");
        assert_eq!(key.len(), keys.tag(bucket).len() + "fp:".len() + 64);
        assert_ne!(keys.fingerprint("sc", "a").1, keys.fingerprint("sp", "a").1);
        // Moving bytes between source and fingerprint must not collide.
        assert_ne!(keys.fingerprint("ab", "c").1, keys.fingerprint("a", "bc").1);
        // Fingerprints spread over the buckets.
        let used: std::collections::BTreeSet<u16> = (0..200)
            .map(|n| keys.fingerprint("sc", &n.to_string()).0)
            .collect();
        assert_eq!(used.len(), 16);
        // One bucket: everything in bucket 0.
        assert_eq!(Keys::new("ag:".into(), 1).fingerprint("sc", "a").0, 0);
    }

    #[test]
    fn ids_carry_their_bucket_and_time() {
        let id = 1_790_000_000_000_u64 * 1024 * 1000 + 7;
        assert_eq!(bucket_of(id), 7);
        assert_eq!(id / 1000, 1_790_000_000_000 * 1024);
    }
}
