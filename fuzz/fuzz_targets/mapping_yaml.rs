//! Mapping YAML compile (`compile_str`): never panics, and a mapping that compiles
//! evaluates a few payloads without panicking.
#![no_main]

use std::path::Path;

use alertgate::engine;
use alertgate::mapping::compile_str;
use alertgate_fuzz::{shallow, yaml_strings};
use libfuzzer_sys::fuzz_target;

const PAYLOADS: [&[u8]; 3] = [
    b"Status=Down&Name=Site&URL=https%3A%2F%2Fsite&Tags=a%2Cb",
    br#"{"incident":{"id":"i1","status":"investigating","impact":"critical","name":"API"},"component":{"id":"c","status":"major_outage"}}"#,
    b"[1,\"a\",null,{\"b\":[true]}]",
];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // Deeply nested expressions are the known parser stack overflow, tracked apart.
    match yaml_strings(text) {
        Some(strings) if strings.iter().all(|s| shallow(s)) => {}
        Some(_) => return,
        None => {} // not YAML: compile_str reports it
    }
    let Ok(mapping) = compile_str(Path::new("fuzz.yaml"), text) else {
        return;
    };
    for body in PAYLOADS {
        if let Ok(p) = mapping.decode_body(body, None) {
            if let Ok(outcome) = engine::evaluate(&mapping, &p) {
                if let Some(fp) = &outcome.fingerprint {
                    assert!(!fp.is_empty(), "empty fingerprint");
                }
            }
        }
    }
});
