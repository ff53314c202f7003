//! Evidence documents read once per server: a pipeline gates the same SBOM and scans into
//! several environments, a client refers to documents uploaded before by digest, and each of
//! those requests would otherwise decompress and parse the same bytes again (for a
//! 1,000-component SBOM, most of a decision's time).
//!
//! Kept by the document's digest and the name it was sent under (the name is part of the
//! parsed document); the bytes are kept too, so the decision records exactly what it read.
//! Bounded by count and by the size of the bytes; the oldest goes first. The limits documents
//! are read with are fixed for the server's life, so a kept document is what a parse now
//! would give.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use portcullis_firewall::EvidenceDoc;

/// Documents kept at most.
const MAX_DOCUMENTS: usize = 64;
/// Bytes of kept documents at most (their parsed form is a few times larger).
const MAX_BYTES: usize = 64 << 20;

#[derive(Debug, Clone)]
pub struct Parsed {
    pub doc: Arc<EvidenceDoc>,
    pub bytes: Arc<Vec<u8>>,
}

#[derive(Debug, Default)]
struct Inner {
    entries: HashMap<(String, String), Parsed>,
    order: VecDeque<(String, String)>,
    bytes: usize,
}

#[derive(Debug, Default)]
pub struct ParsedEvidence {
    inner: Mutex<Inner>,
}

impl ParsedEvidence {
    /// The document of `digest` read under `source`, when kept.
    pub fn get(&self, digest: &str, source: &str) -> Option<Parsed> {
        let inner = self.inner.lock().ok()?;
        inner
            .entries
            .get(&(digest.to_string(), source.to_string()))
            .cloned()
    }

    /// Keep `parsed` (documents larger than the whole budget are not kept).
    pub fn put(&self, parsed: Parsed) {
        let size = parsed.bytes.len();
        if size > MAX_BYTES {
            return;
        }
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        let key = (parsed.doc.digest.clone(), parsed.doc.source.clone());
        if inner.entries.contains_key(&key) {
            return;
        }
        while inner.order.len() >= MAX_DOCUMENTS || inner.bytes + size > MAX_BYTES {
            let Some(old) = inner.order.pop_front() else {
                break;
            };
            if let Some(p) = inner.entries.remove(&old) {
                inner.bytes = inner.bytes.saturating_sub(p.bytes.len());
            }
        }
        inner.bytes += size;
        inner.order.push_back(key.clone());
        inner.entries.insert(key, parsed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(name: &str, bytes: &[u8]) -> Parsed {
        let doc = EvidenceDoc::parse(name, bytes, &portcullis_evidence::Limits::default())
            .expect("parses");
        Parsed {
            doc: Arc::new(doc),
            bytes: Arc::new(bytes.to_vec()),
        }
    }

    const SBOM: &str =
        r#"{"bomFormat":"CycloneDX","specVersion":"1.5","version":1,"components":[]}"#;

    #[test]
    fn kept_by_digest_and_name_and_bounded() {
        let cache = ParsedEvidence::default();
        let first = doc("a.json", SBOM.as_bytes());
        let digest = first.doc.digest.clone();
        cache.put(first);
        assert!(cache.get(&digest, "a.json").is_some());
        // The same bytes under another name are another document.
        assert!(cache.get(&digest, "b.json").is_none());
        for i in 0..MAX_DOCUMENTS {
            let text = SBOM.replace("\"version\":1", &format!("\"version\":{}", i + 2));
            cache.put(doc("a.json", text.as_bytes()));
        }
        // The oldest went first.
        assert!(cache.get(&digest, "a.json").is_none());
        let inner = cache.inner.lock().expect("lock");
        assert_eq!(inner.entries.len(), MAX_DOCUMENTS);
        assert_eq!(inner.order.len(), MAX_DOCUMENTS);
    }
}
