//! A Sigstore trust root made in the test — our own Fulcio-like CA (rcgen) and our own
//! Rekor-like log key (p256) — and bundles signed under it: a leaf certificate with a SAN and
//! the Fulcio issuer extension, a DSSE (or message) signature by the leaf key, and a Rekor
//! entry with a real RFC 6962 Merkle inclusion proof under a signed checkpoint and a signed
//! entry timestamp. Used by crates/attest/tests/sigstore.rs and crates/cli/tests/attest.rs.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use base64::Engine as _;
use p256::ecdsa::signature::Signer as _;
use p256::pkcs8::EncodePublicKey as _;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, CustomExtension, DistinguishedName,
    DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, SanType, SigningKey as _,
};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

pub const OIDC_ISSUER: &str = "https://token.actions.example";
pub const SAN: &str = "https://git.example/acme/app/.github/workflows/release.yml@refs/tags/v1";
pub const V01: &str = "application/vnd.dev.sigstore.bundle+json;version=0.1";
pub const V02: &str = "application/vnd.dev.sigstore.bundle+json;version=0.2";
pub const V03: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
pub const V03_OLD: &str = "application/vnd.dev.sigstore.bundle+json;version=0.3";

/// 2025-01-01T12:00:00Z: inside the default leaf's validity day.
pub const SIGNED_AT: i64 = 1_735_732_800;
/// 2025-01-03T00:00:00Z: after the default leaf's notAfter (2025-01-02T00:00:00Z).
pub const AFTER_EXPIRY: i64 = 1_735_862_400;

pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn pem(label: &str, der: &[u8]) -> String {
    let text = b64(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in text.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// DER UTF8String (the encoding of Fulcio extension 1.3.6.1.4.1.57264.1.8).
fn der_utf8(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = vec![0x0c];
    if b.len() < 128 {
        out.push(b.len() as u8);
    } else {
        out.push(0x81);
        out.push(u8::try_from(b.len()).unwrap());
    }
    out.extend_from_slice(b);
    out
}

/// A certificate authority of our own.
pub struct Ca {
    pub issuer: CertifiedIssuer<'static, KeyPair>,
}

impl Ca {
    pub fn new(name: &str) -> Self {
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::OrganizationName, "portcullis-test");
        dn.push(DnType::CommonName, name);
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.not_before = rcgen::date_time_ymd(2024, 1, 1);
        params.not_after = rcgen::date_time_ymd(2030, 1, 1);
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        Ca {
            issuer: CertifiedIssuer::self_signed(params, key).unwrap(),
        }
    }

    /// An intermediate CA signed by this one (as Fulcio's `sigstore-intermediate`).
    pub fn intermediate(&self, name: &str) -> Ca {
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::OrganizationName, "portcullis-test");
        dn.push(DnType::CommonName, name);
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::CodeSigning];
        params.not_before = rcgen::date_time_ymd(2024, 1, 1);
        params.not_after = rcgen::date_time_ymd(2030, 1, 1);
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        Ca {
            issuer: CertifiedIssuer::signed_by(params, key, &self.issuer).unwrap(),
        }
    }

    pub fn der(&self) -> Vec<u8> {
        self.issuer.der().to_vec()
    }
}

/// What the signing certificate says.
#[derive(Clone)]
pub struct Leaf {
    pub san: SanType,
    /// Written to the 1.3.6.1.4.1.57264.1.8 extension (and .1.1 when `legacy_issuer`).
    pub issuer: String,
    pub legacy_issuer: bool,
    pub not_before: (i32, u8, u8),
    pub not_after: (i32, u8, u8),
}

impl Default for Leaf {
    fn default() -> Self {
        Leaf {
            san: SanType::URI(SAN.try_into().unwrap()),
            issuer: OIDC_ISSUER.to_owned(),
            legacy_issuer: false,
            not_before: (2025, 1, 1),
            not_after: (2025, 1, 2),
        }
    }
}

/// A leaf certificate and its key.
pub struct Signer {
    pub key: KeyPair,
    pub der: Vec<u8>,
}

impl Signer {
    pub fn new(ca: &Ca, leaf: &Leaf) -> Self {
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params.subject_alt_names = vec![leaf.san.clone()];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::CodeSigning];
        params.not_before =
            rcgen::date_time_ymd(leaf.not_before.0, leaf.not_before.1, leaf.not_before.2);
        params.not_after =
            rcgen::date_time_ymd(leaf.not_after.0, leaf.not_after.1, leaf.not_after.2);
        params.custom_extensions = vec![CustomExtension::from_oid_content(
            &[1, 3, 6, 1, 4, 1, 57264, 1, 8],
            der_utf8(&leaf.issuer),
        )];
        if leaf.legacy_issuer {
            params
                .custom_extensions
                .push(CustomExtension::from_oid_content(
                    &[1, 3, 6, 1, 4, 1, 57264, 1, 1],
                    leaf.issuer.as_bytes().to_vec(),
                ));
        }
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let cert = params.signed_by(&key, &ca.issuer).unwrap();
        Signer {
            der: cert.der().to_vec(),
            key,
        }
    }

    /// ECDSA P-256 SHA-256, DER.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.key.sign(message).unwrap()
    }

    pub fn pem(&self) -> String {
        pem("CERTIFICATE", &self.der)
    }
}

/// A transparency log of our own (its key, and the other entries of its tree).
pub struct Log {
    pub key: p256::ecdsa::SigningKey,
    pub origin: String,
}

impl Log {
    pub fn new(seed: u8) -> Self {
        let mut bytes = [seed; 32];
        bytes[0] = 1;
        Log {
            key: p256::ecdsa::SigningKey::from_slice(&bytes).unwrap(),
            origin: "rekor.test - 1234567890".to_owned(),
        }
    }

    pub fn spki(&self) -> Vec<u8> {
        self.key
            .verifying_key()
            .to_public_key_der()
            .unwrap()
            .as_bytes()
            .to_vec()
    }

    pub fn log_id(&self) -> Vec<u8> {
        Sha256::digest(self.spki()).to_vec()
    }

    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        let sig: p256::ecdsa::Signature = self.key.sign(message);
        sig.to_der().as_bytes().to_vec()
    }

    /// The signed entry timestamp of an entry.
    pub fn set(&self, body: &[u8], integrated_time: i64, log_index: u64) -> Vec<u8> {
        // Canonical JSON (RFC 8785): keys sorted, no whitespace.
        let payload = json!({
            "body": b64(body),
            "integratedTime": integrated_time,
            "logID": hex(&self.log_id()),
            "logIndex": log_index,
        });
        self.sign(serde_json::to_string(&payload).unwrap().as_bytes())
    }

    /// A checkpoint (signed note) for a tree.
    pub fn checkpoint(&self, tree_size: usize, root: &[u8]) -> String {
        let body = format!("{}\n{tree_size}\n{}\n", self.origin, b64(root));
        let mut sig = self.log_id()[..4].to_vec();
        sig.extend(self.sign(body.as_bytes()));
        // The note's signer name is the log's host name (the origin line adds the tree id).
        format!("{body}\n\u{2014} rekor.test {}\n", b64(&sig))
    }
}

fn leaf_hash(data: &[u8]) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().to_vec()
}

fn node_hash(l: &[u8], r: &[u8]) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(l);
    h.update(r);
    h.finalize().to_vec()
}

fn split(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// RFC 6962 Merkle tree hash.
pub fn tree_root(leaves: &[Vec<u8>]) -> Vec<u8> {
    match leaves.len() {
        0 => Sha256::digest([]).to_vec(),
        1 => leaf_hash(&leaves[0]),
        n => {
            let k = split(n);
            node_hash(&tree_root(&leaves[..k]), &tree_root(&leaves[k..]))
        }
    }
}

/// RFC 6962 audit path of leaf `m`.
pub fn audit_path(m: usize, leaves: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let n = leaves.len();
    if n <= 1 {
        return Vec::new();
    }
    let k = split(n);
    if m < k {
        let mut p = audit_path(m, &leaves[..k]);
        p.push(tree_root(&leaves[k..]));
        p
    } else {
        let mut p = audit_path(m - k, &leaves[k..]);
        p.push(tree_root(&leaves[..k]));
        p
    }
}

/// How the bundle's log entry is made.
#[derive(Clone)]
pub struct Entry {
    pub integrated_time: i64,
    pub inclusion_proof: bool,
    pub set: bool,
    pub tree_size: usize,
    pub index: usize,
}

impl Default for Entry {
    fn default() -> Self {
        Entry {
            integrated_time: SIGNED_AT,
            inclusion_proof: true,
            set: true,
            tree_size: 7,
            index: 5,
        }
    }
}

/// A log entry (bundle JSON) for `body` of `kind`, proven by `log`.
pub fn tlog_entry(log: &Log, kind: &str, version: &str, body: &[u8], e: &Entry) -> Value {
    let mut leaves: Vec<Vec<u8>> = (0..e.tree_size)
        .map(|i| format!("{{\"other entry\":{i}}}").into_bytes())
        .collect();
    leaves[e.index] = body.to_vec();
    let root = tree_root(&leaves);
    let mut entry = json!({
        "logIndex": e.index.to_string(),
        "logId": {"keyId": b64(&log.log_id())},
        "kindVersion": {"kind": kind, "version": version},
        "integratedTime": e.integrated_time.to_string(),
        "canonicalizedBody": b64(body),
    });
    if e.set {
        entry["inclusionPromise"] = json!({
            "signedEntryTimestamp": b64(&log.set(body, e.integrated_time, e.index as u64)),
        });
    }
    if e.inclusion_proof {
        entry["inclusionProof"] = json!({
            "logIndex": e.index.to_string(),
            "rootHash": b64(&root),
            "treeSize": e.tree_size.to_string(),
            "hashes": audit_path(e.index, &leaves).iter().map(|h| b64(h)).collect::<Vec<_>>(),
            "checkpoint": {"envelope": log.checkpoint(e.tree_size, &root)},
        });
    }
    entry
}

pub fn statement(subject_sha256: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "app.tar.gz", "digest": {"sha256": subject_sha256}}],
        "predicateType": "https://slsa.dev/provenance/v1",
        "predicate": {
            "buildDefinition": {
                "buildType": "https://ci.example/workflow@v1",
                "externalParameters": {
                    "workflow": {
                        "ref": "refs/tags/v1",
                        "repository": "https://git.example/acme/app",
                        "path": ".github/workflows/release.yml"
                    }
                },
                "resolvedDependencies": [{
                    "uri": "git+https://git.example/acme/app@refs/tags/v1",
                    "digest": {"gitCommit": "0123456789abcdef0123456789abcdef01234567"}
                }]
            },
            "runDetails": {"builder": {"id": "https://ci.example/builder@v1"}}
        }
    }))
    .unwrap()
}

fn verification_material(media_type: &str, signer: &Signer, entry: Value) -> Value {
    if media_type == V01 || media_type == V02 {
        json!({
            "x509CertificateChain": {"certificates": [{"rawBytes": b64(&signer.der)}]},
            "tlogEntries": [entry],
        })
    } else {
        json!({
            "certificate": {"rawBytes": b64(&signer.der)},
            "tlogEntries": [entry],
        })
    }
}

/// The Rekor `dsse` v0.0.1 body of an envelope signed by `signer`.
pub fn dsse_body(payload: &[u8], sig: &[u8], signer: &Signer) -> Vec<u8> {
    let envelope = json!({
        "payload": b64(payload),
        "payloadType": "application/vnd.in-toto+json",
        "signatures": [{"sig": b64(sig)}],
    });
    serde_json::to_vec(&json!({
        "apiVersion": "0.0.1",
        "kind": "dsse",
        "spec": {
            "envelopeHash": {"algorithm": "sha256", "value": sha256_hex(&serde_json::to_vec(&envelope).unwrap())},
            "payloadHash": {"algorithm": "sha256", "value": sha256_hex(payload)},
            "signatures": [{"signature": b64(sig), "verifier": b64(signer.pem().as_bytes())}],
        }
    }))
    .unwrap()
}

/// A DSSE bundle carrying `payload` (an in-toto Statement), signed by `signer` and logged in
/// `log`.
pub fn dsse_bundle(
    media_type: &str,
    signer: &Signer,
    log: &Log,
    payload: &[u8],
    e: &Entry,
) -> Value {
    let pae = portcullis_attest::pae("application/vnd.in-toto+json", payload);
    let sig = signer.sign(&pae);
    let body = dsse_body(payload, &sig, signer);
    json!({
        "mediaType": media_type,
        "verificationMaterial": verification_material(media_type, signer, tlog_entry(log, "dsse", "0.0.1", &body, e)),
        "dsseEnvelope": {
            "payload": b64(payload),
            "payloadType": "application/vnd.in-toto+json",
            "signatures": [{"sig": b64(&sig), "keyid": ""}],
        },
    })
}

/// A message-signature bundle over `artifact` (the bytes), with a `hashedrekord` entry.
pub fn message_bundle(signer: &Signer, log: &Log, artifact: &[u8], e: &Entry) -> Value {
    let sig = signer.sign(artifact);
    let digest = Sha256::digest(artifact);
    let body = serde_json::to_vec(&json!({
        "apiVersion": "0.0.1",
        "kind": "hashedrekord",
        "spec": {
            "data": {"hash": {"algorithm": "sha256", "value": hex(&digest)}},
            "signature": {"content": b64(&sig), "publicKey": {"content": b64(signer.pem().as_bytes())}},
        }
    }))
    .unwrap();
    json!({
        "mediaType": V03,
        "verificationMaterial": verification_material(V03, signer, tlog_entry(log, "hashedrekord", "0.0.1", &body, e)),
        "messageSignature": {
            "messageDigest": {"algorithm": "SHA2_256", "digest": b64(&digest)},
            "signature": b64(&sig),
        },
    })
}

/// A TrustedRoot document trusting `cas` and `logs`.
pub fn trusted_root(cas: &[&Ca], logs: &[&Log]) -> Value {
    json!({
        "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
        "tlogs": logs.iter().map(|l| json!({
            "baseUrl": "https://rekor.test",
            "hashAlgorithm": "SHA2_256",
            "publicKey": {
                "rawBytes": b64(&l.spki()),
                "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                "validFor": {"start": "2024-01-01T00:00:00Z"}
            },
            "logId": {"keyId": b64(&l.log_id())}
        })).collect::<Vec<_>>(),
        "certificateAuthorities": cas.iter().map(|c| json!({
            "subject": {"organization": "portcullis-test", "commonName": "test-ca"},
            "uri": "https://fulcio.test",
            "certChain": {"certificates": [{"rawBytes": b64(&c.der())}]},
            "validFor": {"start": "2024-01-01T00:00:00Z"}
        })).collect::<Vec<_>>(),
        "ctlogs": [],
        "timestampAuthorities": []
    })
}
