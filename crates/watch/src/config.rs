//! `watch:` in the server settings: per environment (or one service of it), how long to watch
//! after a deployment, how often to check, and what: the probe's expectations, a canary
//! analysis against the version before, logs, and where to ask for a rollback.
//!
//! ```yaml
//! watch:
//!   - environment: production      # required
//!     service: checkout-api        # the artifact name; omitted: every service there
//!     duration: 2h                 # 30s, 5m, 2h, or plain seconds
//!     interval: 5m
//!     lag: 15s                     # checks run this long after each interval (scrapes land)
//!     target: 127.0.0.1            # probes the expectations' targets at this address
//!     expectations: expectations.yaml
//!     analysis: analysis.yaml      # a CanaryAnalysis; its window is set by the watch
//!     logs: {files: [/var/log/checkout/*.log]}   # or {command: [journalctl, ...]}
//!     rollback: {url: http://deployer.internal/rollback}
//! ```
//!
//! Relative paths are relative to the settings file. [`WatchSetting`] is what the file says
//! (read with the rest of the settings: bad durations are reported at their line and column);
//! [`Watches::load`] reads the files it names and checks the rest.

use std::path::{Path, PathBuf};
use std::time::Duration;

use portcullis_firewall::names::{self, NameKind};
use portcullis_probe::Expectations;
use portcullis_verify::config::{AnalysisConfig, parse_duration};
use serde::{Deserialize, Deserializer};

/// Shortest interval accepted.
pub const MIN_INTERVAL: Duration = Duration::from_secs(1);
/// Longest window accepted.
pub const MAX_DURATION: Duration = Duration::from_secs(7 * 24 * 3600);

/// One `watch:` item as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatchSetting {
    pub environment: String,
    /// The artifact name; none: every artifact deployed to the environment.
    #[serde(default)]
    pub service: Option<String>,
    pub duration: Span,
    pub interval: Span,
    /// How long after an interval ends its checks run, so that the last samples are scraped
    /// (default: half the interval, at most 15 s).
    #[serde(default)]
    pub lag: Option<Span>,
    /// The address the expectations' targets are probed at (a host, or `host:port`: the
    /// expectations declare the ports).
    #[serde(default)]
    pub target: Option<String>,
    /// The probe's expectations file.
    #[serde(default)]
    pub expectations: Option<PathBuf>,
    /// A CanaryAnalysis; the watch sets its window.
    #[serde(default)]
    pub analysis: Option<PathBuf>,
    #[serde(default)]
    pub logs: Option<LogsSetting>,
    #[serde(default)]
    pub rollback: Option<RollbackSetting>,
}

/// `logs:` as written: exactly one of `files` and `command`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogsSetting {
    #[serde(default)]
    pub files: Option<Vec<String>>,
    #[serde(default)]
    pub command: Option<Vec<String>>,
}

/// A duration as written: `30s`, `5m`, `2h`, `250ms`, or plain seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span(pub Duration);

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Seconds(u64),
            Text(String),
        }
        let text = match Raw::deserialize(d)? {
            Raw::Seconds(s) => s.to_string(),
            Raw::Text(t) => t,
        };
        parse_duration(&text).map(Span).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "{text:?} is not a duration like 30s, 5m, 2h (or plain seconds)"
            ))
        })
    }
}

/// Where the logs come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogSource {
    /// Files or globs: what was written after the deployment is the new version's, what was
    /// there before the version before's.
    Files(Vec<String>),
    /// A program and its arguments, run once per side with `PORTCULLIS_WINDOW_START`,
    /// `PORTCULLIS_WINDOW_END` (RFC 3339) and `PORTCULLIS_WINDOW_SIDE` (`baseline` or
    /// `canary`) set: its standard output is that window's log.
    Command(Vec<String>),
}

/// `rollback:` — a webhook called (HTTP POST, JSON) when the watch fails.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RollbackSetting {
    pub url: String,
    /// Per attempt.
    #[serde(default = "default_rollback_timeout")]
    pub timeout: Span,
    #[serde(default = "default_attempts")]
    pub attempts: u32,
}

fn default_rollback_timeout() -> Span {
    Span(Duration::from_secs(10))
}

fn default_attempts() -> u32 {
    3
}

/// A `watch:` item read and checked, with the files it names loaded.
#[derive(Debug, Clone)]
pub struct Watch {
    /// `watch[0]`: where it is in the settings.
    pub place: String,
    pub environment: String,
    pub service: Option<String>,
    pub duration: Duration,
    pub interval: Duration,
    pub lag: Duration,
    pub target: Option<String>,
    pub expectations: Option<Expectations>,
    pub analysis: Option<AnalysisConfig>,
    pub logs: Option<LogSource>,
    pub rollback: Option<RollbackSetting>,
}

impl Watch {
    /// The kinds of check run at each interval.
    pub fn checks(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.expectations.is_some() {
            out.push("exposure".to_string());
        }
        if self.analysis.is_some() || self.logs.is_some() {
            out.push("canary".to_string());
        }
        out
    }

    /// Whether a deployment of `artifact` to `environment` is watched by this item.
    pub fn covers(&self, environment: &str, artifact: &str) -> bool {
        self.environment == environment && self.service.as_deref().is_none_or(|s| s == artifact)
    }
}

/// Every `watch:` item, loaded.
#[derive(Debug, Clone, Default)]
pub struct Watches {
    pub items: Vec<Watch>,
}

/// A `watch:` item that cannot be used: the settings file, the item's field, what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {place}: {message}")]
pub struct WatchConfigError {
    pub file: String,
    /// `watch[0].analysis`.
    pub place: String,
    pub message: String,
}

impl Watches {
    /// Read the files `settings` name (relative to `file`, the settings file) and check them.
    pub fn load(settings: &[WatchSetting], file: &Path) -> Result<Self, WatchConfigError> {
        let dir = file.parent().unwrap_or(Path::new("."));
        let mut items = Vec::new();
        for (i, s) in settings.iter().enumerate() {
            let place = format!("watch[{i}]");
            let err = |field: &str, message: String| WatchConfigError {
                file: file.display().to_string(),
                place: format!("{place}.{field}"),
                message,
            };
            let environment = s.environment.trim().to_string();
            names::check(NameKind::Environment, &environment)
                .map_err(|e| err("environment", e.to_string()))?;
            let service = match &s.service {
                Some(n) => {
                    let n = n.trim().to_string();
                    names::check(NameKind::Artifact, &n)
                        .map_err(|e| err("service", e.to_string()))?;
                    Some(n)
                }
                None => None,
            };
            let (duration, interval) = (s.duration.0, s.interval.0);
            if duration > MAX_DURATION {
                return Err(err(
                    "duration",
                    format!("at most {} days", MAX_DURATION.as_secs() / 86400),
                ));
            }
            if interval < MIN_INTERVAL {
                return Err(err("interval", "at least 1s".into()));
            }
            if interval > duration {
                return Err(err(
                    "interval",
                    format!(
                        "{}s is longer than the duration ({}s)",
                        interval.as_secs_f64(),
                        duration.as_secs_f64()
                    ),
                ));
            }
            if duration.subsec_nanos() != 0 || interval.subsec_nanos() != 0 {
                return Err(err(
                    "interval",
                    "the duration and the interval are whole seconds".into(),
                ));
            }
            let lag = match s.lag {
                Some(Span(l)) if l >= interval => {
                    return Err(err("lag", "must be shorter than the interval".into()));
                }
                Some(Span(l)) => l,
                None => (interval / 2).min(Duration::from_secs(15)),
            };
            let target = match &s.target {
                Some(t) => Some(host_of(t).ok_or_else(|| {
                    err(
                        "target",
                        format!(
                            "{t:?} is not a host or host:port (e.g. 10.0.0.5, api.internal:8443)"
                        ),
                    )
                })?),
                None => None,
            };
            let expectations = match &s.expectations {
                Some(p) => Some(
                    Expectations::load(&dir.join(p))
                        .map_err(|e| err("expectations", e.to_string()))?,
                ),
                None => None,
            };
            let analysis = match &s.analysis {
                Some(p) => Some(load_analysis(&dir.join(p)).map_err(|m| err("analysis", m))?),
                None => None,
            };
            let logs = match &s.logs {
                None => None,
                Some(LogsSetting {
                    files: Some(f),
                    command: None,
                }) => {
                    if f.is_empty() {
                        return Err(err("logs.files", "name at least one file or glob".into()));
                    }
                    Some(LogSource::Files(
                        f.iter()
                            .map(|p| {
                                if Path::new(p).is_relative() {
                                    dir.join(p).to_string_lossy().into_owned()
                                } else {
                                    p.clone()
                                }
                            })
                            .collect(),
                    ))
                }
                Some(LogsSetting {
                    files: None,
                    command: Some(c),
                }) => {
                    if c.first().is_none_or(|p| p.trim().is_empty()) {
                        return Err(err("logs.command", "name the program to run".into()));
                    }
                    Some(LogSource::Command(c.clone()))
                }
                Some(_) => {
                    return Err(err("logs", "give exactly one of files and command".into()));
                }
            };
            if let Some(r) = &s.rollback
                && !(r.url.starts_with("http://") || r.url.starts_with("https://"))
            {
                return Err(err(
                    "rollback.url",
                    format!("{:?} must start with http:// or https://", r.url),
                ));
            }
            let watch = Watch {
                place: place.clone(),
                environment,
                service,
                duration,
                interval,
                lag,
                target,
                expectations,
                analysis,
                logs,
                rollback: s.rollback.clone(),
            };
            if watch.checks().is_empty() {
                return Err(WatchConfigError {
                    file: file.display().to_string(),
                    place,
                    message: "nothing to check: give expectations, analysis or logs".into(),
                });
            }
            items.push(watch);
        }
        Ok(Self { items })
    }

    /// The item that watches a deployment of `artifact` to `environment`: the first naming the
    /// service, else the first for the whole environment.
    pub fn for_deployment(&self, environment: &str, artifact: &str) -> Option<&Watch> {
        self.items
            .iter()
            .find(|w| w.environment == environment && w.service.as_deref() == Some(artifact))
            .or_else(|| {
                self.items
                    .iter()
                    .find(|w| w.service.is_none() && w.covers(environment, artifact))
            })
    }

    /// The item at `place` (`watch[0]`), if it still watches `environment`/`artifact`.
    pub fn at(&self, place: &str, environment: &str, artifact: &str) -> Option<&Watch> {
        self.items
            .iter()
            .find(|w| w.place == place && w.covers(environment, artifact))
            .or_else(|| self.for_deployment(environment, artifact))
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The longest window of any item.
    pub fn longest(&self) -> Duration {
        self.items
            .iter()
            .map(|w| w.duration)
            .max()
            .unwrap_or_default()
    }
}

/// `host` or `host:port` or `[v6]:port` → the host.
fn host_of(t: &str) -> Option<String> {
    let t = t.trim();
    if t.is_empty() || t.contains('/') || t.contains(char::is_whitespace) {
        return None;
    }
    if let Some(rest) = t.strip_prefix('[') {
        let (host, tail) = rest.split_once(']')?;
        return (tail.is_empty()
            || tail
                .strip_prefix(':')
                .is_some_and(|p| p.parse::<u16>().is_ok()))
        .then(|| host.to_string());
    }
    if t.parse::<std::net::Ipv6Addr>().is_ok() {
        return Some(t.to_string());
    }
    match t.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => {
            Some(host.to_string())
        }
        Some(_) => None,
        None => Some(t.to_string()),
    }
}

/// A CanaryAnalysis for the watch: its window is the watch's (a placeholder is added when the
/// file has none, so that the file need not invent one); Prometheus or files provide the
/// metrics; baseline and canary may use the same scope (the times differ).
fn load_analysis(path: &Path) -> Result<AnalysisConfig, String> {
    let mut text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    let has_window = yaml_serde::from_str::<yaml_serde::Value>(&text)
        .ok()
        .and_then(|v| v.get("analysis").cloned())
        .is_some();
    if !has_window {
        // Appended, so that the lines of the file keep their numbers in messages.
        text.push_str(
            "\nanalysis: {start: 1970-01-01T00:00:00Z, end: 1970-01-01T00:00:01Z, step: 1s}\n",
        );
    }
    let mut config = AnalysisConfig::parse(path, &text).map_err(|e| e.to_string())?;
    let dir = path.parent().unwrap_or(Path::new("."));
    if let Some(f) = config.provider.as_mut().and_then(|p| p.files.as_mut()) {
        f.baseline = dir.join(&f.baseline);
        f.canary = dir.join(&f.canary);
    }
    if let Some(l) = &mut config.logs {
        l.resolve_relative_to(dir);
    }
    if config.groups.iter().all(|g| g.metrics.is_empty()) && config.logs.is_none() {
        return Err(format!("{}: no metrics to compare", path.display()));
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(yaml: &str) -> Result<Vec<WatchSetting>, String> {
        #[derive(Deserialize)]
        struct File {
            watch: Vec<WatchSetting>,
        }
        let de = yaml_serde::Deserializer::from_str(yaml);
        serde_path_to_error::deserialize::<_, File>(de)
            .map(|f| f.watch)
            .map_err(|e| {
                let path = e.path().to_string();
                format!("{path}: {}", e.into_inner())
            })
    }

    const EXPECT: &str = "apiVersion: portcullis.dev/probe/v1\ntargets:\n  - name: web\n    address: 127.0.0.1\n    tcp: {scan: [8080, 8081], allowed: [8080]}\n";
    const ANALYSIS: &str = "apiVersion: portcullis.dev/v1\nkind: CanaryAnalysis\nprovider:\n  prometheus: {url: 'http://127.0.0.1:9090', baselineScope: 'job=\"a\"', canaryScope: 'job=\"a\"'}\ngroups:\n  - name: errors\n    metrics:\n      - {name: error_rate, query: 'sum(rate(errors_total{${scope}}[5s]))', direction: increase}\n";

    fn dir() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("expect.yaml"), EXPECT).unwrap();
        std::fs::write(d.path().join("analysis.yaml"), ANALYSIS).unwrap();
        d
    }

    fn load(d: &Path, yaml: &str) -> Result<Watches, String> {
        let s = settings(yaml)?;
        Watches::load(&s, &d.join("server.yaml")).map_err(|e| e.to_string())
    }

    #[test]
    fn a_good_setting_loads_and_picks_the_service_first() {
        let d = dir();
        let w = load(
            d.path(),
            "watch:\n  - {environment: production, duration: 2h, interval: 5m, expectations: expect.yaml}\n  - {environment: production, service: shop, duration: 15, interval: 3s, target: '127.0.0.1:8443', analysis: analysis.yaml, logs: {command: [echo, hi]}}\n",
        )
        .unwrap();
        assert_eq!(w.items[0].duration, Duration::from_secs(7200));
        assert_eq!(w.items[1].interval, Duration::from_secs(3));
        assert_eq!(w.items[1].target.as_deref(), Some("127.0.0.1"));
        assert_eq!(w.items[1].checks(), vec!["canary"]);
        assert_eq!(
            w.for_deployment("production", "shop").unwrap().place,
            "watch[1]"
        );
        assert_eq!(
            w.for_deployment("production", "cart").unwrap().place,
            "watch[0]"
        );
        assert!(w.for_deployment("staging", "shop").is_none());
    }

    #[test]
    fn errors_name_the_file_and_the_place() {
        let d = dir();
        let cases = [
            (
                "watch:\n  - {environment: production, duration: 2x, interval: 5m, expectations: expect.yaml}\n",
                "watch[0].duration",
            ),
            (
                "watch:\n  - {environment: production, duration: 2h, interval: 5m, expectations: expect.yaml, colour: red}\n",
                "colour",
            ),
            (
                "watch:\n  - {environment: production, duration: 1m, interval: 5m, expectations: expect.yaml}\n",
                "watch[0].interval: 300s is longer than the duration",
            ),
            (
                "watch:\n  - {environment: 'prod uction', duration: 1h, interval: 5m, expectations: expect.yaml}\n",
                "watch[0].environment",
            ),
            (
                "watch:\n  - {environment: production, duration: 1h, interval: 5m, expectations: missing.yaml}\n",
                "watch[0].expectations",
            ),
            (
                "watch:\n  - {environment: production, duration: 1h, interval: 5m}\n",
                "watch[0]: nothing to check",
            ),
            (
                "watch:\n  - {environment: production, duration: 1h, interval: 5m, analysis: expect.yaml}\n",
                "watch[0].analysis",
            ),
            (
                "watch:\n  - {environment: production, duration: 1h, interval: 5m, expectations: expect.yaml, target: 'a b'}\n",
                "watch[0].target",
            ),
            (
                "watch:\n  - {environment: production, duration: 1h, interval: 5m, expectations: expect.yaml, rollback: {url: 'ftp://x'}}\n",
                "watch[0].rollback.url",
            ),
            (
                "watch:\n  - {environment: production, duration: 1h, interval: 5m, logs: {files: []}}\n",
                "watch[0].logs.files",
            ),
            (
                "watch:\n  - {environment: production, duration: 1h, interval: 5m, logs: {pipe: [x]}}\n",
                "watch[0].logs",
            ),
            (
                "watch:\n  - {environment: production, duration: 1h, interval: 5m, logs: {files: [a], command: [b]}}\n",
                "watch[0].logs: give exactly one",
            ),
            (
                "watch:\n  - {environment: production, duration: 1h, interval: 500ms, expectations: expect.yaml}\n",
                "watch[0].interval: at least 1s",
            ),
        ];
        for (yaml, want) in cases {
            let e = load(d.path(), yaml).unwrap_err();
            assert!(e.contains(want), "{yaml}: {e}");
            if !e.starts_with("watch[0].") && !e.contains("colour") && !e.contains("logs") {
                assert!(e.contains("server.yaml"), "{e}");
            }
        }
    }

    #[test]
    fn an_analysis_with_a_window_keeps_its_step() {
        let d = dir();
        let with = format!(
            "{ANALYSIS}analysis: {{start: 2026-01-01T00:00:00Z, end: 2026-01-01T01:00:00Z, step: 2s}}\n"
        );
        std::fs::write(d.path().join("a2.yaml"), with).unwrap();
        let c = load_analysis(&d.path().join("a2.yaml")).unwrap();
        assert_eq!(c.analysis.unwrap().step, "2s");
        let bad = ANALYSIS.replace("direction: increase", "direction: up");
        std::fs::write(d.path().join("a3.yaml"), bad).unwrap();
        let e = load_analysis(&d.path().join("a3.yaml")).unwrap_err();
        assert!(e.contains("a3.yaml") && e.contains("at 8:"), "{e}");
    }

    #[test]
    fn hosts() {
        assert_eq!(host_of("10.0.0.5").as_deref(), Some("10.0.0.5"));
        assert_eq!(
            host_of("api.internal:8443").as_deref(),
            Some("api.internal")
        );
        assert_eq!(host_of("[::1]:80").as_deref(), Some("::1"));
        assert_eq!(host_of("::1").as_deref(), Some("::1"));
        assert_eq!(host_of("x:y"), None);
        assert_eq!(host_of(""), None);
    }
}
