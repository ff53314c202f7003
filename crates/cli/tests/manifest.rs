//! `portcullis gate --manifest FILE --gatekeeper DIR`: a pre-deploy check of Kubernetes
//! manifests in CI, with a real gatekeeper-library template and constraint.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::path::{Path, PathBuf};

use common::*;

/// The corpus's privileged-containers template and constraint (the directory also holds
/// sample Pods and AdmissionReviews: `--gatekeeper` keeps only templates and constraints).
fn privileged_containers() -> Option<PathBuf> {
    let template = portcullis_testkit::corpus(
        "Gatekeeper corpus",
        "gatekeeper-library/library/pod-security-policy/privileged-containers/template.yaml",
    )?;
    template.parent().map(Path::to_path_buf)
}

const PRIVILEGED: &str = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: agent\n  namespace: ops\nspec:\n  securityContext:\n    runAsNonRoot: true\n  containers:\n  - name: agent\n    image: registry.example.com/agent:1.0@sha256:0000000000000000000000000000000000000000000000000000000000000001\n    securityContext:\n      privileged: true\n";

const CLEAN: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: shop\nspec:\n  template:\n    spec:\n      securityContext:\n        runAsNonRoot: true\n      containers:\n      - name: web\n        image: registry.example.com/web:2.0@sha256:0000000000000000000000000000000000000000000000000000000000000002\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  namespace: shop\nspec:\n  ports: [{port: 80}]\n";

const K8S_RULES: [&str; 4] = ["PCL-K8S-001", "PCL-K8S-002", "PCL-K8S-003", "PCL-K8S-004"];

fn gate(dir: &Path, gatekeeper: &Path, manifest: &str) -> std::process::Output {
    let config = config_only(dir, &K8S_RULES);
    let path = dir.join("manifest.yaml");
    std::fs::write(&path, manifest).unwrap();
    portcullis_in(
        dir,
        &[
            "gate".as_ref(),
            "--config".as_ref(),
            config.as_os_str(),
            "--env".as_ref(),
            "production".as_ref(),
            "--time".as_ref(),
            TIME.as_ref(),
            "--manifest".as_ref(),
            path.as_os_str(),
            "--gatekeeper".as_ref(),
            gatekeeper.as_os_str(),
            "--format".as_ref(),
            "json".as_ref(),
        ] as &[&std::ffi::OsStr],
    )
}

#[test]
fn privileged_pod_is_denied_by_the_library_and_by_gatekeeper() {
    let Some(gk) = privileged_containers() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let o = gate(dir.path(), &gk, PRIVILEGED);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let d: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let rules: Vec<(&str, &str)> = d["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["rule"].as_str().unwrap(), v["key"].as_str().unwrap()))
        .collect();
    assert!(
        rules.contains(&("PCL-K8S-001", "k8s|ops/Pod/agent|agent")),
        "{rules:?}"
    );
    assert!(
        rules.contains(&(
            "GK.K8sPSPPrivilegedContainer.psp-privileged-container",
            "k8s|ops/Pod/agent"
        )),
        "{rules:?}"
    );
    assert_eq!(d["artifact"]["name"], "manifests");
    assert!(
        d["gatekeeper_digest"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );
    assert!(
        stderr(&o).contains("Privileged container is not allowed"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn clean_manifests_are_allowed() {
    let Some(gk) = privileged_containers() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let o = gate(dir.path(), &gk, CLEAN);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let d: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(d["decision"], "allow");
    assert_eq!(d["violations"].as_array().unwrap().len(), 0);
}

#[test]
fn bad_manifest_yaml_is_an_error_naming_file_document_and_line() {
    let Some(gk) = privileged_containers() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let bad = format!("{CLEAN}---\napiVersion: v1\nkind: [Pod\n");
    let o = gate(dir.path(), &gk, &bad);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("manifest.yaml: document 3 at line"), "{err}");
}

#[test]
fn a_template_directory_without_templates_for_a_constraint_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let gk = dir.path().join("gk");
    std::fs::create_dir(&gk).unwrap();
    std::fs::write(
        gk.join("c.yaml"),
        "apiVersion: constraints.gatekeeper.sh/v1beta1\nkind: K8sNothing\nmetadata: {name: x}\n",
    )
    .unwrap();
    let o = gate(dir.path(), &gk, CLEAN);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("no ConstraintTemplate defines kind K8sNothing"),
        "{}",
        stderr(&o)
    );
}
