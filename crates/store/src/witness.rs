//! Witnesses: signed checkpoints kept outside the database (a file, a directory another party
//! keeps), so that a database writer who cuts the chain short and deletes its checkpoints is
//! still caught — a chain whose head is behind a witnessed checkpoint is truncated, one that
//! differs from it was rewritten (`Store::verify_with`).
//!
//! A witness file is one checkpoint as JSON (`checkpoint-<seq>.json` in a witness directory).

use std::path::{Path, PathBuf};

use crate::chain::Checkpoint;

/// Largest witness file read (a checkpoint is a few hundred bytes).
const MAX_FILE: u64 = 64 * 1024;

/// Why a witness could not be read or written: the file and what is wrong.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct WitnessError {
    pub path: String,
    pub message: String,
}

fn error(path: &Path, message: impl std::fmt::Display) -> WitnessError {
    WitnessError {
        path: path.display().to_string(),
        message: message.to_string(),
    }
}

/// The checkpoint as a witness file holds it.
pub fn to_json(c: &Checkpoint) -> String {
    serde_json::to_string_pretty(c).unwrap_or_default() + "\n"
}

/// Read one witness file.
pub fn read_file(path: &Path) -> Result<Checkpoint, WitnessError> {
    let meta = std::fs::metadata(path).map_err(|e| error(path, e))?;
    if meta.len() > MAX_FILE {
        return Err(error(
            path,
            format!(
                "{} bytes: not a checkpoint (at most {MAX_FILE})",
                meta.len()
            ),
        ));
    }
    let text = std::fs::read_to_string(path).map_err(|e| error(path, e))?;
    serde_json::from_str(&text).map_err(|e| {
        error(
            path,
            format!(
                "not a signed checkpoint (JSON, line {} column {}): {e}",
                e.line(),
                e.column()
            ),
        )
    })
}

/// Every witness file (`*.json`) in `dir`, by sequence number.
pub fn read_dir(dir: &Path) -> Result<Vec<Checkpoint>, WitnessError> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| error(dir, e))? {
        let path = entry.map_err(|e| error(dir, e))?.path();
        if path.extension().is_some_and(|x| x == "json") && path.is_file() {
            out.push(read_file(&path)?);
        }
    }
    out.sort_by_key(|c| c.seq);
    Ok(out)
}

/// Write `c` into witness directory `dir` (created when missing); returns the file.
pub fn write(dir: &Path, c: &Checkpoint) -> Result<PathBuf, WitnessError> {
    std::fs::create_dir_all(dir).map_err(|e| error(dir, e))?;
    let path = dir.join(format!("checkpoint-{:020}.json", c.seq));
    // Written aside and renamed: a reader never sees half a file.
    let tmp = dir.join(format!(".checkpoint-{:020}.json.tmp", c.seq));
    std::fs::write(&tmp, to_json(c)).map_err(|e| error(&tmp, e))?;
    std::fs::rename(&tmp, &path).map_err(|e| error(&path, e))?;
    Ok(path)
}
