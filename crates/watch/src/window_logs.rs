//! The logs of a watch's two windows: what the version before wrote before the deployment
//! (the baseline) and what the new version wrote since (the canary), from files (split at
//! their size when the deployment was recorded) or from a command run once per window.

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};

use crate::config::LogSource;

/// Most bytes read per file and side (the newest before the deployment, the first after).
pub const MAX_BYTES: u64 = 64 * 1024 * 1024;
/// How long a log command may run.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// One side's log: (where it came from, is it the canary's, the bytes).
pub type Piece = (PathBuf, bool, Vec<u8>);

/// The size of every file `source` names now: what the new version writes comes after.
pub fn offsets(source: Option<&LogSource>) -> BTreeMap<String, u64> {
    let Some(LogSource::Files(patterns)) = source else {
        return BTreeMap::new();
    };
    portcullis_verify::logs::expand(patterns)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|p| {
            let len = std::fs::metadata(&p).ok()?.len();
            Some((p.display().to_string(), len))
        })
        .collect()
}

/// Both windows' logs: files split at `offsets`, or the command's output for each window.
pub async fn gather(
    source: &LogSource,
    offsets: &BTreeMap<String, u64>,
    baseline: (DateTime<Utc>, DateTime<Utc>),
    canary: (DateTime<Utc>, DateTime<Utc>),
) -> Result<Vec<Piece>, String> {
    match source {
        LogSource::Files(patterns) => {
            let patterns = patterns.clone();
            let offsets = offsets.clone();
            tokio::task::spawn_blocking(move || split_files(&patterns, &offsets))
                .await
                .map_err(|e| format!("reading the logs: {e}"))?
        }
        LogSource::Command(argv) => {
            let before = run(argv, "baseline", baseline).await?;
            let after = run(argv, "canary", canary).await?;
            let name = PathBuf::from(argv.join(" "));
            Ok(vec![(name.clone(), false, before), (name, true, after)])
        }
    }
}

fn split_files(patterns: &[String], offsets: &BTreeMap<String, u64>) -> Result<Vec<Piece>, String> {
    let files = portcullis_verify::logs::expand(patterns).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for f in files {
        let key = f.display().to_string();
        let mut file = std::fs::File::open(&f).map_err(|e| format!("{key}: cannot read: {e}"))?;
        let len = file
            .metadata()
            .map_err(|e| format!("{key}: cannot read: {e}"))?
            .len();
        // A file that was not there at the deployment, or is shorter now (rotated), is all
        // the new version's.
        let at = offsets
            .get(&key)
            .copied()
            .filter(|o| *o <= len)
            .unwrap_or(0);
        let from = at.saturating_sub(MAX_BYTES);
        let read = |file: &mut std::fs::File, start: u64, n: u64| -> Result<Vec<u8>, String> {
            file.seek(SeekFrom::Start(start))
                .map_err(|e| format!("{key}: {e}"))?;
            let mut buf = Vec::new();
            file.take(n)
                .read_to_end(&mut buf)
                .map_err(|e| format!("{key}: {e}"))?;
            Ok(buf)
        };
        let mut before = read(&mut file, from, at - from)?;
        if from > 0 {
            // Start at a whole line.
            let cut = before.iter().position(|b| *b == b'\n').map_or(0, |i| i + 1);
            before.drain(..cut);
        }
        let after = read(&mut file, at, MAX_BYTES.min(len - at))?;
        out.push((f.clone(), false, before));
        out.push((f, true, after));
    }
    Ok(out)
}

async fn run(
    argv: &[String],
    side: &str,
    (start, end): (DateTime<Utc>, DateTime<Utc>),
) -> Result<Vec<u8>, String> {
    let (program, args) = argv.split_first().ok_or("no log command")?;
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args)
        .env(
            "PORTCULLIS_WINDOW_START",
            start.to_rfc3339_opts(SecondsFormat::Secs, true),
        )
        .env(
            "PORTCULLIS_WINDOW_END",
            end.to_rfc3339_opts(SecondsFormat::Secs, true),
        )
        .env("PORTCULLIS_WINDOW_SIDE", side)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true);
    let child = cmd
        .spawn()
        .map_err(|e| format!("log command {program:?}: cannot start: {e}"))?;
    let output = tokio::time::timeout(COMMAND_TIMEOUT, child.wait_with_output())
        .await
        .map_err(|_| {
            format!(
                "log command {program:?} ({side}) did not end within {} s",
                COMMAND_TIMEOUT.as_secs()
            )
        })?
        .map_err(|e| format!("log command {program:?}: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "log command {program:?} ({side}) failed: {}",
            output.status
        ));
    }
    let mut out = output.stdout;
    out.truncate(usize::try_from(MAX_BYTES).unwrap_or(usize::MAX));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn files_split_at_the_deployment_and_commands_see_their_window() {
        let d = tempfile::tempdir().unwrap();
        let log = d.path().join("app.log");
        std::fs::write(&log, "old line 1\nold line 2\n").unwrap();
        let source = LogSource::Files(vec![log.display().to_string()]);
        let at = offsets(Some(&source));
        assert_eq!(at.values().copied().collect::<Vec<_>>(), vec![22]);
        std::fs::write(&log, "old line 1\nold line 2\nnew line\n").unwrap();
        let now = Utc::now();
        let pieces = gather(&source, &at, (now, now), (now, now)).await.unwrap();
        assert_eq!(pieces[0].2, b"old line 1\nold line 2\n");
        assert_eq!(pieces[1].2, b"new line\n");

        let cmd = LogSource::Command(vec![
            "sh".into(),
            "-c".into(),
            "echo \"$PORTCULLIS_WINDOW_SIDE $PORTCULLIS_WINDOW_START\"".into(),
        ]);
        let t = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let pieces = gather(&cmd, &BTreeMap::new(), (t, t), (now, now))
            .await
            .unwrap();
        assert_eq!(pieces[0].2, b"baseline 2026-01-01T00:00:00Z\n");
        assert!(pieces[1].2.starts_with(b"canary "));
        let bad = LogSource::Command(vec!["false".into()]);
        assert!(
            gather(&bad, &BTreeMap::new(), (t, t), (t, t))
                .await
                .is_err()
        );
    }
}
