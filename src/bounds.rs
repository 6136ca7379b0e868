//! Bounds on what one event may store: fingerprint length (over it: a rejection, 422),
//! title and label values cut on a UTF-8 boundary with [`TRUNCATED`], at most so many
//! labels (docs/design.md §9).
//!
//! A pure step between the engine and the store: the engine says what a payload means,
//! this says how much of it a store keeps. It depends only on `outcome`.

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::outcome::{Labels, Outcome, Rejection};

/// Appended to a cut title or label value.
pub const TRUNCATED: &str = "…[truncated]";

/// The bounds applied to one outcome (from `limits.*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventBounds {
    pub max_fingerprint_bytes: usize,
    pub max_title_bytes: usize,
    pub max_label_bytes: usize,
    pub max_labels: usize,
}

/// A field [`apply`] cut: the `field` label of `alertgate_truncations_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Truncated {
    /// The title was longer than `max_title_bytes`.
    Title,
    /// At least one label value was longer than `max_label_bytes`.
    LabelValue,
    /// There were more than `max_labels` labels; the later ones were dropped.
    Labels,
}

impl Truncated {
    pub fn as_str(self) -> &'static str {
        match self {
            Truncated::Title => "title",
            Truncated::LabelValue => "label_value",
            Truncated::Labels => "labels",
        }
    }
}

/// Checks the fingerprint and cuts title and labels to `bounds`; returns what was cut.
pub fn apply(outcome: &mut Outcome, bounds: &EventBounds) -> Result<Vec<Truncated>, Rejection> {
    let mut cut = Vec::new();
    if let Some(fp) = &outcome.fingerprint {
        if fp.len() > bounds.max_fingerprint_bytes {
            return Err(Rejection {
                rule: outcome.rule.clone().unwrap_or_default(),
                field: "fingerprint".to_owned(),
                message: format!(
                    "fingerprint is {} bytes, over limits.max_fingerprint_bytes ({})",
                    fp.len(),
                    bounds.max_fingerprint_bytes
                ),
            });
        }
    }
    if let Some(title) = &mut outcome.title {
        if truncate(title, bounds.max_title_bytes) {
            cut.push(Truncated::Title);
        }
    }
    if !outcome.labels.is_empty() {
        cut.extend(bound_labels(&mut outcome.labels, bounds));
    }
    Ok(cut)
}

/// Cuts `text` to at most `max` bytes on a char boundary, ending with [`TRUNCATED`] when
/// there is room for it. True when it cut.
pub fn truncate(text: &mut String, max: usize) -> bool {
    if text.len() <= max {
        return false;
    }
    let (keep, marker) = if max > TRUNCATED.len() {
        (max - TRUNCATED.len(), TRUNCATED)
    } else {
        (max, "")
    };
    let mut end = keep;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text.push_str(marker);
    true
}

fn bound_labels(labels: &mut Labels, bounds: &EventBounds) -> Vec<Truncated> {
    let json = labels.as_json();
    // The common case costs no parse: no value can be longer than the whole text, and
    // each label takes at least 5 bytes (`"":0,`).
    if json.len() <= bounds.max_label_bytes && json.len() < 5 * bounds.max_labels + 2 {
        return Vec::new();
    }
    let Ok(Pairs(mut pairs)) = serde_json::from_str::<Pairs>(json) else {
        return Vec::new();
    };
    let mut cut = Vec::new();
    if pairs.len() > bounds.max_labels {
        pairs.truncate(bounds.max_labels);
        cut.push(Truncated::Labels);
    }
    let mut value_cut = false;
    for (_, value) in &mut pairs {
        let raw = value.get();
        let text = if raw.starts_with('"') {
            serde_json::from_str::<String>(raw).ok()
        } else {
            Some(raw.to_owned())
        };
        let Some(mut text) = text else { continue };
        if raw.len() > bounds.max_label_bytes && truncate(&mut text, bounds.max_label_bytes) {
            if let Ok(json) = serde_json::to_string(&text).and_then(RawValue::from_string) {
                *value = json;
                value_cut = true;
            }
        }
    }
    if value_cut {
        cut.push(Truncated::LabelValue);
    }
    if let Some(bounded) = serde_json::to_string(&Pairs(pairs))
        .ok()
        .and_then(|j| Labels::from_json(&j).ok())
    {
        *labels = bounded;
    }
    cut
}

/// A JSON object as (name, raw value) pairs, in the order written.
struct Pairs(Vec<(String, Box<RawValue>)>);

impl<'de> Deserialize<'de> for Pairs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Pairs;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Pairs, A::Error> {
                let mut pairs = Vec::new();
                while let Some(pair) = map.next_entry::<String, Box<RawValue>>()? {
                    pairs.push(pair);
                }
                Ok(Pairs(pairs))
            }
        }
        d.deserialize_map(V)
    }
}

impl Serialize for Pairs {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (name, value) in &self.0 {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::Action;

    const BOUNDS: EventBounds = EventBounds {
        max_fingerprint_bytes: 16,
        max_title_bytes: 20,
        max_label_bytes: 16,
        max_labels: 3,
    };

    fn outcome(fp: &str, title: &str, labels: &str) -> Outcome {
        Outcome {
            action: Action::Open,
            fingerprint: Some(fp.to_owned()),
            priority: None,
            title: Some(title.to_owned()),
            labels: Labels::from_json(labels).unwrap(),
            event_time: None,
            rule: Some("down".to_owned()),
            reason: None,
            auto_resolve_after_ms: None,
            flapping: None,
        }
    }

    #[test]
    fn a_long_fingerprint_is_rejected_naming_the_limit() {
        let mut o = outcome(&"f".repeat(17), "t", "{}");
        let e = apply(&mut o, &BOUNDS).unwrap_err();
        assert_eq!(e.field, "fingerprint");
        assert!(
            e.message.contains("limits.max_fingerprint_bytes (16)"),
            "{e}"
        );
        let mut o = outcome(&"f".repeat(16), "t", "{}");
        assert_eq!(apply(&mut o, &BOUNDS).unwrap(), vec![]);
    }

    #[test]
    fn titles_are_cut_on_a_char_boundary_with_the_marker() {
        // 'é' is 2 bytes: 20 - 14 (marker) = 6 bytes kept, the 4th 'é' would straddle 6..8.
        let mut o = outcome("fp", &"é".repeat(30), "{}");
        assert_eq!(apply(&mut o, &BOUNDS).unwrap(), vec![Truncated::Title]);
        let title = o.title.unwrap();
        assert_eq!(title, format!("ééé{TRUNCATED}"));
        assert!(title.len() <= 20);
        let mut short = String::from("abc");
        assert!(!truncate(&mut short, 3));
        let mut tiny = String::from("abcdef");
        assert!(truncate(&mut tiny, 4));
        assert_eq!(tiny, "abcd");
    }

    #[test]
    fn labels_keep_their_order_lose_the_extra_ones_and_long_values_are_cut() {
        let mut o = outcome(
            "fp",
            "t",
            r#"{"z":"a very long label value here","a":12,"m":{"x":1},"b":"dropped"}"#,
        );
        let cut = apply(&mut o, &BOUNDS).unwrap();
        assert_eq!(cut, vec![Truncated::Labels, Truncated::LabelValue]);
        assert_eq!(
            o.labels.as_json(),
            format!(r#"{{"z":"a {TRUNCATED}","a":12,"m":{{"x":1}}}}"#)
        );
    }

    #[test]
    fn small_labels_are_left_as_they_are() {
        let mut o = outcome("fp", "t", r#"{"a":"b"}"#);
        assert_eq!(apply(&mut o, &BOUNDS).unwrap(), vec![]);
        assert_eq!(o.labels.as_json(), r#"{"a":"b"}"#);
    }
}
