//! Facts signed by a trusted key: an approval, or a verification (canary) or exposure result,
//! carried as an in-toto Statement in a DSSE envelope (or Sigstore bundle) whose subject is the
//! artifact. Only an attestation the firewall verified with its trust, for this artifact's
//! digest, gives a fact; it is then `signed`, by the key that signed it.
//!
//! Predicates (Portcullis' own):
//! - `https://portcullis.dev/attestation/approval/v1`:
//!   `{environment, change_ref?, approver?, expires_at}`
//! - `https://portcullis.dev/attestation/verification/v1`:
//!   `{environment, kind, score, verdict, details?}`
//! - `https://portcullis.dev/attestation/exposure/v1`:
//!   `{environment, exposures: [PolicyInput exposures entries]}`

use chrono::{DateTime, Utc};
use portcullis_policy::input::{FactSource, InputApproval, InputExposure, InputVerification};
use serde::Deserialize;

use crate::document::EvidenceDoc;
use crate::trust::{self, AttestationTrust};

pub const APPROVAL_PREDICATE: &str = "https://portcullis.dev/attestation/approval/v1";
pub const VERIFICATION_PREDICATE: &str = "https://portcullis.dev/attestation/verification/v1";
pub const EXPOSURE_PREDICATE: &str = "https://portcullis.dev/attestation/exposure/v1";

/// What the verified attestations of a request's evidence sign, per environment.
#[derive(Debug, Clone, Default)]
pub struct SignedFacts {
    approvals: Vec<(String, Option<DateTime<Utc>>, InputApproval)>,
    verifications: Vec<(String, InputVerification)>,
    exposures: Vec<(String, InputExposure)>,
}

#[derive(Deserialize)]
struct ApprovalPredicate {
    environment: String,
    #[serde(default)]
    change_ref: Option<String>,
    #[serde(default)]
    approver: Option<String>,
    expires_at: DateTime<Utc>,
}

#[derive(Deserialize)]
struct VerificationPredicate {
    environment: String,
    kind: String,
    score: f64,
    verdict: String,
    #[serde(default)]
    details: Option<String>,
}

#[derive(Deserialize)]
struct ExposurePredicate {
    environment: String,
    exposures: Vec<InputExposure>,
}

impl SignedFacts {
    /// Read the signed facts of `docs` for the artifact `digest`, verifying each candidate
    /// attestation with `trust` (none without trust). A predicate that does not read is no
    /// fact (its attestation is still listed, and judged, with the others).
    pub fn of(docs: &[EvidenceDoc], digest: &str, trust: Option<&AttestationTrust>) -> Self {
        let mut out = Self::default();
        let Some(trust) = trust else { return out };
        for doc in docs {
            let claims = &doc.evidence.attestations;
            if claims.len() != doc.attestation_documents.len() {
                continue;
            }
            for (claim, document) in claims.iter().zip(&doc.attestation_documents) {
                let st = &claim.statement;
                let ours = [
                    APPROVAL_PREDICATE,
                    VERIFICATION_PREDICATE,
                    EXPOSURE_PREDICATE,
                ]
                .contains(&st.predicate_type.as_str());
                if !ours {
                    continue;
                }
                let checked = trust::verify(doc, document, digest, Some(trust));
                let v = &checked.verification;
                // The signed Statement must be the one read, and name this artifact.
                if !v.verified
                    || !v.subject_matches_artifact
                    || v.predicate_type.as_deref() != Some(st.predicate_type.as_str())
                {
                    continue;
                }
                let signer = v.signer.clone().unwrap_or_else(|| "unknown key".into());
                let by = format!("key:{signer}");
                match st.predicate_type.as_str() {
                    APPROVAL_PREDICATE => {
                        if let Ok(p) =
                            serde_json::from_value::<ApprovalPredicate>(st.predicate.clone())
                        {
                            let approver = match &p.approver {
                                Some(a) => format!("{by} ({a})"),
                                None => by.clone(),
                            };
                            out.approvals.push((
                                p.environment,
                                Some(p.expires_at),
                                InputApproval {
                                    id: format!("signed:{}", doc.digest),
                                    approver,
                                    source: FactSource::Signed,
                                    granted_at: None,
                                    expires_at: Some(p.expires_at.to_rfc3339()),
                                    change_ref: p.change_ref,
                                },
                            ));
                        }
                    }
                    VERIFICATION_PREDICATE => {
                        if let Ok(p) =
                            serde_json::from_value::<VerificationPredicate>(st.predicate.clone())
                            && (0.0..=100.0).contains(&p.score)
                        {
                            out.verifications.push((
                                p.environment,
                                InputVerification {
                                    kind: p.kind,
                                    score: p.score,
                                    verdict: p.verdict,
                                    evidence: Some(doc.digest.clone()),
                                    details: p.details,
                                    source: FactSource::Signed,
                                    recorded_by: Some(by.clone()),
                                },
                            ));
                        }
                    }
                    _ => {
                        if let Ok(p) =
                            serde_json::from_value::<ExposurePredicate>(st.predicate.clone())
                        {
                            for mut e in p.exposures {
                                e.source = FactSource::Signed;
                                e.recorded_by = Some(by.clone());
                                e.evidence = Some(doc.digest.clone());
                                out.exposures.push((p.environment.clone(), e));
                            }
                        }
                    }
                }
            }
        }
        out
    }

    /// The approvals that apply in `environment` for `change_ref` at `now`: not expired, and
    /// for the request's change when they name one.
    pub fn approvals(
        &self,
        environment: &str,
        change_ref: Option<&str>,
        now: DateTime<Utc>,
    ) -> Vec<InputApproval> {
        self.approvals
            .iter()
            .filter(|(env, expires, a)| {
                env == environment
                    && expires.is_some_and(|t| t > now)
                    && crate::approvals::change_matches(a.change_ref.as_deref(), change_ref)
            })
            .map(|(_, _, a)| a.clone())
            .collect()
    }

    pub fn verifications(&self, environment: &str) -> Vec<InputVerification> {
        self.verifications
            .iter()
            .filter(|(env, _)| env == environment)
            .map(|(_, v)| v.clone())
            .collect()
    }

    pub fn exposures(&self, environment: &str) -> Vec<InputExposure> {
        self.exposures
            .iter()
            .filter(|(env, _)| env == environment)
            .map(|(_, e)| e.clone())
            .collect()
    }
}
