//! Every fuzz target's function over its committed seeds (`fuzz/seeds/<target>/`), the inputs
//! that once made it fail (`fuzz/regressions/<target>-*`) and the files `fuzz/seed-sources.txt`
//! names (those of `../shared/corpus` when it is there: up to 40 per target, each cut to
//! 64 KiB): none may panic. The attestation target must really verify: its committed seeds
//! verify against the fixed trust, and the same seeds with one byte of a signature changed do
//! not.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The repository root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn files_under(path: &Path, out: &mut Vec<PathBuf>) {
    if path.is_file() {
        out.push(path.to_path_buf());
        return;
    }
    let Ok(entries) = std::fs::read_dir(path) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    paths.sort();
    for p in paths {
        let name = p.file_name().unwrap().to_string_lossy().to_lowercase();
        if name.starts_with("license") || name.starts_with("readme") || name.ends_with(".md") {
            continue;
        }
        files_under(&p, out);
    }
}

/// The committed seeds and regressions of `target` (all), then its sources (at most 40).
fn inputs(target: &str) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let root = root();
    let mut committed = Vec::new();
    files_under(&root.join("fuzz/seeds").join(target), &mut committed);
    let mut regressions: Vec<PathBuf> = std::fs::read_dir(root.join("fuzz/regressions"))
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .strip_prefix(target)
                .is_some_and(|rest| rest.starts_with('-'))
        })
        .collect();
    regressions.sort();
    committed.extend(regressions);
    let sources = std::fs::read_to_string(root.join("fuzz/seed-sources.txt")).unwrap();
    let mut more = Vec::new();
    for line in sources.lines() {
        let Some((t, path)) = line.split_once(' ') else {
            continue;
        };
        if t == target && !line.starts_with('#') {
            files_under(&root.join(path.trim()), &mut more);
        }
    }
    // Spread over the sources rather than the first 40 of the first directory.
    let step = more.len().div_ceil(40).max(1);
    let more = more.into_iter().step_by(step).collect();
    (committed, more)
}

fn run(target: &str, f: fn(&[u8]), path: &Path) -> Result<(), String> {
    let mut bytes = std::fs::read(path).unwrap();
    bytes.truncate(64 * 1024);
    panic::catch_unwind(AssertUnwindSafe(|| f(&bytes))).map_err(|e| {
        let why = e
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_default();
        format!("{target} panicked on {}: {why}", path.display())
    })
}

#[test]
fn every_target_replays_its_seeds_and_regressions_without_panicking() {
    let mut failures = Vec::new();
    let mut total = 0;
    for (target, f) in portcullis_fuzzing::all_targets() {
        let started = Instant::now();
        let (committed, sources) = inputs(target);
        assert!(
            !committed.is_empty(),
            "{target}: no committed seed in fuzz/seeds/{target}/"
        );
        for path in committed.iter().chain(&sources) {
            if let Err(e) = run(target, f, path) {
                failures.push(e);
            }
        }
        total += committed.len() + sources.len();
        eprintln!(
            "{target}: {} committed inputs, {} from the sources, {:.1} s",
            committed.len(),
            sources.len(),
            started.elapsed().as_secs_f64()
        );
    }
    assert!(failures.is_empty(), "{failures:#?}");
    eprintln!("{total} inputs replayed");
}

#[test]
fn every_fuzz_binary_is_a_target_and_every_target_a_binary() {
    let bins: Vec<String> = std::fs::read_dir(root().join("fuzz/fuzz_targets"))
        .unwrap()
        .map(|e| {
            e.unwrap()
                .path()
                .file_stem()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    let mut bins = bins;
    bins.sort();
    let mut targets: Vec<String> = portcullis_fuzzing::all_targets()
        .into_iter()
        .map(|(t, _)| t.to_owned())
        .collect();
    targets.sort();
    assert_eq!(bins, targets);
    let cargo = std::fs::read_to_string(root().join("fuzz/Cargo.toml")).unwrap();
    for t in &targets {
        assert!(
            cargo.contains(&format!("name = \"{t}\"")),
            "fuzz/Cargo.toml has no [[bin]] {t}"
        );
    }
}

#[test]
fn the_attestation_target_verifies_its_seeds_and_rejects_them_altered() {
    let mut seeds = Vec::new();
    files_under(&root().join("fuzz/seeds/attest_verify"), &mut seeds);
    assert!(seeds.len() >= 4, "{seeds:?}");
    for path in seeds {
        let bytes = std::fs::read(&path).unwrap();
        let verified = portcullis_fuzzing::attest_verify(&bytes).expect("the fixed trust builds");
        assert!(verified >= 1, "{} does not verify", path.display());
        // One character of the signature changed (everywhere it occurs): nothing verifies.
        let text = String::from_utf8(bytes).unwrap();
        let (at, pattern) = ["\"sig\":\"", "\"signature\":\""]
            .into_iter()
            .find_map(|p| text.find(p).map(|at| (at, p)))
            .unwrap();
        let value_at = at + pattern.len();
        let end = value_at + text[value_at..].find('"').unwrap();
        let sig = &text[value_at..end];
        let mut changed = sig.as_bytes().to_vec();
        changed[8] = if changed[8] == b'A' { b'B' } else { b'A' };
        let altered = text.replace(sig, std::str::from_utf8(&changed).unwrap());
        assert_eq!(
            portcullis_fuzzing::attest_verify(altered.as_bytes()),
            Some(0),
            "{} verifies with its signature altered",
            path.display()
        );
    }
}

#[test]
fn the_api_bodies_seeds_reach_the_handlers_translation() {
    use portcullis_evidence::Limits;
    use portcullis_server::api::bodies::{Body, read};
    let decision = std::fs::read(root().join("fuzz/seeds/api_bodies/decision.json")).unwrap();
    let out = read(Body::Decision, &decision[1..], &Limits::default()).unwrap();
    assert_eq!(out, "2 evidence, 2 unreadable");
    let token = std::fs::read(root().join("fuzz/seeds/api_bodies/token.json")).unwrap();
    assert_eq!(
        read(Body::Token, &token[1..], &Limits::default()).unwrap(),
        "ci"
    );
    // An unknown field is refused, as the handler refuses it.
    assert!(
        read(
            Body::Token,
            br#"{"name":"a","role":"ci","x":1}"#,
            &Limits::default()
        )
        .is_err()
    );
}
