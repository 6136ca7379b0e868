//! The systemd unit and the Dockerfile say what the deployment contract asks.

use crate::read;

fn setting<'a>(unit: &'a str, key: &str) -> Vec<&'a str> {
    unit.lines()
        .filter_map(|l| l.trim().strip_prefix(key)?.strip_prefix('='))
        .collect()
}

#[test]
fn systemd_unit_is_hardened_and_reloads_with_sighup() {
    let unit = read("deploy/alertgate.service");
    for (key, value) in [
        ("Type", "simple"),
        (
            "ExecStart",
            "/usr/local/bin/alertgate serve --config /etc/alertgate/config.yaml",
        ),
        ("ExecReload", "/bin/kill -HUP $MAINPID"),
        ("DynamicUser", "yes"),
        ("ProtectSystem", "strict"),
        ("NoNewPrivileges", "yes"),
        ("StateDirectory", "alertgate"),
    ] {
        assert_eq!(setting(&unit, key), [value], "{key}");
    }
}

#[test]
fn dockerfile_runs_as_a_user_and_checks_the_liveness_path() {
    let file = read("deploy/Dockerfile");
    let stages = file.lines().filter(|l| l.starts_with("FROM ")).count();
    assert!(stages >= 2, "multi-stage: {stages} FROM lines");
    let spaced = file.replace(' ', "=");
    let user = setting(&spaced, "USER");
    assert_eq!(user, ["alertgate"], "non-root USER");
    assert!(file.contains("HEALTHCHECK"), "HEALTHCHECK");
    assert!(
        file.contains("http://127.0.0.1:8080/-/healthy"),
        "HEALTHCHECK probes /-/healthy"
    );
    assert!(
        file.contains("\"--listen\", \"0.0.0.0:8080\""),
        "listens on all interfaces"
    );
    assert!(file.contains("EXPOSE 8080"));
    assert!(file.contains("COPY mappings/ /etc/alertgate/mappings/"));
    // The shipped config it copies finds the mappings next to it.
    assert!(read("config.example.yaml").contains("\nmappings_dir: mappings\n"));
}
