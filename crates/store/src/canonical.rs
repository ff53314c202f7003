//! Canonical JSON (RFC 8785, JSON Canonicalization Scheme) of a `serde_json::Value`: the bytes
//! an audit entry's digest is taken over, so that the same body always hashes the same.
//!
//! Written by hand: the JCS crates on crates.io are unmaintained, and the subset we need (object
//! keys sorted by UTF-16 code units, minimal string escapes, no whitespace, ECMAScript number
//! form) is small. Numbers: integers as written; other numbers as ECMAScript's
//! `Number.prototype.toString` writes them, built from Rust's shortest round-trip digits.

use serde_json::Value;

/// Why a value has no canonical form here.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("canonical JSON: {0}")]
pub struct CanonicalError(pub String);

/// The canonical bytes of `value`.
pub fn to_vec(value: &Value) -> Result<Vec<u8>, CanonicalError> {
    let mut out = Vec::new();
    write(value, &mut out)?;
    Ok(out)
}

fn write(value: &Value, out: &mut Vec<u8>) -> Result<(), CanonicalError> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => write_number(n, out)?,
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write(v, out)?;
            }
            out.push(b']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            // JCS orders keys by their UTF-16 code units, not by UTF-8 bytes.
            keys.sort_by(|a, b| a.encode_utf16().cmp(b.encode_utf16()));
            out.push(b'{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(k, out);
                out.push(b':');
                if let Some(v) = map.get(k) {
                    write(v, out)?;
                }
            }
            out.push(b'}');
        }
    }
    Ok(())
}

fn write_number(n: &serde_json::Number, out: &mut Vec<u8>) -> Result<(), CanonicalError> {
    if let Some(i) = n.as_i64() {
        out.extend_from_slice(i.to_string().as_bytes());
        return Ok(());
    }
    if let Some(u) = n.as_u64() {
        out.extend_from_slice(u.to_string().as_bytes());
        return Ok(());
    }
    let f = n
        .as_f64()
        .filter(|f| f.is_finite())
        .ok_or_else(|| CanonicalError(format!("{n} is not a finite number")))?;
    out.extend_from_slice(ecmascript(f).as_bytes());
    Ok(())
}

/// ECMAScript's Number::toString of a finite `f`, from Rust's shortest round-trip digits.
fn ecmascript(f: f64) -> String {
    if f == 0.0 {
        return "0".into();
    }
    let sign = if f < 0.0 { "-" } else { "" };
    // `{:e}` gives the shortest digits that round-trip: `d.ddddde±x`.
    let sci = format!("{:e}", f.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let k = digits.len() as i64;
    // value = 0.digits × 10^n
    let n = exp.parse::<i64>().unwrap_or(0) + 1;
    let body = if k <= n && n <= 21 {
        format!("{digits}{}", "0".repeat((n - k) as usize))
    } else if 0 < n && n <= 21 {
        let (int, frac) = digits.split_at(n as usize);
        format!("{int}.{frac}")
    } else if -6 < n && n <= 0 {
        format!("0.{}{digits}", "0".repeat((-n) as usize))
    } else {
        let (first, rest) = digits.split_at(1);
        let e = n - 1;
        let frac = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        format!("{first}{frac}e{}{}", if e < 0 { "-" } else { "+" }, e.abs())
    };
    format!("{sign}{body}")
}

fn write_string(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    for c in s.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\u{8}' => out.extend_from_slice(b"\\b"),
            '\u{c}' => out.extend_from_slice(b"\\f"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            c if (c as u32) < 0x20 => {
                out.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes())
            }
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn canon(v: Value) -> String {
        String::from_utf8(to_vec(&v).unwrap()).unwrap()
    }

    #[test]
    fn keys_sorted_no_whitespace_minimal_escapes() {
        assert_eq!(
            canon(json!({"b": [1, true, null], "a": {"d": "x\ny\u{1}\"", "c": "é€"}})),
            "{\"a\":{\"c\":\"é€\",\"d\":\"x\\ny\\u0001\\\"\"},\"b\":[1,true,null]}"
        );
    }

    #[test]
    fn keys_sort_by_utf16_code_units() {
        // U+1F600 (surrogates D83D..) sorts before U+FB01 in UTF-16 although after it in UTF-8.
        assert_eq!(
            canon(json!({"\u{fb01}": 1, "\u{1f600}": 2})),
            "{\"\u{1f600}\":2,\"\u{fb01}\":1}"
        );
    }

    #[test]
    fn numbers_in_ecmascript_form() {
        // Expected strings as ECMAScript's Number.prototype.toString writes these values (the
        // RFC 8785 appendix gives the same for its samples).
        for (f, want) in [
            (9.8, "9.8"),
            (10.0, "10"),
            (-0.5, "-0.5"),
            (1e20, "100000000000000000000"),
            (1e21, "1e+21"),
            (0.000001, "0.000001"),
            (1e-7, "1e-7"),
            (123456789012345680000.0, "123456789012345680000"),
            (5e-324, "5e-324"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (333333333.3333333, "333333333.3333333"),
            (-1e-7, "-1e-7"),
        ] {
            assert_eq!(ecmascript(f), want, "{f:e}");
        }
        assert_eq!(canon(json!([1.5, 2, -3])), "[1.5,2,-3]");
    }

    #[test]
    fn canonical_bytes_read_back_as_the_same_value_and_are_a_fixed_point() {
        // serde_json's maps are sorted already, so the order a value was written in cannot
        // matter here; what can go wrong is escaping and number forms that do not read back
        // (-0 is written 0, as JCS says, so it is left out).
        let v: Value = serde_json::from_str(
            r#"{"z": [1, 2.5, -1, 1e21, 1e-7, 123456789012345678], "é\u0000\n": "\u001f\"\\/",
               "€": {"\ud83d\ude00": null, "": true}, "a": [[], {}, ""]}"#,
        )
        .unwrap();
        let bytes = to_vec(&v).unwrap();
        let back: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(back, v, "{}", String::from_utf8_lossy(&bytes));
        assert_eq!(to_vec(&back).unwrap(), bytes);
    }
}
