//! The history a recorded decision is judged with (`sources::history`): the firewall's own
//! decisions and deployments of the digest. The promotion order (PCL-CHG-004) needs an allow of
//! the digest in the environment before (with `require_deployed`, one followed by a deployment
//! there); many later decisions of the same digest elsewhere must not push it out (they did
//! when the history was the newest 500 decisions of the digest).
//!
//! Runs on SQLite and on PostgreSQL (`PORTCULLIS_TEST_POSTGRES_URL`; without it the PostgreSQL
//! variant says so and passes, except under CI).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::future::Future;

use portcullis_firewall::admission::AdmissionConfig;
use portcullis_firewall::service::Ask;
use portcullis_firewall::setup::{ConfigSource, Setup};
use portcullis_firewall::*;
use portcullis_store::testing::TestDb;
use portcullis_store::{Backend, Change, DecisionRow, DeploymentRow, Store, Write, kinds};
use serde_json::json;

const NAME: &str = "registry.example.com/shop/checkout-api";
/// More than the 500 decisions the history used to hold.
const LATER: usize = 520;

async fn run<F, Fut>(backend: Backend, body: F)
where
    F: FnOnce(Store) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let config = db.config();
    let outcome = tokio::spawn(async move {
        let store = Store::open(&config)
            .await
            .unwrap_or_else(|e| panic!("cannot open the store: {e}"));
        body(store).await;
    })
    .await;
    db.cleanup().await;
    if let Err(e) = outcome {
        match e.try_into_panic() {
            Ok(p) => std::panic::resume_unwind(p),
            Err(e) => panic!("the test task did not finish: {e}"),
        }
    }
}

macro_rules! on_both_backends {
    ($($body:ident => $sqlite:ident, $postgres:ident;)+) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $sqlite() {
            run(Backend::Sqlite, $body).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $postgres() {
            run(Backend::Postgres, $body).await;
        }
    )+};
}

on_both_backends! {
    a_staging_allow_counts_after_many_later_decisions => a_staging_allow_counts_after_many_later_decisions_sqlite, a_staging_allow_counts_after_many_later_decisions_postgres;
    a_deployed_staging_allow_counts_after_many_later_decisions => a_deployed_staging_allow_counts_after_many_later_decisions_sqlite, a_deployed_staging_allow_counts_after_many_later_decisions_postgres;
}

fn digest() -> String {
    format!("sha256:{}", "c4".repeat(32))
}

/// A decision row written straight into the store (deciding 520 times would be slow).
fn decision(n: usize, environment: &str, verdict: &str) -> Change {
    let id = format!("dec-history-{n}");
    let row = DecisionRow {
        id: id.clone(),
        seq: 0,
        artifact_name: NAME.into(),
        artifact_digest: digest(),
        environment: environment.into(),
        verdict: verdict.into(),
        decided_at: format!("2026-11-23T10:{:02}:{:02}.000Z", n / 60 % 60, n % 60),
        decision_digest: format!("sha256:{:064x}", n),
        request_digest: format!("sha256:{:064x}", n + 100_000),
        policy_bundle: format!("sha256:{:064x}", 1),
    };
    Change::new(
        kinds::DECISION,
        json!({
            "decision_id": id,
            "verdict": verdict,
            "environment": environment,
            "artifact": {"name": NAME, "digest": digest()},
            "decision_digest": row.decision_digest,
        }),
        vec![Write::Decision(row)],
    )
}

fn deployment(environment: &str) -> Change {
    Change::new(
        kinds::DEPLOYMENT,
        json!({"environment": environment, "artifact": {"name": NAME, "digest": digest()}}),
        vec![Write::Deployment(DeploymentRow {
            seq: 0,
            environment: environment.into(),
            artifact_name: NAME.into(),
            artifact_digest: digest(),
            deployed_at: "2026-11-23T09:30:00.000Z".into(),
            deployed_by: "ci".into(),
        })],
    )
}

/// One allow in staging (deployed there when `deployed`), then `LATER` decisions of the same
/// digest in qa.
async fn fill(store: &Store, deployed: bool) {
    let mut changes = vec![decision(0, "staging", "allow")];
    if deployed {
        changes.push(deployment("staging"));
    }
    changes
        .extend((1..=LATER).map(|n| decision(n, "qa", if n % 2 == 0 { "allow" } else { "deny" })));
    for chunk in changes.chunks(200) {
        store.append(chunk.to_vec()).await.unwrap();
    }
}

/// The decision service over `store`, with the promotion order production after staging.
async fn service(store: Store, require_deployed: bool) -> (DecisionService, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("portcullis.yaml");
    std::fs::write(
        &path,
        format!(
            "environments:\n  production: {{ protected: true }}\n  staging: {{ protected: true }}\n  qa: {{ protected: false }}\nrules:\n  PCL-CHG-004:\n    params: {{ order: {{ production: [staging] }}, require_deployed: {require_deployed} }}\n"
        ),
    )
    .unwrap();
    let setup = Setup {
        config: ConfigSource::File(path),
        ..Default::default()
    };
    let loaded = setup.load().unwrap();
    let service = DecisionService::open(store, loaded, AdmissionConfig::default())
        .await
        .unwrap();
    (service, dir)
}

/// The rules that denied a production decision of the digest.
async fn production(service: &DecisionService) -> Vec<String> {
    let ask = Ask {
        request: DecisionRequest::new(
            ArtifactId {
                name: NAME.into(),
                digest: digest(),
            },
            "production",
        ),
        documents: Default::default(),
        actor: Actor::new("token:tok_ci", Role::Ci),
        override_reason: None,
        image: None,
    };
    let decided = service.decide(ask).await.unwrap();
    decided
        .decision
        .violations
        .iter()
        .map(|v| v.rule.clone())
        .collect()
}

async fn a_staging_allow_counts_after_many_later_decisions(store: Store) {
    fill(&store, false).await;
    let (service, _dir) = service(store.clone(), false).await;
    let rules = production(&service).await;
    assert!(!rules.contains(&"PCL-CHG-004".to_string()), "{rules:?}");
    // The history holds the staging allow, and stays small: 20 of qa's 520 decisions, the
    // newest allow there (among them), the staging allow and the production decision above.
    let history = sources::history(&store, &digest()).await.unwrap();
    assert!(
        history
            .iter()
            .any(|h| h.environment == "staging" && h.decision == "allow" && !h.deployed),
        "{history:#?}"
    );
    assert_eq!(history.len(), 22, "{history:#?}");
    // With require_deployed the same history denies: the staging allow was never deployed.
    let (strict, _dir) = service_strict(store).await;
    let rules = production(&strict).await;
    assert!(rules.contains(&"PCL-CHG-004".to_string()), "{rules:?}");
}

async fn service_strict(store: Store) -> (DecisionService, tempfile::TempDir) {
    service(store, true).await
}

async fn a_deployed_staging_allow_counts_after_many_later_decisions(store: Store) {
    fill(&store, true).await;
    let (service, _dir) = service(store.clone(), true).await;
    let rules = production(&service).await;
    assert!(!rules.contains(&"PCL-CHG-004".to_string()), "{rules:?}");
    let history = sources::history(&store, &digest()).await.unwrap();
    assert!(
        history
            .iter()
            .any(|h| h.environment == "staging" && h.decision == "allow" && h.deployed),
        "{history:#?}"
    );
}
