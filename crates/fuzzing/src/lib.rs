//! The fuzz targets' logic: one function per target of `fuzz/` (cargo-fuzz, libFuzzer), each
//! giving its bytes to the same functions the product gives that input to, with the product's
//! default limits. The fuzz binaries only call these; `tests/replay.rs` runs every function
//! over the committed seeds (`fuzz/seeds/<target>/`) and the minimized inputs that once failed
//! (`fuzz/regressions/<target>-*`), so CI replays them without nightly or cargo-fuzz.
//!
//! No function may panic on any input; a result is ignored unless the replay test needs it.

use std::path::Path;
use std::sync::OnceLock;

use portcullis_evidence::{Format, Limits, detect as detect_format, json, parse, parse_as};

/// A target: its name (the fuzz binary's and the seeds directory's) and its function.
pub type Target = (&'static str, fn(&[u8]));

/// Every target but [`API_BODIES`].
pub const TARGETS: [Target; 18] = [
    ("detect", detect),
    ("sbom", sbom),
    ("scanners", scanners),
    ("code", code),
    ("dast", dast),
    ("advisories", advisories),
    ("attestations", attestations),
    ("attest_verify", attest_verify_unit),
    ("trusted_keys", trusted_keys),
    ("gatekeeper", gatekeeper),
    ("firewall_config", firewall_config),
    ("exceptions", exceptions),
    ("probe_expect", probe_expect),
    ("probe_wire", probe_wire),
    ("canary_config", canary_config),
    ("metrics", metrics),
    ("logs", logs),
    ("admission", admission),
];

/// The server's API bodies, listed apart from [`TARGETS`] only because the array is typed.
pub const API_BODIES: Target = ("api_bodies", api_bodies);

/// Every target, [`TARGETS`] and [`API_BODIES`].
pub fn all_targets() -> Vec<Target> {
    let mut all = TARGETS.to_vec();
    all.push(API_BODIES);
    all
}

// ------------------------------------------------------------------ evidence (portcullis-evidence)

/// Format detection, the whole `parse` path, and the JSON reader under tight limits.
pub fn detect(data: &[u8]) {
    let _ = detect_format(data);
    let _ = parse(data, &Limits::default());
    // json.rs: depth and size limits small enough for the fuzzer to cross them.
    let tight = Limits {
        max_bytes: 4096,
        max_depth: 8,
    };
    let _ = json::from_slice_located::<serde_json::Value>(data, Format::Dsse, &tight);
    let _ = json::check_depth(data, Format::Dsse, 8);
}

fn family(data: &[u8], formats: &[Format]) {
    let limits = Limits::default();
    for format in formats {
        let _ = parse_as(*format, data, &limits);
    }
    let _ = parse(data, &limits);
}

/// CycloneDX JSON and XML, SPDX JSON.
pub fn sbom(data: &[u8]) {
    family(
        data,
        &[
            Format::CyclonedxJson,
            Format::CyclonedxXml,
            Format::SpdxJson,
        ],
    );
}

/// Trivy, Grype, OSV-Scanner.
pub fn scanners(data: &[u8]) {
    family(
        data,
        &[Format::TrivyJson, Format::GrypeJson, Format::OsvScannerJson],
    );
}

/// SARIF, Semgrep, Checkov, Bandit.
pub fn code(data: &[u8]) {
    family(
        data,
        &[
            Format::Sarif,
            Format::SemgrepJson,
            Format::CheckovJson,
            Format::BanditJson,
        ],
    );
}

/// OWASP ZAP XML and JSON.
pub fn dast(data: &[u8]) {
    family(data, &[Format::ZapXml, Format::ZapJson]);
}

/// OSV advisories.
pub fn advisories(data: &[u8]) {
    family(data, &[Format::OsvAdvisory]);
}

/// Attestations read as evidence (parse only; [`attest_verify`] verifies them).
pub fn attestations(data: &[u8]) {
    family(
        data,
        &[
            Format::Dsse,
            Format::SigstoreBundle,
            Format::IntotoStatement,
            Format::IntotoJsonl,
        ],
    );
}

// ------------------------------------------------------------------ attestations (portcullis-attest)

/// The Sigstore trust root the target verifies bundles against: our own CA and log key, made
/// by crates/attest/tests/support/sigstore_fixture.rs (see data/README.md).
pub const TRUSTED_ROOT: &str = include_str!("../data/trusted_root.json");
/// The trusted key (Ed25519) of the DSSE envelopes, named `fuzz-key`.
pub const TRUSTED_KEY: &str = include_str!("../data/fuzz-key.pub");
/// The artifact the seeds' Statements name (`sha256:` + this).
pub const ARTIFACT_SHA256: &str = include_str!("../data/artifact.txt");
/// The identity allowed to sign bundles (the fixture's).
pub const SAN: &str = "https://git.example/acme/app/.github/workflows/release.yml@refs/tags/v1";
pub const OIDC_ISSUER: &str = "https://token.actions.example";

struct Fixed {
    trust: portcullis_attest::Trust,
    artifact: portcullis_attest::ArtifactDigest,
}

fn fixed_trust() -> Option<&'static Fixed> {
    static FIXED: OnceLock<Option<Fixed>> = OnceLock::new();
    FIXED
        .get_or_init(|| {
            use portcullis_attest::{
                Identity, Matcher, SigstoreTrust, Thresholds, Trust, TrustedKey, TrustedKeys,
            };
            let key = TrustedKey::from_pem("fuzz-key", TRUSTED_KEY).ok()?;
            let sigstore = SigstoreTrust::from_json(
                TRUSTED_ROOT,
                Path::new("trusted_root.json"),
                vec![Identity {
                    san: Matcher::exact(SAN),
                    issuer: Matcher::exact(OIDC_ISSUER),
                }],
            )
            .ok()?;
            let artifact = format!("sha256:{}", ARTIFACT_SHA256.trim()).parse().ok()?;
            Some(Fixed {
                trust: Trust {
                    keys: TrustedKeys::from_keys(vec![key]),
                    thresholds: Thresholds::default(),
                    sigstore: Some(sigstore),
                },
                artifact,
            })
        })
        .as_ref()
}

/// Attestation files (one JSON document or JSON lines) verified as the firewall verifies them
/// ([`portcullis_attest::read_documents`], then [`portcullis_attest::verify_document`] for each:
/// DSSE envelopes against a fixed Ed25519 key, keyless Sigstore bundles against a fixed trust
/// root), and inspected unverified as `portcullis attest inspect` does. Returns how many
/// documents verified (`None` when the fixed trust could not be built: a bug of this crate).
pub fn attest_verify(data: &[u8]) -> Option<usize> {
    let fixed = fixed_trust()?;
    let Ok(documents) = portcullis_attest::read_documents(data) else {
        return Some(0);
    };
    let mut verified = 0;
    for doc in &documents {
        let v = portcullis_attest::verify_document(doc, &fixed.artifact, &fixed.trust);
        if v.verified {
            verified += 1;
        }
        let _ = portcullis_attest::inspect_unverified(doc);
    }
    Some(verified)
}

fn attest_verify_unit(data: &[u8]) {
    let _ = attest_verify(data);
}

/// A trusted-keys file (PEM SPKI public key) as the firewall reads the keys directory
/// ([`portcullis_firewall::trust::AttestationTrust::from_files`]), and a Sigstore
/// `trusted_root.json` as `--sigstore-root` is read (with the fixed identity).
pub fn trusted_keys(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let file = portcullis_firewall::document::StoredFile {
        path: "keys/fuzz.pub".into(),
        text: text.to_owned(),
    };
    let (trust, _refused) =
        portcullis_firewall::trust::AttestationTrust::from_files(vec![file.clone()]);
    let spec = portcullis_attest::IdentitySpec {
        certificate_identity: Some(SAN.into()),
        certificate_oidc_issuer: Some(OIDC_ISSUER.into()),
        ..Default::default()
    };
    let _ = trust.with_sigstore_root(
        portcullis_firewall::document::StoredFile {
            path: "trusted_root.json".into(),
            text: file.text,
        },
        &[spec],
    );
}

// ------------------------------------------------------------------ policies and configuration

/// A pod every constraint of [`gatekeeper`] is reviewed on.
const REVIEWED_POD: &str = r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"app","namespace":"prod","labels":{"app":"web"}},"spec":{"containers":[{"name":"app","image":"registry.example/app@sha256:5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03","securityContext":{"privileged":true}}]}}"#;

/// Gatekeeper ConstraintTemplates and constraints (a YAML or JSON file of a `--gatekeeper`
/// directory, [`portcullis_policy::gatekeeper::Gatekeeper::from_sources`]: templates' Rego
/// compiled), then every constraint reviewed on a fixed pod (the templates' Rego run under a
/// review time limit of 250 ms).
pub fn gatekeeper(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    use portcullis_policy::gatekeeper::Gatekeeper;
    let Ok(g) = Gatekeeper::from_sources(vec![("fuzz.yaml".into(), text.to_owned())]) else {
        return;
    };
    // A review's time limit well under libFuzzer's -timeout (2 s in fuzz/campaign.sh): a slow
    // template is bounded by it, so what still times out escaped the limit.
    let g = g.with_timeout(std::time::Duration::from_millis(250));
    let _ = g.problems();
    let Ok(object) = serde_json::from_str::<serde_json::Value>(REVIEWED_POD) else {
        return;
    };
    let pod = portcullis_policy::kubernetes::Manifest {
        source: "pod.json#1".into(),
        object,
        admission: None,
    };
    let inventory = portcullis_policy::gatekeeper::inventory([&pod.object]);
    let _ = g.review(&pod, None, Some(&inventory));
}

fn builtin_bundle() -> Option<&'static portcullis_policy::PolicyBundle> {
    static BUNDLE: OnceLock<Option<portcullis_policy::PolicyBundle>> = OnceLock::new();
    BUNDLE
        .get_or_init(|| portcullis_policy::PolicyBundle::builtin().ok())
        .as_ref()
}

/// The firewall configuration `portcullis.yaml` ([`portcullis_firewall::Config::from_yaml`],
/// then [`portcullis_firewall::Config::check`] against the built-in policies, and what the
/// firewall reads of it: rule parameters, the evaluation timeout, environments and actions).
pub fn firewall_config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(config) = portcullis_firewall::Config::from_yaml(text, "portcullis.yaml") else {
        return;
    };
    if let Some(bundle) = builtin_bundle() {
        let _ = config.check(bundle);
        for rule in bundle.rules().iter().take(4) {
            let _ = config.action(rule, "production");
        }
    }
    let _ = config.params();
    let _ = config.timeout();
    let _ = config.environment("production");
    let _ = config.error_at("rules", String::new());
}

/// An exceptions file ([`portcullis_firewall::exceptions::parse_exceptions`]).
pub fn exceptions(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = portcullis_firewall::exceptions::parse_exceptions(text, "exceptions.yaml");
}

// ------------------------------------------------------------------ probe

/// A probe expectations file ([`portcullis_probe::Expectations::parse`], which validates it),
/// what the probe derives from each target (ports, TLS policies), and a probe report or
/// exposure entries read as evidence ([`portcullis_probe::evidence::exposures_from_json`]).
pub fn probe_expect(data: &[u8]) {
    let _ = portcullis_probe::evidence::exposures_from_json(data, "sha256:fuzz");
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(e) = portcullis_probe::Expectations::parse(text, "expect.yaml") else {
        return;
    };
    for t in &e.targets {
        if let Some(tcp) = &t.tcp {
            let _ = tcp.scan_ports();
        }
        for tls in &t.tls {
            let _ = tls.policy();
        }
        for http in &t.http {
            if let (Ok(url), Some(r)) = (reqwest::Url::parse(&http.url), &http.redirect_https) {
                let _ = r.plain_url(&url);
            }
        }
    }
}

fn empty_roots() -> portcullis_probe::tls::Roots {
    portcullis_probe::tls::Roots {
        label: "no roots".into(),
        store: std::sync::Arc::new(rustls::RootCertStore::empty()),
    }
}

/// What the probe reads off the wire: the first byte picks
/// - `0`: a TLS record answering a ClientHello (5-byte header, then the body:
///   [`portcullis_probe::hello::parse_answer`]);
/// - `1`: a certificate chain (DER certificates separated by `--next--`) judged by
///   [`portcullis_probe::tls::judge`] with every certificate check on;
/// - otherwise: an HTTP response head (status line and header lines) judged by
///   [`portcullis_probe::http::judge_response`] with every header check on, and the redirect
///   check ([`portcullis_probe::http::redirects_to_https`]).
pub fn probe_wire(data: &[u8]) {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    match which {
        0 => {
            let Some((header, body)) = rest.split_first_chunk::<5>() else {
                return;
            };
            let _ = portcullis_probe::hello::parse_answer(*header, body);
        }
        1 => certificate_chain(rest),
        _ => http_head(rest),
    }
}

fn split_on<'a>(data: &'a [u8], separator: &[u8]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut rest = data;
    while let Some(at) = rest.windows(separator.len()).position(|w| w == separator) {
        let (part, after) = rest.split_at(at);
        out.push(part);
        rest = after.get(separator.len()..).unwrap_or_default();
    }
    out.push(rest);
    out
}

fn certificate_chain(data: &[u8]) {
    use portcullis_probe::expect::{CertificateExpectation, TlsExpectation};
    use portcullis_probe::protocol::Version;
    use rustls_pki_types::CertificateDer;
    let chain: Vec<CertificateDer<'static>> = split_on(data, b"--next--")
        .into_iter()
        .take(8)
        .map(|c| CertificateDer::from(c.to_vec()))
        .collect();
    let Ok(exp) = serde_json::from_value::<TlsExpectation>(serde_json::json!({
        "port": 443,
        "certificate": {"valid_for_name": true, "min_days_valid": 30, "no_weak_signature": true},
    })) else {
        return;
    };
    let _: Option<&CertificateExpectation> = exp.certificate.as_ref();
    let Ok(policy) = exp.policy() else {
        return;
    };
    let obs = portcullis_probe::tls::Observation {
        accepted: vec![(Version::Tls12, "TLS13_AES_128_GCM_SHA256".into())],
        refused: Vec::new(),
        families: Vec::new(),
        chain,
    };
    // 2026-01-01T00:00:00Z.
    let now = 1_767_225_600;
    let _ = portcullis_probe::tls::judge(
        "fuzz",
        &exp,
        &policy,
        "app.example.com",
        &empty_roots(),
        &obs,
        now,
    );
}

fn http_head(data: &[u8]) {
    use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
    let mut lines = data.split(|&b| b == b'\n').take(256);
    let status = lines
        .next()
        .and_then(|l| l.split(|&b| b == b' ').nth(1))
        .and_then(|s| std::str::from_utf8(s).ok())
        .and_then(|s| s.trim().parse::<u16>().ok())
        .unwrap_or(200);
    let mut headers = HeaderMap::new();
    for line in lines {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (name, value) = line.split_at(colon);
        let value = value.get(1..).unwrap_or_default().trim_ascii();
        if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(name), HeaderValue::from_bytes(value)) {
            headers.append(n, v);
        }
    }
    let Ok(exp) =
        serde_json::from_value::<portcullis_probe::expect::HttpExpectation>(serde_json::json!({
            "url": "https://app.example.com/",
            "status": 200,
            "hsts_min_max_age": 31536000,
            "csp": "strict",
            "nosniff": true,
            "frame_options": true,
            "referrer_policy": true,
            "cookies": {"secure": true, "http_only": true, "same_site": true},
            "no_wildcard_cors_with_credentials": true,
            "forbidden_headers": ["server-version", "x-powered-by-version", "x-debug"],
            "redirect_https": true,
        }))
    else {
        return;
    };
    let r = portcullis_probe::http::Response { status, headers };
    let _ = portcullis_probe::http::judge_response("fuzz", &exp, &r);
    if let Ok(plain) = reqwest::Url::parse("http://app.example.com/") {
        let _ = portcullis_probe::http::redirects_to_https(&plain, &r);
    }
}

// ------------------------------------------------------------------ canary verification

/// A canary analysis configuration ([`portcullis_verify::config::AnalysisConfig::parse`],
/// which checks it).
pub fn canary_config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = portcullis_verify::config::AnalysisConfig::parse(Path::new("canary.yaml"), text);
}

/// A metric series file in each format and detected
/// ([`portcullis_verify::metrics_formats::parse`]: wide and long CSV, JSON, Prometheus text).
pub fn metrics(data: &[u8]) {
    use portcullis_verify::metrics_formats::{SeriesFormat, parse as parse_series};
    for format in [
        SeriesFormat::Auto,
        SeriesFormat::WideCsv,
        SeriesFormat::LongCsv,
        SeriesFormat::Json,
        SeriesFormat::Prometheus,
    ] {
        let _ = parse_series(Path::new("series"), data, format);
    }
}

fn log_config() -> Option<&'static portcullis_verify::logs::LogConfig> {
    static CONFIG: OnceLock<Option<portcullis_verify::logs::LogConfig>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            serde_json::from_value(serde_json::json!({
                "baseline": ["baseline.log"],
                "canary": ["canary.log"],
            }))
            .ok()
        })
        .as_ref()
}

/// Two logs compared as `verify canary` compares them
/// ([`portcullis_verify::logs::analyse_readers`] with the default settings: decompression of
/// gzip and zstd by content, folding of multi-line events, levels, the template miner). The
/// input is the baseline log, then the canary log after the first `\n=====\n` (the canary is
/// the baseline when there is none).
pub fn logs(data: &[u8]) {
    let Some(config) = log_config() else {
        return;
    };
    let parts = split_on(data, b"\n=====\n");
    let baseline = parts.first().copied().unwrap_or_default();
    let canary = parts.get(1).copied().unwrap_or(baseline);
    let _ = portcullis_verify::logs::analyse_readers(
        config,
        vec![
            ("baseline.log".into(), false, baseline),
            ("canary.log".into(), true, canary),
        ],
    );
}

// ------------------------------------------------------------------ server

/// An AdmissionReview body as the webhook reads it: JSON ([`portcullis_server::body::parse`]),
/// the firewall's Review ([`portcullis_server::admission::review_of`]), and what the firewall
/// reads of the object: the policies' manifest, the pod spec, its images and their digests,
/// the images a deletion stops running.
pub fn admission(data: &[u8]) {
    let Ok(raw) = portcullis_server::body::parse::<serde_json::Value>(data) else {
        return;
    };
    let Ok((review, _request)) = portcullis_server::admission::review_of(raw) else {
        return;
    };
    let _ = portcullis_policy::kubernetes::Manifest::from_admission_review(&review.raw);
    use portcullis_firewall::admission as adm;
    for object in [
        review.object.as_ref(),
        review.raw.pointer("/request/oldObject"),
    ]
    .into_iter()
    .flatten()
    {
        let _ = adm::controlled(object);
        let _ = portcullis_firewall::inventory::pinned_images(&review.kind, object);
        if let Some(spec) = adm::pod_spec(&review.kind, object) {
            for image in adm::images(spec) {
                let _ = adm::digest_of(&image.image);
            }
        }
    }
}

/// The API's request bodies: the first byte picks the body
/// ([`portcullis_server::api::bodies::Body::ALL`], modulo their number), the rest is read as
/// the handler reads it ([`portcullis_server::api::bodies::read`]).
pub fn api_bodies(data: &[u8]) {
    use portcullis_server::api::bodies::{Body, read};
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let Some(body) = Body::ALL.get(usize::from(which) % Body::ALL.len()) else {
        return;
    };
    let _ = read(*body, rest, &Limits::default());
}
