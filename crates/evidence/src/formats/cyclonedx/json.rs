//! CycloneDX JSON. Components are converted into the model one by one inside the sequence
//! visitor, so no raw copy of the component array is ever held (see [`parse_json_reader`]).

use std::borrow::Cow;
use std::fmt;
use std::io::{BufReader, Read};

use serde::Deserialize;
use serde::de::{Deserializer, SeqAccess, Visitor};

use super::{Doc, Vuln, artifact_of, ecosystem_of, hash};
use crate::error::{ErrorKind, ParseError, Place};
use crate::json::DepthTracker;
use crate::model::{Component, Hash, Tool};
use crate::{Evidence, Format, Limits};

const FORMAT: Format = Format::CyclonedxJson;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Bom {
    bom_format: String,
    spec_version: String,
    #[serde(default)]
    metadata: Option<Metadata>,
    #[serde(default)]
    components: Components,
    #[serde(default)]
    dependencies: Option<Vec<Dependency>>,
    #[serde(default)]
    vulnerabilities: Option<Vec<Vuln>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Metadata {
    timestamp: Option<String>,
    tools: Option<Tools>,
    component: Option<RawComponentOwned>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Tools {
    /// CycloneDX ≤ 1.4 (deprecated in 1.5): `[{vendor, name, version}]`.
    Legacy(Vec<LegacyTool>),
    /// CycloneDX 1.5+: `{components: [...], services: [...]}`.
    Modern {
        #[serde(default)]
        components: Vec<LegacyTool>,
        #[serde(default)]
        services: Vec<LegacyTool>,
    },
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct LegacyTool {
    vendor: Option<String>,
    name: Option<String>,
    version: Option<String>,
}

impl Tools {
    fn first(&self) -> Option<Tool> {
        let t = match self {
            Tools::Legacy(v) => v.first(),
            Tools::Modern {
                components,
                services,
            } => components.first().or(services.first()),
        }?;
        let name = t.name.clone().or_else(|| t.vendor.clone())?;
        Some(Tool::new(name, t.version.clone()))
    }
}

#[derive(Deserialize)]
struct Dependency {
    #[serde(rename = "ref")]
    reference: String,
    #[serde(default, rename = "dependsOn")]
    depends_on: Vec<String>,
}

/// A component as written; strings the model keeps are owned, those it transforms borrow.
#[derive(Deserialize)]
struct RawComponent<'a> {
    #[serde(rename = "bom-ref", default)]
    bom_ref: Option<String>,
    name: String,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    purl: Option<String>,
    #[serde(default, borrow)]
    licenses: Vec<LicenseChoice<'a>>,
    #[serde(default, borrow)]
    hashes: Vec<RawHash<'a>>,
    #[serde(default)]
    components: Components,
}

#[derive(Deserialize)]
struct LicenseChoice<'a> {
    #[serde(default, borrow)]
    license: Option<License<'a>>,
    #[serde(default, borrow)]
    expression: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct License<'a> {
    #[serde(default, borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    name: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct RawHash<'a> {
    #[serde(borrow)]
    alg: Cow<'a, str>,
    #[serde(borrow)]
    content: Cow<'a, str>,
}

impl RawComponent<'_> {
    /// Push this component, then its nested components, onto `out`.
    fn into_model(self, out: &mut Vec<Component>) {
        let licenses = self
            .licenses
            .into_iter()
            .filter_map(|l| match (l.license, l.expression) {
                (Some(lic), _) => lic.id.or(lic.name).map(Cow::into_owned),
                (None, Some(e)) => Some(e.into_owned()),
                (None, None) => None,
            })
            .collect();
        let hashes: Vec<Hash> = self
            .hashes
            .iter()
            .map(|h| hash(&h.alg, &h.content))
            .collect();
        let ecosystem = self.purl.as_deref().and_then(ecosystem_of);
        out.push(Component {
            bom_ref: self.bom_ref,
            purl: self.purl,
            name: self.name,
            version: self.version,
            ecosystem,
            licenses,
            hashes,
            depends_on: Vec::new(),
        });
        let mut nested = self.components.0;
        out.append(&mut nested);
    }
}

/// `metadata.component`, deserialized owned (it is one object).
struct RawComponentOwned(Vec<Component>);

impl<'de> Deserialize<'de> for RawComponentOwned {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = RawComponent::deserialize(d)?;
        let mut out = Vec::with_capacity(1);
        raw.into_model(&mut out);
        Ok(Self(out))
    }
}

/// A component array, converted into the model as it is read (nested components flattened).
#[derive(Default)]
struct Components(Vec<Component>);

impl<'de> Deserialize<'de> for Components {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Components;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an array of components")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Components, A::Error> {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
                while let Some(c) = seq.next_element::<RawComponent<'de>>()? {
                    c.into_model(&mut out);
                }
                Ok(Components(out))
            }
        }
        d.deserialize_seq(V)
    }
}

fn into_doc(bom: Bom) -> Result<Doc, ParseError> {
    if bom.bom_format != "CycloneDX" {
        return Err(ParseError::shape(
            FORMAT,
            "/bomFormat",
            format!("bomFormat is `{}`, not `CycloneDX`", bom.bom_format),
        ));
    }
    let mut doc = Doc::new(FORMAT);
    doc.version = Some(bom.spec_version);
    if let Some(m) = bom.metadata {
        doc.created = m.timestamp;
        doc.tool = m.tools.as_ref().and_then(Tools::first);
        doc.artifact = m.component.and_then(|c| c.0.first().map(artifact_of));
    }
    doc.components = bom.components.0;
    doc.dependencies = bom
        .dependencies
        .unwrap_or_default()
        .into_iter()
        .map(|d| (d.reference, d.depends_on))
        .collect();
    doc.vulns = bom.vulnerabilities.unwrap_or_default();
    Ok(doc)
}

/// Parse a CycloneDX JSON document held in memory.
pub fn parse_json(bytes: &[u8], limits: &Limits) -> Result<Evidence, ParseError> {
    let bom: Bom = crate::json::from_slice_located(bytes, FORMAT, limits)?;
    Ok(into_doc(bom)?.into_evidence())
}

/// Parse a CycloneDX JSON document from a reader, without holding the whole document in memory:
/// nesting depth and size are checked as the bytes pass, and components are converted one by one.
///
/// Errors carry a line:column (there is no second pass to compute a JSON pointer).
pub fn parse_json_reader<R: Read>(reader: R, limits: &Limits) -> Result<Evidence, ParseError> {
    let guarded = Guarded::new(BufReader::with_capacity(1 << 16, reader), limits);
    let mut de = serde_json::Deserializer::from_reader(guarded);
    de.disable_recursion_limit();
    let result = Bom::deserialize(&mut de).and_then(|v| de.end().map(|()| v));
    match result {
        Ok(bom) => Ok(into_doc(bom)?.into_evidence()),
        Err(e) => Err(describe_stream_error(e, limits)),
    }
}

fn describe_stream_error(e: serde_json::Error, limits: &Limits) -> ParseError {
    use serde_json::error::Category;
    let place = Place::LineColumn {
        line: e.line(),
        column: e.column(),
    };
    if e.classify() == Category::Io {
        let line_col = (e.line(), e.column());
        // Converting back gives the io::Error our reader returned.
        let io = std::io::Error::from(e);
        let guard = io.get_ref().and_then(|g| g.downcast_ref::<GuardError>());
        return match guard {
            Some(g) => guard_to_parse_error(g, limits),
            None => ParseError::new(ErrorKind::Syntax, Some(FORMAT), format!("read error: {io}"))
                .at(Place::LineColumn {
                    line: line_col.0,
                    column: line_col.1,
                }),
        };
    }
    let msg = e.to_string();
    let msg = match msg.rfind(" at line ") {
        Some(i) => msg.get(..i).unwrap_or(&msg).to_string(),
        None => msg,
    };
    let kind = match e.classify() {
        Category::Eof => ErrorKind::Truncated,
        Category::Syntax | Category::Io => ErrorKind::Syntax,
        Category::Data => ErrorKind::Shape,
    };
    ParseError::new(kind, Some(FORMAT), msg).at(place)
}

fn guard_to_parse_error(g: &GuardError, limits: &Limits) -> ParseError {
    match g {
        GuardError::TooDeep { line, column } => {
            crate::json::too_deep(FORMAT, limits.max_depth).at(Place::LineColumn {
                line: *line,
                column: *column,
            })
        }
        GuardError::TooLarge => ParseError::new(
            ErrorKind::TooLarge,
            Some(FORMAT),
            format!(
                "over the limit of {} bytes (raise it with --max-bytes)",
                limits.max_bytes
            ),
        ),
    }
}

#[derive(Debug)]
enum GuardError {
    TooDeep { line: usize, column: usize },
    TooLarge,
}

impl fmt::Display for GuardError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GuardError::TooDeep { line, column } => write!(f, "too deep at {line}:{column}"),
            GuardError::TooLarge => f.write_str("too large"),
        }
    }
}

impl std::error::Error for GuardError {}

/// A reader that enforces [`Limits`] on the bytes passing through it.
struct Guarded<R> {
    inner: R,
    tracker: DepthTracker,
    max_bytes: u64,
    seen: u64,
    line: usize,
    line_start: u64,
}

impl<R: Read> Guarded<R> {
    fn new(inner: R, limits: &Limits) -> Self {
        Self {
            inner,
            tracker: DepthTracker::new(limits.max_depth),
            max_bytes: limits.max_bytes,
            seen: 0,
            line: 1,
            line_start: 0,
        }
    }
}

impl<R: Read> Read for Guarded<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let chunk = buf.get(..n).unwrap_or_default();
        if self.seen.saturating_add(n as u64) > self.max_bytes {
            return Err(std::io::Error::other(GuardError::TooLarge));
        }
        let checked = self.tracker.feed(chunk);
        let upto = match checked {
            Ok(()) => n,
            Err(i) => i,
        };
        for (i, &b) in chunk.get(..upto).unwrap_or_default().iter().enumerate() {
            if b == b'\n' {
                self.line += 1;
                self.line_start = self.seen + i as u64 + 1;
            }
        }
        if let Err(i) = checked {
            let column = (self.seen + i as u64 - self.line_start + 1) as usize;
            return Err(std::io::Error::other(GuardError::TooDeep {
                line: self.line,
                column,
            }));
        }
        self.seen += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Ecosystem, Severity};

    const DOC: &str = r#"{
      "bomFormat": "CycloneDX", "specVersion": "1.6",
      "metadata": {
        "timestamp": "2024-01-01T00:00:00Z",
        "tools": {"components": [{"type": "application", "name": "syft", "version": "1.0"}]},
        "component": {"type": "container", "name": "app",
                      "purl": "pkg:oci/app@sha256%3AABCDEF?repository_url=x"}
      },
      "components": [
        {"type": "library", "bom-ref": "a", "group": "org.x", "name": "a", "version": "1",
         "purl": "pkg:maven/org.x/a@1",
         "licenses": [{"license": {"id": "MIT"}}, {"license": {"name": "Custom"}}, {"expression": "A OR B"}],
         "hashes": [{"alg": "SHA-256", "content": "ABCD"}],
         "properties": [{"name": "p", "value": "v"}],
         "components": [{"type": "library", "bom-ref": "b", "name": "b"}]}
      ],
      "dependencies": [{"ref": "a", "dependsOn": ["b"]}, {"ref": "ghost", "dependsOn": ["a"]}],
      "vulnerabilities": [{
        "id": "GHSA-1", "source": {"name": "GitHub", "url": "https://g/1"},
        "references": [{"id": "CVE-2024-1", "source": {"name": "NVD"}}],
        "ratings": [{"score": 9.8, "method": "CVSSv31", "vector": "AV:N"}, {"severity": "high", "source": {"name": "ghsa"}}],
        "cwes": [79],
        "description": "bad", "recommendation": "upgrade",
        "advisories": [{"url": "https://adv/1"}],
        "affects": [{"ref": "a", "versions": [{"version": "2", "status": "unaffected"}, {"range": "vers:maven/<2", "status": "affected"}]},
                    {"ref": "pkg:npm/zz@3"}],
        "analysis": {"state": "not_affected", "justification": "code_not_reachable", "response": ["will_not_fix"], "detail": "d"}
      }]
    }"#;

    fn check(ev: &Evidence) {
        assert_eq!(ev.format_version.as_deref(), Some("1.6"));
        assert_eq!(ev.created.as_deref(), Some("2024-01-01T00:00:00Z"));
        assert_eq!(ev.tool, Some(Tool::new("syft", Some("1.0".into()))));
        let art = ev.artifact.as_ref().unwrap();
        assert_eq!(
            (art.name.as_str(), art.digest.as_deref()),
            ("app", Some("sha256:abcdef"))
        );
        assert_eq!(ev.components.len(), 2);
        let a = &ev.components[0];
        assert_eq!(a.name, "a");
        assert_eq!(a.ecosystem, Some(Ecosystem::Maven));
        assert_eq!(a.licenses, ["MIT", "Custom", "A OR B"]);
        assert_eq!(a.hashes[0].alg, "sha256");
        assert_eq!(a.hashes[0].value, "abcd");
        assert_eq!(a.depends_on, ["b"]);
        assert_eq!(ev.components[1].bom_ref.as_deref(), Some("b"));
        assert_eq!(ev.findings.len(), 2);
        let f = &ev.findings[0];
        assert_eq!(f.id, "GHSA-1");
        assert_eq!(f.aliases, ["CVE-2024-1"]);
        assert_eq!(f.severity, Severity::High);
        assert_eq!(f.original_severity.as_deref(), Some("high"));
        assert_eq!(f.scores.len(), 1);
        assert_eq!(f.scores[0].source.as_deref(), Some("GitHub"));
        assert_eq!(f.cwes, [79]);
        assert_eq!(f.fixed_versions, ["2"]);
        assert_eq!(f.references, ["https://adv/1", "https://g/1"]);
        assert_eq!(f.key, "vuln:CVE-2024-1|pkg:maven/org.x/a@1");
        assert_eq!(f.vex.as_ref().unwrap().state, "not_affected");
        assert_eq!(f.vex.as_ref().unwrap().response, ["will_not_fix"]);
        assert!(
            f.description
                .as_deref()
                .unwrap()
                .contains("Recommendation: upgrade")
        );
        let g = &ev.findings[1];
        assert_eq!(g.component.as_ref().unwrap().name, "zz");
        assert_eq!(g.key, "vuln:CVE-2024-1|pkg:npm/zz@3");
        assert!(g.fixed_versions.is_empty());
    }

    #[test]
    fn reads_everything_from_slice_and_reader() {
        let l = Limits::default();
        check(&parse_json(DOC.as_bytes(), &l).unwrap());
        check(&parse_json_reader(DOC.as_bytes(), &l).unwrap());
        assert_eq!(
            parse_json(DOC.as_bytes(), &l).unwrap(),
            parse_json_reader(DOC.as_bytes(), &l).unwrap()
        );
    }

    #[test]
    fn legacy_tools_and_sha256_artifact() {
        let doc = br#"{"bomFormat":"CycloneDX","specVersion":"1.4",
          "metadata":{"tools":[{"vendor":"v","name":"t","version":"2"}],
          "component":{"type":"application","name":"x","hashes":[{"alg":"SHA-256","content":"FF"}]}}}"#;
        let ev = parse_json(doc, &Limits::default()).unwrap();
        assert_eq!(ev.tool, Some(Tool::new("t", Some("2".into()))));
        assert_eq!(ev.artifact.unwrap().digest.as_deref(), Some("sha256:ff"));
        assert!(ev.components.is_empty());
    }

    #[test]
    fn errors_are_located() {
        let l = Limits::default();
        let doc =
            br#"{"bomFormat":"CycloneDX","specVersion":"1.5","components":[{"type":"library"}]}"#;
        let e = parse_json(doc, &l).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Shape);
        assert_eq!(e.place, Some(Place::Pointer("/components/0".into())));
        let e = parse_json_reader(&doc[..], &l).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Shape);

        let e = parse_json(br#"{"bomFormat":"SPDX","specVersion":"1.5"}"#, &l).unwrap_err();
        assert_eq!(e.place, Some(Place::Pointer("/bomFormat".into())));

        let e = parse_json_reader(&br#"{"bomFormat":"CycloneDX","#[..], &l).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Truncated);
    }

    #[test]
    fn reader_enforces_depth_and_size() {
        let tight = Limits {
            max_depth: 3,
            ..Limits::default()
        };
        let doc = b"{\"bomFormat\":\"CycloneDX\",\n\"specVersion\":\"1.5\",\"x\":[[[1]]]}";
        let e = parse_json_reader(&doc[..], &tight).unwrap_err();
        assert_eq!(e.kind, ErrorKind::TooDeep);
        assert_eq!(
            e.place,
            Some(Place::LineColumn {
                line: 2,
                column: 27
            })
        );
        let e = parse_json(doc, &tight).unwrap_err();
        assert_eq!(
            e.place,
            Some(Place::LineColumn {
                line: 2,
                column: 27
            })
        );
        let small = Limits {
            max_bytes: 10,
            ..Limits::default()
        };
        let e = parse_json_reader(&doc[..], &small).unwrap_err();
        assert_eq!(e.kind, ErrorKind::TooLarge);
    }
}
