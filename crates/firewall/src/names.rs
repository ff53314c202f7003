//! The one rule for the names a caller gives the firewall: environments, artifacts and
//! pipelines (and the environment and artifact patterns of exceptions). A name is 1 to 253
//! characters with no whitespace, no control characters and no Unicode format characters
//! (bidirectional overrides, zero-width characters). Names end up in log lines, metric labels,
//! HTML pages, file names of reports and SQL rows: a name that could break a line, hide text or
//! pass for another name is refused where it comes in, not escaped wherever it goes out.

/// Longest name, in characters (a DNS name's length; image references and environment names
/// seen in practice are far shorter).
pub const MAX_NAME_CHARS: usize = 253;

/// What a name names (for the error message).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKind {
    Environment,
    Artifact,
    Pipeline,
}

impl NameKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NameKind::Environment => "environment",
            NameKind::Artifact => "artifact name",
            NameKind::Pipeline => "pipeline",
        }
    }
}

/// A name that breaks the rule: which kind, and why (the offending character by code point,
/// never echoed raw).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} {why} (a name is 1 to {MAX_NAME_CHARS} characters without whitespace, control or format characters)", kind.as_str())]
pub struct NameError {
    pub kind: NameKind,
    pub why: String,
}

/// Check `name` against the rule.
pub fn check(kind: NameKind, name: &str) -> Result<(), NameError> {
    let err = |why: String| Err(NameError { kind, why });
    if name.is_empty() {
        return err("is empty".into());
    }
    let count = name.chars().count();
    if count > MAX_NAME_CHARS {
        return err(format!("is {count} characters long"));
    }
    for (i, c) in name.chars().enumerate() {
        let what = if c.is_control() {
            "a control character"
        } else if c.is_whitespace() {
            "whitespace"
        } else if is_format(c) {
            "a format character"
        } else {
            continue;
        };
        return err(format!(
            "has {what} (U+{:04X}) at character {}",
            u32::from(c),
            i + 1
        ));
    }
    Ok(())
}

/// Unicode general category Cf (format): invisible characters that change how text is shown.
fn is_format(c: char) -> bool {
    matches!(
        u32::from(c),
        0x00AD
            | 0x0600..=0x0605
            | 0x061C
            | 0x06DD
            | 0x070F
            | 0x0890..=0x0891
            | 0x08E2
            | 0x180E
            | 0x200B..=0x200F
            | 0x202A..=0x202E
            | 0x2060..=0x2064
            | 0x2066..=0x206F
            | 0xFEFF
            | 0xFFF9..=0xFFFB
            | 0x110BD
            | 0x110CD
            | 0x13430..=0x1343F
            | 0x1BCA0..=0x1BCA3
            | 0x1D173..=0x1D17A
            | 0xE0001
            | 0xE0020..=0xE007F
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_seen_in_practice_pass() {
        for (kind, name) in [
            (NameKind::Environment, "production"),
            (NameKind::Environment, "eu-west-1.prod"),
            (NameKind::Environment, "*"),
            (
                NameKind::Artifact,
                "registry.example.com:5000/shop/checkout-api",
            ),
            (NameKind::Artifact, "ghcr.io/org/app:1.2.3-rc.1"),
            (NameKind::Artifact, "pkg:npm/%40scope/left-pad@1.0.0"),
            (NameKind::Pipeline, "github:shop/checkout-api#812"),
            (NameKind::Pipeline, "gitlab:shop/legacy-search!77"),
            (NameKind::Environment, "produção"),
        ] {
            assert_eq!(check(kind, name), Ok(()), "{name}");
        }
        assert!(check(NameKind::Environment, &"e".repeat(MAX_NAME_CHARS)).is_ok());
    }

    #[test]
    fn names_that_forge_or_hide_are_refused() {
        for (name, why) in [
            ("", "is empty"),
            ("prod\nlevel=INFO msg=forged", "control character (U+000A)"),
            ("prod\r", "control character (U+000D)"),
            ("prod\u{1b}[2J", "control character (U+001B)"),
            ("prod\u{0}", "control character (U+0000)"),
            ("prod uction", "whitespace (U+0020)"),
            ("prod\u{2028}x", "whitespace (U+2028)"),
            ("prod\u{a0}", "whitespace (U+00A0)"),
            ("dev\u{202e}dorp", "format character (U+202E)"),
            ("pro\u{200b}d", "format character (U+200B)"),
            ("\u{feff}prod", "format character (U+FEFF)"),
            ("prod\u{85}", "control character (U+0085)"),
        ] {
            let e = check(NameKind::Environment, name).unwrap_err();
            assert!(e.to_string().contains(why), "{name:?}: {e}");
            assert!(!e.to_string().contains(name) || name.is_empty(), "{e}");
        }
        let long = "a".repeat(MAX_NAME_CHARS + 1);
        let e = check(NameKind::Artifact, &long).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("artifact name is 254 characters long"),
            "{e}"
        );
    }
}
