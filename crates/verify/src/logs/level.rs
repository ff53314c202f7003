//! The level a log line states in its format: the syslog priority (`<11>`, RFC 3164 and 5424),
//! a JSON level field (`level`, `severity`, `lvl`, `log.level`, …; names or bunyan/pino numbers),
//! logfmt `level=`, Python logging (`ERROR:root:`, `… - name - ERROR - …`), bracketed levels
//! (nginx `[error]`, Apache `[core:error]`, `[WARN]`), .NET console (`fail:`), glog (`E1204`),
//! or an upper-case level word among the first words (`2024-… ERROR [main] …`). Hand-written:
//! it runs once per event.

use serde::Deserialize;

use super::Level;

/// Level names, lower case.
const LEVEL_WORDS: [(&str, Level); 30] = [
    ("trace", Level::Info),
    ("debug", Level::Info),
    ("dbug", Level::Info),
    ("trce", Level::Info),
    ("info", Level::Info),
    ("information", Level::Info),
    ("informational", Level::Info),
    ("notice", Level::Info),
    ("verbose", Level::Info),
    ("fine", Level::Info),
    ("finer", Level::Info),
    ("finest", Level::Info),
    ("config", Level::Info),
    ("warn", Level::Warning),
    ("warning", Level::Warning),
    ("error", Level::Error),
    ("err", Level::Error),
    ("fail", Level::Error),
    ("severe", Level::Error),
    ("fatal", Level::Critical),
    ("critical", Level::Critical),
    ("crit", Level::Critical),
    ("alert", Level::Critical),
    ("emerg", Level::Critical),
    ("emergency", Level::Critical),
    ("panic", Level::Critical),
    ("eror", Level::Error),
    ("wrn", Level::Warning),
    ("inf", Level::Info),
    ("dbg", Level::Info),
];

/// The level named by a word (`error`, `WARN`, `crit`, …), any case.
pub fn level_word(word: &str) -> Option<Level> {
    if !(3..=13).contains(&word.len()) {
        return None;
    }
    LEVEL_WORDS
        .iter()
        .find(|(w, _)| w.eq_ignore_ascii_case(word))
        .map(|&(_, l)| l)
}

/// Syslog severity (0 emergency … 7 debug).
fn syslog_severity(s: u64) -> Level {
    match s {
        0..=2 => Level::Critical,
        3 => Level::Error,
        4 => Level::Warning,
        _ => Level::Info,
    }
}

/// Bunyan/pino numbers (10 trace … 60 fatal).
fn bunyan(n: f64) -> Level {
    if n >= 60.0 {
        Level::Critical
    } else if n >= 50.0 {
        Level::Error
    } else if n >= 40.0 {
        Level::Warning
    } else {
        Level::Info
    }
}

#[derive(Deserialize)]
struct JsonLevel {
    level: Option<serde_json::Value>,
    lvl: Option<serde_json::Value>,
    severity: Option<serde_json::Value>,
    #[serde(rename = "log.level")]
    log_level: Option<serde_json::Value>,
    log: Option<JsonLog>,
    levelname: Option<serde_json::Value>,
    loglevel: Option<serde_json::Value>,
    #[serde(rename = "@l")]
    serilog: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct JsonLog {
    level: Option<serde_json::Value>,
}

fn json_value_level(v: &serde_json::Value, syslog_numbers: bool) -> Option<Level> {
    match v {
        serde_json::Value::String(s) => level_word(s.trim()),
        serde_json::Value::Number(n) => {
            let f = n.as_f64()?;
            match n.as_u64() {
                Some(s) if syslog_numbers && s <= 7 => Some(syslog_severity(s)),
                _ => Some(bunyan(f)),
            }
        }
        _ => None,
    }
}

fn json_level(line: &[u8]) -> Option<Level> {
    // Only the level fields are kept; the rest is skipped without being built.
    let j: JsonLevel = serde_json::from_slice(line).ok()?;
    if let Some(v) = &j.severity
        && let Some(l) = json_value_level(v, true)
    {
        return Some(l);
    }
    [
        j.level,
        j.lvl,
        j.log_level,
        j.log.and_then(|l| l.level),
        j.levelname,
        j.loglevel,
    ]
    .iter()
    .flatten()
    .find_map(|v| json_value_level(v, false))
    .or_else(|| {
        // Serilog's compact JSON leaves `@l` out for Information.
        j.serilog
            .as_ref()
            .map_or(Some(Level::Info), |v| json_value_level(v, false))
            .filter(|_| line.windows(4).any(|w| w == b"\"@t\""))
    })
}

fn syslog_pri(line: &[u8]) -> Option<Level> {
    let rest = line.strip_prefix(b"<")?;
    let end = rest.iter().position(|&b| b == b'>')?;
    let digits = rest.get(..end)?;
    if digits.is_empty() || digits.len() > 3 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let pri: u64 = std::str::from_utf8(digits).ok()?.parse().ok()?;
    (pri <= 191).then(|| syslog_severity(pri % 8))
}

fn logfmt(text: &str) -> Option<Level> {
    if !text.as_bytes().contains(&b'=') {
        return None;
    }
    for token in text.split(' ') {
        let Some(value) = ["level=", "lvl=", "severity=", "log.level="]
            .iter()
            .find_map(|k| token.strip_prefix(k))
        else {
            continue;
        };
        let value = value.trim_start_matches('"');
        let end = value
            .find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(value.len());
        let word = value.get(..end).unwrap_or_default();
        if let Some(l) = level_word(word) {
            return Some(l);
        }
        if let Ok(n) = word.parse::<f64>() {
            return Some(bunyan(n));
        }
    }
    None
}

/// `[error]`, `[core:error]`, `[ WARN ]` near the start of the line.
fn bracketed(text: &str) -> Option<Level> {
    let head = text.get(..text.len().min(160)).unwrap_or(text);
    let mut rest = head;
    while let Some(open) = rest.find('[') {
        let after = rest.get(open + 1..).unwrap_or_default();
        let Some(close) = after.find(']') else { break };
        let inside = after.get(..close).unwrap_or_default().trim();
        let word = inside.rsplit(':').next().unwrap_or(inside).trim();
        if let Some(l) = level_word(word) {
            return Some(l);
        }
        rest = after.get(close + 1..).unwrap_or_default();
    }
    None
}

fn is_upper_level_word(w: &str) -> Option<Level> {
    let w =
        w.trim_matches(|c: char| matches!(c, '[' | ']' | '(' | ')' | '<' | '>' | ':' | '|' | ','));
    if w.len() < 3 || !w.bytes().all(|b| b.is_ascii_uppercase()) {
        return None;
    }
    level_word(w)
}

/// The level the line states, if its format states one.
pub fn stated_level(line: &[u8]) -> Option<Level> {
    let line = line.trim_ascii_start();
    let first = *line.first()?;
    if first == b'<' {
        return syslog_pri(line);
    }
    if first == b'{'
        && let Some(l) = json_level(line)
    {
        return Some(l);
    }
    let text = match std::str::from_utf8(line) {
        Ok(t) => t,
        Err(e) => std::str::from_utf8(line.get(..e.valid_up_to())?).ok()?,
    };
    // Python logging's default format: `ERROR:root:message`.
    let head = text.get(..text.len().min(10)).unwrap_or_default();
    if first.is_ascii_uppercase()
        && let Some(colon) = head.find(':')
        && let Some((word, rest)) = text.split_at_checked(colon)
        && !rest.starts_with(": ")
        && word.bytes().all(|b| b.is_ascii_uppercase())
        && let Some(l) = level_word(word)
    {
        return Some(l);
    }
    // .NET console logging: `fail: Category[0]`.
    for (p, l) in [
        ("fail: ", Level::Error),
        ("crit: ", Level::Critical),
        ("warn: ", Level::Warning),
        ("info: ", Level::Info),
        ("dbug: ", Level::Info),
        ("trce: ", Level::Info),
    ] {
        if text.starts_with(p) {
            return Some(l);
        }
    }
    // glog/klog: `E1204 10:00:00.000000 …`.
    if let [l @ (b'I' | b'W' | b'E' | b'F'), d0, d1, d2, d3, b' ', ..] = line
        && [d0, d1, d2, d3].iter().all(|d| d.is_ascii_digit())
    {
        return Some(match l {
            b'I' => Level::Info,
            b'W' => Level::Warning,
            b'E' => Level::Error,
            _ => Level::Critical,
        });
    }
    if let Some(l) = logfmt(text) {
        return Some(l);
    }
    if let Some(l) = bracketed(text) {
        return Some(l);
    }
    // Also Python's `%(asctime)s - %(name)s - %(levelname)s - %(message)s` (the sixth word).
    upper_level_word(text, 8)
}

/// The first upper-case level word among the first `words` words (one pass over the bytes:
/// this runs on every event).
fn upper_level_word(text: &str, words: usize) -> Option<Level> {
    let bytes = text.as_bytes();
    let mut seen = 0;
    let mut i = 0;
    while seen < words {
        while bytes.get(i).is_some_and(|b| b.is_ascii_whitespace()) {
            i += 1;
        }
        let start = i;
        while bytes.get(i).is_some_and(|b| !b.is_ascii_whitespace()) {
            i += 1;
        }
        if start == i {
            return None;
        }
        seen += 1;
        if let Some(word) = text.get(start..i)
            && let Some(l) = is_upper_level_word(word)
        {
            return Some(l);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn level(s: &str) -> Option<Level> {
        stated_level(s.as_bytes())
    }

    #[test]
    fn syslog_priorities() {
        // RFC 3164: <PRI> = facility * 8 + severity.
        assert_eq!(
            level("<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8"),
            Some(Level::Critical)
        );
        assert_eq!(
            level("<11>Dec  4 10:00:00 web nginx: 2026/12/04 10:00:00 [info] 12#12: started"),
            Some(Level::Error),
            "the priority wins over the message's own words"
        );
        // RFC 5424.
        assert_eq!(
            level(
                "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut=\"3\"] An application event log entry failed"
            ),
            Some(Level::Info)
        );
        assert_eq!(
            level("<12>1 2026-12-04T10:00:00Z host app 1 - - disk low"),
            Some(Level::Warning)
        );
        assert_eq!(level("<999>x"), None);
    }

    #[test]
    fn json_level_fields() {
        assert_eq!(
            level(
                r#"{"level":30,"time":1733300000000,"pid":7,"hostname":"h","msg":"request failed"}"#
            ),
            Some(Level::Info)
        );
        assert_eq!(
            level(r#"{"level":50,"time":1733300000000,"msg":"db down"}"#),
            Some(Level::Error)
        );
        assert_eq!(
            level(r#"{"name":"app","hostname":"h","pid":1,"level":60,"msg":"dying","v":0}"#),
            Some(Level::Critical)
        );
        assert_eq!(
            level(r#"{"time":"2026-12-04T10:00:00Z","level":"WARN","msg":"slow","attempt":2}"#),
            Some(Level::Warning)
        );
        assert_eq!(
            level(r#"{"severity":"ERROR","message":"boom","logging.googleapis.com/trace":"x"}"#),
            Some(Level::Error)
        );
        assert_eq!(
            level(
                r#"{"@timestamp":"2026-12-04T10:00:00Z","log.level":"error","message":"x","ecs.version":"1.6.0"}"#
            ),
            Some(Level::Error)
        );
        assert_eq!(
            level(
                r#"{"@timestamp":"2026-12-04T10:00:00Z","log":{"level":"warn","logger":"a"},"message":"x"}"#
            ),
            Some(Level::Warning)
        );
        assert_eq!(
            level(r#"{"ts":1.7e9,"lvl":"eror"}"#),
            Some(Level::Error),
            "zap/log15 short names"
        );
        assert_eq!(level(r#"{"ts":1.7e9,"lvl":"nope"}"#), None);
        assert_eq!(
            level(r#"{"asctime":"x","levelname":"CRITICAL","message":"x"}"#),
            Some(Level::Critical)
        );
        assert_eq!(
            level(r#"{"@t":"2026-12-04T10:00:00Z","@mt":"Hello {User}","User":"a"}"#),
            Some(Level::Info)
        );
        assert_eq!(
            level(r#"{"@t":"2026-12-04T10:00:00Z","@mt":"x","@l":"Error"}"#),
            Some(Level::Error)
        );
        assert_eq!(level(r#"{"severity":3,"msg":"x"}"#), Some(Level::Error));
        // Not JSON after all: the words decide.
        assert_eq!(level("{broken ERROR thing"), Some(Level::Error));
    }

    #[test]
    fn logfmt_levels() {
        assert_eq!(
            level(r#"time=2026-12-04T10:00:00Z level=error msg="upstream failed" err="EOF""#),
            Some(Level::Error)
        );
        assert_eq!(
            level(r#"ts=2026-12-04T10:00:00.1Z caller=main.go:12 level=warn msg="retrying""#),
            Some(Level::Warning)
        );
        assert_eq!(
            level(r#"time="2026-12-04T10:00:00Z" level=info msg="request failed once""#),
            Some(Level::Info)
        );
        assert_eq!(level(r#"t=2026-12-04 lvl=eror msg=x"#), Some(Level::Error));
        assert_eq!(level(r#"t=2026-12-04 lvl=nope msg=x"#), None);
        assert_eq!(
            level(r#"time=2026-12-04T10:00:00Z level="ERROR" msg=x"#),
            Some(Level::Error)
        );
        assert_eq!(
            level(r#"sublevel=error msg=x"#),
            None,
            "only a whole key counts"
        );
    }

    #[test]
    fn python_logging() {
        assert_eq!(level("ERROR:root:lookup failed"), Some(Level::Error));
        assert_eq!(
            level("WARNING:urllib3.connectionpool:Retrying"),
            Some(Level::Warning)
        );
        assert_eq!(
            level("INFO:werkzeug:127.0.0.1 - - \"GET / HTTP/1.1\" 500 -"),
            Some(Level::Info)
        );
        assert_eq!(
            level("2026-12-04 10:00:00,123 - app.views - ERROR - boom"),
            Some(Level::Error)
        );
        assert_eq!(
            level("2026-12-04 10:00:00,123 - app - INFO - request failed, retried"),
            Some(Level::Info)
        );
        assert_eq!(
            level("2026-12-04 10:00:00,123 - app - CRITICAL - down"),
            Some(Level::Critical)
        );
    }

    #[test]
    fn nginx_apache_and_others() {
        assert_eq!(
            level(
                r#"2026/12/04 10:00:00 [error] 31#31: *7 open() "/usr/share/nginx/html/x" failed (2: No such file or directory), client: 127.0.0.1, server: localhost, request: "GET /x HTTP/1.1", host: "localhost""#
            ),
            Some(Level::Error)
        );
        assert_eq!(
            level("2026/12/04 10:00:00 [crit] 31#31: *1 connect() to unix:/run/x.sock failed"),
            Some(Level::Critical)
        );
        assert_eq!(
            level(
                "2026/12/04 10:00:00 [warn] 31#31: the \"user\" directive makes sense only if the master process runs"
            ),
            Some(Level::Warning)
        );
        assert_eq!(
            level("2026/12/04 10:00:00 [notice] 1#1: start worker processes"),
            Some(Level::Info)
        );
        assert_eq!(
            level("[Sun Dec 04 04:47:44 2005] [error] mod_jk child workerEnv in error state 6"),
            Some(Level::Error)
        );
        assert_eq!(
            level(
                "[Thu Dec 04 10:00:00.123 2026] [core:warn] [pid 7] AH00098: pid file overwritten"
            ),
            Some(Level::Warning)
        );
        assert_eq!(
            level("2026-12-04 10:00:00.123  INFO 1 --- [main] o.s.b.StartupInfoLogger : failed=0"),
            Some(Level::Info)
        );
        assert_eq!(
            level("2026-12-04T10:00:00.123Z ERROR [http-nio-8080-exec-1] c.e.Api - failed"),
            Some(Level::Error)
        );
        assert_eq!(
            level("fail: Microsoft.AspNetCore.Server.Kestrel[13]"),
            Some(Level::Error)
        );
        assert_eq!(
            level("E1204 10:00:00.000000    7 controller.go:114] sync failed"),
            Some(Level::Error)
        );
        assert_eq!(
            level("W1204 10:00:00.000000    7 reflector.go:1] watch ended"),
            Some(Level::Warning)
        );
        assert_eq!(
            level("127.0.0.1 - - [04/Dec/2026:10:00:00 +0000] \"GET / HTTP/1.1\" 200 612"),
            None
        );
        assert_eq!(
            level("the operation failed"),
            None,
            "no stated level: the expressions decide"
        );
    }
}
