//! Trivy JSON reports: schema 2 (`SchemaVersion`, `Results[]`), the legacy top-level array of
//! results (Trivy before 0.20), and the Kubernetes report (`ClusterName` with `Resources[]`, or
//! with `Vulnerabilities[]` / `Misconfigurations[]` per resource).
//!
//! Vulnerabilities become `vulnerability` findings, failed misconfiguration checks
//! `misconfiguration` findings, and secrets `secret` findings. The secret text (`Match`, `Code`)
//! is never read, so it cannot leak into the model; neither are misconfiguration code lines.
//! `Packages` (written with `--list-all-pkgs`) become components. License results have no place
//! in the model yet and are skipped.
//!
//! A vulnerability's `Status` becomes `fix_state`. Not kept, for want of a model field: its
//! `Layer`, `DataSource` and dates.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::scanner_common::{
    cvss_method, cwe_number, image_digest, non_empty, nullable_vec, purl_ecosystem, push_unique,
};
use crate::Limits;
use crate::error::ParseError;
use crate::format::Format;
use crate::json::from_slice_located;
use crate::model::{
    Artifact, CodeLocation, Component, ComponentRef, Ecosystem, Evidence, Finding, FindingKind,
    Score, Severity, Tool, normalize_path,
};

const FORMAT: Format = Format::TrivyJson;

/// Parse a Trivy JSON report.
pub fn parse(bytes: &[u8], limits: &Limits) -> Result<Evidence, ParseError> {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace()).copied();
    if first == Some(b'[') {
        let results: Vec<TrivyResult> = from_slice_located(bytes, FORMAT, limits)?;
        let mut ev = Evidence::new(FORMAT);
        let tool = Tool::new("Trivy", None);
        ev.tool = Some(tool.clone());
        let mut out = Collector::new(tool);
        for r in &results {
            out.result(r, None);
        }
        out.finish(&mut ev);
        return Ok(ev);
    }
    let report: Report = from_slice_located(bytes, FORMAT, limits)?;
    if report.schema_version.is_none() && report.results.is_none() && report.cluster_name.is_none()
    {
        return Err(ParseError::shape(
            FORMAT,
            "",
            "not a Trivy report: none of `SchemaVersion`, `Results` or `ClusterName` is present",
        ));
    }
    let mut ev = Evidence::new(FORMAT);
    ev.format_version = report.schema_version.map(|v| v.to_string());
    ev.created = non_empty(report.created_at);
    let tool = Tool::new("Trivy", report.trivy.and_then(|t| non_empty(t.version)));
    ev.tool = Some(tool.clone());
    ev.artifact = artifact(
        non_empty(report.artifact_name).or_else(|| non_empty(report.cluster_name)),
        report.metadata.as_ref(),
    );
    let mut out = Collector::new(tool);
    for r in report.results.iter().flatten() {
        out.result(r, None);
    }
    for res in report
        .resources
        .iter()
        .chain(&report.vulnerabilities)
        .chain(&report.misconfigurations)
    {
        for r in &res.results {
            out.result(r, Some(res));
        }
    }
    out.finish(&mut ev);
    Ok(ev)
}

/// The scanned artifact: its name, and a digest from `RepoDigests` (the registry digest a
/// deployment pulls) or else `ImageID` when that is a sha256.
fn artifact(name: Option<String>, metadata: Option<&Metadata>) -> Option<Artifact> {
    let digest = metadata.and_then(|m| {
        m.repo_digests
            .iter()
            .find_map(|d| image_digest(d))
            .or_else(|| m.image_id.as_deref().and_then(image_digest))
    });
    match (name, digest) {
        (None, None) => None,
        (name, digest) => Some(Artifact {
            name: name.unwrap_or_default(),
            digest,
        }),
    }
}

struct Collector {
    tool: Tool,
    findings: Vec<Finding>,
    components: Vec<Component>,
}

impl Collector {
    fn new(tool: Tool) -> Self {
        Self {
            tool,
            findings: Vec::new(),
            components: Vec::new(),
        }
    }

    fn finish(self, ev: &mut Evidence) {
        ev.findings = self.findings;
        ev.components = self.components;
    }

    fn result(&mut self, r: &TrivyResult, resource: Option<&K8sResource>) {
        let ecosystem = r.kind.as_deref().and_then(ecosystem_of_type);
        // A language result's target is the lock file or archive the package came from.
        let lang_target = match r.class.as_deref() {
            Some("lang-pkgs") => Some(r.target.as_str()),
            Some(_) => None,
            // Legacy reports have no Class; their language targets are file paths.
            None => (!r.target.contains(" (")).then_some(r.target.as_str()),
        };
        for v in &r.vulnerabilities {
            self.findings
                .push(self.vulnerability(v, ecosystem.as_ref(), lang_target));
        }
        // A Kubernetes resource target (`Deployment/x`) is only unique within its namespace.
        let config_path = match resource.and_then(|res| non_empty(res.namespace.clone())) {
            Some(ns) => format!("{ns}/{}", r.target),
            None => r.target.clone(),
        };
        let k8s_resource = resource.map(|res| {
            [&res.namespace, &res.kind, &res.name]
                .into_iter()
                .filter_map(|s| non_empty(s.clone()))
                .collect::<Vec<_>>()
                .join("/")
        });
        for m in &r.misconfigurations {
            if let Some(f) = self.misconfiguration(m, &config_path, k8s_resource.as_deref()) {
                self.findings.push(f);
            }
        }
        for s in &r.secrets {
            self.findings.push(self.secret(s, &r.target));
        }
        for p in &r.packages {
            self.components.push(component(p, ecosystem.as_ref()));
        }
    }

    fn vulnerability(
        &self,
        v: &Vulnerability,
        ecosystem: Option<&Ecosystem>,
        lang_target: Option<&str>,
    ) -> Finding {
        // Old reports have entries with nothing but `PkgName`: kept, with an empty id and
        // unknown severity, rather than dropped, so that policy can see them.
        let id = v.vulnerability_id.clone().unwrap_or_default();
        let mut aliases = Vec::new();
        for a in &v.vendor_ids {
            if a != &id {
                push_unique(&mut aliases, a);
            }
        }
        let purl = v
            .pkg_identifier
            .as_ref()
            .and_then(|p| non_empty(p.purl.clone()));
        let version = non_empty(v.installed_version.clone());
        let key = Finding::package_key(
            &id,
            &aliases,
            purl.as_deref(),
            &v.pkg_name,
            version.as_deref(),
        );

        let scores = scores(&v.cvss);
        let original = non_empty(v.severity.clone());
        let mut severity = original
            .as_deref()
            .map(Severity::from_word)
            .unwrap_or(Severity::Unknown);
        if severity == Severity::Unknown {
            severity = preferred_score(&scores, v.severity_source.as_deref())
                .map(Severity::from_cvss_score)
                .unwrap_or(Severity::Unknown);
        }

        let mut f = Finding::new(
            FindingKind::Vulnerability,
            id,
            severity,
            self.tool.clone(),
            key,
        );
        f.aliases = aliases;
        f.original_severity = original;
        f.scores = scores;
        f.title = non_empty(v.title.clone());
        f.description = non_empty(v.description.clone());
        f.fix_state = v.status.as_deref().map(crate::model::FixState::from_word);
        f.fixed_versions = v
            .fixed_version
            .as_deref()
            .map(|fv| {
                fv.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default();
        f.cwes = v.cwe_ids.iter().filter_map(|c| cwe_number(c)).collect();
        f.cwes.sort_unstable();
        f.cwes.dedup();
        if let Some(u) = &v.primary_url {
            push_unique(&mut f.references, u);
        }
        for u in &v.references {
            push_unique(&mut f.references, u);
        }
        f.fingerprint = non_empty(v.fingerprint.clone());
        let path = non_empty(v.pkg_path.clone())
            .or_else(|| lang_target.map(String::from))
            .map(|p| normalize_path(&p));
        f.component = Some(ComponentRef {
            ecosystem: purl
                .as_deref()
                .and_then(purl_ecosystem)
                .or_else(|| ecosystem.cloned()),
            purl,
            name: v.pkg_name.clone(),
            version,
            path,
        });
        f
    }

    fn misconfiguration(
        &self,
        m: &Misconfiguration,
        path: &str,
        k8s_resource: Option<&str>,
    ) -> Option<Finding> {
        // PASS and EXCEPTION record checks that did not fail; a missing or unknown status is
        // kept as a failure rather than silently dropped.
        if let Some(status) = &m.status
            && (status.eq_ignore_ascii_case("PASS") || status.eq_ignore_ascii_case("EXCEPTION"))
        {
            return None;
        }
        let rule = non_empty(m.id.clone())
            .or_else(|| non_empty(m.avd_id.clone()))
            .unwrap_or_default();
        let cause = m.cause_metadata.as_ref();
        let start = cause.and_then(|c| c.start_line).filter(|&l| l > 0);
        let end = cause.and_then(|c| c.end_line).filter(|&l| l > 0);
        let key = Finding::code_key(&rule, &BTreeMap::new(), Some(path), start);
        let original = non_empty(m.severity.clone());
        let severity = original
            .as_deref()
            .map(Severity::from_word)
            .unwrap_or(Severity::Unknown);
        let mut f = Finding::new(
            FindingKind::Misconfiguration,
            rule.clone(),
            severity,
            self.tool.clone(),
            key,
        );
        f.original_severity = original;
        f.rule_id = Some(rule.clone());
        if let Some(avd) = non_empty(m.avd_id.clone())
            && avd != rule
        {
            f.aliases.push(avd);
        }
        f.title = non_empty(m.title.clone());
        f.description = match (
            non_empty(m.description.clone()),
            non_empty(m.message.clone()),
        ) {
            (Some(d), Some(msg)) => Some(format!("{d}\n\n{msg}")),
            (d, msg) => d.or(msg),
        };
        if let Some(u) = &m.primary_url {
            push_unique(&mut f.references, u);
        }
        for u in &m.references {
            push_unique(&mut f.references, u);
        }
        f.location = Some(CodeLocation {
            path: normalize_path(path),
            start_line: start,
            end_line: end,
            start_column: None,
            resource: cause
                .and_then(|c| non_empty(c.resource.clone()))
                .or_else(|| k8s_resource.map(String::from)),
        });
        Some(f)
    }

    fn secret(&self, s: &Secret, target: &str) -> Finding {
        let start = s.start_line.filter(|&l| l > 0);
        let key = Finding::code_key(&s.rule_id, &BTreeMap::new(), Some(target), start);
        let original = non_empty(s.severity.clone());
        let severity = original
            .as_deref()
            .map(Severity::from_word)
            .unwrap_or(Severity::Unknown);
        let mut f = Finding::new(
            FindingKind::Secret,
            s.rule_id.clone(),
            severity,
            self.tool.clone(),
            key,
        );
        f.original_severity = original;
        f.rule_id = Some(s.rule_id.clone());
        f.title = non_empty(s.title.clone());
        f.description = non_empty(s.category.clone()).map(|c| format!("Category: {c}"));
        f.location = Some(CodeLocation {
            path: normalize_path(target),
            start_line: start,
            end_line: s.end_line.filter(|&l| l > 0),
            start_column: None,
            resource: None,
        });
        f
    }
}

fn component(p: &Package, ecosystem: Option<&Ecosystem>) -> Component {
    let purl = p
        .identifier
        .as_ref()
        .and_then(|i| non_empty(i.purl.clone()));
    Component {
        bom_ref: non_empty(p.id.clone()),
        ecosystem: purl
            .as_deref()
            .and_then(purl_ecosystem)
            .or_else(|| ecosystem.cloned()),
        purl,
        name: p.name.clone(),
        version: non_empty(p.version.clone()),
        licenses: p.licenses.clone(),
        hashes: Vec::new(),
        depends_on: p.depends_on.clone(),
    }
}

/// Every CVSS entry, by rating source (sorted), v2 then v3 then v4.
fn scores(cvss: &BTreeMap<String, Cvss>) -> Vec<Score> {
    let mut out = Vec::new();
    for (source, c) in cvss {
        let versions = [
            (&c.v2_vector, c.v2_score, "CVSSv2"),
            (&c.v3_vector, c.v3_score, "CVSSv3"),
            (&c.v40_vector, c.v40_score, "CVSSv4"),
        ];
        for (vector, score, default_method) in versions {
            let vector = non_empty(vector.clone());
            if vector.is_none() && score.is_none() {
                continue;
            }
            let method = match (&vector, default_method) {
                (Some(v), "CVSSv3") => cvss_method(v),
                _ => default_method,
            };
            out.push(Score {
                method: method.to_string(),
                score,
                vector,
                source: Some(source.clone()),
            });
        }
    }
    out
}

/// The newest-version score of the severity source, else of NVD, else of anyone.
fn preferred_score(scores: &[Score], source: Option<&str>) -> Option<f64> {
    let of = |src: Option<&str>| {
        scores
            .iter()
            .rev()
            .filter(|s| src.is_none() || s.source.as_deref() == src)
            .find_map(|s| s.score)
    };
    source
        .and_then(|s| of(Some(s)))
        .or_else(|| of(Some("nvd")))
        .or_else(|| of(None))
}

/// The ecosystem of a Trivy result `Type` (an OS family or a language analyzer).
fn ecosystem_of_type(ty: &str) -> Option<Ecosystem> {
    Some(match ty {
        "debian" | "ubuntu" => Ecosystem::Deb,
        "alpine" | "wolfi" | "chainguard" => Ecosystem::Apk,
        "redhat"
        | "centos"
        | "rocky"
        | "alma"
        | "amazon"
        | "oracle"
        | "photon"
        | "suse"
        | "opensuse"
        | "opensuse.leap"
        | "opensuse.tumbleweed"
        | "sles"
        | "fedora"
        | "cbl-mariner"
        | "azurelinux" => Ecosystem::Rpm,
        "npm" | "yarn" | "pnpm" | "bun" | "node-pkg" => Ecosystem::Npm,
        "pip" | "pipenv" | "poetry" | "uv" | "python-pkg" => Ecosystem::Pypi,
        "cargo" | "rustbinary" | "rust-binary" => Ecosystem::Cargo,
        "gomod" | "gobinary" => Ecosystem::Golang,
        "jar" | "pom" | "gradle" | "sbt" => Ecosystem::Maven,
        "composer" | "composer-vendor" => Ecosystem::Composer,
        "bundler" | "gemspec" | "rubygems" => Ecosystem::Gem,
        "nuget" | "dotnet-core" | "packages-props" => Ecosystem::Nuget,
        "pub" => Ecosystem::Pub,
        "swift" => Ecosystem::Swift,
        "cocoapods" => Ecosystem::Cocoapods,
        "conan" => Ecosystem::Conan,
        "hex" | "mix" => Ecosystem::Hex,
        _ => return None,
    })
}

// ---- the document, as Trivy writes it (unknown fields ignored) ----

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Report {
    #[serde(default)]
    schema_version: Option<u32>,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    artifact_name: Option<String>,
    #[serde(default)]
    metadata: Option<Metadata>,
    /// `None` when absent (to tell a Trivy report from any other object), empty when `null`.
    #[serde(default, deserialize_with = "present_nullable_vec")]
    results: Option<Vec<TrivyResult>>,
    #[serde(default)]
    trivy: Option<TrivyInfo>,
    #[serde(default)]
    cluster_name: Option<String>,
    #[serde(default, deserialize_with = "nullable_vec")]
    resources: Vec<K8sResource>,
    #[serde(default, deserialize_with = "nullable_vec")]
    vulnerabilities: Vec<K8sResource>,
    #[serde(default, deserialize_with = "nullable_vec")]
    misconfigurations: Vec<K8sResource>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TrivyInfo {
    #[serde(default)]
    version: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Metadata {
    #[serde(default, rename = "ImageID")]
    image_id: Option<String>,
    #[serde(default, deserialize_with = "nullable_vec")]
    repo_digests: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct K8sResource {
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default, deserialize_with = "nullable_vec")]
    results: Vec<TrivyResult>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TrivyResult {
    target: String,
    #[serde(default)]
    class: Option<String>,
    #[serde(default, rename = "Type")]
    kind: Option<String>,
    #[serde(default, deserialize_with = "nullable_vec")]
    vulnerabilities: Vec<Vulnerability>,
    #[serde(default, deserialize_with = "nullable_vec")]
    misconfigurations: Vec<Misconfiguration>,
    #[serde(default, deserialize_with = "nullable_vec")]
    secrets: Vec<Secret>,
    #[serde(default, deserialize_with = "nullable_vec")]
    packages: Vec<Package>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Vulnerability {
    #[serde(default, rename = "VulnerabilityID")]
    vulnerability_id: Option<String>,
    #[serde(default, rename = "VendorIDs", deserialize_with = "nullable_vec")]
    vendor_ids: Vec<String>,
    pkg_name: String,
    #[serde(default)]
    pkg_path: Option<String>,
    #[serde(default)]
    pkg_identifier: Option<PkgIdentifier>,
    #[serde(default)]
    installed_version: Option<String>,
    #[serde(default)]
    fixed_version: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    severity: Option<String>,
    #[serde(default)]
    severity_source: Option<String>,
    #[serde(default, rename = "PrimaryURL")]
    primary_url: Option<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default, rename = "CweIDs", deserialize_with = "nullable_vec")]
    cwe_ids: Vec<String>,
    #[serde(default, rename = "CVSS", deserialize_with = "nullable_map")]
    cvss: BTreeMap<String, Cvss>,
    #[serde(default, deserialize_with = "nullable_vec")]
    references: Vec<String>,
    #[serde(default)]
    fingerprint: Option<String>,
}

#[derive(Deserialize)]
struct PkgIdentifier {
    #[serde(default, rename = "PURL")]
    purl: Option<String>,
}

#[derive(Deserialize)]
struct Cvss {
    #[serde(default, rename = "V2Vector")]
    v2_vector: Option<String>,
    #[serde(default, rename = "V2Score")]
    v2_score: Option<f64>,
    #[serde(default, rename = "V3Vector")]
    v3_vector: Option<String>,
    #[serde(default, rename = "V3Score")]
    v3_score: Option<f64>,
    #[serde(default, rename = "V40Vector")]
    v40_vector: Option<String>,
    #[serde(default, rename = "V40Score")]
    v40_score: Option<f64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Misconfiguration {
    #[serde(default, rename = "ID")]
    id: Option<String>,
    #[serde(default, rename = "AVDID")]
    avd_id: Option<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    severity: Option<String>,
    #[serde(default, rename = "PrimaryURL")]
    primary_url: Option<String>,
    #[serde(default, deserialize_with = "nullable_vec")]
    references: Vec<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    cause_metadata: Option<CauseMetadata>,
}

/// `Code.Lines` is deliberately not read: it can quote credentials.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CauseMetadata {
    #[serde(default)]
    resource: Option<String>,
    #[serde(default)]
    start_line: Option<u32>,
    #[serde(default)]
    end_line: Option<u32>,
}

/// `Match` and `Code` are deliberately not read: they hold the secret.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Secret {
    #[serde(rename = "RuleID")]
    rule_id: String,
    #[serde(default)]
    category: Option<String>,
    #[serde(default)]
    severity: Option<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    start_line: Option<u32>,
    #[serde(default)]
    end_line: Option<u32>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Package {
    #[serde(default, rename = "ID")]
    id: Option<String>,
    name: String,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    identifier: Option<PkgIdentifier>,
    #[serde(default, deserialize_with = "nullable_vec")]
    licenses: Vec<String>,
    #[serde(default, deserialize_with = "nullable_vec")]
    depends_on: Vec<String>,
}

fn present_nullable_vec<'de, D>(d: D) -> Result<Option<Vec<TrivyResult>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    nullable_vec(d).map(Some)
}

fn nullable_map<'de, D>(d: D) -> Result<BTreeMap<String, Cvss>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    Option::<BTreeMap<String, Cvss>>::deserialize(d).map(Option::unwrap_or_default)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{ErrorKind, Place};

    fn parse_str(s: &str) -> Result<Evidence, ParseError> {
        parse(s.as_bytes(), &Limits::default())
    }

    #[test]
    fn null_lists_and_missing_optionals() {
        let ev = parse_str(
            r#"{"SchemaVersion":2,"ArtifactName":"x","Results":[
                {"Target":"a","Vulnerabilities":null,"Misconfigurations":null,"Secrets":null},
                {"Target":"b","Vulnerabilities":[{"VulnerabilityID":"CVE-1","PkgName":"p",
                  "CweIDs":null,"References":null,"CVSS":null,"VendorIDs":null}]}]}"#,
        )
        .unwrap();
        assert_eq!(ev.findings.len(), 1);
        let f = &ev.findings[0];
        assert_eq!(f.severity, Severity::Unknown);
        assert_eq!(f.key, "vuln:CVE-1|p@");
        assert!(f.fixed_versions.is_empty());
        let ev = parse_str(r#"{"SchemaVersion":2,"Results":null}"#).unwrap();
        assert!(ev.findings.is_empty());
        let ev = parse_str(r#"[{"Target":"x","Vulnerabilities":null}]"#).unwrap();
        assert!(ev.findings.is_empty());
        assert_eq!(ev.format_version, None);
    }

    #[test]
    fn wrong_type_is_reported_with_a_pointer() {
        let e = parse_str(
            r#"{"SchemaVersion":2,"Results":[{"Target":"a","Vulnerabilities":[
                {"VulnerabilityID":"CVE-1","PkgName":"p"},{"VulnerabilityID":"CVE-2","PkgName":7}]}]}"#,
        )
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Shape);
        assert_eq!(
            e.place,
            Some(Place::Pointer(
                "/Results/0/Vulnerabilities/1/PkgName".into()
            ))
        );
        let e = parse_str(r#"[{"Target":"a","Secrets":[{"Title":"x"}]}]"#).unwrap_err();
        assert_eq!(e.place, Some(Place::Pointer("/0/Secrets/0".into())));
        assert!(e.message.contains("RuleID"), "{}", e.message);
    }

    #[test]
    fn objects_that_are_not_reports_and_null_are_refused() {
        let e = parse_str(r#"{"ArtifactName":"x"}"#).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Shape);
        assert!(parse_str("null").is_err());
        assert!(parse_str("").is_err());
    }

    #[test]
    fn vulnerability_fields() {
        let ev = parse_str(
            r#"{"SchemaVersion":2,"ArtifactName":"alpine:3.11","Trivy":{"Version":"0.69.1"},
            "Metadata":{"ImageID":"sha256:AB00000000000000000000000000000000000000000000000000000000000000",
              "RepoDigests":["", "alpine@sha256:cd00000000000000000000000000000000000000000000000000000000000000"]},
            "Results":[{"Target":"app/pom.xml","Class":"lang-pkgs","Type":"pom","Vulnerabilities":[{
              "VulnerabilityID":"CVE-2025-1","VendorIDs":["GHSA-xxxx"],"PkgName":"g:a",
              "PkgIdentifier":{"PURL":"pkg:maven/g/a@1.0?type=jar"},"InstalledVersion":"1.0",
              "FixedVersion":"2.0, 1.5.1","Status":"will_not_fix","Severity":"UNKNOWN","SeveritySource":"ghsa",
              "CweIDs":["CWE-20","NVD-CWE-Other"],
              "CVSS":{"ghsa":{"V40Vector":"CVSS:4.0/AV:N","V40Score":9.3},
                      "nvd":{"V2Score":5.0,"V3Vector":"CVSS:3.1/AV:N","V3Score":7.5}}}]}]}"#,
        )
        .unwrap();
        assert_eq!(ev.tool.as_ref().unwrap().version.as_deref(), Some("0.69.1"));
        let a = ev.artifact.unwrap();
        assert_eq!(a.name, "alpine:3.11");
        assert_eq!(a.digest.unwrap(), format!("sha256:cd{}", "0".repeat(62)));
        let f = &ev.findings[0];
        assert_eq!(f.aliases, vec!["GHSA-xxxx"]);
        assert_eq!(f.fixed_versions, vec!["2.0", "1.5.1"]);
        assert_eq!(f.fix_state, Some(crate::model::FixState::WontFix));
        assert_eq!(f.cwes, vec![20]);
        // UNKNOWN from Trivy, so the severity source's own score decides.
        assert_eq!(f.severity, Severity::Critical);
        assert_eq!(f.original_severity.as_deref(), Some("UNKNOWN"));
        assert_eq!(f.scores.len(), 3);
        assert_eq!(f.key, "vuln:CVE-2025-1|pkg:maven/g/a@1.0");
        let c = f.component.as_ref().unwrap();
        assert_eq!(c.ecosystem, Some(Ecosystem::Maven));
        assert_eq!(c.path.as_deref(), Some("app/pom.xml"));
    }

    #[test]
    fn misconfiguration_statuses_and_secrets() {
        let ev = parse_str(
            r#"{"SchemaVersion":2,"Results":[{"Target":"./main.tf","Class":"config","Misconfigurations":[
              {"ID":"AVD-1","Status":"PASS"},{"ID":"AVD-2","Status":"EXCEPTION"},
              {"ID":"AVD-3","Status":"FAIL","Severity":"LOW","CauseMetadata":{"Resource":"aws_s3_bucket.a","StartLine":3,"EndLine":9,
                "Code":{"Lines":[{"Content":"password = hunter2"}]}}}]},
              {"Target":"Dockerfile","Class":"secret","Secrets":[{"RuleID":"github-pat","Severity":"CRITICAL",
                "StartLine":4,"Match":"GITHUB_PAT=ghp_topsecret","Code":{"Lines":[{"Content":"ghp_topsecret"}]}}]}]}"#,
        )
        .unwrap();
        assert_eq!(ev.findings.len(), 2);
        let m = &ev.findings[0];
        assert_eq!(m.kind, FindingKind::Misconfiguration);
        assert_eq!(m.key, "code:AVD-3|main.tf:3");
        let loc = m.location.as_ref().unwrap();
        assert_eq!(loc.resource.as_deref(), Some("aws_s3_bucket.a"));
        assert_eq!(loc.end_line, Some(9));
        let s = &ev.findings[1];
        assert_eq!(s.kind, FindingKind::Secret);
        assert_eq!(s.key, "code:github-pat|Dockerfile:4");
        let json = serde_json::to_string(&ev).unwrap();
        assert!(
            !json.contains("topsecret") && !json.contains("hunter2"),
            "{json}"
        );
    }
}
