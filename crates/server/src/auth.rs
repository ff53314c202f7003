//! API tokens and roles. A token is `pcl_` + 43 characters of base64url (256 random bits);
//! the store keeps only its sha256, and the server compares digests in constant time against
//! every token it knows (so the time taken says nothing about which one, if any, matched).

use axum::http::{HeaderMap, header};
use base64::Engine as _;
use portcullis_store::{Change, Store, TokenRow, Write, kinds};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::problem::{Problem, codes};

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Read decisions, advisories, exceptions, inventory, the audit trail.
    Viewer,
    /// Viewer + request decisions, upload evidence, record deployments, admission reviews.
    Ci,
    /// Viewer + grant and revoke exceptions, break-glass overrides.
    Approver,
    /// Everything: advisories, tokens, policies.
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Ci, Role::Approver, Role::Admin];

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "viewer" => Some(Self::Viewer),
            "ci" => Some(Self::Ci),
            "approver" => Some(Self::Approver),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Ci => "ci",
            Self::Approver => "approver",
            Self::Admin => "admin",
        }
    }

    pub fn allows(self, p: Permission) -> bool {
        matches!(
            (self, p),
            (Self::Admin, _)
                | (_, Permission::Read)
                | (Self::Ci, Permission::Decide)
                | (Self::Approver, Permission::Approve)
        )
    }
}

/// What an endpoint needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    Read,
    Decide,
    Approve,
    Admin,
}

/// The digest the store keeps of a token.
pub fn token_digest(token: &str) -> String {
    portcullis_firewall::sha256(token.as_bytes())
}

/// The system's random source failed (no token or session can be made without it).
#[derive(Debug, thiserror::Error)]
#[error("no randomness: {0}")]
pub struct NoRandomness(pub getrandom::Error);

/// A new token: (secret, row to store). `seq` is set by the store.
pub fn new_token(name: &str, role: Role, by: &str) -> Result<(String, TokenRow), NoRandomness> {
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(NoRandomness)?;
    let mut id = [0u8; 6];
    getrandom::fill(&mut id).map_err(NoRandomness)?;
    let token = format!(
        "pcl_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret)
    );
    let id = format!(
        "tok_{}",
        id.iter().map(|b| format!("{b:02x}")).collect::<String>()
    );
    Ok((
        token.clone(),
        TokenRow {
            id,
            name: name.to_string(),
            role: role.as_str().to_string(),
            digest: token_digest(&token),
            created_at: portcullis_firewall::registry::now(),
            created_by: by.to_string(),
            seq: 0,
            revoked_at: None,
            revoked_by: None,
        },
    ))
}

/// Create a token in the store (an audit entry without the secret); returns the secret.
pub async fn create_token(
    store: &Store,
    name: &str,
    role: Role,
    by: &str,
) -> Result<(String, TokenRow), Problem> {
    if name.trim().is_empty() {
        return Err(Problem::new(
            codes::INVALID_REQUEST,
            "a token needs a name (who or what uses it)",
        ));
    }
    let (secret, row) = new_token(name, role, by).map_err(Problem::internal)?;
    let entries = store
        .append(vec![Change::new(
            kinds::TOKEN_CREATED,
            serde_json::json!({"token_id": row.id, "name": row.name, "role": row.role, "by": by}),
            vec![Write::Token(row.clone())],
        )])
        .await?;
    let seq = entries
        .into_iter()
        .flatten()
        .next()
        .map(|e| e.seq)
        .unwrap_or(0);
    Ok((
        secret,
        TokenRow {
            seq: seq as i64,
            ..row
        },
    ))
}

pub async fn revoke_token(store: &Store, id: &str, by: &str) -> Result<u64, Problem> {
    if store.token(id).await?.is_none() {
        return Err(Problem::new(
            codes::NOT_FOUND,
            format!("token {id}: not in the store"),
        ));
    }
    let entries = store
        .append(vec![Change::if_new(
            kinds::TOKEN_REVOKED,
            serde_json::json!({"token_id": id, "by": by}),
            vec![Write::TokenRevoked {
                id: id.to_string(),
                at: portcullis_firewall::registry::now(),
                by: by.to_string(),
            }],
        )])
        .await?;
    entries
        .into_iter()
        .flatten()
        .next()
        .map(|e| e.seq)
        .ok_or_else(|| Problem::new(codes::CONFLICT, format!("token {id} was already revoked")))
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
    pub token_id: String,
    pub role: Role,
}

impl Caller {
    pub fn require(&self, p: Permission) -> Result<(), Problem> {
        if self.role.allows(p) {
            Ok(())
        } else {
            Err(Problem::new(
                codes::FORBIDDEN,
                format!(
                    "token {} has role {}, which does not allow this ({})",
                    self.token_id,
                    self.role.as_str(),
                    match p {
                        Permission::Read => "read",
                        Permission::Decide => "needs role ci or admin",
                        Permission::Approve => "needs role approver or admin",
                        Permission::Admin => "needs role admin",
                    }
                ),
            ))
        }
    }

    /// Who made a change, for the record.
    pub fn actor(&self) -> String {
        format!("token:{}", self.token_id)
    }
}

impl Caller {
    /// The caller named by the `Authorization: Bearer` header, among `tokens`.
    pub fn from_bearer(headers: &HeaderMap, tokens: &Tokens) -> Result<Self, Problem> {
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
        let (token_id, role) = tokens
            .check(token)
            .ok_or_else(|| Problem::new(codes::UNAUTHENTICATED, "unknown or revoked token"))?;
        Ok(Caller { token_id, role })
    }
}
