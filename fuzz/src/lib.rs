//! Helpers shared by the fuzz targets: the input-depth cap, input splitting, the shipped
//! mappings.

use std::path::Path;
use std::sync::{Arc, LazyLock};

use alertgate::decode::{self, DecodeMode, Payload, Shape};
use alertgate::mapping::{load_file, mapping_files, Mapping};

/// Longest expression or template text a target compiles.
pub const MAX_EXPR_LEN: usize = 1024;
/// Most structural bytes (`( [ { ! . | & * ? < > =`) an expression may hold.
pub const MAX_EXPR_OPS: usize = 96;

/// Longest run of digits an expression may hold (`i32::MAX` has 10).
pub const MAX_DIGITS: usize = 9;

/// Whether `text` may be handed to jmespath's parser. Two known classes, reported and
/// tracked apart, are left out so the targets can look for others:
///
/// - depth: jmespath parses, evaluates and drops its AST recursively, so an expression
///   nested thousands deep (`((((…))))`) overflows the stack. Every level of that tree
///   needs at least one structural byte, so bounding their count bounds the depth.
/// - numbers: jmespath 0.3's lexer `expect`s every number to parse as an `i32`, so
///   `a[99999999999]`, `a[-2147483648]` and `-` before a non-ASCII numeric character
///   (`-٣`, `-½`) panic inside `compile`.
pub fn shallow(text: &str) -> bool {
    let mut digits = 0;
    let mut longest = 0;
    for b in text.bytes() {
        digits = if b.is_ascii_digit() { digits + 1 } else { 0 };
        longest = longest.max(digits);
    }
    text.len() <= MAX_EXPR_LEN
        && longest <= MAX_DIGITS
        && !text.chars().any(|c| c.is_numeric() && !c.is_ascii_digit())
        && text.bytes().filter(|b| b"([{!.|&*?<>=".contains(b)).count() <= MAX_EXPR_OPS
}

/// Splits fuzz input at its first newline: (head, rest). `None` when the head is not
/// UTF-8.
pub fn split_line(data: &[u8]) -> Option<(&str, &[u8])> {
    let at = data.iter().position(|&b| b == b'\n').unwrap_or(data.len());
    let head = std::str::from_utf8(&data[..at]).ok()?;
    let rest = data.get(at + 1..).unwrap_or(&[]);
    Some((head, rest))
}

/// A payload from fuzz bytes: JSON when it looks like JSON, else a form.
pub fn payload(body: &[u8], shape: &Shape) -> Option<Payload> {
    decode::decode_shaped(body, None, DecodeMode::Auto, shape).ok()
}

/// The mappings shipped in `mappings/` (every file there, sorted by name), compiled once.
pub static SHIPPED: LazyLock<Vec<Arc<Mapping>>> = LazyLock::new(|| {
    let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../mappings"));
    let files = mapping_files(dir).expect("mappings/ is readable");
    assert!(!files.is_empty(), "no mappings in {}", dir.display());
    files
        .iter()
        .map(|f| Arc::new(load_file(f).expect("shipped mapping compiles")))
        .collect()
});

/// Every string (keys included) of a YAML document, or `None` when it is not YAML.
pub fn yaml_strings(text: &str) -> Option<Vec<String>> {
    let value: serde_yaml::Value = serde_yaml::from_str(text).ok()?;
    let mut out = Vec::new();
    collect(&value, &mut out);
    Some(out)
}

fn collect(value: &serde_yaml::Value, out: &mut Vec<String>) {
    use serde_yaml::Value;
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Sequence(items) => items.iter().for_each(|v| collect(v, out)),
        Value::Mapping(map) => {
            for (k, v) in map {
                collect(k, out);
                collect(v, out);
            }
        }
        Value::Tagged(tagged) => collect(&tagged.value, out),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}
