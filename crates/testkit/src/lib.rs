//! Test support for the Portcullis workspace (a dev-dependency only, never published): one rule
//! for every test that needs something from outside the repository — a tool (openssl,
//! Prometheus, Chromium, a Python package), a service (PostgreSQL) or data (`../shared/corpus`).
//! Outside CI such a test prints `SKIPPED: <test>: <reason>` to stderr and passes; under CI
//! (`CI=true` or `1`) the skip is a failure, so a missing dependency never passes CI silently.
//! It must not hold test logic of any crate: only the skip rule, where shared data lives, and
//! harnesses for outside services that tests of several crates share ([`registry`]: a real OCI
//! registry on 127.0.0.1).

// Failing the calling test (under CI) is what this crate is for.
#![allow(clippy::panic)]

pub mod registry;

use std::fmt::Display;
use std::path::PathBuf;

/// Whether the tests run under CI: `CI` is `true` (in any case) or `1`.
pub fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| means_ci(&v))
}

fn means_ci(value: &str) -> bool {
    let v = value.trim();
    v.eq_ignore_ascii_case("true") || v == "1"
}

/// Outside CI, prints `SKIPPED: <test>: <reason>` to stderr; under CI, panics with the reason.
/// The caller returns right after; [`skip_or_fail!`] does both.
#[track_caller]
pub fn skip_or_fail(test: &str, reason: impl Display) {
    if under_ci() {
        panic!("{test}: {reason} (under CI, CI=true, a skip is a failure)");
    }
    eprintln!("SKIPPED: {test}: {reason}");
}

/// Prints `SKIPPED: <test>: <reason>` to stderr, under CI too. Only for what a CI machine may
/// legitimately lack (a kernel capability, a protocol version the system's OpenSSL disabled);
/// a missing tool, service or data set is [`skip_or_fail`].
pub fn not_supported_here(test: &str, reason: impl Display) {
    eprintln!("SKIPPED: {test}: {reason}");
}

/// `skip_or_fail!(test, "reason {}", x)`: [`skip_or_fail`], then `return Default::default()`
/// from the calling function (`()` in a test, `None` in a helper returning an `Option`).
#[macro_export]
macro_rules! skip_or_fail {
    ($test:expr, $($reason:tt)+) => {{
        $crate::skip_or_fail($test, ::std::format_args!($($reason)+));
        return ::std::default::Default::default();
    }};
}

/// The shared corpus of real-world documents: `../shared/corpus` beside the checkout.
pub fn corpus_root() -> PathBuf {
    // The running test's crate (cargo sets the variable for test processes), so a testkit
    // built in another checkout that shares the target directory never points there.
    let crate_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    crate_dir.join("../../../shared/corpus")
}

/// `rel` inside the shared corpus (`""` for the corpus itself), or `None` after
/// [`skip_or_fail`] says it is absent.
#[track_caller]
pub fn corpus(test: &str, rel: &str) -> Option<PathBuf> {
    let (path, name) = match rel {
        "" => (corpus_root(), "../shared/corpus".to_string()),
        _ => (corpus_root().join(rel), format!("../shared/corpus/{rel}")),
    };
    if path.exists() {
        return Some(path);
    }
    skip_or_fail(test, format_args!("{name} is absent ({})", path.display()));
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ci_is_true_in_any_case_or_1_and_nothing_else() {
        for v in ["true", "TRUE", "True", " true\n", "1"] {
            assert!(means_ci(v), "{v:?}");
        }
        for v in ["", "false", "0", "yes", "2", "truthy"] {
            assert!(!means_ci(v), "{v:?}");
        }
    }
}
