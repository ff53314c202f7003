//! Signing: a DSSE envelope made with an operator's private key, of the kinds the verifier
//! trusts (Ed25519, ECDSA P-256 with SHA-256, ECDSA P-384 with SHA-384), read from a PKCS#8
//! PEM file (`-----BEGIN PRIVATE KEY-----`, as `openssl genpkey` and securesystemslib write).
//!
//! Both algorithms sign deterministically (Ed25519 by construction, ECDSA with RFC 6979
//! nonces), so the same statement and key always give the same envelope: a build that signs
//! its own provenance stays reproducible. RSA is not offered for signing (its PSS padding
//! needs randomness, and no build of ours needs it); RSA keys are still verified.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use p256::ecdsa::signature::Signer as _;
use p256::pkcs8::{DecodePrivateKey as _, EncodePublicKey as _};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::dsse::pae;
use crate::keys::{KeyAlgorithm, PemProblem, TrustedKey, pem_der};

const OID_ED25519: &str = "1.3.101.112";
const OID_EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const OID_P256: &str = "1.2.840.10045.3.1.7";
const OID_P384: &str = "1.3.132.0.34";

/// The DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410): SEQUENCE { SEQUENCE { OID
/// 1.3.101.112 }, BIT STRING (33 bytes: no unused bits, then the 32-byte key) }.
const ED25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// Why a PEM text is not a usable signing key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigningKeyError {
    #[error(
        "no `-----BEGIN PRIVATE KEY-----` block: the key must be PKCS#8 PEM, unencrypted \
         (`openssl pkcs8 -topk8 -nocrypt` converts `EC PRIVATE KEY` and encrypted keys)"
    )]
    NoPrivateKeyBlock,
    #[error("no `-----END PRIVATE KEY-----` line")]
    NoEndLine,
    #[error("the PEM body is not base64: {0}")]
    NotBase64(String),
    #[error("not a PKCS#8 private key: {0}")]
    NotPkcs8(String),
    #[error(
        "key algorithm {0} cannot sign here (Ed25519 and ECDSA P-256/P-384 can; RSA keys are \
         verified but not used to sign)"
    )]
    Unsupported(String),
    #[error("{0}")]
    Invalid(String),
}

enum Secret {
    Ed25519(ed25519_dalek::SigningKey),
    P256(p256::ecdsa::SigningKey),
    P384(p384::ecdsa::SigningKey),
}

/// A private key that signs DSSE envelopes.
pub struct SigningKey {
    secret: Secret,
    spki_der: Vec<u8>,
}

impl std::fmt::Debug for SigningKey {
    // Never print the secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("algorithm", &self.algorithm())
            .field("keyid", &self.keyid())
            .finish_non_exhaustive()
    }
}

fn pem_private_key_der(pem: &str) -> Result<Vec<u8>, SigningKeyError> {
    pem_der(pem, "PRIVATE KEY").map_err(|p| match p {
        PemProblem::NoBlock => SigningKeyError::NoPrivateKeyBlock,
        PemProblem::NoEnd => SigningKeyError::NoEndLine,
        PemProblem::NotBase64(e) => SigningKeyError::NotBase64(e),
    })
}

fn invalid(e: impl std::fmt::Display) -> SigningKeyError {
    SigningKeyError::Invalid(e.to_string())
}

impl SigningKey {
    /// Read a PKCS#8 PEM private key of Ed25519, P-256 or P-384.
    pub fn from_pem(pem: &str) -> Result<Self, SigningKeyError> {
        let der = pem_private_key_der(pem)?;
        let info = p256::pkcs8::PrivateKeyInfo::try_from(der.as_slice())
            .map_err(|e| SigningKeyError::NotPkcs8(e.to_string()))?;
        match info.algorithm.oid.to_string().as_str() {
            OID_ED25519 => {
                // RFC 8410: the private key is an OCTET STRING (04 20) holding the 32-byte seed.
                let seed: [u8; 32] = match info.private_key {
                    [0x04, 0x20, rest @ ..] => rest.try_into().ok(),
                    _ => None,
                }
                .ok_or_else(|| invalid("an Ed25519 private key is a 32-byte seed"))?;
                let key = ed25519_dalek::SigningKey::from_bytes(&seed);
                let mut spki_der = ED25519_SPKI_PREFIX.to_vec();
                spki_der.extend_from_slice(key.verifying_key().as_bytes());
                Ok(SigningKey {
                    secret: Secret::Ed25519(key),
                    spki_der,
                })
            }
            OID_EC_PUBLIC_KEY => {
                let curve = info
                    .algorithm
                    .parameters_oid()
                    .map_err(|e| invalid(format!("an EC key without a named curve: {e}")))?
                    .to_string();
                match curve.as_str() {
                    OID_P256 => {
                        let key = p256::ecdsa::SigningKey::from_pkcs8_der(&der)
                            .map_err(|e| invalid(format!("not a P-256 private key: {e}")))?;
                        let spki_der = p256::PublicKey::from(key.verifying_key())
                            .to_public_key_der()
                            .map_err(invalid)?
                            .into_vec();
                        Ok(SigningKey {
                            secret: Secret::P256(key),
                            spki_der,
                        })
                    }
                    OID_P384 => {
                        let key = p384::ecdsa::SigningKey::from_pkcs8_der(&der)
                            .map_err(|e| invalid(format!("not a P-384 private key: {e}")))?;
                        let spki_der = p384::PublicKey::from(key.verifying_key())
                            .to_public_key_der()
                            .map_err(invalid)?
                            .into_vec();
                        Ok(SigningKey {
                            secret: Secret::P384(key),
                            spki_der,
                        })
                    }
                    other => Err(SigningKeyError::Unsupported(format!("EC curve {other}"))),
                }
            }
            other => Err(SigningKeyError::Unsupported(other.to_owned())),
        }
    }

    pub fn algorithm(&self) -> KeyAlgorithm {
        match self.secret {
            Secret::Ed25519(_) => KeyAlgorithm::Ed25519,
            Secret::P256(_) => KeyAlgorithm::EcdsaP256,
            Secret::P384(_) => KeyAlgorithm::EcdsaP384,
        }
    }

    /// The public half as PEM `PUBLIC KEY` (SPKI): the file to put among the trusted keys.
    pub fn public_key_pem(&self) -> String {
        let b64 = BASE64.encode(&self.spki_der);
        let mut out = String::from("-----BEGIN PUBLIC KEY-----\n");
        for chunk in b64.as_bytes().chunks(64) {
            out.push_str(&String::from_utf8_lossy(chunk));
            out.push('\n');
        }
        out.push_str("-----END PUBLIC KEY-----\n");
        out
    }

    /// The public half as a trusted key named `name`.
    pub fn public_key(&self, name: &str) -> Result<TrustedKey, crate::KeyError> {
        TrustedKey::from_pem(name, &self.public_key_pem())
    }

    /// `sha256:` and the hex SHA-256 of the public key's SPKI DER: a keyid every verifier of
    /// ours matches, whatever the trusted key's file is called.
    pub fn keyid(&self) -> String {
        let digest = Sha256::digest(&self.spki_der);
        let mut s = String::from("sha256:");
        for b in digest {
            s.push_str(&format!("{b:02x}"));
        }
        s
    }

    /// The signature of `message`: Ed25519 (64 bytes), or ECDSA in DER (as securesystemslib
    /// and cosign write it), SHA-256 for P-256 and SHA-384 for P-384.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        match &self.secret {
            Secret::Ed25519(k) => {
                use ed25519_dalek::Signer as _;
                k.sign(message).to_bytes().to_vec()
            }
            Secret::P256(k) => {
                let sig: p256::ecdsa::Signature = k.sign(message);
                sig.to_der().as_bytes().to_vec()
            }
            Secret::P384(k) => {
                let sig: p384::ecdsa::Signature = k.sign(message);
                sig.to_der().as_bytes().to_vec()
            }
        }
    }

    /// A DSSE envelope of `payload` with one signature by this key, `keyid` naming it (the
    /// key's [`SigningKey::keyid`] when `None`).
    pub fn envelope(&self, payload_type: &str, payload: &[u8], keyid: Option<&str>) -> Value {
        let sig = self.sign(&pae(payload_type, payload));
        json!({
            "payloadType": payload_type,
            "payload": BASE64.encode(payload),
            "signatures": [{
                "keyid": keyid.map_or_else(|| self.keyid(), str::to_owned),
                "sig": BASE64.encode(sig),
            }],
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use crate::Envelope;
    use crate::intoto::PAYLOAD_TYPE as IN_TOTO_PAYLOAD_TYPE;
    use crate::keys::TrustedKeys;

    const ED25519_PEM: &str = "-----BEGIN PRIVATE KEY-----\n\
        MC4CAQAwBQYDK2VwBCIEIL6mz/0uafXZBNGTRTT07LCdDGwpyajVuGCqi7OiqH2W\n\
        -----END PRIVATE KEY-----\n";

    fn p256_pem() -> String {
        use p256::pkcs8::EncodePrivateKey as _;
        let secret = p256::SecretKey::from_slice(&[7u8; 32]).unwrap();
        secret
            .to_pkcs8_pem(p256::pkcs8::LineEnding::LF)
            .unwrap()
            .to_string()
    }

    fn p384_pem() -> String {
        use p384::pkcs8::EncodePrivateKey as _;
        let secret = p384::SecretKey::from_slice(&[9u8; 48]).unwrap();
        secret
            .to_pkcs8_pem(p384::pkcs8::LineEnding::LF)
            .unwrap()
            .to_string()
    }

    fn round_trip(pem: &str, algorithm: KeyAlgorithm) {
        let key = SigningKey::from_pem(pem).unwrap();
        assert_eq!(key.algorithm(), algorithm);
        let payload = br#"{"_type":"https://in-toto.io/Statement/v1"}"#;
        let env = key.envelope(IN_TOTO_PAYLOAD_TYPE, payload, None);
        let parsed = Envelope::from_json(&env).unwrap();
        let trusted = TrustedKeys::from_keys(vec![key.public_key("operator").unwrap()]);
        let check = parsed.check_signatures(&trusted);
        assert_eq!(check.signers, vec!["operator".to_owned()], "{check:?}");
        // Deterministic: the same statement and key give the same envelope.
        assert_eq!(env, key.envelope(IN_TOTO_PAYLOAD_TYPE, payload, None));
        // A changed payload does not verify under the old signature.
        let mut forged = parsed.clone();
        forged.payload = br#"{"_type":"https://in-toto.io/Statement/v0.1"}"#.to_vec();
        assert!(forged.check_signatures(&trusted).signers.is_empty());
    }

    #[test]
    fn ed25519_signs_what_the_verifier_accepts() {
        round_trip(ED25519_PEM, KeyAlgorithm::Ed25519);
    }

    #[test]
    fn p256_signs_what_the_verifier_accepts() {
        round_trip(&p256_pem(), KeyAlgorithm::EcdsaP256);
    }

    #[test]
    fn p384_signs_what_the_verifier_accepts() {
        round_trip(&p384_pem(), KeyAlgorithm::EcdsaP384);
    }

    #[test]
    fn the_public_half_is_the_examples_trusted_key() {
        // examples/signing/demo-ci.key and examples/keys/demo-ci.pub are one pair.
        let key = SigningKey::from_pem(ED25519_PEM).unwrap();
        let public = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../examples/keys/demo-ci.pub"),
        )
        .unwrap();
        assert_eq!(key.public_key_pem().trim(), public.trim());
    }

    #[test]
    fn unusable_keys_are_refused_with_the_reason() {
        assert_eq!(
            SigningKey::from_pem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
                .unwrap_err(),
            SigningKeyError::NoPrivateKeyBlock
        );
        assert!(matches!(
            SigningKey::from_pem("-----BEGIN PRIVATE KEY-----\n!!!\n-----END PRIVATE KEY-----")
                .unwrap_err(),
            SigningKeyError::NotBase64(_)
        ));
        assert!(matches!(
            SigningKey::from_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----")
                .unwrap_err(),
            SigningKeyError::NotPkcs8(_)
        ));
        assert_eq!(
            SigningKey::from_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n").unwrap_err(),
            SigningKeyError::NoEndLine
        );
        // An RSA key (its PKCS#8 header: rsaEncryption; the key itself is not read): verified,
        // never used to sign.
        assert!(matches!(
            SigningKey::from_pem(
                "-----BEGIN PRIVATE KEY-----\nMBYCAQAwDQYJKoZIhvcNAQEBBQAEAgAA\n-----END PRIVATE KEY-----\n"
            )
            .unwrap_err(),
            SigningKeyError::Unsupported(_)
        ));
    }
}
