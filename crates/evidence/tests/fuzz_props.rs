//! Property tests: no input makes `parse` or `parse_as` panic — arbitrary bytes, and arbitrary
//! JSON values (biased towards the keys real formats use) wrapped in each format's signature
//! keys, so that detection picks the format and its parser has to cope with the rest.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use portcullis_evidence::{Format, Limits, parse, parse_as};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

/// Keys the parsers look for, so that random objects reach past "missing field".
const KEYS: &[&str] = &[
    "name",
    "version",
    "purl",
    "id",
    "type",
    "bom-ref",
    "ref",
    "severity",
    "score",
    "method",
    "vector",
    "components",
    "dependencies",
    "dependsOn",
    "vulnerabilities",
    "ratings",
    "affects",
    "analysis",
    "state",
    "licenses",
    "license",
    "hashes",
    "alg",
    "content",
    "results",
    "runs",
    "tool",
    "driver",
    "rules",
    "ruleId",
    "level",
    "message",
    "text",
    "locations",
    "physicalLocation",
    "artifactLocation",
    "uri",
    "region",
    "startLine",
    "matches",
    "artifact",
    "vulnerability",
    "relatedVulnerabilities",
    "fix",
    "versions",
    "Results",
    "Target",
    "Vulnerabilities",
    "VulnerabilityID",
    "PkgName",
    "InstalledVersion",
    "Severity",
    "packages",
    "package",
    "source",
    "path",
    "groups",
    "ids",
    "check_id",
    "start",
    "end",
    "line",
    "extra",
    "metadata",
    "failed_checks",
    "check_name",
    "file_path",
    "resource",
    "test_id",
    "issue_severity",
    "issue_confidence",
    "line_number",
    "filename",
    "site",
    "alerts",
    "pluginid",
    "riskcode",
    "instances",
    "affected",
    "ranges",
    "events",
    "introduced",
    "fixed",
    "last_affected",
    "aliases",
    "SPDXID",
    "externalRefs",
    "referenceLocator",
    "payloadType",
    "payload",
    "signatures",
    "sig",
    "keyid",
    "_type",
    "subject",
    "digest",
    "sha256",
    "sha1",
    "gitCommit",
    "predicateType",
    "predicate",
    "builder",
    "buildType",
    "invocation",
    "configSource",
    "entryPoint",
    "materials",
    "buildStartedOn",
    "buildDefinition",
    "externalParameters",
    "workflow",
    "repository",
    "resolvedDependencies",
    "runDetails",
    "startedOn",
];

fn arb_key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(KEYS).prop_map(str::to_string),
        1 => "[a-zA-Z_@$-]{0,8}",
    ]
}

fn arb_string() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,12}",
        prop::sample::select(
            &[
                "CRITICAL",
                "high",
                "Medium",
                "low",
                "info",
                "negligible",
                "error",
                "warning",
                "note",
                "9.8",
                "CVE-2021-44228",
                "GHSA-jfh8-c2jp-5v3q",
                "pkg:npm/a@1",
                "pkg:maven/g/a@1?x=y",
                "sha256:00ff",
                "https://in-toto.io/Statement/v1",
                "https://slsa.dev/provenance/v1",
                "https://slsa.dev/provenance/v0.2",
                "application/vnd.in-toto+json",
                "SEMVER",
                "GIT",
                "ECOSYSTEM",
                "CVSS_V3",
                "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
                "",
            ][..]
        )
        .prop_map(str::to_string),
        "(git\\+)?[a-z]{0,5}(://)?[a-z@/.]{0,10}(@[a-z/]{0,6})?",
        "[A-Za-z0-9+/_-]{0,16}={0,2}",
    ]
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        arb_string().prop_map(Value::String),
    ];
    leaf.prop_recursive(6, 96, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((arb_key(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A random value wrapped in the keys that make detection choose each JSON format.
fn wrapped(v: &Value, w: &Value) -> Vec<(Format, Value)> {
    vec![
        (
            Format::CyclonedxJson,
            json!({"bomFormat": "CycloneDX", "specVersion": "1.6", "components": v, "vulnerabilities": w, "dependencies": w}),
        ),
        (
            Format::SpdxJson,
            json!({"spdxVersion": "SPDX-2.3", "packages": v, "relationships": w}),
        ),
        (
            Format::TrivyJson,
            json!({"SchemaVersion": 2, "ArtifactName": w, "Results": v}),
        ),
        (
            Format::TrivyJson,
            json!([{"Target": "x", "Vulnerabilities": v}]),
        ),
        (
            Format::GrypeJson,
            json!({"matches": v, "source": w, "descriptor": w}),
        ),
        (
            Format::OsvScannerJson,
            json!({"results": [{"source": {"path": "a"}, "packages": v}]}),
        ),
        (Format::Sarif, json!({"version": "2.1.0", "runs": v})),
        (
            Format::Sarif,
            json!({"version": "2.1.0", "runs": [{"tool": w, "results": v}]}),
        ),
        (Format::SemgrepJson, json!({"results": v, "errors": w})),
        (
            Format::CheckovJson,
            json!({"check_type": "terraform", "results": {"failed_checks": v}, "summary": w}),
        ),
        (
            Format::BanditJson,
            json!({"errors": [], "generated_at": "x", "metrics": w, "results": v}),
        ),
        (Format::ZapJson, json!({"@programName": "ZAP", "site": v})),
        (
            Format::OsvAdvisory,
            json!({"id": "GHSA-x", "modified": "2021", "affected": v, "severity": w}),
        ),
        (
            Format::OsvAdvisory,
            json!([{"id": "GHSA-x", "modified": "2021", "affected": v}]),
        ),
        (Format::IntotoStatement, statement_v1(v, w)),
        (Format::IntotoStatement, statement_v01(v, w)),
        // Valid subjects, so that the random parts reach the provenance predicate.
        (Format::IntotoStatement, with_subject(statement_v1(v, w))),
        (Format::IntotoStatement, with_subject(statement_v01(w, v))),
        (
            Format::Dsse,
            envelope(&with_subject(statement_v1(w, v)), &json!([]), false),
        ),
        (Format::Dsse, envelope(&statement_v01(v, w), w, false)),
        (Format::Dsse, envelope(&statement_v1(v, w), w, true)),
    ]
}

fn statement_v1(v: &Value, w: &Value) -> Value {
    json!({"_type": "https://in-toto.io/Statement/v1", "subject": w,
           "predicateType": "https://slsa.dev/provenance/v1",
           "predicate": {"buildDefinition": {"buildType": "b", "externalParameters": v,
                                             "resolvedDependencies": w},
                         "runDetails": {"builder": {"id": "x"}, "metadata": w}}})
}

fn statement_v01(v: &Value, w: &Value) -> Value {
    json!({"_type": "https://in-toto.io/Statement/v0.1", "subject": [{"name": "a", "digest": w}],
           "predicateType": "https://slsa.dev/provenance/v0.2",
           "predicate": {"builder": {"id": "x"}, "buildType": "b", "invocation": v,
                         "materials": w, "metadata": v}})
}

fn with_subject(mut statement: Value) -> Value {
    statement["subject"] = json!([{"name": "a", "digest": {"sha256": "00"}}]);
    statement
}

fn envelope(statement: &Value, signatures: &Value, url_safe: bool) -> Value {
    let payload = serde_json::to_vec(statement).unwrap();
    let payload = if url_safe {
        URL_SAFE_NO_PAD.encode(payload)
    } else {
        STANDARD.encode(payload)
    };
    json!({"payloadType": "application/vnd.in-toto+json", "payload": payload,
           "signatures": signatures})
}

fn no_panic(bytes: &[u8], format: Format) {
    let limits = Limits::default();
    let _ = parse(bytes, &limits);
    let _ = parse_as(format, bytes, &limits);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let limits = Limits::default();
        let _ = parse(&bytes, &limits);
        for format in Format::ALL {
            let _ = parse_as(format, &bytes, &limits);
        }
    }

    #[test]
    fn arbitrary_bytes_after_a_signature_never_panic(
        sig in prop::sample::select(&[
            "{\"bomFormat\":\"CycloneDX\",", "{\"payloadType\":", "{\"runs\":[",
            "{\"matches\":[{", "<bom xmlns=\"http://cyclonedx.org/schema/bom/1.5\">",
            "<OWASPZAPReport>", "{\"_type\":\"https://in-toto.io/Statement/v1\",",
            "{\"id\":\"GHSA-x\",\"modified\":\"x\",",
        ][..]),
        tail in prop::collection::vec(any::<u8>(), 0..300),
    ) {
        let mut bytes = sig.as_bytes().to_vec();
        bytes.extend_from_slice(&tail);
        let _ = parse(&bytes, &Limits::default());
    }

    #[test]
    fn arbitrary_json_in_each_format_never_panics(v in arb_json(), w in arb_json()) {
        for (format, doc) in wrapped(&v, &w) {
            let bytes = serde_json::to_vec(&doc).unwrap();
            no_panic(&bytes, format);
        }
        // The same documents as JSON lines.
        let lines = format!(
            "{}\n{}\n",
            serde_json::to_string(&statement_v1(&v, &w)).unwrap(),
            serde_json::to_string(&envelope(&statement_v01(&w, &v), &w, false)).unwrap()
        );
        no_panic(lines.as_bytes(), Format::IntotoJsonl);
        // A random object with a format's signature keys added to it.
        if let Value::Object(mut m) = v {
            m.insert("bomFormat".into(), json!("CycloneDX"));
            no_panic(&serde_json::to_vec(&m).unwrap(), Format::CyclonedxJson);
            m.remove("bomFormat");
            m.insert("payloadType".into(), json!("application/vnd.in-toto+json"));
            no_panic(&serde_json::to_vec(&m).unwrap(), Format::Dsse);
        }
    }

    #[test]
    fn xml_like_text_never_panics(
        root in prop::sample::select(&[
            "<bom xmlns=\"http://cyclonedx.org/schema/bom/1.6\">", "<OWASPZAPReport version=\"2\">",
        ][..]),
        body in "(<[a-z]{1,9}( [a-z]{1,5}=\"[^\"<]{0,6}\")?/?>|</[a-z]{1,9}>|[^<]{0,10}|<!\\[CDATA\\[[^\\]]{0,5}\\]\\]>|&[a-z]{0,4};?){0,24}",
    ) {
        let doc = format!("{root}{body}");
        let _ = parse(doc.as_bytes(), &Limits::default());
        let _ = parse_as(Format::CyclonedxXml, doc.as_bytes(), &Limits::default());
        let _ = parse_as(Format::ZapXml, doc.as_bytes(), &Limits::default());
    }
}
