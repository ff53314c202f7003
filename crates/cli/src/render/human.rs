//! The human summary (stderr): the decision, then each violation with its rule, severity,
//! evidence, why it matters and how to fix it; warnings; what was excepted and by whom; expired
//! exceptions; errors; counts.

use std::io::{self, Write};

use portcullis_firewall::Violation;

use super::{Item, Report, Status, plural, short_digest};

/// ANSI styling, or none.
#[derive(Debug, Clone, Copy)]
struct Paint(bool);

impl Paint {
    fn wrap(self, code: &str, s: &str) -> String {
        if self.0 {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
    fn red(self, s: &str) -> String {
        self.wrap("1;31", s)
    }
    fn green(self, s: &str) -> String {
        self.wrap("1;32", s)
    }
    fn yellow(self, s: &str) -> String {
        self.wrap("1;33", s)
    }
    fn cyan(self, s: &str) -> String {
        self.wrap("1;36", s)
    }
    fn bold(self, s: &str) -> String {
        self.wrap("1", s)
    }
    fn dim(self, s: &str) -> String {
        self.wrap("2", s)
    }
}

/// Label column width (`evidence  `).
const LABEL: usize = 10;
/// Lines are wrapped at word boundaries to this width (long words are left whole).
const WIDTH: usize = 100;

/// Greedy word wrap of each line of `text` to `width` columns.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut cur = String::new();
        for word in line.split_whitespace() {
            if !cur.is_empty() && cur.chars().count() + 1 + word.chars().count() > width {
                out.push(std::mem::take(&mut cur));
            }
            if !cur.is_empty() {
                cur.push(' ');
            }
            cur.push_str(word);
        }
        out.push(cur);
    }
    if out.is_empty() {
        out.push(String::new());
    }
    out
}

pub fn write(out: &mut dyn Write, r: &Report<'_>, color: bool) -> io::Result<()> {
    let p = Paint(color);
    let d = r.decision;
    let verdict = if d.allowed() {
        p.green("ALLOW")
    } else {
        p.red("DENY")
    };
    writeln!(
        out,
        "portcullis gate: {verdict} {}@{} to {}",
        d.artifact.name,
        short_digest(&d.artifact.digest),
        p.bold(&d.environment)
    )?;
    let c = r.counts();
    writeln!(
        out,
        "  {}, {} evaluated, policy bundle {}, decided at {}",
        plural(d.evidence.len(), "evidence document", "evidence documents"),
        plural(c.evaluated, "rule", "rules"),
        short_digest(&d.policy_bundle_digest),
        d.decided_at
    )?;
    if let Some(diff) = &d.diff {
        // Not wrapped: it names digests and decision ids people copy.
        for l in super::diff::summary(diff) {
            writeln!(out, "  {l}")?;
        }
    }

    // What each attestation proved (or why it proved nothing).
    for a in &d.attestations {
        let what = if a.predicate_type.is_empty() {
            "attestation".to_string()
        } else {
            a.predicate_type.clone()
        };
        if a.verified {
            let mut facts = Vec::new();
            if let Some(b) = &a.builder_id {
                facts.push(format!("builder {b}"));
            }
            if let Some(repo) = &a.source_repo {
                let at = a
                    .source_ref
                    .as_deref()
                    .map(|r| format!("@{r}"))
                    .unwrap_or_default();
                facts.push(format!("source {repo}{at}"));
            }
            let facts = if facts.is_empty() {
                String::new()
            } else {
                format!(" ({})", facts.join(", "))
            };
            writeln!(
                out,
                "  {} {what}: verified, signed by {}{facts}",
                p.green("attestation"),
                a.signers.join(", ")
            )?;
        } else {
            writeln!(
                out,
                "  {} {what}: not verified: {}",
                p.yellow("attestation"),
                a.reason.as_deref().unwrap_or("no reason given")
            )?;
        }
    }

    // Why a rule matters is said once, at its first violation.
    let mut explained: Vec<&str> = Vec::new();
    for item in r.items() {
        writeln!(out)?;
        let first = !explained.contains(&item.violation.rule.as_str());
        if first {
            explained.push(&item.violation.rule);
        }
        write_item(out, r, item, first, p)?;
    }

    for e in &d.expired_exceptions {
        writeln!(out)?;
        let x = &e.exception;
        let id = x.id.as_deref().map(|i| format!(" {i}")).unwrap_or_default();
        writeln!(
            out,
            "{}{id} for {} ({}): expired {}, covers nothing",
            p.yellow("EXPIRED EXCEPTION"),
            e.rule,
            e.key,
            x.expires
        )?;
        label(out, p, "reason", &x.reason)?;
        label(out, p, "approver", &x.approver)?;
    }

    if !d.errors.is_empty() {
        writeln!(out)?;
        for e in &d.errors {
            writeln!(out, "{} {e}", p.red("ERROR"))?;
        }
    }

    writeln!(out)?;
    let outcome = match (d.allowed(), r.exit_code) {
        (_, 2) if d.allowed() => p.red("allowed by the rules, but not everything could be read"),
        (_, 2) => p.red("denied, and not everything could be read"),
        (true, _) => p.green("allowed"),
        (false, _) => p.red("denied"),
    };
    writeln!(out, "{outcome}: {}", r.counts_line())?;
    Ok(())
}

fn label(out: &mut dyn Write, p: Paint, name: &str, text: &str) -> io::Result<()> {
    label_lines(out, p, name, &wrap(text, WIDTH - 2 - LABEL))
}

/// Lines under a label, as they are (for references people copy: keys, files, digests).
fn label_lines(out: &mut dyn Write, p: Paint, name: &str, lines: &[String]) -> io::Result<()> {
    for (i, l) in lines.iter().enumerate() {
        if i == 0 {
            writeln!(out, "  {}{l}", p.dim(&format!("{name:<LABEL$}")))?;
        } else {
            writeln!(out, "  {:<LABEL$}{l}", "")?;
        }
    }
    Ok(())
}

fn write_item(
    out: &mut dyn Write,
    r: &Report<'_>,
    item: Item<'_>,
    explain: bool,
    p: Paint,
) -> io::Result<()> {
    let v = item.violation;
    let head = match item.status {
        Status::Enforced => p.red("VIOLATION"),
        Status::Warning => p.yellow("WARNING"),
        Status::Excepted(_) => p.cyan("EXCEPTED"),
    };
    writeln!(
        out,
        "{head} {} [{}] {}",
        p.bold(&v.rule),
        v.severity,
        v.title
    )?;
    for l in wrap(&v.message, WIDTH - 2) {
        writeln!(out, "  {l}")?;
    }
    label_lines(out, p, "key", std::slice::from_ref(&v.key))?;
    label_lines(out, p, "evidence", &evidence_lines(r, v))?;
    if let Some(rule) = r.rule(&v.rule).filter(|_| explain) {
        let why = if rule.description.is_empty() {
            &rule.title
        } else {
            &rule.description
        };
        label(out, p, "why", why)?;
    }
    label(out, p, "fix", &v.remediation)?;
    if !v.controls.is_empty() {
        label(out, p, "controls", &v.controls.join(", "))?;
    }
    if let Status::Excepted(x) = item.status {
        let id =
            x.id.as_deref()
                .map(|i| format!("{i}: "))
                .unwrap_or_default();
        label(
            out,
            p,
            "excepted",
            &format!(
                "{id}{} (approved by {}, expires {})",
                x.reason, x.approver, x.expires
            ),
        )?;
    }
    Ok(())
}

/// `advisory GHSA-…: examples/evidence/log4shell.osv.json (sha256:1a2b…)`, one per reference.
fn evidence_lines(r: &Report<'_>, v: &Violation) -> Vec<String> {
    let doc = |d: &str| match r.file(d) {
        Some(f) if f != d => format!("{f} ({})", short_digest(d)),
        _ => short_digest(d),
    };
    let mut lines = Vec::new();
    for e in &v.evidence_refs {
        // A reference to a whole document (`{"evidence": digest}`, an attestation…).
        if e.evidence.len() == 1 && e.evidence.first() == Some(&e.id) {
            let kind = if e.kind == "evidence" {
                "document"
            } else {
                &e.kind
            };
            lines.push(format!("{kind} {}", doc(&e.id)));
            continue;
        }
        let mut line = format!("{} {}", e.kind, e.id);
        if let Some(purl) = e.purl.as_ref().filter(|p| !e.id.contains(p.as_str())) {
            line.push_str(&format!(" ({purl})"));
        }
        if e.kind == "finding" {
            match r.locations.get(&e.id) {
                Some((path, Some(l))) => line.push_str(&format!(" at {path}:{l}")),
                Some((path, None)) => line.push_str(&format!(" at {path}")),
                None => {}
            }
        }
        if !e.evidence.is_empty() {
            let docs: Vec<String> = e.evidence.iter().map(|d| doc(d)).collect();
            line.push_str(" in ");
            line.push_str(&docs.join(", "));
        }
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_at_words_and_keeps_long_words_whole() {
        assert_eq!(wrap("a bb ccc dddd", 6), vec!["a bb", "ccc", "dddd"]);
        assert_eq!(
            wrap("x sha256:0123456789 y", 5),
            vec!["x", "sha256:0123456789", "y"]
        );
        assert_eq!(wrap("one\ntwo", 80), vec!["one", "two"]);
        assert_eq!(wrap("", 80), vec![""]);
    }
}
