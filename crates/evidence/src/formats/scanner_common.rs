//! Small pieces shared by the vulnerability-scanner parsers (Trivy, Grype, OSV-Scanner).

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

/// The base score of a CVSS v3.0 / v3.1 vector (`CVSS:3.x/AV:N/AC:L/...`), per the v3.1
/// specification section 7.1 (v3.0 rounds up plainly, v3.1 with the floating-point-safe
/// Roundup of Appendix A). `None` for anything else or a vector missing a base metric.
pub(crate) fn cvss3_base_score(vector: &str) -> Option<f64> {
    let mut parts = vector.trim().split('/');
    let v31 = match parts.next()? {
        "CVSS:3.1" => true,
        "CVSS:3.0" => false,
        _ => return None,
    };
    let (mut av, mut ac, mut pr, mut ui, mut scope, mut c, mut i, mut a) =
        (None, None, None, None, None, None, None, None);
    for part in parts {
        let (k, v) = part.split_once(':')?;
        let cia = |v: &str| match v {
            "H" => Some(0.56),
            "L" => Some(0.22),
            "N" => Some(0.0),
            _ => None,
        };
        match k {
            "AV" => {
                av = Some(match v {
                    "N" => 0.85,
                    "A" => 0.62,
                    "L" => 0.55,
                    "P" => 0.2,
                    _ => return None,
                })
            }
            "AC" => {
                ac = Some(match v {
                    "L" => 0.77,
                    "H" => 0.44,
                    _ => return None,
                })
            }
            "PR" => pr = Some(v.to_string()),
            "UI" => {
                ui = Some(match v {
                    "N" => 0.85,
                    "R" => 0.62,
                    _ => return None,
                })
            }
            "S" => {
                scope = Some(match v {
                    "U" => false,
                    "C" => true,
                    _ => return None,
                })
            }
            "C" => c = Some(cia(v)?),
            "I" => i = Some(cia(v)?),
            "A" => a = Some(cia(v)?),
            _ => {} // temporal and environmental metrics do not change the base score
        }
    }
    let changed = scope?;
    let pr = match (pr?.as_str(), changed) {
        ("N", _) => 0.85,
        ("L", false) => 0.62,
        ("L", true) => 0.68,
        ("H", false) => 0.27,
        ("H", true) => 0.5,
        _ => return None,
    };
    let iss = 1.0 - (1.0 - c?) * (1.0 - i?) * (1.0 - a?);
    let impact = if changed {
        7.52 * (iss - 0.029) - 3.25 * (iss - 0.02_f64).powi(15)
    } else {
        6.42 * iss
    };
    let exploitability = 8.22 * av? * ac? * pr * ui?;
    if impact <= 0.0 {
        return Some(0.0);
    }
    let raw = if changed {
        (1.08 * (impact + exploitability)).min(10.0)
    } else {
        (impact + exploitability).min(10.0)
    };
    Some(if v31 {
        roundup31(raw)
    } else {
        (raw * 10.0).ceil() / 10.0
    })
}

/// CVSS v3.1 Appendix A Roundup.
fn roundup31(x: f64) -> f64 {
    let int_input = (x * 100_000.0).round() as i64;
    if int_input % 10_000 == 0 {
        int_input as f64 / 100_000.0
    } else {
        ((int_input / 10_000) + 1) as f64 / 10.0
    }
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
            assert_eq!(cvss3_base_score(v), Some(want), "{v}");
        }
        assert_eq!(cvss3_base_score("CVSS:3.1/AV:N/AC:L"), None);
        assert_eq!(cvss3_base_score("AV:N/AC:L/Au:N/C:P/I:P/A:P"), None);
        assert_eq!(
            cvss3_base_score("CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N"),
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
