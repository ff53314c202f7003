//! Masking of variable tokens (numbers, IP addresses, hex, UUIDs, paths), hand-written for
//! speed: one pass over the bytes of a token, no regex on the hot path.

use serde::{Deserialize, Serialize};

/// Which kinds of variable tokens become `<*>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Masking {
    pub numbers: bool,
    pub ips: bool,
    pub hex: bool,
    pub uuids: bool,
    pub paths: bool,
    /// Also mask runs of digits inside other tokens (`blk_123` → `blk_<*>`).
    pub digit_runs: bool,
    /// `key=value` tokens: mask the value when it is one of the kinds above.
    pub key_values: bool,
}

impl Default for Masking {
    fn default() -> Self {
        Self {
            numbers: true,
            ips: true,
            hex: true,
            uuids: true,
            paths: true,
            digit_runs: false,
            key_values: true,
        }
    }
}

/// What masking did to a token.
#[derive(Debug, PartialEq, Eq)]
pub enum Masked {
    /// The token stays as it is.
    Keep,
    /// The whole token is variable.
    Wildcard,
    /// Part of the token is variable: the rewritten token (with `<*>`) is in the buffer.
    Rewritten,
}

/// Punctuation trimmed from both ends of a token before classifying it.
// A u8 indexes a 256-entry table; `get_mut` is not usable in a const fn.
#[allow(clippy::indexing_slicing)]
const fn punct_table() -> [bool; 256] {
    let mut t = [false; 256];
    let p = b"()[]{},;:\"'<>.=!?";
    let mut i = 0;
    while i < p.len() {
        t[p[i] as usize] = true;
        i += 1;
    }
    t
}

static PUNCT: [bool; 256] = punct_table();

fn is_punct(b: u8) -> bool {
    PUNCT.get(usize::from(b)).copied().unwrap_or(false)
}

// Byte classes, one table lookup per byte.
const DIGIT: u16 = 1;
const HEX_LETTER: u16 = 1 << 1;
const LETTER: u16 = 1 << 2; // any ASCII letter (hex letters too)
const DOT: u16 = 1 << 3;
const COLON: u16 = 1 << 4;
const SLASH: u16 = 1 << 5;
const DASH: u16 = 1 << 6;
const COMMA: u16 = 1 << 7;
const PLUS: u16 = 1 << 8;
const TZ: u16 = 1 << 9; // `T` or `Z` (in timestamps; not counted as letters)
const OTHER: u16 = 1 << 10;

// A loop below 256 indexes a 256-entry table; `get_mut` is not usable in a const fn.
#[allow(clippy::indexing_slicing)]
const fn class_table() -> [u16; 256] {
    let mut t = [OTHER; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = match c {
            b'0'..=b'9' => DIGIT,
            b'a'..=b'f' | b'A'..=b'F' => HEX_LETTER | LETTER,
            b'T' | b'Z' => TZ,
            b'g'..=b'z' | b'G'..=b'Y' => LETTER,
            b'.' => DOT,
            b':' => COLON,
            b'/' => SLASH,
            b'-' => DASH,
            b',' => COMMA,
            b'+' => PLUS,
            _ => OTHER,
        };
        b += 1;
    }
    t
}

static CLASS: [u16; 256] = class_table();

/// The classes a token is made of, and a few counts, from one pass over its bytes.
#[derive(Default)]
struct Shape {
    any: u16,
    digits: usize,
    dots: usize,
    colons: usize,
    slashes: usize,
    dashes: usize,
}

fn shape(t: &[u8]) -> Shape {
    let mut s = Shape::default();
    for &b in t {
        let c = CLASS.get(usize::from(b)).copied().unwrap_or(OTHER);
        s.any |= c;
        s.digits += usize::from(c == DIGIT);
        s.dots += usize::from(c == DOT);
        s.colons += usize::from(c == COLON);
        s.slashes += usize::from(c == SLASH);
        s.dashes += usize::from(c == DASH);
    }
    s
}

/// Only classes within `allowed`.
fn only(s: &Shape, allowed: u16) -> bool {
    s.any & !allowed == 0
}

fn trim_punct(t: &[u8]) -> &[u8] {
    let mut s = 0;
    let mut e = t.len();
    while s < e && t.get(s).is_some_and(|&b| is_punct(b)) {
        s += 1;
    }
    while e > s && t.get(e - 1).is_some_and(|&b| is_punct(b)) {
        e -= 1;
    }
    t.get(s..e).unwrap_or_default()
}

fn is_number(t: &[u8], s: &Shape) -> bool {
    let signed = matches!(t.first(), Some(b'-' | b'+'));
    let body = if signed {
        t.get(1..).unwrap_or_default()
    } else {
        t
    };
    let allowed = DIGIT | DOT | COMMA | if signed { DASH | PLUS } else { 0 };
    s.digits > 0
        && only(s, allowed)
        && s.dashes <= usize::from(signed)
        && body.first().is_some_and(u8::is_ascii_digit)
        && body.last().is_some_and(u8::is_ascii_digit)
}

/// Dates and times: digits with `-`, `:`, `.`, `,`, `/`, `T`, `Z`, `+` between them
/// (`2026-11-28T10:30:00Z`, `10:30:00.123`, `2026/11/28`).
fn is_timestamp(t: &[u8], s: &Shape) -> bool {
    s.digits >= 4
        && t.first().is_some_and(u8::is_ascii_digit)
        && only(s, DIGIT | DASH | COLON | DOT | COMMA | SLASH | TZ | PLUS)
        && s.dashes + s.colons + s.slashes > 0
}

fn is_hex(t: &[u8], s: &Shape) -> bool {
    if let Some(rest) = t.strip_prefix(b"0x").or_else(|| t.strip_prefix(b"0X")) {
        return !rest.is_empty() && rest.iter().all(u8::is_ascii_hexdigit);
    }
    t.len() >= 8
        && s.digits > 0
        && only(s, DIGIT | HEX_LETTER | LETTER)
        && t.iter().all(u8::is_ascii_hexdigit)
}

fn is_ipv4(t: &[u8], s: &Shape) -> bool {
    if !(s.dots == 3 && s.colons <= 1 && only(s, DIGIT | DOT | COLON)) {
        return false;
    }
    let (addr, port) = match t.iter().position(|&b| b == b':') {
        Some(i) => (t.get(..i).unwrap_or_default(), t.get(i + 1..)),
        None => (t, None),
    };
    if port.is_some_and(|p| p.is_empty() || p.contains(&b'.')) {
        return false;
    }
    addr.split(|&b| b == b'.')
        .all(|part| !part.is_empty() && part.len() <= 3 && !part.contains(&b':'))
}

fn is_ipv6(t: &[u8], s: &Shape) -> bool {
    s.colons >= 2
        && s.digits > 0
        && only(s, DIGIT | HEX_LETTER | LETTER | COLON)
        && t.iter().all(|&b| b.is_ascii_hexdigit() || b == b':')
}

fn is_uuid(t: &[u8], s: &Shape) -> bool {
    t.len() == 36
        && s.dashes == 4
        && t.iter().enumerate().all(|(i, &b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

fn is_path(t: &[u8], s: &Shape) -> bool {
    (t.first() == Some(&b'/') && s.slashes >= 2 && t.len() > 2)
        || t.starts_with(b"./")
        || t.starts_with(b"~/")
        || (t.len() > 3 && t.get(1) == Some(&b':') && t.get(2) == Some(&b'\\'))
}

impl Masking {
    fn whole(&self, core: &[u8]) -> bool {
        let s = shape(core);
        if s.digits == 0 && s.slashes == 0 {
            return false;
        }
        (self.numbers && (is_number(core, &s) || is_timestamp(core, &s)))
            || (self.ips && (is_ipv4(core, &s) || is_ipv6(core, &s)))
            || (self.uuids && is_uuid(core, &s))
            || (self.hex && is_hex(core, &s))
            || (self.paths && is_path(core, &s))
            || (self.ips
                && core.first() == Some(&b'/')
                && core
                    .get(1..)
                    .is_some_and(|rest| is_ipv4(rest, &shape(rest))))
    }

    /// Classify `token`; for [`Masked::Rewritten`] the new token is left in `buf`.
    pub fn apply(&self, token: &[u8], buf: &mut Vec<u8>) -> Masked {
        // Fast exit: a token without digits or '/' cannot be variable.
        if !token.iter().any(|&b| b.is_ascii_digit() || b == b'/') {
            return Masked::Keep;
        }
        let core = trim_punct(token);
        if !core.is_empty() && self.whole(core) {
            return Masked::Wildcard;
        }
        if self.key_values
            && let Some(i) = token.iter().position(|&b| b == b'=')
        {
            let value = trim_punct(token.get(i + 1..).unwrap_or_default());
            if !value.is_empty() && self.whole(value) {
                buf.clear();
                buf.extend_from_slice(token.get(..=i).unwrap_or_default());
                buf.extend_from_slice(b"<*>");
                return Masked::Rewritten;
            }
        }
        if self.digit_runs && token.iter().any(u8::is_ascii_digit) {
            buf.clear();
            let mut in_run = false;
            for &b in token {
                if b.is_ascii_digit() {
                    if !in_run {
                        buf.extend_from_slice(b"<*>");
                        in_run = true;
                    }
                } else {
                    in_run = false;
                    buf.push(b);
                }
            }
            if buf.as_slice() == b"<*>" {
                return Masked::Wildcard;
            }
            return Masked::Rewritten;
        }
        Masked::Keep
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mask(m: &Masking, t: &str) -> String {
        let mut buf = Vec::new();
        match m.apply(t.as_bytes(), &mut buf) {
            Masked::Keep => t.to_string(),
            Masked::Wildcard => "<*>".to_string(),
            Masked::Rewritten => String::from_utf8(buf).unwrap(),
        }
    }

    #[test]
    fn masks_the_usual_suspects() {
        let m = Masking::default();
        for (t, want) in [
            ("123", "<*>"),
            ("-4.5", "<*>"),
            ("(42)", "<*>"),
            ("10.0.0.1:8080", "<*>"),
            ("/10.250.19.102:54106", "<*>"),
            ("0xdeadbeef", "<*>"),
            ("3fa85f64-5717-4562-b3fc-2c963f66afa6", "<*>"),
            ("/var/log/app.log", "<*>"),
            ("pid=1234", "pid=<*>"),
            ("HTTP/1.1", "HTTP/1.1"),
            ("error", "error"),
            ("2026-11-28T10:30:00Z", "<*>"),
            ("10:30:00.123", "<*>"),
            ("blk_123", "blk_123"),
            ("fe80::1", "<*>"),
        ] {
            assert_eq!(mask(&m, t), want, "{t}");
        }
        let runs = Masking {
            digit_runs: true,
            ..Masking::default()
        };
        assert_eq!(mask(&runs, "blk_-123"), "blk_-<*>");
        assert_eq!(mask(&runs, "/10.250.19.102:54106"), "<*>");
        assert_eq!(mask(&runs, "core.2275"), "core.<*>");
    }
}
