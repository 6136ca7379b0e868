//! Parsing what Redis returns into the store's types. Defensive: malformed data is
//! `StoreError::Corrupt`, never a panic.

use std::collections::BTreeMap;

use redis::Value;

use crate::outcome::{Labels, Priority};
use crate::store::model::{
    parse_id, Applied, Incident, IncidentEvent, Status, StoreError, Transition,
};

pub(super) fn corrupt(what: &str, value: &str) -> StoreError {
    const SHOWN: usize = 64;
    let shown: String = value.chars().take(SHOWN).collect();
    StoreError::Corrupt(format!("{what} {shown:?}"))
}

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

/// The script's reply: `{"opened", id}`, made into the incident by `opened`, or
/// `{transition, field, value, …}`.
pub(super) fn parse_applied(
    reply: Value,
    opened: impl FnOnce(String) -> Incident,
) -> Result<Applied, StoreError> {
    let mut flat = items(reply)?.into_iter();
    let first = flat
        .next()
        .ok_or_else(|| StoreError::Corrupt("empty apply reply".into()))?;
    let name = text(first)?;
    let transition = Transition::parse(&name).ok_or_else(|| corrupt("transition", &name))?;
    let rest: Vec<Value> = flat.collect();
    if transition == Transition::Opened && rest.len() == 1 {
        let id = rest
            .into_iter()
            .next()
            .map(text)
            .transpose()?
            .unwrap_or_default();
        if parse_id(&id).is_none() {
            return Err(corrupt("incident id", &id));
        }
        return Ok(Applied {
            transition,
            incident: Some(opened(id)),
        });
    }
    let fields = pairs_of(rest)?;
    let incident = if fields.is_empty() {
        None
    } else {
        Some(parse_incident(fields.into_iter().collect())?)
    };
    Ok(Applied {
        transition,
        incident,
    })
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

/// One `XRANGE`/`XREVRANGE` entry of bucket `bucket`'s stream: `[entry id, [field,
/// value, …]]`. The event's id is `<bucket>-<entry id>`.
pub(super) fn parse_stream_entry(
    entry: Value,
    bucket: u16,
) -> Result<(EntryId, IncidentEvent), StoreError> {
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
    let event = IncidentEvent {
        id: format!("{bucket}-{entry_id}"),
        transition: transition
            .ok_or_else(|| StoreError::Corrupt("event has no transition".into()))?,
        at: at.ok_or_else(|| StoreError::Corrupt("event has no time".into()))?,
        incident: parse_incident(incident_fields)?,
        actor,
        note,
    };
    Ok((parsed, event))
}

pub(super) fn parse_ms(what: &str, v: &str) -> Result<i64, StoreError> {
    v.parse().map_err(|_| corrupt(what, v))
}

/// An incident from its hash fields; unknown fields are ignored (room to add some).
pub(super) fn parse_incident(mut f: BTreeMap<String, String>) -> Result<Incident, StoreError> {
    let mut need = |name: &str| {
        f.remove(name)
            .ok_or_else(|| StoreError::Corrupt(format!("incident has no {name}")))
    };
    let id = need("id")?;
    if parse_id(&id).is_none() {
        return Err(corrupt("incident id", &id));
    }
    let source = need("source")?;
    let fingerprint = need("fingerprint")?;
    let status = need("status")?;
    let status = Status::parse(&status).ok_or_else(|| corrupt("status", &status))?;
    let labels = need("labels")?;
    let labels = Labels::from_json(&labels).map_err(|_| corrupt("labels", &labels))?;
    let opened_at = parse_ms("opened_at", &need("opened_at")?)?;
    let last_event_at = parse_ms("last_event_at", &need("last_event_at")?)?;
    let count = need("event_count")?;
    let event_count = count.parse().map_err(|_| corrupt("event_count", &count))?;
    let priority = match f.remove("priority") {
        Some(p) => Some(Priority::parse(&p).ok_or_else(|| corrupt("priority", &p))?),
        None => None,
    };
    let resolved_at = match f.remove("resolved_at") {
        Some(t) => Some(parse_ms("resolved_at", &t)?),
        None => None,
    };
    let flap_count = match f.remove("flap_count") {
        Some(n) => Some(n.parse().map_err(|_| corrupt("flap_count", &n))?),
        None => None,
    };
    let acknowledged_at = match f.remove("acknowledged_at") {
        Some(t) => Some(parse_ms("acknowledged_at", &t)?),
        None => None,
    };
    Ok(Incident {
        flapping: f.remove("flapping").is_some_and(|v| v == "1"),
        flap_count,
        resolved_by: f.remove("resolved_by").map(Into::into),
        id,
        source: source.into(),
        fingerprint: fingerprint.into(),
        status,
        priority,
        title: f.remove("title").map(Into::into),
        labels,
        opened_at,
        last_event_at,
        resolved_at,
        event_count,
        acknowledged_at,
        acknowledged_by: f.remove("acknowledged_by").map(Into::into),
    })
}
