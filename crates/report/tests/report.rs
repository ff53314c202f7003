//! Report correctness on a fixture history: decisions recorded with the real firewall (the
//! built-in library, the Log4Shell advisory from ../shared/corpus, a Log4Shell-affected SBOM
//! from the corpus and a clean one from examples/), an exception granted and used, a
//! deployment, then the report's counts, exceptions, advisory impact and control coverage are
//! checked, on SQLite and on PostgreSQL (when `PORTCULLIS_TEST_POSTGRES_URL` is set; a skip is
//! a failure under CI). The same report's OSCAL documents are validated by compliance-trestle
//! (NIST's OSCAL 1.1 models) and its PDF printed by headless Chromium; each of those skips with
//! a message outside CI when the tool is missing, and fails under CI.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::{DateTime, Duration, SubsecRound, TimeZone, Utc};
use portcullis_evidence::Limits;
use portcullis_firewall::record::{Documents, blob_kinds};
use portcullis_firewall::registry::{self, AdvisoryDoc};
use portcullis_firewall::{
    ArtifactId, CompiledException, Config, Decision, DecisionRequest, EvidenceDoc, Exception,
    Firewall,
};
use portcullis_policy::PolicyBundle;
use portcullis_report::{
    Format, Options, Outcome, Paper, Report, ReportError, ReportQuery, Status, build, oscal, render,
};
use portcullis_store::testing::TestDb;
use portcullis_store::{Backend, Store};
use portcullis_testkit::skip_or_fail;

#[path = "support/print.rs"]
mod print;

const ADVISORY: &str = "GHSA-jfh8-c2jp-5v3q";
const VULNERABLE: &str = "registry.example.com/shop/legacy-search";
const CLEAN: &str = "registry.example.com/shop/checkout-api";

const CONFIG: &str = r#"
environments:
  dev: { protected: false }
  production: { protected: true }
rules:
  # No rule maps PM-16 but this one: off everywhere, PM-16 is not assessed.
  PCL-VULN-003:
    actions: { "*": off }
  PCL-PROV-001:
    actions: { "*": warn }
  # No canary analysis in this history: it warns.
  PCL-VERIFY-001:
    actions: { "*": warn }
  # No staging decisions in this history.
  PCL-CHG-004:
    actions: { "*": off }
"#;

async fn run<F, Fut>(backend: Backend, body: F)
where
    F: FnOnce(Store) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let config = db.config();
    let outcome = tokio::spawn(async move {
        let store = Store::open(&config)
            .await
            .unwrap_or_else(|e| panic!("cannot open the store: {e}"));
        body(store).await;
    })
    .await;
    db.cleanup().await;
    if let Err(e) = outcome {
        match e.try_into_panic() {
            Ok(p) => std::panic::resume_unwind(p),
            Err(e) => panic!("the test task did not finish: {e}"),
        }
    }
}

fn corpus() -> Option<PathBuf> {
    portcullis_testkit::corpus("fixture history (its Log4Shell SBOM and advisory)", "")
}

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn digest_of(name: &str) -> String {
    portcullis_firewall::sha256(name.as_bytes())
}

/// What the fixture recorded, to check the report against.
struct History {
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    outside: Decision,
    denied_prod: Decision,
    clean_prod: Decision,
    denied_dev: Decision,
    excepted_prod: Decision,
    exception_id: String,
}

struct Gate<'a> {
    store: &'a Store,
    docs: Documents,
    vulnerable: EvidenceDoc,
    clean: Vec<EvidenceDoc>,
}

impl Gate<'_> {
    async fn decide(
        &self,
        fw: &Firewall,
        artifact: &str,
        env: &str,
        vulnerable: bool,
        at: DateTime<Utc>,
    ) -> Decision {
        let mut req = DecisionRequest::new(
            ArtifactId {
                name: artifact.into(),
                digest: digest_of(artifact),
            },
            env,
        );
        req.context.time = Some(at);
        req.context.requester = Some("ci@example.com".into());
        // An approval the firewall recorded (an approver token's), as the decision service
        // would hand it in.
        req.approvals.push(portcullis_policy::input::InputApproval {
            id: "apr_fixture".into(),
            approver: "token:tok_release_manager".into(),
            source: portcullis_policy::input::FactSource::Recorded,
            ..Default::default()
        });
        if vulnerable {
            req.evidence.push(self.vulnerable.clone());
        } else {
            req.evidence.extend(self.clean.iter().cloned());
        }
        let mut d = fw.decide(&req);
        fw.record(self.store, &req, &mut d, &self.docs)
            .await
            .unwrap_or_else(|e| panic!("recording {}: {e}", d.id));
        d
    }
}

fn firewall(blocked: Vec<portcullis_firewall::BlockedAdvisory>) -> Firewall {
    let config = Config::from_yaml(CONFIG, "report-test.yaml").unwrap();
    Firewall::new(PolicyBundle::builtin().unwrap(), config)
        .unwrap()
        .with_advisories(blocked)
}

async fn record_history(store: &Store, corpus: &Path) -> History {
    let limits = Limits::default();
    // Whole seconds: the report's range is printed in seconds.
    let now = Utc::now().trunc_subsecs(0);
    let from = Utc.from_utc_datetime(
        &(now - Duration::days(3))
            .date_naive()
            .and_hms_opt(0, 0, 0)
            .unwrap(),
    );
    let to = now + Duration::hours(1);

    // The Log4Shell advisory, added to the store and in force.
    let osv = read(&corpus.join("advisories/GHSA-jfh8-c2jp-5v3q.osv.json"));
    registry::add_advisories(
        store,
        vec![AdvisoryDoc::osv("GHSA-jfh8-c2jp-5v3q.osv.json", osv, &limits).unwrap()],
        "secops@example.com",
    )
    .await
    .unwrap();
    let mut docs = Documents::default();
    let mut blocked = Vec::new();
    for (_, bytes, b) in registry::advisories_in_force(store, &limits).await.unwrap() {
        docs.add(blob_kinds::ADVISORY, bytes);
        blocked.extend(b);
    }

    let evidence = |path: &Path, docs: &mut Documents| {
        let bytes = read(path);
        let doc = EvidenceDoc::parse(&path.display().to_string(), &bytes, &limits).unwrap();
        docs.add(blob_kinds::EVIDENCE, bytes);
        doc
    };
    let vulnerable = evidence(&corpus.join("scanners/cyclonedx/log4j.json"), &mut docs);
    let clean = vec![evidence(
        &examples().join("evidence/clean/checkout-api-2.4.1.cdx.json"),
        &mut docs,
    )];
    let gate = Gate {
        store,
        docs,
        vulnerable,
        clean,
    };

    let fw = firewall(blocked.clone());
    let outside = gate
        .decide(
            &fw,
            VULNERABLE,
            "production",
            true,
            from - Duration::days(5),
        )
        .await;
    let denied_prod = gate
        .decide(
            &fw,
            VULNERABLE,
            "production",
            true,
            from + Duration::hours(10),
        )
        .await;
    let clean_prod = gate
        .decide(&fw, CLEAN, "production", false, from + Duration::hours(11))
        .await;
    let denied_dev = gate
        .decide(&fw, VULNERABLE, "dev", true, from + Duration::hours(33))
        .await;

    // The exception for Log4Shell in the legacy search service, in production only.
    let expires = (now + Duration::days(30)).format("%Y-%m-%d").to_string();
    let exception_id = "EXC-REPORT-1".to_string();
    let granted = CompiledException::compile(Exception {
        id: Some(exception_id.clone()),
        rule: "PCL-VULN-001".into(),
        key: format!("{ADVISORY}*"),
        artifact: VULNERABLE.into(),
        environments: vec!["production".into()],
        expires,
        reason: "the vulnerable JNDI lookup is disabled by -Dlog4j2.formatMsgNoLookups".into(),
        approver: "dana@example.com".into(),
        evidence: None,
    })
    .unwrap();
    registry::grant_exceptions(store, vec![granted], "ciso@example.com")
        .await
        .unwrap();
    let in_force = registry::exceptions_in_force(store, now).await.unwrap();
    let fw = firewall(blocked).with_exceptions(in_force);
    let excepted_prod = gate
        .decide(
            &fw,
            VULNERABLE,
            "production",
            true,
            from + Duration::hours(57),
        )
        .await;
    registry::record_deployment(
        store,
        &ArtifactId {
            name: VULNERABLE.into(),
            digest: digest_of(VULNERABLE),
        },
        "production",
        "cd@example.com",
    )
    .await
    .unwrap();

    History {
        from,
        to,
        outside,
        denied_prod,
        clean_prod,
        denied_dev,
        excepted_prod,
        exception_id,
    }
}

fn coverage<'a>(
    r: &'a Report,
    framework: &str,
    control: &str,
) -> &'a portcullis_report::ControlCoverage {
    r.coverage
        .iter()
        .find(|c| c.framework == framework && c.control == control)
        .unwrap_or_else(|| panic!("{framework}:{control} is not in the report's coverage"))
}

async fn fixture_history_report(store: Store) {
    let Some(corpus) = corpus() else { return };
    let h = record_history(&store, &corpus).await;

    // What the firewall decided (the report must say the same).
    let rules = |d: &Decision| {
        let v: Vec<String> = d
            .violations
            .iter()
            .map(|v| format!("{} {}", v.rule, v.key))
            .collect();
        let w: Vec<String> = d
            .warnings
            .iter()
            .map(|v| format!("{} {}", v.rule, v.key))
            .collect();
        let x: Vec<String> = d
            .excepted
            .iter()
            .map(|x| format!("{} {}", x.violation.rule, x.violation.key))
            .collect();
        format!(
            "{} violations {v:?} warnings {w:?} excepted {x:?} errors {:?}",
            d.decision.as_str(),
            d.errors
        )
    };
    assert!(!h.denied_prod.allowed(), "{}", rules(&h.denied_prod));
    assert!(!h.denied_dev.allowed(), "{}", rules(&h.denied_dev));
    assert!(h.clean_prod.allowed(), "{}", rules(&h.clean_prod));
    assert!(h.excepted_prod.allowed(), "{}", rules(&h.excepted_prod));
    assert_eq!(h.excepted_prod.excepted.len(), 1, "{:#?}", h.excepted_prod);

    let report = build(
        &store,
        &ReportQuery {
            env: None,
            from: h.from,
            to: h.to,
        },
    )
    .await
    .unwrap();

    // Decisions in the range, oldest first; the one before it is left out.
    let ids: Vec<&str> = report.decisions.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(
        ids,
        vec![
            h.denied_prod.id.as_str(),
            h.clean_prod.id.as_str(),
            h.denied_dev.id.as_str(),
            h.excepted_prod.id.as_str()
        ]
    );
    assert!(!ids.contains(&h.outside.id.as_str()));
    let s = &report.summary;
    assert_eq!(
        (s.counts.decisions, s.counts.denied),
        (4, 2),
        "{:#?}",
        s.counts
    );
    assert_eq!(s.counts.allowed + s.counts.warned, 2);
    let prod = &s.per_environment["production"];
    assert_eq!((prod.decisions, prod.denied), (3, 1));
    let dev = &s.per_environment["dev"];
    assert_eq!(
        (dev.decisions, dev.denied, dev.allowed, dev.warned),
        (1, 1, 0, 0)
    );
    assert_eq!(s.per_environment.len(), 2);
    let outcome_of = |d: &Decision| {
        report
            .decisions
            .iter()
            .find(|e| e.id == d.id)
            .map(|e| e.outcome)
            .unwrap()
    };
    assert_eq!(outcome_of(&h.denied_prod), Outcome::Deny);
    assert_eq!(outcome_of(&h.denied_dev), Outcome::Deny);
    // Every day of the range is listed; the counts per day add up.
    assert_eq!(
        report.days.first().unwrap().day,
        h.from.format("%Y-%m-%d").to_string()
    );
    let per_day: u64 = report
        .days
        .iter()
        .map(|d| d.allowed + d.warned + d.denied)
        .sum();
    assert_eq!(per_day, 4);
    assert_eq!(report.days[0].denied, 1);

    // Proof points: each decision's chain position and evidence digests.
    let first = &report.decisions[0];
    assert_eq!(first.chain_seq, h.denied_prod.chain.as_ref().unwrap().seq);
    assert_eq!(first.chain_hash, h.denied_prod.chain.as_ref().unwrap().hash);
    assert_eq!(first.evidence, h.denied_prod.evidence);
    assert!(
        first
            .violations
            .iter()
            .any(|v| v.rule == "PCL-VULN-001" && v.key.contains(ADVISORY))
    );
    assert_eq!(first.requester.as_deref(), Some("ci@example.com"));

    // The exception: who, why, until when, used by the one decision.
    assert_eq!(s.exceptions_used, 1);
    assert_eq!(s.exceptions_active, 1);
    assert_eq!(s.excepted_violations, 1);
    let e = report
        .exceptions
        .iter()
        .find(|e| e.id == h.exception_id)
        .unwrap();
    assert_eq!(e.approver, "dana@example.com");
    assert_eq!(e.granted_by, "ciso@example.com");
    assert!(e.reason.contains("formatMsgNoLookups"));
    assert!(e.active);
    assert_eq!(e.used_by, vec![h.excepted_prod.id.clone()]);
    assert!(
        e.expires_at
            .starts_with(&(h.to + Duration::days(29)).format("%Y-%m").to_string()[..4])
    );

    // The advisory's impact: the three decisions about the vulnerable SBOM cite it, two were
    // denied, and the artifact deployed in production holds an affected version.
    assert_eq!(s.advisories, 1);
    let a = &report.advisories[0];
    assert_eq!(a.id, ADVISORY);
    assert_eq!(
        a.decisions,
        vec![
            h.denied_prod.id.clone(),
            h.denied_dev.id.clone(),
            h.excepted_prod.id.clone()
        ]
    );
    assert_eq!(a.denied, 2);
    assert_eq!(
        a.artifacts,
        vec![format!("{VULNERABLE}@{}", digest_of(VULNERABLE))]
    );
    assert_eq!(a.deployed.len(), 1, "{:#?}", a.deployed);
    assert_eq!(a.deployed[0].environment, "production");
    assert!(a.deployed[0].purl.contains("log4j-core"));

    // Coverage: RA-5 and SI-2 were violated (Log4Shell) by the two denied decisions; the
    // exception's decision is evidence of an excepted violation, not of a violation.
    for control in ["RA-5", "SI-2", "SI-5"] {
        let c = coverage(&report, "nist-800-53", control);
        assert_eq!(c.status, Status::NotSatisfied, "{c:#?}");
        assert_eq!(
            c.violated_in,
            vec![h.denied_prod.id.clone(), h.denied_dev.id.clone()],
            "{control}"
        );
        assert_eq!(c.excepted_in, vec![h.excepted_prod.id.clone()], "{control}");
        assert_eq!(c.evaluated_in.len(), 4, "{control}");
        assert!(c.rules.contains(&"PCL-VULN-001".to_string()));
    }
    let c = coverage(&report, "hipaa", "164.308(a)(1)(ii)(B)");
    assert_eq!(c.status, Status::NotSatisfied);
    // PM-16 maps to PCL-VULN-003 alone, which is off everywhere here.
    let c = coverage(&report, "nist-800-53", "PM-16");
    assert_eq!(c.status, Status::NotAssessed, "{c:#?}");
    assert!(c.evaluated_in.is_empty());
    // CM-8 (component inventory) maps to the missing-SBOM rule alone, which is off in
    // unprotected environments: evaluated in the three production decisions (each had an
    // SBOM), not in dev; satisfied.
    let c = coverage(&report, "nist-800-53", "CM-8");
    assert_eq!(c.status, Status::Satisfied, "{c:#?}");
    assert_eq!(
        c.evaluated_in,
        vec![
            h.denied_prod.id.clone(),
            h.clean_prod.id.clone(),
            h.excepted_prod.id.clone()
        ]
    );
    assert!(c.violated_in.is_empty());
    // SI-7: no decision had verified provenance; PCL-PROV-001 only warns here, but a warned
    // violation still leaves the control not satisfied.
    let c = coverage(&report, "nist-800-53", "SI-7");
    assert_eq!(c.status, Status::NotSatisfied, "{c:#?}");
    assert_eq!(c.violated_in.len(), 4);
    assert!(c.rules.contains(&"PCL-PROV-001".to_string()));
    // Every control of the library's mappings is listed, each once.
    let library = PolicyBundle::builtin().unwrap();
    for rule in library.rules() {
        for c in &rule.meta.controls.nist_800_53 {
            coverage(&report, "nist-800-53", c);
        }
        for c in &rule.meta.controls.hipaa {
            coverage(&report, "hipaa", c);
        }
    }
    let mut keys: Vec<(String, String)> = report
        .coverage
        .iter()
        .map(|c| (c.framework.clone(), c.control.clone()))
        .collect();
    let n = keys.len();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), n, "a control is listed twice");
    assert_eq!(
        s.controls_satisfied + s.controls_not_satisfied + s.controls_not_assessed,
        n as u64
    );

    // The chain verified.
    assert!(report.chain.verified, "{:#?}", report.chain);
    let (head, head_hash) = store.head().await.unwrap().unwrap();
    assert_eq!(report.chain.entries, head as u64);
    assert_eq!(report.chain.last_hash.as_deref(), Some(head_hash.as_str()));

    // One environment: only its decisions and its exceptions.
    let dev_report = build(
        &store,
        &ReportQuery {
            env: Some("dev".into()),
            from: h.from,
            to: h.to,
        },
    )
    .await
    .unwrap();
    assert_eq!(dev_report.summary.counts.decisions, 1);
    assert_eq!(dev_report.decisions[0].id, h.denied_dev.id);
    assert!(
        dev_report.exceptions.is_empty(),
        "{:#?}",
        dev_report.exceptions
    );
    assert_eq!(dev_report.summary.exceptions_active, 0);

    // Every format renders; the JSON is the report.
    let json = render(&report, Format::Json).unwrap();
    let back: Report = serde_json::from_slice(&json).unwrap();
    assert_eq!(back, report);
    let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(v["schema"], "portcullis.report/v1");
    assert_eq!(v["summary"]["decisions"], 4);
    assert_eq!(v["summary"]["per_environment"]["production"]["denied"], 1);
    let html = String::from_utf8(render(&report, Format::Html).unwrap()).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains(&format!("id=\"d-{}\"", h.excepted_prod.id)));
    // Long names carry break points (<wbr>) after their punctuation.
    assert!(html.replace("<wbr>", "").contains("EXC-REPORT-1"));
    assert!(html.contains("<svg"));
    assert!(!html.contains("<script"));
    assert!(!html.contains("http://") || !html.contains("src=\"http"));

    // OSCAL: one finding per assessed control objective, one observation per decision, one
    // POA&M item for the active exception with its deadline.
    let docs = oscal::documents(&report);
    let ar = &docs.assessment_results["assessment-results"];
    assert_eq!(ar["metadata"]["oscal-version"], "1.1.2");
    let result = &ar["results"][0];
    assert_eq!(result["observations"].as_array().unwrap().len(), 4);
    let findings = result["findings"].as_array().unwrap();
    let assessed = report
        .coverage
        .iter()
        .filter(|c| c.status != Status::NotAssessed)
        .count();
    assert_eq!(findings.len(), assessed);
    let ra5 = findings
        .iter()
        .find(|f| f["target"]["target-id"] == "ra-5_obj")
        .unwrap();
    assert_eq!(ra5["target"]["status"]["state"], "not-satisfied");
    assert_eq!(ra5["related-observations"].as_array().unwrap().len(), 2);
    let cm8 = findings
        .iter()
        .find(|f| f["target"]["target-id"] == "cm-8_obj")
        .unwrap();
    assert_eq!(cm8["target"]["status"]["state"], "satisfied");
    assert_eq!(cm8["related-observations"].as_array().unwrap().len(), 3);
    assert!(
        !findings
            .iter()
            .any(|f| f["target"]["target-id"] == "pm-16_obj")
    );
    let obs = &result["observations"][0];
    let hrefs: Vec<&str> = obs["relevant-evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["href"].as_str().unwrap())
        .collect();
    assert_eq!(
        hrefs[0],
        format!("urn:portcullis:decision:{}", h.denied_prod.id)
    );
    assert!(
        hrefs.contains(
            &format!(
                "urn:portcullis:evidence:{}",
                h.denied_prod.evidence[0].digest
            )
            .as_str()
        )
    );
    let poam = docs
        .poam
        .as_ref()
        .expect("a POA&M: one exception is active");
    let poam = &poam["plan-of-action-and-milestones"];
    assert_eq!(poam["poam-items"].as_array().unwrap().len(), 1);
    assert_eq!(poam["risks"][0]["deadline"], e.expires_at.as_str());
    // The same store and range give the same UUIDs.
    let again = oscal::documents(
        &build(
            &store,
            &ReportQuery {
                env: None,
                from: h.from,
                to: h.to,
            },
        )
        .await
        .unwrap(),
    );
    assert_eq!(
        again.assessment_results["assessment-results"]["uuid"],
        ar["uuid"]
    );
    validate_with_trestle(&docs);

    pdf_prints_well(&report);
}

async fn bad_queries_and_tampering_are_reported(store: Store) {
    let now = Utc::now();
    let err = build(
        &store,
        &ReportQuery {
            env: None,
            from: now,
            to: now - Duration::days(1),
        },
    )
    .await
    .unwrap_err();
    assert!(matches!(err, ReportError::Query(_)), "{err}");
    assert!(err.to_string().contains("is not before"), "{err}");

    // An empty store: nothing decided, nothing assessed, the (empty) chain verifies.
    let r = build(
        &store,
        &ReportQuery {
            env: Some("production".into()),
            from: now - Duration::days(7),
            to: now,
        },
    )
    .await
    .unwrap();
    assert_eq!(r.summary.counts.decisions, 0);
    assert_eq!(r.days.len(), 8, "{:?}", r.days);
    assert!(r.coverage.iter().all(|c| c.status == Status::NotAssessed));
    assert!(oscal::documents(&r).poam.is_none());
    let html = String::from_utf8(render(&r, Format::Html).unwrap()).unwrap();
    assert!(html.contains("No decision in this range."));

    // A decision row altered behind the chain's back: the report refuses it, naming it.
    let Some(corpus) = corpus() else { return };
    let h = record_history(&store, &corpus).await;
    store
        .execute_raw(&format!(
            "UPDATE decisions SET verdict = 'allow' WHERE id = '{}'",
            h.denied_prod.id
        ))
        .await
        .unwrap();
    let err = build(
        &store,
        &ReportQuery {
            env: None,
            from: h.from,
            to: h.to,
        },
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains(&h.denied_prod.id), "{err}");
    assert!(err.to_string().contains("altered"), "{err}");
}

/// The report names what ran: the last snapshot before the range (what was running when it
/// began) and every snapshot taken in it, each artifact with the decision it ran under.
async fn snapshots_of_the_range(store: Store) {
    let pause = || tokio::time::sleep(std::time::Duration::from_millis(20));
    let before = Utc::now();
    pause().await;
    let a = ArtifactId {
        name: CLEAN.into(),
        digest: digest_of(CLEAN),
    };
    let b = ArtifactId {
        name: VULNERABLE.into(),
        digest: digest_of(VULNERABLE),
    };
    registry::record_deployment(&store, &a, "production", "cd@example.com")
        .await
        .unwrap();
    registry::record_deployment(&store, &b, "production", "cd@example.com")
        .await
        .unwrap();
    pause().await;
    let start = Utc::now();
    pause().await;
    portcullis_firewall::inventory::remove(&store, "production", VULNERABLE, "cd", None)
        .await
        .unwrap()
        .expect("it ran");
    let end = Utc::now() + Duration::minutes(1);

    let r = build(
        &store,
        &ReportQuery {
            env: None,
            from: start,
            to: end,
        },
    )
    .await
    .unwrap();
    assert_eq!(r.running.len(), 1, "{:#?}", r.running);
    let prod = &r.running[0];
    assert_eq!(prod.environment, "production");
    let at_start = prod
        .at_start
        .as_ref()
        .expect("what ran when the range began");
    let names: Vec<&str> = at_start.artifacts.iter().map(|x| x.name.as_str()).collect();
    assert_eq!(names.len(), 2, "{at_start:#?}");
    assert!(
        names.contains(&CLEAN) && names.contains(&VULNERABLE),
        "{names:?}"
    );
    assert!(
        at_start
            .artifacts
            .iter()
            .all(|x| x.verdict.is_none() && x.decision_id.is_none())
    );
    assert_eq!(prod.snapshots.len(), 1, "{:#?}", prod.snapshots);
    assert_eq!(prod.snapshots[0].cause, "deployment.removed");
    assert_eq!(prod.snapshots[0].artifacts.len(), 1);
    assert_eq!(prod.snapshots[0].artifacts[0].digest, a.digest);
    let html = String::from_utf8(render(&r, Format::Html).unwrap()).unwrap();
    assert!(html.contains("Running when the range began"), "{html}");
    let json: serde_json::Value =
        serde_json::from_slice(&render(&r, Format::Json).unwrap()).unwrap();
    assert_eq!(
        json["running"][0]["snapshots"][0]["cause"],
        "deployment.removed"
    );

    // The whole history: both deployments and the removal, oldest first; nothing before.
    let r = build(
        &store,
        &ReportQuery {
            env: Some("production".into()),
            from: before,
            to: end,
        },
    )
    .await
    .unwrap();
    let prod = &r.running[0];
    assert!(prod.at_start.is_none());
    let counts: Vec<usize> = prod.snapshots.iter().map(|s| s.artifacts.len()).collect();
    assert_eq!(counts, [1, 2, 1]);
    // Another environment ran nothing.
    let r = build(
        &store,
        &ReportQuery {
            env: Some("staging".into()),
            from: before,
            to: end,
        },
    )
    .await
    .unwrap();
    assert!(r.running.is_empty(), "{:#?}", r.running);
}

macro_rules! on_both_backends {
    ($($body:ident => $sqlite:ident, $postgres:ident;)+) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $sqlite() {
            run(Backend::Sqlite, $body).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $postgres() {
            run(Backend::Postgres, $body).await;
        }
    )+};
}

on_both_backends! {
    fixture_history_report => fixture_history_report_sqlite, fixture_history_report_postgres;
    bad_queries_and_tampering_are_reported => bad_queries_and_tampering_are_reported_sqlite, bad_queries_and_tampering_are_reported_postgres;
    snapshots_of_the_range => snapshots_of_the_range_sqlite, snapshots_of_the_range_postgres;
}

// ------------------------------------------------------------------------------------------
// compliance-trestle

/// The `trestle` program: `PORTCULLIS_TRESTLE`, the venv scripts/test installs it in
/// (`${PORTCULLIS_VENV_OSCAL:-$HOME/.cache/portcullis/venv-oscal}`), or `trestle` on PATH.
fn trestle() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("PORTCULLIS_TRESTLE") {
        return Some(PathBuf::from(p));
    }
    let venv = std::env::var_os("PORTCULLIS_VENV_OSCAL")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/portcullis/venv-oscal"))
        });
    if let Some(bin) = venv.map(|v| v.join("bin/trestle")).filter(|p| p.is_file()) {
        return Some(bin);
    }
    Command::new("trestle")
        .arg("version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|_| PathBuf::from("trestle"))
}

/// `trestle validate -f FILE` on `doc` (written as `model/name/model.json` in a fresh
/// `trestle init` workspace): Ok, or trestle's complaint.
fn trestle_validate(trestle: &Path, model: &str, doc: &serde_json::Value) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    let init = Command::new(trestle)
        .arg("init")
        .current_dir(dir.path())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", trestle.display()));
    assert!(
        init.status.success(),
        "trestle init failed: {}",
        String::from_utf8_lossy(&init.stderr)
    );
    let folder = dir.path().join(model).join("report");
    std::fs::create_dir_all(&folder).unwrap();
    let file = folder.join(format!("{model}.json"));
    std::fs::write(&file, serde_json::to_vec_pretty(doc).unwrap()).unwrap();
    let out = Command::new(trestle)
        .arg("validate")
        .arg("-f")
        .arg(&file)
        .current_dir(dir.path())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() && text.contains("VALID") && !text.contains("INVALID") {
        Ok(())
    } else {
        Err(text)
    }
}

fn validate_with_trestle(docs: &oscal::OscalDocuments) {
    let Some(trestle) = trestle() else {
        skip_or_fail!(
            "OSCAL validation",
            "compliance-trestle not found; run ./scripts/test (it installs it in $HOME/.cache/portcullis/venv-oscal), or set PORTCULLIS_TRESTLE"
        );
    };
    trestle_validate(&trestle, "assessment-results", &docs.assessment_results)
        .unwrap_or_else(|e| panic!("trestle refuses the assessment results:\n{e}"));
    let poam = docs.poam.as_ref().unwrap();
    trestle_validate(&trestle, "plan-of-action-and-milestones", poam)
        .unwrap_or_else(|e| panic!("trestle refuses the POA&M:\n{e}"));

    // And trestle does refuse what is not OSCAL: a bad finding state, a bad UUID, a deadline
    // that is not a date-time.
    let mut bad = docs.assessment_results.clone();
    bad["assessment-results"]["results"][0]["findings"][0]["target"]["status"]["state"] =
        "mostly-fine".into();
    assert!(trestle_validate(&trestle, "assessment-results", &bad).is_err());
    let mut bad = docs.assessment_results.clone();
    bad["assessment-results"]["results"][0]["observations"][0]["uuid"] = "decision-1".into();
    assert!(trestle_validate(&trestle, "assessment-results", &bad).is_err());
    let mut bad = poam.clone();
    bad["plan-of-action-and-milestones"]["risks"][0]["deadline"] = "when it is fixed".into();
    assert!(trestle_validate(&trestle, "plan-of-action-and-milestones", &bad).is_err());
}

// ------------------------------------------------------------------------------------------
// PDF

/// The fixture history's report printed on A4 and on Letter: header words whole, no column
/// narrower than its longest word, the running header and "Page N of M" on every page (see
/// tests/support/print.rs); and summary only, shorter, without the decisions' rows.
fn pdf_prints_well(report: &Report) {
    let Some((pages, size, text)) =
        print::print_and_check("fixture-history-a4", report, &Options::default())
    else {
        return;
    };
    assert!(size.contains("(A4)"), "{size}");
    assert!(
        pages >= 2,
        "summary first, decisions on a page of their own: {pages}"
    );
    // The decisions' rows, with their failed rules told apart.
    for d in &report.decisions {
        assert!(text.contains(&d.decided_at[..10]), "{}", d.decided_at);
    }
    assert!(text.contains("violations:") && text.contains("warnings:"));
    let letter = Options {
        paper: Paper::Letter,
        summary_only: false,
    };
    let (_, size, _) = print::print_and_check("fixture-history-letter", report, &letter).unwrap();
    assert!(size.contains("(letter)"), "{size}");
    let summary = Options {
        paper: Paper::A4,
        summary_only: true,
    };
    let (short, _, text) =
        print::print_and_check("fixture-history-summary", report, &summary).unwrap();
    assert!(short <= pages, "{short} > {pages}");
    assert!(text.contains("summary-only report"), "{text}");
    assert!(
        !text.contains("violations:"),
        "no decision rows in a summary"
    );
}
