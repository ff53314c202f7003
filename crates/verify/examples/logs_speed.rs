//! Speed of the whole log analysis (`logs::analyse`: reading, folding stack traces, levels,
//! mining, classifying) on the raw loghub-2k lines of the shared corpus repeated to BYTES
//! (default 256 MiB), as baseline and as canary, one thread. A measurement, so a program and
//! not a test (docs/benchmarks.md, "Whole log analysis: speed"):
//!
//!     cargo run --release -p portcullis-verify --example logs_speed -- [BYTES]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::Write as _;
use std::time::Instant;

use portcullis_verify::logs::{self, LogConfig};

fn main() {
    let dir = portcullis_testkit::corpus_root().join("loghub-2k");
    assert!(
        dir.is_dir(),
        "no loghub-2k in the shared corpus at {}",
        dir.display()
    );
    let mut sample = Vec::new();
    let mut systems: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    systems.sort();
    for s in systems {
        let name = s.file_name().unwrap().to_string_lossy().into_owned();
        if let Ok(text) = std::fs::read(s.join(format!("{name}_2k.log"))) {
            sample.extend_from_slice(&text);
            if !sample.ends_with(b"\n") {
                sample.push(b'\n');
            }
        }
    }
    let want: usize = std::env::args()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(256 << 20);
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("big.log");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let mut written = 0;
    while written < want {
        f.write_all(&sample).unwrap();
        written += sample.len();
    }
    f.flush().unwrap();
    drop(f);
    let name = path.display().to_string();
    let config: LogConfig =
        serde_json::from_value(serde_json::json!({"baseline": [name], "canary": [name]})).unwrap();
    let started = Instant::now();
    let r = logs::analyse(&config).unwrap();
    let secs = started.elapsed().as_secs_f64();
    let events = r.baseline_events + r.canary_events;
    println!(
        "{} bytes × 2, {events} events, {} templates: {secs:.2} s, {:.0} events/s, {:.1} MB/s",
        written,
        r.clusters.len(),
        events as f64 / secs,
        2.0 * written as f64 / secs / 1e6
    );
}
