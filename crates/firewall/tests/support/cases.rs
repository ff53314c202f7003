//! Loading the decision cases of `tests/cases/**/*.yaml` (the format is documented in
//! `tests/cases/README.md`): shared by `tests/cases.rs`, which checks each case's expectations,
//! and `tests/reuse.rs`, which decides each case with and without reused rule results.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};

use portcullis_evidence::Limits;
use portcullis_firewall::*;
use portcullis_policy::input::{
    InputExposure, InputHistoryEntry, InputPrevious, InputVerification,
};
use portcullis_policy::{PolicyBundle, PolicySource};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    pub note: String,
    #[serde(default = "default_env")]
    pub environment: String,
    #[serde(default = "default_artifact")]
    pub artifact: String,
    #[serde(default = "default_time")]
    pub time: String,
    #[serde(default)]
    pub context: Context,
    /// portcullis.yaml text.
    #[serde(default)]
    pub config: Option<String>,
    /// Evaluate only these rules (every other rule is set to `off`).
    #[serde(default)]
    pub rules: Option<Vec<String>>,
    #[serde(default)]
    pub evidence: Vec<Doc>,
    #[serde(default)]
    pub advisories: Vec<Doc>,
    #[serde(default)]
    pub kev: Option<Doc>,
    /// Exceptions file text (YAML).
    #[serde(default)]
    pub exceptions: Option<String>,
    #[serde(default)]
    pub verifications: Vec<InputVerification>,
    #[serde(default)]
    pub exposures: Vec<InputExposure>,
    #[serde(default)]
    pub previous: Option<InputPrevious>,
    #[serde(default)]
    pub history: Vec<InputHistoryEntry>,
    /// Approvals the firewall established (PolicyInput `context.approvals`).
    #[serde(default)]
    pub approvals: Vec<portcullis_policy::input::InputApproval>,
    #[serde(default)]
    pub unreadable: Vec<Unreadable>,
    /// Public key files (PEM, relative to the case file) trusted to sign attestations.
    #[serde(default)]
    pub trusted_keys: Vec<String>,
    /// Extra Rego files (users' policies).
    #[serde(default)]
    pub policies: Vec<Policy>,
    /// What runs in the environment (the diff's baseline): its artifact and evidence.
    #[serde(default)]
    pub baseline: Option<BaselineCase>,
    pub expect: Expect,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BaselineCase {
    pub artifact: String,
    pub evidence: Vec<Doc>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Context {
    pub pipeline: Option<String>,
    pub stage: Option<String>,
    pub requester: Option<String>,
    pub approver: Option<String>,
    pub change_ref: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Doc {
    /// Path relative to the case file.
    #[serde(default)]
    pub file: Option<String>,
    /// A JSON document written as YAML.
    #[serde(default)]
    pub inline: Option<serde_json::Value>,
    /// Raw text (XML, JSON lines).
    #[serde(default)]
    pub text: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Unreadable {
    pub source: String,
    pub error: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    pub path: String,
    pub text: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    pub decision: Verdict,
    /// Exact set of rule ids among enforced violations.
    #[serde(default)]
    pub violations: Option<Vec<String>>,
    #[serde(default)]
    pub warnings: Option<Vec<String>>,
    #[serde(default)]
    pub excepted: Option<Vec<String>>,
    /// Rule ids with an expired exception reported.
    #[serde(default)]
    pub expired: Option<Vec<String>>,
    /// Number of enforced violations.
    #[serde(default)]
    pub violation_count: Option<usize>,
    #[serde(default)]
    pub errors: Option<usize>,
    /// Violation keys that must be present (among violations, warnings or excepted).
    #[serde(default)]
    pub keys: Vec<String>,
    /// Substrings that must occur in the decision JSON.
    #[serde(default)]
    pub contains: Vec<String>,
    /// Rule ids that must not occur anywhere in the decision.
    #[serde(default)]
    pub absent: Vec<String>,
    /// Substrings that must not occur anywhere in the decision JSON.
    #[serde(default)]
    pub absent_text: Vec<String>,
}

pub fn default_env() -> String {
    "production".into()
}
pub fn default_artifact() -> String {
    format!(
        "registry.example.com/shop/checkout-api@sha256:{}",
        "ab".repeat(32)
    )
}
pub fn default_time() -> String {
    "2026-11-23T12:00:00Z".into()
}

const DEFAULT_CONFIG: &str = "environments:\n  production: { protected: true }\n  staging: { protected: true }\n  dev: { protected: false }\n";

pub fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases")
}

pub fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            collect(&p, out);
        } else if p.extension().is_some_and(|x| x == "yaml") {
            out.push(p);
        }
    }
}

pub fn doc_bytes(doc: &Doc, base: &Path) -> Result<(String, Vec<u8>), String> {
    match (&doc.file, &doc.inline, &doc.text) {
        (Some(f), None, None) => {
            let p = base.join(f);
            let bytes = std::fs::read(&p).map_err(|e| format!("{}: {e}", p.display()))?;
            Ok((f.clone(), bytes))
        }
        (None, Some(v), None) => Ok(("inline".into(), serde_json::to_vec(v).unwrap())),
        (None, None, Some(t)) => Ok(("inline".into(), t.clone().into_bytes())),
        _ => Err("a document needs exactly one of file, inline, text".into()),
    }
}

/// A case file read: its text, and the firewall and request it describes.
pub struct CaseFile {
    pub case: Case,
    pub fw: Firewall,
    pub req: DecisionRequest,
}

/// The firewall and the request a case file describes.
pub fn load(path: &Path) -> Result<CaseFile, String> {
    let text = std::fs::read_to_string(path).unwrap();
    let case: Case =
        yaml_serde::from_str(&text).map_err(|e| format!("case does not parse: {e}"))?;
    let base = path.parent().unwrap();
    let limits = Limits::default();

    let mut sources: Vec<PolicySource> = PolicyBundle::builtin()
        .map_err(|e| e.to_string())?
        .sources()
        .to_vec();
    sources.extend(case.policies.iter().map(|p| PolicySource {
        path: p.path.clone(),
        text: p.text.clone(),
    }));
    let bundle = PolicyBundle::from_sources(sources).map_err(|e| e.to_string())?;
    let mut config_text = case.config.clone().unwrap_or_else(|| DEFAULT_CONFIG.into());
    if let Some(only) = &case.rules {
        let mut cfg: yaml_serde::Value = yaml_serde::from_str(&config_text).unwrap();
        let map = cfg.as_mapping_mut().unwrap();
        let rules = map
            .entry("rules".into())
            .or_insert_with(|| yaml_serde::Value::Mapping(Default::default()));
        for r in bundle.rules() {
            if !only.contains(&r.meta.id) {
                let off: yaml_serde::Value = yaml_serde::from_str("actions: { '*': off }").unwrap();
                rules
                    .as_mapping_mut()
                    .unwrap()
                    .insert(r.meta.id.clone().into(), off);
            }
        }
        for id in only {
            if bundle.rule(id).is_none() {
                return Err(format!("`rules` names {id}, which is not in the bundle"));
            }
        }
        config_text = yaml_serde::to_string(&cfg).unwrap();
    }
    let config = Config::from_yaml(&config_text, "case config").map_err(|e| e.to_string())?;
    let mut fw = Firewall::new(bundle, config).map_err(|e| e.to_string())?;

    let mut advisories = Vec::new();
    for d in &case.advisories {
        let (name, bytes) = doc_bytes(d, base)?;
        let doc = EvidenceDoc::parse(&name, &bytes, &limits).map_err(|e| e.to_string())?;
        for a in doc.evidence.advisories {
            advisories.push(BlockedAdvisory {
                advisory: a,
                source: doc.digest.clone(),
            });
        }
    }
    fw = fw.with_advisories(advisories);
    if !case.trusted_keys.is_empty() {
        let mut files = Vec::new();
        for k in &case.trusted_keys {
            let p = base.join(k);
            let text = std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))?;
            files.push(record::StoredFile {
                path: k.clone(),
                text,
            });
        }
        let (trust, refused) = AttestationTrust::from_files(files);
        if let Some(r) = refused.first() {
            return Err(format!("trusted key {}: {}", r.path, r.reason));
        }
        fw = fw.with_trust(trust);
    }
    if let Some(k) = &case.kev {
        let (name, bytes) = doc_bytes(k, base)?;
        fw = fw.with_kev(KevCatalog::parse(&bytes, &name).map_err(|e| e.to_string())?);
    }
    if let Some(x) = &case.exceptions {
        fw = fw.with_exceptions(
            exceptions::parse_exceptions(x, "case exceptions").map_err(|e| e.to_string())?,
        );
    }

    let artifact = ArtifactId::parse(&case.artifact).map_err(|e| e.to_string())?;
    let mut req = DecisionRequest::new(artifact, case.environment.clone());
    req.context = RequestContext {
        pipeline: case.context.pipeline.clone(),
        stage: case.context.stage.clone(),
        requester: case.context.requester.clone(),
        approver: case.context.approver.clone(),
        change_ref: case.context.change_ref.clone(),
        time: Some(
            chrono::DateTime::parse_from_rfc3339(&case.time)
                .map_err(|e| format!("time: {e}"))?
                .with_timezone(&chrono::Utc),
        ),
        ..Default::default()
    };
    for (i, d) in case.evidence.iter().enumerate() {
        let (name, bytes) = doc_bytes(d, base)?;
        let name = format!("{name}#{i}");
        match EvidenceDoc::parse(&name, &bytes, &limits) {
            Ok(doc) => req.evidence.push(doc),
            Err(e) => req.unreadable.push(UnreadableEvidence {
                source: name,
                digest: Some(sha256(&bytes)),
                error: e.to_string(),
            }),
        }
    }
    req.unreadable
        .extend(case.unreadable.iter().map(|u| UnreadableEvidence {
            source: u.source.clone(),
            digest: None,
            error: u.error.clone(),
        }));
    req.verifications = case.verifications.clone();
    req.exposures = case.exposures.clone();
    req.previous = case.previous.clone();
    req.history = case.history.clone();
    req.approvals = case.approvals.clone();
    if let Some(b) = &case.baseline {
        let running = ArtifactId::parse(&b.artifact).map_err(|e| e.to_string())?;
        let running_digest = running.digest.clone();
        let mut docs = Vec::new();
        for (i, d) in b.evidence.iter().enumerate() {
            let (name, bytes) = doc_bytes(d, base)?;
            docs.push(
                EvidenceDoc::parse(&format!("{name}#baseline{i}"), &bytes, &limits)
                    .map_err(|e| format!("baseline evidence {name}: {e}"))?,
            );
        }
        let info = portcullis_policy::input::InputDiffBaseline {
            artifact: Some(portcullis_policy::input::InputArtifact {
                name: running.name,
                digest: running.digest,
            }),
            decision: Some("case-baseline".into()),
            evidence: docs.iter().map(|d| d.digest.clone()).collect(),
            ..Default::default()
        };
        req.baseline = Some(diff::Baseline::known(
            info,
            std::sync::Arc::new(diff::BaselineSide::from_docs(
                docs,
                &running_digest,
                fw.trust(),
            )),
        ));
    }

    Ok(CaseFile { case, fw, req })
}
