//! No input makes `detect` or `parse` panic: every file of the shared corpus (all folders), whole,
//! truncated at several points and with one byte flipped, goes through both inside
//! `catch_unwind`. And a single JSON or XML document cut before its end is never read as `Ok`:
//! unreadable evidence must not become "no findings".
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::cell::RefCell;
use std::panic::{self, AssertUnwindSafe};
use std::path::Path;
use std::time::Instant;

use portcullis_evidence::{Format, Limits, detect, parse};

thread_local! {
    /// Where and why the last panic on this thread happened (the hook records it).
    static LAST_PANIC: RefCell<String> = const { RefCell::new(String::new()) };
}

/// The prefix lengths each file is cut at: 1 byte, 10 %, 50 % (moved back to a UTF-8 character
/// boundary), 90 %, len - 1, and, when the file has multi-byte characters, a cut inside one
/// (the first continuation byte at or after the middle).
fn cut_points(bytes: &[u8]) -> Vec<usize> {
    let len = bytes.len();
    let is_boundary = |i: usize| bytes.get(i).is_none_or(|&b| (b as i8) >= -0x40);
    let mut half = len / 2;
    while half > 0 && !is_boundary(half) {
        half -= 1;
    }
    let mut cuts = vec![1, len / 10, half, len * 9 / 10, len.saturating_sub(1)];
    if let Some(p) = bytes
        .iter()
        .skip(len / 2)
        .position(|&b| (0x80..0xC0).contains(&b))
    {
        cuts.push(len / 2 + p);
    }
    cuts.retain(|&c| c > 0 && c < len);
    cuts.sort_unstable();
    cuts.dedup();
    cuts
}

/// A whole document that is one JSON object or array (not JSON lines), or one XML document of a
/// known XML format ending with its root's end tag: any prefix of it that stops before its last
/// non-blank byte is incomplete. Returns the index of that byte.
fn single_document_end(bytes: &[u8]) -> Option<usize> {
    let first = bytes.iter().position(|b| !b.is_ascii_whitespace())?;
    let last = bytes.iter().rposition(|b| !b.is_ascii_whitespace())?;
    match bytes.get(first) {
        Some(b'{' | b'[') => {
            serde_json::from_slice::<serde::de::IgnoredAny>(bytes).ok()?;
            Some(last)
        }
        Some(b'<') if bytes.get(last) == Some(&b'>') => {
            let format = guarded(|| detect(bytes)).ok()?.ok()?;
            matches!(format, Format::CyclonedxXml | Format::ZapXml).then_some(last)
        }
        _ => None,
    }
}

/// Run `f`, turning a panic into `Err(where and why)`.
fn guarded<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    panic::catch_unwind(AssertUnwindSafe(f)).map_err(|_| LAST_PANIC.with(|p| p.borrow().clone()))
}

struct Tally {
    inputs: usize,
    bytes: usize,
    /// Inputs that are a single document strictly truncated.
    truncated: usize,
    panics: Vec<String>,
    truncated_ok: Vec<String>,
}

fn check(tally: &mut Tally, name: &str, input: &[u8], truncated_doc: bool) {
    tally.inputs += 1;
    tally.bytes += input.len();
    tally.truncated += usize::from(truncated_doc);
    if let Err(p) = guarded(|| detect(input)) {
        tally.panics.push(format!("detect({name}): {p}"));
    }
    match guarded(|| parse(input, &Limits::default())) {
        Err(p) => tally.panics.push(format!("parse({name}): {p}")),
        Ok(Ok(e)) if truncated_doc => tally.truncated_ok.push(format!(
            "{name}: a truncated document parsed as Ok ({:?}, {} findings, {} components)",
            e.format,
            e.findings.len(),
            e.components.len()
        )),
        Ok(_) => {}
    }
}

fn check_file(tally: &mut Tally, rel: &str, bytes: &[u8]) {
    check(tally, rel, bytes, false);
    let doc_end = single_document_end(bytes);
    for cut in cut_points(bytes) {
        let prefix = bytes.get(..cut).unwrap();
        let strictly_truncated = doc_end.is_some_and(|end| cut <= end);
        check(
            tally,
            &format!("{rel}[..{cut}]"),
            prefix,
            strictly_truncated,
        );
    }
    if !bytes.is_empty() {
        let mut flipped = bytes.to_vec();
        let mid = flipped.len() / 2;
        flipped[mid] ^= 0x01;
        check(
            tally,
            &format!("{rel} (byte {mid} flipped)"),
            &flipped,
            false,
        );
    }
}

#[test]
fn no_panic_on_any_corpus_file_whole_truncated_or_flipped() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let started = Instant::now();
    let files = common::files_under(&corpus);
    assert!(files.len() > 1000, "only {} corpus files", files.len());

    let default_hook = panic::take_hook();
    panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        let at = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        LAST_PANIC.with(|p| *p.borrow_mut() = format!("panicked at {at}: {msg}"));
    }));

    // Two workers (the machine has two cores); each takes every other file.
    let tallies: Vec<Tally> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..2)
            .map(|w| {
                let files = &files;
                let corpus = &corpus;
                s.spawn(move || {
                    let mut tally = Tally {
                        inputs: 0,
                        bytes: 0,
                        truncated: 0,
                        panics: Vec::new(),
                        truncated_ok: Vec::new(),
                    };
                    for path in files.iter().skip(w).step_by(2) {
                        let rel = relative(path, corpus);
                        let bytes = std::fs::read(path).unwrap();
                        check_file(&mut tally, &rel, &bytes);
                    }
                    tally
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    panic::set_hook(default_hook);

    let inputs: usize = tallies.iter().map(|t| t.inputs).sum();
    let bytes: usize = tallies.iter().map(|t| t.bytes).sum();
    let truncated: usize = tallies.iter().map(|t| t.truncated).sum();
    let panics: Vec<&String> = tallies.iter().flat_map(|t| &t.panics).collect();
    let truncated_ok: Vec<&String> = tallies.iter().flat_map(|t| &t.truncated_ok).collect();
    println!(
        "no_panic: {inputs} inputs ({} files, {:.1} MB; {truncated} strictly truncated JSON/XML \
         documents) through detect and parse in {:.1} s",
        files.len(),
        bytes as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );
    let mut report = String::new();
    for p in &panics {
        report.push_str(&format!("PANIC {p}\n"));
    }
    for t in &truncated_ok {
        report.push_str(&format!("TRUNCATED-OK {t}\n"));
    }
    assert!(
        report.is_empty(),
        "{} panics and {} truncated documents read as Ok, of {inputs} inputs:\n{report}",
        panics.len(),
        truncated_ok.len()
    );
}

fn relative(path: &Path, corpus: &Path) -> String {
    path.strip_prefix(corpus)
        .unwrap_or(path)
        .display()
        .to_string()
}

#[test]
fn cut_points_include_a_cut_inside_a_character() {
    let text = "{\"a\":\"ééé\"}".as_bytes();
    let cuts = cut_points(text);
    assert!(
        cuts.iter()
            .any(|&c| std::str::from_utf8(&text[..c]).is_err())
    );
    assert!(cuts.iter().all(|&c| c > 0 && c < text.len()));
    assert_eq!(single_document_end(b" {\"a\":1}\n"), Some(7));
    assert_eq!(single_document_end(b"{}\n{}\n"), None, "JSON lines");
    assert_eq!(
        single_document_end(b"<OWASPZAPReport></OWASPZAPReport>\n"),
        Some(32)
    );
    assert_eq!(single_document_end(b"<html></html>"), None);
}

/// A minimized input kept by the fuzzing under `fuzz/regressions/`.
fn regression(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/regressions")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A circular `originalUriBaseIds` entry with a 5,000-byte uri, used by ten results: each path
/// was the base nine times over (45 KB), built and normalized once per result, so a 64 KiB
/// document took seconds. Paths longer than 4096 bytes are now read as absent.
#[test]
fn regression_sarif_base_amplification() {
    let input = regression("code-sarif-base-amplification");
    let e = parse(&input, &Limits::default()).unwrap();
    assert_eq!(e.findings.len(), 10);
    for f in &e.findings {
        let path = f.location.as_ref().map_or(0, |l| l.path.len());
        assert!(path <= 4096, "a {path}-byte path");
        assert!(f.key.len() <= 4096 + 64, "a {}-byte key", f.key.len());
    }
}

/// `{0}` 2,000 times with a 2,000-byte argument: an 8 KB document became a 4 MB message. Now at
/// most the template, 16 KiB of arguments, and the placeholders left as written.
#[test]
fn regression_sarif_placeholder_expansion() {
    let input = regression("code-sarif-placeholder-expansion");
    let e = parse(&input, &Limits::default()).unwrap();
    let message = e.findings.first().unwrap().description.as_deref().unwrap();
    assert!(
        message.len() <= 2 * 6_000 + 16 * 1024,
        "a {}-byte message",
        message.len()
    );
    assert!(message.starts_with("bbbb"), "{message:.40}");
}

/// `{a` 30,000 times: every `{` searched the rest of the template for a `}` (quadratic; the
/// unit test `unclosed_braces_are_scanned_once` in sarif.rs is the one that fails without it).
#[test]
fn regression_sarif_brace_scan() {
    let input = regression("code-sarif-brace-scan");
    let e = parse(&input, &Limits::default()).unwrap();
    assert_eq!(e.findings.len(), 1);
}
