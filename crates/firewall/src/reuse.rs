//! Rule results reused on evidence seen before.
//!
//! A rule's violations are a function of the input fields it reads and the rule parameters
//! ([`portcullis_policy::deps`] finds the fields, erring towards "any"). The evidence-derived
//! fields are those of the prepared evidence this memo lives in; the other fields it reads
//! (the environment, the artifact, the exposures, …) are part of the key, by value. So a second
//! decision on the same evidence — another environment, the admission of each replica,
//! re-gating when an advisory lands, the next run of the same pipeline — evaluates only the
//! rules whose key changed: those that read the time or the approvals, or a field that differs.
//! Only successful results are kept (an error or a time limit is decided again).

use std::collections::HashMap;
use std::sync::Mutex;

use portcullis_policy::{PolicyInput, RawViolation, Rule};

/// Results kept per prepared evidence set, at most; beyond it the memo starts afresh (a set
/// decided under that many different light inputs is not one that repeats).
const CAPACITY: usize = 4096;

/// The fields of a [`PolicyInput`] that come from the evidence (the memo's owner fixes them).
const EVIDENCE_FIELDS: [&str; 5] = [
    "components",
    "findings",
    "evidence",
    "advisories",
    "attestations",
];

#[derive(Debug, Default)]
pub(crate) struct Memo {
    results: Mutex<HashMap<String, Vec<RawViolation>>>,
}

impl Memo {
    pub(crate) fn get(&self, key: &str) -> Option<Vec<RawViolation>> {
        self.results.lock().ok()?.get(key).cloned()
    }

    pub(crate) fn put(&self, key: String, violations: &[RawViolation]) {
        if let Ok(mut r) = self.results.lock() {
            if r.len() >= CAPACITY {
                r.clear();
            }
            r.insert(key, violations.to_vec());
        }
    }
}

/// The request-specific fields of one decision's input, written once each when a key needs
/// them.
pub(crate) struct Light<'a> {
    input: &'a PolicyInput,
    written: HashMap<String, String>,
}

impl<'a> Light<'a> {
    pub(crate) fn new(input: &'a PolicyInput) -> Self {
        Self {
            input,
            written: HashMap::new(),
        }
    }

    fn field(&mut self, name: &str) -> Option<String> {
        if let Some(w) = self.written.get(name) {
            return Some(w.clone());
        }
        let i = self.input;
        let text = match name {
            "version" => serde_json::to_string(&i.version),
            "artifact" => serde_json::to_string(&i.artifact),
            "environment" => serde_json::to_string(&i.environment),
            "context" => serde_json::to_string(&i.context),
            "verifications" => serde_json::to_string(&i.verifications),
            "exposures" => serde_json::to_string(&i.exposures),
            "previous" => serde_json::to_string(&i.previous),
            "history" => serde_json::to_string(&i.history),
            "kubernetes" => serde_json::to_string(&i.kubernetes),
            "diff" => serde_json::to_string(&i.diff),
            // Fixed by the prepared evidence.
            f if EVIDENCE_FIELDS.contains(&f) => Ok(String::new()),
            // No such field: undefined in every input alike.
            _ => Ok(String::new()),
        }
        .ok()?;
        self.written.insert(name.to_string(), text.clone());
        Some(text)
    }

    /// The memo key of rule `index`, or `None` when its results cannot be reused: it may read
    /// anything, or it reads the request's context (its time differs in every request, so a
    /// kept result would never be met again and only crowd out the others), or a field could
    /// not be written.
    pub(crate) fn key(&mut self, index: usize, rule: &Rule) -> Option<String> {
        let reads = rule.reads.as_ref()?;
        if reads.contains("context") {
            return None;
        }
        let mut key = index.to_string();
        for field in reads {
            key.push('\u{0}');
            key.push_str(field);
            key.push('=');
            key.push_str(&self.field(field)?);
        }
        Some(key)
    }
}

/// Check that every field name [`Light::field`] writes is a field of the input, so that a
/// renamed field cannot silently drop out of the keys.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_input_field_is_keyed_or_evidence() {
        let input = serde_json::to_value(PolicyInput::default()).unwrap_or_default();
        let fields: Vec<String> = input
            .as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default();
        assert!(fields.len() >= 15, "{fields:?}");
        let empty = PolicyInput::default();
        let mut light = Light::new(&empty);
        for f in &fields {
            let written = light.field(f).unwrap_or_default();
            if EVIDENCE_FIELDS.contains(&f.as_str()) {
                assert!(written.is_empty(), "{f}");
            } else {
                assert!(!written.is_empty(), "{f} is not written into keys");
            }
        }
    }
}
