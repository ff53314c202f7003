//! The audit chain: every change of state is an entry whose hash covers every column of it —
//! `hash = sha256("portcullis-entry-v2\n" seq "\n" at "\n" kind "\n" body_digest "\n"
//! prev_hash)`, `body_digest = sha256(canonical JSON body)` (format 2; format 1, `sha256(prev_hash
//! ‖ body_digest)`, left `seq`, `at` and `kind` uncovered and is only read to migrate and to check
//! the checkpoints signed before the migration). Signed checkpoints pin the hash at a sequence
//! number, so that rewriting or truncating the chain is detectable off-line. `verify` names the
//! first bad entry and what was done to it.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::canonical::{self, CanonicalError};
use crate::keys::{self, CheckpointKey};

/// `prev_hash` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One entry of the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// 1, 2, 3, … without gaps.
    pub seq: u64,
    /// RFC 3339 UTC.
    pub at: String,
    /// `decision`, `evidence`, `advisory.added`, `exception.granted`, …
    pub kind: String,
    /// The body, canonical JSON (RFC 8785).
    pub body: String,
    /// sha256 of `body`, hex.
    pub body_digest: String,
    pub prev_hash: String,
    pub hash: String,
}

/// The entry hash format written now.
pub const FORMAT: u8 = 2;

fn format_1() -> u8 {
    1
}

/// A signed statement that the chain had `hash` at `seq`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The entry hash format `hash` is in (1: signed before the chain was migrated to 2).
    #[serde(default = "format_1")]
    pub version: u8,
    pub seq: u64,
    pub hash: String,
    pub at: String,
    pub key_id: String,
    /// ed25519 public key, hex.
    pub public_key: String,
    /// Signature of [`Checkpoint::message`], hex.
    pub signature: String,
}

impl Checkpoint {
    /// The bytes a checkpoint of hash format `version` signs.
    pub fn message(version: u8, seq: u64, hash: &str, at: &str) -> Vec<u8> {
        match version {
            1 => format!("portcullis-checkpoint-v1\n{seq}\n{hash}\n{at}").into_bytes(),
            v => format!("portcullis-checkpoint-v{v}\n{seq}\n{hash}\n{at}").into_bytes(),
        }
    }
}

use crate::digest::sha256_hex;

/// Format 1: `sha256(prev_hash ‖ body_digest)` over the ASCII hex of both (covers neither
/// `seq`, `at` nor `kind`; read only to migrate and to check format-1 checkpoints).
pub fn entry_hash_v1(prev_hash: &str, body_digest: &str) -> String {
    let mut h = Sha256::new();
    h.update(prev_hash.as_bytes());
    h.update(body_digest.as_bytes());
    format!("{:x}", h.finalize())
}

/// Format 2, over every column of the entry: `sha256("portcullis-entry-v2\n" seq "\n" at "\n"
/// kind "\n" body_digest "\n" prev_hash)`. `at` and `kind` cannot hold a newline that forges
/// another split: the fields are length-prefixed.
pub fn entry_hash(seq: u64, at: &str, kind: &str, body_digest: &str, prev_hash: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"portcullis-entry-v2\n");
    h.update(format!("{seq}\n{}:{at}\n{}:{kind}\n", at.len(), kind.len()).as_bytes());
    h.update(body_digest.as_bytes());
    h.update(b"\n");
    h.update(prev_hash.as_bytes());
    format!("{:x}", h.finalize())
}

/// The format-2 hash of `e` as stored (whatever its `hash` column says).
pub fn hash_of(e: &Entry) -> String {
    entry_hash(e.seq, &e.at, &e.kind, &e.body_digest, &e.prev_hash)
}

/// The head of a chain, to append to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chain {
    last_seq: u64,
    last_hash: String,
}

impl Default for Chain {
    fn default() -> Self {
        Self::new()
    }
}

impl Chain {
    /// An empty chain.
    pub fn new() -> Self {
        Self {
            last_seq: 0,
            last_hash: GENESIS.to_string(),
        }
    }

    /// The chain whose last entry has `seq` and `hash` (0 and [`GENESIS`] when empty).
    pub fn at(last_seq: u64, last_hash: &str) -> Self {
        Self {
            last_seq,
            last_hash: last_hash.to_string(),
        }
    }

    pub fn last_hash(&self) -> &str {
        &self.last_hash
    }

    /// The chain whose last entry is `last`.
    pub fn resume(last: &Entry) -> Self {
        Self {
            last_seq: last.seq,
            last_hash: last.hash.clone(),
        }
    }

    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// Append an entry: its body is written in canonical form and chained to the last hash.
    pub fn append(
        &mut self,
        kind: &str,
        body: &serde_json::Value,
        at: &str,
    ) -> Result<Entry, CanonicalError> {
        let bytes = canonical::to_vec(body)?;
        let body_digest = sha256_hex(&bytes);
        let seq = self.last_seq + 1;
        let hash = entry_hash(seq, at, kind, &body_digest, &self.last_hash);
        let entry = Entry {
            seq,
            at: at.to_string(),
            kind: kind.to_string(),
            body: String::from_utf8(bytes).map_err(|e| CanonicalError(e.to_string()))?,
            body_digest,
            prev_hash: self.last_hash.clone(),
            hash: hash.clone(),
        };
        self.last_seq = entry.seq;
        self.last_hash = hash;
        Ok(entry)
    }

    /// A signed checkpoint of the chain as it is.
    pub fn checkpoint(&self, key: &CheckpointKey, at: &str) -> Checkpoint {
        Checkpoint {
            version: FORMAT,
            seq: self.last_seq,
            hash: self.last_hash.clone(),
            at: at.to_string(),
            key_id: key.key_id(),
            public_key: key.public_hex(),
            signature: key.sign(&Checkpoint::message(
                FORMAT,
                self.last_seq,
                &self.last_hash,
                at,
            )),
        }
    }
}

/// What `verify` found wrong, at the first bad place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tamper {
    /// The entry's body or hashes do not match each other: it was changed after it was written.
    Modified { seq: u64 },
    /// Entries are missing: `expected` should follow the entry before it.
    Deleted { expected: u64, found: u64 },
    /// An entry that was not appended in order: its sequence number repeats, or its link to the
    /// entry before it is broken while its own hashes hold (it was put there, or the entry before
    /// it was changed and rehashed).
    Inserted { seq: u64 },
    /// Entries out of order: `seq` comes after a higher sequence number.
    Reordered { seq: u64, after: u64 },
    /// The chain ends before a signed checkpoint.
    Truncated { last_seq: u64, checkpoint_seq: u64 },
    /// The chain is consistent but differs from what a signed checkpoint pinned: it was
    /// rewritten up to `seq` (and rehashed).
    Rewritten { seq: u64 },
    /// A checkpoint whose signature does not verify, or not by the trusted key.
    BadCheckpoint { seq: u64, reason: String },
}

impl fmt::Display for Tamper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tamper::Modified { seq } => write!(
                f,
                "entry {seq} was modified: its body or hash does not match"
            ),
            Tamper::Deleted { expected, found } => {
                write!(
                    f,
                    "entries deleted: expected entry {expected}, found {found}"
                )
            }
            Tamper::Inserted { seq } => write!(
                f,
                "entry {seq} does not follow the chain: it was inserted, or the entry before it was rewritten"
            ),
            Tamper::Reordered { seq, after } => {
                write!(
                    f,
                    "entries reordered: entry {seq} comes after entry {after}"
                )
            }
            Tamper::Truncated {
                last_seq,
                checkpoint_seq,
            } => write!(
                f,
                "chain truncated: it ends at entry {last_seq}, but a signed checkpoint covers entry {checkpoint_seq}"
            ),
            Tamper::Rewritten { seq } => write!(
                f,
                "chain rewritten: entry {seq} differs from the signed checkpoint at that entry"
            ),
            Tamper::BadCheckpoint { seq, reason } => {
                write!(f, "checkpoint at entry {seq}: {reason}")
            }
        }
    }
}

/// What a successful verification covered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub entries: u64,
    pub checkpoints: usize,
    pub last_hash: String,
}

/// Verify `entries` (in stored order) and `checkpoints`. A chain starting at entry 1 must start
/// from [`GENESIS`]; one starting later (an exported segment) is anchored by its first
/// `prev_hash`. With `trusted_key` (public key, hex), every checkpoint must be signed by it.
pub fn verify(
    entries: &[Entry],
    checkpoints: &[Checkpoint],
    trusted_key: Option<&str>,
) -> Result<Verified, Tamper> {
    let mut check = ChainCheck::new(checkpoints, trusted_key)?;
    check.feed(entries.to_vec())?;
    check.finish()
}

/// The kind of the entry that records the migration of the chain to hash format 2 (its body
/// pins the format-1 head: `{"v1_head": {"seq": N, "hash": H}, …}`).
pub const MIGRATED: &str = "chain.migrated";

/// Entries held back at the end of each fed batch, so that a swap across two batches is still
/// reported as a reordering.
const LOOKAHEAD: usize = 64;

/// A verification fed in batches (a database streams a long chain through it).
#[derive(Debug)]
pub struct ChainCheck<'a> {
    checkpoints: &'a [Checkpoint],
    /// Checkpoints in the entries' own format, by sequence number.
    pinned: std::collections::HashMap<u64, &'a str>,
    /// Format-1 checkpoints of a chain since migrated to format 2, by sequence number.
    pinned_v1: std::collections::HashMap<u64, &'a str>,
    /// The hash format of the entries (2; 1 only to check a chain before migrating it).
    format: u8,
    /// The format-1 hash of the last entry checked, while it can be computed (the chain
    /// started at entry 1).
    v1_hash: Option<String>,
    /// Sequence number, hash and `prev_hash` of the last entry checked.
    prev: Option<(u64, String, String)>,
    pending: Vec<Entry>,
    count: u64,
}

impl<'a> ChainCheck<'a> {
    /// Check every checkpoint's signature (and, with `trusted_key`, that it signed them).
    /// Entries are in format 2; format-1 checkpoints are checked against the format-1 hashes
    /// the entries had before the migration.
    pub fn new(checkpoints: &'a [Checkpoint], trusted_key: Option<&str>) -> Result<Self, Tamper> {
        Self::with_format(checkpoints, trusted_key, FORMAT)
    }

    /// A check of a chain whose entries are still in hash `format` (1 before the migration).
    pub fn with_format(
        checkpoints: &'a [Checkpoint],
        trusted_key: Option<&str>,
        format: u8,
    ) -> Result<Self, Tamper> {
        for c in checkpoints {
            if trusted_key.is_some_and(|k| !k.eq_ignore_ascii_case(&c.public_key)) {
                return Err(Tamper::BadCheckpoint {
                    seq: c.seq,
                    reason: format!("signed by key {}, not the trusted key", c.key_id),
                });
            }
            if keys::key_id(&keys::decode_hex(&c.public_key).unwrap_or_default()) != c.key_id {
                return Err(Tamper::BadCheckpoint {
                    seq: c.seq,
                    reason: "its key id does not match its public key".into(),
                });
            }
            if !keys::verify_signature(
                &c.public_key,
                &Checkpoint::message(c.version, c.seq, &c.hash, &c.at),
                &c.signature,
            ) {
                return Err(Tamper::BadCheckpoint {
                    seq: c.seq,
                    reason: "the signature does not verify".into(),
                });
            }
            if c.version != 1 && c.version != format {
                return Err(Tamper::BadCheckpoint {
                    seq: c.seq,
                    reason: format!(
                        "it is in hash format {}, the chain in format {format}",
                        c.version
                    ),
                });
            }
        }
        let of = |v: u8| {
            checkpoints
                .iter()
                .filter(|c| c.version == v)
                .map(|c| (c.seq, c.hash.as_str()))
                .collect()
        };
        Ok(Self {
            checkpoints,
            pinned: of(format),
            pinned_v1: if format == 1 {
                Default::default()
            } else {
                of(1)
            },
            format,
            v1_hash: None,
            prev: None,
            pending: Vec::new(),
            count: 0,
        })
    }

    /// Check the next entries, in stored order.
    pub fn feed(&mut self, entries: Vec<Entry>) -> Result<(), Tamper> {
        let mut batch = std::mem::take(&mut self.pending);
        batch.extend(entries);
        let keep = batch.len().saturating_sub(LOOKAHEAD);
        let ahead = batch.split_off(keep);
        let checked = self.check(&batch, &ahead);
        self.pending = ahead;
        checked
    }

    /// Check what is left and that no checkpoint lies beyond the end.
    pub fn finish(mut self) -> Result<Verified, Tamper> {
        let rest = std::mem::take(&mut self.pending);
        self.check(&rest, &[])?;
        let last_seq = self.prev.as_ref().map_or(0, |p| p.0);
        if let Some(c) = self
            .checkpoints
            .iter()
            .filter(|c| c.seq > last_seq)
            .min_by_key(|c| c.seq)
        {
            return Err(Tamper::Truncated {
                last_seq,
                checkpoint_seq: c.seq,
            });
        }
        Ok(Verified {
            entries: self.count,
            checkpoints: self.checkpoints.len(),
            last_hash: self.prev.map_or_else(|| GENESIS.to_string(), |p| p.1),
        })
    }

    /// Follow the format-1 hashes (from entry 1 on) and check them against format-1
    /// checkpoints and the head a `chain.migrated` entry pinned.
    fn check_v1(&mut self, e: &Entry) -> Result<(), Tamper> {
        if self.format == 1 {
            return Ok(());
        }
        let prev = match (&self.v1_hash, &self.prev) {
            (Some(h), _) => h.clone(),
            (None, None) if e.seq == 1 => GENESIS.to_string(),
            // A segment starting later: format-1 hashes cannot be followed.
            _ => {
                if let Some(c) = self
                    .checkpoints
                    .iter()
                    .find(|c| c.version == 1 && c.seq == e.seq)
                {
                    return Err(Tamper::BadCheckpoint {
                        seq: c.seq,
                        reason: "a format-1 checkpoint can only be checked from entry 1".into(),
                    });
                }
                return Ok(());
            }
        };
        if e.kind == MIGRATED {
            let pinned = serde_json::from_str::<serde_json::Value>(&e.body)
                .ok()
                .and_then(|b| {
                    let head = b.get("v1_head")?;
                    Some((
                        head.get("seq")?.as_u64()?,
                        head.get("hash")?.as_str()?.to_string(),
                    ))
                });
            let expected = self.prev.as_ref().map(|p| p.0).unwrap_or(0);
            match pinned {
                Some((seq, hash)) if seq == expected && hash == prev => {}
                _ => return Err(Tamper::Rewritten { seq: e.seq }),
            }
        }
        let hash = entry_hash_v1(&prev, &e.body_digest);
        if self.pinned_v1.get(&e.seq).is_some_and(|h| *h != hash) {
            return Err(Tamper::Rewritten { seq: e.seq });
        }
        self.v1_hash = Some(hash);
        Ok(())
    }

    fn check(&mut self, entries: &[Entry], ahead: &[Entry]) -> Result<(), Tamper> {
        for (i, e) in entries.iter().enumerate() {
            let (expected_seq, expected_prev) = match &self.prev {
                Some((seq, hash, _)) => (seq + 1, hash.as_str()),
                None if e.seq <= 1 => (1, GENESIS),
                None => (e.seq, e.prev_hash.as_str()),
            };
            if e.seq != expected_seq {
                let later = entries
                    .get(i + 1..)
                    .unwrap_or_default()
                    .iter()
                    .chain(ahead)
                    .any(|x| x.seq == expected_seq);
                return Err(match &self.prev {
                    Some((seq, _, _)) if e.seq == *seq => Tamper::Inserted { seq: e.seq },
                    Some((seq, _, _)) if e.seq < *seq => Tamper::Reordered {
                        seq: e.seq,
                        after: *seq,
                    },
                    // The missing entry further on: they were swapped, not deleted.
                    _ if later => Tamper::Reordered {
                        seq: expected_seq,
                        after: e.seq,
                    },
                    _ => Tamper::Deleted {
                        expected: expected_seq,
                        found: e.seq,
                    },
                });
            }
            let hash = if self.format == 1 {
                entry_hash_v1(&e.prev_hash, &e.body_digest)
            } else {
                hash_of(e)
            };
            if sha256_hex(e.body.as_bytes()) != e.body_digest || hash != e.hash {
                return Err(Tamper::Modified { seq: e.seq });
            }
            if e.prev_hash != expected_prev {
                let next = entries.get(i + 1).or_else(|| ahead.first());
                return Err(match (&self.prev, next) {
                    // It links to the entry stored after it: the two were swapped (a database
                    // keeps the sequence numbers in place and moves the contents).
                    (_, Some(n)) if n.hash == e.prev_hash => Tamper::Reordered {
                        seq: e.seq,
                        after: n.seq,
                    },
                    // It links to where the entry before it links: that one was put in between.
                    (Some((seq, _, pp)), _) if *pp == e.prev_hash => Tamper::Inserted { seq: *seq },
                    // Its own hashes hold but it does not link to the entry before: it was put
                    // there, or the entry before was changed and rehashed (a checkpoint tells
                    // which span).
                    _ => Tamper::Inserted { seq: e.seq },
                });
            }
            if self.pinned.get(&e.seq).is_some_and(|h| *h != e.hash) {
                return Err(Tamper::Rewritten { seq: e.seq });
            }
            self.check_v1(e)?;
            self.count += 1;
            self.prev = Some((e.seq, e.hash.clone(), e.prev_hash.clone()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn chain(n: u64, key: &CheckpointKey, checkpoint_every: u64) -> (Vec<Entry>, Vec<Checkpoint>) {
        let mut c = Chain::new();
        let mut entries = Vec::new();
        let mut checkpoints = Vec::new();
        for i in 1..=n {
            let body = json!({"decision": if i % 3 == 0 {"deny"} else {"allow"}, "n": i, "artifact": {"name": "shop/api", "digest": format!("sha256:{i:064x}")}});
            entries.push(c.append("decision", &body, "2026-11-23T12:00:00Z").unwrap());
            if i % checkpoint_every == 0 {
                checkpoints.push(c.checkpoint(key, "2026-11-23T12:00:00Z"));
            }
        }
        (entries, checkpoints)
    }

    #[test]
    fn an_untouched_chain_verifies() {
        let key = CheckpointKey::generate().unwrap();
        let (entries, cps) = chain(50, &key, 10);
        let v = verify(&entries, &cps, Some(&key.public_hex())).unwrap();
        assert_eq!(v.entries, 50);
        assert_eq!(v.checkpoints, 5);
        assert_eq!(v.last_hash, entries[49].hash);
        // Resuming continues the same chain.
        let mut c = Chain::resume(&entries[49]);
        let next = c
            .append("decision", &json!({"n": 51}), "2026-11-23T12:00:01Z")
            .unwrap();
        let mut more = entries.clone();
        more.push(next);
        verify(&more, &cps, None).unwrap();
    }

    #[test]
    fn each_kind_of_tampering_names_the_first_bad_entry() {
        let key = CheckpointKey::generate().unwrap();
        let (entries, cps) = chain(30, &key, 10);

        let mut modified = entries.clone();
        modified[11].body = modified[11].body.replace("\"n\":12", "\"n\":112");
        assert_ne!(modified[11].body, entries[11].body);
        assert_eq!(
            verify(&modified, &cps, None),
            Err(Tamper::Modified { seq: 12 })
        );

        let mut deleted = entries.clone();
        deleted.remove(14);
        assert_eq!(
            verify(&deleted, &cps, None),
            Err(Tamper::Deleted {
                expected: 15,
                found: 16
            })
        );

        // A forged entry with a valid link and hash, slipped in after entry 7.
        let mut inserted = entries.clone();
        let mut forger = Chain::resume(&entries[6]);
        let forged = forger
            .append(
                "decision",
                &json!({"decision": "allow", "forged": true}),
                "2026-11-23T12:00:00Z",
            )
            .unwrap();
        inserted.insert(7, forged);
        assert_eq!(
            verify(&inserted, &cps, None),
            Err(Tamper::Inserted { seq: 8 })
        );

        let mut reordered = entries.clone();
        reordered.swap(20, 21);
        assert_eq!(
            verify(&reordered, &cps, None),
            Err(Tamper::Reordered { seq: 21, after: 22 })
        );

        let truncated = entries[..25].to_vec();
        assert_eq!(
            verify(&truncated, &cps, None),
            Err(Tamper::Truncated {
                last_seq: 25,
                checkpoint_seq: 30
            })
        );

        // Rewritten from entry 5 on and rehashed consistently: only the checkpoints tell.
        let mut rewritten = entries[..4].to_vec();
        let mut c = Chain::resume(&entries[3]);
        for i in 5..=30u64 {
            rewritten.push(
                c.append(
                    "decision",
                    &json!({"decision": "allow", "n": i}),
                    "2026-11-23T12:00:00Z",
                )
                .unwrap(),
            );
        }
        assert_eq!(
            verify(&rewritten, &cps, None),
            Err(Tamper::Rewritten { seq: 10 })
        );

        // A checkpoint signed by another key, or with a changed hash.
        let other = CheckpointKey::generate().unwrap();
        assert!(matches!(
            verify(&entries, &cps, Some(&other.public_hex())),
            Err(Tamper::BadCheckpoint { seq: 10, .. })
        ));
        let mut forged_cp = cps.clone();
        forged_cp[1].hash = entries[5].hash.clone();
        assert!(matches!(
            verify(&entries, &forged_cp, None),
            Err(Tamper::BadCheckpoint { seq: 20, .. })
        ));
    }

    #[test]
    fn every_column_is_covered() {
        let key = CheckpointKey::generate().unwrap();
        let (entries, cps) = chain(12, &key, 4);
        for change in 0..3 {
            let mut doctored = entries.clone();
            match change {
                0 => doctored[6].kind = "override".into(),
                1 => doctored[6].at = "2019-01-01T00:00:00Z".into(),
                _ => doctored[6].seq = 70,
            }
            let found = verify(&doctored, &cps, None).unwrap_err();
            assert!(
                matches!(
                    found,
                    Tamper::Modified { seq: 7 } | Tamper::Modified { seq: 70 }
                ) || change == 2,
                "{change}: {found:?}"
            );
        }
        // A newline in `at` cannot shift a field boundary into `kind`.
        assert_ne!(
            entry_hash(1, "a\nb", "c", "d", GENESIS),
            entry_hash(1, "a", "b\nc", "d", GENESIS)
        );
    }

    #[test]
    fn format_1_checkpoints_hold_after_the_migration() {
        let key = CheckpointKey::generate().unwrap();
        // A format-1 chain of 5 entries and its checkpoint.
        let mut prev = GENESIS.to_string();
        let mut bodies = Vec::new();
        for i in 1..=5u64 {
            let body = format!("{{\"n\":{i}}}");
            let digest = sha256_hex(body.as_bytes());
            prev = entry_hash_v1(&prev, &digest);
            bodies.push((body, digest));
        }
        let at = "2026-11-20T00:00:00Z";
        let v1 = Checkpoint {
            version: 1,
            seq: 5,
            hash: prev.clone(),
            at: at.into(),
            key_id: key.key_id(),
            public_key: key.public_hex(),
            signature: key.sign(&Checkpoint::message(1, 5, &prev, at)),
        };
        // Re-hashed to format 2, with the migration entry.
        let mut c = Chain::new();
        let mut entries: Vec<Entry> = bodies
            .iter()
            .map(|(b, _)| {
                let v: serde_json::Value = serde_json::from_str(b).unwrap();
                c.append("decision", &v, at).unwrap()
            })
            .collect();
        entries.push(
            c.append(MIGRATED, &json!({"v1_head": {"seq": 5, "hash": prev}}), at)
                .unwrap(),
        );
        let v2 = c.checkpoint(&key, at);
        let cps = vec![v1.clone(), v2.clone()];
        verify(&entries, &cps, Some(&key.public_hex())).unwrap();
        // A body changed and everything re-hashed in format 2 (a new format-2 checkpoint
        // signed): the format-1 checkpoint still catches it.
        let mut c = Chain::new();
        let mut forged: Vec<Entry> = (1..=5u64)
            .map(|i| c.append("decision", &json!({"n": i * 10}), at).unwrap())
            .collect();
        forged.push(
            c.append(MIGRATED, &json!({"v1_head": {"seq": 5, "hash": prev}}), at)
                .unwrap(),
        );
        let resigned = vec![v1, c.checkpoint(&key, at)];
        assert!(matches!(
            verify(&forged, &resigned, None),
            Err(Tamper::Rewritten { .. })
        ));
    }

    #[test]
    fn a_segment_is_anchored_by_its_first_link() {
        let key = CheckpointKey::generate().unwrap();
        let (entries, cps) = chain(40, &key, 20);
        let segment = &entries[20..40];
        let v = verify(segment, &cps[1..], Some(&key.public_hex())).unwrap();
        assert_eq!(v.entries, 20);
    }

    #[test]
    fn messages_name_the_entry() {
        assert_eq!(
            Tamper::Modified { seq: 12 }.to_string(),
            "entry 12 was modified: its body or hash does not match"
        );
        assert!(
            Tamper::Truncated {
                last_seq: 25,
                checkpoint_seq: 30
            }
            .to_string()
            .contains("ends at entry 25")
        );
    }
}
