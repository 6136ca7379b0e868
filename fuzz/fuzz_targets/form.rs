//! Form bodies and GET query strings: decoding never panics, `+` and `%20` agree, and
//! every decoded value is a string or an array of strings.
#![no_main]

use alertgate::decode::{self, DecodeMode};
use jmespath::Variable;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let form = decode::decode(
        data,
        Some("application/x-www-form-urlencoded"),
        DecodeMode::Auto,
    );
    let forced = decode::decode(data, Some("text/plain"), DecodeMode::Form);
    assert_eq!(
        form.as_ref().ok(),
        forced.as_ref().ok(),
        "a forced form decodes like a declared one"
    );
    if let Ok(p) = &form {
        let Variable::Object(map) = &**p else {
            panic!("a form decodes to an object")
        };
        for value in map.values() {
            match &**value {
                Variable::String(_) => {}
                Variable::Array(items) => assert!(items.iter().all(|i| i.is_string())),
                other => panic!("form value {other:?}"),
            }
        }
        // `+` and `%20` are the same byte after decoding.
        let spaced: Vec<u8> = data
            .iter()
            .flat_map(|&b| if b == b'+' { b"%20".to_vec() } else { vec![b] })
            .collect();
        let again = decode::decode(
            &spaced,
            Some("application/x-www-form-urlencoded"),
            DecodeMode::Auto,
        )
        .expect("same form with %20 for +");
        assert_eq!(*p, again);
    }
    if let Ok(query) = std::str::from_utf8(data) {
        if let Ok(p) = decode::decode_query(query) {
            assert!(
                p.get_field(decode::TOKEN_PARAM).is_null(),
                "token never in a GET payload"
            );
        }
        let _ = decode::decode_component(query);
    }
});
