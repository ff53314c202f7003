//! A decision's smart diff in words: what changed against what runs in the environment
//! (components added, removed, upgraded, downgraded; findings new and fixed; licenses;
//! provenance), or, when there is nothing to compare with, one sentence saying why. The same
//! reading as `portcullis diff` (crates/cli/src/render/diff.rs), for the decision page.

use portcullis_policy::input::{InputDiff, InputDiffFinding, InputProvenanceFacts};

use super::page::short;

/// One change, as a line of the page.
pub struct ChangeLine {
    /// The thing changed (a package, a finding id, a provenance fact).
    pub subject: String,
    /// What changed about it (`2.13.2 → 2.17.1`, `critical in log4j-core 2.13.2`).
    pub detail: String,
    /// A CSS class: `good`, `bad` or `neutral`.
    pub tone: &'static str,
}

/// A kind of change and its lines.
pub struct ChangeGroup {
    /// `components-added`, … (an id for the page and its tests).
    pub id: &'static str,
    pub title: String,
    pub lines: Vec<ChangeLine>,
}

/// The diff of a decision as the page shows it.
pub struct DiffView {
    /// What the candidate was compared with, in a sentence; or why it was not.
    pub baseline: String,
    /// Whether there was something to compare with.
    pub compared: bool,
    /// Counts of every kind of change, in a sentence (empty without a comparison).
    pub summary: String,
    /// The kinds of change that have lines, in a fixed order.
    pub groups: Vec<ChangeGroup>,
    /// Provenance of each side (when compared): running, candidate.
    pub provenance: Vec<(String, String)>,
}

fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

fn version(v: Option<&str>) -> String {
    v.unwrap_or("(no version)").to_string()
}

fn finding_detail(f: &InputDiffFinding) -> String {
    let mut s = f.severity.clone();
    if s.is_empty() {
        s.push_str("no severity");
    }
    match &f.component {
        Some(c) => {
            s.push_str(" in ");
            s.push_str(&c.name);
            if let Some(v) = &c.version {
                s.push(' ');
                s.push_str(v);
            }
        }
        None => {
            s.push_str(" at ");
            s.push_str(&f.key);
        }
    }
    if !f.aliases.is_empty() {
        s.push_str(&format!(" (also {})", f.aliases.join(", ")));
    }
    if let Some(v) = &f.vex_state {
        s.push_str(&format!("; VEX {v}"));
    }
    if let Some(why) = &f.suppressed {
        s.push_str(&format!("; suppressed: {why}"));
    }
    s
}

fn facts_text(f: &InputProvenanceFacts) -> String {
    if f.attestations == 0 {
        return "no provenance".into();
    }
    let list = |v: &[String]| {
        if v.is_empty() {
            "not stated".to_string()
        } else {
            v.join(", ")
        }
    };
    format!(
        "{} from {}: builder {}; repository {}; commit {}",
        if f.verified {
            "verified"
        } else {
            "not verified"
        },
        plural(f.attestations as usize, "attestation", "attestations"),
        list(&f.builders),
        list(&f.source_repos),
        list(&f.source_commits)
    )
}

fn field_word(field: &str) -> &str {
    match field {
        "builder" => "builder",
        "source_repo" => "source repository",
        "source_commit" => "source commit",
        other => other,
    }
}

/// The page's reading of `diff` (`None`: the decision carries no diff) for `artifact` (its
/// name) deciding in `environment`.
pub fn view(diff: Option<&InputDiff>, artifact: &str, environment: &str) -> DiffView {
    let Some(d) = diff else {
        return DiffView {
            baseline: format!(
                "This decision carries no comparison with what runs in {environment} (it was made without looking one up)."
            ),
            compared: false,
            summary: String::new(),
            groups: Vec::new(),
            provenance: Vec::new(),
        };
    };
    let b = &d.baseline;
    let running = b
        .artifact
        .as_ref()
        .map(|a| format!("{}@{}", a.name, short(&a.digest)));
    let Some(c) = &d.changes else {
        let baseline = match (b.state.as_str(), &running) {
            ("none", _) | (_, None) => format!(
                "No baseline: nothing of {artifact} ran in {environment} before this decision, so there is nothing to compare."
            ),
            (_, Some(r)) => format!(
                "No comparison: {r} runs in {environment}, but what it was built from is not known ({}), so there is nothing to compare.",
                b.reason
                    .as_deref()
                    .unwrap_or("its recorded evidence cannot be read")
            ),
        };
        return DiffView {
            baseline,
            compared: false,
            summary: String::new(),
            groups: Vec::new(),
            provenance: Vec::new(),
        };
    };
    let mut baseline = format!(
        "Compared with {} running in {environment}",
        running.unwrap_or_else(|| "what runs".into())
    );
    if let Some(at) = &b.deployed_at {
        baseline.push_str(&format!(" (deployed {at})"));
    }
    if let Some(id) = &b.decision {
        baseline.push_str(&format!(
            ", as the evidence of its decision {id} describes it"
        ));
    }
    baseline.push('.');

    let k = &c.components;
    let f = &c.findings;
    let p = &c.provenance;
    let summary = format!(
        "Components: {} added, {} removed, {} upgraded, {} downgraded, {} unchanged. Findings: {} new, {} fixed, {} unchanged. {}. Provenance: {}.",
        k.added.len(),
        k.removed.len(),
        k.upgraded.len(),
        k.downgraded.len(),
        k.unchanged,
        f.new.len(),
        f.fixed.len(),
        f.unchanged,
        match c.licenses.len() {
            0 => "No license changed".to_string(),
            n => format!("{} changed", plural(n, "license", "licenses")),
        },
        if p.changed.is_empty() {
            "unchanged where both sides state it".to_string()
        } else {
            let fields: Vec<&str> = p.changed.iter().map(|x| field_word(&x.field)).collect();
            format!("{} changed", fields.join(", "))
        }
    );

    let mut groups = Vec::new();
    let mut push = |id: &'static str, title: String, lines: Vec<ChangeLine>| {
        if !lines.is_empty() {
            groups.push(ChangeGroup { id, title, lines });
        }
    };
    push(
        "findings-new",
        format!("New findings ({})", f.new.len()),
        f.new
            .iter()
            .map(|x| ChangeLine {
                subject: x.id.clone(),
                detail: finding_detail(x),
                tone: "bad",
            })
            .collect(),
    );
    push(
        "findings-fixed",
        format!("Fixed findings ({})", f.fixed.len()),
        f.fixed
            .iter()
            .map(|x| ChangeLine {
                subject: x.id.clone(),
                detail: finding_detail(x),
                tone: "good",
            })
            .collect(),
    );
    push(
        "provenance-changed",
        format!("Provenance changed ({})", p.changed.len()),
        p.changed
            .iter()
            .map(|x| ChangeLine {
                subject: field_word(&x.field).to_string(),
                detail: format!("{} → {}", x.from.join(", "), x.to.join(", ")),
                tone: "bad",
            })
            .collect(),
    );
    push(
        "components-downgraded",
        format!("Components downgraded ({})", k.downgraded.len()),
        k.downgraded
            .iter()
            .map(|u| ChangeLine {
                subject: u.name.clone(),
                detail: format!("{} → {}", u.from, u.to),
                tone: "bad",
            })
            .collect(),
    );
    push(
        "components-upgraded",
        format!("Components upgraded ({})", k.upgraded.len()),
        k.upgraded
            .iter()
            .map(|u| ChangeLine {
                subject: u.name.clone(),
                detail: format!("{} → {}", u.from, u.to),
                tone: "neutral",
            })
            .collect(),
    );
    push(
        "components-added",
        format!("Components added ({})", k.added.len()),
        k.added
            .iter()
            .map(|a| ChangeLine {
                subject: a.name.clone(),
                detail: if a.licenses.is_empty() {
                    version(a.version.as_deref())
                } else {
                    format!(
                        "{} ({})",
                        version(a.version.as_deref()),
                        a.licenses.join(", ")
                    )
                },
                tone: "neutral",
            })
            .collect(),
    );
    push(
        "components-removed",
        format!("Components removed ({})", k.removed.len()),
        k.removed
            .iter()
            .map(|a| ChangeLine {
                subject: a.name.clone(),
                detail: version(a.version.as_deref()),
                tone: "neutral",
            })
            .collect(),
    );
    push(
        "licenses-changed",
        format!("Licenses changed ({})", c.licenses.len()),
        c.licenses
            .iter()
            .map(|l| {
                let side = |v: &Option<String>, lic: &[String]| {
                    let lic = if lic.is_empty() {
                        "none declared".to_string()
                    } else {
                        lic.join(", ")
                    };
                    format!("{} ({lic})", version(v.as_deref()))
                };
                ChangeLine {
                    subject: l.name.clone(),
                    detail: format!(
                        "{} → {}",
                        side(&l.from_version, &l.from),
                        side(&l.to_version, &l.to)
                    ),
                    tone: "neutral",
                }
            })
            .collect(),
    );
    DiffView {
        baseline,
        compared: true,
        summary,
        groups,
        provenance: vec![
            ("running".into(), facts_text(&p.baseline)),
            ("candidate".into(), facts_text(&p.candidate)),
        ],
    }
}

#[cfg(test)]
mod tests {
    use portcullis_policy::input::{
        InputArtifact, InputComponentChanges, InputDiffBaseline, InputDiffChanges,
        InputDiffComponent, InputFindingChanges, InputFindingComponent, InputProvenanceChange,
        InputProvenanceFieldChange, InputVersionChange,
    };

    use super::*;

    fn text(v: &DiffView) -> String {
        let mut s = format!("{}\n{}\n", v.baseline, v.summary);
        for g in &v.groups {
            s.push_str(&format!("{}\n", g.title));
            for l in &g.lines {
                s.push_str(&format!("  [{}] {}: {}\n", l.tone, l.subject, l.detail));
            }
        }
        for (side, facts) in &v.provenance {
            s.push_str(&format!("{side}: {facts}\n"));
        }
        s
    }

    #[test]
    fn no_baseline_is_said_once_in_words() {
        let d = InputDiff {
            baseline: InputDiffBaseline {
                state: "none".into(),
                reason: Some("nothing named shop/api is recorded as running in prod".into()),
                ..InputDiffBaseline::default()
            },
            changes: None,
        };
        let v = view(Some(&d), "shop/api", "prod");
        assert_eq!(
            v.baseline,
            "No baseline: nothing of shop/api ran in prod before this decision, so there is nothing to compare."
        );
        assert!(!v.compared);
        assert!(v.groups.is_empty() && v.summary.is_empty());
        let all = text(&v);
        assert_eq!(all.matches("No baseline").count(), 1, "{all}");
        assert!(!all.contains("null"), "{all}");

        let unknown = InputDiff {
            baseline: InputDiffBaseline {
                state: "unknown".into(),
                reason: Some("no decision about it is recorded".into()),
                artifact: Some(InputArtifact {
                    name: "shop/api".into(),
                    digest: format!("sha256:{}", "ab".repeat(32)),
                }),
                ..InputDiffBaseline::default()
            },
            changes: None,
        };
        let v = view(Some(&unknown), "shop/api", "prod");
        assert_eq!(
            v.baseline,
            "No comparison: shop/api@sha256:abababababab… runs in prod, but what it was built from is not known (no decision about it is recorded), so there is nothing to compare."
        );
        assert!(
            view(None, "shop/api", "prod")
                .baseline
                .contains("no comparison")
        );
    }

    #[test]
    fn changes_read_as_words() {
        let comp = |name: &str, v: &str| InputDiffComponent {
            package: format!("pkg:deb/debian/{name}"),
            key: format!("pkg:deb/debian/{name}@{v}"),
            name: name.into(),
            version: Some(v.into()),
            licenses: vec!["MIT".into()],
            ..InputDiffComponent::default()
        };
        let change = |name: &str, from: &str, to: &str| InputVersionChange {
            package: format!("pkg:deb/debian/{name}"),
            name: name.into(),
            from: from.into(),
            to: to.into(),
            ..InputVersionChange::default()
        };
        let finding = |id: &str, sev: &str, name: &str, v: &str| InputDiffFinding {
            id: id.into(),
            severity: sev.into(),
            kind: "vuln".into(),
            component: Some(InputFindingComponent {
                purl: None,
                name: name.into(),
                version: Some(v.into()),
            }),
            ..InputDiffFinding::default()
        };
        let d = InputDiff {
            baseline: InputDiffBaseline {
                state: "known".into(),
                artifact: Some(InputArtifact {
                    name: "shop/api".into(),
                    digest: format!("sha256:{}", "cd".repeat(32)),
                }),
                deployed_at: Some("2026-12-01T10:00:00Z".into()),
                decision: Some("dec-1".into()),
                ..InputDiffBaseline::default()
            },
            changes: Some(InputDiffChanges {
                components: InputComponentChanges {
                    added: vec![comp("zlib1g", "1.2.11")],
                    removed: vec![comp("libgcrypt20", "1.8.4")],
                    upgraded: vec![change("openssl", "1.1.1d", "1.1.1n")],
                    downgraded: vec![change("curl", "7.74.0", "7.64.0")],
                    unchanged: 40,
                },
                findings: InputFindingChanges {
                    new: vec![finding("CVE-2021-22945", "critical", "curl", "7.64.0")],
                    fixed: vec![finding("CVE-2022-0778", "high", "openssl", "1.1.1d")],
                    unchanged: 3,
                },
                licenses: Vec::new(),
                provenance: InputProvenanceChange {
                    changed: vec![InputProvenanceFieldChange {
                        field: "source_repo".into(),
                        from: vec!["https://github.com/shop/api".into()],
                        to: vec!["https://github.com/evil/api".into()],
                    }],
                    ..InputProvenanceChange::default()
                },
            }),
        };
        let v = view(Some(&d), "shop/api", "prod");
        assert!(v.compared);
        let all = text(&v);
        let want = "Compared with shop/api@sha256:cdcdcdcdcdcd… running in prod (deployed 2026-12-01T10:00:00Z), as the evidence of its decision dec-1 describes it.
Components: 1 added, 1 removed, 1 upgraded, 1 downgraded, 40 unchanged. Findings: 1 new, 1 fixed, 3 unchanged. No license changed. Provenance: source repository changed.
New findings (1)
  [bad] CVE-2021-22945: critical in curl 7.64.0
Fixed findings (1)
  [good] CVE-2022-0778: high in openssl 1.1.1d
Provenance changed (1)
  [bad] source repository: https://github.com/shop/api → https://github.com/evil/api
Components downgraded (1)
  [bad] curl: 7.74.0 → 7.64.0
Components upgraded (1)
  [neutral] openssl: 1.1.1d → 1.1.1n
Components added (1)
  [neutral] zlib1g: 1.2.11 (MIT)
Components removed (1)
  [neutral] libgcrypt20: 1.8.4
running: no provenance
candidate: no provenance
";
        assert_eq!(all, want);
        assert!(!all.contains("null") && !all.contains("baseline."), "{all}");
    }
}
