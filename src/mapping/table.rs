//! Selectors: a value that is either a constant or looked up in a table by a payload field.

use std::collections::HashMap;

use jmespath::Variable;

use super::expr::{Expr, ExprError};
use crate::decode::Payload;

/// A compiled `action`/`priority`: a constant or a table.
#[derive(Debug, Clone)]
pub enum Selector<T> {
    Const(T),
    Table(Table<T>),
}

/// `{ from, map, default, case_insensitive }`, keys normalised at load.
#[derive(Debug, Clone)]
pub struct Table<T> {
    pub from: Expr,
    pub entries: HashMap<String, T>,
    pub default: Option<T>,
    pub case_insensitive: bool,
}

/// What a selector yields for one payload.
#[derive(Debug, Clone, PartialEq)]
pub enum Selected<T> {
    Const(T),
    /// The key was found in the table.
    Hit {
        key: String,
        value: T,
    },
    /// The key was not in the table: the default, if any.
    Unmapped {
        key: String,
        default: Option<T>,
    },
    /// The `from` field is null or absent: the default, if any.
    Missing {
        default: Option<T>,
    },
    /// The `from` field is an array or object, which no table key can match.
    NotScalar {
        default: Option<T>,
    },
}

impl<T: Copy> Selected<T> {
    /// The chosen value: the constant, the entry, or the default.
    pub fn value(&self) -> Option<T> {
        match self {
            Selected::Const(v) | Selected::Hit { value: v, .. } => Some(*v),
            Selected::Unmapped { default, .. }
            | Selected::Missing { default }
            | Selected::NotScalar { default } => *default,
        }
    }
}

impl<T: Copy> Selector<T> {
    /// Looks the payload up. Errors are runtime failures of the `from` expression.
    pub fn select(&self, payload: &Payload) -> Result<Selected<T>, ExprError> {
        let table = match self {
            Selector::Const(v) => return Ok(Selected::Const(*v)),
            Selector::Table(table) => table,
        };
        let value = table.from.search(payload)?;
        let key = match &*value {
            Variable::String(s) => s.clone(),
            Variable::Number(n) => n.to_string(),
            Variable::Bool(b) => b.to_string(),
            Variable::Null => {
                return Ok(Selected::Missing {
                    default: table.default,
                })
            }
            _ => {
                return Ok(Selected::NotScalar {
                    default: table.default,
                })
            }
        };
        let found = if table.case_insensitive && key.chars().any(char::is_uppercase) {
            table.entries.get(&key.to_lowercase())
        } else {
            table.entries.get(&key)
        };
        Ok(match found {
            Some(value) => Selected::Hit { key, value: *value },
            None => Selected::Unmapped {
                key,
                default: table.default,
            },
        })
    }

    /// The `from` expression's text, for reasons and explanations.
    pub fn from_text(&self) -> Option<&str> {
        match self {
            Selector::Const(_) => None,
            Selector::Table(t) => Some(t.from.as_str()),
        }
    }

    /// The parts of a payload the lookup reads.
    pub fn reads(&self) -> crate::decode::Shape {
        match self {
            Selector::Const(_) => crate::decode::Shape::none(),
            Selector::Table(t) => t.from.reads(false),
        }
    }

    /// Every value this selector can yield.
    pub fn values(&self) -> Vec<T> {
        match self {
            Selector::Const(v) => vec![*v],
            Selector::Table(t) => t.entries.values().copied().chain(t.default).collect(),
        }
    }
}
