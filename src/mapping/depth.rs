//! Cheap, non-recursive bounds on JMESPath expression text, checked before the text is
//! handed to `jmespath::compile`.
//!
//! The jmespath crate parses recursively and builds a `Box`ed AST that its interpreter,
//! its `Drop` and this crate's own AST walks all recurse over, so a hostile or careless
//! mapping (`((((…Status…))))` twenty thousand deep) would overflow the thread's stack,
//! which aborts the process: a stack overflow cannot be caught. This scan runs in one
//! pass with a small explicit stack and rejects such text with a plain error instead.
//!
//! What it bounds, and why:
//! - **Length** (`max_len` bytes), first, so the scan and everything after it is cheap.
//! - **Depth**, an upper estimate of the parsed tree's depth:
//!   - every `(`, `[` or `{` opens a level (the parser recurses once per level);
//!   - within a level, every operator adds one: `.`, `|`, `||`, `&&`, `&`, `!`, `*`,
//!     `?`, the comparators, and a `[` that follows an operand (`a[0]`, `a[*]`); a
//!     filter `a[?…]` or flatten `a[]` adds two, as each builds two tree nodes.
//!     Chains like `a.b.c…`, `a || a || …` and `a[0][0]…` parse in a loop but build a
//!     tree as deep as the chain, which dropping and evaluating it recurse over;
//!     prefixes like `!!!x` and projections like `a[*].b[*]…` recurse in the parser
//!     itself;
//!   - a `,` starts a sibling (a list element, hash entry or function argument), which
//!     is counted on its own, not added to the ones before it.
//!
//!   The depth of a level is 1 + its longest element's operators + its deepest child's
//!   depth; the expression's is its top level's operators + deepest child. For plain
//!   parentheses this is exactly the nesting (`((a))` is 2).
//! - Text inside raw strings (`'…'`, `\'` escapes), quoted identifiers (`"…"`, `\"`) and
//!   JSON literals (`` `…` ``, `` \` ``) is skipped: brackets there are data. A JSON
//!   literal is parsed by serde_json, which refuses nesting past 128 on its own.
//!
//! Unbalanced or mismatched brackets and unclosed strings are not reported here (the
//! scan never panics on them); jmespath reports them with a position.

/// Default bound on an expression's depth estimate.
pub const MAX_EXPRESSION_DEPTH: usize = 64;
/// Default bound on an expression's length in bytes.
pub const MAX_EXPRESSION_LEN: usize = 4096;
/// Default bound on a `{{ }}` template's length in bytes (each hole is also checked as
/// an expression when it is compiled).
pub const MAX_TEMPLATE_LEN: usize = 8192;

/// Why expression or template text was refused before parsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DepthError {
    #[error("expression nested deeper than {limit} levels")]
    TooDeep { limit: usize },
    #[error("expression longer than {limit} bytes")]
    TooLong { limit: usize },
    #[error("template longer than {limit} bytes")]
    TemplateTooLong { limit: usize },
    /// jmespath reads a number with Rust's `i32` parser and panics when that fails.
    #[error("number at byte {at} is not one JMESPath can read: ASCII digits up to 2147483647")]
    BadNumber { at: usize },
}

/// Checks `text` against the default bounds ([`MAX_EXPRESSION_DEPTH`],
/// [`MAX_EXPRESSION_LEN`]).
pub fn check_expression_default(text: &str) -> Result<(), DepthError> {
    check_expression(text, MAX_EXPRESSION_DEPTH, MAX_EXPRESSION_LEN)?;
    check_numbers(text)
}

/// Refuses a number token (outside quotes and literals) that jmespath's lexer would take
/// but cannot parse: it takes every char `char::is_numeric` calls a digit (`٣`, `᠖`) and
/// parses the run as an `i32`, panicking on failure. A run right after a name character
/// belongs to the name (`a1`).
pub fn check_numbers(text: &str) -> Result<(), DepthError> {
    let bytes = text.as_bytes();
    let mut chars = text.char_indices().peekable();
    let mut prev: Option<char> = None;
    while let Some((at, c)) = chars.next() {
        if matches!(c, '\'' | '"' | '`') {
            let end = skip_delimited(bytes, at + 1, c as u8);
            while chars.peek().is_some_and(|&(i, _)| i < end) {
                chars.next();
            }
            prev = Some(c);
            continue;
        }
        let in_name = prev.is_some_and(|p| p.is_alphanumeric() || p == '_');
        if c.is_numeric() && !in_name {
            let mut value: u64 = 0;
            let mut ok = true;
            let mut last = c;
            let mut digit = Some(c);
            while let Some(d) = digit {
                match d.to_digit(10).filter(|_| d.is_ascii_digit()) {
                    Some(v) => value = (value * 10 + u64::from(v)).min(u64::MAX / 100),
                    None => ok = false,
                }
                last = d;
                digit = chars.next_if(|&(_, n)| n.is_numeric()).map(|(_, n)| n);
            }
            if !ok || value > 2_147_483_647 {
                return Err(DepthError::BadNumber { at });
            }
            prev = Some(last);
            continue;
        }
        prev = Some(c);
    }
    Ok(())
}

/// Checks a template's total length; its holes are checked by [`check_expression`] when
/// each is compiled.
pub fn check_template(text: &str, max_len: usize) -> Result<(), DepthError> {
    if text.len() > max_len {
        return Err(DepthError::TemplateTooLong { limit: max_len });
    }
    Ok(())
}

/// One open level: operators and deepest closed child of the element being read, and
/// the deepest element already finished (before a `,`).
#[derive(Default)]
struct Level {
    ops: usize,
    child: usize,
    best: usize,
}

impl Level {
    fn current(&self) -> usize {
        self.ops + self.child
    }
    fn depth(&self) -> usize {
        self.best.max(self.current())
    }
}

/// Refuses `text` longer than `max_len` bytes, or whose depth estimate (see the module
/// docs) exceeds `max_depth`. Runs in one pass, without recursion, in
/// O(len) time and O(max_depth) memory.
pub fn check_expression(text: &str, max_depth: usize, max_len: usize) -> Result<(), DepthError> {
    if text.len() > max_len {
        return Err(DepthError::TooLong { limit: max_len });
    }
    let too_deep = DepthError::TooDeep { limit: max_depth };
    let bytes = text.as_bytes();
    // levels[0] is the top level; levels.len() - 1 is the current nesting.
    let mut levels: Vec<Level> = vec![Level::default()];
    // Whether the last token ended an operand, so a `[` here indexes or projects it.
    let mut after_operand = false;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        i += 1;
        // Whether this byte adds an operator to the current level.
        let mut op = false;
        match b {
            b'\'' | b'"' | b'`' => {
                i = skip_delimited(bytes, i, b);
                after_operand = true;
            }
            b'(' | b'[' | b'{' => {
                if levels.len() > max_depth {
                    return Err(too_deep);
                }
                if b == b'[' && after_operand {
                    // Indexing or projecting the operand extends its chain, in the
                    // parent, before the child opens. A filter `[?` and a flatten `[]`
                    // build two tree nodes each (projection and condition or flatten).
                    let nodes = match bytes.get(i) {
                        Some(b'?' | b']') => 2,
                        _ => 1,
                    };
                    let top = last(&mut levels);
                    top.ops += nodes;
                    if top.current() > max_depth {
                        return Err(too_deep);
                    }
                }
                levels.push(Level::default());
                after_operand = false;
            }
            b')' | b']' | b'}' => {
                // A stray closer at the top level is jmespath's to report.
                if levels.len() > 1 {
                    let closed = levels.pop().map_or(0, |l| l.depth());
                    let top = last(&mut levels);
                    top.child = top.child.max(closed + 1);
                    if top.current() > max_depth {
                        return Err(too_deep);
                    }
                }
                after_operand = true;
            }
            b',' => {
                let top = last(&mut levels);
                top.best = top.depth();
                top.ops = 0;
                top.child = 0;
                after_operand = false;
            }
            b'.' => op = true,
            b'|' | b'&' => {
                // `||` and `&&` are one operator each.
                if bytes.get(i) == Some(&b) {
                    i += 1;
                }
                op = true;
            }
            b'!' | b'=' | b'<' | b'>' => {
                // `!=`, `==`, `<=`, `>=` are one operator each.
                if bytes.get(i) == Some(&b'=') {
                    i += 1;
                }
                op = true;
            }
            // `[?` opens a projection whose condition sits one node further down; a
            // `*` outside `[*]` builds a projection over object values (two nodes).
            b'?' | b'*' => op = true,
            // `:` and `-` belong to slices, hash entries and numbers.
            b':' | b'-' => after_operand = false,
            b' ' | b'\t' | b'\n' | b'\r' => {}
            // Identifiers, numbers, `@`, and the bytes of non-ASCII characters.
            _ => after_operand = true,
        }
        if op {
            let top = last(&mut levels);
            top.ops += 1;
            if top.current() > max_depth {
                return Err(too_deep);
            }
            // A `*` is itself an operand (`a.*[0]`, `*.b`).
            after_operand = b == b'*';
        }
    }
    // Unclosed levels (a syntax error jmespath will report) still count.
    while levels.len() > 1 {
        let closed = levels.pop().map_or(0, |l| l.depth());
        let top = last(&mut levels);
        top.child = top.child.max(closed + 1);
    }
    if levels[0].depth() > max_depth {
        return Err(too_deep);
    }
    Ok(())
}

fn last(levels: &mut [Level]) -> &mut Level {
    // `levels` always holds the top level.
    let n = levels.len() - 1;
    &mut levels[n]
}

/// Returns the index just past the closing `quote` of a string that opened before
/// `start`, or the end of `bytes` when it is unclosed. A backslash escapes the next byte,
/// as jmespath's lexer does for all three kinds. Multi-byte UTF-8 characters never
/// contain ASCII bytes, so a byte scan is exact.
fn skip_delimited(bytes: &[u8], mut start: usize, quote: u8) -> usize {
    while start < bytes.len() {
        match bytes[start] {
            b'\\' => start += 2,
            b if b == quote => return start + 1,
            _ => start += 1,
        }
    }
    bytes.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_the_lexer_would_panic_on_are_refused() {
        for bad in [
            "a[99999999999]",
            "a[-2147483648]",
            "-\u{0663}",
            "a[1\u{1816}]",
            "b[2147483648:]",
        ] {
            assert!(
                matches!(check_numbers(bad), Err(DepthError::BadNumber { .. })),
                "{bad}"
            );
        }
        for good in [
            "a[2147483647]",
            "a[-2147483647]",
            "a[0:10:2]",
            "a1.b_2[3]",
            "'\u{0663}' == x",
            "`99999999999` == x",
            "\"99999999999\"",
            "x == '١٢'",
        ] {
            assert_eq!(check_numbers(good), Ok(()), "{good}");
        }
    }

    fn deep(open: &str, inner: &str, close: &str, n: usize) -> String {
        format!("{}{}{}", open.repeat(n), inner, close.repeat(n))
    }

    fn check(text: &str) -> Result<(), DepthError> {
        check_expression(text, MAX_EXPRESSION_DEPTH, MAX_EXPRESSION_LEN)
    }

    fn check_deep(text: &str) -> Result<(), DepthError> {
        // A generous length so the depth bound is what is tested.
        check_expression(text, MAX_EXPRESSION_DEPTH, usize::MAX)
    }

    const TOO_DEEP: Result<(), DepthError> = Err(DepthError::TooDeep {
        limit: MAX_EXPRESSION_DEPTH,
    });

    #[test]
    fn messages_are_lowercase_and_name_the_limit() {
        assert_eq!(
            DepthError::TooDeep { limit: 64 }.to_string(),
            "expression nested deeper than 64 levels"
        );
        assert_eq!(
            DepthError::TooLong { limit: 4096 }.to_string(),
            "expression longer than 4096 bytes"
        );
        assert_eq!(
            DepthError::TemplateTooLong { limit: 8192 }.to_string(),
            "template longer than 8192 bytes"
        );
    }

    #[test]
    fn the_issue_input_is_refused_quickly_at_either_bound() {
        let text = deep("(", "Status", ")", 20_000);
        assert_eq!(check(&text), Err(DepthError::TooLong { limit: 4096 }));
        assert_eq!(check_deep(&text), TOO_DEEP);
        // Also when the whole text is unclosed or only closers.
        assert_eq!(check_deep(&"(".repeat(20_000)), TOO_DEEP);
        assert_eq!(check_deep(&")".repeat(20_000)), Ok(()));
    }

    #[test]
    fn three_thousand_levels_are_refused_at_64() {
        for (open, inner, close) in [
            ("(", "Status", ")"),
            ("[", "a", "]"),
            ("{a:", "b", "}"),
            ("abs(", "a", ")"),
            ("[?", "a", "]"),
        ] {
            let text = deep(open, inner, close, 3_000);
            assert_eq!(check_deep(&text), TOO_DEEP, "{open}");
        }
    }

    #[test]
    fn plain_nesting_is_counted_exactly() {
        assert_eq!(check(&deep("(", "Status", ")", 64)), Ok(()));
        assert_eq!(check(&deep("(", "Status", ")", 65)), TOO_DEEP);
        assert_eq!(check(&deep("[", "a", "]", 64)), Ok(()));
        assert_eq!(check(&deep("[", "a", "]", 65)), TOO_DEEP);
        assert_eq!(check(&deep("{a:", "b", "}", 64)), Ok(()));
        assert_eq!(check(&deep("{a:", "b", "}", 65)), TOO_DEEP);
        assert_eq!(check(&deep("abs(", "a", ")", 64)), Ok(()));
        assert_eq!(check(&deep("abs(", "a", ")", 65)), TOO_DEEP);
        // A custom bound is honoured.
        assert_eq!(check_expression("((a))", 2, 100), Ok(()));
        assert_eq!(
            check_expression("(((a)))", 2, 100),
            Err(DepthError::TooDeep { limit: 2 })
        );
    }

    #[test]
    fn operator_chains_are_bounded() {
        for (head, link) in [
            ("a", ".a"),
            ("a", " || a"),
            ("a", " && a"),
            ("a", " | a"),
            ("a", " == a"),
            ("a", " != a"),
            ("a", " <= a"),
            ("a", "[0]"),
            ("a", "[]"),
            ("a", "[*]"),
            ("a", "[*].a"),
            ("a", ".*"),
            ("a", "[?b]"),
            ("x", "!"),
            ("x", "& "),
        ] {
            let at = |n: usize| {
                if head == "x" {
                    format!("{}x", link.repeat(n))
                } else {
                    format!("{head}{}", link.repeat(n))
                }
            };
            assert_eq!(check(&at(20)), Ok(()), "{link:?} x20");
            assert_eq!(check_deep(&at(3_000)), TOO_DEEP, "{link:?} x3000");
            // The issue's sizes: 20k dots, 100k `||`.
            assert!(check(&at(100_000)).is_err(), "{link:?} x100000");
            assert_eq!(check_deep(&at(100_000)), TOO_DEEP, "{link:?} x100000");
        }
        // 64 dots are the limit; the 65th is refused.
        assert_eq!(check(&format!("a{}", ".a".repeat(64))), Ok(()));
        assert_eq!(check(&format!("a{}", ".a".repeat(65))), TOO_DEEP);
    }

    #[test]
    fn chains_and_nesting_add_up_along_a_path() {
        // 32 levels, each with one dot inside: 32 + 32.
        assert_eq!(check(&deep("(", "a.b", ")", 31)), Ok(()));
        let path = format!("{}x{}", "(a.".repeat(40), ")".repeat(40));
        assert_eq!(check_deep(&path), TOO_DEEP);
        // Operators after a group count too (the group sits at the bottom of the chain).
        let text = format!("{}{}", deep("(", "a", ")", 40), ".b".repeat(30));
        assert_eq!(check(&text), TOO_DEEP);
    }

    #[test]
    fn siblings_do_not_add_up() {
        // 40 entries each with a 10-dot chain: depth is one entry's, not the sum.
        let entry = format!("a{}", ".a".repeat(10));
        let entries: Vec<String> = (0..40).map(|i| format!("k{i}: {entry}")).collect();
        assert_eq!(check(&format!("{{{}}}", entries.join(", "))), Ok(()));
        let items: Vec<String> = (0..40).map(|_| entry.clone()).collect();
        assert_eq!(check(&format!("[{}]", items.join(", "))), Ok(()));
        assert_eq!(check(&format!("join(',', [{}])", items.join(", "))), Ok(()));
        // But a deep element is still found among shallow ones.
        let mut items = items;
        items[17] = deep("(", "a", ")", 70);
        assert_eq!(check_deep(&format!("[{}]", items.join(", "))), TOO_DEEP);
    }

    #[test]
    fn brackets_inside_strings_do_not_count() {
        let many = "((((([[[[[{{{{{".repeat(10);
        assert_eq!(check(&format!("a == '{many}'")), Ok(()));
        assert_eq!(check(&format!("\"{many}\".b")), Ok(()));
        assert_eq!(check(&format!("a == `\"{many}\"`")), Ok(()));
        // Escaped quotes do not end the string early.
        assert_eq!(check(&format!("a == 'it\\'s {many}'")), Ok(()));
        assert_eq!(check(&format!("\"a\\\"{many}\" == b")), Ok(()));
        assert_eq!(check(&format!("a == `\"\\`{many}\"`")), Ok(()));
        // An escaped backslash before the closing quote still closes it.
        assert_eq!(check("a == 'x\\\\' || (b)"), Ok(()));
        // Operators inside strings do not count either.
        assert_eq!(check(&format!("a == '{}'", "||.!".repeat(200))), Ok(()));
        // Brackets outside a string still count.
        let text = format!("{}'{many}'{}", "(".repeat(65), ")".repeat(65));
        assert_eq!(check(&text), TOO_DEEP);
        // The other quote kinds inside a string are plain text.
        assert_eq!(check("a == '\"(((`' && b == \"'[[[`\""), Ok(()));
    }

    #[test]
    fn unbalanced_and_unclosed_text_does_not_panic() {
        for text in [
            "(", ")", "]]]", "}{", "([)]", "'", "\"", "`", "'abc", "a\\", "'a\\", "[?", "a[", "a.",
            "||", "!", "&&&", "🦀(é)", "\u{0}", "`[[[[",
        ] {
            let _ = check(text);
        }
        assert_eq!(check("'((((((("), Ok(()));
    }

    #[test]
    fn length_is_bounded_in_bytes() {
        let at_limit = format!("a{}", " ".repeat(MAX_EXPRESSION_LEN - 1));
        assert_eq!(check(&at_limit), Ok(()));
        let over = format!("{at_limit} ");
        assert_eq!(check(&over), Err(DepthError::TooLong { limit: 4096 }));
        // Multi-byte characters count by their bytes.
        let wide = "é".repeat(MAX_EXPRESSION_LEN / 2 + 1);
        assert_eq!(
            check(&format!("'{wide}'")),
            Err(DepthError::TooLong { limit: 4096 })
        );
    }

    #[test]
    fn templates_are_bounded_by_length() {
        assert_eq!(
            check_template("incident:{{ incident.id }}", MAX_TEMPLATE_LEN),
            Ok(())
        );
        let long = "x".repeat(MAX_TEMPLATE_LEN + 1);
        assert_eq!(
            check_template(&long, MAX_TEMPLATE_LEN),
            Err(DepthError::TemplateTooLong { limit: 8192 })
        );
    }

    #[test]
    fn realistic_expressions_are_accepted() {
        for text in [
            // Shipped mappings.
            "component_update",
            "component.id || component_update.component_id",
            "component_update.new_status",
            "incident.impact",
            "incident.status",
            "Name",
            "URL",
            // Typical rules.
            "a[?b == 'x'].c | [0]",
            "split(Tags, ',')",
            "lower(n)",
            "alerts[?status == 'firing' && labels.severity != 'info'].labels.alertname | [0]",
            "to_string(length(alerts[?status=='firing']))",
            "{id: incident.id, name: incident.name, tags: incident.tags[*].name}",
            "join(',', sort(alerts[*].labels.instance))",
            "contains(['critical', 'high'], lower(severity)) && !silenced",
            "max_by(items, &created_at).id",
            "a.\"quoted key\".b[-1]",
            "payload.\"x-[weird]\".value",
            "starts_with(title, '[PROD]') || `true`",
            "status == 'down' || status == 'degraded' || status == 'outage' \
             || status == 'maintenance' || status == 'unknown'",
            "data.items[0:10:2].attributes.\"name\"",
            "@",
            "*.x",
            "`{\"a\": [1, 2, {\"b\": null}]}`",
        ] {
            assert_eq!(check(text), Ok(()), "{text}");
            jmespath::compile(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        }
    }

    /// Everything the scan accepts at the default bounds compiles, evaluates and drops
    /// on a small stack: each shape at the largest size accepted, on a 1 MiB thread (half
    /// a tokio worker's default), in debug builds too.
    #[test]
    fn accepted_worst_cases_are_safe_on_a_small_stack() {
        let shapes: Vec<(&str, &str, &str)> = vec![
            ("(", "Status", ")"),
            ("[", "a", "]"),
            ("{a:", "b", "}"),
            ("abs(", "a", ")"),
            ("[?", "a", "]"),
            ("(a || ", "x", ")"),
            ("&(", "x", ")"),
            ("not_null(a, ", "b", ")"),
            ("!", "x", ""),
            ("", "a", ".a"),
            ("", "a", " || a"),
            ("", "a", " | a"),
            ("", "a", " == a"),
            ("", "a", "[0]"),
            ("", "a", "[]"),
            ("", "a", "[*]"),
            ("", "a", "[*].a"),
            ("", "a", ".*"),
            ("", "a", "[?a]"),
            ("", "a", "[?a].a"),
        ];
        let mut cases = Vec::new();
        for (open, inner, close) in shapes {
            let at = |n: usize| deep(open, inner, close, n);
            let largest = (1..=200)
                .take_while(|&n| check(&at(n)).is_ok())
                .last()
                .expect("one level is accepted");
            assert!(largest < 200, "{open}{inner}{close} is bounded");
            // Every shape gets a useful share of the bound.
            assert!(largest >= 20, "{open}{inner}{close}: only {largest}");
            cases.push(at(largest));
        }
        let handle = std::thread::Builder::new()
            .stack_size(1024 * 1024)
            .spawn(move || {
                let data =
                    jmespath::Variable::from_json(r#"{"a":{"a":[1]},"Status":"x"}"#).expect("json");
                let data = jmespath::Rcvar::new(data);
                for text in &cases {
                    let expr = jmespath::compile(text).unwrap_or_else(|e| panic!("{text}: {e}"));
                    let _ = expr.search(data.clone());
                }
            })
            .expect("spawn");
        handle.join().expect("no panic");
    }
}
