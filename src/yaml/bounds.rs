//! Bounds on YAML input, checked before any deserialiser sees it.
//!
//! serde_yaml refuses documents nested deeper than 128 levels, but reaches that verdict in
//! time that grows with the square of the depth (a 50,000-deep inline mapping takes
//! seconds), and building error places walks every path. One linear, non-recursive pass
//! with yaml-rust2's event parser refuses such a file first, with its place.

use yaml_rust2::parser::{Event, Parser};

/// The deepest nesting of mappings and sequences a config or mapping file may have. Real
/// files nest less than ten levels.
pub const MAX_YAML_DEPTH: usize = 64;

/// The largest config or mapping file read, in bytes.
pub const MAX_YAML_BYTES: u64 = 4 * 1024 * 1024;

/// Where a document first nests deeper than `max` levels (1-based line and column), or
/// `None` when it stays within it. A document that does not parse is left to the
/// deserialiser, which reports the syntax error itself.
pub fn too_deep_at(text: &str, max: usize) -> Option<(usize, usize)> {
    let mut depth = 0usize;
    let mut parser = Parser::new_from_str(text);
    while let Ok((event, mark)) = parser.next_token() {
        match event {
            Event::StreamEnd => break,
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                depth += 1;
                if depth > max {
                    return Some((mark.line(), mark.col() + 1));
                }
            }
            Event::MappingEnd | Event::SequenceEnd => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shallow_documents_pass() {
        let text = "a:\n  b:\n    - c\n    - {d: [1, 2]}\n";
        assert_eq!(too_deep_at(text, 5), None);
        assert_eq!(too_deep_at(text, 4), Some((4, 11)));
    }

    #[test]
    fn deep_inline_nesting_is_found_with_its_place() {
        let text = format!("when: {}x{}\n", "{a: ".repeat(50_000), "}".repeat(50_000));
        // The root mapping is level 1, so the 64th `{` is the 65th level.
        assert_eq!(too_deep_at(&text, MAX_YAML_DEPTH), Some((1, 7 + 4 * 63)));
    }

    #[test]
    fn deep_block_nesting_is_found() {
        let mut text = String::new();
        for i in 0..200 {
            text.push_str(&"  ".repeat(i));
            text.push_str("k:\n");
        }
        assert!(too_deep_at(&text, MAX_YAML_DEPTH).is_some());
    }

    #[test]
    fn deep_sequences_are_found() {
        let text = format!("{}{}", "[".repeat(100), "]".repeat(100));
        assert_eq!(too_deep_at(&text, MAX_YAML_DEPTH), Some((1, 65)));
    }
}
