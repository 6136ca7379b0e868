//! External tools: `promtool` and `systemd-analyze`, skipped when absent unless
//! `ALERTGATE_REQUIRE_ALL=1`.

use std::path::Path;
use std::process::Command;

use crate::repo_root;

/// Whether `tool` is on PATH; if not, prints the skip line (or panics under
/// `ALERTGATE_REQUIRE_ALL=1`).
pub fn available(tool: &str) -> bool {
    let found = std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(tool).is_file()));
    if !found {
        assert!(
            std::env::var("ALERTGATE_REQUIRE_ALL").as_deref() != Ok("1"),
            "{tool} not found (ALERTGATE_REQUIRE_ALL=1: may not be skipped)"
        );
        eprintln!("skipped: {tool} not found");
    }
    found
}

fn run(tool: &str, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(tool)
        .args(args)
        .current_dir(repo_root())
        .output()
        .unwrap_or_else(|e| panic!("{tool}: {e}"));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn promtool_checks_the_rules() {
    if !available("promtool") {
        return;
    }
    let (ok, stdout, stderr) = run(
        "promtool",
        &["check", "rules", "deploy/prometheus-rules.yaml"],
    );
    assert!(ok, "{stdout}{stderr}");
    assert!(stdout.contains("SUCCESS: 4 rules found"), "{stdout}");
}

#[test]
fn promtool_unit_tests_fire_every_alert() {
    if !available("promtool") {
        return;
    }
    let (ok, stdout, stderr) = run(
        "promtool",
        &["test", "rules", "deploy/prometheus-rules.test.yaml"],
    );
    assert!(ok, "{stdout}{stderr}");
    // Every alert of the rules file is exercised by the test file.
    let tests = crate::read("deploy/prometheus-rules.test.yaml");
    for alert in crate::promql::alert_names(&crate::read("deploy/prometheus-rules.yaml")) {
        assert!(
            tests.contains(&format!("alertname: {alert}")),
            "{alert} has no promtool test"
        );
    }
}

/// Where the unit's `ExecStart` expects the binary (CI installs it there).
const INSTALLED: &str = "/usr/local/bin/alertgate";

#[test]
fn systemd_analyze_verifies_the_unit() {
    if !available("systemd-analyze") {
        return;
    }
    if !Path::new(INSTALLED).is_file() {
        assert!(
            std::env::var("ALERTGATE_REQUIRE_ALL").as_deref() != Ok("1"),
            "{INSTALLED} not installed (ALERTGATE_REQUIRE_ALL=1: may not be skipped)"
        );
        eprintln!("skipped: {INSTALLED} not installed");
        return;
    }
    // `verify` works without a running systemd; it exits 0 on unknown keys and bad
    // values (it only warns), so any output at all is a failure.
    let (ok, stdout, stderr) = run("systemd-analyze", &["verify", "deploy/alertgate.service"]);
    assert!(
        ok && stdout.trim().is_empty() && stderr.trim().is_empty(),
        "{stdout}{stderr}"
    );
}
