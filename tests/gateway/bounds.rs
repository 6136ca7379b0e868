//! Mapping files an admin may save by mistake, nested or sized past what any parser should
//! take: `check` exits 1 naming the limit, `eval` exits 2 without running. Nothing aborts.
//! (The running gateway keeping its old mappings on such a file is in tests/reload.rs.)

use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_alertgate");

const HEAD: &str = "integration: deep\ndecode: json\nrules:\n  - name: r\n";

/// A mapping whose one rule sets `key` to `value` (already YAML-quoted).
fn mapping_with(key: &str, value: &str) -> String {
    format!(
        "{HEAD}    {key}: {value}\n    action: {{ from: state, map: {{ down: open, up: resolve }} }}\n{}",
        if key == "fingerprint" { "" } else { "    fingerprint: \"{{ name }}\"\n" }
    )
}

fn parens(depth: usize, inner: &str) -> String {
    format!("{}{inner}{}", "(".repeat(depth), ")".repeat(depth))
}

fn run(args: &[&str], dir: &Path) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run alertgate")
}

fn check_one(file_text: &str) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::create_dir(dir.path().join("m")).expect("mkdir");
    std::fs::write(dir.path().join("m/deep.yaml"), file_text).expect("write");
    let out = run(&["check", "--mappings", "m"], dir.path());
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn check_refuses_a_when_nested_20000_deep_with_exit_1_and_the_limit() {
    let file = mapping_with(
        "when",
        &format!("\"{} == 'down'\"", parens(20_000, "state")),
    );
    let (code, stderr) = check_one(&file);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("deep.yaml:5:")
            && stderr.contains("rules[0].when: expression longer than 4096 bytes"),
        "{stderr}"
    );
    // Under the length bound, the depth bound speaks.
    let file = mapping_with("when", &format!("\"{} == 'down'\"", parens(1_000, "state")));
    let (code, stderr) = check_one(&file);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("deep.yaml:5:")
            && stderr.contains("rules[0].when: expression nested deeper than 64 levels"),
        "{stderr}"
    );
}

#[test]
fn check_refuses_a_fingerprint_template_holding_a_deep_expression() {
    let file = mapping_with(
        "fingerprint",
        &format!("\"{{{{ {} }}}}\"", parens(20_000, "name")),
    );
    let (code, stderr) = check_one(&file);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("rules[0].fingerprint: template longer than 8192 bytes"),
        "{stderr}"
    );
    // Under the length bound, the depth bound speaks.
    let file = mapping_with(
        "fingerprint",
        &format!("\"{{{{ {} }}}}\"", parens(100, "name")),
    );
    let (code, stderr) = check_one(&file);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("rules[0].fingerprint: expression nested deeper than 64 levels"),
        "{stderr}"
    );
}

#[test]
fn check_refuses_long_chains_and_labels_that_would_recurse_when_evaluated() {
    let chain = vec!["a"; 1000].join(".");
    let file = format!(
        "{}    labels: {{ x: \"{chain}\" }}\n",
        mapping_with("priority", "high")
    );
    let (code, stderr) = check_one(&file);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("rules[0].labels.x: expression nested deeper than 64 levels"),
        "{stderr}"
    );
}

#[test]
fn check_refuses_yaml_nested_deeper_than_the_limit_without_parsing_it() {
    let file = format!(
        "{HEAD}    when: {}x{}\n",
        "{a: ".repeat(50_000),
        "}".repeat(50_000)
    );
    let (code, stderr) = check_one(&file);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("deep.yaml:5:") && stderr.contains("YAML nested deeper than 64 levels"),
        "{stderr}"
    );
}

#[test]
fn a_mapping_at_the_limits_still_compiles() {
    let file = mapping_with("when", &format!("\"{} == 'down'\"", parens(60, "state")));
    let (code, stderr) = check_one(&file);
    assert_eq!(code, Some(0), "{stderr}");
}

#[test]
fn eval_with_a_pathological_mapping_exits_2_without_running() {
    let dir = tempfile::tempdir().expect("tmp");
    let file = mapping_with(
        "when",
        &format!("\"{} == 'down'\"", parens(20_000, "state")),
    );
    std::fs::write(dir.path().join("deep.yaml"), file).expect("write");
    std::fs::write(dir.path().join("p.json"), r#"{"state":"down","name":"x"}"#).expect("write");
    let out = run(
        &["eval", "--mapping", "deep.yaml", "--payload", "p.json"],
        dir.path(),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("rules[0].when: expression longer than 4096 bytes"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
}
