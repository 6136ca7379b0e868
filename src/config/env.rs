//! `${VAR}`, `${VAR:-default}` and `${file:/path}` in config strings.
//!
//! Expansion runs on string values of the parsed YAML tree (never on the raw text), so a
//! variable's value can never change the document's structure. `$$` is a literal `$`.
//! `${file:PATH}` is the content of a file (Docker and Kubernetes secrets are mounted as
//! files), with its trailing newline(s) trimmed; the caller reads it (and resolves a
//! relative PATH), and every value read is recorded so that error messages can be
//! scrubbed of it. Owns the syntax only; which values are secrets is the caller's business.

/// A variable that was unset (or empty) and took its `:-` default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fallback {
    pub var: String,
    /// The YAML path of the value it was used in (`sources.statuscake.tokens[0]`).
    pub path: String,
}

/// Where `${…}` values come from, and what expansion took from them.
pub struct Sources<'a> {
    /// Reads a variable (`None` when unset).
    pub lookup: &'a dyn Fn(&str) -> Option<String>,
    /// Reads a `${file:…}` file; the error names the file, never its content.
    pub read_file: &'a dyn Fn(&str) -> Result<String, String>,
    /// Every `:-` fallback taken, with the YAML path it was taken in.
    pub fallbacks: Vec<Fallback>,
    /// Every value read from a file (trimmed), to keep out of error messages.
    pub file_values: Vec<String>,
}

/// The largest `${file:…}` accepted: a secret, not a document.
pub const MAX_FILE_BYTES: u64 = 64 * 1024;

/// Expands every `${…}` in `text`, the value at YAML path `path`. An empty variable
/// counts as unset for `:-`, as in the shell.
pub fn expand(text: &str, path: &str, sources: &mut Sources<'_>) -> Result<String, String> {
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
            if let Some(file) = inner.strip_prefix("file:") {
                if file.is_empty() {
                    return Err("empty file name in ${file:…}".to_owned());
                }
                let content = (sources.read_file)(file)?;
                let value = content.trim_end_matches(['\n', '\r']).to_owned();
                out.push_str(&value);
                if !value.is_empty() {
                    sources.file_values.push(value);
                }
                rest = &body[end + 1..];
                continue;
            }
            let (name, default) = match inner.split_once(":-") {
                Some((name, default)) => (name, Some(default)),
                None => (inner, None),
            };
            if !is_var_name(name) {
                return Err(format!("invalid variable name {name:?} in ${{…}}"));
            }
            match ((sources.lookup)(name).filter(|v| default.is_none() || !v.is_empty()), default) {
                (Some(value), _) => out.push_str(&value),
                (None, Some(default)) => {
                    sources.fallbacks.push(Fallback {
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

/// Replaces every value read from a file in `message` by a mention of it: an error about
/// a value (`invalid address "…"`) must not print a secret.
pub fn scrub(message: &str, file_values: &[String]) -> String {
    let mut out = message.to_owned();
    for value in file_values {
        if out.contains(value.as_str()) {
            out = out.replace(value.as_str(), "<value read from ${file:…}>");
        }
    }
    out
}

/// Reads a `${file:…}` file: UTF-8, at most [`MAX_FILE_BYTES`]. `base` resolves a
/// relative name (the config file's folder).
pub fn read_secret_file(base: &std::path::Path, name: &str) -> Result<String, String> {
    use std::io::Read;
    let path = base.join(name);
    let shown = path.display();
    let file = std::fs::File::open(&path)
        .map_err(|e| format!("cannot read {shown} (named by ${{file:{name}}}): {e}"))?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read {shown} (named by ${{file:{name}}}): {e}"))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(format!(
            "{shown} (named by ${{file:{name}}}) is larger than {MAX_FILE_BYTES} bytes"
        ));
    }
    String::from_utf8(bytes)
        .map_err(|_| format!("{shown} (named by ${{file:{name}}}) is not UTF-8 text"))
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
        let (out, sources) = run_with_files(text);
        (out, sources.fallbacks)
    }

    fn run_with_files(text: &str) -> (Result<String, String>, Sources<'static>) {
        let lookup: &'static dyn Fn(&str) -> Option<String> = &|name: &str| match name {
            "SET" => Some("value".to_owned()),
            "EMPTY" => Some(String::new()),
            _ => None,
        };
        let read_file: &'static dyn Fn(&str) -> Result<String, String> = &|name: &str| match name {
            "/run/secrets/token" => Ok("s3cr3t\n".to_owned()),
            "/run/secrets/crlf" => Ok("pw\r\n\n".to_owned()),
            other => Err(format!("cannot read {other}: No such file or directory")),
        };
        let mut sources = Sources {
            lookup,
            read_file,
            fallbacks: Vec::new(),
            file_values: Vec::new(),
        };
        (expand(text, "p", &mut sources), sources)
    }

    #[test]
    fn file_values_are_read_with_trailing_newlines_trimmed_and_recorded() {
        let (out, sources) = run_with_files("${file:/run/secrets/token}");
        assert_eq!(out.as_deref(), Ok("s3cr3t"));
        assert_eq!(sources.file_values, vec!["s3cr3t".to_owned()]);
        let (out, _) = run_with_files("redis://:${file:/run/secrets/crlf}@h:6379/${SET}");
        assert_eq!(out.as_deref(), Ok("redis://:pw@h:6379/value"));
    }

    #[test]
    fn a_missing_file_is_an_error_naming_it() {
        let err = run_with_files("${file:/run/secrets/nope}")
            .0
            .expect_err("missing");
        assert!(err.contains("/run/secrets/nope"), "{err}");
        assert!(run_with_files("${file:}").0.is_err());
    }

    #[test]
    fn scrub_removes_file_values_from_messages() {
        let values = vec!["s3cr3t".to_owned()];
        let scrubbed = scrub("invalid address \"s3cr3t\"", &values);
        assert!(!scrubbed.contains("s3cr3t"), "{scrubbed}");
        assert!(scrubbed.contains("${file:"), "{scrubbed}");
    }

    #[test]
    fn secret_files_are_read_relative_to_a_base_and_bounded() {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::write(dir.path().join("tok"), "abc\n").expect("write");
        assert_eq!(read_secret_file(dir.path(), "tok").as_deref(), Ok("abc\n"));
        let big = vec![b'x'; usize::try_from(MAX_FILE_BYTES).expect("usize") + 1];
        std::fs::write(dir.path().join("big"), big).expect("write");
        let err = read_secret_file(dir.path(), "big").expect_err("too big");
        assert!(err.contains("larger than"), "{err}");
        std::fs::write(dir.path().join("bin"), [0xff, 0xfe]).expect("write");
        let err = read_secret_file(dir.path(), "bin").expect_err("binary");
        assert!(err.contains("not UTF-8"), "{err}");
        assert!(!err.contains('\u{fffd}'), "{err}");
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
