//! The serde mirror of a mapping file: what an admin writes, before any checking.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;

use crate::decode::DecodeMode;

/// A whole mapping file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingSpec {
    /// The integration's name; config sources refer to it.
    pub integration: String,
    #[serde(default)]
    pub description: Option<String>,
    /// `form`, `json` or `auto` (by Content-Type).
    #[serde(default)]
    pub decode: DecodeMode,
    /// Fan-out: JMESPath to a list, each element one event (`items: alerts`), or
    /// `{ from, when }` to fan out only payloads where `when` holds.
    #[serde(default)]
    pub items: Option<ItemsSpec>,
    pub rules: Vec<RuleSpec>,
    #[serde(default)]
    pub tests: Vec<TestSpec>,
}

/// `items:` as written: a JMESPath, or `{ from, when }`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum ItemsSpec {
    Path(String),
    Table(ItemsTable),
}

/// `items: { from, when }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemsTable {
    pub from: String,
    #[serde(default)]
    pub when: Option<String>,
}

/// One rule: when it applies and what it decides.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    pub name: String,
    /// JMESPath; the rule applies where it is truthy. Absent: always.
    #[serde(default)]
    pub when: Option<String>,
    pub action: SelectorSpecOrConst,
    /// Template; required unless the action is the constant `ignore`.
    #[serde(default)]
    pub fingerprint: Option<String>,
    #[serde(default)]
    pub priority: Option<SelectorSpecOrConst>,
    #[serde(default)]
    pub title: Option<String>,
    /// Label name → JMESPath.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// JMESPath to an RFC 3339 time that orders events of one fingerprint.
    #[serde(default)]
    pub event_time: Option<String>,
    /// A duration (`30m`, `4h`): an open incident of this rule that gets no event for
    /// that long resolves itself. Wins over the source's `auto_resolve_after`.
    #[serde(default)]
    pub auto_resolve_after: Option<String>,
}

/// A value chosen per payload: a constant (`open`, `{ value: open }`) or a table
/// (`{ from, map, default, case_insensitive }`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SelectorSpec {
    #[serde(default)]
    pub value: Option<String>,
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub map: Option<BTreeMap<ScalarKey, String>>,
    #[serde(default)]
    pub default: Option<String>,
    #[serde(default)]
    pub case_insensitive: bool,
}

/// A table key: YAML scalars of any type (`500:`, `true:`) as their text.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ScalarKey(pub String);

impl<'de> Deserialize<'de> for ScalarKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = ScalarKey;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, number or boolean table key")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ScalarKey, E> {
                Ok(ScalarKey(v.to_owned()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ScalarKey, E> {
                Ok(ScalarKey(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ScalarKey, E> {
                Ok(ScalarKey(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<ScalarKey, E> {
                Ok(ScalarKey(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<ScalarKey, E> {
                Ok(ScalarKey(v.to_string()))
            }
        }
        d.deserialize_any(KeyVisitor)
    }
}

impl<'de> Deserialize<'de> for SelectorSpecOrConst {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct SelVisitor;
        impl<'de> Visitor<'de> for SelVisitor {
            type Value = SelectorSpecOrConst;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a constant such as `open`, or a table `{ from, map, default }`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(SelectorSpecOrConst(SelectorSpec {
                    value: Some(v.to_owned()),
                    ..SelectorSpec::default()
                }))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                SelectorSpec::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(SelectorSpecOrConst)
            }
        }
        d.deserialize_any(SelVisitor)
    }
}

/// Accepts both the short constant form and the table form of a selector.
#[derive(Debug)]
pub struct SelectorSpecOrConst(pub SelectorSpec);

/// One `tests:` entry: a payload and what the mapping must decide for it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestSpec {
    pub name: String,
    /// Content-Type of `body`/`payload` (default: by the mapping's `decode`, else sniffed).
    #[serde(default)]
    pub content_type: Option<String>,
    /// `POST` (default) or `GET`; with `GET` the body is the query string.
    #[serde(default)]
    pub method: Option<String>,
    /// The payload inline.
    #[serde(default)]
    pub body: Option<String>,
    /// The payload as a file, relative to the mapping file.
    #[serde(default)]
    pub payload: Option<String>,
    pub expect: ExpectSpec,
}

/// What a test expects; every key given is checked, absent keys are not.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectSpec {
    #[serde(default)]
    pub action: Option<String>,
    #[serde(default)]
    pub fingerprint: Option<String>,
    /// A priority name, or `~` for none.
    #[serde(default, deserialize_with = "present")]
    pub priority: Option<Option<String>>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub rule: Option<String>,
    /// Text the ignore reason must contain.
    #[serde(default)]
    pub reason: Option<String>,
    /// The payload must be rejected (HTTP 422) with a message containing this text.
    #[serde(default)]
    pub reject: Option<String>,
    #[serde(default)]
    pub labels: Option<BTreeMap<String, serde_json::Value>>,
    /// A fan-out payload: what each element must get, in order (every element listed).
    #[serde(default)]
    pub results: Option<Vec<ExpectSpec>>,
}

/// Distinguishes a key given as `~` (Some(None)) from a key not given (None).
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}
