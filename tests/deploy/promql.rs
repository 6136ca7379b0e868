//! Metric names out of PromQL: what the dashboard and the rules query.

use std::collections::BTreeSet;

use serde_yaml::Value;

const KEYWORDS: &[&str] = &[
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "and",
    "or",
    "unless",
    "offset",
    "inf",
    "nan",
];

/// Aggregation operators, which may put `by (…)` before their argument.
const AGGREGATIONS: &[&str] = &[
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
    "limitk",
    "limit_ratio",
];

/// Every metric name `expr` selects. Skips strings, label matchers (`{…}`), ranges and
/// subqueries (`[…]`), label lists after `by`/`without`/`on`/`ignoring`/`group_*`,
/// function names (an identifier before `(`), keywords, numbers and `$variables`.
pub fn metric_names(expr: &str) -> BTreeSet<String> {
    let bytes = expr.as_bytes();
    let mut names = BTreeSet::new();
    let mut i = 0;
    let mut skip_parens = false; // the next `(…)` is a label list
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'"' | b'\'' | b'`' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            b'{' | b'[' => {
                let close = if b == b'{' { b'}' } else { b']' };
                while i < bytes.len() && bytes[i] != close {
                    i += 1;
                }
                i += 1;
            }
            b'(' if skip_parens => {
                while i < bytes.len() && bytes[i] != b')' {
                    i += 1;
                }
                i += 1;
                skip_parens = false;
            }
            b'$' => {
                i += 1;
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                    i += 1;
                }
            }
            b if b.is_ascii_digit() || b == b'.' => {
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'.') {
                    i += 1;
                }
            }
            b if b.is_ascii_alphabetic() || b == b'_' || b == b':' => {
                let start = i;
                while i < bytes.len()
                    && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' || bytes[i] == b':')
                {
                    i += 1;
                }
                let word = &expr[start..i];
                let next = expr[i..].trim_start().as_bytes().first().copied();
                let lower = word.to_ascii_lowercase();
                if [
                    "by",
                    "without",
                    "on",
                    "ignoring",
                    "group_left",
                    "group_right",
                ]
                .contains(&lower.as_str())
                {
                    skip_parens = next == Some(b'(');
                } else if KEYWORDS.contains(&lower.as_str())
                    || next == Some(b'(')
                    || (AGGREGATIONS.contains(&lower.as_str()) && {
                        let rest = expr[i..].trim_start();
                        rest.starts_with("by") || rest.starts_with("without")
                    })
                {
                    // keyword, function, or aggregation with its grouping first
                } else {
                    names.insert(word.to_owned());
                }
            }
            _ => i += 1,
        }
    }
    names
}

/// The metric names of every `expr` of a rules file.
pub fn rules_metric_names(rules: &str) -> BTreeSet<String> {
    let doc: Value = serde_yaml::from_str(rules).expect("rules YAML");
    let groups = doc["groups"].as_sequence().expect("groups");
    let mut names = BTreeSet::new();
    for group in groups {
        for rule in group["rules"].as_sequence().expect("rules") {
            names.extend(metric_names(rule["expr"].as_str().expect("expr")));
        }
    }
    names
}

/// The `alert:` names of a rules file.
pub fn alert_names(rules: &str) -> Vec<String> {
    let doc: Value = serde_yaml::from_str(rules).expect("rules YAML");
    doc["groups"]
        .as_sequence()
        .expect("groups")
        .iter()
        .flat_map(|g| g["rules"].as_sequence().expect("rules").iter())
        .filter_map(|r| r["alert"].as_str().map(str::to_owned))
        .collect()
}

/// The metric names of every panel query and `label_values(metric, label)` variable of a
/// Grafana dashboard.
pub fn dashboard_metric_names(json: &str) -> BTreeSet<String> {
    let doc: serde_json::Value = serde_json::from_str(json).expect("dashboard JSON");
    let mut names = BTreeSet::new();
    let mut exprs = 0;
    for panel in doc["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().expect("targets") {
            names.extend(metric_names(target["expr"].as_str().expect("expr")));
            exprs += 1;
        }
    }
    for var in doc["templating"]["list"].as_array().expect("templating") {
        if let Some(query) = var["definition"].as_str() {
            let inner = query
                .strip_prefix("label_values(")
                .and_then(|q| q.split(',').next())
                .unwrap_or_else(|| panic!("unexpected variable query {query}"));
            names.extend(metric_names(inner));
        }
    }
    assert!(exprs > 0, "no panel queries");
    names
}

/// The alert names in `runbook_url` anchors must be sections of the runbook.
pub fn runbook_anchors(rules: &str) -> Vec<(String, String)> {
    let doc: Value = serde_yaml::from_str(rules).expect("rules YAML");
    doc["groups"]
        .as_sequence()
        .expect("groups")
        .iter()
        .flat_map(|g| g["rules"].as_sequence().expect("rules").iter())
        .filter_map(|r| {
            let alert = r["alert"].as_str()?.to_owned();
            let url = r["annotations"]["runbook_url"]
                .as_str()
                .unwrap_or("")
                .to_owned();
            Some((alert, url))
        })
        .collect()
}

#[test]
fn extracts_metric_names_and_nothing_else() {
    let names = metric_names(
        r#"histogram_quantile(0.99, sum by (instance, le) (rate(a_bucket{x="b c", le!~"1|2"}[5m])))
           / on(instance) group_left(job) b_total + max without (x) (count) offset 5m > bool 1e3 and up unless c:rule
           * $__rate_interval + time() - d"#,
    );
    let want: BTreeSet<String> = ["a_bucket", "b_total", "count", "up", "c:rule", "d"]
        .map(String::from)
        .into();
    assert_eq!(names, want);
}

#[test]
fn every_alert_has_summary_description_and_a_runbook_section() {
    let rules = crate::read("deploy/prometheus-rules.yaml");
    let runbook = crate::read("deploy/runbook.md");
    let doc: Value = serde_yaml::from_str(&rules).expect("rules YAML");
    let anchors = runbook_anchors(&rules);
    assert!(anchors.len() >= 3, "{anchors:?}");
    for (alert, url) in anchors {
        let anchor = url.split_once("deploy/runbook.md#").map_or_else(
            || panic!("{alert}: runbook_url {url:?} points outside the runbook"),
            |(_, a)| a,
        );
        assert_eq!(anchor, alert.to_lowercase(), "{alert}: anchor");
        assert!(
            runbook.contains(&format!("\n## {alert}\n")),
            "{alert}: no runbook section"
        );
    }
    for rule in doc["groups"][0]["rules"].as_sequence().expect("rules") {
        for key in ["summary", "description"] {
            assert!(
                rule["annotations"][key]
                    .as_str()
                    .is_some_and(|s| !s.trim().is_empty()),
                "{:?}: {key}",
                rule["alert"]
            );
        }
    }
}
