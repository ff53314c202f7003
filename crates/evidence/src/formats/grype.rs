//! Grype JSON (`grype -o json`), from the 0.7 schema (`links`, `cvssV2`/`cvssV3`,
//! `fixedInVersion`, CPEs as objects) to the current one (`urls`, `cvss[]`, `fix{}`, EPSS).
//!
//! One finding per match. Grype reports the same vulnerability of the same package once per
//! place it found the package (see `same_cve_different_paths.json`); each stays a finding of
//! its own, with its own `component.path` and the same key: de-duplication is the firewall's
//! job, and the evidence keeps what the tool said.
//!
//! No components are produced: the matched artifacts are only the vulnerable subset of what
//! was scanned, and an inventory comes from an SBOM (`grype` reads and `syft` writes them).
//!
//! `fix.state` becomes `fix_state`. Not kept, for want of a model field: `matchDetails`, the artifact's licenses and CPEs, and `distro`.

use serde::Deserialize;
use serde::de::IgnoredAny;

use super::scanner_common::{
    cvss_method, image_digest, non_empty, nullable_vec, purl_ecosystem, push_unique,
};
use crate::Limits;
use crate::error::ParseError;
use crate::format::Format;
use crate::json::from_slice_located;
use crate::model::{
    Artifact, ComponentRef, Ecosystem, Evidence, Finding, FindingKind, Score, Severity, Tool,
    normalize_path,
};

const FORMAT: Format = Format::GrypeJson;

/// Parse a Grype JSON report.
pub fn parse(bytes: &[u8], limits: &Limits) -> Result<Evidence, ParseError> {
    let doc: Document = from_slice_located(bytes, FORMAT, limits)?;
    let mut ev = Evidence::new(FORMAT);
    let tool = Tool::new(
        "Grype",
        doc.descriptor
            .as_ref()
            .and_then(|d| non_empty(d.version.clone())),
    );
    ev.tool = Some(tool.clone());
    ev.created = doc.descriptor.and_then(|d| non_empty(d.timestamp));
    ev.artifact = doc.source.and_then(artifact);
    ev.findings = doc.matches.iter().map(|m| finding(m, &tool)).collect();
    Ok(ev)
}

/// The scanned artifact: the user's input (or path), and the registry digest (`repoDigests`,
/// else `manifestDigest`), else the image id.
fn artifact(source: Source) -> Option<Artifact> {
    match source.target? {
        Target::Path(p) => non_empty(Some(p)).map(|name| Artifact { name, digest: None }),
        Target::Image(t) => {
            let digest = t
                .repo_digests
                .iter()
                .find_map(|d| image_digest(d))
                .or_else(|| t.manifest_digest.as_deref().and_then(image_digest))
                .or_else(|| t.image_id.as_deref().and_then(image_digest));
            let name = non_empty(t.user_input)
                .or_else(|| non_empty(t.path))
                .or_else(|| t.tags.into_iter().find_map(|s| non_empty(Some(s))));
            match (name, digest) {
                (None, None) => None,
                (name, digest) => Some(Artifact {
                    name: name.unwrap_or_default(),
                    digest,
                }),
            }
        }
        Target::Other => None,
    }
}

fn finding(m: &Match, tool: &Tool) -> Finding {
    let v = &m.vulnerability;
    let a = &m.artifact;

    let mut aliases = Vec::new();
    for r in &m.related_vulnerabilities {
        if r.id != v.id {
            push_unique(&mut aliases, &r.id);
        }
    }
    let purl = non_empty(a.purl.clone());
    let version = non_empty(a.version.clone());
    let key = Finding::package_key(
        &v.id,
        &aliases,
        purl.as_deref(),
        &a.name,
        version.as_deref(),
    );

    // The match's own record decides; related records (usually NVD's) fill in what it lacks.
    let mut scores = v.scores();
    if scores.is_empty() {
        scores = m
            .related_vulnerabilities
            .iter()
            .flat_map(Vulnerability::scores)
            .collect();
    }
    let word = [v]
        .into_iter()
        .chain(&m.related_vulnerabilities)
        .filter_map(|r| non_empty(r.severity.clone()))
        .find(|w| Severity::from_word(w) != Severity::Unknown);
    let severity = match &word {
        Some(w) => Severity::from_word(w),
        None => scores
            .iter()
            .filter_map(|s| s.score)
            .max_by(f64::total_cmp)
            .map(Severity::from_cvss_score)
            .unwrap_or(Severity::Unknown),
    };

    let mut f = Finding::new(
        FindingKind::Vulnerability,
        v.id.clone(),
        severity,
        tool.clone(),
        key,
    );
    f.aliases = aliases;
    f.original_severity = word.or_else(|| non_empty(v.severity.clone()));
    f.scores = scores;
    f.description = non_empty(v.description.clone()).or_else(|| {
        m.related_vulnerabilities
            .iter()
            .find_map(|r| non_empty(r.description.clone()))
    });
    for r in [v].into_iter().chain(&m.related_vulnerabilities) {
        if let Some(ds) = &r.data_source {
            push_unique(&mut f.references, ds);
        }
        for u in r.urls.iter().chain(&r.links) {
            push_unique(&mut f.references, u);
        }
    }
    if let Some(fix) = &v.fix {
        for fv in &fix.versions {
            push_unique(&mut f.fixed_versions, fv);
        }
        f.fix_state = fix.state.as_deref().map(crate::model::FixState::from_word);
    }
    if let Some(fv) = &v.fixed_in_version {
        push_unique(&mut f.fixed_versions, fv);
    }
    f.component = Some(ComponentRef {
        ecosystem: purl
            .as_deref()
            .and_then(purl_ecosystem)
            .or_else(|| a.kind.as_deref().and_then(ecosystem_of_type)),
        purl,
        name: a.name.clone(),
        version,
        path: a
            .locations
            .iter()
            .find_map(|l| non_empty(l.path.clone()))
            .map(|p| normalize_path(&p)),
    });
    f
}

impl Vulnerability {
    /// CVSS entries (new `cvss[]` or old `cvssV2`/`cvssV3`), then EPSS.
    fn scores(&self) -> Vec<Score> {
        let mut out = Vec::new();
        let source = non_empty(self.namespace.clone());
        for c in &self.cvss {
            let vector = non_empty(c.vector.clone());
            let method = match (&c.version, &vector) {
                (Some(ver), _) => cvss_method(ver),
                (None, Some(vec)) => cvss_method(vec),
                (None, None) => "CVSS",
            };
            out.push(Score {
                method: method.to_string(),
                score: c.metrics.as_ref().and_then(|m| m.base_score),
                vector,
                source: non_empty(c.source.clone()).or_else(|| source.clone()),
            });
        }
        for (old, method) in [(&self.cvss_v2, "CVSSv2"), (&self.cvss_v3, "CVSSv3")] {
            if let Some(c) = old {
                let vector = non_empty(c.vector.clone());
                out.push(Score {
                    method: vector
                        .as_deref()
                        .filter(|_| method == "CVSSv3")
                        .map_or(method, cvss_method)
                        .to_string(),
                    score: c.base_score,
                    vector,
                    source: source.clone(),
                });
            }
        }
        for e in &self.epss {
            out.push(Score {
                method: "EPSS".to_string(),
                score: e.epss,
                vector: None,
                source: None,
            });
        }
        out
    }
}

/// The ecosystem of a Grype artifact `type`, for artifacts without a purl.
fn ecosystem_of_type(ty: &str) -> Option<Ecosystem> {
    Some(match ty {
        "deb" => Ecosystem::Deb,
        "rpm" => Ecosystem::Rpm,
        "apk" => Ecosystem::Apk,
        "npm" => Ecosystem::Npm,
        "python" => Ecosystem::Pypi,
        "java-archive" | "jenkins-plugin" => Ecosystem::Maven,
        "go-module" => Ecosystem::Golang,
        "gem" => Ecosystem::Gem,
        "rust-crate" => Ecosystem::Cargo,
        "php-composer" => Ecosystem::Composer,
        "dotnet" => Ecosystem::Nuget,
        "dart-pub" => Ecosystem::Pub,
        "hex" => Ecosystem::Hex,
        "conan" => Ecosystem::Conan,
        "pod" => Ecosystem::Cocoapods,
        "swift" => Ecosystem::Swift,
        "github-action" | "github-action-workflow" => Ecosystem::Github,
        _ => return None,
    })
}

// ---- the document, as Grype writes it (unknown fields ignored) ----

#[derive(Deserialize)]
struct Document {
    /// Required: a Grype report always has it, even when empty.
    #[serde(deserialize_with = "nullable_vec")]
    matches: Vec<Match>,
    #[serde(default)]
    source: Option<Source>,
    #[serde(default)]
    descriptor: Option<Descriptor>,
}

#[derive(Deserialize)]
struct Descriptor {
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    timestamp: Option<String>,
}

#[derive(Deserialize)]
struct Source {
    #[serde(default)]
    target: Option<Target>,
}

/// An image (`userInput`, digests), or the path of a directory or file; older Grype writes a
/// directory target as a bare string.
enum Target {
    Path(String),
    Image(ImageTarget),
    Other,
}

// By hand rather than `#[serde(untagged)]`: untagged buffers the whole value before choosing,
// and an image target carries its manifest and config as large base64 strings.
impl<'de> Deserialize<'de> for Target {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Target;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a path string or an image target object")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Target, E> {
                Ok(Target::Path(v.to_string()))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Target, E> {
                Ok(Target::Path(v))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Target, A::Error> {
                ImageTarget::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(Target::Image)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Target, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Target::Other)
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<Target, E> {
                Ok(Target::Other)
            }
            fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Target, E> {
                Ok(Target::Other)
            }
            fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Target, E> {
                Ok(Target::Other)
            }
            fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Target, E> {
                Ok(Target::Other)
            }
            fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Target, E> {
                Ok(Target::Other)
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ImageTarget {
    #[serde(default)]
    user_input: Option<String>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default, rename = "imageID")]
    image_id: Option<String>,
    #[serde(default)]
    manifest_digest: Option<String>,
    #[serde(default, deserialize_with = "nullable_vec")]
    repo_digests: Vec<String>,
    #[serde(default, deserialize_with = "nullable_vec")]
    tags: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Match {
    vulnerability: Vulnerability,
    #[serde(default, deserialize_with = "nullable_vec")]
    related_vulnerabilities: Vec<Vulnerability>,
    artifact: MatchedArtifact,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Vulnerability {
    id: String,
    #[serde(default)]
    data_source: Option<String>,
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    severity: Option<String>,
    #[serde(default, deserialize_with = "nullable_vec")]
    urls: Vec<String>,
    /// Grype before 0.8.
    #[serde(default, deserialize_with = "nullable_vec")]
    links: Vec<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default, deserialize_with = "nullable_vec")]
    cvss: Vec<Cvss>,
    /// Grype before 0.8.
    #[serde(default, rename = "cvssV2")]
    cvss_v2: Option<OldCvss>,
    #[serde(default, rename = "cvssV3")]
    cvss_v3: Option<OldCvss>,
    #[serde(default)]
    fix: Option<Fix>,
    /// Grype before 0.8.
    #[serde(default)]
    fixed_in_version: Option<String>,
    #[serde(default, deserialize_with = "nullable_vec")]
    epss: Vec<Epss>,
}

#[derive(Deserialize)]
struct Cvss {
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    vector: Option<String>,
    #[serde(default)]
    metrics: Option<CvssMetrics>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CvssMetrics {
    #[serde(default)]
    base_score: Option<f64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OldCvss {
    #[serde(default)]
    base_score: Option<f64>,
    #[serde(default)]
    vector: Option<String>,
}

#[derive(Deserialize)]
struct Fix {
    #[serde(default, deserialize_with = "nullable_vec")]
    versions: Vec<String>,
    #[serde(default)]
    state: Option<String>,
}

#[derive(Deserialize)]
struct Epss {
    #[serde(default)]
    epss: Option<f64>,
}

#[derive(Deserialize)]
struct MatchedArtifact {
    name: String,
    #[serde(default)]
    version: Option<String>,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    purl: Option<String>,
    #[serde(default, deserialize_with = "nullable_vec")]
    locations: Vec<Location>,
}

#[derive(Deserialize)]
struct Location {
    #[serde(default)]
    path: Option<String>,
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
        let ev = parse_str(r#"{"matches":null}"#).unwrap();
        assert!(ev.findings.is_empty());
        assert_eq!(ev.tool, Some(Tool::new("Grype", None)));
        let ev = parse_str(
            r#"{"matches":[{"vulnerability":{"id":"CVE-1","urls":null,"cvss":null,"fix":{"versions":null}},
                "relatedVulnerabilities":null,"artifact":{"name":"x","locations":null}}],
                "source":{"type":"directory","target":"\".\""}}"#,
        )
        .unwrap();
        let f = &ev.findings[0];
        assert_eq!(f.severity, Severity::Unknown);
        assert_eq!(f.key, "vuln:CVE-1|x@");
        assert_eq!(ev.artifact.unwrap().name, "\".\"");
    }

    #[test]
    fn wrong_type_is_reported_with_a_pointer() {
        let e = parse_str(
            r#"{"matches":[{"vulnerability":{"id":"CVE-1"},"artifact":{"name":"x"}},
                {"vulnerability":{"id":"CVE-2","cvss":[{"metrics":{"baseScore":"high"}}]},"artifact":{"name":"y"}}]}"#,
        )
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Shape);
        assert_eq!(
            e.place,
            Some(Place::Pointer(
                "/matches/1/vulnerability/cvss/0/metrics/baseScore".into()
            ))
        );
        let e = parse_str(r#"{"source":{}}"#).unwrap_err();
        assert!(e.message.contains("matches"), "{}", e.message);
    }

    #[test]
    fn related_records_fill_in_severity_and_aliases() {
        let ev = parse_str(
            r#"{"descriptor":{"name":"grype","version":"0.96.0"},
              "source":{"type":"image","target":{"userInput":"busybox:1","imageID":"sha256:test",
                "manifestDigest":"sha256:AA00000000000000000000000000000000000000000000000000000000000000"}},
              "matches":[{"vulnerability":{"id":"GHSA-aaaa","severity":"Unknown","cvss":[],
                  "fix":{"versions":["1.2.3"],"state":"fixed"}},
                "relatedVulnerabilities":[{"id":"CVE-2020-1","severity":"High","namespace":"nvd:cpe",
                  "cvss":[{"version":"3.1","vector":"CVSS:3.1/AV:N","metrics":{"baseScore":7.5}}]}],
                "artifact":{"name":"lib","version":"1.0","type":"npm","purl":"pkg:npm/lib@1.0",
                  "locations":[{"path":"./app//package-lock.json"}]}}]}"#,
        )
        .unwrap();
        assert_eq!(ev.tool.unwrap().version.as_deref(), Some("0.96.0"));
        assert_eq!(
            ev.artifact.unwrap().digest,
            Some(format!("sha256:aa{}", "0".repeat(62)))
        );
        let f = &ev.findings[0];
        assert_eq!(f.severity, Severity::High);
        assert_eq!(f.original_severity.as_deref(), Some("High"));
        assert_eq!(f.aliases, vec!["CVE-2020-1"]);
        assert_eq!(f.key, "vuln:CVE-2020-1|pkg:npm/lib@1.0");
        assert_eq!(f.scores[0].method, "CVSSv31");
        assert_eq!(f.scores[0].source.as_deref(), Some("nvd:cpe"));
        assert_eq!(f.fixed_versions, vec!["1.2.3"]);
        assert_eq!(f.fix_state, Some(crate::model::FixState::Fixed));
        let c = f.component.as_ref().unwrap();
        assert_eq!(c.path.as_deref(), Some("app/package-lock.json"));
        assert_eq!(c.ecosystem, Some(Ecosystem::Npm));
    }

    #[test]
    fn old_schema_fields() {
        let ev = parse_str(
            r#"{"matches":[{"vulnerability":{"id":"CVE-1","severity":"Negligible","links":["https://x"],
                "cvssV2":{"baseScore":5,"vector":"AV:N/AC:L/Au:N/C:N/I:N/A:P"},
                "cvssV3":{"baseScore":5.9,"vector":"CVSS:3.0/AV:N"},"fixedInVersion":"2.4"},
              "matchDetails":{"matcher":"dpkg-matcher"},
              "artifact":{"name":"x","version":"1","type":"deb","cpes":[{"Part":"a"}],"licenses":["GPL"]}}]}"#,
        )
        .unwrap();
        let f = &ev.findings[0];
        assert_eq!(f.severity, Severity::Info);
        assert_eq!(f.fixed_versions, vec!["2.4"]);
        assert_eq!(f.references, vec!["https://x"]);
        let methods: Vec<_> = f.scores.iter().map(|s| s.method.as_str()).collect();
        assert_eq!(methods, vec!["CVSSv2", "CVSSv3"]);
        assert_eq!(
            f.component.as_ref().unwrap().ecosystem,
            Some(Ecosystem::Deb)
        );
    }
}
