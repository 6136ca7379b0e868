//! alertgate: a config-driven webhook gateway for incident management.
//!
//! Data flows one way through these modules (docs/design.md §2): `cli` → `app` →
//! `server` → `reload` → `config` → `verify` → `spool` → `selftest`/`engine` → `mapping` →
//! `store` → `decode`, `bounds` → `yaml` → `outcome`, with `metrics` and `clock` beside
//! them. Nothing imports upward, and `tests/architecture.rs` fails the build on any import
//! cycle.

pub mod app;
pub mod bounds;
pub mod cli;
pub mod clock;
pub mod config;
pub mod decode;
pub mod delivery;
pub mod engine;
pub mod explain;
pub mod mapping;
pub mod metrics;
pub mod outcome;
pub mod reload;
pub mod selftest;
pub mod server;
pub mod spool;
pub mod store;
pub mod verify;
pub mod yaml;
