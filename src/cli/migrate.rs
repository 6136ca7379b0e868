//! `alertgate migrate --config F [--dry-run]`: upgrades the Redis keyspace of the config's
//! store from layout 1 (the keys of earlier versions) to layout 2 (docs/design.md §5).
//! Prints a JSON report; exit 0 when the keyspace is (now) at layout 2 or empty, 1 when it
//! holds a layout newer than this version knows, 2 when it could not run.

use std::process::ExitCode;

use super::args::MigrateArgs;
use super::output::{print_errors, COULD_NOT_RUN, JUDGED_FAILED};
use crate::config::{self, Overrides, StoreSettings};
use crate::store::{migrate_v1, LAYOUT_VERSION};

pub fn run(args: &MigrateArgs) -> ExitCode {
    let snapshot = match config::build_snapshot(&args.config, &Overrides::default()) {
        Ok(snapshot) => snapshot,
        Err(errors) => {
            print_errors(&errors);
            return ExitCode::from(COULD_NOT_RUN);
        }
    };
    let StoreSettings::Redis(settings) = &snapshot.settings.store else {
        eprintln!("error: the config's store is not redis: nothing to migrate");
        return ExitCode::from(COULD_NOT_RUN);
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the tokio runtime: {e}");
            return ExitCode::from(COULD_NOT_RUN);
        }
    };
    match runtime.block_on(migrate_v1(settings, args.dry_run)) {
        Ok(report) => {
            println!(
                "{}",
                serde_json::to_string(&report).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
            );
            if report.from > LAYOUT_VERSION {
                eprintln!(
                    "error: the keyspace holds layout {}, newer than this alertgate knows \
                     ({LAYOUT_VERSION})",
                    report.from
                );
                return ExitCode::from(JUDGED_FAILED);
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: migrate: {e}");
            ExitCode::from(COULD_NOT_RUN)
        }
    }
}
