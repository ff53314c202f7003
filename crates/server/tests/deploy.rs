//! The manifests in deploy/ say what the issue asks of them and what the server accepts: two
//! replicas; a ValidatingWebhookConfiguration with a failure policy, a timeout and a namespace
//! selector that leaves out kube-system and the server's own namespace; settings and policy
//! configuration the server parses; only flags `portcullis serve` has. (Their schemas are
//! checked by scripts/validate-manifests with kubernetes-validate.)

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::repo;
use serde_json::Value;

fn docs(file: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(repo().join("deploy").join(file)).unwrap();
    text.split("\n---")
        .filter(|d| {
            d.lines()
                .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        })
        .map(|d| yaml_serde::from_str::<Value>(d).unwrap_or_else(|e| panic!("{file}: {e}")))
        .collect()
}

#[test]
fn deployment_runs_two_replicas_with_flags_the_server_has() {
    let d = &docs("deployment.yaml")[0];
    assert_eq!(d["kind"], "Deployment");
    assert_eq!(d["spec"]["replicas"], 2);
    let c = &d["spec"]["template"]["spec"]["containers"][0];
    let args: Vec<&str> = c["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(args[0], "serve");
    // Flags the server has: crates/cli/tests/deploy_flags.rs runs the binary with these args.
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/healthz");
}

#[test]
fn webhook_fails_closed_with_a_timeout_outside_system_namespaces() {
    let w = &docs("webhook.yaml")[0];
    assert_eq!(w["kind"], "ValidatingWebhookConfiguration");
    let hook = &w["webhooks"][0];
    assert_eq!(hook["failurePolicy"], "Fail");
    assert!(hook["timeoutSeconds"].as_u64().unwrap() <= 10);
    assert_eq!(hook["clientConfig"]["service"]["path"], "/v1/admission");
    let exprs = hook["namespaceSelector"]["matchExpressions"]
        .as_array()
        .unwrap();
    let excluded: Vec<&str> = exprs
        .iter()
        .filter(|e| e["key"] == "kubernetes.io/metadata.name" && e["operator"] == "NotIn")
        .flat_map(|e| {
            e["values"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap())
        })
        .collect();
    assert!(
        excluded.contains(&"kube-system") && excluded.contains(&"portcullis"),
        "{excluded:?}"
    );
    let kinds: Vec<&str> = hook["rules"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| {
            r["resources"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap())
        })
        .collect();
    for k in [
        "pods",
        "deployments",
        "statefulsets",
        "daemonsets",
        "replicasets",
        "jobs",
        "cronjobs",
        "pods/ephemeralcontainers",
    ] {
        assert!(kinds.contains(&k), "{k} not reviewed: {kinds:?}");
    }
}

#[test]
fn configmaps_hold_settings_the_server_parses() {
    let maps = docs("configmap.yaml");
    let server = maps
        .iter()
        .find_map(|m| m["data"]["server.yaml"].as_str())
        .expect("server.yaml");
    let settings =
        portcullis_server::ServerSettings::parse(server, "deploy/configmap.yaml").unwrap();
    assert!(!settings.admission.anonymous);
    assert!(settings.admission.target("not-listed").protected);
    assert_eq!(
        settings.admission.target("shop-prod").environment,
        "production"
    );
    let config = maps
        .iter()
        .find_map(|m| m["data"]["portcullis.yaml"].as_str())
        .expect("portcullis.yaml");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("portcullis.yaml");
    std::fs::write(&path, config).unwrap();
    let config = portcullis_firewall::Config::load(&path).unwrap();
    let bundle = portcullis_policy::PolicyBundle::load(&[]).unwrap();
    portcullis_firewall::Firewall::new(bundle, config).expect("the library accepts it");
}

fn shipped_settings() -> portcullis_server::ServerSettings {
    let maps = docs("configmap.yaml");
    let server = maps
        .iter()
        .find_map(|m| m["data"]["server.yaml"].as_str())
        .expect("server.yaml");
    portcullis_server::ServerSettings::parse(server, "deploy/configmap.yaml").unwrap()
}

/// The admission call an attacker who reaches the port makes, without a token, against the
/// settings deploy/ ships: refused (401), while the same call with a ci token is answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shipped_configuration_refuses_unauthenticated_admission() {
    let dir = tempfile::tempdir().unwrap();
    let opts = common::Options {
        settings: shipped_settings(),
        ..Default::default()
    };
    let s =
        common::TestServer::start(portcullis_store::StoreConfig::in_home(dir.path()), opts).await;
    let review = serde_json::json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "0b8c6a8e-1111-4c1a-9f1e-000000000001",
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "namespace": "shop-prod",
            "operation": "CREATE",
            "userInfo": {"username": "mallory"},
            "object": {"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": "p", "namespace": "shop-prod"},
                "spec": {"containers": [{"name": "app", "image": "evil/app:latest"}]}},
            "dryRun": false
        }
    });
    let anonymous = s
        .client
        .post(format!("{}/v1/admission", s.base))
        .json(&review)
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);
    let (status, answered) = s
        .post(portcullis_server::auth::Role::Ci, "/v1/admission", &review)
        .await;
    assert_eq!(status, 200, "{answered}");
    assert_eq!(answered["response"]["allowed"], false, "{answered}");
    s.stop().await;
}

/// `admission.anonymous: true` without mutual TLS: the server does not start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_admission_needs_mutual_tls() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = shipped_settings();
    settings.admission.anonymous = true;
    let store = portcullis_store::Store::open(&portcullis_store::StoreConfig::in_home(dir.path()))
        .await
        .unwrap();
    let state = portcullis_server::AppState::new(
        store,
        common::firewall(&common::Options::default()),
        Default::default(),
        settings,
        portcullis_evidence::Limits::default(),
    )
    .await
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let err = portcullis_server::serve(state, listener, None, std::future::pending())
        .await
        .expect_err("anonymous admission without mTLS must not be served");
    assert!(err.to_string().contains("mutual TLS"), "{err}");
}

#[test]
fn the_deployment_runs_the_image_this_repository_builds_pinned_by_digest() {
    let d = &docs("deployment.yaml")[0];
    let pod = &d["spec"]["template"]["spec"];
    let image = pod["containers"][0]["image"].as_str().unwrap();
    // `scripts/image --pin-deploy` writes it: name:version@sha256:<64 hex>.
    let (name_tag, digest) = image
        .split_once('@')
        .unwrap_or_else(|| panic!("deploy/deployment.yaml runs {image}, not pinned by digest"));
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(name_tag, format!("ghcr.io/portcullis/portcullis:{version}"));
    let hex = digest.strip_prefix("sha256:").unwrap();
    assert!(
        hex.len() == 64
            && hex
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()),
        "{digest}"
    );
    // The image's user (scripts/image: nonroot, 65532) is the one the pod runs as.
    assert_eq!(pod["securityContext"]["runAsUser"], 65532);
    // The packages it was built from are pinned, each by version and SHA-256.
    let lock = std::fs::read_to_string(repo().join("deploy/image/packages.lock")).unwrap();
    let names: Vec<&str> = lock
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let fields: Vec<&str> = l.split_whitespace().collect();
            assert_eq!(fields.len(), 4, "packages.lock: {l}");
            assert_eq!(fields[3].len(), 64, "packages.lock: {l}");
            fields[0]
        })
        .collect();
    assert_eq!(
        names,
        ["base-files", "ca-certificates", "libc6", "libgcc-s1"]
    );
}
