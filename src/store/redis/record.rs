//! The incident record in Redis (docs/design.md §5, "Incident record"): how an incident's
//! fields are written to its `inc:` hash and read back, and how a stream entry, which
//! carries only the step's own fields, is completed from that hash.
//!
//! Two rules keep a record small:
//! - **A long text is stored once.** A fingerprint or title that contains a label's
//!   string value (at least `REF_MIN` bytes) verbatim keeps a reference to the label in
//!   its place (`encode`); the label's text is the only copy. (A StatusCake incident's
//!   URL is in its fingerprint, its title and its `url` label.)
//! - **The hash stays compact.** Redis keeps a hash as one listpack while every value is
//!   at most 64 bytes (`hash-max-listpack-value`); one longer value turns the whole hash
//!   into a table of separately allocated entries, about three times the size. A value
//!   over `PIECE` bytes is stored as pieces: `f#` = their count, `f#0`, `f#1`, … of at
//!   most `PIECE` bytes each (`push_field`), joined again on read (`join_pieces`).

use std::borrow::Cow;
use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use crate::outcome::{Labels, Outcome, Priority};
use crate::store::model::{parse_id, Incident, Status, StoreError, Transition};

/// Malformed stored data, quoted (at most 64 characters).
pub(super) fn corrupt(what: &str, value: &str) -> StoreError {
    const SHOWN: usize = 64;
    let shown: String = value.chars().take(SHOWN).collect();
    StoreError::Corrupt(format!("{what} {shown:?}"))
}

pub(super) fn parse_ms(what: &str, v: &str) -> Result<i64, StoreError> {
    v.parse().map_err(|_| corrupt(what, v))
}

/// The longest value a hash field keeps whole (Redis's default `hash-max-listpack-value`).
pub(super) const PIECE: usize = 64;

/// Label values shorter than this are not worth a reference.
const REF_MIN: usize = 24;

/// First character of an encoded text: literal runs and `REF_OPEN label REF_CLOSE`.
const ENCODED: char = '\u{1}';
const REF_OPEN: char = '\u{2}';
const REF_CLOSE: char = '\u{3}';
/// First character of a text kept verbatim because it holds one of these markers.
const VERBATIM: char = '\u{4}';

fn has_marker(s: &str) -> bool {
    s.contains([ENCODED, REF_OPEN, REF_CLOSE, VERBATIM])
}

/// The labels' top-level string values worth a reference, longest first.
pub(super) fn label_refs(labels: &Labels) -> Vec<(String, String)> {
    if labels.is_empty() || labels.as_json().len() < REF_MIN {
        return Vec::new();
    }
    let mut refs: Vec<(String, String)> = labels
        .to_map()
        .into_iter()
        .filter_map(|(k, v)| match v {
            serde_json::Value::String(s) if s.len() >= REF_MIN && !has_marker(&k) => Some((k, s)),
            _ => None,
        })
        .collect();
    refs.sort_by_key(|r| std::cmp::Reverse(r.1.len()));
    refs
}

enum Segment<'a> {
    Text(&'a str),
    Label(&'a str),
}

/// `text` as stored, given the label values it may refer to (`label_refs`).
pub(super) fn encode<'a>(text: &'a str, refs: &'a [(String, String)]) -> Cow<'a, str> {
    if has_marker(text) {
        return Cow::Owned(format!("{VERBATIM}{text}"));
    }
    let mut segments = vec![Segment::Text(text)];
    let mut referred = false;
    for (name, value) in refs {
        let mut next = Vec::with_capacity(segments.len());
        for segment in segments {
            let Segment::Text(mut rest) = segment else {
                next.push(segment);
                continue;
            };
            while let Some(at) = rest.find(value.as_str()) {
                if at > 0 {
                    next.push(Segment::Text(&rest[..at]));
                }
                next.push(Segment::Label(name));
                referred = true;
                rest = &rest[at + value.len()..];
            }
            if !rest.is_empty() {
                next.push(Segment::Text(rest));
            }
        }
        segments = next;
    }
    if !referred {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() / 2);
    out.push(ENCODED);
    for segment in segments {
        match segment {
            Segment::Text(t) => out.push_str(t),
            Segment::Label(name) => {
                out.push(REF_OPEN);
                out.push_str(name);
                out.push(REF_CLOSE);
            }
        }
    }
    Cow::Owned(out)
}

/// A stored text back as written, its references resolved against `labels` (JSON).
pub(super) fn decode(stored: String, labels: &str) -> Result<String, StoreError> {
    if let Some(verbatim) = stored.strip_prefix(VERBATIM) {
        return Ok(verbatim.to_owned());
    }
    let Some(body) = stored.strip_prefix(ENCODED) else {
        return Ok(stored);
    };
    let values: BTreeMap<String, serde_json::Value> =
        serde_json::from_str(labels).map_err(|_| corrupt("labels", labels))?;
    let mut out = String::with_capacity(body.len() * 4);
    let mut rest = body;
    while let Some(open) = rest.find(REF_OPEN) {
        out.push_str(&rest[..open]);
        let after = &rest[open + REF_OPEN.len_utf8()..];
        let close = after
            .find(REF_CLOSE)
            .ok_or_else(|| corrupt("encoded text", &stored))?;
        let name = &after[..close];
        let value = values
            .get(name)
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| corrupt("reference to label", name))?;
        out.push_str(value);
        rest = &after[close + REF_CLOSE.len_utf8()..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Appends `name`, `value` to a flat field list, as pieces when `value` is long.
pub(super) fn push_field(out: &mut Vec<String>, name: &str, value: &str) {
    if value.len() <= PIECE {
        out.push(name.to_owned());
        out.push(value.to_owned());
        return;
    }
    let mut pieces = Vec::new();
    let mut rest = value;
    while !rest.is_empty() {
        let mut cut = rest.len().min(PIECE);
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        pieces.push(&rest[..cut]);
        rest = &rest[cut..];
    }
    out.push(format!("{name}#"));
    out.push(pieces.len().to_string());
    for (n, piece) in pieces.into_iter().enumerate() {
        out.push(format!("{name}#{n}"));
        out.push(piece.to_owned());
    }
}

/// Joins every `f#0`, `f#1`, … back into `f` (an `f` written whole wins).
pub(super) fn join_pieces(fields: &mut BTreeMap<String, String>) -> Result<(), StoreError> {
    let counted: Vec<String> = fields
        .keys()
        .filter_map(|k| k.strip_suffix('#').map(str::to_owned))
        .collect();
    for name in counted {
        let count = fields.remove(&format!("{name}#")).unwrap_or_default();
        let count: usize = count.parse().map_err(|_| corrupt("piece count", &count))?;
        let mut whole = String::new();
        for n in 0..count {
            let piece = fields
                .remove(&format!("{name}#{n}"))
                .ok_or_else(|| corrupt("missing piece of", &name))?;
            whole.push_str(&piece);
        }
        fields.entry(name).or_insert(whole);
    }
    Ok(())
}

/// A title's digest as the fingerprint record keeps it (`td`): an update with the same
/// title writes nothing, without reading the stored text.
pub(super) fn title_digest(title: &str) -> String {
    hex::encode(&Sha256::digest(title.as_bytes())[..8])
}

/// The fields of a new incident's hash but its `id`, in the order `apply.lua` writes them.
pub(super) fn create_fields(
    source: &str,
    fingerprint: &str,
    outcome: &Outcome,
    now_ms: i64,
    fp_hex: &str,
) -> Vec<String> {
    let refs = label_refs(&outcome.labels);
    let now = now_ms.to_string();
    let mut out = Vec::with_capacity(24);
    for (name, value) in [
        ("source", source),
        ("status", "open"),
        ("opened_at", &now),
        ("last_event_at", &now),
        ("event_count", "1"),
        ("fp", fp_hex),
    ] {
        out.push(name.to_owned());
        out.push(value.to_owned());
    }
    push_field(&mut out, "fingerprint", &encode(fingerprint, &refs));
    push_field(&mut out, "labels", outcome.labels.as_json());
    if let Some(p) = outcome.priority {
        out.push("priority".into());
        out.push(p.as_str().into());
    }
    if let Some(title) = &outcome.title {
        push_field(&mut out, "title", &encode(title, &refs));
    }
    out
}

/// Fills in what a step's transition implies and its entry leaves out (`apply.lua`):
/// `status`, `last_event_at` = `at`, an `opened`'s `event_count` 1, a `resolved`'s
/// `resolved_at` = `at`. Entries that carry them keep theirs.
pub(super) fn implied(transition: Transition, at: i64, fields: &mut BTreeMap<String, String>) {
    let status = match transition {
        Transition::Opened | Transition::Updated => "open",
        Transition::Resolved => "resolved",
        _ => return,
    };
    let at = at.to_string();
    fields
        .entry("status".into())
        .or_insert_with(|| status.into());
    fields
        .entry("last_event_at".into())
        .or_insert_with(|| at.clone());
    if transition == Transition::Opened {
        fields
            .entry("event_count".into())
            .or_insert_with(|| "1".into());
    }
    if transition == Transition::Resolved {
        fields.entry("resolved_at".into()).or_insert(at);
    }
}

/// `base` (an incident's hash, pieces joined) with an event's own fields laid over it:
/// the entry's values are the incident as it stood at the event.
pub(super) fn overlay(
    mut base: BTreeMap<String, String>,
    entry: BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    base.extend(entry);
    base
}

/// An incident from its hash fields (pieces joined, texts decoded); unknown fields are
/// ignored (room to add some). `lenient`: fields only the hash holds may be missing (an
/// event whose incident expired): the fingerprint is then empty, the labels `{}`, and
/// `opened_at`/`last_event_at` the event's time `at`.
pub(super) fn parse_incident(
    mut f: BTreeMap<String, String>,
    lenient: Option<i64>,
) -> Result<Incident, StoreError> {
    join_pieces(&mut f)?;
    let mut need = |name: &str| {
        f.remove(name)
            .ok_or_else(|| StoreError::Corrupt(format!("incident has no {name}")))
    };
    let id = need("id")?;
    if parse_id(&id).is_none() {
        return Err(corrupt("incident id", &id));
    }
    let source = need("source")?;
    let status = need("status")?;
    let status = Status::parse(&status).ok_or_else(|| corrupt("status", &status))?;
    let mut or_default = |name: &str, default: Option<String>| match (f.remove(name), default) {
        (Some(v), _) => Ok(v),
        (None, Some(d)) if lenient.is_some() => Ok(d),
        (None, _) => Err(StoreError::Corrupt(format!("incident has no {name}"))),
    };
    let at = lenient.map(|t| t.to_string());
    let labels_json = or_default("labels", Some("{}".into()))?;
    let fingerprint = or_default("fingerprint", Some(String::new()))?;
    let opened_at = parse_ms("opened_at", &or_default("opened_at", at.clone())?)?;
    let last_event_at = parse_ms("last_event_at", &or_default("last_event_at", at)?)?;
    let count = or_default("event_count", Some("0".into()))?;
    let event_count = count.parse().map_err(|_| corrupt("event_count", &count))?;
    let labels = Labels::from_json(&labels_json).map_err(|_| corrupt("labels", &labels_json))?;
    let fingerprint = decode(fingerprint, &labels_json)?;
    let title = f
        .remove("title")
        .map(|t| decode(t, &labels_json))
        .transpose()?;
    let priority = match f.remove("priority") {
        Some(p) => Some(Priority::parse(&p).ok_or_else(|| corrupt("priority", &p))?),
        None => None,
    };
    let optional_ms = |v: Option<String>, what: &str| v.map(|t| parse_ms(what, &t)).transpose();
    let resolved_at = optional_ms(f.remove("resolved_at"), "resolved_at")?;
    let acknowledged_at = optional_ms(f.remove("acknowledged_at"), "acknowledged_at")?;
    let flap_count = match f.remove("flap_count") {
        Some(n) => Some(n.parse().map_err(|_| corrupt("flap_count", &n))?),
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
        title: title.map(Into::into),
        labels,
        opened_at,
        last_event_at,
        resolved_at,
        event_count,
        acknowledged_at,
        acknowledged_by: f.remove("acknowledged_by").map(Into::into),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    const URL: &str = "https://check-0000001.bench.example.com/health/deep?region=eu-west-1";

    #[test]
    fn a_label_value_inside_a_text_is_stored_once() {
        let labels = format!(r#"{{"url":"{URL}","ip":"93.184.216.34"}}"#);
        let r = refs(&[("url", URL)]);
        let title = format!("Check 1 is down ({URL})");
        let stored = encode(&title, &r);
        assert!(stored.len() < 30, "{stored:?}");
        assert_eq!(decode(stored.into_owned(), &labels).unwrap(), title);
        // Twice, at the start and the end.
        let twice = format!("{URL}|{URL}");
        let stored = encode(&twice, &r).into_owned();
        assert_eq!(decode(stored, &labels).unwrap(), twice);
    }

    #[test]
    fn texts_without_references_or_with_markers_come_back_unchanged() {
        let r = refs(&[("url", URL)]);
        assert!(matches!(encode("plain", &r), Cow::Borrowed("plain")));
        for odd in ["\u{1}x", "a\u{2}b\u{3}", "\u{4}", "\u{4}\u{4}y"] {
            let stored = encode(odd, &r).into_owned();
            assert_eq!(decode(stored, "{}").unwrap(), odd);
        }
    }

    #[test]
    fn a_reference_to_a_missing_label_is_corrupt_not_a_panic() {
        let stored = format!("{ENCODED}a{REF_OPEN}url{REF_CLOSE}");
        assert!(decode(stored.clone(), "{}").is_err());
        assert!(decode(format!("{ENCODED}a{REF_OPEN}url"), "{}").is_err());
        assert!(decode(stored, "not json").is_err());
    }

    #[test]
    fn long_values_are_pieces_of_at_most_64_bytes_joined_on_read() {
        let long = "é".repeat(100); // 200 bytes, two-byte characters
        let mut flat = Vec::new();
        push_field(&mut flat, "labels", &long);
        push_field(&mut flat, "title", "short");
        assert!(flat.iter().all(|v| v.len() <= PIECE));
        let mut map: BTreeMap<String, String> = flat
            .chunks(2)
            .map(|kv| (kv[0].clone(), kv[1].clone()))
            .collect();
        join_pieces(&mut map).unwrap();
        assert_eq!(map.len(), 2);
        assert_eq!(map["labels"], long);
        assert_eq!(map["title"], "short");
    }

    #[test]
    fn missing_or_bad_pieces_are_corrupt() {
        let mut map = BTreeMap::from([
            ("t#".to_owned(), "2".to_owned()),
            ("t#0".into(), "a".into()),
        ]);
        assert!(join_pieces(&mut map).is_err());
        let mut map = BTreeMap::from([("t#".to_owned(), "x".to_owned())]);
        assert!(join_pieces(&mut map).is_err());
    }
}
