//! Sigstore bundles end to end against a trust root made here (our own CA and log key, see
//! support/sigstore_fixture.rs): valid bundles of each version are accepted with their facts;
//! a wrong identity or issuer, a tampered artifact or payload, a certificate expired at the
//! log entry's time, an untrusted CA, a bad log signature, a bad inclusion proof and a log
//! entry of another signature are each rejected with their failure code and no facts.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "support/sigstore_fixture.rs"]
mod fixture;

use std::path::Path;

use fixture::{Ca, Entry, Leaf, Log, Signer};
use portcullis_attest::{
    ArtifactDigest, Failure, Identity, Matcher, SigstoreError, SigstoreTrust, Trust, Verification,
    verify_bundle, verify_document,
};
use serde_json::Value;

const ARTIFACT: &str = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";

fn artifact() -> ArtifactDigest {
    format!("sha256:{ARTIFACT}").parse().unwrap()
}

fn exact(san: &str, issuer: &str) -> Identity {
    Identity {
        san: Matcher::exact(san),
        issuer: Matcher::exact(issuer),
    }
}

fn trust_of(cas: &[&Ca], logs: &[&Log], identities: Vec<Identity>) -> SigstoreTrust {
    let root = fixture::trusted_root(cas, logs).to_string();
    SigstoreTrust::from_json(&root, Path::new("trusted_root.json"), identities).unwrap()
}

struct World {
    ca: Ca,
    log: Log,
    signer: Signer,
    trust: SigstoreTrust,
}

fn world() -> World {
    let ca = Ca::new("test-fulcio");
    let log = Log::new(7);
    let signer = Signer::new(&ca, &Leaf::default());
    let trust = trust_of(
        &[&ca],
        &[&log],
        vec![exact(fixture::SAN, fixture::OIDC_ISSUER)],
    );
    World {
        ca,
        log,
        signer,
        trust,
    }
}

fn good_bundle(w: &World, media_type: &str) -> Value {
    fixture::dsse_bundle(
        media_type,
        &w.signer,
        &w.log,
        &fixture::statement(ARTIFACT),
        &Entry::default(),
    )
}

#[track_caller]
fn assert_rejected(v: &Verification, failure: Failure, reason_has: &str) {
    assert!(!v.verified, "{v:?}");
    assert_eq!(v.failure, Some(failure), "{v:?}");
    assert_eq!(v.provenance, None, "a failure gives no facts: {v:?}");
    assert_eq!(v.signer, None, "{v:?}");
    let reason = v.reason.as_deref().unwrap_or_default();
    eprintln!("rejected as expected: {reason}");
    assert!(
        reason.starts_with(failure.description()),
        "reason `{reason}` does not start with `{failure}`"
    );
    assert!(
        reason.contains(reason_has),
        "reason `{reason}` does not mention `{reason_has}`"
    );
}

#[test]
fn valid_bundles_of_every_version_are_accepted_with_their_facts() {
    let w = world();
    for media_type in [fixture::V01, fixture::V02, fixture::V03, fixture::V03_OLD] {
        let v = verify_bundle(&good_bundle(&w, media_type), &artifact(), &w.trust);
        assert!(v.verified, "{media_type}: {v:?}");
        assert_eq!(v.failure, None);
        assert_eq!(v.signer.as_deref(), Some(fixture::SAN));
        assert_eq!(v.signers, vec![fixture::SAN.to_owned()]);
        assert!(v.subject_matches_artifact);
        assert_eq!(
            v.predicate_type.as_deref(),
            Some("https://slsa.dev/provenance/v1")
        );
        let p = v.provenance.unwrap();
        assert_eq!(
            p.builder_id.as_deref(),
            Some("https://ci.example/builder@v1")
        );
        assert_eq!(
            p.source_commit.as_deref(),
            Some("0123456789abcdef0123456789abcdef01234567")
        );
    }
}

#[test]
fn the_dispatcher_sends_bundles_to_sigstore_and_needs_a_trust_root() {
    let w = world();
    let bundle = good_bundle(&w, fixture::V03);
    let trust = Trust {
        sigstore: Some(w.trust.clone()),
        ..Trust::default()
    };
    let v = verify_document(&bundle, &artifact(), &trust);
    assert!(v.verified, "{v:?}");
    assert_eq!(v.signer.as_deref(), Some(fixture::SAN));

    let v = verify_document(&bundle, &artifact(), &Trust::default());
    assert_rejected(&v, Failure::NoTrustRoot, "trusted_root.json");

    // A plain DSSE envelope still goes to the trusted keys (none here).
    let envelope = bundle["dsseEnvelope"].clone();
    let v = verify_document(&envelope, &artifact(), &trust);
    assert_eq!(v.failure, Some(Failure::UntrustedKey), "{v:?}");
}

#[test]
fn a_log_entry_with_only_a_signed_entry_timestamp_or_legacy_issuer_is_accepted() {
    let w = world();
    let entry = Entry {
        inclusion_proof: false,
        ..Entry::default()
    };
    let bundle = fixture::dsse_bundle(
        fixture::V01,
        &w.signer,
        &w.log,
        &fixture::statement(ARTIFACT),
        &entry,
    );
    let v = verify_bundle(&bundle, &artifact(), &w.trust);
    assert!(v.verified, "{v:?}");

    let signer = Signer::new(
        &w.ca,
        &Leaf {
            legacy_issuer: true,
            ..Leaf::default()
        },
    );
    let bundle = fixture::dsse_bundle(
        fixture::V03,
        &signer,
        &w.log,
        &fixture::statement(ARTIFACT),
        &Entry::default(),
    );
    assert!(verify_bundle(&bundle, &artifact(), &w.trust).verified);
}

#[test]
fn identities_match_exactly_or_by_anchored_regex_and_any_of_several() {
    let w = world();
    let bundle = good_bundle(&w, fixture::V03);
    let with = |identities: Vec<Identity>| {
        verify_bundle(
            &bundle,
            &artifact(),
            &trust_of(&[&w.ca], &[&w.log], identities),
        )
    };
    let re = |san: &str, issuer: &str| Identity {
        san: Matcher::regex(san, "--certificate-identity-regexp").unwrap(),
        issuer: Matcher::regex(issuer, "--certificate-oidc-issuer-regexp").unwrap(),
    };
    assert!(
        with(vec![re(
            r"https://git\.example/acme/app/\.github/workflows/[a-z]+\.yml@refs/tags/v\d+",
            r"https://token\.actions\.example"
        )])
        .verified
    );
    // Anchored: a regex matching only part of the SAN does not match.
    let v = with(vec![re(r"https://git\.example/acme", ".*")]);
    assert_rejected(&v, Failure::IdentityMismatch, fixture::SAN);
    // Several identities: one of them is enough.
    assert!(
        with(vec![
            exact("someone@example.com", fixture::OIDC_ISSUER),
            exact(fixture::SAN, fixture::OIDC_ISSUER),
        ])
        .verified
    );
    // An email SAN.
    let signer = Signer::new(
        &w.ca,
        &Leaf {
            san: rcgen::SanType::Rfc822Name("dev@example.com".try_into().unwrap()),
            ..Leaf::default()
        },
    );
    let bundle = fixture::dsse_bundle(
        fixture::V03,
        &signer,
        &w.log,
        &fixture::statement(ARTIFACT),
        &Entry::default(),
    );
    let trust = trust_of(
        &[&w.ca],
        &[&w.log],
        vec![exact("dev@example.com", fixture::OIDC_ISSUER)],
    );
    let v = verify_bundle(&bundle, &artifact(), &trust);
    assert_eq!(v.signer.as_deref(), Some("dev@example.com"), "{v:?}");
}

#[test]
fn a_wrong_identity_is_rejected() {
    let w = world();
    let trust = trust_of(
        &[&w.ca],
        &[&w.log],
        vec![exact(
            "https://git.example/acme/other/.github/workflows/release.yml@refs/tags/v1",
            fixture::OIDC_ISSUER,
        )],
    );
    let v = verify_bundle(&good_bundle(&w, fixture::V03), &artifact(), &trust);
    assert_rejected(&v, Failure::IdentityMismatch, fixture::SAN);
}

#[test]
fn a_wrong_issuer_is_rejected() {
    let w = world();
    let trust = trust_of(
        &[&w.ca],
        &[&w.log],
        vec![exact(fixture::SAN, "https://accounts.example")],
    );
    let v = verify_bundle(&good_bundle(&w, fixture::V03), &artifact(), &trust);
    assert_rejected(&v, Failure::IssuerMismatch, fixture::OIDC_ISSUER);
}

#[test]
fn a_bundle_for_another_artifact_is_rejected() {
    let w = world();
    let other: ArtifactDigest = format!("sha256:{}", "b".repeat(64)).parse().unwrap();
    let v = verify_bundle(&good_bundle(&w, fixture::V03), &other, &w.trust);
    assert_rejected(&v, Failure::DigestMismatch, ARTIFACT);
    assert!(!v.subject_matches_artifact);
}

#[test]
fn a_tampered_payload_is_rejected() {
    let w = world();
    let mut bundle = good_bundle(&w, fixture::V03);
    // The Statement now names the verified artifact, but it is not what the leaf signed.
    let other = "c".repeat(64);
    let signed_for_other = fixture::dsse_bundle(
        fixture::V03,
        &w.signer,
        &w.log,
        &fixture::statement(&other),
        &Entry::default(),
    );
    bundle["dsseEnvelope"]["signatures"] = signed_for_other["dsseEnvelope"]["signatures"].clone();
    let v = verify_bundle(&bundle, &artifact(), &w.trust);
    assert_rejected(&v, Failure::BadSignature, "signature");

    let mut bundle = good_bundle(&w, fixture::V03);
    bundle["dsseEnvelope"]["payload"] =
        Value::String(fixture::b64(&fixture::statement(&"d".repeat(64))));
    let d: ArtifactDigest = format!("sha256:{}", "d".repeat(64)).parse().unwrap();
    let v = verify_bundle(&bundle, &d, &w.trust);
    assert_rejected(&v, Failure::BadSignature, "signature");
}

#[test]
fn a_certificate_expired_at_the_log_entry_time_is_rejected() {
    let w = world();
    let entry = Entry {
        integrated_time: fixture::AFTER_EXPIRY,
        ..Entry::default()
    };
    let bundle = fixture::dsse_bundle(
        fixture::V03,
        &w.signer,
        &w.log,
        &fixture::statement(ARTIFACT),
        &entry,
    );
    let v = verify_bundle(&bundle, &artifact(), &w.trust);
    assert_rejected(&v, Failure::ExpiredCertificate, "2025-01-02");

    // Signed before the certificate's notBefore.
    let entry = Entry {
        integrated_time: 1_735_603_200, // 2024-12-31T00:00:00Z
        ..Entry::default()
    };
    let bundle = fixture::dsse_bundle(
        fixture::V03,
        &w.signer,
        &w.log,
        &fixture::statement(ARTIFACT),
        &entry,
    );
    let v = verify_bundle(&bundle, &artifact(), &w.trust);
    assert_rejected(&v, Failure::CertificateNotYetValid, "2025-01-01");
}

#[test]
fn a_certificate_of_an_untrusted_ca_is_rejected() {
    let w = world();
    let rogue = Ca::new("rogue");
    let signer = Signer::new(&rogue, &Leaf::default());
    let bundle = fixture::dsse_bundle(
        fixture::V03,
        &signer,
        &w.log,
        &fixture::statement(ARTIFACT),
        &Entry::default(),
    );
    let v = verify_bundle(&bundle, &artifact(), &w.trust);
    assert_rejected(&v, Failure::UntrustedCertificate, "chain");
}

#[test]
fn a_bad_log_signature_is_rejected() {
    let w = world();
    let rogue = Log::new(9);
    // Logged by a log the trust root does not know (SET and checkpoint by the rogue key).
    let bundle = fixture::dsse_bundle(
        fixture::V03,
        &w.signer,
        &rogue,
        &fixture::statement(ARTIFACT),
        &Entry::default(),
    );
    let v = verify_bundle(&bundle, &artifact(), &w.trust);
    assert_rejected(&v, Failure::InvalidLogEntry, "");

    // The trusted log's id, but the SET is not its signature.
    let mut bundle = good_bundle(&w, fixture::V03);
    let entry = &mut bundle["verificationMaterial"]["tlogEntries"][0];
    let forged = rogue.set(b"something else", fixture::SIGNED_AT, 5);
    entry["inclusionPromise"]["signedEntryTimestamp"] = Value::String(fixture::b64(&forged));
    let v = verify_bundle(&bundle, &artifact(), &w.trust);
    assert_rejected(&v, Failure::InvalidLogEntry, "SET");

    // The integrated time changed after the log signed it.
    let mut bundle = good_bundle(&w, fixture::V03);
    bundle["verificationMaterial"]["tlogEntries"][0]["integratedTime"] =
        Value::String((fixture::SIGNED_AT + 60).to_string());
    let v = verify_bundle(&bundle, &artifact(), &w.trust);
    assert_rejected(&v, Failure::InvalidLogEntry, "SET");

    // A checkpoint not signed by the trusted log.
    let mut bundle = good_bundle(&w, fixture::V03);
    let proof = &mut bundle["verificationMaterial"]["tlogEntries"][0]["inclusionProof"];
    let root_bytes = base64_decode(proof["rootHash"].as_str().unwrap());
    proof["checkpoint"]["envelope"] = Value::String(rogue.checkpoint(7, &root_bytes));
    let v = verify_bundle(&bundle, &artifact(), &w.trust);
    assert_rejected(&v, Failure::InvalidLogEntry, "checkpoint");
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

#[test]
fn a_bad_inclusion_proof_is_rejected() {
    let w = world();
    let mut bundle = good_bundle(&w, fixture::V03);
    let proof = &mut bundle["verificationMaterial"]["tlogEntries"][0]["inclusionProof"];
    let mut first = base64_decode(proof["hashes"][0].as_str().unwrap());
    first[0] ^= 1;
    proof["hashes"][0] = Value::String(fixture::b64(&first));
    let v = verify_bundle(&bundle, &artifact(), &w.trust);
    assert_rejected(&v, Failure::InvalidLogEntry, "inclusion proof");

    // The right hashes, the wrong position.
    let mut bundle = good_bundle(&w, fixture::V03);
    let proof = &mut bundle["verificationMaterial"]["tlogEntries"][0]["inclusionProof"];
    proof["logIndex"] = Value::String("4".into());
    let v = verify_bundle(&bundle, &artifact(), &w.trust);
    assert_eq!(v.failure, Some(Failure::InvalidLogEntry), "{v:?}");
}

#[test]
fn a_log_entry_of_another_signature_is_rejected() {
    let w = world();
    // A genuine, proven entry — of a different envelope.
    let other = fixture::dsse_bundle(
        fixture::V03,
        &w.signer,
        &w.log,
        &fixture::statement(&"e".repeat(64)),
        &Entry::default(),
    );
    let mut bundle = good_bundle(&w, fixture::V03);
    bundle["verificationMaterial"]["tlogEntries"] =
        other["verificationMaterial"]["tlogEntries"].clone();
    let v = verify_bundle(&bundle, &artifact(), &w.trust);
    assert_rejected(&v, Failure::InvalidLogEntry, "");
}

#[test]
fn a_keyless_bundle_without_a_verified_time_is_rejected() {
    let w = world();
    let entry = Entry {
        set: false,
        ..Entry::default()
    };
    let bundle = fixture::dsse_bundle(
        fixture::V03,
        &w.signer,
        &w.log,
        &fixture::statement(ARTIFACT),
        &entry,
    );
    let v = verify_bundle(&bundle, &artifact(), &w.trust);
    assert_rejected(&v, Failure::InvalidTimestamp, "timestamp");
}

#[test]
fn a_message_signature_bundle_over_the_artifact_verifies() {
    let w = world();
    let bytes = b"the artifact itself";
    let digest: ArtifactDigest = format!("sha256:{}", fixture::sha256_hex(bytes))
        .parse()
        .unwrap();
    let bundle = fixture::message_bundle(&w.signer, &w.log, bytes, &Entry::default());
    let v = verify_bundle(&bundle, &digest, &w.trust);
    assert!(v.verified, "{v:?}");
    assert_eq!(v.signer.as_deref(), Some(fixture::SAN));
    assert_eq!(v.predicate_type, None);
    assert_eq!(v.provenance, None);

    let v = verify_bundle(&bundle, &artifact(), &w.trust);
    assert_rejected(&v, Failure::DigestMismatch, "");
}

#[test]
fn malformed_bundles_say_where() {
    let w = world();
    let mut bundle = good_bundle(&w, fixture::V03);
    bundle["mediaType"] =
        Value::String("application/vnd.dev.sigstore.bundle+json;version=9".into());
    let v = verify_bundle(&bundle, &artifact(), &w.trust);
    assert_rejected(&v, Failure::MalformedEnvelope, "/mediaType");

    let mut bundle = good_bundle(&w, fixture::V03);
    bundle["verificationMaterial"]["tlogEntries"][0]["logIndex"] = Value::Bool(true);
    let v = verify_bundle(&bundle, &artifact(), &w.trust);
    assert_rejected(&v, Failure::MalformedEnvelope, "");

    let mut bundle = good_bundle(&w, fixture::V03);
    bundle["dsseEnvelope"]["payload"] = Value::String(fixture::b64(b"{\"_type\": 1}"));
    let v = verify_bundle(&bundle, &artifact(), &w.trust);
    assert_rejected(
        &v,
        Failure::MalformedEnvelope,
        "/dsseEnvelope/payload/_type",
    );

    let mut bundle = good_bundle(&w, fixture::V03);
    bundle["dsseEnvelope"]["payloadType"] = Value::String("text/plain".into());
    let v = verify_bundle(&bundle, &artifact(), &w.trust);
    assert_rejected(&v, Failure::WrongPayloadType, "text/plain");

    // Arbitrary garbage under the bundle media type never panics and never verifies.
    for doc in [
        serde_json::json!({"mediaType": fixture::V03}),
        serde_json::json!({"mediaType": fixture::V03, "verificationMaterial": null, "dsseEnvelope": 3}),
        serde_json::json!({"mediaType": fixture::V01, "verificationMaterial": {"tlogEntries": []}, "dsseEnvelope": {}}),
    ] {
        let v = verify_bundle(&doc, &artifact(), &w.trust);
        assert_eq!(v.failure, Some(Failure::MalformedEnvelope), "{doc}: {v:?}");
    }
}

#[test]
fn a_bad_trust_root_or_identity_is_an_error_naming_the_file_and_place() {
    let w = world();
    let path = Path::new("/etc/portcullis/trusted_root.json");
    let ids = || vec![exact(fixture::SAN, fixture::OIDC_ISSUER)];
    let err = |text: &str| {
        SigstoreTrust::from_json(text, path, ids())
            .unwrap_err()
            .to_string()
    };
    let e = err("{ not json");
    assert!(
        e.contains("/etc/portcullis/trusted_root.json") && e.contains("line 1"),
        "{e}"
    );
    let e = err(r#"{"mediaType": "application/json"}"#);
    assert!(
        e.contains("/mediaType") && e.contains("not a TrustedRoot"),
        "{e}"
    );
    let mut root = fixture::trusted_root(&[&w.ca], &[&w.log]);
    root["tlogs"][0]["publicKey"]["rawBytes"] = Value::Bool(false);
    let e = err(&root.to_string());
    assert!(e.contains("/tlogs/0/publicKey/rawBytes"), "{e}");
    let root = fixture::trusted_root(&[], &[&w.log]);
    let e = err(&root.to_string());
    assert!(e.contains("no Fulcio certificate authority"), "{e}");
    let root = fixture::trusted_root(&[&w.ca], &[&w.log]).to_string();
    assert!(matches!(
        SigstoreTrust::from_json(&root, path, Vec::new()),
        Err(SigstoreError::NoIdentity)
    ));
    let e = Matcher::regex("(unclosed", "--certificate-identity-regexp")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("--certificate-identity-regexp") && e.contains("(unclosed"),
        "{e}"
    );
    // Loading from a file names it.
    let e = SigstoreTrust::load(Path::new("/nonexistent/trusted_root.json"), ids())
        .unwrap_err()
        .to_string();
    assert!(e.contains("/nonexistent/trusted_root.json"), "{e}");
}

#[test]
fn sigstore_trust_can_be_shared_across_threads() {
    fn shared<T: Send + Sync + Clone + std::fmt::Debug>() {}
    shared::<SigstoreTrust>();
    shared::<Trust>();
}

/// Real public-good bundles (slsa-verifier testdata, Sigstore bundle v0.1 with Rekor `intoto`
/// entries, 2023) verified against the public-good trust root as an operator supplies it: a
/// trusted_root.json file. The file is the snapshot sigstore-trust-root ships (the same
/// document `cosign trusted-root` / the sigstore root-signing repository give), written out
/// here, since the tests never go on-line. Skips when the corpus is absent (fails under CI).
#[test]
fn public_good_bundles_from_the_corpus_verify_against_the_public_good_trust_root() {
    let Some(dir) = portcullis_testkit::corpus(
        "public-good bundles",
        "slsa-provenance/gha_container-based/v1.8.0",
    ) else {
        return;
    };
    let root_file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        root_file.path(),
        sigstore_verify::trust_root::SIGSTORE_PRODUCTION_TRUSTED_ROOT,
    )
    .unwrap();
    let builder = Identity {
        san: Matcher::regex(
            r"https://github\.com/slsa-framework/slsa-github-generator/\.github/workflows/builder_container-based_slsa3\.yml@refs/tags/v[0-9.]+",
            "--certificate-identity-regexp",
        )
        .unwrap(),
        issuer: Matcher::exact("https://token.actions.githubusercontent.com"),
    };
    let trust = SigstoreTrust::load(root_file.path(), vec![builder.clone()]).unwrap();
    assert!(
        trust.ct_logs > 0,
        "the public-good root has CT logs: SCTs are checked"
    );
    // The subject of these test builds is the empty file.
    let empty: ArtifactDigest =
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
            .parse()
            .unwrap();
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    assert_eq!(paths.len(), 4, "{paths:?}");
    for path in &paths {
        let docs = portcullis_attest::read_documents(&std::fs::read(path).unwrap()).unwrap();
        assert_eq!(docs.len(), 1);
        let doc = &docs[0];
        assert_eq!(doc["mediaType"], fixture::V01);
        let v = verify_bundle(doc, &empty, &trust);
        assert!(v.verified, "{}: {v:?}", path.display());
        let signer = v.signer.as_deref().unwrap();
        assert!(
            signer.starts_with("https://github.com/slsa-framework/slsa-github-generator/"),
            "{signer}"
        );
        let p = v.provenance.as_ref().unwrap();
        assert_eq!(p.slsa_version, "v1");
        assert!(
            p.builder_id
                .as_deref()
                .unwrap()
                .starts_with("https://github.com/slsa-framework/slsa-github-generator/"),
            "{p:?}"
        );

        // The same bundle for another artifact, another identity, or without a trust root.
        let v = verify_bundle(doc, &artifact(), &trust);
        assert_rejected(&v, Failure::DigestMismatch, "e3b0c442");
        let other = SigstoreTrust::load(
            root_file.path(),
            vec![exact(
                "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main",
                "https://token.actions.githubusercontent.com",
            )],
        )
        .unwrap();
        let v = verify_bundle(doc, &empty, &other);
        assert_rejected(
            &v,
            Failure::IdentityMismatch,
            "builder_container-based_slsa3.yml",
        );
        let v = verify_document(doc, &empty, &Trust::default());
        assert_rejected(&v, Failure::NoTrustRoot, "");
        // A trust root with the right Rekor key but our own CA: untrusted certificate.
        let w = world();
        let mut mixed: Value =
            serde_json::from_str(sigstore_verify::trust_root::SIGSTORE_PRODUCTION_TRUSTED_ROOT)
                .unwrap();
        mixed["certificateAuthorities"] =
            fixture::trusted_root(&[&w.ca], &[&w.log])["certificateAuthorities"].clone();
        // Our CA "valid" since 2020, so that the chain itself is what fails.
        mixed["certificateAuthorities"][0]["validFor"]["start"] = "2020-01-01T00:00:00Z".into();
        let mixed = SigstoreTrust::from_json(
            &mixed.to_string(),
            Path::new("mixed.json"),
            vec![builder.clone()],
        )
        .unwrap();
        let v = verify_bundle(doc, &empty, &mixed);
        assert_rejected(&v, Failure::UntrustedCertificate, "chain");
    }
}

mod never_panics {
    use super::*;
    use proptest::prelude::*;
    use std::sync::LazyLock;

    /// One valid bundle and its trust, made once.
    static CASE: LazyLock<(Value, Value, SigstoreTrust, Verification)> = LazyLock::new(|| {
        let w = world();
        let bundle = good_bundle(&w, fixture::V02);
        let good = verify_bundle(&bundle, &artifact(), &w.trust);
        assert!(good.verified, "{good:?}");
        let root = fixture::trusted_root(&[&w.ca], &[&w.log]);
        (bundle, root, w.trust, good)
    });

    fn leaves(v: &Value, at: String, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => m
                .iter()
                .for_each(|(k, v)| leaves(v, format!("{at}/{k}"), out)),
            Value::Array(a) => a
                .iter()
                .enumerate()
                .for_each(|(i, v)| leaves(v, format!("{at}/{i}"), out)),
            _ => out.push(at),
        }
    }

    fn replacement() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            ".{0,40}".prop_map(Value::String),
            proptest::collection::vec(any::<u8>(), 0..80)
                .prop_map(|b| Value::String(fixture::b64(&b))),
            Just(serde_json::json!({})),
            Just(serde_json::json!([])),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Any one value of a valid bundle replaced: no panic, and a bundle that still
        /// verifies says exactly what the original said.
        #[test]
        fn a_mutated_bundle_never_panics_nor_changes_the_facts(pick in any::<prop::sample::Index>(), new in replacement()) {
            let (bundle, _, trust, good) = &*CASE;
            let mut paths = Vec::new();
            leaves(bundle, String::new(), &mut paths);
            let path = pick.get(&paths);
            let mut mutated = bundle.clone();
            if let Some(slot) = mutated.pointer_mut(path) {
                *slot = new;
            }
            let v = verify_bundle(&mutated, &artifact(), trust);
            if v.verified {
                prop_assert_eq!(&v, good, "{} changed", path);
            } else {
                prop_assert!(v.failure.is_some() && v.provenance.is_none() && v.signer.is_none());
            }
        }

        /// Any one value of a trust root replaced: an error or a trust root, never a panic.
        #[test]
        fn a_mutated_trust_root_never_panics(pick in any::<prop::sample::Index>(), new in replacement()) {
            let (_, root, _, _) = &*CASE;
            let mut paths = Vec::new();
            leaves(root, String::new(), &mut paths);
            let mut mutated = root.clone();
            let path: &String = pick.get(&paths);
            if let Some(slot) = mutated.pointer_mut(path) {
                *slot = new;
            }
            let _ = SigstoreTrust::from_json(
                &mutated.to_string(),
                Path::new("trusted_root.json"),
                vec![exact(fixture::SAN, fixture::OIDC_ISSUER)],
            );
        }
    }
}

#[test]
fn identities_from_configuration_use_cosigns_names() {
    use portcullis_attest::IdentitySpec;
    let w = world();
    let specs: Vec<IdentitySpec> = serde_json::from_value(serde_json::json!([
        {"certificate_identity": "someone@example.com", "certificate_oidc_issuer": fixture::OIDC_ISSUER},
        {"certificate_identity_regexp": r"https://git\.example/acme/app/.*", "certificate_oidc_issuer_regexp": r"https://token\.actions\.example"},
    ]))
    .unwrap();
    let trust = trust_of(
        &[&w.ca],
        &[&w.log],
        IdentitySpec::to_identities(&specs).unwrap(),
    );
    assert!(verify_bundle(&good_bundle(&w, fixture::V03), &artifact(), &trust).verified);

    let err = |v: serde_json::Value| {
        let specs: Vec<IdentitySpec> = serde_json::from_value(v).unwrap();
        IdentitySpec::to_identities(&specs).unwrap_err().to_string()
    };
    let e = err(serde_json::json!([{"certificate_oidc_issuer": "x"}]));
    assert!(
        e.contains("identity constraint 0") && e.contains("certificate_identity"),
        "{e}"
    );
    let e = err(serde_json::json!([
        {"certificate_identity": "a", "certificate_oidc_issuer": "x"},
        {"certificate_identity": "a"},
    ]));
    assert!(
        e.contains("identity constraint 1") && e.contains("certificate_oidc_issuer"),
        "{e}"
    );
    let e = err(
        serde_json::json!([{"certificate_identity": "a", "certificate_identity_regexp": "a", "certificate_oidc_issuer": "x"}]),
    );
    assert!(e.contains("both"), "{e}");
    let e = err(
        serde_json::json!([{"certificate_identity_regexp": "[", "certificate_oidc_issuer": "x"}]),
    );
    assert!(e.contains("regular expression"), "{e}");
    // An unknown key is refused, not ignored.
    assert!(
        serde_json::from_value::<IdentitySpec>(
            serde_json::json!({"certificate_identity": "a", "issuer": "x"})
        )
        .is_err()
    );
}

/// As the public-good Fulcio: the leaf is issued by an intermediate, the trust root lists the
/// intermediate and the root, and a v0.1/v0.2 bundle may carry the intermediate in its chain.
#[test]
fn a_leaf_of_an_intermediate_chains_to_the_trusted_root() {
    let root_ca = Ca::new("test-root");
    let intermediate = root_ca.intermediate("test-intermediate");
    let log = Log::new(11);
    let signer = Signer::new(&intermediate, &Leaf::default());
    let mut root = fixture::trusted_root(&[&root_ca], &[&log]);
    root["certificateAuthorities"][0]["certChain"]["certificates"] = serde_json::json!([
        {"rawBytes": fixture::b64(&intermediate.der())},
        {"rawBytes": fixture::b64(&root_ca.der())},
    ]);
    let trust = SigstoreTrust::from_json(
        &root.to_string(),
        Path::new("trusted_root.json"),
        vec![exact(fixture::SAN, fixture::OIDC_ISSUER)],
    )
    .unwrap();
    let mut bundle = fixture::dsse_bundle(
        fixture::V01,
        &signer,
        &log,
        &fixture::statement(ARTIFACT),
        &Entry::default(),
    );
    let v = verify_bundle(&bundle, &artifact(), &trust);
    assert!(v.verified, "{v:?}");
    bundle["verificationMaterial"]["x509CertificateChain"]["certificates"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"rawBytes": fixture::b64(&intermediate.der())}));
    let v = verify_bundle(&bundle, &artifact(), &trust);
    assert!(v.verified, "{v:?}");

    // Only the root trusted, the intermediate shipped in the bundle: the chain is built.
    let trust_root_only = trust_of(
        &[&root_ca],
        &[&log],
        vec![exact(fixture::SAN, fixture::OIDC_ISSUER)],
    );
    let v = verify_bundle(&bundle, &artifact(), &trust_root_only);
    assert!(v.verified, "{v:?}");
    // ... but without it, there is no chain.
    let bare = fixture::dsse_bundle(
        fixture::V01,
        &signer,
        &log,
        &fixture::statement(ARTIFACT),
        &Entry::default(),
    );
    let v = verify_bundle(&bare, &artifact(), &trust_root_only);
    assert_rejected(&v, Failure::UntrustedCertificate, "chain");
}
