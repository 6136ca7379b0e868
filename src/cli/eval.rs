//! `alertgate eval`: what a mapping makes of one payload, with `--explain` its steps.

use std::process::ExitCode;

use super::args::EvalArgs;
use super::output::{print_errors, COULD_NOT_RUN, JUDGED_FAILED};
use crate::explain::{explain, ExplainError};
use crate::mapping;

/// `alertgate eval`: one payload through one mapping, the outcome as JSON on stdout.
pub fn run(args: &EvalArgs) -> ExitCode {
    let mapping = match mapping::load_file(&args.mapping) {
        Ok(m) => m,
        Err(errors) => {
            print_errors(&errors);
            return ExitCode::from(COULD_NOT_RUN);
        }
    };
    let body = match std::fs::read(&args.payload) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", args.payload.display());
            return ExitCode::from(COULD_NOT_RUN);
        }
    };
    // clap admits only GET and POST.
    let get = args.method.eq_ignore_ascii_case("GET");
    match explain(
        &mapping,
        get,
        args.content_type.as_deref(),
        &body,
        args.explain,
    ) {
        Ok((json, any)) => {
            println!("{json}");
            if any {
                ExitCode::SUCCESS
            } else {
                // Fan-out with every element rejected: the server's 422.
                eprintln!("rejected: every item was rejected");
                ExitCode::from(JUDGED_FAILED)
            }
        }
        Err(ExplainError::Decode(e)) => {
            eprintln!("error: {}: {e}", args.payload.display());
            ExitCode::from(JUDGED_FAILED)
        }
        Err(ExplainError::Rejected(rejection)) => {
            eprintln!("rejected: {rejection}");
            ExitCode::from(JUDGED_FAILED)
        }
    }
}
