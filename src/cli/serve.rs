//! `alertgate serve`: logging, the runtime, then the gateway until SIGTERM/SIGINT.

use std::process::ExitCode;

use super::args::ServeArgs;
use super::output::{print_errors, COULD_NOT_RUN};
use crate::app::{self, ServeOptions, StartError};
use crate::config::Overrides;

/// Runs the gateway; any failure to start or to keep serving exits 2.
pub fn run(args: &ServeArgs) -> ExitCode {
    match app::log_format(&args.config) {
        Ok(format) => app::init_tracing(format),
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(COULD_NOT_RUN);
        }
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the tokio runtime: {e}");
            return ExitCode::from(COULD_NOT_RUN);
        }
    };
    let options = ServeOptions {
        config: args.config.clone(),
        overrides: Overrides {
            listen: args.listen,
            redis_url: args.redis_url.clone(),
            mappings_dir: None,
        },
    };
    match runtime.block_on(app::serve(&options)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(StartError::Config(errors)) => {
            print_errors(&errors);
            eprintln!("{} problem(s) in the config; not starting", errors.len());
            ExitCode::from(COULD_NOT_RUN)
        }
        Err(e) => {
            tracing::error!(error = %error_chain(&e), "{e}");
            ExitCode::from(COULD_NOT_RUN)
        }
    }
}

/// An error and its causes, `: `-separated.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}
