//! One decision (`/ui/decisions/{id}`): its violations, exceptions, evidence, provenance,
//! diff and chain entry; re-gating it; and its proof bundle.

use std::sync::Arc;

use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::IntoResponse;
use chrono::{Duration as Days, Utc};
use portcullis_firewall::Violation;
use portcullis_firewall::record::{StoredRequest, load_decision};
use portcullis_store::proof::{ExportError, ExportRequest, export_bundle};
use serde::Deserialize;

use super::canary::{CanaryView, views};
use super::diff::{DiffView, view};
use super::lines::{DecisionLine, lines_of};
use super::page::{
    CsrfForm, Layout, Page, PageError, ReasonForm, User, check_csrf, form, layout, query, render,
    see_other, urlencode, when,
};
use super::regate::regate_decision;
use crate::auth::Permission;
use crate::state::AppState;

pub struct RefLine {
    pub kind: String,
    pub id: String,
    pub purl: String,
    pub evidence: Vec<String>,
}

pub struct ViolationLine {
    pub rule: String,
    pub title: String,
    pub severity: String,
    pub action: String,
    pub key: String,
    pub message: String,
    pub controls: Vec<String>,
    pub remediation: String,
    pub refs: Vec<RefLine>,
    pub subjects: String,
}

fn violation_line(v: &Violation) -> ViolationLine {
    ViolationLine {
        rule: v.rule.clone(),
        title: v.title.clone(),
        severity: v.severity.clone(),
        action: v.action.clone(),
        key: v.key.clone(),
        message: v.message.clone(),
        controls: v.controls.clone(),
        remediation: v.remediation.clone(),
        refs: v
            .evidence_refs
            .iter()
            .map(|r| RefLine {
                kind: r.kind.clone(),
                id: r.id.clone(),
                purl: r.purl.clone().unwrap_or_default(),
                evidence: r.evidence.clone(),
            })
            .collect(),
        subjects: v.subjects.join(", "),
    }
}

pub struct ExceptedLine {
    pub violation: ViolationLine,
    pub exception_id: String,
    pub reason: String,
    pub approver: String,
    pub expires: String,
}

pub struct EvidenceLine {
    pub kind: String,
    pub format: String,
    pub digest: String,
    pub source: String,
}

/// One attestation as the decision verified it.
pub struct AttestationLine {
    pub predicate_type: String,
    pub verified: bool,
    pub signer: String,
    /// The failure and its detail (empty when verified).
    pub reason: String,
    pub builder: String,
    /// `repository@ref` and the commit, when the provenance names them (verified only).
    pub source: String,
    pub commit: String,
    pub evidence: String,
}

pub struct VerificationLine {
    pub kind: String,
    pub score: String,
    pub verdict: String,
    pub evidence: String,
    /// Whether the evidence is a canary report in the store (then drawn, and linked).
    pub drawn: bool,
}

pub struct Fact {
    pub name: &'static str,
    pub value: String,
}

/// An approval of this digest for this environment, in force now.
pub struct ApprovalLine {
    pub id: String,
    pub approver: String,
    pub change_ref: String,
    pub expires_at: String,
    pub reason: String,
}

/// One fact the decision rests on, with where it came from (`facts` of the decision JSON).
pub struct SourcedFact {
    pub fact: String,
    pub value: String,
    pub source: String,
    pub by: String,
    pub counted: bool,
}

#[derive(Template)]
#[template(path = "decision.html")]
struct DecisionPage {
    layout: Layout,
    id: String,
    outcome: String,
    verdict: String,
    artifact: String,
    digest: String,
    environment: String,
    decided_at: String,
    facts: Vec<Fact>,
    sourced: Vec<SourcedFact>,
    ignored: Vec<String>,
    approvals: Vec<ApprovalLine>,
    violations: Vec<ViolationLine>,
    warnings: Vec<ViolationLine>,
    excepted: Vec<ExceptedLine>,
    expired: Vec<String>,
    errors: Vec<String>,
    evidence: Vec<EvidenceLine>,
    provenance: Vec<AttestationLine>,
    verifications: Vec<VerificationLine>,
    diff: DiffView,
    canaries: Vec<CanaryView>,
    canary_problems: Vec<String>,
    canary_css: &'static str,
    seq: u64,
    hash: String,
    override_text: Option<String>,
    regated_from: Option<String>,
    later: Vec<DecisionLine>,
    grant_expires: String,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct DecisionQuery {
    #[serde(default)]
    regated_from: Option<String>,
}

pub async fn decision(
    State(state): State<Arc<AppState>>,
    user: User,
    Path(id): Path<String>,
    q: Result<Query<DecisionQuery>, axum::extract::rejection::QueryRejection>,
) -> Page {
    let q = query(q)?;
    if state.store.decision(&id).await?.is_none() {
        return Err(PageError::not_found(format!(
            "decision {id}: not in the store"
        )));
    }
    let (row, d) = load_decision(&state.store, &id)
        .await
        .map_err(PageError::internal)?;
    let request: Option<StoredRequest> = match state.store.blob(&row.request_digest).await? {
        Some((_, bytes)) => serde_json::from_slice(&bytes).ok(),
        None => None,
    };
    let mut facts = Vec::new();
    if let Some(r) = &request {
        let c = &r.context;
        for (name, v) in [
            ("pipeline", &c.pipeline),
            ("stage", &c.stage),
            ("requester", &c.requester),
            ("approver named by the request", &c.approver),
            ("change", &c.change_ref),
        ] {
            if let Some(v) = v {
                facts.push(Fact {
                    name,
                    value: v.clone(),
                });
            }
        }
    }
    facts.push(Fact {
        name: "policy bundle",
        value: d.policy_bundle_digest.clone(),
    });
    if let Some(g) = &d.gatekeeper_digest {
        facts.push(Fact {
            name: "Gatekeeper constraints",
            value: g.clone(),
        });
    }
    facts.push(Fact {
        name: "engine",
        value: d.engine_version.clone(),
    });
    if let Some(p) = &d.image {
        facts.push(Fact {
            name: "image",
            value: format!("{} → {}", p.reference, p.image.pinned()),
        });
        for s in &p.skipped {
            facts.push(Fact {
                name: "not read from the registry",
                value: format!("{} {}: {}", s.kind.as_str(), s.origin.digest, s.reason),
            });
        }
    }
    let evidence: Vec<EvidenceLine> = d
        .evidence
        .iter()
        .map(|e| EvidenceLine {
            kind: e.kind.clone(),
            format: e.format.clone(),
            digest: e.digest.clone(),
            source: e.source.clone(),
        })
        .collect();
    let provenance: Vec<AttestationLine> = d
        .attestations
        .iter()
        .map(|a| AttestationLine {
            predicate_type: if a.predicate_type.is_empty() {
                "(not a readable Statement)".into()
            } else {
                a.predicate_type.clone()
            },
            verified: a.verified,
            signer: a.signers.join(", "),
            reason: a.reason.clone().unwrap_or_default(),
            builder: a.builder_id.clone().unwrap_or_default(),
            source: match (&a.source_repo, &a.source_ref) {
                (Some(r), Some(at)) => format!("{r}@{at}"),
                (Some(r), None) => r.clone(),
                _ => String::new(),
            },
            commit: a.source_commit.clone().unwrap_or_default(),
            evidence: a.evidence.clone(),
        })
        .collect();
    let mut verifications: Vec<VerificationLine> = request
        .as_ref()
        .map(|r| {
            r.verifications
                .iter()
                .map(|v| VerificationLine {
                    kind: v.kind.clone(),
                    score: format!("{:.1}", v.score),
                    verdict: v.verdict.clone(),
                    evidence: v.evidence.clone().unwrap_or_default(),
                    drawn: false,
                })
                .collect()
        })
        .unwrap_or_default();
    // The canary reports behind the verification results, and any evidence document that is
    // one.
    let mut report_digests: Vec<String> = request
        .as_ref()
        .map(|r| {
            r.verifications
                .iter()
                .filter_map(|v| v.evidence.clone())
                .collect()
        })
        .unwrap_or_default();
    report_digests.extend(
        d.evidence
            .iter()
            .filter(|e| e.kind.contains("verification") || e.kind.contains("canary"))
            .map(|e| e.digest.clone()),
    );
    let (canaries, canary_problems) = views(&state, &report_digests, 3).await?;
    for v in &mut verifications {
        v.drawn = canaries.iter().any(|c| c.digest == v.evidence);
    }
    let override_text = state.store.override_of(&id).await?.map(|o| {
        format!(
            "Break-glass override by {} at {}: {}",
            o.actor,
            when(&o.at),
            o.reason
        )
    });
    let later_rows: Vec<_> = state
        .store
        .decisions(Some(&d.environment), Some(&d.artifact.digest), None, 10)
        .await?
        .into_iter()
        .filter(|r| r.seq > row.seq)
        .collect();
    let later = lines_of(&state, &later_rows).await?;
    let chain = d.chain.clone();
    let warnings_n = i64::try_from(d.warnings.len()).unwrap_or(i64::MAX);
    render(&DecisionPage {
        layout: layout(format!("Decision {id}"), "decisions", Some(&user)),
        id: d.id.clone(),
        outcome: portcullis_store::outcome(d.decision.as_str(), warnings_n).to_string(),
        verdict: d.decision.as_str().to_string(),
        artifact: d.artifact.name.clone(),
        digest: d.artifact.digest.clone(),
        environment: d.environment.clone(),
        decided_at: when(&d.decided_at),
        facts,
        sourced: d
            .facts
            .iter()
            .map(|f| SourcedFact {
                fact: f.fact.clone(),
                value: f.value.clone(),
                source: serde_json::to_value(f.source)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                by: f.by.clone().unwrap_or_default(),
                counted: f.counted,
            })
            .collect(),
        ignored: d.ignored.clone(),
        approvals: state
            .service
            .approvals(Some(&row.artifact_digest), Some(&row.environment), false)
            .await?
            .into_iter()
            .map(|(a, _)| ApprovalLine {
                id: a.id,
                approver: a.approver,
                change_ref: a.change_ref.unwrap_or_default(),
                expires_at: a.expires_at,
                reason: a.reason,
            })
            .collect(),
        violations: d.violations.iter().map(violation_line).collect(),
        warnings: d.warnings.iter().map(violation_line).collect(),
        excepted: d
            .excepted
            .iter()
            .map(|x| ExceptedLine {
                violation: violation_line(&x.violation),
                exception_id: x.exception.id.clone().unwrap_or_default(),
                reason: x.exception.reason.clone(),
                approver: x.exception.approver.clone(),
                expires: x.exception.expires.clone(),
            })
            .collect(),
        expired: d
            .expired_exceptions
            .iter()
            .map(|x| {
                format!(
                    "{} on {} (exception {}, expired {})",
                    x.rule,
                    x.key,
                    x.exception.id.clone().unwrap_or_default(),
                    x.exception.expires
                )
            })
            .collect(),
        errors: d.errors.clone(),
        evidence,
        provenance,
        verifications,
        diff: view(d.diff.as_ref(), &d.artifact.name, &d.environment),
        canaries,
        canary_problems,
        canary_css: portcullis_verify::html::CSS,
        seq: chain.as_ref().map_or(0, |c| c.seq),
        hash: chain.map(|c| c.hash).unwrap_or_default(),
        override_text,
        regated_from: q.regated_from,
        later,
        grant_expires: (Utc::now() + Days::days(30)).format("%Y-%m-%d").to_string(),
    })
}

pub async fn regate(
    State(state): State<Arc<AppState>>,
    user: User,
    headers: HeaderMap,
    Path(id): Path<String>,
    f: Result<Form<CsrfForm>, FormRejection>,
) -> Page {
    let f = form(f)?;
    check_csrf(&user, &headers, &f.csrf)?;
    if !(user.may(Permission::Decide) || user.may(Permission::Approve)) {
        user.require(Permission::Decide)?;
    }
    let d = regate_decision(&state, &user, &id).await?;
    Ok(see_other(&format!(
        "/ui/decisions/{}?regated_from={}",
        urlencode(&d.id),
        urlencode(&id)
    )))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApproveForm {
    csrf: String,
    reason: String,
    #[serde(default)]
    change_ref: String,
    /// How long the approval lasts, in hours (default 24).
    #[serde(default)]
    hours: String,
}

/// Approve the decision's artifact digest for its environment (role approver or admin; the
/// approver is the logged-in token), then re-gate the decision.
pub async fn approve(
    State(state): State<Arc<AppState>>,
    user: User,
    headers: HeaderMap,
    Path(id): Path<String>,
    f: Result<Form<ApproveForm>, FormRejection>,
) -> Page {
    let f = form(f)?;
    check_csrf(&user, &headers, &f.csrf)?;
    user.require(Permission::Approve)?;
    let Some(row) = state.store.decision(&id).await? else {
        return Err(PageError::not_found(format!(
            "decision {id}: not in the store"
        )));
    };
    let hours = match f.hours.trim() {
        "" => 24,
        h => h
            .parse::<i64>()
            .map_err(|_| PageError::bad_request(format!("hours {h:?}: a whole number of hours")))?,
    };
    let grant = portcullis_firewall::approvals::ApprovalGrant {
        artifact_digest: row.artifact_digest.clone(),
        environment: row.environment.clone(),
        change_ref: Some(f.change_ref.trim().to_string()).filter(|c| !c.is_empty()),
        reason: f.reason.trim().to_string(),
        expires_at: Some(Utc::now() + Days::hours(hours.clamp(0, 24 * 366))),
    };
    state
        .service
        .grant_approval(&grant, &user.as_actor())
        .await
        .map_err(|e| match e {
            portcullis_firewall::ServiceError::Invalid(m) => PageError::bad_request(m),
            other => PageError::from(other),
        })?;
    let d = regate_decision(&state, &user, &id).await?;
    Ok(see_other(&format!(
        "/ui/decisions/{}?regated_from={}",
        urlencode(&d.id),
        urlencode(&id)
    )))
}

/// Revoke approval `approval` (role approver or admin), back to the decision page.
pub async fn revoke_approval(
    State(state): State<Arc<AppState>>,
    user: User,
    headers: HeaderMap,
    Path((id, approval)): Path<(String, String)>,
    f: Result<Form<ReasonForm>, FormRejection>,
) -> Page {
    let f = form(f)?;
    check_csrf(&user, &headers, &f.csrf)?;
    user.require(Permission::Approve)?;
    state
        .service
        .revoke_approval(&approval, &user.as_actor(), &f.reason)
        .await
        .map_err(|e| match e {
            portcullis_firewall::ServiceError::Invalid(m) => PageError::bad_request(m),
            other => PageError::from(other),
        })?;
    Ok(see_other(&format!("/ui/decisions/{}", urlencode(&id))))
}

/// The decision's proof bundle (the same export as `GET /v1/audit/export?decision=ID`).
pub async fn proof(
    State(state): State<Arc<AppState>>,
    _user: User,
    Path(id): Path<String>,
) -> Page {
    let bytes = export_bundle(&state.store, &ExportRequest::Decision(id.clone()))
        .await
        .map_err(|e| match e {
            ExportError::NotFound(m) => PageError::not_found(m),
            ExportError::Invalid(m) => PageError::bad_request(m),
            other => PageError::internal(other),
        })?;
    let mut r = bytes.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let name: String = id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"proof-{name}.json\"")) {
        r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(r)
}
