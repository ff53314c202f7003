#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! The benchmark bundle of issue 3: an artifact with 1,000 components (CycloneDX SBOM), 300
//! findings (Trivy), 50 blocked advisories that match (OSV) and 2 attestations (in-toto JSON
//! lines with SLSA v1 provenance). Shared by the `decide` bench and the `decide_load` example.

use base64::Engine as _;
use portcullis_evidence::Limits;
use portcullis_firewall::{
    ArtifactId, BlockedAdvisory, Config, DEFAULT_EVIDENCE_CACHE, DecisionRequest, EvidenceDoc,
    Firewall,
};
use portcullis_policy::PolicyBundle;
use serde_json::json;

pub const COMPONENTS: usize = 1000;
pub const FINDINGS: usize = 300;
pub const ADVISORIES: usize = 50;
pub const ARTIFACT: &str = "registry.example.com/shop/checkout-api";

pub fn digest() -> String {
    format!("sha256:{}", "9f3c1d0a8e5b7c2f".repeat(4))
}

const LICENSES: [&str; 5] = ["Apache-2.0", "MIT", "BSD-3-Clause", "EPL-2.0", "ISC"];
const SEVERITIES: [&str; 20] = [
    "CRITICAL", "HIGH", "HIGH", "HIGH", "MEDIUM", "MEDIUM", "MEDIUM", "MEDIUM", "MEDIUM", "MEDIUM",
    "MEDIUM", "LOW", "LOW", "LOW", "LOW", "LOW", "LOW", "LOW", "LOW", "UNKNOWN",
];

fn component(i: usize) -> (String, String, String) {
    let group = format!("org.example.g{}", i % 97);
    let name = format!("lib{i}");
    let version = format!("{}.{}.{}", 1 + i % 5, i % 13, i % 31);
    (group, name, version)
}

/// The documents as (name, bytes).
pub fn documents() -> Vec<(String, Vec<u8>)> {
    let mut docs = Vec::new();
    let components: Vec<_> = (0..COMPONENTS)
        .map(|i| {
            let (g, n, v) = component(i);
            json!({
                "type": "library", "bom-ref": format!("c{i}"), "group": g, "name": n, "version": v,
                "purl": format!("pkg:maven/{g}/{n}@{v}"),
                "licenses": [{"license": {"id": LICENSES[i % LICENSES.len()]}}],
                "hashes": [{"alg": "SHA-256", "content": format!("{:064x}", i)}]
            })
        })
        .collect();
    let sbom = json!({
        "bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1,
        "metadata": {"timestamp": "2026-11-20T09:00:00Z",
            "tools": {"components": [{"type": "application", "name": "cdxgen", "version": "11.0.0"}]},
            "component": {"type": "container", "name": ARTIFACT, "version": digest()}},
        "components": components
    });
    docs.push((
        "sbom.cdx.json".into(),
        serde_json::to_vec(&sbom).unwrap_or_default(),
    ));

    let vulns: Vec<_> = (0..FINDINGS)
        .map(|k| {
            let i = (k * 7) % COMPONENTS;
            let (g, n, v) = component(i);
            let mut vuln = json!({
                "VulnerabilityID": format!("CVE-2025-{:05}", 10000 + k),
                "PkgName": format!("{g}:{n}"),
                "PkgIdentifier": {"PURL": format!("pkg:maven/{g}/{n}@{v}")},
                "InstalledVersion": v,
                "Severity": SEVERITIES[k % SEVERITIES.len()],
                "Title": format!("{n}: a synthetic flaw number {k}"),
                "CweIDs": ["CWE-79"],
                "CVSS": {"nvd": {"V3Vector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N", "V3Score": 7.5}}
            });
            if k % 10 < 7 {
                vuln["FixedVersion"] = json!(format!("{}.99.0", 1 + i % 5));
                vuln["Status"] = json!("fixed");
            } else {
                vuln["Status"] = json!("affected");
            }
            vuln
        })
        .collect();
    let trivy = json!({
        "SchemaVersion": 2, "CreatedAt": "2026-11-20T09:15:12Z", "ArtifactName": format!("{ARTIFACT}:2.4.0"),
        "ArtifactType": "container_image",
        "Results": [{"Target": "app.jar", "Class": "lang-pkgs", "Type": "jar", "Vulnerabilities": vulns}]
    });
    docs.push((
        "trivy.json".into(),
        serde_json::to_vec(&trivy).unwrap_or_default(),
    ));

    let lines: Vec<String> = (0..2)
        .map(|j| {
            let statement = json!({
                "_type": "https://in-toto.io/Statement/v1",
                "subject": [{"name": ARTIFACT, "digest": {"sha256": digest().trim_start_matches("sha256:")}}],
                "predicateType": "https://slsa.dev/provenance/v1",
                "predicate": {
                    "buildDefinition": {
                        "buildType": "https://actions.github.io/buildtypes/workflow/v1",
                        "externalParameters": {"workflow": {"ref": "refs/heads/main", "repository": "https://github.com/example/shop", "path": ".github/workflows/release.yml"}},
                        "resolvedDependencies": [{"uri": "git+https://github.com/example/shop@refs/heads/main", "digest": {"gitCommit": format!("{:040x}", j)}}]
                    },
                    "runDetails": {"builder": {"id": "https://github.com/actions/runner/github-hosted"}, "metadata": {"invocationId": format!("run-{j}")}}
                }
            });
            let payload = base64::engine::general_purpose::STANDARD
                .encode(serde_json::to_vec(&statement).unwrap_or_default());
            json!({"payloadType": "application/vnd.in-toto+json", "payload": payload, "signatures": [{"keyid": "release-key", "sig": "c2ln"}]}).to_string()
        })
        .collect();
    docs.push((
        "provenance.intoto.jsonl".into(),
        lines.join("\n").into_bytes(),
    ));
    docs
}

/// The 50 OSV advisories, each affecting one component of the SBOM at its version.
pub fn advisories() -> Vec<(String, Vec<u8>)> {
    (0..ADVISORIES)
        .map(|k| {
            let i = (k * 19 + 3) % COMPONENTS;
            let (g, n, _) = component(i);
            let osv = json!({
                "schema_version": "1.6.0", "id": format!("GHSA-bench-{k:04}"),
                "modified": "2026-11-01T00:00:00Z", "published": "2026-10-01T00:00:00Z",
                "aliases": [format!("CVE-2026-{:05}", 20000 + k)],
                "summary": format!("synthetic advisory {k}"),
                "affected": [{"package": {"ecosystem": "Maven", "name": format!("{g}:{n}")},
                    "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "9.0.0"}]}]}]
            });
            (format!("advisory-{k}.osv.json"), serde_json::to_vec(&osv).unwrap_or_default())
        })
        .collect()
}

/// The built-in library on the three usual environments, with the 50 advisories blocked and the
/// prepared-evidence cache on or off; and the request for `production`.
pub fn setup(cache: bool) -> (Firewall, DecisionRequest) {
    let limits = Limits::default();
    let config = Config::from_yaml(
        "environments:\n  production: { protected: true }\n  staging: { protected: true }\n  dev: { protected: false }\n",
        "bench",
    )
    .unwrap();
    let blocked = advisories()
        .into_iter()
        .flat_map(|(name, bytes)| {
            let doc = EvidenceDoc::parse(&name, &bytes, &limits).unwrap();
            doc.evidence
                .advisories
                .into_iter()
                .map(move |a| BlockedAdvisory {
                    advisory: a,
                    source: doc.digest.clone(),
                })
        })
        .collect();
    let fw = Firewall::new(PolicyBundle::builtin().unwrap(), config)
        .unwrap()
        .with_advisories(blocked)
        .with_evidence_cache(if cache { DEFAULT_EVIDENCE_CACHE } else { 0 });
    let artifact = ArtifactId {
        name: ARTIFACT.into(),
        digest: digest(),
    };
    let mut req = DecisionRequest::new(artifact, "production");
    for (name, bytes) in documents() {
        req.evidence
            .push(EvidenceDoc::parse(&name, &bytes, &limits).unwrap());
    }
    (fw, req)
}
