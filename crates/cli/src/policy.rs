//! `portcullis policy list` and `portcullis policy test`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use portcullis_firewall::Config;
use portcullis_firewall::config::EnvironmentConfig;
use portcullis_policy::testing::{TestOutcome, run_tests};
use portcullis_policy::{Action, PolicyBundle, PolicySource, Rule};
use serde::Serialize;

use crate::gate::setup;
use crate::{PolicyListArgs, PolicyTestArgs, exit};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ListFormat {
    Human,
    Json,
}

#[derive(Debug, Serialize)]
struct RuleEntry<'a> {
    id: &'a str,
    title: &'a str,
    description: &'a str,
    category: &'a str,
    severity: &'a str,
    controls: Vec<String>,
    /// Action per declared environment, or per class (`protected`, `unprotected`) when the
    /// configuration declares none.
    actions: BTreeMap<String, Action>,
    params: BTreeMap<&'a str, Param<'a>>,
    remediation: &'a str,
    source: &'a str,
    builtin: bool,
}

#[derive(Debug, Serialize)]
struct Param<'a> {
    default: &'a serde_json::Value,
    /// The value `portcullis.yaml` sets, when it overrides the default.
    #[serde(skip_serializing_if = "Option::is_none")]
    configured: Option<&'a serde_json::Value>,
}

/// The action of `rule` in an undeclared environment of the given class, as the firewall
/// would decide it (class keys and `"*"` in the configuration, then the rule's defaults).
fn class_action(config: &Config, rule: &Rule, protected: bool) -> Action {
    let name = if protected {
        "\u{0}protected"
    } else {
        "\u{0}unprotected"
    };
    let mut c = config.clone();
    c.environments.insert(
        name.to_string(),
        EnvironmentConfig {
            protected,
            labels: BTreeMap::new(),
            ..EnvironmentConfig::default()
        },
    );
    c.action(rule, name)
}

pub fn list(args: &PolicyListArgs) -> anyhow::Result<u8> {
    let setup = setup(&args.policies, portcullis_evidence::Limits::default());
    let (config, note) = setup.load_config()?;
    let bundle = setup.load_bundle()?;
    config.check(&bundle)?;
    let entries: Vec<RuleEntry<'_>> = bundle
        .rules()
        .iter()
        .map(|r| {
            let actions = if config.environments.is_empty() {
                [("protected", true), ("unprotected", false)]
                    .into_iter()
                    .map(|(k, p)| (k.to_string(), class_action(&config, r, p)))
                    .collect()
            } else {
                config
                    .environments
                    .keys()
                    .map(|e| (e.clone(), config.action(r, e)))
                    .collect()
            };
            let overrides = config.rules.get(&r.meta.id).map(|rc| &rc.params);
            RuleEntry {
                id: &r.meta.id,
                title: &r.meta.title,
                description: &r.meta.description,
                category: r.meta.category.as_str(),
                severity: &r.meta.severity,
                controls: r.meta.controls.qualified(),
                actions,
                params: r
                    .meta
                    .params
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.as_str(),
                            Param {
                                default: v,
                                configured: overrides.and_then(|o| o.get(k)),
                            },
                        )
                    })
                    .collect(),
                remediation: &r.meta.remediation,
                source: &r.source,
                builtin: r.builtin,
            }
        })
        .collect();

    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    match args.format {
        ListFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &entries)?;
            writeln!(out)?;
        }
        ListFormat::Human => {
            if let Some(n) = &note {
                eprintln!("note: {n}");
            }
            for e in &entries {
                writeln!(out, "{}  {}", e.id, e.title)?;
                writeln!(out, "  category  {}, severity {}", e.category, e.severity)?;
                if !e.controls.is_empty() {
                    writeln!(out, "  controls  {}", e.controls.join(", "))?;
                }
                let actions: Vec<String> =
                    e.actions.iter().map(|(k, a)| format!("{k}={a}")).collect();
                writeln!(out, "  actions   {}", actions.join(" "))?;
                if e.params.is_empty() {
                    writeln!(out, "  params    none")?;
                }
                for (i, (k, p)) in e.params.iter().enumerate() {
                    let label = if i == 0 { "params" } else { "" };
                    match p.configured {
                        Some(c) => writeln!(
                            out,
                            "  {label:<9} {k} = {} (default {})",
                            compact(c),
                            compact(p.default)
                        )?,
                        None => writeln!(out, "  {label:<9} {k} = {}", compact(p.default))?,
                    }
                }
                writeln!(out, "  source    {}", e.source)?;
            }
            writeln!(
                out,
                "{}",
                crate::render::plural(entries.len(), "rule", "rules")
            )?;
        }
    }
    out.flush()?;
    Ok(exit::OK)
}

fn compact(v: &serde_json::Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// Every `*.rego` file under `dir`, in path order, with its path relative to `dir`.
fn rego_files(dir: &Path) -> anyhow::Result<Vec<(String, PolicySource)>> {
    let meta = std::fs::metadata(dir).with_context(|| format!("{}: cannot read", dir.display()))?;
    anyhow::ensure!(meta.is_dir(), "{}: not a directory", dir.display());
    let mut out = Vec::new();
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry.with_context(|| format!("{}: cannot walk", dir.display()))?;
        let path = entry.path();
        if !entry.file_type().is_file() || path.extension().is_none_or(|x| x != "rego") {
            continue;
        }
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("{}: cannot read", path.display()))?;
        let rel = path
            .strip_prefix(dir)
            .unwrap_or(path)
            .to_string_lossy()
            .replace('\\', "/");
        out.push((
            rel,
            PolicySource {
                path: path.display().to_string(),
                text,
            },
        ));
    }
    Ok(out)
}

/// The built-in library (only its helpers with `no_builtin`) and the files of `dirs`; a file of a DIR at the
/// same relative path as a library file replaces the embedded copy.
fn test_sources(dirs: &[PathBuf], no_builtin: bool) -> anyhow::Result<Vec<PolicySource>> {
    let mut user = Vec::new();
    for d in dirs {
        user.extend(rego_files(d)?);
    }
    let mut sources: Vec<PolicySource> = Vec::new();
    // The library's files only: the bundle below compiles everything once.
    sources.extend(PolicyBundle::builtin_sources().into_iter().filter(|s| {
        let rel = s.path.strip_prefix("builtin/").unwrap_or(&s.path);
        // Without the built-in rules, their helpers (`data.portcullis.lib`) stay: users'
        // policies import them.
        (!no_builtin || rel.starts_with("lib/")) && !user.iter().any(|(r, _)| r == rel)
    }));
    sources.extend(user.into_iter().map(|(_, s)| s));
    Ok(sources)
}

pub fn test(args: &PolicyTestArgs) -> anyhow::Result<u8> {
    let sources = test_sources(&args.dirs, args.no_builtin)?;
    // Load as a bundle first: the rule contract (metadata, ids) is checked as `gate` checks it.
    let bundle = PolicyBundle::from_sources(sources)?;
    let results = run_tests(bundle.sources())?;

    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut file: Option<&str> = None;
    let (mut pass, mut fail, mut error) = (0usize, 0usize, 0usize);
    for r in &results {
        let quiet = args.quiet && r.outcome == TestOutcome::Pass;
        if !quiet && file != Some(r.file.as_str()) {
            if file.is_some() {
                writeln!(out)?;
            }
            writeln!(out, "{}:", r.file)?;
            file = Some(r.file.as_str());
        }
        match &r.outcome {
            TestOutcome::Pass => {
                pass += 1;
                if !quiet {
                    writeln!(out, "{}: PASS ({})", r.name, duration(r.duration))?;
                }
            }
            TestOutcome::Fail => {
                fail += 1;
                writeln!(out, "{}: FAIL ({})", r.name, duration(r.duration))?;
            }
            TestOutcome::Error(e) => {
                error += 1;
                writeln!(out, "{}: ERROR ({})", r.name, duration(r.duration))?;
                for l in e.lines() {
                    writeln!(out, "  {l}")?;
                }
            }
        }
    }
    let total = results.len();
    writeln!(out, "{}", "-".repeat(80))?;
    if pass > 0 {
        writeln!(out, "PASS: {pass}/{total}")?;
    }
    if fail > 0 {
        writeln!(out, "FAIL: {fail}/{total}")?;
    }
    if error > 0 {
        writeln!(out, "ERROR: {error}/{total}")?;
    }
    if total == 0 {
        writeln!(
            out,
            "no tests found (a test is a rule named test_… in a .rego file)"
        )?;
    }
    out.flush()?;
    Ok(if fail > 0 || error > 0 {
        exit::DENIED
    } else {
        exit::OK
    })
}

/// `1.2ms`, `350µs`, like `opa test -v`.
fn duration(d: Duration) -> String {
    let us = d.as_micros();
    if us >= 1000 {
        format!("{:.1}ms", d.as_secs_f64() * 1000.0)
    } else {
        format!("{us}µs")
    }
}
