//! Recording decisions and replaying them. A decision is stored with everything it was made
//! from — the evidence documents, the advisories, the KEV catalogue and the exceptions in force,
//! the policy bundle (library + users' policies + configuration) and the request — each
//! content-addressed, so that `replay` rebuilds the same firewall and the same request and must
//! reach the same decision.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use portcullis_evidence::purl::Purl;
use portcullis_evidence::{BlockRule, Limits};
use portcullis_policy::gatekeeper::Gatekeeper;
use portcullis_policy::{PolicyBundle, PolicySource};
use portcullis_store::{
    Change, ComponentRow, DecisionRow, NewBlob, Store, StoreError, Write, canonical, kinds,
};
use serde::Serialize;

pub use crate::document::StoredFile;
pub use crate::stored::{
    REQUEST_VERSION, StoredAdvisory, StoredBundle, StoredContext, StoredDoc, StoredRequest,
    StoredUnreadable, blob_kinds,
};

use crate::decision::{ChainRef, Decision};
use crate::exceptions::CompiledException;
use crate::request::{DecisionRequest, EvidenceDoc, RequestContext, UnreadableEvidence};
use crate::trust::AttestationTrust;
use crate::{BlockedAdvisory, ENGINE_VERSION, Firewall, KevCatalog};

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("decision {id}: {message}")]
    Replay { id: String, message: String },
    #[error("{0}")]
    Invalid(String),
}

/// The raw bytes of the documents a request was built from, by digest: what gets stored.
#[derive(Debug, Default, Clone)]
pub struct Documents {
    /// Shared bytes: a server clones the advisory documents into every request's set.
    docs: BTreeMap<String, (String, std::sync::Arc<Vec<u8>>)>,
}

impl Documents {
    /// Keep `bytes` (of `kind`, see [`blob_kinds`]); returns their digest.
    pub fn add(&mut self, kind: &str, bytes: Vec<u8>) -> String {
        let digest = crate::sha256(&bytes);
        self.docs
            .entry(digest.clone())
            .or_insert_with(|| (kind.to_string(), std::sync::Arc::new(bytes)));
        digest
    }

    /// Keep `bytes` (of `kind`) whose digest the caller knows, without copying them.
    pub fn add_shared(&mut self, kind: &str, digest: &str, bytes: std::sync::Arc<Vec<u8>>) {
        self.docs
            .entry(digest.to_string())
            .or_insert_with(|| (kind.to_string(), bytes));
    }

    /// Keep every document of `other` too.
    pub fn merge(&mut self, other: &Documents) {
        for (digest, doc) in &other.docs {
            self.docs
                .entry(digest.clone())
                .or_insert_with(|| doc.clone());
        }
    }

    pub fn get(&self, digest: &str) -> Option<&[u8]> {
        self.docs.get(digest).map(|(_, b)| b.as_slice())
    }
}

fn canonical_bytes<T: Serialize>(v: &T) -> Result<Vec<u8>, RecordError> {
    let value = serde_json::to_value(v).map_err(|e| RecordError::Invalid(e.to_string()))?;
    Ok(canonical::to_vec(&value).map_err(StoreError::from)?)
}

/// The components of a document, as index rows.
fn component_rows(doc: &portcullis_evidence::Evidence) -> Vec<ComponentRow> {
    let mut rows: Vec<ComponentRow> = doc
        .components
        .iter()
        .filter_map(|c| {
            let purl = c.purl.as_deref()?;
            let p = Purl::parse(purl).ok()?;
            Some(ComponentRow {
                purl_type: p.ty().to_string(),
                namespace: p.namespace().unwrap_or("").to_string(),
                name: p.name().to_string(),
                version: p.version().unwrap_or("").to_string(),
                purl: portcullis_evidence::purl_core(purl),
            })
        })
        .collect();
    rows.sort_by(|a, b| a.purl.cmp(&b.purl));
    rows.dedup();
    rows
}

impl Firewall {
    /// The stored form of this firewall's policy bundle and configuration.
    pub fn stored_bundle(&self) -> StoredBundle {
        let bundle = self.bundle();
        StoredBundle {
            version: 1,
            engine: ENGINE_VERSION.into(),
            rego_digest: bundle.digest().to_string(),
            files: bundle
                .sources()
                .iter()
                .map(|s| StoredFile {
                    path: s.path.clone(),
                    text: s.text.clone(),
                })
                .collect(),
            config: self.config().text().map(|t| StoredFile {
                path: self
                    .config()
                    .source
                    .clone()
                    .unwrap_or_else(|| "portcullis.yaml".into()),
                text: t.to_string(),
            }),
            settings: self.config().clone(),
            gatekeeper: self
                .gatekeeper()
                .map(|g| {
                    g.sources()
                        .iter()
                        .map(|(path, text)| StoredFile {
                            path: path.clone(),
                            text: text.clone(),
                        })
                        .collect()
                })
                .unwrap_or_default(),
            trusted_keys: self.trust().map(|t| t.files().to_vec()).unwrap_or_default(),
            sigstore_root: self.trust().and_then(|t| t.sigstore_root().cloned()),
        }
    }

    /// The stored policy bundle document, built once per firewall.
    pub(crate) fn bundle_blob(&self) -> Result<NewBlob, RecordError> {
        self.stored_bundle
            .get_or_init(|| {
                canonical_bytes(&self.stored_bundle())
                    .and_then(|b| Ok(NewBlob::new(blob_kinds::POLICY_BUNDLE, &b)?))
                    .map_err(|e| e.to_string())
            })
            .clone()
            .map_err(RecordError::Invalid)
    }

    /// Store `decision` (made by this firewall on `req`) with everything it was made from, as
    /// one audit entry and its documents, and set its `chain`. `docs` holds the bytes of the
    /// evidence, advisory and KEV documents the request and firewall were built from.
    pub async fn record(
        &self,
        store: &Store,
        req: &DecisionRequest,
        decision: &mut Decision,
        docs: &Documents,
    ) -> Result<(), RecordError> {
        if decision.artifact != req.artifact || decision.environment != req.environment {
            return Err(RecordError::Invalid(format!(
                "decision {} is about {}@{} in {}, not the request's {}@{} in {}",
                decision.id,
                decision.artifact.name,
                decision.artifact.digest,
                decision.environment,
                req.artifact.name,
                req.artifact.digest,
                req.environment
            )));
        }
        if req.rule_scope.is_some() {
            return Err(RecordError::Invalid(format!(
                "decision {}: a decision on some rules only is not a deployment decision and is not recorded",
                decision.id
            )));
        }
        // What the store already has is neither compressed nor offered again: a re-decision on
        // the same SBOM and advisories writes only its request and decision.
        let bundle_digest = self.bundle_blob()?.digest;
        let mut offered: Vec<&str> = req.evidence.iter().map(|d| d.digest.as_str()).collect();
        offered.extend(
            self.advisories
                .advisories()
                .iter()
                .map(|a| a.source.as_str()),
        );
        offered.extend(self.kev_source.as_deref());
        offered.push(&bundle_digest);
        let present = store.blobs_present(&offered).await?;
        let (mut changes, kept) = self.document_changes(req, docs, &present)?;
        let Kept {
            evidence: evidence_digests,
            advisories: advisory_digests,
            kev,
            bundle: bundle_digest,
        } = kept;
        let stored = self.stored_request(
            req,
            decision,
            &advisory_digests,
            kev.clone(),
            bundle_digest.clone(),
        );
        let request_bytes = canonical_bytes(&stored)?;
        let request_blob = NewBlob::new(blob_kinds::REQUEST, &request_bytes)?;
        decision.chain = None;
        let decision_bytes = canonical_bytes(&*decision)?;
        let decision_blob = NewBlob::new(blob_kinds::DECISION, &decision_bytes)?;

        let mut refs: Vec<String> = vec![decision_blob.digest.clone()];
        refs.push(request_blob.digest.clone());
        refs.push(bundle_digest.clone());
        refs.extend(evidence_digests.iter().cloned());
        refs.extend(advisory_digests.iter().cloned());
        refs.extend(kev.iter().cloned());
        refs.sort();
        refs.dedup();
        let mut rules: Vec<&str> = decision
            .violations
            .iter()
            .map(|v| v.rule.as_str())
            .collect();
        rules.sort_unstable();
        rules.dedup();

        let mut writes = vec![
            Write::Blob {
                blob: decision_blob.clone(),
                components: Vec::new(),
            },
            Write::Blob {
                blob: request_blob.clone(),
                components: Vec::new(),
            },
        ];
        for digest in &evidence_digests {
            writes.push(Write::ArtifactEvidence {
                artifact_digest: req.artifact.digest.clone(),
                evidence_digest: digest.clone(),
            });
        }
        writes.push(Write::Decision(DecisionRow {
            id: decision.id.clone(),
            seq: 0,
            artifact_name: decision.artifact.name.clone(),
            artifact_digest: decision.artifact.digest.clone(),
            environment: decision.environment.clone(),
            verdict: decision.decision.as_str().into(),
            decided_at: decision.decided_at.clone(),
            decision_digest: decision_blob.digest.clone(),
            request_digest: request_blob.digest.clone(),
            policy_bundle: bundle_digest.clone(),
        }));
        changes.push(Change::new(
            kinds::DECISION,
            serde_json::json!({
                "decision_id": decision.id,
                "verdict": decision.decision.as_str(),
                "artifact": decision.artifact,
                "environment": decision.environment,
                "decided_at": decision.decided_at,
                "decision_digest": decision_blob.digest,
                "request_digest": request_blob.digest,
                "policy_bundle": bundle_digest,
                "policy_bundle_digest": decision.policy_bundle_digest,
                "evidence": evidence_digests,
                "violated_rules": rules,
                // Where it was asked from: the dashboard groups decisions by pipeline and stage.
                "pipeline": req.context.pipeline,
                "stage": req.context.stage,
                "counts": {
                    "violations": decision.violations.len(),
                    "warnings": decision.warnings.len(),
                    "excepted": decision.excepted.len(),
                    "errors": decision.errors.len(),
                },
                "refs": refs,
            }),
            writes,
        ));
        let entries = store.append(changes).await?;
        let entry =
            entries.last().cloned().flatten().ok_or_else(|| {
                RecordError::Invalid("the decision entry was not appended".into())
            })?;
        decision.chain = Some(ChainRef {
            seq: entry.seq,
            hash: entry.hash,
        });
        Ok(())
    }

    /// The changes that keep the documents a decision was made from — its evidence, the
    /// advisories and KEV catalogue in force, the policy bundle — each stored once, with an
    /// entry the first time; and their digests.
    fn document_changes(
        &self,
        req: &DecisionRequest,
        docs: &Documents,
        stored: &std::collections::HashSet<String>,
    ) -> Result<(Vec<Change>, Kept), RecordError> {
        let mut changes = Vec::new();
        // The documents: each stored once, with an entry the first time. Those in `stored` are
        // neither compressed nor offered again.
        let bundle_blob = self.bundle_blob()?;
        let bundle_digest = bundle_blob.digest.clone();
        let mut evidence_digests = Vec::new();
        for d in &req.evidence {
            let bytes = docs.get(&d.digest).ok_or_else(|| {
                RecordError::Invalid(format!(
                    "{}: the bytes of {} were not kept for the record",
                    d.source, d.digest
                ))
            })?;
            evidence_digests.push(d.digest.clone());
            if stored.contains(&d.digest) {
                continue;
            }
            let blob = NewBlob::new(blob_kinds::EVIDENCE, bytes)?;
            changes.push(Change::if_new(
                kinds::EVIDENCE_STORED,
                serde_json::json!({
                    "digest": d.digest, "kind": crate::input::evidence_kind(&d.evidence),
                    "format": d.evidence.format.id(), "size": bytes.len(), "source": d.source,
                }),
                vec![Write::Blob {
                    blob,
                    components: component_rows(&d.evidence),
                }],
            ));
        }
        let mut advisory_digests: Vec<String> = self
            .advisories
            .advisories()
            .iter()
            .map(|a| a.source.clone())
            .collect();
        advisory_digests.sort();
        advisory_digests.dedup();
        for digest in &advisory_digests {
            let bytes = docs.get(digest).ok_or_else(|| {
                RecordError::Invalid(format!(
                    "advisory document {digest}: its bytes were not kept for the record"
                ))
            })?;
            if stored.contains(digest) {
                continue;
            }
            changes.push(Change::if_new(
                kinds::EVIDENCE_STORED,
                serde_json::json!({"digest": digest, "kind": "advisory", "size": bytes.len()}),
                vec![Write::Blob {
                    blob: NewBlob::new(blob_kinds::ADVISORY, bytes)?,
                    components: Vec::new(),
                }],
            ));
        }
        let kev = match &self.kev_source {
            Some(digest) => {
                let bytes = docs.get(digest).ok_or_else(|| {
                    RecordError::Invalid(format!(
                        "KEV catalogue {digest}: its bytes were not kept for the record"
                    ))
                })?;
                if !stored.contains(digest) {
                    changes.push(Change::if_new(
                        kinds::EVIDENCE_STORED,
                        serde_json::json!({"digest": digest, "kind": "kev", "size": bytes.len()}),
                        vec![Write::Blob {
                            blob: NewBlob::new(blob_kinds::KEV, bytes)?,
                            components: Vec::new(),
                        }],
                    ));
                }
                Some(digest.clone())
            }
            None => None,
        };

        if !stored.contains(&bundle_digest) {
            changes.push(Change::if_new(
                kinds::POLICY_BUNDLE_STORED,
                serde_json::json!({
                    "digest": bundle_digest, "rego_digest": self.bundle().digest(),
                    "files": self.bundle().sources().len(),
                    "config": self.config().source,
                    "refs": [bundle_digest],
                }),
                vec![Write::Blob {
                    blob: bundle_blob,
                    components: Vec::new(),
                }],
            ));
        }
        Ok((
            changes,
            Kept {
                evidence: evidence_digests,
                advisories: advisory_digests,
                kev,
                bundle: bundle_digest,
            },
        ))
    }

    /// The stored form of `req` as decided: everything by digest, the decision's time.
    fn stored_request(
        &self,
        req: &DecisionRequest,
        decision: &Decision,
        advisory_digests: &[String],
        kev: Option<String>,
        bundle_digest: String,
    ) -> StoredRequest {
        StoredRequest {
            version: REQUEST_VERSION,
            artifact: req.artifact.clone(),
            environment: req.environment.clone(),
            context: StoredContext {
                pipeline: req.context.pipeline.clone(),
                stage: req.context.stage.clone(),
                requester: req.context.requester.clone(),
                approver: req.context.approver.clone(),
                change_ref: req.context.change_ref.clone(),
                time: decision.decided_at.clone(),
                time_source: if req.context.time.is_some() {
                    req.context.time_source
                } else {
                    portcullis_policy::input::FactSource::Firewall
                },
                requester_source: req.context.requester_source,
                approvals: req.approvals.clone(),
                ignored: req.ignored.clone(),
            },
            evidence: req
                .evidence
                .iter()
                .map(|d| StoredDoc {
                    source: d.source.clone(),
                    digest: d.digest.clone(),
                    origin: d.origin.clone(),
                })
                .collect(),
            unreadable: req
                .unreadable
                .iter()
                .map(|u| StoredUnreadable {
                    source: u.source.clone(),
                    digest: u.digest.clone(),
                    error: u.error.clone(),
                })
                .collect(),
            verifications: req.verifications.clone(),
            exposures: req.exposures.clone(),
            previous: req.previous.clone(),
            history: req.history.clone(),
            advisories: advisory_digests.to_vec(),
            kev: kev.clone(),
            exceptions: self
                .exceptions
                .iter()
                .map(|e| e.exception.clone())
                .collect(),
            policy_bundle: bundle_digest.clone(),
            max_bytes: self.limits.max_bytes,
            max_depth: self.limits.max_depth,
            manifests: req.manifests.clone(),
            namespaces: req.namespaces.clone(),
            baseline: req.baseline.as_ref().map(|b| b.info.clone()),
            image: req.image.clone(),
        }
    }
}

/// The digests of the documents a decision record keeps.
struct Kept {
    evidence: Vec<String>,
    advisories: Vec<String>,
    kev: Option<String>,
    bundle: String,
}

/// A stored decision with its position in the chain.
pub async fn load_decision(
    store: &Store,
    id: &str,
) -> Result<(DecisionRow, Decision), RecordError> {
    let row = store
        .decision(id)
        .await?
        .ok_or_else(|| StoreError::NotFound {
            what: format!("decision {id}"),
        })?;
    // The row is an index; the audit entry is the record: they must agree.
    let seq = u64::try_from(row.seq).unwrap_or(0);
    let entry = store.entry(seq).await?.ok_or_else(|| RecordError::Replay {
        id: id.to_string(),
        message: format!("its audit entry {seq} is missing"),
    })?;
    let body: serde_json::Value =
        serde_json::from_str(&entry.body).map_err(|e| RecordError::Replay {
            id: id.to_string(),
            message: format!("audit entry {seq}: {e}"),
        })?;
    let field = |k: &str| body.get(k).and_then(|v| v.as_str()).unwrap_or_default();
    if entry.kind != kinds::DECISION
        || field("decision_id") != row.id
        || field("decision_digest") != row.decision_digest
        || field("request_digest") != row.request_digest
        || field("verdict") != row.verdict
    {
        return Err(RecordError::Replay {
            id: id.to_string(),
            message: format!(
                "the decisions table does not match audit entry {seq}: the record was altered"
            ),
        });
    }
    let mut decision: Decision = load_json(store, &row.decision_digest, id).await?;
    decision.chain = Some(ChainRef {
        seq,
        hash: entry.hash,
    });
    Ok((row, decision))
}

async fn load_bytes(store: &Store, digest: &str, id: &str) -> Result<Vec<u8>, RecordError> {
    store
        .blob(digest)
        .await?
        .map(|(_, b)| b)
        .ok_or_else(|| RecordError::Replay {
            id: id.to_string(),
            message: format!("document {digest} is not in the store"),
        })
}

async fn load_json<T: serde::de::DeserializeOwned>(
    store: &Store,
    digest: &str,
    id: &str,
) -> Result<T, RecordError> {
    let bytes = load_bytes(store, digest, id).await?;
    serde_json::from_slice(&bytes).map_err(|e| RecordError::Replay {
        id: id.to_string(),
        message: format!("document {digest}: {e}"),
    })
}

/// The stored request of decision `id` (at `digest`), in a version this build reads.
pub(crate) async fn load_request(
    store: &Store,
    digest: &str,
    id: &str,
) -> Result<StoredRequest, RecordError> {
    let request: StoredRequest = load_json(store, digest, id).await?;
    if request.version != REQUEST_VERSION {
        return Err(RecordError::Replay {
            id: id.into(),
            message: format!(
                "stored request version {} is not supported",
                request.version
            ),
        });
    }
    Ok(request)
}

/// The decision request a stored request describes, its evidence read back from the store
/// with `limits`, decided at `time` (replay: the recorded time; re-gating: now). The diff
/// baseline is left to the caller (replay rebuilds the recorded one, re-gating looks it up
/// anew). The evidence bytes are added to `docs` when given (what a new record stores).
pub(crate) async fn rebuild_request(
    store: &Store,
    id: &str,
    request: &StoredRequest,
    limits: &Limits,
    time: DateTime<Utc>,
    mut docs: Option<&mut Documents>,
) -> Result<DecisionRequest, RecordError> {
    let mut req = DecisionRequest::new(request.artifact.clone(), request.environment.clone());
    req.context = RequestContext {
        pipeline: request.context.pipeline.clone(),
        stage: request.context.stage.clone(),
        requester: request.context.requester.clone(),
        approver: request.context.approver.clone(),
        change_ref: request.context.change_ref.clone(),
        time: Some(time),
        time_source: request.context.time_source,
        requester_source: request.context.requester_source,
    };
    for d in &request.evidence {
        let bytes = load_bytes(store, &d.digest, id).await?;
        let mut doc =
            EvidenceDoc::parse(&d.source, &bytes, limits).map_err(|e| RecordError::Replay {
                id: id.to_string(),
                message: format!("{}: {e}", d.source),
            })?;
        doc.origin = d.origin.clone();
        if let Some(docs) = docs.as_deref_mut() {
            docs.add(blob_kinds::EVIDENCE, bytes);
        }
        req.evidence.push(doc);
    }
    req.unreadable = request
        .unreadable
        .iter()
        .map(|u| UnreadableEvidence {
            source: u.source.clone(),
            digest: u.digest.clone(),
            error: u.error.clone(),
        })
        .collect();
    req.verifications = request.verifications.clone();
    req.exposures = request.exposures.clone();
    req.previous = request.previous.clone();
    req.history = request.history.clone();
    req.approvals = request.context.approvals.clone();
    req.ignored = request.context.ignored.clone();
    req.image = request.image.clone();
    req.manifests = request.manifests.clone();
    req.namespaces = request.namespaces.clone();
    Ok(req)
}

/// Why an advisory document cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum AdvisoryDocError {
    #[error(transparent)]
    Parse(#[from] portcullis_evidence::ParseError),
    #[error("{0} holds no advisories (an OSV record, a list of them, or a block rule is expected)")]
    NoAdvisories(String),
}

/// Parse an advisory document as stored: an OSV record (or list) or a block rule.
pub fn advisories_in(
    bytes: &[u8],
    limits: &Limits,
) -> Result<Vec<portcullis_evidence::Advisory>, AdvisoryDocError> {
    if let Ok(rule) = BlockRule::from_json(bytes) {
        return Ok(vec![rule.advisory()]);
    }
    let ev = portcullis_evidence::parse(bytes, limits)?;
    if ev.advisories.is_empty() {
        return Err(AdvisoryDocError::NoAdvisories(ev.format.name().to_string()));
    }
    Ok(ev.advisories)
}

/// What a replay found.
#[derive(Debug)]
pub struct Replay {
    pub original: Decision,
    pub replayed: Decision,
    /// Differences in what was decided (empty: reproduced exactly).
    pub differences: Vec<String>,
}

/// Re-evaluate a recorded decision from the stored inputs.
pub async fn replay(store: &Store, id: &str) -> Result<Replay, RecordError> {
    let (row, original) = load_decision(store, id).await?;
    let request = load_request(store, &row.request_digest, id).await?;
    let bundle: StoredBundle = load_json(store, &request.policy_bundle, id).await?;
    let fail = |message: String| RecordError::Replay {
        id: id.to_string(),
        message,
    };
    let sources = bundle
        .files
        .into_iter()
        .map(|f| PolicySource {
            path: f.path,
            text: f.text,
        })
        .collect();
    let policy = PolicyBundle::from_sources(sources).map_err(|e| fail(e.to_string()))?;
    let mut config = bundle.settings.clone();
    config.source = bundle.config.as_ref().map(|c| c.path.clone());
    let limits = Limits {
        max_bytes: request.max_bytes,
        max_depth: request.max_depth,
    };
    let mut advisories = Vec::new();
    for digest in &request.advisories {
        let bytes = load_bytes(store, digest, id).await?;
        for a in
            advisories_in(&bytes, &limits).map_err(|e| fail(format!("advisory {digest}: {e}")))?
        {
            advisories.push(BlockedAdvisory {
                advisory: a,
                source: digest.clone(),
            });
        }
    }
    let mut firewall = Firewall::new(policy, config)
        .map_err(|e| fail(e.to_string()))?
        .with_advisories(advisories)
        .with_limits(limits);
    if let Some(digest) = &request.kev {
        let bytes = load_bytes(store, digest, id).await?;
        firewall = firewall.with_kev_from(
            KevCatalog::parse(&bytes, digest).map_err(|e| fail(e.to_string()))?,
            digest,
        );
    }
    let exceptions = request
        .exceptions
        .iter()
        .cloned()
        .map(|e| CompiledException::compile(e).map_err(|m| fail(format!("exception: {m}"))))
        .collect::<Result<Vec<_>, _>>()?;
    firewall = firewall.with_exceptions(exceptions);
    if !bundle.gatekeeper.is_empty() {
        let sources = bundle
            .gatekeeper
            .iter()
            .map(|f| (f.path.clone(), f.text.clone()))
            .collect();
        let gk = Gatekeeper::from_sources(sources).map_err(|e| fail(format!("gatekeeper: {e}")))?;
        firewall = firewall.with_gatekeeper(gk);
    }
    if !bundle.trusted_keys.is_empty() || bundle.sigstore_root.is_some() {
        let (mut trust, refused) = AttestationTrust::from_files(bundle.trusted_keys.clone());
        if let Some(r) = refused.first() {
            return Err(fail(format!("trusted key {}: {}", r.path, r.reason)));
        }
        if let Some(root) = &bundle.sigstore_root {
            trust = trust
                .with_sigstore_root(root.clone(), &bundle.settings.attestations.identities)
                .map_err(|e| fail(e.to_string()))?;
        }
        firewall = firewall.with_trust(trust);
    }

    let time = DateTime::parse_from_rfc3339(&request.context.time)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| fail(format!("stored time {:?}: {e}", request.context.time)))?;
    let mut req = rebuild_request(store, id, &request, &limits, time, None).await?;
    if let Some(info) = &request.baseline {
        req.baseline = Some(
            firewall
                .recorded_baseline(store, info)
                .await
                .map_err(|e| fail(format!("diff baseline: {e}")))?,
        );
    }

    let mut replayed = firewall.decide(&req);
    replayed.chain = original.chain.clone();
    let differences = compare(&original, &replayed);
    Ok(Replay {
        original,
        replayed,
        differences,
    })
}

/// What differs between two decisions about the same request (ids and chain positions
/// aside).
pub fn compare(a: &Decision, b: &Decision) -> Vec<String> {
    let mut out = Vec::new();
    if a.decision != b.decision {
        out.push(format!(
            "decision: recorded {}, replayed {}",
            a.decision.as_str(),
            b.decision.as_str()
        ));
    }
    let keys = |vs: &[crate::Violation]| -> Vec<String> {
        vs.iter().map(|v| format!("{} {}", v.rule, v.key)).collect()
    };
    for (what, x, y) in [
        ("violation", &a.violations, &b.violations),
        ("warning", &a.warnings, &b.warnings),
    ] {
        let (kx, ky) = (keys(x), keys(y));
        for k in kx.iter().filter(|k| !ky.contains(k)) {
            out.push(format!("{what} {k}: recorded, not replayed"));
        }
        for k in ky.iter().filter(|k| !kx.contains(k)) {
            out.push(format!("{what} {k}: replayed, not recorded"));
        }
        if kx == ky && x != y {
            for (vx, vy) in x.iter().zip(y.iter()) {
                if vx != vy {
                    out.push(format!(
                        "{what} {} {}: recorded and replayed differ in detail",
                        vx.rule, vx.key
                    ));
                }
            }
        }
    }
    if a.excepted != b.excepted {
        out.push("excepted violations differ".into());
    }
    if a.expired_exceptions != b.expired_exceptions {
        out.push("expired exceptions differ".into());
    }
    if a.errors != b.errors {
        out.push(format!(
            "errors: recorded {:?}, replayed {:?}",
            a.errors, b.errors
        ));
    }
    if a.evidence != b.evidence {
        out.push("evidence read differs".into());
    }
    if a.attestations != b.attestations {
        out.push("attestation verification differs".into());
    }
    if a.gatekeeper_digest != b.gatekeeper_digest {
        out.push(format!(
            "Gatekeeper constraints: recorded {:?}, replayed {:?}",
            a.gatekeeper_digest, b.gatekeeper_digest
        ));
    }
    if a.policy_bundle_digest != b.policy_bundle_digest {
        out.push(format!(
            "policy bundle: recorded {}, replayed {}",
            a.policy_bundle_digest, b.policy_bundle_digest
        ));
    }
    if a.diff != b.diff {
        out.push("the diff against what runs in the environment differs".into());
    }
    if a.decided_at != b.decided_at {
        out.push(format!(
            "decision time: recorded {}, replayed {}",
            a.decided_at, b.decided_at
        ));
    }
    out
}
