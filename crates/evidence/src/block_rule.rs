//! Block rules: "nothing in this purl's package within this `vers:` range ships", for an
//! operator who must stop a package before (or without) an OSV record for it. A block rule is
//! an [`Advisory`] with one affected package and a `vers` range, so every path that matches
//! advisories matches block rules the same way.
//!
//! ```json
//! {"type": "portcullis-block-rule/v1", "id": "BLOCK-log4shell",
//!  "purl": "pkg:maven/org.apache.logging.log4j/log4j-core",
//!  "vers": "vers:maven/>=2.0-beta9|<2.15.0", "reason": "Log4Shell, CVE-2021-44228"}
//! ```

use serde::{Deserialize, Serialize};

use crate::error::{ErrorKind, ParseError, Place};
use crate::model::{Advisory, Affected, Severity};
use crate::purl::Purl;
use crate::range::VersRange;

/// The `type` of a block rule document.
pub const BLOCK_RULE_TYPE: &str = "portcullis-block-rule/v1";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlockRule {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
    /// The package, without version (`pkg:maven/org.apache.logging.log4j/log4j-core`).
    pub purl: String,
    /// The blocked versions (`vers:maven/>=2.0-beta9|<2.15.0`; `vers:maven/*` for all).
    pub vers: String,
    pub reason: String,
}

impl BlockRule {
    /// A checked block rule: the purl parses and has no version, the range parses, the id and
    /// reason are not empty.
    pub fn new(id: &str, purl: &str, vers: &str, reason: &str) -> Result<Self, ParseError> {
        let rule = Self {
            kind: BLOCK_RULE_TYPE.into(),
            id: id.trim().to_string(),
            purl: purl.trim().to_string(),
            vers: vers.trim().to_string(),
            reason: reason.trim().to_string(),
        };
        rule.check()?;
        Ok(rule)
    }

    /// Read a block rule document (JSON).
    pub fn from_json(bytes: &[u8]) -> Result<Self, ParseError> {
        let rule: Self = serde_json::from_slice(bytes).map_err(|e| {
            ParseError::new(ErrorKind::Shape, None, format!("block rule: {e}")).at(
                Place::LineColumn {
                    line: e.line(),
                    column: e.column(),
                },
            )
        })?;
        rule.check()?;
        Ok(rule)
    }

    /// The document as stored (JSON, fields in a fixed order).
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    fn check(&self) -> Result<(), ParseError> {
        let bad = |field: &str, m: String| {
            ParseError::new(
                ErrorKind::Shape,
                None,
                format!("block rule: `{field}`: {m}"),
            )
        };
        if self.kind != BLOCK_RULE_TYPE {
            return Err(bad("type", format!("expected {BLOCK_RULE_TYPE:?}")));
        }
        if self.id.is_empty() || self.id.chars().any(char::is_whitespace) {
            return Err(bad("id", "must be a non-empty word".into()));
        }
        if self.reason.is_empty() {
            return Err(bad("reason", "must not be empty".into()));
        }
        let p = Purl::parse(&self.purl).map_err(|e| bad("purl", e.to_string()))?;
        if p.version().is_some() {
            return Err(bad(
                "purl",
                "names a version; give the package only and the versions in `vers`".into(),
            ));
        }
        let range = VersRange::parse(&self.vers).map_err(|e| bad("vers", e.to_string()))?;
        if !range.scheme().eq_ignore_ascii_case(p.ty()) {
            return Err(bad(
                "vers",
                format!(
                    "its scheme {:?} is not the purl's type {:?}",
                    range.scheme(),
                    p.ty()
                ),
            ));
        }
        Ok(())
    }

    /// The rule as an advisory the firewall matches like any other.
    pub fn advisory(&self) -> Advisory {
        let p = Purl::parse(&self.purl).ok();
        Advisory {
            id: self.id.clone(),
            aliases: Vec::new(),
            summary: Some(self.reason.clone()),
            details: None,
            published: None,
            modified: None,
            withdrawn: None,
            severity: Severity::Critical,
            scores: Vec::new(),
            affected: vec![Affected {
                osv_ecosystem: None,
                ecosystem: p.as_ref().map(Purl::ecosystem),
                name: p.as_ref().map(Purl::package_name),
                purl: Some(self.purl.clone()),
                ranges: Vec::new(),
                versions: Vec::new(),
                vers: Some(self.vers.clone()),
            }],
            references: Vec::new(),
            cwes: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_block_rule_matches_its_range_only() {
        let r = BlockRule::new(
            "BLOCK-1",
            "pkg:maven/org.apache.logging.log4j/log4j-core",
            "vers:maven/>=2.0-beta9|<2.15.0",
            "Log4Shell",
        )
        .unwrap();
        let a = r.advisory();
        assert!(a.affects_purl("pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1"));
        assert!(a.affects_purl("pkg:maven/org.apache.logging.log4j/log4j-core@2.0-beta9"));
        assert!(!a.affects_purl("pkg:maven/org.apache.logging.log4j/log4j-core@2.15.0"));
        assert!(!a.affects_purl("pkg:maven/org.apache.logging.log4j/log4j-api@2.14.1"));
        let back = BlockRule::from_json(&r.to_json()).unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn bad_rules_say_which_field() {
        for (purl, vers, field) in [
            ("pkg:maven/a/b@1.0", "vers:maven/<2", "purl"),
            ("not a purl", "vers:maven/<2", "purl"),
            ("pkg:maven/a/b", "<2", "vers"),
            ("pkg:maven/a/b", "vers:npm/<2", "vers"),
        ] {
            let e = BlockRule::new("B", purl, vers, "r").unwrap_err();
            assert!(e.to_string().contains(&format!("`{field}`")), "{e}");
        }
        assert!(BlockRule::new("B", "pkg:npm/x", "vers:npm/*", " ").is_err());
    }
}
