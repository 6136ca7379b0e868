//! What every command shares: its exit codes and how it prints compile errors.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use crate::mapping::{self, Mapping};
use crate::yaml::CompileError;

/// The input was judged and failed.
pub const JUDGED_FAILED: u8 = 1;
/// The command could not run.
pub const COULD_NOT_RUN: u8 = 2;

/// Prints compile errors, one line each, to stderr.
pub fn print_errors(errors: &[CompileError]) {
    let mut err = std::io::stderr().lock();
    for e in errors {
        let _ = writeln!(err, "{e}");
    }
}

/// Exit code for a command whose input did not load: 1 when every error is about the
/// input's content, 2 when a file could not be read at all.
pub fn code_for(errors: &[CompileError]) -> ExitCode {
    ExitCode::from(if CompileError::all_invalid(errors) {
        JUDGED_FAILED
    } else {
        COULD_NOT_RUN
    })
}

/// Loads a mapping file or every file of a directory, in file order.
pub fn load_mappings(path: &Path) -> Result<Vec<Mapping>, Vec<CompileError>> {
    if path.is_dir() {
        let set = mapping::load_dir(path)?;
        let mut list: Vec<_> = set
            .by_integration
            .into_values()
            .map(|m| (*m).clone())
            .collect();
        list.sort_by(|a, b| a.file.cmp(&b.file));
        Ok(list)
    } else {
        mapping::load_file(path).map(|m| vec![m])
    }
}
