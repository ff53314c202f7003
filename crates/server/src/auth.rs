//! API tokens and roles. A token is `pcl_` + 43 characters of base64url (256 random bits);
//! the store keeps only its sha256, and the server compares digests in constant time against
//! every token it knows (so the time taken says nothing about which one, if any, matched).

use axum::http::{HeaderMap, header};
use portcullis_store::{Store, TokenRow};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::oidc::{Issuers, OidcError};
use crate::problem::{Problem, codes};

use portcullis_firewall::Actor;
pub use portcullis_firewall::access::{Permission, Role, token_digest};

/// The system's random source failed (no token or session can be made without it).
#[derive(Debug, thiserror::Error)]
#[error("no randomness: {0}")]
pub struct NoRandomness(pub getrandom::Error);

/// Create a token in the store (the firewall records it); returns the secret. `by` acts as
/// an admin: the command line and tests create tokens directly on the store.
pub async fn create_token(
    store: &Store,
    name: &str,
    role: Role,
    by: &str,
) -> Result<(String, TokenRow), Problem> {
    Ok(
        portcullis_firewall::access::create_token(store, name, role, &Actor::new(by, Role::Admin))
            .await
            .map_err(portcullis_firewall::ServiceError::from)?,
    )
}

/// Revoke a token (recorded by the firewall); returns the audit entry's seq.
pub async fn revoke_token(store: &Store, id: &str, by: &str) -> Result<u64, Problem> {
    Ok(
        portcullis_firewall::access::revoke_token(store, id, &Actor::new(by, Role::Admin))
            .await
            .map_err(portcullis_firewall::ServiceError::from)?,
    )
}

/// The tokens a server accepts (loaded at start and after every token change).
#[derive(Debug, Default)]
pub struct Tokens {
    known: Vec<([u8; 32], String, Role)>,
}

impl Tokens {
    pub async fn load(store: &Store) -> Result<Self, portcullis_store::StoreError> {
        let mut known = Vec::new();
        for row in store.tokens(false).await? {
            let (Some(role), Some(bytes)) = (Role::parse(&row.role), digest_bytes(&row.digest))
            else {
                tracing::warn!(token = %row.id, "token with an unknown role or digest ignored");
                continue;
            };
            known.push((bytes, row.id, role));
        }
        Ok(Self { known })
    }

    /// The token id and role of `token`, if it is one of ours. Every known digest is compared
    /// (in constant time), whichever matches.
    pub fn check(&self, token: &str) -> Option<(String, Role)> {
        let want: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let mut found = None;
        for (digest, id, role) in &self.known {
            if bool::from(digest.ct_eq(&want)) {
                found = Some((id.clone(), *role));
            }
        }
        found
    }
}

impl Tokens {
    /// The role of the active token `id` (None once it is revoked): dashboard sessions are
    /// bound to a token and end with it.
    pub fn role_of(&self, id: &str) -> Option<Role> {
        self.known
            .iter()
            .find(|(_, known, _)| known == id)
            .map(|(_, _, role)| *role)
    }
}

fn digest_bytes(digest: &str) -> Option<[u8; 32]> {
    let hex = digest.strip_prefix("sha256:")?;
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The API token's id; for an OIDC token, the issuer (`oidc:<iss>`).
    pub token_id: String,
    pub role: Role,
    /// Who an OIDC token names (`oidc:<issuer host> repository=… ref=…`); None for API tokens.
    pub identity: Option<String>,
}

impl Caller {
    pub fn require(&self, p: Permission) -> Result<(), Problem> {
        if self.role.allows(p) {
            Ok(())
        } else {
            Err(Problem::new(
                codes::FORBIDDEN,
                format!(
                    "{} has role {}, which does not allow this ({})",
                    match &self.identity {
                        Some(name) => format!("OIDC token of {name}"),
                        None => format!("token {}", self.token_id),
                    },
                    self.role.as_str(),
                    match p {
                        Permission::Read => "read".to_string(),
                        other => format!("needs {}", other.needs()),
                    }
                ),
            ))
        }
    }

    /// Who made a change, for the record.
    pub fn actor(&self) -> String {
        match &self.identity {
            Some(name) => name.clone(),
            None => format!("token:{}", self.token_id),
        }
    }

    /// The caller as the firewall sees it: its name on the record and its role.
    pub fn as_actor(&self) -> Actor {
        Actor::new(self.actor(), self.role)
    }
}

impl Caller {
    /// The caller named by the `Authorization: Bearer` header: one of `tokens`, or an OIDC
    /// ID token of one of `issuers`.
    pub fn from_bearer(
        headers: &HeaderMap,
        tokens: &Tokens,
        issuers: &Issuers,
    ) -> Result<Self, Problem> {
        let value = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                Problem::new(
                    codes::UNAUTHENTICATED,
                    "send the token as `Authorization: Bearer <token>`",
                )
            })?;
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .map(str::trim)
            .ok_or_else(|| {
                Problem::new(
                    codes::UNAUTHENTICATED,
                    "the Authorization header must be `Bearer <token>`",
                )
            })?;
        if !token.starts_with("pcl_") && !issuers.is_empty() && Issuers::looks_like_jwt(token) {
            let who = issuers.verify(token).map_err(|e| {
                tracing::warn!(error = %e, "OIDC token refused");
                match e {
                    OidcError::Invalid(_) => Problem::new(codes::UNAUTHENTICATED, e.to_string()),
                    OidcError::NoRole { .. } => Problem::new(codes::FORBIDDEN, e.to_string()),
                }
            })?;
            return Ok(Caller {
                token_id: format!("oidc:{}", who.issuer),
                role: who.role,
                identity: Some(who.name),
            });
        }
        let (token_id, role) = tokens
            .check(token)
            .ok_or_else(|| Problem::new(codes::UNAUTHENTICATED, "unknown or revoked token"))?;
        Ok(Caller {
            token_id,
            role,
            identity: None,
        })
    }
}
