//! JSON decoding through `Shape`. Input: a dotted field path, a newline, a JSON body.
//! Decoding never panics; a body decodes under a shape exactly when it decodes whole;
//! the path reads the same value (and the same truthiness) from both.
#![no_main]

use alertgate::decode::{self, DecodeMode, Shape};
use alertgate::mapping::Expr;
use alertgate_fuzz::split_line;
use libfuzzer_sys::fuzz_target;

fn quoted(field: &str) -> String {
    let mut out = String::from("\"");
    for c in field.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((path, body)) = split_line(data) else {
        return;
    };
    if path.len() > 512 {
        return;
    }
    let fields: Vec<&str> = path.split('.').take(8).collect();
    let build = |leaf: Shape| {
        fields
            .iter()
            .rev()
            .fold(leaf, |inner, name| Shape::field(name, inner))
    };
    let whole = decode::decode_shaped(
        body,
        Some("application/json"),
        DecodeMode::Auto,
        &Shape::All,
    );
    let expr = Expr::compile(
        &fields
            .iter()
            .map(|f| quoted(f))
            .collect::<Vec<_>>()
            .join("."),
    )
    .expect("a quoted field path compiles");
    for (shape, truthy) in [
        (build(Shape::All), false),
        (build(Shape::truthy()), true),
        (Shape::none(), false),
        (Shape::truthy(), true),
    ] {
        let part = decode::decode_shaped(body, Some("application/json"), DecodeMode::Json, &shape);
        assert_eq!(
            whole.is_ok(),
            part.is_ok(),
            "shape {shape:?}: whole {:?}, shaped {:?}",
            whole.as_ref().err().map(ToString::to_string),
            part.as_ref().err().map(ToString::to_string)
        );
        let (Ok(w), Ok(p)) = (&whole, &part) else {
            continue;
        };
        if matches!(shape, Shape::Fields { ref fields, .. } if fields.is_empty()) {
            if truthy {
                assert_eq!(w.is_truthy(), p.is_truthy(), "root truthiness");
            }
            continue;
        }
        let a = expr.search(w).expect("a path search cannot fail");
        let b = expr.search(p).expect("a path search cannot fail");
        if truthy {
            assert_eq!(a.is_truthy(), b.is_truthy(), "{path}: {a:?} vs {b:?}");
        } else {
            assert_eq!(a, b, "{path}");
        }
    }
});
