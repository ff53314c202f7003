//! Real SLSA provenance from slsa-verifier's testdata: every DSSE envelope, Statement and JSON
//! lines file parses, and two of them (one v0.2, one v1) give the facts read with jq.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use portcullis_evidence::{Evidence, Format, Limits, detect, parse, parse_as};

const SIGSTORE_BUNDLE: &str = "application/vnd.dev.sigstore.bundle";

fn read(path: &std::path::Path) -> Vec<u8> {
    std::fs::read(path).unwrap()
}

/// The DSSE envelope inside a Sigstore bundle (`dsseEnvelope`), as its own JSON document.
fn bundle_envelope(bytes: &[u8]) -> Vec<u8> {
    let bundle: serde_json::Value = serde_json::from_slice(bytes).unwrap();
    serde_json::to_vec(&bundle["dsseEnvelope"]).unwrap()
}

#[test]
fn every_envelope_statement_and_jsonl_file_parses() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let dir = corpus.join("slsa-provenance");
    let (mut dsse, mut bundles, mut failures) = (0, 0, Vec::new());
    for path in common::files_under(&dir) {
        let rel = path.strip_prefix(&dir).unwrap().display().to_string();
        let bytes = read(&path);
        let meta: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        let is_bundle = meta["mediaType"]
            .as_str()
            .is_some_and(|m| m.starts_with(SIGSTORE_BUNDLE));
        match detect(&bytes) {
            Ok(f @ (Format::Dsse | Format::IntotoStatement | Format::IntotoJsonl)) => {
                dsse += 1;
                match parse(&bytes, &Limits::default()) {
                    Ok(e) if e.attestations.len() == 1 => {}
                    other => failures.push(format!("{rel} ({f:?}): {other:?}")),
                }
                // The one-line `.intoto.jsonl` files read as JSON lines too.
                if rel.ends_with(".jsonl")
                    && let Err(e) = parse_as(Format::IntotoJsonl, &bytes, &Limits::default())
                {
                    failures.push(format!("{rel} as JSON lines: {e}"));
                }
            }
            // Sigstore bundles: detected as such, and their statement is the one their DSSE
            // envelope holds.
            Ok(Format::SigstoreBundle) if is_bundle => {
                bundles += 1;
                match (
                    parse(&bytes, &Limits::default()),
                    parse_as(Format::Dsse, &bundle_envelope(&bytes), &Limits::default()),
                ) {
                    (Ok(b), Ok(d))
                        if b.attestations == d.attestations && b.attestations.len() == 1 => {}
                    other => failures.push(format!("{rel} (bundle): {other:?}")),
                }
            }
            other => failures.push(format!("{rel}: unexpected detection {other:?}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // for f in $(find slsa-provenance -type f ! -name LICENSE); do jq -r 'if has("payloadType")
    //   then "dsse" elif has("mediaType") then .mediaType else "other" end' $f; done | sort | uniq -c
    //   -> 7 dsse, 4 application/vnd.dev.sigstore.bundle+json;version=0.1
    assert_eq!((dsse, bundles), (7, 4));
}

fn provenance_of(e: &Evidence) -> &portcullis_evidence::Provenance {
    e.attestations[0].statement.provenance.as_ref().unwrap()
}

#[test]
fn slsa_v02_generic_generator_facts() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let f = corpus
        .join("slsa-provenance/gha_generic/v1.10.0/binary-linux-amd64-push-v14.2.intoto.jsonl");
    let e = parse(&read(&f), &Limits::default()).unwrap();
    assert_eq!(e.format, Format::Dsse);
    let a = &e.attestations[0];
    let env = a.envelope.as_ref().unwrap();
    // jq -r .payload $f | base64 -d | wc -c -> 10257
    assert_eq!(env.payload.len(), 10257);
    assert_eq!(env.payload_type, "application/vnd.in-toto+json");
    // jq -r .signatures[0].sig $f | base64 -d | wc -c -> 72 ; jq .signatures[0].keyid -> ""
    assert_eq!(env.signatures.len(), 1);
    assert_eq!(env.signatures[0].sig.len(), 72);
    assert_eq!(env.signatures[0].keyid.as_deref(), Some(""));
    // jq -r .payload $f | base64 -d | jq -r '._type, .predicateType'
    assert_eq!(
        a.statement.statement_type,
        "https://in-toto.io/Statement/v0.1"
    );
    assert_eq!(
        a.statement.predicate_type,
        "https://slsa.dev/provenance/v0.2"
    );
    // jq -r .payload $f | base64 -d | jq -c '.subject'
    assert_eq!(a.statement.subjects.len(), 1);
    assert_eq!(
        a.statement.subjects[0].name,
        "gha_generic-binary-linux-amd64-v14.2"
    );
    assert_eq!(
        a.statement.subjects[0].digest["sha256"],
        "2892146b063a94cb4a4318c0e98d38af12dcf2b1e29237486b58463b59607bbd"
    );
    let p = provenance_of(&e);
    assert_eq!(p.slsa_version, "0.2");
    // jq -r .payload $f | base64 -d | jq -r '.predicate | .builder.id, .buildType,
    //   .invocation.configSource.uri, .invocation.configSource.digest.sha1, (.materials|length)'
    assert_eq!(
        p.builder_id,
        "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_generic_slsa3.yml@refs/tags/v1.10.0"
    );
    assert_eq!(
        p.build_type,
        "https://github.com/slsa-framework/slsa-github-generator/generic@v1"
    );
    // configSource.uri = git+https://github.com/slsa-framework/example-package@refs/tags/v14.2
    assert_eq!(
        p.source_repo.as_deref(),
        Some("https://github.com/slsa-framework/example-package")
    );
    assert_eq!(p.source_ref.as_deref(), Some("refs/tags/v14.2"));
    assert_eq!(
        p.source_commit.as_deref(),
        Some("d37a7f740ee7404914456f24dcd90e865a0509e8")
    );
    assert_eq!(p.materials.len(), 1);
    // .predicate.metadata has no buildStartedOn/buildFinishedOn in this file.
    assert_eq!(p.build_started_on, None);
    // The single subject becomes the artifact.
    let art = e.artifact.as_ref().unwrap();
    assert_eq!(
        art.digest.as_deref(),
        Some("sha256:2892146b063a94cb4a4318c0e98d38af12dcf2b1e29237486b58463b59607bbd")
    );
}

#[test]
fn slsa_v1_container_based_facts() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    // A Sigstore bundle, detected from its mediaType; its `dsseEnvelope` is a plain DSSE envelope.
    let f = corpus.join(
        "slsa-provenance/gha_container-based/v1.8.0/binary-linux-amd64-push-v14.2.intoto.jsonl",
    );
    let e = parse(&read(&f), &Limits::default()).unwrap();
    assert_eq!(e.format, Format::SigstoreBundle);
    let a = &e.attestations[0];
    // jq -r .dsseEnvelope.payload $f | base64 -d | wc -c -> 10546
    assert_eq!(a.envelope.as_ref().unwrap().payload.len(), 10546);
    // jq -r .dsseEnvelope.payload $f | base64 -d | jq -r '.predicateType, (.subject[] | .name, .digest.sha256)'
    assert_eq!(a.statement.predicate_type, "https://slsa.dev/provenance/v1");
    assert_eq!(a.statement.subjects.len(), 1);
    assert_eq!(
        a.statement.subjects[0].name,
        "gha_container-based-binary-linux-amd64-v14.2"
    );
    assert_eq!(
        a.statement.subjects[0].digest["sha256"],
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    let p = provenance_of(&e);
    assert_eq!(p.slsa_version, "1");
    // jq -r .dsseEnvelope.payload $f | base64 -d | jq -r '.predicate | .runDetails.builder.id,
    //   .buildDefinition.buildType, .buildDefinition.externalParameters.source.uri,
    //   .buildDefinition.externalParameters.source.digest.sha1,
    //   (.buildDefinition.resolvedDependencies|length)'
    assert_eq!(
        p.builder_id,
        "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/builder_container-based_slsa3.yml@refs/tags/v1.8.0"
    );
    assert_eq!(
        p.build_type,
        "https://slsa.dev/container-based-build/v0.1?draft"
    );
    // source.uri = git+https://github.com/slsa-framework/example-package@refs/tags/v14.2
    assert_eq!(
        p.source_repo.as_deref(),
        Some("https://github.com/slsa-framework/example-package")
    );
    assert_eq!(p.source_ref.as_deref(), Some("refs/tags/v14.2"));
    assert_eq!(
        p.source_commit.as_deref(),
        Some("6cf671f47f3752f97b9f5bff511e37b938fe10d2")
    );
    assert_eq!(p.materials.len(), 2);
    assert!(p.invocation.as_ref().unwrap()["builderImage"].is_object());
}

/// An SBOM as the predicate of a Statement (Docker Buildx's SBOM attestation, `cosign attest
/// --type spdxjson`): a real SPDX document wrapped the way Buildx writes it gives the same
/// components as the bare document; a CycloneDX predicate too; a broken SBOM predicate is an
/// error pointing inside `/predicate`, never an attestation with no components.
#[test]
fn sbom_predicates_give_their_components() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let spdx_path = corpus.join("spdx-examples/software_example11_spdx2.3_sbom.spdx.json");
    let spdx_bytes = read(&spdx_path);
    let bare = parse(&spdx_bytes, &Limits::default()).unwrap();
    assert!(!bare.components.is_empty());
    let wrap = |predicate_type: &str, predicate: serde_json::Value| {
        serde_json::to_vec(&serde_json::json!({
            "_type": "https://in-toto.io/Statement/v0.1",
            "predicateType": predicate_type,
            "subject": [{"name": "pkg:docker/acme/app@1.0?platform=linux%2Famd64",
                         "digest": {"sha256": "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"}}],
            "predicate": predicate,
        }))
        .unwrap()
    };
    let spdx: serde_json::Value = serde_json::from_slice(&spdx_bytes).unwrap();
    let wrapped = parse(
        &wrap("https://spdx.dev/Document", spdx.clone()),
        &Limits::default(),
    )
    .unwrap();
    assert_eq!(wrapped.format, Format::IntotoStatement);
    assert_eq!(wrapped.attestations.len(), 1);
    assert_eq!(wrapped.components, bare.components);

    let cdx_path = common::files_under(&corpus.join("cyclonedx-examples/SBOM_juice-shop_v11.1.2"))
        .into_iter()
        .find(|p| p.extension().is_some_and(|e| e == "json"))
        .unwrap();
    let cdx_bytes = read(&cdx_path);
    let cdx: serde_json::Value = serde_json::from_slice(&cdx_bytes).unwrap();
    let cdx_bare = parse(&cdx_bytes, &Limits::default()).unwrap();
    let cdx_wrapped = parse(
        &wrap("https://cyclonedx.org/bom/v1.4", cdx),
        &Limits::default(),
    )
    .unwrap();
    assert!(!cdx_wrapped.components.is_empty());
    assert_eq!(cdx_wrapped.components, cdx_bare.components);

    let mut broken = spdx;
    broken["packages"] = serde_json::json!("not a list");
    let err = parse(
        &wrap("https://spdx.dev/Document", broken),
        &Limits::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("/predicate"), "{err}");

    // Other predicate types are not read as SBOMs.
    let other = parse(
        &wrap(
            "https://example.com/custom/v1",
            serde_json::json!({"packages": []}),
        ),
        &Limits::default(),
    )
    .unwrap();
    assert!(other.components.is_empty());
}
