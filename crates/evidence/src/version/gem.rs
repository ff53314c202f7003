//! RubyGems `Gem::Version` ordering: segments are runs of digits (numbers) or letters
//! (strings, which make a prerelease); `-` means `.pre.`; trailing zeros of the numeric part and
//! of the string part are insignificant; a missing segment counts as 0 and a string sorts before
//! any number.

use std::cmp::Ordering;

use super::{Num, with_fallback};

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Segment {
    Str(String),
    Num(Num),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version(Vec<Segment>);

fn valid(s: &str) -> bool {
    // Gem::Version::PATTERN: [0-9]+(\.[0-9a-zA-Z]+)*(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?
    let (main, pre) = match s.split_once('-') {
        Some((m, p)) => (m, Some(p)),
        None => (s, None),
    };
    let mut parts = main.split('.');
    let first_ok = parts
        .next()
        .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    let rest_ok = parts.all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric()));
    let pre_ok = pre.is_none_or(|p| {
        p.split('.')
            .all(|x| !x.is_empty() && x.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
    });
    first_ok && rest_ok && pre_ok
}

pub fn parse(s: &str) -> Option<Version> {
    let s = s.trim();
    if !valid(s) {
        return None;
    }
    let s = s.replace('-', ".pre.");
    let mut segs = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let Some(&c) = b.get(i) else { break };
        let run = if c.is_ascii_digit() {
            b.get(i..)
                .unwrap_or_default()
                .iter()
                .take_while(|c| c.is_ascii_digit())
                .count()
        } else if c.is_ascii_alphabetic() {
            b.get(i..)
                .unwrap_or_default()
                .iter()
                .take_while(|c| c.is_ascii_alphabetic())
                .count()
        } else {
            i += 1;
            continue;
        };
        let text = s.get(i..i + run).unwrap_or_default();
        segs.push(if c.is_ascii_digit() {
            Segment::Num(Num::new(text))
        } else {
            Segment::Str(text.to_string())
        });
        i += run;
    }
    // canonical_segments: trim trailing zeros of the numeric prefix and of the rest.
    let split = segs
        .iter()
        .position(|s| matches!(s, Segment::Str(_)))
        .unwrap_or(segs.len());
    let mut rest = segs.split_off(split);
    let trim = |v: &mut Vec<Segment>| {
        while matches!(v.last(), Some(Segment::Num(n)) if n.is_zero()) {
            v.pop();
        }
    };
    trim(&mut segs);
    trim(&mut rest);
    segs.extend(rest);
    Some(Version(segs))
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        let zero = Segment::Num(Num::new("0"));
        let n = self.0.len().max(other.0.len());
        for i in 0..n {
            let l = self.0.get(i).unwrap_or(&zero);
            let r = other.0.get(i).unwrap_or(&zero);
            let c = l.cmp(r);
            if c != Ordering::Equal {
                return c;
            }
        }
        Ordering::Equal
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

pub fn compare(a: &str, b: &str) -> Ordering {
    with_fallback(a, b, parse)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    #[test]
    fn gem_order() {
        let order = [
            "1.0.a", "1.0.a.1", "1.0.b1", "1.0.rc1", "1.0", "1.0.1", "1.1.pre", "1.1",
        ];
        for w in order.windows(2) {
            assert_eq!(compare(w[0], w[1]), Less, "{} < {}", w[0], w[1]);
        }
        assert_eq!(compare("1.0", "1"), Equal);
        assert_eq!(compare("1.0.0-rc1", "1.0.0.pre.rc1"), Equal);
        assert_eq!(compare("1.0.a10", "1.0.a9"), Greater);
    }
}
