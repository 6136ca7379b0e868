//! JMESPath compile and evaluation over arbitrary payloads. Input: expression, a
//! newline, a payload (JSON when it starts with `{`/`[`, else a form). Never panics; the
//! expression's `reads()` shapes give the same value and truthiness as the whole payload.
#![no_main]

use alertgate::decode::Shape;
use alertgate::mapping::Expr;
use alertgate_fuzz::{payload, shallow, split_line};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((source, body)) = split_line(data) else {
        return;
    };
    if !shallow(source) {
        return; // deep nesting: the known parser stack overflow, tracked apart
    }
    let Ok(expr) = Expr::compile(source) else {
        return;
    };
    let Some(whole) = payload(body, &Shape::All) else {
        return;
    };
    let full = expr.search(&whole).map_err(|e| e.to_string());
    let part = payload(body, &expr.reads(false)).expect("decodes under a shape when whole");
    assert_eq!(
        full,
        expr.search(&part).map_err(|e| e.to_string()),
        "{source}: value under reads()"
    );
    let part = payload(body, &expr.reads(true)).expect("decodes under a shape when whole");
    let truthy = expr.search(&part);
    assert_eq!(
        full.as_ref().map(|v| v.is_truthy()).ok(),
        truthy.as_ref().map(|v| v.is_truthy()).ok(),
        "{source}: truthiness under reads(true)"
    );
});
