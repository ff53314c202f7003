//! What a caller asks the firewall: this artifact, to this environment, with this evidence.

pub use crate::document::{EvidenceDoc, EvidenceFile, UnreadableEvidence, sha256};
use chrono::{DateTime, Utc};
use portcullis_policy::input::{
    FactSource, INPUT_VERSION, InputApproval, InputArtifact, InputContext, InputEnvironment,
    InputExposure, InputHistoryEntry, InputPrevious, InputVerification, PolicyInput,
};
pub use portcullis_policy::kubernetes::{
    AdmissionContext, Manifest, ManifestError, parse_manifests,
};

use crate::decision::ArtifactId;

/// Who asks, from where, when.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestContext {
    pub pipeline: Option<String>,
    pub stage: Option<String>,
    pub requester: Option<String>,
    pub approver: Option<String>,
    pub change_ref: Option<String>,
    /// Decision time; the firewall's clock when absent. A time the request gives is asserted
    /// (`time_source`): only what-if evaluations and replays carry one.
    pub time: Option<DateTime<Utc>>,
    /// Where `time` came from when it is given: `asserted` unless a replay restores the
    /// firewall's recorded time.
    pub time_source: FactSource,
    /// Where `requester` came from: `authenticated` when the firewall authenticated the caller
    /// (the service sets it from the actor), else `asserted`.
    pub requester_source: FactSource,
}

/// A request for a decision.
#[derive(Debug, Clone)]
pub struct DecisionRequest {
    pub artifact: ArtifactId,
    pub environment: String,
    pub context: RequestContext,
    pub evidence: Vec<EvidenceDoc>,
    pub unreadable: Vec<UnreadableEvidence>,
    pub verifications: Vec<InputVerification>,
    pub exposures: Vec<InputExposure>,
    pub previous: Option<InputPrevious>,
    pub history: Vec<InputHistoryEntry>,
    /// Approvals in force for this digest and environment, established by the firewall
    /// (recorded, or signed by a trusted key). An approver the request names
    /// (`context.approver`) is added to the input as an asserted approval.
    pub approvals: Vec<InputApproval>,
    /// A what-if evaluation: decided, never recorded as a decision.
    pub what_if: bool,
    /// What the request said that the firewall did not use, and why (shown in the decision).
    pub ignored: Vec<String>,
    /// Kubernetes objects under review (manifests, the object of an admission request): the
    /// library's Kubernetes rules read their pod specs (`input.kubernetes`) and the
    /// firewall's Gatekeeper constraints review each one.
    pub manifests: Vec<Manifest>,
    /// Namespace objects known to the caller, for constraints with a `namespaceSelector`
    /// (not reviewed themselves; a Namespace among `manifests` is used too).
    pub namespaces: Vec<serde_json::Value>,
    /// Evaluate only the rules whose id starts with one of these prefixes (None: every rule).
    /// The admission webhook judges the pod spec with `PCL-K8S-` alone: the artifact's
    /// evidence was judged at the gate. A scoped decision is not a deployment decision and
    /// is never recorded as one.
    pub rule_scope: Option<Vec<String>>,
    /// What runs in the environment under the artifact's name (`Firewall::baseline`): the
    /// decision then carries the diff against it. None: no diff.
    pub baseline: Option<crate::diff::Baseline>,
    /// The admission facts of a workload under review (its images and what the store says
    /// of each): the admission rules judge them.
    pub admission: Option<crate::admission::AdmissionFacts>,
    /// The image reference the evidence was fetched for (`gate --image`), as resolved.
    pub image: Option<crate::decision::ImagePull>,
}

impl DecisionRequest {
    pub fn new(artifact: ArtifactId, environment: impl Into<String>) -> Self {
        Self {
            artifact,
            environment: environment.into(),
            context: RequestContext::default(),
            evidence: Vec::new(),
            unreadable: Vec::new(),
            verifications: Vec::new(),
            exposures: Vec::new(),
            previous: None,
            history: Vec::new(),
            approvals: Vec::new(),
            what_if: false,
            ignored: Vec::new(),
            manifests: Vec::new(),
            namespaces: Vec::new(),
            rule_scope: None,
            baseline: None,
            admission: None,
            image: None,
        }
    }

    /// The approvals the input carries: the established ones, then an approver the request
    /// names, as asserted.
    fn input_approvals(&self) -> Vec<InputApproval> {
        let mut out = self.approvals.clone();
        if let Some(a) = self
            .context
            .approver
            .as_deref()
            .map(str::trim)
            .filter(|a| !a.is_empty())
        {
            out.push(InputApproval {
                id: "request".into(),
                approver: a.to_string(),
                source: FactSource::Asserted,
                granted_at: None,
                expires_at: None,
                change_ref: self.context.change_ref.clone(),
            });
        }
        out
    }

    /// Whether rule `id` is evaluated for this request.
    pub fn in_scope(&self, id: &str) -> bool {
        self.rule_scope
            .as_ref()
            .is_none_or(|prefixes| prefixes.iter().any(|p| id.starts_with(p.as_str())))
    }
}

impl DecisionRequest {
    /// The parts of the input that change with every decision (the evidence parts stay empty).
    pub(crate) fn light_input(&self, env: InputEnvironment, now: DateTime<Utc>) -> PolicyInput {
        PolicyInput {
            version: INPUT_VERSION.to_string(),
            artifact: InputArtifact {
                name: self.artifact.name.clone(),
                digest: self.artifact.digest.clone(),
            },
            environment: env,
            context: InputContext {
                pipeline: self.context.pipeline.clone(),
                stage: self.context.stage.clone(),
                requester: self.context.requester.clone(),
                approver: self.context.approver.clone(),
                change_ref: self.context.change_ref.clone(),
                time: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                time_unix: now.timestamp(),
                time_source: if self.context.time.is_some() {
                    self.context.time_source
                } else {
                    FactSource::Firewall
                },
                requester_source: self.context.requester_source,
                approvals: self.input_approvals(),
            },
            verifications: self.verifications.clone(),
            exposures: self.exposures.clone(),
            previous: self.previous.clone(),
            history: self.history.clone(),
            kubernetes: self
                .manifests
                .iter()
                .map(portcullis_policy::kubernetes::input_object)
                .collect(),
            ..PolicyInput::default()
        }
    }

    /// Add the object of an AdmissionReview (`{"request": {...}}`, or its `request`) to the
    /// objects under review: the admission webhook's way in to `Firewall::decide`.
    pub fn with_admission_review(
        mut self,
        review: &serde_json::Value,
    ) -> Result<Self, ManifestError> {
        self.manifests
            .push(Manifest::from_admission_review(review)?);
        Ok(self)
    }

    /// The Namespace object named `name`: from `namespaces`, else among `manifests`.
    pub fn namespace_object(&self, name: &str) -> Option<&serde_json::Value> {
        let is = |o: &&serde_json::Value| {
            o.get("kind").and_then(|k| k.as_str()) == Some("Namespace")
                && o.pointer("/metadata/name").and_then(|n| n.as_str()) == Some(name)
        };
        self.namespaces
            .iter()
            .find(is)
            .or_else(|| self.manifests.iter().map(|m| &m.object).find(is))
    }
}
