//! What a printed report must look like, checked on the text of its PDF (poppler's
//! `pdftotext -layout`), shared by the report tests (`report.rs`: the fixture history;
//! `print.rs`: 1,000 generated decisions).
//!
//! - Every table header word is printed whole: each word of each `<th>` of the HTML occurs in
//!   the PDF's text at least as often as in the HTML's headers (headers repeat on every page,
//!   so more is fine; fewer means some were broken).
//! - No column is narrower than its longest word: every word of the PDF's text is a word of the
//!   HTML. A column squeezed below its longest word prints fragments (`p / ro / d / u / ct`,
//!   `Sever` `ity`) that are words of nothing. Digests and ids may break anywhere, so runs made
//!   only of the hex letters a-f are not words here.
//! - Every page has its running header (the scope) and "Page N of M".

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

/// Alphabetic runs of `text`: the words a broken line would cut.
pub fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !c.is_alphabetic())
        .filter(|w| !w.is_empty())
}

fn is_hex_letters(w: &str) -> bool {
    w.chars().all(|c| c.is_ascii_hexdigit())
}

/// The text of `html` outside its tags (style and SVG text included: the page prints both),
/// with the character references askama writes decoded.
pub fn html_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => {
                in_tag = true;
                out.push(' ');
            }
            '>' if in_tag => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&#60;", "<")
        .replace("&#62;", ">")
        .replace("&#38;", "&")
        .replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The text of every `<th>` cell of `html`.
pub fn header_cells(html: &str) -> Vec<String> {
    let mut cells = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find("<th") {
        let after = &rest[start..];
        let Some(open_end) = after.find('>') else {
            break;
        };
        let Some(close) = after.find("</th>") else {
            break;
        };
        cells.push(html_text(&after[open_end + 1..close]));
        rest = &after[close..];
    }
    cells
}

/// `pdftotext -layout` of `pdf`, pages separated by form feeds; None when poppler is missing.
pub fn pdftotext(pdf: &Path) -> Option<String> {
    let out = Command::new("pdftotext")
        .arg("-layout")
        .arg(pdf)
        .arg("-")
        .output()
        .ok()?;
    assert!(
        out.status.success(),
        "pdftotext {}: {}",
        pdf.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8(out.stdout).expect("pdftotext writes UTF-8"))
}

/// `pdfinfo`'s `Pages:` and `Page size:` lines.
pub fn pdfinfo(pdf: &Path) -> (usize, String) {
    let out = Command::new("pdfinfo").arg(pdf).output().expect("pdfinfo");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_string())
            .unwrap_or_else(|| panic!("pdfinfo {} has no {name}:\n{text}", pdf.display()))
    };
    (
        field("Pages:").parse().expect("a page count"),
        field("Page size:"),
    )
}

/// The problems of the printed layout (empty when there are none): header words not printed
/// whole, words of the PDF that are words of nothing in the HTML (with an example line).
pub fn layout_problems(html: &str, text: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let mut pdf_words: BTreeMap<&str, usize> = BTreeMap::new();
    for w in words(text) {
        *pdf_words.entry(w).or_default() += 1;
    }
    let mut header_words: BTreeMap<String, usize> = BTreeMap::new();
    for cell in header_cells(html) {
        for w in words(&cell) {
            *header_words.entry(w.to_string()).or_default() += 1;
        }
    }
    assert!(!header_words.is_empty(), "the report has no table headers");
    for (w, n) in &header_words {
        let printed = pdf_words.get(w.as_str()).copied().unwrap_or(0);
        if printed < *n {
            problems.push(format!(
                "header word {w:?}: in {n} header cells, printed whole {printed} times"
            ));
        }
    }
    let source = html_text(html);
    let known: BTreeSet<&str> = words(&source).collect();
    let mut fragments: BTreeMap<&str, &str> = BTreeMap::new();
    for line in text.lines() {
        for w in words(line) {
            if !known.contains(w) && !is_hex_letters(w) {
                fragments.entry(w).or_insert(line);
            }
        }
    }
    for (w, line) in fragments {
        problems.push(format!(
            "{w:?} is not a word of the report (a word broken in a narrow column?) in line {:?}",
            line.trim()
        ));
    }
    problems
}

/// Every page of `text` has the running header `header` and "Page N of M".
pub fn page_furniture_problems(text: &str, header: &str, pages: usize) -> Vec<String> {
    let mut problems = Vec::new();
    let page_texts: Vec<&str> = text
        .split('\u{c}')
        .filter(|p| !p.trim().is_empty())
        .collect();
    if page_texts.len() != pages {
        problems.push(format!(
            "pdftotext shows {} pages, pdfinfo {pages}",
            page_texts.len()
        ));
    }
    for (i, page) in page_texts.iter().enumerate() {
        let number = format!("Page {} of {pages}", i + 1);
        let squeezed: String = page.split_whitespace().collect::<Vec<_>>().join(" ");
        if !squeezed.contains(&number) {
            problems.push(format!("page {}: no {number:?}", i + 1));
        }
        if !squeezed.contains(header) {
            problems.push(format!("page {}: no running header {header:?}", i + 1));
        }
    }
    problems
}

/// Where printed test reports are kept for a person to look at (and pdftoppm to render):
/// `$CARGO_TARGET_TMPDIR/printed/NAME.{html,pdf}`.
pub fn kept(name: &str, ext: &str) -> std::path::PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("printed");
    std::fs::create_dir_all(&dir).expect("create the printed reports' directory");
    dir.join(format!("{name}.{ext}"))
}

/// Print `report` laid out as `options` say, keep the HTML and PDF (see [`kept`]), and check
/// the layout and the furniture of every page. Returns the page count, the page size (pdfinfo)
/// and the PDF's text; None after a skip (no Chromium or poppler outside CI).
pub fn print_and_check(
    name: &str,
    report: &portcullis_report::Report,
    options: &portcullis_report::Options,
) -> Option<(usize, String, String)> {
    use portcullis_report::{Format, html, pdf, render_with};
    if let Err(e) = pdf::find_chromium() {
        portcullis_testkit::skip_or_fail!(
            "PDF layout",
            "{e} (scripts/test installs Debian's chromium under CI)"
        );
    }
    if Command::new("pdftotext").arg("-v").output().is_err() {
        portcullis_testkit::skip_or_fail!(
            "PDF layout",
            "pdftotext (poppler-utils) not found (scripts/test installs it under CI)"
        );
    }
    let page = html::render_with(report, options, &mut |_, _| {}).expect("render the HTML");
    let bytes =
        render_with(report, Format::Pdf, options, &mut |_, _| {}).unwrap_or_else(|e| panic!("{e}"));
    assert!(bytes.starts_with(b"%PDF-"), "not a PDF");
    let html_path = kept(name, "html");
    let pdf_path = kept(name, "pdf");
    // Tests of both store backends print the same report: each writes a file of its own and
    // renames it into place, so none reads a half-written one.
    for (path, data) in [(&html_path, page.as_bytes()), (&pdf_path, &bytes[..])] {
        let mut tmp = tempfile::NamedTempFile::new_in(path.parent().expect("a directory"))
            .expect("a temporary file");
        std::io::Write::write_all(&mut tmp, data).expect("write it");
        tmp.persist(path).expect("keep it");
    }
    let text = pdftotext(&pdf_path)?;
    let (pages, size) = pdfinfo(&pdf_path);
    let mut problems = layout_problems(&page, &text);
    let scope = match &report.range.environment {
        Some(e) => format!("environment {e}"),
        None => "all environments".into(),
    };
    problems.extend(page_furniture_problems(
        &text,
        &format!("Audit report · {scope}"),
        pages,
    ));
    assert!(
        problems.is_empty(),
        "{} ({} pages) prints badly:\n{}",
        pdf_path.display(),
        pages,
        problems.join("\n")
    );
    eprintln!("{name}: {pages} pages, {size}: {}", pdf_path.display());
    Some((pages, size, text))
}
