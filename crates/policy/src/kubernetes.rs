//! Kubernetes objects under review: manifests read from multi-document YAML or JSON (a `List`
//! expanded), or the object of an admission request, and what the policy library reads of
//! them (`input.kubernetes`, see [`InputKubernetesObject`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::input::{InputContainer, InputKubernetesObject};

/// Largest manifest file accepted, in bytes.
pub const MAX_MANIFEST_BYTES: usize = 16 * 1024 * 1024;

/// A manifest or admission request that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    /// Not YAML (or JSON): where the parser stopped.
    #[error("{file}: document {document}{}: YAML: {message}", at(*line, *column))]
    Yaml {
        file: String,
        /// 1-based index of the YAML document in the file.
        document: usize,
        line: Option<usize>,
        column: Option<usize>,
        message: String,
    },
    /// YAML, but not a Kubernetes object.
    #[error("{file}: document {document}: {message}")]
    Invalid {
        file: String,
        document: usize,
        message: String,
    },
    #[error("{file}: {message}")]
    Io { file: String, message: String },
}

fn at(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!(" at line {l} column {c}"),
        (Some(l), None) => format!(" at line {l}"),
        _ => String::new(),
    }
}

/// What an admission request adds to the object under review.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AdmissionContext {
    /// `CREATE` | `UPDATE` | `DELETE` | `CONNECT`.
    pub operation: String,
    #[serde(default)]
    pub old_object: Option<Json>,
    #[serde(default)]
    pub user_info: Option<Json>,
    /// The request's uid.
    #[serde(default)]
    pub uid: Option<String>,
    /// `request.namespace` (set for namespaced objects even when the object omits it).
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub dry_run: bool,
}

/// A Kubernetes object under review, with where it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// `FILE#N` (N-th YAML document from 1, `FILE#N.items[I]` in a `List`), or
    /// `admission:<uid>`.
    pub source: String,
    pub object: Json,
    /// Set when the object comes from an admission request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admission: Option<AdmissionContext>,
}

impl Manifest {
    pub fn api_version(&self) -> &str {
        str_at(&self.object, &["apiVersion"]).unwrap_or("")
    }

    pub fn kind(&self) -> &str {
        str_at(&self.object, &["kind"]).unwrap_or("")
    }

    pub fn name(&self) -> &str {
        str_at(&self.object, &["metadata", "name"])
            .or_else(|| {
                self.admission
                    .as_ref()
                    .and_then(|a| a.old_object.as_ref())
                    .and_then(|o| str_at(o, &["metadata", "name"]))
            })
            .unwrap_or("")
    }

    /// The namespace as stated by the object or the admission request.
    pub fn namespace(&self) -> Option<&str> {
        str_at(&self.object, &["metadata", "namespace"])
            .filter(|s| !s.is_empty())
            .or_else(|| {
                self.admission
                    .as_ref()
                    .and_then(|a| a.namespace.as_deref())
                    .filter(|s| !s.is_empty())
            })
    }

    /// `<namespace>/<kind>/<name>`; the namespace of a workload that states none is
    /// `default`, of other objects empty.
    pub fn key(&self) -> String {
        let ns = match self.namespace() {
            Some(ns) => ns,
            None if pod_spec(&self.object).is_some() => "default",
            None => "",
        };
        format!("{ns}/{}/{}", self.kind(), self.name())
    }

    /// The object of an AdmissionReview (`{"request": {...}}`) or of its `request`.
    pub fn from_admission_review(review: &Json) -> Result<Self, ManifestError> {
        let req = review.get("request").unwrap_or(review);
        let invalid = |message: &str| ManifestError::Invalid {
            file: "admission request".into(),
            document: 1,
            message: message.into(),
        };
        if !req.is_object() {
            return Err(invalid("an AdmissionReview request must be an object"));
        }
        let uid = req.get("uid").and_then(Json::as_str).map(str::to_string);
        let old_object = req.get("oldObject").filter(|o| !o.is_null()).cloned();
        let object = match req.get("object").filter(|o| !o.is_null()) {
            Some(o) => o.clone(),
            // DELETE: the object is gone; Gatekeeper reviews the old one.
            None => old_object
                .clone()
                .ok_or_else(|| invalid("the request has neither object nor oldObject"))?,
        };
        if !object.is_object() {
            return Err(invalid("request.object must be an object"));
        }
        let operation = req
            .get("operation")
            .and_then(Json::as_str)
            .unwrap_or("CREATE")
            .to_string();
        Ok(Self {
            source: format!("admission:{}", uid.as_deref().unwrap_or("")),
            object,
            admission: Some(AdmissionContext {
                operation,
                old_object,
                user_info: req.get("userInfo").cloned(),
                uid,
                namespace: req
                    .get("namespace")
                    .and_then(Json::as_str)
                    .map(str::to_string),
                dry_run: req.get("dryRun").and_then(Json::as_bool).unwrap_or(false),
            }),
        })
    }
}

fn str_at<'a>(v: &'a Json, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    cur.as_str()
}

/// Every YAML document of `text` as JSON (JSON is YAML too); empty documents are skipped and
/// the index of each kept one (from 1) returned with it.
pub fn yaml_documents(file: &str, text: &str) -> Result<Vec<(usize, Json)>, ManifestError> {
    if text.len() > MAX_MANIFEST_BYTES {
        return Err(ManifestError::Io {
            file: file.into(),
            message: format!(
                "{} bytes is over the limit of {MAX_MANIFEST_BYTES} bytes",
                text.len()
            ),
        });
    }
    let mut out = Vec::new();
    for (i, doc) in yaml_serde::Deserializer::from_str(text).enumerate() {
        let document = i + 1;
        let value = Json::deserialize(doc).map_err(|e| {
            let loc = e.location();
            ManifestError::Yaml {
                file: file.into(),
                document,
                line: loc.as_ref().map(|l| l.line()),
                column: loc.as_ref().map(|l| l.column()),
                message: e.to_string(),
            }
        })?;
        if !value.is_null() {
            out.push((document, value));
        }
    }
    Ok(out)
}

/// The Kubernetes objects of a manifest file: every document an object with `apiVersion` and
/// `kind`; a `...List` kind with `items` is expanded.
pub fn parse_manifests(file: &str, text: &str) -> Result<Vec<Manifest>, ManifestError> {
    let mut out = Vec::new();
    for (document, value) in yaml_documents(file, text)? {
        let invalid = |message: String| ManifestError::Invalid {
            file: file.into(),
            document,
            message,
        };
        check_object(&value).map_err(&invalid)?;
        let kind = str_at(&value, &["kind"]).unwrap_or("");
        if kind.ends_with("List")
            && let Some(items) = value.get("items").and_then(Json::as_array)
        {
            for (i, item) in items.iter().enumerate() {
                check_object(item).map_err(|m| invalid(format!("items[{i}]: {m}")))?;
                out.push(Manifest {
                    source: format!("{file}#{document}.items[{i}]"),
                    object: item.clone(),
                    admission: None,
                });
            }
            continue;
        }
        out.push(Manifest {
            source: format!("{file}#{document}"),
            object: value,
            admission: None,
        });
    }
    Ok(out)
}

fn check_object(v: &Json) -> Result<(), String> {
    if !v.is_object() {
        return Err("not a Kubernetes object (a mapping with apiVersion and kind)".into());
    }
    for field in ["apiVersion", "kind"] {
        match v.get(field) {
            Some(Json::String(s)) if !s.is_empty() => {}
            _ => return Err(format!("not a Kubernetes object: `{field}` is missing")),
        }
    }
    Ok(())
}

/// The pod spec of a workload object.
pub fn pod_spec(object: &Json) -> Option<&Json> {
    let kind = str_at(object, &["kind"])?;
    let spec = object.get("spec")?;
    let pod = match kind {
        "Pod" => Some(spec),
        "Deployment"
        | "StatefulSet"
        | "DaemonSet"
        | "ReplicaSet"
        | "ReplicationController"
        | "Job" => spec.get("template")?.get("spec"),
        "CronJob" => spec
            .get("jobTemplate")?
            .get("spec")?
            .get("template")?
            .get("spec"),
        _ => None,
    }?;
    pod.is_object().then_some(pod)
}

/// What the policy library reads of a manifest.
pub fn input_object(m: &Manifest) -> InputKubernetesObject {
    let o = &m.object;
    let labels = o
        .get("metadata")
        .and_then(|md| md.get("labels"))
        .and_then(Json::as_object)
        .map(|l| {
            l.iter()
                .map(|(k, v)| {
                    let v = v.as_str().map_or_else(|| v.to_string(), str::to_string);
                    (k.clone(), v)
                })
                .collect::<BTreeMap<_, _>>()
        })
        .unwrap_or_default();
    let pod = pod_spec(o);
    let flag = |name: &str| {
        pod.and_then(|p| p.get(name))
            .and_then(Json::as_bool)
            .unwrap_or(false)
    };
    let pod_sc = pod.and_then(|p| p.get("securityContext"));
    let mut containers = Vec::new();
    if let Some(p) = pod {
        for (field, init, ephemeral) in [
            ("initContainers", true, false),
            ("containers", false, false),
            ("ephemeralContainers", false, true),
        ] {
            for c in p.get(field).and_then(Json::as_array).into_iter().flatten() {
                containers.push(container(c, pod_sc, init, ephemeral));
            }
        }
    }
    InputKubernetesObject {
        key: m.key(),
        api_version: m.api_version().into(),
        kind: m.kind().into(),
        namespace: m.namespace().map(str::to_string),
        name: m.name().into(),
        source: m.source.clone(),
        labels,
        workload: pod.is_some(),
        host_network: flag("hostNetwork"),
        host_pid: flag("hostPID"),
        host_ipc: flag("hostIPC"),
        containers,
        object: o.clone(),
    }
}

fn container(c: &Json, pod_sc: Option<&Json>, init: bool, ephemeral: bool) -> InputContainer {
    let sc = c.get("securityContext");
    let own = |name: &str| sc.and_then(|s| s.get(name));
    // runAsNonRoot and runAsUser are inherited from the pod's securityContext.
    let inherited = |name: &str| own(name).or_else(|| pod_sc.and_then(|s| s.get(name)));
    InputContainer {
        name: str_at(c, &["name"]).unwrap_or("").into(),
        image: str_at(c, &["image"]).unwrap_or("").into(),
        init,
        ephemeral,
        privileged: own("privileged").and_then(Json::as_bool).unwrap_or(false),
        run_as_non_root: inherited("runAsNonRoot").and_then(Json::as_bool),
        run_as_user: inherited("runAsUser").and_then(Json::as_i64),
        allow_privilege_escalation: own("allowPrivilegeEscalation").and_then(Json::as_bool),
        capabilities_add: own("capabilities")
            .and_then(|caps| caps.get("add"))
            .and_then(Json::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Json::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default(),
        read_only_root_fs: own("readOnlyRootFilesystem").and_then(Json::as_bool),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEPLOY: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      securityContext:\n        runAsNonRoot: true\n      initContainers:\n      - name: init\n        image: busybox\n      containers:\n      - name: app\n        image: nginx:1.25\n        securityContext:\n          privileged: true\n          runAsUser: 0\n          capabilities: { add: [NET_ADMIN] }\n---\n---\napiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Service\n  metadata: { name: web, namespace: shop }\n";

    #[test]
    fn reads_documents_lists_and_pod_specs() {
        let ms = parse_manifests("m.yaml", DEPLOY).unwrap();
        assert_eq!(ms.len(), 2);
        assert_eq!(ms[0].source, "m.yaml#1");
        assert_eq!(ms[1].source, "m.yaml#3.items[0]");
        let d = input_object(&ms[0]);
        assert_eq!(d.key, "default/Deployment/web");
        assert!(d.workload);
        assert_eq!(d.containers.len(), 2);
        let init = &d.containers[0];
        assert!(init.init && !init.privileged);
        assert_eq!(init.run_as_non_root, Some(true));
        let app = &d.containers[1];
        assert!(app.privileged);
        assert_eq!(app.run_as_user, Some(0));
        assert_eq!(app.capabilities_add, vec!["NET_ADMIN".to_string()]);
        let s = input_object(&ms[1]);
        assert_eq!(s.key, "shop/Service/web");
        assert!(!s.workload && s.containers.is_empty());
    }

    #[test]
    fn bad_yaml_names_document_and_line() {
        let text = "apiVersion: v1\nkind: Pod\n---\napiVersion: v1\nkind: [Pod\n";
        let e = parse_manifests("bad.yaml", text).unwrap_err();
        let ManifestError::Yaml { document, line, .. } = &e else {
            panic!("{e}");
        };
        assert_eq!(*document, 2);
        assert!(line.is_some(), "{e}");
        let e = parse_manifests("x.yaml", "just: text\n").unwrap_err();
        assert!(e.to_string().contains("document 1"), "{e}");
    }

    #[test]
    fn admission_review_object() {
        let review = serde_json::json!({"request": {"uid": "u1", "operation": "DELETE",
            "namespace": "shop", "oldObject": {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p"}}}});
        let m = Manifest::from_admission_review(&review).unwrap();
        assert_eq!(m.source, "admission:u1");
        assert_eq!(m.key(), "shop/Pod/p");
        assert_eq!(m.admission.unwrap().operation, "DELETE");
    }
}
