//! OSV advisories (<https://ossf.github.io/osv-schema/>): one record, or a JSON array of
//! records, into [`Advisory`] values.
//!
//! Severity comes from the `severity[]` CVSS vectors (v3.0, v3.1 and v4.0 base scores are
//! computed with rustsec's `cvss` crate; it has no CVSS v2, so v2 vectors are kept without a
//! score), else from `database_specific.severity`.

use serde::Deserialize;

use crate::error::ParseError;
use crate::format::Format;
use crate::json::from_slice_located;
use crate::model::{
    Advisory, Affected, AffectedRange, Ecosystem, RangeEvent, RangeKind, Score, Severity,
};
use crate::{Evidence, Limits};

const FORMAT: Format = Format::OsvAdvisory;

#[derive(Deserialize)]
struct Record {
    #[serde(default)]
    schema_version: Option<String>,
    id: String,
    modified: String,
    #[serde(default)]
    published: Option<String>,
    #[serde(default)]
    withdrawn: Option<String>,
    #[serde(default)]
    aliases: Option<Vec<String>>,
    #[serde(default)]
    summary: Option<String>,
    #[serde(default)]
    details: Option<String>,
    #[serde(default)]
    severity: Option<Vec<SeverityEntry>>,
    #[serde(default)]
    affected: Option<Vec<AffectedRecord>>,
    #[serde(default)]
    references: Option<Vec<Reference>>,
    #[serde(default)]
    database_specific: Option<DatabaseSpecific>,
}

#[derive(Deserialize)]
struct SeverityEntry {
    #[serde(rename = "type")]
    kind: String,
    score: String,
}

#[derive(Deserialize)]
struct AffectedRecord {
    #[serde(default)]
    package: Option<Package>,
    #[serde(default)]
    severity: Option<Vec<SeverityEntry>>,
    #[serde(default)]
    ranges: Option<Vec<Range>>,
    #[serde(default)]
    versions: Option<Vec<String>>,
    #[serde(default)]
    database_specific: Option<DatabaseSpecific>,
}

#[derive(Deserialize)]
struct Package {
    ecosystem: String,
    name: String,
    #[serde(default)]
    purl: Option<String>,
}

#[derive(Deserialize)]
struct Range {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    repo: Option<String>,
    events: Vec<Event>,
}

#[derive(Deserialize)]
struct Event {
    #[serde(default)]
    introduced: Option<String>,
    #[serde(default)]
    fixed: Option<String>,
    #[serde(default)]
    last_affected: Option<String>,
    #[serde(default)]
    limit: Option<String>,
}

#[derive(Deserialize)]
struct Reference {
    url: String,
}

/// Free-form per database; we read only what we use, in whatever JSON type it comes.
#[derive(Deserialize, Default)]
struct DatabaseSpecific {
    #[serde(default)]
    severity: Option<serde_json::Value>,
    #[serde(default)]
    cwe_ids: Option<serde_json::Value>,
}

pub fn parse(bytes: &[u8], limits: &Limits) -> Result<Evidence, ParseError> {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace()).copied();
    let records: Vec<(String, Record)> = if first == Some(b'[') {
        let many: Vec<Record> = from_slice_located(bytes, FORMAT, limits)?;
        many.into_iter()
            .enumerate()
            .map(|(i, r)| (format!("/{i}"), r))
            .collect()
    } else {
        vec![(String::new(), from_slice_located(bytes, FORMAT, limits)?)]
    };
    let mut ev = Evidence::new(FORMAT);
    ev.format_version = records.iter().find_map(|(_, r)| r.schema_version.clone());
    for (ptr, r) in records {
        ev.advisories.push(advisory(&ptr, r)?);
    }
    Ok(ev)
}

fn advisory(ptr: &str, r: Record) -> Result<Advisory, ParseError> {
    if r.id.trim().is_empty() {
        return Err(ParseError::shape(FORMAT, format!("{ptr}/id"), "empty `id`"));
    }
    let mut scores: Vec<Score> = r.severity.iter().flatten().map(score).collect();
    let mut word: Option<String> = db_severity(r.database_specific.as_ref());
    let mut cwes = db_cwes(r.database_specific.as_ref());
    let mut affected = Vec::new();
    for (i, a) in r.affected.into_iter().flatten().enumerate() {
        let aptr = format!("{ptr}/affected/{i}");
        scores.extend(a.severity.iter().flatten().map(score));
        if word.is_none() {
            word = db_severity(a.database_specific.as_ref());
        }
        cwes.extend(db_cwes(a.database_specific.as_ref()));
        let mut ranges = Vec::new();
        for (j, rg) in a.ranges.into_iter().flatten().enumerate() {
            let rptr = format!("{aptr}/ranges/{j}");
            let kind = match rg.kind.as_str() {
                "SEMVER" => RangeKind::Semver,
                "ECOSYSTEM" => RangeKind::Ecosystem,
                "GIT" => RangeKind::Git,
                other => {
                    return Err(ParseError::shape(
                        FORMAT,
                        format!("{rptr}/type"),
                        format!("unknown range type `{other}` (SEMVER, ECOSYSTEM or GIT)"),
                    ));
                }
            };
            let mut events = Vec::new();
            for (k, e) in rg.events.into_iter().enumerate() {
                let present = [&e.introduced, &e.fixed, &e.last_affected, &e.limit]
                    .iter()
                    .filter(|x| x.is_some())
                    .count();
                let event = match (present, e) {
                    (
                        1,
                        Event {
                            introduced: Some(v),
                            ..
                        },
                    ) => RangeEvent::Introduced(v),
                    (1, Event { fixed: Some(v), .. }) => RangeEvent::Fixed(v),
                    (
                        1,
                        Event {
                            last_affected: Some(v),
                            ..
                        },
                    ) => RangeEvent::LastAffected(v),
                    (1, Event { limit: Some(v), .. }) => RangeEvent::Limit(v),
                    _ => {
                        return Err(ParseError::shape(
                            FORMAT,
                            format!("{rptr}/events/{k}"),
                            "an event must have exactly one of introduced, fixed, last_affected, limit",
                        ));
                    }
                };
                events.push(event);
            }
            ranges.push(AffectedRange {
                kind,
                repo: rg.repo,
                events,
            });
        }
        let (osv_ecosystem, ecosystem, name, purl) = match a.package {
            Some(p) => {
                let eco = Ecosystem::from_osv(&p.ecosystem);
                (Some(p.ecosystem), Some(eco), Some(p.name), p.purl)
            }
            None => (None, None, None, None),
        };
        affected.push(Affected {
            osv_ecosystem,
            ecosystem,
            name,
            purl,
            ranges,
            versions: a.versions.unwrap_or_default(),
            vers: None,
        });
    }
    cwes.sort_unstable();
    cwes.dedup();
    let from_scores = scores
        .iter()
        .filter_map(|s| {
            if s.method == "Ubuntu" {
                s.vector.as_deref().map(Severity::from_word)
            } else {
                s.score.map(Severity::from_cvss_score)
            }
        })
        .filter(|s| *s != Severity::Unknown)
        .max();
    let severity = from_scores
        .or_else(|| word.as_deref().map(Severity::from_word))
        .unwrap_or(Severity::Unknown);
    Ok(Advisory {
        id: r.id,
        aliases: r.aliases.unwrap_or_default(),
        summary: r.summary,
        details: r.details,
        published: r.published,
        modified: Some(r.modified),
        withdrawn: r.withdrawn,
        severity,
        scores,
        affected,
        references: r.references.into_iter().flatten().map(|x| x.url).collect(),
        cwes,
    })
}

/// One `severity[]` entry: a CVSS vector with its computed base score when we can compute it.
fn score(s: &SeverityEntry) -> Score {
    let vector = s.score.trim();
    let (method, computed) = match s.kind.as_str() {
        "CVSS_V3" | "CVSS_V4" => {
            let method = if vector.starts_with("CVSS:4.0/") {
                "CVSSv4"
            } else if vector.starts_with("CVSS:3.1/") {
                "CVSSv31"
            } else {
                "CVSSv3"
            };
            let computed = super::scanner_common::cvss_base_score(vector);
            (method, computed)
        }
        "CVSS_V2" => ("CVSSv2", None),
        "Ubuntu" => ("Ubuntu", None),
        other => (other, None),
    };
    Score {
        method: method.to_string(),
        score: computed,
        vector: Some(vector.to_string()),
        source: None,
    }
}

fn db_severity(db: Option<&DatabaseSpecific>) -> Option<String> {
    db.and_then(|d| d.severity.as_ref())
        .and_then(|v| v.as_str())
        .map(str::to_string)
}

fn db_cwes(db: Option<&DatabaseSpecific>) -> Vec<u32> {
    db.and_then(|d| d.cwe_ids.as_ref())
        .and_then(|v| v.as_array())
        .map(|ids| {
            ids.iter()
                .filter_map(|x| x.as_str())
                .filter_map(|s| {
                    let t = s.trim();
                    let n = t
                        .strip_prefix("CWE-")
                        .or_else(|| t.strip_prefix("cwe-"))
                        .unwrap_or(t);
                    n.parse().ok()
                })
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn p(s: &str) -> Result<Evidence, ParseError> {
        parse(s.as_bytes(), &Limits::default())
    }

    #[test]
    fn one_record() {
        let ev = p(
            r#"{"schema_version":"1.6.0","id":"X-1","modified":"2024-01-01T00:00:00Z",
            "severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H"}],
            "affected":[{"package":{"ecosystem":"PyPI","name":"Foo_Bar"},
              "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1.2"}]}],
              "database_specific":{"cwe_ids":["CWE-79"]}}],
            "database_specific":{"severity":"LOW","cwe_ids":["CWE-20","CWE-79"]}}"#,
        )
        .unwrap();
        assert_eq!(ev.format_version.as_deref(), Some("1.6.0"));
        let a = &ev.advisories[0];
        assert_eq!(a.severity, Severity::Critical);
        assert_eq!(a.scores[0].score, Some(10.0));
        assert_eq!(a.cwes, vec![20, 79]);
        assert!(a.affects(&Ecosystem::Pypi, "foo-bar", "1.1"));
        assert!(!a.affects(&Ecosystem::Pypi, "foo-bar", "1.2"));
    }

    #[test]
    fn array_and_word_severity() {
        let ev = p(r#"[{"id":"A","modified":"x","database_specific":{"severity":"MODERATE"}},
                       {"id":"B","modified":"x","severity":[{"type":"CVSS_V2","score":"AV:N/AC:L/Au:N/C:P/I:P/A:P"}]}]"#)
        .unwrap();
        assert_eq!(ev.advisories.len(), 2);
        assert_eq!(ev.advisories[0].severity, Severity::Medium);
        assert_eq!(ev.advisories[1].severity, Severity::Unknown);
        assert_eq!(ev.advisories[1].scores[0].method, "CVSSv2");
    }

    #[test]
    fn errors_name_the_place() {
        let e = p(r#"{"modified":"x"}"#).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Shape);
        let e = p(r#"{"id":"A","modified":"x","affected":[{"ranges":[{"type":"SEMVER","events":[{}]}]}]}"#)
            .unwrap_err();
        assert_eq!(
            e.place,
            Some(crate::Place::Pointer(
                "/affected/0/ranges/0/events/0".into()
            ))
        );
        let e = p(
            r#"[{"id":"A","modified":"x","affected":[{"ranges":[{"type":"NOPE","events":[]}]}]}]"#,
        )
        .unwrap_err();
        assert_eq!(
            e.place,
            Some(crate::Place::Pointer("/0/affected/0/ranges/0/type".into()))
        );
        assert!(p("[{\"id\":").is_err());
    }
}
