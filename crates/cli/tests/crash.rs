//! Crash test (the acceptance test of the store): 8 `portcullis gate` processes run
//! concurrently in a loop and are killed with SIGKILL at random moments; afterwards every
//! decision a process reported as recorded is in the store, with the audit entry (sequence
//! number and hash) it reported, the chain has no gap and `portcullis audit verify` passes.
//!
//! - `PORTCULLIS_CRASH_SECS` (default 8, the short form the test suite runs;
//!   `scripts/crash-test` runs 30 on a release build): how long processes are spawned.
//! - `PORTCULLIS_CRASH_SEED`: the seed of the random delays (printed by every run), to replay
//!   a run's choices (the timing of the machine still differs).
//! - `PORTCULLIS_TEST_POSTGRES_URL`: a PostgreSQL server (any database on it); the PostgreSQL
//!   variant creates a database of its own there (with `psql`), dropped when the test passes
//!   and kept for inspection when it fails. Unset: that variant is skipped with a message,
//!   except under CI (`CI=true`), where it fails.
//!
//! How the processes end: a quarter of the runs are left to finish (they measure how long a
//! gate takes under this load, T, and guarantee acknowledged decisions). Of the others, 40 % are
//! killed after a delay drawn uniformly from [0, 1.5 T], 40 % after one from [0.75 T, 1.1 T]
//! (the end of a run, where it commits), and 20 % as soon as they write to stderr (the report,
//! just after the commit, so some die between the commit and the `recorded:` line, some just
//! after it). About half of all processes are killed, most before they report, some while
//! they commit. A process that printed `recorded: decision ID (audit entry SEQ) in …` (read
//! from its pipes, also after a kill) has acknowledged that decision; with its JSON on stdout,
//! the entry's hash too.
#![cfg(unix)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::{CLEAN_ARTIFACT, allowed_command, denied_command, example_config, root};
use serde_json::Value;

/// Processes at once.
const WORKERS: usize = 8;
/// Every `CONTROL_EVERY`-th run is left to finish.
const CONTROL_EVERY: u64 = 4;
/// Kill delays: uniform in [0, `KILL_SPAN` × T], or in `NEAR_END` × T.
const KILL_SPAN: f64 = 1.5;
const NEAR_END: (f64, f64) = (0.75, 1.1);
/// SIGKILL.
const SIGKILL: i32 = 9;
const POSTGRES_URL_VAR: &str = "PORTCULLIS_TEST_POSTGRES_URL";

#[test]
fn sqlite_store_survives_sigkill() {
    let home = Scratch::dir("sqlite");
    let target = Target {
        label: "SQLite".into(),
        home: home.path.clone(),
        database_url: None,
    };
    crash_test(&target);
    home.passed();
}

#[test]
fn postgres_store_survives_sigkill() {
    let server = match std::env::var(POSTGRES_URL_VAR) {
        Ok(url) if !url.trim().is_empty() => url.trim().to_string(),
        _ => portcullis_testkit::skip_or_fail!(
            "PostgreSQL crash test",
            "{POSTGRES_URL_VAR} is not set"
        ),
    };
    let database = PgDatabase::create(&server);
    let home = Scratch::dir("postgres");
    let target = Target {
        label: format!("PostgreSQL (database {})", database.name),
        home: home.path.clone(),
        database_url: Some(database.url.clone()),
    };
    crash_test(&target);
    home.passed();
    database.passed();
}

// ---------------------------------------------------------------- the test

fn crash_test(target: &Target) {
    let wall = Instant::now();
    let secs = env_number("PORTCULLIS_CRASH_SECS", 8.0);
    assert!(
        secs.is_finite() && secs > 0.0,
        "PORTCULLIS_CRASH_SECS={secs}: expected a positive number of seconds"
    );
    let storm = Duration::from_secs_f64(secs);
    let seed = match std::env::var("PORTCULLIS_CRASH_SEED") {
        Ok(s) => s.trim().parse::<u64>().unwrap_or_else(|e| {
            panic!("PORTCULLIS_CRASH_SEED={s}: expected an unsigned integer ({e})")
        }),
        Err(_) => {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64)
                ^ u64::from(std::process::id()).rotate_left(32)
        }
    };
    let config = example_config();
    let plan = Plan {
        config: config.path.clone(),
        seed,
    };

    // Two runs alone: the first creates the store (schema, checkpoint key), the second says
    // how long a gate takes; both are acknowledged decisions like any other.
    let mut setup: Vec<RunReport> = Vec::new();
    let mut solo = Duration::ZERO;
    for n in 0..2 {
        let started = Instant::now();
        let output = target.output(&plan.args(usize::MAX, n));
        solo = started.elapsed();
        let run = RunReport::of(&output, false, solo);
        assert!(
            matches!(output.status.code(), Some(0 | 1)) && run.ack.is_some() && run.json_ok,
            "{}: a gate run alone did not record its decision (exit {:?}):\n{}",
            target.label,
            output.status.code(),
            run.stderr
        );
        setup.push(run);
    }
    // T, how long a gate takes among the others: at first (an underestimate, so that the first
    // kills land early) as long as alone; then what the runs left to finish take.
    let estimate = Mutex::new(solo.as_secs_f64());

    eprintln!(
        "crash test on {}: {WORKERS} processes for {secs} s, seed {seed} \
         (PORTCULLIS_CRASH_SEED), a gate alone takes {} ms",
        target.label,
        solo.as_millis(),
    );

    let storm_started = Instant::now();
    let reports: Vec<Vec<RunReport>> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..WORKERS)
            .map(|w| {
                let (plan, estimate) = (&plan, &estimate);
                s.spawn(move || worker(target, plan, w, storm_started, storm, estimate))
            })
            .collect();
        workers
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| panic!("a worker of the crash test panicked"))
            })
            .collect()
    });
    let storm_took = storm_started.elapsed();
    let runs: Vec<&RunReport> = reports.iter().flatten().collect();

    // The store still works after all that: one more decision, alone.
    let after = target.output(&plan.args(usize::MAX, 2));
    let after_run = RunReport::of(&after, false, Duration::ZERO);
    assert!(
        matches!(after.status.code(), Some(0 | 1)) && after_run.ack.is_some(),
        "{}: a gate after the crashes did not record its decision (exit {:?}):\n{}",
        target.label,
        after.status.code(),
        after_run.stderr
    );

    // What the processes said.
    let spawned = runs.len();
    let killed = runs.iter().filter(|r| r.killed).count();
    let killed_before_report = runs.iter().filter(|r| r.killed && r.ack.is_none()).count();
    let killed_after_report = runs.iter().filter(|r| r.killed && r.ack.is_some()).count();
    let exited = runs.iter().filter(|r| !r.killed).count();
    let storm_acks: Vec<&Ack> = runs.iter().filter_map(|r| r.ack.as_ref()).collect();
    let mut problems: Vec<String> = (setup.iter().chain([&after_run]))
        .chain(runs.iter().copied())
        .flat_map(|r| r.problems.clone())
        .collect();
    // Exit 2 without a recorded decision: the store failed it (a decision recorded with
    // exit 2 failed closed, which a loaded machine may cause: rules have a time limit).
    let errors: Vec<&RunReport> = runs
        .iter()
        .copied()
        .filter(|r| !r.killed && r.code == Some(2) && r.ack.is_none())
        .collect();
    let fail_closed = runs
        .iter()
        .filter(|r| !r.killed && r.code == Some(2) && r.ack.is_some())
        .count();
    let hung = runs.iter().filter(|r| r.hung).count();
    let on_output = runs.iter().filter(|r| r.on_output).count();
    let on_output_unreported = runs
        .iter()
        .filter(|r| r.on_output && r.killed && r.ack.is_none())
        .count();

    let mut acks: Vec<&Ack> = setup.iter().filter_map(|r| r.ack.as_ref()).collect();
    acks.extend(storm_acks.iter().copied());
    acks.extend(after_run.ack.iter());
    let mut seen: HashMap<&str, u64> = HashMap::new();
    for a in &acks {
        if let Some(prev) = seen.insert(a.id.as_str(), a.seq) {
            problems.push(format!(
                "decision {} was reported twice (audit entries {prev} and {})",
                a.id, a.seq
            ));
        }
    }

    // The store: the chain, its head, every decision.
    let checkpoint = target.output(&["audit", "checkpoint"]);
    let checkpoint_text = text(&checkpoint.stdout);
    let head = parse_checkpoint(&checkpoint_text);
    let verify = target.output(&["audit", "verify"]);
    let verify_json = target.output(&["audit", "verify", "--json"]);
    let verified: Option<Value> = serde_json::from_slice(&verify_json.stdout).ok();
    let entries = verified
        .as_ref()
        .and_then(|v| v.get("entries"))
        .and_then(Value::as_u64);
    let last_hash = verified
        .as_ref()
        .and_then(|v| v.get("last_hash"))
        .and_then(Value::as_str)
        .map(str::to_string);

    let list = target.output(&["decision", "list", "--format", "json", "--limit", "1000000"]);
    let listed: Vec<Value> = serde_json::from_slice(&list.stdout).unwrap_or_default();
    let stored: HashMap<String, u64> = listed
        .iter()
        .filter_map(|d| Some((d.get("id")?.as_str()?.to_string(), d.get("seq")?.as_u64()?)))
        .collect();

    // The whole chain, as a proof bundle: entries 1..=N, each with its hash.
    let chain = entries
        .filter(|n| *n > 0)
        .map(|n| target.export(n))
        .unwrap_or_default();
    let mut found = 0usize;
    for a in &acks {
        match stored.get(&a.id) {
            None => problems.push(format!(
                "decision {} was acknowledged (audit entry {}) but is not in the store",
                a.id, a.seq
            )),
            Some(&seq) if seq != a.seq => problems.push(format!(
                "decision {} was acknowledged at audit entry {} but is stored at entry {seq}",
                a.id, a.seq
            )),
            Some(_) => {
                found += 1;
                match chain.get(&a.seq) {
                    None => problems.push(format!(
                        "decision {}: audit entry {} is not in the exported chain",
                        a.id, a.seq
                    )),
                    Some(e) => {
                        if e.kind != "decision" || e.decision_id.as_deref() != Some(&a.id) {
                            problems.push(format!(
                                "audit entry {} is {} {:?}, not the decision {} reported there",
                                a.seq, e.kind, e.decision_id, a.id
                            ));
                        }
                        if let Some(h) = &a.hash
                            && *h != e.hash
                        {
                            problems.push(format!(
                                "decision {}: audit entry {} has hash {}, the process reported {h}",
                                a.id, a.seq, e.hash
                            ));
                        }
                    }
                }
            }
        }
    }
    // `decision show` on a few of them (the first, the last, some in between).
    let step = (acks.len() / 8).max(1);
    for a in acks.iter().step_by(step).chain(acks.last()) {
        let show = target.output(&["decision", "show", &a.id]);
        let d: Option<Value> = serde_json::from_slice(&show.stdout).ok();
        let id = d.as_ref().and_then(|d| d.get("id")).and_then(Value::as_str);
        let seq = d
            .as_ref()
            .and_then(|d| d.pointer("/chain/seq"))
            .and_then(Value::as_u64);
        let hash = d
            .as_ref()
            .and_then(|d| d.pointer("/chain/hash"))
            .and_then(Value::as_str);
        let hash_ok = a.hash.as_deref().is_none_or(|h| Some(h) == hash);
        if show.status.code() != Some(0) || id != Some(&a.id) || seq != Some(a.seq) || !hash_ok {
            problems.push(format!(
                "decision show {} (exit {:?}) does not show the decision the process reported \
                 (entry {}, hash {:?}): id {id:?}, entry {seq:?}, hash {hash:?}; {}",
                a.id,
                show.status.code(),
                a.seq,
                a.hash,
                text(&show.stderr).trim()
            ));
        }
    }

    let estimate_final = estimate_now(&estimate);
    let or_unknown = |n: Option<u64>| n.map_or_else(|| "?".to_string(), |n| n.to_string());
    eprintln!(
        "crash test on {}, seed {seed}:\n  \
         {spawned} gate processes in {:.1} s (a gate under load took ~{} ms)\n  \
         {killed} killed: {killed_before_report} before they reported, {killed_after_report} \
         after ({on_output} were to be killed as they began to report: \
         {on_output_unreported} of them died before the `recorded:` line)\n  \
         {exited} exited by themselves: {fail_closed} failed closed (exit 2, recorded), {} \
         errors (exit 2, not recorded), {hung} hung\n  \
         acknowledged {} decisions ({} during the crashes), found {found}\n  \
         the store holds {} decisions ({} committed by processes killed before they reported); \
         chain of {} entries, head at entry {}\n  \
         audit verify: exit {:?}: {}{}\n  \
         wall time {:.1} s",
        target.label,
        storm_took.as_secs_f64(),
        ms(estimate_final),
        errors.len(),
        acks.len(),
        storm_acks.len(),
        stored.len(),
        stored.len().saturating_sub(acks.len()),
        or_unknown(entries),
        or_unknown(head.as_ref().map(|(s, _)| *s)),
        verify.status.code(),
        text(&verify.stdout).trim(),
        text(&verify.stderr).trim(),
        wall.elapsed().as_secs_f64(),
    );
    for r in errors.iter().take(3) {
        eprintln!(
            "a gate that was not killed failed without recording a decision (exit 2):\n{}",
            tail(&r.stderr)
        );
    }

    assert_eq!(
        verify.status.code(),
        Some(0),
        "{}: audit verify failed:\n{}{}",
        target.label,
        text(&verify.stdout),
        text(&verify.stderr)
    );
    assert_eq!(
        verify_json.status.code(),
        Some(0),
        "audit verify --json:\n{}",
        text(&verify_json.stderr)
    );
    assert!(
        problems.is_empty(),
        "{}: {} problems (seed {seed}; store kept in {}):\n{}",
        target.label,
        problems.len(),
        target.home.display(),
        problems.join("\n")
    );
    assert_eq!(list.status.code(), Some(0), "{}", text(&list.stderr));
    assert_eq!(
        listed.len(),
        stored.len(),
        "decision list: every row has an id and a sequence number, ids are unique"
    );
    // No gap: N entries, numbered 1..=N, the head being entry N.
    let entries = entries.unwrap_or(0);
    assert_eq!(
        checkpoint.status.code(),
        Some(0),
        "audit checkpoint:\n{}",
        text(&checkpoint.stderr)
    );
    assert_eq!(
        head.as_ref().map(|(seq, _)| *seq),
        Some(entries),
        "the head of the chain is its last entry (audit checkpoint said {checkpoint_text:?})"
    );
    assert_eq!(
        head.as_ref().map(|(_, h)| h.clone()),
        last_hash,
        "audit checkpoint and audit verify name the same head"
    );
    assert_eq!(
        chain.keys().copied().collect::<Vec<_>>(),
        (1..=entries).collect::<Vec<_>>(),
        "the exported chain holds entries 1..={entries}"
    );
    assert_eq!(found, acks.len());
    assert!(
        stored.len() >= acks.len(),
        "{} decisions stored, {} acknowledged",
        stored.len(),
        acks.len()
    );
    assert!(
        errors.is_empty(),
        "{} gate processes that were not killed failed without recording a decision (exit 2); \
         the first:\n{}",
        errors.len(),
        errors.first().map_or("", |r| r.stderr.as_str())
    );
    assert_eq!(hung, 0, "gate processes that never finished (see above)");
    // Else the test proves nothing.
    assert!(
        killed_before_report > 0,
        "no process was killed before it reported: the test proves nothing"
    );
    assert!(
        !storm_acks.is_empty(),
        "no process acknowledged a decision during the crashes: the test proves nothing"
    );
}

/// One worker: spawn, maybe kill, read; until the storm is over.
fn worker(
    target: &Target,
    plan: &Plan,
    w: usize,
    started: Instant,
    storm: Duration,
    estimate: &Mutex<f64>,
) -> Vec<RunReport> {
    let mut rng = Rng::new(plan.seed ^ (w as u64 + 1).wrapping_mul(0xA24B_AED4_963E_E407));
    let mut out = Vec::new();
    let mut n = 0u64;
    while started.elapsed() < storm {
        let t = estimate_now(estimate);
        // A gate that takes this long is stuck (on a lock a killed process still holds?).
        let cap = Duration::from_secs_f64((t * 20.0).max(60.0));
        // Workers take their turn to let a run finish at different times.
        let control = (n + w as u64) % CONTROL_EVERY == CONTROL_EVERY - 1;
        let r = rng.unit();
        let stop = if control {
            Stop::Never(cap)
        } else if r < 0.4 {
            Stop::After(Duration::from_secs_f64(rng.unit() * KILL_SPAN * t))
        } else if r < 0.8 {
            let fraction = NEAR_END.0 + rng.unit() * (NEAR_END.1 - NEAR_END.0);
            Stop::After(Duration::from_secs_f64(fraction * t))
        } else {
            Stop::OnOutput(cap)
        };
        let run = run_once(target, &plan.args(w, n), stop);
        if control
            && !run.killed
            && let Ok(mut e) = estimate.lock()
        {
            *e = 0.5 * *e + 0.5 * run.took.as_secs_f64();
        }
        out.push(run);
        n += 1;
    }
    out
}

/// When the supervisor kills a process.
#[derive(Debug, Clone, Copy)]
enum Stop {
    /// This long after it started, unless it exited before.
    After(Duration),
    /// As soon as it writes to stderr (the report, after the commit), or after this long.
    OnOutput(Duration),
    /// Never, unless it is still running after this long (it hangs).
    Never(Duration),
}

/// Spawn one gate, kill it as `stop` says unless it exits before, read what it wrote.
fn run_once(target: &Target, args: &[String], stop: Stop) -> RunReport {
    let started = Instant::now();
    let mut command = target.command(args);
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut running = match command.spawn() {
        Ok(child) => Running::new(child),
        Err(e) => {
            return RunReport::problem(format!("cannot spawn {}: {e}", bin().display()));
        }
    };
    let ended = running.finish_or_kill(started, stop);
    let took = started.elapsed();
    let (stdout, stderr) = running.output();
    let (status, hung) = match ended {
        Ok(s) => s,
        Err(e) => return RunReport::problem(format!("cannot wait for a gate process: {e}")),
    };
    let output = Output {
        status,
        stdout,
        stderr,
    };
    let mut report = RunReport::of(&output, true, took);
    report.on_output = matches!(stop, Stop::OnOutput(_));
    report.hung = hung && report.killed;
    if report.hung {
        report.problems.push(format!(
            "a gate process did not {} within {} ms and was killed:\n{}",
            if report.on_output { "report" } else { "finish" },
            took.as_millis(),
            tail(&report.stderr)
        ));
    }
    report
}

// ---------------------------------------------------------------- one run

#[derive(Debug, Clone)]
struct Ack {
    id: String,
    seq: u64,
    /// From the JSON on stdout, when the process wrote it all.
    hash: Option<String>,
}

#[derive(Debug, Default)]
struct RunReport {
    killed: bool,
    /// Killed as soon as it wrote to stderr.
    on_output: bool,
    hung: bool,
    code: Option<i32>,
    took: Duration,
    ack: Option<Ack>,
    json_ok: bool,
    stderr: String,
    problems: Vec<String>,
}

impl RunReport {
    fn problem(p: String) -> Self {
        Self {
            problems: vec![p],
            ..Self::default()
        }
    }

    /// What a finished (or killed) process said. `storm`: it ran among the others.
    fn of(output: &Output, storm: bool, took: Duration) -> Self {
        let status: ExitStatus = output.status;
        let killed = status.signal() == Some(SIGKILL);
        let stderr = text(&output.stderr);
        let line = recorded_line(&stderr);
        let json: Option<Value> = serde_json::from_slice(&output.stdout).ok();
        let from_json = json.as_ref().and_then(|d| {
            Some((
                d.get("id")?.as_str()?.to_string(),
                d.pointer("/chain/seq")?.as_u64()?,
                d.pointer("/chain/hash")?.as_str()?.to_string(),
            ))
        });
        let mut problems = Vec::new();
        let ack = match (line, from_json) {
            (Some((id, seq)), Some((jid, jseq, hash))) => {
                if (id.as_str(), seq) != (jid.as_str(), jseq) {
                    problems.push(format!(
                        "stderr says decision {id} at audit entry {seq}, stdout {jid} at {jseq}"
                    ));
                }
                Some(Ack {
                    id,
                    seq,
                    hash: Some(hash),
                })
            }
            (Some((id, seq)), None) => Some(Ack {
                id,
                seq,
                hash: None,
            }),
            (None, Some((id, seq, hash))) => {
                problems.push(format!(
                    "decision {id} is on stdout without a `recorded:` line on stderr"
                ));
                Some(Ack {
                    id,
                    seq,
                    hash: Some(hash),
                })
            }
            (None, None) => None,
        };
        let code = status.code();
        if !killed {
            // Exit 2 with a recorded decision: it failed closed (say, a rule ran out of time on
            // a loaded machine); without one, an error (counted, see `errors`).
            let complete = ack.is_some() && json.is_some();
            match code {
                Some(0 | 1) if !complete => problems.push(format!(
                    "a gate exited {code:?} without reporting a recorded decision in full:\n{}",
                    tail(&stderr)
                )),
                Some(2) if ack.is_some() && !complete => problems.push(format!(
                    "a gate exited 2 after recording a decision, without its JSON:\n{}",
                    tail(&stderr)
                )),
                Some(0..=2) => {}
                _ => problems.push(format!(
                    "a gate ended with {status} {}:\n{}",
                    if storm { "during the crash test" } else { "" },
                    tail(&stderr)
                )),
            }
        }
        Self {
            killed,
            on_output: false,
            hung: false,
            code,
            took,
            ack,
            json_ok: json.is_some(),
            stderr,
            problems,
        }
    }
}

/// `recorded: decision ID (audit entry SEQ) in LOCATION`, complete up to ` in ` (a process
/// killed while writing it leaves part of a line).
fn recorded_line(stderr: &str) -> Option<(String, u64)> {
    stderr.lines().find_map(|l| {
        let rest = l.strip_prefix("recorded: decision ")?;
        let (id, rest) = rest.split_once(" (audit entry ")?;
        let (seq, _) = rest.split_once(") in ")?;
        Some((id.to_string(), seq.parse().ok()?))
    })
}

/// `checkpoint at entry SEQ (HASH) signed by key …`.
fn parse_checkpoint(s: &str) -> Option<(u64, String)> {
    let rest = s.trim().strip_prefix("checkpoint at entry ")?;
    let (seq, rest) = rest.split_once(" (")?;
    let (hash, _) = rest.split_once(')')?;
    Some((seq.parse().ok()?, hash.to_string()))
}

/// A child process that is killed (and reaped) when dropped, whatever happens.
struct Running {
    child: Child,
    stdout: Option<JoinHandle<Vec<u8>>>,
    stderr: Option<JoinHandle<Vec<u8>>>,
    /// Set (and notified) when the process first writes to stderr, or closes it.
    spoke: Arc<(Mutex<bool>, Condvar)>,
}

impl Running {
    fn new(mut child: Child) -> Self {
        let spoke = Arc::new((Mutex::new(false), Condvar::new()));
        let stdout = child.stdout.take().map(read_all);
        let stderr = child.stderr.take().map(|pipe| {
            let spoke = spoke.clone();
            std::thread::spawn(move || {
                let mut pipe = pipe;
                let mut buf = Vec::new();
                let mut chunk = [0u8; 8192];
                loop {
                    let n = match pipe.read(&mut chunk) {
                        Ok(n) => n,
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                        Err(_) => 0,
                    };
                    let first = buf.is_empty() || n == 0;
                    buf.extend_from_slice(&chunk[..n]);
                    if first {
                        let (lock, cv) = &*spoke;
                        if let Ok(mut s) = lock.lock() {
                            *s = true;
                        }
                        cv.notify_all();
                    }
                    if n == 0 {
                        return buf;
                    }
                }
            })
        });
        Self {
            child,
            stdout,
            stderr,
            spoke,
        }
    }

    /// Wait until the process exits by itself or it is time to SIGKILL it (see [`Stop`]); how
    /// it ended, and whether it was killed for running too long.
    fn finish_or_kill(
        &mut self,
        started: Instant,
        stop: Stop,
    ) -> std::io::Result<(ExitStatus, bool)> {
        let (limit, too_long) = match stop {
            Stop::After(limit) => (limit, false),
            Stop::Never(cap) => (cap, true),
            Stop::OnOutput(cap) => {
                let (lock, cv) = &*self.spoke;
                let wait = cap.saturating_sub(started.elapsed());
                let spoke = match lock.lock() {
                    Ok(g) => cv
                        .wait_timeout_while(g, wait, |s| !*s)
                        .is_ok_and(|(s, _)| *s),
                    Err(_) => false,
                };
                (Duration::ZERO, !spoke)
            }
        };
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok((status, false));
            }
            let elapsed = started.elapsed();
            if elapsed >= limit {
                // If it exited just now, this is a no-op and `wait` reports how it exited.
                self.child.kill()?;
                return Ok((self.child.wait()?, too_long));
            }
            std::thread::sleep((limit - elapsed).min(Duration::from_millis(2)));
        }
    }

    /// Everything the process wrote (its pipes close when it is gone).
    fn output(&mut self) -> (Vec<u8>, Vec<u8>) {
        let join =
            |h: Option<JoinHandle<Vec<u8>>>| h.and_then(|h| h.join().ok()).unwrap_or_default();
        (join(self.stdout.take()), join(self.stderr.take()))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_all(mut pipe: ChildStdout) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = pipe.read_to_end(&mut buf);
        buf
    })
}

// ---------------------------------------------------------------- what runs, where

/// The commands: the README's denied and allowed runs, alternately, with an artifact digest of
/// their own (the allowed one keeps its real digest every other time, so that some runs allow)
/// and varying environments.
struct Plan {
    config: String,
    seed: u64,
}

impl Plan {
    fn args(&self, worker: usize, n: u64) -> Vec<String> {
        let denied = n.is_multiple_of(2);
        let mut args = if denied {
            denied_command(&self.config)
        } else {
            allowed_command(&self.config)
        };
        let environment = match (denied, n % 4) {
            (true, 0) => "staging",
            (true, _) => "dev",
            (false, _) => "production",
        };
        let mut rng = Rng::new(self.seed ^ (worker as u64).rotate_left(40) ^ n);
        let digest = format!(
            "sha256:{:016x}{:016x}{:016x}{:016x}",
            rng.next(),
            rng.next(),
            rng.next(),
            rng.next()
        );
        let keep_real = !denied && n % 4 == 1;
        for i in 1..args.len() {
            match args[i - 1].as_str() {
                "--env" => args[i] = environment.to_string(),
                "--artifact" if !keep_real => {
                    let name = args[i].split('@').next().unwrap_or_default().to_string();
                    args[i] = format!("{name}@{digest}");
                }
                "--artifact" => args[i] = CLEAN_ARTIFACT.to_string(),
                _ => {}
            }
        }
        args.extend(["--format".to_string(), "json".to_string()]);
        args
    }
}

/// The store under test.
struct Target {
    label: String,
    /// PORTCULLIS_HOME: the SQLite database (unless `database_url`) and the checkpoint key.
    home: PathBuf,
    database_url: Option<String>,
}

impl Target {
    /// `portcullis ARGS` in the repository root, on this store, without any PORTCULLIS_*
    /// variable of the caller's environment.
    fn command<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> Command {
        let mut c = Command::new(bin());
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("PORTCULLIS_") {
                c.env_remove(k);
            }
        }
        c.env("PORTCULLIS_HOME", &self.home);
        if let Some(url) = &self.database_url {
            c.env("PORTCULLIS_DATABASE_URL", url);
        }
        c.current_dir(root()).args(args);
        c
    }

    fn output<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> Output {
        self.command(args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin().display()))
    }

    /// Entries 1..=`n` by sequence number, from a proof bundle of that range.
    fn export(&self, n: u64) -> BTreeMap<u64, ChainEntry> {
        let file = self.home.join("chain.bundle.json");
        let (from, to) = ("1".to_string(), n.to_string());
        let o = self.output(&[
            "audit",
            "export",
            "--from",
            &from,
            "--to",
            &to,
            "--output",
            &file.display().to_string(),
        ]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}: audit export --from 1 --to {n}:\n{}",
            self.label,
            text(&o.stderr)
        );
        let bytes =
            std::fs::read(&file).unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
        let _ = std::fs::remove_file(&file);
        let bundle: Value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("the proof bundle is not JSON: {e}"));
        let mut out = BTreeMap::new();
        for e in bundle
            .get("entries")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            let Some(seq) = e.get("seq").and_then(Value::as_u64) else {
                continue;
            };
            let field = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or_default();
            let decision_id = serde_json::from_str::<Value>(field("body"))
                .ok()
                .and_then(|b| b.get("decision_id")?.as_str().map(str::to_string));
            out.insert(
                seq,
                ChainEntry {
                    kind: field("kind").to_string(),
                    hash: field("hash").to_string(),
                    decision_id,
                },
            );
        }
        out
    }
}

struct ChainEntry {
    kind: String,
    hash: String,
    decision_id: Option<String>,
}

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_portcullis"))
}

/// A state directory, removed when the test passes, kept (and named) when it fails.
struct Scratch {
    path: PathBuf,
    passed: bool,
}

impl Scratch {
    fn dir(what: &str) -> Self {
        let path = common::fresh_home().join(format!("crash-{what}"));
        std::fs::create_dir_all(&path)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()));
        Self {
            path,
            passed: false,
        }
    }

    fn passed(mut self) {
        self.passed = true;
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let dir = self.path.parent().unwrap_or(&self.path);
        if self.passed {
            let _ = std::fs::remove_dir_all(dir);
        } else {
            eprintln!("the crash test's state is kept in {}", self.path.display());
        }
    }
}

/// A database of the test's own on the PostgreSQL server: dropped when the test passes, kept
/// (and named) when it fails. `pcl_t_<pid>_…`, as `scripts/test` drops those left behind.
struct PgDatabase {
    server: String,
    name: String,
    url: String,
    passed: bool,
}

impl PgDatabase {
    fn create(server: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = format!("pcl_t_{}_crash_{nanos:09}", std::process::id());
        let o = psql(server, &format!("CREATE DATABASE {name}"));
        assert!(
            o.status.success(),
            "{POSTGRES_URL_VAR}: cannot create database {name} with psql:\n{}",
            text(&o.stderr)
        );
        Self {
            server: server.to_string(),
            url: with_database(server, &name),
            name,
            passed: false,
        }
    }

    fn passed(mut self) {
        self.passed = true;
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        if !self.passed {
            eprintln!(
                "the crash test's PostgreSQL database is kept: {}",
                self.name
            );
            return;
        }
        let dropped = psql(
            &self.server,
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        );
        if !dropped.status.success() {
            eprintln!(
                "warning: could not drop the test database {}: {}",
                self.name,
                text(&dropped.stderr).trim()
            );
        }
    }
}

/// `psql -c SQL` on the server of `url`.
fn psql(url: &str, sql: &str) -> Output {
    Command::new("psql")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql])
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| {
            panic!("{POSTGRES_URL_VAR} is set, but psql (to create a database) cannot run: {e}")
        })
}

/// `url` with its database (the path) replaced by `database`.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let authority_end = base
        .get(authority_start..)
        .and_then(|rest| rest.find('/'))
        .map_or(base.len(), |i| authority_start + i);
    let mut out = format!("{}/{database}", &base[..authority_end]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

// ---------------------------------------------------------------- small things

/// splitmix64.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn estimate_now(estimate: &Mutex<f64>) -> f64 {
    estimate.lock().map_or(1.0, |e| *e)
}

fn env_number(name: &str, default: f64) -> f64 {
    match std::env::var(name) {
        Ok(s) if !s.trim().is_empty() => s
            .trim()
            .parse()
            .unwrap_or_else(|e| panic!("{name}={s}: expected a number ({e})")),
        _ => default,
    }
}

fn ms(secs: f64) -> u128 {
    Duration::from_secs_f64(secs.max(0.0)).as_millis()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The last lines of a process's stderr.
fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(12)..].join("\n")
}
