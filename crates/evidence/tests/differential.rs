//! The SIMD JSON path (sonic-rs, `json::Engine::Simd`, the default; CycloneDX JSON) against the reference path
//! (serde_json, `json::Engine::Reference`) on the same bytes: every JSON evidence document of the
//! corpus, the repository's examples and fixtures, and hostile inputs. Both must give the same
//! model, or the same error (kind, format, message, place); and valid documents must be read by
//! sonic-rs itself, not by its serde_json fallback.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::path::{Path, PathBuf};

use portcullis_evidence::json::{self, Engine};
use portcullis_evidence::{ErrorKind, Evidence, Format, Limits, ParseError, Place};

fn reference<T>(f: impl FnOnce() -> T) -> T {
    json::with_engine(Engine::Reference, f)
}

/// Parse `bytes` both ways and insist on one answer; also return how many times sonic-rs refused
/// the document (and serde_json read it instead).
fn both(
    what: &str,
    bytes: &[u8],
    parse: impl Fn(&[u8]) -> Result<Evidence, ParseError>,
) -> (Result<Evidence, ParseError>, u64) {
    let before = json::simd_refusals();
    let simd = parse(bytes);
    let refused = json::simd_refusals() - before;
    let slow = reference(|| parse(bytes));
    match (&simd, &slow) {
        (Ok(a), Ok(b)) => assert!(a == b, "{what}: the models differ:\n{a:?}\n{b:?}"),
        (Err(a), Err(b)) => assert_eq!(
            (a.kind, a.format, &a.message, &a.place),
            (b.kind, b.format, &b.message, &b.place),
            "{what}: the errors differ"
        ),
        (a, b) => panic!(
            "{what}: one engine accepts, the other refuses: simd {:?} / reference {:?}",
            a.as_ref().err(),
            b.as_ref().err()
        ),
    }
    (simd, refused)
}

fn json_like(p: &Path) -> bool {
    let name = p.to_string_lossy().to_ascii_lowercase();
    name.ends_with(".json") || name.ends_with(".jsonl") || name.ends_with(".sarif")
}

fn fixtures() -> Vec<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut files = common::files_under(&root.join("../../examples/evidence"));
    files.extend(common::files_under(&root.join("tests/support")));
    if let Some(corpus) = common::corpus() {
        files.extend(common::files_under(&corpus));
    }
    files.retain(|p| json_like(p));
    files
}

#[test]
fn every_json_document_reads_the_same_both_ways() {
    let l = Limits::default();
    let files = fixtures();
    let (mut ok, mut failed, mut simd_read) = (0, 0, 0);
    for p in &files {
        let bytes = std::fs::read(p).unwrap();
        let what = p.display().to_string();
        let (result, refused) = both(&what, &bytes, |b| portcullis_evidence::parse(b, &l));
        match result {
            Ok(ev) => {
                ok += 1;
                // Valid CycloneDX (the format sonic-rs reads) must not need the fallback.
                if ev.format == Format::CyclonedxJson {
                    assert_eq!(refused, 0, "{what}: valid, but sonic-rs refused it");
                    simd_read += 1;
                }
            }
            Err(_) => failed += 1,
        }
    }
    eprintln!(
        "{} documents: {ok} parsed ({simd_read} by sonic-rs), {failed} refused alike",
        files.len()
    );
    // The fixtures alone hold a dozen valid documents; the corpus hundreds.
    assert!(simd_read >= 10, "{simd_read}");
}

const JSON_FORMATS: [Format; 15] = [
    Format::CyclonedxJson,
    Format::SpdxJson,
    Format::TrivyJson,
    Format::GrypeJson,
    Format::OsvScannerJson,
    Format::Sarif,
    Format::SemgrepJson,
    Format::CheckovJson,
    Format::BanditJson,
    Format::ZapJson,
    Format::OsvAdvisory,
    Format::Dsse,
    Format::IntotoStatement,
    Format::IntotoJsonl,
    Format::SigstoreBundle,
];

#[test]
fn every_document_as_every_json_format_reads_the_same_both_ways() {
    // Mostly wrong shapes: the errors (and their pointers) must match word for word.
    let l = Limits::default();
    for p in fixtures() {
        let bytes = std::fs::read(&p).unwrap();
        if bytes.len() > 300_000 {
            continue;
        }
        for f in JSON_FORMATS {
            let what = format!("{} as {f:?}", p.display());
            let _ = both(&what, &bytes, |b| portcullis_evidence::parse_as(f, b, &l));
        }
    }
}

const HEAD: &str = r#"{"bomFormat":"CycloneDX","specVersion":"1.6","#;

fn cdx(rest: &str) -> Vec<u8> {
    cdx_bytes(rest.as_bytes())
}

fn cdx_bytes(rest: &[u8]) -> Vec<u8> {
    let mut v = HEAD.as_bytes().to_vec();
    v.extend_from_slice(rest);
    v
}

/// Both engines, then the error they agree on.
#[track_caller]
fn refused(bytes: &[u8], limits: &Limits) -> ParseError {
    let what = String::from_utf8_lossy(bytes.get(..bytes.len().min(80)).unwrap_or_default());
    match both(&what, bytes, |b| portcullis_evidence::parse(b, limits)).0 {
        Ok(_) => panic!("{what}: accepted"),
        Err(e) => e,
    }
}

#[track_caller]
fn accepted(bytes: &[u8], limits: &Limits) -> (Evidence, u64) {
    let what = String::from_utf8_lossy(bytes.get(..bytes.len().min(80)).unwrap_or_default());
    match both(&what, bytes, |b| portcullis_evidence::parse(b, limits)) {
        (Ok(ev), refused) => (ev, refused),
        (Err(e), _) => panic!("{what}: {e}"),
    }
}

fn line_col(line: usize, column: usize) -> Option<Place> {
    Some(Place::LineColumn { line, column })
}

#[test]
fn deep_nesting_is_refused_at_the_bracket_both_ways() {
    let l = Limits::default();
    // In a skipped field: neither parser would look at it; the pre-scan does.
    let doc = cdx(&format!(r#""x":{}{}}}"#, "[".repeat(200), "]".repeat(200)));
    let e = refused(&doc, &l);
    assert_eq!(e.kind, ErrorKind::TooDeep);
    assert_eq!(e.format, Some(Format::CyclonedxJson));
    assert_eq!(e.place, line_col(1, HEAD.len() + 4 + 128));
    // Deeper than sonic-rs's own fixed limit (255) but within a raised limit: still read.
    let deep = Limits {
        max_depth: 400,
        ..l
    };
    let doc = cdx(&format!(r#""x":{}{}}}"#, "[".repeat(300), "]".repeat(300)));
    let (ev, refusals) = accepted(&doc, &deep);
    assert_eq!(ev.format_version.as_deref(), Some("1.6"));
    assert_eq!(refusals, 0, "a skipped deep value needs no fallback");
}

#[test]
fn huge_and_odd_numbers_read_alike() {
    let l = Limits::default();
    let vuln = |n: &str| {
        cdx(&format!(
            r#""vulnerabilities":[{{"id":"V","ratings":[{{"score":{n}}}]}}]}}"#
        ))
    };
    for n in [
        "9.8",
        "-0",
        "0.1",
        "1e2",
        "1.0000000000000002",
        "123456789012345678901234567890",
        "18446744073709551616",
    ] {
        let (ev, refusals) = accepted(&vuln(n), &l);
        assert_eq!(refusals, 0, "{n}");
        assert_eq!(ev.findings.len(), 1, "{n}");
    }
    // The one difference: serde_json (without its `float_roundtrip` feature) may round a long
    // decimal one unit in the last place off; sonic-rs rounds correctly, as Rust's own parser.
    let n = "2.2250738585072011e-308";
    let score = |ev: &Evidence| ev.findings[0].scores[0].score.unwrap();
    let simd = score(&portcullis_evidence::parse(&vuln(n), &l).unwrap());
    let slow = score(&reference(|| portcullis_evidence::parse(&vuln(n), &l)).unwrap());
    assert_eq!(simd, n.parse::<f64>().unwrap());
    assert!(
        simd.to_bits().abs_diff(slow.to_bits()) <= 1,
        "{simd} / {slow}"
    );
    // Out of range for a double: a syntax error at the number, from both.
    let e = refused(&vuln("1e400"), &l);
    assert_eq!(e.kind, ErrorKind::Syntax, "{e}");
    assert!(e.message.contains("number out of range"), "{e}");
    assert!(matches!(e.place, Some(Place::LineColumn { line: 1, .. })));
    // CWE ids are u32: a larger one is a shape error with its pointer.
    let e = refused(
        &cdx(r#""vulnerabilities":[{"id":"V","cwes":[99999999999]}]}"#),
        &l,
    );
    assert_eq!(e.kind, ErrorKind::Shape, "{e}");
    assert_eq!(
        e.place,
        Some(Place::Pointer("/vulnerabilities/0/cwes/0".into()))
    );
    for bad in ["NaN", "Infinity", "-Infinity", "+1", "01", "1.", ".5"] {
        let e = refused(&vuln(bad), &l);
        assert_eq!(e.kind, ErrorKind::Syntax, "{bad}: {e}");
        assert!(
            matches!(e.place, Some(Place::LineColumn { line: 1, column }) if column > HEAD.len()),
            "{bad}: {:?}",
            e.place
        );
    }
}

#[test]
fn invalid_utf8_is_named_with_its_place() {
    let l = Limits::default();
    // In a field the model keeps, in one it skips, and in a key.
    // In a field the model keeps, and in a key.
    for (doc, column) in [
        (
            cdx_bytes(b"\"components\":[{\"name\":\"a\xff\"}]}"),
            HEAD.len() + 25,
        ),
        (cdx_bytes(b"\"\xed\xa0\x80\":1}"), HEAD.len() + 2),
    ] {
        let e = refused(&doc, &l);
        assert_eq!(e.kind, ErrorKind::NotUtf8, "{e}");
        assert_eq!(e.place, line_col(1, column), "{e}");
    }
    // In a value the model skips, neither engine looks inside the string (as before sonic-rs):
    // the document reads the same both ways.
    let (ev, _) = accepted(&cdx_bytes(b"\"x\":\"\xc3\x28\"}"), &l);
    assert_eq!(ev.format_version.as_deref(), Some("1.6"));
}

#[test]
fn truncated_documents_say_where_they_end() {
    let l = Limits::default();
    let full = cdx(r#""components":[{"name":"a","version":"1"}]}"#);
    for cut in HEAD.len()..full.len() {
        let e = refused(&full[..cut], &l);
        assert!(
            matches!(e.kind, ErrorKind::Truncated | ErrorKind::Syntax),
            "{cut}: {e}"
        );
        assert!(e.place.is_some(), "{cut}: {e}");
    }
    let e = refused(&full[..full.len() - 1], &l);
    assert_eq!(e.kind, ErrorKind::Truncated);
    assert_eq!(e.place, line_col(1, full.len() - 1));
}

#[test]
fn duplicate_keys_read_alike() {
    let l = Limits::default();
    // A field the model reads, twice: refused with its name.
    let e = refused(
        br#"{"bomFormat":"CycloneDX","specVersion":"1.6","specVersion":"1.5"}"#,
        &l,
    );
    assert_eq!(e.kind, ErrorKind::Shape, "{e}");
    assert!(e.message.contains("duplicate field `specVersion`"), "{e}");
    let e = refused(&cdx(r#""components":[{"name":"a","name":"b"}]}"#), &l);
    assert_eq!(e.kind, ErrorKind::Shape, "{e}");
    assert_eq!(e.place, Some(Place::Pointer("/components/0".into())));
    // A skipped one, twice: both engines ignore it.
    let (ev, refusals) = accepted(&cdx(r#""x":1,"x":2,"components":[]}"#), &l);
    assert_eq!(refusals, 0);
    assert!(ev.components.is_empty());
}

#[test]
fn byte_order_mark_escapes_and_strings_read_alike() {
    let l = Limits::default();
    let body = cdx(
        r#""components":[{"name":"a\u00e9\ud83d\ude00\"\\\/\n","version":"1","purl":"pkg:npm/a@1"}]}"#,
    );
    let mut with_bom = b"\xEF\xBB\xBF".to_vec();
    with_bom.extend_from_slice(&body);
    let (plain, r1) = accepted(&body, &l);
    let (bommed, r2) = accepted(&with_bom, &l);
    assert_eq!((r1, r2), (0, 0));
    assert_eq!(plain, bommed);
    assert_eq!(plain.components[0].name, "a\u{e9}\u{1f600}\"\\/\n");
    // A lone surrogate escape in a kept string, and raw control bytes in a string: refused.
    for bad in [r#""\ud800""#, "\"a\tb\"", "\"a\u{0}b\""] {
        let e = refused(&cdx(&format!(r#""components":[{{"name":{bad}}}]}}"#)), &l);
        assert!(
            matches!(e.kind, ErrorKind::Syntax | ErrorKind::Shape),
            "{bad}: {e}"
        );
        assert!(e.place.is_some(), "{bad}");
    }
    // Trailing content after the document.
    let e = refused(&cdx(r#""components":[]} x"#), &l);
    assert_eq!(e.kind, ErrorKind::Syntax, "{e}");
    assert!(e.message.contains("trailing characters"), "{e}");
}

#[test]
fn scanner_documents_of_every_kind_read_alike_when_damaged() {
    // Each valid fixture, cut short and with one byte flipped to a quote, both ways.
    let l = Limits::default();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut files = common::files_under(&root.join("tests/support"));
    files.extend(common::files_under(&root.join("../../examples/evidence")));
    files.retain(|p| json_like(p));
    assert!(!files.is_empty());
    for p in files {
        let bytes = std::fs::read(&p).unwrap();
        let n = bytes.len();
        for cut in [n / 3, n / 2, n - 2] {
            let _ = both(
                &format!("{} cut at {cut}", p.display()),
                &bytes[..cut],
                |b| portcullis_evidence::parse(b, &l),
            );
        }
        for at in [n / 4, n / 2, 3 * n / 4] {
            let mut v = bytes.clone();
            v[at] = b'"';
            let _ = both(&format!("{} quote at {at}", p.display()), &v, |b| {
                portcullis_evidence::parse(b, &l)
            });
        }
    }
}
