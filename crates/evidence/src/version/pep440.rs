//! PEP 440 versions: `[N!]N(.N)*[{a|b|rc}N][.postN][.devN][+local]`, with the spec's
//! normalizations (case, `alpha`/`beta`/`c`/`pre`/`preview` spellings, `-`/`_`/`.` separators,
//! implicit numbers, `1.0-1` as a post release, a leading `v`).

use std::cmp::Ordering;

use super::{Num, with_fallback};

/// A local version segment: letters sort before numbers.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Local {
    Alpha(String),
    Num(Num),
}

/// Sort key in the order packaging's `_cmpkey` uses.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version {
    epoch: Num,
    release: Vec<Num>,
    /// (0 = dev-only release sorting before all prereleases, 1 = a, 2 = b, 3 = rc, 4 = none)
    pre: (u8, Num),
    /// `None` sorts before any post release.
    post: Option<Num>,
    /// (0 = dev release, 1 = none)
    dev: (u8, Num),
    /// `None` sorts before any local version.
    local: Option<Vec<Local>>,
}

struct Cursor<'a> {
    s: &'a str,
}

impl<'a> Cursor<'a> {
    fn eat(&mut self, word: &str) -> bool {
        match self.s.strip_prefix(word) {
            Some(rest) => {
                self.s = rest;
                true
            }
            None => false,
        }
    }
    fn eat_sep(&mut self) -> bool {
        self.eat(".") || self.eat("-") || self.eat("_")
    }
    fn number(&mut self) -> Option<&'a str> {
        let n = self.s.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return None;
        }
        let (d, rest) = self.s.split_at(n);
        self.s = rest;
        Some(d)
    }
    /// An optional separator, then one of `words`; restores the position when none matches.
    fn label(&mut self, words: &[&str]) -> Option<usize> {
        let save = self.s;
        self.eat_sep();
        for (i, w) in words.iter().enumerate() {
            if self.eat(w) {
                return Some(i);
            }
        }
        self.s = save;
        None
    }
    /// The optional number after a label, possibly behind a separator.
    fn label_number(&mut self) -> Num {
        let save = self.s;
        self.eat_sep();
        match self.number() {
            Some(d) => Num::new(d),
            None => {
                self.s = save;
                Num::new("0")
            }
        }
    }
}

pub fn parse(input: &str) -> Option<Version> {
    let lower = input.trim().to_ascii_lowercase();
    let mut c = Cursor {
        s: lower.strip_prefix('v').unwrap_or(&lower),
    };
    let first = c.number()?;
    let (epoch, first) = if c.eat("!") {
        (Num::new(first), c.number()?)
    } else {
        (Num::new("0"), first)
    };
    let mut release = vec![Num::new(first)];
    loop {
        let save = c.s;
        if c.eat(".")
            && let Some(d) = c.number()
        {
            release.push(Num::new(d));
            continue;
        }
        c.s = save;
        break;
    }
    while release.last().is_some_and(Num::is_zero) {
        release.pop();
    }
    // Longest spellings first so `alpha` is not read as `a` + garbage.
    let pre_words = ["alpha", "beta", "preview", "pre", "rc", "a", "b", "c"];
    let pre = c.label(&pre_words).map(|i| {
        let rank = match pre_words.get(i).copied() {
            Some("alpha" | "a") => 1,
            Some("beta" | "b") => 2,
            _ => 3,
        };
        (rank, c.label_number())
    });
    let post = {
        let save = c.s;
        if c.eat("-")
            && let Some(d) = c.number()
        {
            Some(Num::new(d))
        } else {
            c.s = save;
            c.label(&["post", "rev", "r"]).map(|_| c.label_number())
        }
    };
    let dev = c.label(&["dev"]).map(|_| c.label_number());
    let local = if c.eat("+") {
        let segs: Vec<&str> = c.s.split(['.', '-', '_']).collect();
        if segs
            .iter()
            .any(|s| s.is_empty() || !s.bytes().all(|b| b.is_ascii_alphanumeric()))
        {
            return None;
        }
        c.s = "";
        Some(
            segs.iter()
                .map(|s| {
                    if s.bytes().all(|b| b.is_ascii_digit()) {
                        Local::Num(Num::new(s))
                    } else {
                        Local::Alpha(s.to_string())
                    }
                })
                .collect(),
        )
    } else {
        None
    };
    if !c.s.is_empty() {
        return None;
    }
    let pre = match (pre, &post, &dev) {
        (Some(p), _, _) => p,
        // A dev release of a final version sorts before its prereleases: 1.0.dev0 < 1.0a0.
        (None, None, Some(_)) => (0, Num::new("0")),
        (None, _, _) => (4, Num::new("0")),
    };
    let dev = match dev {
        Some(n) => (0, n),
        None => (1, Num::new("0")),
    };
    Some(Version {
        epoch,
        release,
        pre,
        post,
        dev,
        local,
    })
}

pub fn compare(a: &str, b: &str) -> Ordering {
    with_fallback(a, b, parse)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    #[test]
    fn normalizations_are_equal() {
        for (a, b) in [
            ("1.0a1", "1.0.0a1"),
            ("1.0-1", "1.0.post1"),
            ("1.0ALPHA1", "1.0a1"),
            ("1.0c1", "1.0rc1"),
            ("1.0-pre.2", "1.0rc2"),
            ("1.0.post", "1.0.post0"),
            ("1.0-r4", "1.0.post4"),
            ("1.0dev", "1.0.dev0"),
            ("v1.0", "1.0"),
            ("0!1.0", "1.0"),
            ("1.0+ubuntu-1", "1.0+ubuntu.1"),
        ] {
            assert_eq!(compare(a, b), Equal, "{a} == {b}");
        }
    }

    #[test]
    fn pre_post_dev_local() {
        let order = [
            "1.0.dev0",
            "1.0a1.dev1",
            "1.0a1",
            "1.0a1.post1",
            "1.0b1",
            "1.0rc1",
            "1.0",
            "1.0+abc",
            "1.0+5",
            "1.0.post1.dev1",
            "1.0.post1",
            "1!0.1",
        ];
        for w in order.windows(2) {
            assert_eq!(compare(w[0], w[1]), Less, "{} < {}", w[0], w[1]);
        }
        assert!(parse("1.0.x").is_none());
        assert!(parse("1.0+").is_none());
    }
}
