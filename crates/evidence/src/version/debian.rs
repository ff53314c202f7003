//! Debian version ordering (dpkg): `[epoch:]upstream[-revision]`, each part compared with
//! dpkg's `verrevcmp`: alternating non-digit and digit runs; in non-digit runs `~` sorts before
//! everything (even the end of the string), then the end, then letters, then other characters;
//! digit runs compare by value.

use std::cmp::Ordering;

use super::{all_digits, cmp_digits};

/// The parts of a Debian version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Version<'a> {
    pub epoch: &'a str,
    pub upstream: &'a str,
    pub revision: &'a str,
}

/// Split a version into its parts. Any string splits; a non-numeric "epoch" is kept in the
/// upstream part.
pub fn split(s: &str) -> Version<'_> {
    let s = s.trim();
    let (epoch, rest) = match s.split_once(':') {
        Some((e, r)) if all_digits(e) => (e, r),
        _ => ("0", s),
    };
    let (upstream, revision) = match rest.rsplit_once('-') {
        Some((u, r)) => (u, r),
        None => (rest, ""),
    };
    Version {
        epoch,
        upstream,
        revision,
    }
}

fn order(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(b'~') => -1,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(c) => i32::from(c) + 256,
    }
}

/// dpkg's `verrevcmp`.
pub fn verrevcmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0usize, 0usize);
    while i < a.len() || j < b.len() {
        // Non-digit run.
        loop {
            let ca = a.get(i).copied().filter(|c| !c.is_ascii_digit());
            let cb = b.get(j).copied().filter(|c| !c.is_ascii_digit());
            if ca.is_none() && cb.is_none() {
                break;
            }
            let (oa, ob) = (order(ca), order(cb));
            if oa != ob {
                return oa.cmp(&ob);
            }
            i += usize::from(ca.is_some());
            j += usize::from(cb.is_some());
        }
        // Digit run.
        let da = a.get(i..).unwrap_or_default();
        let db = b.get(j..).unwrap_or_default();
        let na = da.iter().take_while(|c| c.is_ascii_digit()).count();
        let nb = db.iter().take_while(|c| c.is_ascii_digit()).count();
        let sa = std::str::from_utf8(da.get(..na).unwrap_or_default()).unwrap_or_default();
        let sb = std::str::from_utf8(db.get(..nb).unwrap_or_default()).unwrap_or_default();
        let r = cmp_digits(sa, sb);
        if r != Ordering::Equal {
            return r;
        }
        i += na;
        j += nb;
    }
    Ordering::Equal
}

pub fn compare(a: &str, b: &str) -> Ordering {
    let (x, y) = (split(a), split(b));
    cmp_digits(x.epoch, y.epoch)
        .then_with(|| verrevcmp(x.upstream, y.upstream))
        .then_with(|| verrevcmp(x.revision, y.revision))
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    #[test]
    fn tilde_and_letters() {
        // Debian Policy 5.6.12.
        let order = ["~~", "~~a", "~", "", "a"];
        for w in order.windows(2) {
            assert_eq!(verrevcmp(w[0], w[1]), Less, "{:?} < {:?}", w[0], w[1]);
        }
        assert_eq!(compare("1:1.0", "2.0"), Greater);
        assert_eq!(compare("1.0-1", "1.0-1+b1"), Less);
        assert_eq!(compare("1.0", "1.0-0"), Equal);
        assert_eq!(compare("1.0~rc1-1", "1.0-1"), Less);
        assert_eq!(compare("1.0a", "1.0+"), Less);
        assert_eq!(compare("1.01", "1.1"), Equal);
    }
}
