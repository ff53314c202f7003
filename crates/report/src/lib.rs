//! Portcullis reports: what happened in a time range, for auditors — every decision with its
//! proof points and violations, the exceptions granted and used, the advisories and their
//! impact, coverage of the NIST SP 800-53 rev5 and HIPAA controls the policy library maps to,
//! and the audit chain's verification — rendered as HTML, PDF (headless Chromium), JSON or
//! OSCAL 1.1 (assessment results and a POA&M). [`charts`] draws the SVG charts the reports and
//! the dashboard show.
//!
//! It reads the store and the firewall's records; it must not decide anything or change state.

pub mod charts;
pub mod controls;
mod gather;
pub mod html;
pub mod model;
pub mod oscal;
pub mod pdf;

pub use gather::{MAX_RANGE_DAYS, build, build_with_progress};
pub use html::{Options, Paper};
pub use model::*;

/// What can go wrong building or rendering a report. Messages name the decision, document or
/// program they are about.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("report query: {0}")]
    Query(String),
    #[error(transparent)]
    Store(#[from] portcullis_store::StoreError),
    #[error("decision {decision}: {message}")]
    Record { decision: String, message: String },
    #[error("{format} report: {message}")]
    Render {
        format: &'static str,
        message: String,
    },
    /// PDF rendering needs headless Chromium.
    #[error("PDF report: {0}")]
    Pdf(String),
}

/// A report argument that does not parse: a range bound ([`Bound::parse`]) or a format name
/// ([`Format::from_name`]). The message quotes the text and says what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// A date whose day (or the day after it, for [`Bound::To`]) is outside chrono's range.
    #[error("{0:?} is out of range")]
    OutOfRange(String),
    #[error("{0:?} is neither a date (YYYY-MM-DD) nor an RFC 3339 time (2026-11-28T12:00:00Z)")]
    Time(String),
    #[error("unknown report format {0:?}: expected html, pdf, json or oscal")]
    Format(String),
}

/// A bad argument is a bad query (the server answers it with `invalid-request`).
impl From<ParseError> for ReportError {
    fn from(e: ParseError) -> Self {
        ReportError::Query(e.to_string())
    }
}

/// Output formats of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// One self-contained HTML file (inline CSS and SVG, no script).
    Html,
    /// The HTML printed to PDF by headless Chromium.
    Pdf,
    /// The [`Report`] as JSON (schema `portcullis.report/v1`).
    Json,
    /// `{"assessment-results": …, "plan-of-action-and-milestones": …}`: the two OSCAL 1.1.2
    /// documents' root objects in one JSON object (see [`oscal`]).
    Oscal,
}

impl Format {
    pub const ALL: [Format; 4] = [Format::Html, Format::Pdf, Format::Json, Format::Oscal];

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Html => "html",
            Format::Pdf => "pdf",
            Format::Json => "json",
            Format::Oscal => "oscal",
        }
    }

    /// The media type of the rendered bytes.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Html => "text/html; charset=utf-8",
            Format::Pdf => "application/pdf",
            Format::Json | Format::Oscal => "application/json",
        }
    }

    /// File extension for downloads.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Html => "html",
            Format::Pdf => "pdf",
            Format::Json => "json",
            Format::Oscal => "oscal.json",
        }
    }
}

impl Format {
    /// The format named `name` (`html`, `pdf`, `json`, `oscal`; any case, spaces around ignored).
    pub fn from_name(name: &str) -> Result<Format, ParseError> {
        Format::ALL
            .into_iter()
            .find(|f| f.as_str().eq_ignore_ascii_case(name.trim()))
            .ok_or_else(|| ParseError::Format(name.to_string()))
    }
}

/// [`Format::from_name`] with the error as its message (what the CLI's and the server's
/// argument parsing take).
impl std::str::FromStr for Format {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Format::from_name(s)
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Render `report` in `format`: HTML and PDF on A4, in full (see [`render_with`]).
pub fn render(report: &Report, format: Format) -> Result<Vec<u8>, ReportError> {
    render_with(report, format, &Options::default(), &mut |_, _| {})
}

/// Render `report` in `format`; HTML and PDF laid out as `options` say (paper, summary only;
/// JSON and OSCAL always carry every decision). `progress(done, total)` is called after each
/// decision's row of the HTML (and PDF) report; printing the PDF is one step after that.
pub fn render_with(
    report: &Report,
    format: Format,
    options: &Options,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Vec<u8>, ReportError> {
    match format {
        Format::Html => html::render_with(report, options, progress).map(String::into_bytes),
        Format::Pdf => pdf::render(&html::render_with(report, options, progress)?),
        Format::Json => serde_json::to_vec_pretty(report).map_err(|e| ReportError::Render {
            format: "json",
            message: e.to_string(),
        }),
        Format::Oscal => {
            let docs = oscal::documents(report);
            serde_json::to_vec_pretty(&docs.combined()).map_err(|e| ReportError::Render {
                format: "oscal",
                message: e.to_string(),
            })
        }
    }
}

/// Which end of the range a time argument gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    From,
    To,
}

impl Bound {
    /// Parse a range bound: an RFC 3339 time, or a date `YYYY-MM-DD` (UTC) — the start of that
    /// day for `From`, the end of it (the start of the next day) for `To`, so `--to 2026-11-30`
    /// includes the 30th.
    pub fn parse(self, text: &str) -> Result<chrono::DateTime<chrono::Utc>, ParseError> {
        let s = text.trim();
        if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
            let day = match self {
                Bound::From => Some(d),
                Bound::To => d.succ_opt(),
            };
            return day
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|t| t.and_utc())
                .ok_or_else(|| ParseError::OutOfRange(s.to_string()));
        }
        chrono::DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&chrono::Utc))
            .map_err(|_| ParseError::Time(s.to_string()))
    }
}

/// [`Bound::parse`] with the error as its message (what the CLI and the server call).
pub fn parse_bound(text: &str, bound: Bound) -> Result<chrono::DateTime<chrono::Utc>, ParseError> {
    bound.parse(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_parse_dates_as_whole_days() {
        let from = parse_bound("2026-11-01", Bound::From).unwrap();
        let to = parse_bound("2026-11-30", Bound::To).unwrap();
        assert_eq!(from.to_rfc3339(), "2026-11-01T00:00:00+00:00");
        assert_eq!(to.to_rfc3339(), "2026-12-01T00:00:00+00:00");
        let t = parse_bound("2026-11-28T12:30:00+02:00", Bound::To).unwrap();
        assert_eq!(t.to_rfc3339(), "2026-11-28T10:30:00+00:00");
        let err = parse_bound("yesterday", Bound::From)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("\"yesterday\"") && err.contains("RFC 3339"),
            "{err}"
        );
    }

    #[test]
    fn formats_parse_and_name_the_known_ones() {
        assert_eq!("PDF".parse::<Format>().unwrap(), Format::Pdf);
        let err = "docx".parse::<Format>().unwrap_err().to_string();
        assert!(err.contains("html, pdf, json or oscal"), "{err}");
        assert_eq!(Format::from_name(" Oscal "), Ok(Format::Oscal));
        assert_eq!(
            Format::from_name("docx"),
            Err(ParseError::Format("docx".into()))
        );
    }

    #[test]
    fn bad_bounds_are_typed_errors_and_bad_queries() {
        assert_eq!(
            Bound::From.parse(" yesterday "),
            Err(ParseError::Time("yesterday".into()))
        );
        assert_eq!(
            Bound::To.parse("+262142-12-31"),
            Err(ParseError::OutOfRange("+262142-12-31".into()))
        );
        assert_eq!(
            Bound::To.parse("2026-11-30").unwrap().to_rfc3339(),
            "2026-12-01T00:00:00+00:00"
        );
        let e = ReportError::from(ParseError::Time("x".into()));
        assert!(
            matches!(&e, ReportError::Query(m) if m.contains("RFC 3339")),
            "{e}"
        );
    }
}
