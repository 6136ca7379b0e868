//! The API tokens: `admin_tokens: [{name, token, scope}]`, and the older single
//! `admin_token`, read as an `admin`-scoped token named `admin`.

use std::fmt;

use serde::Serialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::raw::FileConfig;
use crate::yaml::Errors;

/// Default of `limits.recent_payloads`.
pub const DEFAULT_RECENT_PAYLOADS: usize = 20;

/// What a token may do: `read` views, `admin` also acts, reloads, manages sources, evals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    Read,
    Admin,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Admin => "admin",
        }
    }
}

/// One API token: its name (recorded on every action taken with it), digest and scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminToken {
    pub name: String,
    pub digest: TokenDigest,
    pub scope: Scope,
}

/// Checks `admin_token` and `admin_tokens`: at least one token, names unique and made of
/// `[A-Za-z0-9_.@-]`, tokens not empty, scopes `read` or `admin`.
pub(super) fn check_admin_tokens(raw: &FileConfig, errors: &mut Errors<'_>) -> Vec<AdminToken> {
    let mut tokens = Vec::new();
    if let Some(token) = &raw.admin_token {
        if token.is_empty() {
            errors.push("admin_token", "must not be empty");
        }
        tokens.push(AdminToken {
            name: "admin".to_owned(),
            digest: TokenDigest::of(token),
            scope: Scope::Admin,
        });
    }
    for (i, entry) in raw.admin_tokens.iter().enumerate() {
        let path = format!("admin_tokens[{i}]");
        let name_ok = !entry.name.is_empty()
            && entry.name.len() <= 64
            && entry
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.@-".contains(&b));
        if !name_ok {
            errors.push(
                format!("{path}.name"),
                format!(
                    "invalid name {:?}: 1-64 of letters, digits, _ . @ -",
                    entry.name
                ),
            );
        } else if tokens.iter().any(|t: &AdminToken| t.name == entry.name) {
            errors.push(
                format!("{path}.name"),
                format!(
                    "name {:?} is used twice (admin_token is named admin)",
                    entry.name
                ),
            );
        }
        if entry.token.is_empty() {
            errors.push(format!("{path}.token"), "must not be empty");
        }
        let scope = match entry.scope.as_deref() {
            None | Some("admin") => Scope::Admin,
            Some("read") => Scope::Read,
            Some(other) => {
                errors.push(
                    format!("{path}.scope"),
                    format!("unknown scope {other:?}: expected read or admin"),
                );
                Scope::Read
            }
        };
        tokens.push(AdminToken {
            name: entry.name.clone(),
            digest: TokenDigest::of(&entry.token),
            scope,
        });
    }
    if tokens.is_empty() {
        errors.push(
            "admin_token",
            "set admin_token or admin_tokens: the API needs at least one token",
        );
    }
    tokens
}

/// The SHA-256 of a secret token. Tokens are compared digest to digest in constant time,
/// so neither a token's content nor its length leaks through timing, and the plaintext
/// is not kept in memory after load.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct TokenDigest([u8; 32]);

impl TokenDigest {
    pub fn of(token: &str) -> TokenDigest {
        TokenDigest(Sha256::digest(token.as_bytes()).into())
    }

    /// True when `presented` equals any of `accepted`; compares against every entry.
    pub fn matches_any(accepted: &[TokenDigest], presented: &str) -> bool {
        let presented = TokenDigest::of(presented);
        accepted
            .iter()
            .fold(subtle::Choice::from(0), |found, t| {
                found | t.0.ct_eq(&presented.0)
            })
            .into()
    }
}

impl TokenDigest {
    /// As `matches_any`, also accepting `expiring` tokens whose end (Unix ms) is after
    /// `now_ms`; every entry is compared, expired or not.
    pub fn matches_any_live(
        accepted: &[TokenDigest],
        expiring: &[(TokenDigest, i64)],
        presented: &str,
        now_ms: i64,
    ) -> bool {
        let presented = TokenDigest::of(presented);
        let found = accepted.iter().fold(subtle::Choice::from(0), |found, t| {
            found | t.0.ct_eq(&presented.0)
        });
        expiring
            .iter()
            .fold(found, |found, (t, end)| {
                found | (t.0.ct_eq(&presented.0) & subtle::Choice::from(u8::from(*end > now_ms)))
            })
            .into()
    }
}

impl fmt::Debug for TokenDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenDigest(…)")
    }
}
