//! NuGet versions: SemVer 2.0 with up to four numeric parts (`1.0` == `1.0.0.0`), prerelease
//! labels compared case-insensitively, metadata ignored.

use std::cmp::Ordering;

use super::semver::{Version, parse_with};
use super::with_fallback;

pub fn parse(s: &str) -> Option<Version> {
    parse_with(s, true, 4)
}

pub fn compare(a: &str, b: &str) -> Ordering {
    with_fallback(a, b, parse)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    #[test]
    fn nuget_order() {
        assert_eq!(compare("1.0.0-BETA", "1.0.0-beta"), Equal);
        assert_eq!(compare("1.0", "1.0.0.0"), Equal);
        assert_eq!(compare("1.0.01", "1.0.1.0"), Equal);
        assert_eq!(compare("1.0.0-pre", "1.0.0.1-alpha"), Less);
        assert_eq!(compare("1.0.0-beta+AA", "1.0.0+aa"), Less);
        assert_eq!(compare("1.0.0.1-alpha", "1.0.0.1-pre"), Less);
    }
}
