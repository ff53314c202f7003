//! Checks the tables the firewall acts on against the audit chain.
//!
//! A table row is an index; its audit entry (covered by the hash chain) is the record. Every
//! row-writing change pins the rows it writes in its entry body (`"rows": [{"table": …, "link":
//! …, column: value, …}]`, added by the store when it commits), so a row can be compared column
//! by column with the entry its `seq` (or `revoked_seq`, …) names. Entries written before the
//! store pinned rows are read through each link's `legacy` mapping (body member per column).
//!
//! The extension point is [`TABLES`]: a new table is one more [`TableCheck`] there (and the
//! `Write` that fills it pins its row in [`pinned_row`]).

use std::collections::{BTreeMap, HashMap};

use serde_json::{Map, Value, json};
use sqlx::Row;

use super::pool::{Store, on_db};
use crate::chain::{Entry, hash_of};
use crate::digest;
use crate::error::StoreError;
use crate::records::{Write, kinds};

/// One link from a row to an audit entry: the column holding the entry's sequence number, the
/// entry kinds it may name, and the columns that entry pins.
#[derive(Debug)]
pub struct Link {
    pub seq_column: &'static str,
    pub kinds: &'static [&'static str],
    pub columns: &'static [&'static str],
    /// For entries written before rows were pinned: the body member (JSON pointer) of each key
    /// column and column (those not listed are not compared).
    pub legacy: &'static [(&'static str, &'static str)],
}

/// How one table is checked against the chain.
#[derive(Debug)]
pub struct TableCheck {
    pub table: &'static str,
    /// The columns that name a row in findings (empty: the row is named by its `seq`).
    pub key: &'static [&'static str],
    /// The first link is the row's creation (its column is never NULL); the others are set by
    /// later entries (a revocation) and are NULL, with their columns, until then.
    pub links: &'static [Link],
    /// Only the latest entry per key has a row (the inventory: what runs now).
    pub latest_only: bool,
}

/// Every table the firewall acts on.
pub static TABLES: &[TableCheck] = &[
    TableCheck {
        table: "decisions",
        key: &["id"],
        links: &[Link {
            seq_column: "seq",
            kinds: &[kinds::DECISION],
            columns: &[
                "artifact_name",
                "artifact_digest",
                "environment",
                "verdict",
                "decided_at",
                "decision_digest",
                "request_digest",
                "policy_bundle",
            ],
            legacy: &[
                ("id", "/decision_id"),
                ("artifact_name", "/artifact/name"),
                ("artifact_digest", "/artifact/digest"),
                ("environment", "/environment"),
                ("verdict", "/verdict"),
                ("decided_at", "/decided_at"),
                ("decision_digest", "/decision_digest"),
                ("request_digest", "/request_digest"),
                ("policy_bundle", "/policy_bundle"),
            ],
        }],
        latest_only: false,
    },
    TableCheck {
        table: "exceptions",
        key: &["id"],
        links: &[
            Link {
                seq_column: "seq",
                kinds: &[kinds::EXCEPTION_GRANTED],
                columns: &["body", "granted_by", "granted_at", "expires_at"],
                legacy: &[
                    ("id", "/exception_id"),
                    ("granted_by", "/granted_by"),
                    ("expires_at", "/expires_at"),
                ],
            },
            Link {
                seq_column: "revoked_seq",
                kinds: &[kinds::EXCEPTION_REVOKED],
                columns: &["revoked_at", "revoked_by", "revoke_reason"],
                legacy: &[
                    ("id", "/exception_id"),
                    ("revoked_by", "/by"),
                    ("revoke_reason", "/reason"),
                ],
            },
            Link {
                seq_column: "expiry_seq",
                kinds: &[kinds::EXCEPTION_EXPIRED],
                columns: &[],
                legacy: &[("id", "/exception_id")],
            },
        ],
        latest_only: false,
    },
    TableCheck {
        table: "overrides",
        key: &["decision_id"],
        links: &[Link {
            seq_column: "seq",
            kinds: &[kinds::OVERRIDE],
            columns: &["actor", "reason", "at"],
            legacy: &[
                ("decision_id", "/decision_id"),
                ("actor", "/by"),
                ("reason", "/reason"),
            ],
        }],
        latest_only: false,
    },
    TableCheck {
        table: "api_tokens",
        key: &["id"],
        links: &[
            Link {
                seq_column: "seq",
                kinds: &[kinds::TOKEN_CREATED],
                columns: &["name", "role", "digest", "created_at", "created_by"],
                legacy: &[
                    ("id", "/token_id"),
                    ("name", "/name"),
                    ("role", "/role"),
                    ("created_by", "/by"),
                ],
            },
            Link {
                seq_column: "revoked_seq",
                kinds: &[kinds::TOKEN_REVOKED],
                columns: &["revoked_at", "revoked_by"],
                legacy: &[("id", "/token_id"), ("revoked_by", "/by")],
            },
        ],
        latest_only: false,
    },
    TableCheck {
        table: "advisories",
        key: &["id"],
        links: &[
            Link {
                seq_column: "seq",
                kinds: &[kinds::ADVISORY_ADDED],
                columns: &["kind", "digest", "summary", "added_at", "added_by"],
                legacy: &[
                    ("id", "/advisory_id"),
                    ("kind", "/kind"),
                    ("digest", "/digest"),
                    ("summary", "/summary"),
                    ("added_by", "/by"),
                ],
            },
            Link {
                seq_column: "withdrawn_seq",
                kinds: &[kinds::ADVISORY_WITHDRAWN],
                columns: &["withdrawn_at", "withdrawn_by", "withdraw_reason"],
                legacy: &[
                    ("id", "/advisory_id"),
                    ("withdrawn_by", "/by"),
                    ("withdraw_reason", "/reason"),
                ],
            },
        ],
        latest_only: false,
    },
    TableCheck {
        table: "deployments",
        key: &[],
        links: &[Link {
            seq_column: "seq",
            kinds: &[kinds::DEPLOYMENT],
            columns: &[
                "environment",
                "artifact_name",
                "artifact_digest",
                "deployed_at",
                "deployed_by",
            ],
            legacy: &[
                ("environment", "/environment"),
                ("artifact_name", "/artifact/name"),
                ("artifact_digest", "/artifact/digest"),
                ("deployed_by", "/by"),
            ],
        }],
        latest_only: false,
    },
    TableCheck {
        table: "inventory",
        key: &["environment", "artifact_name"],
        links: &[Link {
            seq_column: "seq",
            kinds: &[kinds::DEPLOYMENT, kinds::DEPLOYMENT_REMOVED],
            columns: &["artifact_digest", "deployed_at"],
            legacy: &[
                ("environment", "/environment"),
                ("artifact_name", "/artifact/name"),
                ("artifact_digest", "/artifact/digest"),
            ],
        }],
        latest_only: true,
    },
    TableCheck {
        table: "posture",
        key: &["environment", "artifact_name"],
        links: &[Link {
            seq_column: "seq",
            kinds: &[kinds::POSTURE_CHANGED, kinds::DEPLOYMENT_REMOVED],
            columns: &[
                "artifact_digest",
                "state",
                "rules",
                "since",
                "decision_id",
                "changed_at",
            ],
            // The table came with rows pinned: no entry predates it.
            legacy: &[],
        }],
        latest_only: true,
    },
    TableCheck {
        table: "snapshots",
        key: &[],
        links: &[Link {
            seq_column: "seq",
            kinds: &[kinds::SNAPSHOT],
            columns: &["environment", "taken_at", "cause", "artifacts"],
            legacy: &[],
        }],
        latest_only: false,
    },
    TableCheck {
        table: "approvals",
        key: &["id"],
        links: &[
            Link {
                seq_column: "seq",
                kinds: &[kinds::APPROVAL_GRANTED],
                columns: &[
                    "artifact_digest",
                    "environment",
                    "change_ref",
                    "approver",
                    "source",
                    "reason",
                    "granted_at",
                    "expires_at",
                ],
                // The table came with rows pinned: no entry predates it.
                legacy: &[],
            },
            Link {
                seq_column: "revoke_seq",
                kinds: &[kinds::APPROVAL_REVOKED],
                columns: &["revoked_at", "revoked_by", "revoke_reason"],
                legacy: &[],
            },
        ],
        latest_only: false,
    },
    TableCheck {
        table: "recorded_facts",
        key: &["id"],
        links: &[Link {
            seq_column: "seq",
            kinds: &[kinds::FACT_RECORDED],
            columns: &[
                "kind",
                "artifact_digest",
                "environment",
                "body",
                "source",
                "recorded_by",
                "recorded_at",
            ],
            legacy: &[],
        }],
        latest_only: false,
    },
    TableCheck {
        table: "checkpoint_keys",
        key: &["key_id"],
        links: &[Link {
            seq_column: "seq",
            kinds: &[kinds::CHECKPOINT_KEY],
            columns: &["public_key"],
            legacy: &[("key_id", "/key_id"), ("public_key", "/public_key")],
        }],
        latest_only: false,
    },
];

/// The check of `table`.
pub fn table_check(table: &str) -> Option<&'static TableCheck> {
    TABLES.iter().find(|t| t.table == table)
}

/// A row, or an entry, that disagrees with the other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub table: String,
    /// The row's key (`id=…`), or `seq=N` for a row named by its entry.
    pub key: String,
    /// The audit entry concerned, when there is one.
    pub seq: Option<u64>,
    pub reason: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} row {}: {}", self.table, self.key, self.reason)
    }
}

impl Finding {
    pub fn into_error(self) -> StoreError {
        StoreError::Tampered {
            table: self.table,
            key: self.key,
            reason: self.reason,
        }
    }
}

/// The row a write pins in its entry body (None for writes that are not table rows: blobs,
/// evidence links, which are content-addressed).
pub(crate) fn pinned_row(w: &Write) -> Vec<Value> {
    match w {
        Write::Decision(d) => vec![json!({"table": "decisions", "link": "seq", "id": d.id,
            "artifact_name": d.artifact_name, "artifact_digest": d.artifact_digest,
            "environment": d.environment, "verdict": d.verdict, "decided_at": d.decided_at,
            "decision_digest": d.decision_digest, "request_digest": d.request_digest,
            "policy_bundle": d.policy_bundle})],
        Write::Advisory(a) => vec![json!({"table": "advisories", "link": "seq", "id": a.id,
            "kind": a.kind, "digest": a.digest, "summary": a.summary, "added_at": a.added_at,
            "added_by": a.added_by})],
        Write::AdvisoryWithdrawn { id, at, by, reason } => {
            vec![
                json!({"table": "advisories", "link": "withdrawn_seq", "id": id,
            "withdrawn_at": at, "withdrawn_by": by, "withdraw_reason": reason}),
            ]
        }
        Write::Exception(x) => vec![json!({"table": "exceptions", "link": "seq", "id": x.id,
            "body": x.body, "granted_by": x.granted_by, "granted_at": x.granted_at,
            "expires_at": x.expires_at})],
        Write::ExceptionRevoked { id, at, by, reason } => {
            vec![
                json!({"table": "exceptions", "link": "revoked_seq", "id": id,
            "revoked_at": at, "revoked_by": by, "revoke_reason": reason}),
            ]
        }
        Write::ExceptionExpired { id } => {
            vec![json!({"table": "exceptions", "link": "expiry_seq", "id": id})]
        }
        Write::Deployment(d) => vec![
            json!({"table": "deployments", "link": "seq", "environment": d.environment,
                "artifact_name": d.artifact_name, "artifact_digest": d.artifact_digest,
                "deployed_at": d.deployed_at, "deployed_by": d.deployed_by}),
            json!({"table": "inventory", "link": "seq", "environment": d.environment,
                "artifact_name": d.artifact_name, "artifact_digest": d.artifact_digest,
                "deployed_at": d.deployed_at}),
        ],
        Write::Removal {
            environment,
            artifact_name,
        } => vec![
            json!({"table": "inventory", "link": "seq", "environment": environment,
                "artifact_name": artifact_name, "removed": true}),
            json!({"table": "posture", "link": "seq", "environment": environment,
                "artifact_name": artifact_name, "removed": true}),
        ],
        Write::Posture(p) => vec![json!({"table": "posture", "link": "seq",
            "environment": p.environment, "artifact_name": p.artifact_name,
            "artifact_digest": p.artifact_digest, "state": p.state, "rules": p.rules,
            "since": p.since, "decision_id": p.decision_id, "changed_at": p.changed_at})],
        // Computed in the transaction (see the commit).
        Write::Snapshot { .. } => Vec::new(),
        Write::CheckpointKey { key_id, public_key } => {
            vec![
                json!({"table": "checkpoint_keys", "link": "seq", "key_id": key_id,
            "public_key": public_key}),
            ]
        }
        Write::Token(t) => vec![json!({"table": "api_tokens", "link": "seq", "id": t.id,
            "name": t.name, "role": t.role, "digest": t.digest, "created_at": t.created_at,
            "created_by": t.created_by})],
        Write::TokenRevoked { id, at, by } => {
            vec![
                json!({"table": "api_tokens", "link": "revoked_seq", "id": id,
            "revoked_at": at, "revoked_by": by}),
            ]
        }
        Write::Override(o) => vec![json!({"table": "overrides", "link": "seq",
            "decision_id": o.decision_id, "actor": o.actor, "reason": o.reason, "at": o.at})],
        Write::Approval(a) => vec![json!({"table": "approvals", "link": "seq", "id": a.id,
            "artifact_digest": a.artifact_digest, "environment": a.environment,
            "change_ref": a.change_ref, "approver": a.approver, "source": a.source,
            "reason": a.reason, "granted_at": a.granted_at, "expires_at": a.expires_at})],
        Write::ApprovalRevoked { id, at, by, reason } => {
            vec![json!({"table": "approvals", "link": "revoke_seq", "id": id,
            "revoked_at": at, "revoked_by": by, "revoke_reason": reason})]
        }
        Write::Fact(x) => vec![json!({"table": "recorded_facts", "link": "seq", "id": x.id,
            "kind": x.kind, "artifact_digest": x.artifact_digest, "environment": x.environment,
            "body": x.body, "source": x.source, "recorded_by": x.recorded_by,
            "recorded_at": x.recorded_at})],
        Write::Blob { .. } | Write::ArtifactEvidence { .. } => Vec::new(),
    }
}

/// `body` with the rows of `writes` (and the rows the store `computed` in the transaction)
/// pinned in it (`rows`), when it is an object.
pub(crate) fn pin_rows(body: &Value, writes: &[Write], computed: Vec<Value>) -> Value {
    let mut rows: Vec<Value> = writes.iter().flat_map(pinned_row).collect();
    rows.extend(computed);
    match body {
        Value::Object(m) if !rows.is_empty() && !m.contains_key("rows") => {
            let mut m = m.clone();
            m.insert("rows".into(), Value::Array(rows));
            Value::Object(m)
        }
        other => other.clone(),
    }
}

/// A row as read for checking: every column as text (NULL as None).
pub type RowValues = BTreeMap<String, Option<String>>;

/// The rows an entry records for `table` through `link`: its pinned rows, or (written before
/// rows were pinned) the row its body describes.
fn rows_of(
    entry: &Entry,
    body: &Value,
    check: &TableCheck,
    link: &Link,
) -> Vec<Map<String, Value>> {
    if !link.kinds.contains(&entry.kind.as_str()) {
        return Vec::new();
    }
    if let Some(rows) = body.get("rows").and_then(Value::as_array) {
        return rows
            .iter()
            .filter_map(Value::as_object)
            .filter(|r| {
                r.get("table").and_then(Value::as_str) == Some(check.table)
                    && r.get("link").and_then(Value::as_str) == Some(link.seq_column)
            })
            .cloned()
            .collect();
    }
    let mut m = Map::new();
    for (column, pointer) in link.legacy {
        if let Some(v) = body.pointer(pointer) {
            m.insert((*column).to_string(), v.clone());
        }
    }
    // A body that does not describe a row (no key, nothing mapped) records none.
    if m.is_empty() || check.key.iter().any(|k| !m.contains_key(*k)) {
        return Vec::new();
    }
    vec![m]
}

fn text_of(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// The key of a row (or pinned row) in findings.
fn key_text(check: &TableCheck, get: impl Fn(&str) -> Option<String>, seq: Option<u64>) -> String {
    if check.key.is_empty() {
        return format!("seq={}", seq.map_or_else(|| "?".into(), |s| s.to_string()));
    }
    check
        .key
        .iter()
        .map(|k| format!("{k}={}", get(k).unwrap_or_default()))
        .collect::<Vec<_>>()
        .join(",")
}

/// Whether stored and pinned column values agree (`body` columns are JSON: compared as JSON).
fn same(column: &str, row: Option<&str>, pinned: Option<&Value>) -> bool {
    let pinned = pinned.and_then(text_of);
    if column == "body"
        && let (Some(r), Some(p)) = (row, pinned.as_deref())
    {
        return serde_json::from_str::<Value>(r).ok() == serde_json::from_str::<Value>(p).ok();
    }
    row == pinned.as_deref()
}

/// Check one row against the entries it links to (`entry(seq)` gives the entry, if any).
/// Returns the first disagreement.
/// With `bound`, links to entries after it are not checked (appended after the chain was read).
pub fn check_row(
    check: &TableCheck,
    row: &RowValues,
    bound: Option<u64>,
    mut entry: impl FnMut(u64) -> Option<(Entry, Value)>,
) -> Option<Finding> {
    let mut found: HashMap<u64, (Entry, Value)> = HashMap::new();
    for link in check.links {
        if let Some(seq) = row
            .get(link.seq_column)
            .cloned()
            .flatten()
            .and_then(|s| s.parse::<u64>().ok())
            && let Some(e) = entry(seq)
        {
            found.insert(seq, e);
        }
    }
    check_row_in(check, row, bound, |seq| found.get(&seq))
}

/// [`check_row`] reading each entry where it is kept (no copy per row).
fn check_row_in<'e>(
    check: &TableCheck,
    row: &RowValues,
    bound: Option<u64>,
    mut entry: impl FnMut(u64) -> Option<&'e (Entry, Value)>,
) -> Option<Finding> {
    let col = |c: &str| row.get(c).cloned().flatten();
    let first_seq = check
        .links
        .first()
        .and_then(|l| col(l.seq_column))
        .and_then(|s| s.parse::<u64>().ok());
    let key = key_text(check, col, first_seq);
    let finding = |seq: Option<u64>, reason: String| Finding {
        table: check.table.to_string(),
        key: key.clone(),
        seq,
        reason,
    };
    for link in check.links {
        let Some(seq_text) = col(link.seq_column) else {
            if let Some(c) = link.columns.iter().find(|c| col(c).is_some()) {
                return Some(finding(
                    None,
                    format!(
                        "{c} is set, but no audit entry recorded it ({} is empty)",
                        link.seq_column
                    ),
                ));
            }
            continue;
        };
        let Ok(seq) = seq_text.parse::<u64>() else {
            return Some(finding(
                None,
                format!("{} {seq_text} is not an audit entry", link.seq_column),
            ));
        };
        if bound.is_some_and(|b| seq > b) {
            continue;
        }
        let Some((e, body)) = entry(seq) else {
            return Some(finding(
                Some(seq),
                format!("its audit entry {seq} does not exist"),
            ));
        };
        if !link.kinds.contains(&e.kind.as_str()) {
            return Some(finding(
                Some(seq),
                format!(
                    "its audit entry {seq} is a {} entry, not {}",
                    e.kind,
                    link.kinds.join(" or ")
                ),
            ));
        }
        let pinned = rows_of(e, body, check, link);
        let mine = pinned.iter().find(|p| {
            check
                .key
                .iter()
                .all(|k| !p.contains_key(*k) || same(k, col(k).as_deref(), p.get(*k)))
        });
        let Some(p) = mine else {
            return Some(finding(
                Some(seq),
                format!("audit entry {seq} records no such {} row", check.table),
            ));
        };
        for c in check.key.iter().chain(link.columns) {
            if p.contains_key(*c) && !same(c, col(c).as_deref(), p.get(*c)) {
                return Some(finding(
                    Some(seq),
                    format!(
                        "{c} is {:?}, but audit entry {seq} recorded {:?}",
                        col(c).unwrap_or_default(),
                        p.get(*c).and_then(text_of).unwrap_or_default()
                    ),
                ));
            }
        }
    }
    None
}

/// The check of every row and every entry: rows that disagree with their entries, rows with no
/// entry, entries with no row. `entries` holds the entries of the kinds the checks name.
/// Rows written after entry `bound` (the last the chain check read) are left to the next check,
/// and so are the rows the `later` entries (appended after `bound`, while the tables were
/// read) wrote, replaced or removed.
pub fn check_tables(
    tables: &[(&'static TableCheck, Vec<RowValues>)],
    entries: &HashMap<u64, (Entry, Value)>,
    bound: u64,
    later: &[(Entry, Value)],
) -> Vec<Finding> {
    let mut findings = Vec::new();
    for (check, rows) in tables {
        let mut changed_since: std::collections::HashSet<(&'static str, String)> =
            std::collections::HashSet::new();
        for (e, body) in later {
            for link in check.links {
                for p in rows_of(e, body, check, link) {
                    let key = key_text(check, |c| p.get(c).and_then(text_of), Some(e.seq));
                    changed_since.insert((link.seq_column, key));
                }
            }
        }
        let mut seen: HashMap<(&'static str, String), u64> = HashMap::new();
        for row in rows {
            if let Some(f) = check_row_in(check, row, Some(bound), |s| entries.get(&s)) {
                findings.push(f);
            }
            for link in check.links {
                if let Some(seq) = row
                    .get(link.seq_column)
                    .cloned()
                    .flatten()
                    .and_then(|s| s.parse::<u64>().ok())
                    .filter(|s| *s <= bound)
                {
                    let key = key_text(check, |c| row.get(c).cloned().flatten(), Some(seq));
                    seen.insert((link.seq_column, key), seq);
                }
            }
        }
        // What the entries say should be there.
        let mut sorted: Vec<&(Entry, Value)> = entries.values().collect();
        sorted.sort_by_key(|(e, _)| e.seq);
        let mut expected: BTreeMap<(&'static str, String), u64> = BTreeMap::new();
        for (e, body) in sorted {
            for link in check.links {
                for p in rows_of(e, body, check, link) {
                    let key = key_text(check, |c| p.get(c).and_then(text_of), Some(e.seq));
                    // A removal (the artifact no longer runs) leaves no row behind.
                    if check.latest_only && p.get("removed") == Some(&Value::Bool(true)) {
                        expected.remove(&(link.seq_column, key));
                        continue;
                    }
                    let slot = expected.entry((link.seq_column, key)).or_insert(e.seq);
                    // Only-if-new changes record a revocation once; the inventory keeps the last.
                    if check.latest_only {
                        *slot = e.seq;
                    }
                }
            }
        }
        for ((column, key), seq) in expected {
            if changed_since.contains(&(column, key.clone())) {
                continue;
            }
            match seen.get(&(column, key.clone())) {
                Some(s) if *s == seq => {}
                Some(s) => findings.push(Finding {
                    table: check.table.to_string(),
                    key,
                    seq: Some(seq),
                    reason: format!(
                        "audit entry {seq} recorded this row, but its {column} is {s}"
                    ),
                }),
                None => findings.push(Finding {
                    table: check.table.to_string(),
                    key,
                    seq: Some(seq),
                    reason: format!(
                        "audit entry {seq} recorded this row, but the table has none (it was deleted)"
                    ),
                }),
            }
        }
    }
    findings
}

/// Every entry kind the checks read.
pub fn checked_kinds() -> Vec<&'static str> {
    let mut k: Vec<&'static str> = TABLES
        .iter()
        .flat_map(|t| t.links.iter().flat_map(|l| l.kinds.iter().copied()))
        .collect();
    k.sort_unstable();
    k.dedup();
    k
}

/// The top-level body members the checks read from an entry of each checked kind: `rows` and
/// the first member of each legacy pointer of the links naming that kind.
pub(super) fn body_members() -> HashMap<&'static str, Vec<String>> {
    let mut out: HashMap<&'static str, Vec<String>> = HashMap::new();
    for link in TABLES.iter().flat_map(|t| t.links.iter()) {
        for kind in link.kinds {
            let members = out.entry(kind).or_insert_with(|| vec!["rows".to_string()]);
            for (_, pointer) in link.legacy {
                let first = pointer.trim_start_matches('/');
                let first = first.split('/').next().unwrap_or(first);
                let first = first.replace("~1", "/").replace("~0", "~");
                if !members.contains(&first) {
                    members.push(first);
                }
            }
        }
    }
    out
}

/// An entry body as the checks read it: an object of only the top-level `members` (the others
/// are skipped, not built), or `Null` when the body is not JSON. For every check (`rows_of`)
/// the same as the whole body parsed.
pub(super) fn picked_body(body: &str, members: &[String]) -> Value {
    let mut de = serde_json::Deserializer::from_str(body);
    match serde::de::DeserializeSeed::deserialize(Picker(members), &mut de) {
        // Pinned rows are all `rows_of` reads when there are some: the legacy members go.
        Ok(Value::Object(mut m)) if de.end().is_ok() => {
            if m.get("rows").is_some_and(Value::is_array) {
                m.retain(|k, _| k == "rows");
            }
            Value::Object(m)
        }
        Ok(v) if de.end().is_ok() => v,
        _ => Value::Null,
    }
}

/// An object member's name, borrowed from the text when it has no escapes.
struct Key<'de>(std::borrow::Cow<'de, str>);

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(std::borrow::Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(std::borrow::Cow::Owned(v.to_string())))
            }
        }
        d.deserialize_str(V)
    }
}

/// Deserializes a JSON value keeping only some members of a top-level object (any other value
/// is read whole).
struct Picker<'a>(&'a [String]);

impl<'de> serde::de::DeserializeSeed<'de> for Picker<'_> {
    type Value = Value;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Picker<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            if self.0.iter().any(|m| *m == key) {
                let v: Value = map.next_value()?;
                out.insert(key.into_owned(), v);
            } else {
                map.next_value::<serde::de::IgnoredAny>()?;
            }
        }
        Ok(Value::Object(out))
    }

    // Not an object: no member to pick, and nothing the checks read (`Null` reads the same).
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
        Ok(Value::Null)
    }
    fn visit_bool<E>(self, _: bool) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_str<E>(self, _: &str) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
}

pub(super) fn select_sql(check: &TableCheck, filter: &str) -> String {
    let cols: Vec<String> = columns_of(check)
        .iter()
        .map(|c| format!("CAST({c} AS TEXT) AS {c}"))
        .collect();
    format!("SELECT {} FROM {} {filter}", cols.join(", "), check.table)
}

pub(super) fn columns_of(check: &TableCheck) -> Vec<&'static str> {
    let mut cols: Vec<&'static str> = check.key.to_vec();
    for l in check.links {
        cols.push(l.seq_column);
        cols.extend(l.columns);
    }
    let mut seen = std::collections::HashSet::new();
    cols.retain(|c| seen.insert(*c));
    cols
}

impl Store {
    /// Every row of `check`'s table, as text, filtered by `filter` (a `WHERE` clause binding
    /// `params` as `$1`, …).
    pub(crate) async fn table_rows(
        &self,
        check: &TableCheck,
        filter: &str,
        params: &[&str],
    ) -> Result<Vec<RowValues>, StoreError> {
        let sql = select_sql(check, filter);
        let cols = columns_of(check);
        Ok(on_db!(&self.inner.db, pool => {
            let mut q = sqlx::query(&sql);
            for p in params {
                q = q.bind(*p);
            }
            let rows = q.fetch_all(pool).await.map_err(|e| self.err(e))?;
            let mut out = Vec::with_capacity(rows.len());
            for r in rows {
                let mut m = RowValues::new();
                for c in &cols {
                    let v: Option<String> = r.try_get(*c).map_err(|e| self.err(e))?;
                    m.insert((*c).to_string(), v);
                }
                out.push(m);
            }
            out
        }))
    }

    /// Entry `seq` if it is intact: its hashes hold and the entry after it (if any) links to it.
    /// (A rewrite that rehashes everything after it is left to `verify` and the checkpoints.)
    async fn intact_entry(&self, seq: u64) -> Result<Option<(Entry, Value)>, StoreError> {
        let mut two = self.entries(seq, seq.saturating_add(1)).await?.into_iter();
        let Some(e) = two.next().filter(|e| e.seq == seq) else {
            return Ok(None);
        };
        let ok = digest::sha256_hex(e.body.as_bytes()) == e.body_digest
            && hash_of(&e) == e.hash
            && two.next().is_none_or(|n| n.prev_hash == e.hash);
        if !ok {
            return Err(StoreError::Tampered {
                table: "audit_log".into(),
                key: format!("seq={seq}"),
                reason: format!("audit entry {seq} was modified: its hash does not hold"),
            });
        }
        let body = serde_json::from_str(&e.body).unwrap_or(Value::Null);
        Ok(Some((e, body)))
    }

    /// Check the rows of `table` that `filter` selects against their audit entries: the first
    /// that disagrees is an error ([`StoreError::Tampered`]).
    pub(crate) async fn check_rows(
        &self,
        table: &str,
        filter: &str,
        params: &[&str],
    ) -> Result<(), StoreError> {
        let check = table_check(table)
            .ok_or_else(|| StoreError::Invalid(format!("no check for table {table}")))?;
        for row in self.table_rows(check, filter, params).await? {
            let mut seqs = Vec::new();
            for l in check.links {
                if let Some(s) = row
                    .get(l.seq_column)
                    .cloned()
                    .flatten()
                    .and_then(|s| s.parse::<u64>().ok())
                {
                    seqs.push(s);
                }
            }
            let mut found = HashMap::new();
            for s in seqs {
                if let Some(e) = self.intact_entry(s).await? {
                    found.insert(s, e);
                }
            }
            if let Some(f) = check_row(check, &row, None, |s| found.get(&s).cloned()) {
                return Err(f.into_error());
            }
        }
        Ok(())
    }

    /// Check that no entry of `kind` records a `link` of an `id` in `ids` that the table does not
    /// show (a revocation undone in SQL): cheap, revocations are few.
    pub(crate) async fn check_not_undone(
        &self,
        table: &str,
        link_column: &str,
        ids: &[String],
    ) -> Result<(), StoreError> {
        let check = table_check(table)
            .ok_or_else(|| StoreError::Invalid(format!("no check for table {table}")))?;
        let Some(link) = check.links.iter().find(|l| l.seq_column == link_column) else {
            return Ok(());
        };
        if ids.is_empty() {
            return Ok(());
        }
        for kind in link.kinds {
            for e in self.entries_of_kind(kind).await? {
                let body: Value = serde_json::from_str(&e.body).unwrap_or(Value::Null);
                for p in rows_of(&e, &body, check, link) {
                    let key = check.key.first().and_then(|k| p.get(*k)).and_then(text_of);
                    if let Some(id) = key.filter(|id| ids.contains(id)) {
                        return Err(StoreError::Tampered {
                            table: table.into(),
                            key: format!("{}={id}", check.key.first().copied().unwrap_or("id")),
                            reason: format!(
                                "audit entry {} recorded its {kind}, but the row does not show it",
                                e.seq
                            ),
                        });
                    }
                }
            }
        }
        Ok(())
    }
}
