//! in-toto attestations: DSSE envelopes, in-toto Statements (v0.1 and v1), and JSON lines of
//! either (`.intoto.jsonl`); SLSA provenance v0.2 and v1 predicates are read into
//! [`Provenance`] facts.
//!
//! Parse only: signatures are decoded but not checked (that is the `attest` crate's job). The
//! envelope is kept exact for PAE verification: `payloadType` as written, the payload decoded
//! from base64 but otherwise byte-for-byte, each signature decoded with its `keyid` as written.
//!
//! Base64 (payload and signatures): the standard (`+/`) and the URL-safe (`-_`) alphabets are
//! both accepted, with or without `=` padding; one string may not mix the two alphabets, and
//! white space or line breaks inside it are refused.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::error::{ErrorKind, ParseError, Place};
use crate::format::Format;
use crate::{
    Artifact, Attestation, Envelope, EnvelopeSignature, Evidence, Limits, Material, Provenance,
    Statement, Subject, json,
};

/// The DSSE payload type of an in-toto Statement.
pub const INTOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
/// `_type` of an in-toto Statement v0.1.
pub const STATEMENT_V01: &str = "https://in-toto.io/Statement/v0.1";
/// `_type` of an in-toto Statement v1.
pub const STATEMENT_V1: &str = "https://in-toto.io/Statement/v1";
/// `predicateType` of SLSA provenance v0.2.
pub const SLSA_PROVENANCE_V02: &str = "https://slsa.dev/provenance/v0.2";
/// `predicateType` of SLSA provenance v1.
pub const SLSA_PROVENANCE_V1: &str = "https://slsa.dev/provenance/v1";

const PAYLOAD_CONTEXT: &str = "inside the DSSE payload (base64-decoded)";

/// Parse a DSSE envelope (JSON) whose payload is an in-toto Statement.
pub fn parse_dsse(bytes: &[u8], limits: &Limits) -> Result<Evidence, ParseError> {
    let attestation = read_envelope(bytes, limits)?;
    evidence_of(Format::Dsse, vec![attestation], limits)
}

/// Parse a Sigstore bundle (v0.1 to v0.3): the in-toto Statement of its `dsseEnvelope`.
///
/// Parse only. The bundle's verification material (Fulcio certificate, Rekor entries) is for
/// the `attest` crate to check; here the envelope is read exactly as a bare DSSE envelope would
/// be. A bundle that signs a digest directly (`messageSignature`) carries no statement and is
/// refused as unsupported rather than read as an empty attestation.
pub fn parse_bundle(bytes: &[u8], limits: &Limits) -> Result<Evidence, ParseError> {
    let attestation = read_bundle(bytes, limits)?;
    evidence_of(Format::SigstoreBundle, vec![attestation], limits)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawBundle {
    media_type: String,
    #[serde(default)]
    dsse_envelope: Option<Box<serde_json::value::RawValue>>,
}

fn read_bundle(bytes: &[u8], limits: &Limits) -> Result<Attestation, ParseError> {
    let raw: RawBundle = json::from_slice_located(bytes, Format::SigstoreBundle, limits)?;
    let Some(envelope) = raw.dsse_envelope else {
        return Err(ParseError::new(
            ErrorKind::Unsupported,
            Some(Format::SigstoreBundle),
            format!(
                "the bundle ({}) has no dsseEnvelope: a message-signature bundle carries no in-toto statement",
                raw.media_type
            ),
        )
        .at(Place::Pointer("/dsseEnvelope".into())));
    };
    read_envelope(envelope.get().as_bytes(), limits).map_err(|mut e| {
        e.format = Some(Format::SigstoreBundle);
        e.place = match e.place.take() {
            Some(Place::Pointer(p)) if !e.message.starts_with("inside the DSSE payload") => {
                Some(Place::Pointer(format!("/dsseEnvelope{p}")))
            }
            other => other,
        };
        e.message = format!("in dsseEnvelope: {}", e.message);
        e
    })
}

/// Parse a bare in-toto Statement (v0.1 or v1).
pub fn parse_statement(bytes: &[u8], limits: &Limits) -> Result<Evidence, ParseError> {
    let statement = read_statement(bytes, Format::IntotoStatement, limits)?;
    evidence_of(
        Format::IntotoStatement,
        vec![Attestation {
            envelope: None,
            statement,
        }],
        limits,
    )
}

/// Parse JSON lines (`.intoto.jsonl`): every non-empty line a DSSE envelope or a Statement.
/// Errors name the 1-based line; a document without any attestation is an error.
pub fn parse_jsonl(bytes: &[u8], limits: &Limits) -> Result<Evidence, ParseError> {
    let mut attestations = Vec::new();
    for (index, raw_line) in bytes.split(|&b| b == b'\n').enumerate() {
        let line = index + 1;
        let text = raw_line.trim_ascii();
        if text.is_empty() {
            continue;
        }
        let attestation = read_line(text, limits).map_err(|e| {
            let inner = e.place.map(Box::new);
            ParseError {
                format: Some(Format::IntotoJsonl),
                place: Some(Place::Line { line, inner }),
                ..e
            }
        })?;
        attestations.push(attestation);
    }
    if attestations.is_empty() {
        return Err(ParseError::new(
            ErrorKind::Empty,
            Some(Format::IntotoJsonl),
            "no attestation: every line is empty",
        ));
    }
    evidence_of(Format::IntotoJsonl, attestations, limits)
}

fn read_line(text: &[u8], limits: &Limits) -> Result<Attestation, ParseError> {
    match crate::detect::detect(text) {
        Ok(Format::Dsse) => {
            read_envelope(text, limits).map_err(|e| prefix(e, "the line is a DSSE envelope, but"))
        }
        Ok(Format::SigstoreBundle) => {
            read_bundle(text, limits).map_err(|e| prefix(e, "the line is a Sigstore bundle, but"))
        }
        Ok(Format::IntotoStatement) => {
            let statement = read_statement(text, Format::IntotoStatement, limits)
                .map_err(|e| prefix(e, "the line is an in-toto Statement, but"))?;
            Ok(Attestation {
                envelope: None,
                statement,
            })
        }
        Ok(other) => Err(ParseError::new(
            ErrorKind::Unsupported,
            Some(Format::IntotoJsonl),
            format!(
                "the line is {} (a JSON lines attestation file holds DSSE envelopes, Sigstore bundles or in-toto Statements)",
                other.name()
            ),
        )),
        Err(e) => Err(prefix(
            e,
            "the line is neither a DSSE envelope nor an in-toto Statement:",
        )),
    }
}

fn prefix(mut e: ParseError, what: &str) -> ParseError {
    e.message = format!("{what} {}", e.message);
    e
}

fn evidence_of(
    format: Format,
    attestations: Vec<Attestation>,
    limits: &Limits,
) -> Result<Evidence, ParseError> {
    let mut evidence = Evidence::new(format);
    evidence.format_version = common_version(&attestations);
    evidence.artifact = single_subject(&attestations);
    for (i, a) in attestations.iter().enumerate() {
        if let Some(sbom) = sbom_predicate(&a.statement, format, limits).map_err(|e| {
            if attestations.len() > 1 {
                ParseError {
                    message: format!("attestation {}: {}", i + 1, e.message),
                    ..e
                }
            } else {
                e
            }
        })? {
            evidence.components.extend(sbom.components);
        }
    }
    evidence.attestations = attestations;
    Ok(evidence)
}

/// `predicateType`s of an SBOM as the predicate of a Statement (`cosign attest --type
/// spdxjson|cyclonedx`, Docker Buildx's SBOM attestations, GitHub's SBOM attestations).
const SPDX_PREDICATES: &[&str] = &["https://spdx.dev/Document"];
const CYCLONEDX_PREDICATES: &[&str] = &["https://cyclonedx.org/bom"];

/// The SBOM a Statement's predicate holds, parsed with the SPDX or CycloneDX reader (its
/// components are read like those of a bare SBOM; errors point inside `/predicate`).
fn sbom_predicate(
    statement: &Statement,
    format: Format,
    limits: &Limits,
) -> Result<Option<Evidence>, ParseError> {
    let ty = statement.predicate_type.as_str();
    let is = |list: &[&str]| {
        list.iter()
            .any(|p| ty == *p || ty.strip_prefix(p).is_some_and(|rest| rest.starts_with('/')))
    };
    let inner = if is(SPDX_PREDICATES) {
        Format::SpdxJson
    } else if is(CYCLONEDX_PREDICATES) {
        Format::CyclonedxJson
    } else {
        return Ok(None);
    };
    let bytes = serde_json::to_vec(&statement.predicate)
        .map_err(|e| ParseError::shape(format, "/predicate", format!("SBOM predicate: {e}")))?;
    super::parse(inner, &bytes, limits).map(Some).map_err(|e| {
        let at = e
            .place
            .as_ref()
            .map(|p| format!(" at {p}"))
            .unwrap_or_default();
        ParseError {
            kind: e.kind,
            ..ParseError::shape(
                format,
                "/predicate",
                format!(
                    "the {ty} predicate is not a readable {inner} document{at}: {}",
                    e.message
                ),
            )
        }
    })
}

/// `v0.1` or `v1` when every statement has that version.
fn common_version(attestations: &[Attestation]) -> Option<String> {
    let mut versions = attestations.iter().map(|a| {
        a.statement
            .statement_type
            .strip_prefix("https://in-toto.io/Statement/")
            .unwrap_or(&a.statement.statement_type)
    });
    let first = versions.next()?;
    versions.all(|v| v == first).then(|| first.to_string())
}

/// The artifact when all statements name exactly one and the same subject.
fn single_subject(attestations: &[Attestation]) -> Option<Artifact> {
    let mut subjects = attestations
        .iter()
        .flat_map(|a| a.statement.subjects.iter());
    let first = subjects.next()?;
    if !subjects.all(|s| s == first) {
        return None;
    }
    let digest = first
        .digest
        .get("sha256")
        .map(|v| format!("sha256:{v}"))
        .or_else(|| first.digest.iter().next().map(|(k, v)| format!("{k}:{v}")));
    Some(Artifact {
        name: first.name.clone(),
        digest,
    })
}

// ---------------------------------------------------------------------------------------------
// DSSE

#[derive(Deserialize)]
struct RawEnvelope {
    #[serde(rename = "payloadType")]
    payload_type: String,
    payload: String,
    signatures: Vec<RawSignature>,
}

#[derive(Deserialize)]
struct RawSignature {
    #[serde(default)]
    keyid: Option<String>,
    sig: String,
}

fn read_envelope(bytes: &[u8], limits: &Limits) -> Result<Attestation, ParseError> {
    let raw: RawEnvelope = json::from_slice_located(bytes, Format::Dsse, limits)?;
    let payload = decode_base64(&raw.payload).map_err(|e| {
        ParseError::shape(
            Format::Dsse,
            "/payload",
            format!(
                "the payload is not base64 (standard or URL-safe alphabet, padding optional): {e}"
            ),
        )
    })?;
    let mut signatures = Vec::with_capacity(raw.signatures.len());
    for (i, s) in raw.signatures.into_iter().enumerate() {
        let sig = decode_base64(&s.sig).map_err(|e| {
            ParseError::shape(
                Format::Dsse,
                format!("/signatures/{i}/sig"),
                format!("the signature is not base64 (standard or URL-safe alphabet, padding optional): {e}"),
            )
        })?;
        signatures.push(EnvelopeSignature {
            keyid: s.keyid,
            sig,
        });
    }
    if !raw
        .payload_type
        .trim()
        .eq_ignore_ascii_case(INTOTO_PAYLOAD_TYPE)
    {
        return Err(ParseError::new(
            ErrorKind::Unsupported,
            Some(Format::Dsse),
            format!(
                "payload type `{}` is not supported (only `{INTOTO_PAYLOAD_TYPE}`, an in-toto Statement)",
                raw.payload_type
            ),
        )
        .at(Place::Pointer("/payloadType".into())));
    }
    let statement = read_statement(&payload, Format::Dsse, limits)
        .map_err(|e| prefix(e, &format!("{PAYLOAD_CONTEXT}:")))?;
    Ok(Attestation {
        envelope: Some(Envelope {
            payload_type: raw.payload_type,
            payload,
            signatures,
        }),
        statement,
    })
}

const STANDARD_ANY_PAD: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);
const URL_SAFE_ANY_PAD: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Decode base64 in the standard or the URL-safe alphabet, padded or not (DSSE allows both).
pub fn decode_base64(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    if text.contains(['-', '_']) {
        URL_SAFE_ANY_PAD.decode(text)
    } else {
        STANDARD_ANY_PAD.decode(text)
    }
}

// ---------------------------------------------------------------------------------------------
// Statement

#[derive(Deserialize)]
struct RawStatement {
    #[serde(rename = "_type")]
    statement_type: String,
    subject: Vec<RawSubject>,
    #[serde(rename = "predicateType")]
    predicate_type: String,
    /// Optional in both versions; "unset is treated the same as set-but-empty" (v1).
    #[serde(default)]
    predicate: Option<Value>,
}

/// v0.1 subject (`name`, `digest`) or v1 resource descriptor (`name`/`uri`, `digest`, ...).
#[derive(Deserialize)]
struct RawSubject {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    uri: Option<String>,
    #[serde(default)]
    digest: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize)]
struct TypeOnly {
    #[serde(rename = "_type", default)]
    statement_type: Option<Value>,
}

/// Read a Statement from `bytes`; errors carry `format` and places relative to `bytes`.
fn read_statement(bytes: &[u8], format: Format, limits: &Limits) -> Result<Statement, ParseError> {
    let raw: RawStatement = json::from_slice_located(bytes, format, limits).map_err(|e| {
        // A Statement of an unknown version may well have another shape: say which it is.
        if e.kind == ErrorKind::Shape
            && let Ok(t) = serde_json::from_slice::<TypeOnly>(bytes)
            && let Some(Value::String(ty)) = t.statement_type
            && ty != STATEMENT_V01
            && ty != STATEMENT_V1
        {
            return unsupported_type(format, &ty);
        }
        e
    })?;
    let v1 = match raw.statement_type.as_str() {
        STATEMENT_V01 => false,
        STATEMENT_V1 => true,
        other => return Err(unsupported_type(format, other)),
    };
    let mut subjects = Vec::with_capacity(raw.subject.len());
    for (i, s) in raw.subject.into_iter().enumerate() {
        let name = match (s.name, s.uri) {
            (Some(name), _) => name,
            // A v1 resource descriptor may name its artifact by uri alone.
            (None, Some(uri)) if v1 => uri,
            (None, _) if v1 => String::new(),
            (None, _) => {
                return Err(ParseError::shape(
                    format,
                    format!("/subject/{i}"),
                    "missing field `name` (required in Statement v0.1)",
                ));
            }
        };
        let Some(digest) = s.digest else {
            return Err(ParseError::shape(
                format,
                format!("/subject/{i}"),
                "missing field `digest` (every subject must have a digest)",
            ));
        };
        subjects.push(Subject {
            name,
            digest: lower_hex_values(digest),
        });
    }
    let predicate = raw
        .predicate
        .unwrap_or_else(|| Value::Object(Default::default()));
    let provenance = match raw.predicate_type.as_str() {
        SLSA_PROVENANCE_V02 => Some(provenance_v02(&predicate, format)?),
        SLSA_PROVENANCE_V1 => Some(provenance_v1(&predicate, format)?),
        _ => None,
    };
    Ok(Statement {
        statement_type: raw.statement_type,
        subjects,
        predicate_type: raw.predicate_type,
        predicate,
        provenance,
    })
}

fn unsupported_type(format: Format, ty: &str) -> ParseError {
    ParseError::new(
        ErrorKind::Unsupported,
        Some(format),
        format!(
            "in-toto Statement `_type` `{ty}` is not supported (known: `{STATEMENT_V01}`, `{STATEMENT_V1}`)"
        ),
    )
    .at(Place::Pointer("/_type".into()))
}

/// Digest values lower-cased when they are hex (other encodings are kept as written).
fn lower_hex_values(digest: BTreeMap<String, String>) -> BTreeMap<String, String> {
    digest
        .into_iter()
        .map(|(alg, v)| {
            if v.bytes().all(|b| b.is_ascii_hexdigit()) {
                (alg, v.to_ascii_lowercase())
            } else {
                (alg, v)
            }
        })
        .collect()
}

/// Deserialize a predicate (already a `Value`) into `T`, with errors pointing inside it.
fn typed_predicate<T: serde::de::DeserializeOwned>(
    predicate: &Value,
    format: Format,
    predicate_type: &str,
) -> Result<T, ParseError> {
    serde_path_to_error::deserialize::<_, T>(predicate).map_err(|e| {
        let mut pointer = String::from("/predicate");
        for seg in e.path().iter() {
            use serde_path_to_error::Segment;
            pointer.push('/');
            match seg {
                Segment::Seq { index } => pointer.push_str(&index.to_string()),
                Segment::Map { key } | Segment::Enum { variant: key } => {
                    pointer.push_str(&key.replace('~', "~0").replace('/', "~1"))
                }
                Segment::Unknown => pointer.push('?'),
            }
        }
        ParseError::shape(
            format,
            pointer,
            format!("malformed {predicate_type} predicate: {}", e.inner()),
        )
    })
}

/// `null` read as the type's default (Go encoders write `null` for empty maps and lists).
fn nullable<'de, D: Deserializer<'de>, T: Default + Deserialize<'de>>(d: D) -> Result<T, D::Error> {
    Option::<T>::deserialize(d).map(Option::unwrap_or_default)
}

#[derive(Deserialize)]
struct Builder {
    id: String,
}

#[derive(Deserialize)]
struct RawMaterial {
    #[serde(default)]
    uri: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    digest: BTreeMap<String, String>,
}

impl RawMaterial {
    fn into_model(self) -> Material {
        Material {
            uri: self.uri,
            digest: lower_hex_values(self.digest),
        }
    }
}

#[derive(Deserialize)]
struct SlsaV02 {
    builder: Builder,
    #[serde(rename = "buildType")]
    build_type: String,
    #[serde(default)]
    invocation: Option<InvocationV02>,
    #[serde(default, deserialize_with = "nullable")]
    materials: Vec<RawMaterial>,
    #[serde(default)]
    metadata: Option<MetadataV02>,
}

#[derive(Deserialize)]
struct InvocationV02 {
    #[serde(rename = "configSource", default)]
    config_source: Option<ConfigSource>,
}

#[derive(Deserialize)]
struct ConfigSource {
    #[serde(default)]
    uri: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    digest: BTreeMap<String, String>,
    #[serde(rename = "entryPoint", default)]
    #[allow(dead_code)] // Checked for shape; kept in `Provenance::invocation`.
    entry_point: Option<String>,
}

#[derive(Deserialize)]
struct MetadataV02 {
    #[serde(rename = "buildStartedOn", default)]
    build_started_on: Option<String>,
    #[serde(rename = "buildFinishedOn", default)]
    build_finished_on: Option<String>,
}

fn provenance_v02(predicate: &Value, format: Format) -> Result<Provenance, ParseError> {
    let p: SlsaV02 = typed_predicate(predicate, format, SLSA_PROVENANCE_V02)?;
    let source = p.invocation.and_then(|i| i.config_source);
    let (source_repo, source_ref, source_commit) = match source {
        Some(cs) => {
            let (repo, git_ref) = match cs.uri.as_deref() {
                Some(uri) => {
                    let (repo, git_ref) = split_source_uri(uri);
                    (Some(repo), git_ref)
                }
                None => (None, None),
            };
            (repo, git_ref, commit_of(&cs.digest))
        }
        None => (None, None, None),
    };
    let metadata = p.metadata;
    Ok(Provenance {
        slsa_version: "0.2".into(),
        builder_id: p.builder.id,
        build_type: p.build_type,
        source_repo,
        source_ref,
        source_commit,
        invocation: predicate.get("invocation").cloned(),
        materials: p
            .materials
            .into_iter()
            .map(RawMaterial::into_model)
            .collect(),
        build_started_on: metadata.as_ref().and_then(|m| m.build_started_on.clone()),
        build_finished_on: metadata.and_then(|m| m.build_finished_on),
    })
}

#[derive(Deserialize)]
struct SlsaV1 {
    #[serde(rename = "buildDefinition")]
    build_definition: BuildDefinition,
    #[serde(rename = "runDetails")]
    run_details: RunDetails,
}

#[derive(Deserialize)]
struct BuildDefinition {
    #[serde(rename = "buildType")]
    build_type: String,
    /// Free-form by the spec; only looked into, never required to have a shape.
    #[serde(rename = "externalParameters")]
    external_parameters: Value,
    #[serde(
        rename = "resolvedDependencies",
        default,
        deserialize_with = "nullable"
    )]
    resolved_dependencies: Vec<RawMaterial>,
}

#[derive(Deserialize)]
struct RunDetails {
    builder: Builder,
    #[serde(default)]
    metadata: Option<RunMetadata>,
}

#[derive(Deserialize)]
struct RunMetadata {
    #[serde(rename = "startedOn", default)]
    started_on: Option<String>,
    #[serde(rename = "finishedOn", default)]
    finished_on: Option<String>,
}

fn provenance_v1(predicate: &Value, format: Format) -> Result<Provenance, ParseError> {
    let p: SlsaV1 = typed_predicate(predicate, format, SLSA_PROVENANCE_V1)?;
    let ext = &p.build_definition.external_parameters;
    let deps = &p.build_definition.resolved_dependencies;
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
    let (source_repo, source_ref, source_commit) = if let Some(workflow) = ext.get("workflow")
        && let Some(repository) = text(workflow.get("repository"))
    {
        // GitHub Actions workflow builds: the source is the resolved dependency of the
        // workflow's repository.
        let (repo, ref_in_uri) = split_source_uri(&repository);
        let git_ref = text(workflow.get("ref")).or(ref_in_uri);
        let commit = deps
            .iter()
            .find(|d| {
                d.uri
                    .as_deref()
                    .is_some_and(|u| split_source_uri(u).0 == repo)
            })
            .and_then(|d| commit_of(&d.digest));
        (Some(repo), git_ref, commit)
    } else if let Some(source) = ext.get("source")
        && let Some(uri) = text(source.get("uri"))
    {
        // Container-based builds: `source` is a resource descriptor.
        let (repo, git_ref) = split_source_uri(&uri);
        let commit = source
            .get("digest")
            .and_then(Value::as_object)
            .and_then(|d| {
                d.get("gitCommit")
                    .or_else(|| d.get("sha1"))
                    .and_then(Value::as_str)
            })
            .map(str::to_ascii_lowercase)
            .or_else(|| {
                deps.iter()
                    .find(|d| {
                        d.uri
                            .as_deref()
                            .is_some_and(|u| split_source_uri(u).0 == repo)
                    })
                    .and_then(|d| commit_of(&d.digest))
            });
        (Some(repo), git_ref, commit)
    } else {
        (None, None, None)
    };
    let metadata = p.run_details.metadata;
    Ok(Provenance {
        slsa_version: "1".into(),
        builder_id: p.run_details.builder.id,
        build_type: p.build_definition.build_type,
        source_repo,
        source_ref,
        source_commit,
        invocation: Some(p.build_definition.external_parameters),
        materials: p
            .build_definition
            .resolved_dependencies
            .into_iter()
            .map(RawMaterial::into_model)
            .collect(),
        build_started_on: metadata.as_ref().and_then(|m| m.started_on.clone()),
        build_finished_on: metadata.and_then(|m| m.finished_on),
    })
}

/// The git commit of a digest set: `gitCommit` (in-toto v1 name) or `sha1`.
fn commit_of(digest: &BTreeMap<String, String>) -> Option<String> {
    digest
        .get("gitCommit")
        .or_else(|| digest.get("sha1"))
        .map(|c| c.to_ascii_lowercase())
}

/// `git+https://github.com/o/r@refs/tags/v1` -> (`https://github.com/o/r`, `refs/tags/v1`).
/// The `@` of a ref is looked for only in the path, so `ssh://git@host/...` keeps its user.
pub fn split_source_uri(uri: &str) -> (String, Option<String>) {
    let uri = uri.trim();
    let uri = uri.strip_prefix("git+").unwrap_or(uri);
    let path_start = match uri.find("://") {
        Some(i) => uri
            .get(i + 3..)
            .and_then(|rest| rest.find('/'))
            .map_or(uri.len(), |j| i + 3 + j),
        None => 0,
    };
    let at = uri
        .get(path_start..)
        .and_then(|path| path.find('@'))
        .map(|j| path_start + j);
    match at {
        Some(at) => {
            let repo = uri.get(..at).unwrap_or(uri).to_string();
            let git_ref = uri
                .get(at + 1..)
                .filter(|r| !r.is_empty())
                .map(str::to_string);
            (repo, git_ref)
        }
        None => (uri.to_string(), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

    const V02: &str = r#"{"_type":"https://in-toto.io/Statement/v0.1",
        "subject":[{"name":"app","digest":{"sha256":"ABCDEF01"}}],
        "predicateType":"https://slsa.dev/provenance/v0.2",
        "predicate":{"builder":{"id":"https://b/x@refs/tags/v1"},"buildType":"https://bt",
          "invocation":{"configSource":{"uri":"git+https://github.com/o/r@refs/heads/main",
            "digest":{"sha1":"DEADBEEF"},"entryPoint":".github/workflows/w.yml"}},
          "metadata":{"buildStartedOn":"2023-01-01T00:00:00Z","buildFinishedOn":"2023-01-01T00:01:00Z"},
          "materials":[{"uri":"git+https://github.com/o/r@refs/heads/main","digest":{"sha1":"deadbeef"}}]}}"#;

    const V1: &str = r#"{"_type":"https://in-toto.io/Statement/v1",
        "subject":[{"uri":"oci://registry/app","digest":{"sha256":"ab"}},{"name":"b","digest":{"sha512":"cd"}}],
        "predicateType":"https://slsa.dev/provenance/v1",
        "predicate":{"buildDefinition":{"buildType":"https://actions.github.io/buildtypes/workflow/v1",
          "externalParameters":{"workflow":{"ref":"refs/tags/v1.0","repository":"https://github.com/o/r","path":".github/workflows/release.yml"}},
          "resolvedDependencies":[{"uri":"git+https://github.com/o/r@refs/tags/v1.0","digest":{"gitCommit":"c0ffee"}}]},
         "runDetails":{"builder":{"id":"https://github.com/actions/runner"},
          "metadata":{"startedOn":"s","finishedOn":"f"}}}}"#;

    fn envelope(payload_b64: &str, payload_type: &str) -> String {
        format!(
            r#"{{"payloadType":"{payload_type}","payload":"{payload_b64}","signatures":[{{"keyid":"k1","sig":"AQID"}},{{"sig":"BA"}}]}}"#
        )
    }

    #[test]
    fn statement_v01_with_provenance_v02() {
        let e = parse_statement(V02.as_bytes(), &Limits::default()).unwrap();
        assert_eq!(e.format_version.as_deref(), Some("v0.1"));
        let a = e.artifact.unwrap();
        assert_eq!(a.name, "app");
        assert_eq!(a.digest.as_deref(), Some("sha256:abcdef01"));
        let s = &e.attestations[0].statement;
        assert_eq!(s.subjects[0].digest["sha256"], "abcdef01");
        assert_eq!(s.predicate["buildType"], "https://bt");
        let p = s.provenance.as_ref().unwrap();
        assert_eq!(p.slsa_version, "0.2");
        assert_eq!(p.builder_id, "https://b/x@refs/tags/v1");
        assert_eq!(p.source_repo.as_deref(), Some("https://github.com/o/r"));
        assert_eq!(p.source_ref.as_deref(), Some("refs/heads/main"));
        assert_eq!(p.source_commit.as_deref(), Some("deadbeef"));
        assert_eq!(p.materials.len(), 1);
        assert_eq!(p.build_started_on.as_deref(), Some("2023-01-01T00:00:00Z"));
        assert_eq!(p.build_finished_on.as_deref(), Some("2023-01-01T00:01:00Z"));
        assert_eq!(
            p.invocation.as_ref().unwrap()["configSource"]["entryPoint"],
            ".github/workflows/w.yml"
        );
    }

    #[test]
    fn statement_v1_with_provenance_v1_and_uri_subject() {
        let e = parse_statement(V1.as_bytes(), &Limits::default()).unwrap();
        assert_eq!(e.format_version.as_deref(), Some("v1"));
        assert_eq!(e.artifact, None, "two subjects: no single artifact");
        let s = &e.attestations[0].statement;
        assert_eq!(s.subjects[0].name, "oci://registry/app");
        assert_eq!(s.subjects[1].name, "b");
        let p = s.provenance.as_ref().unwrap();
        assert_eq!(p.slsa_version, "1");
        assert_eq!(p.builder_id, "https://github.com/actions/runner");
        assert_eq!(
            p.build_type,
            "https://actions.github.io/buildtypes/workflow/v1"
        );
        assert_eq!(p.source_repo.as_deref(), Some("https://github.com/o/r"));
        assert_eq!(p.source_ref.as_deref(), Some("refs/tags/v1.0"));
        assert_eq!(p.source_commit.as_deref(), Some("c0ffee"));
        assert_eq!(p.build_started_on.as_deref(), Some("s"));
        assert_eq!(p.build_finished_on.as_deref(), Some("f"));
    }

    #[test]
    fn container_based_v1_source_descriptor() {
        let doc = r#"{"_type":"https://in-toto.io/Statement/v0.1","subject":[],
          "predicateType":"https://slsa.dev/provenance/v1",
          "predicate":{"buildDefinition":{"buildType":"bt","externalParameters":{"source":{
             "uri":"git+https://github.com/o/r@refs/tags/v14.2","digest":{"sha1":"AB12"}}}},
           "runDetails":{"builder":{"id":"b"}}}}"#;
        let e = parse_statement(doc.as_bytes(), &Limits::default()).unwrap();
        let p = e.attestations[0].statement.provenance.clone().unwrap();
        assert_eq!(p.source_repo.as_deref(), Some("https://github.com/o/r"));
        assert_eq!(p.source_ref.as_deref(), Some("refs/tags/v14.2"));
        assert_eq!(p.source_commit.as_deref(), Some("ab12"));
    }

    #[test]
    fn dsse_keeps_payload_bytes_and_signatures() {
        let b64 = STANDARD.encode(V02);
        let e = parse_dsse(
            envelope(&b64, INTOTO_PAYLOAD_TYPE).as_bytes(),
            &Limits::default(),
        )
        .unwrap();
        let env = e.attestations[0].envelope.as_ref().unwrap();
        assert_eq!(env.payload, V02.as_bytes());
        assert_eq!(env.payload_type, INTOTO_PAYLOAD_TYPE);
        assert_eq!(env.signatures[0].keyid.as_deref(), Some("k1"));
        assert_eq!(env.signatures[0].sig, vec![1, 2, 3]);
        assert_eq!(env.signatures[1].keyid, None);
        assert_eq!(env.signatures[1].sig, vec![4]);
        assert!(e.attestations[0].statement.provenance.is_some());
    }

    #[test]
    fn base64_alphabets_and_padding() {
        let bytes: Vec<u8> = (0..=255u8).collect();
        for text in [
            STANDARD.encode(&bytes),
            STANDARD.encode(&bytes).trim_end_matches('=').to_string(),
            URL_SAFE_NO_PAD.encode(&bytes),
            base64::engine::general_purpose::URL_SAFE.encode(&bytes),
        ] {
            assert_eq!(decode_base64(&text).unwrap(), bytes, "{text}");
        }
        assert!(decode_base64("ab+_").is_err(), "mixed alphabets");
        assert!(decode_base64("AQ ID").is_err(), "white space");
        let e = parse_dsse(
            envelope("not base64!", INTOTO_PAYLOAD_TYPE).as_bytes(),
            &Limits::default(),
        )
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Shape);
        assert_eq!(e.place, Some(Place::Pointer("/payload".into())));
    }

    #[test]
    fn other_payload_type_is_unsupported_and_named() {
        let e = parse_dsse(
            envelope("e30", "application/vnd.cncf.notary.payload.v1+json").as_bytes(),
            &Limits::default(),
        )
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unsupported);
        assert!(
            e.message
                .contains("application/vnd.cncf.notary.payload.v1+json"),
            "{e}"
        );
    }

    #[test]
    fn malformed_predicate_points_inside_the_payload() {
        let bad = V02.replace(
            r#""builder":{"id":"https://b/x@refs/tags/v1"}"#,
            r#""builder":{"id":7}"#,
        );
        let e = parse_dsse(
            envelope(&STANDARD.encode(&bad), INTOTO_PAYLOAD_TYPE).as_bytes(),
            &Limits::default(),
        )
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Shape);
        assert_eq!(
            e.place,
            Some(Place::Pointer("/predicate/builder/id".into()))
        );
        assert!(e.message.contains("inside the DSSE payload"), "{e}");
        assert_eq!(e.format, Some(Format::Dsse));

        let missing = V1.replace(r#""runDetails""#, r#""runDetailz""#);
        let e = parse_statement(missing.as_bytes(), &Limits::default()).unwrap_err();
        assert_eq!(e.place, Some(Place::Pointer("/predicate".into())));
        assert!(e.message.contains("runDetails"), "{e}");
    }

    #[test]
    fn unknown_statement_type_is_unsupported() {
        let doc = r#"{"_type":"https://in-toto.io/Statement/v2","subject":[],"predicateType":"x"}"#;
        let e = parse_statement(doc.as_bytes(), &Limits::default()).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unsupported);
        assert!(e.message.contains("Statement/v2"), "{e}");
        // Even when its shape is different.
        let doc = r#"{"_type":"https://in-toto.io/Statement/v9","subjects":{}}"#;
        let e = parse_statement(doc.as_bytes(), &Limits::default()).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unsupported);
    }

    #[test]
    fn subject_requirements() {
        let v01 = r#"{"_type":"https://in-toto.io/Statement/v0.1","subject":[{"uri":"u","digest":{}}],"predicateType":"x"}"#;
        let e = parse_statement(v01.as_bytes(), &Limits::default()).unwrap_err();
        assert_eq!(e.place, Some(Place::Pointer("/subject/0".into())));
        let v1 = r#"{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"n"}],"predicateType":"x"}"#;
        let e = parse_statement(v1.as_bytes(), &Limits::default()).unwrap_err();
        assert!(e.message.contains("digest"), "{e}");
        // No predicate at all is allowed for an unknown predicate type.
        let ok = r#"{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"n","digest":{"sha256":"00"}}],"predicateType":"x"}"#;
        let e = parse_statement(ok.as_bytes(), &Limits::default()).unwrap();
        assert_eq!(e.attestations[0].statement.predicate, serde_json::json!({}));
        assert_eq!(e.attestations[0].statement.provenance, None);
    }

    #[test]
    fn jsonl_names_the_line() {
        let env = envelope(&STANDARD.encode(V02), INTOTO_PAYLOAD_TYPE);
        let v1_one_line: String = V1.split('\n').map(str::trim).collect();
        let doc = format!("{env}\n\n{v1_one_line}\r\n");
        let e = parse_jsonl(doc.as_bytes(), &Limits::default()).unwrap();
        assert_eq!(e.attestations.len(), 2);
        assert!(e.attestations[0].envelope.is_some());
        assert!(e.attestations[1].envelope.is_none());
        assert_eq!(e.format_version, None, "mixed versions");

        let bad = format!("{env}\n{{\"payloadType\":\"x\",\"payload\":1,\"signatures\":[]}}\n");
        let e = parse_jsonl(bad.as_bytes(), &Limits::default()).unwrap_err();
        assert_eq!(e.format, Some(Format::IntotoJsonl));
        assert_eq!(
            e.place,
            Some(Place::Line {
                line: 2,
                inner: Some(Box::new(Place::Pointer("/payload".into())))
            })
        );
        let e = parse_jsonl(b"\n \n", &Limits::default()).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Empty);
        let truncated = format!("{env}\n{}", &env[..env.len() / 2]);
        let e = parse_jsonl(truncated.as_bytes(), &Limits::default()).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Truncated);
        assert!(matches!(e.place, Some(Place::Line { line: 2, .. })), "{e}");
    }

    #[test]
    fn source_uri_split() {
        assert_eq!(
            split_source_uri("git+https://github.com/o/r@refs/tags/v1.0"),
            (
                "https://github.com/o/r".into(),
                Some("refs/tags/v1.0".into())
            )
        );
        assert_eq!(
            split_source_uri("https://github.com/o/r"),
            ("https://github.com/o/r".into(), None)
        );
        assert_eq!(
            split_source_uri("git+ssh://git@github.com/o/r@refs/heads/main"),
            (
                "ssh://git@github.com/o/r".into(),
                Some("refs/heads/main".into())
            )
        );
    }
}
