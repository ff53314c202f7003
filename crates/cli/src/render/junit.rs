//! JUnit XML: one `<testsuite>` per environment decision, one `<testcase>` per rule — a
//! `<failure>` for enforced violations, an `<error>` when the rule (or the evidence) could not
//! be evaluated, `<system-out>` for warnings and excepted violations, `<skipped>` for rules
//! that are `off` in the environment. Element order follows the common JUnit schema
//! (Jenkins `junit-10.xsd`).

use std::fmt::Write;

use portcullis_firewall::engine_rules;
use portcullis_policy::Action;

use super::{Item, Report, RuleInfo, Status, short_digest};

#[derive(Default)]
struct Case {
    name: String,
    classname: String,
    skipped: Option<String>,
    errors: Vec<(String, String)>,
    failures: Vec<(String, String, String)>,
    out: Vec<String>,
}

pub fn document(r: &Report<'_>) -> String {
    let d = r.decision;
    let items: Vec<Item<'_>> = r.items().collect();
    let mut cases = Vec::new();
    for rule in &r.rules {
        if let Some(case) = case(r, rule, &items) {
            cases.push(case);
        }
    }
    let tests = cases.len();
    let failures = cases.iter().filter(|c| !c.failures.is_empty()).count();
    let errors = cases.iter().filter(|c| !c.errors.is_empty()).count();
    let skipped = cases.iter().filter(|c| c.skipped.is_some()).count();
    let timestamp = chrono::DateTime::parse_from_rfc3339(&d.decided_at)
        .map(|t| {
            t.with_timezone(&chrono::Utc)
                .format("%Y-%m-%dT%H:%M:%S")
                .to_string()
        })
        .unwrap_or_default();

    let mut x = String::new();
    x.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        x,
        "<testsuites name=\"portcullis gate\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\" time=\"0\">"
    );
    let _ = writeln!(
        x,
        "  <testsuite name=\"{}\" id=\"0\" package=\"portcullis\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\" time=\"0\" timestamp=\"{timestamp}\" hostname=\"portcullis\">",
        attr(&format!("portcullis gate: {}", d.environment))
    );
    x.push_str("    <properties>\n");
    for (name, value) in [
        ("decision", d.decision.as_str().to_string()),
        ("decision_id", d.id.clone()),
        (
            "artifact",
            format!("{}@{}", d.artifact.name, d.artifact.digest),
        ),
        ("environment", d.environment.clone()),
        ("policy_bundle_digest", d.policy_bundle_digest.clone()),
        ("engine_version", d.engine_version.clone()),
        ("decided_at", d.decided_at.clone()),
        ("exit_code", r.exit_code.to_string()),
    ] {
        let _ = writeln!(
            x,
            "      <property name=\"{}\" value=\"{}\"/>",
            attr(name),
            attr(&value)
        );
    }
    x.push_str("    </properties>\n");
    for c in &cases {
        let _ = write!(
            x,
            "    <testcase name=\"{}\" classname=\"{}\" time=\"0\"",
            attr(&c.name),
            attr(&c.classname)
        );
        if c.skipped.is_none() && c.errors.is_empty() && c.failures.is_empty() && c.out.is_empty() {
            x.push_str("/>\n");
            continue;
        }
        x.push_str(">\n");
        if let Some(m) = &c.skipped {
            let _ = writeln!(x, "      <skipped message=\"{}\"/>", attr(m));
        }
        for (message, body) in &c.errors {
            let _ = writeln!(
                x,
                "      <error message=\"{}\" type=\"error\">{}</error>",
                attr(message),
                text(body)
            );
        }
        for (message, ty, body) in &c.failures {
            let _ = writeln!(
                x,
                "      <failure message=\"{}\" type=\"{}\">{}</failure>",
                attr(message),
                attr(ty),
                text(body)
            );
        }
        if !c.out.is_empty() {
            let _ = writeln!(
                x,
                "      <system-out>{}</system-out>",
                text(&c.out.join("\n\n"))
            );
        }
        x.push_str("    </testcase>\n");
    }
    x.push_str("  </testsuite>\n</testsuites>\n");
    x
}

/// The testcase of one rule, or `None` for a firewall rule that did not fire.
fn case(r: &Report<'_>, rule: &RuleInfo, items: &[Item<'_>]) -> Option<Case> {
    let env = &r.decision.environment;
    let engine = rule.source.is_none();
    let mut c = Case {
        name: format!("{}: {}", rule.id, rule.title),
        classname: format!("portcullis.{}.{}", env, rule.category),
        ..Case::default()
    };
    if engine {
        // The firewall's own rules appear only when they fired (for the evidence; a rule that
        // failed is reported on its own testcase).
        if rule.id != engine_rules::UNREADABLE_EVIDENCE {
            return None;
        }
        let unreadable: Vec<&Item<'_>> = items
            .iter()
            .filter(|i| i.violation.rule == rule.id)
            .collect();
        if unreadable.is_empty() {
            return None;
        }
        for i in unreadable {
            c.errors.push((i.violation.message.clone(), block(r, i)));
        }
        return Some(c);
    }
    if rule.action == Action::Off {
        c.skipped = Some(format!("{} is off in {env}", rule.id));
        return Some(c);
    }
    for i in items {
        let v = i.violation;
        if v.rule == engine_rules::RULE_ERROR && v.key == rule.id {
            c.errors.push((v.message.clone(), block(r, i)));
        }
    }
    let enforced: Vec<&Item<'_>> = items
        .iter()
        .filter(|i| i.violation.rule == rule.id && matches!(i.status, Status::Enforced))
        .collect();
    if let Some(first) = enforced.first() {
        let message = if enforced.len() == 1 {
            first.violation.message.clone()
        } else {
            format!(
                "{} violations, first: {}",
                enforced.len(),
                first.violation.message
            )
        };
        let body: Vec<String> = enforced.iter().map(|i| block(r, i)).collect();
        c.failures
            .push((message, first.violation.severity.clone(), body.join("\n\n")));
    }
    for i in items
        .iter()
        .filter(|i| i.violation.rule == rule.id && !matches!(i.status, Status::Enforced))
    {
        c.out.push(block(r, i));
    }
    for e in &r.decision.expired_exceptions {
        if e.rule == rule.id {
            c.out.push(format!(
                "expired exception{} for {}: expired {}, covers nothing ({}; approved by {})",
                e.exception
                    .id
                    .as_deref()
                    .map(|i| format!(" {i}"))
                    .unwrap_or_default(),
                e.key,
                e.exception.expires,
                e.exception.reason,
                e.exception.approver
            ));
        }
    }
    Some(c)
}

/// A violation as plain text: what, the evidence, how to fix.
fn block(r: &Report<'_>, i: &Item<'_>) -> String {
    let v = i.violation;
    let mut s = format!(
        "{} [{}] {}\n{}\nkey: {}",
        i.status.word(),
        v.severity,
        v.rule,
        v.message,
        v.key
    );
    for (digest, file) in r.evidence_files(v) {
        if file.is_empty() {
            let _ = write!(s, "\nevidence: {}", short_digest(digest));
        } else {
            let _ = write!(s, "\nevidence: {file} ({})", short_digest(digest));
        }
    }
    let _ = write!(s, "\nfix: {}", v.remediation);
    if let Status::Excepted(x) = i.status {
        let _ = write!(
            s,
            "\nexcepted: {} (approved by {}, expires {})",
            x.reason, x.approver, x.expires
        );
    }
    s
}

/// Characters XML 1.0 allows; others become U+FFFD.
fn xml_char(c: char) -> char {
    match c {
        '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'.. => c,
        _ => '\u{FFFD}',
    }
}

/// Escaped element text.
pub fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().map(xml_char) {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
    out
}

/// Escaped attribute value (line breaks and tabs kept as character references, since a
/// parser would fold them into spaces).
pub fn attr(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().map(xml_char) {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(text("a<b & c>\r\u{1}"), "a&lt;b &amp; c&gt;&#13;\u{FFFD}");
        assert_eq!(attr("\"x\"\n'y'\t"), "&quot;x&quot;&#10;&apos;y&apos;&#9;");
    }
}
