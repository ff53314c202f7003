//! Maven `ComparableVersion` ordering.
//!
//! A version is split on `.`, `-` and digit/letter transitions into items: integers, strings
//! (qualifiers) and sub-lists (opened by `-` and by digit/letter transitions). Known qualifiers
//! order `alpha < beta < milestone < rc = cr < snapshot < "" = ga = final = release < sp`;
//! unknown qualifiers sort after them, lexically; `a1`/`b1`/`m1` are `alpha-1`/`beta-1`/
//! `milestone-1`. Trailing "null" items (0, the empty qualifier, empty lists) are dropped, so
//! `1` == `1.0` == `1.0.0` == `1-final`.
//!
//! This is the algorithm as the vers-spec Maven test file expects it (Maven before 3.9, which
//! reads a trailing `.X` as `-X`; the 3.9 reading fails 6 of its 977 cases).
//! Maven's order is not transitive everywhere, and neither is this faithful copy: a qualifier
//! after a dot (`1.x`) sorts below any sub-list (`1-snapshot`) yet above the end of a shorter
//! version (`1`), while `1-snapshot < 1`: a cycle. Comparisons among ordinary versions (numbers,
//! `-qualifier`, `-N`) are transitive.

use std::cmp::Ordering;

use super::Num;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    Int(Num),
    /// The qualifier's comparable form: its rank `0`..`6`, or `7-<qualifier>` when unknown.
    Str(String),
    List(Vec<Item>),
}

const QUALIFIERS: [&str; 7] = ["alpha", "beta", "milestone", "rc", "snapshot", "", "sp"];
const RELEASE: &str = "5";

fn qualifier(value: &str, followed_by_digit: bool) -> Item {
    let value = match (followed_by_digit, value) {
        (true, "a") => "alpha",
        (true, "b") => "beta",
        (true, "m") => "milestone",
        (_, "ga" | "final" | "release") => "",
        (_, "cr") => "rc",
        (_, v) => v,
    };
    let comparable = match QUALIFIERS.iter().position(|q| *q == value) {
        Some(i) => i.to_string(),
        None => format!("{}-{value}", QUALIFIERS.len()),
    };
    Item::Str(comparable)
}

impl Item {
    fn is_null(&self) -> bool {
        match self {
            Item::Int(n) => n.is_zero(),
            Item::Str(s) => s == RELEASE,
            Item::List(l) => l.is_empty(),
        }
    }

    /// `other == None` is the padding of a shorter list.
    fn compare(&self, other: Option<&Item>) -> Ordering {
        use Ordering::*;
        match (self, other) {
            (Item::Int(n), None) => {
                if n.is_zero() {
                    Equal
                } else {
                    Greater
                }
            }
            (Item::Int(a), Some(Item::Int(b))) => a.cmp(b),
            (Item::Int(_), Some(_)) => Greater,
            (Item::Str(s), None) => s.as_str().cmp(RELEASE),
            (Item::Str(_), Some(Item::Int(_) | Item::List(_))) => Less,
            (Item::Str(a), Some(Item::Str(b))) => a.cmp(b),
            (Item::List(l), None) => match l.first() {
                None => Equal,
                Some(first) => first.compare(None),
            },
            (Item::List(_), Some(Item::Int(_))) => Less,
            (Item::List(_), Some(Item::Str(_))) => Greater,
            (Item::List(a), Some(Item::List(b))) => compare_lists(a, b),
        }
    }
}

fn compare_lists(a: &[Item], b: &[Item]) -> Ordering {
    let n = a.len().max(b.len());
    for i in 0..n {
        let r = match (a.get(i), b.get(i)) {
            (Some(l), r) => l.compare(r),
            (None, Some(r)) => r.compare(None).reverse(),
            (None, None) => Ordering::Equal,
        };
        if r != Ordering::Equal {
            return r;
        }
    }
    Ordering::Equal
}

/// Drop trailing null items; a sub-list does not stop the scan (it is skipped over).
fn normalize(list: &mut Vec<Item>) {
    let mut i = list.len();
    while i > 0 {
        i -= 1;
        let Some(item) = list.get(i) else { break };
        if item.is_null() {
            list.remove(i);
        } else if !matches!(item, Item::List(_)) {
            break;
        }
    }
}

fn parse_item(is_digit: bool, buf: &str) -> Item {
    if is_digit {
        Item::Int(Num::new(buf))
    } else {
        qualifier(buf, false)
    }
}

/// The parsed item list of a version.
fn parse(version: &str) -> Vec<Item> {
    let v = version.to_lowercase();
    // Each level is a list being filled; a new level is pushed where the Java code nests a
    // new ListItem, and folded into its parent at the end.
    let mut stack: Vec<Vec<Item>> = vec![Vec::new()];
    let mut is_digit = false;
    let mut start = 0usize;
    let chars: Vec<(usize, char)> = v.char_indices().collect();
    let sub = |from: usize, to: usize| v.get(from..to).unwrap_or_default().to_string();
    for &(i, c) in &chars {
        if c == '.' {
            let item = if i == start {
                Item::Int(Num::new("0"))
            } else {
                parse_item(is_digit, &sub(start, i))
            };
            push(&mut stack, item);
            start = i + 1;
        } else if c == '-' {
            let item = if i == start {
                Item::Int(Num::new("0"))
            } else {
                parse_item(is_digit, &sub(start, i))
            };
            push(&mut stack, item);
            start = i + 1;
            stack.push(Vec::new());
        } else if c.is_ascii_digit() {
            if !is_digit && i > start {
                push(&mut stack, qualifier(&sub(start, i), true));
                start = i;
                stack.push(Vec::new());
            }
            is_digit = true;
        } else {
            if is_digit && i > start {
                push(&mut stack, parse_item(true, &sub(start, i)));
                start = i;
                stack.push(Vec::new());
            }
            is_digit = false;
        }
    }
    if v.len() > start {
        push(&mut stack, parse_item(is_digit, &sub(start, v.len())));
    }
    // Close the nested lists innermost first, normalizing each as the Java code does.
    while stack.len() > 1 {
        let Some(mut inner) = stack.pop() else { break };
        normalize(&mut inner);
        push(&mut stack, Item::List(inner));
    }
    let mut top = stack.pop().unwrap_or_default();
    normalize(&mut top);
    top
}

fn push(stack: &mut [Vec<Item>], item: Item) {
    if let Some(last) = stack.last_mut() {
        last.push(item);
    }
}

pub fn compare(a: &str, b: &str) -> Ordering {
    compare_lists(&parse(a), &parse(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    #[test]
    fn qualifiers_in_order() {
        let order = [
            "1-alpha",
            "1-beta",
            "1-milestone",
            "1-rc",
            "1-snapshot",
            "1",
            "1-sp",
            "1-abc",
            "1-1",
            "1.1",
        ];
        for w in order.windows(2) {
            assert_eq!(compare(w[0], w[1]), Less, "{} < {}", w[0], w[1]);
        }
    }

    #[test]
    fn equalities() {
        for (a, b) in [
            ("1", "1.0.0"),
            ("1-ga", "1"),
            ("1.0-final", "1"),
            ("1-release", "1"),
            ("1a1", "1-alpha-1"),
            ("1-cr1", "1-rc-1"),
            ("1.0.0a", "1-a"),
            ("1-0", "1"),
        ] {
            assert_eq!(compare(a, b), Equal, "{a} == {b}");
        }
        assert_eq!(compare("2.0-beta9", "2.3.1"), Less);
        assert_eq!(compare("2.12.1", "2.12.2"), Less);
    }
}
