//! `MappingSpec` → `Mapping`: every check, every error with its place.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use super::expr::Expr;
use super::model::{Items, Mapping, Rule};
use super::spec::{ItemsSpec, MappingSpec, RuleSpec, SelectorSpec, SelectorSpecOrConst};
use super::table::{Selector, Table};
use super::template::Template;
use crate::outcome::{Action, Priority};
use crate::yaml::{from_yaml, CompileError, Errors};

/// Compiles a mapping's text. `file` names it in errors and anchors `payload:` paths.
pub fn compile_str(file: &Path, text: &str) -> Result<Mapping, Vec<CompileError>> {
    let spec: MappingSpec = from_yaml(file, text).map_err(|e| vec![e])?;
    let mut errors = Errors::new(file, text);
    if spec.integration.trim().is_empty() {
        errors.push("integration", "must not be empty");
    }
    if spec.rules.is_empty() {
        errors.push("rules", "a mapping needs at least one rule");
    }
    let items = spec.items.as_ref().and_then(|items| {
        let (from, when) = match items {
            ItemsSpec::Path(from) => (expr(&mut errors, "items".into(), from), None),
            ItemsSpec::Table(t) => (
                expr(&mut errors, "items.from".into(), &t.from),
                t.when
                    .as_deref()
                    .map(|w| expr(&mut errors, "items.when".into(), w)),
            ),
        };
        Some(Items {
            from: from?,
            when: when.map_or(Some(None), |w| w.map(Some))?,
        })
    });
    let mut warnings = Errors::new(file, text);
    let mut names = HashSet::new();
    let mut rules = Vec::with_capacity(spec.rules.len());
    for (i, rule) in spec.rules.iter().enumerate() {
        let path = format!("rules[{i}]");
        if !names.insert(rule.name.as_str()) {
            errors.push(
                format!("{path}.name"),
                format!("duplicate rule name {:?}", rule.name),
            );
        }
        if let Some(p) = &rule.priority {
            if p.0.from.is_some() && p.0.default.is_none() {
                warnings.push(
                    format!("{path}.priority"),
                    "priority table without `default`: a value it does not list leaves \
                     the incident without a priority",
                );
            }
        }
        if let Some(rule) = compile_rule(&path, rule, &mut errors) {
            rules.push(rule);
        }
    }
    let base = file.parent().unwrap_or(Path::new(".")).to_owned();
    let tests = super::suite::compile_tests(&spec.tests, &base, &mut errors);
    if !errors.list.is_empty() {
        return Err(errors.list);
    }
    let reads = Mapping::shape(items.as_ref(), &rules);
    Ok(Mapping {
        reads,
        warnings: warnings.list,
        integration: spec.integration,
        description: spec.description,
        decode: spec.decode,
        items,
        rules,
        tests,
        file: file.to_owned(),
    })
}

fn compile_rule(path: &str, spec: &RuleSpec, errors: &mut Errors<'_>) -> Option<Rule> {
    let before = errors.list.len();
    if spec.name.trim().is_empty() {
        errors.push(format!("{path}.name"), "must not be empty");
    }
    let when = spec
        .when
        .as_deref()
        .and_then(|w| expr(errors, format!("{path}.when"), w));
    let action = selector(
        errors,
        &format!("{path}.action"),
        &spec.action,
        "action",
        Action::parse,
        Action::NAMES,
    );
    let priority = spec.priority.as_ref().and_then(|p| {
        selector(
            errors,
            &format!("{path}.priority"),
            p,
            "priority",
            Priority::parse,
            Priority::NAMES,
        )
    });
    let can_act = action
        .as_ref()
        .is_some_and(|a| a.values().iter().any(|v| *v != Action::Ignore));
    let fingerprint = match spec.fingerprint.as_deref() {
        Some(t) => template(errors, format!("{path}.fingerprint"), t),
        None if can_act => {
            errors.push(
                path.to_owned(),
                "missing `fingerprint`: a rule that can open or resolve needs one",
            );
            None
        }
        None => None,
    };
    let title = spec
        .title
        .as_deref()
        .and_then(|t| template(errors, format!("{path}.title"), t));
    let mut labels = Vec::with_capacity(spec.labels.len());
    for (name, source) in &spec.labels {
        if let Some(e) = expr(errors, format!("{path}.labels.{name}"), source) {
            labels.push((name.clone(), e));
        }
    }
    let event_time = spec
        .event_time
        .as_deref()
        .and_then(|e| expr(errors, format!("{path}.event_time"), e));
    let auto_resolve_after_ms = spec.auto_resolve_after.as_deref().and_then(|text| {
        let ms = crate::clock::parse_duration(text)
            .and_then(|d| u64::try_from(d.as_millis()).ok())
            .filter(|ms| *ms > 0);
        if ms.is_none() {
            errors.push(
                format!("{path}.auto_resolve_after"),
                format!("invalid duration {text:?}: expected a positive number with ms, s, m, h or d, like 4h"),
            );
        }
        ms
    });
    if errors.list.len() > before {
        return None;
    }
    Some(Rule {
        auto_resolve_after_ms,
        name: spec.name.clone(),
        when,
        action: action?,
        fingerprint,
        priority,
        title,
        labels,
        event_time,
    })
}

fn expr(errors: &mut Errors<'_>, path: String, source: &str) -> Option<Expr> {
    Expr::compile(source)
        .map_err(|e| errors.push(path, e.to_string()))
        .ok()
}

fn template(errors: &mut Errors<'_>, path: String, source: &str) -> Option<Template> {
    Template::parse(source)
        .map_err(|e| errors.push(path, e.to_string()))
        .ok()
}

fn selector<T: Copy>(
    errors: &mut Errors<'_>,
    path: &str,
    spec: &SelectorSpecOrConst,
    what: &str,
    parse: fn(&str) -> Option<T>,
    names: &[&str],
) -> Option<Selector<T>> {
    let SelectorSpec {
        value,
        from,
        map,
        default,
        case_insensitive,
    } = &spec.0;
    let parse_value = |errors: &mut Errors<'_>, at: String, text: &str| {
        let parsed = parse(text);
        if parsed.is_none() {
            errors.push(
                at,
                format!(
                    "unknown {what} {text:?}: expected one of {}",
                    names.join(", ")
                ),
            );
        }
        parsed
    };
    match (value, from) {
        (Some(_), Some(_)) => {
            errors.push(
                path.to_owned(),
                "give either `value` or `from`/`map`, not both",
            );
            None
        }
        (Some(v), None) => {
            if map.is_some() || default.is_some() {
                errors.push(path.to_owned(), "`map` and `default` need `from`");
            }
            parse_value(errors, format!("{path}.value"), v).map(Selector::Const)
        }
        (None, None) => {
            errors.push(
                path.to_owned(),
                format!("{what} needs `value` or `from` with `map`"),
            );
            None
        }
        (None, Some(from_src)) => {
            let from = expr(errors, format!("{path}.from"), from_src);
            let default = default
                .as_deref()
                .and_then(|d| parse_value(errors, format!("{path}.default"), d));
            let mut entries = HashMap::new();
            match map {
                None => errors.push(path.to_owned(), "`from` needs a `map` table"),
                Some(m) if m.is_empty() => {
                    errors.push(format!("{path}.map"), "empty table: add at least one entry");
                }
                Some(m) => {
                    for (key, target) in m {
                        let key_text = if *case_insensitive {
                            key.0.to_lowercase()
                        } else {
                            key.0.clone()
                        };
                        let at = format!("{path}.map.{}", key.0);
                        if let Some(v) = parse_value(errors, at.clone(), target) {
                            if entries.insert(key_text, v).is_some() {
                                errors.push(
                                    at,
                                    format!(
                                        "key {:?} repeats another one (case_insensitive)",
                                        key.0
                                    ),
                                );
                            }
                        }
                    }
                }
            }
            Some(Selector::Table(Table {
                from: from?,
                entries,
                default,
                case_insensitive: *case_insensitive,
            }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Compiles `text` as `m.yaml` and returns its errors as display lines.
    fn errors(text: &str) -> Vec<String> {
        match compile_str(Path::new("m.yaml"), text) {
            Ok(_) => Vec::new(),
            Err(list) => list.iter().map(ToString::to_string).collect(),
        }
    }

    fn rule(body: &str) -> String {
        format!("integration: m\nrules:\n  - name: r\n{body}")
    }

    #[test]
    fn yaml_syntax_error_has_line_and_column() {
        assert_eq!(
            errors("integration: m\nrules: [\n"),
            ["m.yaml:3:1: rules: did not find expected node content"]
        );
    }

    #[test]
    fn unknown_key_names_the_key_and_the_valid_ones() {
        let e = errors(&rule(
            "    action: open\n    fingerprint: x\n    colour: red\n",
        ));
        assert_eq!(e.len(), 1);
        assert!(
            e[0].starts_with(
                "m.yaml:6:5: rules[0].colour: unknown field `colour`, expected one of `name`"
            ),
            "{e:?}"
        );
    }

    #[test]
    fn bad_jmespath_is_placed_at_its_value() {
        let e = errors(&rule(
            "    when: \"a.[\"\n    action: open\n    fingerprint: x\n",
        ));
        assert_eq!(e.len(), 1);
        assert!(
            e[0].starts_with("m.yaml:4:11: rules[0].when: invalid JMESPath \"a.[\""),
            "{e:?}"
        );
    }

    #[test]
    fn unknown_function_is_a_compile_error() {
        let e = errors(&rule(
            "    when: \"shout(a)\"\n    action: open\n    fingerprint: x\n",
        ));
        assert_eq!(e, ["m.yaml:4:11: rules[0].when: unknown function shout()"]);
    }

    #[test]
    fn unknown_action_lists_the_valid_ones() {
        let e = errors(&rule(
            "    action: { from: s, map: { down: opne } }\n    fingerprint: x\n",
        ));
        assert_eq!(e, ["m.yaml:4:37: rules[0].action.map.down: unknown action \"opne\": expected one of open, resolve, ignore"]);
        let e = errors(&rule("    action: shut\n"));
        assert_eq!(e, ["m.yaml:4:13: rules[0].action.value: unknown action \"shut\": expected one of open, resolve, ignore"]);
    }

    #[test]
    fn unknown_priority_lists_the_valid_ones() {
        let e = errors(&rule("    action: open\n    fingerprint: x\n    priority: { from: i, map: { a: urgent }, default: p1 }\n"));
        assert_eq!(
            e,
            [
                "m.yaml:6:55: rules[0].priority.default: unknown priority \"p1\": expected one of critical, high, medium, low",
                "m.yaml:6:36: rules[0].priority.map.a: unknown priority \"urgent\": expected one of critical, high, medium, low",
            ]
        );
    }

    #[test]
    fn empty_table_is_an_error() {
        let e = errors(&rule(
            "    action: { from: s, map: {} }\n    fingerprint: x\n",
        ));
        assert_eq!(
            e,
            ["m.yaml:4:24: rules[0].action.map: empty table: add at least one entry"]
        );
    }

    #[test]
    fn selector_shape_errors() {
        let e = errors(&rule(
            "    action: { value: open, from: s }\n    fingerprint: x\n",
        ));
        assert_eq!(
            e,
            ["m.yaml:4:5: rules[0].action: give either `value` or `from`/`map`, not both"]
        );
        let e = errors(&rule("    action: { from: s }\n    fingerprint: x\n"));
        assert_eq!(
            e,
            ["m.yaml:4:5: rules[0].action: `from` needs a `map` table"]
        );
        let e = errors(&rule("    action: {}\n    fingerprint: x\n"));
        assert_eq!(
            e,
            ["m.yaml:4:5: rules[0].action: action needs `value` or `from` with `map`"]
        );
    }

    #[test]
    fn case_insensitive_keys_that_collide_are_an_error() {
        let e = errors(&rule("    action: { from: s, case_insensitive: true, map: { Down: open, down: open } }\n    fingerprint: x\n"));
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(
            e[0].contains("rules[0].action.map.down: key \"down\" repeats another one"),
            "{e:?}"
        );
    }

    #[test]
    fn a_rule_that_can_open_needs_a_fingerprint() {
        let e = errors(&rule("    action: open\n"));
        assert_eq!(e, ["m.yaml:3:5: rules[0]: missing `fingerprint`: a rule that can open or resolve needs one"]);
        assert!(errors(&rule("    action: ignore\n")).is_empty());
    }

    #[test]
    fn bad_template_is_placed() {
        let e = errors(&rule("    action: open\n    fingerprint: \"{{ id \"\n"));
        assert_eq!(
            e,
            ["m.yaml:5:18: rules[0].fingerprint: unclosed `{{` at byte 0"]
        );
    }

    #[test]
    fn duplicate_rule_names_and_no_rules() {
        let e = errors("integration: m\nrules:\n  - { name: r, action: ignore }\n  - { name: r, action: ignore }\n");
        assert_eq!(e, ["m.yaml:4:13: rules[1].name: duplicate rule name \"r\""]);
        assert_eq!(
            errors("integration: m\nrules: []\n"),
            ["m.yaml:2:1: rules: a mapping needs at least one rule"]
        );
    }

    #[test]
    fn every_error_of_a_file_is_reported_at_once() {
        let e = errors(&rule(
            "    when: \"a.[\"\n    action: { from: s, map: {} }\n    title: \"{{\"\n",
        ));
        assert_eq!(e.len(), 3, "{e:?}");
    }

    #[test]
    fn test_entries_are_checked() {
        let e = errors(&rule(
            "    action: ignore\ntests:\n  - name: t\n    payload: nowhere.json\n    expect: { action: ignore }\n  - name: u\n    body: x\n    expect: { action: shut }\n  - name: v\n    body: x\n    expect: { priority: high }\n",
        ));
        assert_eq!(e.len(), 3, "{e:?}");
        assert!(
            e[0].starts_with("m.yaml:7:14: tests[0].payload: cannot read"),
            "{e:?}"
        );
        assert!(
            e[1].starts_with("m.yaml:11:23: tests[1].expect.action: unknown action \"shut\""),
            "{e:?}"
        );
        assert_eq!(
            e[2],
            "m.yaml:14:5: tests[2].expect: give exactly one of `action`, `reject` or `results`"
        );
    }

    #[test]
    fn duplicate_integration_across_files_names_both() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("a.yaml"),
            "integration: same\nrules: [{ name: r, action: ignore }]\n",
        )
        .expect("write");
        std::fs::write(
            dir.path().join("b.yaml"),
            "integration: same\nrules: [{ name: r, action: ignore }]\n",
        )
        .expect("write");
        let e = super::super::load::load_dir(dir.path()).expect_err("duplicate");
        assert_eq!(e.len(), 1);
        assert!(
            e[0].to_string().ends_with(&format!(
                "b.yaml:1:14: integration: integration \"same\" is also defined in {}",
                dir.path().join("a.yaml").display()
            )),
            "{}",
            e[0]
        );
    }
}
