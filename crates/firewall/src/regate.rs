//! Re-gating: a recorded decision's request decided again now, by the firewall in force (new
//! advisories, exceptions granted or revoked since). The stored request is rebuilt from its
//! documents exactly as `replay` does, but with the current time and the caller's firewall; the
//! new decision is recorded as any other (`Firewall::record`), so nothing is decided here.

use chrono::Utc;
use portcullis_evidence::Limits;
use portcullis_store::Store;

use crate::record::{Documents, RecordError, StoredRequest, load_decision};
use crate::request::{DecisionRequest, EvidenceDoc, RequestContext, UnreadableEvidence};

/// The request of recorded decision `id`, to be decided again now. The bytes of its evidence
/// documents are added to `docs` (what `Firewall::record` stores with the new decision).
pub async fn stored_request(
    store: &Store,
    id: &str,
    limits: &Limits,
    docs: &mut Documents,
) -> Result<DecisionRequest, RecordError> {
    let (row, _) = load_decision(store, id).await?;
    let fail = |message: String| RecordError::Replay {
        id: id.to_string(),
        message,
    };
    let bytes = store
        .blob(&row.request_digest)
        .await?
        .map(|(_, b)| b)
        .ok_or_else(|| {
            fail(format!(
                "request {} is not in the store",
                row.request_digest
            ))
        })?;
    let stored: StoredRequest = serde_json::from_slice(&bytes)
        .map_err(|e| fail(format!("request {}: {e}", row.request_digest)))?;
    if stored.version != crate::record::REQUEST_VERSION {
        return Err(fail(format!(
            "stored request version {} is not supported",
            stored.version
        )));
    }
    let mut req = DecisionRequest::new(stored.artifact.clone(), stored.environment.clone());
    req.context = RequestContext {
        pipeline: stored.context.pipeline.clone(),
        stage: stored.context.stage.clone(),
        requester: stored.context.requester.clone(),
        approver: stored.context.approver.clone(),
        change_ref: stored.context.change_ref.clone(),
        time: Some(Utc::now()),
    };
    for d in &stored.evidence {
        let bytes = store
            .blob(&d.digest)
            .await?
            .map(|(_, b)| b)
            .ok_or_else(|| {
                fail(format!(
                    "{}: document {} is not in the store",
                    d.source, d.digest
                ))
            })?;
        let doc = EvidenceDoc::parse(&d.source, &bytes, limits)
            .map_err(|e| fail(format!("{}: {e}", d.source)))?;
        docs.add(crate::record::blob_kinds::EVIDENCE, bytes);
        req.evidence.push(doc);
    }
    req.unreadable = stored
        .unreadable
        .iter()
        .map(|u| UnreadableEvidence {
            source: u.source.clone(),
            digest: u.digest.clone(),
            error: u.error.clone(),
        })
        .collect();
    req.verifications = stored.verifications;
    req.exposures = stored.exposures;
    req.previous = stored.previous;
    req.history = stored.history;
    req.manifests = stored.manifests;
    req.namespaces = stored.namespaces;
    Ok(req)
}
