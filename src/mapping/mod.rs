//! Mapping files: YAML that says what a source's payloads mean.
//!
//! Owns the mapping language (DESIGN §3): the serde mirror (`spec`), its compilation into
//! a checked `Mapping` (`compile`) holding parsed JMESPath (`expr`), templates
//! (`template`) and tables (`table`), and the `tests:` a file carries (`suite`).
//! Evaluating a mapping against a payload is `engine`'s job.

mod compile;
mod expr;
mod locate;
mod spec;
pub mod suite;
mod table;
mod template;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};

pub(crate) use self::compile::Errors;
pub use self::compile::{compile_str, CompileError};
pub use self::compile::{from_yaml, from_yaml_rewriting};
pub use self::expr::Expr;
pub use self::table::{Selected, Selector};
pub use self::template::{RenderError, Template};
use crate::decode::{self, DecodeError, DecodeMode, Payload, Shape};

/// A compiled mapping file.
#[derive(Debug, Clone)]
pub struct Mapping {
    pub integration: String,
    pub description: Option<String>,
    pub decode: DecodeMode,
    pub rules: Vec<Rule>,
    pub tests: Vec<suite::MappingTest>,
    /// The file it was loaded from.
    pub file: PathBuf,
    /// What its rules read of a payload: the rest is never built.
    pub reads: Shape,
}

impl Mapping {
    /// Decodes a webhook body for this mapping (its `decode` mode, what its rules read).
    pub fn decode_body(
        &self,
        body: &[u8],
        content_type: Option<&str>,
    ) -> Result<Payload, DecodeError> {
        decode::decode_shaped(body, content_type, self.decode, &self.reads)
    }

    /// Decodes a GET webhook's query string for this mapping.
    pub fn decode_query(&self, query: &str) -> Result<Payload, DecodeError> {
        decode::decode_query_shaped(query, &self.reads)
    }
}

impl Rule {
    /// The parts of a payload this rule reads.
    pub fn reads(&self) -> Shape {
        let mut shape = self.when.as_ref().map_or(Shape::none(), |w| w.reads(true));
        shape = shape.union(self.action.reads());
        for template in self.fingerprint.iter().chain(&self.title) {
            shape = shape.union(template.reads());
        }
        if let Some(priority) = &self.priority {
            shape = shape.union(priority.reads());
        }
        for (_, expr) in &self.labels {
            shape = shape.union(expr.reads(false));
        }
        if let Some(expr) = &self.event_time {
            shape = shape.union(expr.reads(false));
        }
        shape
    }
}

/// A compiled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    pub name: String,
    pub when: Option<Expr>,
    pub action: Selector<crate::engine::Action>,
    /// Always present when the action can be `open` or `resolve`.
    pub fingerprint: Option<Template>,
    pub priority: Option<Selector<crate::engine::Priority>>,
    pub title: Option<Template>,
    pub labels: Vec<(String, Expr)>,
    pub event_time: Option<Expr>,
}

/// Reads and compiles one mapping file.
pub fn load_file(path: &Path) -> Result<Mapping, Vec<CompileError>> {
    let text = read(path).map_err(|e| vec![e])?;
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
}

/// Loads every `*.yaml`/`*.yml` file of `dir`. Returns the whole set, or every error of
/// every file (one bad file does not hide errors in another).
pub fn load_dir(dir: &Path) -> Result<MappingSet, Vec<CompileError>> {
    let files = mapping_files(dir).map_err(|e| vec![e])?;
    let mut errors = Vec::new();
    let mut set = MappingSet::default();
    let mut hasher = Sha256::new();
    for file in files {
        let text = match read(&file) {
            Ok(text) => text,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        hasher.update(
            file.file_name()
                .map(|n| n.as_encoded_bytes())
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

pub(crate) fn read(path: &Path) -> Result<String, CompileError> {
    std::fs::read_to_string(path).map_err(|e| io_error(path, &e))
}

pub(crate) fn io_error(path: &Path, e: &std::io::Error) -> CompileError {
    CompileError {
        file: path.to_owned(),
        line: None,
        column: None,
        path: String::new(),
        message: format!("cannot read: {e}"),
    }
}
