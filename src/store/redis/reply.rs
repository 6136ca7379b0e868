//! Parsing what Redis returns into the store's types. Defensive: malformed data is
//! `StoreError::Corrupt`, never a panic.

use std::collections::BTreeMap;

use redis::Value;

use std::sync::Arc;

use super::record::parse_incident;
pub(super) use super::record::{corrupt, parse_ms};
use crate::outcome::Priority;
use crate::store::model::{parse_id, Applied, Incident, Stepped, StoreError, Transition};

/// A reply element as text.
pub(super) fn text(v: Value) -> Result<String, StoreError> {
    match v {
        Value::BulkString(bytes) => {
            String::from_utf8(bytes).map_err(|_| StoreError::Corrupt("non-UTF-8 text".into()))
        }
        Value::SimpleString(s) => Ok(s),
        Value::Int(n) => Ok(n.to_string()),
        other => Err(StoreError::Corrupt(format!("expected text, got {other:?}"))),
    }
}

/// A reply element as a list.
pub(super) fn items(v: Value) -> Result<Vec<Value>, StoreError> {
    match v {
        Value::Array(items) | Value::Set(items) => Ok(items),
        Value::Nil => Ok(Vec::new()),
        other => Err(StoreError::Corrupt(format!(
            "expected a list, got {other:?}"
        ))),
    }
}

/// A hash reply (flat RESP2 array or RESP3 map) as field/value pairs.
pub(super) fn field_pairs(v: Value) -> Result<Vec<(String, String)>, StoreError> {
    if let Value::Map(pairs) = v {
        return pairs
            .into_iter()
            .map(|(k, v)| Ok((text(k)?, text(v)?)))
            .collect();
    }
    pairs_of(items(v)?)
}

pub(super) fn pairs_of(flat: Vec<Value>) -> Result<Vec<(String, String)>, StoreError> {
    if flat.len() % 2 != 0 {
        return Err(StoreError::Corrupt("odd number of hash fields".into()));
    }
    let mut pairs = Vec::with_capacity(flat.len() / 2);
    let mut it = flat.into_iter();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        pairs.push((text(k)?, text(v)?));
    }
    Ok(pairs)
}

/// `apply.lua`'s reply: `{transition, id, priority, flapping, flap_count}`, `""` where
/// unset (`id` `""` when the step concerned no incident). A create's priority is the one
/// the caller sent: `sent`.
pub(super) fn parse_applied(reply: Value, sent: Option<Priority>) -> Result<Applied, StoreError> {
    let mut parts = items(reply)?.into_iter().map(text);
    let mut next = || parts.next().transpose().map(Option::unwrap_or_default);
    let name = next()?;
    let transition = Transition::parse(&name).ok_or_else(|| corrupt("transition", &name))?;
    let (id, priority, flapping, flap_count) = (next()?, next()?, next()?, next()?);
    if id.is_empty() {
        return Ok(Applied {
            transition,
            incident: None,
        });
    }
    if parse_id(&id).is_none() {
        return Err(corrupt("incident id", &id));
    }
    let priority = if priority.is_empty() {
        if transition == Transition::Opened {
            sent
        } else {
            None
        }
    } else {
        Some(Priority::parse(&priority).ok_or_else(|| corrupt("priority", &priority))?)
    };
    let flap_count = if flap_count.is_empty() {
        None
    } else {
        Some(
            flap_count
                .parse()
                .map_err(|_| corrupt("flap_count", &flap_count))?,
        )
    };
    Ok(Applied {
        transition,
        incident: Some(Stepped {
            id,
            priority,
            flapping: flapping == "1",
            flap_count,
        }),
    })
}

/// A script's `{transition, field, value, …}` reply (an incident's whole hash after the
/// step): the transition and the incident.
pub(super) fn parse_hash_reply(reply: Value) -> Result<(Transition, Incident), StoreError> {
    let mut flat = items(reply)?.into_iter();
    let first = flat
        .next()
        .ok_or_else(|| StoreError::Corrupt("empty reply".into()))?;
    let name = text(first)?;
    let transition = Transition::parse(&name).ok_or_else(|| corrupt("transition", &name))?;
    let fields = pairs_of(flat.collect())?;
    Ok((
        transition,
        parse_incident(fields.into_iter().collect(), None)?,
    ))
}

/// A stream entry id, `<ms>-<seq>`, as numbers (their order is the stream's).
pub(super) type EntryId = (u64, u64);

pub(super) fn parse_entry_id(id: &str) -> Option<EntryId> {
    let (ms, seq) = id.split_once('-')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(ms) || !digits(seq) {
        return None;
    }
    Some((ms.parse().ok()?, seq.parse().ok()?))
}

/// A stream entry as read: the event's own fields; `fields` (the incident's, as the step
/// wrote them) are completed from the incident's hash before they make an `Incident`
/// (`RedisStore::complete`).
#[derive(Debug, Clone)]
pub(super) struct RawEvent {
    pub id: String,
    pub transition: Transition,
    pub at: i64,
    pub actor: Option<Arc<str>>,
    pub note: Option<Arc<str>>,
    pub fields: BTreeMap<String, String>,
}

/// One `XRANGE`/`XREVRANGE` entry of bucket `bucket`'s stream: `[entry id, [field,
/// value, …]]`. The event's id is `<bucket>-<entry id>`.
pub(super) fn parse_stream_entry(
    entry: Value,
    bucket: u16,
) -> Result<(EntryId, RawEvent), StoreError> {
    let mut parts = items(entry)?.into_iter();
    let (Some(entry_id), Some(fields), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(StoreError::Corrupt(
            "stream entry is not [id, fields]".into(),
        ));
    };
    let mut transition = None;
    let mut at = None;
    let (mut actor, mut note) = (None, None);
    let mut incident_fields = BTreeMap::new();
    for (k, v) in field_pairs(fields)? {
        match k.as_str() {
            "transition" => {
                transition = Some(Transition::parse(&v).ok_or_else(|| corrupt("transition", &v))?);
            }
            "at" => at = Some(parse_ms("at", &v)?),
            "actor" => actor = Some(v.into()),
            "note" => note = Some(v.into()),
            _ => {
                incident_fields.insert(k, v);
            }
        }
    }
    let entry_id = text(entry_id)?;
    let parsed = parse_entry_id(&entry_id).ok_or_else(|| corrupt("stream entry id", &entry_id))?;
    let event = RawEvent {
        id: format!("{bucket}-{entry_id}"),
        transition: transition
            .ok_or_else(|| StoreError::Corrupt("event has no transition".into()))?,
        at: at.ok_or_else(|| StoreError::Corrupt("event has no time".into()))?,
        actor,
        note,
        fields: incident_fields,
    };
    Ok((parsed, event))
}
