//! Advisory impact: which deployed artifacts, in which environments, contain a version an
//! advisory affects. The store narrows by package (its component index); the advisory's own
//! version ranges decide, as at the gate.

use portcullis_evidence::Advisory;
use portcullis_evidence::purl::Purl;
use portcullis_store::{PackageInUse, Store, StoreError};

/// The packages (purl type, namespace, name) an advisory is about.
pub fn packages(advisory: &Advisory) -> Vec<(String, Option<String>, String)> {
    let mut out = Vec::new();
    for a in &advisory.affected {
        let from_purl = a.purl.as_deref().and_then(|p| Purl::parse(p).ok());
        let p = from_purl.or_else(|| {
            let (eco, name) = (a.ecosystem.as_ref()?, a.name.as_deref()?);
            Purl::from_package(eco, None, name, None).ok()
        });
        if let Some(p) = p {
            let key = (
                p.ty().to_string(),
                p.namespace().map(str::to_string),
                p.name().to_string(),
            );
            if !out.contains(&key) {
                out.push(key);
            }
        }
    }
    out
}

/// Every deployed artifact holding an affected version, with the component and version.
pub async fn impact(store: &Store, advisory: &Advisory) -> Result<Vec<PackageInUse>, StoreError> {
    let mut out = Vec::new();
    for (ty, ns, name) in packages(advisory) {
        // Distributions' packages carry the distribution as namespace in purls but not in OSV
        // names: match any namespace unless the advisory names one.
        for row in store
            .deployed_with_package(&ty, ns.as_deref(), &name)
            .await?
        {
            if advisory.affects_purl(&row.purl) && !out.contains(&row) {
                out.push(row);
            }
        }
    }
    out.sort_by(|a, b| {
        (&a.environment, &a.artifact_name, &a.purl).cmp(&(
            &b.environment,
            &b.artifact_name,
            &b.purl,
        ))
    });
    Ok(out)
}
