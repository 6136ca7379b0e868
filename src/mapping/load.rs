//! Loading mapping files: one file, or every file of a directory with a digest of their
//! text (hot reload compares digests to skip rebuilding an unchanged set).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::compile::compile_str;
use super::model::Mapping;
use crate::yaml::{self, io_error, CompileError, Errors};

/// Reads and compiles one mapping file.
pub fn load_file(path: &Path) -> Result<Mapping, Vec<CompileError>> {
    let text = yaml::read(path).map_err(|e| vec![e])?;
    compile_str(path, &text)
}

/// Every mapping of a directory, by integration name, and a digest of their text.
#[derive(Debug, Clone, Default)]
pub struct MappingSet {
    pub by_integration: HashMap<String, Arc<Mapping>>,
    /// SHA-256 over every file's name and content, in name order.
    pub digest: [u8; 32],
}

impl MappingSet {
    pub fn get(&self, integration: &str) -> Option<&Arc<Mapping>> {
        self.by_integration.get(integration)
    }

    pub fn len(&self) -> usize {
        self.by_integration.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_integration.is_empty()
    }

    /// The integration names, sorted (for "known: …" in error messages).
    pub fn integrations(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.by_integration.keys().map(String::as_str).collect();
        names.sort_unstable();
        names
    }
}

/// Loads every `*.yaml`/`*.yml` file of `dir`. Returns the whole set, or every error of
/// every file (one bad file does not hide errors in another).
pub fn load_dir(dir: &Path) -> Result<MappingSet, Vec<CompileError>> {
    let files = mapping_files(dir).map_err(|e| vec![e])?;
    let mut errors = Vec::new();
    let mut set = MappingSet::default();
    let mut hasher = Sha256::new();
    for file in files {
        let text = match yaml::read(&file) {
            Ok(text) => text,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        hasher.update(
            file.file_name()
                .map(std::ffi::OsStr::as_encoded_bytes)
                .unwrap_or_default(),
        );
        hasher.update([0]);
        hasher.update(text.as_bytes());
        hasher.update([0]);
        match compile_str(&file, &text) {
            Ok(mapping) => {
                if let Some(other) = set.by_integration.get(&mapping.integration) {
                    let mut e = Errors::new(&file, &text);
                    e.push(
                        "integration",
                        format!(
                            "integration {:?} is also defined in {}",
                            mapping.integration,
                            other.file.display()
                        ),
                    );
                    errors.extend(e.list);
                } else {
                    set.by_integration
                        .insert(mapping.integration.clone(), Arc::new(mapping));
                }
            }
            Err(list) => errors.extend(list),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    set.digest = hasher.finalize().into();
    Ok(set)
}

/// The mapping files of `dir`, sorted by name.
pub fn mapping_files(dir: &Path) -> Result<Vec<PathBuf>, CompileError> {
    let entries = std::fs::read_dir(dir).map_err(|e| io_error(dir, &e))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.is_file() && matches!(p.extension().and_then(|x| x.to_str()), Some("yaml" | "yml"))
        })
        .collect();
    files.sort();
    Ok(files)
}
