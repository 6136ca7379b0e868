//! `sources_dir`: sources kept one per file beside the config, merged into `sources`.
//!
//! A file is `{id, integration, tokens, verify?}`; a token is a string, or
//! `{token, expires_at}` (RFC 3339) for one kept through a rotation's overlap. Expired
//! tokens are left out at load (and dropped from the file by the next edit). Files are
//! read like the config (`${VAR}` expanded, unknown keys refused, every error placed);
//! hidden files and anything but `*.yaml`/`*.yml` are ignored, so editors' and our own
//! temporary files never load. `sources_edit` writes them.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::env::{self, Fallback};
use super::raw::VerifyConfig;
use super::verify;
use crate::clock;
use crate::verify::Verify;
use crate::yaml::{self, CompileError, Errors};

/// `sources_dir` when the config does not say, relative to the config file's folder.
pub const DEFAULT_SOURCES_DIR: &str = "sources.d";

/// One source file as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct SourceFile {
    id: String,
    integration: String,
    tokens: Vec<TokenEntry>,
    #[serde(default)]
    verify: Vec<VerifyConfig>,
}

/// A token, with its end when a rotation keeps it for a while.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum TokenEntry {
    Plain(String),
    Expiring { token: String, expires_at: String },
}

/// A source loaded from `sources_dir`, tokens in plain text (they are hashed by the
/// caller; the CLI's `--show-tokens` prints them).
#[derive(Debug, Clone)]
pub struct DirSource {
    pub file: PathBuf,
    pub id: String,
    pub integration: String,
    /// Tokens without an end.
    pub tokens: Vec<String>,
    /// Tokens valid until the time given (Unix ms), not yet expired at load.
    pub expiring: Vec<(String, i64)>,
    pub verify: Verify,
    /// The file's text, for the snapshot's version.
    pub text: String,
}

/// Whether `id` is a valid source id: `[a-z0-9_-]+`.
pub fn is_valid_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// The source files of `dir`, sorted by name; none when `dir` does not exist.
pub fn source_files(dir: &Path) -> Result<Vec<PathBuf>, CompileError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(yaml::io_error(dir, &e)),
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or(".");
            !name.starts_with('.')
                && !name.starts_with('#')
                && (name.ends_with(".yaml") || name.ends_with(".yml"))
                && p.is_file()
        })
        .collect();
    files.sort();
    Ok(files)
}

/// Loads every source file of `dir`. Errors of every file are collected; a duplicate id
/// names both files. `now_ms` decides which tokens have expired.
pub(crate) fn load(
    dir: &Path,
    lookup: &dyn Fn(&str) -> Option<String>,
    fallbacks: &mut Vec<Fallback>,
    now_ms: i64,
) -> Result<Vec<DirSource>, Vec<CompileError>> {
    let files = source_files(dir).map_err(|e| vec![e])?;
    let mut all_errors = Vec::new();
    let mut sources: Vec<DirSource> = Vec::new();
    for file in files {
        match load_file(&file, lookup, fallbacks, now_ms) {
            Ok(source) => {
                if let Some(first) = sources.iter().find(|s| s.id == source.id) {
                    let mut errors = Errors::new(&file, &source.text);
                    errors.push(
                        "id",
                        format!(
                            "duplicate source id {:?}: also defined in {}",
                            source.id,
                            first.file.display()
                        ),
                    );
                    all_errors.extend(errors.list);
                } else {
                    sources.push(source);
                }
            }
            Err(errors) => all_errors.extend(errors),
        }
    }
    if all_errors.is_empty() {
        Ok(sources)
    } else {
        Err(all_errors)
    }
}

fn load_file(
    file: &Path,
    lookup: &dyn Fn(&str) -> Option<String>,
    fallbacks: &mut Vec<Fallback>,
    now_ms: i64,
) -> Result<DirSource, Vec<CompileError>> {
    let text = yaml::read(file).map_err(|e| vec![e])?;
    let name = file.display().to_string();
    // These files are written by `alertgate sources` and the sources API, tokens in
    // plain text: `${file:…}` is for the main config only.
    let read_file = |_: &str| -> Result<String, String> {
        Err("${file:…} is not supported in sources_dir files".to_owned())
    };
    let mut sources = env::Sources {
        lookup,
        read_file: &read_file,
        fallbacks: Vec::new(),
        file_values: Vec::new(),
    };
    let raw: Result<SourceFile, _> = yaml::from_yaml_rewriting(file, &text, &mut |path, value| {
        env::expand(value, &format!("{name}:.{path}"), &mut sources)
    });
    fallbacks.append(&mut sources.fallbacks);
    let raw = raw?;
    let mut errors = Errors::new(file, &text);
    if !is_valid_id(&raw.id) {
        errors.push(
            "id",
            format!(
                "invalid source id {:?}: use lower-case letters, digits, _ and -",
                raw.id
            ),
        );
    }
    let mut tokens = Vec::new();
    let mut expiring = Vec::new();
    let mut expired = 0;
    for (i, entry) in raw.tokens.iter().enumerate() {
        let (token, end) = match entry {
            TokenEntry::Plain(token) => (token, None),
            TokenEntry::Expiring { token, expires_at } => {
                let Some(end) = clock::parse_rfc3339_ms(expires_at) else {
                    errors.push(
                        format!("tokens[{i}].expires_at"),
                        format!("invalid time {expires_at:?}: expected RFC 3339"),
                    );
                    continue;
                };
                (token, Some(end))
            }
        };
        if token.is_empty() {
            errors.push(format!("tokens[{i}]"), "token must not be empty");
            continue;
        }
        match end {
            None => tokens.push(token.clone()),
            Some(end) if end > now_ms => expiring.push((token.clone(), end)),
            Some(_) => expired += 1,
        }
    }
    if tokens.is_empty() && expiring.is_empty() && errors.list.is_empty() {
        let why = if expired > 0 {
            "every token has expired: rotate it or add one"
        } else {
            "a source needs at least one token"
        };
        errors.push("tokens", why);
    }
    let verify = verify::compile(&raw.verify, "verify", &mut errors);
    if !errors.list.is_empty() {
        return Err(errors.list);
    }
    Ok(DirSource {
        file: file.to_owned(),
        id: raw.id,
        integration: raw.integration,
        tokens,
        expiring,
        verify,
        text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_dir(dir: &Path, now_ms: i64) -> Result<Vec<DirSource>, Vec<CompileError>> {
        load(dir, &|_| None, &mut Vec::new(), now_ms)
    }

    #[test]
    fn missing_dir_is_empty_and_hidden_files_are_ignored() {
        let dir = tempfile::tempdir().expect("tmp");
        assert!(load_dir(&dir.path().join("nope"), 0)
            .expect("empty")
            .is_empty());
        std::fs::write(dir.path().join(".a.yaml.tmp"), "garbage: [").expect("write");
        std::fs::write(dir.path().join(".b.yaml"), "garbage: [").expect("write");
        std::fs::write(dir.path().join("notes.txt"), "x").expect("write");
        assert!(load_dir(dir.path(), 0).expect("empty").is_empty());
    }

    #[test]
    fn expired_tokens_are_left_out_and_expiring_ones_kept() {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::write(
            dir.path().join("a.yaml"),
            "id: a\nintegration: generic\ntokens:\n  - new\n  - token: old\n    expires_at: \"2030-01-01T00:00:00Z\"\n  - token: older\n    expires_at: \"2020-01-01T00:00:00Z\"\n",
        )
        .expect("write");
        let now = clock::parse_rfc3339_ms("2025-01-01T00:00:00Z").expect("time");
        let list = load_dir(dir.path(), now).expect("loads");
        assert_eq!(list[0].tokens, vec!["new"]);
        assert_eq!(list[0].expiring.len(), 1);
        assert_eq!(list[0].expiring[0].0, "old");
        let later = clock::parse_rfc3339_ms("2031-01-01T00:00:00Z").expect("time");
        assert!(load_dir(dir.path(), later).expect("loads")[0]
            .expiring
            .is_empty());
    }

    #[test]
    fn duplicate_ids_name_both_files_and_bad_entries_are_placed() {
        let dir = tempfile::tempdir().expect("tmp");
        let text = "id: dup\nintegration: generic\ntokens: [t]\n";
        std::fs::write(dir.path().join("one.yaml"), text).expect("write");
        std::fs::write(dir.path().join("two.yml"), text).expect("write");
        std::fs::write(
            dir.path().join("three.yaml"),
            "id: Bad!\nintegration: generic\ntokens: []\nverify:\n  - field_in: {field: page.id, values: []}\n",
        )
        .expect("write");
        let errors = load_dir(dir.path(), 0).expect_err("invalid");
        let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert!(
            text.iter().any(|e| e.contains("two.yml")
                && e.contains("duplicate source id \"dup\"")
                && e.contains("one.yaml")),
            "{text:#?}"
        );
        assert!(
            text.iter()
                .any(|e| e.contains("three.yaml:1:") && e.contains("invalid source id")),
            "{text:#?}"
        );
        assert!(
            text.iter().any(|e| e.contains("verify[0].field_in")),
            "{text:#?}"
        );
    }
}
