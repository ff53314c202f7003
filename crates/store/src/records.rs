//! The rows the store keeps beside the audit chain, and the changes that write them. Every
//! change of state is one [`Change`]: an audit entry and the rows it writes, committed together.

use serde::{Deserialize, Serialize};

use crate::error::StoreError;

/// zstd level for stored documents: fast, and about 10× on SBOMs and scan reports.
const ZSTD_LEVEL: i32 = 3;

/// A document to store content-addressed: `digest` is `sha256:<hex>` of the raw bytes, the
/// bytes are kept compressed.
#[derive(Debug, Clone)]
pub struct NewBlob {
    pub digest: String,
    pub kind: String,
    pub size: i64,
    pub compressed: Vec<u8>,
}

impl NewBlob {
    /// Digest and compress `raw`.
    pub fn new(kind: &str, raw: &[u8]) -> Result<Self, StoreError> {
        let compressed = compress(raw)
            .map_err(|e| StoreError::Invalid(format!("cannot compress a {kind} document: {e}")))?;
        Ok(Self {
            digest: digest(raw),
            kind: kind.to_string(),
            size: i64::try_from(raw.len()).unwrap_or(i64::MAX),
            compressed,
        })
    }
}

thread_local! {
    /// A zstd compression context per thread, made once: a context per document cost an
    /// allocation and initialisation of its tables each time.
    static COMPRESSOR: std::cell::RefCell<Option<zstd::bulk::Compressor<'static>>> =
        const { std::cell::RefCell::new(None) };
}

/// `raw` compressed with zstd at the store's level, by this thread's reused context.
pub(crate) fn compress(raw: &[u8]) -> std::io::Result<Vec<u8>> {
    COMPRESSOR.with(|cell| {
        let Ok(mut slot) = cell.try_borrow_mut() else {
            return zstd::bulk::compress(raw, ZSTD_LEVEL);
        };
        if slot.is_none() {
            *slot = Some(zstd::bulk::Compressor::new(ZSTD_LEVEL)?);
        }
        match slot.as_mut() {
            Some(c) => c.compress(raw),
            None => zstd::bulk::compress(raw, ZSTD_LEVEL),
        }
    })
}

/// `sha256:<hex>` of bytes.
pub fn digest(raw: &[u8]) -> String {
    crate::digest::sha256(raw)
}

/// One component of a stored evidence document, indexed by package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComponentRow {
    pub purl_type: String,
    /// Empty when the purl has none.
    pub namespace: String,
    pub name: String,
    pub version: String,
    pub purl: String,
}

/// A recorded decision (the decision document and its request are blobs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct DecisionRow {
    pub id: String,
    /// Its audit entry (set by the store when it is appended).
    pub seq: i64,
    pub artifact_name: String,
    pub artifact_digest: String,
    pub environment: String,
    pub verdict: String,
    pub decided_at: String,
    pub decision_digest: String,
    pub request_digest: String,
    pub policy_bundle: String,
}

/// One decision of a digest's history ([`crate::Store::decision_history_of_digest`]), with
/// whether the digest was deployed to that environment after it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryDecision {
    pub decision: DecisionRow,
    /// A deployment of the digest to the decision's environment has a greater sequence number.
    pub deployed: bool,
}

/// A blocking advisory: an OSV record or a block rule, kept as a blob.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct AdvisoryRow {
    pub id: String,
    /// `osv` or `block-rule`.
    pub kind: String,
    pub digest: String,
    pub summary: String,
    pub added_at: String,
    pub added_by: String,
    pub seq: i64,
    pub withdrawn_at: Option<String>,
    pub withdrawn_by: Option<String>,
    pub withdraw_reason: Option<String>,
}

/// A granted exception. `body` is the exception as the firewall reads it (JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct ExceptionRow {
    pub id: String,
    pub body: String,
    pub granted_by: String,
    pub granted_at: String,
    /// RFC 3339 UTC.
    pub expires_at: String,
    pub seq: i64,
    pub revoked_at: Option<String>,
    pub revoked_by: Option<String>,
    pub revoke_reason: Option<String>,
    /// The audit entry that recorded its expiry, once recorded.
    pub expiry_seq: Option<i64>,
}

/// A deployment: this artifact now runs in this environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct DeploymentRow {
    pub seq: i64,
    pub environment: String,
    pub artifact_name: String,
    pub artifact_digest: String,
    pub deployed_at: String,
    pub deployed_by: String,
}

/// The posture of one running artifact: the state its latest decision in its environment
/// gives it, and since when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct PostureRow {
    pub environment: String,
    pub artifact_name: String,
    pub artifact_digest: String,
    /// `compliant` | `violation` | `undecided`.
    pub state: String,
    /// The rule ids that deny it (JSON array).
    pub rules: String,
    /// RFC 3339 UTC: when it entered `state`.
    pub since: String,
    pub decision_id: Option<String>,
    pub changed_at: String,
    /// Its audit entry (set by the store).
    pub seq: i64,
}

/// One artifact in an environment snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotArtifact {
    pub name: String,
    pub digest: String,
    pub deployed_at: String,
    /// The latest decision about this digest in this environment when the snapshot was taken.
    pub decision_id: Option<String>,
    /// Its verdict (`allow`, `deny`), or None when there is no decision.
    pub verdict: Option<String>,
}

/// What ran in an environment after one change of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotRow {
    /// Its audit entry.
    pub seq: i64,
    pub environment: String,
    pub taken_at: String,
    /// The entry kinds of the changes it follows.
    pub cause: String,
    pub artifacts: Vec<SnapshotArtifact>,
}

/// A deployed artifact that contains a package: the candidate rows of an impact query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct PackageInUse {
    pub environment: String,
    pub artifact_name: String,
    pub artifact_digest: String,
    pub deployed_at: String,
    pub purl: String,
    pub version: String,
}

/// An API token of the server: only the digest of the secret is kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct TokenRow {
    /// Public id (`tok_…`), shown in lists and audit entries.
    pub id: String,
    pub name: String,
    /// `viewer` | `ci` | `approver` | `verifier` | `admin`.
    pub role: String,
    /// `sha256:<hex>` of the secret.
    #[serde(skip_serializing)]
    pub digest: String,
    pub created_at: String,
    pub created_by: String,
    pub seq: i64,
    pub revoked_at: Option<String>,
    pub revoked_by: Option<String>,
}

/// A break-glass override of a denied decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct OverrideRow {
    pub decision_id: String,
    /// Its audit entry (set by the store).
    pub seq: i64,
    pub actor: String,
    pub reason: String,
    pub at: String,
}

/// An approval of one artifact digest for one environment (and change, when given).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct ApprovalRow {
    /// `apr_…`.
    pub id: String,
    /// Its audit entry (set by the store).
    pub seq: i64,
    pub artifact_digest: String,
    pub environment: String,
    pub change_ref: Option<String>,
    /// The identity the firewall authenticated (a token's name), or the signing key's id.
    pub approver: String,
    /// `authenticated` | `signed`.
    pub source: String,
    pub reason: String,
    pub granted_at: String,
    pub expires_at: String,
    pub revoked_at: Option<String>,
    pub revoked_by: Option<String>,
    pub revoke_reason: Option<String>,
    /// The audit entry of the revocation (set by the store).
    pub revoke_seq: Option<i64>,
}

/// A verification or exposure result the firewall recorded (or took signed by a trusted key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct RecordedFactRow {
    /// `fct_…`.
    pub id: String,
    /// Its audit entry (set by the store).
    pub seq: i64,
    /// `verification` | `exposure`.
    pub kind: String,
    pub artifact_digest: String,
    pub environment: String,
    /// The fact as the policy input carries it (JSON).
    pub body: String,
    /// `recorded` | `signed`.
    pub source: String,
    pub recorded_by: String,
    pub recorded_at: String,
}

/// A change other replicas must learn of at once (they reload the state it touches).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreEvent {
    /// The audit entry kind (`advisory.added`, `exception.revoked`, …), or `reload` when
    /// notifications may have been missed (a reconnect) and everything must be reloaded.
    pub kind: String,
    pub seq: u64,
}

impl StoreEvent {
    pub const RELOAD: &str = "reload";

    /// Whether entries of `kind` are told to subscribers (every replica): those that change
    /// what replicas hold in memory ([`StoreEvent::reloads`], tokens) and those that can
    /// change the posture of what runs (decisions, deployments, recorded results, evidence).
    pub fn is_live(kind: &str) -> bool {
        Self::reloads(kind)
            || kind.starts_with("token.")
            || matches!(
                kind,
                kinds::DECISION
                    | kinds::DEPLOYMENT
                    | kinds::DEPLOYMENT_REMOVED
                    | kinds::FACT_RECORDED
                    | kinds::EVIDENCE_STORED
            )
    }

    /// Whether entries of `kind` change the state a firewall decides with (advisories and
    /// exceptions in force): replicas reload it.
    pub fn reloads(kind: &str) -> bool {
        (kind.starts_with("advisory.") && kind != kinds::ADVISORY_IMPACT)
            || kind.starts_with("exception.")
    }
}

/// A row written together with an audit entry.
#[derive(Debug, Clone)]
pub enum Write {
    /// Store a document (once: a digest already stored is left alone) and index its
    /// components when it is new.
    Blob {
        blob: NewBlob,
        components: Vec<ComponentRow>,
    },
    /// This evidence document was offered for this artifact.
    ArtifactEvidence {
        artifact_digest: String,
        evidence_digest: String,
    },
    Decision(DecisionRow),
    Advisory(AdvisoryRow),
    /// Withdraw an active advisory.
    AdvisoryWithdrawn {
        id: String,
        at: String,
        by: String,
        reason: String,
    },
    Exception(ExceptionRow),
    /// Revoke an active exception.
    ExceptionRevoked {
        id: String,
        at: String,
        by: String,
        reason: String,
    },
    /// Record that an exception expired (once).
    ExceptionExpired {
        id: String,
    },
    Deployment(DeploymentRow),
    /// This artifact no longer runs in this environment: its inventory and posture rows go.
    Removal {
        environment: String,
        artifact_name: String,
    },
    /// The posture of a running artifact changed (inserted or replaced).
    Posture(PostureRow),
    /// A snapshot of `environment` as the inventory holds it once the change's other writes
    /// are applied: the store reads it in the same transaction and adds it to the entry body
    /// (`artifacts`), so concurrent changes cannot interleave.
    Snapshot {
        environment: String,
        cause: String,
    },
    CheckpointKey {
        key_id: String,
        public_key: String,
    },
    Token(TokenRow),
    Override(OverrideRow),
    TokenRevoked {
        id: String,
        at: String,
        by: String,
    },
    Approval(ApprovalRow),
    /// Revoke an approval still in force.
    ApprovalRevoked {
        id: String,
        at: String,
        by: String,
        reason: String,
    },
    Fact(RecordedFactRow),
}

/// One change of state: its audit entry (`kind`, `body`) and the rows it writes.
#[derive(Debug, Clone)]
pub struct Change {
    pub kind: String,
    pub body: serde_json::Value,
    pub writes: Vec<Write>,
    /// When set, the change is dropped (no audit entry) if its first write changed nothing:
    /// a document already stored, an exception whose expiry is already recorded, an advisory
    /// already withdrawn.
    pub only_if_new: bool,
}

impl Change {
    pub fn new(kind: &str, body: serde_json::Value, writes: Vec<Write>) -> Self {
        Self {
            kind: kind.to_string(),
            body,
            writes,
            only_if_new: false,
        }
    }

    /// A change recorded only when its first write changes something.
    pub fn if_new(kind: &str, body: serde_json::Value, writes: Vec<Write>) -> Self {
        Self {
            only_if_new: true,
            ..Self::new(kind, body, writes)
        }
    }
}

/// Audit entry kinds (stable strings: reports and exports filter on them).
pub mod kinds {
    pub const DECISION: &str = "decision";
    pub const EVIDENCE_STORED: &str = "evidence.stored";
    pub const POLICY_BUNDLE_STORED: &str = "policy-bundle.stored";
    pub const ADVISORY_ADDED: &str = "advisory.added";
    pub const ADVISORY_WITHDRAWN: &str = "advisory.withdrawn";
    /// The deployed artifacts an advisory affects, computed when it was added.
    pub const ADVISORY_IMPACT: &str = "advisory.impact";
    pub const EXCEPTION_GRANTED: &str = "exception.granted";
    pub const EXCEPTION_REVOKED: &str = "exception.revoked";
    pub const EXCEPTION_EXPIRED: &str = "exception.expired";
    pub const DEPLOYMENT: &str = "deployment.recorded";
    /// An artifact no longer runs in an environment.
    pub const DEPLOYMENT_REMOVED: &str = "deployment.removed";
    /// What runs in an environment after a change of it (the whole set).
    pub const SNAPSHOT: &str = "environment.snapshot";
    /// A running artifact's posture changed (compliant ↔ violation, its rules, its digest).
    pub const POSTURE_CHANGED: &str = "posture.changed";
    pub const OVERRIDE: &str = "override";
    pub const CHECKPOINT_KEY: &str = "checkpoint-key.registered";
    pub const TOKEN_CREATED: &str = "token.created";
    pub const TOKEN_REVOKED: &str = "token.revoked";
    pub const APPROVAL_GRANTED: &str = "approval.granted";
    pub const APPROVAL_REVOKED: &str = "approval.revoked";
    pub const FACT_RECORDED: &str = "fact.recorded";
    /// The hours after a deployment: a watch started, one interval's checks claimed by a
    /// replica, their results, the watch's end.
    pub const WATCH_STARTED: &str = "watch.started";
    pub const WATCH_CLAIMED: &str = "watch.claimed";
    pub const WATCH_CHECK: &str = "watch.check";
    pub const WATCH_FINISHED: &str = "watch.finished";
    /// The chain was re-hashed to format 2 (its body pins the format-1 head).
    pub const CHAIN_MIGRATED: &str = crate::chain::MIGRATED;
}
