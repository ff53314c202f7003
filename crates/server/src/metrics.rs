//! What the server does, for Prometheus (`GET /metrics`, OpenMetrics text). Label values
//! come from callers (environment names, rule ids, webhook targets), so each is escaped as
//! the text format says (`\\`, `\"`, `\n`): no value can end its label or its line and forge
//! a series of its own.

use std::sync::atomic::AtomicU64;

use portcullis_firewall::Decision;
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// A label value, escaped when written (prometheus-client writes strings as they are).
#[derive(Clone, Debug, Hash, PartialEq, Eq, PartialOrd, Ord)]
pub struct Label(pub String);

impl From<String> for Label {
    fn from(s: String) -> Self {
        Self(s)
    }
}

impl From<&str> for Label {
    fn from(s: &str) -> Self {
        Self(s.to_string())
    }
}

impl EncodeLabelValue for Label {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        use std::fmt::Write;
        encoder.write_str(&escape_label(&self.0))
    }
}

/// A label value as the Prometheus and OpenMetrics text formats write it: backslash, double
/// quote and line feed escaped.
pub fn escape_label(value: &str) -> std::borrow::Cow<'_, str> {
    if !value.contains(['\\', '"', '\n']) {
        return value.into();
    }
    let mut out = String::with_capacity(value.len() + 8);
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.into()
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DecisionLabels {
    pub result: Label,
    pub environment: Label,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RuleLabels {
    pub rule: Label,
    pub environment: Label,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabels {
    pub result: Label,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TableLabels {
    pub table: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TargetLabels {
    pub target: Label,
}

fn latency() -> Histogram {
    // 0.5 ms .. ~4 s
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
        0.0005, 2.0, 14,
    ))
}

pub struct Metrics {
    pub registry: Registry,
    pub decisions: Family<DecisionLabels, Counter>,
    pub violations: Family<RuleLabels, Counter>,
    pub decision_seconds: Histogram,
    pub admissions: Family<ResultLabels, Counter>,
    pub admission_seconds: Histogram,
    pub evaluation_errors: Counter,
    pub chain_length: Gauge<i64, std::sync::atomic::AtomicI64>,
    pub notification_failures: Family<TargetLabels, Counter>,
    pub notifications_sent: Family<TargetLabels, Counter>,
    pub reloads: Counter<u64, AtomicU64>,
    pub tampered_rows: Family<TableLabels, Counter>,
    /// Running artifacts waiting to be judged again.
    pub rejudge_queue: Gauge<i64, std::sync::atomic::AtomicI64>,
    pub rejudged: Family<ResultLabels, Counter>,
    pub rejudge_seconds: Histogram,
    pub posture_transitions: Family<TransitionLabels, Counter>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TransitionLabels {
    pub to: Label,
    pub environment: Label,
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("portcullis");
        let decisions = Family::<DecisionLabels, Counter>::default();
        registry.register(
            "decisions",
            "Decisions made, by result and environment",
            decisions.clone(),
        );
        let violations = Family::<RuleLabels, Counter>::default();
        registry.register(
            "violations",
            "Enforced violations in decisions, by rule and environment",
            violations.clone(),
        );
        let decision_seconds = latency();
        registry.register(
            "decision_duration_seconds",
            "Time to decide and record a decision (POST /v1/decisions)",
            decision_seconds.clone(),
        );
        let admissions = Family::<ResultLabels, Counter>::default();
        registry.register(
            "admission_reviews",
            "Admission reviews answered, by result (allowed, denied, error)",
            admissions.clone(),
        );
        let admission_seconds = latency();
        registry.register(
            "admission_duration_seconds",
            "Time to answer an admission review",
            admission_seconds.clone(),
        );
        let evaluation_errors = Counter::default();
        registry.register(
            "evaluation_errors",
            "Decisions with errors (unreadable evidence, failed rules): each fails closed",
            evaluation_errors.clone(),
        );
        let chain_length = Gauge::default();
        registry.register(
            "audit_chain_length",
            "Entries in the audit chain (as last seen by this replica)",
            chain_length.clone(),
        );
        let notification_failures = Family::<TargetLabels, Counter>::default();
        registry.register(
            "notification_failures",
            "Notifications that failed after every retry, by target",
            notification_failures.clone(),
        );
        let notifications_sent = Family::<TargetLabels, Counter>::default();
        registry.register(
            "notifications_sent",
            "Notifications delivered, by target",
            notifications_sent.clone(),
        );
        let reloads = Counter::default();
        registry.register(
            "state_reloads",
            "Reloads of advisories and exceptions (after a change on any replica)",
            reloads.clone(),
        );
        let tampered_rows = Family::<TableLabels, Counter>::default();
        registry.register(
            "tampered_rows",
            "Table rows found disagreeing with the audit chain (nothing is decided from them), by table",
            tampered_rows.clone(),
        );
        let rejudge_queue = Gauge::default();
        registry.register(
            "posture_queue",
            "Running artifacts waiting to be judged again (after advisories, exceptions, policies or evidence changed)",
            rejudge_queue.clone(),
        );
        let rejudged = Family::<ResultLabels, Counter>::default();
        registry.register(
            "posture_rejudged",
            "Running artifacts judged again, by result (regated: decided again; settled: read from a recent decision; failed)",
            rejudged.clone(),
        );
        let rejudge_seconds = latency();
        registry.register(
            "posture_rejudge_duration_seconds",
            "Time to judge one running artifact again",
            rejudge_seconds.clone(),
        );
        let posture_transitions = Family::<TransitionLabels, Counter>::default();
        registry.register(
            "posture_transitions",
            "Changes of a running artifact's posture, by the state entered and environment",
            posture_transitions.clone(),
        );
        Self {
            rejudge_queue,
            rejudged,
            rejudge_seconds,
            posture_transitions,
            tampered_rows,
            registry,
            decisions,
            violations,
            decision_seconds,
            admissions,
            admission_seconds,
            evaluation_errors,
            chain_length,
            notification_failures,
            notifications_sent,
            reloads,
        }
    }

    /// Count a row that disagrees with the audit chain.
    pub fn tampered_row(&self, table: &str) {
        self.tampered_rows
            .get_or_create(&TableLabels {
                table: table.to_string(),
            })
            .inc();
    }

    pub fn encode(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Count a recorded decision: by result and environment, its violations, its errors, its
/// latency and the chain's length.
pub fn observe_decision(m: &Metrics, d: &Decision, took: std::time::Duration) {
    m.decisions
        .get_or_create(&DecisionLabels {
            result: if d.allowed() { "allow" } else { "deny" }.into(),
            environment: d.environment.clone().into(),
        })
        .inc();
    for v in &d.violations {
        m.violations
            .get_or_create(&RuleLabels {
                rule: v.rule.clone().into(),
                environment: d.environment.clone().into(),
            })
            .inc();
    }
    if !d.errors.is_empty() {
        m.evaluation_errors.inc();
    }
    m.decision_seconds.observe(took.as_secs_f64());
    if let Some(c) = &d.chain {
        m.chain_length.set(c.seq as i64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A series an attacker tries to forge through a label value: a quote ends the label,
    /// a newline starts a line of its own.
    #[test]
    fn a_label_value_cannot_forge_a_series() {
        let m = Metrics::new();
        let forged = "prod\"} 1\nportcullis_decisions_total{result=\"allow\",environment=\"prod\\";
        m.decisions
            .get_or_create(&DecisionLabels {
                result: "deny".into(),
                environment: forged.into(),
            })
            .inc();
        let text = m.encode();
        let series: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("portcullis_decisions_total"))
            .collect();
        assert_eq!(series.len(), 1, "{text}");
        assert_eq!(
            series[0],
            r#"portcullis_decisions_total{result="deny",environment="prod\"} 1\nportcullis_decisions_total{result=\"allow\",environment=\"prod\\"} 1"#,
            "{text}"
        );
        assert!(!text.contains("result=\"allow\""), "{text}");
    }

    #[test]
    fn labels_are_escaped_as_the_text_format_says() {
        assert_eq!(escape_label("production"), "production");
        assert_eq!(escape_label("a\\b\"c\nd"), r#"a\\b\"c\nd"#);
    }
}
