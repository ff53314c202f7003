//! Alpine (apk-tools) version ordering: `digits{.digits}[letter]{_suffix[digits]}[-rN]`, with
//! suffixes `_alpha < _beta < _pre < _rc < (none) < _cvs < _svn < _git < _hg < _p`.
//!
//! Follows apk-tools' tokenizer: after a `.`, leading zeros make a number compare as a
//! fraction (`1.01 < 1.1`). Versions apk would reject sort first (see [`super`]).
//! One deliberate difference: a zero part followed by a suffix (`1.0_rc1`) is not given an
//! extra empty number token, so `1.0_rc1 < 1.0` as the suffix rules intend.

use std::cmp::Ordering;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Token {
    Invalid,
    DigitOrZero,
    Digit,
    Letter,
    Suffix,
    SuffixNo,
    RevisionNo,
    End,
}

const PRE: [&str; 4] = ["alpha", "beta", "pre", "rc"];
const POST: [&str; 5] = ["cvs", "svn", "git", "hg", "p"];

struct Tokens<'a> {
    s: &'a [u8],
    ty: Token,
}

impl Tokens<'_> {
    fn new(s: &str) -> Tokens<'_> {
        Tokens {
            s: s.as_bytes(),
            ty: Token::Digit,
        }
    }

    fn advance(&mut self, n: usize) {
        self.s = self.s.get(n..).unwrap_or_default();
    }

    fn next_type(&mut self) {
        let first = self.s.first().copied();
        let mut n = Token::Invalid;
        match first {
            None | Some(0) => n = Token::End,
            Some(c)
                if matches!(self.ty, Token::Digit | Token::DigitOrZero)
                    && c.is_ascii_lowercase() =>
            {
                n = Token::Letter
            }
            Some(c) if self.ty == Token::Letter && c.is_ascii_digit() => n = Token::Digit,
            Some(c) if self.ty == Token::Suffix && c.is_ascii_digit() => n = Token::SuffixNo,
            Some(c) => {
                match c {
                    b'.' => n = Token::DigitOrZero,
                    b'_' => n = Token::Suffix,
                    b'-' if self.s.get(1) == Some(&b'r') => {
                        n = Token::RevisionNo;
                        self.advance(1);
                    }
                    _ => {}
                }
                self.advance(1);
            }
        }
        if n < self.ty
            && !((n == Token::DigitOrZero && self.ty == Token::Digit)
                || (n == Token::Suffix && self.ty == Token::SuffixNo)
                || (n == Token::Digit && self.ty == Token::Letter))
        {
            n = Token::Invalid;
        }
        self.ty = n;
    }

    /// The value of the current token; moves on to the next one.
    fn value(&mut self) -> i64 {
        if self.s.is_empty() {
            self.ty = Token::End;
            return 0;
        }
        let mut v: i64 = 0;
        let mut i = 0usize;
        let mut next = None;
        let digits = |s: &[u8], i: &mut usize, v: &mut i64| {
            while let Some(c) = s.get(*i).filter(|c| c.is_ascii_digit()) {
                *v = v.saturating_mul(10).saturating_add(i64::from(c - b'0'));
                *i += 1;
            }
        };
        match self.ty {
            Token::DigitOrZero if self.s.first() == Some(&b'0') => {
                while self.s.get(i) == Some(&b'0') {
                    i += 1;
                }
                // apk-tools sets the next token to a number here even when none follows,
                // which makes `1.0_rc1` newer than `1.0`; we do so only before a digit.
                if self.s.get(i).is_some_and(u8::is_ascii_digit) {
                    next = Some(Token::Digit);
                }
                v = -(i64::try_from(i).unwrap_or(i64::MAX));
            }
            Token::DigitOrZero | Token::Digit | Token::SuffixNo | Token::RevisionNo => {
                digits(self.s, &mut i, &mut v)
            }
            Token::Letter => {
                v = i64::from(self.s.first().copied().unwrap_or(0));
                i = 1;
            }
            Token::Suffix => {
                if let Some((k, w)) = PRE
                    .iter()
                    .enumerate()
                    .find(|(_, w)| self.s.starts_with(w.as_bytes()))
                {
                    v = i64::try_from(k).unwrap_or(0) - 4;
                    i = w.len();
                } else if let Some((k, w)) = POST
                    .iter()
                    .enumerate()
                    .find(|(_, w)| self.s.starts_with(w.as_bytes()))
                {
                    v = i64::try_from(k).unwrap_or(0);
                    i = w.len();
                } else {
                    self.ty = Token::Invalid;
                    return -1;
                }
            }
            _ => {
                self.ty = Token::Invalid;
                return -1;
            }
        }
        self.advance(i);
        if self.s.is_empty() {
            self.ty = Token::End;
        } else if let Some(t) = next {
            self.ty = t;
        } else {
            self.next_type();
        }
        v
    }
}

/// apk's `apk_version_validate`.
pub fn is_valid(s: &str) -> bool {
    let mut t = Tokens::new(s);
    while t.ty != Token::End && t.ty != Token::Invalid {
        t.value();
    }
    t.ty == Token::End
}

/// apk's `apk_version_compare` on two valid versions.
fn compare_valid(a: &str, b: &str) -> Ordering {
    use Ordering::*;
    let (mut ta, mut tb) = (Tokens::new(a), Tokens::new(b));
    let (mut av, mut bv) = (0i64, 0i64);
    while ta.ty == tb.ty && ta.ty != Token::End && ta.ty != Token::Invalid && av == bv {
        av = ta.value();
        bv = tb.value();
    }
    if av != bv {
        return av.cmp(&bv);
    }
    if ta.ty == tb.ty {
        return Equal;
    }
    // Equal so far: the longer one is newer unless it continues with a prerelease suffix.
    if ta.ty == Token::Suffix && (Tokens { s: ta.s, ty: ta.ty }).value() < 0 {
        return Less;
    }
    if tb.ty == Token::Suffix && (Tokens { s: tb.s, ty: tb.ty }).value() < 0 {
        return Greater;
    }
    tb.ty.cmp(&ta.ty)
}

pub fn compare(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.trim(), b.trim());
    match (is_valid(a), is_valid(b)) {
        (true, true) => compare_valid(a, b),
        (false, true) => Ordering::Less,
        (true, false) => Ordering::Greater,
        (false, false) => super::generic::compare(a, b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    #[test]
    fn apk_order() {
        let order = [
            "1.0_alpha1",
            "1.0_beta",
            "1.0_pre2",
            "1.0_rc1",
            "1.0",
            "1.0-r1",
            "1.0_p1",
            "1.0a",
            "1.0.1",
            "1.1",
            "2",
        ];
        for w in order.windows(2) {
            assert_eq!(compare(w[0], w[1]), Less, "{} < {}", w[0], w[1]);
        }
        assert_eq!(compare("1.01", "1.1"), Less);
        assert!(!is_valid("1.0-foo"));
        assert!(!is_valid("1.0_foo"));
        assert!(is_valid("1.2.3_rc1_p2-r10"));
    }
}
