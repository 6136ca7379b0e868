//! Who may call what: a source's token on its webhook (header `X-ITOC360-Token` or query
//! `token`), the admin bearer token on the API. Every comparison is against SHA-256
//! digests, in constant time (`config::TokenDigest`).

use http::Request;

use super::error::ApiError;
use super::http::query_param;
use super::state::TOKEN_HEADER;
use crate::config::{Scope, Snapshot, Source, TokenDigest};
use crate::decode::TOKEN_PARAM;

/// The token from header `X-ITOC360-Token` or query `token`, checked against the
/// source's digests in constant time.
pub(super) fn authorize_source<B>(source: &Source, request: &Request<B>) -> Result<(), ApiError> {
    let presented = match request.headers().get(TOKEN_HEADER) {
        Some(value) => Some(std::borrow::Cow::Borrowed(value.to_str().map_err(
            |_| ApiError::Unauthorized {
                message: "wrong token",
                bearer: false,
            },
        )?)),
        None => query_param(request.uri().query(), TOKEN_PARAM)?,
    };
    match presented {
        None => Err(ApiError::Unauthorized {
            message: "missing token: pass ?token= or the X-ITOC360-Token header",
            bearer: false,
        }),
        Some(token)
            if TokenDigest::matches_any_live(
                &source.tokens,
                &source.expiring,
                &token,
                crate::clock::now_ms(),
            ) =>
        {
            Ok(())
        }
        Some(_) => Err(ApiError::Unauthorized {
            message: "wrong token",
            bearer: false,
        }),
    }
}

/// Who called: the name of the API token presented.
#[derive(Debug, Clone)]
pub(super) struct Caller {
    pub(super) name: String,
}

impl Caller {
    /// How actions record the caller: `user:<name>`.
    pub(super) fn actor(&self) -> String {
        format!("user:{}", self.name)
    }
}

/// `Authorization: Bearer <token>` with at least the admin scope.
pub(super) fn authorize_admin<B>(
    snapshot: &Snapshot,
    request: &Request<B>,
) -> Result<Caller, ApiError> {
    authorize(snapshot, request, Scope::Admin)
}

/// `Authorization: Bearer <token>`, compared in constant time against every configured
/// token (`admin_tokens`, `admin_token`); 401 without a known token, 403 when its scope is
/// below `needed`.
pub(super) fn authorize<B>(
    snapshot: &Snapshot,
    request: &Request<B>,
    needed: Scope,
) -> Result<Caller, ApiError> {
    let header = request
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let Some(header) = header else {
        return Err(ApiError::Unauthorized {
            message: "missing admin token: send Authorization: Bearer <token>",
            bearer: true,
        });
    };
    let token = match header.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
        _ => {
            return Err(ApiError::Unauthorized {
                message: "expected Authorization: Bearer <token>",
                bearer: true,
            })
        }
    };
    // Every entry is compared, so the time taken does not tell which one matched.
    let mut found = None;
    for entry in &snapshot.settings.admin_tokens {
        if TokenDigest::matches_any(std::slice::from_ref(&entry.digest), token) && found.is_none() {
            found = Some(entry);
        }
    }
    let Some(entry) = found else {
        return Err(ApiError::Unauthorized {
            message: "wrong admin token",
            bearer: true,
        });
    };
    if entry.scope < needed {
        return Err(ApiError::Forbidden(
            "this token's scope is read: acting needs an admin-scoped token",
        ));
    }
    Ok(Caller {
        name: entry.name.clone(),
    })
}
