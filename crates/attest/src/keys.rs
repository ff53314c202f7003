//! Trusted public keys: PEM `PUBLIC KEY` (SubjectPublicKeyInfo) files in a directory.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use p256::ecdsa::signature::Verifier as _;
use rsa::pkcs8::DecodePublicKey as _;
use rsa::traits::PublicKeyParts as _;
use sha2::{Digest as _, Sha256};

use crate::AttestError;

/// Smallest RSA modulus accepted, in bits.
pub const MIN_RSA_BITS: usize = 2048;

const OID_ED25519: &str = "1.3.101.112";
const OID_EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const OID_P256: &str = "1.2.840.10045.3.1.7";
const OID_P384: &str = "1.3.132.0.34";
const OID_RSA: &str = "1.2.840.113549.1.1.1";

/// The algorithm of a trusted key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyAlgorithm {
    Ed25519,
    EcdsaP256,
    EcdsaP384,
    /// RSA with SHA-256, PSS or PKCS#1 v1.5 padding.
    RsaSha256,
}

#[derive(Debug, Clone)]
enum PublicKey {
    Ed25519(ed25519_dalek::VerifyingKey),
    P256(p256::ecdsa::VerifyingKey),
    P384(p384::ecdsa::VerifyingKey),
    Rsa(rsa::RsaPublicKey),
}

/// One trusted public key.
#[derive(Debug, Clone)]
pub struct TrustedKey {
    /// The file stem: how the key is named in results (`signer`).
    pub name: String,
    pub algorithm: KeyAlgorithm,
    /// Hex SHA-256 of the SubjectPublicKeyInfo DER.
    pub spki_sha256: String,
    /// The keyids securesystemslib computes for this key (one per plausible scheme).
    pub sslib_keyids: Vec<String>,
    key: PublicKey,
}

/// A key file that was not trusted, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusedKey {
    pub path: PathBuf,
    pub reason: String,
}

/// The set of trusted keys.
#[derive(Debug, Clone, Default)]
pub struct TrustedKeys {
    keys: Vec<TrustedKey>,
    /// Files of the directory that are not usable keys, with the reason.
    pub refused: Vec<RefusedKey>,
}

/// Why a PEM text is not a usable trusted key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("no `-----BEGIN PUBLIC KEY-----` block (only SPKI public keys are read)")]
    NoPublicKeyBlock,
    #[error("no `-----END PUBLIC KEY-----` line")]
    NoEndLine,
    #[error("the PEM body is not base64: {0}")]
    NotBase64(String),
    #[error("not a SubjectPublicKeyInfo: {0}")]
    NotSpki(String),
    /// The key's bytes are not a key of its algorithm (`what` says which and why).
    #[error("{what}")]
    InvalidKey { what: String },
    #[error("EC curve {0} is not supported (P-256 and P-384 are)")]
    UnsupportedCurve(String),
    #[error("RSA key of {bits} bits refused: at least {MIN_RSA_BITS} bits are required")]
    RsaTooSmall { bits: usize },
    #[error("key algorithm {0} is not supported (Ed25519, ECDSA P-256/P-384 and RSA are)")]
    UnsupportedAlgorithm(String),
}

fn invalid(what: String) -> KeyError {
    KeyError::InvalidKey { what }
}

/// Why a PEM text holds no block of the wanted label.
pub(crate) enum PemProblem {
    NoBlock,
    NoEnd,
    NotBase64(String),
}

/// The DER bytes of the first PEM block labelled `label` (`PUBLIC KEY`, `PRIVATE KEY`).
pub(crate) fn pem_der(pem: &str, label: &str) -> Result<Vec<u8>, PemProblem> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = pem.find(&begin).ok_or(PemProblem::NoBlock)?;
    let rest = pem.get(start + begin.len()..).unwrap_or_default();
    let stop = rest.find(&end).ok_or(PemProblem::NoEnd)?;
    let body: String = rest
        .get(..stop)
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .map_err(|e| PemProblem::NotBase64(e.to_string()))
}

fn pem_public_key_der(pem: &str) -> Result<Vec<u8>, KeyError> {
    pem_der(pem, "PUBLIC KEY").map_err(|p| match p {
        PemProblem::NoBlock => KeyError::NoPublicKeyBlock,
        PemProblem::NoEnd => KeyError::NoEndLine,
        PemProblem::NotBase64(e) => KeyError::NotBase64(e),
    })
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// securesystemslib's default keyid: SHA-256 of the canonical JSON of
/// `{"keytype", "scheme", "keyval": {"public"}}` (canonical JSON escapes only `"` and `\`).
fn sslib_keyid(keytype: &str, scheme: &str, public: &str) -> String {
    fn canonical(s: &str) -> String {
        let mut out = String::with_capacity(s.len() + 2);
        out.push('"');
        for c in s.chars() {
            if c == '"' || c == '\\' {
                out.push('\\');
            }
            out.push(c);
        }
        out.push('"');
        out
    }
    let json = format!(
        "{{\"keytype\":{},\"keyval\":{{\"public\":{}}},\"scheme\":{}}}",
        canonical(keytype),
        canonical(public),
        canonical(scheme)
    );
    hex(&Sha256::digest(json.as_bytes()))
}

/// The PEM text the `cryptography` package writes for a SubjectPublicKeyInfo.
fn spki_pem(der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::from("-----BEGIN PUBLIC KEY-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str("-----END PUBLIC KEY-----\n");
    out
}

impl TrustedKey {
    /// Read a PEM `PUBLIC KEY`. Keys of an unsupported algorithm and RSA keys under
    /// [`MIN_RSA_BITS`] are refused with the reason.
    pub fn from_pem(name: &str, pem: &str) -> Result<Self, KeyError> {
        let der = pem_public_key_der(pem)?;
        let info = spki::SubjectPublicKeyInfoRef::try_from(der.as_slice())
            .map_err(|e| KeyError::NotSpki(e.to_string()))?;
        let algorithm_oid = info.algorithm.oid.to_string();
        let raw = info.subject_public_key.raw_bytes();
        let pem_text = spki_pem(&der);
        let (algorithm, key, sslib_keyids) = match algorithm_oid.as_str() {
            OID_ED25519 => {
                let bytes: [u8; 32] = raw.try_into().map_err(|_| {
                    invalid(format!("an Ed25519 key is 32 bytes, not {}", raw.len()))
                })?;
                let vk = ed25519_dalek::VerifyingKey::from_bytes(&bytes)
                    .map_err(|e| invalid(format!("not an Ed25519 point: {e}")))?;
                let ids = vec![sslib_keyid("ed25519", "ed25519", &hex(&bytes))];
                (KeyAlgorithm::Ed25519, PublicKey::Ed25519(vk), ids)
            }
            OID_EC_PUBLIC_KEY => {
                let curve = info
                    .algorithm
                    .parameters_oid()
                    .map_err(|e| invalid(format!("an EC key without a named curve: {e}")))?
                    .to_string();
                match curve.as_str() {
                    OID_P256 => {
                        let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(raw)
                            .map_err(|e| invalid(format!("not a P-256 point: {e}")))?;
                        let ids = vec![
                            sslib_keyid("ecdsa", "ecdsa-sha2-nistp256", &pem_text),
                            sslib_keyid("ecdsa-sha2-nistp256", "ecdsa-sha2-nistp256", &pem_text),
                        ];
                        (KeyAlgorithm::EcdsaP256, PublicKey::P256(vk), ids)
                    }
                    OID_P384 => {
                        let vk = p384::ecdsa::VerifyingKey::from_sec1_bytes(raw)
                            .map_err(|e| invalid(format!("not a P-384 point: {e}")))?;
                        let ids = vec![
                            sslib_keyid("ecdsa", "ecdsa-sha2-nistp384", &pem_text),
                            sslib_keyid("ecdsa-sha2-nistp384", "ecdsa-sha2-nistp384", &pem_text),
                        ];
                        (KeyAlgorithm::EcdsaP384, PublicKey::P384(vk), ids)
                    }
                    other => {
                        return Err(KeyError::UnsupportedCurve(other.to_owned()));
                    }
                }
            }
            OID_RSA => {
                let key = rsa::RsaPublicKey::from_public_key_der(&der)
                    .map_err(|e| invalid(format!("not an RSA public key: {e}")))?;
                let bits = key.n().bits();
                if bits < MIN_RSA_BITS {
                    return Err(KeyError::RsaTooSmall { bits });
                }
                let ids = vec![
                    sslib_keyid("rsa", "rsassa-pss-sha256", &pem_text),
                    sslib_keyid("rsa", "rsa-pkcs1v15-sha256", &pem_text),
                ];
                (KeyAlgorithm::RsaSha256, PublicKey::Rsa(key), ids)
            }
            other => {
                return Err(KeyError::UnsupportedAlgorithm(other.to_owned()));
            }
        };
        Ok(TrustedKey {
            name: name.to_owned(),
            algorithm,
            spki_sha256: hex(&Sha256::digest(&der)),
            sslib_keyids,
            key,
        })
    }

    /// Whether a signature's `keyid` names this key: its file stem, the SHA-256 of its SPKI
    /// (bare or `sha256:`-prefixed) or its securesystemslib keyid.
    pub fn is_named_by(&self, keyid: &str) -> bool {
        keyid == self.name
            || keyid.eq_ignore_ascii_case(&self.spki_sha256)
            || keyid
                .strip_prefix("sha256:")
                .is_some_and(|h| h.eq_ignore_ascii_case(&self.spki_sha256))
            || self.sslib_keyids.iter().any(|id| id == keyid)
    }

    /// Whether `sig` is this key's signature of `message`. ECDSA signatures may be DER or raw
    /// r||s; RSA signatures PSS (salt of the digest length or the maximum) or PKCS#1 v1.5,
    /// all with SHA-256 (SHA-384 for P-384, as securesystemslib's `ecdsa-sha2-nistp384`).
    pub fn verifies(&self, message: &[u8], sig: &[u8]) -> bool {
        match &self.key {
            PublicKey::Ed25519(vk) => ed25519_dalek::Signature::from_slice(sig)
                .is_ok_and(|s| vk.verify_strict(message, &s).is_ok()),
            PublicKey::P256(vk) => p256::ecdsa::Signature::from_slice(sig)
                .or_else(|_| p256::ecdsa::Signature::from_der(sig))
                .is_ok_and(|s| vk.verify(message, &s).is_ok()),
            PublicKey::P384(vk) => p384::ecdsa::Signature::from_slice(sig)
                .or_else(|_| p384::ecdsa::Signature::from_der(sig))
                .is_ok_and(|s| vk.verify(message, &s).is_ok()),
            PublicKey::Rsa(key) => {
                let hashed = Sha256::digest(message);
                if key
                    .verify(rsa::Pkcs1v15Sign::new::<Sha256>(), &hashed, sig)
                    .is_ok()
                {
                    return true;
                }
                let max_salt = key.size().saturating_sub(32 + 2);
                [32, max_salt].into_iter().any(|salt| {
                    key.verify(rsa::Pss::new_with_salt::<Sha256>(salt), &hashed, sig)
                        .is_ok()
                })
            }
        }
    }
}

/// The files of a trusted-keys directory: every regular, non-hidden file, sorted by name.
pub fn key_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| !n.to_string_lossy().starts_with('.'))
        })
        .collect();
    paths.sort();
    Ok(paths)
}

impl TrustedKeys {
    /// Keys given directly (tests, embedding).
    pub fn from_keys(keys: Vec<TrustedKey>) -> Self {
        TrustedKeys {
            keys,
            refused: Vec::new(),
        }
    }

    /// Every regular, non-hidden file of `dir` is read as a PEM public key, named by its
    /// file stem. Files that are not usable keys are listed in `refused`; a directory with no
    /// usable key is an error.
    pub fn load_dir(dir: &Path) -> Result<Self, AttestError> {
        let io = |source| AttestError::Io {
            path: dir.to_path_buf(),
            source,
        };
        let paths = key_files(dir).map_err(io)?;
        let mut out = TrustedKeys::default();
        for path in paths {
            let name = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let loaded = std::fs::read(&path)
                .map_err(|e| e.to_string())
                .and_then(|bytes| {
                    String::from_utf8(bytes).map_err(|_| "not a text (PEM) file".to_owned())
                })
                .and_then(|pem| TrustedKey::from_pem(&name, &pem).map_err(|e| e.to_string()));
            match loaded {
                Ok(key) => out.keys.push(key),
                Err(reason) => out.refused.push(RefusedKey { path, reason }),
            }
        }
        if out.keys.is_empty() {
            return Err(AttestError::NoTrustedKeys {
                dir: dir.to_path_buf(),
                refused: out
                    .refused
                    .iter()
                    .map(|r| format!("{}: {}", r.path.display(), r.reason))
                    .collect(),
            });
        }
        Ok(out)
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &TrustedKey> {
        self.keys.iter()
    }

    /// Indexes of the keys a keyid names.
    pub(crate) fn matching(&self, keyid: Option<&str>) -> Vec<usize> {
        let Some(keyid) = keyid else {
            return Vec::new();
        };
        self.keys
            .iter()
            .enumerate()
            .filter(|(_, k)| k.is_named_by(keyid))
            .map(|(i, _)| i)
            .collect()
    }

    pub(crate) fn verify_with(&self, index: usize, message: &[u8], sig: &[u8]) -> bool {
        self.keys
            .get(index)
            .is_some_and(|k| k.verifies(message, sig))
    }

    pub(crate) fn name(&self, index: usize) -> &str {
        self.keys.get(index).map_or("", |k| k.name.as_str())
    }

    /// The same key material (two files holding one key count once toward a threshold).
    pub(crate) fn same_key(&self, a: usize, b: usize) -> bool {
        match (self.keys.get(a), self.keys.get(b)) {
            (Some(x), Some(y)) => x.spki_sha256 == y.spki_sha256,
            _ => false,
        }
    }
}
