//! Kubernetes manifests in a decision: the library's Kubernetes rules on the pod spec and
//! Gatekeeper constraints on every object they match, in `Firewall::decide`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use portcullis_firewall::*;
use portcullis_policy::PolicyBundle;
use portcullis_policy::gatekeeper::Gatekeeper;

pub const TEMPLATE: &str = r#"apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata: {name: k8sdisallowedhostnetwork}
spec:
  crd: {spec: {names: {kind: K8sNoHostNetwork}}}
  targets:
  - target: admission.k8s.gatekeeper.sh
    rego: |
      package k8snohostnetwork
      violation[{"msg": msg}] {
        input.review.object.spec.hostNetwork
        msg := sprintf("%v uses the host network", [input.review.object.metadata.name])
      }
"#;

fn constraint(name: &str, action: &str) -> String {
    format!(
        "apiVersion: constraints.gatekeeper.sh/v1beta1\nkind: K8sNoHostNetwork\nmetadata: {{name: {name}}}\nspec:\n  enforcementAction: {action}\n  match:\n    kinds: [{{apiGroups: [\"\"], kinds: [\"Pod\"]}}]\n"
    )
}

const PODS: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: agent, namespace: ops}\nspec:\n  hostNetwork: true\n  securityContext: {runAsNonRoot: true}\n  containers:\n  - {name: a, image: 'agent:1.0', securityContext: {privileged: true}}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: ops}\nspec:\n  securityContext: {runAsNonRoot: true}\n  containers:\n  - {name: w, image: 'web:1.0'}\n";

fn firewall(constraints: &str) -> Firewall {
    let gk = Gatekeeper::from_sources(vec![
        ("template.yaml".into(), TEMPLATE.into()),
        ("constraints.yaml".into(), constraints.into()),
    ])
    .unwrap();
    Firewall::new(PolicyBundle::builtin().unwrap(), Config::default())
        .unwrap()
        .with_gatekeeper(gk)
}

fn request() -> DecisionRequest {
    let artifact = ArtifactId::parse(
        "shop/agent@sha256:0000000000000000000000000000000000000000000000000000000000000001",
    )
    .unwrap();
    let mut req = DecisionRequest::new(artifact, "production");
    req.manifests = parse_manifests("pods.yaml", PODS).unwrap();
    req
}

#[test]
fn deny_constraint_and_library_rules_fire_on_the_manifest() {
    let fw = firewall(&constraint("no-host-network", "deny"));
    let d = fw.decide(&request());
    assert!(!d.allowed());
    assert!(d.errors.is_empty(), "{:?}", d.errors);
    let gk: Vec<&Violation> = d
        .violations
        .iter()
        .filter(|v| v.rule == "GK.K8sNoHostNetwork.no-host-network")
        .collect();
    assert_eq!(gk.len(), 1, "{:#?}", d.violations);
    assert_eq!(gk[0].key, "k8s|ops/Pod/agent");
    assert_eq!(
        gk[0].message,
        "ops/Pod/agent (pods.yaml#1): agent uses the host network"
    );
    assert_eq!(gk[0].evidence_refs[0].kind, "manifest");
    let privileged = d
        .violations
        .iter()
        .find(|v| v.rule == "PCL-K8S-001")
        .unwrap();
    assert_eq!(privileged.key, "k8s|ops/Pod/agent|a");
    assert!(
        d.violations
            .iter()
            .any(|v| v.rule == "PCL-K8S-002" && v.key == "k8s|ops/Pod/agent|hostNetwork")
    );
    // The clean pod is never named.
    assert!(
        d.violations.iter().all(|v| !v.key.contains("web")),
        "{:#?}",
        d.violations
    );
    assert!(
        d.gatekeeper_digest
            .as_deref()
            .is_some_and(|g| g.starts_with("sha256:"))
    );
}

#[test]
fn warn_and_dryrun_constraints_do_not_block() {
    let both = format!(
        "{}---\n{}",
        constraint("warn-host-network", "warn"),
        constraint("dry-host-network", "dryrun")
    );
    let fw = firewall(&both);
    let mut req = request();
    req.manifests.retain(|m| m.name() == "agent");
    // Only the Gatekeeper constraints decide: the privileged container is dropped.
    req.manifests[0].object["spec"]["containers"][0]["securityContext"] = serde_json::json!({});
    let d = fw.decide(&req);
    let ids: Vec<(&str, &str)> = d
        .warnings
        .iter()
        .map(|v| (v.rule.as_str(), v.action.as_str()))
        .collect();
    assert!(
        ids.contains(&("GK.K8sNoHostNetwork.warn-host-network", "warn")),
        "{ids:?}"
    );
    assert!(
        ids.contains(&("GK.K8sNoHostNetwork.dry-host-network", "dryrun")),
        "{ids:?}"
    );
    assert!(
        d.violations.iter().all(|v| !v.rule.starts_with("GK.")),
        "{:#?}",
        d.violations
    );
}

#[test]
fn a_constraint_that_cannot_be_evaluated_fails_closed() {
    let broken = TEMPLATE.replace(
        "input.review.object.spec.hostNetwork",
        "no_such_builtin(input.review.object.spec.hostNetwork)",
    );
    let gk = Gatekeeper::from_sources(vec![
        ("template.yaml".into(), broken),
        ("c.yaml".into(), constraint("no-host-network", "deny")),
    ])
    .unwrap();
    let fw = Firewall::new(PolicyBundle::builtin().unwrap(), Config::default())
        .unwrap()
        .with_gatekeeper(gk);
    let d = fw.decide(&request());
    assert!(!d.allowed());
    assert!(
        d.errors.iter().any(|e| e.contains("no_such_builtin")),
        "{:?}",
        d.errors
    );
    assert!(d.violations.iter().any(|v| {
        v.rule == engine_rules::RULE_ERROR
            && v.key
                .starts_with("GK.K8sNoHostNetwork.no-host-network|k8s|ops/Pod/")
    }));
}

#[test]
fn an_exception_covers_a_gatekeeper_violation() {
    let e: Vec<Exception> = yaml_serde::from_str(
        "- rule: GK.K8sNoHostNetwork.no-host-network\n  key: k8s|ops/Pod/agent\n  artifact: '*'\n  environments: ['*']\n  expires: 2999-01-01\n  reason: node agent\n  approver: dana\n",
    )
    .unwrap();
    let fw = firewall(&constraint("no-host-network", "deny")).with_exceptions(
        e.into_iter()
            .map(|e| CompiledException::compile(e).unwrap())
            .collect(),
    );
    let d = fw.decide(&request());
    assert!(
        d.excepted
            .iter()
            .any(|x| x.violation.rule == "GK.K8sNoHostNetwork.no-host-network"),
        "{:#?}",
        d.excepted
    );
}

#[test]
fn admission_review_object_is_reviewed() {
    let fw = firewall(&constraint("no-host-network", "deny"));
    let review = serde_json::json!({"request": {"uid": "42", "operation": "CREATE",
        "namespace": "ops", "object": {"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "agent"}, "spec": {"hostNetwork": true, "containers": []}}}});
    let mut req = request();
    req.manifests.clear();
    let req = req.with_admission_review(&review).unwrap();
    assert_eq!(req.manifests.len(), 1);
    let d = fw.decide(&req);
    assert!(
        d.violations
            .iter()
            .any(|v| v.rule == "GK.K8sNoHostNetwork.no-host-network"
                && v.key == "k8s|ops/Pod/agent"
                && v.evidence_refs[0].id == "admission:42")
    );
}
