//! Hot reload: build the whole configuration aside, swap it in atomically, keep the old
//! one when the new one does not build (docs/design.md §7).
//!
//! Owns the [`Reloader`] (the one path every trigger goes through), its status view and
//! the triggers that feed it: a file watcher with a debouncer and SIGHUP ([`watch`]); the
//! server calls [`Reloader::reload`] with [`Trigger::Api`] for `POST /-/reload`. It does
//! not know what it reloads: the configuration type `T` and the function that builds it
//! come from the caller, so this module depends on neither the config nor the server.
//!
//! Requests never wait on a reload: they `load()` the current `Arc<T>` from the
//! [`ArcSwap`] once and finish on it, whatever is swapped in meanwhile.

mod reloader;
pub mod watch;

pub use self::reloader::{
    BuildFn, ConfigStatus, FailureKind, ReloadFailure, ReloadSummary, Reloader, Trigger, Versioned,
};
pub use self::watch::{
    debounce, spawn_watchers, spawn_watchers_with, WatchOptions, WatchPaths, Watchers,
};

#[cfg(test)]
mod tests;
