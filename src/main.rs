//! The `alertgate` binary: parse the command line, run the command, exit with its code.

use std::process::ExitCode;

use alertgate::cli::{self, Cli, Command};
use clap::Parser;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match &cli.command {
        Command::Check(args) => {
            cli::check_mappings(args.mappings.as_deref().unwrap_or("mappings".as_ref()))
        }
        Command::Eval(args) => cli::eval(args),
        Command::Test(args) => cli::test(args),
    }
}
