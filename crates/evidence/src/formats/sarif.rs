//! SARIF 2.1.0 (the OASIS Static Analysis Results Interchange Format), as written by CodeQL,
//! Semgrep, gitleaks, SpotBugs, Grype, dependency-check, dockle, Flawfinder and many more.
//!
//! Each `runs[].results[]` entry becomes one [`Finding`], except results whose `kind` is `pass` or
//! `notApplicable`: those say "no problem here". (`informational`, `review` and `open` results
//! are kept.)
//!
//! What kind of finding a result is cannot be read from SARIF itself; it depends on the tool.
//! The mapping is deliberately conservative (see [`classify`]):
//!
//! | signal | kind |
//! |---|---|
//! | tool is gitleaks, trufflehog, detect-secrets, ggshield, secretlint; a rule/result tag contains `secret`; Bandit's hard-coded password rules B105-B107 | `Secret` |
//! | rule id starts with a vulnerability id (`CVE-`, `GHSA-`, `BDSA-`, ...); a `vulnerability` tag; tool is dependency-check, Grype, OSV-Scanner, Black Duck, Snyk Open Source | `Vulnerability` |
//! | tool is checkov, tfsec, kics, dockle, hadolint, terrascan, kube-linter, kubesec, cfn-lint, cfn_nag, tflint, Snyk IaC, defsec; or a `misconfiguration`/`iac` tag | `Misconfiguration` |
//! | anything else | `Weakness` |
//!
//! Secrets: the matched text is never stored (snippets are not read at all, result properties
//! such as gitleaks' `offender` are ignored, and a secret finding's description is its rule's
//! text, never the result message, which can quote the match).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde::de::{self, Deserializer};

use crate::Limits;
use crate::error::ParseError;
use crate::format::Format;
use crate::formats::scanner_common::strings;
use crate::json::from_slice_located;
use crate::model::{
    CodeLocation, Evidence, Finding, FindingKind, Score, Severity, Tool, normalize_path,
};

const FORMAT: Format = Format::Sarif;

/// How much `message.arguments` may add to a message template (see [`fill_placeholders`]).
const MAX_FILLED: usize = 16 * 1024;

/// The longest location path kept (Linux `PATH_MAX`). A longer uri is no file path; and as
/// `originalUriBaseIds` (also circular ones, followed 8 deep) and `artifacts[index]` are
/// resolved once per result, a long base would be copied and normalized once per result,
/// quadratic in the document's size. Such a location is read as absent.
const MAX_PATH: usize = 4096;

// ---------------------------------------------------------------------------------------------
// The document, as far as we read it.

#[derive(Deserialize)]
struct Log {
    #[serde(default)]
    version: Option<String>,
    /// Required by the spec (it may be `null` or empty).
    #[serde(deserialize_with = "required_nullable")]
    runs: Option<Vec<Run>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Run {
    tool: ToolDoc,
    #[serde(default, deserialize_with = "null_default")]
    results: Vec<ResultDoc>,
    #[serde(default, deserialize_with = "null_default")]
    original_uri_base_ids: BTreeMap<String, ArtifactLocation>,
    #[serde(default, deserialize_with = "null_default")]
    artifacts: Vec<ArtifactDoc>,
    #[serde(default, deserialize_with = "null_default")]
    logical_locations: Vec<LogicalLocation>,
    #[serde(default, deserialize_with = "null_default")]
    taxonomies: Vec<NamedComponent>,
    #[serde(default, deserialize_with = "null_default")]
    invocations: Vec<Invocation>,
}

/// How the tool's run went: an unsuccessful run, or error-level execution notifications, mean
/// the results may be incomplete.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Invocation {
    #[serde(default)]
    execution_successful: Option<bool>,
    #[serde(default, deserialize_with = "null_default")]
    tool_execution_notifications: Vec<Notification>,
}

#[derive(Deserialize)]
struct Notification {
    #[serde(default)]
    level: Option<String>,
    #[serde(default)]
    message: Option<Message>,
}

#[derive(Deserialize)]
struct ToolDoc {
    driver: ToolComponent,
    #[serde(default, deserialize_with = "null_default")]
    extensions: Vec<ToolComponent>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ToolComponent {
    name: String,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    semantic_version: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    rules: Vec<Rule>,
    #[serde(default, deserialize_with = "null_default")]
    global_message_strings: BTreeMap<String, MessageString>,
}

#[derive(Deserialize)]
struct NamedComponent {
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Rule {
    id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    short_description: Option<MessageString>,
    #[serde(default)]
    full_description: Option<MessageString>,
    #[serde(default, deserialize_with = "null_default")]
    message_strings: BTreeMap<String, MessageString>,
    #[serde(default)]
    default_configuration: Option<Configuration>,
    #[serde(default)]
    properties: Option<PropertyBag>,
    #[serde(default, deserialize_with = "null_default")]
    relationships: Vec<Relationship>,
    #[serde(default)]
    help_uri: Option<String>,
}

#[derive(Deserialize)]
struct MessageString {
    #[serde(default)]
    text: Option<String>,
}

#[derive(Deserialize)]
struct Configuration {
    #[serde(default)]
    level: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Relationship {
    target: DescriptorReference,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DescriptorReference {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    index: Option<i64>,
    #[serde(default)]
    tool_component: Option<ComponentReference>,
}

#[derive(Deserialize)]
struct ComponentReference {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    index: Option<i64>,
}

/// The few properties with a meaning we rely on; everything else (gitleaks' `offender`!) is
/// skipped unread.
#[derive(Deserialize, Default)]
struct PropertyBag {
    #[serde(default, deserialize_with = "strings")]
    tags: Vec<String>,
    #[serde(
        default,
        rename = "security-severity",
        deserialize_with = "text_or_number"
    )]
    security_severity: Option<String>,
    #[serde(default, deserialize_with = "strings")]
    cwe: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ResultDoc {
    #[serde(default)]
    rule_id: Option<String>,
    #[serde(default)]
    rule_index: Option<i64>,
    #[serde(default)]
    rule: Option<DescriptorReference>,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    level: Option<String>,
    /// Required by the spec, but Flawfinder omits it on `pass` results.
    #[serde(default)]
    message: Option<Message>,
    #[serde(default, deserialize_with = "null_default")]
    locations: Vec<Location>,
    #[serde(default, deserialize_with = "fingerprint_map")]
    partial_fingerprints: BTreeMap<String, String>,
    #[serde(default, deserialize_with = "fingerprint_map")]
    fingerprints: BTreeMap<String, String>,
    #[serde(default, deserialize_with = "null_default")]
    suppressions: Vec<Suppression>,
    #[serde(default)]
    properties: Option<PropertyBag>,
    #[serde(default, deserialize_with = "null_default")]
    taxa: Vec<DescriptorReference>,
}

#[derive(Deserialize)]
struct Message {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default, deserialize_with = "strings")]
    arguments: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Location {
    #[serde(default)]
    physical_location: Option<PhysicalLocation>,
    #[serde(default, deserialize_with = "null_default")]
    logical_locations: Vec<LogicalLocation>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PhysicalLocation {
    #[serde(default)]
    artifact_location: Option<ArtifactLocation>,
    #[serde(default)]
    region: Option<Region>,
}

#[derive(Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
struct ArtifactLocation {
    #[serde(default)]
    uri: Option<String>,
    #[serde(default)]
    uri_base_id: Option<String>,
    #[serde(default)]
    index: Option<i64>,
}

#[derive(Deserialize)]
struct ArtifactDoc {
    #[serde(default)]
    location: Option<ArtifactLocation>,
}

/// Region numbers are read as signed integers: some tools write `-1` for "unknown".
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Region {
    #[serde(default)]
    start_line: Option<i64>,
    #[serde(default)]
    end_line: Option<i64>,
    #[serde(default)]
    start_column: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LogicalLocation {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    fully_qualified_name: Option<String>,
    #[serde(default)]
    index: Option<i64>,
}

#[derive(Deserialize)]
struct Suppression {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    justification: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Lenient field readers (tools disagree with the schema in small ways).

/// A field that must be present but may be `null`.
fn required_nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<T>, D::Error> {
    Option::<T>::deserialize(d)
}

/// `null` read as the default value.
fn null_default<'de, D: Deserializer<'de>, T: Deserialize<'de> + Default>(
    d: D,
) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A string or a number, as text.
fn text_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(strings(d)?.into_iter().next())
}

/// `{name: "value"}`; Black Duck writes `{name: {"value": "..."}}`, which we accept too.
fn fingerprint_map<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Value {
        S(String),
        N(serde_json::Number),
        Nested { value: String },
        Other(de::IgnoredAny),
    }
    let map = Option::<BTreeMap<String, Value>>::deserialize(d)?.unwrap_or_default();
    Ok(map
        .into_iter()
        .filter_map(|(k, v)| match v {
            Value::S(s) | Value::Nested { value: s } => Some((k, s)),
            Value::N(n) => Some((k, n.to_string())),
            Value::Other(_) => None,
        })
        .filter(|(_, v)| !crate::formats::scanner_common::is_placeholder_fingerprint(v))
        .collect())
}

// ---------------------------------------------------------------------------------------------
// Parsing.

/// Parse a SARIF log.
pub fn parse(bytes: &[u8], limits: &Limits) -> Result<Evidence, ParseError> {
    let log: Log = from_slice_located(bytes, FORMAT, limits)?;
    let mut evidence = Evidence::new(FORMAT);
    evidence.format_version = log.version;
    for run in log.runs.unwrap_or_default() {
        let tool = tool_of(&run.tool.driver);
        if evidence.tool.is_none() {
            evidence.tool = Some(tool.clone());
        }
        for inv in &run.invocations {
            if inv.execution_successful == Some(false) {
                evidence.scan_errors.push(format!(
                    "{} run did not complete (executionSuccessful: false)",
                    tool.name
                ));
            }
            for n in &inv.tool_execution_notifications {
                if n.level.as_deref() == Some("error") {
                    let text = n
                        .message
                        .as_ref()
                        .and_then(|m| m.text.as_deref())
                        .unwrap_or("");
                    evidence
                        .scan_errors
                        .push(format!("{}: {}", tool.name, text));
                }
            }
        }
        for result in &run.results {
            if let Some(f) = finding(&run, &tool, result) {
                evidence.findings.push(f);
            }
        }
    }
    Ok(evidence)
}

fn tool_of(c: &ToolComponent) -> Tool {
    let version = c
        .semantic_version
        .clone()
        .or_else(|| c.version.clone())
        .filter(|v| !v.trim().is_empty());
    Tool::new(c.name.clone(), version)
}

/// `None` for results that say "no problem" (`kind` pass / notApplicable).
fn finding(run: &Run, tool: &Tool, r: &ResultDoc) -> Option<Finding> {
    if matches!(r.kind.as_deref(), Some("pass") | Some("notApplicable")) {
        return None;
    }
    let rule = find_rule(run, r);
    let rule_id = r
        .rule_id
        .clone()
        .or_else(|| r.rule.as_ref().and_then(|x| x.id.clone()))
        .or_else(|| rule.map(|x| x.id.clone()));

    let empty = PropertyBag::default();
    let rprops = r.properties.as_ref().unwrap_or(&empty);
    let rule_props = rule.and_then(|x| x.properties.as_ref()).unwrap_or(&empty);

    // Severity: security-severity first (a CVSS-like score), else the level.
    let level = r
        .level
        .clone()
        .or_else(|| {
            rule.and_then(|x| x.default_configuration.as_ref())
                .and_then(|c| c.level.clone())
        })
        .unwrap_or_else(|| "warning".to_string());
    let security_severity = rprops
        .security_severity
        .clone()
        .or_else(|| rule_props.security_severity.clone());
    let mut scores = Vec::new();
    let from_security = security_severity.as_deref().and_then(|s| {
        let t = s.trim();
        match t.parse::<f64>() {
            Ok(score) if score.is_finite() => {
                scores.push(Score {
                    method: "security-severity".into(),
                    score: Some(score),
                    vector: None,
                    source: None,
                });
                Some(Severity::from_cvss_score(score))
            }
            // Some tools (GitLab's Semgrep rules) write a word here.
            _ => Some(Severity::from_word(t)).filter(|s| *s != Severity::Unknown),
        }
    });
    let (severity, original_severity) = match from_security {
        Some(s) => (s, security_severity),
        None => (severity_of_level(&level), Some(level)),
    };

    let tags: Vec<&str> = rule_props
        .tags
        .iter()
        .chain(rprops.tags.iter())
        .map(String::as_str)
        .collect();
    let kind = classify(&tool.name, rule_id.as_deref(), &tags);

    // Identity.
    let (id, aliases) = match rule_id.as_deref() {
        Some(rid) if kind == FindingKind::Vulnerability => {
            let mut ids = vulnerability_ids(rid);
            if ids.is_empty() {
                (rid.to_string(), Vec::new())
            } else {
                let first = ids.remove(0);
                (first, ids)
            }
        }
        Some(rid) => (rid.to_string(), Vec::new()),
        // gitleaks 7 writes no ruleId at all: the tool itself is the best id we have.
        None => (tool.name.clone(), Vec::new()),
    };

    let location = location_of(run, r);
    let fingerprints: BTreeMap<String, String> = if r.partial_fingerprints.is_empty() {
        r.fingerprints.clone()
    } else {
        r.partial_fingerprints.clone()
    };
    let key_rule = rule_id.as_deref().unwrap_or(&id);
    let key_path = location
        .as_ref()
        .map(|l| {
            if l.path.is_empty() {
                l.resource.clone().unwrap_or_default()
            } else {
                l.path.clone()
            }
        })
        .filter(|p| !p.is_empty());
    let key = Finding::code_key(
        key_rule,
        &fingerprints,
        key_path.as_deref(),
        location.as_ref().and_then(|l| l.start_line),
    );

    let mut f = Finding::new(kind, id, severity, tool.clone(), key);
    f.aliases = aliases;
    f.original_severity = original_severity;
    f.scores = scores;
    f.rule_id = rule_id;
    f.location = location;
    // Rule text is shared by every result of the rule: bounded, as each finding gets a copy.
    f.title = rule.and_then(|x| {
        x.short_description
            .as_ref()
            .and_then(|m| m.text.as_deref())
            .or(x.name.as_deref())
            .map(crate::model::bounded_text)
    });
    let rule_text = || {
        rule.and_then(|x| x.full_description.as_ref())
            .and_then(|m| m.text.clone())
    };
    // A secret finding's result message can quote what was matched: only the rule's text.
    f.description = if kind == FindingKind::Secret {
        rule_text()
    } else {
        message_text(run, rule, r.message.as_ref()).or_else(rule_text)
    }
    .map(|d| crate::model::bounded_text(&d));
    f.fingerprint = r
        .fingerprints
        .values()
        .next()
        .or_else(|| r.partial_fingerprints.values().next())
        .cloned();
    if let Some(uri) = rule.and_then(|x| x.help_uri.clone()) {
        f.references.push(uri);
    }
    f.cwes = cwes_of(run, rule, r, &tags);
    f.suppression = suppression_of(&r.suppressions);
    Some(f)
}

fn severity_of_level(level: &str) -> Severity {
    match level {
        "error" => Severity::High,
        "warning" => Severity::Medium,
        "note" => Severity::Low,
        "none" => Severity::Info,
        _ => Severity::Unknown,
    }
}

/// The rule a result refers to: by `rule.toolComponent` + `ruleIndex` / `rule.index` when they
/// agree with the id, else by id in the driver and then in the extensions.
fn find_rule<'a>(run: &'a Run, r: &ResultDoc) -> Option<&'a Rule> {
    let component_index = r
        .rule
        .as_ref()
        .and_then(|x| x.tool_component.as_ref())
        .and_then(|c| c.index);
    let component = match component_index {
        Some(i) => usize::try_from(i)
            .ok()
            .and_then(|i| run.tool.extensions.get(i)),
        None => Some(&run.tool.driver),
    };
    let id = r
        .rule_id
        .as_deref()
        .or_else(|| r.rule.as_ref().and_then(|x| x.id.as_deref()));
    let index = r
        .rule_index
        .or_else(|| r.rule.as_ref().and_then(|x| x.index))
        .and_then(|i| usize::try_from(i).ok());
    if let (Some(c), Some(i)) = (component, index)
        && let Some(rule) = c.rules.get(i)
        && id.is_none_or(|id| id == rule.id || id.starts_with(&format!("{}/", rule.id)))
    {
        return Some(rule);
    }
    let id = id?;
    let by_id = |want: &str| {
        std::iter::once(&run.tool.driver)
            .chain(run.tool.extensions.iter())
            .flat_map(|c| c.rules.iter())
            .find(|rule| rule.id == want)
    };
    // Hierarchical ids (`C2001/1`) fall back to their parent rule.
    by_id(id).or_else(|| id.split_once('/').and_then(|(parent, _)| by_id(parent)))
}

/// `message.text`, or `message.id` looked up in the rule's (then the tool's) message strings,
/// with `{n}` placeholders filled from `message.arguments`.
fn message_text(run: &Run, rule: Option<&Rule>, m: Option<&Message>) -> Option<String> {
    let m = m?;
    let template = match (&m.text, &m.id) {
        (Some(t), _) => t.clone(),
        (None, Some(id)) => rule
            .and_then(|x| x.message_strings.get(id))
            .or_else(|| run.tool.driver.global_message_strings.get(id))
            .or_else(|| {
                run.tool
                    .extensions
                    .iter()
                    .find_map(|c| c.global_message_strings.get(id))
            })
            .and_then(|s| s.text.clone())?,
        (None, None) => return None,
    };
    if m.arguments.is_empty() && m.text.is_some() {
        return Some(template);
    }
    Some(fill_placeholders(&template, &m.arguments))
}

/// SARIF §3.11.5: `{n}` is argument n; `{{` and `}}` are literal braces.
///
/// Arguments stop being substituted once the text would grow past [`MAX_FILLED`] beyond its
/// template (the placeholder is then kept as written): a short template repeating `{0}` with a
/// long argument would otherwise expand a small document quadratically.
fn fill_placeholders(template: &str, args: &[String]) -> String {
    let mut out = String::with_capacity(template.len());
    let budget = template.len().saturating_add(MAX_FILLED);
    let mut rest = template;
    while let Some(i) = rest.find(['{', '}']) {
        out.push_str(rest.get(..i).unwrap_or(""));
        let tail = rest.get(i..).unwrap_or("");
        // `{` then decimal digits then `}`: only the digits are scanned, never the whole rest
        // (looking for the next `}` from every `{` is quadratic in `{a{a{a...`).
        let digits = tail
            .get(1..)
            .map_or(0, |t| t.bytes().take_while(u8::is_ascii_digit).count());
        let placeholder = tail
            .get(1..=digits)
            .filter(|_| digits > 0 && tail.as_bytes().get(digits + 1) == Some(&b'}'))
            .and_then(|n| n.parse::<usize>().ok())
            .and_then(|n| args.get(n))
            .filter(|arg| out.len().saturating_add(arg.len()) <= budget);
        if let Some(t) = tail.strip_prefix("{{") {
            out.push('{');
            rest = t;
        } else if let Some(t) = tail.strip_prefix("}}") {
            out.push('}');
            rest = t;
        } else if let Some(arg) = placeholder {
            out.push_str(arg);
            rest = tail.get(digits + 2..).unwrap_or("");
        } else {
            // A lone brace: keep it.
            out.push_str(tail.get(..1).unwrap_or(""));
            rest = tail.get(1..).unwrap_or("");
        }
    }
    out.push_str(rest);
    out
}

/// The first location: a physical one when given, else a logical one (as `resource`).
fn location_of(run: &Run, r: &ResultDoc) -> Option<CodeLocation> {
    let loc = r.locations.first()?;
    if let Some(pl) = &loc.physical_location
        && let Some(path) = pl
            .artifact_location
            .as_ref()
            .and_then(|a| artifact_path(run, a))
    {
        let region = pl.region.as_ref();
        let num = |v: Option<i64>| v.and_then(|n| u32::try_from(n).ok()).filter(|n| *n > 0);
        return Some(CodeLocation {
            path,
            start_line: num(region.and_then(|x| x.start_line)),
            end_line: num(region.and_then(|x| x.end_line)),
            start_column: num(region.and_then(|x| x.start_column)),
            resource: None,
        });
    }
    let logical = loc.logical_locations.first()?;
    let from_run = logical
        .index
        .and_then(|i| usize::try_from(i).ok())
        .and_then(|i| run.logical_locations.get(i));
    let name = logical
        .fully_qualified_name
        .clone()
        .or_else(|| logical.name.clone())
        .or_else(|| from_run.and_then(|l| l.fully_qualified_name.clone().or(l.name.clone())))?;
    Some(CodeLocation {
        path: String::new(),
        start_line: None,
        end_line: None,
        start_column: None,
        resource: Some(name),
    })
}

/// The path of an artifact location: its uri (or the uri of `run.artifacts[index]`), resolved
/// against `originalUriBaseIds` when the run defines its base, percent-decoded and normalized.
fn artifact_path(run: &Run, a: &ArtifactLocation) -> Option<String> {
    let from_index = a
        .index
        .and_then(|i| usize::try_from(i).ok())
        .and_then(|i| run.artifacts.get(i))
        .and_then(|x| x.location.as_ref());
    let (uri, base) = match &a.uri {
        Some(u) => (u.as_str(), a.uri_base_id.as_deref()),
        None => {
            let l = from_index?;
            (l.uri.as_deref()?, l.uri_base_id.as_deref())
        }
    };
    let resolved = resolve_uri(uri.trim(), base, &run.original_uri_base_ids, 0)?;
    let path = uri_to_path(&percent_decode(&resolved));
    Some(normalize_path(&path)).filter(|p| !p.is_empty())
}

fn resolve_uri(
    uri: &str,
    base_id: Option<&str>,
    bases: &BTreeMap<String, ArtifactLocation>,
    depth: usize,
) -> Option<String> {
    if uri.len() > MAX_PATH {
        return None;
    }
    if has_scheme(uri) || uri.starts_with('/') || depth > 8 {
        return Some(uri.to_string());
    }
    let Some(base) = base_id.and_then(|b| bases.get(b)) else {
        return Some(uri.to_string());
    };
    let Some(base_uri) = base.uri.as_deref().map(str::trim) else {
        return Some(uri.to_string());
    };
    let base_uri = resolve_uri(base_uri, base.uri_base_id.as_deref(), bases, depth + 1)?;
    let resolved = if base_uri.is_empty() || base_uri.ends_with('/') {
        format!("{base_uri}{uri}")
    } else {
        format!("{base_uri}/{uri}")
    };
    (resolved.len() <= MAX_PATH).then_some(resolved)
}

fn has_scheme(uri: &str) -> bool {
    match uri.find(':') {
        // One letter before ':' is a Windows drive, not a scheme.
        Some(i) if i > 1 => uri.get(..i).is_some_and(|s| {
            s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        }),
        _ => false,
    }
}

/// `file:///C:/x` → `C:/x`, `file:///x` → `/x`, `file://localhost/x` → `/x`; others unchanged.
fn uri_to_path(uri: &str) -> String {
    let Some(rest) = uri.strip_prefix("file://") else {
        return uri.strip_prefix("file:").unwrap_or(uri).to_string();
    };
    let rest = rest.strip_prefix("localhost").unwrap_or(rest);
    let b = rest.as_bytes();
    // `/C:/...`: a drive letter after the authority's slash.
    if b.len() >= 3
        && b.first() == Some(&b'/')
        && b.get(1).is_some_and(u8::is_ascii_alphabetic)
        && b.get(2) == Some(&b':')
    {
        return rest.get(1..).unwrap_or(rest).to_string();
    }
    rest.to_string()
}

/// Decode `%XX` escapes; text that would not be UTF-8 after decoding is kept as written.
fn percent_decode(s: &str) -> String {
    if !s.contains('%') {
        return s.to_string();
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        let hex = |j: usize| b.get(j).and_then(|h| (*h as char).to_digit(16));
        if c == b'%'
            && let (Some(hi), Some(lo)) = (hex(i + 1), hex(i + 2))
        {
            out.push((hi * 16 + lo) as u8);
            i += 3;
        } else {
            out.push(c);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap_or_else(|_| s.to_string())
}

/// Suppressed when any suppression is accepted (or has no status, which means accepted).
fn suppression_of(s: &[Suppression]) -> Option<String> {
    let accepted = s
        .iter()
        .find(|x| x.status.as_deref().is_none_or(|st| st == "accepted"))?;
    Some(
        accepted
            .justification
            .clone()
            .filter(|j| !j.trim().is_empty())
            .unwrap_or_else(|| "suppressed".to_string()),
    )
}

fn cwes_of(run: &Run, rule: Option<&Rule>, r: &ResultDoc, tags: &[&str]) -> Vec<u32> {
    let mut out: Vec<u32> = tags.iter().flat_map(|t| cwes_in(t)).collect();
    let props = [
        rule.and_then(|x| x.properties.as_ref()),
        r.properties.as_ref(),
    ];
    for p in props.into_iter().flatten() {
        out.extend(p.cwe.iter().flat_map(|c| cwe_ids(c)));
    }
    let is_cwe_taxonomy = |t: &DescriptorReference| {
        t.tool_component.as_ref().is_some_and(|c| {
            c.name
                .as_deref()
                .is_some_and(|n| n.eq_ignore_ascii_case("CWE"))
                || c.index
                    .and_then(|i| usize::try_from(i).ok())
                    .and_then(|i| run.taxonomies.get(i))
                    .and_then(|t| t.name.as_deref())
                    .is_some_and(|n| n.eq_ignore_ascii_case("CWE"))
        })
    };
    let targets = rule
        .map(|x| x.relationships.iter().map(|rel| &rel.target))
        .into_iter()
        .flatten()
        .chain(r.taxa.iter());
    for t in targets {
        if is_cwe_taxonomy(t)
            && let Some(id) = &t.id
        {
            out.extend(cwe_ids(id));
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// CWE numbers written as `CWE-79`, `cwe-079`, `external/cwe/cwe-079`, `CWE-327: Use of ...`.
pub(crate) fn cwes_in(text: &str) -> Vec<u32> {
    let lower = text.to_ascii_lowercase();
    let mut out = Vec::new();
    let mut rest = lower.as_str();
    while let Some(i) = rest.find("cwe-") {
        let after = rest.get(i + 4..).unwrap_or("");
        let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
        if let Ok(n) = digits.parse::<u32>() {
            out.push(n);
        }
        rest = after;
    }
    out
}

/// [`cwes_in`], also accepting a bare number (`"79"`).
pub(crate) fn cwe_ids(text: &str) -> Vec<u32> {
    match text.trim().parse::<u32>() {
        Ok(n) => vec![n],
        Err(_) => cwes_in(text),
    }
}

/// Vulnerability ids in a rule id, in order: `CVE-2020-11022`, `GHSA-xxxx-xxxx-xxxx`,
/// `BDSA-2020-1001`, ...
fn vulnerability_ids(rule_id: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for token in rule_id.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-')) {
        let upper = token.to_ascii_uppercase();
        let id = if upper.starts_with("GHSA-") {
            upper
                .get(..19)
                .map(|s| format!("GHSA-{}", s.get(5..).unwrap_or("").to_lowercase()))
        } else {
            ["CVE-", "BDSA-", "PYSEC-", "RUSTSEC-", "OSV-", "SNYK-"]
                .iter()
                .find(|p| upper.starts_with(*p))
                .map(|p| {
                    // Prefix, year, number; drop what follows (Grype appends the package name).
                    let parts: Vec<&str> = upper.splitn(4, '-').collect();
                    match parts.as_slice() {
                        [_, year, num, ..]
                            if year.chars().all(|c| c.is_ascii_digit())
                                && num
                                    .chars()
                                    .all(|c| c.is_ascii_digit() || c.is_ascii_alphabetic()) =>
                        {
                            format!("{}{year}-{num}", p)
                        }
                        _ => upper.clone(),
                    }
                })
        };
        if let Some(id) = id
            && !out.contains(&id)
        {
            out.push(id);
        }
    }
    out
}

fn starts_with_vulnerability_id(rule_id: &str) -> bool {
    let upper = rule_id.trim().to_ascii_uppercase();
    let b = upper.as_bytes();
    let digit_after =
        |p: &str| upper.starts_with(p) && b.get(p.len()).is_some_and(u8::is_ascii_digit);
    digit_after("CVE-")
        || digit_after("BDSA-")
        || digit_after("PYSEC-")
        || digit_after("RUSTSEC-")
        || (upper.starts_with("GHSA-") && upper.len() >= 19)
}

const SECRET_TOOLS: &[&str] = &[
    "gitleaks",
    "trufflehog",
    "detect-secrets",
    "detect secrets",
    "ggshield",
    "gitguardian",
    "secretlint",
    "whispers",
];
const VULNERABILITY_TOOLS: &[&str] = &[
    "dependency-check",
    "grype",
    "osv-scanner",
    "black duck",
    "blackduck",
    "snyk open source",
    "retire.js",
];
const IAC_TOOLS: &[&str] = &[
    "checkov",
    "tfsec",
    "kics",
    "dockle",
    "hadolint",
    "terrascan",
    "kube-linter",
    "kubelinter",
    "kubesec",
    "cfn-lint",
    "cfn_nag",
    "tflint",
    "snyk iac",
    "snyk infrastructure as code",
    "defsec",
];

/// The kind of a result, from the tool's name, the rule id and the tags (see the module docs).
fn classify(tool: &str, rule_id: Option<&str>, tags: &[&str]) -> FindingKind {
    let tool = tool.to_ascii_lowercase();
    let tool_is = |list: &[&str]| list.iter().any(|t| tool.contains(t));
    let tag_is = |words: &[&str]| {
        tags.iter().any(|t| {
            let t = t.to_ascii_lowercase();
            words.iter().any(|w| t == *w)
        })
    };
    if tool_is(SECRET_TOOLS)
        || tags
            .iter()
            .any(|t| t.to_ascii_lowercase().contains("secret"))
        || rule_id
            .is_some_and(|r| crate::formats::scanner_common::is_hardcoded_secret_rule(&tool, r))
    {
        FindingKind::Secret
    } else if rule_id.is_some_and(starts_with_vulnerability_id)
        || tag_is(&["vulnerability"])
        || tool_is(VULNERABILITY_TOOLS)
    {
        FindingKind::Vulnerability
    } else if tool_is(IAC_TOOLS) || tag_is(&["misconfiguration", "iac"]) {
        FindingKind::Misconfiguration
    } else {
        FindingKind::Weakness
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn p(s: &str) -> Evidence {
        parse(s.as_bytes(), &Limits::default()).unwrap()
    }

    #[test]
    fn placeholders_fill_and_braces_unescape() {
        let args = vec!["ptr".to_string(), "0".to_string()];
        assert_eq!(
            fill_placeholders("Variable \"{0}\" declared [here]({1}). {{x}} {2} {", &args),
            "Variable \"ptr\" declared [here](0). {x} {2} {"
        );
    }

    #[test]
    fn placeholders_do_not_expand_past_their_budget() {
        let long = "b".repeat(4000);
        let filled = fill_placeholders(&"{0}".repeat(1000), std::slice::from_ref(&long));
        assert!(filled.len() <= 3000 + MAX_FILLED, "{}", filled.len());
        assert!(filled.starts_with(&long) && filled.ends_with("{0}"));
        // Only `{digits}` is a placeholder; unclosed braces are kept as written.
        let args = ["x".to_string()];
        assert_eq!(fill_placeholders("{+0} {0 {a{0}", &args), "{+0} {0 {ax");
    }

    #[test]
    fn unclosed_braces_are_scanned_once() {
        // Each `{` used to search the rest for a `}`: about 45 GB of scanning here (seconds, even
        // with memchr); now each byte is looked at once. No clock here: timed unit tests flake
        // on shared machines; the fuzz regression input guards it under `cargo fuzz`.
        let template = "{a".repeat(300_000);
        assert_eq!(fill_placeholders(&template, &["x".to_string()]), template);
        assert_eq!(fill_placeholders("{a{0}a{", &["x".to_string()]), "{axa{");
    }

    #[test]
    fn long_or_circular_base_uris_are_not_copied_per_result() {
        let mut bases = BTreeMap::new();
        let loc = |uri: &str, base: Option<&str>| ArtifactLocation {
            uri: Some(uri.to_string()),
            uri_base_id: base.map(str::to_string),
            index: None,
        };
        bases.insert("A".to_string(), loc("src", Some("A")));
        bases.insert("L".to_string(), loc(&"l".repeat(3000), Some("L")));
        // Circular: followed 8 deep as before, while short.
        assert_eq!(
            resolve_uri("x", Some("A"), &bases, 0).as_deref(),
            Some(format!("{}x", "src/".repeat(9)).as_str())
        );
        assert_eq!(resolve_uri("x", Some("L"), &bases, 0), None);
        assert_eq!(
            resolve_uri(&"y".repeat(MAX_PATH + 1), None, &bases, 0),
            None
        );
    }

    #[test]
    fn pass_and_not_applicable_are_not_findings() {
        let e = p(
            r#"{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"T"}},"results":[
            {"ruleId":"A","kind":"pass"},
            {"ruleId":"B","kind":"notApplicable","message":{"text":"n/a"}},
            {"ruleId":"C","kind":"fail","message":{"text":"bad"}},
            {"ruleId":"D","message":{"text":"bad too"}}]}]}"#,
        );
        let ids: Vec<&str> = e.findings.iter().map(|f| f.id.as_str()).collect();
        assert_eq!(ids, ["C", "D"]);
    }

    #[test]
    fn severity_from_security_severity_then_level() {
        let e = p(
            r#"{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"T","rules":[
              {"id":"r1","properties":{"security-severity":"9.8"},"defaultConfiguration":{"level":"note"}},
              {"id":"r2","defaultConfiguration":{"level":"error"}},
              {"id":"r3"}]}},
            "results":[
              {"ruleId":"r1","message":{"text":"x"}},
              {"ruleId":"r2","message":{"text":"x"}},
              {"ruleId":"r3","message":{"text":"x"}},
              {"ruleId":"r3","level":"none","message":{"text":"x"}},
              {"ruleId":"r2","properties":{"security-severity":6.1},"message":{"text":"x"}}]}]}"#,
        );
        let got: Vec<(Severity, Option<&str>)> = e
            .findings
            .iter()
            .map(|f| (f.severity, f.original_severity.as_deref()))
            .collect();
        assert_eq!(
            got,
            [
                (Severity::Critical, Some("9.8")),
                (Severity::High, Some("error")),
                (Severity::Medium, Some("warning")),
                (Severity::Info, Some("none")),
                (Severity::Medium, Some("6.1")),
            ]
        );
        assert_eq!(e.findings[0].scores[0].score, Some(9.8));
    }

    #[test]
    fn uri_base_ids_resolve_and_decode() {
        let e = p(
            r#"{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"T"}},
            "originalUriBaseIds":{"ROOT":{"uri":"file:///work/"},"SRC":{"uri":"src/","uriBaseId":"ROOT"}},
            "results":[
              {"ruleId":"a","message":{"text":"x"},"locations":[{"physicalLocation":{"artifactLocation":{"uri":"my%20dir/a.c","uriBaseId":"SRC"},"region":{"startLine":3,"startColumn":2}}}]},
              {"ruleId":"a","message":{"text":"x"},"locations":[{"physicalLocation":{"artifactLocation":{"uri":"b.c","uriBaseId":"%SRCROOT%"}}}]},
              {"ruleId":"a","message":{"text":"x"},"locations":[{"physicalLocation":{"artifactLocation":{"uri":"file:///C:/code/c.c"}}}]}]}]}"#,
        );
        let paths: Vec<&str> = e
            .findings
            .iter()
            .map(|f| f.location.as_ref().unwrap().path.as_str())
            .collect();
        assert_eq!(paths, ["/work/src/my dir/a.c", "b.c", "C:/code/c.c"]);
        assert_eq!(e.findings[0].key, "code:a|/work/src/my dir/a.c:3");
        assert_eq!(
            e.findings[0].location.as_ref().unwrap().start_column,
            Some(2)
        );
    }

    #[test]
    fn rules_by_index_in_extensions_and_message_ids() {
        let e = p(
            r#"{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"T","rules":[{"id":"other"}]},
              "extensions":[{"name":"X","rules":[{"id":"x0"},{"id":"S1","shortDescription":{"text":"Weak crypto"},
                 "messageStrings":{"default":{"text":"Do not use '{0}'."}},
                 "properties":{"tags":["security","external/cwe/cwe-327"]}}]}]},
            "results":[{"rule":{"id":"S1","index":1,"toolComponent":{"index":0}},"level":"error",
                        "message":{"id":"default","arguments":["MD5"]}}]}]}"#,
        );
        let f = &e.findings[0];
        assert_eq!(f.id, "S1");
        assert_eq!(f.title.as_deref(), Some("Weak crypto"));
        assert_eq!(f.description.as_deref(), Some("Do not use 'MD5'."));
        assert_eq!(f.cwes, [327]);
        assert_eq!(f.kind, FindingKind::Weakness);
    }

    #[test]
    fn suppressions_count_only_when_accepted() {
        let e = p(
            r#"{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"T"}},"results":[
            {"ruleId":"a","message":{"text":"x"},"suppressions":[{"kind":"inSource"}]},
            {"ruleId":"b","message":{"text":"x"},"suppressions":[{"kind":"external","status":"accepted","justification":"test code"}]},
            {"ruleId":"c","message":{"text":"x"},"suppressions":[{"kind":"external","status":"underReview"}]},
            {"ruleId":"d","message":{"text":"x"},"suppressions":[]}]}]}"#,
        );
        let s: Vec<Option<&str>> = e
            .findings
            .iter()
            .map(|f| f.suppression.as_deref())
            .collect();
        assert_eq!(s, [Some("suppressed"), Some("test code"), None, None]);
    }

    #[test]
    fn vulnerability_ids_from_rule_ids() {
        assert_eq!(
            vulnerability_ids("CVE-2008-0732-geronimo-j2ee-management_1.1_spec"),
            ["CVE-2008-0732"]
        );
        assert_eq!(
            vulnerability_ids("BDSA-2020-1001 (CVE-2020-11022)"),
            ["BDSA-2020-1001", "CVE-2020-11022"]
        );
        assert_eq!(
            vulnerability_ids("GHSA-JFH8-C2JP-5V3Q"),
            ["GHSA-jfh8-c2jp-5v3q"]
        );
        assert!(starts_with_vulnerability_id("cve-2021-44228"));
        assert!(!starts_with_vulnerability_id("js/xss"));
        assert!(!starts_with_vulnerability_id("CVE-Checker"));
    }

    #[test]
    fn classification_table() {
        use FindingKind::*;
        assert_eq!(classify("Gitleaks", None, &[]), Secret);
        assert_eq!(
            classify("Trivy", Some("aws-access-key-id"), &["secret"]),
            Secret
        );
        assert_eq!(
            classify("Trivy", Some("CVE-2021-44228"), &["vulnerability"]),
            Vulnerability
        );
        assert_eq!(
            classify("Trivy", Some("DS002"), &["misconfiguration"]),
            Misconfiguration
        );
        assert_eq!(
            classify("Dockle", Some("CIS-DI-0010"), &[]),
            Misconfiguration
        );
        assert_eq!(
            classify("dependency-check", Some("Disallow x"), &[]),
            Vulnerability
        );
        assert_eq!(classify("CodeQL", Some("js/xss"), &["security"]), Weakness);
    }

    #[test]
    fn cwe_forms() {
        assert_eq!(cwes_in("external/cwe/cwe-079"), [79]);
        assert_eq!(cwes_in("CWE-327: Use of a Broken Algorithm"), [327]);
        assert_eq!(cwe_ids("89"), [89]);
        assert!(cwes_in("cwe").is_empty());
    }

    #[test]
    fn logical_location_becomes_resource() {
        let e = p(
            r#"{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"B"}},
            "logicalLocations":[{"name":"DoWork","fullyQualifiedName":"Ex.W.DoWork"}],
            "results":[{"ruleId":"B1","message":{"text":"x"},"locations":[{"logicalLocations":[{"index":0}]}]}]}]}"#,
        );
        let l = e.findings[0].location.as_ref().unwrap();
        assert_eq!(l.resource.as_deref(), Some("Ex.W.DoWork"));
        assert_eq!(e.findings[0].key, "code:B1|Ex.W.DoWork");
    }

    #[test]
    fn shared_rule_text_is_bounded_per_finding() {
        // One rule with a 1 MB description, 500 results: 500 MB of model unbounded.
        let big = "x".repeat(1 << 20);
        let results: Vec<String> = (0..500)
            .map(|i| format!(r#"{{"ruleId":"R1","locations":[{{"physicalLocation":{{"artifactLocation":{{"uri":"a{i}.c"}}}}}}]}}"#))
            .collect();
        let doc = format!(
            r#"{{"version":"2.1.0","runs":[{{"tool":{{"driver":{{"name":"t","rules":[{{"id":"R1",
              "shortDescription":{{"text":"{big}"}},"fullDescription":{{"text":"{big}"}}}}]}}}},
              "results":[{}]}}]}}"#,
            results.join(",")
        );
        let ev = parse(doc.as_bytes(), &Limits::default()).unwrap();
        assert_eq!(ev.findings.len(), 500);
        let total: usize = ev
            .findings
            .iter()
            .map(|f| {
                f.title.as_ref().map_or(0, String::len)
                    + f.description.as_ref().map_or(0, String::len)
            })
            .sum();
        assert!(
            total <= 500 * 2 * (crate::model::MAX_FINDING_TEXT + 64),
            "{total} bytes"
        );
    }

    #[test]
    fn failed_runs_are_scan_errors() {
        let ev = parse(
            br#"{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"CodeQL"}},"results":[],
              "invocations":[{"executionSuccessful":false,"toolExecutionNotifications":[
                {"level":"error","message":{"text":"could not extract src/a.java"}},
                {"level":"note","message":{"text":"fine"}}]}]}]}"#,
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(
            ev.scan_errors,
            vec![
                "CodeQL run did not complete (executionSuccessful: false)",
                "CodeQL: could not extract src/a.java"
            ]
        );
    }

    #[test]
    fn shape_errors_are_located() {
        let e = parse(
            br#"{"version":"2.1.0","runs":[{"tool":{"driver":{}},"results":[]}]}"#,
            &Limits::default(),
        )
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Shape);
        assert_eq!(
            e.place,
            Some(crate::Place::Pointer("/runs/0/tool/driver".into()))
        );
        let e = parse(br#"{"version":"2.1.0"}"#, &Limits::default()).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Shape, "{e}");
        // Older versions are read when their shape fits.
        let e = parse(br#"{"version":"2.0.0","runs":[]}"#, &Limits::default()).unwrap();
        assert_eq!(e.format_version.as_deref(), Some("2.0.0"));
    }
}
