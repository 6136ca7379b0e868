//! The compiled form of a mapping file: rules holding parsed expressions, templates and
//! tables, ready for `engine` to evaluate.

use std::path::PathBuf;

use super::expr::Expr;
use super::suite::MappingTest;
use super::table::Selector;
use super::template::Template;
use crate::decode::{self, DecodeError, DecodeMode, Payload, Shape};
use crate::outcome::{Action, Priority};

/// A compiled mapping file.
#[derive(Debug, Clone)]
pub struct Mapping {
    pub integration: String,
    pub description: Option<String>,
    pub decode: DecodeMode,
    pub rules: Vec<Rule>,
    pub tests: Vec<MappingTest>,
    /// The file it was loaded from.
    pub file: PathBuf,
    /// What its rules read of a payload: the rest is never built.
    pub reads: Shape,
}

impl Mapping {
    /// Decodes a webhook body for this mapping (its `decode` mode, what its rules read).
    pub fn decode_body(
        &self,
        body: &[u8],
        content_type: Option<&str>,
    ) -> Result<Payload, DecodeError> {
        decode::decode_shaped(body, content_type, self.decode, &self.reads)
    }

    /// Decodes a GET webhook's query string for this mapping.
    pub fn decode_query(&self, query: &str) -> Result<Payload, DecodeError> {
        decode::decode_query_shaped(query, &self.reads)
    }

    /// Decodes a test's or a tool's input the way the server would: `body` is the query
    /// string of a GET, else the request body.
    pub fn decode_input(
        &self,
        get: bool,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Result<Payload, DecodeError> {
        if get {
            let query = std::str::from_utf8(body)
                .map_err(|_| DecodeError::Form("query string is not UTF-8".into()))?;
            self.decode_query(query.trim_end_matches(['\r', '\n']))
        } else {
            self.decode_body(body, content_type)
        }
    }
}

impl Rule {
    /// The parts of a payload this rule reads.
    pub fn reads(&self) -> Shape {
        let mut shape = self.when.as_ref().map_or(Shape::none(), |w| w.reads(true));
        shape = shape.union(self.action.reads());
        for template in self.fingerprint.iter().chain(&self.title) {
            shape = shape.union(template.reads());
        }
        if let Some(priority) = &self.priority {
            shape = shape.union(priority.reads());
        }
        for (_, expr) in &self.labels {
            shape = shape.union(expr.reads(false));
        }
        if let Some(expr) = &self.event_time {
            shape = shape.union(expr.reads(false));
        }
        shape
    }
}

/// A compiled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    pub name: String,
    pub when: Option<Expr>,
    pub action: Selector<Action>,
    /// Always present when the action can be `open` or `resolve`.
    pub fingerprint: Option<Template>,
    pub priority: Option<Selector<Priority>>,
    pub title: Option<Template>,
    pub labels: Vec<(String, Expr)>,
    pub event_time: Option<Expr>,
}
