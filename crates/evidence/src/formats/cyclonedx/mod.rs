//! CycloneDX 1.2–1.6, JSON and XML, into the evidence model.
//!
//! What is read:
//! - `specVersion` (JSON) or the version in the XML namespace → `format_version`;
//! - `metadata.timestamp` → `created`; the first of `metadata.tools` (the 1.4 array or the 1.5+
//!   `{components, services}` object) → `tool`; `metadata.component` → `artifact` (its SHA-256
//!   hash, or the `sha256:` version of an `oci`/`docker` purl, as the digest);
//! - every component, nested ones included (flattened, in document order): `bom-ref`, `purl`,
//!   `name`, `version`, licenses (`license.id`, else `license.name`, and `expression`), hashes
//!   (algorithm lower-cased without punctuation, `SHA-256` → `sha256`; hex lower-cased), and the
//!   ecosystem from the purl type. The `group` is not prefixed to the name: `name` stays what the
//!   document calls the component, and the group is part of the purl when there is one.
//! - `dependencies[].dependsOn` → `depends_on` of the component with that `ref` (every component
//!   carrying that ref, when refs are duplicated; edges of unknown refs are dropped silently);
//! - `vulnerabilities[]` (BOMs with embedded vulnerabilities and pure VEX documents): one
//!   [`Finding`] per vulnerability × `affects[].ref`. See [`findings`].

// FxHash: the bom-ref index is hashed once per component and per edge; SipHash showed in profiles.
use rustc_hash::FxHashMap as HashMap;

use crate::model::{
    Artifact, Component, ComponentRef, Ecosystem, Finding, FindingKind, Hash, Score, Severity,
    Tool, VexStatus,
};
use crate::{Evidence, Format};

mod json;
mod xml;

pub use json::{parse_json, parse_json_reader};
pub use xml::parse_xml;

/// A vulnerability as both syntaxes carry it, before it becomes findings.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct Vuln {
    #[serde(rename = "bom-ref")]
    pub bom_ref: Option<String>,
    pub id: Option<String>,
    pub source: Option<VulnSource>,
    pub references: Vec<VulnReference>,
    pub ratings: Vec<Rating>,
    pub cwes: Vec<u32>,
    pub description: Option<String>,
    pub detail: Option<String>,
    pub recommendation: Option<String>,
    pub advisories: Vec<Advisory>,
    pub affects: Vec<Affects>,
    pub analysis: Option<Analysis>,
    /// The component a vulnerability is nested in (the 1.2/1.3 XML vulnerability extension
    /// puts `<v:vulnerabilities>` inside `<component>`).
    #[serde(skip)]
    pub owner: Option<ComponentRef>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct VulnSource {
    pub name: Option<String>,
    pub url: Option<String>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct VulnReference {
    pub id: Option<String>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct Rating {
    pub source: Option<VulnSource>,
    pub score: Option<f64>,
    pub severity: Option<String>,
    pub method: Option<String>,
    pub vector: Option<String>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct Advisory {
    pub url: Option<String>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct Affects {
    #[serde(rename = "ref")]
    pub reference: String,
    pub versions: Vec<AffectedVersion>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct AffectedVersion {
    pub version: Option<String>,
    pub status: Option<String>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct Analysis {
    pub state: Option<String>,
    pub justification: Option<String>,
    pub response: Vec<String>,
    pub detail: Option<String>,
}

/// Everything a CycloneDX document said, in the shape both syntaxes fill in.
pub(crate) struct Doc {
    pub format: Format,
    pub version: Option<String>,
    pub created: Option<String>,
    pub tool: Option<Tool>,
    pub artifact: Option<Artifact>,
    pub components: Vec<Component>,
    /// `(ref, dependsOn)`.
    pub dependencies: Vec<(String, Vec<String>)>,
    pub vulns: Vec<Vuln>,
}

impl Doc {
    pub fn new(format: Format) -> Self {
        Self {
            format,
            version: None,
            created: None,
            tool: None,
            artifact: None,
            components: Vec::new(),
            dependencies: Vec::new(),
            vulns: Vec::new(),
        }
    }

    pub fn into_evidence(self) -> Evidence {
        let Doc {
            format,
            version,
            created,
            tool,
            artifact,
            mut components,
            dependencies,
            vulns,
        } = self;
        attach_dependencies(&mut components, dependencies);
        let findings = findings(&components, vulns, tool.as_ref(), artifact.as_ref());
        let mut ev = Evidence::new(format);
        ev.format_version = version;
        ev.created = created;
        ev.tool = tool;
        ev.artifact = artifact;
        ev.components = components;
        ev.findings = findings;
        ev
    }
}

fn attach_dependencies(components: &mut [Component], dependencies: Vec<(String, Vec<String>)>) {
    if dependencies.is_empty() {
        return;
    }
    // First component of each ref; later duplicates (rare) chained through `next_same`.
    let mut index: HashMap<&str, usize> =
        HashMap::with_capacity_and_hasher(components.len(), Default::default());
    let mut next_same: HashMap<usize, usize> = HashMap::default();
    let mut last_of: HashMap<usize, usize> = HashMap::default();
    for (i, c) in components.iter().enumerate() {
        if let Some(r) = &c.bom_ref {
            match index.get(r.as_str()) {
                None => {
                    index.insert(r.as_str(), i);
                }
                Some(&first) => {
                    let tail = last_of.get(&first).copied().unwrap_or(first);
                    next_same.insert(tail, i);
                    last_of.insert(first, i);
                }
            }
        }
    }
    let mut edges: Vec<(usize, Vec<String>)> = Vec::with_capacity(dependencies.len());
    for (reference, depends_on) in dependencies {
        if depends_on.is_empty() {
            continue;
        }
        let Some(&first) = index.get(reference.as_str()) else {
            continue;
        };
        let mut at = first;
        while let Some(&next) = next_same.get(&at) {
            edges.push((at, depends_on.clone()));
            at = next;
        }
        edges.push((at, depends_on));
    }
    drop(index);
    for (i, deps) in edges {
        if let Some(c) = components.get_mut(i) {
            if c.depends_on.is_empty() {
                c.depends_on = deps;
            } else {
                c.depends_on.extend(deps);
            }
        }
    }
}

/// One [`Finding`] per vulnerability × affected ref (a vulnerability nested in a component
/// concerns that component; one that names no affected ref concerns the BOM's subject,
/// `metadata.component`; each gives one finding).
///
/// - `id` (else the vulnerability's `bom-ref`, else `unidentified`); aliases from
///   `references[].id`;
/// - each rating → a [`Score`] (its source, else the vulnerability's source); severity is the
///   highest rating that states a severity word, else the highest score's CVSS band, else
///   unknown; the winning word is kept in `original_severity`;
/// - `description`, then `detail`, then `Recommendation: …` joined into `description` (the model
///   has no recommendation field);
/// - `advisories[].url` and `source.url` → references; `cwes` as given;
/// - fixed versions: `affects[].versions[].version` whose status is `unaffected`, for that ref;
/// - `analysis` → [`VexStatus`];
/// - the affected ref is resolved to a component by bom-ref (a BOM-Link `urn:cdx:…#ref` by its
///   fragment); an unresolved ref that is a purl stands for itself; anything else is kept as
///   the component name.
pub(crate) fn findings(
    components: &[Component],
    vulns: Vec<Vuln>,
    tool: Option<&Tool>,
    artifact: Option<&Artifact>,
) -> Vec<Finding> {
    if vulns.is_empty() {
        return Vec::new();
    }
    let mut by_ref: HashMap<&str, &Component> = HashMap::default();
    let mut by_purl: HashMap<&str, &Component> = HashMap::default();
    for c in components {
        if let Some(r) = &c.bom_ref {
            by_ref.entry(r.as_str()).or_insert(c);
        }
        if let Some(p) = &c.purl {
            by_purl.entry(p.as_str()).or_insert(c);
        }
    }
    let tool = tool.cloned().unwrap_or_else(|| Tool::new("unknown", None));
    let mut out = Vec::new();
    for v in vulns {
        let id =
            v.id.clone()
                .filter(|s| !s.trim().is_empty())
                .or_else(|| v.bom_ref.clone())
                .unwrap_or_else(|| "unidentified".to_string());
        let mut aliases: Vec<String> = Vec::new();
        for r in &v.references {
            if let Some(a) = &r.id
                && a != &id
                && !aliases.contains(a)
            {
                aliases.push(a.clone());
            }
        }
        let (severity, original_severity) = severity_of(&v.ratings);
        let vuln_source = v.source.as_ref().and_then(|s| s.name.clone());
        let scores: Vec<Score> = v
            .ratings
            .iter()
            .filter(|r| r.score.is_some() || r.vector.is_some() || r.method.is_some())
            .map(|r| Score {
                method: r.method.clone().unwrap_or_else(|| "other".to_string()),
                score: r.score,
                vector: r.vector.clone(),
                source: r
                    .source
                    .as_ref()
                    .and_then(|s| s.name.clone())
                    .or_else(|| vuln_source.clone()),
            })
            .collect();
        let mut description_parts: Vec<String> = Vec::new();
        for part in [&v.description, &v.detail] {
            if let Some(p) = part.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
                description_parts.push(p.to_string());
            }
        }
        if let Some(r) = v
            .recommendation
            .as_deref()
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            description_parts.push(format!("Recommendation: {r}"));
        }
        // Copied into a finding per affected component: bounded.
        let description = (!description_parts.is_empty())
            .then(|| crate::model::bounded_text(&description_parts.join("\n\n")));
        let mut references: Vec<String> = Vec::new();
        let urls = v
            .advisories
            .iter()
            .filter_map(|a| a.url.as_ref())
            .chain(v.source.as_ref().and_then(|s| s.url.as_ref()));
        for u in urls {
            if !references.contains(u) {
                references.push(u.clone());
            }
        }
        let vex = v.analysis.as_ref().and_then(|a| {
            a.state.as_ref().map(|state| VexStatus {
                state: state.clone(),
                justification: a.justification.clone(),
                response: a.response.clone(),
                detail: a.detail.clone(),
            })
        });
        let mut base = Finding::new(
            FindingKind::Vulnerability,
            id,
            severity,
            tool.clone(),
            String::new(),
        );
        base.aliases = aliases;
        base.description = description;
        base.original_severity = original_severity;
        base.scores = scores;
        base.cwes = v.cwes.clone();
        base.references = references;
        base.vex = vex;

        let targets: Vec<(Option<ComponentRef>, Vec<String>)> = if let Some(owner) = v.owner {
            vec![(Some(owner), Vec::new())]
        } else if v.affects.is_empty() {
            let subject = artifact.map(|a| ComponentRef {
                purl: None,
                name: a.name.clone(),
                version: None,
                ecosystem: None,
                path: None,
            });
            vec![(subject, Vec::new())]
        } else {
            v.affects
                .iter()
                .map(|a| {
                    let fixed = a
                        .versions
                        .iter()
                        .filter(|x| x.status.as_deref() == Some("unaffected"))
                        .filter_map(|x| x.version.clone())
                        .collect();
                    (Some(resolve(&a.reference, &by_ref, &by_purl)), fixed)
                })
                .collect()
        };
        for (component, fixed) in targets {
            let mut f = base.clone();
            f.key = match &component {
                Some(c) => Finding::package_key(
                    &f.id,
                    &f.aliases,
                    c.purl.as_deref(),
                    &c.name,
                    c.version.as_deref(),
                ),
                None => Finding::package_key(&f.id, &f.aliases, None, "", None),
            };
            f.component = component;
            f.fixed_versions = fixed;
            out.push(f);
        }
    }
    out
}

fn severity_of(ratings: &[Rating]) -> (Severity, Option<String>) {
    let mut best: Option<(Severity, &str)> = None;
    for r in ratings {
        if let Some(word) = r.severity.as_deref().filter(|w| !w.trim().is_empty()) {
            let s = Severity::from_word(word);
            if best.is_none_or(|(b, _)| s > b) {
                best = Some((s, word));
            }
        }
    }
    if let Some((s, word)) = best
        && s != Severity::Unknown
    {
        return (s, Some(word.to_string()));
    }
    let from_score = ratings
        .iter()
        .filter_map(|r| r.score)
        .map(Severity::from_cvss_score)
        .max();
    match from_score {
        Some(s) => (s, best.map(|(_, w)| w.to_string())),
        None => (Severity::Unknown, best.map(|(_, w)| w.to_string())),
    }
}

fn resolve(
    reference: &str,
    by_ref: &HashMap<&str, &Component>,
    by_purl: &HashMap<&str, &Component>,
) -> ComponentRef {
    let from = |c: &Component| ComponentRef {
        purl: c.purl.clone(),
        name: c.name.clone(),
        version: c.version.clone(),
        ecosystem: c.ecosystem.clone(),
        path: None,
    };
    if let Some(c) = by_ref.get(reference) {
        return from(c);
    }
    // A BOM-Link, `urn:cdx:<serial>/<version>#<bom-ref>`, points into another BOM.
    let local = if reference.starts_with("urn:cdx:") {
        reference
            .split_once('#')
            .map(|(_, frag)| percent_decode(frag))
            .unwrap_or_else(|| reference.to_string())
    } else {
        reference.to_string()
    };
    if let Some(c) = by_ref
        .get(local.as_str())
        .or_else(|| by_purl.get(local.as_str()))
    {
        return from(c);
    }
    if local.starts_with("pkg:") {
        let (name, version) = purl_name_version(&local);
        return ComponentRef {
            ecosystem: ecosystem_of(&local),
            purl: Some(local),
            name,
            version,
            path: None,
        };
    }
    ComponentRef {
        purl: None,
        name: local,
        version: None,
        ecosystem: None,
        path: None,
    }
}

/// The ecosystem of a purl, from its type.
pub(crate) fn ecosystem_of(purl: &str) -> Option<Ecosystem> {
    let rest = purl.strip_prefix("pkg:")?.trim_start_matches('/');
    let ty = rest.split('/').next().filter(|t| !t.is_empty())?;
    Some(Ecosystem::from_purl_type(ty))
}

/// Name (last path segment) and version of a purl, percent-decoded.
pub(crate) fn purl_name_version(purl: &str) -> (String, Option<String>) {
    let end = purl.find(['?', '#']).unwrap_or(purl.len());
    let core = purl.get(..end).unwrap_or(purl);
    let (path, version) = match core.rsplit_once('@') {
        Some((p, v)) if !p.ends_with("pkg:") => (p, Some(percent_decode(v))),
        _ => (core, None),
    };
    let name = path.rsplit('/').next().unwrap_or(path);
    (percent_decode(name), version)
}

pub(crate) fn percent_decode(s: &str) -> String {
    if !s.contains('%') {
        return s.to_string();
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes.get(i).copied().unwrap_or_default();
        if b == b'%'
            && let Some(hex) = bytes.get(i + 1..i + 3)
            && let Ok(hex) = std::str::from_utf8(hex)
            && let Ok(v) = u8::from_str_radix(hex, 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `SHA-256` → `sha256`, `BLAKE2b-256` → `blake2b256`, `SHA3-512` → `sha3512`.
pub(crate) fn normalize_alg(alg: &str) -> String {
    alg.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

pub(crate) fn hash(alg: &str, content: &str) -> Hash {
    Hash {
        alg: normalize_alg(alg),
        value: content.trim().to_ascii_lowercase(),
    }
}

/// The subject of the BOM: its name, and a digest from its SHA-256 hash or its oci/docker purl.
pub(crate) fn artifact_of(c: &Component) -> Artifact {
    let digest = c
        .hashes
        .iter()
        .find(|h| h.alg == "sha256")
        .map(|h| format!("sha256:{}", h.value))
        .or_else(|| {
            let purl = c.purl.as_deref()?;
            if !matches!(
                ecosystem_of(purl),
                Some(Ecosystem::Oci) | Some(Ecosystem::Docker)
            ) {
                return None;
            }
            let (_, version) = purl_name_version(purl);
            let v = version?.to_ascii_lowercase();
            v.starts_with("sha256:").then_some(v)
        });
    Artifact {
        name: c.name.clone(),
        digest,
    }
}

/// The version in a CycloneDX XML namespace, `http://cyclonedx.org/schema/bom/1.5` → `1.5`.
pub(crate) fn version_of_namespace(ns: &str) -> Option<String> {
    ns.strip_prefix("http://cyclonedx.org/schema/bom/")
        .map(|v| v.trim_end_matches('/').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(normalize_alg("SHA-256"), "sha256");
        assert_eq!(normalize_alg("BLAKE2b-256"), "blake2b256");
        assert_eq!(ecosystem_of("pkg:maven/org.x/y@1"), Some(Ecosystem::Maven));
        assert_eq!(ecosystem_of("not a purl"), None);
        assert_eq!(
            purl_name_version("pkg:npm/%40angular/core@1.0.0?x=y"),
            ("core".to_string(), Some("1.0.0".to_string()))
        );
        assert_eq!(
            purl_name_version("pkg:oci/debian@sha256%3Aabc"),
            ("debian".to_string(), Some("sha256:abc".to_string()))
        );
        assert_eq!(
            version_of_namespace("http://cyclonedx.org/schema/bom/1.6").as_deref(),
            Some("1.6")
        );
    }

    #[test]
    fn severity_prefers_words_then_scores() {
        let r = |sev: Option<&str>, score: Option<f64>| Rating {
            severity: sev.map(String::from),
            score,
            ..Rating::default()
        };
        assert_eq!(
            severity_of(&[r(Some("medium"), Some(9.9)), r(Some("high"), None)]),
            (Severity::High, Some("high".into()))
        );
        assert_eq!(
            severity_of(&[r(None, Some(9.1)), r(None, Some(5.0))]).0,
            Severity::Critical
        );
        assert_eq!(
            severity_of(&[r(Some("unknown"), Some(7.5))]),
            (Severity::High, Some("unknown".into()))
        );
        assert_eq!(severity_of(&[]), (Severity::Unknown, None));
    }

    #[test]
    fn refs_resolve_through_bom_links_and_purls() {
        let c = Component {
            bom_ref: Some("a".into()),
            purl: Some("pkg:npm/x@1".into()),
            name: "x".into(),
            version: Some("1".into()),
            ecosystem: Some(Ecosystem::Npm),
            licenses: vec![],
            hashes: vec![],
            depends_on: vec![],
        };
        let comps = [c];
        let by_ref: HashMap<&str, &Component> = [("a", &comps[0])].into_iter().collect();
        let by_purl: HashMap<&str, &Component> = [("pkg:npm/x@1", &comps[0])].into_iter().collect();
        assert_eq!(resolve("a", &by_ref, &by_purl).name, "x");
        assert_eq!(resolve("urn:cdx:1234/1#a", &by_ref, &by_purl).name, "x");
        let r = resolve("urn:cdx:1234/1#pkg:pypi/y@2", &by_ref, &by_purl);
        assert_eq!(
            (r.name.as_str(), r.version.as_deref(), r.ecosystem),
            ("y", Some("2"), Some(Ecosystem::Pypi))
        );
        assert_eq!(resolve("dangling", &by_ref, &by_purl).name, "dangling");
    }
}
