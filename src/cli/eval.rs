//! `alertgate eval`: what a mapping makes of one payload, with `--explain` its steps.

use std::process::ExitCode;

use super::args::EvalArgs;
use super::output::{print_errors, COULD_NOT_RUN, JUDGED_FAILED};
use crate::clock;
use crate::engine::{self, Step};
use crate::mapping;
use crate::outcome::Outcome;

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
    let items = match engine::items(&mapping, &payload) {
        Ok(items) => items,
        Err(rejection) => {
            eprintln!("rejected: {rejection}");
            return ExitCode::from(JUDGED_FAILED);
        }
    };
    let Some(items) = items else {
        let mut steps: Vec<Step> = Vec::new();
        let result = engine::evaluate_traced(&mapping, &payload, &mut steps);
        return match result {
            Ok(outcome) => {
                let mut json = outcome_json(&outcome);
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
        };
    };
    // Fan-out: `{"results": [...]}` in element order, as the server answers; a rejected
    // element carries `error` as the server's body does. Exit 1 only when every element
    // was rejected (the server's 422).
    let mut results = Vec::with_capacity(items.len());
    let mut accepted = 0usize;
    for item in &items {
        let mut steps: Vec<Step> = Vec::new();
        let mut json = match engine::evaluate_item_traced(&mapping, &payload, item, &mut steps) {
            Ok(outcome) => {
                accepted += 1;
                outcome_json(&outcome)
            }
            Err(rejection) => serde_json::json!({
                "action": null,
                "error": { "code": "unprocessable_payload", "message": rejection.to_string() },
            }),
        };
        if args.explain {
            json["steps"] = serde_json::to_value(&steps).unwrap_or_default();
        }
        results.push(json);
    }
    println!("{}", serde_json::json!({ "results": results }));
    if accepted == 0 && !items.is_empty() {
        eprintln!("rejected: every item was rejected");
        return ExitCode::from(JUDGED_FAILED);
    }
    ExitCode::SUCCESS
}

fn outcome_json(outcome: &Outcome) -> serde_json::Value {
    serde_json::json!({
        "action": outcome.action,
        "fingerprint": outcome.fingerprint,
        "priority": outcome.priority,
        "title": outcome.title,
        "labels": outcome.labels,
        "event_time": outcome.event_time.map(clock::format_rfc3339_ms),
        "rule": outcome.rule,
        "reason": outcome.reason,
    })
}
