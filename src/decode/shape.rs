//! Which parts of a payload a mapping reads, and a JSON decoder that builds only those.
//!
//! A Statuspage incident carries its whole update history (`incident_updates`) and dozens
//! of fields no mapping rule looks at; building them as values and dropping them again
//! was most of an event's CPU (callgrind). `Shape` is computed once per mapping from its
//! compiled expressions (`mapping::reads`); anything it cannot prove unread is decoded.

use std::collections::BTreeMap;
use std::fmt;

use jmespath::{Rcvar, Variable};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

/// The part of a value that must be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shape {
    /// The whole value.
    All,
    /// Only these fields of an object (other values are decoded whole). With `truthy`,
    /// an object whose fields are all left out keeps one of them (as null), so that
    /// JMESPath truthiness (`{}` is false) sees what the full value would give.
    Fields {
        fields: BTreeMap<String, Shape>,
        truthy: bool,
    },
    /// An array whose every element is read as the inner shape (a fan-out's `items`);
    /// any other value is decoded whole.
    Each(Box<Shape>),
}

impl Shape {
    /// Nothing read: an empty object shape.
    pub fn none() -> Shape {
        Shape::Fields {
            fields: BTreeMap::new(),
            truthy: false,
        }
    }

    /// Only the value's truthiness is read.
    pub fn truthy() -> Shape {
        Shape::Fields {
            fields: BTreeMap::new(),
            truthy: true,
        }
    }

    /// `field` (read as `inner`) of this value.
    pub fn field(name: &str, inner: Shape) -> Shape {
        Shape::Fields {
            fields: BTreeMap::from([(name.to_owned(), inner)]),
            truthy: false,
        }
    }

    /// Every element of an array, read as `inner`.
    pub fn each(inner: Shape) -> Shape {
        Shape::Each(Box::new(inner))
    }

    /// Everything either shape reads.
    pub fn union(self, other: Shape) -> Shape {
        match (self, other) {
            (Shape::All, _) | (_, Shape::All) => Shape::All,
            (Shape::Each(a), Shape::Each(b)) => Shape::Each(Box::new(a.union(*b))),
            // `Each` keeps every element, so an array's truthiness is what the full value
            // gives; an object under it is decoded whole. Any field read of the same
            // value cannot be merged into it: decode it all.
            (Shape::Each(inner), Shape::Fields { fields, .. })
            | (Shape::Fields { fields, .. }, Shape::Each(inner)) => {
                if fields.is_empty() {
                    Shape::Each(inner)
                } else {
                    Shape::All
                }
            }
            (
                Shape::Fields {
                    fields: mut a,
                    truthy: ta,
                },
                Shape::Fields {
                    fields: b,
                    truthy: tb,
                },
            ) => {
                for (name, shape) in b {
                    let merged = match a.remove(&name) {
                        Some(existing) => existing.union(shape),
                        None => shape,
                    };
                    a.insert(name, merged);
                }
                Shape::Fields {
                    fields: a,
                    truthy: ta || tb,
                }
            }
        }
    }

    /// Whether the field `name` of an object is read (flat form payloads).
    pub fn reads_field(&self, name: &str) -> bool {
        match self {
            Shape::All | Shape::Each(_) => true,
            Shape::Fields { fields, .. } => fields.contains_key(name),
        }
    }
}

impl Shape {
    #[cfg(test)]
    pub(crate) fn decode_json_for_tests(json: &str, shape: &Shape) -> Variable {
        from_json_slice(json.as_bytes(), shape).expect("test json")
    }
}

/// Decodes JSON into a `Variable`, building only what `shape` reads.
pub fn from_json_slice(body: &[u8], shape: &Shape) -> Result<Variable, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = ShapedSeed(shape).deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

struct ShapedSeed<'s>(&'s Shape);

impl<'de> DeserializeSeed<'de> for ShapedSeed<'_> {
    type Value = Variable;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Variable, D::Error> {
        match self.0 {
            Shape::All => Variable::deserialize(d),
            shape @ (Shape::Fields { .. } | Shape::Each(_)) => {
                d.deserialize_any(ShapedVisitor(shape))
            }
        }
    }
}

/// An unread value: parsed and checked as the whole decode would check it, never built.
///
/// serde's `IgnoredAny` would let serde_json skip it faster, but skipping checks only the
/// syntax: a lone surrogate escape (`"\ud800"`), a raw invalid UTF-8 byte inside a
/// string or a number out of range (`1e400`) would pass in an unread field and fail in a
/// read one, so a body's validity would depend on the mapping. Strings here are borrowed
/// (or unescaped into the deserializer's scratch buffer): nothing is allocated.
struct Unread;

impl<'de> DeserializeSeed<'de> for Unread {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(Unread)
    }
}

impl<'de> Visitor<'de> for Unread {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_key_seed(Unread)?.is_some() {
            map.next_value_seed(Unread)?;
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Unread)?.is_some() {}
        Ok(())
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
}

struct ShapedVisitor<'s>(&'s Shape);

impl<'de> Visitor<'de> for ShapedVisitor<'_> {
    type Value = Variable;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Variable, A::Error> {
        let Shape::Fields { fields, truthy } = self.0 else {
            // `Each` met an object: decoded whole.
            return Variable::deserialize(de::value::MapAccessDeserializer::new(map));
        };
        let mut object = BTreeMap::new();
        let mut skipped: Option<String> = None;
        while let Some(key) = map.next_key::<String>()? {
            if let Some(shape) = fields.get(&key) {
                let value = map.next_value_seed(ShapedSeed(shape))?;
                object.insert(key, Rcvar::new(value));
            } else {
                map.next_value_seed(Unread)?;
                if skipped.is_none() {
                    skipped = Some(key);
                }
            }
        }
        if let (true, true, Some(key)) = (*truthy, object.is_empty(), skipped) {
            object.insert(key, Rcvar::new(Variable::Null));
        }
        Ok(Variable::Object(object))
    }

    // Anything but an object is decoded whole (only object fields can be left out),
    // except the elements of an array read by `Each`.
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Variable, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        if let Shape::Each(inner) = self.0 {
            while let Some(item) = seq.next_element_seed(ShapedSeed(inner))? {
                items.push(Rcvar::new(item));
            }
        } else {
            while let Some(item) = seq.next_element::<Variable>()? {
                items.push(Rcvar::new(item));
            }
        }
        Ok(Variable::Array(items))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Variable, E> {
        Ok(Variable::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Variable, E> {
        Ok(Variable::Number(v.into()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Variable, E> {
        Ok(Variable::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Variable, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Variable::Null, Variable::Number))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Variable, E> {
        Ok(Variable::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Variable, E> {
        Ok(Variable::String(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Variable, E> {
        Ok(Variable::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Variable, E> {
        Ok(Variable::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"{"incident":{"id":"i1","status":"open","updates":[{"a":1}],"n":1.5,"ok":true,"z":null},
                          "page":{"id":"p"},"meta":{"x":1},"list":[1,{"b":2}],"empty":{}}"#;

    fn full() -> Variable {
        serde_json::from_str(DOC).expect("json")
    }

    #[test]
    fn all_is_the_full_document() {
        assert_eq!(
            from_json_slice(DOC.as_bytes(), &Shape::All).expect("decodes"),
            full()
        );
    }

    #[test]
    fn fields_keep_only_what_is_read_and_values_whole() {
        let shape = Shape::field("incident", Shape::field("status", Shape::All))
            .union(Shape::field("list", Shape::All))
            .union(Shape::field("page", Shape::All));
        let v = from_json_slice(DOC.as_bytes(), &shape).expect("decodes");
        let full = full();
        assert_eq!(
            v.get_field("incident").get_field("status"),
            full.get_field("incident").get_field("status")
        );
        assert!(v.get_field("incident").get_field("updates").is_null());
        assert!(v.get_field("meta").is_null());
        assert_eq!(v.get_field("list"), full.get_field("list"));
        assert_eq!(v.get_field("page"), full.get_field("page"));
    }

    #[test]
    fn truthy_shape_keeps_non_empty_objects_truthy_and_empty_ones_falsy() {
        let shape =
            Shape::field("meta", Shape::truthy()).union(Shape::field("empty", Shape::truthy()));
        let v = from_json_slice(DOC.as_bytes(), &shape).expect("decodes");
        assert!(v.get_field("meta").is_truthy());
        assert!(!v.get_field("empty").is_truthy());
        assert!(
            v.get_field("meta").get_field("x").is_null(),
            "its fields are still left out"
        );
    }

    #[test]
    fn non_objects_under_a_fields_shape_are_whole() {
        let shape = Shape::field("n", Shape::field("deeper", Shape::All));
        let v = from_json_slice(br#"{"n":[1,2],"s":"x"}"#, &shape).expect("decodes");
        assert_eq!(v.get_field("n").as_array().map(Vec::len), Some(2));
    }

    #[test]
    fn each_reads_every_element_by_its_shape_and_other_values_whole() {
        let shape = Shape::field("list", Shape::each(Shape::field("b", Shape::All)));
        let v = from_json_slice(br#"{"list":[{"b":2,"c":3},{"c":4},5],"other":1}"#, &shape)
            .expect("decodes");
        let list = v.get_field("list");
        let items = list.as_array().expect("array");
        assert_eq!(items.len(), 3);
        assert_eq!(items[0].get_field("b").as_number(), Some(2.0));
        assert!(items[0].get_field("c").is_null());
        assert!(items[1].get_field("c").is_null());
        assert_eq!(items[2].as_number(), Some(5.0));
        assert!(v.get_field("other").is_null());
        let object = from_json_slice(br#"{"list":{"b":1,"c":2}}"#, &shape).expect("decodes");
        assert_eq!(
            object.get_field("list").get_field("c").as_number(),
            Some(2.0),
            "an object where a list was expected is whole"
        );
    }

    #[test]
    fn each_unions() {
        let a = Shape::each(Shape::field("a", Shape::All));
        let b = Shape::each(Shape::field("b", Shape::All));
        assert_eq!(
            a.clone().union(b),
            Shape::each(Shape::field("a", Shape::All).union(Shape::field("b", Shape::All)))
        );
        assert_eq!(a.clone().union(Shape::truthy()), a);
        assert_eq!(a.union(Shape::field("x", Shape::All)), Shape::All);
    }

    #[test]
    fn malformed_json_is_still_an_error() {
        assert!(from_json_slice(br#"{"incident": {"a": }"#, &Shape::none()).is_err());
        assert!(from_json_slice(br#"{"a":1} trailing"#, &Shape::none()).is_err());
    }

    #[test]
    fn unread_values_are_checked_like_read_ones() {
        // Found by fuzz/ (pipeline, json_shape): skipping an unread value checked only
        // its syntax, so these passed under a shape and failed whole.
        for body in [
            &br#"{"a":1,"b":"\ud800"}"#[..],
            b"{\"a\":1,\"b\":[\"\xff\"]}",
            br#"{"a":1,"b":{"c":1e400}}"#,
            br#"{"a":1,"b":{"\udc00":1}}"#,
        ] {
            assert!(from_json_slice(body, &Shape::All).is_err());
            assert!(from_json_slice(body, &Shape::field("a", Shape::All)).is_err());
            assert!(from_json_slice(body, &Shape::truthy()).is_err());
        }
        let ok = br#"{"a":1,"b":{"s":"caf\u00e9 \ud83d\ude00","n":[1,-2.5e3,null,true]}}"#;
        assert!(from_json_slice(ok, &Shape::field("a", Shape::All)).is_ok());
    }
}
