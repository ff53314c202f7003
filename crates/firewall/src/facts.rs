//! Where each fact of a decision came from. The party being gated must not be able to supply
//! the facts it is gated on: every decision lists the facts it was made from (time, requester,
//! approvals, history, what runs, canary and exposure results), each with its source, whether
//! it could satisfy a rule here, and what the request said that the firewall did not use.

use portcullis_policy::input::{FactSource, PolicyInput};
use serde::{Deserialize, Serialize};

/// One fact a decision was made from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fact {
    /// `time`, `requester`, `approval`, `history`, `previous`, `verification`, `exposure`.
    pub fact: String,
    /// What it says, briefly (`2026-12-04T06:00:00Z`, `token:ci-main`, `staging: allow`, …).
    pub value: String,
    pub source: FactSource,
    /// Who recorded, signed or authenticated it, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// Whether it may satisfy a rule in this environment (established, or asserted where the
    /// environment accepts asserted facts).
    pub counted: bool,
}

/// The facts of `input`, in a fixed order. Derived from the input alone, so that a replay
/// lists the same facts.
pub fn of(input: &PolicyInput) -> Vec<Fact> {
    let accepts = input.environment.accepts_asserted;
    let fact = |fact: &str, value: String, source: FactSource, by: Option<String>| Fact {
        fact: fact.to_string(),
        value,
        source,
        by,
        counted: source.established() || accepts,
    };
    let mut out = vec![fact(
        "time",
        input.context.time.clone(),
        input.context.time_source,
        None,
    )];
    if let Some(r) = &input.context.requester {
        out.push(fact(
            "requester",
            r.clone(),
            input.context.requester_source,
            None,
        ));
    }
    for a in &input.context.approvals {
        let mut value = a.approver.clone();
        if let Some(c) = &a.change_ref {
            value.push_str(&format!(" (change {c})"));
        }
        if let Some(e) = &a.expires_at {
            value.push_str(&format!(", until {e}"));
        }
        out.push(fact("approval", value, a.source, Some(a.approver.clone())));
    }
    for h in &input.history {
        out.push(fact(
            "history",
            format!(
                "{}: {} at {}{}",
                h.environment,
                h.decision,
                h.decided_at,
                if h.deployed { ", deployed" } else { "" }
            ),
            h.source,
            None,
        ));
    }
    if let Some(p) = &input.previous {
        out.push(fact(
            "previous",
            format!("{}@{}", p.artifact.name, p.artifact.digest),
            p.source,
            None,
        ));
    }
    for v in &input.verifications {
        out.push(fact(
            "verification",
            format!("{} {} (score {})", v.kind, v.verdict, v.score),
            v.source,
            v.recorded_by.clone(),
        ));
    }
    for e in &input.exposures {
        out.push(fact(
            "exposure",
            format!(
                "{} {} {}",
                e.target,
                e.check,
                if e.deviation {
                    "deviates"
                } else {
                    "as declared"
                }
            ),
            e.source,
            e.recorded_by.clone(),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis_policy::input::{InputApproval, InputVerification};

    #[test]
    fn asserted_facts_count_only_where_the_environment_accepts_them() {
        let mut input = PolicyInput::default();
        input.context.time = "2026-12-04T00:00:00Z".into();
        input.context.time_source = FactSource::Firewall;
        input.context.approvals.push(InputApproval {
            id: "asserted".into(),
            approver: "alice".into(),
            source: FactSource::Asserted,
            ..InputApproval::default()
        });
        input.verifications.push(InputVerification {
            kind: "canary".into(),
            verdict: "pass".into(),
            source: FactSource::Recorded,
            recorded_by: Some("token:verifier".into()),
            ..InputVerification::default()
        });
        let facts = of(&input);
        let counted: Vec<(&str, bool)> =
            facts.iter().map(|f| (f.fact.as_str(), f.counted)).collect();
        assert_eq!(
            counted,
            [("time", true), ("approval", false), ("verification", true)]
        );
        input.environment.accepts_asserted = true;
        assert!(of(&input).iter().all(|f| f.counted));
    }
}
