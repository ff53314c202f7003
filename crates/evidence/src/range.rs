//! Version ranges: OSV `affected[]` evaluation (OSV schema, "Evaluation") and `vers:` ranges
//! (the vers spec), both on top of the per-ecosystem orderings of [`crate::version`].

use std::cmp::Ordering;
use std::fmt;

use crate::model::{Advisory, Affected, Ecosystem, RangeEvent, RangeKind};
use crate::purl::Purl;
use crate::version::Scheme;

impl Affected {
    /// Whether `version` of this package is affected: listed in `versions`, or inside a SEMVER
    /// or ECOSYSTEM range. GIT ranges name commits, not versions, and never match here.
    pub fn affects(&self, version: &str) -> bool {
        let version = version.trim();
        if version.is_empty() {
            return false;
        }
        if self.versions.iter().any(|v| v.trim() == version) {
            return true;
        }
        // A range that does not parse matches nothing here; block rules are checked when added.
        if let Some(vers) = &self.vers
            && VersRange::parse(vers).is_ok_and(|r| r.contains(version))
        {
            return true;
        }
        let eco_scheme = self
            .ecosystem
            .as_ref()
            .map_or(Scheme::Generic, Scheme::for_ecosystem);
        self.ranges.iter().any(|r| match r.kind {
            RangeKind::Git => false,
            RangeKind::Semver => in_events(&r.events, version, Scheme::Semver),
            RangeKind::Ecosystem => in_events(&r.events, version, eco_scheme),
        })
    }

    /// Whether this entry is about the package `name` of `ecosystem`.
    pub fn is_package(&self, ecosystem: &Ecosystem, name: &str) -> bool {
        if self.ecosystem.as_ref() != Some(ecosystem) {
            return false;
        }
        self.name
            .as_deref()
            .is_some_and(|n| same_package(ecosystem, n, name))
    }
}

/// The OSV evaluation: walk the events sorted by version; `introduced` opens the range,
/// `fixed` closes it at that version, `last_affected` closes it after that version; `limit`
/// bounds it from above.
fn in_events(events: &[RangeEvent], version: &str, scheme: Scheme) -> bool {
    let cmp = |a: &str, b: &str| scheme.compare(a, b);
    let key = |e: &RangeEvent| -> (bool, String) {
        match e {
            RangeEvent::Introduced(v) => (v == "0", v.clone()),
            RangeEvent::Fixed(v) | RangeEvent::LastAffected(v) | RangeEvent::Limit(v) => {
                (false, v.clone())
            }
        }
    };
    let mut sorted: Vec<&RangeEvent> = events.iter().collect();
    sorted.sort_by(|a, b| {
        let (za, va) = key(a);
        let (zb, vb) = key(b);
        zb.cmp(&za).then_with(|| cmp(&va, &vb))
    });
    let mut affected = false;
    for e in sorted {
        match e {
            RangeEvent::Introduced(v) => {
                if v == "0" || cmp(version, v) != Ordering::Less {
                    affected = true;
                }
            }
            RangeEvent::Fixed(v) => {
                if cmp(version, v) != Ordering::Less {
                    affected = false;
                }
            }
            RangeEvent::LastAffected(v) => {
                if cmp(version, v) == Ordering::Greater {
                    affected = false;
                }
            }
            RangeEvent::Limit(_) => {}
        }
    }
    let limits: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            RangeEvent::Limit(v) if v != "*" => Some(v.as_str()),
            _ => None,
        })
        .collect();
    if !limits.is_empty() && !limits.iter().any(|l| cmp(version, l) == Ordering::Less) {
        return false;
    }
    affected
}

/// A package name in the form the ecosystem compares names: two names are the same package
/// exactly when their normalized forms are equal (for indexing advisories by package).
pub fn normalized_package_name(eco: &Ecosystem, name: &str) -> String {
    let name = name.trim();
    match eco {
        Ecosystem::Pypi => pep503(name),
        Ecosystem::Maven => name.replace('/', ":"),
        Ecosystem::Nuget | Ecosystem::Composer => name.to_ascii_lowercase(),
        _ => name.to_string(),
    }
}

/// Package names as the ecosystem compares them.
fn same_package(eco: &Ecosystem, a: &str, b: &str) -> bool {
    let (a, b) = (a.trim(), b.trim());
    match eco {
        Ecosystem::Pypi => pep503(a) == pep503(b),
        Ecosystem::Maven => a.replace('/', ":") == b.replace('/', ":"),
        Ecosystem::Nuget | Ecosystem::Composer => a.eq_ignore_ascii_case(b),
        _ => a == b,
    }
}

/// PEP 503 name normalization: lower-case, runs of `-`, `_`, `.` become one `-`.
fn pep503(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut sep = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            sep = true;
            continue;
        }
        if sep && !out.is_empty() {
            out.push('-');
        }
        sep = false;
        out.extend(c.to_lowercase());
    }
    out
}

impl Advisory {
    /// Whether `version` of package `name` in `ecosystem` is affected. A withdrawn advisory
    /// affects nothing.
    pub fn affects(&self, ecosystem: &Ecosystem, name: &str, version: &str) -> bool {
        if self.withdrawn.is_some() {
            return false;
        }
        self.affected
            .iter()
            .any(|a| a.is_package(ecosystem, name) && a.affects(version))
    }

    /// Whether the package a purl names (with its version) is affected. A purl that does not
    /// parse or has no version cannot be matched and gives `false`.
    pub fn affects_purl(&self, purl: &str) -> bool {
        if self.withdrawn.is_some() {
            return false;
        }
        let Ok(p) = Purl::parse(purl) else {
            return false;
        };
        let Some(version) = p.version() else {
            return false;
        };
        self.affected
            .iter()
            .any(|a| a.is_about(&p) && a.affects(version))
    }
}

impl Affected {
    /// Whether this entry is about the package the purl names, by ecosystem and name or by its
    /// own purl (without version).
    fn is_about(&self, p: &Purl) -> bool {
        self.is_package(&p.ecosystem(), &p.package_name())
            || self
                .purl
                .as_deref()
                .and_then(|ap| Purl::parse(ap).ok())
                .is_some_and(|ap| ap.without_version() == p.without_version())
    }
}

impl Advisory {
    /// The lowest version that fixes the purl's package at its version: the smallest `fixed`
    /// event above that version in the ranges that affect it. `None` when the advisory does not
    /// affect the purl or names no fix above it.
    pub fn lowest_fix_for_purl(&self, purl: &str) -> Option<String> {
        if !self.affects_purl(purl) {
            return None;
        }
        let p = Purl::parse(purl).ok()?;
        let version = p.version()?.trim().to_string();
        let mut best: Option<(Scheme, String)> = None;
        for a in &self.affected {
            if !a.is_about(&p) || !a.affects(&version) {
                continue;
            }
            let eco_scheme = a
                .ecosystem
                .as_ref()
                .map_or(Scheme::Generic, Scheme::for_ecosystem);
            for r in &a.ranges {
                let scheme = match r.kind {
                    RangeKind::Git => continue,
                    RangeKind::Semver => Scheme::Semver,
                    RangeKind::Ecosystem => eco_scheme,
                };
                for e in &r.events {
                    let RangeEvent::Fixed(fixed) = e else {
                        continue;
                    };
                    if scheme.compare(fixed, &version) != Ordering::Greater {
                        continue;
                    }
                    let lower = match &best {
                        None => true,
                        Some((s, b)) => s.compare(fixed, b) == Ordering::Less,
                    };
                    if lower {
                        best = Some((scheme, fixed.clone()));
                    }
                }
            }
        }
        best.map(|(_, v)| v)
    }
}

/// A `vers:` comparator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Comparator {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Comparator {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Eq => "=",
            Self::Ne => "!=",
            Self::Lt => "<",
            Self::Le => "<=",
            Self::Gt => ">",
            Self::Ge => ">=",
        }
    }

    fn holds(self, ord: Ordering) -> bool {
        match self {
            Self::Eq => ord == Ordering::Equal,
            Self::Ne => ord != Ordering::Equal,
            Self::Lt => ord == Ordering::Less,
            Self::Le => ord != Ordering::Greater,
            Self::Gt => ord == Ordering::Greater,
            Self::Ge => ord != Ordering::Less,
        }
    }
}

/// One `<comparator><version>` of a vers range.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Constraint {
    pub comparator: Comparator,
    /// Decoded.
    pub version: String,
}

/// Why a string is not a valid `vers:` range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid vers range: {0}")]
pub struct VersError(pub String);

/// A parsed `vers:<scheme>/<constraints>` range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersRange {
    scheme: String,
    /// `None` is `*`, every version.
    constraints: Option<Vec<Constraint>>,
}

impl VersRange {
    /// Parse leniently: whitespace is ignored and constraints may come in any order (they are
    /// sorted, as the canonical form requires).
    pub fn parse(s: &str) -> Result<Self, VersError> {
        let compact: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        Self::parse_inner(&compact, false)
    }

    /// Parse a range that must already be canonical: no whitespace, no empty constraint,
    /// constraints sorted by version, canonical percent-encoding.
    pub fn parse_canonical(s: &str) -> Result<Self, VersError> {
        let r = Self::parse_inner(s, true)?;
        if r.to_string() != s {
            return Err(VersError(format!("`{s}` is not in canonical form")));
        }
        Ok(r)
    }

    fn parse_inner(s: &str, strict: bool) -> Result<Self, VersError> {
        let bad = |m: String| Err(VersError(m));
        let Some(rest) = s
            .get(..5)
            .filter(|p| p.eq_ignore_ascii_case("vers:"))
            .and_then(|_| s.get(5..))
        else {
            return bad("must start with `vers:`".into());
        };
        let Some((scheme, constraints)) = rest.split_once('/') else {
            return bad("missing `/` after the versioning scheme".into());
        };
        if scheme.is_empty() {
            return bad("empty versioning scheme".into());
        }
        let scheme = scheme.to_ascii_lowercase();
        let constraints = constraints.trim_matches('/');
        if constraints == "*" {
            return Ok(Self {
                scheme,
                constraints: None,
            });
        }
        let mut out = Vec::new();
        for part in constraints.split('|') {
            if part.is_empty() {
                return bad("empty constraint".into());
            }
            let (comparator, version) = [
                (">=", Comparator::Ge),
                ("<=", Comparator::Le),
                ("!=", Comparator::Ne),
                ("<", Comparator::Lt),
                (">", Comparator::Gt),
                ("=", Comparator::Eq),
            ]
            .iter()
            .find_map(|(p, c)| part.strip_prefix(p).map(|v| (*c, v)))
            .unwrap_or((Comparator::Eq, part));
            if version.is_empty() {
                return bad(format!("constraint `{part}` has no version"));
            }
            let version = decode(version)?;
            if strict && scheme == "datetime" && !is_rfc3339(&version) {
                return bad(format!("`{version}` is not an RFC 3339 timestamp"));
            }
            out.push(Constraint {
                comparator,
                version,
            });
        }
        let sch = Scheme::from_vers(&scheme).unwrap_or(Scheme::Generic);
        out.sort_by(|a, b| sch.compare(&a.version, &b.version));
        Ok(Self {
            scheme,
            constraints: Some(out),
        })
    }

    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    /// The constraints in canonical order; empty for `*`.
    pub fn constraints(&self) -> &[Constraint] {
        self.constraints.as_deref().unwrap_or_default()
    }

    /// The vers containment algorithm.
    pub fn contains(&self, version: &str) -> bool {
        let Some(cs) = &self.constraints else {
            return true;
        };
        let sch = Scheme::from_vers(&self.scheme).unwrap_or(Scheme::Generic);
        let sat = |c: &Constraint| c.comparator.holds(sch.compare(version, &c.version));
        let mut has_eq = false;
        let mut has_ne = false;
        for c in cs {
            match c.comparator {
                Comparator::Eq => {
                    has_eq = true;
                    if sat(c) {
                        return true;
                    }
                }
                Comparator::Ne => {
                    has_ne = true;
                    if !sat(c) {
                        return false;
                    }
                }
                _ => {}
            }
        }
        let rest: Vec<&Constraint> = cs
            .iter()
            .filter(|c| !matches!(c.comparator, Comparator::Eq | Comparator::Ne))
            .collect();
        match rest.as_slice() {
            // Only `!=` constraints, none of which excluded it.
            [] => has_ne && !has_eq,
            [one] => sat(one),
            _ => {
                let last = rest.len() - 1;
                rest.windows(2).enumerate().any(|(i, w)| {
                    let [cur, next] = w else { return false };
                    let lower =
                        |c: &Constraint| matches!(c.comparator, Comparator::Gt | Comparator::Ge);
                    let upper =
                        |c: &Constraint| matches!(c.comparator, Comparator::Lt | Comparator::Le);
                    (i == 0 && upper(cur) && sat(cur))
                        || (i + 1 == last && lower(next) && sat(next))
                        || (lower(cur) && upper(next) && sat(cur) && sat(next))
                })
            }
        }
    }
}

impl std::str::FromStr for VersRange {
    type Err = VersError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for VersRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "vers:{}/", self.scheme)?;
        let Some(cs) = &self.constraints else {
            return f.write_str("*");
        };
        for (i, c) in cs.iter().enumerate() {
            if i > 0 {
                f.write_str("|")?;
            }
            if c.comparator != Comparator::Eq {
                f.write_str(c.comparator.as_str())?;
            }
            f.write_str(&encode(&c.version))?;
        }
        Ok(())
    }
}

fn decode(s: &str) -> Result<String, VersError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let v = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            let Some(v) = v else {
                return Err(VersError(format!("invalid percent-encoding in `{s}`")));
            };
            out.push(v);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| VersError(format!("`{s}` does not decode to UTF-8")))
}

/// Encode what a version cannot hold literally in a vers string.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '~' | ':' | '+' | '!' | '^') {
            out.push(c);
        } else {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    out
}

/// `YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)`, upper-case `T` and `Z`.
fn is_rfc3339(s: &str) -> bool {
    let b = s.as_bytes();
    let d = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
    let at = |i: usize, c: u8| b.get(i) == Some(&c);
    let head = (0..4).all(d)
        && at(4, b'-')
        && d(5)
        && d(6)
        && at(7, b'-')
        && d(8)
        && d(9)
        && at(10, b'T')
        && d(11)
        && d(12)
        && at(13, b':')
        && d(14)
        && d(15)
        && at(16, b':')
        && d(17)
        && d(18);
    if !head {
        return false;
    }
    let mut i = 19;
    if at(i, b'.') {
        i += 1;
        let start = i;
        while d(i) {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    match b.get(i) {
        Some(b'Z') => i + 1 == b.len(),
        Some(b'+' | b'-') => {
            d(i + 1) && d(i + 2) && at(i + 3, b':') && d(i + 4) && d(i + 5) && i + 6 == b.len()
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::AffectedRange;

    fn affected(eco: Ecosystem, kind: RangeKind, events: Vec<RangeEvent>) -> Affected {
        Affected {
            osv_ecosystem: None,
            ecosystem: Some(eco),
            name: Some("p".into()),
            purl: None,
            ranges: vec![AffectedRange {
                kind,
                repo: None,
                events,
            }],
            versions: vec![],
            vers: None,
        }
    }

    #[test]
    fn osv_events() {
        use RangeEvent::*;
        let a = affected(
            Ecosystem::Pypi,
            RangeKind::Ecosystem,
            vec![
                Introduced("0".into()),
                Fixed("1.0".into()),
                Introduced("2.0".into()),
                LastAffected("2.5".into()),
            ],
        );
        for (v, want) in [
            ("0.1", true),
            ("1.0rc1", true),
            ("1.0", false),
            ("1.5", false),
            ("2.0", true),
            ("2.5", true),
            ("2.5.1", false),
        ] {
            assert_eq!(a.affects(v), want, "{v}");
        }
        let g = affected(
            Ecosystem::Golang,
            RangeKind::Git,
            vec![Introduced("0".into())],
        );
        assert!(!g.affects("1.0.0"));
        let l = affected(
            Ecosystem::Npm,
            RangeKind::Semver,
            vec![Introduced("1.0.0".into()), Limit("2.0.0".into())],
        );
        assert!(l.affects("1.5.0"));
        assert!(!l.affects("2.0.0"));
    }

    #[test]
    fn names_per_ecosystem() {
        assert!(same_package(
            &Ecosystem::Pypi,
            "Django_Rest.framework",
            "django-rest-framework"
        ));
        assert!(same_package(&Ecosystem::Maven, "g:a", "g/a"));
        assert!(!same_package(&Ecosystem::Npm, "@a/b", "b"));
    }

    #[test]
    fn vers_ranges() {
        let r = VersRange::parse("vers:npm/<2.0.0|>=1.0.0").unwrap();
        assert_eq!(r.to_string(), "vers:npm/>=1.0.0|<2.0.0");
        assert!(r.contains("1.5.0"));
        assert!(!r.contains("2.0.0"));
        assert!(!r.contains("0.9.0"));
        assert!(VersRange::parse_canonical("vers:npm/<2.0.0|>=1.0.0").is_err());
        let m = VersRange::parse("vers:maven/>=2.0-beta9|<2.3.1|>=2.4|<2.12.2").unwrap();
        assert!(m.contains("2.0"));
        assert!(!m.contains("2.3.1"));
        assert!(m.contains("2.12.1"));
        assert!(!m.contains("2.12.2"));
        let ne = VersRange::parse("vers:pypi/!=1.0").unwrap();
        assert!(ne.contains("2.0") && !ne.contains("1.0.0"));
        assert!(
            VersRange::parse("vers:pypi/*")
                .unwrap()
                .contains("anything")
        );
        assert!(VersRange::parse("vers:npm/>=1.0.0||<2").is_err());
    }
}
