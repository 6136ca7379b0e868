//! Property tests of decoding and evaluation (proptest, 256 cases each): form encoding
//! round-trips, `+` and `%20` agree, decoding never panics, a fingerprint is never empty.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};

use alertgate::decode::{self, DecodeMode};
use alertgate::engine;
use alertgate::mapping::{compile_str, load_file, Mapping};
use jmespath::Variable;
use proptest::prelude::*;

static STATUSCAKE: LazyLock<Arc<Mapping>> = LazyLock::new(|| {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("mappings/statuscake.yaml");
    Arc::new(load_file(&path).expect("shipped StatusCake mapping"))
});

/// A generic mapping whose fingerprint is two holes side by side: both may be missing,
/// null, empty or not strings.
static TWO_HOLES: LazyLock<Mapping> = LazyLock::new(|| {
    compile_str(
        Path::new("two-holes.yaml"),
        "integration: t\ndecode: json\nrules:\n  - name: r\n    action: open\n    fingerprint: \"{{ a }}{{ b }}\"\n    priority: low\n",
    )
    .expect("two-hole mapping")
});

const FORM: &str = "application/x-www-form-urlencoded";

/// Percent-encodes every byte but unreserved ones; spaces as `+` or as `%20`.
fn encode(text: &str, plus: bool) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        match b {
            b' ' if plus => out.push('+'),
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char);
            }
            _ => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}

/// Names and URLs as monitors have them: spaces, punctuation, some non-ASCII.
fn field() -> impl Strategy<Value = String> {
    "[A-Za-z0-9][A-Za-z0-9 .:/?&=+%#é漢-]{0,30}"
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    prop_oneof![
        Just(serde_json::Value::Null),
        Just(serde_json::json!("")),
        Just(serde_json::json!([])),
        Just(serde_json::json!({})),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i32>().prop_map(serde_json::Value::from),
        ".{0,8}".prop_map(serde_json::Value::from),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn plus_and_percent20_give_the_same_statuscake_fingerprint(name in field(), url in field(), down in any::<bool>()) {
        let status = if down { "Down" } else { "Up" };
        let body = |plus: bool| format!("Status={status}&Name={}&URL={}", encode(&name, plus), encode(&url, plus));
        let mapping = &*STATUSCAKE;
        let decide = |text: String| {
            let payload = mapping.decode_body(text.as_bytes(), Some(FORM)).expect("form decodes");
            engine::evaluate(mapping, &payload).expect("StatusCake decides")
        };
        let with_plus = decide(body(true));
        let with_percent = decide(body(false));
        prop_assert_eq!(&with_plus.fingerprint, &with_percent.fingerprint);
        let want = format!("{name}|{url}");
        prop_assert_eq!(with_plus.fingerprint.as_deref(), Some(want.as_str()));
        prop_assert_eq!(with_plus, with_percent);
    }

    #[test]
    fn decoding_never_panics(
        body in proptest::collection::vec(any::<u8>(), 0..256),
        content_type in prop_oneof![
            Just(None),
            Just(Some(FORM.to_owned())),
            Just(Some("application/json; charset=utf-8".to_owned())),
            Just(Some("application/vnd.api+json".to_owned())),
            ".{0,24}".prop_map(Some),
        ],
        mode in prop_oneof![Just(DecodeMode::Auto), Just(DecodeMode::Form), Just(DecodeMode::Json)],
    ) {
        let _ = decode::decode(&body, content_type.as_deref(), mode);
        let _ = STATUSCAKE.decode_body(&body, content_type.as_deref());
        if let Ok(query) = std::str::from_utf8(&body) {
            let _ = decode::decode_query(query);
            let _ = STATUSCAKE.decode_query(query);
        }
    }

    #[test]
    fn a_rendered_fingerprint_is_never_empty(a in proptest::option::of(json_value()), b in proptest::option::of(json_value())) {
        let mut object = serde_json::Map::new();
        object.extend(a.map(|v| ("a".to_owned(), v)));
        object.extend(b.map(|v| ("b".to_owned(), v)));
        let body = serde_json::to_vec(&object).expect("json");
        let payload = TWO_HOLES.decode_body(&body, None).expect("json decodes");
        match engine::evaluate(&TWO_HOLES, &payload) {
            Ok(outcome) => {
                let fingerprint = outcome.fingerprint.expect("an open has a fingerprint");
                prop_assert!(!fingerprint.is_empty());
            }
            // Refused, naming the hole, rather than an empty fingerprint.
            Err(rejection) => prop_assert!(rejection.to_string().contains("fingerprint"), "{rejection}"),
        }
    }

    #[test]
    fn form_encoding_round_trips(pairs in proptest::collection::vec((".{0,12}", ".{0,24}"), 0..8)) {
        let text = serde_urlencoded::to_string(&pairs).expect("encodes");
        let payload = decode::decode(text.as_bytes(), Some(FORM), DecodeMode::Auto).expect("decodes");
        let mut want: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (k, v) in &pairs {
            want.entry(k.clone()).or_default().push(v.clone());
        }
        let Variable::Object(got) = &*payload else { panic!("a form is an object") };
        prop_assert_eq!(got.len(), want.len());
        for (key, values) in want {
            let value = &got[&key];
            let strings: Vec<String> = match &**value {
                Variable::String(s) => vec![s.clone()],
                Variable::Array(items) => items.iter().map(|i| i.as_string().expect("string").clone()).collect(),
                other => panic!("{other:?}"),
            };
            prop_assert_eq!(strings.len() > 1, values.len() > 1, "repeated keys become arrays");
            prop_assert_eq!(strings, values);
        }
    }
}
