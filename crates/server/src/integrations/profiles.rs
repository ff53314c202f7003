//! `integrations:` in the server settings: the canary analysis profiles that Argo Rollouts'
//! AnalysisTemplates and Flagger's `rollout` webhook name. A caller names a profile and gives
//! names and pod-template hashes; the PromQL, the Prometheus URL and the scopes are the
//! server's own.
//!
//! ```yaml
//! integrations:
//!   profiles:
//!     checkout:
//!       analysis: analysis/checkout.yaml   # a CanaryAnalysis with provider.prometheus
//!       baseline_scope: 'namespace="{namespace}",rollouts_pod_template_hash="{stable_hash}"'
//!       canary_scope: 'namespace="{namespace}",rollouts_pod_template_hash="{canary_hash}"'
//!       window: 10m                        # the last 10 minutes, ending when asked
//!       step: 30s                          # query resolution (default 30s)
//!       environments: [staging, production] # where it may be used (default: anywhere)
//! ```
//!
//! The scopes replace `${scope}` in each metric's query (the analysis file's own
//! `baselineScope`/`canaryScope` are ignored). Their placeholders are `{namespace}`, `{name}`
//! (the Rollout or Canary), `{canary_hash}` and `{stable_hash}`; every value substituted must
//! be a Kubernetes name or a pod-template hash (lowercase letters, digits, `-` and `.`), so
//! nothing a caller sends can change the query's shape.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use portcullis_verify::config::{AnalysisConfig, Provider, parse_duration};
use serde::Deserialize;

/// Longest window a profile may have.
pub const MAX_WINDOW: Duration = Duration::from_secs(24 * 3600);
/// Longest value substituted into a scope (a DNS subdomain's length).
pub const MAX_VALUE: usize = 253;

/// `integrations:` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntegrationSettings {
    #[serde(default)]
    pub profiles: BTreeMap<String, ProfileSetting>,
}

/// One profile as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileSetting {
    /// A CanaryAnalysis file (relative to the settings file) with `provider.prometheus`.
    pub analysis: PathBuf,
    pub baseline_scope: String,
    pub canary_scope: String,
    /// `10m`, `1h`, `300s` or plain seconds.
    pub window: String,
    #[serde(default)]
    pub step: Option<String>,
    #[serde(default)]
    pub environments: Option<Vec<String>>,
}

/// A profile read and checked, its analysis loaded.
#[derive(Debug, Clone)]
pub struct Profile {
    pub name: String,
    pub analysis: AnalysisConfig,
    pub baseline_scope: String,
    pub canary_scope: String,
    pub window: Duration,
    pub step: String,
    pub environments: Option<Vec<String>>,
}

/// The profiles in force, by name.
#[derive(Debug, Clone, Default)]
pub struct Profiles {
    by_name: BTreeMap<String, Profile>,
}

/// A profile that cannot be used: where (`integrations.profiles.NAME.FIELD`) and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{place}: {message}")]
pub struct ProfileError {
    pub place: String,
    pub message: String,
}

/// The names a scope template may use, each checked before it is substituted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeValues {
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub canary_hash: Option<String>,
    pub stable_hash: Option<String>,
}

/// Why a scope could not be made: a value outside the charset, or one the template needs
/// that was not given. `field` is the caller's name for it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    #[error(
        "{field} {value:?}: only lowercase letters, digits, '-' and '.' (starting and ending with a letter or digit, at most {MAX_VALUE} characters) may be substituted into a query"
    )]
    Charset { field: &'static str, value: String },
    #[error("{field} is needed by the profile's scope and was not given")]
    Missing { field: &'static str },
    #[error(
        "unknown placeholder {{{0}}} (known: {{namespace}}, {{name}}, {{canary_hash}}, {{stable_hash}})"
    )]
    Unknown(String),
    #[error("an unclosed '{{' in the scope template")]
    Unclosed,
}

/// Whether `value` may be put into a PromQL label matcher: a Kubernetes name or a pod-template
/// hash. No quote, backslash, brace, comma or space can pass.
pub fn safe_value(value: &str) -> bool {
    let bytes = value.as_bytes();
    let edge = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    !value.is_empty()
        && value.len() <= MAX_VALUE
        && edge(bytes.first())
        && edge(bytes.last())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-' || *b == b'.')
}

impl ScopeValues {
    /// Each given value checked against the charset (the caller's field names in errors).
    pub fn check(&self) -> Result<(), ScopeError> {
        for (field, v) in self.fields() {
            if let Some(v) = v
                && !safe_value(v)
            {
                return Err(ScopeError::Charset {
                    field,
                    value: v.clone(),
                });
            }
        }
        Ok(())
    }

    fn fields(&self) -> [(&'static str, &Option<String>); 4] {
        [
            ("namespace", &self.namespace),
            ("name", &self.name),
            ("canary_hash", &self.canary_hash),
            ("stable_hash", &self.stable_hash),
        ]
    }

    fn get(&self, placeholder: &str) -> Result<&str, ScopeError> {
        let (field, value) = self
            .fields()
            .into_iter()
            .find(|(f, _)| *f == placeholder)
            .ok_or_else(|| ScopeError::Unknown(placeholder.to_string()))?;
        let value = value.as_deref().ok_or(ScopeError::Missing { field })?;
        if safe_value(value) {
            Ok(value)
        } else {
            Err(ScopeError::Charset {
                field,
                value: value.to_string(),
            })
        }
    }
}

/// `template` with each `{placeholder}` replaced by its checked value.
pub fn substitute(template: &str, values: &ScopeValues) -> Result<String, ScopeError> {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let (before, after) = rest.split_at(open);
        out.push_str(before);
        let after = after.get(1..).unwrap_or_default();
        let close = after.find('}').ok_or(ScopeError::Unclosed)?;
        let (name, tail) = after.split_at(close);
        out.push_str(values.get(name)?);
        rest = tail.get(1..).unwrap_or_default();
    }
    out.push_str(rest);
    Ok(out)
}

/// The profile's CanaryAnalysis: its window is the profile's (set at each request), so a file
/// without `analysis:` is read as if it had one; logs are not read here.
fn load_analysis(path: &Path) -> Result<AnalysisConfig, String> {
    let mut text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    if !text.lines().any(|l| l.starts_with("analysis:")) {
        // Appended, so the lines of errors stay the file's.
        text.push_str("\nanalysis: {start: 2000-01-01T00:00:00Z, end: 2000-01-01T00:01:00Z}\n");
    }
    let analysis = AnalysisConfig::parse(path, &text).map_err(|e| e.to_string())?;
    if analysis.logs.is_some() {
        return Err(format!(
            "{}: logs are not read by an analysis profile (metrics only)",
            path.display()
        ));
    }
    Ok(analysis)
}

impl Profiles {
    /// Read each profile's analysis (relative to `settings_file`) and check the rest.
    pub fn load(
        settings: &IntegrationSettings,
        settings_file: &Path,
    ) -> Result<Self, ProfileError> {
        let dir = settings_file.parent().unwrap_or(Path::new("."));
        let mut by_name = BTreeMap::new();
        for (name, p) in &settings.profiles {
            let err = |field: &str, message: String| ProfileError {
                place: format!("integrations.profiles.{name}.{field}"),
                message,
            };
            if !safe_value(name) {
                return Err(ProfileError {
                    place: format!("integrations.profiles.{name}"),
                    message: "a profile's name is lowercase letters, digits, '-' and '.'".into(),
                });
            }
            let path = dir.join(&p.analysis);
            let analysis = load_analysis(&path).map_err(|m| err("analysis", m))?;
            match analysis.provider() {
                Some(Provider::Prometheus(_)) => {}
                _ => {
                    return Err(err(
                        "analysis",
                        format!(
                            "{}: the analysis must name provider.prometheus (the server asks Prometheus; files are not served)",
                            path.display()
                        ),
                    ));
                }
            }
            if !analysis.groups.iter().any(|g| !g.metrics.is_empty()) {
                return Err(err(
                    "analysis",
                    format!("{}: no metrics to compare", path.display()),
                ));
            }
            // Every placeholder known: checked with values that pass, so only the template
            // can fail here.
            let probe = ScopeValues {
                namespace: Some("ns".into()),
                name: Some("name".into()),
                canary_hash: Some("c".into()),
                stable_hash: Some("s".into()),
            };
            for (field, t) in [
                ("baseline_scope", &p.baseline_scope),
                ("canary_scope", &p.canary_scope),
            ] {
                substitute(t, &probe).map_err(|e| err(field, e.to_string()))?;
            }
            let window = parse_duration(&p.window)
                .filter(|w| !w.is_zero() && *w <= MAX_WINDOW)
                .ok_or_else(|| {
                    err(
                        "window",
                        format!("{:?}: a duration like 10m, from 1s to 24h", p.window),
                    )
                })?;
            let step = p.step.clone().unwrap_or_else(|| "30s".into());
            if parse_duration(&step).is_none_or(|s| s.is_zero()) {
                return Err(err("step", format!("{step:?}: a duration like 30s")));
            }
            if let Some(envs) = &p.environments {
                for e in envs {
                    portcullis_firewall::names::check(
                        portcullis_firewall::names::NameKind::Environment,
                        e,
                    )
                    .map_err(|m| err("environments", m.to_string()))?;
                }
            }
            by_name.insert(
                name.clone(),
                Profile {
                    name: name.clone(),
                    analysis,
                    baseline_scope: p.baseline_scope.clone(),
                    canary_scope: p.canary_scope.clone(),
                    window,
                    step,
                    environments: p.environments.clone(),
                },
            );
        }
        Ok(Self { by_name })
    }

    pub fn get(&self, name: &str) -> Option<&Profile> {
        self.by_name.get(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.by_name.keys().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_outside_the_charset_are_refused() {
        for bad in [
            "",
            "a\"}",
            "a\",x=~\".*",
            "A",
            "-a",
            "a-",
            "a b",
            "a{b}",
            "a\\b",
            "é",
        ] {
            assert!(!safe_value(bad), "{bad:?}");
        }
        for good in ["6d4b9c7f8", "checkout-api", "shop.prod", "a"] {
            assert!(safe_value(good), "{good:?}");
        }
        assert!(!safe_value(&"a".repeat(MAX_VALUE + 1)));
    }

    #[test]
    fn scopes_are_substituted_from_checked_values() {
        let v = ScopeValues {
            namespace: Some("shop".into()),
            canary_hash: Some("6d4b9c7f8".into()),
            ..ScopeValues::default()
        };
        assert_eq!(
            substitute(
                "namespace=\"{namespace}\",rollouts_pod_template_hash=\"{canary_hash}\"",
                &v
            )
            .unwrap(),
            "namespace=\"shop\",rollouts_pod_template_hash=\"6d4b9c7f8\""
        );
        assert_eq!(
            substitute("h=\"{stable_hash}\"", &v).unwrap_err(),
            ScopeError::Missing {
                field: "stable_hash"
            }
        );
        assert!(matches!(
            substitute("h=\"{pod}\"", &v).unwrap_err(),
            ScopeError::Unknown(_)
        ));
        assert_eq!(
            substitute("h=\"{name", &v).unwrap_err(),
            ScopeError::Unclosed
        );
        let bad = ScopeValues {
            name: Some("x\",y=\"z".into()),
            ..ScopeValues::default()
        };
        assert!(matches!(
            substitute("app=\"{name}\"", &bad).unwrap_err(),
            ScopeError::Charset { field: "name", .. }
        ));
        assert!(bad.check().is_err());
    }
}
