//! The files under `deploy/`: Prometheus rules (promtool), the dashboard's and rules'
//! metric names against a live scrape of the real binary, the systemd unit
//! (systemd-analyze), the Kubernetes manifests and the Dockerfile against the config
//! they ship.

mod kubernetes;
mod metrics;
mod promql;
mod tools;
mod units;

use std::path::PathBuf;

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn read(rel: &str) -> String {
    let path = repo_root().join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}
