//! What runs where, from where things run: deployments recorded one by one (`portcullis
//! deployed`, the admission webhook), removals, and an environment's whole running set
//! replaced from a report of the cluster (`kubectl get pods -o json`, or a list of image
//! references). Every change of an environment's running set is followed, in the same
//! transaction, by a snapshot of it (`environment.snapshot`): the artifacts, their digests and
//! the decision each runs under.

use std::collections::BTreeMap;

use portcullis_store::{Change, Entry, Store, Write, kinds};
use serde::Serialize;
use serde_json::{Value, json};

use crate::decision::{ArtifactId, sha256_digest};
use crate::names::{self, NameKind};
use crate::registry::{RegistryError, deployment_change, snapshot_change};

/// The change that records `name` no longer running in `environment` (dropped when it does
/// not run there).
pub fn removal_change(
    environment: &str,
    name: &str,
    digest: &str,
    by: &str,
    source: Option<&str>,
) -> Change {
    Change::if_new(
        kinds::DEPLOYMENT_REMOVED,
        json!({
            "environment": environment, "artifact": {"name": name, "digest": digest},
            "by": by, "source": source,
        }),
        vec![Write::Removal {
            environment: environment.to_string(),
            artifact_name: name.to_string(),
        }],
    )
}

/// Record that `name` no longer runs in `environment`. Returns the removal's entry, or None
/// when it did not run there.
pub async fn remove(
    store: &Store,
    environment: &str,
    name: &str,
    by: &str,
    source: Option<&str>,
) -> Result<Option<Entry>, RegistryError> {
    names::check(NameKind::Environment, environment)?;
    let Some(row) = store.running(environment, name).await? else {
        return Ok(None);
    };
    let entries = store
        .append(vec![
            removal_change(environment, name, &row.artifact_digest, by, source),
            snapshot_change(environment, kinds::DEPLOYMENT_REMOVED),
        ])
        .await?;
    Ok(entries.into_iter().next().flatten())
}

/// Record what an admitted workload runs in `environment` (those images not running there
/// under that digest already), then a snapshot. Returns the snapshot's entry, if anything
/// changed.
pub async fn admitted(
    store: &Store,
    environment: &str,
    images: &[ArtifactId],
    by: &str,
    source: &str,
) -> Result<Option<u64>, RegistryError> {
    names::check(NameKind::Environment, environment)?;
    let mut changes = Vec::new();
    for a in name_distinct(images.to_vec()) {
        names::check(NameKind::Artifact, &a.name)?;
        let now_running = store.running(environment, &a.name).await?;
        if now_running.is_some_and(|r| r.artifact_digest == a.digest) {
            continue;
        }
        let decision = store.latest_decision(&a.digest, environment).await?;
        changes.push(deployment_change(
            &a,
            environment,
            by,
            decision.as_ref(),
            Some(source),
        ));
    }
    if changes.is_empty() {
        return Ok(None);
    }
    changes.push(snapshot_change(environment, "admission"));
    let entries = store.append(changes).await?;
    Ok(entries.last().and_then(|e| e.as_ref()).map(|e| e.seq))
}

/// Record that a deleted workload's images no longer run in `environment` (each only where
/// the inventory holds that very digest under its name), then a snapshot. Returns the
/// snapshot's entry, if anything changed.
pub async fn deleted(
    store: &Store,
    environment: &str,
    images: &[ArtifactId],
    by: &str,
    source: &str,
) -> Result<Option<u64>, RegistryError> {
    names::check(NameKind::Environment, environment)?;
    let mut changes = Vec::new();
    for a in name_distinct(images.to_vec()) {
        let now_running = store.running(environment, &a.name).await?;
        if now_running.is_some_and(|r| r.artifact_digest == a.digest) {
            changes.push(removal_change(
                environment,
                &a.name,
                &a.digest,
                by,
                Some(source),
            ));
        }
    }
    if changes.is_empty() {
        return Ok(None);
    }
    changes.push(snapshot_change(environment, "admission"));
    let entries = store.append(changes).await?;
    Ok(entries.last().and_then(|e| e.as_ref()).map(|e| e.seq))
}

/// What replacing an environment's running set changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Synced {
    pub environment: String,
    /// Newly running.
    pub added: Vec<ArtifactId>,
    /// Running under a new digest (the previous digest first).
    pub replaced: Vec<(String, ArtifactId)>,
    /// No longer running.
    pub removed: Vec<ArtifactId>,
    pub unchanged: usize,
    /// The snapshot taken after the changes (None when nothing changed).
    pub snapshot: Option<u64>,
}

impl Synced {
    pub fn changed(&self) -> bool {
        !(self.added.is_empty() && self.replaced.is_empty() && self.removed.is_empty())
    }
}

/// Replace what runs in `environment` with `running` (the whole set): new artifacts and new
/// digests are recorded as deployments, artifacts not in `running` are removed, and one
/// snapshot follows, all in one transaction.
pub async fn sync(
    store: &Store,
    environment: &str,
    running: &[ArtifactId],
    by: &str,
    source: &str,
) -> Result<Synced, RegistryError> {
    names::check(NameKind::Environment, environment)?;
    let mut wanted: BTreeMap<&str, &ArtifactId> = BTreeMap::new();
    for a in running {
        names::check(NameKind::Artifact, &a.name)?;
        if let Some(other) = wanted.insert(a.name.as_str(), a)
            && other.digest != a.digest
        {
            return Err(RegistryError::Invalid(format!(
                "{source}: {} is listed with two digests ({} and {})",
                a.name, other.digest, a.digest
            )));
        }
    }
    let current = store.inventory(Some(environment)).await?;
    let mut out = Synced {
        environment: environment.to_string(),
        ..Synced::default()
    };
    let mut changes = Vec::new();
    for row in &current {
        match wanted.get(row.artifact_name.as_str()) {
            Some(a) if a.digest == row.artifact_digest => out.unchanged += 1,
            Some(_) => {}
            None => {
                changes.push(removal_change(
                    environment,
                    &row.artifact_name,
                    &row.artifact_digest,
                    by,
                    Some(source),
                ));
                out.removed.push(ArtifactId {
                    name: row.artifact_name.clone(),
                    digest: row.artifact_digest.clone(),
                });
            }
        }
    }
    for (name, a) in &wanted {
        let now_running = current.iter().find(|r| r.artifact_name == *name);
        if now_running.is_some_and(|r| r.artifact_digest == a.digest) {
            continue;
        }
        let decision = store.latest_decision(&a.digest, environment).await?;
        changes.push(deployment_change(
            a,
            environment,
            by,
            decision.as_ref(),
            Some(source),
        ));
        match now_running {
            Some(r) => out.replaced.push((r.artifact_digest.clone(), (*a).clone())),
            None => out.added.push((*a).clone()),
        }
    }
    if changes.is_empty() {
        return Ok(out);
    }
    changes.push(snapshot_change(environment, "inventory.sync"));
    let entries = store.append(changes).await?;
    out.snapshot = entries.last().and_then(|e| e.as_ref()).map(|e| e.seq);
    Ok(out)
}

/// Why a report of what runs could not be read: the source, where in it, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{source_name}: {place}: {message}")]
pub struct RunningError {
    pub source_name: String,
    pub place: String,
    pub message: String,
}

/// What a report of what runs lists.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RunningSet {
    pub artifacts: Vec<ArtifactId>,
    /// Containers not counted (not running, no digest yet), each with the reason.
    pub skipped: Vec<String>,
    /// `kubectl` (a Pod or a List of Pods) or `list` (image references, one per line).
    pub format: &'static str,
}

/// The artifact name of an image: its registry and repository (`docker.io/library/nginx`),
/// as `gate --image` names the images it decides.
pub fn image_name(image: &str) -> Option<String> {
    let image = image
        .trim()
        .trim_start_matches("docker-pullable://")
        .trim_start_matches("docker://");
    let r = portcullis_registry::parse_reference(image).ok()?;
    Some(format!("{}/{}", r.registry(), r.repository()))
}

/// The images of a workload pinned by digest, as the artifacts the inventory keeps (named by
/// registry and repository); those not pinned cannot be kept (admission denies them anyway
/// where a decision is required).
pub fn pinned_images(kind: &str, object: &Value) -> Vec<crate::decision::ArtifactId> {
    let Some(spec) = crate::admission::pod_spec(kind, object) else {
        return Vec::new();
    };
    crate::admission::images(spec)
        .into_iter()
        .filter_map(|i| {
            Some(crate::decision::ArtifactId {
                name: image_name(&i.image)?,
                digest: i.digest?,
            })
        })
        .collect()
}

/// `name@sha256:…` of a pinned image reference (`registry/repo[:tag]@sha256:…`).
fn pinned(image: &str) -> Option<ArtifactId> {
    let image = image
        .trim()
        .trim_start_matches("docker-pullable://")
        .trim_start_matches("docker://");
    let (_, d) = image.rsplit_once('@')?;
    let digest = sha256_digest(d)?;
    Some(ArtifactId {
        name: image_name(image)?,
        digest,
    })
}

/// Read a report of what runs: `kubectl get pods [-A] -o json` (a List of Pods, or one Pod),
/// where each running container counts with the digest its runtime reports (`imageID`); or a
/// plain list of pinned image references (`registry/repo[:tag]@sha256:…` or
/// `name@sha256:…`), one per line, `#` comments and blank lines ignored. An image running
/// under several digests in one environment (a rollout in progress, two services on one
/// repository) is listed once per digest: the first by its name, the others as
/// `name#<12 hex digits of the digest>`.
pub fn parse_running(source: &str, bytes: &[u8]) -> Result<RunningSet, RunningError> {
    let err = |place: String, message: String| RunningError {
        source_name: source.to_string(),
        place,
        message,
    };
    let text = std::str::from_utf8(bytes)
        .map_err(|e| err(format!("byte {}", e.valid_up_to()), "not UTF-8 text".into()))?;
    let mut set = if text.trim_start().starts_with('{') {
        let v: Value = serde_json::from_str(text).map_err(|e| {
            err(
                format!("line {}, column {}", e.line(), e.column()),
                format!("not JSON: {e}"),
            )
        })?;
        pods(&v).map_err(|(place, m)| err(place, m))?
    } else {
        let mut set = RunningSet {
            format: "list",
            ..RunningSet::default()
        };
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let a = pinned(line)
                .or_else(|| ArtifactId::parse(line).ok())
                .ok_or_else(|| {
                    err(
                        format!("line {}", i + 1),
                        "expected an image reference pinned by digest (registry/repository@sha256:<64 hex>)".into(),
                    )
                })?;
            set.artifacts.push(a);
        }
        set
    };
    set.artifacts = name_distinct(std::mem::take(&mut set.artifacts));
    Ok(set)
}

/// One entry per (name, digest); a name seen with a second digest gets that digest's suffix.
fn name_distinct(list: Vec<ArtifactId>) -> Vec<ArtifactId> {
    let mut by_name: BTreeMap<String, String> = BTreeMap::new();
    let mut out: Vec<ArtifactId> = Vec::new();
    for a in list {
        match by_name.get(&a.name) {
            Some(d) if *d == a.digest => {}
            Some(_) => {
                let hex = a.digest.trim_start_matches("sha256:");
                let name = format!("{}#{}", a.name, hex.get(..12).unwrap_or(hex));
                if !out.iter().any(|o| o.name == name) {
                    out.push(ArtifactId {
                        name,
                        digest: a.digest,
                    });
                }
            }
            None => {
                by_name.insert(a.name.clone(), a.digest.clone());
                out.push(a);
            }
        }
    }
    out
}

/// The running containers of a Pod or a List of Pods (kubectl's JSON).
fn pods(v: &Value) -> Result<RunningSet, (String, String)> {
    let kind = v.get("kind").and_then(Value::as_str).unwrap_or_default();
    let items: Vec<&Value> = match kind {
        "List" | "PodList" => v
            .get("items")
            .and_then(Value::as_array)
            .ok_or_else(|| ("items".to_string(), "a List without items".to_string()))?
            .iter()
            .collect(),
        "Pod" => vec![v],
        other => {
            return Err((
                "kind".into(),
                format!(
                    "expected a Pod or a List of Pods (kubectl get pods -o json), found kind {other:?}"
                ),
            ));
        }
    };
    let mut set = RunningSet {
        format: "kubectl",
        ..RunningSet::default()
    };
    for (i, pod) in items.iter().enumerate() {
        let item_kind = pod.get("kind").and_then(Value::as_str).unwrap_or("Pod");
        let meta = pod.get("metadata");
        let pod_name = format!(
            "{}/{}",
            meta.and_then(|m| m.get("namespace"))
                .and_then(Value::as_str)
                .unwrap_or("default"),
            meta.and_then(|m| m.get("name"))
                .and_then(Value::as_str)
                .unwrap_or("?")
        );
        if item_kind != "Pod" {
            return Err((
                format!("items[{i}]"),
                format!("expected a Pod, found kind {item_kind:?}"),
            ));
        }
        let phase = pod
            .pointer("/status/phase")
            .and_then(Value::as_str)
            .unwrap_or("Unknown");
        if matches!(phase, "Succeeded" | "Failed") {
            set.skipped
                .push(format!("pod {pod_name}: {phase}, not running"));
            continue;
        }
        let statuses = ["containerStatuses", "ephemeralContainerStatuses"]
            .iter()
            .filter_map(|k| {
                pod.pointer(&format!("/status/{k}"))
                    .and_then(Value::as_array)
            })
            .flatten();
        let mut any = false;
        for c in statuses {
            any = true;
            let cname = c.get("name").and_then(Value::as_str).unwrap_or("?");
            let image_id = c.get("imageID").and_then(Value::as_str).unwrap_or("");
            let image = c.get("image").and_then(Value::as_str).unwrap_or("");
            let Some(digest) = image_id
                .rsplit_once('@')
                .and_then(|(_, d)| sha256_digest(d))
                .or_else(|| image.rsplit_once('@').and_then(|(_, d)| sha256_digest(d)))
            else {
                set.skipped.push(format!(
                    "pod {pod_name} container {cname}: no image digest reported yet"
                ));
                continue;
            };
            // The reference the pod asked for names the image; the runtime's imageID may
            // name a mirror or carry a scheme.
            let Some(name) = image_name(image).or_else(|| image_name(image_id)) else {
                set.skipped.push(format!(
                    "pod {pod_name} container {cname}: {image:?} is not an image reference"
                ));
                continue;
            };
            set.artifacts.push(ArtifactId { name, digest });
        }
        if !any {
            set.skipped
                .push(format!("pod {pod_name}: no container status (not started)"));
        }
    }
    Ok(set)
}

/// One artifact that differs between two snapshots of an environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct SnapshotChange {
    pub name: String,
    /// Its digest in the earlier snapshot (None: it did not run then).
    pub before: Option<String>,
    /// Its digest in the later snapshot (None: it no longer runs).
    pub after: Option<String>,
    pub verdict_before: Option<String>,
    pub verdict_after: Option<String>,
    pub decision_before: Option<String>,
    pub decision_after: Option<String>,
}

/// What changed in an environment from snapshot `a` to snapshot `b`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct SnapshotDiff {
    pub environment: String,
    pub from: i64,
    pub to: i64,
    pub added: Vec<SnapshotChange>,
    pub removed: Vec<SnapshotChange>,
    /// Running in both under another digest, or under the same digest with another decision.
    pub changed: Vec<SnapshotChange>,
    pub unchanged: usize,
}

/// The difference between two snapshots (of one environment; `a` earlier than `b` as given).
pub fn diff_snapshots(
    a: &portcullis_store::SnapshotRow,
    b: &portcullis_store::SnapshotRow,
) -> SnapshotDiff {
    let mut out = SnapshotDiff {
        environment: b.environment.clone(),
        from: a.seq,
        to: b.seq,
        added: Vec::new(),
        removed: Vec::new(),
        changed: Vec::new(),
        unchanged: 0,
    };
    let before: BTreeMap<&str, &portcullis_store::SnapshotArtifact> =
        a.artifacts.iter().map(|x| (x.name.as_str(), x)).collect();
    let after: BTreeMap<&str, &portcullis_store::SnapshotArtifact> =
        b.artifacts.iter().map(|x| (x.name.as_str(), x)).collect();
    let names: std::collections::BTreeSet<&str> =
        before.keys().chain(after.keys()).copied().collect();
    for name in names {
        let (x, y) = (before.get(name), after.get(name));
        let change = SnapshotChange {
            name: name.to_string(),
            before: x.map(|v| v.digest.clone()),
            after: y.map(|v| v.digest.clone()),
            verdict_before: x.and_then(|v| v.verdict.clone()),
            verdict_after: y.and_then(|v| v.verdict.clone()),
            decision_before: x.and_then(|v| v.decision_id.clone()),
            decision_after: y.and_then(|v| v.decision_id.clone()),
        };
        match (x, y) {
            (None, Some(_)) => out.added.push(change),
            (Some(_), None) => out.removed.push(change),
            (Some(p), Some(q)) if p.digest != q.digest || p.decision_id != q.decision_id => {
                out.changed.push(change)
            }
            _ => out.unchanged += 1,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    const D1: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
    const D2: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

    #[test]
    fn a_list_of_pinned_references() {
        let text = format!("# prod\nghcr.io/acme/api:1.2@{D1}\n\nshop/checkout@{D2}\n");
        let set = parse_running("running.txt", text.as_bytes()).unwrap();
        assert_eq!(set.format, "list");
        assert_eq!(set.artifacts.len(), 2);
        assert_eq!(set.artifacts[0].name, "ghcr.io/acme/api");
        assert_eq!(set.artifacts[0].digest, D1);
        assert_eq!(set.artifacts[1].name, "docker.io/shop/checkout");
    }

    #[test]
    fn an_unpinned_line_is_an_error_naming_the_line() {
        let e =
            parse_running("running.txt", b"ghcr.io/acme/api@sha256:ab\nnginx:1.25\n").unwrap_err();
        assert_eq!(e.place, "line 1");
        assert!(e.to_string().starts_with("running.txt: line 1: "), "{e}");
    }

    #[test]
    fn pods_count_running_containers_by_their_image_id() {
        let pods = json!({"kind": "List", "items": [
            {"kind": "Pod", "metadata": {"name": "api-1", "namespace": "shop"},
             "status": {"phase": "Running", "containerStatuses": [
                {"name": "app", "image": "ghcr.io/acme/api:1.2",
                 "imageID": format!("ghcr.io/acme/api@{D1}")},
                {"name": "sidecar", "image": "envoyproxy/envoy:v1", "imageID": ""}]}},
            {"kind": "Pod", "metadata": {"name": "api-2", "namespace": "shop"},
             "status": {"phase": "Running", "containerStatuses": [
                {"name": "app", "image": "ghcr.io/acme/api:1.3",
                 "imageID": format!("docker-pullable://ghcr.io/acme/api@{D2}")}]}},
            {"kind": "Pod", "metadata": {"name": "job", "namespace": "shop"},
             "status": {"phase": "Succeeded"}}
        ]});
        let set = parse_running("pods.json", pods.to_string().as_bytes()).unwrap();
        assert_eq!(set.format, "kubectl");
        let names: Vec<_> = set.artifacts.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["ghcr.io/acme/api", "ghcr.io/acme/api#222222222222"]);
        assert_eq!(set.skipped.len(), 2, "{:?}", set.skipped);
    }

    #[test]
    fn other_kinds_are_refused() {
        let e = parse_running("x.json", br#"{"kind": "Deployment"}"#).unwrap_err();
        assert_eq!(e.place, "kind");
        let e = parse_running("x.json", b"{\"kind\": ").unwrap_err();
        assert!(e.place.starts_with("line 1"), "{e}");
    }
}
