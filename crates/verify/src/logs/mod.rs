//! Log analysis: read the baseline's and the canary's logs (compressed ones decompressed,
//! binary ones refused: [`input`]), fold multi-line events such as stack traces ([`fold`]), mine
//! templates with one miner (a folded trace's shape is part of its template), count each
//! template per side, and classify each template as unexpected (new in the canary, or
//! significantly more frequent there), expected, or ignored (the operator's list); take its level
//! (critical, error, warning) from the line's format ([`level`]) or else the `levels`
//! expressions, raised by an exception in the event. The log score starts at 100 and loses a
//! deduction per unexpected template, by level; by default an unexpected critical template
//! scores 0.

pub mod fold;
pub mod input;
pub mod level;
pub mod mask;
pub mod miner;

use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::VerifyError;
pub use mask::Masking;
pub use miner::{Miner, MinerConfig, MinerConfigError};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LogConfig {
    /// Files or globs (`logs/baseline/*.log`) of the baseline's logs.
    pub baseline: Vec<String>,
    pub canary: Vec<String>,
    #[serde(default)]
    pub miner: MinerConfig,
    /// A line matching this starts no new event: it continues the previous one (stack traces;
    /// the default covers Java, Python, Go, Node.js and .NET, see [`fold::DEFAULT_CONTINUATION`]).
    #[serde(default = "default_continuation")]
    pub continuation: String,
    /// Templates (or sample lines) matching any of these are ignored.
    #[serde(default)]
    pub ignore: Vec<String>,
    #[serde(default)]
    pub levels: Levels,
    #[serde(default)]
    pub deductions: Deductions,
    /// An unexpected critical template scores 0.
    #[serde(default = "yes")]
    pub critical_fails: bool,
    /// A template is significantly more frequent in the canary when its share of the canary's
    /// events is at least this many times its share of the baseline's...
    #[serde(default = "default_ratio")]
    pub frequency_ratio: f64,
    /// ...and the two-proportion z statistic is at least this.
    #[serde(default = "default_z")]
    pub min_z: f64,
    /// Sample events kept per template and side.
    #[serde(default = "default_samples")]
    pub samples: usize,
}

fn default_continuation() -> String {
    fold::DEFAULT_CONTINUATION.into()
}

fn yes() -> bool {
    true
}

fn default_ratio() -> f64 {
    2.0
}

fn default_z() -> f64 {
    3.0
}

fn default_samples() -> usize {
    3
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Levels {
    pub critical: String,
    pub error: String,
    pub warning: String,
}

impl Default for Levels {
    fn default() -> Self {
        Self {
            critical: r"(?i)\b(fatal|critical|crit|panic|emerg|emergency|alert|OutOfMemoryError)\b"
                .into(),
            error: r"(?i)\b(error|err|exception|fail|failed|failure|severe)\b|Exception\b".into(),
            warning: r"(?i)\b(warn|warning)\b".into(),
        }
    }
}

/// Points lost per unexpected template, by level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Deductions {
    pub critical: f64,
    pub error: f64,
    pub warning: f64,
    pub info: f64,
}

impl Default for Deductions {
    fn default() -> Self {
        Self {
            critical: 100.0,
            error: 20.0,
            warning: 10.0,
            info: 5.0,
        }
    }
}

/// Why a log comparison configuration cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LogConfigError {
    #[error("baseline and canary each need at least one file or glob")]
    NoFiles,
    #[error("miner: {0}")]
    Miner(#[source] MinerConfigError),
    /// A regular expression that does not compile; `at` names the setting (`ignore/2`).
    #[error("{at}: {source}")]
    Regex { at: String, source: regex::Error },
    #[error("frequencyRatio must be >= 1")]
    FrequencyRatio,
}

impl LogConfig {
    pub fn check(&self) -> Result<(), LogConfigError> {
        if self.baseline.is_empty() || self.canary.is_empty() {
            return Err(LogConfigError::NoFiles);
        }
        self.miner.check().map_err(LogConfigError::Miner)?;
        let regex = |at: String, re: &str| {
            Regex::new(re).map_err(|source| LogConfigError::Regex { at, source })
        };
        for (what, re) in [
            ("continuation", &self.continuation),
            ("levels.critical", &self.levels.critical),
            ("levels.error", &self.levels.error),
            ("levels.warning", &self.levels.warning),
        ] {
            regex(what.to_owned(), re)?;
        }
        for (i, re) in self.ignore.iter().enumerate() {
            regex(format!("ignore/{i}"), re)?;
        }
        if !(self.frequency_ratio.is_finite() && self.frequency_ratio >= 1.0) {
            return Err(LogConfigError::FrequencyRatio);
        }
        Ok(())
    }

    /// Make relative paths relative to `dir` (the configuration's directory).
    pub fn resolve_relative_to(&mut self, dir: &Path) {
        for p in self.baseline.iter_mut().chain(self.canary.iter_mut()) {
            if Path::new(p.as_str()).is_relative() {
                *p = dir.join(p.as_str()).to_string_lossy().into_owned();
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Info,
    Warning,
    Error,
    Critical,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClusterClass {
    Unexpected,
    Expected,
    Ignored,
}

/// One template with its counts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogCluster {
    pub template: String,
    pub level: Level,
    pub classification: ClusterClass,
    pub reason: String,
    pub baseline_count: u64,
    pub canary_count: u64,
    pub baseline_samples: Vec<String>,
    pub canary_samples: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogResult {
    pub score: f64,
    pub baseline_events: u64,
    pub canary_events: u64,
    pub baseline_files: Vec<String>,
    pub canary_files: Vec<String>,
    pub unexpected: usize,
    pub notes: Vec<String>,
    /// Unexpected first (most severe first), then the others by canary count.
    pub clusters: Vec<LogCluster>,
}

/// Files named by paths or globs (`*`, `?`, `[...]` in the file name part).
pub fn expand(patterns: &[String]) -> Result<Vec<PathBuf>, VerifyError> {
    let mut out = Vec::new();
    for p in patterns {
        let path = Path::new(p);
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !name.contains(['*', '?', '[']) {
            if !path.is_file() {
                return Err(VerifyError::input(path, "log", "no such file"));
            }
            out.push(path.to_path_buf());
            continue;
        }
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let glob = globset::Glob::new(&name)
            .map_err(|e| VerifyError::input(path, "log glob", e.to_string()))?
            .compile_matcher();
        let entries = std::fs::read_dir(dir).map_err(|e| {
            VerifyError::input(
                path,
                "log glob",
                format!("cannot list {}: {e}", dir.display()),
            )
        })?;
        let mut matched: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_file() && p.file_name().is_some_and(|n| glob.is_match(n)))
            .collect();
        if matched.is_empty() {
            return Err(VerifyError::input(path, "log glob", "matches no file"));
        }
        matched.sort();
        out.extend(matched);
    }
    Ok(out)
}

struct Side {
    counts: Vec<u64>,
    samples: Vec<Vec<String>>,
    events: u64,
}

impl Side {
    fn new() -> Self {
        Self {
            counts: Vec::new(),
            samples: Vec::new(),
            events: 0,
        }
    }

    fn record(&mut self, cluster: usize, event: &[u8], keep: usize) {
        if self.counts.len() <= cluster {
            self.counts.resize(cluster + 1, 0);
            self.samples.resize(cluster + 1, Vec::new());
        }
        if let Some(c) = self.counts.get_mut(cluster) {
            *c += 1;
        }
        if let Some(s) = self.samples.get_mut(cluster)
            && s.len() < keep
        {
            let text = String::from_utf8_lossy(event);
            let mut t: String = text.chars().take(2000).collect();
            if t.len() < text.len() {
                t.push('…');
            }
            s.push(t);
        }
        self.events += 1;
    }
}

/// Longest line kept; the rest of a longer line is skipped (memory stays bounded).
const MAX_LINE_BYTES: usize = 1 << 20;

/// Read one line (through `\n`) into `line`, keeping at most `MAX_LINE_BYTES`; the number of
/// bytes consumed (0 at the end of the input).
fn read_line_capped(reader: &mut dyn BufRead, line: &mut Vec<u8>) -> std::io::Result<usize> {
    let mut consumed = 0;
    loop {
        let buf = match reader.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            return Ok(consumed);
        }
        let (chunk, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (buf.get(..=i).unwrap_or(buf), true),
            None => (buf, false),
        };
        let room = MAX_LINE_BYTES.saturating_sub(line.len());
        line.extend_from_slice(chunk.get(..chunk.len().min(room)).unwrap_or_default());
        let n = chunk.len();
        reader.consume(n);
        consumed += n;
        if done {
            return Ok(consumed);
        }
    }
}

/// What makes events one cluster: the miner's template of the first line, the trace's shape,
/// the level the line states and the level its exceptions imply.
type Key = (usize, u32, Option<Level>, Option<Level>);

/// Everything mined so far, both sides.
struct Mining {
    miner: Miner,
    shapes: fold::Shapes,
    keys: Vec<Key>,
    index: rustc_hash::FxHashMap<Key, usize>,
    base: Side,
    canary: Side,
    keep: usize,
}

impl Mining {
    fn event(&mut self, event: &fold::Event, is_canary: bool) {
        let cid = self.miner.add(event.head());
        let shape = self.shapes.id(event);
        let key = (
            cid,
            shape,
            level::stated_level(event.head()),
            event.exception,
        );
        let id = match self.index.get(&key) {
            Some(&id) => id,
            None => {
                let id = self.keys.len();
                self.keys.push(key);
                self.index.insert(key, id);
                id
            }
        };
        let side = if is_canary {
            &mut self.canary
        } else {
            &mut self.base
        };
        side.record(id, &event.text, self.keep);
    }

    /// The template of a cluster: the first line's, then the trace's shape.
    fn template(&self, id: usize) -> String {
        let Some(&(cid, shape, _, _)) = self.keys.get(id) else {
            return String::new();
        };
        let mut t = self.miner.template(cid);
        if shape != 0 {
            t.push_str(" ⏎ ");
            t.push_str(self.shapes.text(shape));
        }
        t
    }
}

/// Progress of a long analysis: `(bytes read, total bytes)` of the log files (compressed
/// bytes for compressed logs), called every few hundred kilobytes and after each file.
pub type Progress<'p> = &'p dyn Fn(u64, u64);

/// How often progress is reported, in bytes read.
const PROGRESS_STEP: u64 = 256 * 1024;

/// One input: its name, whether it is the canary's, its bytes, its size if known.
type Source<'a> = (PathBuf, bool, Box<dyn Read + 'a>, u64);

/// Feed the events of one input (multi-line events folded) to the miner.
fn mine_source(
    mining: &mut Mining,
    folder: &mut fold::Folder,
    source: Source<'_>,
    done_before: u64,
    total: u64,
    progress: Option<Progress<'_>>,
) -> Result<u64, VerifyError> {
    let (name, is_canary, raw, size) = source;
    let opened = input::open(&name, raw, input::MAX_DECOMPRESSED_BYTES)?;
    let format = input::format_name(opened.encoding);
    let consumed = opened.consumed;
    let mut reader = opened.reader;
    let mut line = Vec::new();
    let mut reported = 0u64;
    loop {
        line.clear();
        let n = read_line_capped(&mut *reader, &mut line)
            .map_err(|e| VerifyError::input(&name, format, format!("cannot read: {e}")))?;
        if n == 0 {
            break;
        }
        while matches!(line.last(), Some(b'\n' | b'\r')) {
            line.pop();
        }
        if let Some(p) = progress {
            let now = consumed.get();
            if now >= reported + PROGRESS_STEP {
                reported = now;
                p(done_before + now.min(size), total);
            }
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        if let Some(e) = folder.push(&line) {
            mining.event(e, is_canary);
        }
    }
    if let Some(e) = folder.finish() {
        mining.event(e, is_canary);
    }
    let read = consumed.get().max(size);
    if let Some(p) = progress {
        p(done_before + read, total.max(done_before + read));
    }
    Ok(read)
}

/// Analyse the logs the configuration names.
pub fn analyse(config: &LogConfig) -> Result<LogResult, VerifyError> {
    analyse_with_progress(config, None)
}

/// [`analyse`], reporting `(bytes read, total bytes)` as the files are read (the bytes on disk:
/// compressed bytes for compressed logs).
pub fn analyse_with_progress(
    config: &LogConfig,
    progress: Option<&dyn Fn(u64, u64)>,
) -> Result<LogResult, VerifyError> {
    let baseline_files = expand(&config.baseline)?;
    let canary_files = expand(&config.canary)?;
    let mut sources: Vec<Source<'static>> = Vec::new();
    for (files, is_canary) in [(&baseline_files, false), (&canary_files, true)] {
        for f in files {
            let file = std::fs::File::open(f)
                .map_err(|e| VerifyError::input(f, "log", format!("cannot read: {e}")))?;
            let size = file.metadata().map_or(0, |m| m.len());
            sources.push((f.clone(), is_canary, Box::new(file), size));
        }
    }
    let mut out = run(config, sources, progress)?;
    out.baseline_files = baseline_files
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    out.canary_files = canary_files
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    Ok(out)
}

/// Analyse logs from readers: `(name, is_canary, reader)`, baseline first. Compressed input
/// is decompressed and binary input refused, as for files.
pub fn analyse_readers<R: BufRead>(
    config: &LogConfig,
    readers: Vec<(PathBuf, bool, R)>,
) -> Result<LogResult, VerifyError> {
    let sources = readers
        .into_iter()
        .map(|(name, is_canary, r)| (name, is_canary, Box::new(r) as Box<dyn Read + '_>, 0))
        .collect();
    run(config, sources, None)
}

fn run(
    config: &LogConfig,
    sources: Vec<Source<'_>>,
    progress: Option<Progress<'_>>,
) -> Result<LogResult, VerifyError> {
    let bad = |m: String| VerifyError::config("logs", "CanaryAnalysis", m);
    config.check().map_err(|e| bad(e.to_string()))?;
    let continuation =
        regex::bytes::Regex::new(&config.continuation).map_err(|e| bad(e.to_string()))?;
    let compile = |s: &str| Regex::new(s).map_err(|e| bad(e.to_string()));
    let critical = compile(&config.levels.critical)?;
    let error = compile(&config.levels.error)?;
    let warning = compile(&config.levels.warning)?;
    let ignore: Vec<Regex> = config
        .ignore
        .iter()
        .map(|s| compile(s))
        .collect::<Result<_, _>>()?;

    let mut mining = Mining {
        miner: Miner::new(config.miner.clone()),
        shapes: fold::Shapes::default(),
        keys: Vec::new(),
        index: rustc_hash::FxHashMap::default(),
        base: Side::new(),
        canary: Side::new(),
        keep: config.samples,
    };
    let mut folder = fold::Folder::new(continuation).map_err(|e| bad(e.to_string()))?;
    let total: u64 = sources.iter().map(|s| s.3).sum();
    let mut done = 0u64;
    for source in sources {
        done += mine_source(&mut mining, &mut folder, source, done, total, progress)?;
    }
    let Mining {
        base, canary, keys, ..
    } = &mining;

    let mut clusters = Vec::new();
    let mut score: f64 = 100.0;
    let mut notes = Vec::new();
    let mut critical_hit = Vec::new();
    let (nb, nc) = (base.events as f64, canary.events as f64);
    for (cid, &(head, shape, stated, exception)) in keys.iter().enumerate() {
        let template = mining.template(cid);
        let b = base.counts.get(cid).copied().unwrap_or(0);
        let c = canary.counts.get(cid).copied().unwrap_or(0);
        let bs = base.samples.get(cid).cloned().unwrap_or_default();
        let cs = canary.samples.get(cid).cloned().unwrap_or_default();
        // The first line's template and the first line of a sample (a trace's frames are not
        // words about the event: `alert.py`).
        let head_template = mining.miner.template(head);
        let probe = format!(
            "{head_template}\n{}",
            cs.first()
                .or(bs.first())
                .map_or("", |s| s.lines().next().unwrap_or(""))
        );
        // The level the lines state; only lines that state none are matched against the
        // expressions. An exception or panic in the event raises it.
        let level = stated.unwrap_or_else(|| {
            if critical.is_match(&probe) {
                Level::Critical
            } else if error.is_match(&probe) {
                Level::Error
            } else if warning.is_match(&probe) {
                Level::Warning
            } else {
                Level::Info
            }
        });
        // `OutOfMemoryError` in a class is critical; a frame's name (`alert.py`) is not.
        let classes = format!("{head_template}\n{}", mining.shapes.classes(shape));
        let level = match exception {
            Some(e) if e >= level && critical.is_match(&classes) => Level::Critical,
            Some(e) => level.max(e),
            None => level,
        };
        let ignored = ignore
            .iter()
            .any(|re| re.is_match(&template) || cs.iter().chain(&bs).any(|s| re.is_match(s)));
        let (classification, reason) = if ignored {
            (ClusterClass::Ignored, "on the ignore list".to_string())
        } else if c == 0 {
            (ClusterClass::Expected, "not in the canary".to_string())
        } else if b == 0 {
            (
                ClusterClass::Unexpected,
                format!("new in the canary ({c} events)"),
            )
        } else {
            let (rb, rc) = (b as f64 / nb, c as f64 / nc);
            let p = (b + c) as f64 / (nb + nc);
            let se = (p * (1.0 - p) * (1.0 / nb + 1.0 / nc)).sqrt();
            let z = if se > 0.0 { (rc - rb) / se } else { 0.0 };
            if rc >= config.frequency_ratio * rb && z >= config.min_z {
                (
                    ClusterClass::Unexpected,
                    format!(
                        "{:.1}× more frequent in the canary ({:.3}% of events vs {:.3}%, z = {z:.1})",
                        rc / rb,
                        rc * 100.0,
                        rb * 100.0
                    ),
                )
            } else {
                (
                    ClusterClass::Expected,
                    format!(
                        "{:.3}% of canary events vs {:.3}% of baseline events",
                        rc * 100.0,
                        rb * 100.0
                    ),
                )
            }
        };
        if classification == ClusterClass::Unexpected {
            score -= match level {
                Level::Critical => config.deductions.critical,
                Level::Error => config.deductions.error,
                Level::Warning => config.deductions.warning,
                Level::Info => config.deductions.info,
            };
            if level == Level::Critical {
                critical_hit.push(template.clone());
            }
        }
        clusters.push(LogCluster {
            template,
            level,
            classification,
            reason,
            baseline_count: b,
            canary_count: c,
            baseline_samples: bs,
            canary_samples: cs,
        });
    }
    if config.critical_fails && !critical_hit.is_empty() {
        score = 0.0;
        notes.push(format!(
            "unexpected critical log template: {}",
            critical_hit.join("; ")
        ));
    }
    if canary.events == 0 {
        notes.push("the canary's logs hold no events".into());
    }
    let unexpected = clusters
        .iter()
        .filter(|c| c.classification == ClusterClass::Unexpected)
        .count();
    clusters.sort_by(|a, b| {
        let rank = |c: &LogCluster| {
            (
                c.classification != ClusterClass::Unexpected,
                std::cmp::Reverse(c.level),
                std::cmp::Reverse(c.canary_count),
            )
        };
        rank(a).cmp(&rank(b))
    });
    Ok(LogResult {
        score: score.max(0.0),
        baseline_events: base.events,
        canary_events: canary.events,
        baseline_files: Vec::new(),
        canary_files: Vec::new(),
        unexpected,
        notes,
        clusters,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> LogConfig {
        LogConfig {
            baseline: vec!["b".into()],
            canary: vec!["c".into()],
            miner: MinerConfig::default(),
            continuation: default_continuation(),
            ignore: vec![r"heartbeat".into()],
            levels: Levels::default(),
            deductions: Deductions::default(),
            critical_fails: true,
            frequency_ratio: 2.0,
            min_z: 3.0,
            samples: 2,
        }
    }

    fn run(base: &str, canary: &str) -> LogResult {
        analyse_readers(
            &config(),
            vec![
                (PathBuf::from("b"), false, base.as_bytes()),
                (PathBuf::from("c"), true, canary.as_bytes()),
            ],
        )
        .unwrap()
    }

    fn lines(f: impl Fn(usize) -> String, n: usize) -> String {
        (0..n).map(|i| f(i) + "\n").collect()
    }

    #[test]
    fn same_logs_score_100() {
        let logs = lines(|i| format!("INFO request {i} served in {} ms", i % 7), 200);
        let r = run(&logs, &logs);
        assert_eq!(r.score, 100.0);
        assert_eq!(r.unexpected, 0);
    }

    #[test]
    fn new_error_template_and_stack_trace() {
        let base = lines(|i| format!("INFO request {i} served in {} ms", i % 7), 200);
        let mut canary = base.clone();
        canary.push_str("ERROR NullPointerException in handler checkout\n\tat com.shop.Checkout.run(Checkout.java:42)\n\tat java.lang.Thread.run(Thread.java:750)\n");
        let r = run(&base, &canary);
        assert_eq!(r.unexpected, 1, "{:#?}", r.clusters);
        let c = &r.clusters[0];
        assert_eq!(c.level, Level::Error);
        assert_eq!(c.canary_count, 1);
        assert!(
            c.canary_samples[0].contains("Checkout.java:42"),
            "stack trace folded into the event"
        );
        assert_eq!(r.score, 80.0);
    }

    #[test]
    fn levels_of_traces() {
        let base = lines(|i| format!("INFO request {i} served in {} ms", i % 7), 200);
        let mut canary = base.clone();
        // A frame's file name is not a level word; the class is.
        canary.push_str("request 7 failed\nTraceback (most recent call last):\n  File \"/srv/alert.py\", line 3, in send\n    raise ValueError(x)\nValueError: 7\n");
        canary.push_str("2026-12-04 10:00:00 ERROR [main] Cache - refill\njava.lang.OutOfMemoryError: Java heap space\n\tat a.B.c(B.java:1)\n");
        let r = run(&base, &canary);
        assert_eq!(r.unexpected, 2, "{:#?}", r.clusters);
        let level = |word: &str| {
            r.clusters
                .iter()
                .find(|c| c.template.contains(word))
                .unwrap()
                .level
        };
        assert_eq!(level("ValueError"), Level::Error);
        assert_eq!(level("OutOfMemoryError"), Level::Critical);
    }

    #[test]
    fn more_frequent_warning_and_critical() {
        let mut base = lines(|i| format!("INFO request {i} served"), 1000);
        base.push_str(&lines(|i| format!("WARN slow disk {i}"), 10));
        let mut canary = lines(|i| format!("INFO request {i} served"), 1000);
        canary.push_str(&lines(|i| format!("WARN slow disk {i}"), 100));
        let r = run(&base, &canary);
        assert_eq!(r.unexpected, 1, "{:#?}", r.clusters);
        assert_eq!(r.clusters[0].level, Level::Warning);
        assert_eq!(r.score, 90.0);
        canary.push_str("FATAL out of memory, shutting down\n");
        canary.push_str("heartbeat failed 3 times\n");
        let r = run(&base, &canary);
        assert_eq!(r.score, 0.0);
        assert!(
            r.clusters
                .iter()
                .any(|c| c.classification == ClusterClass::Ignored)
        );
    }
}
