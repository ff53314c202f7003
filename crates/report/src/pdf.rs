//! PDF through headless Chromium's print-to-PDF: the HTML report is written to a temporary
//! file and printed with the report's own print CSS. Chromium is found in `PORTCULLIS_CHROMIUM`,
//! `/usr/bin/chromium`, or `chromium` / `chromium-browser` / `google-chrome` on `PATH`;
//! without it the error says what is missing and how to get it.
//!
//! This call blocks (up to [`TIMEOUT`]); async callers run it on a blocking thread.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::ReportError;

/// How long Chromium may take to print one report.
pub const TIMEOUT: Duration = Duration::from_secs(120);

/// Names looked up on `PATH`, in order.
const NAMES: [&str; 4] = [
    "chromium",
    "chromium-browser",
    "google-chrome",
    "google-chrome-stable",
];

/// The Chromium binary to print with, if there is one.
pub fn find_chromium() -> Result<PathBuf, ReportError> {
    if let Some(p) = std::env::var_os("PORTCULLIS_CHROMIUM").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(ReportError::Pdf(format!(
                "PORTCULLIS_CHROMIUM names {}, which is not a file",
                p.display()
            )))
        };
    }
    let fixed = Path::new("/usr/bin/chromium");
    if fixed.is_file() {
        return Ok(fixed.to_path_buf());
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            for name in NAMES {
                let candidate = dir.join(name);
                if candidate.is_file() {
                    return Ok(candidate);
                }
            }
        }
    }
    Err(ReportError::Pdf(
        "PDF needs headless Chromium, and none was found (looked at PORTCULLIS_CHROMIUM, \
         /usr/bin/chromium, and chromium, chromium-browser, google-chrome on PATH). Install it \
         (Debian/Ubuntu: apt-get install chromium) or set PORTCULLIS_CHROMIUM, or use \
         --format html and print that."
            .into(),
    ))
}

/// Print `html` to PDF with headless Chromium.
pub fn render(html: &str) -> Result<Vec<u8>, ReportError> {
    let chromium = find_chromium()?;
    let dir = tempfile::Builder::new()
        .prefix("portcullis-report-")
        .tempdir()
        .map_err(|e| ReportError::Pdf(format!("cannot create a temporary directory: {e}")))?;
    let input = dir.path().join("report.html");
    let output = dir.path().join("report.pdf");
    std::fs::write(&input, html)
        .map_err(|e| ReportError::Pdf(format!("cannot write {}: {e}", input.display())))?;
    let mut cmd = Command::new(&chromium);
    cmd.arg("--headless")
        // The page is our own script-free HTML from a local file; containers often lack the
        // namespaces Chromium's sandbox needs (and root may not use it at all).
        .arg("--no-sandbox")
        .arg("--disable-gpu")
        .arg("--disable-dev-shm-usage")
        .arg("--disable-extensions")
        .arg("--disable-background-networking")
        .arg("--no-first-run")
        .arg("--no-pdf-header-footer")
        .arg(format!(
            "--user-data-dir={}",
            dir.path().join("profile").display()
        ))
        .arg(format!("--print-to-pdf={}", output.display()))
        .arg(format!("file://{}", input.display()))
        .env("HOME", dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .map_err(|e| ReportError::Pdf(format!("cannot run {}: {e}", chromium.display())))?;
    // Drain stderr on a thread so a chatty Chromium never blocks on a full pipe.
    let stderr = child.stderr.take().map(|mut s| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = std::io::Read::read_to_string(&mut s, &mut text);
            text
        })
    });
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if start.elapsed() > TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(ReportError::Pdf(format!(
                    "{} did not finish printing within {}s",
                    chromium.display(),
                    TIMEOUT.as_secs()
                )));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => {
                return Err(ReportError::Pdf(format!(
                    "waiting for {}: {e}",
                    chromium.display()
                )));
            }
        }
    };
    let log = stderr.and_then(|h| h.join().ok()).unwrap_or_default();
    let pdf = std::fs::read(&output).unwrap_or_default();
    if !status.success() || !pdf.starts_with(b"%PDF-") {
        let tail: String = log
            .lines()
            .rev()
            .take(8)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n");
        return Err(ReportError::Pdf(format!(
            "{} exited with {status} without writing a PDF{}",
            chromium.display(),
            if tail.is_empty() {
                String::new()
            } else {
                format!(":\n{tail}")
            }
        )));
    }
    Ok(pdf)
}
