//! `${VAR}` and `${VAR:-default}` in config strings.
//!
//! Expansion runs on string values of the parsed YAML tree (never on the raw text), so a
//! variable's value can never change the document's structure. `$$` is a literal `$`.
//! Owns the syntax only; which values are secrets is the caller's business.

/// A variable that was unset (or empty) and took its `:-` default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fallback {
    pub var: String,
    /// The YAML path of the value it was used in (`sources.statuscake.tokens[0]`).
    pub path: String,
}

/// Expands every `${…}` in `text`. `lookup` reads a variable (`None` when unset); an
/// empty value counts as unset for `:-`, as in the shell. Every fallback taken is pushed
/// onto `fallbacks` with `path`.
pub fn expand(
    text: &str,
    path: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    fallbacks: &mut Vec<Fallback>,
) -> Result<String, String> {
    if !text.contains('$') {
        return Ok(text.to_owned());
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(body) = after.strip_prefix('{') {
            let end = body
                .find('}')
                .ok_or_else(|| "unterminated ${ in value".to_owned())?;
            let inner = &body[..end];
            let (name, default) = match inner.split_once(":-") {
                Some((name, default)) => (name, Some(default)),
                None => (inner, None),
            };
            if !is_var_name(name) {
                return Err(format!("invalid variable name {name:?} in ${{…}}"));
            }
            match (lookup(name).filter(|v| default.is_none() || !v.is_empty()), default) {
                (Some(value), _) => out.push_str(&value),
                (None, Some(default)) => {
                    fallbacks.push(Fallback {
                        var: name.to_owned(),
                        path: path.to_owned(),
                    });
                    out.push_str(default);
                }
                (None, None) => {
                    return Err(format!(
                        "environment variable {name} is not set (write ${{{name}:-default}} to give a default)"
                    ))
                }
            }
            rest = &body[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

fn is_var_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(text: &str) -> (Result<String, String>, Vec<Fallback>) {
        let lookup = |name: &str| match name {
            "SET" => Some("value".to_owned()),
            "EMPTY" => Some(String::new()),
            _ => None,
        };
        let mut fallbacks = Vec::new();
        (expand(text, "p", &lookup, &mut fallbacks), fallbacks)
    }

    #[test]
    fn set_variable_is_substituted_inside_text() {
        assert_eq!(run("a-${SET}-b").0.as_deref(), Ok("a-value-b"));
    }

    #[test]
    fn unset_variable_with_default_falls_back_and_is_recorded() {
        let (out, fallbacks) = run("${UNSET:-demo}");
        assert_eq!(out.as_deref(), Ok("demo"));
        assert_eq!(fallbacks[0].var, "UNSET");
        let (out, _) = run("${EMPTY:-demo}");
        assert_eq!(out.as_deref(), Ok("demo"), "empty counts as unset for :-");
    }

    #[test]
    fn unset_variable_without_default_is_an_error_naming_it() {
        let err = run("${MISSING_TOKEN}").0.expect_err("unset");
        assert!(err.contains("MISSING_TOKEN"), "{err}");
    }

    #[test]
    fn dollar_dollar_is_literal_and_lone_dollar_is_kept() {
        assert_eq!(run("a$$b $x").0.as_deref(), Ok("a$b $x"));
    }

    #[test]
    fn bad_syntax_is_an_error() {
        assert!(run("${SET").0.is_err());
        assert!(run("${1A}").0.is_err());
    }
}
