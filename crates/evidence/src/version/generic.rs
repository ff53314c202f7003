//! The fallback scheme: runs of digits compare by value, runs of letters by (lower-case) code
//! points, a letter run sorts before a number, and a shorter sequence before a longer one it
//! prefixes. Everything else separates runs and is otherwise ignored.

use std::cmp::Ordering;

use super::Num;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Run {
    Alpha(String),
    Num(Num),
}

fn runs(s: &str) -> Vec<Run> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut digit = false;
    for c in s.chars() {
        let is_digit = c.is_ascii_digit();
        let is_alpha = c.is_alphabetic();
        if !is_digit && !is_alpha {
            flush(&mut out, &mut cur, digit);
            continue;
        }
        if !cur.is_empty() && is_digit != digit {
            flush(&mut out, &mut cur, digit);
        }
        digit = is_digit;
        cur.extend(c.to_lowercase());
    }
    flush(&mut out, &mut cur, digit);
    out
}

fn flush(out: &mut Vec<Run>, cur: &mut String, digit: bool) {
    if cur.is_empty() {
        return;
    }
    let s = std::mem::take(cur);
    out.push(if digit {
        Run::Num(Num::new(&s))
    } else {
        Run::Alpha(s)
    });
}

pub fn compare(a: &str, b: &str) -> Ordering {
    runs(a).cmp(&runs(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generic_order() {
        assert_eq!(compare("1.10", "1.9"), Ordering::Greater);
        assert_eq!(compare("1.0", "1.0.1"), Ordering::Less);
        assert_eq!(compare("1.0rc1", "1.0.1"), Ordering::Less);
        assert_eq!(compare("1-0", "1.0"), Ordering::Equal);
        assert_eq!(compare("", "0"), Ordering::Less);
    }
}
