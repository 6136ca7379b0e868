//! Sender authentication beyond the URL token: a source's `verify:` checks
//! (docs/design.md §2).
//!
//! Pure functions over the request's headers and raw bytes (`signature`: HMAC-SHA256 as
//! Grafana and GitHub sign) and over the decoded payload (`field`: a field equal to a
//! secret, or within an allow-list), compiled once from the config (`check`). Every
//! comparison is constant-time; no failure message carries a secret. Reading the body,
//! decoding it and answering 401 are the server's business.

mod check;
mod field;
mod signature;

pub use self::check::{Check, Failure, Verify};
pub use self::field::{FieldEquals, FieldIn};
pub use self::signature::{HmacSha256, DEFAULT_MAX_AGE};
