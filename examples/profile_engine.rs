//! Decode + evaluate in a loop, for instruction-level profiles that machine load does not
//! disturb: `valgrind --tool=callgrind target/release/examples/profile_engine sc|sp`
//! (StatusCake DOWN or Statuspage incident, 20 000 events each).

use alertgate::{engine, mapping};
use std::path::Path;
fn main() {
    let which = std::env::args().nth(1).unwrap_or_else(|| "sc".into());
    let (m, f, ct) = if which == "sc" {
        (
            "mappings/statuscake.yaml",
            "tests/fixtures/statuscake/down-basic.form",
            "application/x-www-form-urlencoded",
        )
    } else {
        (
            "mappings/statuspage.yaml",
            "tests/fixtures/statuspage/incident-identified-critical.json",
            "application/json",
        )
    };
    let mapping = mapping::load_file(Path::new(m)).expect("mapping");
    let body = std::fs::read(f).expect("fixture");
    let mut n = 0;
    for _ in 0..20000 {
        let p = mapping.decode_body(&body, Some(ct)).expect("decode");
        let o = engine::evaluate(&mapping, &p).expect("eval");
        n += o.fingerprint.map_or(0, |f| f.len());
    }
    println!("{n}");
}
