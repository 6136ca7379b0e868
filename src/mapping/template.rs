//! `{{ expr }}` templates: literal text with JMESPath holes, parsed once at load.

use std::fmt::Write;

use jmespath::Variable;

use super::depth::{check_template, DepthError, MAX_TEMPLATE_LEN};
use super::expr::{Expr, ExprError};
use crate::decode::Payload;

/// A parsed template.
#[derive(Debug, Clone)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone)]
enum Part {
    Text(String),
    Hole(Expr),
}

/// Why a template did not parse.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TemplateError {
    #[error("empty template")]
    Empty,
    #[error(transparent)]
    Bounds(#[from] DepthError),
    #[error("unclosed `{{{{` at byte {0}")]
    Unclosed(usize),
    #[error("empty `{{{{ }}}}` in template")]
    EmptyHole,
    #[error(transparent)]
    Expr(#[from] ExprError),
}

/// Why a template could not render strictly.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RenderError {
    /// A hole's expression yielded null or an empty string: names the expression.
    #[error("`{0}` is missing or empty")]
    Missing(String),
    /// A hole's expression failed at run time.
    #[error(transparent)]
    Failed(#[from] ExprError),
}

impl Template {
    /// Parses `source`. A template needs at least one character; `{{` must be closed and
    /// hold a valid expression.
    pub fn parse(source: &str) -> Result<Template, TemplateError> {
        if source.is_empty() {
            return Err(TemplateError::Empty);
        }
        check_template(source, MAX_TEMPLATE_LEN)?;
        let mut parts = Vec::new();
        let mut rest = source;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_owned()));
            }
            let after = &rest[open + 2..];
            let close = after
                .find("}}")
                .ok_or(TemplateError::Unclosed(source.len() - rest.len() + open))?;
            let inner = after[..close].trim();
            if inner.is_empty() {
                return Err(TemplateError::EmptyHole);
            }
            parts.push(Part::Hole(Expr::compile(inner)?));
            rest = &after[close + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_owned()));
        }
        Ok(Template { parts })
    }

    /// Renders, failing on the first hole that is null or empty (fingerprints: an empty
    /// part would merge unrelated incidents).
    pub fn render_strict(&self, payload: &Payload) -> Result<String, RenderError> {
        let mut out = String::with_capacity(self.len_hint());
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Hole(expr) => {
                    let value = expr.search(payload).map_err(RenderError::Failed)?;
                    let before = out.len();
                    push_value(&mut out, &value);
                    if out.len() == before {
                        return Err(RenderError::Missing(expr.as_str().to_owned()));
                    }
                }
            }
        }
        Ok(out)
    }

    /// Renders, with null holes as empty text (titles).
    pub fn render_lossy(&self, payload: &Payload) -> Result<String, ExprError> {
        let mut out = String::with_capacity(self.len_hint());
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Hole(expr) => push_value(&mut out, &*expr.search(payload)?),
            }
        }
        Ok(out)
    }

    /// The parts of a payload the holes read.
    pub fn reads(&self) -> crate::decode::Shape {
        self.parts
            .iter()
            .fold(crate::decode::Shape::none(), |shape, part| match part {
                Part::Text(_) => shape,
                Part::Hole(expr) => shape.union(expr.reads(false)),
            })
    }

    /// The holes' expressions, in order.
    pub fn exprs(&self) -> impl Iterator<Item = &Expr> {
        self.parts.iter().filter_map(|part| match part {
            Part::Hole(expr) => Some(expr),
            Part::Text(_) => None,
        })
    }

    fn len_hint(&self) -> usize {
        self.parts
            .iter()
            .map(|p| if let Part::Text(t) = p { t.len() } else { 24 })
            .sum()
    }
}

/// Strings as they are, numbers and booleans as JSON text, null as nothing, arrays and
/// objects as compact JSON.
fn push_value(out: &mut String, value: &Variable) {
    match value {
        Variable::Null => {}
        Variable::String(s) => out.push_str(s),
        Variable::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Variable::Number(n) => {
            let _ = write!(out, "{n}");
        }
        other => {
            if let Ok(json) = serde_json::to_string(other) {
                out.push_str(&json);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jmespath::Rcvar;

    fn payload(json: &str) -> Payload {
        Rcvar::new(Variable::from_json(json).expect("test json"))
    }

    #[test]
    fn renders_text_and_holes() {
        let t = Template::parse("{{ Name }}|{{URL}} ({{ StatusCode }})").expect("valid");
        let p = payload(r#"{"Name":"Site","URL":"https://x","StatusCode":0}"#);
        assert_eq!(
            t.render_strict(&p).expect("all present"),
            "Site|https://x (0)"
        );
    }

    #[test]
    fn strict_render_names_the_missing_field() {
        let t = Template::parse("{{ Name }}|{{ URL }}").expect("valid");
        let p = payload(r#"{"Name":"Site","URL":""}"#);
        assert!(matches!(t.render_strict(&p), Err(RenderError::Missing(f)) if f == "URL"));
        let p = payload(r#"{"URL":"u"}"#);
        assert!(matches!(
            t.render_strict(&p),
            Err(RenderError::Missing(f)) if f == "Name"
        ));
    }

    #[test]
    fn lossy_render_leaves_nulls_empty() {
        let t = Template::parse("{{ Name }} is down ({{ StatusCode }})").expect("valid");
        assert_eq!(
            t.render_lossy(&payload(r#"{"Name":"Site"}"#)).expect("ok"),
            "Site is down ()"
        );
    }

    #[test]
    fn literal_only_template_renders_itself() {
        let t = Template::parse("fixed").expect("valid");
        assert_eq!(t.render_strict(&payload("{}")).expect("ok"), "fixed");
    }

    #[test]
    fn parse_errors_say_what_is_wrong() {
        assert_eq!(
            Template::parse("").expect_err("empty").to_string(),
            "empty template"
        );
        assert_eq!(
            Template::parse("a {{ b").expect_err("unclosed").to_string(),
            "unclosed `{{` at byte 2"
        );
        assert_eq!(
            Template::parse("{{ }}").expect_err("hole").to_string(),
            "empty `{{ }}` in template"
        );
        assert!(Template::parse("{{ a.[ }}")
            .expect_err("jmespath")
            .to_string()
            .starts_with("invalid JMESPath"));
    }
}
