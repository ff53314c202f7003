//! Shared helpers for the corpus-based tests.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::PathBuf;

/// `../shared/corpus` beside the checkout, or `None` (with a message) when it is absent.
/// Under CI (`CI=true`) absence is a failure, not a skip.
pub fn corpus() -> Option<PathBuf> {
    portcullis_testkit::corpus("conformance tests", "")
}

/// All regular files under `dir`, sorted, skipping licences and READMEs.
pub fn files_under(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let name = p
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .to_ascii_lowercase();
                if name.starts_with("license")
                    || name.starts_with("readme")
                    || name == "copying"
                    || name.ends_with(".md")
                {
                    continue;
                }
                out.push(p);
            }
        }
    }
    out.sort();
    out
}
