//! alertgate: a config-driven webhook gateway for incident management.
//!
//! Data flows one way through these modules (DESIGN §2): `server` → `decode` →
//! `mapping`/`engine` → `store`. `config` and `reload` build what the server runs on;
//! `metrics` counts what happens.

pub mod app;
pub mod cli;
pub mod clock;
pub mod config;
pub mod decode;
pub mod engine;
pub mod mapping;
pub mod metrics;
pub mod outcome;
pub mod reload;
pub mod selftest;
pub mod server;
pub mod store;
pub mod yaml;
