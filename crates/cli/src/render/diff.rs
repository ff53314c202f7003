//! The diff against what runs in an environment, for people: the full report of
//! `portcullis diff`, and the compact summary every human decision summary carries.

use std::io::{self, Write};

use portcullis_firewall::diff::DiffReport;
use portcullis_policy::input::{
    InputDiff, InputDiffChanges, InputDiffFinding, InputProvenanceFacts,
};

use super::{plural, short_digest};

fn paint(color: bool, code: &str, s: &str) -> String {
    if color {
        format!("\x1b[{code}m{s}\x1b[0m")
    } else {
        s.to_string()
    }
}

/// `shop/api@sha256:53302007…463b5 (deployed …, decision …)`, or the state and reason.
fn baseline_line(d: &InputDiff) -> String {
    let b = &d.baseline;
    let what = b.artifact.as_ref().map(|a| {
        let mut s = format!("{}@{}", a.name, short_digest(&a.digest));
        if let Some(at) = &b.deployed_at {
            s.push_str(&format!(" (deployed {at})"));
        }
        s
    });
    match (b.state.as_str(), what) {
        ("known", Some(w)) => match &b.decision {
            Some(id) => format!("{w}, evidence of decision {id}"),
            None => w,
        },
        (state, Some(w)) => format!(
            "{state}: {w}: {}",
            b.reason.as_deref().unwrap_or("no reason given")
        ),
        (state, None) => format!(
            "{state}: {}",
            b.reason.as_deref().unwrap_or("no reason given")
        ),
    }
}

/// One line: the counts of every kind of change, or why there are none.
pub fn counts_line(c: &InputDiffChanges) -> String {
    let p = &c.provenance;
    let prov = if p.changed.is_empty() {
        "provenance unchanged".to_string()
    } else {
        let fields: Vec<&str> = p.changed.iter().map(|f| f.field.as_str()).collect();
        format!("provenance changed ({})", fields.join(", "))
    };
    format!(
        "components {} added, {} removed, {} upgraded, {} downgraded; findings {} new, {} fixed; {}; {}",
        c.components.added.len(),
        c.components.removed.len(),
        c.components.upgraded.len(),
        c.components.downgraded.len(),
        c.findings.new.len(),
        c.findings.fixed.len(),
        plural(c.licenses.len(), "license change", "license changes"),
        prov
    )
}

/// The compact summary of a decision's diff (lines without the leading indent).
pub fn summary(d: &InputDiff) -> Vec<String> {
    match &d.changes {
        Some(c) => vec![format!("diff against {}", baseline_line(d)), counts_line(c)],
        None => vec![format!(
            "diff: no comparison, baseline {}",
            baseline_line(d)
        )],
    }
}

fn finding_line(f: &InputDiffFinding) -> String {
    let mut s = format!("{:<8} {}", f.severity, f.id);
    if !f.aliases.is_empty() {
        s.push_str(&format!(" ({})", f.aliases.join(", ")));
    }
    if let Some(c) = &f.component {
        match &c.version {
            Some(v) => s.push_str(&format!(" in {} {v}", c.name)),
            None => s.push_str(&format!(" in {}", c.name)),
        }
    } else {
        s.push_str(&format!(" [{}]", f.key));
    }
    let settled: Vec<String> = f
        .vex_state
        .iter()
        .map(|v| format!("VEX {v}"))
        .chain(f.suppressed.iter().map(|s| format!("suppressed: {s}")))
        .collect();
    if !settled.is_empty() {
        s.push_str(&format!(" ({})", settled.join("; ")));
    }
    s
}

fn facts_line(f: &InputProvenanceFacts) -> String {
    if f.attestations == 0 {
        return "no provenance".into();
    }
    let list = |v: &[String]| {
        if v.is_empty() {
            "-".to_string()
        } else {
            v.join(", ")
        }
    };
    format!(
        "{} from {}: builder {}; repository {}; commit {}",
        if f.verified { "verified" } else { "unverified" },
        plural(f.attestations as usize, "attestation", "attestations"),
        list(&f.builders),
        list(&f.source_repos),
        list(&f.source_commits)
    )
}

/// The full report of `portcullis diff`.
pub fn write_report(out: &mut dyn Write, r: &DiffReport, color: bool) -> io::Result<()> {
    let bold = |s: &str| paint(color, "1", s);
    let red = |s: &str| paint(color, "1;31", s);
    let green = |s: &str| paint(color, "1;32", s);
    writeln!(
        out,
        "portcullis diff: {}@{} against what runs in {}",
        r.artifact.name,
        short_digest(&r.artifact.digest),
        bold(&r.environment)
    )?;
    writeln!(out, "  baseline   {}", baseline_line(&r.diff))?;
    if !r.diff.baseline.evidence.is_empty() {
        let docs: Vec<String> = r
            .diff
            .baseline
            .evidence
            .iter()
            .map(|d| short_digest(d))
            .collect();
        writeln!(out, "             evidence {}", docs.join(", "))?;
    }
    let docs: Vec<String> = r
        .candidate
        .evidence
        .iter()
        .map(|d| short_digest(d))
        .collect();
    match &r.candidate.decision {
        Some(id) => writeln!(
            out,
            "  candidate  evidence of decision {id}: {}",
            docs.join(", ")
        )?,
        None => writeln!(out, "  candidate  evidence given: {}", docs.join(", "))?,
    }
    let Some(c) = &r.diff.changes else {
        writeln!(out)?;
        writeln!(
            out,
            "no comparison: the baseline is {} (the diff rules do not run without one)",
            r.diff.baseline.state
        )?;
        return Ok(());
    };
    let k = &c.components;
    writeln!(out)?;
    writeln!(
        out,
        "{}: {} added, {} removed, {} upgraded, {} downgraded, {} unchanged",
        bold("components"),
        k.added.len(),
        k.removed.len(),
        k.upgraded.len(),
        k.downgraded.len(),
        k.unchanged
    )?;
    for a in &k.added {
        let lic = if a.licenses.is_empty() {
            String::new()
        } else {
            format!(" ({})", a.licenses.join(", "))
        };
        writeln!(
            out,
            "  {} {} {}{lic}",
            green("added     "),
            a.name,
            a.version.as_deref().unwrap_or("(no version)")
        )?;
    }
    for a in &k.removed {
        writeln!(
            out,
            "  removed    {} {}",
            a.name,
            a.version.as_deref().unwrap_or("(no version)")
        )?;
    }
    for u in &k.upgraded {
        writeln!(out, "  upgraded   {} {} -> {}", u.name, u.from, u.to)?;
    }
    for u in &k.downgraded {
        writeln!(
            out,
            "  {} {} {} -> {}",
            red("downgraded"),
            u.name,
            u.from,
            u.to
        )?;
    }
    let f = &c.findings;
    writeln!(out)?;
    writeln!(
        out,
        "{}: {} new, {} fixed, {} unchanged",
        bold("findings"),
        f.new.len(),
        f.fixed.len(),
        f.unchanged
    )?;
    for x in &f.new {
        writeln!(out, "  {} {}", red("new  "), finding_line(x))?;
    }
    for x in &f.fixed {
        writeln!(out, "  {} {}", green("fixed"), finding_line(x))?;
    }
    writeln!(out)?;
    writeln!(out, "{}: {} changed", bold("licenses"), c.licenses.len())?;
    for l in &c.licenses {
        let side = |v: &Option<String>, lic: &[String]| {
            let lic = if lic.is_empty() {
                "none declared".to_string()
            } else {
                lic.join(", ")
            };
            format!("{} ({lic})", v.as_deref().unwrap_or("no version"))
        };
        writeln!(
            out,
            "  {} {} -> {}",
            l.name,
            side(&l.from_version, &l.from),
            side(&l.to_version, &l.to)
        )?;
    }
    let p = &c.provenance;
    writeln!(out)?;
    writeln!(
        out,
        "{}: {}",
        bold("provenance"),
        if p.changed.is_empty() {
            "unchanged where both sides state it".to_string()
        } else {
            plural(p.changed.len(), "fact changed", "facts changed")
        }
    )?;
    writeln!(out, "  running    {}", facts_line(&p.baseline))?;
    writeln!(out, "  candidate  {}", facts_line(&p.candidate))?;
    for ch in &p.changed {
        writeln!(
            out,
            "  {} {}: {} -> {}",
            red("changed"),
            ch.field,
            ch.from.join(", "),
            ch.to.join(", ")
        )?;
    }
    Ok(())
}
