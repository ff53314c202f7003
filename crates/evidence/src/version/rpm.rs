//! RPM version ordering: `[epoch:]version[-release]`, each part compared with `rpmvercmp`
//! (alphanumeric segments; numbers by value and newer than letters; `~` sorts before
//! anything, `^` after the end but before anything else; other characters only separate).

use std::cmp::Ordering;

use super::{all_digits, cmp_digits};

/// rpm's `rpmvercmp`.
pub fn rpmvercmp(a: &str, b: &str) -> Ordering {
    use Ordering::*;
    if a == b {
        return Equal;
    }
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0usize, 0usize);
    let sep = |c: &u8| !c.is_ascii_alphanumeric() && *c != b'~' && *c != b'^';
    loop {
        while a.get(i).is_some_and(sep) {
            i += 1;
        }
        while b.get(j).is_some_and(sep) {
            j += 1;
        }
        let (ca, cb) = (a.get(i).copied(), b.get(j).copied());
        if ca == Some(b'~') || cb == Some(b'~') {
            if ca != Some(b'~') {
                return Greater;
            }
            if cb != Some(b'~') {
                return Less;
            }
            i += 1;
            j += 1;
            continue;
        }
        if ca == Some(b'^') || cb == Some(b'^') {
            if ca.is_none() {
                return Less;
            }
            if cb.is_none() {
                return Greater;
            }
            if ca != Some(b'^') {
                return Greater;
            }
            if cb != Some(b'^') {
                return Less;
            }
            i += 1;
            j += 1;
            continue;
        }
        let (Some(ca), Some(_)) = (ca, cb) else {
            break;
        };
        let numeric = ca.is_ascii_digit();
        let take = |s: &'_ [u8], from: usize| -> (String, usize) {
            let run = s.get(from..).unwrap_or_default();
            let n = run
                .iter()
                .take_while(|c| {
                    if numeric {
                        c.is_ascii_digit()
                    } else {
                        c.is_ascii_alphabetic()
                    }
                })
                .count();
            (
                String::from_utf8_lossy(run.get(..n).unwrap_or_default()).into_owned(),
                n,
            )
        };
        let (sa, na) = take(a, i);
        let (sb, nb) = take(b, j);
        if nb == 0 {
            // Segments of different kinds: a number is newer than letters.
            return if numeric { Greater } else { Less };
        }
        let r = if numeric {
            cmp_digits(&sa, &sb)
        } else {
            sa.cmp(&sb)
        };
        if r != Equal {
            return r;
        }
        i += na;
        j += nb;
    }
    match (i < a.len(), j < b.len()) {
        (false, false) => Equal,
        (true, _) => Greater,
        (false, true) => Less,
    }
}

/// `(epoch, version, release)`; a missing epoch is 0, a missing release is empty.
pub fn split(s: &str) -> (&str, &str, &str) {
    let s = s.trim();
    let (epoch, rest) = match s.split_once(':') {
        Some((e, r)) if all_digits(e) => (e, r),
        _ => ("0", s),
    };
    match rest.rsplit_once('-') {
        Some((v, r)) => (epoch, v, r),
        None => (epoch, rest, ""),
    }
}

pub fn compare(a: &str, b: &str) -> Ordering {
    let (ea, va, ra) = split(a);
    let (eb, vb, rb) = split(b);
    cmp_digits(ea, eb)
        .then_with(|| rpmvercmp(va, vb))
        .then_with(|| rpmvercmp(ra, rb))
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    #[test]
    fn rpmvercmp_cases() {
        // From rpm's own test suite (tests/rpmvercmp.at).
        for (a, b, want) in [
            ("1.0", "1.0", Equal),
            ("1.0", "2.0", Less),
            ("2.0.1", "2.0.1a", Less),
            ("5.5p1", "5.5p10", Less),
            ("10xyz", "10.1xyz", Less),
            ("xyz10", "xyz10.1", Less),
            ("1.0", "1.0a", Less),
            ("10.0001", "10.1", Equal),
            ("2.0a", "2.0", Greater),
            ("a", "1", Less),
            ("1.0~rc1", "1.0", Less),
            ("1.0~rc1", "1.0~rc2", Less),
            ("1.0^", "1.0", Greater),
            ("1.0^git1", "1.0.1", Less),
            ("1.0^git1~pre", "1.0^git1", Less),
            ("1_0", "1.0", Equal),
        ] {
            assert_eq!(rpmvercmp(a, b), want, "{a} vs {b}");
        }
        assert_eq!(compare("1:1.0-1", "2.0-1"), Greater);
        assert_eq!(compare("1.0-1.el8", "1.0-2.el8"), Less);
    }
}
