//! The `alertgate` binary: parse the command line, run the command, exit with its code.

use std::process::ExitCode;

use alertgate::cli::{self, Cli};
use clap::Parser;

// Every request allocates a few dozen small objects (decoded fields, the outcome, hyper's
// buffers); glibc's allocator spent a quarter of the gateway's CPU on them under load
// (bench/run.sh + perf), mimalloc a fraction of that.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    cli::run(&Cli::parse())
}
