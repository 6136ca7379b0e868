//! The command line: `serve`, `check`, `eval`, `test`. Each command returns an exit code.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::config::{self, Overrides};
use crate::engine::{self, Step};
use crate::mapping::{self, suite, CompileError};

/// Config-driven webhook gateway for incident management.
#[derive(Debug, Parser)]
#[command(name = "alertgate", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gateway until SIGTERM or SIGINT.
    Serve(ServeArgs),
    /// Check a mapping file or directory (and the config) without running anything.
    Check(CheckArgs),
    /// Run one payload through one mapping and print the outcome as JSON.
    Eval(EvalArgs),
    /// Run the `tests:` of every mapping file.
    Test(TestArgs),
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The config file.
    #[arg(long, default_value = "config.example.yaml")]
    pub config: PathBuf,
    /// Listen address (ip:port), instead of the config's `listen`.
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// Use the Redis store at this url, whatever the config's `store` says.
    #[arg(long)]
    pub redis_url: Option<String>,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The config file to check, with the mappings it names.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Mappings directory (default: `mappings`, or the config's `mappings_dir`).
    #[arg(long)]
    pub mappings: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// The mapping file.
    #[arg(long)]
    pub mapping: PathBuf,
    /// The payload file: the HTTP body, or the query string with `--method GET`.
    #[arg(long)]
    pub payload: PathBuf,
    /// Content-Type of the payload (default: by the mapping's `decode`, else sniffed).
    #[arg(long)]
    pub content_type: Option<String>,
    /// `POST` (default) or `GET`.
    #[arg(long, default_value = "POST")]
    pub method: String,
    /// Also print each step: rules tried, `when` results, table lookups.
    #[arg(long)]
    pub explain: bool,
}

#[derive(Debug, Args)]
pub struct TestArgs {
    /// Mappings directory, or one mapping file.
    #[arg(long, default_value = "mappings")]
    pub mappings: PathBuf,
}

/// Prints compile errors, one line each, to stderr.
pub fn print_errors(errors: &[CompileError]) {
    let mut err = std::io::stderr().lock();
    for e in errors {
        let _ = writeln!(err, "{e}");
    }
}

/// Loads a mapping file or every file of a directory.
fn load_mappings(path: &Path) -> Result<Vec<mapping::Mapping>, Vec<CompileError>> {
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

/// `alertgate check`: the config and its mappings when `--config` is given, else the
/// mappings directory alone.
pub fn check(args: &CheckArgs) -> ExitCode {
    let Some(config_path) = &args.config else {
        return check_mappings(args.mappings.as_deref().unwrap_or("mappings".as_ref()));
    };
    let overrides = Overrides {
        mappings_dir: args.mappings.clone(),
        ..Overrides::default()
    };
    match config::build_snapshot(config_path, &overrides) {
        Ok(snapshot) => {
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
            ExitCode::FAILURE
        }
    }
}

pub fn check_mappings(dir: &Path) -> ExitCode {
    match load_mappings(dir) {
        Ok(list) => {
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
            ExitCode::FAILURE
        }
    }
}

pub fn eval(args: &EvalArgs) -> ExitCode {
    let mapping = match mapping::load_file(&args.mapping) {
        Ok(m) => m,
        Err(errors) => {
            print_errors(&errors);
            return ExitCode::from(2);
        }
    };
    let body = match std::fs::read(&args.payload) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", args.payload.display());
            return ExitCode::from(2);
        }
    };
    let get = match args.method.to_ascii_uppercase().as_str() {
        "GET" => true,
        "POST" => false,
        other => {
            eprintln!("error: unknown method {other:?}: expected GET or POST");
            return ExitCode::from(2);
        }
    };
    let payload = match suite::decode_payload(&mapping, get, args.content_type.as_deref(), &body) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {}: {e}", args.payload.display());
            return ExitCode::FAILURE;
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
                "event_time": outcome.event_time.map(crate::clock::format_rfc3339_ms),
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
            ExitCode::FAILURE
        }
    }
}

pub fn test(args: &TestArgs) -> ExitCode {
    let mappings = match load_mappings(&args.mappings) {
        Ok(list) => list,
        Err(errors) => {
            print_errors(&errors);
            return ExitCode::from(2);
        }
    };
    let (mut passed, mut failed) = (0usize, 0usize);
    let mut out = std::io::stdout().lock();
    for m in &mappings {
        for t in &m.tests {
            let diffs = suite::run(m, t);
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
        ExitCode::FAILURE
    }
}
