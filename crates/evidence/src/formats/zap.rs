//! OWASP ZAP reports: the traditional XML report (`<OWASPZAPReport>`) and the traditional JSON
//! report (`@programName`, `@version`, `site[]`), which carry the same fields.
//!
//! Each alert becomes one `Dast` finding per instance (older reports put `uri`/`param` on the
//! alert itself and list no instances: then one finding per alert). Severity is ZAP's
//! `riskcode`: 0 info, 1 low, 2 medium, 3 high. An alert with `confidence` 0 is one a person
//! marked as a false positive in ZAP: it is kept, marked suppressed. Request and response
//! dumps (`requestheader`, `responsebody`, ...), `attack` and `evidence` are not kept: they
//! can hold credentials.

use serde::Deserialize;
use serde::de::Deserializer;

use crate::Limits;
use crate::error::{ErrorKind, ParseError, Place};
use crate::format::Format;
use crate::json::from_slice_located;
use crate::model::{Endpoint, Evidence, Finding, FindingKind, Severity, Tool};

// ---------------------------------------------------------------------------------------------
// The alert as both forms carry it.

#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Alert {
    #[serde(deserialize_with = "text")]
    pluginid: Option<String>,
    #[serde(default, deserialize_with = "text")]
    alert_ref: Option<String>,
    #[serde(default, deserialize_with = "text")]
    alert: Option<String>,
    #[serde(default, deserialize_with = "text")]
    name: Option<String>,
    #[serde(default, deserialize_with = "text")]
    riskcode: Option<String>,
    #[serde(default, deserialize_with = "text")]
    confidence: Option<String>,
    #[serde(default, deserialize_with = "text")]
    riskdesc: Option<String>,
    #[serde(default, deserialize_with = "text")]
    desc: Option<String>,
    #[serde(default, deserialize_with = "text")]
    solution: Option<String>,
    #[serde(default, deserialize_with = "text")]
    reference: Option<String>,
    #[serde(default, deserialize_with = "text")]
    cweid: Option<String>,
    #[serde(default, deserialize_with = "text")]
    wascid: Option<String>,
    #[serde(default, deserialize_with = "instances")]
    instances: Vec<Instance>,
    // Older reports: one place per alert.
    #[serde(default, deserialize_with = "text")]
    uri: Option<String>,
    #[serde(default, deserialize_with = "text")]
    method: Option<String>,
    #[serde(default, deserialize_with = "text")]
    param: Option<String>,
}

#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
struct Instance {
    #[serde(default, deserialize_with = "text")]
    uri: Option<String>,
    #[serde(default, deserialize_with = "text")]
    method: Option<String>,
    #[serde(default, deserialize_with = "text")]
    param: Option<String>,
}

/// ZAP JSON writes numbers as strings (`"riskcode": "1"`); accept either.
fn text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum T {
        S(String),
        N(serde_json::Number),
        B(bool),
    }
    Ok(Option::<T>::deserialize(d)?.map(|t| match t {
        T::S(s) => s,
        T::N(n) => n.to_string(),
        T::B(b) => b.to_string(),
    }))
}

fn instances<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Instance>, D::Error> {
    Ok(Option::<Vec<Instance>>::deserialize(d)?.unwrap_or_default())
}

/// One value or a list of them (ZAP's older JSON writes `site` as an object when there is one).
fn one_or_many<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany<T> {
        Many(Vec<T>),
        One(T),
    }
    Ok(match Option::<OneOrMany<T>>::deserialize(d)? {
        None => Vec::new(),
        Some(OneOrMany::Many(v)) => v,
        Some(OneOrMany::One(t)) => vec![t],
    })
}

fn non_empty(s: Option<&str>) -> Option<String> {
    s.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// The findings of one alert seen on `site`.
fn findings_of(alert: &Alert, site: Option<&str>, tool: &Tool, out: &mut Vec<Finding>) {
    let Some(plugin) = non_empty(alert.pluginid.as_deref()) else {
        return;
    };
    let severity = match alert.riskcode.as_deref().map(str::trim) {
        Some("0") => Severity::Info,
        Some("1") => Severity::Low,
        Some("2") => Severity::Medium,
        Some("3") => Severity::High,
        _ => Severity::Unknown,
    };
    let original =
        non_empty(alert.riskdesc.as_deref()).or_else(|| non_empty(alert.riskcode.as_deref()));
    let cwes: Vec<u32> = alert
        .cweid
        .as_deref()
        .and_then(|c| c.trim().parse::<u32>().ok())
        .filter(|n| *n > 0)
        .into_iter()
        .collect();
    let references = alert.reference.as_deref().map(urls_in).unwrap_or_default();
    let false_positive = alert.confidence.as_deref().map(str::trim) == Some("0");
    let alert_level = Instance {
        uri: alert.uri.clone(),
        method: alert.method.clone(),
        param: alert.param.clone(),
    };
    let places: Vec<&Instance> = if alert.instances.is_empty() {
        vec![&alert_level]
    } else {
        alert.instances.iter().collect()
    };
    for inst in places {
        let endpoint = Endpoint {
            url: non_empty(inst.uri.as_deref())
                .or_else(|| non_empty(site))
                .unwrap_or_default(),
            method: non_empty(inst.method.as_deref()),
            param: non_empty(inst.param.as_deref()),
        };
        let key = Finding::dast_key(&plugin, &endpoint);
        let mut f = Finding::new(
            FindingKind::Dast,
            plugin.clone(),
            severity,
            tool.clone(),
            key,
        );
        f.rule_id = Some(plugin.clone());
        if let Some(r) = non_empty(alert.alert_ref.as_deref()).filter(|r| *r != plugin) {
            f.aliases.push(r);
        }
        f.title = non_empty(alert.name.as_deref()).or_else(|| non_empty(alert.alert.as_deref()));
        f.description = non_empty(alert.desc.as_deref());
        f.original_severity = original.clone();
        f.endpoint = Some(endpoint);
        f.cwes = cwes.clone();
        f.references = references.clone();
        if false_positive {
            f.suppression = Some("marked as a false positive in ZAP (confidence 0)".into());
        }
        out.push(f);
    }
}

/// The http(s) URLs in ZAP's `reference` field (HTML paragraphs or plain lines).
fn urls_in(reference: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for token in reference.split(|c: char| c.is_whitespace() || c == '<' || c == '>' || c == '"') {
        if (token.starts_with("http://") || token.starts_with("https://"))
            && !out.iter().any(|u| u == token)
        {
            out.push(token.to_string());
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// JSON

#[derive(Deserialize)]
struct JsonReport {
    #[serde(default, rename = "@programName")]
    program_name: Option<String>,
    #[serde(default, rename = "@version")]
    version: Option<String>,
    #[serde(default, rename = "@generated")]
    generated: Option<String>,
    #[serde(default, deserialize_with = "one_or_many")]
    site: Vec<JsonSite>,
}

#[derive(Deserialize)]
struct JsonSite {
    #[serde(default, rename = "@name")]
    name: Option<String>,
    #[serde(default, deserialize_with = "one_or_many")]
    alerts: Vec<Alert>,
}

/// Parse a ZAP traditional JSON report.
pub fn parse_json(bytes: &[u8], limits: &Limits) -> Result<Evidence, ParseError> {
    let doc: JsonReport = from_slice_located(bytes, Format::ZapJson, limits)?;
    let mut e = Evidence::new(Format::ZapJson);
    let tool = Tool::new(
        doc.program_name.unwrap_or_else(|| "ZAP".into()),
        doc.version,
    );
    e.tool = Some(tool.clone());
    e.created = doc.generated;
    for site in &doc.site {
        for alert in &site.alerts {
            findings_of(alert, site.name.as_deref(), &tool, &mut e.findings);
        }
    }
    Ok(e)
}

// ---------------------------------------------------------------------------------------------
// XML

const FORMAT_XML: Format = Format::ZapXml;

/// Elements whose text we keep, under `alertitem` or `instance`.
const FIELDS: &[&str] = &[
    "pluginid",
    "alertRef",
    "alert",
    "name",
    "riskcode",
    "confidence",
    "riskdesc",
    "desc",
    "solution",
    "reference",
    "cweid",
    "wascid",
    "uri",
    "method",
    "param",
];

fn set_alert_field(a: &mut Alert, name: &str, value: String) {
    let slot = match name {
        "pluginid" => &mut a.pluginid,
        "alertRef" => &mut a.alert_ref,
        "alert" => &mut a.alert,
        "name" => &mut a.name,
        "riskcode" => &mut a.riskcode,
        "confidence" => &mut a.confidence,
        "riskdesc" => &mut a.riskdesc,
        "desc" => &mut a.desc,
        "solution" => &mut a.solution,
        "reference" => &mut a.reference,
        "cweid" => &mut a.cweid,
        "wascid" => &mut a.wascid,
        "uri" => &mut a.uri,
        "method" => &mut a.method,
        "param" => &mut a.param,
        _ => return,
    };
    *slot = Some(value);
}

fn set_instance_field(i: &mut Instance, name: &str, value: String) {
    let slot = match name {
        "uri" => &mut i.uri,
        "method" => &mut i.method,
        "param" => &mut i.param,
        _ => return,
    };
    *slot = Some(value);
}

/// Reading state of the XML report.
struct XmlState<'t> {
    bytes: &'t [u8],
    tool: Tool,
    stack: Vec<String>,
    site: Option<String>,
    alert: Option<(Alert, usize)>,
    instance: Option<Instance>,
    text: Option<String>,
    findings: Vec<Finding>,
}

impl XmlState<'_> {
    fn open(&mut self, name: &str, attrs: &[(String, String)], pos: usize) {
        let parent = self.stack.last().map(String::as_str);
        match name {
            "site" => {
                self.site = attrs
                    .iter()
                    .find(|(k, _)| k == "name")
                    .map(|(_, v)| v.clone());
            }
            "alertitem" => self.alert = Some((Alert::default(), pos)),
            "instance" if self.alert.is_some() => self.instance = Some(Instance::default()),
            _ => {}
        }
        let in_item = matches!(parent, Some("alertitem")) && self.alert.is_some()
            || matches!(parent, Some("instance")) && self.instance.is_some();
        if in_item && FIELDS.contains(&name) {
            self.text = Some(String::new());
        }
    }

    fn close(&mut self, name: &str) -> Result<(), ParseError> {
        let parent = self.stack.last().map(String::as_str);
        if let Some(value) = self.text.take() {
            let value = value.trim().to_string();
            match parent {
                Some("instance") => {
                    if let Some(i) = self.instance.as_mut() {
                        set_instance_field(i, name, value);
                    }
                }
                Some("alertitem") => {
                    if let Some((a, _)) = self.alert.as_mut() {
                        set_alert_field(a, name, value);
                    }
                }
                _ => {}
            }
            return Ok(());
        }
        match name {
            "instance" => {
                if let (Some(i), Some((a, _))) = (self.instance.take(), self.alert.as_mut()) {
                    a.instances.push(i);
                }
            }
            "alertitem" => {
                if let Some((a, pos)) = self.alert.take() {
                    if non_empty(a.pluginid.as_deref()).is_none() {
                        return Err(ParseError::new(
                            ErrorKind::Shape,
                            Some(FORMAT_XML),
                            "<alertitem> has no <pluginid>",
                        )
                        .at(Place::at_offset(self.bytes, pos)));
                    }
                    findings_of(&a, self.site.as_deref(), &self.tool, &mut self.findings);
                }
            }
            "site" => self.site = None,
            _ => {}
        }
        Ok(())
    }
}

/// Parse a ZAP traditional XML report.
pub fn parse_xml(bytes: &[u8], limits: &Limits) -> Result<Evidence, ParseError> {
    use quick_xml::events::Event;

    crate::json::check_size(bytes, Some(FORMAT_XML), limits)?;
    let text = std::str::from_utf8(bytes).map_err(|e| {
        ParseError::new(
            ErrorKind::NotUtf8,
            Some(FORMAT_XML),
            "invalid UTF-8 byte sequence",
        )
        .at(Place::at_offset(bytes, e.valid_up_to()))
    })?;
    let mut reader = quick_xml::Reader::from_str(text);
    let mut evidence = Evidence::new(FORMAT_XML);
    let mut st = XmlState {
        bytes,
        tool: Tool::new("ZAP", None),
        stack: Vec::new(),
        site: None,
        alert: None,
        instance: None,
        text: None,
        findings: Vec::new(),
    };
    let mut seen_root = false;
    loop {
        let pos = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
        let event = reader.read_event().map_err(|e| {
            let at = usize::try_from(reader.error_position()).unwrap_or(usize::MAX);
            ParseError::new(ErrorKind::Syntax, Some(FORMAT_XML), format!("XML: {e}"))
                .at(Place::at_offset(bytes, at))
        })?;
        let (start, is_empty) = match &event {
            Event::Start(e) => (Some(e), false),
            Event::Empty(e) => (Some(e), true),
            _ => (None, false),
        };
        if let Some(e) = start {
            let name = e.local_name().as_ref().to_string();
            let mut attrs = Vec::new();
            for a in e.attributes() {
                let a = a.map_err(|err| {
                    ParseError::new(ErrorKind::Syntax, Some(FORMAT_XML), format!("XML: {err}"))
                        .at(Place::at_offset(bytes, pos))
                })?;
                let v = a
                    .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                    .map_err(|err| {
                        ParseError::new(ErrorKind::Syntax, Some(FORMAT_XML), format!("XML: {err}"))
                            .at(Place::at_offset(bytes, pos))
                    })?;
                attrs.push((a.key.local_name().as_ref().to_string(), v.into_owned()));
            }
            if !seen_root {
                if name != "OWASPZAPReport" {
                    return Err(ParseError::new(
                        ErrorKind::Shape,
                        Some(FORMAT_XML),
                        format!("root element is <{name}>, not <OWASPZAPReport>"),
                    )
                    .at(Place::at_offset(bytes, pos)));
                }
                seen_root = true;
                let attr = |k: &str| attrs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
                st.tool = Tool::new(
                    attr("programName").unwrap_or_else(|| "ZAP".into()),
                    attr("version"),
                );
                evidence.created = attr("generated");
            }
            if st.stack.len() >= limits.max_depth {
                return Err(ParseError::new(
                    ErrorKind::TooDeep,
                    Some(FORMAT_XML),
                    format!("nested deeper than the limit of {}", limits.max_depth),
                )
                .at(Place::at_offset(bytes, pos)));
            }
            st.open(&name, &attrs, pos);
            if is_empty {
                st.close(&name)?;
            } else {
                st.stack.push(name);
            }
            continue;
        }
        match event {
            Event::End(_) => {
                // quick-xml has checked that the end tag matches the start tag.
                if let Some(name) = st.stack.pop() {
                    st.close(&name)?;
                }
            }
            Event::Text(t) => {
                if let Some(buf) = st.text.as_mut() {
                    buf.push_str(&t.xml10_content());
                }
            }
            Event::CData(t) => {
                if let Some(buf) = st.text.as_mut() {
                    buf.push_str(&t.xml10_content());
                }
            }
            Event::GeneralRef(r) => {
                if let Some(buf) = st.text.as_mut() {
                    let c = r.resolve_char_ref().map_err(|err| {
                        ParseError::new(ErrorKind::Syntax, Some(FORMAT_XML), format!("XML: {err}"))
                            .at(Place::at_offset(bytes, pos))
                    })?;
                    match c {
                        Some(c) => buf.push(c),
                        None => match r.as_ref() {
                            "lt" => buf.push('<'),
                            "gt" => buf.push('>'),
                            "amp" => buf.push('&'),
                            "apos" => buf.push('\''),
                            "quot" => buf.push('"'),
                            // An entity we do not know (no DTD is read): keep it as written.
                            other => {
                                buf.push('&');
                                buf.push_str(other);
                                buf.push(';');
                            }
                        },
                    }
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !seen_root {
        return Err(ParseError::new(
            ErrorKind::Truncated,
            Some(FORMAT_XML),
            "XML document has no root element",
        ));
    }
    if let Some(open) = st.stack.last() {
        return Err(ParseError::new(
            ErrorKind::Truncated,
            Some(FORMAT_XML),
            format!("document ends inside <{open}>"),
        )
        .at(Place::at_offset(bytes, bytes.len())));
    }
    evidence.tool = Some(st.tool);
    evidence.findings = st.findings;
    Ok(evidence)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same alerts in the traditional XML report and the traditional JSON report (field
    /// names and string-typed numbers as ZAP's `traditional-json` template writes them).
    const XML: &str = r#"<?xml version="1.0"?>
<OWASPZAPReport programName="ZAP" version="2.14.0" generated="Mon, 1 Jan 2024 10:00:00">
  <site name="https://app.example" host="app.example" port="443" ssl="true">
    <alerts>
      <alertitem>
        <pluginid>10020</pluginid>
        <alertRef>10020-1</alertRef>
        <alert>Missing Anti-clickjacking Header</alert>
        <name>Missing Anti-clickjacking Header</name>
        <riskcode>2</riskcode>
        <confidence>2</confidence>
        <riskdesc>Medium (Medium)</riskdesc>
        <desc>&lt;p&gt;The response does not protect against &apos;ClickJacking&apos; attacks.&lt;/p&gt;</desc>
        <instances>
          <instance>
            <uri>https://app.example/</uri>
            <method>GET</method>
            <param>x-frame-options</param>
            <attack></attack>
            <evidence></evidence>
          </instance>
          <instance>
            <uri>https://app.example/login?next=a&amp;b=1</uri>
            <method>POST</method>
            <param/>
          </instance>
        </instances>
        <count>2</count>
        <solution>&lt;p&gt;Set X-Frame-Options.&lt;/p&gt;</solution>
        <reference>&lt;p&gt;https://developer.mozilla.org/en-US/docs/Web/HTTP/Headers/X-Frame-Options&lt;/p&gt;</reference>
        <cweid>1021</cweid>
        <wascid>15</wascid>
        <sourceid>1</sourceid>
      </alertitem>
      <alertitem>
        <pluginid>10096</pluginid>
        <alertRef>10096</alertRef>
        <alert>Timestamp Disclosure - Unix</alert>
        <name>Timestamp Disclosure - Unix</name>
        <riskcode>0</riskcode>
        <confidence>0</confidence>
        <riskdesc>Informational (False Positive)</riskdesc>
        <desc>A timestamp was disclosed.</desc>
        <instances>
          <instance>
            <uri>https://app.example/main.js</uri>
            <method>GET</method>
            <param></param>
            <evidence>1650000000</evidence>
          </instance>
        </instances>
        <count>1</count>
        <cweid>200</cweid>
        <wascid>13</wascid>
      </alertitem>
    </alerts>
  </site>
</OWASPZAPReport>"#;

    const JSON: &str = r#"{
  "@programName": "ZAP",
  "@version": "2.14.0",
  "@generated": "Mon, 1 Jan 2024 10:00:00",
  "site": [{
    "@name": "https://app.example", "@host": "app.example", "@port": "443", "@ssl": "true",
    "alerts": [
      {
        "pluginid": "10020", "alertRef": "10020-1",
        "alert": "Missing Anti-clickjacking Header", "name": "Missing Anti-clickjacking Header",
        "riskcode": "2", "confidence": "2", "riskdesc": "Medium (Medium)",
        "desc": "<p>The response does not protect against 'ClickJacking' attacks.</p>",
        "instances": [
          {"uri": "https://app.example/", "method": "GET", "param": "x-frame-options", "attack": "", "evidence": "", "otherinfo": ""},
          {"uri": "https://app.example/login?next=a&b=1", "method": "POST", "param": "", "attack": "", "evidence": "", "otherinfo": ""}
        ],
        "count": "2",
        "solution": "<p>Set X-Frame-Options.</p>",
        "otherinfo": "",
        "reference": "<p>https://developer.mozilla.org/en-US/docs/Web/HTTP/Headers/X-Frame-Options</p>",
        "cweid": "1021", "wascid": "15", "sourceid": "1"
      },
      {
        "pluginid": "10096", "alertRef": "10096",
        "alert": "Timestamp Disclosure - Unix", "name": "Timestamp Disclosure - Unix",
        "riskcode": "0", "confidence": "0", "riskdesc": "Informational (False Positive)",
        "desc": "A timestamp was disclosed.",
        "instances": [
          {"uri": "https://app.example/main.js", "method": "GET", "param": "", "attack": "", "evidence": "1650000000", "otherinfo": ""}
        ],
        "count": "1", "solution": "", "otherinfo": "", "reference": "",
        "cweid": "200", "wascid": "13", "sourceid": "3"
      }
    ]
  }]
}"#;

    #[test]
    fn xml_and_json_forms_agree() {
        let l = Limits::default();
        let x = parse_xml(XML.as_bytes(), &l).unwrap();
        let j = parse_json(JSON.as_bytes(), &l).unwrap();
        assert_eq!(x.findings.len(), 3);
        assert_eq!(x.findings, j.findings);
        assert_eq!(x.tool, j.tool);
        assert_eq!(x.created, j.created);
        let f = &x.findings[0];
        assert_eq!(f.kind, FindingKind::Dast);
        assert_eq!(f.id, "10020");
        assert_eq!(f.aliases, ["10020-1"]);
        assert_eq!(f.severity, Severity::Medium);
        assert_eq!(f.original_severity.as_deref(), Some("Medium (Medium)"));
        assert_eq!(
            f.description.as_deref(),
            Some("<p>The response does not protect against 'ClickJacking' attacks.</p>")
        );
        assert_eq!(f.cwes, [1021]);
        assert_eq!(
            f.references,
            ["https://developer.mozilla.org/en-US/docs/Web/HTTP/Headers/X-Frame-Options"]
        );
        assert_eq!(f.key, "dast:10020|GET https://app.example/|x-frame-options");
        let g = &x.findings[1];
        assert_eq!(
            g.key,
            "dast:10020|POST https://app.example/login?next=a&b=1|"
        );
        assert_eq!(g.endpoint.as_ref().unwrap().param, None);
        let h = &x.findings[2];
        assert_eq!(h.severity, Severity::Info);
        assert!(h.suppression.is_some());
        // The evidence string is not kept anywhere.
        assert!(!serde_json::to_string(&x).unwrap().contains("1650000000"));
    }

    #[test]
    fn json_site_may_be_a_single_object_and_numbers_numbers() {
        let j = parse_json(
            br#"{"@version":"2.9.0","site":{"@name":"http://h","alerts":[{"pluginid":10011,"riskcode":3,
                "name":"x","cweid":-1,"instances":[{"uri":"http://h/a","method":"GET","param":"p"}]}]}}"#,
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(j.findings.len(), 1);
        assert_eq!(j.findings[0].severity, Severity::High);
        assert!(j.findings[0].cwes.is_empty());
    }

    #[test]
    fn older_alert_level_places() {
        let x = parse_xml(
            br#"<OWASPZAPReport version="2.4.0"><site name="http://h"><alerts><alertitem>
                <pluginid>40012</pluginid><alert>XSS</alert><riskcode>3</riskcode>
                <uri>http://h/q?x=1</uri><param>x</param></alertitem></alerts></site></OWASPZAPReport>"#,
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(x.findings.len(), 1);
        assert_eq!(x.findings[0].key, "dast:40012| http://h/q?x=1|x");
        assert_eq!(x.findings[0].title.as_deref(), Some("XSS"));
    }

    #[test]
    fn xml_errors_have_places() {
        let l = Limits::default();
        let e = parse_xml(b"<OWASPZAPReport>\n<site></sit></OWASPZAPReport>", &l).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Syntax);
        assert!(
            matches!(e.place, Some(Place::LineColumn { line: 2, .. })),
            "{e}"
        );
        let e = parse_xml(b"<OWASPZAPReport><site><alerts>", &l).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Truncated, "{e}");
        let e = parse_xml(
            b"<OWASPZAPReport><site><alerts>\n  <alertitem><riskcode>1</riskcode></alertitem></alerts></site></OWASPZAPReport>",
            &l,
        )
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Shape);
        assert_eq!(e.place, Some(Place::LineColumn { line: 2, column: 3 }));
        let deep = Limits { max_depth: 3, ..l };
        let e = parse_xml(XML.as_bytes(), &deep).unwrap_err();
        assert_eq!(e.kind, ErrorKind::TooDeep);
        let e = parse_xml(b"<report/>", &l).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Shape);
        let e = parse_xml(b"<OWASPZAPReport>\xff</OWASPZAPReport>", &l).unwrap_err();
        assert_eq!(e.kind, ErrorKind::NotUtf8);
    }
}
