//! SPDX 2.2 / 2.3 JSON into the evidence model (SPDX 3 is refused as unsupported).
//!
//! - `packages[]` → components: `SPDXID` as `bom_ref`, the purl from an `externalRefs` entry of
//!   type `purl`, `versionInfo`, `licenseConcluded` then `licenseDeclared` (unless `NOASSERTION`
//!   or `NONE`), `checksums` (algorithm as in CycloneDX: `SHA256` → `sha256`).
//! - `relationships`: `A DEPENDS_ON B` and `B DEPENDENCY_OF A` / `B RUNTIME_DEPENDENCY_OF A` →
//!   `B` in `A.depends_on`; `DOCUMENT DESCRIBES X`, `X DESCRIBED_BY DOCUMENT` and
//!   `documentDescribes` → the artifact (the first described package: its name and SHA-256).
//! - `creationInfo.created` → `created`; the first `Tool: name-version` creator → `tool`.
//! - Vulnerabilities: SPDX 2.3 has no vulnerability section, but tools (e.g. the DefectDojo
//!   samples, and the SPDX "SBOM with security" example) put advisories on packages as
//!   `externalRefs` of category `SECURITY`:
//!   - type `advisory` → one finding (kind vulnerability, severity unknown — SPDX states none),
//!     its id the CVE / GHSA / other id named in the locator URL, else the URL itself;
//!   - type `url` → a finding only when the URL names a vulnerability id;
//!   - type `fix` → a reference of the same package's finding with the id it names (of all its
//!     findings when it names none);
//!   - `cpe22Type` / `cpe23Type` / `swid` are identifiers, not findings.
//!
//! The same id twice on one package gives one finding.

use serde::Deserialize;

use crate::error::{ErrorKind, ParseError};
use crate::formats::cyclonedx::{ecosystem_of, hash};
use crate::model::{Artifact, Component, ComponentRef, Finding, FindingKind, Severity, Tool};
use crate::{Evidence, Format, Limits};

const FORMAT: Format = Format::SpdxJson;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Document {
    spdx_version: String,
    #[serde(default)]
    creation_info: Option<CreationInfo>,
    #[serde(default)]
    document_describes: Vec<String>,
    #[serde(default)]
    packages: Vec<Package>,
    #[serde(default)]
    relationships: Vec<Relationship>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct CreationInfo {
    created: Option<String>,
    creators: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Package {
    #[serde(rename = "SPDXID")]
    spdxid: String,
    name: String,
    #[serde(default)]
    version_info: Option<String>,
    #[serde(default)]
    license_concluded: Option<String>,
    #[serde(default)]
    license_declared: Option<String>,
    #[serde(default)]
    checksums: Vec<Checksum>,
    #[serde(default)]
    external_refs: Vec<ExternalRef>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Checksum {
    algorithm: String,
    checksum_value: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExternalRef {
    reference_category: String,
    reference_type: String,
    reference_locator: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Relationship {
    spdx_element_id: String,
    relationship_type: String,
    related_spdx_element: String,
}

/// Just the version, to name it when the full parse fails on an SPDX 3 document.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct VersionProbe {
    #[serde(default)]
    spdx_version: Option<String>,
}

fn unsupported(version: &str) -> ParseError {
    ParseError::new(
        ErrorKind::Unsupported,
        Some(FORMAT),
        format!("{version} is not supported; Portcullis reads SPDX 2.2 and 2.3 JSON"),
    )
}

fn is_supported(version: &str) -> bool {
    version
        .strip_prefix("SPDX-2.")
        .is_some_and(|minor| !minor.is_empty() && minor.bytes().all(|b| b.is_ascii_digit()))
}

/// Parse an SPDX 2.x JSON document.
pub fn parse(bytes: &[u8], limits: &Limits) -> Result<Evidence, ParseError> {
    let doc: Document = match crate::json::from_slice_located(bytes, FORMAT, limits) {
        Ok(d) => d,
        Err(e) => {
            if let Ok(VersionProbe {
                spdx_version: Some(v),
            }) = crate::json::from_slice::<VersionProbe>(bytes, FORMAT, limits)
                && !is_supported(&v)
            {
                return Err(unsupported(&v));
            }
            return Err(e);
        }
    };
    if !is_supported(&doc.spdx_version) {
        return Err(unsupported(&doc.spdx_version));
    }
    Ok(convert(doc))
}

fn convert(doc: Document) -> Evidence {
    let mut ev = Evidence::new(FORMAT);
    ev.format_version = Some(doc.spdx_version.clone());
    if let Some(ci) = &doc.creation_info {
        ev.created = ci.created.clone();
        ev.tool = ci.creators.iter().find_map(|c| tool_of(c));
    }
    let tool = ev
        .tool
        .clone()
        .unwrap_or_else(|| Tool::new("unknown", None));

    let mut components: Vec<Component> = Vec::with_capacity(doc.packages.len());
    let mut findings = Vec::new();
    for p in &doc.packages {
        let purl = p
            .external_refs
            .iter()
            .find(|r| r.reference_type == "purl")
            .map(|r| r.reference_locator.clone());
        let mut licenses: Vec<String> = Vec::new();
        for l in [&p.license_concluded, &p.license_declared]
            .into_iter()
            .flatten()
        {
            let l = l.trim();
            if !l.is_empty()
                && l != "NOASSERTION"
                && l != "NONE"
                && !licenses.iter().any(|x| x == l)
            {
                licenses.push(l.to_string());
            }
        }
        let c = Component {
            bom_ref: Some(p.spdxid.clone()),
            ecosystem: purl.as_deref().and_then(ecosystem_of),
            purl,
            name: p.name.clone(),
            version: p.version_info.clone(),
            licenses,
            hashes: p
                .checksums
                .iter()
                .map(|c| hash(&c.algorithm, &c.checksum_value))
                .collect(),
            depends_on: Vec::new(),
        };
        security_findings(p, &c, &tool, &mut findings);
        components.push(c);
    }

    let index: std::collections::HashMap<&str, usize> = doc
        .packages
        .iter()
        .enumerate()
        .map(|(i, p)| (p.spdxid.as_str(), i))
        .collect();
    let mut described: Vec<&str> = doc.document_describes.iter().map(String::as_str).collect();
    let mut edges: Vec<(usize, String)> = Vec::new();
    for r in &doc.relationships {
        let (from, to) = match r.relationship_type.as_str() {
            "DEPENDS_ON" => (&r.spdx_element_id, &r.related_spdx_element),
            "DEPENDENCY_OF" | "RUNTIME_DEPENDENCY_OF" => {
                (&r.related_spdx_element, &r.spdx_element_id)
            }
            "DESCRIBES" => {
                described.push(&r.related_spdx_element);
                continue;
            }
            "DESCRIBED_BY" => {
                described.push(&r.spdx_element_id);
                continue;
            }
            _ => continue,
        };
        if let Some(&i) = index.get(from.as_str()) {
            edges.push((i, to.clone()));
        }
    }
    for (i, to) in edges {
        if let Some(c) = components.get_mut(i)
            && !c.depends_on.contains(&to)
        {
            c.depends_on.push(to);
        }
    }
    ev.artifact = described.iter().find_map(|d| {
        let c = components.get(*index.get(d)?)?;
        Some(Artifact {
            name: c.name.clone(),
            digest: c
                .hashes
                .iter()
                .find(|h| h.alg == "sha256")
                .map(|h| format!("sha256:{}", h.value)),
        })
    });
    ev.components = components;
    ev.findings = findings;
    ev
}

/// `Tool: syft-1.50.0` → syft, 1.50.0 (SPDX writes tools as `name-version`).
fn tool_of(creator: &str) -> Option<Tool> {
    let t = creator.strip_prefix("Tool:")?.trim();
    if t.is_empty() {
        return None;
    }
    match t.rsplit_once('-') {
        Some((n, v)) if !n.is_empty() && v.starts_with(|c: char| c.is_ascii_digit()) => {
            Some(Tool::new(n, Some(v.to_string())))
        }
        _ => Some(Tool::new(t, None)),
    }
}

/// The vulnerability id a URL names: a CVE or GHSA id anywhere in it, else a last path segment
/// shaped like an id (`PREFIX-…` with a digit, e.g. `PYSEC-2021-1`, `RUSTSEC-2020-0001`).
fn vuln_id_in(url: &str) -> Option<String> {
    let upper = url.to_ascii_uppercase();
    for prefix in ["CVE-", "GHSA-"] {
        if let Some(start) = upper.find(prefix) {
            let rest = upper.get(start..).unwrap_or_default();
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
                .unwrap_or(rest.len());
            let id = rest.get(..end).unwrap_or(rest);
            if id.len() > prefix.len() {
                // GHSA ids are conventionally lower-case after the prefix.
                return Some(match id.strip_prefix("GHSA-") {
                    Some(tail) => format!("GHSA-{}", tail.to_ascii_lowercase()),
                    None => id.to_string(),
                });
            }
        }
    }
    let end = url.find(['?', '#']).unwrap_or(url.len());
    let last = url.get(..end)?.trim_end_matches('/').rsplit('/').next()?;
    let (prefix, tail) = last.split_once('-')?;
    (prefix.len() >= 2
        && prefix.bytes().all(|b| b.is_ascii_uppercase())
        && tail.bytes().any(|b| b.is_ascii_digit()))
    .then(|| last.to_string())
}

fn security_findings(p: &Package, c: &Component, tool: &Tool, out: &mut Vec<Finding>) {
    let first = out.len();
    let mut fixes: Vec<(Option<String>, &str)> = Vec::new();
    for r in &p.external_refs {
        if !r.reference_category.eq_ignore_ascii_case("SECURITY") {
            continue;
        }
        let locator = r.reference_locator.trim();
        let id = match r.reference_type.as_str() {
            "advisory" => vuln_id_in(locator).unwrap_or_else(|| locator.to_string()),
            "url" => match vuln_id_in(locator) {
                Some(id) => id,
                None => continue,
            },
            "fix" => {
                fixes.push((vuln_id_in(locator), locator));
                continue;
            }
            _ => continue,
        };
        let own = out.get_mut(first..).unwrap_or_default();
        if let Some(f) = own.iter_mut().find(|f| f.id == id) {
            if !f.references.iter().any(|x| x == locator) {
                f.references.push(locator.to_string());
            }
            continue;
        }
        let key = Finding::package_key(&id, &[], c.purl.as_deref(), &c.name, c.version.as_deref());
        let mut f = Finding::new(
            FindingKind::Vulnerability,
            id,
            Severity::Unknown,
            tool.clone(),
            key,
        );
        f.references.push(locator.to_string());
        f.component = Some(ComponentRef {
            purl: c.purl.clone(),
            name: c.name.clone(),
            version: c.version.clone(),
            ecosystem: c.ecosystem.clone(),
            path: None,
        });
        out.push(f);
    }
    for (id, locator) in fixes {
        for f in out.get_mut(first..).unwrap_or_default() {
            if id.as_ref().is_none_or(|id| *id == f.id)
                && !f.references.iter().any(|x| x == locator)
            {
                f.references.push(locator.to_string());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Ecosystem;

    const DOC: &str = r#"{
      "spdxVersion": "SPDX-2.3", "SPDXID": "SPDXRef-DOCUMENT", "name": "x",
      "creationInfo": {"created": "2024-01-01T00:00:00Z",
                       "creators": ["Organization: A", "Tool: syft-1.50.0"]},
      "documentDescribes": ["SPDXRef-app"],
      "packages": [
        {"SPDXID": "SPDXRef-app", "name": "app", "versionInfo": "1",
         "checksums": [{"algorithm": "SHA256", "checksumValue": "AA"}]},
        {"SPDXID": "SPDXRef-lib", "name": "lib", "versionInfo": "2",
         "licenseConcluded": "NOASSERTION", "licenseDeclared": "MIT",
         "externalRefs": [
           {"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": "pkg:npm/lib@2"},
           {"referenceCategory": "SECURITY", "referenceType": "cpe23Type", "referenceLocator": "cpe:2.3:a:lib:lib:2"},
           {"referenceCategory": "SECURITY", "referenceType": "advisory", "referenceLocator": "https://nvd.nist.gov/vuln/detail/CVE-2021-1"},
           {"referenceCategory": "SECURITY", "referenceType": "fix", "referenceLocator": "https://f/CVE-2021-1"},
           {"referenceCategory": "SECURITY", "referenceType": "url", "referenceLocator": "https://github.com/advisories/GHSA-ABCD-efgh-ijkl"},
           {"referenceCategory": "SECURITY", "referenceType": "url", "referenceLocator": "https://example.com/blog"},
           {"referenceCategory": "SECURITY", "referenceType": "advisory", "referenceLocator": "https://x/no-identifier"}
         ]}
      ],
      "relationships": [
        {"spdxElementId": "SPDXRef-lib", "relationshipType": "DEPENDENCY_OF", "relatedSpdxElement": "SPDXRef-app"},
        {"spdxElementId": "SPDXRef-app", "relationshipType": "DEPENDS_ON", "relatedSpdxElement": "SPDXRef-other"}
      ]
    }"#;

    #[test]
    fn reads_packages_relationships_and_security_refs() {
        let ev = parse(DOC.as_bytes(), &Limits::default()).unwrap();
        assert_eq!(ev.format_version.as_deref(), Some("SPDX-2.3"));
        assert_eq!(ev.tool, Some(Tool::new("syft", Some("1.50.0".into()))));
        let art = ev.artifact.as_ref().unwrap();
        assert_eq!(
            (art.name.as_str(), art.digest.as_deref()),
            ("app", Some("sha256:aa"))
        );
        assert_eq!(
            ev.components[0].depends_on,
            ["SPDXRef-lib", "SPDXRef-other"]
        );
        let lib = &ev.components[1];
        assert_eq!(lib.licenses, ["MIT"]);
        assert_eq!(lib.ecosystem, Some(Ecosystem::Npm));
        let ids: Vec<&str> = ev.findings.iter().map(|f| f.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "CVE-2021-1",
                "GHSA-abcd-efgh-ijkl",
                "https://x/no-identifier"
            ]
        );
        assert_eq!(
            ev.findings[0].references,
            [
                "https://nvd.nist.gov/vuln/detail/CVE-2021-1",
                "https://f/CVE-2021-1"
            ]
        );
        assert_eq!(ev.findings[0].key, "vuln:CVE-2021-1|pkg:npm/lib@2");
        assert_eq!(ev.findings[0].severity, Severity::Unknown);
    }

    #[test]
    fn spdx3_is_unsupported_and_shape_errors_are_located() {
        let l = Limits::default();
        let e = parse(br#"{"spdxVersion":"SPDX-3.0","@graph":[]}"#, &l).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unsupported);
        assert!(e.message.contains("SPDX-3.0"));
        let e = parse(br#"{"spdxVersion":"SPDX-3.0","packages":7}"#, &l).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unsupported);
        let e = parse(
            br#"{"spdxVersion":"SPDX-2.3","packages":[{"SPDXID":"a"}]}"#,
            &l,
        )
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Shape);
        assert_eq!(e.place, Some(crate::Place::Pointer("/packages/0".into())));
    }

    #[test]
    fn ids_in_urls() {
        assert_eq!(
            vuln_id_in("https://a/CVE-2024-10001").as_deref(),
            Some("CVE-2024-10001")
        );
        assert_eq!(
            vuln_id_in("https://osv.dev/PYSEC-2021-9").as_deref(),
            Some("PYSEC-2021-9")
        );
        assert_eq!(vuln_id_in("https://a/no-identifier-here"), None);
    }
}
