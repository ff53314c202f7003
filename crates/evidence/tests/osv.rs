//! The OSV advisory parser on the osv-schema test records, and Log4Shell matching.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use portcullis_evidence::{Ecosystem, Format, Limits, Severity, parse, parse_as};

#[test]
fn osv_schema_records_parse() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    // osv/validation holds only the JSON schema (no records). Every file in osv/testdata is a
    // schema-valid record: the `nointroduced-`, `nondistinct-` and `nopackage-` files are the
    // osv-linter's cases (a GIT range without `introduced`, a repeated range, a package that
    // does not exist), which break linter rules, not the schema, so all must parse.
    // Counts: python3 -c "import json,glob; [print(f, len(json.load(open(f)).get('affected',[])),
    //   sum(len(a.get('ranges',[])) for a in json.load(open(f)).get('affected',[])))
    //   for f in sorted(glob.glob('testdata/*.json'))]"
    let expected: &[(&str, usize, usize)] = &[
        ("CVE-2018-5407.json", 7, 7),
        ("CVE-2023-41045.json", 1, 1),
        ("GHSA-9v2f-6vcg-3hgv.json", 1, 0),
        ("GO-2020-0001.json", 1, 1),
        ("GO-2024-2963.json", 1, 1),
        ("MAL-2024-10238.json", 1, 0),
        ("PYSEC-2023-74.json", 1, 2),
        ("RHSA-2022_0216.json", 0, 0),
        ("SUSE-FU-2022_0444-1.json", 0, 0),
        ("nointroduced-CVE-2023-41045.json", 1, 1),
        ("nondistinct-CVE-2018-5407.json", 7, 8),
        ("nopackage-GHSA-9v2f-6vcg-3hgv.json", 1, 0),
    ];
    let files = common::files_under(&corpus.join("osv"));
    let records: Vec<_> = files
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "json") && !p.ends_with("schema.json"))
        .collect();
    assert_eq!(records.len(), expected.len());
    for path in records {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let (_, n_affected, n_ranges) = expected
            .iter()
            .find(|(n, _, _)| *n == name)
            .unwrap_or_else(|| panic!("unexpected file {name}"));
        let bytes = std::fs::read(path).unwrap();
        let ev = parse_as(Format::OsvAdvisory, &bytes, &Limits::default())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(ev.advisories.len(), 1, "{name}");
        let a = &ev.advisories[0];
        assert_eq!(a.affected.len(), *n_affected, "{name}");
        let ranges: usize = a.affected.iter().map(|x| x.ranges.len()).sum();
        assert_eq!(ranges, *n_ranges, "{name}");
        println!(
            "{name}: {} {:?} ({} scores)",
            a.id,
            a.severity,
            a.scores.len()
        );
    }
}

#[test]
fn log4shell() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let bytes = std::fs::read(corpus.join("advisories/GHSA-jfh8-c2jp-5v3q.osv.json")).unwrap();
    let ev = parse(&bytes, &Limits::default()).unwrap();
    assert_eq!(ev.format, Format::OsvAdvisory);
    assert_eq!(ev.format_version.as_deref(), Some("1.4.0"));
    let a = &ev.advisories[0];
    assert_eq!(a.id, "GHSA-jfh8-c2jp-5v3q");
    assert_eq!(a.severity, Severity::Critical);
    assert_eq!(a.scores[0].score, Some(10.0));
    assert_eq!(a.cwes, vec![20, 400, 502, 917]);
    let name = "org.apache.logging.log4j:log4j-core";
    for (v, want) in [
        ("2.14.1", true),
        ("2.0-beta9", true),
        ("2.12.1", true),
        ("2.12.2", false),
        ("2.15.0", false),
        ("2.17.1", false),
    ] {
        assert_eq!(a.affects(&Ecosystem::Maven, name, v), want, "{v}");
        let purl = format!("pkg:maven/org.apache.logging.log4j/log4j-core@{v}");
        assert_eq!(a.affects_purl(&purl), want, "{purl}");
    }
    assert!(!a.affects(
        &Ecosystem::Maven,
        "org.apache.logging.log4j:log4j-api",
        "2.14.1"
    ));
    assert!(!a.affects(&Ecosystem::Npm, name, "2.14.1"));
    assert!(!a.affects_purl("pkg:maven/org.apache.logging.log4j/log4j-core"));
    // The fix to name: the lowest `fixed` above the version, on its release line.
    for (v, fix) in [
        ("2.14.1", Some("2.15.0")),
        ("2.12.1", Some("2.12.2")),
        ("2.0-beta9", Some("2.3.1")),
        ("2.17.1", None),
    ] {
        let purl = format!("pkg:maven/org.apache.logging.log4j/log4j-core@{v}");
        assert_eq!(a.lowest_fix_for_purl(&purl).as_deref(), fix, "{purl}");
    }
    let mut withdrawn = a.clone();
    withdrawn.withdrawn = Some("2022-01-01T00:00:00Z".into());
    assert!(!withdrawn.affects(&Ecosystem::Maven, name, "2.14.1"));
}
