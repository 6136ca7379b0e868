//! The `alertgate` binary: parse the command line, run the command, exit with its code.

use std::process::ExitCode;

use alertgate::cli::{self, Cli, Command};
use clap::Parser;

// Every request allocates a few dozen small objects (decoded fields, the outcome, hyper's
// buffers); glibc's allocator spent a quarter of the gateway's CPU on them under load
// (bench/run.sh + perf), mimalloc a fraction of that.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match &cli.command {
        Command::Serve(args) => {
            alertgate::serve::init_tracing();
            match tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime.block_on(alertgate::serve::serve(args)),
                Err(e) => {
                    eprintln!("error: cannot start the tokio runtime: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Check(args) => cli::check(args),
        Command::Eval(args) => cli::eval(args),
        Command::Test(args) => cli::test(args),
    }
}
