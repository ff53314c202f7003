//! Real SLSA provenance (slsa-verifier testdata, v0.2 and v1) in /work/shared/corpus: each
//! envelope's claims are read — through the explicitly unverified inspection path, since
//! their signatures need the Sigstore trust root — and the verified path with a key of ours
//! refuses them and gives no facts. Skips when the corpus is absent (fails under CI). The
//! Sigstore bundles among them are verified against the public-good trust root in
//! tests/sigstore.rs.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};

use portcullis_attest::{
    ArtifactDigest, Thresholds, TrustedKey, TrustedKeys, inspect_unverified, read_documents, verify,
};

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files(&p, out);
        } else if p.to_string_lossy().ends_with(".intoto.jsonl") {
            out.push(p);
        }
    }
}

#[test]
fn every_corpus_provenance_gives_builder_source_and_commit() {
    let Some(dir) = portcullis_testkit::corpus("slsa_corpus", "slsa-provenance") else {
        return;
    };
    let mut paths = Vec::new();
    files(&dir, &mut paths);
    paths.sort();
    assert!(paths.len() >= 9, "{paths:?}");
    let ours = TrustedKeys::from_keys(vec![
        TrustedKey::from_pem(
            "ours",
            "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEALtDL5TnJW0IjrV035ANVGISrwfMpIpnlkmy/VR646b0=\n-----END PUBLIC KEY-----\n",
        )
        .unwrap(),
    ]);
    let mut versions = std::collections::BTreeSet::new();
    for path in &paths {
        let docs = read_documents(&std::fs::read(path).unwrap()).unwrap();
        for doc in docs {
            let claims =
                inspect_unverified(&doc).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert_eq!(claims.payload_type, "application/vnd.in-toto+json");
            let p = claims
                .provenance
                .unwrap_or_else(|| panic!("{}: no provenance", path.display()));
            versions.insert(p.slsa_version.clone());
            let builder = p.builder_id.as_deref().unwrap_or_default();
            assert!(
                builder.starts_with("https://github.com/"),
                "{}: {builder}",
                path.display()
            );
            let repo = p.source_repository.as_deref().unwrap_or_default();
            assert!(
                repo.starts_with("https://github.com/"),
                "{}: {repo}",
                path.display()
            );
            let commit = p.source_commit.as_deref().unwrap_or_default();
            assert!(
                commit.len() == 40 && commit.chars().all(|c| c.is_ascii_hexdigit()),
                "{}: commit {commit:?}",
                path.display()
            );
            assert!(!p.subjects.is_empty());
            eprintln!(
                "{} {}: builder {builder}, source {repo} @ {commit}",
                p.slsa_version,
                path.strip_prefix(&dir).unwrap_or(path).display()
            );
            // The verified path: not signed by a trusted key, so no facts.
            let subject = p.subjects[0].digest["sha256"].clone();
            let artifact: ArtifactDigest = format!("sha256:{subject}").parse().unwrap();
            let v = verify(&doc, &artifact, &ours, &Thresholds::default());
            assert!(!v.verified);
            assert_eq!(v.provenance, None);
        }
    }
    assert_eq!(versions.into_iter().collect::<Vec<_>>(), vec!["v0.2", "v1"]);

    // Exact values of one v1 (container-based) and one v0.2 (generic) provenance.
    let facts = |rel: &str| {
        let bytes = std::fs::read(dir.join(rel)).unwrap();
        let doc = read_documents(&bytes).unwrap().remove(0);
        inspect_unverified(&doc).unwrap().provenance.unwrap()
    };
    let v1 = facts("gha_container-based/v1.8.0/binary-linux-amd64-push-v14.2.intoto.jsonl");
    assert_eq!(
        v1.source_repository.as_deref(),
        Some("https://github.com/slsa-framework/example-package")
    );
    assert_eq!(v1.source_ref.as_deref(), Some("refs/tags/v14.2"));
    assert_eq!(
        v1.source_commit.as_deref(),
        Some("6cf671f47f3752f97b9f5bff511e37b938fe10d2")
    );
    assert_eq!(
        v1.build_type.as_deref(),
        Some("https://slsa.dev/container-based-build/v0.1?draft")
    );
    assert_eq!(v1.materials.len(), 2);
    let v02 = facts("gha_generic/v1.10.0/binary-linux-amd64-push-v14.intoto.jsonl");
    assert_eq!(v02.source_ref.as_deref(), Some("refs/tags/v14"));
    assert_eq!(
        v02.source_commit.as_deref(),
        Some("d37a7f740ee7404914456f24dcd90e865a0509e8")
    );
    assert_eq!(
        v02.entry_point.as_deref(),
        Some(".github/workflows/verifier-e2e.all.workflow_dispatch.main.all.slsa3.yml")
    );
}
