//! Mapping files: YAML that says what a source's payloads mean.
//!
//! Owns the mapping language (docs/design.md §3): the serde mirror (`spec`), its
//! compilation into a checked `Mapping` (`compile`, `model`) holding parsed JMESPath
//! (`expr`), templates (`template`) and tables (`table`), the `tests:` a file carries
//! (`suite`), and loading files and directories (`load`). Evaluating a mapping against a
//! payload is `engine`'s job; running its tests is `selftest`'s.

mod compile;
mod depth;
mod expr;
mod load;
mod model;
mod root;
mod spec;
pub mod suite;
mod table;
mod template;

pub use self::compile::compile_str;
pub use self::depth::{MAX_EXPRESSION_DEPTH, MAX_EXPRESSION_LEN, MAX_TEMPLATE_LEN};
pub use self::expr::{Expr, ExprError};
pub use self::load::{load_dir, load_file, mapping_files, MappingSet};
pub use self::model::{Items, Mapping, Rule};
pub use self::root::RootScope;
pub use self::table::{Selected, Selector};
pub use self::template::{RenderError, Template, TemplateError};
