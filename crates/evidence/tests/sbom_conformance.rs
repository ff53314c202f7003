//! CycloneDX and SPDX parsers against real documents: the CycloneDX specification's own test
//! files, the CycloneDX bom-examples, the SPDX examples and the DefectDojo samples.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::path::{Path, PathBuf};

use portcullis_evidence::{ErrorKind, Evidence, Format, Limits, ParseError, parse};

fn parse_file(path: &Path) -> Result<Evidence, ParseError> {
    let bytes = std::fs::read(path).unwrap();
    parse(&bytes, &Limits::default()).map_err(|e| e.in_file(path))
}

fn named(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    common::files_under(dir)
        .into_iter()
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy().to_string();
            n.starts_with(prefix) && (n.ends_with(".json") || n.ends_with(".xml"))
        })
        .collect()
}

#[test]
fn cyclonedx_spec_valid_files_all_parse() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    for version in ["1.4", "1.5", "1.6"] {
        let dir = corpus.join("cyclonedx-spec").join(version);
        let files = named(&dir, "valid-");
        let mut ok = 0;
        let mut failures = Vec::new();
        for f in &files {
            match parse_file(f) {
                Ok(ev) => {
                    assert!(
                        matches!(ev.format, Format::CyclonedxJson | Format::CyclonedxXml),
                        "{}: {:?}",
                        f.display(),
                        ev.format
                    );
                    assert_eq!(
                        ev.format_version.as_deref(),
                        Some(version),
                        "{}",
                        f.display()
                    );
                    ok += 1;
                }
                Err(e) => failures.push(e.to_string()),
            }
        }
        println!(
            "CycloneDX {version}: {ok} of {} valid files parse",
            files.len()
        );
        assert!(failures.is_empty(), "{}", failures.join("\n"));
        assert_eq!(ok, files.len());
        assert!(
            files.len() > 50,
            "too few spec files found in {}",
            dir.display()
        );
    }
}

#[test]
fn cyclonedx_spec_invalid_files_never_panic() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    for version in ["1.4", "1.5", "1.6"] {
        let dir = corpus.join("cyclonedx-spec").join(version);
        let files = named(&dir, "invalid-");
        // Without files this test would pass having parsed nothing.
        assert!(
            files.len() > 40,
            "too few invalid spec files found in {}",
            dir.display()
        );
        let rejected = files.iter().filter(|f| parse_file(f).is_err()).count();
        // The parsers read what the firewall needs, not the full schema: many invalid files
        // (a bad enum value, a bad e-mail) are still readable evidence.
        println!(
            "CycloneDX {version}: {rejected} of {} invalid files rejected",
            files.len()
        );
    }
}

#[test]
fn cyclonedx_examples_all_parse() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let files: Vec<PathBuf> = common::files_under(&corpus.join("cyclonedx-examples"));
    let (mut json, mut xml, mut vex_findings) = (0, 0, 0);
    for f in &files {
        let ev = parse_file(f).unwrap_or_else(|e| panic!("{e}"));
        match ev.format {
            Format::CyclonedxJson => json += 1,
            Format::CyclonedxXml => xml += 1,
            other => panic!("{}: detected as {other:?}", f.display()),
        }
        vex_findings += ev.findings.iter().filter(|x| x.vex.is_some()).count();
    }
    println!(
        "cyclonedx-examples: {json} JSON + {xml} XML parsed, {vex_findings} findings with a VEX state"
    );
    // find cyclonedx-examples -type f \( -name '*.json' -o -name '*.xml' \) | wc -l  → 45
    assert_eq!(files.len(), 45);
    assert_eq!(xml, 3);
    assert!(vex_findings > 0);
}

#[test]
fn spdx_examples_all_parse() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let files = common::files_under(&corpus.join("spdx-examples"));
    // ls spdx-examples/*.json | wc -l → 9
    assert_eq!(files.len(), 9);
    for f in &files {
        let ev = parse_file(f).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(ev.format, Format::SpdxJson);
        assert_eq!(ev.format_version.as_deref(), Some("SPDX-2.3"));
        assert!(!ev.components.is_empty(), "{}", f.display());
    }
}

#[test]
fn defectdojo_sbom_samples_parse() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let mut n = 0;
    for dir in ["cyclonedx", "spdx"] {
        for f in common::files_under(&corpus.join("scanners").join(dir)) {
            let name = f.file_name().unwrap().to_string_lossy().to_string();
            if name.ends_with(".spdx") {
                continue; // tag-value SPDX: not read (detection refuses it, see detect_corpus)
            }
            let got = parse_file(&f);
            if name == "spdx_3_unsupported.json" {
                let e = got.unwrap_err();
                assert_eq!(e.kind, ErrorKind::Unsupported, "{e}");
                assert!(e.message.contains("SPDX-3.0"), "{e}");
                continue;
            }
            got.unwrap_or_else(|e| panic!("{e}"));
            n += 1;
        }
    }
    // ls scanners/cyclonedx | wc -l → 18; ls scanners/spdx/*.json | wc -l → 4, minus SPDX 3
    assert_eq!(n, 18 + 3);
}

fn counts(corpus: &Path, rel: &str) -> (usize, usize) {
    let ev = parse_file(&corpus.join(rel)).unwrap_or_else(|e| panic!("{e}"));
    (ev.components.len(), ev.findings.len())
}

#[test]
fn component_and_finding_counts_match_independent_counts() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    // Components are counted recursively (nested ones too), findings as one per vulnerability
    // × affects target (one when it has none):
    // python3 -c 'import json;d=json.load(open("scanners/cyclonedx/issue_9277.json"));
    //   c=lambda l:sum(1+c(x.get("components")) for x in l or []);
    //   print(c(d.get("components")), sum(max(1,len(v.get("affects",[]))) for v in d["vulnerabilities"]))'
    //   → 102 14
    assert_eq!(
        counts(&corpus, "scanners/cyclonedx/issue_9277.json"),
        (102, 14)
    );
    // same command on nested-component-log4j.json → 2 8
    assert_eq!(
        counts(&corpus, "scanners/cyclonedx/nested-component-log4j.json"),
        (2, 8)
    );
    // XML: every <component> outside <metadata>, and <vulnerability> × <target>:
    // python3 -c 'import xml.etree.ElementTree as ET;r=ET.parse("scanners/cyclonedx/dd_1_15_0.xml").getroot()
    //   ln=lambda e:e.tag.split("}")[-1]; m=[e for x in r if ln(x)=="metadata" for e in x.iter() if ln(e)=="component"]
    //   v=[e for e in r.iter() if ln(e)=="vulnerability"]
    //   print(len([e for e in r.iter() if ln(e)=="component"])-len(m),
    //         sum(max(1,len([t for t in x.iter() if ln(t)=="target"])) for x in v))'  → 308 381
    assert_eq!(
        counts(&corpus, "scanners/cyclonedx/dd_1_15_0.xml"),
        (308, 381)
    );
    // same command on grype.xml → 307 327; on jake.xml → 204 0
    assert_eq!(counts(&corpus, "scanners/cyclonedx/grype.xml"), (307, 327));
    assert_eq!(counts(&corpus, "scanners/cyclonedx/jake.xml"), (204, 0));
    // jq '.packages | length' scanners/spdx/spdx_many_vuln.json → 4;
    // findings: jq '[.packages[].externalRefs[] | select(.referenceCategory=="SECURITY"
    //   and (.referenceType=="advisory" or (.referenceType=="url" and
    //   (.referenceLocator|test("CVE-|GHSA-")))))] | length' → 4
    assert_eq!(counts(&corpus, "scanners/spdx/spdx_many_vuln.json"), (4, 4));
    // jq '.packages | length' → 903 (no nesting in this file: jq '[.. | objects |
    //   select(has("components")) ] | length' → 1)
    assert_eq!(
        counts(&corpus, "cyclonedx-examples/SBOM_keycloak-10.0.2/bom.json"),
        (903, 0)
    );
}

#[test]
fn dependencies_licenses_hashes_and_vex_come_through() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let ev = parse_file(&corpus.join("cyclonedx-examples/SBOM_keycloak-10.0.2/bom.json")).unwrap();
    let by_ref = |r: &str| {
        ev.components
            .iter()
            .find(|c| c.bom_ref.as_deref() == Some(r))
            .unwrap_or_else(|| panic!("no component {r}"))
    };
    // jq -c '[.dependencies[] | select((.dependsOn|length)>0)][0]' bom.json
    assert_eq!(
        by_ref("pkg:maven/org.keycloak/keycloak-common@10.0.2?type=jar").depends_on,
        ["pkg:maven/com.sun.activation/jakarta.activation@1.2.1?type=jar"]
    );
    // jq -c '.components[] | select(."bom-ref"=="pkg:maven/org.keycloak/keycloak-core@10.0.2?type=jar")
    //   | {licenses, hashes: [.hashes[]|select(.alg=="SHA-256")]}' bom.json
    let core = by_ref("pkg:maven/org.keycloak/keycloak-core@10.0.2?type=jar");
    assert_eq!(core.licenses, ["Apache-2.0"]);
    assert!(core.hashes.iter().any(|h| h.alg == "sha256"
        && h.value == "4f84a4000a93a3f555e6c35881f381ebb08a3ed096b1d4d0fcb36d6881ba4a23"));
    assert_eq!(core.ecosystem, Some(portcullis_evidence::Ecosystem::Maven));

    // A pure VEX document: jq -c '.vulnerabilities[0] | {id, analysis, affects}'
    let ev = parse_file(
        &corpus.join("cyclonedx-examples/VEX/CISA-Use-Cases/Case-1/vex-not_affected.json"),
    )
    .unwrap();
    assert_eq!(ev.findings.len(), 1);
    let f = &ev.findings[0];
    assert_eq!(f.id, "CVE-2021-44228");
    assert_eq!(f.component.as_ref().unwrap().name, "product-ABC");
    let vex = f.vex.as_ref().expect("a VEX state");
    assert_eq!(vex.state, "not_affected");
    assert_eq!(vex.justification.as_deref(), Some("code_not_present"));
    assert_eq!(vex.response, ["will_not_fix"]);

    // The 1.2 XML vulnerability extension: score as <v:base>, source name as an attribute.
    let ev = parse_file(&corpus.join("scanners/cyclonedx/spec1.xml")).unwrap();
    let f = &ev.findings[0];
    assert_eq!(f.id, "CVE-2018-7489");
    assert_eq!(f.scores[0].score, Some(9.8));
    assert_eq!(f.scores[0].source.as_deref(), Some("NVD"));
    assert_eq!(f.severity, portcullis_evidence::Severity::Critical);
    assert_eq!(f.component.as_ref().unwrap().name, "jackson-databind");
}
