//! Format detection from content.
//!
//! JSON documents are sniffed by reading top-level keys (and the keys of the first element of a
//! few arrays) with every value skipped; the sniff stops at the first key that decides, so a
//! 500 MB SBOM costs a few bytes to recognize. XML documents are recognized by their root element.
//! A document that matches nothing is an error listing every known format, never a guess.

use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::error::{ErrorKind, ParseError};
use crate::format::Format;

/// Strip a UTF-8 byte-order mark.
pub fn strip_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)
}

/// Detect the format of a document from its content.
pub fn detect(bytes: &[u8]) -> Result<Format, ParseError> {
    let bytes = strip_bom(bytes);
    if bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF") {
        return Err(ParseError::new(
            ErrorKind::NotUtf8,
            None,
            "the document is UTF-16; evidence must be UTF-8 (convert it with iconv -f UTF-16 -t UTF-8)",
        ));
    }
    let start = bytes.iter().position(|b| !b.is_ascii_whitespace());
    let Some(start) = start else {
        return Err(ParseError::new(
            ErrorKind::Empty,
            None,
            "the document is empty; no format can be detected",
        ));
    };
    let rest = bytes.get(start..).unwrap_or_default();
    match rest.first() {
        Some(b'{') | Some(b'[') => detect_json(bytes),
        Some(b'<') => detect_xml(rest),
        _ => Err(unknown(describe_prefix(rest))),
    }
}

fn unknown(what: String) -> ParseError {
    ParseError::new(
        ErrorKind::UnknownFormat,
        None,
        format!("{what}; known formats: {}", Format::known_list()),
    )
}

fn describe_prefix(rest: &[u8]) -> String {
    if rest.starts_with(b"\x1f\x8b") {
        return "the document is gzip-compressed (decompress it first)".into();
    }
    if rest.starts_with(b"SPDXVersion:") {
        return "SPDX tag-value documents are not supported (use SPDX JSON)".into();
    }
    if rest.starts_with(b"null") {
        return "the document is the JSON value `null`".into();
    }
    "the document is neither JSON nor XML".into()
}

// ---------------------------------------------------------------------------------------------
// JSON

/// What the sniff learned of the document's top level.
#[derive(Default, Debug)]
struct Sniff {
    keys: Vec<String>,
    bom_format: Option<String>,
    statement_type: Option<String>,
    program_name: Option<String>,
    media_type: Option<String>,
    /// Keys of the first element of `results` (or of `results` itself when it is an object).
    results_keys: Option<Vec<String>>,
    results_is_object: bool,
    /// For a top-level array: keys of its first element.
    first_element_keys: Option<Vec<String>>,
    decided: Option<Format>,
}

impl Sniff {
    fn has(&self, k: &str) -> bool {
        self.keys.iter().any(|x| x == k)
    }

    /// Decide as soon as a key makes it certain.
    fn decide_early(&mut self) {
        if self.decided.is_some() {
            return;
        }
        let d = if self.bom_format.as_deref() == Some("CycloneDX") {
            Some(Format::CyclonedxJson)
        } else if self.has("spdxVersion") {
            Some(Format::SpdxJson)
        } else if self.has("SchemaVersion") || self.has("ClusterName") {
            Some(Format::TrivyJson)
        } else if self.has("payloadType") {
            Some(Format::Dsse)
        } else if self
            .media_type
            .as_deref()
            .is_some_and(|t| t.starts_with("application/vnd.dev.sigstore.bundle"))
        {
            Some(Format::SigstoreBundle)
        } else if self
            .statement_type
            .as_deref()
            .is_some_and(|t| t.starts_with("https://in-toto.io/Statement/"))
        {
            Some(Format::IntotoStatement)
        } else if self.program_name.as_deref() == Some("ZAP") {
            Some(Format::ZapJson)
        } else if self.has("matches")
            && (self.has("source") || self.has("distro") || self.has("descriptor"))
        {
            Some(Format::GrypeJson)
        } else if let Some(rk) = &self.results_keys {
            results_format(rk, self.results_is_object)
        } else {
            None
        };
        self.decided = d;
    }

    /// Decide with everything the top level holds.
    fn decide_at_end(&mut self) {
        self.decide_early();
        if self.decided.is_some() {
            return;
        }
        self.decided = if self.has("runs") {
            Some(Format::Sarif)
        } else if self.has("matches") {
            Some(Format::GrypeJson)
        } else if self.has("site") && self.has("@version") {
            Some(Format::ZapJson)
        } else if self.has("results") && self.results_keys.as_ref().is_none_or(|k| k.is_empty()) {
            // Empty results: the other top-level keys tell the tools apart.
            if self.has("generated_at") || self.has("metrics") {
                Some(Format::BanditJson)
            } else if self.has("check_type") {
                Some(Format::CheckovJson)
            } else if self.has("errors") || self.has("paths") || self.has("version") {
                Some(Format::SemgrepJson)
            } else {
                Some(Format::OsvScannerJson)
            }
        } else if self.has("check_type") || self.has("checkov_version") {
            Some(Format::CheckovJson)
        } else if self.has("vulns") && self.has("hasMore") {
            // Semgrep Supply Chain findings as the Semgrep API returns them.
            Some(Format::SemgrepJson)
        } else if self.has("id")
            && (self.has("affected")
                || self.has("modified")
                || self.has("schema_version")
                || self.has("withdrawn"))
        {
            Some(Format::OsvAdvisory)
        } else if let Some(fk) = &self.first_element_keys {
            let has = |k: &str| fk.iter().any(|x| x == k);
            if has("Target") {
                Some(Format::TrivyJson)
            } else if has("check_type") {
                Some(Format::CheckovJson)
            } else if has("id") && (has("affected") || has("modified") || has("schema_version")) {
                Some(Format::OsvAdvisory)
            } else {
                None
            }
        } else {
            None
        };
    }
}

fn results_format(keys: &[String], is_object: bool) -> Option<Format> {
    let has = |k: &str| keys.iter().any(|x| x == k);
    if is_object {
        if has("failed_checks") || has("passed_checks") {
            return Some(Format::CheckovJson);
        }
        return None;
    }
    if has("check_id") {
        Some(Format::SemgrepJson)
    } else if has("test_id") || has("issue_severity") {
        Some(Format::BanditJson)
    } else if has("packages") || has("source") {
        Some(Format::OsvScannerJson)
    } else {
        None
    }
}

/// Marker message for the early stop; never shown to users.
const DECIDED: &str = "\u{0}portcullis-sniff-decided";

fn detect_json(bytes: &[u8]) -> Result<Format, ParseError> {
    let mut sniff = Sniff::default();
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let outcome = TopLevel(&mut sniff).deserialize(&mut de);
    match outcome {
        Ok(()) => sniff.decide_at_end(),
        Err(e) if sniff.decided.is_some() && e.to_string().starts_with(DECIDED) => {}
        Err(e) => {
            // Malformed JSON: say so when we know which format it was meant to be, else report
            // it against detection.
            sniff.decide_at_end();
            let err = crate::json::describe(bytes, sniff.decided.unwrap_or(Format::OsvAdvisory), e);
            return Err(ParseError {
                format: sniff.decided,
                ..err
            });
        }
    }
    let Some(format) = sniff.decided else {
        let keys = if sniff.keys.is_empty() {
            match &sniff.first_element_keys {
                Some(k) if !k.is_empty() => {
                    format!("an array of objects with keys {}", k.join(", "))
                }
                Some(_) | None => "an empty JSON document".to_string(),
            }
        } else {
            let mut k = sniff.keys.clone();
            k.truncate(12);
            format!("a JSON object with top-level keys {}", k.join(", "))
        };
        return Err(unknown(format!("{keys} matches no known format")));
    };
    if matches!(
        format,
        Format::Dsse | Format::IntotoStatement | Format::SigstoreBundle
    ) && is_json_lines(bytes)
    {
        return Ok(Format::IntotoJsonl);
    }
    Ok(format)
}

/// More than one JSON value, one per line.
fn is_json_lines(bytes: &[u8]) -> bool {
    serde_json::Deserializer::from_slice(bytes)
        .into_iter::<IgnoredAny>()
        .take(2)
        .count()
        > 1
}

struct TopLevel<'a>(&'a mut Sniff);

impl<'de> DeserializeSeed<'de> for TopLevel<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for TopLevel<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object or array")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let sniff = self.0;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "bomFormat" => sniff.bom_format = map.next_value::<Option<String>>().ok().flatten(),
                "_type" => sniff.statement_type = map.next_value::<Option<String>>().ok().flatten(),
                "mediaType" => sniff.media_type = map.next_value::<Option<String>>().ok().flatten(),
                "@programName" => {
                    sniff.program_name = map.next_value::<Option<String>>().ok().flatten()
                }
                "results" => {
                    let (keys, is_object) = map.next_value_seed(FirstKeys)?;
                    sniff.results_keys = Some(keys);
                    sniff.results_is_object = is_object;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            sniff.keys.push(key);
            sniff.decide_early();
            if sniff.decided.is_some() {
                return Err(de::Error::custom(DECIDED));
            }
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let first = seq.next_element_seed(ObjectKeys)?;
        self.0.first_element_keys = Some(first.unwrap_or_default());
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
}

/// The keys of an object, or of the first element of an array of objects; `true` when the value
/// was itself an object.
struct FirstKeys;

impl<'de> DeserializeSeed<'de> for FirstKeys {
    type Value = (Vec<String>, bool);
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for FirstKeys {
    type Value = (Vec<String>, bool);

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object or array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let first = seq.next_element_seed(ObjectKeys)?.unwrap_or_default();
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok((first, false))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        Ok((ObjectKeys.visit_map(map)?, true))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok((Vec::new(), false))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok((Vec::new(), false))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok((Vec::new(), false))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok((Vec::new(), false))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok((Vec::new(), false))
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok((Vec::new(), false))
    }
}

/// The keys of an object (values skipped); anything else gives no keys.
struct ObjectKeys;

impl<'de> DeserializeSeed<'de> for ObjectKeys {
    type Value = Vec<String>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ObjectKeys {
    type Value = Vec<String>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut keys = Vec::new();
        while let Some(k) = map.next_key::<String>()? {
            map.next_value::<IgnoredAny>()?;
            keys.push(k);
        }
        Ok(keys)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Vec::new())
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }
}

// ---------------------------------------------------------------------------------------------
// XML

fn detect_xml(bytes: &[u8]) -> Result<Format, ParseError> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_reader(bytes);
    let mut buf = Vec::new();
    loop {
        let pos = reader.buffer_position();
        match reader.read_event_into(&mut buf) {
            Ok(Event::Start(e)) | Ok(Event::Empty(e)) => {
                let local = e.local_name();
                let name = local.as_ref().to_string();
                let ns = e
                    .attributes()
                    .flatten()
                    .find(|a| a.key.as_ref() == "xmlns")
                    .map(|a| a.value.to_string())
                    .unwrap_or_default();
                return match name.as_str() {
                    "bom" if ns.contains("cyclonedx.org/schema/bom") => Ok(Format::CyclonedxXml),
                    "bom" => Err(unknown(format!(
                        "XML root element <bom> without a CycloneDX namespace (xmlns=\"{ns}\")"
                    ))),
                    "OWASPZAPReport" => Ok(Format::ZapXml),
                    _ => Err(unknown(format!(
                        "XML root element <{name}> matches no known format"
                    ))),
                };
            }
            Ok(Event::Eof) => {
                return Err(ParseError::new(
                    ErrorKind::Truncated,
                    None,
                    "XML document has no root element",
                ));
            }
            Ok(_) => {}
            Err(e) => {
                return Err(
                    ParseError::new(ErrorKind::Syntax, None, format!("XML: {e}"))
                        .at(crate::error::Place::at_offset(bytes, pos as usize)),
                );
            }
        }
        buf.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Result<Format, ParseError> {
        detect(s.as_bytes())
    }

    #[test]
    fn json_formats() {
        assert_eq!(
            d(r#"{"bomFormat":"CycloneDX","specVersion":"1.6"}"#),
            Ok(Format::CyclonedxJson)
        );
        assert_eq!(d(r#"{"spdxVersion":"SPDX-2.3"}"#), Ok(Format::SpdxJson));
        assert_eq!(
            d(r#"{"SchemaVersion":2,"Results":[]}"#),
            Ok(Format::TrivyJson)
        );
        assert_eq!(
            d(r#"[{"Target":"x","Vulnerabilities":null}]"#),
            Ok(Format::TrivyJson)
        );
        assert_eq!(d(r#"{"matches":[],"source":{}}"#), Ok(Format::GrypeJson));
        assert_eq!(
            d(r#"{"results":[{"source":{"path":"a"},"packages":[]}]}"#),
            Ok(Format::OsvScannerJson)
        );
        assert_eq!(
            d(r#"{"results":[{"check_id":"x"}],"errors":[]}"#),
            Ok(Format::SemgrepJson)
        );
        assert_eq!(d(r#"{"results":[],"errors":[]}"#), Ok(Format::SemgrepJson));
        assert_eq!(d(r#"{"version":"2.1.0","runs":[]}"#), Ok(Format::Sarif));
        assert_eq!(
            d(r#"{"@programName":"ZAP","site":[]}"#),
            Ok(Format::ZapJson)
        );
        assert_eq!(
            d(r#"{"id":"GHSA-x","modified":"2021","affected":[]}"#),
            Ok(Format::OsvAdvisory)
        );
        assert_eq!(
            d(r#"[{"id":"GHSA-x","modified":"2021"}]"#),
            Ok(Format::OsvAdvisory)
        );
        assert_eq!(
            d(r#"{"payloadType":"a","payload":"","signatures":[]}"#),
            Ok(Format::Dsse)
        );
        assert_eq!(
            d(
                "{\"payloadType\":\"a\",\"payload\":\"\",\"signatures\":[]}\n{\"payloadType\":\"a\",\"payload\":\"\",\"signatures\":[]}\n"
            ),
            Ok(Format::IntotoJsonl)
        );
        assert_eq!(
            d(r#"{"_type":"https://in-toto.io/Statement/v1","subject":[]}"#),
            Ok(Format::IntotoStatement)
        );
        assert_eq!(
            d(r#"{"check_type":"terraform","results":{"failed_checks":[]}}"#),
            Ok(Format::CheckovJson)
        );
        assert_eq!(
            d(r#"{"errors":[],"generated_at":"x","metrics":{},"results":[]}"#),
            Ok(Format::BanditJson)
        );
    }

    #[test]
    fn sniff_stops_early_on_big_documents() {
        // The decisive key comes first; what follows is never read, so even garbage after it
        // does not matter to detection (the parser will report it).
        assert_eq!(
            d(r#"{"bomFormat":"CycloneDX","components":[ garbage"#),
            Ok(Format::CyclonedxJson)
        );
    }

    #[test]
    fn xml_formats() {
        assert_eq!(
            d(
                r#"<?xml version="1.0"?><!-- c --><bom xmlns="http://cyclonedx.org/schema/bom/1.5"/>"#
            ),
            Ok(Format::CyclonedxXml)
        );
        assert_eq!(
            d(r#"<OWASPZAPReport version="2.9.0"></OWASPZAPReport>"#),
            Ok(Format::ZapXml)
        );
        assert_eq!(
            d("<html></html>").unwrap_err().kind,
            ErrorKind::UnknownFormat
        );
    }

    #[test]
    fn unknowns_list_known_formats() {
        for bad in [
            "{}",
            "[]",
            "null",
            "hello",
            r#"{"a":1}"#,
            "SPDXVersion: SPDX-2.3\n",
        ] {
            let e = d(bad).unwrap_err();
            assert_eq!(e.kind, ErrorKind::UnknownFormat, "{bad}: {e}");
            assert!(e.message.contains("cyclonedx-json"), "{e}");
        }
        assert_eq!(d("  \n").unwrap_err().kind, ErrorKind::Empty);
        assert_eq!(d(r#"{"a":"#).unwrap_err().kind, ErrorKind::Truncated);
        assert_eq!(
            detect(b"\xFF\xFE{\x00").unwrap_err().kind,
            ErrorKind::NotUtf8
        );
    }

    #[test]
    fn ids_round_trip() {
        for f in Format::ALL {
            assert_eq!(f.id().parse::<Format>(), Ok(f));
        }
    }
}
