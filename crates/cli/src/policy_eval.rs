//! `portcullis policy eval`: a Rego query against the policies `gate` loads (the built-in
//! library and `--policy` directories), with the rule parameters of `portcullis.yaml` at
//! `data.portcullis.params`, an input JSON (e.g. what `gate --emit-input` wrote) and data JSON
//! files merged into `data` — like `opa eval`, on regorus, the engine the firewall embeds.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use clap::Args;
use portcullis_evidence::Limits;
use portcullis_firewall::Firewall;
use portcullis_firewall::setup::read_limited;
use regorus::{Engine, QueryResults};
use serde::Serialize;

use crate::gate::setup;
use crate::{LimitArgs, PolicyArgs, exit};

/// How `policy eval` prints its result (`opa eval --format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EvalFormat {
    /// `{"result": [{"expressions": [{"value", "text", "location"}], "bindings"}]}`, as
    /// `opa eval --format json`; `{}` when the query is undefined.
    Json,
    /// Each value as indented JSON (the bindings of each result when the query binds
    /// variables); `undefined` when the query is undefined.
    Pretty,
    /// Each value alone, one a line: strings without quotes, everything else as compact JSON;
    /// nothing when the query is undefined.
    Raw,
}

#[derive(Args, Debug)]
pub struct PolicyEvalArgs {
    /// The Rego query: a reference such as
    /// `data.portcullis.rules.vuln.blocked_advisory.violation`, or any expression.
    #[arg(value_name = "QUERY", required_unless_present = "bench")]
    pub query: Option<String>,
    /// The input document, JSON: a PolicyInput as `gate --emit-input` writes it, or any JSON.
    #[arg(long, short, value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// A JSON object merged into `data` (repeatable). The rule parameters are at
    /// `data.portcullis.params.<RULE-ID>` (from `portcullis.yaml`, as decisions see them).
    #[arg(long, short, value_name = "FILE")]
    pub data: Vec<PathBuf>,
    #[command(flatten)]
    pub policies: PolicyArgs,
    /// What goes to stdout.
    #[arg(long, short, value_enum, default_value_t = EvalFormat::Json)]
    pub format: EvalFormat,
    /// Exit 1 when the query is undefined (no result), as `opa eval --fail`.
    #[arg(long, conflicts_with = "fail_defined")]
    pub fail: bool,
    /// Exit 1 when the query is defined (any result), as `opa eval --fail-defined`.
    #[arg(long)]
    pub fail_defined: bool,
    /// Benchmark: evaluate every rule's `data.<package>.violation` N times on one prepared
    /// engine (the input set once), both as the firewall does (`eval_rule`) and as a query
    /// (`eval_query`); print the median times and the violations as JSON (scripts/bench-regocpp).
    #[arg(long, hide = true, value_name = "N", requires = "input")]
    pub bench: Option<u32>,
    #[command(flatten)]
    pub limits: LimitArgs,
}

pub fn run(args: &PolicyEvalArgs) -> anyhow::Result<u8> {
    let limits = args.limits.limits();
    let setup = setup(&args.policies, limits);
    let (config, note) = setup.load_config()?;
    // Only a discovered ./portcullis.yaml is worth a note: its parameters change results.
    if let Some(n) =
        note.filter(|_| args.policies.config.is_none() && Path::new("portcullis.yaml").is_file())
    {
        eprintln!("note: {n}");
    }
    // As `gate` builds it: the bundle checked, the configuration's parameters checked against it.
    let firewall = Firewall::new(setup.load_bundle()?, config)?;
    let mut engine = Engine::new();
    // As the firewall evaluates: a builtin error is an error, not `undefined`.
    engine.set_strict_builtin_errors(true);
    for s in firewall.bundle().sources().iter().filter(|s| !s.is_test()) {
        engine
            .add_policy(s.path.clone(), s.text.clone())
            .map_err(|e| anyhow!("{}: {e}", s.path))?;
    }
    let params = serde_json::json!({"portcullis": {"params": firewall.config().params()}});
    engine
        .add_data(regorus::Value::from(params))
        .map_err(|e| anyhow!("rule parameters: {e}"))?;
    for path in &args.data {
        let value = read_json(path, "--data", &limits)?;
        anyhow::ensure!(
            value.is_object(),
            "--data {}: must be a JSON object (it is merged into `data`)",
            path.display()
        );
        engine
            .add_data(regorus::Value::from(value))
            .map_err(|e| anyhow!("--data {}: cannot be merged into data: {e}", path.display()))?;
    }
    if let Some(path) = &args.input {
        engine.set_input(regorus::Value::from(read_json(path, "--input", &limits)?));
    }

    if let Some(n) = args.bench {
        return bench(&mut engine, &firewall, n.max(1));
    }
    let query = args.query.as_deref().unwrap_or_default();
    let results = engine
        .eval_query(query.to_string(), false)
        .map_err(|e| anyhow!("query: {e}"))?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    write_results(&mut out, &results, args.format)?;
    out.flush()?;
    let defined = !results.result.is_empty();
    Ok(
        if (args.fail && !defined) || (args.fail_defined && defined) {
            exit::DENIED
        } else {
            exit::OK
        },
    )
}

/// The JSON document in `path`; a file that is not JSON is named with the line and column.
fn read_json(path: &Path, flag: &str, limits: &Limits) -> anyhow::Result<serde_json::Value> {
    let bytes = read_limited(path, limits)
        .map_err(|e| anyhow!("{flag} {}: {}", path.display(), e.message))?;
    let mut de = serde_json::Deserializer::from_slice(&bytes);
    // Nesting is bounded by serde_json's own recursion limit (128), like evidence.
    let value = serde::Deserialize::deserialize(&mut de)
        .and_then(|v: serde_json::Value| de.end().map(|()| v))
        .map_err(|e| {
            anyhow!(
                "{flag} {}:{}:{}: not valid JSON: {e}",
                path.display(),
                e.line(),
                e.column()
            )
        })?;
    if value_depth(&value) > limits.max_depth {
        return Err(anyhow!(
            "{flag} {}: nested deeper than {} levels (raise it with --max-depth)",
            path.display(),
            limits.max_depth
        ));
    }
    Ok(value)
}

fn value_depth(v: &serde_json::Value) -> usize {
    match v {
        serde_json::Value::Array(a) => 1 + a.iter().map(value_depth).max().unwrap_or(0),
        serde_json::Value::Object(o) => 1 + o.values().map(value_depth).max().unwrap_or(0),
        _ => 0,
    }
}

fn write_results(
    out: &mut dyn Write,
    results: &QueryResults,
    format: EvalFormat,
) -> anyhow::Result<()> {
    match format {
        EvalFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, results)?;
            writeln!(out)?;
        }
        EvalFormat::Pretty => {
            if results.result.is_empty() {
                writeln!(out, "undefined")?;
            }
            for r in &results.result {
                if r.bindings.as_object().is_ok_and(|b| !b.is_empty()) {
                    serde_json::to_writer_pretty(&mut *out, &r.bindings)?;
                    writeln!(out)?;
                    continue;
                }
                for e in &r.expressions {
                    serde_json::to_writer_pretty(&mut *out, &e.value)?;
                    writeln!(out)?;
                }
            }
        }
        EvalFormat::Raw => {
            for e in results.result.iter().flat_map(|r| &r.expressions) {
                match &e.value {
                    regorus::Value::String(s) => writeln!(out, "{s}")?,
                    v => writeln!(out, "{}", serde_json::to_string(v)?)?,
                }
            }
        }
    }
    Ok(())
}

/// One rule's times in `--bench`.
#[derive(Debug, Serialize)]
struct RuleTiming {
    id: String,
    /// The file that declares the rule's package.
    source: String,
    query: String,
    /// Median of N `eval_rule` calls (how the firewall evaluates a rule), in microseconds.
    eval_rule_us: f64,
    /// Median of N `eval_query` calls of the same reference, in microseconds.
    eval_query_us: f64,
    /// The violations, sorted (the set as JSON), when the rule evaluated.
    #[serde(skip_serializing_if = "Option::is_none")]
    violations: Option<Vec<serde_json::Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

fn bench(engine: &mut Engine, firewall: &Firewall, n: u32) -> anyhow::Result<u8> {
    let mut rows = Vec::new();
    for rule in firewall.bundle().rules() {
        let query = format!("data.{}.violation", rule.package);
        let mut row = RuleTiming {
            id: rule.meta.id.clone(),
            source: rule.source.clone(),
            query: query.clone(),
            eval_rule_us: 0.0,
            eval_query_us: 0.0,
            violations: None,
            error: None,
        };
        // Once untimed: the result, and the engine's lazily built state out of the timings.
        match engine.eval_rule(query.clone()) {
            Ok(v) => {
                let mut list = match v {
                    // An empty partial set is undefined to `eval_rule`.
                    regorus::Value::Undefined => Vec::new(),
                    v => match serde_json::to_value(&v)? {
                        serde_json::Value::Array(a) => a,
                        other => vec![other],
                    },
                };
                list.sort_by_key(|v| v.to_string());
                row.violations = Some(list);
            }
            Err(e) => {
                row.error = Some(e.to_string());
                rows.push(row);
                continue;
            }
        }
        row.eval_rule_us = median(n, || engine.eval_rule(query.clone()).map(|_| ()))?;
        row.eval_query_us = median(n, || engine.eval_query(query.clone(), false).map(|_| ()))?;
        rows.push(row);
    }
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    serde_json::to_writer_pretty(&mut out, &rows)?;
    writeln!(out)?;
    out.flush()?;
    Ok(exit::OK)
}

/// The median wall time of `n` calls of `f`, in microseconds.
fn median(n: u32, mut f: impl FnMut() -> anyhow::Result<()>) -> anyhow::Result<f64> {
    let mut times: Vec<Duration> = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let t = Instant::now();
        f().context("benchmark evaluation")?;
        times.push(t.elapsed());
    }
    times.sort();
    let mid = times.get(times.len() / 2).copied().unwrap_or_default();
    Ok(mid.as_secs_f64() * 1e6)
}
