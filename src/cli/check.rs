//! `alertgate check`: load a config and its mappings, or a mappings directory, and report
//! every problem with its place.

use std::path::Path;
use std::process::ExitCode;

use super::args::CheckArgs;
use super::output::{code_for, load_mappings, print_errors};
use crate::config::{self, Overrides};
use crate::mapping::Mapping;

/// Prints every mapping's warnings to stderr (`warning: file:line:col: path: message`);
/// they never change the exit code.
fn print_warnings<'m>(mappings: impl IntoIterator<Item = &'m Mapping>) {
    for mapping in mappings {
        for warning in &mapping.warnings {
            eprintln!("warning: {warning}");
        }
    }
}

/// `alertgate check`: the config and its mappings when `--config` is given, else the
/// mappings directory alone.
pub fn run(args: &CheckArgs) -> ExitCode {
    let Some(config_path) = &args.config else {
        return check_mappings(args.mappings.as_deref().unwrap_or("mappings".as_ref()));
    };
    let overrides = Overrides {
        mappings_dir: args.mappings.clone(),
        ..Overrides::default()
    };
    match config::build_snapshot(config_path, &overrides) {
        Ok(snapshot) => {
            let mut mappings: Vec<&Mapping> = snapshot
                .mappings
                .by_integration
                .values()
                .map(AsRef::as_ref)
                .collect();
            mappings.sort_by(|a, b| a.file.cmp(&b.file));
            print_warnings(mappings);
            println!(
                "ok: {} with {} source(s), {} mapping(s) in {}",
                config_path.display(),
                snapshot.sources.len(),
                snapshot.mappings.len(),
                snapshot.settings.mappings_dir.display()
            );
            ExitCode::SUCCESS
        }
        Err(errors) => {
            print_errors(&errors);
            eprintln!("{} problem(s)", errors.len());
            code_for(&errors)
        }
    }
}

fn check_mappings(dir: &Path) -> ExitCode {
    match load_mappings(dir) {
        Ok(list) => {
            print_warnings(list.iter());
            let rules: usize = list.iter().map(|m| m.rules.len()).sum();
            println!(
                "ok: {} mapping(s), {rules} rule(s) in {}",
                list.len(),
                dir.display()
            );
            ExitCode::SUCCESS
        }
        Err(errors) => {
            print_errors(&errors);
            eprintln!("{} problem(s)", errors.len());
            code_for(&errors)
        }
    }
}
