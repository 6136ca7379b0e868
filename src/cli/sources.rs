//! `alertgate sources`: where to paste what, and source files made the way senders' docs
//! expect (docs/design.md §8).
//!
//! The listing shows each source's webhook URL with `<token>` unless `--show-tokens`.
//! `add`, `remove` and `rotate-token` edit `sources_dir` through `config::sources_edit`
//! (the admin API's code too); a running gateway watching that directory picks the change
//! up on its own. A new URL goes to stdout alone, notes to stderr.

use std::path::Path;
use std::process::ExitCode;

use super::args::{SourcesAction, SourcesArgs};
use super::output::{print_errors, COULD_NOT_RUN, JUDGED_FAILED};
use crate::clock;
use crate::config::sources_edit::{self, EditError};
use crate::config::{self, parse_duration, Overrides, Snapshot};
use crate::server::{source_listing, webhook_url};

/// Runs `alertgate sources [add|remove|rotate-token]`.
pub fn run(args: &SourcesArgs) -> ExitCode {
    let snapshot = match config::build_snapshot(&args.config, &Overrides::default()) {
        Ok(snapshot) => snapshot,
        Err(errors) => {
            print_errors(&errors);
            eprintln!(
                "{} problem(s) in the config; fix them first (`alertgate check --config {}`)",
                errors.len(),
                args.config.display()
            );
            return ExitCode::from(COULD_NOT_RUN);
        }
    };
    match &args.action {
        None => list(&args.config, &snapshot, args.show_tokens),
        Some(SourcesAction::Add { id, integration }) => add(&snapshot, id, integration),
        Some(SourcesAction::Remove { id }) => remove(&snapshot, id),
        Some(SourcesAction::RotateToken { id, overlap }) => rotate(&snapshot, id, overlap),
    }
}

fn list(config_path: &Path, snapshot: &Snapshot, show_tokens: bool) -> ExitCode {
    let tokens = if show_tokens {
        match config::source_tokens(config_path) {
            Ok(tokens) => Some(tokens),
            Err(errors) => {
                print_errors(&errors);
                return ExitCode::from(COULD_NOT_RUN);
            }
        }
    } else {
        None
    };
    let listing = source_listing(snapshot);
    if listing.is_empty() {
        eprintln!("no sources: add one with `alertgate sources add ID --integration NAME`");
    }
    for info in listing {
        let origin = info.file.as_deref().unwrap_or("config");
        println!(
            "{} (integration {}, from {origin})",
            info.id, info.integration
        );
        println!("  methods:       {}", info.methods.join(", "));
        println!("  content types: {}", info.content_types.join(", "));
        if !info.verify.is_empty() {
            println!("  verify:        {}", info.verify.join(", "));
        }
        match tokens.as_ref().and_then(|t| t.get(&info.id)) {
            Some(list) => {
                for token in list {
                    println!(
                        "  url:           {}",
                        webhook_url(&snapshot.settings.public_url, &info.id, token)
                    );
                }
            }
            None => println!("  url:           {}", info.url),
        }
    }
    ExitCode::SUCCESS
}

fn add(snapshot: &Snapshot, id: &str, integration: &str) -> ExitCode {
    if let Some(existing) = snapshot.source(id) {
        let place = existing
            .file
            .as_ref()
            .map_or_else(|| "the main config".to_owned(), |f| f.display().to_string());
        eprintln!("error: source {id:?} already exists (in {place})");
        return ExitCode::from(JUDGED_FAILED);
    }
    if snapshot.mappings.get(integration).is_none() {
        let known = snapshot.mappings.integrations();
        eprintln!(
            "error: no mapping in {} defines integration {integration:?} (known: {})",
            snapshot.settings.mappings_dir.display(),
            known.join(", ")
        );
        return ExitCode::from(JUDGED_FAILED);
    }
    let dir = &snapshot.settings.sources_dir;
    let existed = dir.is_dir();
    match sources_edit::add(dir, id, integration) {
        Ok(written) => {
            eprintln!(
                "created {} (mode 0600); the token is shown here once:",
                written.file.display()
            );
            if !existed {
                eprintln!(
                    "note: {} is new: a gateway already running watches it from its next \
                     restart; until then send it SIGHUP or POST /-/reload",
                    dir.display()
                );
            }
            println!(
                "{}",
                webhook_url(&snapshot.settings.public_url, id, &written.token)
            );
            ExitCode::SUCCESS
        }
        Err(e) => edit_failed(&e),
    }
}

fn remove(snapshot: &Snapshot, id: &str) -> ExitCode {
    if refuses_main_config(snapshot, id) {
        return ExitCode::from(JUDGED_FAILED);
    }
    match sources_edit::remove(&snapshot.settings.sources_dir, id) {
        Ok(file) => {
            eprintln!("removed {}", file.display());
            ExitCode::SUCCESS
        }
        Err(e) => edit_failed(&e),
    }
}

fn rotate(snapshot: &Snapshot, id: &str, overlap: &str) -> ExitCode {
    let Some(overlap) = parse_duration(overlap) else {
        eprintln!(
            "error: invalid overlap {overlap:?}: expected a number with ms, s, m, h or d, like 24h"
        );
        return ExitCode::from(COULD_NOT_RUN);
    };
    if refuses_main_config(snapshot, id) {
        return ExitCode::from(JUDGED_FAILED);
    }
    let now = clock::now_ms();
    match sources_edit::rotate(&snapshot.settings.sources_dir, id, overlap, now) {
        Ok(written) => {
            let until = i64::try_from(overlap.as_millis()).unwrap_or(i64::MAX);
            if until > 0 {
                eprintln!(
                    "rotated {}: the old token(s) stay valid until {}",
                    written.file.display(),
                    clock::format_rfc3339_ms(now.saturating_add(until))
                );
            } else {
                eprintln!(
                    "rotated {}: the old token(s) no longer work",
                    written.file.display()
                );
            }
            println!(
                "{}",
                webhook_url(&snapshot.settings.public_url, id, &written.token)
            );
            ExitCode::SUCCESS
        }
        Err(e) => edit_failed(&e),
    }
}

/// Sources of the main config are edited in that file, not here.
fn refuses_main_config(snapshot: &Snapshot, id: &str) -> bool {
    match snapshot.source(id) {
        Some(source) if source.file.is_none() => {
            eprintln!(
                "error: source {id:?} is defined in the main config file, not in {}: edit the config file",
                snapshot.settings.sources_dir.display()
            );
            true
        }
        _ => false,
    }
}

fn edit_failed(e: &EditError) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::from(match e {
        EditError::NotWritable { .. } => COULD_NOT_RUN,
        _ => JUDGED_FAILED,
    })
}
