//! The `alertgate` binary run from the repository root, for the CLI tests: `eval` of a
//! shipped mapping on a payload, and on a collected fixture.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn alertgate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_alertgate"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("run alertgate")
}

/// `alertgate eval --mapping mappings/<mapping> --payload <payload> <extra…>`.
pub fn eval(mapping: &str, payload: &Path, extra: &[&str]) -> Output {
    let mapping = root().join("mappings").join(mapping);
    let mut args = vec![
        "eval",
        "--mapping",
        mapping.to_str().expect("utf-8 path"),
        "--payload",
        payload.to_str().expect("utf-8 path"),
    ];
    args.extend_from_slice(extra);
    alertgate(&args)
}

/// `eval` of `mappings/<source>.yaml` on `tests/fixtures/<source>/<file>`, which must
/// succeed; its JSON.
pub fn eval_fixture(source: &str, file: &str, extra: &[&str]) -> Value {
    let out = eval(
        &format!("{source}.yaml"),
        &root().join("tests/fixtures").join(source).join(file),
        extra,
    );
    assert!(
        out.status.success(),
        "{file}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("eval prints one JSON object")
}
