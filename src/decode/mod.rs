//! Request body → one JSON value (`Payload`), built once per request.
//!
//! Owns content-type dispatch and the form and JSON decoders. The value is a
//! `jmespath::Variable` (the JSON data model the engine's expressions search), so the
//! payload is never converted again on the way to evaluation. Does not know about mappings
//! beyond the `DecodeMode` a mapping may force.

mod shape;

use std::collections::BTreeMap;

use jmespath::{Rcvar, Variable};
use serde::Deserialize;

pub use self::shape::Shape;

/// A decoded payload: a shared, immutable JSON value.
pub type Payload = Rcvar;

/// The query parameter that carries the source token; never part of a GET payload.
pub const TOKEN_PARAM: &str = "token";

/// How a body is decoded: by its Content-Type, or forced by the mapping.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DecodeMode {
    /// By Content-Type; a body without one is sniffed (`{`/`[` → JSON, else form).
    #[default]
    Auto,
    /// `application/x-www-form-urlencoded`, whatever the Content-Type says.
    Form,
    /// JSON, whatever the Content-Type says.
    Json,
}

/// Why a body could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The Content-Type is neither form nor JSON (HTTP 415).
    #[error("unsupported content type {0:?}: expected application/x-www-form-urlencoded or application/json")]
    UnsupportedContentType(String),
    /// The body is not valid JSON (HTTP 400).
    #[error("malformed JSON body: {0}")]
    Json(#[from] serde_json::Error),
    /// The form body is not valid (HTTP 400).
    #[error("malformed form body: {0}")]
    Form(String),
}

impl DecodeError {
    /// True when the body's type, not its content, is the problem (415 rather than 400).
    pub fn is_unsupported_type(&self) -> bool {
        matches!(self, DecodeError::UnsupportedContentType(_))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Form,
    Json,
}

/// Decodes a request body by `mode`, falling back to its Content-Type; the whole body.
pub fn decode(
    body: &[u8],
    content_type: Option<&str>,
    mode: DecodeMode,
) -> Result<Payload, DecodeError> {
    decode_shaped(body, content_type, mode, &Shape::All)
}

/// Decodes a request body, building only the parts `shape` says are read (the rest is
/// still parsed, so malformed input is an error all the same).
pub fn decode_shaped(
    body: &[u8],
    content_type: Option<&str>,
    mode: DecodeMode,
    shape: &Shape,
) -> Result<Payload, DecodeError> {
    let format = match mode {
        DecodeMode::Form => Format::Form,
        DecodeMode::Json => Format::Json,
        DecodeMode::Auto => match content_type {
            Some(ct) => format_of(ct)?,
            None => sniff(body),
        },
    };
    match format {
        Format::Json => Ok(Rcvar::new(shape::from_json_slice(body, shape)?)),
        Format::Form => decode_form(body, None, shape),
    }
}

/// Decodes a GET query string as a form, leaving out the `token` parameter.
pub fn decode_query(query: &str) -> Result<Payload, DecodeError> {
    decode_query_shaped(query, &Shape::All)
}

/// `decode_query`, building only the fields `shape` reads.
pub fn decode_query_shaped(query: &str, shape: &Shape) -> Result<Payload, DecodeError> {
    decode_form(query.as_bytes(), Some(TOKEN_PARAM), shape)
}

/// Maps a Content-Type header (parameters such as `charset` allowed) to a format.
fn format_of(content_type: &str) -> Result<Format, DecodeError> {
    let essence = content_type.split(';').next().unwrap_or("").trim();
    if essence.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        return Ok(Format::Form);
    }
    let is_json = essence.eq_ignore_ascii_case("application/json")
        || essence.eq_ignore_ascii_case("text/json")
        || (essence.len() > 5
            && essence.is_char_boundary(essence.len() - 5)
            && essence[essence.len() - 5..].eq_ignore_ascii_case("+json"));
    if is_json {
        Ok(Format::Json)
    } else {
        Err(DecodeError::UnsupportedContentType(essence.to_owned()))
    }
}

fn sniff(body: &[u8]) -> Format {
    match body.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{' | b'[') => Format::Json,
        _ => Format::Form,
    }
}

/// `application/x-www-form-urlencoded` → an object of strings. `+` and `%20` both decode
/// to a space; decoded bytes must be UTF-8. A key given more than once keeps every value,
/// in order, as an array of strings.
fn decode_form(body: &[u8], skip_key: Option<&str>, shape: &Shape) -> Result<Payload, DecodeError> {
    let mut object: BTreeMap<String, Rcvar> = BTreeMap::new();
    // The first field left out because no rule reads it (not the token).
    let mut unread: Option<String> = None;
    for pair in body.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
        let (key, value) = match pair.iter().position(|&b| b == b'=') {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &[][..]),
        };
        let key = form_component(key)?;
        let is_token = skip_key == Some(key.as_str());
        if is_token || !shape.reads_field(&key) {
            // Still checked, so a malformed field is an error whether or not it is read.
            form_component(value)?;
            if !is_token && unread.is_none() {
                unread = Some(key);
            }
            continue;
        }
        let value = Rcvar::new(Variable::String(form_component(value)?));
        match object.entry(key) {
            std::collections::btree_map::Entry::Vacant(slot) => {
                slot.insert(value);
            }
            std::collections::btree_map::Entry::Occupied(mut slot) => {
                let previous = slot.get_mut();
                match Rcvar::make_mut(previous) {
                    Variable::Array(values) => values.push(value),
                    other => {
                        let first = Rcvar::new(std::mem::replace(other, Variable::Null));
                        *other = Variable::Array(vec![first, value]);
                    }
                }
            }
        }
    }
    // As for JSON (`Shape::Fields::truthy`): a payload whose fields were all left out
    // keeps one (as null), so `@` is as truthy as the whole form would be.
    if let (Shape::Fields { truthy: true, .. }, true, Some(key)) =
        (shape, object.is_empty(), unread)
    {
        object.insert(key, Rcvar::new(Variable::Null));
    }
    Ok(Rcvar::new(Variable::Object(object)))
}

/// Decodes one form key or value: `+` → space, `%XY` → that byte, then strict UTF-8. A
/// `%` not followed by two hex digits stays as it is (as browsers and the
/// `percent-encoding` crate do). One pass, one allocation: the byte-iterator decoder of
/// `percent-encoding` cost a fifth of a StatusCake event's CPU (callgrind).
fn form_component(raw: &[u8]) -> Result<String, DecodeError> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => out.push(b' '),
            b'%' => match (
                raw.get(i + 1).and_then(|d| hex(*d)),
                raw.get(i + 2).and_then(|d| hex(*d)),
            ) {
                (Some(hi), Some(lo)) => {
                    out.push(hi << 4 | lo);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|e| {
        DecodeError::Form(format!(
            "invalid UTF-8 after percent-decoding at byte {}",
            e.utf8_error().valid_up_to()
        ))
    })
}

/// One query-string component, decoded like a form's; borrowed when nothing needs
/// decoding, `None` when the result is not UTF-8.
pub fn decode_component(raw: &str) -> Option<std::borrow::Cow<'_, str>> {
    if !raw.bytes().any(|b| b == b'%' || b == b'+') {
        return Some(std::borrow::Cow::Borrowed(raw));
    }
    form_component(raw.as_bytes())
        .ok()
        .map(std::borrow::Cow::Owned)
}

fn hex(digit: u8) -> Option<u8> {
    (digit as char)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(p: &Payload, key: &str) -> Rcvar {
        p.get_field(key)
    }

    fn form(body: &str) -> Payload {
        decode(
            body.as_bytes(),
            Some("application/x-www-form-urlencoded"),
            DecodeMode::Auto,
        )
        .expect("valid form")
    }

    #[test]
    fn form_plus_and_percent20_both_decode_to_space() {
        let a = form("Name=Example+Website&URL=https%3A%2F%2Fwww.example.com");
        let b = form("Name=Example%20Website&URL=https%3a%2f%2fwww.example.com");
        assert_eq!(
            field(&a, "Name").as_string().map(String::as_str),
            Some("Example Website")
        );
        assert_eq!(a, b);
    }

    #[test]
    fn form_with_charset_parameter_is_a_form() {
        let p = decode(
            b"Status=Down",
            Some("application/x-www-form-urlencoded; charset=UTF-8"),
            DecodeMode::Auto,
        )
        .expect("form with charset");
        assert_eq!(
            field(&p, "Status").as_string().map(String::as_str),
            Some("Down")
        );
    }

    #[test]
    fn form_repeated_key_keeps_all_values_in_order() {
        let p = form("Tag=a&Tag=b&Tag=c&One=x");
        let tag = field(&p, "Tag");
        let tags: Vec<&str> = tag
            .as_array()
            .expect("array")
            .iter()
            .filter_map(|v| v.as_string().map(String::as_str))
            .collect();
        assert_eq!(tags, ["a", "b", "c"]);
        assert!(field(&p, "One").is_string());
    }

    #[test]
    fn form_utf8_is_decoded_and_invalid_utf8_is_an_error() {
        let p = form("Name=Caf%C3%A9");
        assert_eq!(
            field(&p, "Name").as_string().map(String::as_str),
            Some("Café")
        );
        let err = decode(
            b"Name=%FF%FE",
            Some("application/x-www-form-urlencoded"),
            DecodeMode::Auto,
        )
        .expect_err("invalid utf-8");
        assert!(matches!(err, DecodeError::Form(_)), "{err}");
        assert!(err.to_string().contains("UTF-8"), "{err}");
    }

    #[test]
    fn form_percent_without_two_hex_digits_stays_literal() {
        let p = form("A=100%25&B=50%&C=%zz&D=%4&E=%41%42");
        let get = |k: &str| field(&p, k).as_string().cloned();
        assert_eq!(get("A").as_deref(), Some("100%"));
        assert_eq!(get("B").as_deref(), Some("50%"));
        assert_eq!(get("C").as_deref(), Some("%zz"));
        assert_eq!(get("D").as_deref(), Some("%4"));
        assert_eq!(get("E").as_deref(), Some("AB"));
    }

    #[test]
    fn form_left_out_fields_keep_the_payload_truthy_when_truthiness_is_read() {
        // Found by fuzz/ (template): `{{ !@ }}` over a form rendered `false` whole and
        // `true` decoded under the expression's shape, which had dropped every field.
        let ct = Some("application/x-www-form-urlencoded");
        let truthy =
            decode_shaped(b"Status=Down", ct, DecodeMode::Auto, &Shape::truthy()).expect("form");
        assert!(truthy.is_truthy(), "{truthy:?}");
        let none =
            decode_shaped(b"Status=Down", ct, DecodeMode::Auto, &Shape::none()).expect("form");
        assert!(!none.is_truthy(), "nothing read, nothing kept: {none:?}");
        // The token never counts: a GET carrying only the token is empty either way.
        let whole = decode_query("token=t").expect("query");
        let shaped = decode_query_shaped("token=t", &Shape::truthy()).expect("query");
        assert_eq!(whole.is_truthy(), shaped.is_truthy());
        assert!(!shaped.is_truthy());
    }

    #[test]
    fn form_key_without_value_is_empty_string_and_empty_pairs_are_skipped() {
        let p = form("&&Flag&Status=Down&");
        assert_eq!(field(&p, "Flag").as_string().map(String::as_str), Some(""));
        assert_eq!(p.as_object().map(std::collections::BTreeMap::len), Some(2));
    }

    #[test]
    fn json_and_plus_json_types_decode_as_json() {
        for ct in [
            "application/json",
            "application/json; charset=utf-8",
            "application/vnd.statuspage+json",
        ] {
            let p = decode(
                br#"{"incident":{"status":"identified"}}"#,
                Some(ct),
                DecodeMode::Auto,
            )
            .expect(ct);
            assert!(field(&p, "incident").is_object(), "{ct}");
        }
    }

    #[test]
    fn malformed_json_is_a_typed_error() {
        let err = decode(
            b"{\"incident\":",
            Some("application/json"),
            DecodeMode::Auto,
        )
        .expect_err("truncated");
        assert!(matches!(err, DecodeError::Json(_)));
        assert!(!err.is_unsupported_type());
    }

    #[test]
    fn unsupported_content_type_is_415_class() {
        let err = decode(b"hello", Some("text/plain"), DecodeMode::Auto).expect_err("text/plain");
        assert!(err.is_unsupported_type());
        assert!(err.to_string().contains("text/plain"));
    }

    #[test]
    fn forced_mode_overrides_content_type() {
        let p = decode(b"Status=Up", Some("text/plain"), DecodeMode::Form).expect("forced form");
        assert_eq!(
            field(&p, "Status").as_string().map(String::as_str),
            Some("Up")
        );
        let p = decode(
            b"{\"a\":1}",
            Some("application/x-www-form-urlencoded"),
            DecodeMode::Json,
        )
        .expect("forced json");
        assert!(field(&p, "a").is_number());
    }

    #[test]
    fn missing_content_type_is_sniffed() {
        assert!(field(
            &decode(b" {\"a\":1}", None, DecodeMode::Auto).expect("json"),
            "a"
        )
        .is_number());
        assert!(field(&decode(b"a=1", None, DecodeMode::Auto).expect("form"), "a").is_string());
    }

    #[test]
    fn query_string_decodes_as_form_without_the_token() {
        let p = decode_query("Status=Down&Name=Site&token=secret").expect("query");
        assert!(field(&p, "token").is_null());
        assert_eq!(
            field(&p, "Status").as_string().map(String::as_str),
            Some("Down")
        );
    }
}
