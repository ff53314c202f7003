//! GitHub Actions workflow commands: `::error` for enforced violations, `::warning` for
//! warnings and expired exceptions, `::notice` for excepted violations and the summary.
//! Annotations point at the code when the finding says where.

use std::fmt::Write;

use super::{Report, Status};

pub fn document(r: &Report<'_>) -> String {
    let d = r.decision;
    let mut out = String::new();
    for item in r.items() {
        let v = item.violation;
        let command = match item.status {
            Status::Enforced => "error",
            Status::Warning => "warning",
            Status::Excepted(_) => "notice",
        };
        let mut props = vec![(
            "title",
            format!(
                "{} [{}] {}{}",
                v.rule,
                v.severity,
                v.title,
                if matches!(item.status, Status::Excepted(_)) {
                    " (excepted)"
                } else {
                    ""
                }
            ),
        )];
        if let Some((path, line)) = r.code_location(v) {
            props.push(("file", path.clone()));
            if let Some(l) = line {
                props.push(("line", l.to_string()));
            }
        }
        let mut message = v.message.clone();
        let files: Vec<String> = r
            .evidence_files(v)
            .into_iter()
            .map(|(digest, file)| {
                if file.is_empty() {
                    digest.to_string()
                } else {
                    file
                }
            })
            .collect();
        if !files.is_empty() {
            let _ = write!(message, "\nEvidence: {}", files.join(", "));
        }
        let _ = write!(message, "\nKey: {}\nFix: {}", v.key, v.remediation);
        if let Status::Excepted(x) = item.status {
            let _ = write!(
                message,
                "\nExcepted: {} (approved by {}, expires {})",
                x.reason, x.approver, x.expires
            );
        }
        line(&mut out, command, &props, &message);
    }
    for e in &d.expired_exceptions {
        let x = &e.exception;
        let title = format!(
            "Expired exception{} for {}",
            x.id.as_deref().map(|i| format!(" {i}")).unwrap_or_default(),
            e.rule
        );
        let message = format!(
            "The exception for {} expired {} and covers nothing: {} (approved by {})",
            e.key, x.expires, x.reason, x.approver
        );
        line(&mut out, "warning", &[("title", title)], &message);
    }
    for e in &d.errors {
        line(
            &mut out,
            "error",
            &[("title", "portcullis: error".into())],
            e,
        );
    }
    let title = format!(
        "portcullis gate: {} {} to {}",
        d.decision.as_str().to_uppercase(),
        d.artifact.name,
        d.environment
    );
    let summary = r.counts_line();
    line(&mut out, "notice", &[("title", title)], &summary);
    out
}

fn line(out: &mut String, command: &str, props: &[(&str, String)], message: &str) {
    out.push_str("::");
    out.push_str(command);
    for (i, (k, v)) in props.iter().enumerate() {
        out.push(if i == 0 { ' ' } else { ',' });
        out.push_str(k);
        out.push('=');
        out.push_str(&escape_property(v));
    }
    out.push_str("::");
    out.push_str(&escape_data(message));
    out.push('\n');
}

/// Message text: `%`, CR and LF encoded (the runner decodes them).
pub fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Property values: as message text, plus `:` and `,`, which delimit properties.
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(escape_data("100% a\r\nb: c, d"), "100%25 a%0D%0Ab: c, d");
        assert_eq!(escape_property("a: b, 5%\n"), "a%3A b%2C 5%25%0A");
        let mut s = String::new();
        line(
            &mut s,
            "error",
            &[("title", "X: y".into()), ("file", "a,b.py".into())],
            "m\n:: n",
        );
        assert_eq!(s, "::error title=X%3A y,file=a%2Cb.py::m%0A:: n\n");
    }
}
