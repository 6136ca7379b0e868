//! Reads that span every bucket: incident listings (newest first by id, one cursor for
//! all buckets) and the event streams (one composite cursor, a position per bucket), and
//! the `IncidentStore` interface over them and the apply step.

use std::collections::BTreeMap;

use futures_util::future::join_all;
use redis::Value;

use super::keys::bucket_of;
use super::reply::{corrupt, items, parse_entry_id, parse_stream_entry, text, EntryId, RawEvent};
use super::store::RedisStore;
use crate::outcome::{HeartbeatPolicy, Outcome};
use crate::store::model::{
    page_limit, parse_cursor, parse_id, Act, Acted, Applied, Beat, EventPage, Incident,
    IncidentEvent, IncidentStore, ListQuery, Page, Status, StoreError, SweepReport,
};

/// A listing reads the indexes at most this many times to fill a page that expired
/// incidents thinned out; after that it returns a shorter page with a cursor (the ids it
/// skipped are removed from the indexes, so the next call gets further).
const MAX_LIST_ROUNDS: usize = 8;

/// Ids a filtered listing reads per round, at least.
const FILTER_CHUNK: usize = 200;

/// Events cursors start so (a version mark, so a future format can tell them apart).
const EVENTS_CURSOR: &str = "e2:";

/// Which sources each bucket's indexes hold, for one listing.
type Sources = BTreeMap<u16, Vec<String>>;

/// The exclusive upper bound on the time part `v` of bucket `b`'s ids below id `before`.
fn v_below(before: u64, bucket: u16) -> u64 {
    let b = u64::from(bucket);
    if before > b {
        (before - b).div_ceil(1000)
    } else {
        0
    }
}

impl RedisStore {
    async fn sources(&self, query: &ListQuery) -> Result<Sources, StoreError> {
        if let Some(source) = &query.source {
            return Ok(self.keys.all().map(|b| (b, vec![source.clone()])).collect());
        }
        let calls = self.keys.all().map(|b| async move {
            let key = self.keys.sources(b);
            let members: Vec<Value> =
                self.call(|mut c| async move {
                    redis::cmd("SMEMBERS").arg(key).query_async(&mut c).await
                })
                .await?;
            let names = members
                .into_iter()
                .map(text)
                .collect::<Result<Vec<_>, _>>()?;
            Ok::<_, StoreError>((b, names))
        });
        join_all(calls).await.into_iter().collect()
    }

    /// Up to `per_range` ids from each (bucket, source, status) range strictly below
    /// `before`, newest first, each with the source it was read from.
    async fn read_index(
        &self,
        sources: &Sources,
        statuses: &[Status],
        before: Option<u64>,
        per_range: usize,
    ) -> Result<Vec<(u64, String)>, StoreError> {
        let calls = sources
            .iter()
            .filter(|(_, s)| !s.is_empty())
            .map(|(&b, names)| {
                // Open ids are scored -v, resolved ones +v, so both statuses read newest first:
                // open ones ascending from -bound, resolved ones descending from +bound.
                let bound = before.map(|c| v_below(c, b));
                let mut pipe = redis::pipe();
                let mut origin = Vec::new();
                for source in names {
                    for &status in statuses {
                        let key = self.keys.index(b, source);
                        match status {
                            Status::Open => pipe
                                .cmd("ZRANGEBYSCORE")
                                .arg(key)
                                .arg(bound.map_or("-inf".to_owned(), |v| format!("(-{v}")))
                                .arg("(0"),
                            Status::Resolved => pipe
                                .cmd("ZREVRANGEBYSCORE")
                                .arg(key)
                                .arg(bound.map_or("+inf".to_owned(), |v| format!("({v}")))
                                .arg("(0"),
                        };
                        pipe.arg("LIMIT").arg(0).arg(per_range);
                        origin.push(source.clone());
                    }
                }
                async move {
                    let lists: Vec<Value> = self
                        .call(|mut c| async move { pipe.query_async(&mut c).await })
                        .await?;
                    let mut ids = Vec::new();
                    for (list, source) in lists.into_iter().zip(origin) {
                        for v in items(list)? {
                            let text = text(v)?;
                            let id =
                                parse_id(&text).ok_or_else(|| corrupt("index member", &text))?;
                            ids.push((id, source.clone()));
                        }
                    }
                    Ok::<_, StoreError>(ids)
                }
            });
        let mut ids = Vec::new();
        for found in join_all(calls).await {
            ids.extend(found?);
        }
        ids.sort_unstable_by_key(|e| std::cmp::Reverse(e.0));
        ids.dedup_by_key(|e| e.0);
        Ok(ids)
    }

    /// Removes ids whose incident is gone from the indexes they were read from. Ids are
    /// never reused, so a gone id never comes back.
    async fn forget(&self, gone: &[(u64, String)]) -> Result<(), StoreError> {
        let mut by_bucket: BTreeMap<u16, redis::Pipeline> = BTreeMap::new();
        for (id, source) in gone {
            let b = bucket_of(*id);
            by_bucket
                .entry(b)
                .or_insert_with(redis::pipe)
                .cmd("ZREM")
                .arg(self.keys.index(b, source))
                .arg(*id)
                .ignore();
        }
        let calls = by_bucket
            .into_values()
            .map(|pipe| self.call(|mut c| async move { pipe.query_async::<()>(&mut c).await }));
        join_all(calls).await.into_iter().collect()
    }

    async fn list_page(&self, query: &ListQuery) -> Result<Page, StoreError> {
        let before = match &query.cursor {
            Some(cursor) => Some(parse_cursor(cursor)?),
            None => None,
        };
        let limit = page_limit(query);
        let sources = self.sources(query).await?;
        let statuses: &[Status] = match query.status {
            Some(Status::Open) => &[Status::Open],
            Some(Status::Resolved) => &[Status::Resolved],
            None => &[Status::Open, Status::Resolved],
        };
        // One more than the ids still wanted from each range tells whether more follow.
        // Ids whose incident expired are skipped and removed from their index; the next
        // round continues below the last id examined, until the page is full, the indexes
        // are exhausted, or `MAX_LIST_ROUNDS` (then the page is shorter, with a cursor).
        // With field filters (priority, acknowledged) each round reads at least
        // `FILTER_CHUNK` ids and keeps the matching ones.
        let filtered = query.filters_fields();
        let mut incidents = Vec::with_capacity(limit);
        let mut cursor = before;
        let mut next_cursor = None;
        for round in 1..=MAX_LIST_ROUNDS {
            let need = limit - incidents.len();
            let want = if filtered {
                need.max(FILTER_CHUNK)
            } else {
                need
            };
            let mut ids = self
                .read_index(&sources, statuses, cursor, want + 1)
                .await?;
            let more = ids.len() > want;
            ids.truncate(want);
            let found = self
                .fetch_incidents(&ids.iter().map(|e| e.0).collect::<Vec<_>>())
                .await?;
            let mut gone = Vec::new();
            let mut full_early = false;
            for (entry, incident) in ids.iter().zip(found) {
                if incidents.len() == limit {
                    full_early = true;
                    break;
                }
                cursor = Some(entry.0);
                match incident {
                    Some(incident) if query.matches(&incident) => incidents.push(incident),
                    Some(_) => {}
                    None => gone.push(entry.clone()),
                }
            }
            self.forget(&gone).await?;
            if full_early {
                next_cursor = cursor.map(|c| c.to_string());
                break;
            }
            if !more {
                break;
            }
            if incidents.len() == limit || round == MAX_LIST_ROUNDS {
                next_cursor = cursor.map(|c| c.to_string());
                break;
            }
        }
        Ok(Page {
            incidents,
            next_cursor,
        })
    }

    /// Up to `count` entries of every bucket's stream, each with its bucket: the newest
    /// (`XREVRANGE`) when `after` is `None`, else those after each bucket's position.
    async fn read_streams(
        &self,
        after: Option<&BTreeMap<u16, EntryId>>,
        count: usize,
    ) -> Result<Vec<(EntryId, u16, RawEvent)>, StoreError> {
        let calls = self.keys.all().map(|b| {
            let mut cmd = match after {
                None => {
                    let mut cmd = redis::cmd("XREVRANGE");
                    cmd.arg(self.keys.events(b)).arg("+").arg("-");
                    cmd
                }
                Some(positions) => {
                    let mut cmd = redis::cmd("XRANGE");
                    let from = positions
                        .get(&b)
                        .map_or("-".to_owned(), |(ms, seq)| format!("({ms}-{seq}"));
                    cmd.arg(self.keys.events(b)).arg(from).arg("+");
                    cmd
                }
            };
            cmd.arg("COUNT").arg(count);
            async move {
                let entries: Vec<Value> = self
                    .call(|mut c| async move { cmd.query_async(&mut c).await })
                    .await?;
                entries
                    .into_iter()
                    .map(|e| parse_stream_entry(e, b).map(|(id, ev)| (id, b, ev)))
                    .collect::<Result<Vec<_>, StoreError>>()
            }
        });
        let mut lists = Vec::new();
        for found in join_all(calls).await {
            lists.push(found?);
        }
        Ok(merge(lists, after.is_none()))
    }

    /// The newest `limit` stream entries across buckets, oldest first, as stored (not yet
    /// completed). `MAXLEN ~` trims lazily, so a stream may hold a little more than the
    /// bound; reads apply it exactly, as the memory ring does.
    async fn newest_entries(&self, limit: usize) -> Result<Vec<RawEvent>, StoreError> {
        let limit = limit.min(self.event_stream_len);
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut events = self.read_streams(None, limit).await?;
        events.truncate(limit);
        events.reverse();
        Ok(events.into_iter().map(|(_, _, e)| e).collect())
    }

    fn parse_events_cursor(&self, cursor: &str) -> Result<BTreeMap<u16, EntryId>, StoreError> {
        let bad = || StoreError::BadCursor(cursor.to_owned());
        let body = cursor.strip_prefix(EVENTS_CURSOR).ok_or_else(bad)?;
        let mut positions = BTreeMap::new();
        for part in body.split(',').filter(|p| !p.is_empty()) {
            let (b, id) = part.split_once(':').ok_or_else(bad)?;
            let b: u16 = b.parse().map_err(|_| bad())?;
            if b >= self.keys.buckets {
                return Err(bad());
            }
            positions.insert(b, parse_entry_id(id).ok_or_else(bad)?);
        }
        Ok(positions)
    }
}

/// Merges the buckets' lists (each in its stream's order: oldest first, or newest first
/// when `newest_first`) into one, by the events' `at` (then entry id, then bucket), by
/// always taking the best head: so any prefix of the result is a prefix of every list,
/// which is what lets one position per bucket mark where a reader stopped.
pub(super) fn merge(
    lists: Vec<Vec<(EntryId, u16, RawEvent)>>,
    newest_first: bool,
) -> Vec<(EntryId, u16, RawEvent)> {
    let total = lists.iter().map(Vec::len).sum();
    let mut heads: Vec<std::iter::Peekable<std::vec::IntoIter<_>>> = lists
        .into_iter()
        .map(|l| l.into_iter().peekable())
        .collect();
    let mut out = Vec::with_capacity(total);
    loop {
        let key = |e: &(EntryId, u16, RawEvent)| (e.2.at, e.0, e.1);
        let best = heads
            .iter_mut()
            .enumerate()
            .filter_map(|(n, h)| h.peek().map(|e| (n, key(e))))
            .reduce(|a, b| {
                let b_wins = if newest_first { b.1 > a.1 } else { b.1 < a.1 };
                if b_wins {
                    b
                } else {
                    a
                }
            });
        let Some((n, _)) = best else {
            return out;
        };
        if let Some(e) = heads[n].next() {
            out.push(e);
        }
    }
}

fn events_cursor(positions: &BTreeMap<u16, EntryId>) -> String {
    let parts: Vec<String> = positions
        .iter()
        .map(|(b, (ms, seq))| format!("{b}:{ms}-{seq}"))
        .collect();
    format!("{EVENTS_CURSOR}{}", parts.join(","))
}

impl IncidentStore for RedisStore {
    async fn apply(
        &self,
        source: &str,
        outcome: &Outcome,
        now_ms: i64,
    ) -> Result<Applied, StoreError> {
        self.apply_step(source, outcome, now_ms).await
    }

    async fn get(&self, id: &str) -> Result<Option<Incident>, StoreError> {
        self.get_one(id).await
    }

    async fn list(&self, query: &ListQuery) -> Result<Page, StoreError> {
        self.list_page(query).await
    }

    async fn recent_events(&self, limit: usize) -> Result<Vec<IncidentEvent>, StoreError> {
        let newest = self.newest_entries(limit).await?;
        self.complete(newest).await
    }

    /// Only the incident's own entries are completed from its hash (`complete`), not
    /// every entry read.
    async fn incident_events(
        &self,
        id: &str,
        within: usize,
    ) -> Result<Vec<IncidentEvent>, StoreError> {
        let mut mine = self.newest_entries(within).await?;
        mine.retain(|e| e.fields.get("id").is_some_and(|i| i == id));
        self.complete(mine).await
    }

    async fn events_after(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<EventPage, StoreError> {
        let mut positions = match cursor {
            Some(c) => self.parse_events_cursor(c)?,
            None => BTreeMap::new(),
        };
        let limit = limit.max(1);
        let mut events = self.read_streams(Some(&positions), limit).await?;
        events.truncate(limit);
        let mut cursors = Vec::with_capacity(events.len());
        for (id, b, _) in &events {
            positions.insert(*b, *id);
            cursors.push(events_cursor(&positions));
        }
        Ok(EventPage {
            cursors,
            events: self
                .complete(events.into_iter().map(|(_, _, e)| e).collect())
                .await?,
            next_cursor: events_cursor(&positions),
        })
    }

    async fn act(&self, id: &str, act: &Act, by: &str, now_ms: i64) -> Result<Acted, StoreError> {
        self.act_on(id, act, by, now_ms).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.ping_once().await
    }

    async fn open_count(&self, source: &str) -> Result<u64, StoreError> {
        self.count_open(source).await
    }

    async fn is_open(&self, source: &str, fingerprint: &str) -> Result<bool, StoreError> {
        self.has_open(source, fingerprint).await
    }

    async fn heartbeat(
        &self,
        source: &str,
        policy: HeartbeatPolicy,
        beat: Beat,
        now_ms: i64,
    ) -> Result<Option<Incident>, StoreError> {
        self.heartbeat_step(source, policy, beat, now_ms).await
    }

    async fn sweep(
        &self,
        now_ms: i64,
        heartbeats: &[(String, HeartbeatPolicy)],
    ) -> Result<SweepReport, StoreError> {
        self.sweep_all(now_ms, heartbeats).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v_below_bounds_each_bucket_by_the_cursor_id() {
        // cursor 7003 = (v 7, bucket 3)
        assert_eq!(v_below(7003, 3), 7); // 7003 itself excluded
        assert_eq!(v_below(7003, 5), 7); // 7005 > 7003 excluded, 6005 kept
        assert_eq!(v_below(7003, 1), 8); // 7001 < 7003 kept
        assert_eq!(v_below(3, 5), 0);
    }
}
