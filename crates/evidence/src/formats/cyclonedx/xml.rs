//! CycloneDX XML (schemas 1.2–1.6), read with quick-xml's event reader.
//!
//! Elements are matched on their local names, whatever the namespace prefix; the spec version is
//! the one in the CycloneDX namespace (`http://cyclonedx.org/schema/bom/1.6` → `1.6`). Nesting
//! is bounded by `limits.max_depth`; every error has a line:column.

use quick_xml::events::{BytesStart, Event};
use quick_xml::reader::Reader;

use super::{
    Advisory, AffectedVersion, Affects, Analysis, Doc, Rating, Vuln, VulnReference, VulnSource,
    artifact_of, ecosystem_of, hash, version_of_namespace,
};
use crate::error::{ErrorKind, ParseError, Place};
use crate::model::{Component, ComponentRef, Tool};
use crate::{Evidence, Format, Limits};

const FORMAT: Format = Format::CyclonedxXml;

type Res<T> = Result<T, ParseError>;

/// Parse a CycloneDX XML document.
pub fn parse_xml(bytes: &[u8], limits: &Limits) -> Result<Evidence, ParseError> {
    crate::json::check_size(bytes, Some(FORMAT), limits)?;
    let text = std::str::from_utf8(bytes).map_err(|e| {
        ParseError::new(
            ErrorKind::NotUtf8,
            Some(FORMAT),
            "invalid UTF-8 byte sequence",
        )
        .at(Place::at_offset(bytes, e.valid_up_to()))
    })?;
    let mut x = Xml {
        reader: Reader::from_str(text),
        bytes,
        depth: 0,
        max_depth: limits.max_depth,
    };
    let mut doc = Doc::new(FORMAT);
    loop {
        match x.next()? {
            Event::Start(e) => {
                x.root(&e, &mut doc)?;
                x.bom(&mut doc)?;
                break;
            }
            Event::Empty(e) => {
                x.root(&e, &mut doc)?;
                break;
            }
            Event::Eof => {
                return Err(ParseError::new(
                    ErrorKind::Empty,
                    Some(FORMAT),
                    "no root element",
                ));
            }
            _ => {}
        }
    }
    Ok(doc.into_evidence())
}

struct Xml<'a> {
    reader: Reader<&'a [u8]>,
    bytes: &'a [u8],
    depth: usize,
    max_depth: usize,
}

fn local<'e>(e: &'e BytesStart<'_>) -> &'e str {
    let name = e.name();
    let full: &'e str = name.0;
    full.rsplit(':').next().unwrap_or(full)
}

fn attr(e: &BytesStart<'_>, local_name: &str) -> Option<String> {
    e.attributes().flatten().find_map(|a| {
        let key = a.key.0;
        let key_local = key.rsplit(':').next().unwrap_or(key);
        (key_local == local_name && !key.starts_with("xmlns")).then(|| {
            a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map(|v| v.into_owned())
                .unwrap_or_else(|_| a.value.clone().into_owned())
        })
    })
}

impl<'a> Xml<'a> {
    fn place(&self, offset: u64) -> Place {
        Place::at_offset(self.bytes, usize::try_from(offset).unwrap_or(usize::MAX))
    }

    fn here(&self) -> Place {
        self.place(self.reader.buffer_position())
    }

    fn truncated(&self) -> ParseError {
        ParseError::new(
            ErrorKind::Truncated,
            Some(FORMAT),
            "document ends before its root element is closed",
        )
        .at(self.here())
    }

    fn shape(&self, offset: u64, msg: impl Into<String>) -> ParseError {
        ParseError::new(ErrorKind::Shape, Some(FORMAT), msg).at(self.place(offset))
    }

    fn next(&mut self) -> Res<Event<'a>> {
        match self.reader.read_event() {
            Ok(ev) => {
                let opens = match &ev {
                    Event::Start(_) => {
                        self.depth += 1;
                        self.depth
                    }
                    Event::Empty(_) => self.depth + 1,
                    Event::End(_) => {
                        self.depth = self.depth.saturating_sub(1);
                        0
                    }
                    _ => 0,
                };
                if opens > self.max_depth {
                    return Err(crate::json::too_deep(FORMAT, self.max_depth).at(self.here()));
                }
                Ok(ev)
            }
            Err(e) => Err(
                ParseError::new(ErrorKind::Syntax, Some(FORMAT), e.to_string())
                    .at(self.place(self.reader.error_position())),
            ),
        }
    }

    /// The text of the element just opened (empty for `<x/>`), trimmed; child elements and
    /// their text are skipped.
    fn text(&mut self, empty: bool) -> Res<String> {
        Ok(self.text_and_child(empty, "")?.0)
    }

    /// The direct text of the element just opened, trimmed, and the text of its first child
    /// element named `child` (for elements that are text in one schema version and have a child
    /// in another). Other child elements are skipped.
    fn text_and_child(&mut self, empty: bool, child: &str) -> Res<(String, Option<String>)> {
        if empty {
            return Ok((String::new(), None));
        }
        let target = self.depth;
        let mut out = String::new();
        let mut found = None;
        loop {
            match self.next()? {
                Event::Start(e) => {
                    if !child.is_empty() && found.is_none() && local(&e) == child {
                        found = Some(self.text(false)?);
                    } else {
                        self.skip()?;
                    }
                }
                Event::Text(t) => out.push_str(&t.xml10_content()),
                Event::CData(c) => out.push_str(&c.into_inner()),
                Event::GeneralRef(r) => {
                    let resolved = match r.resolve_char_ref() {
                        Ok(Some(ch)) => Some(ch),
                        Ok(None) => None,
                        Err(e) => {
                            return Err(ParseError::new(
                                ErrorKind::Syntax,
                                Some(FORMAT),
                                e.to_string(),
                            )
                            .at(self.here()));
                        }
                    };
                    match resolved {
                        Some(ch) => out.push(ch),
                        None => match quick_xml::escape::resolve_predefined_entity(&r) {
                            Some(s) => out.push_str(s),
                            None => {
                                return Err(ParseError::new(
                                    ErrorKind::Syntax,
                                    Some(FORMAT),
                                    format!("unknown entity `&{};`", &*r),
                                )
                                .at(self.here()));
                            }
                        },
                    }
                }
                Event::End(_) if self.depth < target => break,
                Event::Eof => return Err(self.truncated()),
                _ => {}
            }
        }
        let trimmed = out.trim();
        let text = if trimmed.len() == out.len() {
            out
        } else {
            trimmed.to_string()
        };
        Ok((text, found.filter(|f| !f.is_empty())))
    }

    fn opt_text(&mut self, empty: bool) -> Res<Option<String>> {
        let t = self.text(empty)?;
        Ok((!t.is_empty()).then_some(t))
    }

    /// Skip the rest of the element just opened.
    fn skip(&mut self) -> Res<()> {
        let target = self.depth;
        loop {
            match self.next()? {
                Event::End(_) if self.depth < target => return Ok(()),
                Event::Eof => return Err(self.truncated()),
                _ => {}
            }
        }
    }

    /// Visit each child element of the element just opened; children `f` leaves unread are
    /// skipped.
    fn children(
        &mut self,
        empty: bool,
        mut f: impl FnMut(&mut Self, &BytesStart<'a>, bool) -> Res<()>,
    ) -> Res<()> {
        if empty {
            return Ok(());
        }
        let target = self.depth;
        loop {
            match self.next()? {
                Event::Start(e) => {
                    f(self, &e, false)?;
                    if self.depth > target {
                        self.skip()?;
                    }
                }
                Event::Empty(e) => f(self, &e, true)?,
                Event::End(_) if self.depth < target => return Ok(()),
                Event::Eof => return Err(self.truncated()),
                _ => {}
            }
        }
    }

    fn root(&mut self, e: &BytesStart<'a>, doc: &mut Doc) -> Res<()> {
        if local(e) != "bom" {
            return Err(self.shape(0, format!("the root element is `{}`, not `bom`", local(e))));
        }
        doc.version = e.attributes().flatten().find_map(|a| {
            a.key
                .0
                .starts_with("xmlns")
                .then(|| version_of_namespace(&a.value))
                .flatten()
        });
        Ok(())
    }

    fn bom(&mut self, doc: &mut Doc) -> Res<()> {
        self.children(false, |x, e, empty| match local(e) {
            "metadata" => x.metadata(empty, doc),
            "components" => x.components(empty, &mut doc.components, &mut doc.vulns),
            "dependencies" => x.children(empty, |x, e, empty| {
                if local(e) != "dependency" {
                    return Ok(());
                }
                let reference = attr(e, "ref").unwrap_or_default();
                let mut depends_on = Vec::new();
                x.children(empty, |_, e, _| {
                    if local(e) == "dependency"
                        && let Some(r) = attr(e, "ref")
                    {
                        depends_on.push(r);
                    }
                    Ok(())
                })?;
                doc.dependencies.push((reference, depends_on));
                Ok(())
            }),
            "vulnerabilities" => x.vulnerabilities(empty, None, &mut doc.vulns),
            _ => Ok(()),
        })
    }

    fn vulnerabilities(
        &mut self,
        empty: bool,
        owner: Option<&ComponentRef>,
        vulns: &mut Vec<Vuln>,
    ) -> Res<()> {
        self.children(empty, |x, e, empty| {
            if local(e) == "vulnerability" {
                let mut v = x.vulnerability(e, empty)?;
                if let Some(o) = owner {
                    v.owner = Some(o.clone());
                    v.affects.clear();
                }
                vulns.push(v);
            }
            Ok(())
        })
    }

    fn metadata(&mut self, empty: bool, doc: &mut Doc) -> Res<()> {
        self.children(empty, |x, e, empty| match local(e) {
            "timestamp" => {
                doc.created = x.opt_text(empty)?;
                Ok(())
            }
            "tools" => {
                let tool = x.tools(empty)?;
                if doc.tool.is_none() {
                    doc.tool = tool;
                }
                Ok(())
            }
            "component" => {
                let mut out = Vec::new();
                x.component(e, empty, &mut out, &mut doc.vulns)?;
                doc.artifact = out.first().map(artifact_of);
                Ok(())
            }
            _ => Ok(()),
        })
    }

    /// The first tool: a 1.4 `<tool>`, or a 1.5+ `<components><component>` / `<services><service>`.
    fn tools(&mut self, empty: bool) -> Res<Option<Tool>> {
        let mut first: Option<Tool> = None;
        self.children(empty, |x, e, empty| {
            let one = |x: &mut Self, empty| -> Res<Option<Tool>> {
                let (mut vendor, mut name, mut version) = (None, None, None);
                x.children(empty, |x, e, empty| {
                    match local(e) {
                        "vendor" => vendor = x.opt_text(empty)?,
                        "name" => name = x.opt_text(empty)?,
                        "version" => version = x.opt_text(empty)?,
                        _ => {}
                    }
                    Ok(())
                })?;
                Ok(name.or(vendor).map(|n| Tool::new(n, version)))
            };
            match local(e) {
                "tool" => {
                    let t = one(x, empty)?;
                    first = first.take().or(t);
                }
                "components" | "services" => x.children(empty, |x, e, empty| {
                    if matches!(local(e), "component" | "service") {
                        let t = one(x, empty)?;
                        first = first.take().or(t);
                    }
                    Ok(())
                })?,
                _ => {}
            }
            Ok(())
        })?;
        Ok(first)
    }

    fn components(
        &mut self,
        empty: bool,
        out: &mut Vec<Component>,
        vulns: &mut Vec<Vuln>,
    ) -> Res<()> {
        self.children(empty, |x, e, empty| {
            if local(e) == "component" {
                x.component(e, empty, out, vulns)?;
            }
            Ok(())
        })
    }

    /// One component, then its nested components, onto `out`.
    fn component(
        &mut self,
        e: &BytesStart<'a>,
        empty: bool,
        out: &mut Vec<Component>,
        vulns: &mut Vec<Vuln>,
    ) -> Res<()> {
        let start = self.reader.buffer_position();
        let mut c = Component {
            bom_ref: attr(e, "bom-ref"),
            purl: None,
            name: String::new(),
            version: None,
            ecosystem: None,
            licenses: Vec::new(),
            hashes: Vec::new(),
            depends_on: Vec::new(),
        };
        let mut has_name = false;
        let mut nested = Vec::new();
        // Vulnerabilities of the 1.2/1.3 extension nested here, given an owner once the
        // component is complete.
        let mut own_vulns = Vec::new();
        self.children(empty, |x, e, empty| {
            match local(e) {
                "name" => {
                    c.name = x.text(empty)?;
                    has_name = true;
                }
                "version" => c.version = x.opt_text(empty)?,
                "purl" => c.purl = x.opt_text(empty)?,
                "licenses" => x.children(empty, |x, e, empty| {
                    match local(e) {
                        "license" => {
                            let (mut id, mut name) = (None, None);
                            x.children(empty, |x, e, empty| {
                                match local(e) {
                                    "id" => id = x.opt_text(empty)?,
                                    "name" => name = x.opt_text(empty)?,
                                    _ => {}
                                }
                                Ok(())
                            })?;
                            c.licenses.extend(id.or(name));
                        }
                        "expression" => c.licenses.extend(x.opt_text(empty)?),
                        _ => {}
                    }
                    Ok(())
                })?,
                "hashes" => x.children(empty, |x, e, empty| {
                    if local(e) == "hash" {
                        let alg = attr(e, "alg").unwrap_or_default();
                        let content = x.text(empty)?;
                        c.hashes.push(hash(&alg, &content));
                    }
                    Ok(())
                })?,
                "components" => x.components(empty, &mut nested, vulns)?,
                "vulnerabilities" => x.vulnerabilities(empty, None, &mut own_vulns)?,
                _ => {}
            }
            Ok(())
        })?;
        if !has_name {
            return Err(self.shape(start, "component without a `name`"));
        }
        c.ecosystem = c.purl.as_deref().and_then(ecosystem_of);
        if !own_vulns.is_empty() {
            let owner = ComponentRef {
                purl: c.purl.clone(),
                name: c.name.clone(),
                version: c.version.clone(),
                ecosystem: c.ecosystem.clone(),
                path: None,
            };
            for mut v in own_vulns {
                v.owner = Some(owner.clone());
                v.affects.clear();
                vulns.push(v);
            }
        }
        out.push(c);
        out.append(&mut nested);
        Ok(())
    }

    fn source(&mut self, empty: bool) -> Res<VulnSource> {
        let mut s = VulnSource::default();
        self.children(empty, |x, e, empty| {
            match local(e) {
                "name" => s.name = x.opt_text(empty)?,
                "url" => s.url = x.opt_text(empty)?,
                _ => {}
            }
            Ok(())
        })?;
        Ok(s)
    }

    fn vulnerability(&mut self, e: &BytesStart<'a>, empty: bool) -> Res<Vuln> {
        let mut v = Vuln {
            bom_ref: attr(e, "bom-ref"),
            ..Vuln::default()
        };
        // The 1.0 vulnerability extension names the affected component in a `ref` attribute.
        if let Some(r) = attr(e, "ref") {
            v.affects.push(Affects {
                reference: r,
                versions: Vec::new(),
            });
        }
        self.children(empty, |x, e, empty| {
            match local(e) {
                "id" => v.id = x.opt_text(empty)?,
                "source" => {
                    let name = attr(e, "name");
                    let mut s = x.source(empty)?;
                    s.name = s.name.or(name);
                    v.source = Some(s);
                }
                "description" => v.description = x.opt_text(empty)?,
                "detail" => v.detail = x.opt_text(empty)?,
                "recommendation" => v.recommendation = x.opt_text(empty)?,
                "recommendations" => x.children(empty, |x, e, empty| {
                    if local(e) == "recommendation"
                        && let Some(r) = x.opt_text(empty)?
                    {
                        v.recommendation = Some(match v.recommendation.take() {
                            Some(prev) => format!("{prev}\n{r}"),
                            None => r,
                        });
                    }
                    Ok(())
                })?,
                "references" => x.children(empty, |x, e, empty| {
                    if local(e) == "reference" {
                        let mut r = VulnReference::default();
                        x.children(empty, |x, e, empty| {
                            if local(e) == "id" {
                                r.id = x.opt_text(empty)?;
                            }
                            Ok(())
                        })?;
                        v.references.push(r);
                    }
                    Ok(())
                })?,
                "ratings" => x.children(empty, |x, e, empty| {
                    if local(e) == "rating" {
                        let r = x.rating(empty)?;
                        v.ratings.push(r);
                    }
                    Ok(())
                })?,
                "cwes" => x.children(empty, |x, e, empty| {
                    if local(e) == "cwe" {
                        let at = x.reader.buffer_position();
                        let t = x.text(empty)?;
                        let n = t
                            .parse::<u32>()
                            .map_err(|_| x.shape(at, format!("cwe `{t}` is not a number")))?;
                        v.cwes.push(n);
                    }
                    Ok(())
                })?,
                "advisories" => x.children(empty, |x, e, empty| {
                    if local(e) == "advisory" {
                        // 1.4+: `<advisory><url>`; the 1.0 extension: `<advisory>URL</advisory>`.
                        let (direct, url) = x.text_and_child(empty, "url")?;
                        let a = Advisory {
                            url: url.or((!direct.is_empty()).then_some(direct)),
                        };
                        v.advisories.push(a);
                    }
                    Ok(())
                })?,
                "analysis" => {
                    let mut a = Analysis::default();
                    x.children(empty, |x, e, empty| {
                        match local(e) {
                            "state" => a.state = x.opt_text(empty)?,
                            "justification" => a.justification = x.opt_text(empty)?,
                            "detail" => a.detail = x.opt_text(empty)?,
                            "responses" => x.children(empty, |x, e, empty| {
                                if local(e) == "response" {
                                    a.response.extend(x.opt_text(empty)?);
                                }
                                Ok(())
                            })?,
                            _ => {}
                        }
                        Ok(())
                    })?;
                    v.analysis = Some(a);
                }
                "affects" => x.children(empty, |x, e, empty| {
                    if local(e) == "target" {
                        let t = x.target(empty)?;
                        v.affects.push(t);
                    }
                    Ok(())
                })?,
                _ => {}
            }
            Ok(())
        })?;
        Ok(v)
    }

    fn rating(&mut self, empty: bool) -> Res<Rating> {
        let mut r = Rating::default();
        self.children(empty, |x, e, empty| {
            match local(e) {
                "source" => r.source = Some(x.source(empty)?),
                "score" => {
                    let at = x.reader.buffer_position();
                    // The 1.0 extension: `<score><base>9.8</base><impact>…</impact>…</score>`.
                    let (direct, base) = x.text_and_child(empty, "base")?;
                    let text = base.or((!direct.is_empty()).then_some(direct));
                    if let Some(t) = text {
                        r.score =
                            Some(t.parse::<f64>().map_err(|_| {
                                x.shape(at, format!("score `{t}` is not a number"))
                            })?);
                    }
                }
                "severity" => r.severity = x.opt_text(empty)?,
                "method" => r.method = x.opt_text(empty)?,
                "vector" => r.vector = x.opt_text(empty)?,
                _ => {}
            }
            Ok(())
        })?;
        Ok(r)
    }

    fn target(&mut self, empty: bool) -> Res<Affects> {
        let mut t = Affects::default();
        self.children(empty, |x, e, empty| {
            match local(e) {
                "ref" => t.reference = x.text(empty)?,
                "versions" => x.children(empty, |x, e, empty| {
                    if local(e) == "version" {
                        let mut av = AffectedVersion::default();
                        x.children(empty, |x, e, empty| {
                            match local(e) {
                                "version" => av.version = x.opt_text(empty)?,
                                "status" => av.status = x.opt_text(empty)?,
                                _ => {}
                            }
                            Ok(())
                        })?;
                        t.versions.push(av);
                    }
                    Ok(())
                })?,
                _ => {}
            }
            Ok(())
        })?;
        Ok(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Ecosystem, Severity};

    const DOC: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<bom xmlns="http://cyclonedx.org/schema/bom/1.5" version="1">
  <metadata>
    <timestamp>2024-01-01T00:00:00Z</timestamp>
    <tools><components><component type="application"><name>cdxgen</name><version>9</version></component></components></tools>
    <component type="application"><name>app</name>
      <hashes><hash alg="SHA-256">AB</hash></hashes></component>
  </metadata>
  <components>
    <component type="library" bom-ref="a">
      <group>org.x</group><name>a &amp; b</name><version>1</version>
      <licenses><license><id>MIT</id></license><expression>A OR B</expression></licenses>
      <hashes><hash alg="SHA-1">FF</hash></hashes>
      <purl><![CDATA[pkg:maven/org.x/a@1]]></purl>
      <components><component type="library" bom-ref="b"><name>b</name></component></components>
    </component>
  </components>
  <dependencies><dependency ref="a"><dependency ref="b"/></dependency><dependency ref="b"/></dependencies>
  <vulnerabilities>
    <vulnerability bom-ref="v1">
      <id>CVE-2024-9</id>
      <ratings><rating><score>5.5</score><method>CVSSv3</method></rating></ratings>
      <cwes><cwe>79</cwe></cwes>
      <tools><tool><name>not the doc tool</name></tool></tools>
      <analysis><state>exploitable</state><responses><response>update</response></responses></analysis>
      <affects><target><ref>b</ref><versions><version><version>2</version><status>unaffected</status></version></versions></target></affects>
    </vulnerability>
  </vulnerabilities>
</bom>"#;

    #[test]
    fn reads_everything() {
        let ev = parse_xml(DOC.as_bytes(), &Limits::default()).unwrap();
        assert_eq!(ev.format_version.as_deref(), Some("1.5"));
        assert_eq!(ev.created.as_deref(), Some("2024-01-01T00:00:00Z"));
        assert_eq!(ev.tool, Some(Tool::new("cdxgen", Some("9".into()))));
        assert_eq!(
            ev.artifact.as_ref().unwrap().digest.as_deref(),
            Some("sha256:ab")
        );
        assert_eq!(ev.components.len(), 2);
        let a = &ev.components[0];
        assert_eq!(a.name, "a & b");
        assert_eq!(a.purl.as_deref(), Some("pkg:maven/org.x/a@1"));
        assert_eq!(a.ecosystem, Some(Ecosystem::Maven));
        assert_eq!(a.licenses, ["MIT", "A OR B"]);
        assert_eq!(
            (a.hashes[0].alg.as_str(), a.hashes[0].value.as_str()),
            ("sha1", "ff")
        );
        assert_eq!(a.depends_on, ["b"]);
        assert_eq!(ev.findings.len(), 1);
        let f = &ev.findings[0];
        assert_eq!(f.severity, Severity::Medium);
        assert_eq!(f.component.as_ref().unwrap().name, "b");
        assert_eq!(f.fixed_versions, ["2"]);
        assert_eq!(f.vex.as_ref().unwrap().state, "exploitable");
        assert_eq!(f.vex.as_ref().unwrap().response, ["update"]);
        assert_eq!(f.tool.name, "cdxgen");
    }

    #[test]
    fn errors_have_line_and_column() {
        let l = Limits::default();
        let e = parse_xml(
            b"<bom>\n<components>\n<component><version>1</version></component></components></bom>",
            &l,
        )
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Shape);
        assert_eq!(
            e.place,
            Some(Place::LineColumn {
                line: 3,
                column: 12
            })
        );

        let e = parse_xml(b"<bom><components>", &l).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Truncated);

        let e = parse_xml(b"<bom>\n<a></b></bom>", &l).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Syntax);
        assert!(matches!(e.place, Some(Place::LineColumn { line: 2, .. })));

        let e = parse_xml(b"<sbom/>", &l).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Shape);

        let tight = Limits {
            max_depth: 3,
            ..Limits::default()
        };
        let e = parse_xml(b"<bom><a><b><c/></b></a></bom>", &tight).unwrap_err();
        assert_eq!(e.kind, ErrorKind::TooDeep);
        assert!(parse_xml(b"<bom><a><b/></a></bom>", &tight).is_ok());
    }
}
