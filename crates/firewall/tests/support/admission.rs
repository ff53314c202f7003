//! A loopback OCI registry (`portcullis_testkit::registry::TestRegistry`) filled the way a
//! pipeline fills one — an image, its SBOM attached with cosign's `.sbom` tag, its SLSA
//! provenance as a DSSE envelope signed with ed25519 and attached with cosign's `.att` tag —
//! and a decision service that reaches it (the harness's CA and Docker config, the signing key
//! trusted), for the admission tests (`tests/admission_registry.rs`) and the benchmark
//! (`benches/admission_registry.rs`).
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::Path;

use base64::Engine as _;
use ed25519_dalek::Signer as _;
use portcullis_firewall::admission::{AdmissionConfig, NamespaceConfig};
use portcullis_firewall::service::Review;
use portcullis_firewall::setup::{ConfigSource, Setup};
use portcullis_firewall::{Actor, DecisionService, Role};
use portcullis_registry::RegistrySettings;
use portcullis_store::{Store, StoreConfig};
use portcullis_testkit::registry::{Layer, TestRegistry, media};
use serde_json::{Value, json};

/// The namespace whose environment (`production`, protected) is decided from the registry.
pub const DECIDING: &str = "shop-prod";
/// The same environment, with the webhook's old behaviour (no registry).
pub const RECORDED_ONLY: &str = "shop-prod-classic";
/// The same environment, deciding from the registry, failing open.
pub const LENIENT: &str = "shop-prod-lenient";

pub const ENV: &str = "production";
pub const BUILDER: &str = "https://ci.example/builder@v1";
pub const SOURCE: &str = "git+https://git.example/acme/app@refs/heads/main";

/// `production` is protected; the firewall checks what a registry can hold (SBOM, signed
/// provenance from the trusted builder and repository, advisories); approvals, the promotion
/// order and canary results are for the pipeline's gate and not asked for here.
const CONFIG: &str = "\
environments:
  production: { protected: true }
rules:
  PCL-PROV-002:
    params: { trusted_builders: [\"https://ci.example/builder@v1\"] }
  PCL-PROV-003:
    params: { trusted_repos: [\"https://git.example/acme/*\", \"git+https://git.example/acme/*\"] }
  PCL-CHG-002:
    params: { environments: [], require_in_undeclared: false }
  PCL-CHG-004:
    actions: { production: off }
  PCL-VERIFY-001:
    params: { require_in_protected: false }
";

/// A registry with signed content, and the files a firewall needs to trust it.
pub struct Harness {
    pub registry: TestRegistry,
    pub dir: tempfile::TempDir,
    key: ed25519_dalek::SigningKey,
}

impl Harness {
    /// `None` when the harness's tools are missing (skipped outside CI, a failure under CI).
    pub fn start(test: &str) -> Option<Harness> {
        let registry = TestRegistry::start(test)?;
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("portcullis.yaml"), CONFIG).unwrap();
        let keys = dir.path().join("keys");
        std::fs::create_dir_all(&keys).unwrap();
        let key = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
        std::fs::write(
            keys.join("builder.pem"),
            ed25519_pem(&key.verifying_key().to_bytes()),
        )
        .unwrap();
        Some(Harness { registry, dir, key })
    }

    /// The firewall's setup: the configuration above, the builder's key trusted, the
    /// registry's CA and Docker config.
    pub fn setup(&self) -> Setup {
        Setup {
            config: ConfigSource::File(self.dir.path().join("portcullis.yaml")),
            trusted_keys: Some(self.dir.path().join("keys")),
            registry: RegistrySettings {
                config: Some(self.registry.docker_config_dir().join("config.json")),
                ca: vec![self.registry.ca_file().to_path_buf()],
                ..Default::default()
            },
            ..Default::default()
        }
    }

    /// An image in `repo` (its content from `seed`) with an SBOM listing `components`
    /// (npm name, version) and signed SLSA provenance naming its digest; the pinned
    /// reference `127.0.0.1:PORT/repo@sha256:…`.
    pub fn push(&self, repo: &str, seed: &str, components: &[(&str, &str)]) -> String {
        let digest = self.registry.push_image(repo, "1.0", seed);
        self.registry.attach_cosign(
            repo,
            &digest,
            "sbom",
            &[Layer::new(media::CYCLONEDX_JSON, sbom(seed, components))],
        );
        self.registry.attach_cosign(
            repo,
            &digest,
            "att",
            &[Layer::new(media::DSSE, self.provenance(&digest))
                .annotation("predicateType", "https://slsa.dev/provenance/v0.2")],
        );
        self.registry.reference(repo, &digest)
    }

    /// An image with nothing attached.
    pub fn push_bare(&self, repo: &str, seed: &str) -> String {
        let digest = self.registry.push_image(repo, "1.0", seed);
        self.registry.reference(repo, &digest)
    }

    /// SLSA v0.2 provenance of `digest` from the trusted builder, in a DSSE envelope signed
    /// with the trusted key.
    pub fn provenance(&self, digest: &str) -> Vec<u8> {
        let hex = digest.strip_prefix("sha256:").unwrap();
        let statement = serde_json::to_vec(&json!({
            "_type": "https://in-toto.io/Statement/v0.1",
            "subject": [{"name": "app", "digest": {"sha256": hex}}],
            "predicateType": "https://slsa.dev/provenance/v0.2",
            "predicate": {
                "builder": {"id": BUILDER},
                "buildType": "https://ci.example/build@v1",
                "invocation": {
                    "configSource": {
                        "uri": SOURCE,
                        "digest": {"sha1": "0123456789abcdef0123456789abcdef01234567"},
                        "entryPoint": ".ci/build.yml"
                    }
                },
                "materials": [{"uri": SOURCE,
                               "digest": {"sha1": "0123456789abcdef0123456789abcdef01234567"}}]
            }
        }))
        .unwrap();
        let payload_type = "application/vnd.in-toto+json";
        let sig = self
            .key
            .sign(&portcullis_attest::pae(payload_type, &statement))
            .to_bytes();
        serde_json::to_vec(&json!({
            "payloadType": payload_type,
            "payload": b64(&statement),
            "signatures": [{"sig": b64(&sig)}],
        }))
        .unwrap()
    }
}

/// A CycloneDX 1.5 SBOM of npm `components`.
pub fn sbom(name: &str, components: &[(&str, &str)]) -> Vec<u8> {
    let components: Vec<Value> = components
        .iter()
        .map(|(n, v)| {
            json!({"type": "library", "name": n, "version": v,
                   "purl": format!("pkg:npm/{n}@{v}"), "bom-ref": format!("pkg:npm/{n}@{v}")})
        })
        .collect();
    serde_json::to_vec(&json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "version": 1,
        "metadata": {"component": {"type": "container", "name": name}},
        "components": components,
    }))
    .unwrap()
}

/// An OSV advisory that every version of npm `package` below `fixed` is affected by.
pub fn osv(id: &str, package: &str, fixed: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "schema_version": "1.6.0",
        "id": id,
        "modified": "2026-11-30T00:00:00Z",
        "published": "2026-11-30T00:00:00Z",
        "summary": format!("{package} before {fixed} runs code it should not"),
        "affected": [{
            "package": {"ecosystem": "npm", "name": package, "purl": format!("pkg:npm/{package}")},
            "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": fixed}]}]
        }],
        "database_specific": {"severity": "CRITICAL"}
    }))
    .unwrap()
}

/// The admission settings: `DECIDING` and `LENIENT` decide from registries, `RECORDED_ONLY`
/// does not; all map to `production`.
pub fn admission(budget_ms: u64) -> AdmissionConfig {
    let mut config = AdmissionConfig {
        registry_budget_ms: budget_ms,
        ..AdmissionConfig::default()
    };
    for (ns, decide, failure) in [
        (DECIDING, true, None),
        (RECORDED_ONLY, false, None),
        (
            LENIENT,
            true,
            Some(portcullis_firewall::admission::FailureMode::Open),
        ),
    ] {
        config.namespaces.insert(
            ns.into(),
            NamespaceConfig {
                environment: Some(ENV.into()),
                decide_from_registry: Some(decide),
                failure,
                ..Default::default()
            },
        );
    }
    config
}

/// A store in `dir` (a fresh SQLite database).
pub async fn store(dir: &Path) -> Store {
    Store::open(&StoreConfig::in_home(dir)).await.unwrap()
}

/// The decision service on `store` with `setup` and `admission`.
pub async fn service(store: Store, setup: &Setup, admission: AdmissionConfig) -> DecisionService {
    let loaded = setup.load().unwrap();
    DecisionService::open(store, loaded, admission)
        .await
        .unwrap()
}

/// Who sends the reviews: the API server's token (role ci).
pub fn apiserver() -> Actor {
    Actor::new("token:tok_kube_apiserver", Role::Ci)
}

pub fn admin() -> Actor {
    Actor::new("token:tok_admin", Role::Admin)
}

/// The review of a Pod `name` in `namespace` running `images` (non-root, as the library's
/// PCL-K8S rules ask in protected environments).
pub fn pod_review(namespace: &str, name: &str, images: &[&str]) -> Review {
    let containers: Vec<Value> = images
        .iter()
        .enumerate()
        .map(|(i, image)| {
            json!({"name": format!("c{i}"), "image": image,
                   "securityContext": {"allowPrivilegeEscalation": false}})
        })
        .collect();
    let object = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "securityContext": {"runAsNonRoot": true, "runAsUser": 10001},
            "containers": containers,
        }
    });
    let uid = format!("uid-{namespace}-{name}");
    let raw = json!({"request": {
        "uid": uid,
        "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "name": name,
        "namespace": namespace,
        "operation": "CREATE",
        "userInfo": {"username": "alice@example.com"},
        "object": object,
        "dryRun": false,
    }});
    Review {
        uid,
        namespace: namespace.into(),
        kind: "Pod".into(),
        name: name.into(),
        operation: "CREATE".into(),
        dry_run: false,
        user: Some("alice@example.com".into()),
        object: Some(object),
        raw,
    }
}

pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// An SPKI PEM of a raw Ed25519 public key.
pub fn ed25519_pem(public: &[u8; 32]) -> String {
    let mut der = vec![
        0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
    ];
    der.extend_from_slice(public);
    format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        b64(&der)
    )
}

/// The digest of a pinned reference.
pub fn digest(image: &str) -> String {
    image.rsplit_once('@').unwrap().1.to_string()
}
