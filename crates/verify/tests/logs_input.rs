//! What log input the analysis takes: compressed logs read by content (a healthy gzip canary
//! against a plain baseline passes), binary input refused naming the file, progress reported in
//! bytes read from disk, levels taken from the line's own format.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::cell::RefCell;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use portcullis_testkit::skip_or_fail;
use portcullis_verify::logs::{self, ClusterClass, Level, LogConfig};

fn config(baseline: &[&Path], canary: &[&Path]) -> LogConfig {
    let names =
        |ps: &[&Path]| -> Vec<String> { ps.iter().map(|p| p.display().to_string()).collect() };
    serde_json::from_value(serde_json::json!({
        "baseline": names(baseline),
        "canary": names(canary),
    }))
    .unwrap()
}

/// A day of an nginx access log, deterministic.
fn access_log(n: usize, seed: usize) -> String {
    let paths = [
        "/",
        "/api/items",
        "/api/items/42",
        "/static/app.js",
        "/healthz",
    ];
    (0..n)
        .map(|i| {
            let k = i * 7 + seed;
            format!(
                "10.0.{}.{} - - [04/Dec/2026:10:{:02}:{:02} +0000] \"GET {} HTTP/1.1\" 200 {} \"-\" \"curl/8.5.0\"\n",
                k % 200,
                k % 250,
                (i / 60) % 60,
                i % 60,
                paths[k % paths.len()],
                100 + k % 9000
            )
        })
        .collect()
}

fn gzip_file(path: &Path, text: &str, members: usize) {
    let mut out = Vec::new();
    let chunk = text.len().div_ceil(members).max(1);
    let mut rest = text.as_bytes();
    while !rest.is_empty() {
        let (a, b) = rest.split_at(chunk.min(rest.len()));
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(a).unwrap();
        out.extend(e.finish().unwrap());
        rest = b;
    }
    std::fs::write(path, out).unwrap();
}

#[test]
fn a_healthy_gzip_canary_passes_against_a_plain_baseline() {
    let dir = tempfile::tempdir().unwrap();
    let (b, c, cz) = (
        dir.path().join("b.log"),
        dir.path().join("c.log"),
        dir.path().join("c.log.1"),
    );
    std::fs::write(&b, access_log(3000, 1)).unwrap();
    std::fs::write(&c, access_log(3000, 2)).unwrap();
    // Three gzip members (as `cat a.gz b.gz c.gz` or logrotate's delaycompress make).
    gzip_file(&cz, &access_log(3000, 2), 3);
    let plain = logs::analyse(&config(&[&b], &[&c])).unwrap();
    let gz = logs::analyse(&config(&[&b], &[&cz])).unwrap();
    assert_eq!(plain.score, 100.0, "{:#?}", plain.clusters);
    assert_eq!(gz.clusters, plain.clusters);
    assert_eq!((gz.score, gz.canary_events), (100.0, 3000));
    // The readers path (watch, stdin) detects it too.
    let r = logs::analyse_readers(
        &config(&[&b], &[&cz]),
        vec![
            (
                b.clone(),
                false,
                std::io::BufReader::new(std::fs::File::open(&b).unwrap()),
            ),
            (
                cz.clone(),
                true,
                std::io::BufReader::new(std::fs::File::open(&cz).unwrap()),
            ),
        ],
    )
    .unwrap();
    assert_eq!(r.clusters, plain.clusters);
}

/// Files in formats that are not text logs, made by Python's own modules.
const MAKE_BINARIES: &str = r#"
import bz2, lzma, zipfile, sys, random
d = sys.argv[1]
text = b"INFO request served\n" * 100
with zipfile.ZipFile(d + "/zip.log", "w") as z:
    z.writestr("app.log", text)
open(d + "/bzip2.log", "wb").write(bz2.compress(text))
open(d + "/xz.log", "wb").write(lzma.compress(text))
r = random.Random(7)
open(d + "/random.log", "wb").write(bytes(r.randrange(256) for _ in range(20000)))
"#;

#[test]
fn binary_input_is_refused_naming_the_file() {
    let test = "binary_input_is_refused_naming_the_file";
    let dir = tempfile::tempdir().unwrap();
    let ok = dir.path().join("ok.log");
    std::fs::write(&ok, access_log(10, 0)).unwrap();
    let script = dir.path().join("make.py");
    std::fs::write(&script, MAKE_BINARIES).unwrap();
    match Command::new("python3")
        .arg(&script)
        .arg(dir.path())
        .status()
    {
        Ok(s) => assert!(s.success()),
        Err(e) => skip_or_fail!(test, "python3 cannot run: {e}"),
    }
    // A log in a gzip file that holds a binary (a core dump, say).
    gzip_file(
        &dir.path().join("core.log.gz"),
        &"\0\u{1}ELF".repeat(100),
        1,
    );
    for (name, what) in [
        ("zip.log", "a zip archive"),
        ("bzip2.log", "bzip2-compressed data"),
        ("xz.log", "xz-compressed data"),
        ("random.log", "binary data"),
        (
            "core.log.gz",
            "gzip decompressing to binary data (a NUL byte at offset 0)",
        ),
    ] {
        let bad: PathBuf = dir.path().join(name);
        let err = logs::analyse(&config(&[&ok], &[&bad]))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(&format!("{}: log: refused: {what}", bad.display())),
            "{name}: {err}"
        );
        assert!(err.ends_with("not a text log"), "{err}");
    }
}

#[test]
fn progress_counts_bytes_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let (b, c) = (dir.path().join("b.log"), dir.path().join("c.gz"));
    std::fs::write(&b, access_log(20_000, 1)).unwrap();
    gzip_file(&c, &access_log(20_000, 2), 2);
    let sizes = std::fs::metadata(&b).unwrap().len() + std::fs::metadata(&c).unwrap().len();
    let calls = RefCell::new(Vec::new());
    let record = |read: u64, total: u64| calls.borrow_mut().push((read, total));
    let r = logs::analyse_with_progress(&config(&[&b], &[&c]), Some(&record)).unwrap();
    assert_eq!(r.canary_events, 20_000);
    let calls = calls.into_inner();
    assert!(calls.len() > 4, "reported along the way: {calls:?}");
    assert!(
        calls.iter().all(|&(_, t)| t == sizes),
        "{calls:?} vs {sizes}"
    );
    assert!(
        calls.windows(2).all(|w| w[0].0 <= w[1].0),
        "never backwards: {calls:?}"
    );
    assert_eq!(calls.last(), Some(&(sizes, sizes)));
    // Without a hook, the same result.
    assert_eq!(
        logs::analyse(&config(&[&b], &[&c])).unwrap().clusters,
        r.clusters
    );
}

/// Per format: healthy lines for both sides, then one new line in the canary whose words say
/// one thing and whose format states its level.
#[test]
fn the_level_a_format_states_decides() {
    let cases: [(&str, &str, &str, Level); 7] = [
        (
            "syslog",
            "<14>Dec  4 10:00:{i:02} web app[812]: request {i} served\n",
            "<11>Dec  4 10:01:00 web app[812]: backend pool drained\n",
            Level::Error,
        ),
        (
            "pino JSON",
            r#"{"level":30,"time":17333000{i:02},"pid":7,"hostname":"web","msg":"request {i} served"}"#,
            r#"{"level":30,"time":1733300099,"pid":7,"hostname":"web","msg":"cache refresh failed, using stale copy"}"#,
            Level::Info,
        ),
        (
            "JSON severity",
            r#"{"severity":"INFO","message":"request {i} served"}"#,
            r#"{"severity":"WARNING","message":"disk 91% full"}"#,
            Level::Warning,
        ),
        (
            "logfmt",
            "time=2026-12-04T10:00:{i:02}Z level=info msg=\"request {i} served\"\n",
            "time=2026-12-04T10:01:00Z level=error msg=\"upstream closed\" err=EOF\n",
            Level::Error,
        ),
        (
            "Python logging",
            "INFO:app:request {i} served\n",
            "CRITICAL:app:cannot open the database\n",
            Level::Critical,
        ),
        (
            "nginx error log",
            "2026/12/04 10:00:{i:02} [notice] 1#1: signal process started {i}\n",
            "2026/12/04 10:01:00 [crit] 31#31: *9 connect() to unix:/run/app.sock failed (2: No such file or directory) while connecting to upstream\n",
            Level::Critical,
        ),
        (
            "exception line",
            "INFO request {i} served\n",
            "KeyError: 'tenant'\n",
            Level::Error,
        ),
    ];
    for (format, healthy, extra, level) in cases {
        let lines: String = (0..50)
            .map(|i| {
                let mut l = healthy
                    .replace("{i:02}", &format!("{i:02}"))
                    .replace("{i}", &i.to_string());
                if !l.ends_with('\n') {
                    l.push('\n');
                }
                l
            })
            .collect();
        let mut canary = lines.clone();
        canary.push_str(extra);
        canary.push('\n');
        let r = logs::analyse_readers(
            &config(&[Path::new("b")], &[Path::new("c")]),
            vec![
                (PathBuf::from("b"), false, lines.as_bytes()),
                (PathBuf::from("c"), true, canary.as_bytes()),
            ],
        )
        .unwrap();
        let un: Vec<_> = r
            .clusters
            .iter()
            .filter(|c| c.classification == ClusterClass::Unexpected)
            .collect();
        assert_eq!(un.len(), 1, "{format}: {:#?}", r.clusters);
        assert_eq!(un[0].level, level, "{format}: {:#?}", un[0]);
        assert!(
            r.clusters
                .iter()
                .filter(|c| c.classification != ClusterClass::Unexpected)
                .all(|c| c.level == Level::Info),
            "{format}: {:#?}",
            r.clusters
        );
    }
}
