//! Markdown for people reading a pipeline: a GitHub job summary (`$GITHUB_STEP_SUMMARY`) or a
//! GitLab merge-request note. The verdict, a table of what was found with its fix, excepted
//! violations and their exceptions, expired exceptions, errors, the diff against what runs,
//! and where the decision is recorded.
//!
//! Everything that comes from evidence or requests (component names, messages, keys, file
//! names) is escaped: identifiers go in code spans, prose has every ASCII punctuation mark
//! backslash-escaped, and newlines become spaces, so hostile evidence cannot add markup, HTML,
//! links, images or table cells. Long values are shortened and long tables cut, so that a
//! summary stays under the platforms' size limits.

use std::fmt::Write;

use portcullis_firewall::Violation;

use super::{Item, Report, Status, short_digest};

/// Rows of one table before it is cut.
const MAX_ROWS: usize = 100;
/// Characters of one value before it is shortened.
const MAX_CHARS: usize = 400;

pub fn document(r: &Report<'_>) -> String {
    let d = r.decision;
    let c = r.counts();
    let mut out = String::new();
    let verdict = if r.exit_code == 2 {
        ":x: DENY (error)"
    } else if !d.allowed() {
        ":x: DENY"
    } else if c.warnings > 0 || c.expired > 0 {
        ":warning: ALLOW with warnings"
    } else {
        ":white_check_mark: ALLOW"
    };
    let _ = writeln!(
        out,
        "## Portcullis gate: {verdict} {} to {}\n",
        code(&d.artifact.name),
        code(&d.environment)
    );
    out.push_str("| | |\n| --- | --- |\n");
    let _ = writeln!(out, "| Verdict | **{}** |", d.decision.as_str());
    let _ = writeln!(out, "| Environment | {} |", code(&d.environment));
    let _ = writeln!(out, "| Artifact | {} |", code(&d.artifact.name));
    let _ = writeln!(out, "| Digest | {} |", code(&d.artifact.digest));
    if let Some(pull) = &d.image {
        let _ = writeln!(out, "| Image | {} |", code(&pull.reference));
    }
    let _ = writeln!(out, "| Decision | {} |", decision_cell(r));
    let _ = writeln!(out, "| Exit code | {} |", r.exit_code);
    let _ = writeln!(out, "\n**{}**\n", text(&r.counts_line()));

    let found: Vec<Item<'_>> = r
        .items()
        .filter(|i| !matches!(i.status, Status::Excepted(_)))
        .collect();
    if !found.is_empty() {
        out.push_str(match (c.violations > 0, c.warnings > 0) {
            (_, false) => "### Violations\n\n",
            (false, true) => "### Warnings\n\nThey do not deny in this environment.\n\n",
            (true, true) => "### Violations and warnings\n\n",
        });
        out.push_str("| Rule | Severity | Status | What | Component / finding | Fix |\n");
        out.push_str("| --- | --- | --- | --- | --- | --- |\n");
        for item in found.iter().take(MAX_ROWS) {
            let v = item.violation;
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                code(&v.rule),
                text(&v.severity),
                item.status.word(),
                what(v),
                subject(r, v),
                fix(r, v)
            );
        }
        cut(&mut out, found.len());
    }

    if !d.excepted.is_empty() {
        out.push_str("### Excepted violations\n\n");
        out.push_str("| Rule | Severity | Component / finding | Exception | Expires | Approved by | Reason |\n");
        out.push_str("| --- | --- | --- | --- | --- | --- | --- |\n");
        for e in d.excepted.iter().take(MAX_ROWS) {
            let v = &e.violation;
            let x = &e.exception;
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} |",
                code(&v.rule),
                text(&v.severity),
                subject(r, v),
                x.id.as_deref()
                    .map(code)
                    .unwrap_or_else(|| "(no id)".into()),
                text(&x.expires),
                text(&x.approver),
                text(&x.reason)
            );
        }
        cut(&mut out, d.excepted.len());
    }

    if !d.expired_exceptions.is_empty() {
        out.push_str("### Expired exceptions\n\n");
        out.push_str("They covered nothing: renew them or fix what they were granted for.\n\n");
        out.push_str(
            "| Rule | Component / finding | Exception | Expired | Approved by | Reason |\n",
        );
        out.push_str("| --- | --- | --- | --- | --- | --- |\n");
        for e in d.expired_exceptions.iter().take(MAX_ROWS) {
            let x = &e.exception;
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                code(&e.rule),
                code(&e.key),
                x.id.as_deref()
                    .map(code)
                    .unwrap_or_else(|| "(no id)".into()),
                text(&x.expires),
                text(&x.approver),
                text(&x.reason)
            );
        }
        cut(&mut out, d.expired_exceptions.len());
    }

    if !d.errors.is_empty() {
        out.push_str("### Errors\n\nEach one denies: the decision could not be made on everything given.\n\n");
        for e in d.errors.iter().take(MAX_ROWS) {
            let _ = writeln!(out, "- {}", text(e));
        }
        if d.errors.len() > MAX_ROWS {
            let _ = writeln!(out, "- … and {} more", d.errors.len() - MAX_ROWS);
        }
        out.push('\n');
    }

    if let Some(diff) = &d.diff {
        out.push_str("### Against what runs\n\n");
        for l in super::diff::summary(diff) {
            let _ = writeln!(out, "- {}", text(&l));
        }
        out.push('\n');
    }

    let _ = writeln!(
        out,
        "<sub>{} evidence documents, policy bundle {}, decided at {}.</sub>",
        d.evidence.len(),
        code(&short_digest(&d.policy_bundle_digest)),
        text(&d.decided_at)
    );
    out
}

/// The decision id, with a link to the dashboard when the server is known; or why there is no
/// record.
fn decision_cell(r: &Report<'_>) -> String {
    let d = r.decision;
    if d.what_if {
        return "what-if evaluation (not recorded)".into();
    }
    if d.chain.is_none() {
        return format!("{} (not recorded)", code(&d.id));
    }
    let id = code(&d.id);
    match (&r.server, dashboard_id(&d.id)) {
        (Some(server), Some(path_id)) => format!(
            "{id} ([dashboard]({}/ui/decisions/{path_id}))",
            link_url(server.trim_end_matches('/'))
        ),
        _ => id,
    }
}

/// A decision id safe in a URL path (ids are UUIDs; anything else gets no link).
fn dashboard_id(id: &str) -> Option<&str> {
    (!id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')).then_some(id)
}

/// A link destination: characters that would end it or break the table are percent-encoded.
fn link_url(url: &str) -> String {
    let mut out = String::new();
    for ch in url.chars() {
        match ch {
            ' ' | '(' | ')' | '<' | '>' | '|' | '\\' | '`' | '[' | ']' | '"' | '\'' => {
                let _ = write!(out, "%{:02X}", ch as u32);
            }
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

fn what(v: &Violation) -> String {
    if v.message.is_empty() || v.message == v.title {
        format!("**{}**", text(&v.title))
    } else {
        format!("**{}**: {}", text(&v.title), text(&v.message))
    }
}

/// What the violation is about: its key, the subjects behind it, where in the code.
fn subject(r: &Report<'_>, v: &Violation) -> String {
    let mut parts = vec![code(&v.key)];
    for s in v.subjects.iter().filter(|s| **s != v.key).take(3) {
        parts.push(code(s));
    }
    if v.subjects.len() > 3 {
        parts.push(format!("… {} more", v.subjects.len() - 3));
    }
    if let Some((path, line)) = r.code_location(v) {
        let at = match line {
            Some(l) => format!("{path}:{l}"),
            None => path.clone(),
        };
        parts.push(format!("at {}", code(&at)));
    }
    parts.join("<br>")
}

/// The violation's remediation, else the rule's.
fn fix(r: &Report<'_>, v: &Violation) -> String {
    let remediation = if v.remediation.trim().is_empty() {
        r.rule(&v.rule)
            .map(|i| i.remediation.as_str())
            .unwrap_or("")
    } else {
        v.remediation.as_str()
    };
    if remediation.trim().is_empty() {
        String::new()
    } else {
        text(remediation)
    }
}

fn cut(out: &mut String, total: usize) {
    if total > MAX_ROWS {
        let _ = writeln!(
            out,
            "\n… and {} more (the JSON and SARIF outputs list them all)",
            total - MAX_ROWS
        );
    }
    out.push('\n');
}

/// One line of at most [`MAX_CHARS`] characters: control characters (newlines among them)
/// become spaces.
fn one_line(s: &str) -> String {
    let mut line: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_CHARS)
        .collect();
    if s.chars().count() > MAX_CHARS {
        line.push('…');
    }
    line
}

/// Prose from evidence as inline markdown text: every ASCII punctuation mark backslash-escaped
/// (CommonMark renders each one literally, so no emphasis, code, link, image, autolink, HTML,
/// math or table cell can start), on one line.
pub fn text(s: &str) -> String {
    let mut out = String::new();
    for c in one_line(s).chars() {
        if c.is_ascii_punctuation() {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// An identifier from evidence in a code span (no markup, HTML or autolinks are read inside
/// one): fenced with more backticks than it holds in a row, on one line, with `|` escaped for
/// the table it may stand in (GitHub and GitLab read `\|` in a table cell's code span as `|`).
pub fn code(s: &str) -> String {
    let line = one_line(s);
    if line.trim().is_empty() {
        return "(none)".into();
    }
    let mut run = 0;
    let mut longest = 0;
    for c in line.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    let fence = "`".repeat(longest + 1);
    let body = line.replace('|', "\\|");
    // A space on each side when the content starts or ends with a backtick (CommonMark strips
    // one space from each side).
    if line.starts_with('`') || line.ends_with('`') {
        format!("{fence} {body} {fence}")
    } else {
        format!("{fence}{body}{fence}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prose_is_escaped() {
        assert_eq!(text("a|b"), "a\\|b");
        assert_eq!(text("<img src=x>"), "\\<img src\\=x\\>");
        assert_eq!(
            text("[x](https://e.test)"),
            "\\[x\\]\\(https\\:\\/\\/e\\.test\\)"
        );
        assert_eq!(text("one\ntwo\r\nthree"), "one two  three");
        assert_eq!(text("`x`"), "\\`x\\`");
    }

    #[test]
    fn identifiers_are_code_spans() {
        assert_eq!(code("lodash"), "`lodash`");
        assert_eq!(code("a`b"), "``a`b``");
        assert_eq!(code("`a``"), "``` `a`` ```");
        assert_eq!(code("a|b\nc"), "`a\\|b c`");
        assert_eq!(code(""), "(none)");
    }

    #[test]
    fn long_values_are_shortened() {
        let long = "x".repeat(MAX_CHARS + 10);
        assert_eq!(text(&long).chars().count(), MAX_CHARS + 1);
    }

    #[test]
    fn links_cannot_break_out() {
        assert_eq!(
            link_url("https://p.test/a (b)|c"),
            "https://p.test/a%20%28b%29%7Cc"
        );
        assert_eq!(dashboard_id("0190-ab"), Some("0190-ab"));
        assert_eq!(dashboard_id("x)(y"), None);
    }
}
