//! The on-disk spool: webhooks accepted while the store is unavailable, kept in an
//! append-only, checksummed log and replayed in arrival order when the store is back
//! (docs/design.md §10).
//!
//! `record` is the frame format, `file` the log and its crash recovery, `handle` the
//! apply-or-queue decision the webhook handler calls, `replay` the task that drains it.
//! Sits between `server` and `store`: it applies outcomes through `IncidentStore` and
//! knows nothing of HTTP or config files.

mod file;
mod handle;
mod record;
mod replay;

pub use self::file::{Dropped, Recovery};
pub use self::handle::{Spool, SpoolError, SpoolSettings, Submitted};
pub use self::record::{SpooledAction, SpooledEvent};
pub use self::replay::{spawn_replayer, Replayer};
