//! Folding multi-line events: stack traces of Java, Python, Go, Node.js and .NET become one
//! event each. Lines the `continuation` expression matches continue the event (indented frames,
//! `Caused by:`, `Traceback (most recent call last):`, `goroutine 7 [running]:`, …); what an
//! expression on one line cannot tell is followed here: the `ExcType: message` line that ends a
//! Python traceback, Go's unindented function lines, a Java/.NET exception printed right under
//! the log line that reports it, the error line under a Node.js source excerpt.
//!
//! Each event also gets its trace's *shape*: the exception classes and the frames (function and
//! file, without line numbers, addresses or messages). Two events are one cluster only when
//! their shapes are equal, so distinct tracebacks stay apart and one traceback repeated with
//! other values stays one.

use regex::bytes::Regex;
use rustc_hash::FxHashMap;

use super::Level;

/// The default `continuation` expression.
pub const DEFAULT_CONTINUATION: &str = concat!(
    r"^(\s",
    r"|Caused by:|Suppressed:|\.\.\. \d+ (more|common frames omitted)",
    r"|During handling of the above exception",
    r"|The above exception was the direct cause",
    r"|goroutine \d+ \[[^\]]*\]:$|created by |\[signal |\[recovered\]",
    r"|--- End of |Node\.js v\d|[}\]]\)?;?,?$)"
);

/// Text kept of one event (its sample); the rest is counted but not kept.
const MAX_EVENT_BYTES: usize = 256 * 1024;
/// Parts of a trace's shape kept (frames beyond are left out of the shape).
const MAX_SHAPE_PARTS: usize = 64;

/// Where in a trace the folder is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Not in a trace (or in one the expression alone folds).
    Plain,
    /// Between `Traceback (most recent call last):` and its exception line.
    PythonFrames,
    /// In a Go goroutine trace.
    Go,
    /// Under a Node.js `file.js:12` source excerpt, before its error line.
    NodeExcerpt,
}

/// One folded event.
#[derive(Debug, Default)]
pub struct Event {
    pub text: Vec<u8>,
    /// Length of the first line in `text`.
    pub first_len: usize,
    pub lines: usize,
    /// Exception classes first, then frames and trace headers.
    classes: Vec<String>,
    frames: Vec<String>,
    /// The most severe level an exception line or panic in the event implies.
    pub exception: Option<Level>,
}

impl Event {
    pub fn head(&self) -> &[u8] {
        self.text.get(..self.first_len).unwrap_or_default()
    }

    /// The exception classes of the trace, one line each.
    pub fn classes(&self) -> String {
        self.classes.join("\n")
    }

    /// The trace's shape as text (empty when the event holds no trace).
    pub fn shape(&self) -> String {
        let mut parts = self.classes.iter().chain(&self.frames);
        let mut out = String::new();
        if let Some(p) = parts.next() {
            out.push_str(p);
        }
        for p in parts {
            out.push_str(" ⏎ ");
            out.push_str(p);
        }
        out
    }

    fn has_trace(&self) -> bool {
        !self.classes.is_empty() || !self.frames.is_empty()
    }

    fn clear(&mut self) {
        self.text.clear();
        self.first_len = 0;
        self.lines = 0;
        self.classes.clear();
        self.frames.clear();
        self.exception = None;
    }

    fn push_line(&mut self, line: &[u8]) {
        if self.lines == 0 {
            self.text.extend_from_slice(line);
            self.first_len = self.text.len();
        } else if self.text.len() < MAX_EVENT_BYTES {
            self.text.push(b'\n');
            let room = MAX_EVENT_BYTES - self.text.len();
            self.text
                .extend_from_slice(line.get(..line.len().min(room)).unwrap_or_default());
        }
        self.lines += 1;
    }

    fn add_class(&mut self, class: String, level: Level) {
        if self.classes.len() < MAX_SHAPE_PARTS {
            self.classes.push(class);
        }
        self.exception = self.exception.max(Some(level));
    }

    fn add_frame(&mut self, frame: String) {
        if self.frames.len() < MAX_SHAPE_PARTS {
            self.frames.push(frame);
        }
    }
}

/// Turns lines into events.
pub struct Folder {
    continuation: Regex,
    exception_line: Regex,
    java_exception: Regex,
    go_function: Regex,
    node_excerpt: Regex,
    node_error: Regex,
    python_exception: Regex,
    problem: Regex,
    mode: Mode,
    event: Event,
    /// The last event completed (its buffers are reused).
    done: Event,
}

/// `Caused by: java.io.IOException: x`, `KeyError: 'x'`, `System.InvalidOperationException: x`,
/// ` ---> System.Exception: x`, `Unhandled exception. System.Exception: x`, `[cause]: Error: x`:
/// the class is group `class`.
const EXCEPTION_LINE: &str = r"^\s*(?:Caused by: |Suppressed: |---> |\[cause\]: |Unhandled exception\. |Exception in thread .*? |Uncaught )?(?P<class>(?:[A-Za-z_$][\w$]*\.)*(?:(?:[A-Z][\w$]*)?(?:Error|Exception)|[A-Z][\w$]*(?:Throwable|Fault|Failure|Interrupt|Exit|Rejection)|Throwable|StopIteration))(?::\s|:$|$)";

impl Folder {
    /// A folder; `continuation` is the configured expression (already checked).
    pub fn new(continuation: Regex) -> Result<Self, regex::Error> {
        Ok(Self {
            continuation,
            exception_line: Regex::new(EXCEPTION_LINE)?,
            java_exception: Regex::new(
                r"^(?:[A-Za-z_$][\w$]*\.)+[A-Z][\w$]*(?:Exception|Error|Throwable|Fault)(?::\s|:$|$)",
            )?,
            go_function: Regex::new(r"^[\w$.\-/*()\[\]{}]+\(.*\)$")?,
            node_excerpt: Regex::new(r"^\S+\.(?:[cm]?[jt]sx?):\d+$")?,
            node_error: Regex::new(r"^[\w$.]*(?:Error|Exception)\b")?,
            python_exception: Regex::new(r"^(?P<class>[A-Za-z_][\w.]*)(?::\s|:$|$)")?,
            problem: Regex::new(
                r"(?i)\b(error|err|fail|failed|failure|exception|fatal|crit|critical|severe|warn|warning|panic|unhandled|uncaught)\b",
            )?,
            mode: Mode::Plain,
            event: Event::default(),
            done: Event::default(),
        })
    }

    /// Take one line (without its line end, not empty): returns the event it completes, if it
    /// starts a new one. Call [`Folder::finish`] at the end of the input.
    pub fn push(&mut self, line: &[u8]) -> Option<&Event> {
        if self.event.lines > 0 && self.continues(line) {
            self.event.push_line(line);
            self.shape_line(line, false);
            return None;
        }
        let completed = self.complete();
        self.event.push_line(line);
        // `file.js:12`: no space, a digit last (checked before the expression).
        if line.last().is_some_and(u8::is_ascii_digit)
            && !line.contains(&b' ')
            && self.node_excerpt.is_match(line)
        {
            self.mode = Mode::NodeExcerpt;
        }
        self.shape_line(line, true);
        completed.then_some(&self.done)
    }

    /// The event in progress, if any (at the end of the input).
    pub fn finish(&mut self) -> Option<&Event> {
        self.complete().then_some(&self.done)
    }

    /// Move the event in progress to `done`; whether there was one.
    fn complete(&mut self) -> bool {
        self.mode = Mode::Plain;
        if self.event.lines == 0 {
            return false;
        }
        std::mem::swap(&mut self.event, &mut self.done);
        self.event.clear();
        true
    }

    fn continues(&mut self, line: &[u8]) -> bool {
        let indented = line.first().is_some_and(u8::is_ascii_whitespace);
        // A traceback continues the line that reports it (`logging.exception`: `ERROR:root:…`;
        // http.server: `Exception occurred during processing…`) or the traceback it is chained
        // to; under any other line (an access log line, say) it starts an event of its own.
        if line.starts_with(b"Traceback (most recent call last):") {
            return self.event.has_trace() || self.problem.is_match(self.event.head());
        }
        match self.mode {
            Mode::PythonFrames if !indented => {
                if self.continuation.is_match(line) {
                    return true;
                }
                // The exception line ends the traceback and belongs to it.
                return self.python_exception.is_match(line);
            }
            Mode::Go
                if !indented
                    && (self.go_function.is_match(line)
                        || line.starts_with(b"created by ")
                        || line.starts_with(b"exit status ")
                        || line.starts_with(b"...additional frames elided...")) =>
            {
                return true;
            }
            Mode::NodeExcerpt if !indented && self.node_error.is_match(line) => {
                self.mode = Mode::Plain;
                return true;
            }
            _ => {}
        }
        if self.continuation.is_match(line) {
            return true;
        }
        // An exception printed under the line that logs it: a qualified Java/.NET class under
        // any line, another (`TypeError: …`) under a line that reports a problem.
        self.event.lines == 1
            && !indented
            && may_be_exception_line(line)
            && (self.java_exception.is_match(line)
                || (self.exception_line.is_match(line) && self.problem.is_match(self.event.head())))
    }

    /// Record what a line adds to the trace's shape and the event's level; update the mode.
    fn shape_line(&mut self, line: &[u8], head: bool) {
        // Bytes, converted to text only for what the shape keeps (this runs on every line).
        let t = line.trim_ascii();
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        let indented = !head && line.first().is_some_and(u8::is_ascii_whitespace);
        if t.starts_with(b"Traceback (most recent call last):")
            || t.starts_with(b"During handling of the above exception")
            || t.starts_with(b"The above exception was the direct cause")
        {
            if t.starts_with(b"Traceback") {
                self.mode = Mode::PythonFrames;
            }
            self.event.add_frame(text(t));
            return;
        }
        if let Some(rest) = t.strip_prefix(b"goroutine ")
            && t.ends_with(b"]:")
        {
            self.mode = Mode::Go;
            let state = rest
                .iter()
                .position(|&b| b == b' ')
                .and_then(|i| rest.get(i + 1..))
                .unwrap_or_default();
            self.event
                .add_frame(format!("goroutine {}", normalise(&text(state))));
            return;
        }
        if !head && !indented && self.mode == Mode::PythonFrames {
            // The exception line that ends a Python traceback (the continuation test
            // let only such a line, or a header, through).
            if let Some(c) = self.python_exception.captures(line)
                && let Some(class) = c.name("class")
            {
                self.event.add_class(text(class.as_bytes()), Level::Error);
            }
            self.mode = Mode::Plain;
            return;
        }
        if t.starts_with(b"panic: ") || t.starts_with(b"fatal error: ") {
            if !indented {
                self.event.add_class("panic".into(), Level::Critical);
            }
            return;
        }
        if !head && let Some(frame) = t.strip_prefix(b"at ") {
            self.event
                .add_frame(format!("at {}", frame_name(&text(frame))));
            return;
        }
        if !head && t.starts_with(b"File \"") {
            // `File "/app/x.py", line 12, in handler`: the file and the function.
            let t = text(t);
            let file = t.split('"').nth(1).unwrap_or_default();
            let func = t.rsplit_once(", in ").map_or("", |(_, f)| f);
            self.event.add_frame(format!("File \"{file}\", in {func}"));
            return;
        }
        if self.mode == Mode::Go && !head {
            let t = text(t);
            if t.starts_with("created by ") || self.go_function.is_match(t.as_bytes()) {
                self.event.add_frame(normalise(&t));
            } else if indented && t.contains(".go:") {
                let file = t.split_once(".go:").map_or(t.as_str(), |(f, _)| f);
                self.event.add_frame(format!("{file}.go"));
            }
            return;
        }
        if may_be_exception_line(line)
            && let Some(c) = self.exception_line.captures(line)
            && let Some(class) = c.name("class")
        {
            let class = String::from_utf8_lossy(class.as_bytes()).into_owned();
            let prefix = if t.starts_with(b"Caused by: ") {
                "Caused by: "
            } else if t.starts_with(b"---> ") {
                "---> "
            } else {
                ""
            };
            self.event
                .add_class(format!("{prefix}{class}"), Level::Error);
        }
    }
}

/// Whether a line may be an exception class line (`KeyError: 'x'`, `Caused by: …`,
/// `java.lang.X`): its first word ends with `:`, is the whole line, or is one of the prefixes
/// `EXCEPTION_LINE` allows. A cheap test before the expression, which runs on every line.
fn may_be_exception_line(line: &[u8]) -> bool {
    let t = line.trim_ascii();
    let word = t
        .iter()
        .position(u8::is_ascii_whitespace)
        .and_then(|i| t.get(..i))
        .unwrap_or(t);
    word.len() == t.len()
        || word.ends_with(b":")
        || matches!(
            word,
            b"Caused" | b"Suppressed:" | b"--->" | b"Unhandled" | b"Exception" | b"Uncaught"
        )
}

/// A frame's function (and file, without line and column): `com.x.A.run(A.java:42)` →
/// `com.x.A.run(A.java)`, `Object.<anonymous> (/app/x.js:10:11)` → `Object.<anonymous>
/// (/app/x.js)`, `Program.Main(String[] args) in /app/Program.cs:line 10` → `Program.Main(String[]
/// args) in /app/Program.cs`.
fn frame_name(frame: &str) -> String {
    let frame = frame.split_once(" in ").map_or(frame, |(f, file)| {
        let _ = file;
        f
    });
    let mut out = String::with_capacity(frame.len());
    let mut chars = frame.chars().peekable();
    while let Some(c) = chars.next() {
        if c == ':' && chars.peek().is_some_and(char::is_ascii_digit) {
            while chars
                .peek()
                .is_some_and(|c| c.is_ascii_digit() || *c == ':')
            {
                chars.next();
            }
            continue;
        }
        out.push(c);
    }
    normalise(&out)
}

/// Digits and hex addresses out (ids, addresses, line numbers), white space collapsed.
fn normalise(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '0' && chars.peek().is_some_and(|n| *n == 'x') {
            chars.next();
            while chars.peek().is_some_and(char::is_ascii_hexdigit) {
                chars.next();
            }
            out.push('#');
        } else if c.is_ascii_digit() {
            while chars.peek().is_some_and(char::is_ascii_digit) {
                chars.next();
            }
            out.push('#');
        } else if c.is_whitespace() {
            while chars.peek().is_some_and(|c| c.is_whitespace()) {
                chars.next();
            }
            out.push(' ');
        } else {
            out.push(c);
        }
    }
    out
}

/// Interns shapes: equal shapes, equal ids (0: no trace).
#[derive(Debug, Default)]
pub struct Shapes {
    ids: FxHashMap<String, u32>,
    /// Per id (from 1): the shape and its exception classes.
    texts: Vec<(String, String)>,
}

impl Shapes {
    /// The id of the event's shape.
    pub fn id(&mut self, event: &Event) -> u32 {
        let shape = event.shape();
        if shape.is_empty() {
            return 0;
        }
        if let Some(&id) = self.ids.get(&shape) {
            return id;
        }
        self.texts.push((shape.clone(), event.classes()));
        let id = u32::try_from(self.texts.len()).unwrap_or(u32::MAX);
        self.ids.insert(shape, id);
        id
    }

    fn get(&self, id: u32) -> Option<&(String, String)> {
        id.checked_sub(1).and_then(|i| self.texts.get(i as usize))
    }

    pub fn text(&self, id: u32) -> &str {
        self.get(id).map_or("", |t| t.0.as_str())
    }

    /// The exception classes of a shape, one line each.
    pub fn classes(&self, id: u32) -> &str {
        self.get(id).map_or("", |t| t.1.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (events as text, shapes, exception levels)
    fn fold(log: &str) -> Vec<(String, String, Option<Level>)> {
        let mut f = Folder::new(Regex::new(DEFAULT_CONTINUATION).unwrap()).unwrap();
        let mut out = Vec::new();
        let row = |e: &Event| {
            (
                String::from_utf8_lossy(&e.text).into_owned(),
                e.shape(),
                e.exception,
            )
        };
        for line in log.lines() {
            if !line.is_empty()
                && let Some(e) = f.push(line.as_bytes())
            {
                out.push(row(e));
            }
        }
        out.extend(f.finish().map(row));
        out
    }

    const PYTHON: &str = r#"2026-12-04 10:00:01,000 - app - INFO - GET /ok
2026-12-04 10:00:02,000 - app - ERROR - lookup failed for user 17
Traceback (most recent call last):
  File "/srv/app.py", line 31, in handler
    return USERS[key]
           ~~~~~^^^^^
KeyError: 'user-17'
2026-12-04 10:00:03,000 - app - INFO - GET /ok
"#;

    #[test]
    fn python_traceback_is_one_event_ending_with_its_exception_line() {
        let ev = fold(PYTHON);
        assert_eq!(ev.len(), 3, "{ev:#?}");
        assert!(ev[1].0.ends_with("KeyError: 'user-17'"), "{}", ev[1].0);
        assert_eq!(
            ev[1].1,
            r#"KeyError ⏎ Traceback (most recent call last): ⏎ File "/srv/app.py", in handler"#
        );
        assert_eq!(ev[1].2, Some(Level::Error));
        assert_eq!(ev[0].2, None);
    }

    #[test]
    fn chained_python_tracebacks_are_one_event() {
        let log = r#"ERROR:root:request failed
Traceback (most recent call last):
  File "/srv/app.py", line 10, in load
    return int(raw)
ValueError: invalid literal for int() with base 10: 'x'

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File "/srv/app.py", line 20, in handler
    load(raw)
  File "/srv/app.py", line 12, in load
    raise RuntimeError("bad input") from None
RuntimeError: bad input
INFO:root:next
"#;
        let ev = fold(log);
        assert_eq!(ev.len(), 2, "{ev:#?}");
        assert!(ev[0].0.ends_with("RuntimeError: bad input"));
        assert!(
            ev[0].1.starts_with("ValueError ⏎ RuntimeError ⏎ "),
            "{}",
            ev[0].1
        );
    }

    #[test]
    fn http_server_traceback_folds_under_its_report_line() {
        let log = "----------------------------------------\nException occurred during processing of request from ('127.0.0.1', 50514)\nTraceback (most recent call last):\n  File \"/usr/lib/python3.11/socketserver.py\", line 317, in _handle_request_noblock\n    self.process_request(request, client_address)\nZeroDivisionError: division by zero\n----------------------------------------\n";
        let ev = fold(log);
        assert_eq!(ev.len(), 3, "{ev:#?}");
        assert!(ev[1].1.starts_with("ZeroDivisionError ⏎ "));
    }

    #[test]
    fn a_traceback_under_a_line_reporting_no_problem_is_its_own_event() {
        // wsgiref prints the traceback, then the access line of the failed request.
        let log = "127.0.0.1 - - [04/Dec/2026 10:00:00] \"GET /ok HTTP/1.1\" 200 2\nTraceback (most recent call last):\n  File \"/srv/app.py\", line 9, in app\n    return USERS[key]\nKeyError: 'x'\n127.0.0.1 - - [04/Dec/2026 10:00:01] \"GET /x HTTP/1.1\" 500 59\n";
        let ev = fold(log);
        assert_eq!(ev.len(), 3, "{ev:#?}");
        assert!(ev[1].0.starts_with("Traceback") && ev[1].0.ends_with("KeyError: 'x'"));
        assert_eq!(ev[1].2, Some(Level::Error));
        assert_eq!(ev[0].2, None);
    }

    #[test]
    fn java_trace_with_cause_is_one_event() {
        let log = "2026-12-04 10:00:00.000 ERROR [main] c.e.Api - request failed\njava.lang.IllegalStateException: order 42 not ready\n\tat com.example.Orders.ship(Orders.java:88)\n\tat com.example.Api.handle(Api.java:21)\nCaused by: java.io.IOException: connection reset\n\tat com.example.Db.read(Db.java:7)\n\t... 2 more\n2026-12-04 10:00:01.000 INFO [main] c.e.Api - ok\n";
        let ev = fold(log);
        assert_eq!(ev.len(), 2, "{ev:#?}");
        assert_eq!(
            ev[0].1,
            "java.lang.IllegalStateException ⏎ Caused by: java.io.IOException ⏎ at com.example.Orders.ship(Orders.java) ⏎ at com.example.Api.handle(Api.java) ⏎ at com.example.Db.read(Db.java)"
        );
        assert_eq!(ev[0].2, Some(Level::Error));
    }

    #[test]
    fn go_panic_is_one_event() {
        let log = "2026/12/04 10:00:00 serving\npanic: runtime error: index out of range [5] with length 3\n\ngoroutine 7 [running]:\nmain.handler({0x6a4b20?, 0xc0000b8018?}, 0xc0001a2000)\n\t/app/main.go:25 +0x1d\nnet/http.HandlerFunc.ServeHTTP(0x0?, {0x7f1e40, 0xc000136000}, 0xc0001a2000)\n\t/usr/local/go/src/net/http/server.go:2166 +0x29\ncreated by net/http.(*Server).Serve in goroutine 1\n\t/usr/local/go/src/net/http/server.go:3285 +0x4b4\nexit status 2\n2026/12/04 10:00:01 serving\n";
        let ev = fold(log);
        assert_eq!(ev.len(), 3, "{ev:#?}");
        assert!(ev[1].0.starts_with("panic: runtime error"));
        assert!(ev[1].0.ends_with("exit status 2"));
        assert_eq!(ev[1].2, Some(Level::Critical));
        assert!(
            ev[1].1.contains("main.handler({#?, #?}, #) ⏎ /app/main.go"),
            "{}",
            ev[1].1
        );
    }

    #[test]
    fn node_errors_are_one_event() {
        let log = "listening on 3000\nTypeError: Cannot read properties of undefined (reading 'id')\n    at getUser (/app/server.js:14:22)\n    at Server.<anonymous> (/app/server.js:30:5)\n    at Server.emit (node:events:517:28)\nlistening again\n/app/crash.js:3\n    throw new Error('boom');\n    ^\n\nError: boom\n    at Object.<anonymous> (/app/crash.js:3:11)\n\nNode.js v20.10.0\n";
        let ev = fold(log);
        assert_eq!(ev.len(), 4, "{ev:#?}");
        assert_eq!(
            ev[1].1,
            "TypeError ⏎ at getUser (/app/server.js) ⏎ at Server.<anonymous> (/app/server.js) ⏎ at Server.emit (node:events)"
        );
        assert!(ev[3].0.ends_with("Node.js v20.10.0"), "{}", ev[3].0);
        assert_eq!(ev[3].2, Some(Level::Error));
    }

    #[test]
    fn dotnet_exception_is_one_event() {
        let log = "fail: Microsoft.AspNetCore.Server.Kestrel[13]\n      Connection id \"0HN1\", Request id \"0HN1:00000001\": An unhandled exception was thrown by the application.\n      System.InvalidOperationException: Sequence contains no elements\n         at System.Linq.ThrowHelper.ThrowNoElementsException()\n         at Shop.Api.OrdersController.Get(Int32 id) in /src/Api/OrdersController.cs:line 42\n       ---> System.ArgumentException: bad id\n         --- End of inner exception stack trace ---\ninfo: Microsoft.Hosting.Lifetime[0]\nUnhandled exception. System.NullReferenceException: Object reference not set to an instance of an object.\n   at Program.<Main>$(String[] args) in /src/Program.cs:line 5\n--- End of stack trace from previous location ---\n";
        let ev = fold(log);
        assert_eq!(ev.len(), 3, "{ev:#?}");
        assert_eq!(
            ev[0].1,
            "System.InvalidOperationException ⏎ ---> System.ArgumentException ⏎ at System.Linq.ThrowHelper.ThrowNoElementsException() ⏎ at Shop.Api.OrdersController.Get(Int# id)"
        );
        assert_eq!(
            ev[2].1,
            "System.NullReferenceException ⏎ at Program.<Main>$(String[] args)"
        );
        assert_eq!(ev[2].2, Some(Level::Error));
    }

    #[test]
    fn a_bare_exception_line_is_an_error() {
        let ev =
            fold("KeyError: 'x'\nINFO fine\nExit: done\nat 10:00 alice left\nat 11:00 bob left\n");
        assert_eq!(ev.len(), 5);
        assert_eq!(ev[2].2, None, "a bare `Exit` is no exception class");
        assert_eq!(
            (ev[3].1.as_str(), ev[4].1.as_str()),
            ("", ""),
            "a first line is no frame"
        );
        assert_eq!(ev[0].2, Some(Level::Error));
        assert_eq!(ev[1].2, None);
    }

    #[test]
    fn an_exception_under_the_line_reporting_it_joins_it() {
        let ev = fold(
            "2026-12-04T10:00:00Z error request 5 failed\nTypeError: Cannot read properties of undefined (reading 'id')\n    at getUser (/app/a.js:2:40)\nINFO ok\nTypeError: x\n",
        );
        assert_eq!(ev.len(), 3, "{ev:#?}");
        assert_eq!(ev[0].1, "TypeError ⏎ at getUser (/app/a.js)");
        // Under a line that reports no problem, it is an event of its own.
        assert_eq!(ev[2].0, "TypeError: x");
    }
}
