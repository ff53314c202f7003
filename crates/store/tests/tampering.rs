//! Every tampering is caught, on both backends: an attacker with SQL access edits the tables
//! the firewall acts on, the entries' uncovered columns, or cuts the chain short with its
//! checkpoints. `verify` names the row (table and key) or the entry; the reads the firewall
//! decides from refuse a row that disagrees with its entry; a format-1 chain is migrated to
//! format 2 at open, the migration itself in the chain.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[macro_use]
#[allow(dead_code)]
mod support;

use portcullis_store::chain::{GENESIS, entry_hash_v1};
use portcullis_store::{
    Change, Checkpoint, DecisionRow, ExceptionRow, Finding, OverrideRow, Store, StoreError, Tamper,
    TokenRow, VerifyFailure, VerifyOptions, Write, kinds,
};
use serde_json::{Value, json};
use support::{Ctx, sql_str};

const AT: &str = "2026-11-23T12:00:00.000Z";

on_both_backends! {
    flipped_verdict_is_named => flipped_verdict_is_named_sqlite, flipped_verdict_is_named_postgres;
    changed_kind_is_named => changed_kind_is_named_sqlite, changed_kind_is_named_postgres;
    changed_time_is_named => changed_time_is_named_sqlite, changed_time_is_named_postgres;
    deleted_exception_row_is_named => deleted_exception_row_is_named_sqlite, deleted_exception_row_is_named_postgres;
    undone_revocation_is_named => undone_revocation_is_named_sqlite, undone_revocation_is_named_postgres;
    inserted_override_row_is_named => inserted_override_row_is_named_sqlite, inserted_override_row_is_named_postgres;
    raised_token_role_is_named => raised_token_role_is_named_sqlite, raised_token_role_is_named_postgres;
    inventory_pointed_elsewhere_is_named => inventory_pointed_elsewhere_is_named_sqlite, inventory_pointed_elsewhere_is_named_postgres;
    every_disagreeing_row_is_listed => every_disagreeing_row_is_listed_sqlite, every_disagreeing_row_is_listed_postgres;
    truncation_needs_a_witness => truncation_needs_a_witness_sqlite, truncation_needs_a_witness_postgres;
    a_format_1_chain_is_migrated => a_format_1_chain_is_migrated_sqlite, a_format_1_chain_is_migrated_postgres;
    a_tampered_format_1_chain_is_not_migrated => a_tampered_format_1_chain_is_not_migrated_sqlite, a_tampered_format_1_chain_is_not_migrated_postgres;
    approvals_and_facts_are_checked => approvals_and_facts_are_checked_sqlite, approvals_and_facts_are_checked_postgres;
}

fn approval(id: &str, env: &str) -> Change {
    Change::new(
        kinds::APPROVAL_GRANTED,
        json!({"approval_id": id}),
        vec![Write::Approval(portcullis_store::ApprovalRow {
            id: id.into(),
            seq: 0,
            artifact_digest: digest(6),
            environment: env.into(),
            change_ref: None,
            approver: "carol".into(),
            source: "authenticated".into(),
            reason: "reviewed".into(),
            granted_at: AT.into(),
            expires_at: "2099-01-01T00:00:00Z".into(),
            revoked_at: None,
            revoked_by: None,
            revoke_reason: None,
            revoke_seq: None,
        })],
    )
}

async fn approvals_and_facts_are_checked(store: Store, _ctx: &Ctx) {
    populated(&store).await;
    store
        .append(vec![
            approval("apr_1", "production"),
            approval("apr_2", "production"),
            Change::if_new(
                kinds::APPROVAL_REVOKED,
                json!({"approval_id": "apr_2"}),
                vec![Write::ApprovalRevoked {
                    id: "apr_2".into(),
                    at: AT.into(),
                    by: "dave".into(),
                    reason: "wrong change".into(),
                }],
            ),
            Change::new(
                kinds::FACT_RECORDED,
                json!({"fact_id": "fct_1"}),
                vec![Write::Fact(portcullis_store::RecordedFactRow {
                    id: "fct_1".into(),
                    seq: 0,
                    kind: "verification".into(),
                    artifact_digest: digest(6),
                    environment: "production".into(),
                    body: json!({"verdict": "fail"}).to_string(),
                    source: "recorded".into(),
                    recorded_by: "ci".into(),
                    recorded_at: AT.into(),
                })],
            ),
        ])
        .await
        .unwrap();
    store.verify(None).await.unwrap();
    assert_eq!(
        store
            .approvals(Some(&digest(6)), Some("production"), false)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        store
            .recorded_facts(&digest(6), "production")
            .await
            .unwrap()
            .len(),
        1
    );

    // A failed canary made to pass.
    exec(
        &store,
        "UPDATE recorded_facts SET body = '{\"verdict\":\"pass\"}' WHERE id = 'fct_1'",
    )
    .await;
    let f = findings(&store).await;
    assert_eq!(
        (f[0].table.as_str(), f[0].key.as_str()),
        ("recorded_facts", "id=fct_1")
    );
    tampered(
        store.recorded_facts(&digest(6), "production").await,
        "recorded_facts",
    );

    // A revoked approval brought back.
    exec(
        &store,
        "UPDATE approvals SET revoked_at = NULL, revoked_by = NULL, revoke_reason = NULL, revoke_seq = NULL WHERE id = 'apr_2'",
    )
    .await;
    tampered(
        store
            .approvals(Some(&digest(6)), Some("production"), false)
            .await,
        "approvals",
    );
    // An approval moved to another environment.
    exec(
        &store,
        "UPDATE approvals SET environment = 'staging' WHERE id = 'apr_1'",
    )
    .await;
    tampered(store.approval("apr_1").await, "approvals");
    // An approval row deleted.
    exec(&store, "DELETE FROM approvals WHERE id = 'apr_1'").await;
    let f = findings(&store).await;
    let named: Vec<(&str, &str)> = f
        .iter()
        .map(|f| (f.table.as_str(), f.key.as_str()))
        .collect();
    for want in [
        ("recorded_facts", "id=fct_1"),
        ("approvals", "id=apr_1"),
        ("approvals", "id=apr_2"),
    ] {
        assert!(named.contains(&want), "{want:?} not in {named:?}");
    }
}

fn digest(n: u64) -> String {
    format!("sha256:{n:064x}")
}

fn decision_row(id: &str, n: u64, verdict: &str) -> DecisionRow {
    DecisionRow {
        id: id.into(),
        seq: 0,
        artifact_name: "shop/api".into(),
        artifact_digest: digest(n),
        environment: "production".into(),
        verdict: verdict.into(),
        decided_at: AT.into(),
        decision_digest: digest(1000 + n),
        request_digest: digest(2000 + n),
        policy_bundle: digest(3000),
    }
}

fn decision(d: &DecisionRow) -> Change {
    Change::new(
        kinds::DECISION,
        json!({"decision_id": d.id, "verdict": d.verdict, "environment": d.environment,
            "artifact": {"name": d.artifact_name, "digest": d.artifact_digest}}),
        vec![Write::Decision(d.clone())],
    )
}

fn exception_row(id: &str) -> ExceptionRow {
    ExceptionRow {
        id: id.into(),
        body: json!({"id": id, "rule": "critical-vulnerability", "artifact": "shop/api"})
            .to_string(),
        granted_by: "carol".into(),
        granted_at: AT.into(),
        expires_at: "2099-01-01T00:00:00Z".into(),
        seq: 0,
        revoked_at: None,
        revoked_by: None,
        revoke_reason: None,
        expiry_seq: None,
    }
}

fn exception(x: &ExceptionRow) -> Change {
    Change::new(
        kinds::EXCEPTION_GRANTED,
        json!({"exception_id": x.id, "expires_at": x.expires_at}),
        vec![Write::Exception(x.clone())],
    )
}

fn token(id: &str, role: &str) -> Change {
    let row = TokenRow {
        id: id.into(),
        name: format!("{id} name"),
        role: role.into(),
        digest: digest(4000 + id.len() as u64),
        created_at: AT.into(),
        created_by: "admin".into(),
        seq: 0,
        revoked_at: None,
        revoked_by: None,
    };
    Change::new(
        kinds::TOKEN_CREATED,
        json!({"token_id": id, "role": role}),
        vec![Write::Token(row)],
    )
}

fn deployment(env: &str, n: u64) -> Change {
    Change::new(
        kinds::DEPLOYMENT,
        json!({"environment": env, "artifact": {"name": "shop/api", "digest": digest(n)}}),
        vec![Write::Deployment(portcullis_store::DeploymentRow {
            seq: 0,
            environment: env.into(),
            artifact_name: "shop/api".into(),
            artifact_digest: digest(n),
            deployed_at: AT.into(),
            deployed_by: "ci".into(),
        })],
    )
}

/// A store with decisions (d-2 … d-10, every third a deny), two exceptions (x2 revoked), an
/// override of d-3, a ci token and two deployments; verified clean before it is doctored.
async fn populated(store: &Store) {
    let mut changes: Vec<Change> = (2..=10u64)
        .map(|i| {
            decision(&decision_row(
                &format!("d-{i}"),
                i,
                if i.is_multiple_of(3) { "deny" } else { "allow" },
            ))
        })
        .collect();
    changes.push(exception(&exception_row("x1")));
    changes.push(exception(&exception_row("x2")));
    changes.push(Change::if_new(
        kinds::EXCEPTION_REVOKED,
        json!({"exception_id": "x2"}),
        vec![Write::ExceptionRevoked {
            id: "x2".into(),
            at: AT.into(),
            by: "bob".into(),
            reason: "fixed".into(),
        }],
    ));
    changes.push(Change::new(
        kinds::OVERRIDE,
        json!({"decision_id": "d-3", "by": "alice", "reason": "hotfix"}),
        vec![Write::Override(OverrideRow {
            decision_id: "d-3".into(),
            seq: 0,
            actor: "alice".into(),
            reason: "hotfix".into(),
            at: AT.into(),
        })],
    ));
    changes.push(token("tok_ci", "ci"));
    changes.push(deployment("production", 2));
    changes.push(deployment("production", 4));
    store.append(changes).await.unwrap();
    store.checkpoint().await.unwrap();
    store.verify(Some(&store.public_key())).await.unwrap();
    // The reads the firewall decides from agree.
    assert!(
        store
            .latest_decision(&digest(6), "production")
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(store.exceptions(false).await.unwrap().len(), 1);
    assert!(store.override_of("d-3").await.unwrap().is_some());
    assert_eq!(store.tokens(false).await.unwrap().len(), 1);
    assert_eq!(store.inventory(Some("production")).await.unwrap().len(), 1);
}

async fn findings(store: &Store) -> Vec<Finding> {
    match store.verify(None).await {
        Err(VerifyFailure::Tables(f)) => f,
        other => panic!("expected rows disagreeing with the chain, got {other:?}"),
    }
}

fn tampered(r: Result<impl std::fmt::Debug, StoreError>, table: &str) -> String {
    match r {
        Err(e @ StoreError::Tampered { .. }) => {
            let StoreError::Tampered { table: t, .. } = &e else {
                unreachable!()
            };
            assert_eq!(t, table, "{e}");
            e.to_string()
        }
        other => panic!("a tampered {table} row was read as {other:?}"),
    }
}

async fn exec(store: &Store, sql: &str) -> u64 {
    store.execute_raw(sql).await.unwrap()
}

async fn flipped_verdict_is_named(store: Store, _ctx: &Ctx) {
    populated(&store).await;
    assert_eq!(
        exec(
            &store,
            "UPDATE decisions SET verdict = 'allow' WHERE id = 'd-6'"
        )
        .await,
        1
    );
    let f = findings(&store).await;
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(
        (f[0].table.as_str(), f[0].key.as_str()),
        ("decisions", "id=d-6")
    );
    assert!(f[0].reason.contains("verdict"), "{}", f[0]);
    let msg = tampered(
        store.latest_decision(&digest(6), "production").await,
        "decisions",
    );
    assert!(msg.contains("id=d-6") && msg.contains("verdict"), "{msg}");
    tampered(store.decision("d-6").await, "decisions");
    // Another decision still reads.
    assert!(store.decision("d-5").await.unwrap().is_some());
}

async fn changed_kind_is_named(store: Store, _ctx: &Ctx) {
    populated(&store).await;
    // The override's entry relabelled as a decision.
    let seq = store.override_of("d-3").await.unwrap().unwrap().seq;
    exec(
        &store,
        &format!("UPDATE audit_log SET kind = 'decision' WHERE seq = {seq}"),
    )
    .await;
    match store.verify(None).await {
        Err(VerifyFailure::Tamper(t)) => assert_eq!(t, Tamper::Modified { seq: seq as u64 }),
        other => panic!("a changed kind went unnoticed: {other:?}"),
    }
    // The override is not acted on either.
    tampered(store.override_of("d-3").await, "audit_log");
}

async fn changed_time_is_named(store: Store, _ctx: &Ctx) {
    populated(&store).await;
    let seq = store.decision("d-4").await.unwrap().unwrap().seq;
    exec(
        &store,
        &format!("UPDATE audit_log SET at = '2019-01-01T00:00:00.000Z' WHERE seq = {seq}"),
    )
    .await;
    match store.verify(None).await {
        Err(VerifyFailure::Tamper(t)) => {
            assert_eq!(t, Tamper::Modified { seq: seq as u64 });
            assert!(t.to_string().contains(&format!("entry {seq}")));
        }
        other => panic!("a changed time went unnoticed: {other:?}"),
    }
    tampered(store.decision("d-4").await, "audit_log");
}

async fn deleted_exception_row_is_named(store: Store, _ctx: &Ctx) {
    populated(&store).await;
    assert_eq!(
        exec(&store, "DELETE FROM exceptions WHERE id = 'x1'").await,
        1
    );
    let f = findings(&store).await;
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(
        (f[0].table.as_str(), f[0].key.as_str()),
        ("exceptions", "id=x1")
    );
    assert!(f[0].reason.contains("deleted"), "{}", f[0]);
}

async fn undone_revocation_is_named(store: Store, _ctx: &Ctx) {
    populated(&store).await;
    // x2 back in force: its revocation wiped from the row.
    assert_eq!(
        exec(
            &store,
            "UPDATE exceptions SET revoked_at = NULL, revoked_by = NULL, revoke_reason = NULL, revoked_seq = NULL WHERE id = 'x2'"
        )
        .await,
        1
    );
    let f = findings(&store).await;
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(
        (f[0].table.as_str(), f[0].key.as_str()),
        ("exceptions", "id=x2")
    );
    let msg = tampered(store.exceptions(false).await, "exceptions");
    assert!(msg.contains("id=x2"), "{msg}");
}

async fn inserted_override_row_is_named(store: Store, _ctx: &Ctx) {
    populated(&store).await;
    // A break-glass override of d-6 (a deny) forged in SQL, pointing at d-6's own entry.
    assert_eq!(
        exec(
            &store,
            "INSERT INTO overrides (decision_id, seq, actor, reason, at) SELECT id, seq, 'mallory', 'forged', '2026-12-01T00:00:00.000Z' FROM decisions WHERE id = 'd-6'"
        )
        .await,
        1
    );
    let f = findings(&store).await;
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(
        (f[0].table.as_str(), f[0].key.as_str()),
        ("overrides", "decision_id=d-6")
    );
    assert!(f[0].reason.contains("decision entry"), "{}", f[0]);
    tampered(store.override_of("d-6").await, "overrides");
}

async fn raised_token_role_is_named(store: Store, _ctx: &Ctx) {
    populated(&store).await;
    let d = digest(4000 + "tok_ci".len() as u64);
    assert_eq!(
        exec(
            &store,
            "UPDATE api_tokens SET role = 'admin' WHERE id = 'tok_ci'"
        )
        .await,
        1
    );
    let f = findings(&store).await;
    assert_eq!(
        (f[0].table.as_str(), f[0].key.as_str()),
        ("api_tokens", "id=tok_ci")
    );
    assert!(f[0].reason.contains("role"), "{}", f[0]);
    tampered(store.token_by_digest(&d).await, "api_tokens");
    tampered(store.tokens(false).await, "api_tokens");
}

async fn inventory_pointed_elsewhere_is_named(store: Store, _ctx: &Ctx) {
    populated(&store).await;
    // The inventory says the older artifact runs (its entry is a real deployment, not the
    // latest one).
    exec(
        &store,
        &format!(
            "UPDATE inventory SET artifact_digest = {}, seq = (SELECT MIN(seq) FROM deployments) WHERE environment = 'production'",
            sql_str(&digest(2))
        ),
    )
    .await;
    let f = findings(&store).await;
    assert!(
        f.iter()
            .any(|f| f.table == "inventory"
                && f.key == "environment=production,artifact_name=shop/api"),
        "{f:?}"
    );
    // The row itself matches the older entry: the cheap read does not see it, verify does.
    store.inventory(Some("production")).await.unwrap();
}

async fn every_disagreeing_row_is_listed(store: Store, _ctx: &Ctx) {
    populated(&store).await;
    exec(
        &store,
        "UPDATE decisions SET verdict = 'allow' WHERE id IN ('d-3', 'd-9')",
    )
    .await;
    exec(&store, "DELETE FROM exceptions WHERE id = 'x1'").await;
    exec(&store, "UPDATE advisories SET summary = 'x'").await;
    let f = findings(&store).await;
    let named: Vec<(String, String)> = f.iter().map(|f| (f.table.clone(), f.key.clone())).collect();
    for want in [
        ("decisions", "id=d-3"),
        ("decisions", "id=d-9"),
        ("exceptions", "id=x1"),
    ] {
        assert!(
            named.contains(&(want.0.to_string(), want.1.to_string())),
            "{want:?} not in {named:?}"
        );
    }
    let msg = VerifyFailure::Tables(f).to_string();
    assert!(msg.contains("3 table row(s)"), "{msg}");
}

async fn truncation_needs_a_witness(store: Store, _ctx: &Ctx) {
    populated(&store).await;
    // A witness keeps the checkpoint outside the database.
    let witness: Checkpoint = store.latest_checkpoint().await.unwrap().unwrap();
    let (head, _) = store.head().await.unwrap().unwrap();
    assert_eq!(witness.seq, head as u64);
    // The newest entries cut off with their checkpoints and rows (the deployments and token).
    let cut = head - 3;
    exec(&store, &format!("DELETE FROM audit_log WHERE seq > {cut}")).await;
    exec(
        &store,
        &format!("DELETE FROM checkpoints WHERE seq > {cut}"),
    )
    .await;
    exec(
        &store,
        &format!("DELETE FROM deployments WHERE seq > {cut}"),
    )
    .await;
    exec(&store, &format!("DELETE FROM inventory WHERE seq > {cut}")).await;
    exec(&store, &format!("DELETE FROM api_tokens WHERE seq > {cut}")).await;
    // Keep one checkpoint so the chain is not checkpoint-less.
    store.checkpoint().await.unwrap();
    // Without a witness the database alone cannot tell: this verifies.
    store.verify(Some(&store.public_key())).await.unwrap();
    // With the witnessed checkpoint it is truncated.
    let with_witness = VerifyOptions {
        trusted_key: Some(store.public_key()),
        witnessed: vec![witness.clone()],
        ..VerifyOptions::default()
    };
    match store.verify_with(&with_witness).await {
        Err(VerifyFailure::Tamper(t)) => {
            assert_eq!(
                t,
                Tamper::Truncated {
                    last_seq: cut as u64,
                    checkpoint_seq: witness.seq
                }
            );
            assert!(t.to_string().contains("truncated"), "{t}");
        }
        other => panic!("truncation went unnoticed with a witness: {other:?}"),
    }
    // Grown again past the witness: the entry it pinned differs.
    store
        .append(
            (0..5)
                .map(|i| decision(&decision_row(&format!("n-{i}"), 50 + i, "allow")))
                .collect(),
        )
        .await
        .unwrap();
    match store.verify_with(&with_witness).await {
        Err(VerifyFailure::Tamper(t)) => assert_eq!(t, Tamper::Rewritten { seq: witness.seq }),
        other => panic!("a rewritten head went unnoticed with a witness: {other:?}"),
    }
    // A forged witness (its hash changed) is refused as such.
    let mut forged = witness;
    forged.hash = GENESIS.into();
    match store
        .verify_with(&VerifyOptions {
            trusted_key: None,
            witnessed: vec![forged],
            ..VerifyOptions::default()
        })
        .await
    {
        Err(VerifyFailure::Tamper(Tamper::BadCheckpoint { .. })) => {}
        other => panic!("a forged witness was accepted: {other:?}"),
    }
}

/// Turn the store's chain back into format 1 (as a store before migration 0006 kept it): v1
/// hashes, `chain_format` 1, one format-1 checkpoint signed by the store's key.
async fn make_format_1(store: &Store) -> (u64, String) {
    let entries = store.entries(1, u64::MAX).await.unwrap();
    let mut prev = GENESIS.to_string();
    for e in &entries {
        let hash = entry_hash_v1(&prev, &e.body_digest);
        exec(
            store,
            &format!(
                "UPDATE audit_log SET prev_hash = {}, hash = {} WHERE seq = {}",
                sql_str(&prev),
                sql_str(&hash),
                e.seq
            ),
        )
        .await;
        prev = hash;
    }
    let last = entries.last().unwrap().seq;
    exec(store, "DELETE FROM checkpoints").await;
    let at = "2026-11-20T00:00:00.000Z";
    let key = store.key();
    let sig = key.sign(&Checkpoint::message(1, last, &prev, at));
    exec(
        store,
        &format!(
            "INSERT INTO checkpoints (seq, hash, at, key_id, public_key, signature, version) VALUES ({last}, {}, {}, {}, {}, {}, 1)",
            sql_str(&prev),
            sql_str(at),
            sql_str(&key.key_id()),
            sql_str(&key.public_hex()),
            sql_str(&sig)
        ),
    )
    .await;
    exec(store, "UPDATE chain_format SET version = 1").await;
    (last, prev)
}

async fn a_format_1_chain_is_migrated(store: Store, ctx: &Ctx) {
    populated(&store).await;
    let (last, v1_head) = make_format_1(&store).await;
    assert_eq!(store.chain_format().await.unwrap(), 1);
    drop(store);

    let store = ctx.second_handle().await;
    assert_eq!(store.chain_format().await.unwrap(), 2);
    let migrated = store.entry(last + 1).await.unwrap().unwrap();
    assert_eq!(migrated.kind, kinds::CHAIN_MIGRATED);
    let body: Value = serde_json::from_str(&migrated.body).unwrap();
    assert_eq!(body["v1_head"]["seq"], last);
    assert_eq!(body["v1_head"]["hash"], v1_head);
    let cps = store.checkpoints().await.unwrap();
    assert!(
        cps.iter().any(|c| c.version == 1 && c.seq == last),
        "{cps:?}"
    );
    assert!(
        cps.iter().any(|c| c.version == 2 && c.seq == last + 1),
        "{cps:?}"
    );
    let v = store.verify(Some(&store.public_key())).await.unwrap();
    assert_eq!(v.entries, last + 1);
    // The tables still agree and the reads work.
    assert!(store.decision("d-6").await.unwrap().is_some());

    // After the migration an entry's kind is covered.
    exec(
        &store,
        "UPDATE audit_log SET kind = 'override' WHERE seq = 2",
    )
    .await;
    match store.verify(None).await {
        Err(VerifyFailure::Tamper(t)) => assert_eq!(t, Tamper::Modified { seq: 2 }),
        other => panic!("{other:?}"),
    }
    exec(
        &store,
        "UPDATE audit_log SET kind = 'decision' WHERE seq = 2",
    )
    .await;
    store.verify(None).await.unwrap();

    // The format-1 checkpoint still pins the pre-migration chain: a body changed and the
    // whole chain re-hashed in format 2 is caught by it.
    let mut entries = store.entries(1, u64::MAX).await.unwrap();
    entries[1].body = entries[1].body.replace("\"allow\"", "\"deny\"");
    let mut c = portcullis_store::Chain::at(1, &entries[0].hash);
    for e in entries.iter().skip(1) {
        let body: Value = serde_json::from_str(&e.body).unwrap();
        let n = c.append(&e.kind, &body, &e.at).unwrap();
        exec(
            &store,
            &format!(
                "UPDATE audit_log SET body = {}, body_digest = {}, prev_hash = {}, hash = {} WHERE seq = {}",
                sql_str(&n.body),
                sql_str(&n.body_digest),
                sql_str(&n.prev_hash),
                sql_str(&n.hash),
                n.seq
            ),
        )
        .await;
    }
    exec(&store, "DELETE FROM checkpoints WHERE version = 2").await;
    store.checkpoint().await.unwrap();
    match store.verify(Some(&store.public_key())).await {
        Err(VerifyFailure::Tamper(t)) => {
            assert!(matches!(t, Tamper::Rewritten { .. }), "{t:?}")
        }
        other => panic!("a re-hashed rewrite went past the format-1 checkpoint: {other:?}"),
    }
}

async fn a_tampered_format_1_chain_is_not_migrated(store: Store, ctx: &Ctx) {
    populated(&store).await;
    make_format_1(&store).await;
    exec(
        &store,
        "UPDATE audit_log SET body = replace(body, '\"deny\"', '\"allow\"') WHERE seq = 3",
    )
    .await;
    drop(store);
    match Store::open(&ctx.config()).await {
        Err(e @ StoreError::Tampered { .. }) => {
            let m = e.to_string();
            assert!(m.contains("format 1") && m.contains("entry 3"), "{m}");
        }
        other => panic!("a tampered format-1 chain was migrated: {other:?}"),
    }
}
