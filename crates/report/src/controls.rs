//! The frameworks a report covers and the titles of the controls the policy library maps to.

/// Framework prefixes of qualified control ids (`nist-800-53:RA-5`).
pub const NIST: &str = "nist-800-53";
pub const HIPAA: &str = "hipaa";

/// Frameworks whose coverage a report lists, in report order.
pub const FRAMEWORKS: [&str; 2] = [NIST, HIPAA];

/// Human name of a framework.
pub fn framework_name(framework: &str) -> &'static str {
    match framework {
        NIST => "NIST SP 800-53 rev5",
        HIPAA => "HIPAA Security Rule (45 CFR Part 164, Subpart C)",
        _ => "other",
    }
}

/// Title of a control the library maps to (empty when unknown).
pub fn title(framework: &str, id: &str) -> &'static str {
    let table: &[(&str, &str)] = match framework {
        NIST => &NIST_TITLES,
        HIPAA => &HIPAA_TITLES,
        _ => &[],
    };
    table
        .iter()
        .find(|(c, _)| c.eq_ignore_ascii_case(id))
        .map(|(_, t)| *t)
        .unwrap_or("")
}

const NIST_TITLES: [(&str, &str); 52] = [
    ("AC-4", "Information Flow Enforcement"),
    ("AC-5", "Separation of Duties"),
    ("AC-6", "Least Privilege"),
    ("AU-10", "Non-repudiation"),
    ("CA-7", "Continuous Monitoring"),
    ("CM-2", "Baseline Configuration"),
    ("CM-3", "Configuration Change Control"),
    (
        "CM-3(1)",
        "Automated Documentation, Notification, and Prohibition of Changes",
    ),
    (
        "CM-3(2)",
        "Testing, Validation, and Documentation of Changes",
    ),
    ("CM-4", "Impact Analyses"),
    ("CM-4(1)", "Separate Test Environments"),
    ("CM-5", "Access Restrictions for Change"),
    ("CM-5(4)", "Dual Authorization"),
    ("CM-6", "Configuration Settings"),
    ("CM-7", "Least Functionality"),
    ("CM-7(1)", "Periodic Review"),
    ("CM-7(4)", "Unauthorized Software — Deny-by-exception"),
    ("CM-8", "System Component Inventory"),
    ("CM-10", "Software Usage Restrictions"),
    ("CM-14", "Signed Components"),
    ("CP-10", "System Recovery and Reconstitution"),
    ("IA-5", "Authenticator Management"),
    ("IA-5(2)", "Public Key-based Authentication"),
    ("IA-5(7)", "No Embedded Unencrypted Static Authenticators"),
    ("PM-16", "Threat Awareness Program"),
    ("RA-5", "Vulnerability Monitoring and Scanning"),
    ("SA-10", "Developer Configuration Management"),
    ("SA-11", "Developer Testing and Evaluation"),
    ("SA-11(1)", "Static Code Analysis"),
    ("SA-11(8)", "Dynamic Code Analysis"),
    ("SA-15", "Development Process, Standards, and Tools"),
    ("SC-7", "Boundary Protection"),
    ("SC-7(5)", "Deny by Default — Allow by Exception"),
    ("SC-8", "Transmission Confidentiality and Integrity"),
    ("SC-8(1)", "Cryptographic Protection"),
    ("SC-13", "Cryptographic Protection"),
    ("SC-17", "Public Key Infrastructure Certificates"),
    ("SC-18", "Mobile Code"),
    ("SC-23", "Session Authenticity"),
    ("SC-39", "Process Isolation"),
    ("SI-2", "Flaw Remediation"),
    ("SI-4", "System Monitoring"),
    ("SI-5", "Security Alerts, Advisories, and Directives"),
    ("SI-7", "Software, Firmware, and Information Integrity"),
    ("SI-7(6)", "Cryptographic Protection"),
    ("SI-7(15)", "Code Authentication"),
    ("SI-10", "Information Input Validation"),
    ("SI-11", "Error Handling"),
    ("SR-3", "Supply Chain Controls and Processes"),
    ("SR-4", "Provenance"),
    ("SR-4(3)", "Validate as Genuine and Not Altered"),
    ("SR-11", "Component Authenticity"),
];

const HIPAA_TITLES: [(&str, &str); 11] = [
    ("164.308(a)(1)(ii)(A)", "Risk analysis"),
    ("164.308(a)(1)(ii)(B)", "Risk management"),
    ("164.308(a)(3)(ii)(A)", "Authorization and/or supervision"),
    ("164.308(a)(5)(ii)(B)", "Protection from malicious software"),
    ("164.308(a)(8)", "Evaluation"),
    ("164.312(a)(1)", "Access control"),
    ("164.312(c)(1)", "Integrity"),
    (
        "164.312(c)(2)",
        "Mechanism to authenticate electronic protected health information",
    ),
    ("164.312(d)", "Person or entity authentication"),
    ("164.312(e)(1)", "Transmission security"),
    ("164.312(e)(2)(ii)", "Encryption"),
];

/// Sort key: family, then number, then enhancement numerically (`CM-3` < `CM-3(1)` < `CM-10`;
/// `164.308(a)(1)` < `164.312(…)`).
pub fn sort_key(id: &str) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut number: Option<u64> = None;
    for c in id.chars() {
        if let Some(d) = c.to_digit(10) {
            number = Some(
                number
                    .unwrap_or(0)
                    .saturating_mul(10)
                    .saturating_add(u64::from(d)),
            );
        } else {
            if number.is_some() || !word.is_empty() {
                out.push((std::mem::take(&mut word), number.take().unwrap_or(0)));
            }
            if c.is_alphabetic() {
                word.push(c.to_ascii_lowercase());
            }
        }
    }
    if number.is_some() || !word.is_empty() {
        out.push((word, number.unwrap_or(0)));
    }
    out
}

/// The OSCAL control id of an 800-53 control: `RA-5` → `ra-5`, `CM-7(1)` → `cm-7.1` (the
/// catalog's ids).
pub fn oscal_control_id(framework: &str, id: &str) -> String {
    if framework == NIST {
        let lower = id.trim().to_ascii_lowercase();
        let mut out = String::with_capacity(lower.len());
        for c in lower.chars() {
            match c {
                '(' => out.push('.'),
                ')' => {}
                c if c.is_ascii_alphanumeric() || c == '-' || c == '.' => out.push(c),
                _ => out.push('_'),
            }
        }
        if out.starts_with(|c: char| c.is_ascii_alphabetic()) {
            out
        } else {
            format!("c_{out}")
        }
    } else {
        // HIPAA sections have no OSCAL catalog: a token of our own (`hipaa-164.308.a.1.ii.b`).
        let mut out = format!("{framework}-");
        let mut last_dot = true;
        for c in id.trim().chars() {
            if c.is_ascii_alphanumeric() {
                out.push(c.to_ascii_lowercase());
                last_dot = false;
            } else if !last_dot {
                out.push('.');
                last_dot = true;
            }
        }
        while out.ends_with('.') {
            out.pop();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oscal_ids_follow_the_catalog() {
        assert_eq!(oscal_control_id(NIST, "RA-5"), "ra-5");
        assert_eq!(oscal_control_id(NIST, "CM-7(1)"), "cm-7.1");
        assert_eq!(oscal_control_id(NIST, "SR-4(3)"), "sr-4.3");
        assert_eq!(
            oscal_control_id(HIPAA, "164.308(a)(1)(ii)(B)"),
            "hipaa-164.308.a.1.ii.b"
        );
        assert_eq!(oscal_control_id(NIST, "9<x>"), "c_9_x_");
    }

    #[test]
    fn controls_sort_naturally() {
        let mut ids = vec![
            "CM-10", "CM-3(1)", "CM-3", "AC-6", "CM-3(2)", "SC-8(1)", "SC-13",
        ];
        ids.sort_by_key(|a| sort_key(a));
        assert_eq!(
            ids,
            vec![
                "AC-6", "CM-3", "CM-3(1)", "CM-3(2)", "CM-10", "SC-8(1)", "SC-13"
            ]
        );
        let mut h = vec!["164.312(a)(1)", "164.308(a)(8)", "164.308(a)(1)(ii)(B)"];
        h.sort_by_key(|a| sort_key(a));
        assert_eq!(
            h,
            vec!["164.308(a)(1)(ii)(B)", "164.308(a)(8)", "164.312(a)(1)"]
        );
    }

    #[test]
    fn every_library_control_has_a_title() {
        let bundle = portcullis_policy::PolicyBundle::builtin().unwrap();
        for rule in bundle.rules() {
            for c in &rule.meta.controls.nist_800_53 {
                assert!(
                    !title(NIST, c).is_empty(),
                    "{} maps to {c}, which has no title",
                    rule.meta.id
                );
            }
            for c in &rule.meta.controls.hipaa {
                assert!(
                    !title(HIPAA, c).is_empty(),
                    "{} maps to {c}, which has no title",
                    rule.meta.id
                );
            }
        }
    }
}
