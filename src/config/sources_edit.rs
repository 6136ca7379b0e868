//! Writing `sources_dir`: add a source with a fresh token, remove one, rotate its token.
//! Used by the CLI (`alertgate sources …`) and the admin API (`/v1/sources`) alike.
//!
//! Every write is atomic (a hidden temporary file in the same directory, fsynced, renamed
//! over the target, then the directory fsynced) and leaves the file mode 0600: it holds
//! tokens. Edits read the file as written, without `${VAR}` expansion, so variables stay
//! variables. What a source may be (its integration exists, its id is not in the main
//! config) is the caller's check: it has the snapshot.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};

use super::sources_dir::{is_valid_id, source_files};
use crate::clock;
use crate::yaml;

/// Why a `sources_dir` edit was not made.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    #[error("invalid source id {0:?}: use lower-case letters, digits, _ and -")]
    InvalidId(String),
    #[error("source {id:?} already exists in {}", file.display())]
    Exists { id: String, file: PathBuf },
    #[error("no source {id:?} in {}", dir.display())]
    Unknown { id: String, dir: PathBuf },
    /// The directory or file cannot be written (read-only volume, not a directory…).
    #[error("sources are managed as files in {}, which cannot be written here: {source}", dir.display())]
    NotWritable {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The source's file is not one we can edit.
    #[error("{}: {message}", file.display())]
    Invalid { file: PathBuf, message: String },
}

/// A source written with a new token.
#[derive(Debug, Clone)]
pub struct Written {
    pub file: PathBuf,
    /// The new token, in plain text: shown once.
    pub token: String,
}

/// The comment every written file starts with.
const HEADER: &str = "# One alertgate source (see README: sources_dir). Written by `alertgate sources` or\n# the admin API; edits by hand are fine, comments are not kept by the next write.\n";

/// A new 256-bit token, hex: 64 characters safe in a URL.
pub fn new_token() -> Result<String, std::io::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(hex::encode(bytes))
}

/// Writes `{dir}/{id}.yaml` for a new source with one fresh token.
pub fn add(dir: &Path, id: &str, integration: &str) -> Result<Written, EditError> {
    if !is_valid_id(id) {
        return Err(EditError::InvalidId(id.to_owned()));
    }
    if let Some(file) = find(dir, id)? {
        return Err(EditError::Exists {
            id: id.to_owned(),
            file,
        });
    }
    let file = dir.join(format!("{id}.yaml"));
    if file.exists() {
        return Err(EditError::Exists {
            id: id.to_owned(),
            file,
        });
    }
    let not_writable = |source| EditError::NotWritable {
        dir: dir.to_owned(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(not_writable)?;
    let token = new_token().map_err(not_writable)?;
    let doc = json!({ "id": id, "integration": integration, "tokens": [token] });
    write_doc(dir, &file, &doc)?;
    Ok(Written { file, token })
}

/// Removes the file that defines `id`.
pub fn remove(dir: &Path, id: &str) -> Result<PathBuf, EditError> {
    let file = find(dir, id)?.ok_or_else(|| EditError::Unknown {
        id: id.to_owned(),
        dir: dir.to_owned(),
    })?;
    let not_writable = |source| EditError::NotWritable {
        dir: dir.to_owned(),
        source,
    };
    std::fs::remove_file(&file).map_err(not_writable)?;
    sync_dir(dir).map_err(not_writable)?;
    Ok(file)
}

/// Gives `id` a fresh token; the tokens it had stay valid for `overlap` (none when zero).
/// Tokens already expired are dropped from the file.
pub fn rotate(dir: &Path, id: &str, overlap: Duration, now_ms: i64) -> Result<Written, EditError> {
    let file = find(dir, id)?.ok_or_else(|| EditError::Unknown {
        id: id.to_owned(),
        dir: dir.to_owned(),
    })?;
    let mut doc = read_doc(&file)?;
    let invalid = |message: &str| EditError::Invalid {
        file: file.clone(),
        message: message.to_owned(),
    };
    let Some(Value::Array(old)) = doc.get("tokens").cloned() else {
        return Err(invalid("`tokens` is not a list"));
    };
    let overlap_ms = i64::try_from(overlap.as_millis()).unwrap_or(i64::MAX);
    let ends = now_ms.saturating_add(overlap_ms);
    let token = new_token().map_err(|source| EditError::NotWritable {
        dir: dir.to_owned(),
        source,
    })?;
    let mut tokens = vec![Value::String(token.clone())];
    if overlap_ms > 0 {
        for entry in old {
            let (text, end) = match &entry {
                Value::String(t) => (t.clone(), ends),
                Value::Object(o) => {
                    let text = o.get("token").and_then(Value::as_str);
                    let end = o
                        .get("expires_at")
                        .and_then(Value::as_str)
                        .and_then(clock::parse_rfc3339_ms);
                    match (text, end) {
                        (Some(text), Some(end)) => (text.to_owned(), end.min(ends)),
                        _ => return Err(invalid("a token entry is not `{token, expires_at}`")),
                    }
                }
                _ => return Err(invalid("a token is neither text nor `{token, expires_at}`")),
            };
            if end > now_ms {
                tokens.push(json!({ "token": text, "expires_at": clock::format_rfc3339_ms(end) }));
            }
        }
    }
    if let Value::Object(map) = &mut doc {
        map.insert("tokens".into(), Value::Array(tokens));
    }
    write_doc(dir, &file, &doc)?;
    Ok(Written { file, token })
}

/// The file of `dir` whose `id` is `id`, read as written (no expansion).
pub fn find(dir: &Path, id: &str) -> Result<Option<PathBuf>, EditError> {
    let files = source_files(dir).map_err(|e| EditError::NotWritable {
        dir: dir.to_owned(),
        source: std::io::Error::other(e.message),
    })?;
    for file in files {
        let Ok(doc) = read_doc(&file) else { continue };
        if doc.get("id").and_then(Value::as_str) == Some(id) {
            return Ok(Some(file));
        }
    }
    Ok(None)
}

fn read_doc(file: &Path) -> Result<Value, EditError> {
    let invalid = |message: String| EditError::Invalid {
        file: file.to_owned(),
        message,
    };
    let text = std::fs::read_to_string(file).map_err(|e| invalid(format!("cannot read: {e}")))?;
    let doc: Value = yaml::from_yaml(file, &text).map_err(|e| invalid(e.message))?;
    if doc.is_object() {
        Ok(doc)
    } else {
        Err(invalid("not a mapping of id, integration, tokens".into()))
    }
}

fn write_doc(dir: &Path, file: &Path, doc: &Value) -> Result<(), EditError> {
    let body = yaml::to_string(doc).map_err(|message| EditError::Invalid {
        file: file.to_owned(),
        message,
    })?;
    write_atomic(file, &format!("{HEADER}{body}")).map_err(|source| EditError::NotWritable {
        dir: dir.to_owned(),
        source,
    })
}

/// Temporary file (hidden, so neither the loader nor the watcher takes it), fsync,
/// rename over `file`, fsync the directory. Mode 0600.
fn write_atomic(file: &Path, text: &str) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let dir = file.parent().unwrap_or(Path::new("."));
    let name = file
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("source.yaml");
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, file)?;
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::sources_dir;
    use std::os::unix::fs::PermissionsExt;

    fn load(dir: &Path, now_ms: i64) -> Vec<sources_dir::DirSource> {
        sources_dir::load(dir, &|_| None, &mut Vec::new(), now_ms).expect("loads")
    }

    #[test]
    fn add_writes_a_0600_file_with_a_strong_token_and_refuses_twice() {
        let root = tempfile::tempdir().expect("tmp");
        let dir = root.path().join("sources.d");
        let written = add(&dir, "grafana", "grafana").expect("added");
        assert_eq!(written.file, dir.join("grafana.yaml"));
        assert_eq!(written.token.len(), 64);
        assert!(written.token.bytes().all(|b| b.is_ascii_hexdigit()));
        let mode = std::fs::metadata(&written.file)
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let loaded = load(&dir, 0);
        assert_eq!(loaded[0].id, "grafana");
        assert_eq!(loaded[0].tokens, vec![written.token.clone()]);
        assert!(matches!(
            add(&dir, "grafana", "x"),
            Err(EditError::Exists { .. })
        ));
        assert!(matches!(
            add(&dir, "Bad", "x"),
            Err(EditError::InvalidId(_))
        ));
        let other = add(&dir, "other", "grafana").expect("second");
        assert_ne!(other.token, written.token);
        // No temporary file is left behind.
        let names: Vec<_> = std::fs::read_dir(&dir)
            .expect("dir")
            .map(|e| e.expect("e").file_name())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
    }

    #[test]
    fn rotate_keeps_old_tokens_for_the_overlap_then_drops_them() {
        let root = tempfile::tempdir().expect("tmp");
        let dir = root.path().to_owned();
        let first = add(&dir, "s", "generic").expect("added");
        let now = 1_000_000;
        let second = rotate(&dir, "s", Duration::from_secs(60), now).expect("rotated");
        let loaded = load(&dir, now);
        assert_eq!(loaded[0].tokens, vec![second.token.clone()]);
        assert_eq!(
            loaded[0].expiring,
            vec![(first.token.clone(), now + 60_000)]
        );
        let mode = std::fs::metadata(&second.file)
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        // Past the overlap the old token is ignored, and the next rotation drops it.
        assert!(load(&dir, now + 60_001)[0].expiring.is_empty());
        let third = rotate(&dir, "s", Duration::ZERO, now + 60_001).expect("rotated");
        let text = std::fs::read_to_string(&third.file).expect("read");
        assert!(
            !text.contains(&first.token) && !text.contains(&second.token),
            "{text}"
        );
        assert!(matches!(
            rotate(&dir, "nope", Duration::ZERO, now),
            Err(EditError::Unknown { .. })
        ));
    }

    #[test]
    fn remove_deletes_the_file_and_unwritable_dirs_say_so() {
        let root = tempfile::tempdir().expect("tmp");
        let dir = root.path().join("d");
        add(&dir, "s", "generic").expect("added");
        assert_eq!(remove(&dir, "s").expect("removed"), dir.join("s.yaml"));
        assert!(load(&dir, 0).is_empty());
        assert!(matches!(remove(&dir, "s"), Err(EditError::Unknown { .. })));
        // A directory under a regular file cannot be made, root or not.
        let blocked = root.path().join("file");
        std::fs::write(&blocked, "x").expect("write");
        let err = add(&blocked.join("sub"), "s", "generic").expect_err("not writable");
        assert!(matches!(err, EditError::NotWritable { .. }), "{err}");
        assert!(
            err.to_string().contains("sources are managed as files in"),
            "{err}"
        );
    }
}
