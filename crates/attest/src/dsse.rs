//! DSSE: the pre-authentication encoding (PAE) and the JSON envelope.

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde_json::Value;

use crate::Malformed;
use crate::keys::TrustedKeys;

/// `PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`, lengths in bytes as
/// ASCII decimal (DSSE protocol, "Signature Definition").
pub fn pae(payload_type: &str, body: &[u8]) -> Vec<u8> {
    let head = format!(
        "DSSEv1 {} {} {} ",
        payload_type.len(),
        payload_type,
        body.len()
    );
    let mut out = Vec::with_capacity(head.len() + body.len());
    out.extend_from_slice(head.as_bytes());
    out.extend_from_slice(body);
    out
}

const INDIFFERENT: GeneralPurposeConfig =
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
const STANDARD: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, INDIFFERENT);
const URL_SAFE: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, INDIFFERENT);

/// Base64 in either alphabet, padded or not (the envelope spec requires verifiers to accept
/// both alphabets).
pub fn decode_base64(text: &str) -> Option<Vec<u8>> {
    STANDARD
        .decode(text)
        .ok()
        .or_else(|| URL_SAFE.decode(text).ok())
}

/// Most signatures read from one envelope.
pub const MAX_SIGNATURES: usize = 64;

/// One signature of an envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvelopeSignature {
    /// The signer's hint; optional and unauthenticated.
    pub keyid: Option<String>,
    pub sig: Vec<u8>,
}

/// A DSSE envelope, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub payload_type: String,
    pub payload: Vec<u8>,
    pub signatures: Vec<EnvelopeSignature>,
}

fn malformed(at: impl Into<String>, what: impl Into<String>) -> Malformed {
    Malformed {
        at: at.into(),
        what: what.into(),
    }
}

fn string_at<'v>(v: &'v Value, key: &str, at: &str) -> Result<&'v str, Malformed> {
    match v.get(key) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(malformed(at, "is not a string")),
        None => Err(malformed(at, "is missing")),
    }
}

impl Envelope {
    /// Decode the JSON envelope (`payload` base64, `payloadType`, `signatures[{keyid, sig}]`).
    /// A Sigstore bundle's `dsseEnvelope` is read the same way (its signatures are checked
    /// against the trusted keys only; the bundle's certificate is not looked at).
    pub fn from_json(value: &Value) -> Result<Self, Malformed> {
        let (v, prefix) = match value.get("dsseEnvelope") {
            Some(inner) => (inner, "/dsseEnvelope"),
            None => (value, ""),
        };
        if !v.is_object() {
            return Err(malformed(prefix, "is not a JSON object"));
        }
        let payload_type =
            string_at(v, "payloadType", &format!("{prefix}/payloadType"))?.to_owned();
        let payload_b64 = string_at(v, "payload", &format!("{prefix}/payload"))?;
        let payload = decode_base64(payload_b64)
            .ok_or_else(|| malformed(format!("{prefix}/payload"), "is not base64"))?;
        let sigs_at = format!("{prefix}/signatures");
        let list = match v.get("signatures") {
            Some(Value::Array(list)) => list,
            Some(_) => return Err(malformed(sigs_at, "is not an array")),
            None => return Err(malformed(sigs_at, "is missing")),
        };
        if list.is_empty() {
            return Err(malformed(sigs_at, "is empty"));
        }
        if list.len() > MAX_SIGNATURES {
            // Each signature may be tried against every trusted key: bound the work.
            return Err(malformed(
                sigs_at,
                format!("has {} signatures, more than {MAX_SIGNATURES}", list.len()),
            ));
        }
        let mut signatures = Vec::with_capacity(list.len());
        for (i, s) in list.iter().enumerate() {
            let at = format!("{sigs_at}/{i}");
            if !s.is_object() {
                return Err(malformed(at, "is not a JSON object"));
            }
            let sig_text = string_at(s, "sig", &format!("{at}/sig"))?;
            let sig = decode_base64(sig_text)
                .ok_or_else(|| malformed(format!("{at}/sig"), "is not base64"))?;
            let keyid = match s.get("keyid") {
                None | Some(Value::Null) => None,
                Some(Value::String(k)) if k.is_empty() => None,
                Some(Value::String(k)) => Some(k.clone()),
                Some(_) => return Err(malformed(format!("{at}/keyid"), "is not a string")),
            };
            signatures.push(EnvelopeSignature { keyid, sig });
        }
        Ok(Envelope {
            payload_type,
            payload,
            signatures,
        })
    }

    /// The bytes every signature covers.
    pub fn pae(&self) -> Vec<u8> {
        pae(&self.payload_type, &self.payload)
    }

    /// Which distinct trusted keys verify a signature of this envelope.
    pub fn check_signatures(&self, keys: &TrustedKeys) -> SignatureCheck {
        let message = self.pae();
        let mut signers: Vec<usize> = Vec::new();
        let mut failures = Vec::new();
        for (i, s) in self.signatures.iter().enumerate() {
            let hinted = keys.matching(s.keyid.as_deref());
            let by_hint = hinted
                .iter()
                .copied()
                .find(|&k| keys.verify_with(k, &message, &s.sig));
            // A keyid is a hint, not a security boundary: when it names no key that verifies,
            // try every other trusted key.
            let found = by_hint.or_else(|| {
                (0..keys.len())
                    .filter(|k| !hinted.contains(k))
                    .find(|&k| keys.verify_with(k, &message, &s.sig))
            });
            match found {
                Some(k) => {
                    if !signers.iter().any(|&seen| keys.same_key(seen, k)) {
                        signers.push(k);
                    }
                }
                None => failures.push(SignatureFailure {
                    index: i,
                    keyid: s.keyid.clone(),
                    named_trusted_key: hinted.first().map(|&k| keys.name(k).to_owned()),
                }),
            }
        }
        SignatureCheck {
            signers: signers
                .into_iter()
                .map(|k| keys.name(k).to_owned())
                .collect(),
            failures,
        }
    }
}

/// A signature no trusted key verifies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureFailure {
    pub index: usize,
    pub keyid: Option<String>,
    /// The trusted key the keyid names, if any (then the signature is bad, not untrusted).
    pub named_trusted_key: Option<String>,
}

/// The outcome of checking an envelope's signatures against the trusted keys.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SignatureCheck {
    /// Names of the distinct trusted keys that verified a signature, in signature order.
    pub signers: Vec<String>,
    pub failures: Vec<SignatureFailure>,
}
