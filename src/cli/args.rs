//! The command line's shape, as clap reads it.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

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
    /// List sources and their webhook URLs, or add, remove or rotate a source's file in
    /// `sources_dir`.
    Sources(SourcesArgs),
    /// Upgrade the Redis store's key layout to the one this version uses (stop every
    /// gateway on the key prefix first).
    Migrate(MigrateArgs),
}

#[derive(Debug, Args)]
pub struct SourcesArgs {
    /// The config file.
    #[arg(long, global = true, default_value = "config.example.yaml")]
    pub config: PathBuf,
    /// Print each source's real tokens in its URLs, instead of `<token>`.
    #[arg(long)]
    pub show_tokens: bool,
    #[command(subcommand)]
    pub action: Option<SourcesAction>,
}

#[derive(Debug, Subcommand)]
pub enum SourcesAction {
    /// Write a new source file with a fresh token and print its webhook URL.
    Add {
        /// The source id (`[a-z0-9_-]+`): its URL is `/hooks/{id}`.
        id: String,
        /// The integration of a loaded mapping.
        #[arg(long)]
        integration: String,
    },
    /// Remove a source's file.
    Remove {
        /// The source id.
        id: String,
    },
    /// Give a source a fresh token; the old ones stay valid for the overlap.
    RotateToken {
        /// The source id.
        id: String,
        /// How long the old tokens stay valid: `24h`, `10m`, `0s` (ends them now).
        #[arg(long, default_value = "24h")]
        overlap: String,
    },
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The config file whose `store` (a redis backend) to upgrade.
    #[arg(long)]
    pub config: PathBuf,
    /// Count what would move, write nothing.
    #[arg(long)]
    pub dry_run: bool,
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
    #[arg(long, default_value = "POST", value_parser = ["GET", "POST", "get", "post"])]
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
