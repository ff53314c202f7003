//! One module per format family; each turns bytes into [`Evidence`].

use crate::error::ParseError;
use crate::format::Format;
use crate::{Evidence, Limits};

pub mod bandit;
pub mod checkov;
pub mod cyclonedx;
pub mod grype;
pub mod intoto;
pub mod osv;
pub mod osv_scanner;
pub mod sarif;
mod scanner_common;
pub mod semgrep;
pub mod spdx;
pub mod trivy;
pub mod zap;

/// Dispatch to the parser of `format`, then normalize what it produced.
pub fn parse(format: Format, bytes: &[u8], limits: &Limits) -> Result<Evidence, ParseError> {
    let mut evidence = parse_raw(format, bytes, limits)?;
    normalize(&mut evidence);
    Ok(evidence)
}

/// What every parser's output gets, in one place rather than in each parser: purls in
/// canonical form (kept as written when they do not parse: the document said it, and a policy
/// may want to see it), ecosystems filled in from them, and package-finding keys recomputed
/// from the canonical purl so that two tools spelling the same purl differently agree.
pub(crate) fn normalize(evidence: &mut Evidence) {
    for c in &mut evidence.components {
        if let Some(p) = c.purl.as_mut() {
            let (_, ecosystem) = canonical(p);
            if c.ecosystem.is_none() {
                c.ecosystem = ecosystem;
            }
        }
    }
    for f in &mut evidence.findings {
        let Some(c) = f.component.as_mut() else {
            continue;
        };
        let Some(p) = c.purl.as_mut() else {
            continue;
        };
        let (changed, ecosystem) = canonical(p);
        if changed && f.key.starts_with("vuln:") {
            f.key = crate::model::Finding::package_key(
                &f.id,
                &f.aliases,
                Some(p),
                &c.name,
                c.version.as_deref(),
            );
        }
        if c.ecosystem.is_none() {
            c.ecosystem = ecosystem;
        }
    }
    for a in &mut evidence.advisories {
        for af in &mut a.affected {
            if let Some(p) = af.purl.as_mut() {
                canonical(p);
            }
        }
    }
}

/// Rewrite `purl` in canonical form, parsing it once: whether it changed, and its ecosystem
/// (`None` when it does not parse; it is then kept as written).
fn canonical(purl: &mut String) -> (bool, Option<crate::model::Ecosystem>) {
    let Ok(parsed) = crate::purl::Purl::parse(purl) else {
        return (false, None);
    };
    let ecosystem = Some(parsed.ecosystem());
    let c = parsed.to_string();
    if c == *purl {
        return (false, ecosystem);
    }
    *purl = c;
    (true, ecosystem)
}

fn parse_raw(format: Format, bytes: &[u8], limits: &Limits) -> Result<Evidence, ParseError> {
    match format {
        Format::CyclonedxJson => cyclonedx::parse_json(bytes, limits),
        Format::CyclonedxXml => cyclonedx::parse_xml(bytes, limits),
        Format::SpdxJson => spdx::parse(bytes, limits),
        Format::TrivyJson => trivy::parse(bytes, limits),
        Format::GrypeJson => grype::parse(bytes, limits),
        Format::OsvScannerJson => osv_scanner::parse(bytes, limits),
        Format::Sarif => sarif::parse(bytes, limits),
        Format::SemgrepJson => semgrep::parse(bytes, limits),
        Format::CheckovJson => checkov::parse(bytes, limits),
        Format::BanditJson => bandit::parse(bytes, limits),
        Format::ZapXml => zap::parse_xml(bytes, limits),
        Format::ZapJson => zap::parse_json(bytes, limits),
        Format::OsvAdvisory => osv::parse(bytes, limits),
        Format::Dsse => intoto::parse_dsse(bytes, limits),
        Format::IntotoStatement => intoto::parse_statement(bytes, limits),
        Format::IntotoJsonl => intoto::parse_jsonl(bytes, limits),
        Format::SigstoreBundle => intoto::parse_bundle(bytes, limits),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purls_are_canonical_and_keys_follow() {
        // Trivy writes the PyPI name as the package author did; the canonical purl folds it.
        let doc =
            br#"{"SchemaVersion":2,"ArtifactName":"x","Results":[{"Target":"requirements.txt",
          "Class":"lang-pkgs","Type":"pip","Vulnerabilities":[{"VulnerabilityID":"CVE-2023-1",
          "PkgName":"Django_Rest","InstalledVersion":"1.0","Severity":"HIGH",
          "PkgIdentifier":{"PURL":"pkg:pypi/Django_Rest@1.0"}}]}]}"#;
        let ev = parse(Format::TrivyJson, doc, &Limits::default()).unwrap();
        let f = &ev.findings[0];
        assert_eq!(
            f.component.as_ref().unwrap().purl.as_deref(),
            Some("pkg:pypi/django-rest@1.0")
        );
        assert_eq!(f.key, "vuln:CVE-2023-1|pkg:pypi/django-rest@1.0");
    }
}
