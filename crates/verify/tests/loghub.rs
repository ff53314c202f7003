//! Log-mining accuracy on loghub-2k (16 systems × 2,000 labelled lines, ../shared/corpus):
//! group accuracy per system and the mean, with per-system settings as in the published
//! benchmark (Zhu et al., ICSE-SEIP 2019, where Drain's mean is 0.866). Skips when the corpus is
//! absent.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::HashMap;
use std::path::PathBuf;

use portcullis_verify::logs::{Masking, Miner, MinerConfig};

fn corpus() -> Option<PathBuf> {
    portcullis_testkit::corpus("loghub", "loghub-2k")
}

/// (system, depth, similarity, regex masks, digit runs, masked tokens match)
type Setting = (&'static str, usize, f64, Vec<&'static str>, bool, bool);

fn settings() -> Vec<Setting> {
    vec![
        (
            "HDFS",
            4,
            0.5,
            vec![r"blk_-?\d+", r"(\d+\.){3}\d+(:\d+)?"],
            false,
            true,
        ),
        ("Hadoop", 4, 0.3, vec![r"(\d+\.){3}\d+"], false, true),
        (
            "Spark",
            4,
            0.5,
            vec![r"(\d+\.){3}\d+", r"\b[KGTM]?B\b", r"([\w-]+\.){2,}[\w-]+"],
            false,
            true,
        ),
        (
            "Zookeeper",
            4,
            0.5,
            vec![r"(/|)(\d+\.){3}\d+(:\d+)?"],
            false,
            true,
        ),
        ("BGL", 4, 0.8, vec![r"core\.\d+"], false, true),
        ("HPC", 4, 0.5, vec![r"=\d+"], false, false),
        ("Thunderbird", 4, 0.5, vec![r"(\d+\.){3}\d+"], false, true),
        ("Windows", 5, 0.7, vec![r"0x.*?\s"], false, true),
        (
            "Linux",
            6,
            0.8,
            vec![
                r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun) \w{3} +\d+ \d{2}:\d{2}:\d{2} \d{4}",
                r"(\d+\.){3}\d+",
                r"\d{2}:\d{2}:\d{2}",
            ],
            false,
            true,
        ),
        (
            "Android",
            6,
            0.2,
            vec![
                r"(/[\w-]+)+",
                r"([\w-]+\.){2,}[\w-]+",
                r"\b(\-?\+?\d+)\b|\b0[Xx][a-fA-F\d]+\b|\b[a-fA-F\d]{4,}\b",
            ],
            false,
            true,
        ),
        ("HealthApp", 4, 0.6, vec![], false, true),
        ("Apache", 4, 0.5, vec![r"(\d+\.){3}\d+"], false, true),
        (
            "Proxifier",
            3,
            0.85,
            vec![
                r"bytes(\s*\([\d.]+ [KMGT]?B\))?\s",
                r"<\d+\ssec",
                r"([\w-]+\.)+[\w-]+(:\d+)?",
                r"\d{2}:\d{2}(:\d{2})*",
                r"[KGTM]B",
            ],
            false,
            true,
        ),
        (
            "OpenSSH",
            5,
            0.6,
            vec![r"(\d+\.){3}\d+", r"([\w-]+\.){2,}[\w-]+"],
            false,
            false,
        ),
        (
            "OpenStack",
            5,
            0.95,
            vec![
                r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
                r"((\d+\.){3}\d+,?)+",
                r"/.+?\s",
                r"\d+",
            ],
            false,
            true,
        ),
        ("Mac", 6, 0.7, vec![r"([\w-]+\.){2,}[\w-]+"], false, true),
    ]
}

/// Lines grouped together exactly as the ground truth groups them, as a share of all lines.
fn group_accuracy(truth: &[String], parsed: &[usize]) -> f64 {
    let mut truth_size: HashMap<&str, usize> = HashMap::new();
    for t in truth {
        *truth_size.entry(t).or_default() += 1;
    }
    let mut by_cluster: HashMap<usize, Vec<usize>> = HashMap::new();
    for (i, &c) in parsed.iter().enumerate() {
        by_cluster.entry(c).or_default().push(i);
    }
    let mut correct = 0;
    for lines in by_cluster.values() {
        let first = &truth[lines[0]];
        if lines.iter().all(|&i| &truth[i] == first) && truth_size[first.as_str()] == lines.len() {
            correct += lines.len();
        }
    }
    correct as f64 / truth.len() as f64
}

fn run_system(
    dir: &std::path::Path,
    system: &str,
    depth: usize,
    st: f64,
    patterns: &[&str],
    digit_runs: bool,
    masked_tokens_match: bool,
) -> f64 {
    let path = dir
        .join(system)
        .join(format!("{system}_2k.log_structured.csv"));
    let mut reader = csv::Reader::from_path(&path).unwrap();
    let headers = reader.headers().unwrap().clone();
    let content = headers.iter().position(|h| h == "Content").unwrap();
    let event = headers.iter().position(|h| h == "EventId").unwrap();
    // LOGHUB_ST=System=0.7 tries another similarity for one system (tuning).
    let st = std::env::var("LOGHUB_ST")
        .ok()
        .and_then(|v| {
            v.strip_prefix(&format!("{system}="))
                .and_then(|x| x.parse().ok())
        })
        .unwrap_or(st);
    // LOGHUB_WORDS=n (or `none`) tries another maxWordChanges for every system (tuning).
    let words = match std::env::var("LOGHUB_WORDS").as_deref() {
        Ok("none") => None,
        Ok(n) => n.parse().ok(),
        Err(_) => MinerConfig::default().max_word_changes,
    };
    let mut miner = Miner::new(MinerConfig {
        max_word_changes: words,
        depth,
        similarity: st,
        patterns: patterns.iter().map(|s| s.to_string()).collect(),
        masking: Masking {
            digit_runs,
            ..Masking::default()
        },
        masked_tokens_match,
        ..MinerConfig::default()
    });
    let mut truth = Vec::new();
    let mut parsed = Vec::new();
    for rec in reader.records() {
        let rec = rec.unwrap();
        truth.push(rec[event].to_string());
        parsed.push(miner.add(rec[content].as_bytes()));
    }
    if std::env::var("LOGHUB_DEBUG").as_deref() == Ok(system) {
        debug(&truth, &parsed, &miner);
    }
    group_accuracy(&truth, &parsed)
}

/// Print the clusters that are wrong: mixed truth, or a truth split over several clusters.
fn debug(truth: &[String], parsed: &[usize], miner: &Miner) {
    let mut by_cluster: HashMap<usize, HashMap<&str, usize>> = HashMap::new();
    let mut by_truth: HashMap<&str, HashMap<usize, usize>> = HashMap::new();
    for (t, &c) in truth.iter().zip(parsed) {
        *by_cluster.entry(c).or_default().entry(t).or_default() += 1;
        *by_truth.entry(t).or_default().entry(c).or_default() += 1;
    }
    for (c, ts) in &by_cluster {
        if ts.len() > 1 {
            println!("MIXED {ts:?}: {}", miner.template(*c));
        }
    }
    for (t, cs) in &by_truth {
        if cs.len() > 1 {
            let n: usize = cs.values().sum();
            println!("SPLIT {t} ({n} lines) over {} clusters:", cs.len());
            for c in cs.keys().take(4) {
                println!("    {}", miner.template(*c));
            }
        }
    }
}

#[test]
fn loghub_group_accuracy() {
    let Some(dir) = corpus() else { return };
    let mut total = 0.0;
    let all = settings();
    println!("{:<12} {:>8} {:>8}", "system", "before", "accuracy");
    let tuning =
        std::env::var_os("LOGHUB_WORDS").is_some() || std::env::var_os("LOGHUB_ST").is_some();
    let mut below = Vec::new();
    for (system, depth, st, patterns, runs, masked_match) in &all {
        let acc = run_system(&dir, system, *depth, *st, patterns, *runs, *masked_match);
        let before = BEFORE_WORDS
            .iter()
            .find(|(s, _)| s == system)
            .map_or(0.0, |(_, b)| *b);
        println!("{system:<12} {before:>8.3} {acc:>8.3}");
        // Rounded to 3 decimals when recorded.
        if acc < before - 0.0005 {
            below.push(format!("{system} {acc:.3} < {before:.3}"));
        }
        total += acc;
    }
    assert!(
        tuning || below.is_empty(),
        "below the accuracy before constant words were kept apart: {below:?}"
    );
    let mean = total / all.len() as f64;
    let before_mean = BEFORE_WORDS.iter().map(|(_, b)| b).sum::<f64>() / BEFORE_WORDS.len() as f64;
    println!("{:<12} {before_mean:>8.3} {mean:>8.3}", "mean");
    assert!(
        tuning || mean >= FLOOR,
        "mean group accuracy {mean:.3} is below {FLOOR}"
    );
}

/// The mean measured with constant words kept apart (0.956), less a little; it was 0.952
/// before (`BEFORE_WORDS`).
const FLOOR: f64 = 0.95;

/// Group accuracy per system before the miner kept constant words apart (`maxWordChanges`
/// null, as measured on this corpus when that setting was added): no system may fall below.
const BEFORE_WORDS: [(&str, f64); 16] = [
    ("HDFS", 0.998),
    ("Hadoop", 0.962),
    ("Spark", 0.920),
    ("Zookeeper", 0.967),
    ("BGL", 0.987),
    ("HPC", 0.932),
    ("Thunderbird", 0.955),
    ("Windows", 1.000),
    ("Linux", 0.986),
    ("Android", 0.911),
    ("HealthApp", 0.859),
    ("Apache", 1.000),
    ("Proxifier", 1.000),
    ("OpenSSH", 0.995),
    ("OpenStack", 1.000),
    ("Mac", 0.756),
];
