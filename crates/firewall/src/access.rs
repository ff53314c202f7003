//! Who acts: roles, what each may do, and the API tokens that carry them. Tokens are records
//! like any other (created and revoked with an audit entry); the server only checks them.

use base64::Engine as _;
use portcullis_store::{Change, Store, StoreError, TokenRow, Write, kinds};
use serde::{Deserialize, Serialize};

use crate::clock::now;

/// What a caller may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Read decisions, advisories, exceptions, inventory, the audit trail.
    Viewer,
    /// Viewer + request decisions, upload evidence, record deployments, admission reviews.
    Ci,
    /// Viewer + grant and revoke exceptions and approvals, break-glass overrides.
    Approver,
    /// Viewer + record verification (canary) and exposure results: the account the
    /// firewall's own analysis runs under (`portcullis verify … --record`), never the pipeline
    /// being gated.
    Verifier,
    /// Everything: advisories, tokens, policies.
    Admin,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Viewer,
        Role::Ci,
        Role::Approver,
        Role::Verifier,
        Role::Admin,
    ];

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "viewer" => Some(Self::Viewer),
            "ci" => Some(Self::Ci),
            "approver" => Some(Self::Approver),
            "verifier" => Some(Self::Verifier),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Ci => "ci",
            Self::Approver => "approver",
            Self::Verifier => "verifier",
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
                | (Self::Verifier, Permission::Record)
        )
    }
}

/// What an action needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    Read,
    Decide,
    Approve,
    /// Record verification and exposure results.
    Record,
    Admin,
}

impl Permission {
    /// Which roles have it, for messages.
    pub fn needs(self) -> &'static str {
        match self {
            Permission::Read => "any role",
            Permission::Decide => "role ci or admin",
            Permission::Approve => "role approver or admin",
            Permission::Record => "role verifier or admin",
            Permission::Admin => "role admin",
        }
    }
}

/// Who does something, as recorded: a name (`token:tok_…`, a user) and a role. The command
/// line acts as `admin` on a store it can open: whoever can write the database file can do
/// anything to it anyway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub name: String,
    pub role: Role,
    /// Whether the firewall authenticated this identity (a token, an mTLS certificate). The
    /// command line on a local store acts under a name it is told: not authenticated, so a
    /// decision calls its requester asserted.
    pub authenticated: bool,
}

impl Actor {
    /// An identity the firewall authenticated (the server's callers).
    pub fn new(name: impl Into<String>, role: Role) -> Self {
        Self {
            name: name.into(),
            role,
            authenticated: true,
        }
    }

    /// The command line on a local store: whoever can write the database file can do anything
    /// to it anyway, so it acts as `role`, under a name it was told.
    pub fn local(name: impl Into<String>, role: Role) -> Self {
        Self {
            authenticated: false,
            ..Self::new(name, role)
        }
    }

    pub fn may(&self, p: Permission) -> bool {
        self.role.allows(p)
    }

    /// `Ok` when this actor may do what needs `p`, else the refusal in words.
    pub fn require(&self, p: Permission, what: &str) -> Result<(), AccessError> {
        if self.may(p) {
            Ok(())
        } else {
            Err(AccessError::Forbidden(format!(
                "{what} needs {}; {} has role {}",
                p.needs(),
                self.name,
                self.role.as_str()
            )))
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// The operating system gave no randomness for a new token.
    #[error("no randomness for a new token: {0}")]
    Randomness(String),
}

/// A new record id: `prefix_` and 12 random hex digits (tokens, approvals, recorded facts).
pub fn random_id(prefix: &str) -> Result<String, AccessError> {
    let mut id = [0u8; 6];
    getrandom::fill(&mut id).map_err(|e| AccessError::Randomness(e.to_string()))?;
    Ok(format!(
        "{prefix}_{}",
        id.iter().map(|b| format!("{b:02x}")).collect::<String>()
    ))
}

/// The digest the store keeps of a token.
pub fn token_digest(token: &str) -> String {
    crate::sha256(token.as_bytes())
}

/// A new token: (secret, row to store). `seq` is set by the store.
pub fn new_token(name: &str, role: Role, by: &str) -> Result<(String, TokenRow), AccessError> {
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(|e| AccessError::Randomness(e.to_string()))?;

    let token = format!(
        "pcl_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret)
    );
    let id = random_id("tok")?;
    Ok((
        token.clone(),
        TokenRow {
            id,
            name: name.to_string(),
            role: role.as_str().to_string(),
            digest: token_digest(&token),
            created_at: now(),
            created_by: by.to_string(),
            seq: 0,
            revoked_at: None,
            revoked_by: None,
        },
    ))
}

/// Create a token in the store (an audit entry without the secret); returns the secret, shown
/// once.
pub async fn create_token(
    store: &Store,
    name: &str,
    role: Role,
    by: &Actor,
) -> Result<(String, TokenRow), AccessError> {
    by.require(Permission::Admin, "creating a token")?;
    if name.trim().is_empty() {
        return Err(AccessError::Invalid(
            "a token needs a name (who or what uses it)".into(),
        ));
    }
    let (secret, row) = new_token(name, role, &by.name)?;
    let entries = store
        .append(vec![Change::new(
            kinds::TOKEN_CREATED,
            serde_json::json!({"token_id": row.id, "name": row.name, "role": row.role, "by": by.name}),
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
            seq: i64::try_from(seq).unwrap_or(i64::MAX),
            ..row
        },
    ))
}

/// Revoke a token; returns the audit entry's seq.
pub async fn revoke_token(store: &Store, id: &str, by: &Actor) -> Result<u64, AccessError> {
    by.require(Permission::Admin, "revoking a token")?;
    if store.token(id).await?.is_none() {
        return Err(AccessError::NotFound(format!(
            "token {id}: not in the store"
        )));
    }
    let entries = store
        .append(vec![Change::if_new(
            kinds::TOKEN_REVOKED,
            serde_json::json!({"token_id": id, "by": by.name}),
            vec![Write::TokenRevoked {
                id: id.to_string(),
                at: now(),
                by: by.name.clone(),
            }],
        )])
        .await?;
    entries
        .into_iter()
        .flatten()
        .next()
        .map(|e| e.seq)
        .ok_or_else(|| AccessError::Conflict(format!("token {id} was already revoked")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_role_has_exactly_its_permissions() {
        use Permission::*;
        let table = [
            (Role::Viewer, [true, false, false, false, false]),
            (Role::Ci, [true, true, false, false, false]),
            (Role::Approver, [true, false, true, false, false]),
            (Role::Verifier, [true, false, false, true, false]),
            (Role::Admin, [true, true, true, true, true]),
        ];
        for (role, want) in table {
            let got = [Read, Decide, Approve, Record, Admin].map(|p| role.allows(p));
            assert_eq!(got, want, "{role:?}");
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("root"), None);
    }

    #[test]
    fn a_refusal_names_who_and_what_is_needed() {
        let e = Actor::new("token:tok_1", Role::Ci)
            .require(Permission::Approve, "a break-glass override")
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "a break-glass override needs role approver or admin; token:tok_1 has role ci"
        );
    }
}
