//! The admission webhook deciding from registries (`admission.decide_from_registry`), against a
//! real OCI registry on 127.0.0.1 (`portcullis_testkit::registry::TestRegistry`: Distribution
//! with TLS and basic auth, content pushed by skopeo and the ORAS SDK): an image with a
//! vulnerable SBOM is denied and its decision recorded; a clean image with signed provenance is
//! admitted; a registry that is down or silent fails closed (or, where the namespace fails
//! open, admits that image alone) naming the image, the registry and what failed; with the
//! setting off nothing changes; the decision per digest is kept in memory (a second review
//! reaches neither the registry nor a new decision) until an advisory changes the state in
//! force.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "support/admission.rs"]
mod support;

use std::io::Read as _;
use std::time::Duration;

use portcullis_firewall::DecisionService;
use portcullis_firewall::registry::AdvisoryDoc;
use portcullis_firewall::service::Admission;
use portcullis_store::DecisionRow;
use support::*;

/// The decisions recorded for `image` in production, newest first.
async fn decisions(service: &DecisionService, image: &str) -> Vec<DecisionRow> {
    service
        .store()
        .decisions_of_digest(&digest(image), 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|d| d.environment == ENV)
        .collect()
}

fn message(a: &Admission) -> &str {
    a.message.as_deref().unwrap_or_default()
}

/// Requests the registry has answered so far (Distribution logs one line per response).
fn served(h: &Harness) -> usize {
    h.registry.log().matches("response completed").count()
}

async fn add_advisory(service: &DecisionService, id: &str, package: &str, fixed: &str) {
    let doc = AdvisoryDoc::osv(id, osv(id, package, fixed), &service.limits()).unwrap();
    service.add_advisories(vec![doc], &admin()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn images_are_decided_from_their_registry_evidence_and_recorded() {
    let Some(h) = Harness::start("images_are_decided_from_their_registry_evidence_and_recorded")
    else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let service = service(store(home.path()).await, &h.setup(), admission(8_000)).await;
    add_advisory(&service, "PCL-TEST-0001", "left-pad", "1.3.0").await;

    let vulnerable = h.push("shop/cart", "cart-1", &[("left-pad", "1.0.0")]);
    let clean = h.push("shop/api", "api-1", &[("left-pad", "1.3.0")]);

    // A dry run answers the same and writes nothing (`sideEffects: NoneOnDryRun`): the
    // decision it needs is a what-if evaluation, neither recorded nor kept.
    let head = service.store().head().await.unwrap().unwrap().0;
    let mut dry = pod_review(DECIDING, "api", &[&clean]);
    dry.dry_run = true;
    for _ in 0..2 {
        let a = service.admit(&dry, &apiserver()).await.unwrap();
        assert!(a.allowed, "{a:?}");
    }
    let mut dry_cart = pod_review(DECIDING, "cart", &[&vulnerable]);
    dry_cart.dry_run = true;
    let a = service.admit(&dry_cart, &apiserver()).await.unwrap();
    assert!(!a.allowed, "{a:?}");
    assert!(
        message(&a).contains("evaluated for this dry run and not recorded"),
        "{a:?}"
    );
    assert_eq!(service.store().head().await.unwrap().unwrap().0, head);
    assert!(decisions(&service, &clean).await.is_empty());

    // (b) A clean image with signed provenance: admitted, on a decision made now.
    let a = service
        .admit(&pod_review(DECIDING, "api", &[&clean]), &apiserver())
        .await
        .unwrap();
    assert!(a.allowed, "{a:?}");
    let recorded = decisions(&service, &clean).await;
    assert_eq!(recorded.len(), 1, "{recorded:?}");
    assert_eq!(recorded[0].verdict, "allow");
    assert_eq!(
        recorded[0].artifact_name,
        format!("{}/shop/api", h.registry.host())
    );
    let (_, decision) = service.decision(&recorded[0].id).await.unwrap();
    let pulled = decision
        .image
        .as_ref()
        .expect("the image pull is on the decision");
    assert_eq!(pulled.reference, clean);
    // What the registry holds, each with where it came from.
    let from_registry: Vec<&str> = decision
        .evidence
        .iter()
        .filter(|e| e.origin.is_some())
        .map(|e| e.kind.as_str())
        .collect();
    assert_eq!(
        from_registry,
        ["sbom", "attestation"],
        "{:?}",
        decision.evidence
    );
    assert!(
        decision
            .attestations
            .iter()
            .any(|a| a.verified && a.predicate_type.contains("slsa.dev/provenance")),
        "{:?}",
        decision.attestations
    );
    // Made by the webhook on behalf of whoever sent the review.
    let requester = decision
        .facts
        .iter()
        .find(|f| f.fact == "requester")
        .map(|f| f.value.clone())
        .unwrap_or_default();
    assert!(
        requester.contains("admission-webhook (token:tok_kube_apiserver)"),
        "{:?}",
        decision.facts
    );

    // (a) A pod with the vulnerable image twice (two containers share it) and the
    // clean one: denied for the vulnerable image alone, its decision recorded once.
    let mut review = pod_review(DECIDING, "cart", &[&vulnerable, &clean, &vulnerable]);
    review.uid = "uid-cart".into();
    let a = service.admit(&review, &apiserver()).await.unwrap();
    assert!(!a.allowed, "{a:?}");
    let msg = message(&a);
    assert!(
        msg.starts_with("portcullis denied Pod shop-prod/cart in environment production:"),
        "{msg}"
    );
    let lines: Vec<&str> = msg.lines().skip(1).collect();
    assert_eq!(lines.len(), 2, "{msg}");
    for line in &lines {
        assert!(line.starts_with("- PCL-ADM-003 "), "{msg}");
        assert!(line.contains(&digest(&vulnerable)), "{msg}");
        assert!(line.contains("rules violated: PCL-VULN-001"), "{msg}");
    }
    let recorded = decisions(&service, &vulnerable).await;
    assert_eq!(recorded.len(), 1, "one digest, one decision: {recorded:?}");
    assert_eq!(recorded[0].verdict, "deny");
    assert!(msg.contains(&recorded[0].id), "{msg}");
    assert_eq!(
        decisions(&service, &clean).await.len(),
        1,
        "the clean image's decision is reused"
    );
    let (_, decision) = service.decision(&recorded[0].id).await.unwrap();
    assert!(
        decision
            .violations
            .iter()
            .any(|v| v.rule == "PCL-VULN-001" && v.message.contains("PCL-TEST-0001")),
        "{:?}",
        decision.violations
    );
    // The denial is on the audit trail, as every denied review is.
    let head = service.store().head().await.unwrap().unwrap().0;
    let entry = service.store().entry(head as u64).await.unwrap().unwrap();
    assert_eq!(entry.kind, "admission.reviewed");
    assert!(entry.body.contains("uid-cart"), "{}", entry.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registry_that_is_down_fails_closed_naming_the_image_and_the_registry() {
    let Some(mut h) =
        Harness::start("a_registry_that_is_down_fails_closed_naming_the_image_and_the_registry")
    else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let service = service(store(home.path()).await, &h.setup(), admission(8_000)).await;
    add_advisory(&service, "PCL-TEST-0002", "left-pad", "1.3.0").await;
    let vulnerable = h.push("shop/cart", "cart-2", &[("left-pad", "1.0.0")]);
    let unseen = h.push("shop/api", "api-2", &[("left-pad", "1.3.0")]);
    // The vulnerable image is decided (denied) while the registry is up.
    let a = service
        .admit(&pod_review(LENIENT, "cart", &[&vulnerable]), &apiserver())
        .await
        .unwrap();
    assert!(!a.allowed, "{a:?}");

    h.registry.stop();
    let host = h.registry.host();
    let a = service
        .admit(&pod_review(DECIDING, "api", &[&unseen]), &apiserver())
        .await
        .unwrap();
    assert!(!a.allowed, "{a:?}");
    let msg = message(&a);
    assert!(msg.contains("- PCL-ADM-004 "), "{msg}");
    assert!(msg.contains(&format!("image {unseen}")), "{msg}");
    assert!(msg.contains(&format!("registry {host}")), "{msg}");
    assert!(msg.contains("[registry-unreachable]"), "{msg}");
    assert!(msg.ends_with("(failing closed)"), "{msg}");
    assert!(
        decisions(&service, &unseen).await.is_empty(),
        "no decision without evidence"
    );

    // Failing open admits the image that could not be decided, and nothing else: the
    // vulnerable image's recorded denial still denies the pod.
    let a = service
        .admit(
            &pod_review(LENIENT, "both", &[&unseen, &vulnerable]),
            &apiserver(),
        )
        .await
        .unwrap();
    assert!(!a.allowed, "{a:?}");
    let msg = message(&a);
    assert!(msg.contains("PCL-ADM-003"), "{msg}");
    assert!(!msg.contains("PCL-ADM-004"), "{msg}");
    assert!(
        a.warnings.iter().any(|w| w.starts_with("PCL-ADM-004 ")
            && w.contains(&format!("image {unseen}"))
            && w.ends_with("(failing open: admitted)")),
        "{a:?}"
    );
    let a = service
        .admit(&pod_review(LENIENT, "api", &[&unseen]), &apiserver())
        .await
        .unwrap();
    assert!(a.allowed, "{a:?}");
    assert_eq!(a.warnings.len(), 1, "{a:?}");
}

/// A registry that takes connections and never answers: the review ends at its budget.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_registry_fails_closed_at_the_budget() {
    let Some(h) = Harness::start("a_silent_registry_fails_closed_at_the_budget") else {
        return;
    };
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        // Hold every connection open, reading and never writing, until the test ends.
        let mut held = Vec::new();
        for conn in listener.incoming().take(16) {
            let Ok(mut c) = conn else { break };
            let _ = c.set_read_timeout(Some(Duration::from_secs(30)));
            let mut buf = [0u8; 1024];
            let _ = c.read(&mut buf);
            held.push(c);
        }
    });
    let home = tempfile::tempdir().unwrap();
    let service = service(store(home.path()).await, &h.setup(), admission(400)).await;
    let image = format!("127.0.0.1:{port}/shop/api@sha256:{}", "ab".repeat(32));
    let started = std::time::Instant::now();
    let a = service
        .admit(&pod_review(DECIDING, "api", &[&image]), &apiserver())
        .await
        .unwrap();
    let took = started.elapsed();
    assert!(!a.allowed, "{a:?}");
    let msg = message(&a);
    assert!(
        msg.contains(&format!(
            "image {image}: registry 127.0.0.1:{port} did not answer within the admission budget of 400 ms"
        )) && msg.contains("[registry-timeout]")
            && msg.ends_with("(failing closed)"),
        "{msg}"
    );
    assert!(took < Duration::from_secs(3), "{took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_setting_off_an_image_without_a_decision_is_denied_as_before() {
    let Some(h) =
        Harness::start("with_the_setting_off_an_image_without_a_decision_is_denied_as_before")
    else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let service = service(store(home.path()).await, &h.setup(), admission(8_000)).await;
    let clean = h.push("shop/api", "api-3", &[("left-pad", "1.3.0")]);
    let before = served(&h);
    let a = service
        .admit(&pod_review(RECORDED_ONLY, "api", &[&clean]), &apiserver())
        .await
        .unwrap();
    assert!(!a.allowed, "{a:?}");
    let msg = message(&a);
    assert!(msg.contains("- PCL-ADM-002 "), "{msg}");
    assert!(msg.contains("no decision is recorded for"), "{msg}");
    assert!(decisions(&service, &clean).await.is_empty());
    assert_eq!(served(&h), before, "the registry was not asked");
    // The default settings leave it off too.
    assert!(!portcullis_firewall::admission::AdmissionConfig::default().decide_from_registry);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_decision_is_kept_per_digest_until_an_advisory_changes_the_state() {
    let Some(mut h) =
        Harness::start("the_decision_is_kept_per_digest_until_an_advisory_changes_the_state")
    else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let service = service(store(home.path()).await, &h.setup(), admission(8_000)).await;
    let image = h.push("shop/api", "api-4", &[("is-even", "1.0.0")]);
    let review = pod_review(DECIDING, "api", &[&image]);

    let first = service.admit(&review, &apiserver()).await.unwrap();
    assert!(first.allowed, "{first:?}");
    assert_eq!(decisions(&service, &image).await.len(), 1);
    // Warm: the same answer, with neither the registry nor a new decision.
    let asked = served(&h);
    let second = service.admit(&review, &apiserver()).await.unwrap();
    assert_eq!(second, first);
    assert_eq!(served(&h), asked, "the registry was asked again");
    assert_eq!(decisions(&service, &image).await.len(), 1);

    // An advisory against its component: what was kept is dropped, and the image is decided
    // again from its registry under the new state.
    add_advisory(&service, "PCL-TEST-0004", "is-even", "2.0.0").await;
    let third = service.admit(&review, &apiserver()).await.unwrap();
    assert!(!third.allowed, "{third:?}");
    assert!(served(&h) > asked, "decided again from the registry");
    let recorded = decisions(&service, &image).await;
    assert_eq!(recorded.len(), 2, "{recorded:?}");
    assert_eq!(recorded[0].verdict, "deny");
    let msg = message(&third);
    assert!(
        msg.contains(&recorded[0].id) && msg.contains("PCL-VULN-001"),
        "{msg}"
    );

    // With the registry gone, the kept decision still answers, the same.
    h.registry.stop();
    let fourth = service.admit(&review, &apiserver()).await.unwrap();
    assert_eq!(fourth, third);
    assert_eq!(decisions(&service, &image).await.len(), 2);

    // A decision recorded through the service (a gate, here with no evidence: denied) replaces
    // the kept one at once.
    let gate = portcullis_firewall::service::Ask {
        request: portcullis_firewall::DecisionRequest::new(
            portcullis_firewall::ArtifactId {
                name: format!("{}/shop/api", h.registry.host()),
                digest: digest(&image),
            },
            ENV,
        ),
        documents: Default::default(),
        actor: portcullis_firewall::Actor::new("token:tok_ci", portcullis_firewall::Role::Ci),
        override_reason: None,
        image: None,
    };
    let gated = service.decide(gate).await.unwrap();
    let fifth = service.admit(&review, &apiserver()).await.unwrap();
    assert!(!fifth.allowed);
    assert!(message(&fifth).contains(&gated.decision.id), "{fifth:?}");
}
