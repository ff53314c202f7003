//! Self-contained audit proof bundles: what `portcullis audit export` writes and
//! `portcullis audit verify --bundle FILE` checks with no database, so that a third party can
//! verify a decision (or a range of audit entries) off-line (DESIGN.md "Storage and the audit
//! chain").
//!
//! A bundle is one JSON document in canonical form (RFC 8785, [`crate::canonical`]), no trailing
//! newline:
//!
//! ```text
//! {"blobs":{"sha256:<hex>":{"content":"<base64>","kind":"decision"},…},
//!  "checkpoints":[Checkpoint,…],"entries":[Entry,…],"exported_at":"<RFC 3339>",
//!  "format":"portcullis-proof-bundle/v1","key_id":"…","public_key":"<hex>",
//!  "scope":{"decision":"<id>"} | {"from":N,"to":M},"signature":"<hex>"}
//! ```
//!
//! `signature` is the ed25519 signature, by `public_key`, of the canonical JSON of the whole
//! document without its `signature` member. Because [`verify_bundle`] also requires the bytes to
//! be exactly the canonical serialization of what they parse to, changing any byte of a bundle
//! makes it fail: either the bytes are no longer canonical, or the signed content changed.

#![deny(missing_docs)]

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::canonical::{self, CanonicalError};
use crate::chain::{self, Checkpoint, Entry, Tamper};
use crate::keys::{self, CheckpointKey};

/// The `format` member of a v1 bundle.
pub const FORMAT: &str = "portcullis-proof-bundle/v1";

/// The largest bundle [`verify_bundle`] reads: 2 GiB.
pub const MAX_BUNDLE_BYTES: usize = 2 << 30;

/// The prefix of every blob digest.
const DIGEST_PREFIX: &str = crate::digest::PREFIX;

/// What a bundle covers: one decision, or a range of audit entries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum BundleScope {
    /// The decision with this id: serialized as `{"decision": "<id>"}`.
    Decision {
        /// The decision id.
        decision: String,
    },
    /// The audit entries `from..=to`: serialized as `{"from": N, "to": M}`.
    Range {
        /// The first sequence number.
        from: u64,
        /// The last sequence number (inclusive).
        to: u64,
    },
}

/// The members a scope may have, to give a clear error when they do not form one
/// (an untagged enum only says "did not match any variant").
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScopeFields {
    decision: Option<String>,
    from: Option<u64>,
    to: Option<u64>,
}

impl<'de> Deserialize<'de> for BundleScope {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let fields = ScopeFields::deserialize(deserializer)?;
        match fields {
            ScopeFields {
                decision: Some(decision),
                from: None,
                to: None,
            } => Ok(BundleScope::Decision { decision }),
            ScopeFields {
                decision: None,
                from: Some(from),
                to: Some(to),
            } => Ok(BundleScope::Range { from, to }),
            _ => Err(serde::de::Error::custom(
                "scope must be {\"decision\": ID} or {\"from\": SEQ, \"to\": SEQ}",
            )),
        }
    }
}

impl fmt::Display for BundleScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BundleScope::Decision { decision } => write!(f, "decision {decision}"),
            BundleScope::Range { from, to } => write!(f, "entries {from}..={to}"),
        }
    }
}

/// A piece of stored content an entry rests on, keyed in [`ProofBundle::blobs`] by its digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleBlob {
    /// What it is: `evidence`, `decision`, `decision-request`, `policy-bundle`, `advisory`,
    /// `kev`, …
    pub kind: String,
    /// The raw bytes, standard base64 with padding.
    pub content: String,
}

/// A proof bundle (see the module documentation for its form).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProofBundle {
    /// Always [`FORMAT`].
    pub format: String,
    /// When it was exported, RFC 3339.
    pub exported_at: String,
    /// What it covers.
    pub scope: BundleScope,
    /// A contiguous segment of the audit chain, in sequence order.
    pub entries: Vec<Entry>,
    /// Signed checkpoints; one of them pins the last entry.
    pub checkpoints: Vec<Checkpoint>,
    /// The content the entries refer to, by `sha256:<hex>` of the raw bytes.
    pub blobs: BTreeMap<String, BundleBlob>,
    /// The ed25519 public key that signed the bundle and its checkpoints, hex.
    pub public_key: String,
    /// [`CheckpointKey::key_id`] of `public_key`.
    pub key_id: String,
    /// The signature of the canonical JSON of the bundle without this member, hex.
    pub signature: String,
}

/// A decision a bundle proves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProvenDecision {
    /// Its id.
    pub decision_id: String,
    /// `allow` or `deny`.
    pub verdict: String,
    /// The audit entry that records it.
    pub seq: u64,
    /// The digest of the stored decision document.
    pub decision_digest: String,
}

/// What a bundle that verified covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BundleReport {
    /// Its scope.
    pub scope: BundleScope,
    /// When it was exported (as it says; signed, not checked against a clock).
    pub exported_at: String,
    /// How many entries it holds.
    pub entries: usize,
    /// The first entry's sequence number.
    pub first_seq: u64,
    /// The last entry's sequence number.
    pub last_seq: u64,
    /// The last entry's hash, hex.
    pub last_hash: String,
    /// The sequence number of the checkpoint that anchors the segment (= `last_seq`).
    pub checkpoint_seq: u64,
    /// When that checkpoint was made.
    pub checkpoint_at: String,
    /// How many blobs it holds.
    pub blobs: usize,
    /// The id of the key that signed it.
    pub key_id: String,
    /// That key, hex.
    pub public_key: String,
    /// For a decision scope, the decision.
    pub decision: Option<ProvenDecision>,
}

/// Why a bundle could not be sealed, or does not verify: what failed and where.
#[derive(Debug, thiserror::Error)]
pub enum ProofError {
    /// Larger than [`MAX_BUNDLE_BYTES`].
    #[error("proof bundle: {size} bytes, more than the limit of {MAX_BUNDLE_BYTES}")]
    TooLarge {
        /// Its size.
        size: usize,
    },
    /// Not JSON (the error names line and column).
    #[error("proof bundle: not JSON: {0}")]
    Json(#[source] serde_json::Error),
    /// JSON, but its bytes are not the canonical serialization of what they parse to.
    #[error(
        "proof bundle: not in canonical form at byte {offset} (changed, added or reformatted bytes)"
    )]
    NotCanonical {
        /// The offset of the first byte that differs from the canonical serialization.
        offset: usize,
    },
    /// A value without a canonical form, or a bundle that cannot be turned into JSON.
    #[error("proof bundle: {0}")]
    Canonical(#[from] CanonicalError),
    /// Canonical JSON, but not a bundle's members (the error names the column).
    #[error("proof bundle: not a v1 bundle: {0}")]
    Structure(#[source] serde_json::Error),
    /// Another format than [`FORMAT`].
    #[error("proof bundle: format {found:?}, expected {FORMAT:?}")]
    Format {
        /// The format it names.
        found: String,
    },
    /// `key_id` is not the id of `public_key`, or `public_key` is not a lowercase hex ed25519 key.
    #[error("proof bundle: key id {key_id} does not match public key {public_key}")]
    KeyId {
        /// The key id it names.
        key_id: String,
        /// The public key it names.
        public_key: String,
    },
    /// The signature does not verify by the key the bundle names.
    #[error("proof bundle: signature does not verify (the bundle was changed after it was signed)")]
    BadSignature,
    /// The signature verifies, but not by the key the caller trusts.
    #[error("proof bundle: signed by key {key_id}, not the trusted key")]
    Untrusted {
        /// The id of the key that signed it.
        key_id: String,
    },
    /// The entries and checkpoints are not an untouched chain segment.
    #[error("proof bundle: {0}")]
    Chain(Tamper),
    /// No entries at all.
    #[error("proof bundle: it holds no entries")]
    NoEntries,
    /// No checkpoint pins the last entry, so the segment could have been cut short or rewritten.
    #[error(
        "proof bundle: no checkpoint at the last entry (seq {last_seq}): the segment is not anchored"
    )]
    NotAnchored {
        /// The last entry's sequence number.
        last_seq: u64,
    },
    /// A blob key that is not `sha256:` + 64 lowercase hex digits.
    #[error(
        "proof bundle: blob {digest}: not a digest of the form sha256:<64 lowercase hex digits>"
    )]
    BlobKey {
        /// The key.
        digest: String,
    },
    /// A blob whose content is not standard base64.
    #[error("proof bundle: blob {digest}: content is not standard base64: {message}")]
    BlobBase64 {
        /// The blob's digest.
        digest: String,
        /// What the decoder said.
        message: String,
    },
    /// A blob whose content does not hash to its key.
    #[error("proof bundle: blob {digest}: content does not match its digest")]
    BlobDigest {
        /// The blob's digest.
        digest: String,
    },
    /// An entry that refers to content the bundle does not hold.
    #[error("proof bundle: entry {seq} refers to {digest} which the bundle does not hold")]
    MissingBlob {
        /// The entry.
        seq: u64,
        /// The digest it refers to.
        digest: String,
    },
    /// An entry whose body is not what its kind requires.
    #[error("proof bundle: entry {seq}: {message}")]
    Entry {
        /// The entry.
        seq: u64,
        /// What is wrong with it.
        message: String,
    },
    /// The entries do not prove what the scope says.
    #[error("proof bundle: scope {scope}: {message}")]
    Scope {
        /// The scope.
        scope: BundleScope,
        /// What does not hold.
        message: String,
    },
    /// Sealing: the same content given twice with different kinds.
    #[error("proof bundle: blob {digest} given as both {first:?} and {second:?}")]
    BlobKindConflict {
        /// The content's digest.
        digest: String,
        /// The kind given first.
        first: String,
        /// The kind given later.
        second: String,
    },
    /// Sealing: the bundle could not be turned into JSON.
    #[error("proof bundle: cannot serialize: {0}")]
    Serialize(#[source] serde_json::Error),
}

// `Tamper` is not a `std::error::Error`, so `#[from]` (which makes it the source) does not apply.
impl From<Tamper> for ProofError {
    fn from(tamper: Tamper) -> Self {
        ProofError::Chain(tamper)
    }
}

/// The digest a blob is keyed by: `sha256:` + lowercase hex of sha256 over its raw bytes.
pub fn blob_digest(raw: &[u8]) -> String {
    crate::digest::sha256(raw)
}

impl ProofBundle {
    /// Build and sign a bundle: each blob is `(kind, raw bytes)`, keyed by [`blob_digest`]
    /// (content given twice is kept once). It does not check what it seals; an exporter should
    /// run [`verify_bundle`] on [`ProofBundle::to_bytes`] before writing the file.
    pub fn seal(
        scope: BundleScope,
        entries: Vec<Entry>,
        checkpoints: Vec<Checkpoint>,
        blobs: impl IntoIterator<Item = (String, Vec<u8>)>,
        key: &CheckpointKey,
        exported_at: &str,
    ) -> Result<ProofBundle, ProofError> {
        let mut held: BTreeMap<String, BundleBlob> = BTreeMap::new();
        for (kind, raw) in blobs {
            let digest = blob_digest(&raw);
            if let Some(existing) = held.get(&digest) {
                // Same bytes under two kinds: which one the verifier should believe is unclear.
                if existing.kind != kind {
                    return Err(ProofError::BlobKindConflict {
                        digest,
                        first: existing.kind.clone(),
                        second: kind,
                    });
                }
                continue;
            }
            held.insert(
                digest,
                BundleBlob {
                    kind,
                    content: STANDARD.encode(&raw),
                },
            );
        }
        let mut bundle = ProofBundle {
            format: FORMAT.to_string(),
            exported_at: exported_at.to_string(),
            scope,
            entries,
            checkpoints,
            blobs: held,
            public_key: key.public_hex(),
            key_id: key.key_id(),
            signature: String::new(),
        };
        let value = serde_json::to_value(&bundle).map_err(ProofError::Serialize)?;
        bundle.signature = key.sign(&signed_bytes(value)?);
        Ok(bundle)
    }

    /// The bundle as written to a file: canonical JSON, no trailing newline.
    pub fn to_bytes(&self) -> Result<Vec<u8>, ProofError> {
        let value = serde_json::to_value(self).map_err(ProofError::Serialize)?;
        Ok(canonical::to_vec(&value)?)
    }
}

/// The bytes the bundle signature covers: the canonical JSON of `doc` without `signature`.
fn signed_bytes(mut doc: Value) -> Result<Vec<u8>, ProofError> {
    if let Some(map) = doc.as_object_mut() {
        map.remove("signature");
    }
    Ok(canonical::to_vec(&doc)?)
}

/// Whether `s` is exactly `len` lowercase hex digits (the one spelling we write, so that a
/// changed letter case cannot leave a key or signature meaning the same).
fn is_lower_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Strict ed25519 verification (rejects weak keys and non-canonical signatures).
fn signature_verifies(public_hex: &str, message: &[u8], signature_hex: &str) -> bool {
    let Some(public) = keys::decode_hex(public_hex).and_then(|b| <[u8; 32]>::try_from(b).ok())
    else {
        return false;
    };
    let Some(sig) = keys::decode_hex(signature_hex).and_then(|b| <[u8; 64]>::try_from(b).ok())
    else {
        return false;
    };
    let Ok(key) = ed25519_dalek::VerifyingKey::from_bytes(&public) else {
        return false;
    };
    key.verify_strict(message, &ed25519_dalek::Signature::from_bytes(&sig))
        .is_ok()
}

/// Check a bundle as read from a file, with no database: that its bytes are exactly its
/// canonical form and signed by the key it names (and that key is `trusted_key`, public key hex,
/// when given); that its entries are an untouched chain segment whose checkpoints are signed by
/// the same key and one of which pins the last entry; that every blob hashes to its digest and
/// every digest an entry refers to is held; and that the entries prove its scope. The first
/// failure is returned, naming what failed and where.
pub fn verify_bundle(bytes: &[u8], trusted_key: Option<&str>) -> Result<BundleReport, ProofError> {
    if bytes.len() > MAX_BUNDLE_BYTES {
        return Err(ProofError::TooLarge { size: bytes.len() });
    }
    let doc: Value = serde_json::from_slice(bytes).map_err(ProofError::Json)?;

    // Exactly the canonical bytes: any reformatting, escape or duplicate member shows here.
    let canon = canonical::to_vec(&doc)?;
    if canon != bytes {
        let offset = canon
            .iter()
            .zip(bytes)
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| canon.len().min(bytes.len()));
        return Err(ProofError::NotCanonical { offset });
    }
    drop(canon);

    // Parsed again from the bytes (not the value) so that a structural error names its column.
    let bundle: ProofBundle = serde_json::from_slice(bytes).map_err(ProofError::Structure)?;
    if bundle.format != FORMAT {
        return Err(ProofError::Format {
            found: bundle.format,
        });
    }

    check_signature(&bundle, doc, trusted_key)?;

    let verified = chain::verify(
        &bundle.entries,
        &bundle.checkpoints,
        Some(&bundle.public_key),
    )?;
    let (Some(first), Some(last)) = (bundle.entries.first(), bundle.entries.last()) else {
        return Err(ProofError::NoEntries);
    };
    // chain::verify already matched any checkpoint at this seq against the entry's hash.
    let anchor = bundle
        .checkpoints
        .iter()
        .find(|c| c.seq == last.seq)
        .ok_or(ProofError::NotAnchored { last_seq: last.seq })?;

    let contents = check_blobs(&bundle.blobs)?;
    check_refs(&bundle.entries, &bundle.blobs)?;
    let decision = check_scope(&bundle, &contents)?;

    Ok(BundleReport {
        scope: bundle.scope.clone(),
        exported_at: bundle.exported_at.clone(),
        entries: bundle.entries.len(),
        first_seq: first.seq,
        last_seq: last.seq,
        last_hash: verified.last_hash,
        checkpoint_seq: anchor.seq,
        checkpoint_at: anchor.at.clone(),
        blobs: bundle.blobs.len(),
        key_id: bundle.key_id.clone(),
        public_key: bundle.public_key.clone(),
        decision,
    })
}

/// Key id, signature over `doc` without `signature`, then trust.
fn check_signature(
    bundle: &ProofBundle,
    doc: Value,
    trusted_key: Option<&str>,
) -> Result<(), ProofError> {
    let key_bytes = keys::decode_hex(&bundle.public_key).unwrap_or_default();
    if !is_lower_hex(&bundle.public_key, 64) || keys::key_id(&key_bytes) != bundle.key_id {
        return Err(ProofError::KeyId {
            key_id: bundle.key_id.clone(),
            public_key: bundle.public_key.clone(),
        });
    }
    if !is_lower_hex(&bundle.signature, 128)
        || !signature_verifies(&bundle.public_key, &signed_bytes(doc)?, &bundle.signature)
    {
        return Err(ProofError::BadSignature);
    }
    if trusted_key.is_some_and(|k| !k.trim().eq_ignore_ascii_case(&bundle.public_key)) {
        return Err(ProofError::Untrusted {
            key_id: bundle.key_id.clone(),
        });
    }
    Ok(())
}

/// Every blob decodes and hashes to its key; returns the decoded contents.
fn check_blobs(
    blobs: &BTreeMap<String, BundleBlob>,
) -> Result<BTreeMap<&str, Vec<u8>>, ProofError> {
    let mut contents = BTreeMap::new();
    for (digest, blob) in blobs {
        let well_formed = digest
            .strip_prefix(DIGEST_PREFIX)
            .is_some_and(|hex| is_lower_hex(hex, 64));
        if !well_formed {
            return Err(ProofError::BlobKey {
                digest: digest.clone(),
            });
        }
        let raw = STANDARD
            .decode(&blob.content)
            .map_err(|e| ProofError::BlobBase64 {
                digest: digest.clone(),
                message: e.to_string(),
            })?;
        if blob_digest(&raw) != *digest {
            return Err(ProofError::BlobDigest {
                digest: digest.clone(),
            });
        }
        contents.insert(digest.as_str(), raw);
    }
    Ok(contents)
}

/// An entry's body, parsed.
fn body_of(entry: &Entry) -> Result<Value, ProofError> {
    serde_json::from_str(&entry.body).map_err(|e| ProofError::Entry {
        seq: entry.seq,
        message: format!("body is not JSON: {e}"),
    })
}

/// The `refs` member of a body: absent is none; otherwise a list of strings.
fn refs_of(seq: u64, body: &Value) -> Result<Vec<&str>, ProofError> {
    let Some(refs) = body.get("refs") else {
        return Ok(Vec::new());
    };
    let not_a_list = || ProofError::Entry {
        seq,
        message: "refs is not a list of digests".into(),
    };
    refs.as_array()
        .ok_or_else(not_a_list)?
        .iter()
        .map(|r| r.as_str().ok_or_else(not_a_list))
        .collect()
}

/// Every digest an entry refers to is held.
fn check_refs(entries: &[Entry], blobs: &BTreeMap<String, BundleBlob>) -> Result<(), ProofError> {
    for entry in entries {
        let body = body_of(entry)?;
        for digest in refs_of(entry.seq, &body)? {
            if !blobs.contains_key(digest) {
                return Err(ProofError::MissingBlob {
                    seq: entry.seq,
                    digest: digest.to_string(),
                });
            }
        }
    }
    Ok(())
}

/// A string member of a body, or an error naming the entry.
fn body_str<'a>(seq: u64, body: &'a Value, member: &str) -> Result<&'a str, ProofError> {
    body.get(member)
        .and_then(Value::as_str)
        .ok_or_else(|| ProofError::Entry {
            seq,
            message: format!("a decision entry without a string {member}"),
        })
}

/// The entries prove the scope: its one decision (with the stored decision document agreeing),
/// or exactly the range.
fn check_scope(
    bundle: &ProofBundle,
    contents: &BTreeMap<&str, Vec<u8>>,
) -> Result<Option<ProvenDecision>, ProofError> {
    let scope_err = |message: String| ProofError::Scope {
        scope: bundle.scope.clone(),
        message,
    };
    match &bundle.scope {
        BundleScope::Range { from, to } => {
            let seqs = bundle.entries.first().zip(bundle.entries.last());
            let len_ok = to
                .checked_sub(*from)
                .and_then(|d| d.checked_add(1))
                .is_some_and(|n| n == bundle.entries.len() as u64);
            match seqs {
                Some((first, last)) if first.seq == *from && last.seq == *to && len_ok => Ok(None),
                Some((first, last)) => Err(scope_err(format!(
                    "the entries run {}..={}",
                    first.seq, last.seq
                ))),
                None => Err(ProofError::NoEntries),
            }
        }
        BundleScope::Decision { decision } => {
            let mut found: Option<(&Entry, Value)> = None;
            for entry in bundle.entries.iter().filter(|e| e.kind == "decision") {
                let body = body_of(entry)?;
                if body.get("decision_id").and_then(Value::as_str) != Some(decision.as_str()) {
                    continue;
                }
                if let Some((earlier, _)) = &found {
                    return Err(scope_err(format!(
                        "entries {} and {} both record it",
                        earlier.seq, entry.seq
                    )));
                }
                found = Some((entry, body));
            }
            let (entry, body) =
                found.ok_or_else(|| scope_err("no decision entry records it".into()))?;
            prove_decision(entry, &body, decision, bundle, contents).map(Some)
        }
    }
}

/// The decision entry is well formed and its stored decision document says the same.
fn prove_decision(
    entry: &Entry,
    body: &Value,
    decision_id: &str,
    bundle: &ProofBundle,
    contents: &BTreeMap<&str, Vec<u8>>,
) -> Result<ProvenDecision, ProofError> {
    let seq = entry.seq;
    let entry_err = |message: String| ProofError::Entry { seq, message };
    let verdict = body_str(seq, body, "verdict")?;
    if verdict != "allow" && verdict != "deny" {
        return Err(entry_err(format!(
            "verdict {verdict:?} is neither \"allow\" nor \"deny\""
        )));
    }
    let digest = body_str(seq, body, "decision_digest")?;
    // Listed in refs, so that the reference check above has already required its blob.
    if !refs_of(seq, body)?.contains(&digest) {
        return Err(entry_err(format!(
            "decision_digest {digest} is not listed in its refs"
        )));
    }
    let (Some(blob), Some(raw)) = (bundle.blobs.get(digest), contents.get(digest)) else {
        return Err(ProofError::MissingBlob {
            seq,
            digest: digest.to_string(),
        });
    };
    let doc_err = |message: String| {
        entry_err(format!(
            "decision document {digest} (kind {}): {message}",
            blob.kind
        ))
    };
    if blob.kind != "decision" {
        return Err(doc_err("its blob is not of kind \"decision\"".into()));
    }
    let doc: Value = serde_json::from_slice(raw).map_err(|e| doc_err(format!("not JSON: {e}")))?;
    let doc_id = doc.get("id").and_then(Value::as_str);
    if doc_id != Some(decision_id) {
        return Err(doc_err(format!(
            "its id is {doc_id:?}, not {decision_id:?}"
        )));
    }
    let doc_verdict = doc.get("decision").and_then(Value::as_str);
    if doc_verdict != Some(verdict) {
        return Err(doc_err(format!(
            "its decision is {doc_verdict:?}, but the entry says {verdict:?}"
        )));
    }
    Ok(ProvenDecision {
        decision_id: decision_id.to_string(),
        verdict: verdict.to_string(),
        seq,
        decision_digest: digest.to_string(),
    })
}

/// What to export: one decision's entry, or a range of entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportRequest {
    /// The entry of the decision with this id.
    Decision(String),
    /// Entries `from..=to`.
    Range {
        /// First entry.
        from: u64,
        /// Last entry.
        to: u64,
    },
}

/// Why an export could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The request names nothing that exists (unknown decision, range outside the chain).
    #[error("{0}")]
    NotFound(String),
    /// The request is wrong, or what was built does not verify.
    #[error("{0}")]
    Invalid(String),
    /// Never sign over a chain that does not verify.
    #[error("the audit chain does not verify, nothing exported: {0}")]
    Tampered(String),
    /// The store could not be read or written.
    #[error(transparent)]
    Store(#[from] crate::error::StoreError),
    /// The bundle could not be made.
    #[error(transparent)]
    Proof(#[from] ProofError),
}

/// The digests an entry rests on (`refs` of its body).
fn entry_refs(e: &Entry) -> Vec<String> {
    serde_json::from_str::<Value>(&e.body)
        .ok()
        .and_then(|v| v.get("refs").cloned())
        .and_then(|r| serde_json::from_value::<Vec<String>>(r).ok())
        .unwrap_or_default()
}

/// Build, sign and check a proof bundle of `what` from `store` (after verifying the chain).
pub async fn export_bundle(
    store: &crate::db::Store,
    what: &ExportRequest,
) -> Result<Vec<u8>, ExportError> {
    store
        .verify(None)
        .await
        .map_err(|e| ExportError::Tampered(e.to_string()))?;
    let (scope, entries) = match what {
        ExportRequest::Decision(id) => {
            let row = store
                .decision(id)
                .await?
                .ok_or_else(|| ExportError::NotFound(format!("decision {id}: not in the store")))?;
            let seq = u64::try_from(row.seq).unwrap_or(0);
            (
                BundleScope::Decision {
                    decision: id.clone(),
                },
                store.entries(seq, seq).await?,
            )
        }
        ExportRequest::Range { from, to } => {
            let (from, to) = (*from, *to);
            if from == 0 || to < from {
                return Err(ExportError::Invalid(format!(
                    "from {from} to {to}: expected 1 <= FROM <= TO"
                )));
            }
            let entries = store.entries(from, to).await?;
            if entries.len() as u64 != to - from + 1 {
                return Err(ExportError::NotFound(format!(
                    "from {from} to {to}: the chain has only {} of those entries",
                    entries.len()
                )));
            }
            (BundleScope::Range { from, to }, entries)
        }
    };
    let last = entries
        .last()
        .map(|e| e.seq)
        .ok_or_else(|| ExportError::NotFound("nothing to export".into()))?;
    let first = entries.first().map(|e| e.seq).unwrap_or(last);
    let mut checkpoints: Vec<_> = store
        .checkpoints()
        .await?
        .into_iter()
        // Format-1 checkpoints (signed before the migration) pin hashes a segment cannot
        // recompute: a bundle carries the format-2 ones.
        .filter(|c| {
            c.seq >= first
                && c.seq < last
                && c.public_key == store.public_key()
                && c.version == chain::FORMAT
        })
        .collect();
    checkpoints.push(store.sign_checkpoint_at(last).await?);
    let digests: std::collections::BTreeSet<String> = entries.iter().flat_map(entry_refs).collect();
    let mut blobs = Vec::new();
    for d in &digests {
        let (kind, bytes) = store.blob(d).await?.ok_or_else(|| {
            ExportError::Invalid(format!(
                "document {d} is referenced by the chain but not stored"
            ))
        })?;
        blobs.push((kind, bytes));
    }
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let bundle = ProofBundle::seal(scope, entries, checkpoints, blobs, store.key(), &now)?;
    let bytes = bundle.to_bytes()?;
    verify_bundle(&bytes, Some(&store.public_key()))
        .map_err(|e| ExportError::Invalid(format!("the bundle built does not verify: {e}")))?;
    Ok(bytes)
}
