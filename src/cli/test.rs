//! `alertgate test`: run the `tests:` of every mapping file.

use std::io::Write;
use std::process::ExitCode;

use super::args::TestArgs;
use super::output::{load_mappings, print_errors, COULD_NOT_RUN, JUDGED_FAILED};
use crate::selftest;

/// `alertgate test`: every mapping's `tests:`, one PASS/FAIL line each.
pub fn run(args: &TestArgs) -> ExitCode {
    let mappings = match load_mappings(&args.mappings) {
        Ok(list) => list,
        Err(errors) => {
            print_errors(&errors);
            return ExitCode::from(COULD_NOT_RUN);
        }
    };
    let (mut passed, mut failed) = (0usize, 0usize);
    let mut out = std::io::stdout().lock();
    for m in &mappings {
        for t in &m.tests {
            let diffs = selftest::run(m, t);
            if diffs.is_empty() {
                passed += 1;
                let _ = writeln!(out, "PASS {}: {}", m.integration, t.name);
            } else {
                failed += 1;
                let _ = writeln!(out, "FAIL {}: {}", m.integration, t.name);
                for d in diffs {
                    let _ = writeln!(out, "     {d}");
                }
            }
        }
    }
    let _ = writeln!(out, "{passed} passed, {failed} failed");
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(JUDGED_FAILED)
    }
}
