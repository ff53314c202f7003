//! Denials of Flagger's confirm hooks kept to be answered again (see [`Denials`]): held by the
//! server's state, used by `flagger`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use portcullis_store::kinds;

/// What can change a decision about a digest, as audit entry kinds: while none of these has
/// been recorded since a denial, deciding again would deny again (decisions, posture changes,
/// snapshots, watches and tokens change no verdict).
pub const VERDICT_INPUTS: [&str; 13] = [
    kinds::ADVISORY_ADDED,
    kinds::ADVISORY_WITHDRAWN,
    kinds::EXCEPTION_GRANTED,
    kinds::EXCEPTION_REVOKED,
    kinds::EXCEPTION_EXPIRED,
    kinds::APPROVAL_GRANTED,
    kinds::APPROVAL_REVOKED,
    kinds::FACT_RECORDED,
    kinds::EVIDENCE_STORED,
    kinds::POLICY_BUNDLE_STORED,
    kinds::DEPLOYMENT,
    kinds::DEPLOYMENT_REMOVED,
    kinds::OVERRIDE,
];

/// A denial is answered again for at most this long: rules that depend on the time (change
/// freezes, approvals' expiry) are judged afresh at least this often.
const DENIAL_REUSE: Duration = Duration::from_secs(300);
/// Denials kept at most (the oldest go first).
const DENIALS_KEPT: usize = 1024;

/// Denials of the confirm hooks, by (hook, canary, checksum, environment, pinned reference,
/// caller). Flagger asks `confirm-rollout` again at every interval while a canary waits: each
/// ask would otherwise record one more identical denial (and notify it). Only denials are
/// reused, only for references pinned by digest, only while no entry of [`VERDICT_INPUTS`] has
/// been recorded and the state in force is the same, and for [`DENIAL_REUSE`] at most; an
/// allow is always decided afresh.
#[derive(Debug, Default)]
pub struct Denials {
    map: Mutex<HashMap<String, Denial>>,
}

#[derive(Debug, Clone)]
pub struct Denial {
    pub detail: String,
    pub decision: String,
    /// The chain position of the denial, and the state in force when it was made.
    pub seq: u64,
    pub state_seq: u64,
    pub at: Instant,
}

impl Denials {
    pub fn get(&self, key: &str) -> Option<Denial> {
        let map = self.map.lock().ok()?;
        map.get(key)
            .filter(|d| d.at.elapsed() < DENIAL_REUSE)
            .cloned()
    }

    pub fn put(&self, key: String, denial: Denial) {
        let Ok(mut map) = self.map.lock() else {
            return;
        };
        map.retain(|_, d| d.at.elapsed() < DENIAL_REUSE);
        while map.len() >= DENIALS_KEPT {
            let Some(oldest) = map.iter().min_by_key(|(_, d)| d.at).map(|(k, _)| k.clone()) else {
                break;
            };
            map.remove(&oldest);
        }
        map.insert(key, denial);
    }
}
