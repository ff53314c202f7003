//! Known-exploited vulnerabilities: a catalogue in the CISA KEV JSON format
//! (`{"catalogVersion", "vulnerabilities": [{"cveID", "dateAdded", "dueDate",
//! "knownRansomwareCampaignUse", …}]}`). Findings whose CVE is listed get `known_exploited`.

use std::collections::HashMap;

use portcullis_policy::input::InputKnownExploited;
use serde::Deserialize;

use crate::error::FirewallError;

#[derive(Debug, Clone, Default)]
pub struct KevCatalog {
    pub version: Option<String>,
    entries: HashMap<String, InputKnownExploited>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct File {
    #[serde(default)]
    catalog_version: Option<String>,
    vulnerabilities: Vec<Entry>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Entry {
    #[serde(rename = "cveID")]
    cve_id: String,
    date_added: String,
    #[serde(default)]
    due_date: Option<String>,
    #[serde(default)]
    known_ransomware_campaign_use: Option<String>,
}

impl KevCatalog {
    pub fn parse(bytes: &[u8], source: &str) -> Result<Self, FirewallError> {
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let file: File =
            serde_path_to_error_free(&mut de).map_err(|message| FirewallError::Kev {
                file: source.to_string(),
                message,
            })?;
        let entries = file
            .vulnerabilities
            .into_iter()
            .map(|e| {
                (
                    e.cve_id.trim().to_ascii_uppercase(),
                    InputKnownExploited {
                        date_added: e.date_added,
                        due_date: e.due_date,
                        ransomware: e
                            .known_ransomware_campaign_use
                            .is_some_and(|k| k.eq_ignore_ascii_case("known")),
                    },
                )
            })
            .collect();
        Ok(Self {
            version: file.catalog_version,
            entries,
        })
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entry for a CVE id, if listed.
    pub fn get(&self, cve: &str) -> Option<&InputKnownExploited> {
        if !cve.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("CVE-")) {
            return None;
        }
        self.entries.get(&cve.to_ascii_uppercase())
    }
}

fn serde_path_to_error_free(
    de: &mut serde_json::Deserializer<serde_json::de::SliceRead<'_>>,
) -> Result<File, String> {
    let file = File::deserialize(&mut *de)
        .map_err(|e| format!("line {} column {}: {e}", e.line(), e.column()))?;
    de.end()
        .map_err(|e| format!("line {} column {}: {e}", e.line(), e.column()))?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_cisa_shape() {
        let k = KevCatalog::parse(
            br#"{"title":"CISA Catalog of Known Exploited Vulnerabilities","catalogVersion":"2026.11.20","count":1,
            "vulnerabilities":[{"cveID":"CVE-2021-44228","vendorProject":"Apache","product":"Log4j2","dateAdded":"2021-12-10","dueDate":"2021-12-24","knownRansomwareCampaignUse":"Known","notes":"","cwes":["CWE-20"]}]}"#,
            "kev.json",
        )
        .unwrap();
        let e = k.get("cve-2021-44228").unwrap();
        assert_eq!(e.date_added, "2021-12-10");
        assert!(e.ransomware);
        assert!(k.get("GHSA-jfh8-c2jp-5v3q").is_none());
    }

    #[test]
    fn a_wrong_shape_names_file_and_place() {
        let err =
            KevCatalog::parse(b"{\"vulnerabilities\": [{\"cveID\": 5}]}", "kev.json").unwrap_err();
        let s = err.to_string();
        assert!(
            s.starts_with("kev.json: CISA KEV catalogue: line 1 column"),
            "{s}"
        );
    }
}
