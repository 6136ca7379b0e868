//! The compiled form of a mapping file: rules holding parsed expressions, templates and
//! tables, ready for `engine` to evaluate.

use std::path::PathBuf;

use super::expr::Expr;
use super::suite::MappingTest;
use super::table::Selector;
use super::template::Template;
use crate::decode::{self, DecodeError, DecodeMode, Payload, Shape};
use crate::outcome::{Action, Priority};
use crate::yaml::CompileError;

/// A compiled mapping file.
#[derive(Debug, Clone)]
pub struct Mapping {
    pub integration: String,
    pub description: Option<String>,
    pub decode: DecodeMode,
    /// Fan-out: each element of this list is one event (docs/design.md §3).
    pub items: Option<Items>,
    pub rules: Vec<Rule>,
    pub tests: Vec<MappingTest>,
    /// The file it was loaded from.
    pub file: PathBuf,
    /// What its rules read of a payload: the rest is never built.
    pub reads: Shape,
    /// Problems that do not stop the mapping from loading (`alertgate check` prints them).
    pub warnings: Vec<CompileError>,
}

/// `items:` of a mapping: the list a payload fans out into.
#[derive(Debug, Clone)]
pub struct Items {
    /// JMESPath to the list, on the whole payload.
    pub from: Expr,
    /// Fan out only where this is truthy; elsewhere the payload is one event. Absent:
    /// every payload fans out.
    pub when: Option<Expr>,
}

impl Mapping {
    /// What evaluating `rules` (and `items`) reads of a payload: with fan-out, the
    /// rules' reads apply to each element of the items list, `root()` reads to the whole.
    pub fn shape(items: Option<&Items>, rules: &[Rule]) -> Shape {
        let element = rules
            .iter()
            .fold(Shape::none(), |shape, rule| shape.union(rule.reads()));
        let root = rules
            .iter()
            .fold(Shape::none(), |shape, rule| shape.union(rule.root_reads()));
        let Some(items) = items else {
            return element.union(root);
        };
        let mut shape = root;
        if let Some(when) = &items.when {
            // Without fan-out the rules run on the payload itself.
            shape = shape
                .union(when.reads(true))
                .union(when.root_reads())
                .union(element.clone());
        }
        let list = match items.from.field_path() {
            Some(names) => names
                .iter()
                .rev()
                .fold(Shape::each(element), |inner, name| {
                    Shape::field(name, inner)
                }),
            // Not a plain path: what it reads is read whole, elements included.
            None => items.from.reads(false),
        };
        shape.union(list).union(items.from.root_reads())
    }
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
    /// The parts of a payload (or of a fan-out element) this rule reads.
    pub fn reads(&self) -> Shape {
        self.exprs()
            .into_iter()
            .fold(Shape::none(), |shape, (expr, truthy)| {
                shape.union(expr.reads(truthy))
            })
    }

    /// The parts of the whole payload this rule reads through `root()`.
    pub fn root_reads(&self) -> Shape {
        self.exprs()
            .into_iter()
            .fold(Shape::none(), |shape, (expr, _)| {
                shape.union(expr.root_reads())
            })
    }

    /// Every expression of the rule, with whether only its truthiness is read.
    fn exprs(&self) -> Vec<(&Expr, bool)> {
        let mut exprs: Vec<(&Expr, bool)> = self.when.iter().map(|w| (w, true)).collect();
        let tables = [
            Some(&self.action).and_then(table_from),
            self.priority.as_ref().and_then(table_from),
        ];
        exprs.extend(tables.into_iter().flatten().map(|e| (e, false)));
        for template in self.fingerprint.iter().chain(&self.title) {
            exprs.extend(template.exprs().map(|e| (e, false)));
        }
        exprs.extend(self.labels.iter().map(|(_, e)| (e, false)));
        exprs.extend(self.event_time.iter().map(|e| (e, false)));
        exprs
    }
}

fn table_from<T>(selector: &Selector<T>) -> Option<&Expr> {
    match selector {
        Selector::Const(_) => None,
        Selector::Table(table) => Some(&table.from),
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
    /// `auto_resolve_after` in ms: wins over the source's.
    pub auto_resolve_after_ms: Option<u64>,
}
