//! Log-template mining speed: one thread, every line of FILE through one miner (default
//! settings), lines per second. Used by `scripts/bench-verify`. Lines are split with `memchr`
//! from 1 MiB reads; the time includes reading. Besides wall-clock time it reports the CPU
//! time of the process (from /proc/self/schedstat), which is what one thread costs on a
//! machine shared with other work.
//!
//!     cargo run --release -p portcullis-verify --example mine_bench -- FILE
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::Read;
use std::time::Instant;

use portcullis_verify::logs::{Miner, MinerConfig};

/// CPU time of this process so far (Linux), in seconds.
fn cpu_seconds() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/schedstat").ok()?;
    let ns: f64 = s.split_whitespace().next()?.parse().ok()?;
    Some(ns / 1e9)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("usage: mine_bench FILE")?;
    let mut file = std::fs::File::open(&path)?;
    let mut miner = Miner::new(MinerConfig::default());
    let mut buf = vec![0u8; 1 << 20];
    let mut carry: Vec<u8> = Vec::new();
    let (mut lines, mut bytes) = (0u64, 0u64);
    let cpu_start = cpu_seconds();
    let started = Instant::now();
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        bytes += n as u64;
        let chunk = &buf[..n];
        let mut start = 0;
        for end in memchr::memchr_iter(b'\n', chunk) {
            if carry.is_empty() {
                miner.add(&chunk[start..end]);
            } else {
                carry.extend_from_slice(&chunk[start..end]);
                miner.add(&carry);
                carry.clear();
            }
            lines += 1;
            start = end + 1;
        }
        carry.extend_from_slice(&chunk[start..]);
    }
    if !carry.is_empty() {
        miner.add(&carry);
        lines += 1;
    }
    let secs = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds().zip(cpu_start).map(|(b, a)| b - a);
    println!(
        "rust-miner lines={lines} bytes={bytes} seconds={secs:.2} lines_per_second={:.0} mb_per_second={:.1} cpu_seconds={} lines_per_cpu_second={} templates={}",
        lines as f64 / secs,
        bytes as f64 / secs / 1e6,
        cpu.map_or("-".into(), |c| format!("{c:.2}")),
        cpu.map_or("-".into(), |c| format!("{:.0}", lines as f64 / c)),
        miner.clusters().len()
    );
    Ok(())
}
