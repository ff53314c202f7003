//! Reading JSON under limits, with errors that name the place.
//!
//! The fast path is a plain typed `serde_json` parse. Only when it fails is the document parsed
//! again through `serde_path_to_error`, to turn serde's "missing field at line 1 column 9000"
//! into a JSON pointer; success pays nothing for that.

use std::cell::Cell;

use serde::de::DeserializeOwned;

use crate::Limits;
use crate::error::{ErrorKind, ParseError, Place};
use crate::format::Format;

/// The JSON parser that reads documents held in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// sonic-rs (SIMD string scanning and UTF-8 validation) for the formats it reads faster
    /// ([`simd_suits`]), falling back to [`Engine::Reference`] for any document it refuses, so
    /// that errors are the reference parser's, word for word.
    Simd,
    /// serde_json alone: the parser every result is compared against (tests, benchmarks).
    Reference,
}

thread_local! {
    static ENGINE: Cell<Engine> = const { Cell::new(Engine::Simd) };
    static REFUSED: Cell<u64> = const { Cell::new(0) };
}

/// How many documents sonic-rs refused on this thread, each then parsed by serde_json (tests
/// check that valid documents never take that detour).
pub fn simd_refusals() -> u64 {
    REFUSED.get()
}

/// Run `f` with every in-memory JSON parse of this thread done by `engine` (differential tests
/// and benchmarks compare the two on the same bytes).
pub fn with_engine<R>(engine: Engine, f: impl FnOnce() -> R) -> R {
    struct Restore(Engine);
    impl Drop for Restore {
        fn drop(&mut self) {
            ENGINE.set(self.0);
        }
    }
    let _restore = Restore(ENGINE.replace(engine));
    f()
}

/// The engine in force on this thread.
pub fn engine() -> Engine {
    ENGINE.get()
}

/// Parse `bytes` as one JSON document of type `T`, within `limits`.
///
/// The depth check is a separate pass over the whole document: neither parser's own limit
/// (fixed, and not configurable) applies to the values a typed parse skips, and the limit must
/// hold for the whole document, skipped fields included.
///
/// The fast path is sonic-rs (for CycloneDX). A document it refuses is parsed again by serde_json, whose error
/// (kind, message, line and column) is the one reported: errors are the rare, cheap-to-redo case,
/// and they stay identical whichever engine ran (tests/differential.rs).
pub fn from_slice<T: DeserializeOwned>(
    bytes: &[u8],
    format: Format,
    limits: &Limits,
) -> Result<T, ParseError> {
    check_size(bytes, Some(format), limits)?;
    check_depth(bytes, format, limits.max_depth)?;
    if engine() == Engine::Simd && simd_suits(format) {
        match sonic_rs::from_slice::<T>(bytes) {
            Ok(v) => return Ok(v),
            Err(_) => REFUSED.set(REFUSED.get().saturating_add(1)),
        }
    }
    reference_from_slice(bytes, format)
}

/// Whether sonic-rs reads `format` faster than serde_json (docs/benchmarks.md, "Parse
/// throughput"). Only CycloneDX, so far: its documents are mostly fields the model keeps, where
/// sonic-rs's string scanning wins; scanner reports (Grype, Trivy, SARIF) are mostly fields it
/// skips, and sonic-rs's validating skip is slower there than serde_json's, so those stay on
/// serde_json. (Sigstore bundles must: they hold a serde_json `RawValue`.)
fn simd_suits(format: Format) -> bool {
    format == Format::CyclonedxJson
}

/// The serde_json parse, depth already checked.
fn reference_from_slice<T: DeserializeOwned>(
    bytes: &[u8],
    format: Format,
) -> Result<T, ParseError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    // Depth is bounded by check_depth above, which also makes the limit configurable.
    de.disable_recursion_limit();
    let result = T::deserialize(&mut de).and_then(|v| de.end().map(|()| v));
    result.map_err(|e| describe(bytes, format, e))
}

/// Turn a serde_json error into a ParseError with the best place we can find.
pub fn describe(bytes: &[u8], format: Format, e: serde_json::Error) -> ParseError {
    use serde_json::error::Category;
    let line_col = Place::LineColumn {
        line: e.line(),
        column: e.column(),
    };
    let msg = strip_position(&e.to_string());
    match e.classify() {
        Category::Eof => ParseError::new(
            ErrorKind::Truncated,
            Some(format),
            format!("document ends early: {msg}"),
        )
        .at(line_col),
        Category::Syntax | Category::Io => {
            if let Err(utf8) = std::str::from_utf8(bytes) {
                return ParseError::new(
                    ErrorKind::NotUtf8,
                    Some(format),
                    "invalid UTF-8 byte sequence",
                )
                .at(Place::at_offset(bytes, utf8.valid_up_to()));
            }
            ParseError::new(ErrorKind::Syntax, Some(format), msg).at(line_col)
        }
        Category::Data => ParseError::new(ErrorKind::Shape, Some(format), msg).at(line_col),
    }
}

/// Re-parse a document that failed with a shape error, to find the JSON pointer of the problem.
/// Call it from a format parser's error path with the same target type.
pub fn pointer_of<T: DeserializeOwned>(bytes: &[u8]) -> Option<String> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    de.disable_recursion_limit();
    match serde_path_to_error::deserialize::<_, T>(&mut de) {
        Ok(_) => None,
        Err(e) => Some(path_to_pointer(e.path())),
    }
}

/// [`from_slice`], with the JSON pointer of a shape error instead of its line and column.
pub fn from_slice_located<T: DeserializeOwned>(
    bytes: &[u8],
    format: Format,
    limits: &Limits,
) -> Result<T, ParseError> {
    from_slice::<T>(bytes, format, limits).map_err(|mut e| {
        if e.kind == ErrorKind::Shape
            && let Some(ptr) = pointer_of::<T>(bytes)
        {
            let at = match e.place.take() {
                Some(Place::LineColumn { line, column }) => format!(" (line {line}:{column})"),
                _ => String::new(),
            };
            e.message.push_str(&at);
            e.place = Some(Place::Pointer(ptr));
        }
        e
    })
}

/// serde_path_to_error's path as a JSON pointer (RFC 6901); empty for the root.
pub fn path_to_pointer(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for seg in path.iter() {
        out.push('/');
        match seg {
            Segment::Seq { index } => out.push_str(&index.to_string()),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                out.push_str(&key.replace('~', "~0").replace('/', "~1"))
            }
            Segment::Unknown => out.push('?'),
        }
    }
    out
}

/// serde_json appends " at line L column C"; we report the place separately.
fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg.get(..i).unwrap_or(msg).to_string(),
        None => msg.to_string(),
    }
}

/// Refuse documents larger than the limit.
pub fn check_size(bytes: &[u8], format: Option<Format>, limits: &Limits) -> Result<(), ParseError> {
    if bytes.len() as u64 > limits.max_bytes {
        return Err(ParseError::new(
            ErrorKind::TooLarge,
            format,
            format!(
                "{} bytes is over the limit of {} bytes (raise it with --max-bytes)",
                bytes.len(),
                limits.max_bytes
            ),
        ));
    }
    Ok(())
}

/// Refuse JSON nested deeper than `max_depth` arrays/objects, naming where the limit is crossed.
///
/// Hand-written because serde_json's own limit is fixed at 128 and reports no useful place; this
/// is a single pass that only looks at brackets and string delimiters.
pub fn check_depth(bytes: &[u8], format: Format, max_depth: usize) -> Result<(), ParseError> {
    let mut tracker = DepthTracker::new(max_depth);
    match tracker.feed(bytes) {
        Ok(()) => Ok(()),
        Err(i) => Err(too_deep(format, max_depth).at(Place::at_offset(bytes, i))),
    }
}

/// The index of the first `"` or `\\` in `bytes` at or after `from`, eight bytes at a time
/// (strings are most of an SBOM's bytes; this is what makes the depth pass cheap).
fn next_quote_or_backslash(bytes: &[u8], from: usize) -> Option<usize> {
    next_of(
        bytes,
        from,
        |w| zero_bytes(w ^ QUOTES) | zero_bytes(w ^ BACKSLASHES),
        |b| b == b'"' || b == b'\\',
    )
}

/// The next byte at or after `from` that matters outside a string: a quote or a bracket.
fn next_structural(bytes: &[u8], from: usize) -> Option<usize> {
    // Compact JSON has the next structural byte one or two bytes on (`":"`, `","`): look at a
    // few bytes one by one before going word-at-a-time, which pays off on indentation.
    for (k, &b) in bytes.get(from..)?.iter().take(4).enumerate() {
        if matches!(b, b'"' | b'[' | b']' | b'{' | b'}') {
            return Some(from + k);
        }
    }
    next_of(
        bytes,
        from.saturating_add(4),
        |w| {
            zero_bytes(w ^ QUOTES)
                | zero_bytes(w ^ (LO * u64::from(b'[')))
                | zero_bytes(w ^ (LO * u64::from(b']')))
                | zero_bytes(w ^ (LO * u64::from(b'{')))
                | zero_bytes(w ^ (LO * u64::from(b'}')))
        },
        |b| matches!(b, b'"' | b'[' | b']' | b'{' | b'}'),
    )
}

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;
const QUOTES: u64 = LO * b'"' as u64;
const BACKSLASHES: u64 = LO * b'\\' as u64;

/// A high bit set in each byte of `w` that is zero (exact for the lowest such byte, which is
/// the only one used).
fn zero_bytes(w: u64) -> u64 {
    w.wrapping_sub(LO) & !w & HI
}

/// Word-at-a-time search (hand-written: memchr takes at most three needles and its per-call
/// set-up costs more than it saves on the short strings of evidence documents).
fn next_of(
    bytes: &[u8],
    from: usize,
    hits: impl Fn(u64) -> u64,
    is: impl Fn(u8) -> bool,
) -> Option<usize> {
    let mut i = from;
    while let Some(word) = bytes.get(i..i + 8) {
        let mut buf = [0u8; 8];
        buf.copy_from_slice(word);
        let h = hits(u64::from_le_bytes(buf));
        if h != 0 {
            return Some(i + (h.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    bytes.get(i..)?.iter().position(|&b| is(b)).map(|p| i + p)
}

/// The error [`check_depth`] and [`DepthTracker`] users report.
pub fn too_deep(format: Format, max_depth: usize) -> ParseError {
    ParseError::new(
        ErrorKind::TooDeep,
        Some(format),
        format!("nested deeper than the limit of {max_depth}"),
    )
}

/// The state machine of [`check_depth`], resumable across chunks so a streaming reader can
/// check nesting as bytes pass (see `formats::cyclonedx::parse_json_reader`).
#[derive(Debug, Clone)]
pub struct DepthTracker {
    depth: usize,
    max_depth: usize,
    in_string: bool,
    escaped: bool,
}

impl DepthTracker {
    pub fn new(max_depth: usize) -> Self {
        Self {
            depth: 0,
            max_depth,
            in_string: false,
            escaped: false,
        }
    }

    /// Consume `chunk`; `Err(i)` is the index in `chunk` of the bracket that crosses the limit.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), usize> {
        let mut i = 0;
        let n = chunk.len();
        while i < n {
            if self.in_string {
                // Skip string contents quickly: only a quote or a backslash can end them.
                if self.escaped {
                    self.escaped = false;
                    i += 1;
                    continue;
                }
                match next_quote_or_backslash(chunk, i) {
                    Some(p) => {
                        i = p;
                        if chunk.get(i) == Some(&b'\\') {
                            self.escaped = true;
                        } else {
                            self.in_string = false;
                        }
                        i += 1;
                    }
                    None => return Ok(()),
                }
                continue;
            }
            match next_structural(chunk, i) {
                Some(p) => i = p,
                None => return Ok(()),
            }
            match chunk.get(i) {
                Some(b'"') => self.in_string = true,
                Some(b'[' | b'{') => {
                    self.depth += 1;
                    if self.depth > self.max_depth {
                        return Err(i);
                    }
                }
                Some(b']' | b'}') => self.depth = self.depth.saturating_sub(1),
                _ => {}
            }
            i += 1;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize, Debug)]
    #[allow(dead_code)]
    struct Doc {
        items: Vec<Item>,
    }
    #[derive(Deserialize, Debug)]
    #[allow(dead_code)]
    struct Item {
        name: String,
    }

    #[test]
    fn depth_limit_names_the_place() {
        let deep = format!("{}{}", "[".repeat(5), "]".repeat(5));
        assert!(check_depth(deep.as_bytes(), Format::GrypeJson, 5).is_ok());
        let e = check_depth(deep.as_bytes(), Format::GrypeJson, 4).unwrap_err();
        assert_eq!(e.kind, ErrorKind::TooDeep);
        assert_eq!(e.place, Some(Place::LineColumn { line: 1, column: 5 }));
        // Brackets inside strings do not count.
        assert!(check_depth(br#"["[[[[[\"[[["]"#, Format::GrypeJson, 1).is_ok());
    }

    #[test]
    fn word_scan_finds_the_first_structural_byte() {
        for len in 0..40 {
            for at in 0..len {
                for b in [b'"', b'[', b']', b'{', b'}'] {
                    let mut v = vec![b' '; len];
                    v[at] = b;
                    if at + 2 < len {
                        v[at + 2] = b'[';
                    }
                    assert_eq!(next_structural(&v, 0), Some(at));
                    assert_eq!(
                        next_structural(&v, at + 1),
                        (at + 2 < len).then_some(at + 2)
                    );
                }
            }
        }
        // Bytes next to the needles (0x5C, 0x5E, 0x7C, 0x7E, 0x21, 0x23) are not hits.
        assert_eq!(next_structural(b"\\^|~!#aaaaaaaaa", 0), None);
    }

    #[test]
    fn word_scan_finds_the_first_quote_or_backslash() {
        for len in 0..40 {
            for at in 0..len {
                for b in [b'"', b'\\'] {
                    let mut v = vec![b'a'; len];
                    v[at] = b;
                    if at + 3 < len {
                        v[at + 3] = b'"';
                    }
                    assert_eq!(next_quote_or_backslash(&v, 0), Some(at));
                    assert_eq!(
                        next_quote_or_backslash(&v, at + 1),
                        (at + 3 < len).then_some(at + 3)
                    );
                }
            }
            assert_eq!(next_quote_or_backslash(&vec![0x80 | b'"'; len], 0), None);
        }
    }

    #[test]
    fn depth_tracker_resumes_across_chunks() {
        // The same document fed whole and one byte at a time gives the same answer.
        let doc = br#"{"a":"x\\\"[[[","b":[[1]],"c":"\\"}"#;
        let mut whole = DepthTracker::new(3);
        assert!(whole.feed(doc).is_ok());
        let mut bytewise = DepthTracker::new(2);
        let mut failed_at = None;
        for (i, b) in doc.iter().enumerate() {
            if bytewise.feed(std::slice::from_ref(b)).is_err() {
                failed_at = Some(i);
                break;
            }
        }
        assert_eq!(failed_at, Some(21));
        assert_eq!(DepthTracker::new(2).feed(doc), Err(21));
    }

    #[test]
    fn shape_error_gets_a_pointer() {
        let e = from_slice_located::<Doc>(
            br#"{"items":[{"name":"a"},{"nome":"b"}]}"#,
            Format::GrypeJson,
            &Limits::default(),
        )
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Shape);
        assert_eq!(e.place, Some(Place::Pointer("/items/1".into())));
        assert!(e.message.contains("missing field `name`"), "{}", e.message);
    }

    #[test]
    fn truncation_and_utf8_are_named() {
        let l = Limits::default();
        let e = from_slice::<Doc>(br#"{"items":[{"name":"#, Format::GrypeJson, &l).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Truncated);
        let e = from_slice::<Doc>(b"{\"items\":[{\"name\":\"\xff\"}]}", Format::GrypeJson, &l)
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::NotUtf8);
        assert_eq!(
            e.place,
            Some(Place::LineColumn {
                line: 1,
                column: 20
            })
        );
    }

    #[test]
    fn default_limit_allows_exactly_128_levels() {
        let l = Limits::default();
        assert_eq!(l.max_depth, 128);
        let nest = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        for n in [1, 127, 128] {
            assert!(
                from_slice::<serde_json::Value>(nest(n).as_bytes(), Format::GrypeJson, &l).is_ok(),
                "{n}"
            );
        }
        let e = from_slice::<serde_json::Value>(nest(129).as_bytes(), Format::GrypeJson, &l)
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::TooDeep);
        assert_eq!(
            e.place,
            Some(Place::LineColumn {
                line: 1,
                column: 129
            })
        );
        // Deeper limits work past serde_json's own, shallower ones before it, and skipped
        // (unknown) fields count.
        let ignored = format!(r#"{{"items":[],"x":{}}}"#, nest(129));
        let e = from_slice::<Doc>(ignored.as_bytes(), Format::GrypeJson, &l).unwrap_err();
        assert_eq!(e.kind, ErrorKind::TooDeep);
        let deep = Limits {
            max_depth: 300,
            ..l
        };
        assert!(
            from_slice::<serde_json::Value>(nest(299).as_bytes(), Format::GrypeJson, &deep).is_ok()
        );
        let shallow = Limits { max_depth: 3, ..l };
        let e = from_slice::<serde_json::Value>(nest(4).as_bytes(), Format::GrypeJson, &shallow)
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::TooDeep);
    }

    #[test]
    fn size_limit() {
        let l = Limits {
            max_bytes: 3,
            ..Limits::default()
        };
        let e = from_slice::<Doc>(b"{\"items\":[]}", Format::GrypeJson, &l).unwrap_err();
        assert_eq!(e.kind, ErrorKind::TooLarge);
    }
}
