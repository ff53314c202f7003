//! Stack traces as services really print them (Python `logging.exception`, Node.js
//! `console.error(err)`, Java `printStackTrace`, run here with the real interpreters; Go and
//! .NET as their runtimes print them): one event per trace, one cluster per distinct trace,
//! counted once per occurrence, at error level; and the same logs compressed with the real
//! `gzip` and `zstd` give the same result.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};
use std::process::Command;

use portcullis_testkit::skip_or_fail;
use portcullis_verify::logs::{
    self, ClusterClass, Deductions, Level, LogConfig, LogResult, MinerConfig,
};

/// The default settings (as a configuration naming only the files gets them).
fn config(baseline: &Path, canary: &Path) -> LogConfig {
    let c: LogConfig = serde_json::from_value(serde_json::json!({
        "baseline": [baseline.display().to_string()],
        "canary": [canary.display().to_string()],
    }))
    .unwrap();
    assert_eq!(c.miner, MinerConfig::default());
    assert_eq!(c.deductions, Deductions::default());
    c
}

/// Run a program; its stdout and stderr, interleaved as written (both to one file).
fn run(test: &str, dir: &Path, program: &str, args: &[&str], out: &str) -> Option<PathBuf> {
    let path = dir.join(out);
    let file = std::fs::File::create(&path).unwrap();
    let status = Command::new(program)
        .args(args)
        .current_dir(dir)
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .status();
    match status {
        Ok(s) if s.success() => Some(path),
        Ok(s) => panic!(
            "{program} {args:?}: {s}: {}",
            std::fs::read_to_string(&path).unwrap()
        ),
        Err(e) => skip_or_fail!(test, "{program} cannot run: {e}"),
    }
}

fn unexpected(r: &LogResult) -> Vec<&logs::LogCluster> {
    r.clusters
        .iter()
        .filter(|c| c.classification == ClusterClass::Unexpected)
        .collect()
}

/// Asserts what a canary with two kinds of failing requests must give: per kind, what its
/// template holds, what its sample holds, how many requests failed so.
fn assert_two_traces(
    r: &LogResult,
    events: u64,
    first: (&str, &str, u64),
    second: (&str, &str, u64),
) {
    assert_eq!(
        r.canary_events, events,
        "one event per request: {:#?}",
        r.clusters
    );
    let un = unexpected(r);
    assert_eq!(un.len(), 2, "one cluster per distinct trace: {un:#?}");
    for (marker, class, count) in [first, second] {
        let c = un
            .iter()
            .find(|c| c.template.contains(marker))
            .unwrap_or_else(|| panic!("no cluster for {marker}: {un:#?}"));
        assert_eq!(
            c.canary_count, count,
            "{marker} counted once per request: {c:#?}"
        );
        assert_eq!(c.level, Level::Error, "{c:#?}");
        assert!(c.canary_samples[0].contains(class), "{c:#?}");
    }
    assert_eq!(r.score, 60.0, "two unexpected error clusters cost 20 each");
}

/// The same analysis on the logs compressed by the real `gzip` and `zstd`.
fn assert_same_compressed(test: &str, dir: &Path, base: &Path, canary: &Path, plain: &LogResult) {
    for (tool, args, ext) in [
        ("gzip", vec!["-k", "-f"], "gz"),
        ("zstd", vec!["-q", "-f"], "zst"),
    ] {
        let mut files = Vec::new();
        for f in [base, canary] {
            let mut a = args.clone();
            let name = f.to_str().unwrap();
            a.push(name);
            match Command::new(tool).args(&a).current_dir(dir).status() {
                Ok(s) => assert!(s.success(), "{tool} {a:?}"),
                Err(e) => skip_or_fail!(test, "{tool} cannot run: {e}"),
            }
            // Named without the extension: detected by content, not by name.
            let renamed = dir.join(format!(
                "{}.{ext}.log",
                f.file_stem().unwrap().to_str().unwrap()
            ));
            std::fs::rename(format!("{name}.{ext}"), &renamed).unwrap();
            files.push(renamed);
        }
        let r = logs::analyse(&config(&files[0], &files[1])).unwrap();
        assert_eq!(
            r.clusters, plain.clusters,
            "{tool}: the same clusters as plain text"
        );
        assert_eq!(r.score, plain.score);
        assert_eq!(
            (r.baseline_events, r.canary_events),
            (plain.baseline_events, plain.canary_events)
        );
    }
}

const PYTHON: &str = r#"
import logging, sys
canary = sys.argv[1] == "canary"
logging.basicConfig(stream=sys.stdout, level=logging.INFO, format=sys.argv[2])
USERS = {"alice": 1}

def load(i, fail):
    if fail == "key":
        return USERS[f"user-{i}"]
    if fail == "zero":
        return i / 0
    return i

def handler(i):
    fail = None
    if canary and i % 5 == 0:
        fail = "key"
    elif canary and i % 7 == 0:
        fail = "zero"
    try:
        load(i, fail)
        logging.info("GET /users/%d 200 in %d ms", i, i % 13)
    except Exception:
        logging.exception("GET /users/%d failed", i)

for i in range(1, 61):
    handler(i)
"#;

#[test]
fn python_logging_exception_tracebacks() {
    let test = "python_logging_exception_tracebacks";
    for format in [
        "%(levelname)s:%(name)s:%(message)s",
        "%(asctime)s - %(name)s - %(levelname)s - %(message)s",
    ] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("app.py"), PYTHON).unwrap();
        let Some(base) = run(
            test,
            dir.path(),
            "python3",
            &["app.py", "baseline", format],
            "base.log",
        ) else {
            return;
        };
        let canary = run(
            test,
            dir.path(),
            "python3",
            &["app.py", "canary", format],
            "canary.log",
        )
        .unwrap();
        let r = logs::analyse(&config(&base, &canary)).unwrap();
        // i in 1..=60: 12 multiples of 5 raise KeyError, 7 other multiples of 7 divide by zero.
        assert_two_traces(
            &r,
            60,
            ("KeyError", "KeyError: 'user-", 12),
            (
                "ZeroDivisionError",
                "ZeroDivisionError: division by zero",
                7,
            ),
        );
        let key = unexpected(&r)
            .into_iter()
            .find(|c| c.template.contains("KeyError"))
            .unwrap();
        assert!(key.canary_samples[0].contains("Traceback (most recent call last):"));
        assert!(
            key.canary_samples[0].ends_with("KeyError: 'user-5'"),
            "{}",
            key.canary_samples[0]
        );
        let healthy = logs::analyse(&config(&base, &base)).unwrap();
        assert_eq!((healthy.unexpected, healthy.score), (0, 100.0));
        assert_same_compressed(test, dir.path(), &base, &canary, &r);
    }
}

const NODE: &str = r#"
const canary = process.argv[2] === "canary";
const users = { alice: { id: 1 } };
function getUser(name) { return users[name].id; }
function parseBody(s) { return JSON.parse(s); }
for (let i = 1; i <= 60; i++) {
  const at = new Date(Date.UTC(2026, 11, 4, 10, 0, i)).toISOString();
  try {
    if (canary && i % 5 === 0) getUser("u" + i);
    else if (canary && i % 7 === 0) parseBody("{bad " + i);
    console.log(`${at} info GET /users/${i} 200`);
  } catch (err) {
    console.log(`${at} error GET /users/${i} failed`);
    console.log(err);
  }
}
"#;

#[test]
fn node_errors() {
    let test = "node_errors";
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("app.js"), NODE).unwrap();
    let Some(base) = run(
        test,
        dir.path(),
        "node",
        &["app.js", "baseline"],
        "base.log",
    ) else {
        return;
    };
    let canary = run(
        test,
        dir.path(),
        "node",
        &["app.js", "canary"],
        "canary.log",
    )
    .unwrap();
    let r = logs::analyse(&config(&base, &canary)).unwrap();
    assert_two_traces(
        &r,
        60,
        (
            "TypeError",
            "TypeError: Cannot read properties of undefined",
            12,
        ),
        ("SyntaxError", "SyntaxError:", 7),
    );
    assert_same_compressed(test, dir.path(), &base, &canary, &r);
}

const JAVA: &str = r#"
public class App {
    static int parse(String s) { return Integer.parseInt(s); }
    static void ship(int i) {
        try { parse("order-" + i); }
        catch (NumberFormatException e) { throw new IllegalStateException("order " + i + " not ready", e); }
    }
    public static void main(String[] args) {
        boolean canary = args[0].equals("canary");
        for (int i = 1; i <= 60; i++) {
            String at = String.format("2026-12-04 10:00:%02d.000", i % 60);
            try {
                if (canary && i % 5 == 0) parse("id-" + i);
                else if (canary && i % 7 == 0) ship(i);
                System.out.println(at + " INFO  [main] App - GET /orders/" + i + " 200");
            } catch (RuntimeException e) {
                System.out.println(at + " ERROR [main] App - GET /orders/" + i + " failed");
                e.printStackTrace(System.out);
            }
        }
    }
}
"#;

#[test]
fn java_stack_traces() {
    let test = "java_stack_traces";
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("App.java"), JAVA).unwrap();
    let Some(base) = run(
        test,
        dir.path(),
        "java",
        &["App.java", "baseline"],
        "base.log",
    ) else {
        return;
    };
    let canary = run(
        test,
        dir.path(),
        "java",
        &["App.java", "canary"],
        "canary.log",
    )
    .unwrap();
    let r = logs::analyse(&config(&base, &canary)).unwrap();
    assert_two_traces(
        &r,
        60,
        (
            "failed ⏎ java.lang.NumberFormatException",
            "java.lang.NumberFormatException: For input string: \"id-",
            12,
        ),
        (
            "failed ⏎ java.lang.IllegalStateException ⏎ Caused by: java.lang.NumberFormatException",
            "Caused by: java.lang.NumberFormatException",
            7,
        ),
    );
    assert_same_compressed(test, dir.path(), &base, &canary, &r);
}

/// Go's runtime output for a panic in an HTTP handler, with the values that change per request
/// (goroutine ids, addresses, the index) varied; Go itself is not needed.
fn go_panic(i: usize, kind: usize) -> String {
    let (msg, func) = if kind == 0 {
        (
            format!("runtime error: index out of range [{i}] with length 3"),
            "main.lookup",
        )
    } else {
        (
            "runtime error: invalid memory address or nil pointer dereference".to_string(),
            "main.(*store).get",
        )
    };
    let sig = if kind == 0 {
        String::new()
    } else {
        format!(
            "[signal SIGSEGV: segmentation violation code=0x1 addr=0x{:x} pc=0x6a1f{i:02x}]\n",
            8 * i
        )
    };
    format!(
        "2026/12/04 10:00:{i:02} http: panic serving 127.0.0.1:{port}: {msg}\n{sig}goroutine {g} [running]:\nnet/http.(*conn).serve.func1()\n\t/usr/local/go/src/net/http/server.go:1947 +0xbe\npanic({{0x6c9e40?, 0xc0000{a:05x}?}})\n\t/usr/local/go/src/runtime/panic.go:785 +0x132\n{func}(0xc0001{a:05x}, {{0xc000{b:06x}, 0x{i:x}}})\n\t/srv/app/main.go:{line} +0x{off:x}\nmain.handler({{0x7a1c88, 0xc0000{b:05x}}}, 0xc0002{a:05x})\n\t/srv/app/main.go:41 +0x5a\ncreated by net/http.(*Server).Serve in goroutine 1\n\t/usr/local/go/src/net/http/server.go:3285 +0x4b4\n",
        port = 40000 + i * 17,
        g = 20 + i * 3,
        a = i * 4099,
        b = i * 977,
        line = if kind == 0 { 18 } else { 27 },
        off = 0x1d + kind,
    )
}

/// .NET's console logger output for an unhandled exception in a request, ids varied.
fn dotnet_exception(i: usize, kind: usize) -> String {
    let (class, msg, frame) = if kind == 0 {
        (
            "System.InvalidOperationException",
            "Sequence contains no elements",
            "System.Linq.ThrowHelper.ThrowNoElementsException()",
        )
    } else {
        (
            "System.Collections.Generic.KeyNotFoundException",
            "The given key 'order-17' was not present in the dictionary.",
            "System.Collections.Generic.Dictionary`2.get_Item(TKey key)",
        )
    };
    format!(
        "fail: Microsoft.AspNetCore.Server.Kestrel[13]\n      Connection id \"0HN8{i:04X}QK\", Request id \"0HN8{i:04X}QK:0000000{k}\": An unhandled exception was thrown by the application.\n      {class}: {msg}\n         at {frame}\n         at Shop.Api.OrdersController.Get(Int32 id) in /src/Api/OrdersController.cs:line {l}\n         at lambda_method{i}(Closure, Object, Object[])\n         at Microsoft.AspNetCore.Server.Kestrel.Core.Internal.Http.HttpProtocol.ProcessRequests[TContext](IHttpApplication`1 application)\n",
        k = i % 9,
        l = 40 + kind,
    )
}

fn info_lines(kind: &str, from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| match kind {
            "go" => format!("2026/12/04 10:00:{:02} GET /items/{i} 200 {}µs\n", i % 60, i * 37),
            _ => format!("info: Microsoft.AspNetCore.Hosting.Diagnostics[2]\n      Request finished HTTP/1.1 GET http://localhost:5000/orders/{i} - 200 - application/json {}.{}ms\n", i % 9, i * 7 % 100),
        })
        .collect()
}

#[test]
fn go_panics_and_dotnet_exceptions() {
    for (kind, trace) in [
        ("go", go_panic as fn(usize, usize) -> String),
        ("dotnet", dotnet_exception),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let base = info_lines(kind, 0, 200);
        let mut canary = info_lines(kind, 0, 100);
        for i in 1..=15 {
            canary.push_str(&trace(i, usize::from(i % 3 == 0)));
            canary.push_str(&info_lines(kind, 100 + i, 1));
        }
        let (b, c) = (dir.path().join("b.log"), dir.path().join("c.log"));
        std::fs::write(&b, base).unwrap();
        std::fs::write(&c, canary).unwrap();
        let r = logs::analyse(&config(&b, &c)).unwrap();
        let un = unexpected(&r);
        assert_eq!(
            r.canary_events,
            100 + 15 + 15,
            "{kind}: one event per trace: {un:#?}"
        );
        assert_eq!(
            un.len(),
            2,
            "{kind}: one cluster per distinct trace: {un:#?}"
        );
        let counts: Vec<u64> = un.iter().map(|c| c.canary_count).collect();
        assert_eq!(counts.iter().sum::<u64>(), 15, "{kind}: {counts:?}");
        assert!(
            counts.contains(&10) && counts.contains(&5),
            "{kind}: {counts:?}"
        );
        let expected = if kind == "go" {
            Level::Critical
        } else {
            Level::Error
        };
        assert!(un.iter().all(|c| c.level == expected), "{kind}: {un:#?}");
    }
}
