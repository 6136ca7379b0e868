//! `alertgate eval`: what a mapping makes of one payload, with `--explain` its steps.

use std::process::ExitCode;

use super::args::EvalArgs;
use super::output::{print_errors, COULD_NOT_RUN, JUDGED_FAILED};
use crate::clock;
use crate::engine::{self, Step};
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
    let payload = match mapping.decode_input(get, args.content_type.as_deref(), &body) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {}: {e}", args.payload.display());
            return ExitCode::from(JUDGED_FAILED);
        }
    };
    let mut steps: Vec<Step> = Vec::new();
    let result = engine::evaluate_traced(&mapping, &payload, &mut steps);
    match result {
        Ok(outcome) => {
            let mut json = serde_json::json!({
                "action": outcome.action,
                "fingerprint": outcome.fingerprint,
                "priority": outcome.priority,
                "title": outcome.title,
                "labels": outcome.labels,
                "event_time": outcome.event_time.map(clock::format_rfc3339_ms),
                "rule": outcome.rule,
                "reason": outcome.reason,
            });
            if args.explain {
                json["steps"] = serde_json::to_value(&steps).unwrap_or_default();
            }
            println!("{json}");
            ExitCode::SUCCESS
        }
        Err(rejection) => {
            eprintln!("rejected: {rejection}");
            ExitCode::from(JUDGED_FAILED)
        }
    }
}
