//! OSV-Scanner JSON (`osv-scanner --format json`): `results[]` per scanned source (a lock file,
//! a git checkout, ...), each with `packages[]` holding the package, the full OSV records that
//! affect it and `groups[]` of ids OSV-Scanner considers the same vulnerability.
//!
//! One finding per package × group: the group's first id is the finding id, the rest of its ids
//! and aliases are aliases. Severity comes from the group's `max_severity` score, else from the
//! records' `database_specific.severity` words, else from their CVSS v3 vectors. Records that
//! no group names (and every record of a report without groups) stand as groups of their own,
//! so nothing the tool reported is dropped.
//!
//! The report names no tool version and no single scanned artifact; both stay empty.

use serde::de::IgnoredAny;
use serde::{Deserialize, Deserializer};

use super::scanner_common::{
    cvss_base_score, cvss_method, cwe_number, non_empty, nullable_vec, purl_ecosystem, push_unique,
};
use crate::Limits;
use crate::error::ParseError;
use crate::format::Format;
use crate::json::from_slice_located;
use crate::model::{
    ComponentRef, Ecosystem, Evidence, Finding, FindingKind, Score, Severity, Tool, normalize_path,
};

const FORMAT: Format = Format::OsvScannerJson;

/// Parse an OSV-Scanner JSON report.
pub fn parse(bytes: &[u8], limits: &Limits) -> Result<Evidence, ParseError> {
    let doc: Document = from_slice_located(bytes, FORMAT, limits)?;
    let tool = Tool::new("OSV-Scanner", None);
    let mut ev = Evidence::new(FORMAT);
    ev.tool = Some(tool.clone());
    for result in &doc.results {
        let source_path = result
            .source
            .as_ref()
            .and_then(|s| non_empty(s.path.clone()))
            .map(|p| normalize_path(&p));
        for pkg in &result.packages {
            let component = component_of(&pkg.package, source_path.as_deref());
            for group in groups_of(pkg) {
                ev.findings
                    .push(finding(pkg, &group, component.clone(), &tool));
            }
        }
    }
    Ok(ev)
}

/// The package's groups, plus one group for each record no group names.
fn groups_of(pkg: &PackageResult) -> Vec<Group> {
    let mut groups = pkg.groups.clone();
    for r in &pkg.vulnerabilities {
        if !groups.iter().any(|g| g.ids.contains(&r.id)) {
            groups.push(Group {
                ids: vec![r.id.clone()],
                aliases: r.aliases.clone(),
                max_severity: None,
            });
        }
    }
    groups
}

fn component_of(p: &Package, source_path: Option<&str>) -> ComponentRef {
    let name = non_empty(p.name.clone());
    let version = non_empty(p.version.clone());
    let osv_ecosystem = non_empty(p.ecosystem.clone());
    match name {
        Some(name) => {
            let purl = non_empty(p.purl.clone()).or_else(|| {
                osv_ecosystem
                    .as_deref()
                    .and_then(|e| build_purl(e, &name, version.as_deref()))
            });
            ComponentRef {
                ecosystem: purl
                    .as_deref()
                    .and_then(purl_ecosystem)
                    .or_else(|| osv_ecosystem.as_deref().map(Ecosystem::from_osv)),
                purl,
                name,
                version,
                path: source_path.map(String::from),
            }
        }
        // A git source: no package, only the commit that was scanned.
        None => ComponentRef {
            purl: None,
            name: source_path.unwrap_or_default().to_string(),
            version: non_empty(p.commit.clone()).or(version),
            ecosystem: None,
            path: source_path.map(String::from),
        },
    }
}

fn finding(pkg: &PackageResult, group: &Group, component: ComponentRef, tool: &Tool) -> Finding {
    let records: Vec<&OsvRecord> = pkg
        .vulnerabilities
        .iter()
        .filter(|r| group.ids.contains(&r.id))
        .collect();
    let id = group
        .ids
        .first()
        .cloned()
        .or_else(|| group.aliases.first().cloned())
        .unwrap_or_default();
    let mut aliases = Vec::new();
    for a in group
        .ids
        .iter()
        .chain(&group.aliases)
        .chain(records.iter().flat_map(|r| &r.aliases))
    {
        if a != &id {
            push_unique(&mut aliases, a);
        }
    }
    aliases.sort();

    let mut scores = Vec::new();
    for r in &records {
        for s in &r.severity {
            let (method, score) = match s.kind.as_str() {
                "CVSS_V3" => (cvss_method(&s.score), cvss_base_score(&s.score)),
                "CVSS_V2" => ("CVSSv2", None),
                "CVSS_V4" => ("CVSSv4", None),
                other => (other, None),
            };
            scores.push(Score {
                method: method.to_string(),
                score,
                vector: non_empty(Some(s.score.clone())),
                source: Some(r.id.clone()),
            });
        }
    }

    let max_score = group
        .max_severity
        .as_deref()
        .and_then(|s| s.trim().parse::<f64>().ok());
    let word = records
        .iter()
        .filter_map(|r| {
            r.database_specific
                .as_ref()
                .and_then(|d| d.severity.clone())
        })
        .max_by_key(|w| Severity::from_word(w));
    let (severity, original) = match (max_score, word) {
        (Some(s), _) => (Severity::from_cvss_score(s), group.max_severity.clone()),
        (None, Some(w)) if Severity::from_word(&w) != Severity::Unknown => {
            (Severity::from_word(&w), Some(w))
        }
        (None, w) => (
            scores
                .iter()
                .filter_map(|s| s.score)
                .max_by(f64::total_cmp)
                .map(Severity::from_cvss_score)
                .unwrap_or(Severity::Unknown),
            w,
        ),
    };

    let key = Finding::package_key(
        &id,
        &aliases,
        component.purl.as_deref(),
        &component.name,
        component.version.as_deref(),
    );
    let mut f = Finding::new(FindingKind::Vulnerability, id, severity, tool.clone(), key);
    f.aliases = aliases;
    f.original_severity = original;
    f.scores = scores;
    f.title = records.iter().find_map(|r| non_empty(r.summary.clone()));
    f.description = records.iter().find_map(|r| non_empty(r.details.clone()));
    for r in &records {
        for reference in &r.references {
            if let Some(u) = &reference.url {
                push_unique(&mut f.references, u);
            }
        }
        if let Some(d) = &r.database_specific {
            f.cwes
                .extend(d.cwe_ids.iter().filter_map(|c| cwe_number(c)));
        }
        for a in &r.affected {
            if let Some(d) = &a.database_specific {
                f.cwes
                    .extend(d.cwes.iter().filter_map(|c| cwe_number(&c.cwe_id)));
            }
            if concerns(a, &pkg.package) {
                // GIT ranges fix in commits, not in versions of the package.
                for range in a.ranges.iter().filter(|r| r.kind.as_deref() != Some("GIT")) {
                    for e in &range.events {
                        if let Some(fixed) = &e.fixed {
                            push_unique(&mut f.fixed_versions, fixed);
                        }
                    }
                }
            }
        }
    }
    f.cwes.sort_unstable();
    f.cwes.dedup();
    f.component = Some(component);
    f
}

/// Whether an `affected[]` entry is about the scanned package (same ecosystem, same name; PyPI
/// names compare case- and separator-insensitively, as PEP 503 normalizes them).
fn concerns(a: &Affected, p: &Package) -> bool {
    let Some(ap) = &a.package else { return false };
    let (Some(an), Some(pn)) = (&ap.name, &p.name) else {
        return false;
    };
    let same_ecosystem = match (&ap.ecosystem, &p.ecosystem) {
        (Some(x), Some(y)) => x.split(':').next().unwrap_or(x) == y.split(':').next().unwrap_or(y),
        _ => true,
    };
    let pep503 = |s: &str| s.to_ascii_lowercase().replace(['_', '.'], "-");
    same_ecosystem && (an == pn || pep503(an) == pep503(pn))
}

/// A purl from an OSV ecosystem, name and version, for packages OSV-Scanner gives without one.
/// Distributions become the purl namespace (`pkg:deb/debian/...`, `pkg:rpm/redhat/...`).
fn build_purl(osv_ecosystem: &str, name: &str, version: Option<&str>) -> Option<String> {
    let base = osv_ecosystem.split(':').next().unwrap_or(osv_ecosystem);
    let ecosystem = Ecosystem::from_osv(osv_ecosystem);
    if matches!(ecosystem, Ecosystem::Other(_)) {
        return None;
    }
    let namespace = match base {
        "Debian" => Some("debian"),
        "Ubuntu" => Some("ubuntu"),
        "Alpine" => Some("alpine"),
        "Wolfi" => Some("wolfi"),
        "Chainguard" => Some("chainguard"),
        "Red Hat" => Some("redhat"),
        "Rocky Linux" => Some("rocky-linux"),
        "AlmaLinux" => Some("almalinux"),
        "SUSE" => Some("suse"),
        "openSUSE" => Some("opensuse"),
        "Mageia" => Some("mageia"),
        "openEuler" => Some("openeuler"),
        _ => None,
    };
    crate::purl::Purl::from_package(&ecosystem, namespace, name, version)
        .ok()
        .map(|p| p.to_string())
}

// ---- the document, as OSV-Scanner writes it (unknown fields ignored) ----

#[derive(Deserialize)]
struct Document {
    /// Required: an OSV-Scanner report always has it.
    #[serde(deserialize_with = "nullable_vec")]
    results: Vec<SourceResult>,
}

#[derive(Deserialize)]
struct SourceResult {
    #[serde(default)]
    source: Option<SourceInfo>,
    #[serde(default, deserialize_with = "nullable_vec")]
    packages: Vec<PackageResult>,
}

#[derive(Deserialize)]
struct SourceInfo {
    #[serde(default)]
    path: Option<String>,
}

#[derive(Deserialize)]
struct PackageResult {
    package: Package,
    #[serde(default, deserialize_with = "nullable_vec")]
    vulnerabilities: Vec<OsvRecord>,
    #[serde(default, deserialize_with = "nullable_vec")]
    groups: Vec<Group>,
}

#[derive(Deserialize)]
struct Package {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    ecosystem: Option<String>,
    #[serde(default)]
    purl: Option<String>,
    #[serde(default)]
    commit: Option<String>,
}

#[derive(Deserialize, Clone)]
struct Group {
    #[serde(default, deserialize_with = "nullable_vec")]
    ids: Vec<String>,
    #[serde(default, deserialize_with = "nullable_vec")]
    aliases: Vec<String>,
    /// A score written as a string (`"7.5"`); empty when unknown.
    #[serde(default, deserialize_with = "lenient_string")]
    max_severity: Option<String>,
}

#[derive(Deserialize)]
struct OsvRecord {
    id: String,
    #[serde(default, deserialize_with = "nullable_vec")]
    aliases: Vec<String>,
    #[serde(default)]
    summary: Option<String>,
    #[serde(default)]
    details: Option<String>,
    #[serde(default, deserialize_with = "nullable_vec")]
    severity: Vec<OsvSeverity>,
    #[serde(default, deserialize_with = "nullable_vec")]
    affected: Vec<Affected>,
    #[serde(default, deserialize_with = "nullable_vec")]
    references: Vec<Reference>,
    #[serde(default)]
    database_specific: Option<RecordSpecific>,
}

#[derive(Deserialize)]
struct OsvSeverity {
    #[serde(rename = "type")]
    kind: String,
    score: String,
}

#[derive(Deserialize)]
struct Reference {
    #[serde(default)]
    url: Option<String>,
}

/// `database_specific` is free-form: only the commonly used keys are read, and only when they
/// have the usual type.
#[derive(Deserialize)]
struct RecordSpecific {
    #[serde(default, deserialize_with = "lenient_string")]
    severity: Option<String>,
    #[serde(default, deserialize_with = "lenient_strings")]
    cwe_ids: Vec<String>,
}

#[derive(Deserialize)]
struct Affected {
    #[serde(default)]
    package: Option<AffectedPackage>,
    #[serde(default, deserialize_with = "nullable_vec")]
    ranges: Vec<Range>,
    #[serde(default)]
    database_specific: Option<AffectedSpecific>,
}

#[derive(Deserialize)]
struct AffectedPackage {
    #[serde(default)]
    ecosystem: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
struct Range {
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default, deserialize_with = "nullable_vec")]
    events: Vec<Event>,
}

#[derive(Deserialize)]
struct Event {
    #[serde(default)]
    fixed: Option<String>,
}

#[derive(Deserialize)]
struct AffectedSpecific {
    #[serde(default, deserialize_with = "lenient_cwes")]
    cwes: Vec<CweEntry>,
}

#[derive(Deserialize)]
struct CweEntry {
    #[serde(rename = "cweId")]
    cwe_id: String,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Lenient<T> {
    Value(T),
    Other(IgnoredAny),
}

fn lenient_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Lenient::<String>::deserialize(d)? {
        Lenient::Value(s) => non_empty(Some(s)),
        Lenient::Other(_) => None,
    })
}

fn lenient_strings<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(match Lenient::<Vec<Lenient<String>>>::deserialize(d)? {
        Lenient::Value(v) => v
            .into_iter()
            .filter_map(|x| match x {
                Lenient::Value(s) => Some(s),
                Lenient::Other(_) => None,
            })
            .collect(),
        Lenient::Other(_) => Vec::new(),
    })
}

fn lenient_cwes<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<CweEntry>, D::Error> {
    Ok(match Lenient::<Vec<Lenient<CweEntry>>>::deserialize(d)? {
        Lenient::Value(v) => v
            .into_iter()
            .filter_map(|x| match x {
                Lenient::Value(c) => Some(c),
                Lenient::Other(_) => None,
            })
            .collect(),
        Lenient::Other(_) => Vec::new(),
    })
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
        assert!(
            parse_str(r#"{"results":null}"#)
                .unwrap()
                .findings
                .is_empty()
        );
        let ev = parse_str(
            r#"{"results":[{"source":{"path":"a/go.sum"},"packages":[{"package":{"name":"x"},
                "vulnerabilities":[{"id":"GO-1","aliases":null,"severity":null,"affected":null,
                  "references":null,"database_specific":{"severity":7,"cwe_ids":[1,"CWE-20"]}}],
                "groups":null}]}]}"#,
        )
        .unwrap();
        let f = &ev.findings[0];
        assert_eq!(f.id, "GO-1");
        assert_eq!(f.severity, Severity::Unknown);
        assert_eq!(f.cwes, vec![20]);
        assert_eq!(f.key, "vuln:GO-1|x@");
    }

    #[test]
    fn wrong_type_is_reported_with_a_pointer() {
        let e = parse_str(
            r#"{"results":[{"packages":[{"package":{"name":"x"},"vulnerabilities":[{"id":"A"},{"id":5}]}]}]}"#,
        )
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Shape);
        assert_eq!(
            e.place,
            Some(Place::Pointer(
                "/results/0/packages/0/vulnerabilities/1/id".into()
            ))
        );
        assert!(parse_str(r#"{"experimental_config":{}}"#).is_err());
    }

    #[test]
    fn group_fields_and_fixed_versions() {
        let ev = parse_str(
            r#"{"results":[{"source":{"path":"/src/requirements.txt","type":"lockfile"},"packages":[{
              "package":{"name":"Django_X","version":"3.2.4","ecosystem":"PyPI"},
              "vulnerabilities":[
                {"id":"GHSA-1","aliases":["CVE-2022-1"],"summary":"s",
                 "severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H"}],
                 "affected":[{"package":{"ecosystem":"PyPI","name":"django-x"},
                   "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"3.2"},{"fixed":"3.2.13"},
                     {"introduced":"4.0"},{"fixed":"4.0.4"}]}]},
                   {"package":{"ecosystem":"PyPI","name":"django-x"},"ranges":[{"type":"GIT","events":[{"fixed":"4e98d57"}]}]},
                   {"package":{"ecosystem":"PyPI","name":"other"},"ranges":[{"events":[{"fixed":"9"}]}]}]},
                {"id":"PYSEC-1","aliases":["CVE-2022-1"]},
                {"id":"OSV-LONE"}],
              "groups":[{"ids":["GHSA-1","PYSEC-1"],"aliases":["CVE-2022-1","GHSA-1","PYSEC-1"]}]}]}]}"#,
        )
        .unwrap();
        assert_eq!(ev.findings.len(), 2);
        let f = &ev.findings[0];
        assert_eq!(f.id, "GHSA-1");
        assert_eq!(f.aliases, vec!["CVE-2022-1", "PYSEC-1"]);
        assert_eq!(f.fixed_versions, vec!["3.2.13", "4.0.4"]);
        assert_eq!(f.severity, Severity::High);
        assert_eq!(f.scores[0].score, Some(7.5));
        let c = f.component.as_ref().unwrap();
        assert_eq!(c.purl.as_deref(), Some("pkg:pypi/django-x@3.2.4"));
        assert_eq!(c.path.as_deref(), Some("/src/requirements.txt"));
        assert_eq!(f.key, "vuln:CVE-2022-1|pkg:pypi/django-x@3.2.4");
        assert_eq!(ev.findings[1].id, "OSV-LONE");
    }

    #[test]
    fn max_severity_wins() {
        let ev = parse_str(
            r#"{"results":[{"packages":[{"package":{"name":"@s/p","version":"1.0.0+b","ecosystem":"npm"},
              "vulnerabilities":[{"id":"GHSA-2","database_specific":{"severity":"LOW"}}],
              "groups":[{"ids":["GHSA-2"],"max_severity":"9.8"}]}]}]}"#,
        )
        .unwrap();
        let f = &ev.findings[0];
        assert_eq!(f.severity, Severity::Critical);
        assert_eq!(f.original_severity.as_deref(), Some("9.8"));
        assert_eq!(
            f.component.as_ref().unwrap().purl.as_deref(),
            Some("pkg:npm/%40s/p@1.0.0%2Bb")
        );
    }
}
