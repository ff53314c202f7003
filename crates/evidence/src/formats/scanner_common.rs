//! Small pieces shared by the vulnerability-scanner parsers (Trivy, Grype, OSV-Scanner).

use serde::de;
use serde::{Deserialize, Deserializer};

use crate::model::Ecosystem;

/// A list that the tool may write as `null` (Go's nil slices) or leave out: both read as empty.
pub(crate) fn nullable_vec<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<Vec<T>>::deserialize(d).map(Option::unwrap_or_default)
}

/// A string that the tool may write as `null`: read as absent; an empty string is absent too.
pub(crate) fn non_empty(s: Option<String>) -> Option<String> {
    s.and_then(|s| {
        let t = s.trim();
        if t.is_empty() {
            None
        } else if t.len() == s.len() {
            Some(s)
        } else {
            Some(t.to_string())
        }
    })
}

/// `sha256:<hex>` (also `sha384`, `sha512`), lower-cased, from a bare digest or an image
/// reference `name@sha256:<hex>`; `None` unless the hex has the algorithm's length.
pub(crate) fn image_digest(s: &str) -> Option<String> {
    let s = s.trim();
    let digest = s.rsplit_once('@').map_or(s, |(_, d)| d);
    let (alg, hex) = digest.split_once(':')?;
    let alg = alg.to_ascii_lowercase();
    let len = match alg.as_str() {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        _ => return None,
    };
    if hex.len() != len || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    Some(format!("{alg}:{}", hex.to_ascii_lowercase()))
}

/// `CWE-79`, `cwe-79` or `79` to 79.
pub(crate) fn cwe_number(s: &str) -> Option<u32> {
    let s = s.trim();
    let n = match s.get(..4) {
        Some(p) if p.eq_ignore_ascii_case("cwe-") => s.get(4..).unwrap_or(""),
        _ => s,
    };
    n.parse().ok()
}

/// Append `s` unless it is empty or already there (order kept: first mention wins).
pub(crate) fn push_unique(list: &mut Vec<String>, s: &str) {
    let s = s.trim();
    if !s.is_empty() && !list.iter().any(|x| x == s) {
        list.push(s.to_string());
    }
}

/// The ecosystem named by a purl's type, when `purl` looks like one.
pub(crate) fn purl_ecosystem(purl: &str) -> Option<Ecosystem> {
    let rest = purl.trim().strip_prefix("pkg:")?;
    let ty = rest.trim_start_matches('/').split('/').next()?;
    if ty.is_empty() {
        return None;
    }
    Some(Ecosystem::from_purl_type(ty))
}

/// The `Score::method` of a CVSS vector or version string: `CVSSv2`, `CVSSv3`, `CVSSv31`,
/// `CVSSv4`.
pub(crate) fn cvss_method(version_or_vector: &str) -> &'static str {
    let v = version_or_vector.trim();
    let v = v.strip_prefix("CVSS:").unwrap_or(v);
    if v.starts_with("4") {
        "CVSSv4"
    } else if v.starts_with("3.1") {
        "CVSSv31"
    } else if v.starts_with('3') {
        "CVSSv3"
    } else {
        "CVSSv2"
    }
}

/// The base score of a CVSS v3.0, v3.1 or v4.0 vector (`CVSS:3.1/AV:N/...`), computed by the
/// rustsec `cvss` crate. `None` for CVSS v2 (the crate has no v2), a malformed vector, or a
/// vector missing a base metric.
pub(crate) fn cvss_base_score(vector: &str) -> Option<f64> {
    use std::str::FromStr;
    let vector = vector.trim();
    let required: &[&str] = if vector.starts_with("CVSS:3.") {
        &["AV", "AC", "PR", "UI", "S", "C", "I", "A"]
    } else if vector.starts_with("CVSS:4.") {
        &[
            "AV", "AC", "AT", "PR", "UI", "VC", "VI", "VA", "SC", "SI", "SA",
        ]
    } else {
        return None;
    };
    // The crate scores a vector missing base metrics as 0.0; an incomplete vector must not
    // read as "no risk".
    let present: Vec<&str> = vector
        .split('/')
        .skip(1)
        .filter_map(|m| m.split_once(':').map(|(k, _)| k))
        .collect();
    if required.iter().any(|r| !present.contains(r)) {
        return None;
    }
    cvss::Cvss::from_str(vector)
        .ok()
        .map(|c| c.score())
        .filter(|x| x.is_finite())
}

/// A string, a number, or a list of them; other values are skipped.
pub(crate) fn strings<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Item {
        S(String),
        N(serde_json::Number),
        B(bool),
        Other(de::IgnoredAny),
    }
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        Many(Vec<Item>),
        One(Item),
    }
    let text = |i: Item| match i {
        Item::S(s) => Some(s),
        Item::N(n) => Some(n.to_string()),
        Item::B(b) => Some(b.to_string()),
        Item::Other(_) => None,
    };
    Ok(match Option::<OneOrMany>::deserialize(d)? {
        None => Vec::new(),
        Some(OneOrMany::One(i)) => text(i).into_iter().collect(),
        Some(OneOrMany::Many(v)) => v.into_iter().filter_map(text).collect(),
    })
}

/// A fingerprint value a tool wrote as a placeholder rather than a fingerprint: empty, or
/// Semgrep's "requires login" (written when not logged in to Semgrep's service). Keyed on, it
/// would make every finding of a rule one finding.
pub(crate) fn is_placeholder_fingerprint(value: &str) -> bool {
    let v = value.trim();
    v.is_empty() || v.eq_ignore_ascii_case("requires login")
}

/// Rules whose findings are hard-coded credentials even though their tool is not a secret
/// scanner: Bandit's B105 (`hardcoded_password_string`), B106 (`..._funcarg`) and B107
/// (`..._default`). Their messages quote the credential, so they are kept as `Secret`
/// findings without the tool's message.
pub(crate) fn is_hardcoded_secret_rule(tool: &str, rule_id: &str) -> bool {
    tool.to_ascii_lowercase().contains("bandit") && matches!(rule_id, "B105" | "B106" | "B107")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests() {
        let hex = "a".repeat(64);
        assert_eq!(
            image_digest(&format!("alpine@sha256:{}", hex.to_uppercase())),
            Some(format!("sha256:{hex}"))
        );
        assert_eq!(
            image_digest(&format!("sha256:{hex}")),
            Some(format!("sha256:{hex}"))
        );
        assert_eq!(image_digest("sha256:test"), None);
        assert_eq!(image_digest(""), None);
        assert_eq!(image_digest("REDACTED"), None);
    }

    #[test]
    fn cwes() {
        assert_eq!(cwe_number("CWE-79"), Some(79));
        assert_eq!(cwe_number("cwe-1333"), Some(1333));
        assert_eq!(cwe_number("200"), Some(200));
        assert_eq!(cwe_number("NVD-CWE-Other"), None);
    }

    #[test]
    fn cvss3_scores_match_the_nvd_calculator() {
        // Values from the FIRST / NVD calculators.
        let cases = [
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8),
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 10.0),
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", 7.5),
            ("CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:H/I:N/A:N", 7.7),
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1),
            ("CVSS:3.1/AV:A/AC:H/PR:H/UI:N/S:U/C:H/I:N/A:N", 4.2), // CVE-2023-45803 on NVD
            ("CVSS:3.0/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:H/A:N", 5.9),
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", 0.0),
        ];
        for (v, want) in cases {
            assert_eq!(cvss_base_score(v), Some(want), "{v}");
        }
        assert_eq!(cvss_base_score("CVSS:3.1/AV:N/AC:L"), None);
        assert_eq!(
            cvss_base_score("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"),
            Some(9.3)
        );
        assert_eq!(cvss_base_score("CVSS:4.0/AV:N/AC:L/AT:N"), None);
        assert_eq!(cvss_base_score("AV:N/AC:L/Au:N/C:P/I:P/A:P"), None);
        assert_eq!(
            cvss_base_score("CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N"),
            None
        );
    }

    #[test]
    fn methods_and_ecosystems() {
        assert_eq!(cvss_method("CVSS:3.1/AV:N"), "CVSSv31");
        assert_eq!(cvss_method("3.0"), "CVSSv3");
        assert_eq!(cvss_method("2.0"), "CVSSv2");
        assert_eq!(cvss_method("CVSS:4.0/AV:N"), "CVSSv4");
        assert_eq!(purl_ecosystem("pkg:deb/debian/a@1"), Some(Ecosystem::Deb));
        assert_eq!(purl_ecosystem("flot"), None);
    }
}
