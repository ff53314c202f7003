//! The registry harness against itself: what it pushes is in the registry as the real tools
//! would leave it, and the registry refuses anonymous and wrongly authenticated clients.
//! Outside CI each test skips when a tool is missing; under CI (CI=true) that fails.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::net::TcpStream;
use std::process::Command;

use portcullis_testkit::registry::{
    Auth, Layer, TestRegistry, cosign_tag, media, referrers_tag, sha256_digest,
};
use serde_json::Value;

fn manifest_json(reg: &TestRegistry, repo: &str, reference: &str) -> (String, Vec<u8>, Value) {
    let (media_type, bytes) = reg
        .manifest(repo, reference)
        .unwrap_or_else(|| panic!("{repo}:{reference} is not in the registry"));
    let value = serde_json::from_slice(&bytes).unwrap();
    (media_type, bytes, value)
}

/// The manifest under `reference`, read with skopeo and over HTTPS, is the same bytes, and
/// their digest is `digest`.
fn assert_stored(reg: &TestRegistry, repo: &str, reference: &str, digest: &str) -> Value {
    let raw = reg.inspect_raw(repo, reference).unwrap();
    assert_eq!(
        sha256_digest(&raw),
        digest,
        "skopeo inspect --raw {repo}:{reference}"
    );
    let (_, bytes, value) = manifest_json(reg, repo, reference);
    assert_eq!(bytes, raw, "{repo}:{reference} over HTTPS");
    let by_digest = reg.fetch(
        &format!("/v2/{repo}/manifests/{digest}"),
        Auth::Valid,
        &[media::OCI_MANIFEST, media::OCI_INDEX].join(", "),
    );
    assert_eq!(by_digest.status, 200, "{repo}@{digest}");
    assert_eq!(by_digest.header("docker-content-digest"), Some(digest));
    assert_eq!(by_digest.body, raw);
    value
}

fn blob(reg: &TestRegistry, repo: &str, digest: &str) -> Vec<u8> {
    let answer = reg.fetch(&format!("/v2/{repo}/blobs/{digest}"), Auth::Valid, "");
    assert_eq!(answer.status, 200, "blob {repo}@{digest}");
    assert_eq!(sha256_digest(&answer.body), digest);
    answer.body
}

fn statement(predicate_type: &str, subject: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "_type": "https://in-toto.io/Statement/v0.1",
        "predicateType": predicate_type,
        "subject": [{"name": "pkg:docker/app", "digest": {"sha256": subject.trim_start_matches("sha256:")}}],
        "predicate": {},
    }))
    .unwrap()
}

#[test]
fn images_cosign_attachments_referrers_and_buildx_indexes_are_stored_as_pushed() {
    let test = "images_cosign_attachments_referrers_and_buildx_indexes_are_stored_as_pushed";
    let Some(reg) = TestRegistry::start(test) else {
        return;
    };
    let repo = "team/app";

    // An image, copied in by skopeo from an OCI layout.
    let image = reg.push_image(repo, "v1", "alpha");
    let manifest = assert_stored(&reg, repo, "v1", &image);
    assert_eq!(manifest["mediaType"], media::OCI_MANIFEST);
    assert_eq!(manifest["config"]["mediaType"], media::OCI_CONFIG);
    assert_eq!(
        manifest["layers"][0]["mediaType"],
        "application/vnd.oci.image.layer.v1.tar+gzip"
    );
    let (image_type, image_bytes) = reg.manifest(repo, &image).unwrap();
    assert_eq!(image_type, media::OCI_MANIFEST);
    // Another seed, another image.
    assert_ne!(reg.push_image(repo, "v2", "beta"), image);

    // cosign's .sbom attachment.
    let spdx = br#"{"spdxVersion":"SPDX-2.3","name":"app"}"#.to_vec();
    let sbom = reg.attach_cosign(
        repo,
        &image,
        "sbom",
        &[Layer::new(media::SPDX_JSON, spdx.clone())],
    );
    let tag = cosign_tag(&image, "sbom");
    assert_eq!(tag, format!("sha256-{}.sbom", &image[7..]));
    let att = assert_stored(&reg, repo, &tag, &sbom);
    assert_eq!(att["mediaType"], media::OCI_MANIFEST);
    assert_eq!(att["config"]["mediaType"], media::OCI_CONFIG);
    assert_eq!(
        att["config"]["size"], 233,
        "go-containerregistry's config of one layer"
    );
    assert_eq!(att["layers"].as_array().unwrap().len(), 1);
    assert_eq!(att["layers"][0]["mediaType"], media::SPDX_JSON);
    assert_eq!(att["layers"][0]["digest"], sha256_digest(&spdx));
    assert_eq!(blob(&reg, repo, &sha256_digest(&spdx)), spdx);

    // A cosign .att with a DSSE layer and its annotation.
    let envelope =
        br#"{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[]}"#;
    let att_digest = reg.attach_cosign(
        repo,
        &image,
        "att",
        &[Layer::new(media::DSSE, envelope.to_vec())
            .annotation("predicateType", "https://slsa.dev/provenance/v1")],
    );
    let att = assert_stored(&reg, repo, &cosign_tag(&image, "att"), &att_digest);
    assert_eq!(att["layers"][0]["mediaType"], media::DSSE);
    assert_eq!(
        att["layers"][0]["annotations"]["predicateType"],
        "https://slsa.dev/provenance/v1"
    );

    // Two OCI 1.1 referrers of the image, and the referrers tag schema's fallback index.
    let sbom_type = "application/spdx+json";
    let bundle_type = "application/vnd.dev.sigstore.bundle.v0.3+json";
    let first = reg.attach_referrer(
        repo,
        &image,
        sbom_type,
        &[Layer::new(sbom_type, spdx.clone())],
    );
    let second = reg.attach_referrer(
        repo,
        &image,
        bundle_type,
        &[Layer::new(bundle_type, br#"{"mediaType":"x"}"#.to_vec()).annotation("k", "v")],
    );
    assert_ne!(first, second);
    let mut sizes = Vec::new();
    for (digest, artifact_type) in [(&first, sbom_type), (&second, bundle_type)] {
        let (media_type, bytes, referrer) = manifest_json(&reg, repo, digest);
        assert_eq!(media_type, media::OCI_MANIFEST);
        assert_eq!(sha256_digest(&bytes), *digest);
        assert_eq!(referrer["artifactType"], artifact_type);
        assert_eq!(referrer["config"]["mediaType"], media::OCI_EMPTY);
        assert_eq!(referrer["subject"]["digest"], image.as_str());
        assert_eq!(referrer["subject"]["mediaType"], media::OCI_MANIFEST);
        assert_eq!(referrer["subject"]["size"], image_bytes.len());
        assert_eq!(referrer["layers"][0]["mediaType"], artifact_type);
        sizes.push(bytes.len());
    }
    let (index_type, _, index) = manifest_json(&reg, repo, &referrers_tag(&image));
    assert_eq!(index_type, media::OCI_INDEX);
    assert_eq!(index["mediaType"], media::OCI_INDEX);
    let listed = index["manifests"].as_array().unwrap();
    assert_eq!(listed.len(), 2, "{index}");
    for (entry, (digest, (artifact_type, size))) in listed.iter().zip(
        [&first, &second]
            .into_iter()
            .zip([(sbom_type, sizes[0]), (bundle_type, sizes[1])]),
    ) {
        assert_eq!(entry["mediaType"], media::OCI_MANIFEST);
        assert_eq!(entry["digest"], digest.as_str());
        assert_eq!(entry["size"], size);
        assert_eq!(entry["artifactType"], artifact_type);
        assert!(entry["annotations"].is_object(), "{entry}");
    }
    // Pushing the same referrer again does not list it twice.
    assert_eq!(
        reg.attach_referrer(
            repo,
            &image,
            sbom_type,
            &[Layer::new(sbom_type, spdx.clone())]
        ),
        first
    );
    let (_, _, index) = manifest_json(&reg, repo, &referrers_tag(&image));
    assert_eq!(index["manifests"].as_array().unwrap().len(), 2);
    // Distribution 2.8 has no referrers API: clients must fall back to the tag.
    let api = reg.fetch(
        &format!("/v2/{repo}/referrers/{image}"),
        Auth::Valid,
        media::OCI_INDEX,
    );
    assert_eq!(api.status, 404, "{}", String::from_utf8_lossy(&api.body));

    // A Buildx index: the image and its attestation manifest.
    let spdx_statement = statement("https://spdx.dev/Document", &image);
    let provenance = statement("https://slsa.dev/provenance/v0.2", &image);
    let (index_digest, platform_image) = reg.push_buildx_index(
        repo,
        "buildx",
        "gamma",
        &[spdx_statement.clone(), provenance.clone()],
    );
    let index = assert_stored(&reg, repo, "buildx", &index_digest);
    assert_eq!(index["mediaType"], media::OCI_INDEX);
    let manifests = index["manifests"].as_array().unwrap();
    assert_eq!(manifests.len(), 2);
    assert_eq!(manifests[0]["digest"], platform_image.as_str());
    assert_eq!(manifests[0]["platform"]["architecture"], "amd64");
    assert_eq!(manifests[0]["platform"]["os"], "linux");
    assert_eq!(manifests[1]["platform"]["architecture"], "unknown");
    assert_eq!(manifests[1]["platform"]["os"], "unknown");
    assert_eq!(
        manifests[1]["annotations"]["vnd.docker.reference.type"],
        "attestation-manifest"
    );
    assert_eq!(
        manifests[1]["annotations"]["vnd.docker.reference.digest"],
        platform_image.as_str()
    );
    let attestation_digest = manifests[1]["digest"].as_str().unwrap().to_string();
    let attestation = assert_stored(&reg, repo, &attestation_digest, &attestation_digest);
    let layers = attestation["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 2);
    for (layer, (bytes, predicate_type)) in layers.iter().zip([
        (&spdx_statement, "https://spdx.dev/Document"),
        (&provenance, "https://slsa.dev/provenance/v0.2"),
    ]) {
        assert_eq!(layer["mediaType"], media::IN_TOTO);
        assert_eq!(
            layer["annotations"]["in-toto.io/predicate-type"],
            predicate_type
        );
        assert_eq!(&blob(&reg, repo, layer["digest"].as_str().unwrap()), bytes);
    }
    let platform = assert_stored(&reg, repo, &platform_image, &platform_image);
    assert_eq!(platform["mediaType"], media::OCI_MANIFEST);
}

#[test]
fn anonymous_and_wrong_credentials_are_refused() {
    let test = "anonymous_and_wrong_credentials_are_refused";
    let Some(reg) = TestRegistry::start(test) else {
        return;
    };
    let image = reg.push_image("app", "v1", "delta");
    let path = format!("/v2/app/manifests/{image}");

    for (auth, status) in [
        (Auth::Anonymous, 401),
        (Auth::Wrong, 401),
        (Auth::Valid, 200),
    ] {
        for path in ["/v2/", path.as_str()] {
            let answer = reg.fetch(path, auth, media::OCI_MANIFEST);
            assert_eq!(answer.status, status, "{auth:?} GET {path}");
            if status == 401 {
                let challenge = answer.header("www-authenticate").unwrap_or_default();
                assert!(challenge.starts_with("Basic "), "{challenge}");
            }
        }
    }

    // The Docker config directories, as DOCKER_CONFIG, through a real client (skopeo reads
    // config.json as an auth file).
    let inspect = |config: &std::path::Path| {
        Command::new("skopeo")
            .args(["inspect", "--raw", "--cert-dir"])
            .arg(reg.cert_dir())
            .arg("--authfile")
            .arg(config.join("config.json"))
            .arg(format!("docker://{}", reg.reference("app", "v1")))
            .output()
            .unwrap()
    };
    let good = inspect(reg.docker_config_dir());
    assert!(
        good.status.success(),
        "{}",
        String::from_utf8_lossy(&good.stderr)
    );
    assert_eq!(sha256_digest(&good.stdout), image);
    let bad = inspect(reg.wrong_docker_config_dir());
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("unauthorized") || err.contains("401"), "{err}");
    let config: Value = serde_json::from_slice(
        &std::fs::read(reg.docker_config_dir().join("config.json")).unwrap(),
    )
    .unwrap();
    assert!(config["auths"][reg.host()]["auth"].is_string(), "{config}");

    // TLS: the server's certificate is for 127.0.0.1 and chains to the CA only.
    let untrusted = Command::new("skopeo")
        .args(["inspect", "--raw", "--creds"])
        .arg(format!("{}:{}", reg.username(), reg.password()))
        .arg(format!("docker://{}", reg.reference("app", "v1")))
        .env("SSL_CERT_FILE", "/dev/null")
        .env("SSL_CERT_DIR", "/nonexistent")
        .output()
        .unwrap();
    assert!(
        !untrusted.status.success(),
        "a client without the CA trusted the registry"
    );
    assert!(
        std::fs::read_to_string(reg.ca_file())
            .unwrap()
            .contains("BEGIN CERTIFICATE")
    );
}

#[test]
fn raw_manifests_and_a_stopped_registry() {
    let test = "raw_manifests_and_a_stopped_registry";
    let Some(mut reg) = TestRegistry::start(test) else {
        return;
    };
    let image = reg.push_image("app", "v1", "epsilon");
    let (_, bytes) = reg.manifest("app", "v1").unwrap();

    // The same bytes under another tag: the same digest.
    assert_eq!(
        reg.push_raw_manifest("app", "copy", media::OCI_MANIFEST, &bytes),
        Ok(image.clone())
    );
    // Malformed JSON and a manifest naming a blob the registry lacks are refused.
    let err = reg
        .push_raw_manifest("app", "bad", media::OCI_MANIFEST, b"{\"nope")
        .unwrap_err();
    assert!(
        err.contains("MANIFEST_INVALID") && err.starts_with("HTTP 400"),
        "{err}"
    );
    let missing_layer = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": media::OCI_MANIFEST,
        "config": {"mediaType": media::OCI_CONFIG, "digest": sha256_digest(b"nothing"), "size": 7},
        "layers": [],
    });
    let err = reg
        .push_raw_manifest(
            "app",
            "dangling",
            media::OCI_MANIFEST,
            missing_layer.to_string().as_bytes(),
        )
        .unwrap_err();
    assert!(
        err.contains("MANIFEST_BLOB_UNKNOWN") || err.contains("BLOB_UNKNOWN"),
        "{err}"
    );
    // Size: Distribution 2.8.2 takes a manifest of 4 MiB (what the distribution spec asks
    // registries to accept at least) and refuses one byte more; larger ones, for a client's own
    // limit, have to come from another kind of server.
    let sized = |len: usize| {
        let mut value: Value = serde_json::from_slice(&bytes).unwrap();
        value["annotations"] = serde_json::json!({"padding": ""});
        let base = value.to_string().len();
        value["annotations"]["padding"] = Value::String("x".repeat(len - base));
        let out = value.to_string().into_bytes();
        assert_eq!(out.len(), len);
        out
    };
    for (len, kept) in [(4 << 20, true), ((4 << 20) + 1, false)] {
        let large = sized(len);
        let answer = reg.push_raw_manifest("app", "large", media::OCI_MANIFEST, &large);
        if kept {
            assert_eq!(answer, Ok(sha256_digest(&large)), "{len} bytes");
            assert_eq!(reg.manifest("app", "large").unwrap().1, large);
        } else {
            let err = answer.unwrap_err();
            assert!(
                err.starts_with("HTTP 400") && err.contains("request body too large"),
                "{len} bytes: {err}"
            );
        }
    }

    let host = reg.host();
    assert!(reg.is_running());
    reg.stop();
    assert!(!reg.is_running());
    assert!(
        TcpStream::connect(&host).is_err(),
        "the registry still listens on {host}"
    );
    reg.stop(); // twice is fine
}
