//! YAML with places: every config and mapping file is read through here, and every error
//! names its `file:line:col` and YAML path. `serde_yaml` is called from this module only.

mod bounds;
mod locate;

use std::fmt;
use std::path::{Path, PathBuf};

use self::bounds::too_deep_at;
pub use self::bounds::{MAX_YAML_BYTES, MAX_YAML_DEPTH};
use self::locate::Locations;

/// One problem in a mapping or config file, with its place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileError {
    /// Whether the file could not be read, or was read and judged invalid.
    pub kind: ErrorKind,
    pub file: PathBuf,
    /// 1-based line and column, where known.
    pub line: Option<usize>,
    pub column: Option<usize>,
    /// The YAML path of the key (`rules[1].action.map`); empty for the whole file.
    pub path: String,
    pub message: String,
}

/// What went wrong with a file: the CLI exits 2 for `Unreadable` (the command could not
/// run) and 1 for `Invalid` (the input was judged and failed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    Unreadable,
    Invalid,
}

impl CompileError {
    /// Whether every error of `errors` is about content, none about reading a file.
    pub fn all_invalid(errors: &[CompileError]) -> bool {
        errors.iter().all(|e| e.kind == ErrorKind::Invalid)
    }
}

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let (Some(line), Some(col)) = (self.line, self.column) {
            write!(f, ":{line}:{col}")?;
        }
        if !self.path.is_empty() {
            write!(f, ": {}", self.path)?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for CompileError {}

/// Collects errors for one file, placing each by its YAML path.
pub(crate) struct Errors<'a> {
    file: &'a Path,
    locations: Locations,
    pub list: Vec<CompileError>,
}

impl<'a> Errors<'a> {
    pub fn new(file: &'a Path, text: &str) -> Errors<'a> {
        Errors {
            file,
            locations: Locations::scan(text),
            list: Vec::new(),
        }
    }

    pub fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        let path = path.into();
        let place = self.locations.find(&path);
        self.list.push(CompileError {
            kind: ErrorKind::Invalid,
            file: self.file.to_owned(),
            line: place.map(|p| p.0),
            column: place.map(|p| p.1),
            path,
            message: message.into(),
        });
    }
}

/// Deserialises YAML text into `T` (serde_yaml is called from here only), with the
/// error's YAML path and the parser's line:column.
pub fn from_yaml<T: serde::de::DeserializeOwned>(
    file: &Path,
    text: &str,
) -> Result<T, CompileError> {
    if let Some((line, column)) = too_deep_at(text, MAX_YAML_DEPTH) {
        return Err(CompileError {
            kind: ErrorKind::Invalid,
            file: file.to_owned(),
            line: Some(line),
            column: Some(column),
            path: String::new(),
            message: format!("YAML nested deeper than {MAX_YAML_DEPTH} levels"),
        });
    }
    let de = serde_yaml::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let location = inner.location();
        let mut message = inner.to_string();
        // serde_yaml appends " at line L column C"; the place is shown in front instead.
        if let Some(cut) = message.find(" at line ") {
            message.truncate(cut);
        }
        // …and may start with its own spelling of the path (`rules[1]: unknown field`).
        if let Some((head, rest)) = message.split_once(": ") {
            if !head.contains(' ') {
                message = rest.to_owned();
            }
        }
        CompileError {
            kind: ErrorKind::Invalid,
            file: file.to_owned(),
            line: location.as_ref().map(serde_yaml::Location::line),
            column: location.as_ref().map(serde_yaml::Location::column),
            path: if path == "." { String::new() } else { path },
            message,
        }
    })
}

/// Like `from_yaml`, but first passes every string value of the parsed tree through
/// `rewrite(path, value)` (config files use it for `${VAR}`), so substituted text can never
/// change the document's structure. Returns every rewrite error, or the first
/// deserialisation error, each placed by its YAML path.
pub fn from_yaml_rewriting<T: serde::de::DeserializeOwned>(
    file: &Path,
    text: &str,
    rewrite: &mut dyn FnMut(&str, &str) -> Result<String, String>,
) -> Result<T, Vec<CompileError>> {
    let mut tree: serde_yaml::Value = from_yaml(file, text).map_err(|e| vec![e])?;
    let mut errors = Errors::new(file, text);
    rewrite_strings(&mut tree, String::new(), rewrite, &mut errors);
    if !errors.list.is_empty() {
        return Err(errors.list);
    }
    serde_path_to_error::deserialize(tree).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." { String::new() } else { path };
        errors.push(path, e.into_inner().to_string());
        errors.list
    })
}

fn rewrite_strings(
    value: &mut serde_yaml::Value,
    path: String,
    rewrite: &mut dyn FnMut(&str, &str) -> Result<String, String>,
    errors: &mut Errors<'_>,
) {
    match value {
        serde_yaml::Value::String(s) => match rewrite(&path, s) {
            Ok(new) => *s = new,
            Err(message) => errors.push(path, message),
        },
        serde_yaml::Value::Sequence(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                rewrite_strings(item, format!("{path}[{i}]"), rewrite, errors);
            }
        }
        serde_yaml::Value::Mapping(map) => {
            for (key, item) in map.iter_mut() {
                let key = match key {
                    serde_yaml::Value::String(k) => k.clone(),
                    other => serde_yaml::to_string(other)
                        .map(|k| k.trim_end().to_owned())
                        .unwrap_or_default(),
                };
                let child = if path.is_empty() {
                    key
                } else {
                    format!("{path}.{key}")
                };
                rewrite_strings(item, child, rewrite, errors);
            }
        }
        serde_yaml::Value::Tagged(tagged) => {
            rewrite_strings(&mut tagged.value, path, rewrite, errors);
        }
        _ => {}
    }
}

/// Serialises `value` as YAML text (files the gateway writes itself).
pub fn to_string<T: serde::Serialize + ?Sized>(value: &T) -> Result<String, String> {
    serde_yaml::to_string(value).map_err(|e| e.to_string())
}

/// Reads a config or mapping file of at most `MAX_YAML_BYTES`.
pub(crate) fn read(path: &Path) -> Result<String, CompileError> {
    let size = std::fs::metadata(path)
        .map_err(|e| io_error(path, &e))?
        .len();
    if size > MAX_YAML_BYTES {
        return Err(CompileError {
            kind: ErrorKind::Invalid,
            file: path.to_owned(),
            line: None,
            column: None,
            path: String::new(),
            message: format!("file is {size} bytes, more than the {MAX_YAML_BYTES} allowed"),
        });
    }
    std::fs::read_to_string(path).map_err(|e| io_error(path, &e))
}

pub(crate) fn io_error(path: &Path, e: &std::io::Error) -> CompileError {
    CompileError {
        kind: ErrorKind::Unreadable,
        file: path.to_owned(),
        line: None,
        column: None,
        path: String::new(),
        message: format!("cannot read: {e}"),
    }
}
