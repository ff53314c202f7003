//! SemVer 2.0 precedence, read leniently: a leading `v` or `=`, and fewer (or more) than three
//! numeric parts are accepted (missing parts are zero). Build metadata is ignored.

use std::cmp::Ordering;

use super::{Num, all_digits, with_fallback};

/// A prerelease identifier: numeric ones sort before alphanumeric ones.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Ident {
    Num(Num),
    Alpha(String),
}

/// A parsed version, ordered by precedence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    /// Numeric parts, trailing zeros removed.
    pub release: Vec<Num>,
    pub pre: Vec<Ident>,
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.release.cmp(&other.release).then_with(|| {
            match (self.pre.is_empty(), other.pre.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => self.pre.cmp(&other.pre),
            }
        })
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Parse; `fold_case` lower-cases prerelease identifiers (NuGet).
pub(crate) fn parse_with(s: &str, fold_case: bool, max_parts: usize) -> Option<Version> {
    let s = s.trim();
    let s = s.strip_prefix(['v', 'V', '=']).unwrap_or(s);
    let s = s.split_once('+').map_or(s, |(v, _)| v);
    let (core, pre) = match s.split_once('-') {
        Some((c, p)) => (c, Some(p)),
        None => (s, None),
    };
    let parts: Vec<&str> = core.split('.').collect();
    if parts.len() > max_parts || !parts.iter().all(|p| all_digits(p)) {
        return None;
    }
    let mut release: Vec<Num> = parts.iter().map(|p| Num::new(p)).collect();
    while release.last().is_some_and(Num::is_zero) {
        release.pop();
    }
    let pre = match pre {
        None => Vec::new(),
        Some(p) => {
            let mut ids = Vec::new();
            for id in p.split('.') {
                if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
                    return None;
                }
                ids.push(if all_digits(id) {
                    Ident::Num(Num::new(id))
                } else if fold_case {
                    Ident::Alpha(id.to_ascii_lowercase())
                } else {
                    Ident::Alpha(id.to_string())
                });
            }
            ids
        }
    };
    Some(Version { release, pre })
}

pub fn parse(s: &str) -> Option<Version> {
    parse_with(s, false, usize::MAX)
}

pub fn compare(a: &str, b: &str) -> Ordering {
    with_fallback(a, b, parse)
}

/// Go module versions: the same order (pseudo-versions are prereleases of the next patch).
pub fn compare_go(a: &str, b: &str) -> Ordering {
    with_fallback(a, b, parse)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    #[test]
    fn semver_spec_order() {
        // SemVer 2.0 section 11.
        let order = [
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-alpha.beta",
            "1.0.0-beta",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0",
            "2.0.0",
            "2.1.0",
            "2.1.1",
        ];
        for w in order.windows(2) {
            assert_eq!(compare(w[0], w[1]), Less, "{} < {}", w[0], w[1]);
        }
        assert_eq!(compare("1.0.0+build.1", "1.0.0"), Equal);
        assert_eq!(compare("v1.2", "1.2.0"), Equal);
    }

    #[test]
    fn go_pseudo_versions() {
        assert_eq!(
            compare_go("v0.0.0-20191109021931-daa7c04131f5", "v0.0.1"),
            Less
        );
        assert_eq!(
            compare_go("v1.2.4-0.20191109021931-daa7c04131f5", "v1.2.3"),
            Greater
        );
        assert_eq!(compare_go("1.22.0-0", "1.21.12"), Greater);
        assert_eq!(compare_go("1.22.0-0", "1.22.0"), Less);
        assert_eq!(compare_go("v2.0.0+incompatible", "v2.0.0"), Equal);
    }

    #[test]
    fn unparsable_sort_first() {
        assert_eq!(compare("not a version", "0.0.1"), Less);
        assert_eq!(compare("1.x", "1.0.0"), Less);
    }
}
