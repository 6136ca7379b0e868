//! `root()`: the whole payload, reachable from expressions that run on one element of a
//! fan-out (docs/design.md §3).
//!
//! During a fan-out each element is the JMESPath current node (`@`, and what bare field
//! names read), so `root()` is how a rule reaches the envelope around it
//! (`root().receiver`, `status || root().status`). The jmespath crate gives custom
//! functions no user data, so the root lives in a thread-local for the span of one
//! evaluation: evaluation is synchronous (it never awaits), and [`RootScope`] restores
//! the previous value when dropped, so nested scopes and panics leave nothing behind.
//! Outside any scope (and for a mapping without `items`) `root()` is the payload itself,
//! because the engine opens a scope on the payload for every evaluation.

use std::cell::RefCell;

use jmespath::functions::{CustomFunction, Signature};
use jmespath::{Context, Rcvar, Variable};

thread_local! {
    static ROOT: RefCell<Option<Rcvar>> = const { RefCell::new(None) };
}

/// The name expressions call.
pub const NAME: &str = "root";

/// While alive, `root()` yields `payload` on this thread.
#[must_use = "the scope ends when the guard is dropped"]
pub struct RootScope {
    previous: Option<Rcvar>,
}

impl RootScope {
    /// Makes `payload` the value of `root()` until the guard is dropped.
    pub fn enter(payload: &Rcvar) -> RootScope {
        let previous = ROOT.with(|r| r.replace(Some(payload.clone())));
        RootScope { previous }
    }
}

impl Drop for RootScope {
    fn drop(&mut self) {
        let previous = self.previous.take();
        ROOT.with(|r| *r.borrow_mut() = previous);
    }
}

/// The `root()` function for the runtime: no arguments; null outside any scope.
pub fn function() -> Box<CustomFunction> {
    Box::new(CustomFunction::new(
        Signature::new(vec![], None),
        Box::new(|_args: &[Rcvar], _ctx: &mut Context<'_>| {
            Ok(ROOT
                .with(|r| r.borrow().clone())
                .unwrap_or_else(|| Rcvar::new(Variable::Null)))
        }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_nest_and_restore() {
        let read = || ROOT.with(|r| r.borrow().clone());
        let a = Rcvar::new(Variable::String("a".into()));
        let b = Rcvar::new(Variable::String("b".into()));
        assert!(read().is_none());
        {
            let _outer = RootScope::enter(&a);
            assert_eq!(read(), Some(a.clone()));
            {
                let _inner = RootScope::enter(&b);
                assert_eq!(read(), Some(b.clone()));
            }
            assert_eq!(read(), Some(a.clone()));
        }
        assert!(read().is_none());
    }
}
