//! Text logs that cannot be forged: every control character a logged value carries (a line
//! feed, a carriage return, an escape sequence) is written as an escape (`\n`, `\r`,
//! `\u{1b}`), so one event is one line whatever a caller put in an environment name, a
//! pipeline or an error message. Only the line feed that ends an event is kept. (JSON logs
//! escape them already.)

use std::io::{self, Write};

/// A writer for one formatted event at a time (tracing-subscriber's fmt layer writes each
/// event with one `write_all` of its whole line): control characters are escaped, except the
/// event's final line feed.
#[derive(Debug)]
pub struct EscapeControl<W>(pub W);

impl<W: Write> Write for EscapeControl<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let (body, end) = match buf.split_last() {
            Some((b'\n', body)) => (body, true),
            _ => (buf, false),
        };
        self.0.write_all(escape_control(body).as_bytes())?;
        if end {
            self.0.write_all(b"\n")?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

/// `bytes` (UTF-8, lossily) with every control character escaped: `\n`, `\r`, `\t` by name,
/// the others as `\u{XX}`.
pub fn escape_control(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    if !text.chars().any(char::is_control) {
        return text.into_owned();
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            c => out.push(c),
        }
    }
    out
}

/// Standard error, escaped: the writer `portcullis serve --log-format text` logs to.
pub fn stderr() -> EscapeControl<io::Stderr> {
    EscapeControl(io::stderr())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_event_stays_one_line() {
        let mut out = EscapeControl(Vec::new());
        out.write_all(b"INFO decision environment=prod\nINFO forged=1\r\x1b[2J\n")
            .unwrap_or_default();
        let text = String::from_utf8(out.0).unwrap_or_default();
        assert_eq!(
            text,
            "INFO decision environment=prod\\nINFO forged=1\\r\\u{1b}[2J\n"
        );
    }
}
