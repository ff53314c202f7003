//! The manifests in `deploy/integrations/` (Argo Rollouts, Flagger, Argo CD): each custom
//! resource validates, strictly (an unknown field is an error), against the published CRD's
//! `openAPIV3Schema` (copied into `fixtures/crds/`, see its SOURCES.md); and what each one asks
//! of the server is what the server serves: the paths and methods are in the OpenAPI document,
//! the body fields are the endpoint's, the hook types are the ones answered, and the
//! conditions read a field the endpoint answers. (What the endpoint answers is checked against
//! a real Prometheus in `integrations_rollouts.rs`; the built-in kinds are validated by
//! `scripts/validate-manifests` with kubernetes-validate.)

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{Map, Value, json};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn yaml_docs(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    yaml_serde::Deserializer::from_str(&text)
        .map(|d| Value::deserialize(d).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .filter(|v| !v.is_null())
        .collect()
}

/// Every file under deploy/integrations, with its documents.
fn manifests() -> Vec<(PathBuf, Vec<Value>)> {
    let mut out = Vec::new();
    let dir = root().join("deploy/integrations");
    let mut stack = vec![dir];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "yaml" || x == "yml") {
                let docs = yaml_docs(&p);
                out.push((p, docs));
            }
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(out.len() >= 8, "{} manifests", out.len());
    out
}

/// The CRD schema (strict) for `apiVersion`/`kind`, from the copied CRDs.
fn crd_schema(api_version: &str, kind: &str) -> Option<Value> {
    let (group, version) = api_version.split_once('/')?;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/crds");
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_none_or(|x| x != "yaml") {
            continue;
        }
        for crd in yaml_docs(&p) {
            let spec = &crd["spec"];
            if spec["group"] != group || spec["names"]["kind"] != kind {
                continue;
            }
            for v in spec["versions"].as_array().unwrap() {
                if v["name"] == version {
                    let mut s = v["schema"]["openAPIV3Schema"].clone();
                    strict(&mut s);
                    return Some(s);
                }
            }
        }
    }
    None
}

/// What the API server does with `kubectl apply --validate=strict`: an object schema with
/// `properties` and no `additionalProperties` or `x-kubernetes-preserve-unknown-fields` takes
/// no other field.
fn strict(schema: &mut Value) {
    match schema {
        Value::Object(m) => {
            let preserve = m
                .get("x-kubernetes-preserve-unknown-fields")
                .is_some_and(|v| v == true);
            if m.contains_key("properties") && !m.contains_key("additionalProperties") && !preserve
            {
                m.insert("additionalProperties".into(), Value::Bool(false));
            }
            for v in m.values_mut() {
                strict(v);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(strict),
        _ => {}
    }
}

fn is_builtin(api_version: &str) -> bool {
    !api_version.contains('/')
        || [
            "apps/",
            "batch/",
            "rbac.authorization.k8s.io/",
            "networking.k8s.io/",
            "policy/",
        ]
        .iter()
        .any(|g| api_version.starts_with(g))
}

#[test]
fn custom_resources_validate_against_the_published_crds() {
    let mut checked = 0;
    for (path, docs) in manifests() {
        for doc in docs {
            let api_version = doc["apiVersion"].as_str().unwrap();
            let kind = doc["kind"].as_str().unwrap();
            if is_builtin(api_version) {
                continue;
            }
            let schema = crd_schema(api_version, kind)
                .unwrap_or_else(|| panic!("{}: no CRD for {api_version} {kind}", path.display()));
            let validator = jsonschema::validator_for(&schema).unwrap();
            let errors: Vec<String> = validator
                .iter_errors(&doc)
                .map(|e| format!("{} at {}", e, e.instance_path()))
                .collect();
            assert!(
                errors.is_empty(),
                "{} ({kind}):\n{}",
                path.display(),
                errors.join("\n")
            );
            checked += 1;
        }
    }
    assert!(checked >= 5, "{checked} custom resources");
}

#[test]
fn the_strict_schemas_refuse_what_argo_would_not_take() {
    // The check can fail: a misspelt field and a wrong type are refused.
    let path = root().join("deploy/integrations/argo-rollouts/analysistemplate.yaml");
    let mut doc = yaml_docs(&path).remove(0);
    let schema = crd_schema("argoproj.io/v1alpha1", "AnalysisTemplate").unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    assert!(validator.is_valid(&doc));
    doc["spec"]["metrics"][0]["provider"]["web"]["jsonpath"] = json!("{$.verdict}");
    assert!(!validator.is_valid(&doc));
    let mut doc = yaml_docs(&path).remove(0);
    doc["spec"]["metrics"][0]["provider"]["web"]["timeoutSeconds"] = json!("60");
    assert!(!validator.is_valid(&doc));
    let flagger = crd_schema("flagger.app/v1beta1", "Canary").unwrap();
    let mut canary = yaml_docs(&root().join("deploy/integrations/flagger/canary.yaml")).remove(0);
    let validator = jsonschema::validator_for(&flagger).unwrap();
    assert!(validator.is_valid(&canary));
    canary["spec"]["analysis"]["webhooks"][0]["type"] = json!("confirm-rolout");
    assert!(!validator.is_valid(&canary));
}

/// The OpenAPI document's operation for `method` at `path`.
fn operation(doc: &Value, path: &str, method: &str) -> Value {
    doc["paths"][path][method.to_ascii_lowercase()].clone()
}

fn url_path(url: &str) -> String {
    let after_scheme = url.split_once("://").unwrap().1;
    let path = &after_scheme[after_scheme.find('/').unwrap()..];
    path.split('?').next().unwrap().to_string()
}

#[test]
fn the_argo_rollouts_templates_ask_what_the_endpoint_serves() {
    let openapi = serde_json::to_value(portcullis_server::routes::openapi()).unwrap();
    for file in ["analysistemplate.yaml", "clusteranalysistemplate.yaml"] {
        let path = root().join("deploy/integrations/argo-rollouts").join(file);
        let doc = yaml_docs(&path).remove(0);
        let args: Vec<&str> = doc["spec"]["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["name"].as_str().unwrap())
            .collect();
        let metric = &doc["spec"]["metrics"][0];
        let web = &metric["provider"]["web"];
        let method = web["method"].as_str().unwrap_or("GET");
        let path_ = url_path(web["url"].as_str().unwrap());
        assert_eq!(path_, "/v1/integrations/rollouts/analysis", "{file}");
        let op = operation(&openapi, &path_, method);
        assert!(op.is_object(), "{file}: {method} {path_} is not served");
        // The body's fields are exactly the endpoint's, each from an argument the template has.
        let schema_name = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            .as_str()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap()
            .to_string();
        let schema = &openapi["components"]["schemas"][&schema_name];
        let mut wanted: Vec<&str> = schema["properties"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let body: &Map<String, Value> = web["jsonBody"].as_object().unwrap();
        let mut sent: Vec<&str> = body.keys().map(String::as_str).collect();
        wanted.sort_unstable();
        sent.sort_unstable();
        assert_eq!(sent, wanted, "{file}: jsonBody fields");
        for (k, v) in body {
            let v = v.as_str().unwrap();
            let arg = v
                .trim()
                .strip_prefix("{{ args.")
                .and_then(|s| s.strip_suffix(" }}"))
                .unwrap_or_else(|| panic!("{file}: {k} is not an argument: {v}"));
            assert!(args.contains(&arg), "{file}: {k} names {arg}, not an arg");
        }
        // The token is sent as a bearer token, from a Secret.
        let header = &web["headers"][0];
        assert_eq!(header["key"], "Authorization");
        assert_eq!(header["value"], "Bearer {{ args.portcullis-token }}");
        let token_arg = doc["spec"]["args"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == "portcullis-token")
            .unwrap();
        assert!(token_arg["valueFrom"]["secretKeyRef"]["name"].is_string());
        // The conditions read the answer's `verdict`, which the endpoint documents.
        assert_eq!(web["jsonPath"], "{$.verdict}", "{file}");
        assert_eq!(metric["successCondition"], "result == \"pass\"", "{file}");
        assert_eq!(metric["failureCondition"], "result == \"fail\"", "{file}");
        assert!(
            op["description"]
                .as_str()
                .unwrap()
                .contains("jsonPath: \"{$.verdict}\""),
            "{file}"
        );
    }
    // The Rollout gives every argument the template leaves open, hashes from the ReplicaSets.
    let template =
        yaml_docs(&root().join("deploy/integrations/argo-rollouts/analysistemplate.yaml"))
            .remove(0);
    let open: Vec<&str> = template["spec"]["args"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a.get("value").is_none() && a.get("valueFrom").is_none())
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    let rollout =
        yaml_docs(&root().join("deploy/integrations/argo-rollouts/rollout.yaml")).remove(0);
    let step = rollout["spec"]["strategy"]["canary"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s.get("analysis").is_some())
        .unwrap();
    assert_eq!(
        step["analysis"]["templates"][0]["templateName"],
        template["metadata"]["name"]
    );
    let given: Vec<&Value> = step["analysis"]["args"]
        .as_array()
        .unwrap()
        .iter()
        .collect();
    for name in open {
        assert!(
            given.iter().any(|a| a["name"] == name),
            "the Rollout does not give {name}"
        );
    }
    let hash = |n: &str| {
        given.iter().find(|a| a["name"] == n).unwrap()["valueFrom"]["podTemplateHashValue"].clone()
    };
    assert_eq!(hash("canary-hash"), "Latest");
    assert_eq!(hash("stable-hash"), "Stable");
    let image =
        &given.iter().find(|a| a["name"] == "image").unwrap()["valueFrom"]["fieldRef"]["fieldPath"];
    assert_eq!(image, "spec.template.spec.containers[0].image");
    assert!(
        rollout["spec"]["template"]["spec"]["containers"][0]["image"]
            .as_str()
            .unwrap()
            .contains("@sha256:"),
        "the analysed image is pinned by digest"
    );
}

#[test]
fn the_flagger_canary_calls_the_hooks_the_server_answers() {
    let openapi = serde_json::to_value(portcullis_server::routes::openapi()).unwrap();
    let op = operation(&openapi, "/v1/integrations/flagger/{hook}", "POST");
    assert!(op.is_object());
    let canary = yaml_docs(&root().join("deploy/integrations/flagger/canary.yaml")).remove(0);
    let hooks = canary["spec"]["analysis"]["webhooks"].as_array().unwrap();
    let mut types: Vec<&str> = Vec::new();
    for h in hooks {
        let t = h["type"].as_str().unwrap();
        types.push(t);
        assert!(portcullis_server::integrations::flagger::HOOKS.contains(&t));
        assert_eq!(
            url_path(h["url"].as_str().unwrap()),
            format!("/v1/integrations/flagger/{t}")
        );
        let m = &h["metadata"];
        assert!(m["environment"].is_string() && m["token"].is_string());
        assert!(m["image"].as_str().unwrap().contains("@sha256:"));
        if t == "rollout" {
            assert!(m["profile"].is_string());
        }
    }
    types.sort_unstable();
    let mut all = portcullis_server::integrations::flagger::HOOKS.to_vec();
    all.sort_unstable();
    assert_eq!(types, all, "one webhook of each type");
}

#[test]
fn the_argo_cd_hook_gates_every_image_before_the_sync() {
    let path = root().join("deploy/integrations/argo-cd/presync-hook.yaml");
    let docs = yaml_docs(&path);
    let job = docs.iter().find(|d| d["kind"] == "Job").unwrap();
    let config = docs.iter().find(|d| d["kind"] == "ConfigMap").unwrap();
    for d in [job, config] {
        assert_eq!(
            d["metadata"]["annotations"]["argocd.argoproj.io/hook"],
            "PreSync"
        );
        assert!(
            d["metadata"]["annotations"]["argocd.argoproj.io/hook-delete-policy"]
                .as_str()
                .unwrap()
                .contains("BeforeHookCreation")
        );
    }
    // A failed gate fails the Job at once (no retries), which fails the sync.
    assert_eq!(job["spec"]["backoffLimit"], 0);
    assert_eq!(job["spec"]["template"]["spec"]["restartPolicy"], "Never");
    let c = &job["spec"]["template"]["spec"]["containers"][0];
    let script = c["args"][0].as_str().unwrap();
    assert!(script.contains("portcullis gate --server \"$PORTCULLIS_SERVER\" --image \"$image\""));
    assert!(script.contains("|| status=1") && script.contains("exit \"$status\""));
    let env = c["env"].as_array().unwrap();
    let token = env
        .iter()
        .find(|e| e["name"] == "PORTCULLIS_TOKEN")
        .unwrap();
    assert!(token["valueFrom"]["secretKeyRef"]["name"].is_string());
    // The images the ConfigMap lists are what the script reads.
    let mount = &c["volumeMounts"][0];
    assert!(script.contains(&format!("{}/images", mount["mountPath"].as_str().unwrap())));
    assert!(config["data"]["images"].as_str().unwrap().lines().count() >= 1);
    // `portcullis gate --server` is POST /v1/decisions, which the server serves.
    let openapi = serde_json::to_value(portcullis_server::routes::openapi()).unwrap();
    assert!(operation(&openapi, "/v1/decisions", "POST").is_object());
    let app = yaml_docs(&root().join("deploy/integrations/argo-cd/application.yaml")).remove(0);
    assert_eq!(app["kind"], "Application");
}
