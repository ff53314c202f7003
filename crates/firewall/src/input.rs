//! Building the `PolicyInput` from a request: findings deduplicated across tools, components
//! across documents, advisories matched with the evidence crate's version ranges.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use portcullis_evidence::purl::Purl;
use portcullis_evidence::range::normalized_package_name;
use portcullis_evidence::{Advisory, Evidence, Finding, Format, Severity};
use portcullis_policy::input::*;

use crate::document::EvidenceDoc;
use crate::kev::KevCatalog;
use crate::trust::{self, AttestationTrust, Checked};

/// What kind of evidence a format carries.
pub fn evidence_kind(evidence: &Evidence) -> &'static str {
    match evidence.format {
        Format::CyclonedxJson | Format::CyclonedxXml | Format::SpdxJson => "sbom",
        Format::TrivyJson | Format::GrypeJson | Format::OsvScannerJson => "vulnerability-scan",
        Format::Sarif | Format::SemgrepJson | Format::BanditJson => {
            // SARIF carries IaC checks as well as SAST; the findings tell.
            if !evidence.findings.is_empty()
                && evidence
                    .findings
                    .iter()
                    .all(|f| f.kind == portcullis_evidence::FindingKind::Misconfiguration)
            {
                "iac"
            } else {
                "sast"
            }
        }
        Format::CheckovJson => "iac",
        Format::ZapXml | Format::ZapJson => "dast",
        Format::OsvAdvisory => "advisory",
        Format::Dsse | Format::IntotoStatement | Format::IntotoJsonl | Format::SigstoreBundle => {
            "attestation"
        }
    }
}

/// An advisory the firewall blocks, with the digest of the document it came from.
#[derive(Debug, Clone)]
pub struct BlockedAdvisory {
    pub advisory: Advisory,
    pub source: String,
}

/// The evidence-derived parts of the input (the rest stays default).
pub(crate) fn build_evidence(
    docs: &[EvidenceDoc],
    artifact_digest: &str,
    advisories: &AdvisoryIndex,
    kev: Option<&KevCatalog>,
    trust: Option<&AttestationTrust>,
) -> PolicyInput {
    let evidence = docs.iter().map(evidence_entry).collect();
    let components = components(docs);
    let findings = findings(docs, kev);
    // An OSV advisory handed in as evidence is a blocking statement too.
    let in_request = AdvisoryIndex::new(
        docs.iter()
            .flat_map(|doc| {
                doc.evidence.advisories.iter().map(|a| BlockedAdvisory {
                    advisory: a.clone(),
                    source: doc.digest.clone(),
                })
            })
            .collect(),
    );
    let advisories = match_advisories(&components, &[advisories, &in_request]);
    let attestations = docs
        .iter()
        .flat_map(|doc| attestations(doc, artifact_digest, trust))
        .collect();
    PolicyInput {
        evidence,
        components,
        findings,
        advisories,
        attestations,
        ..PolicyInput::default()
    }
}

fn evidence_entry(doc: &EvidenceDoc) -> InputEvidence {
    let e = &doc.evidence;
    InputEvidence {
        digest: doc.digest.clone(),
        source: doc.source.clone(),
        format: e.format.id().to_string(),
        kind: evidence_kind(e).to_string(),
        tool: e.tool.as_ref().map(|t| t.name.clone()),
        tool_version: e.tool.as_ref().and_then(|t| t.version.clone()),
        created: e.created.clone(),
        created_unix: e
            .created
            .as_deref()
            .and_then(parse_time)
            .map(|t| t.timestamp()),
        subject: e.artifact.as_ref().map(|a| InputArtifactRef {
            name: a.name.clone(),
            digest: a.digest.clone(),
        }),
        scan_errors: e.scan_errors.clone(),
    }
}

/// RFC 3339, or a bare date.
pub(crate) fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s.trim()) {
        return Some(t.with_timezone(&Utc));
    }
    chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

fn component_key(purl: Option<&str>, name: &str, version: Option<&str>) -> String {
    match (purl, version) {
        (Some(p), _) => p.to_string(),
        (None, Some(v)) => format!("{name}@{v}"),
        (None, None) => name.to_string(),
    }
}

fn components(docs: &[EvidenceDoc]) -> Vec<InputComponent> {
    let mut out: Vec<InputComponent> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for doc in docs {
        for c in &doc.evidence.components {
            let key = component_key(c.purl.as_deref(), &c.name, c.version.as_deref());
            match index.get(&key) {
                Some(&i) => {
                    if let Some(existing) = out.get_mut(i) {
                        for l in &c.licenses {
                            if !existing.licenses.contains(l) {
                                existing.licenses.push(l.clone());
                            }
                        }
                        if !existing.sources.contains(&doc.digest) {
                            existing.sources.push(doc.digest.clone());
                        }
                    }
                }
                None => {
                    index.insert(key.clone(), out.len());
                    out.push(InputComponent {
                        key,
                        purl: c.purl.clone(),
                        name: c.name.clone(),
                        version: c.version.clone(),
                        ecosystem: c.ecosystem.as_ref().map(|e| e.as_str().to_string()),
                        licenses: c.licenses.clone(),
                        sources: vec![doc.digest.clone()],
                    });
                }
            }
        }
    }
    out
}

fn fix_state_word(f: &Finding) -> Option<String> {
    f.fix_state
        .and_then(|s| serde_json::to_value(s).ok())
        .and_then(|v| v.as_str().map(|s| s.replace('_', "-")))
}

fn max_cvss(f: &Finding) -> Option<f64> {
    f.scores
        .iter()
        .filter_map(|s| s.score)
        .filter(|s| s.is_finite())
        .fold(None, |acc: Option<f64>, s| {
            Some(acc.map_or(s, |a| a.max(s)))
        })
}

fn findings(docs: &[EvidenceDoc], kev: Option<&KevCatalog>) -> Vec<InputFinding> {
    let mut out: Vec<InputFinding> = Vec::new();
    let mut severities: Vec<Severity> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for doc in docs {
        for f in &doc.evidence.findings {
            let source = InputFindingSource {
                tool: f.tool.name.clone(),
                evidence: doc.digest.clone(),
                id: f.id.clone(),
                severity: f.severity.as_str().to_string(),
            };
            if let Some(&i) = index.get(&f.key) {
                let (Some(e), Some(sev)) = (out.get_mut(i), severities.get_mut(i)) else {
                    continue;
                };
                if f.severity > *sev {
                    *sev = f.severity;
                    e.severity = f.severity.as_str().to_string();
                }
                if let Some(c) = max_cvss(f) {
                    e.cvss = Some(e.cvss.map_or(c, |x| x.max(c)));
                }
                for a in std::iter::once(&f.id).chain(&f.aliases) {
                    if *a != e.id && !e.aliases.contains(a) {
                        e.aliases.push(a.clone());
                    }
                }
                for v in &f.fixed_versions {
                    if !e.fixed_versions.contains(v) {
                        e.fixed_versions.push(v.clone());
                    }
                }
                e.fix_available |= fix_available(f);
                if e.fix_state.is_none() {
                    e.fix_state = fix_state_word(f);
                }
                if e.vex_state.is_none() {
                    e.vex_state = f.vex.as_ref().map(|v| v.state.clone());
                }
                // Suppressed only when every source suppressed it.
                if f.suppression.is_none() {
                    e.suppressed = None;
                }
                for cwe in &f.cwes {
                    if !e.cwes.contains(cwe) {
                        e.cwes.push(*cwe);
                    }
                }
                if e.known_exploited.is_none() {
                    e.known_exploited = known_exploited(f, kev);
                }
                e.sources.push(source);
                continue;
            }
            index.insert(f.key.clone(), out.len());
            severities.push(f.severity);
            out.push(InputFinding {
                key: f.key.clone(),
                kind: f.kind.as_str().to_string(),
                id: f.id.clone(),
                aliases: f.aliases.clone(),
                title: f.title.clone(),
                severity: f.severity.as_str().to_string(),
                cvss: max_cvss(f),
                component: f.component.as_ref().map(|c| InputFindingComponent {
                    purl: c.purl.clone(),
                    name: c.name.clone(),
                    version: c.version.clone(),
                }),
                location: f.location.as_ref().map(|l| InputLocation {
                    path: l.path.clone(),
                    line: l.start_line,
                    resource: l.resource.clone(),
                }),
                endpoint: f.endpoint.as_ref().map(|e| InputEndpoint {
                    url: e.url.clone(),
                    method: e.method.clone(),
                    param: e.param.clone(),
                }),
                rule_id: f.rule_id.clone(),
                cwes: f.cwes.clone(),
                fixed_versions: f.fixed_versions.clone(),
                fix_version: None,
                fix_available: fix_available(f),
                fix_state: fix_state_word(f),
                vex_state: f.vex.as_ref().map(|v| v.state.clone()),
                suppressed: f.suppression.clone(),
                known_exploited: known_exploited(f, kev),
                sources: vec![source],
                label: String::new(),
                component_label: None,
                tools: String::new(),
            });
        }
    }
    for f in &mut out {
        f.fix_version = lowest_fix_above(f);
        f.label = if f.aliases.is_empty() {
            f.id.clone()
        } else {
            format!("{} ({})", f.id, f.aliases.join(", "))
        };
        f.component_label = f.component.as_ref().map(|c| match &c.version {
            Some(v) => format!("{} {v}", c.name),
            None => c.name.clone(),
        });
        let mut tools: Vec<&str> = f.sources.iter().map(|s| s.tool.as_str()).collect();
        tools.sort_unstable();
        tools.dedup();
        f.tools = tools.join(", ");
    }
    out
}

/// The lowest reported fixed version above the installed one, in the ecosystem's order.
fn lowest_fix_above(f: &InputFinding) -> Option<String> {
    let c = f.component.as_ref()?;
    let installed = c.version.as_deref()?.trim();
    if installed.is_empty() {
        return None;
    }
    let eco = c
        .purl
        .as_deref()
        .and_then(|p| Purl::parse(p).ok())
        .map(|p| p.ecosystem())?;
    let scheme = portcullis_evidence::version::Scheme::for_ecosystem(&eco);
    f.fixed_versions
        .iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .filter(|v| scheme.compare(v, installed) == std::cmp::Ordering::Greater)
        .min_by(|a, b| scheme.compare(a, b))
        .map(str::to_string)
}

fn fix_available(f: &Finding) -> bool {
    !f.fixed_versions.is_empty() || f.fix_state == Some(portcullis_evidence::FixState::Fixed)
}

fn known_exploited(f: &Finding, kev: Option<&KevCatalog>) -> Option<InputKnownExploited> {
    let kev = kev?;
    std::iter::once(&f.id)
        .chain(&f.aliases)
        .find_map(|id| kev.get(id))
        .cloned()
}

/// Blocked advisories indexed by package (ecosystem and normalized name, or purl without
/// version), so that matching costs one purl parse per component, not one per pair.
#[derive(Debug, Clone, Default)]
pub struct AdvisoryIndex {
    advisories: Vec<BlockedAdvisory>,
    by_package: HashMap<String, Vec<usize>>,
}

impl AdvisoryIndex {
    pub fn new(advisories: Vec<BlockedAdvisory>) -> Self {
        let mut by_package: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, b) in advisories.iter().enumerate() {
            if b.advisory.withdrawn.is_some() {
                continue;
            }
            for a in &b.advisory.affected {
                let mut keys = Vec::new();
                if let (Some(eco), Some(name)) = (&a.ecosystem, &a.name) {
                    keys.push(package_key(eco, name));
                }
                if let Some(p) = a.purl.as_deref().and_then(|p| Purl::parse(p).ok()) {
                    keys.push(package_key(&p.ecosystem(), &p.package_name()));
                }
                for k in keys {
                    let list = by_package.entry(k).or_default();
                    if !list.contains(&i) {
                        list.push(i);
                    }
                }
            }
        }
        Self {
            advisories,
            by_package,
        }
    }

    pub fn advisories(&self) -> &[BlockedAdvisory] {
        &self.advisories
    }

    pub fn is_empty(&self) -> bool {
        self.advisories.is_empty()
    }

    fn candidates(&self, key: &str) -> impl Iterator<Item = &BlockedAdvisory> {
        self.by_package
            .get(key)
            .into_iter()
            .flatten()
            .filter_map(|&i| self.advisories.get(i))
    }
}

fn package_key(eco: &portcullis_evidence::Ecosystem, name: &str) -> String {
    format!("{}|{}", eco.as_str(), normalized_package_name(eco, name))
}

fn match_advisories(
    components: &[InputComponent],
    indexes: &[&AdvisoryIndex],
) -> Vec<InputAdvisory> {
    let mut out: Vec<InputAdvisory> = Vec::new();
    if indexes.iter().all(|i| i.is_empty()) {
        return out;
    }
    for c in components {
        let Some(purl) = c.purl.as_deref() else {
            continue;
        };
        let Ok(p) = Purl::parse(purl) else {
            continue;
        };
        let key = package_key(&p.ecosystem(), &p.package_name());
        for index in indexes {
            for b in index.candidates(&key) {
                let a = &b.advisory;
                if !a.affects_purl(purl) {
                    continue;
                }
                if out
                    .iter()
                    .any(|x| x.id == a.id && x.component.purl.as_deref() == Some(purl))
                {
                    continue;
                }
                out.push(InputAdvisory {
                    id: a.id.clone(),
                    aliases: a.aliases.clone(),
                    summary: a.summary.clone(),
                    severity: a.severity.as_str().to_string(),
                    published: a.published.clone(),
                    component: InputFindingComponent {
                        purl: Some(purl.to_string()),
                        name: c.name.clone(),
                        version: c.version.clone(),
                    },
                    fixed_version: a.lowest_fix_for_purl(purl),
                    source: b.source.clone(),
                });
            }
        }
    }
    out
}

/// The attestations of one evidence document, each verified for the artifact `digest`.
/// What a Statement claims (predicate type, subjects) is kept for messages; provenance facts
/// come only from a verified attestation.
pub(crate) fn attestations(
    doc: &EvidenceDoc,
    digest: &str,
    trust: Option<&AttestationTrust>,
) -> Vec<InputAttestation> {
    let claims = &doc.evidence.attestations;
    if claims.is_empty() {
        return Vec::new();
    }
    if claims.len() != doc.attestation_documents.len() {
        // The evidence reader and the document split disagree (cannot happen for the formats
        // read today): nothing is verified rather than a signature credited to another claim.
        return claims
            .iter()
            .map(|claim| {
                attestation(
                    doc,
                    claim,
                    digest,
                    Checked::failed(
                        "malformed_envelope",
                        format!(
                            "malformed envelope: {} holds {} attestation(s) but {} JSON \
                             document(s); none is verified",
                            doc.source,
                            claims.len(),
                            doc.attestation_documents.len()
                        ),
                    ),
                )
            })
            .collect();
    }
    claims
        .iter()
        .zip(&doc.attestation_documents)
        .map(|(claim, document)| {
            let checked = trust::verify(doc, document, digest, trust);
            attestation(doc, claim, digest, checked)
        })
        .collect()
}

fn attestation(
    doc: &EvidenceDoc,
    claim: &portcullis_evidence::Attestation,
    digest: &str,
    checked: Checked,
) -> InputAttestation {
    let st = &claim.statement;
    let v = checked.verification;
    let subjects: Vec<InputSubject> = st
        .subjects
        .iter()
        .map(|s| InputSubject {
            name: s.name.clone(),
            digest: s
                .digest
                .get("sha256")
                .map(|h| format!("sha256:{}", h.to_ascii_lowercase())),
        })
        .collect();
    // Whether a subject names the artifact: the verifier's answer when it read the Statement,
    // the claim's otherwise.
    let subject_matches_artifact = if v.predicate_type.is_some() {
        v.subject_matches_artifact
    } else {
        let want = digest.to_ascii_lowercase();
        subjects
            .iter()
            .any(|s| s.digest.as_deref() == Some(want.as_str()))
    };
    let facts = v.provenance.as_ref().filter(|_| v.verified);
    InputAttestation {
        evidence: doc.digest.clone(),
        predicate_type: v
            .predicate_type
            .clone()
            .unwrap_or_else(|| st.predicate_type.clone()),
        verified: v.verified,
        signer: v.signer.clone(),
        signers: v.signers.clone(),
        keyids: claim
            .envelope
            .iter()
            .flat_map(|e| e.signatures.iter().filter_map(|s| s.keyid.clone()))
            .collect(),
        subject_matches_artifact,
        failure: if v.verified { None } else { checked.failure },
        reason: if v.verified { None } else { v.reason.clone() },
        subjects,
        builder_id: facts.and_then(|p| p.builder_id.clone()),
        build_type: facts.and_then(|p| p.build_type.clone()),
        source_repo: facts.and_then(|p| p.source_repository.clone()),
        source_ref: facts.and_then(|p| p.source_ref.clone()),
        source_commit: facts.and_then(|p| p.source_commit.clone()),
        slsa_version: facts.map(|p| p.slsa_version.trim_start_matches('v').to_string()),
        entry_point: facts.and_then(|p| p.entry_point.clone()),
        parameters: facts.map(|p| p.parameters.clone()).unwrap_or_default(),
        materials: facts
            .map(|p| {
                p.materials
                    .iter()
                    .map(|m| InputMaterial {
                        uri: m.uri.clone(),
                        digest: m.digest.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(purl: &str, version: &str, fixed: &[&str]) -> InputFinding {
        InputFinding {
            component: Some(InputFindingComponent {
                purl: Some(purl.into()),
                name: "x".into(),
                version: Some(version.into()),
            }),
            fixed_versions: fixed.iter().map(|s| s.to_string()).collect(),
            ..InputFinding::default()
        }
    }

    #[test]
    fn the_fix_is_the_lowest_reported_version_above_the_installed_one() {
        let log4j = "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1";
        let fixed = ["2.15.0", "2.12.2", "2.3.1"];
        assert_eq!(
            lowest_fix_above(&finding(log4j, "2.14.1", &fixed)).as_deref(),
            Some("2.15.0")
        );
        assert_eq!(
            lowest_fix_above(&finding(log4j, "2.12.1", &fixed)).as_deref(),
            Some("2.12.2")
        );
        assert_eq!(lowest_fix_above(&finding(log4j, "2.17.1", &fixed)), None);
        // One string holding several versions, as some tools write it.
        assert_eq!(
            lowest_fix_above(&finding(log4j, "2.0", &["2.15.0, 2.12.2, 2.3.1"])).as_deref(),
            Some("2.3.1")
        );
        // Debian ordering: ~ sorts before anything.
        let deb = "pkg:deb/debian/openssl@3.0.11-1~deb12u2";
        assert_eq!(
            lowest_fix_above(&finding(
                deb,
                "3.0.11-1~deb12u2",
                &["3.0.11-1", "3.0.14-1~deb12u1"]
            ))
            .as_deref(),
            Some("3.0.11-1")
        );
    }
}
