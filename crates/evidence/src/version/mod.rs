//! Version ordering per ecosystem.
//!
//! Every comparison is total and never panics. A version a scheme cannot parse still compares:
//! it sorts before every version the scheme can parse, and unparsable versions compare among
//! themselves with the [`generic`] scheme. Sorting unparsable versions first is the cautious
//! choice for vulnerability matching: `< fixed` holds for them, so a range with a known fix
//! still flags a package whose version we could not read.

use std::cmp::Ordering;

use crate::model::Ecosystem;

pub mod apk;
pub mod debian;
pub mod gem;
pub mod generic;
pub mod maven;
pub mod nuget;
pub mod pep440;
pub mod rpm;
pub mod semver;

/// A version ordering scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// SemVer 2.0 (npm, cargo, hex, pub, swift), lenient about missing minor/patch and a `v`.
    Semver,
    /// Go modules: SemVer with a leading `v`; pseudo-versions are prereleases.
    Golang,
    /// Maven `ComparableVersion`.
    Maven,
    /// PEP 440.
    Pypi,
    /// dpkg.
    Debian,
    /// rpmvercmp, with epoch and release.
    Rpm,
    /// apk-tools.
    Alpine,
    /// `Gem::Version`.
    Gem,
    /// NuGet SemVer (four numeric parts, case-insensitive prerelease).
    Nuget,
    /// Numeric and alphabetic runs.
    Generic,
    /// Plain code-point order of the strings.
    Lexicographic,
}

impl Scheme {
    /// The scheme of an ecosystem.
    pub fn for_ecosystem(eco: &Ecosystem) -> Self {
        match eco {
            Ecosystem::Npm
            | Ecosystem::Cargo
            | Ecosystem::Hex
            | Ecosystem::Pub
            | Ecosystem::Swift
            | Ecosystem::Github => Self::Semver,
            Ecosystem::Golang => Self::Golang,
            Ecosystem::Maven => Self::Maven,
            Ecosystem::Pypi => Self::Pypi,
            Ecosystem::Deb => Self::Debian,
            Ecosystem::Rpm => Self::Rpm,
            Ecosystem::Apk => Self::Alpine,
            Ecosystem::Gem => Self::Gem,
            Ecosystem::Nuget => Self::Nuget,
            _ => Self::Generic,
        }
    }

    /// The scheme of a `vers:` versioning scheme name, when we know it.
    pub fn from_vers(name: &str) -> Option<Self> {
        Some(match name.to_ascii_lowercase().as_str() {
            "npm" | "cargo" | "semver" | "hex" | "pub" | "swift" | "github" | "composer" => {
                Self::Semver
            }
            "golang" | "go" => Self::Golang,
            "maven" => Self::Maven,
            "pypi" => Self::Pypi,
            "deb" | "debian" | "ubuntu" => Self::Debian,
            "rpm" => Self::Rpm,
            "apk" | "alpine" | "gentoo" | "ebuild" => Self::Alpine,
            "gem" | "rubygems" => Self::Gem,
            "nuget" => Self::Nuget,
            "generic" | "intdot" => Self::Generic,
            "lexicographic" => Self::Lexicographic,
            _ => return None,
        })
    }

    /// Compare two versions under this scheme.
    pub fn compare(self, a: &str, b: &str) -> Ordering {
        match self {
            Self::Semver => semver::compare(a, b),
            Self::Golang => semver::compare_go(a, b),
            Self::Maven => maven::compare(a, b),
            Self::Pypi => pep440::compare(a, b),
            Self::Debian => debian::compare(a, b),
            Self::Rpm => rpm::compare(a, b),
            Self::Alpine => apk::compare(a, b),
            Self::Gem => gem::compare(a, b),
            Self::Nuget => nuget::compare(a, b),
            Self::Generic => generic::compare(a, b),
            Self::Lexicographic => a.cmp(b),
        }
    }
}

/// Compare two versions of a package of `eco`. Total, for any input.
pub fn compare(eco: &Ecosystem, a: &str, b: &str) -> Ordering {
    Scheme::for_ecosystem(eco).compare(a, b)
}

/// Compare parsed keys when both parse; unparsable versions sort first, generically.
pub(crate) fn with_fallback<K: Ord>(
    a: &str,
    b: &str,
    parse: impl Fn(&str) -> Option<K>,
) -> Ordering {
    match (parse(a), parse(b)) {
        (Some(x), Some(y)) => x.cmp(&y),
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (None, None) => generic::compare(a, b),
    }
}

/// A non-negative integer of any length, from ASCII digits: compares by value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Num(String);

impl Num {
    /// `digits` must be ASCII digits (not checked; other bytes compare as written).
    pub fn new(digits: &str) -> Self {
        let t = digits.trim_start_matches('0');
        Num(t.to_string())
    }
    pub fn is_zero(&self) -> bool {
        self.0.is_empty()
    }
}

impl Ord for Num {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0
            .len()
            .cmp(&other.0.len())
            .then_with(|| self.0.cmp(&other.0))
    }
}

impl PartialOrd for Num {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Compare two runs of ASCII digits by value.
pub(crate) fn cmp_digits(a: &str, b: &str) -> Ordering {
    Num::new(a).cmp(&Num::new(b))
}

pub(crate) fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_of_any_length() {
        assert_eq!(cmp_digits("007", "7"), Ordering::Equal);
        assert_eq!(cmp_digits("10", "9"), Ordering::Greater);
        assert_eq!(
            cmp_digits("123456789012345678901234567890", "99"),
            Ordering::Greater
        );
        assert_eq!(cmp_digits("", "0"), Ordering::Equal);
    }

    #[test]
    fn ecosystems_pick_their_scheme() {
        assert_eq!(compare(&Ecosystem::Maven, "1.0-rc1", "1.0"), Ordering::Less);
        assert_eq!(compare(&Ecosystem::Pypi, "1.0rc1", "1.0"), Ordering::Less);
        assert_eq!(compare(&Ecosystem::Deb, "1.0~rc1", "1.0"), Ordering::Less);
        assert_eq!(
            compare(&Ecosystem::Golang, "v1.2.3", "1.2.4"),
            Ordering::Less
        );
        assert_eq!(
            compare(&Ecosystem::Other("x".into()), "1.10", "1.9"),
            Ordering::Greater
        );
    }
}
