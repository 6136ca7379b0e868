//! The command line: `serve`, `check`, `eval`, `test`, `sources`, `migrate`, one file
//! each. Every command
//! returns its exit code under one convention (docs/design.md §8):
//!
//! - 0: it ran and all is well;
//! - 1: the input was judged and failed (an invalid config or mapping in `check`, a failing
//!   `test`, a rejected or undecodable payload in `eval`);
//! - 2: the command could not run (a usage error, which clap reports itself, an unreadable
//!   file, a mapping `eval` or `test` needs that does not compile, a gateway that cannot
//!   start). Warnings never change the exit code.

mod args;
mod check;
mod eval;
mod migrate;
mod output;
mod serve;
mod sources;
mod test;

use std::process::ExitCode;

pub use self::args::{
    CheckArgs, Cli, Command, EvalArgs, MigrateArgs, ServeArgs, SourcesAction, SourcesArgs, TestArgs,
};

/// Runs the parsed command line's command.
pub fn run(cli: &Cli) -> ExitCode {
    match &cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Check(args) => check::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Test(args) => test::run(args),
        Command::Sources(args) => sources::run(args),
        Command::Migrate(args) => migrate::run(args),
    }
}
