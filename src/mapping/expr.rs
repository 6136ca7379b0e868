//! Compiled JMESPath expressions, evaluated against a decoded payload without copying it.
//!
//! `jmespath::Expression::search` converts its input into a fresh `Variable` on every call
//! (the crate's zero-copy path needs nightly). Mapping expressions are nearly always field
//! paths, comparisons and function calls, so this module interprets that subset directly
//! on the shared payload (`Rcvar` clones only) and hands anything else (projections,
//! filters, slices, multi-selects) to the crate's own interpreter.

use std::sync::{LazyLock, OnceLock};

use jmespath::ast::Ast;
use jmespath::functions::{ArgumentType, CustomFunction, Signature};
use jmespath::{Context, Expression, Rcvar, Runtime, Variable};

use super::depth::{check_expression_default, DepthError};
use crate::decode::{Payload, Shape};

// A `Runtime` is `Sync` but not `Send` (its functions are `dyn Function + Sync`), so the
// one instance is leaked once and shared by reference.
static RUNTIME: OnceLock<&'static Runtime> = OnceLock::new();
static NULL: LazyLock<Rcvar> = LazyLock::new(|| Rcvar::new(Variable::Null));

/// The runtime every mapping expression compiles against: JMESPath's built-ins plus
/// `split(s, sep)` (parts trimmed, empty parts dropped), `trim(s)`, `lower(s)`, `upper(s)`,
/// and `root()` (the whole payload during a fan-out: `super::root`).
fn runtime() -> &'static Runtime {
    RUNTIME.get_or_init(|| {
        let mut rt = Runtime::new();
        rt.register_builtin_functions();
        rt.register_function(
            "split",
            string_fn(2, |a| {
                let sep = a.get(1).map_or(",", |s| s.as_str());
                let parts = a[0]
                    .split(sep)
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .map(|p| Rcvar::new(Variable::String(p.to_owned())))
                    .collect();
                Variable::Array(parts)
            }),
        );
        rt.register_function(
            "trim",
            string_fn(1, |a| Variable::String(a[0].trim().to_owned())),
        );
        rt.register_function(
            "lower",
            string_fn(1, |a| Variable::String(a[0].to_lowercase())),
        );
        rt.register_function(
            "upper",
            string_fn(1, |a| Variable::String(a[0].to_uppercase())),
        );
        rt.register_function(super::root::NAME, super::root::function());
        Box::leak(Box::new(rt))
    })
}

/// A custom function of `arity` string arguments.
fn string_fn(
    arity: usize,
    f: impl Fn(&[&String]) -> Variable + Sync + Send + 'static,
) -> Box<CustomFunction> {
    let signature = Signature::new(vec![ArgumentType::String; arity], None);
    Box::new(CustomFunction::new(
        signature,
        Box::new(move |args: &[Rcvar], _ctx: &mut Context<'_>| {
            // The signature was validated before this runs: every argument is a string.
            let strings: Vec<&String> = args.iter().filter_map(|a| a.as_string()).collect();
            Ok(Rcvar::new(f(&strings)))
        }),
    ))
}

/// A parsed JMESPath expression and its source text.
#[derive(Clone)]
pub struct Expr {
    expr: Expression<'static>,
    /// True when the whole AST is in the subset `interpret` handles.
    direct: bool,
}

impl std::fmt::Debug for Expr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Expr({:?})", self.as_str())
    }
}

/// Why an expression did not compile, or failed at run time.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ExprError {
    #[error("empty JMESPath expression")]
    Empty,
    /// Over a nesting or length bound, found before the parser ran (docs/design.md §9).
    #[error(transparent)]
    Bounds(#[from] DepthError),
    #[error("invalid JMESPath {text:?}: {}", .source.reason)]
    Syntax {
        text: String,
        #[source]
        source: Box<jmespath::JmespathError>,
    },
    #[error("invalid JMESPath {text:?}: the parser failed on it")]
    ParserPanicked { text: String },
    #[error("unknown function {0}()")]
    UnknownFunction(String),
    /// A slice whose start, stop or step is past [`MAX_SLICE_BOUND`] (jmespath's slice
    /// arithmetic overflows on such steps).
    #[error("slice bound {0} is past {MAX_SLICE_BOUND}")]
    SliceBound(i64),
    #[error("{text} failed: the evaluator failed on it")]
    EvaluationPanicked { text: String },
    /// A runtime type error (a function given a number where it wants a string, say).
    #[error("{text} failed: {}", .source.reason)]
    Runtime {
        text: String,
        #[source]
        source: Box<jmespath::JmespathError>,
    },
}

impl Expr {
    /// Parses `source`; the error names the position and cause, and any unknown function.
    /// Text nested deeper or longer than the bounds of `depth` is refused before the
    /// (recursive) parser sees it.
    pub fn compile(source: &str) -> Result<Expr, ExprError> {
        if source.trim().is_empty() {
            return Err(ExprError::Empty);
        }
        check_expression_default(source)?;
        // The bounds above refuse every input known to panic jmespath's lexer; a panic
        // that still comes is this expression's error, never the process's end.
        let compiled = std::panic::catch_unwind(|| runtime().compile(source)).map_err(|_| {
            ExprError::ParserPanicked {
                text: source.to_owned(),
            }
        })?;
        let expr = compiled.map_err(|source_error| ExprError::Syntax {
            text: source.to_owned(),
            source: Box::new(source_error),
        })?;
        check_functions(expr.as_ast())?;
        let direct = is_direct(expr.as_ast());
        Ok(Expr { expr, direct })
    }

    pub fn as_str(&self) -> &str {
        self.expr.as_str()
    }

    /// The parts of a payload this expression reads: for its value, or (`truthy`) only
    /// for its truthiness, as a `when` does.
    pub fn reads(&self, truthy: bool) -> Shape {
        reads(self.expr.as_ast(), truthy)
    }

    /// What this expression reads of the whole payload through `root()` (docs/design.md
    /// §3); `reads` covers the value it is evaluated on.
    pub fn root_reads(&self) -> Shape {
        root_reads(self.expr.as_ast())
    }

    /// The field names when the expression is a plain path (`a.b.c`).
    pub fn field_path(&self) -> Option<Vec<&str>> {
        path(self.expr.as_ast())
    }

    /// Evaluates against a payload. Errors are runtime type errors (a function given a
    /// number where it wants a string, say), described in one line.
    pub fn search(&self, payload: &Payload) -> Result<Rcvar, ExprError> {
        let result = if self.direct {
            let mut ctx = Context::new(self.expr.as_str(), runtime());
            interpret(payload, self.expr.as_ast(), &mut ctx)
        } else {
            // jmespath's own interpreter has arithmetic that can panic on odd input (slice
            // steps near i32::MAX); compile refuses those, and a panic still left is this
            // expression's runtime error, never the request's end.
            let search = std::panic::AssertUnwindSafe(|| self.expr.search(&**payload));
            match std::panic::catch_unwind(search) {
                Ok(result) => result,
                Err(_) => {
                    return Err(ExprError::EvaluationPanicked {
                        text: self.as_str().to_owned(),
                    })
                }
            }
        };
        result.map_err(|source| ExprError::Runtime {
            text: self.as_str().to_owned(),
            source: Box::new(source),
        })
    }
}

/// The largest slice start, stop or step (in absolute value) an expression may write.
pub const MAX_SLICE_BOUND: i64 = 1_000_000;

/// Refuses unknown functions, and slices jmespath's evaluator cannot step safely.
fn check_functions(ast: &Ast) -> Result<(), ExprError> {
    let mut result = Ok(());
    walk(ast, &mut |node| {
        if result.is_err() {
            return;
        }
        match node {
            Ast::Function { name, .. } if runtime().get_function(name).is_none() => {
                result = Err(ExprError::UnknownFunction(name.clone()));
            }
            Ast::Slice {
                start, stop, step, ..
            } => {
                let past = [*start, *stop, Some(*step)]
                    .into_iter()
                    .flatten()
                    .map(i64::from)
                    .find(|v| v.abs() > MAX_SLICE_BOUND);
                if let Some(v) = past {
                    result = Err(ExprError::SliceBound(v));
                }
            }
            _ => {}
        }
    });
    result
}

fn walk(ast: &Ast, f: &mut impl FnMut(&Ast)) {
    f(ast);
    match ast {
        Ast::Comparison { lhs, rhs, .. }
        | Ast::And { lhs, rhs, .. }
        | Ast::Or { lhs, rhs, .. }
        | Ast::Subexpr { lhs, rhs, .. }
        | Ast::Projection { lhs, rhs, .. } => {
            walk(lhs, f);
            walk(rhs, f);
        }
        Ast::Condition {
            predicate, then, ..
        } => {
            walk(predicate, f);
            walk(then, f);
        }
        Ast::Expref { ast, .. } => walk(ast, f),
        Ast::Flatten { node, .. } | Ast::Not { node, .. } | Ast::ObjectValues { node, .. } => {
            walk(node, f);
        }
        Ast::Function { args, .. } => args.iter().for_each(|a| walk(a, f)),
        Ast::MultiList { elements, .. } => elements.iter().for_each(|a| walk(a, f)),
        Ast::MultiHash { elements, .. } => elements.iter().for_each(|kv| walk(&kv.value, f)),
        Ast::Identity { .. }
        | Ast::Field { .. }
        | Ast::Index { .. }
        | Ast::Literal { .. }
        | Ast::Slice { .. } => {}
    }
}

/// What `ast`, evaluated against a value, reads of it. Conservative: whatever it cannot
/// follow (projections, filters, slices, multi-selects, `@` as a value) reads it all.
fn reads(ast: &Ast, truthy: bool) -> Shape {
    match ast {
        Ast::Field { name, .. } => {
            Shape::field(name, if truthy { Shape::truthy() } else { Shape::All })
        }
        // `root().…` reads the whole payload (`root_reads`), not this value.
        Ast::Subexpr { lhs, .. } if root_path(lhs).is_some() => Shape::none(),
        Ast::Subexpr { lhs, rhs, .. } => match path(lhs) {
            Some(names) => names
                .iter()
                .rev()
                .fold(reads(rhs, truthy), |inner, name| Shape::field(name, inner)),
            None => Shape::All,
        },
        Ast::Identity { .. } if truthy => Shape::truthy(),
        Ast::Literal { .. } => Shape::none(),
        Ast::Or { lhs, rhs, .. } | Ast::And { lhs, rhs, .. } => {
            reads(lhs, truthy).union(reads(rhs, truthy))
        }
        Ast::Not { node, .. } => reads(node, true),
        Ast::Condition {
            predicate, then, ..
        } => reads(predicate, true).union(reads(then, truthy)),
        Ast::Comparison { lhs, rhs, .. } => reads(lhs, false).union(reads(rhs, false)),
        // An expression reference is applied to values other arguments produced, which
        // are read whole already.
        Ast::Function { args, .. } => args
            .iter()
            .filter(|a| !matches!(a, Ast::Expref { .. }))
            .fold(Shape::none(), |shape, a| shape.union(reads(a, false))),
        _ => Shape::All,
    }
}

/// What `ast` reads of the whole payload through `root()`: a path after it is followed
/// like `reads` follows one; `root()` used any other way reads it all.
fn root_reads(ast: &Ast) -> Shape {
    match ast {
        Ast::Subexpr { lhs, rhs, .. } => match root_path(lhs) {
            Some(names) => names
                .iter()
                .rev()
                .fold(reads(rhs, false), |inner, name| Shape::field(name, inner))
                .union(root_reads(rhs)),
            None => root_reads(lhs).union(root_reads(rhs)),
        },
        Ast::Function { name, args, .. } if name == super::root::NAME && args.is_empty() => {
            Shape::All
        }
        _ => children(ast)
            .into_iter()
            .fold(Shape::none(), |shape, child| shape.union(root_reads(child))),
    }
}

/// The nodes directly below `ast`.
fn children(ast: &Ast) -> Vec<&Ast> {
    match ast {
        Ast::Comparison { lhs, rhs, .. }
        | Ast::And { lhs, rhs, .. }
        | Ast::Or { lhs, rhs, .. }
        | Ast::Subexpr { lhs, rhs, .. }
        | Ast::Projection { lhs, rhs, .. } => vec![&**lhs, &**rhs],
        Ast::Condition {
            predicate, then, ..
        } => vec![&**predicate, &**then],
        Ast::Expref { ast, .. } => vec![&**ast],
        Ast::Flatten { node, .. } | Ast::Not { node, .. } | Ast::ObjectValues { node, .. } => {
            vec![&**node]
        }
        Ast::Function { args, .. } | Ast::MultiList { elements: args, .. } => args.iter().collect(),
        Ast::MultiHash { elements, .. } => elements.iter().map(|kv| &kv.value).collect(),
        Ast::Identity { .. }
        | Ast::Field { .. }
        | Ast::Index { .. }
        | Ast::Literal { .. }
        | Ast::Slice { .. } => Vec::new(),
    }
}

/// The field names after `root()` when `ast` is `root()` or a plain path from it.
fn root_path(ast: &Ast) -> Option<Vec<&str>> {
    match ast {
        Ast::Function { name, args, .. } if name == super::root::NAME && args.is_empty() => {
            Some(Vec::new())
        }
        Ast::Subexpr { lhs, rhs, .. } => {
            let mut names = root_path(lhs)?;
            names.extend(path(rhs)?);
            Some(names)
        }
        _ => None,
    }
}

/// The field names of a plain path (`a.b.c`), or `None`.
fn path(ast: &Ast) -> Option<Vec<&str>> {
    match ast {
        Ast::Field { name, .. } => Some(vec![name.as_str()]),
        Ast::Subexpr { lhs, rhs, .. } => {
            let mut names = path(lhs)?;
            names.extend(path(rhs)?);
            Some(names)
        }
        _ => None,
    }
}

fn is_direct(ast: &Ast) -> bool {
    match ast {
        Ast::Field { .. }
        | Ast::Identity { .. }
        | Ast::Literal { .. }
        | Ast::Index { .. }
        | Ast::Expref { .. } => true,
        Ast::Subexpr { lhs, rhs, .. }
        | Ast::Or { lhs, rhs, .. }
        | Ast::And { lhs, rhs, .. }
        | Ast::Comparison { lhs, rhs, .. } => is_direct(lhs) && is_direct(rhs),
        Ast::Not { node, .. } => is_direct(node),
        Ast::Condition {
            predicate, then, ..
        } => is_direct(predicate) && is_direct(then),
        Ast::Function { args, .. } => args.iter().all(is_direct),
        _ => false,
    }
}

/// The subset of JMESPath's interpreter that `is_direct` admits, with the same semantics
/// (jmespath 0.3 `interpreter.rs`), reading the payload in place.
fn interpret(
    data: &Rcvar,
    ast: &Ast,
    ctx: &mut Context<'_>,
) -> Result<Rcvar, jmespath::JmespathError> {
    match ast {
        Ast::Field { name, .. } => Ok(match &**data {
            Variable::Object(map) => map.get(name).cloned().unwrap_or_else(|| NULL.clone()),
            _ => NULL.clone(),
        }),
        Ast::Subexpr { lhs, rhs, .. } => {
            let left = interpret(data, lhs, ctx)?;
            interpret(&left, rhs, ctx)
        }
        Ast::Identity { .. } => Ok(data.clone()),
        Ast::Literal { value, .. } => Ok(value.clone()),
        Ast::Index { idx, .. } => Ok(if *idx >= 0 {
            data.get_index(idx.unsigned_abs() as usize)
        } else {
            data.get_negative_index(idx.unsigned_abs() as usize)
        }),
        Ast::Or { lhs, rhs, .. } => {
            let left = interpret(data, lhs, ctx)?;
            if left.is_truthy() {
                Ok(left)
            } else {
                interpret(data, rhs, ctx)
            }
        }
        Ast::And { lhs, rhs, .. } => {
            let left = interpret(data, lhs, ctx)?;
            if left.is_truthy() {
                interpret(data, rhs, ctx)
            } else {
                Ok(left)
            }
        }
        Ast::Not { node, .. } => Ok(Rcvar::new(Variable::Bool(
            !interpret(data, node, ctx)?.is_truthy(),
        ))),
        Ast::Condition {
            predicate, then, ..
        } => {
            if interpret(data, predicate, ctx)?.is_truthy() {
                interpret(data, then, ctx)
            } else {
                Ok(NULL.clone())
            }
        }
        Ast::Comparison {
            comparator,
            lhs,
            rhs,
            ..
        } => {
            let left = interpret(data, lhs, ctx)?;
            let right = interpret(data, rhs, ctx)?;
            Ok(left
                .compare(comparator, &right)
                .map_or_else(|| NULL.clone(), |b| Rcvar::new(Variable::Bool(b))))
        }
        Ast::Expref { ast, .. } => Ok(Rcvar::new(Variable::Expref((**ast).clone()))),
        Ast::Function { name, args, offset } => {
            let values = args
                .iter()
                .map(|a| interpret(data, a, ctx))
                .collect::<Result<Vec<_>, _>>()?;
            ctx.offset = *offset;
            match ctx.runtime.get_function(name) {
                Some(f) => f.evaluate(&values, ctx),
                // Unknown functions are rejected by `Expr::compile`.
                None => Ok(NULL.clone()),
            }
        }
        // `is_direct` admits nothing else; defer to the crate for safety all the same.
        _ => Expression::new(ctx.expression, ast.clone(), ctx.runtime).search(&**data),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(json: &str) -> Payload {
        Rcvar::new(Variable::from_json(json).expect("test json"))
    }

    /// The direct interpreter must agree with the crate's on every expression it admits.
    #[test]
    fn direct_interpreter_agrees_with_jmespath() {
        let data = payload(
            r#"{"incident":{"status":"identified","impact":"none","id":"x1","n":3,
                 "updates":[{"s":"a"},{"s":"b"}]},"Tags":" a, b ,,c ","Status":"DOWN","flag":false}"#,
        );
        let cases = [
            "incident.status",
            "incident.missing.deeper",
            "incident.updates[0].s",
            "incident.updates[-1].s",
            "incident && !component",
            "component || incident.id",
            "flag || 'fallback'",
            "incident.status == 'identified'",
            "incident.n > `2`",
            "incident.n < 'x'",
            "lower(Status)",
            "split(Tags, ',')",
            "join('|', [incident.id, Status])",
            "length(incident.updates)",
            "@",
            "`{\"a\": 1}`",
        ];
        for source in cases {
            let expr = Expr::compile(source).expect(source);
            let expected = expr.expr.search(&*data).expect(source);
            let actual = expr.search(&data).expect(source);
            assert_eq!(actual, expected, "{source}");
        }
    }

    /// Evaluating on the shaped decode must give what the full decode gives.
    #[test]
    fn reads_cover_what_evaluation_needs() {
        let json = r#"{"incident":{"status":"identified","impact":"none","id":"x1","n":3,
             "updates":[{"s":"a"},{"s":"b"}],"name":"N"},"component_update":{"new_status":"x"},
             "Tags":" a, b ,,c ","Status":"DOWN","flag":false,"empty":{},"meta":{"m":1}}"#;
        let full = payload(json);
        let cases = [
            ("incident", true),
            ("empty", true),
            ("meta && !component", true),
            ("incident.status", false),
            ("incident.updates[0].s", false),
            ("component.id || component_update.new_status", false),
            ("incident.n > `2`", false),
            ("Tags && split(Tags, ',')", false),
            ("map(&lower(@), split(Tags, ','))", false),
            ("incident.updates[?s == 'b'].s | [0]", false),
            ("incident.*", false),
            ("@", false),
            ("incident.impact == 'none' && incident.name", true),
        ];
        for (source, truthy) in cases {
            let expr = Expr::compile(source).expect(source);
            let shape = expr.reads(truthy);
            let shaped = Rcvar::new(crate::decode::Shape::decode_json_for_tests(json, &shape));
            let (a, b) = (
                expr.search(&full).expect(source),
                expr.search(&shaped).expect(source),
            );
            if truthy {
                assert_eq!(a.is_truthy(), b.is_truthy(), "{source}: {shape:?}");
            } else {
                assert_eq!(a, b, "{source}: {shape:?}");
            }
        }
    }

    #[test]
    fn reads_follow_paths_and_stop_at_what_they_cannot_follow() {
        let reads = |s: &str, t: bool| Expr::compile(s).expect(s).reads(t);
        assert_eq!(
            reads("a.b", false),
            Shape::field("a", Shape::field("b", Shape::All))
        );
        assert_eq!(reads("a", true), Shape::field("a", Shape::truthy()));
        assert_eq!(reads("'lit'", false), Shape::none());
        assert_eq!(reads("a[*].b", false), Shape::All);
        assert_eq!(
            reads("a.b[0]", false),
            Shape::field("a", Shape::field("b", Shape::All))
        );
    }

    #[test]
    fn subset_is_detected() {
        assert!(Expr::compile("a.b || c").expect("valid").direct);
        assert!(!Expr::compile("a[?b == 'x'].c").expect("valid").direct);
        assert!(!Expr::compile("a[*].b").expect("valid").direct);
    }

    #[test]
    fn fallback_handles_projections_and_filters() {
        let data = payload(r#"{"a":[{"b":"x","c":1},{"b":"y","c":2}]}"#);
        let expr = Expr::compile("a[?b == 'y'].c | [0]").expect("valid");
        assert_eq!(expr.search(&data).expect("search").as_number(), Some(2.0));
    }

    #[test]
    fn custom_split_trims_and_drops_empty_parts() {
        let data = payload(r#"{"Tags":" a, b ,,c "}"#);
        let result = Expr::compile("split(Tags, ',')")
            .expect("valid")
            .search(&data)
            .expect("ok");
        let parts: Vec<&str> = result
            .as_array()
            .expect("array")
            .iter()
            .filter_map(|v| v.as_string())
            .map(String::as_str)
            .collect();
        assert_eq!(parts, ["a", "b", "c"]);
    }

    #[test]
    fn compile_errors_name_the_problem() {
        let err = Expr::compile("incident.[").expect_err("syntax");
        assert!(matches!(err, ExprError::Syntax { .. }), "{err:?}");
        assert!(
            err.to_string()
                .starts_with("invalid JMESPath \"incident.[\""),
            "{err}"
        );
        assert!(
            std::error::Error::source(&err).is_some(),
            "the parser's error is kept as the cause"
        );
        assert_eq!(
            Expr::compile("nosuch(a)").expect_err("fn").to_string(),
            "unknown function nosuch()"
        );
        assert_eq!(
            Expr::compile("  ").expect_err("empty").to_string(),
            "empty JMESPath expression"
        );
    }

    #[test]
    fn numbers_that_panic_the_jmespath_lexer_are_compile_errors() {
        for text in ["a[99999999999]", "a[-2147483648]", "-\u{1816}"] {
            let err = Expr::compile(text).expect_err(text);
            assert!(matches!(err, ExprError::Bounds(_)), "{text}: {err:?}");
        }
    }

    #[test]
    fn slices_past_the_bound_are_refused_and_evaluate_nothing_odd() {
        let err = Expr::compile("alerts[1::2147483647]").expect_err("huge step");
        assert!(
            matches!(err, ExprError::SliceBound(2_147_483_647)),
            "{err:?}"
        );
        let ok = Expr::compile("alerts[1::2]").expect("small step");
        let value = ok
            .search(&payload(r#"{"alerts":[0,1,2,3]}"#))
            .expect("runs");
        assert_eq!(value.as_array().map(Vec::len), Some(2));
    }

    #[test]
    fn runtime_type_errors_are_reported_not_panicked() {
        let data = payload(r#"{"n": 5}"#);
        let err = Expr::compile("lower(n)")
            .expect("valid")
            .search(&data)
            .expect_err("type error");
        assert!(matches!(err, ExprError::Runtime { .. }), "{err:?}");
        assert!(err.to_string().starts_with("lower(n) failed"), "{err}");
    }
}
