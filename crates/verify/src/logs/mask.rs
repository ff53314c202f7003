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

const PUNCT: &[u8] = b"()[]{},;:\"'<>.=!?";

fn trim_punct(t: &[u8]) -> &[u8] {
    let mut s = 0;
    let mut e = t.len();
    while s < e && t.get(s).is_some_and(|b| PUNCT.contains(b)) {
        s += 1;
    }
    while e > s && t.get(e - 1).is_some_and(|b| PUNCT.contains(b)) {
        e -= 1;
    }
    t.get(s..e).unwrap_or_default()
}

fn is_number(t: &[u8]) -> bool {
    let t = match t.first() {
        Some(b'-' | b'+') => t.get(1..).unwrap_or_default(),
        _ => t,
    };
    if t.is_empty() {
        return false;
    }
    let mut digits = 0;
    let mut dots = 0;
    for &b in t {
        match b {
            b'0'..=b'9' => digits += 1,
            b'.' | b',' => dots += 1,
            _ => return false,
        }
    }
    digits > 0
        && t.first().is_some_and(u8::is_ascii_digit)
        && (dots == 0 || t.last().is_some_and(u8::is_ascii_digit))
}

/// Dates and times: digits with `-`, `:`, `.`, `,`, `/`, `T`, `Z`, `+` between them
/// (`2026-11-28T10:30:00Z`, `10:30:00.123`, `2026/11/28`).
fn is_timestamp(t: &[u8]) -> bool {
    let digits = t.iter().filter(|b| b.is_ascii_digit()).count();
    digits >= 4
        && t.first().is_some_and(u8::is_ascii_digit)
        && t.iter()
            .all(|&b| b.is_ascii_digit() || b"-:.,/TZ+".contains(&b))
        && t.iter().any(|&b| b"-:/".contains(&b))
}

fn is_hex(t: &[u8]) -> bool {
    if let Some(rest) = t.strip_prefix(b"0x").or_else(|| t.strip_prefix(b"0X")) {
        return !rest.is_empty() && rest.iter().all(u8::is_ascii_hexdigit);
    }
    t.len() >= 8 && t.iter().all(u8::is_ascii_hexdigit) && t.iter().any(u8::is_ascii_digit)
}

fn is_ip(t: &[u8]) -> bool {
    let colons = t.iter().filter(|&&b| b == b':').count();
    if colons >= 2 {
        return t.iter().all(|&b| b.is_ascii_hexdigit() || b == b':')
            && t.iter().any(u8::is_ascii_digit);
    }
    // a.b.c.d, optionally :port; or an IPv6-ish run of hex and colons with at least 2 colons.
    let (addr, port) = match t.iter().rposition(|&b| b == b':') {
        Some(i) if t.iter().filter(|&&b| b == b':').count() == 1 => {
            (t.get(..i).unwrap_or_default(), t.get(i + 1..))
        }
        _ => (t, None),
    };
    if let Some(p) = port
        && (p.is_empty() || !p.iter().all(u8::is_ascii_digit))
    {
        return false;
    }
    let mut parts = 0;
    for part in addr.split(|&b| b == b'.') {
        if part.is_empty() || part.len() > 3 || !part.iter().all(u8::is_ascii_digit) {
            return false;
        }
        parts += 1;
    }
    parts == 4
}

fn is_uuid(t: &[u8]) -> bool {
    t.len() == 36
        && t.iter().enumerate().all(|(i, &b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

fn is_path(t: &[u8]) -> bool {
    let slashes = t.iter().filter(|&&b| b == b'/').count();
    (t.first() == Some(&b'/') && slashes >= 2 && t.len() > 2)
        || t.starts_with(b"./")
        || t.starts_with(b"~/")
        || (t.len() > 3 && t.get(1) == Some(&b':') && t.get(2) == Some(&b'\\'))
}

impl Masking {
    fn whole(&self, core: &[u8]) -> bool {
        (self.numbers && (is_number(core) || is_timestamp(core)))
            || (self.ips && is_ip(core))
            || (self.uuids && is_uuid(core))
            || (self.hex && is_hex(core))
            || (self.paths && is_path(core))
            || (self.ips && core.first() == Some(&b'/') && is_ip(core.get(1..).unwrap_or_default()))
    }

    /// Classify `token`; for [`Masked::Rewritten`] the new token is left in `buf`.
    pub fn apply(&self, token: &[u8], buf: &mut Vec<u8>) -> Masked {
        // Fast exit: a token without digits, '/' or ':' cannot be variable.
        let interesting = token
            .iter()
            .any(|&b| b.is_ascii_digit() || b == b'/' || b == b':');
        if !interesting {
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
