//! The whole decode → evaluate path with the shipped mappings. Input: one selector byte
//! (bits 0-1: mapping, by file name; bit 2: GET; bits 3-4: Content-Type), then the body
//! or query string. Never panics; a
//! fingerprint is never empty; the mapping's shaped decode decides as the whole payload.
#![no_main]

use alertgate::decode::{self, Shape};
use alertgate::engine;
use alertgate_fuzz::SHIPPED;
use libfuzzer_sys::fuzz_target;

const CONTENT_TYPES: [Option<&str>; 4] = [
    None,
    Some("application/x-www-form-urlencoded"),
    Some("application/json; charset=utf-8"),
    Some("text/plain"),
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let mapping = &SHIPPED[usize::from(selector & 3) % SHIPPED.len()];
    let get = selector & 4 != 0;
    let content_type = CONTENT_TYPES[usize::from(selector >> 3) % CONTENT_TYPES.len()];
    let Ok(payload) = mapping.decode_input(get, content_type, body) else {
        return;
    };
    let decided = engine::evaluate(mapping, &payload);
    if let Ok(outcome) = &decided {
        if let Some(fp) = &outcome.fingerprint {
            assert!(!fp.is_empty(), "empty fingerprint");
        }
    }
    if !get {
        let whole = decode::decode_shaped(body, content_type, mapping.decode, &Shape::All)
            .expect("decodes whole when it decodes shaped");
        assert_eq!(
            decided,
            engine::evaluate(mapping, &whole),
            "shaped vs whole"
        );
    } else if let Ok(query) = std::str::from_utf8(body) {
        let whole = decode::decode_query(query.trim_end_matches(['\r', '\n']))
            .expect("query decodes whole");
        assert_eq!(
            decided,
            engine::evaluate(mapping, &whole),
            "shaped vs whole (GET)"
        );
    }
});
