//! Parse errors that say which file, which format and which place.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::format::Format;

/// What went wrong, in a word users can grep for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Nothing but white space.
    Empty,
    /// Bytes that are not UTF-8 (or UTF-16 where UTF-8 is required).
    NotUtf8,
    /// The document ends before it is complete.
    Truncated,
    /// Not well-formed JSON / XML.
    Syntax,
    /// Well-formed, but not the shape the format requires (missing field, wrong type, ...).
    Shape,
    /// Nested deeper than the configured limit.
    TooDeep,
    /// Larger than the configured limit.
    TooLarge,
    /// No known format matches the content.
    UnknownFormat,
    /// A recognized format in a version or variant that is not supported.
    Unsupported,
    /// The bytes could not be read at all (the reader failed).
    Io,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 10] = [
        Self::Empty,
        Self::NotUtf8,
        Self::Truncated,
        Self::Syntax,
        Self::Shape,
        Self::TooDeep,
        Self::TooLarge,
        Self::UnknownFormat,
        Self::Unsupported,
        Self::Io,
    ];

    /// What the code means, in a sentence.
    pub fn description(self) -> &'static str {
        match self {
            Self::Empty => "Nothing but white space.",
            Self::NotUtf8 => "Bytes that are not UTF-8 (or UTF-16 where UTF-8 is required).",
            Self::Truncated => "The document ends before it is complete.",
            Self::Syntax => "Not well-formed JSON or XML.",
            Self::Shape => {
                "Well-formed, but not the shape the format requires (a missing field, a wrong type)."
            }
            Self::TooDeep => "Nested deeper than the configured limit (--max-depth).",
            Self::TooLarge => "Larger than the configured limit (--max-bytes).",
            Self::UnknownFormat => "No known format matches the content.",
            Self::Unsupported => {
                "A recognized format in a version or variant that is not supported."
            }
            Self::Io => "The bytes could not be read at all.",
        }
    }

    /// Stable code, for logs and exceptions.
    pub fn code(self) -> &'static str {
        match self {
            Self::Empty => "empty",
            Self::NotUtf8 => "not-utf8",
            Self::Truncated => "truncated",
            Self::Syntax => "syntax",
            Self::Shape => "shape",
            Self::TooDeep => "too-deep",
            Self::TooLarge => "too-large",
            Self::UnknownFormat => "unknown-format",
            Self::Unsupported => "unsupported",
            Self::Io => "io",
        }
    }
}

/// Where in the document the problem is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// An RFC 6901 JSON pointer, e.g. `/components/3/version`.
    Pointer(String),
    /// 1-based line and column.
    LineColumn { line: usize, column: usize },
    /// A JSON-lines document: 1-based line, and the place within it.
    Line {
        line: usize,
        inner: Option<Box<Place>>,
    },
}

impl Place {
    /// The line and column of byte `offset` in `bytes` (1-based; columns count bytes).
    pub fn at_offset(bytes: &[u8], offset: usize) -> Self {
        let offset = offset.min(bytes.len());
        let before = bytes.get(..offset).unwrap_or(bytes);
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        let line_start = before
            .iter()
            .rposition(|&b| b == b'\n')
            .map(|p| p + 1)
            .unwrap_or(0);
        Place::LineColumn {
            line,
            column: offset - line_start + 1,
        }
    }
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Place::Pointer(p) if p.is_empty() => f.write_str("/"),
            Place::Pointer(p) => f.write_str(p),
            Place::LineColumn { line, column } => write!(f, "{line}:{column}"),
            Place::Line { line, inner: None } => write!(f, "line {line}"),
            Place::Line {
                line,
                inner: Some(inner),
            } => write!(f, "line {line}, {inner}"),
        }
    }
}

/// Why a document could not be read. Displays on one line:
/// `FILE: FORMAT: PLACE: message` (parts that are not known are left out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub kind: ErrorKind,
    pub file: Option<PathBuf>,
    /// The format that was tried; `None` when detection itself failed.
    pub format: Option<Format>,
    pub place: Option<Place>,
    pub message: String,
}

impl ParseError {
    pub fn new(kind: ErrorKind, format: Option<Format>, message: impl Into<String>) -> Self {
        Self {
            kind,
            file: None,
            format,
            place: None,
            message: message.into(),
        }
    }

    /// A wrong-shape error at a JSON pointer.
    pub fn shape(format: Format, pointer: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Shape, Some(format), message).at(Place::Pointer(pointer.into()))
    }

    pub fn at(mut self, place: Place) -> Self {
        self.place = Some(place);
        self
    }

    pub fn in_file(mut self, file: impl AsRef<Path>) -> Self {
        self.file = Some(file.as_ref().to_path_buf());
        self
    }

    pub fn with_format(mut self, format: Format) -> Self {
        self.format = Some(format);
        self
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{}: ", file.display())?;
        }
        match self.format {
            Some(format) => write!(f, "{}: ", format.name())?,
            None => f.write_str("format detection: ")?,
        }
        if let Some(place) = &self.place {
            write!(f, "at {place}: ")?;
        }
        // One line, whatever the message holds.
        let message = self.message.replace(['\n', '\r'], " ");
        write!(f, "{} [{}]", message, self.kind.code())
    }
}

impl std::error::Error for ParseError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_to_line_column() {
        let text = b"ab\ncde\nf";
        assert_eq!(
            Place::at_offset(text, 0),
            Place::LineColumn { line: 1, column: 1 }
        );
        assert_eq!(
            Place::at_offset(text, 4),
            Place::LineColumn { line: 2, column: 2 }
        );
        assert_eq!(
            Place::at_offset(text, 99),
            Place::LineColumn { line: 3, column: 2 }
        );
    }

    #[test]
    fn displays_on_one_line_with_file_format_place() {
        let e = ParseError::shape(
            Format::GrypeJson,
            "/matches/0",
            "missing field `vulnerability`\nx",
        )
        .in_file("scan.json");
        assert_eq!(
            e.to_string(),
            "scan.json: Grype JSON: at /matches/0: missing field `vulnerability` x [shape]"
        );
    }
}
