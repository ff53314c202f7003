//! `parse_reader` (the CLI's path) gives exactly what `parse` gives on the same bytes, streamed
//! or not, and never turns a short or failing read into evidence.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use portcullis_evidence::{ErrorKind, Format, Limits, parse, parse_reader};

/// A CycloneDX document well over the 64 KiB head, so the streaming path is taken.
fn big_sbom(components: usize) -> Vec<u8> {
    let comps: Vec<String> = (0..components)
        .map(|i| {
            format!(
                r#"{{"type":"library","bom-ref":"c{i}","name":"Lib_{i}","version":"1.{i}.0","purl":"pkg:pypi/Lib_{i}@1.{i}.0","licenses":[{{"license":{{"id":"MIT"}}}}]}}"#
            )
        })
        .collect();
    let deps: Vec<String> = (1..components)
        .map(|i| format!(r#"{{"ref":"c{}","dependsOn":["c{i}"]}}"#, i - 1))
        .collect();
    format!(
        r#"{{"bomFormat":"CycloneDX","specVersion":"1.6","version":1,"components":[{}],"dependencies":[{}]}}"#,
        comps.join(","),
        deps.join(",")
    )
    .into_bytes()
}

#[test]
fn streamed_cyclonedx_equals_in_memory_parse() {
    let bytes = big_sbom(3000);
    assert!(bytes.len() > 200 * 1024);
    let limits = Limits::default();
    let streamed = parse_reader(&bytes[..], None, &limits).unwrap();
    let in_memory = parse(&bytes, &limits).unwrap();
    assert_eq!(streamed, in_memory);
    assert_eq!(streamed.components.len(), 3000);
    // The normalization pass ran on the streamed path too: canonical PyPI purls.
    assert_eq!(
        streamed.components[7].purl.as_deref(),
        Some("pkg:pypi/lib-7@1.7.0")
    );
    assert_eq!(streamed.components[7].depends_on, vec!["c8"]);
    // A UTF-8 byte-order mark does not change anything.
    let mut with_bom = b"\xEF\xBB\xBF".to_vec();
    with_bom.extend_from_slice(&bytes);
    assert_eq!(
        parse_reader(&with_bom[..], None, &limits).unwrap(),
        in_memory
    );
}

#[test]
fn truncated_stream_is_an_error() {
    let bytes = big_sbom(3000);
    for cut in [70 * 1024, bytes.len() / 2, bytes.len() - 1] {
        let e = parse_reader(&bytes[..cut], None, &Limits::default()).unwrap_err();
        assert_eq!(e.format, Some(Format::CyclonedxJson));
        assert!(
            matches!(e.kind, ErrorKind::Truncated | ErrorKind::Syntax),
            "cut at {cut}: {e}"
        );
    }
}

#[test]
fn limits_hold_on_the_streamed_path() {
    let bytes = big_sbom(3000);
    let small = Limits {
        max_bytes: 100 * 1024,
        ..Limits::default()
    };
    let e = parse_reader(&bytes[..], None, &small).unwrap_err();
    assert_eq!(e.kind, ErrorKind::TooLarge, "{e}");
    let shallow = Limits {
        max_depth: 3,
        ..Limits::default()
    };
    let e = parse_reader(&bytes[..], None, &shallow).unwrap_err();
    assert_eq!(e.kind, ErrorKind::TooDeep, "{e}");
}

#[test]
fn small_and_other_formats_read_into_memory() {
    let grype = br#"{"matches":[],"source":{"type":"image","target":{"userInput":"a"}},"descriptor":{"name":"grype","version":"0.80.0"}}"#;
    let ev = parse_reader(&grype[..], None, &Limits::default()).unwrap();
    assert_eq!(ev.format, Format::GrypeJson);
    assert_eq!(ev, parse(grype, &Limits::default()).unwrap());
    // Over the size limit without streaming: refused, not cut short.
    let e = parse_reader(
        &grype[..],
        None,
        &Limits {
            max_bytes: 20,
            ..Limits::default()
        },
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::TooLarge);
}

struct FailingReader(usize);

impl std::io::Read for FailingReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.0 == 0 {
            return Err(std::io::Error::other("disk on fire"));
        }
        let n = buf.len().min(self.0);
        buf[..n].fill(b' ');
        self.0 -= n;
        Ok(n)
    }
}

#[test]
fn a_failing_reader_is_an_io_error() {
    let e = parse_reader(FailingReader(10), None, &Limits::default()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Io);
    assert!(e.to_string().contains("disk on fire"), "{e}");
}
