//! The dashboard against a real server on a loopback port: login and sessions bound to tokens,
//! roles re-checked on every POST, CSRF, the pages' contents after real decisions, re-gating
//! after an exception, and the overview's aggregates on SQLite and PostgreSQL.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::*;
use portcullis_server::auth::Role;
use portcullis_store::Backend;
use serde_json::{Value, json};

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn log4j_evidence() -> Vec<Value> {
    vec![
        evidence_file(&examples().join("evidence/checkout-api.cdx.json")),
        evidence_file(&examples().join("evidence/trivy-image.json")),
    ]
}

/// A logged-in browser: its session cookie and CSRF token.
struct Browser {
    cookie: String,
    csrf: String,
}

async fn login(s: &TestServer, token: &str) -> Browser {
    let r = client()
        .post(format!("{}/ui/login", s.base))
        .form(&[("token", token), ("next", "/ui/decisions")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "login answers with a redirect");
    assert_eq!(r.headers()["location"], "/ui/decisions");
    let set = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(set.contains("HttpOnly"), "{set}");
    assert!(set.contains("SameSite=Strict"), "{set}");
    assert!(
        !set.contains("Secure"),
        "plain HTTP: no Secure flag ({set})"
    );
    let cookie = set.split(';').next().unwrap().to_string();
    let page = get_page(s, &cookie, "/ui").await;
    assert_eq!(page.0, 200, "{}", page.1);
    let csrf = page
        .1
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("a CSRF token in the page")
        .to_string();
    Browser { cookie, csrf }
}

async fn get_page(s: &TestServer, cookie: &str, path: &str) -> (u16, String) {
    let r = client()
        .get(format!("{}{path}", s.base))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn post_form(
    s: &TestServer,
    b: &Browser,
    path: &str,
    fields: &[(&str, &str)],
) -> (u16, String, Option<String>) {
    let mut form: Vec<(&str, &str)> = vec![("csrf", b.csrf.as_str())];
    form.extend_from_slice(fields);
    let r = client()
        .post(format!("{}{path}", s.base))
        .header("cookie", &b.cookie)
        .form(&form)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let location = r
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string());
    (status, r.text().await.unwrap(), location)
}

async fn denied_decision(s: &TestServer) -> Value {
    let (status, body) = s
        .post(
            Role::Ci,
            "/v1/decisions",
            &json!({"artifact": LOG4J_ARTIFACT, "environment": "staging", "evidence": log4j_evidence(),
                    "context": {"pipeline": "shop", "stage": "deploy-staging"}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["decision"]["decision"], "deny", "{body}");
    body["decision"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_sessions_and_roles() {
    let db = database(Backend::Sqlite).await.unwrap();
    let s = TestServer::start(db.config(), Options::default()).await;

    // Without a session every page sends the browser to the login form.
    let r = client().get(format!("{}/ui", s.base)).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/ui/login?next=/ui");
    let r = client()
        .get(format!("{}/ui/login", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let csp = r.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'self'"), "{csp}");
    let html = r.text().await.unwrap();
    assert!(html.contains("name=\"token\""), "{html}");
    // Every asset is vendored and served from here, with its content hash.
    assert!(!html.contains("https://"), "no CDN: {html}");
    let js = html
        .split("<script src=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap();
    let r = client()
        .get(format!("{}{js}", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );

    // A wrong token is refused, and no session is made.
    let r = client()
        .post(format!("{}/ui/login", s.base))
        .form(&[("token", "pcl_not-a-token")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers().get("set-cookie").is_none());
    assert!(r.text().await.unwrap().contains("Unknown or revoked token"));
    // A cross-site login post is refused.
    let r = client()
        .post(format!("{}/ui/login", s.base))
        .header("origin", "https://evil.example")
        .form(&[("token", s.token(Role::Viewer))])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    let d = denied_decision(&s).await;
    let id = d["id"].as_str().unwrap();

    // A viewer sees everything, is shown no buttons, and every POST is refused with 403.
    let viewer = login(&s, s.token(Role::Viewer)).await;
    let (status, html) = get_page(&s, &viewer.cookie, &format!("/ui/decisions/{id}")).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("PCL-VULN-002"), "{html}");
    // Where each fact came from: the firewall's clock, the authenticated caller.
    assert!(html.contains("id=\"fact-sources\""), "{html}");
    assert!(
        html.contains("<tr class=\"source-firewall\"><td>time</td>"),
        "{html}"
    );
    assert!(
        html.contains("<tr class=\"source-authenticated\"><td>requester</td><td>token:tok_"),
        "{html}"
    );
    assert!(
        !html.contains("Grant and re-gate"),
        "viewer sees no grant form"
    );
    assert!(
        !html.contains("Re-gate now"),
        "viewer sees no re-gate button"
    );
    let (status, html, _) = post_form(
        &s,
        &viewer,
        "/ui/exceptions",
        &[
            ("rule", "PCL-VULN-002"),
            ("key", "*"),
            ("artifact", "*"),
            ("environments", "*"),
            ("expires", "2099-01-01"),
            ("reason", "viewer tries"),
        ],
    )
    .await;
    assert_eq!(status, 403, "{html}");
    assert!(html.contains("needs role approver or admin"), "{html}");
    let (status, _, _) = post_form(&s, &viewer, &format!("/ui/decisions/{id}/regate"), &[]).await;
    assert_eq!(status, 403);
    let (status, _, _) = post_form(
        &s,
        &viewer,
        "/ui/advisories",
        &[("purl", "pkg:npm/left-pad"), ("reason", "viewer tries")],
    )
    .await;
    assert_eq!(status, 403);
    assert!(
        s.store.exceptions(true).await.unwrap().is_empty(),
        "nothing was granted"
    );

    // An approver with a wrong CSRF token is refused, whatever the role.
    let approver = login(&s, s.token(Role::Approver)).await;
    let forged = Browser {
        cookie: approver.cookie.clone(),
        csrf: "forged".into(),
    };
    let (status, html, _) = post_form(
        &s,
        &forged,
        "/ui/exceptions/EXC-1/revoke",
        &[("reason", "x")],
    )
    .await;
    assert_eq!(status, 403, "{html}");
    assert!(html.contains("CSRF"), "{html}");

    // Revoking the token ends its sessions at once.
    let tokens = s.store.tokens(false).await.unwrap();
    let viewer_id = &tokens.iter().find(|t| t.role == "viewer").unwrap().id;
    let (status, body) = s
        .post(
            Role::Admin,
            &format!("/v1/tokens/{viewer_id}/revoke"),
            &json!({}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = get_page(&s, &viewer.cookie, "/ui").await;
    assert_eq!(status, 303, "the revoked token's session is over");

    // Logging out ends the session.
    let (status, _, location) = post_form(&s, &approver, "/ui/logout", &[]).await;
    assert_eq!(status, 303);
    assert_eq!(location.as_deref(), Some("/ui/login"));
    let (status, _) = get_page(&s, &approver.cookie, "/ui").await;
    assert_eq!(status, 303);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grant_an_exception_and_regate_until_allowed() {
    let db = database(Backend::Sqlite).await.unwrap();
    let s = TestServer::start(db.config(), Options::default()).await;
    let d = denied_decision(&s).await;
    let first = d["id"].as_str().unwrap().to_string();
    let approver = login(&s, s.token(Role::Approver)).await;

    // The overview shows the denial and its rules.
    let (status, html) = get_page(&s, &approver.cookie, "/ui").await;
    assert_eq!(status, 200);
    assert!(html.contains(&first), "{html}");
    assert!(html.contains("<svg"), "charts are inline SVG");
    for v in d["violations"].as_array().unwrap() {
        assert!(html.contains(v["rule"].as_str().unwrap()), "{html}");
    }

    // Grant an exception for each violation from its form, re-gating each time; the last
    // re-gate is allowed, with every exception listed as what let it through.
    let mut current = first.clone();
    let violations: Vec<(String, String)> = d["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["rule"].as_str().unwrap().to_string(),
                v["key"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(!violations.is_empty());
    for (rule, key) in &violations {
        let (status, html, location) = post_form(
            &s,
            &approver,
            "/ui/exceptions",
            &[
                ("regate", current.as_str()),
                ("rule", rule),
                ("key", key),
                ("artifact", "registry.example.com/shop/checkout-api"),
                ("environments", "staging"),
                ("expires", "2099-01-01"),
                ("reason", "dashboard test"),
            ],
        )
        .await;
        assert_eq!(status, 303, "{html}");
        let location = location.unwrap();
        assert!(
            location.contains(&format!("regated_from={current}")),
            "{location}"
        );
        current = location
            .trim_start_matches("/ui/decisions/")
            .split('?')
            .next()
            .unwrap()
            .to_string();
    }
    let (status, body) = s
        .get(Role::Viewer, &format!("/v1/decisions/{current}"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["decision"]["decision"], "allow", "{body}");
    assert_eq!(
        body["decision"]["excepted"].as_array().unwrap().len(),
        violations.len()
    );
    let (status, html) = get_page(
        &s,
        &approver.cookie,
        &format!("/ui/decisions/{current}?regated_from={first}"),
    )
    .await;
    assert_eq!(status, 200);
    assert!(html.contains(r#"id="verdict">allow"#), "{html}");
    assert!(html.contains("Excepted by"), "{html}");
    // The exceptions page lists them, granted by the approver's token.
    let (_, html) = get_page(&s, &approver.cookie, "/ui/exceptions").await;
    assert_eq!(html.matches("dashboard test").count(), violations.len());
    // A bad expiry is a clear error, not a grant.
    let (status, html, _) = post_form(
        &s,
        &approver,
        "/ui/exceptions",
        &[
            ("rule", "PCL-VULN-002"),
            ("key", "x"),
            ("artifact", "x"),
            ("environments", "dev"),
            ("expires", "next tuesday"),
            ("reason", "r"),
        ],
    )
    .await;
    assert_eq!(status, 422, "{html}");
    assert!(html.contains("next tuesday"), "{html}");
    // The pipelines page groups the decisions by pipeline and stage.
    let (_, html) = get_page(&s, &approver.cookie, "/ui/pipelines").await;
    assert!(html.contains("deploy-staging"), "{html}");
    // Every other page renders what it is about.
    let (status, html) = get_page(&s, &approver.cookie, "/ui/rules").await;
    assert_eq!(status, 200);
    assert!(
        html.contains("PCL-VULN-002") && html.contains(">enforce<"),
        "{html}"
    );
    let (status, html) = get_page(&s, &approver.cookie, "/ui/decisions?env=staging").await;
    assert_eq!(status, 200);
    assert!(html.contains(&first) && html.contains(&current), "{html}");
    let (status, html) = get_page(&s, &approver.cookie, "/ui/environments").await;
    assert_eq!(status, 200);
    assert!(
        html.contains(&current),
        "the last decision in staging: {html}"
    );
    let (status, html) = get_page(&s, &approver.cookie, "/ui/advisories").await;
    assert_eq!(status, 200, "{html}");
    assert!(
        !html.contains("Withdraw"),
        "an approver may not withdraw advisories"
    );
    let (status, html) = get_page(&s, &approver.cookie, "/ui/audit?verify=1").await;
    assert_eq!(status, 200);
    assert!(html.contains("The chain verifies"), "{html}");
    let (status, html) = get_page(&s, &approver.cookie, "/ui/decisions/no-such-id").await;
    assert_eq!(status, 404, "{html}");
    // The report, as JSON here (PDF needs Chromium: the browser test exports it).
    let (status, json) = get_page(&s, &approver.cookie, "/ui/report?format=json").await;
    assert_eq!(status, 200, "{json}");
    let report: Value = serde_json::from_str(&json).unwrap();
    assert!(
        report.to_string().contains(&current),
        "the report lists the decisions"
    );
    let (status, html) = get_page(&s, &approver.cookie, "/ui/report?format=docx").await;
    assert_eq!(status, 422);
    assert!(html.contains("docx"), "{html}");
    // Summary only and Letter paper, as the overview's form sends them: the decisions' rows
    // are left out of the summary.
    let (status, full) =
        get_page(&s, &approver.cookie, "/ui/report?format=html&paper=letter").await;
    assert_eq!(status, 200);
    assert!(full.contains("@page { size: letter"), "paper");
    let (status, summary) = get_page(
        &s,
        &approver.cookie,
        "/ui/report?format=html&paper=letter&summary=1",
    )
    .await;
    assert_eq!(status, 200);
    assert!(full.contains("<table class=\"decisions\">") && full.contains(&current));
    assert!(
        !summary.contains("<table class=\"decisions\">"),
        "the summary leaves the decisions' rows out"
    );
    for bad in [
        "/ui/report?format=json&summary=1",
        "/ui/report?format=html&paper=a3",
        "/ui/report?format=html&summary=maybe",
    ] {
        let (status, html) = get_page(&s, &approver.cookie, bad).await;
        assert_eq!(status, 422, "{bad}: {html}");
    }
    s.stop().await;
}

/// The overview's figures come from the summaries kept on insert: the same numbers on both
/// backends as counting the decisions themselves.
async fn summaries_match_the_decisions(backend: Backend) {
    let Some(db) = database(backend).await else {
        return;
    };
    let s = TestServer::start(db.config(), Options::default()).await;
    let clean = "registry.example.com/shop/checkout-api@sha256:fefd31d2667bc768c7174b24c29c256ff27d4903a2d552ee8c4951c9d094363c";
    let mut want = std::collections::BTreeMap::<(String, String), i64>::new();
    for (artifact, env, evidence) in [
        (LOG4J_ARTIFACT, "staging", log4j_evidence()),
        (LOG4J_ARTIFACT, "dev", log4j_evidence()),
        (LOG4J_ARTIFACT, "staging", log4j_evidence()),
        (clean, "dev", vec![]),
    ] {
        let (status, body) = s
            .post(
                Role::Ci,
                "/v1/decisions",
                &json!({"artifact": artifact, "environment": env, "evidence": evidence}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        let d = &body["decision"];
        let outcome = portcullis_store::outcome(
            d["decision"].as_str().unwrap(),
            d["warnings"].as_array().unwrap().len() as i64,
        );
        *want
            .entry((env.to_string(), outcome.to_string()))
            .or_default() += 1;
    }
    let got: std::collections::BTreeMap<(String, String), i64> = s
        .store
        .outcome_totals()
        .await
        .unwrap()
        .into_iter()
        .map(|c| ((c.environment, c.outcome), c.n))
        .collect();
    assert_eq!(got, want);
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let top = s.store.top_rules(&today, 10).await.unwrap();
    let vuln = top
        .iter()
        .find(|r| r.rule == "PCL-VULN-002")
        .expect("{top:?}");
    assert_eq!(
        vuln.n, 2,
        "denied twice in staging (dev only warns): {top:?}"
    );
    let latest = s.store.latest_per_environment().await.unwrap();
    assert_eq!(
        latest
            .iter()
            .map(|r| r.environment.as_str())
            .collect::<Vec<_>>(),
        ["dev", "staging"]
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn summaries_match_the_decisions_on_sqlite() {
    summaries_match_the_decisions(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn summaries_match_the_decisions_on_postgres() {
    summaries_match_the_decisions(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_updates_stream_changes_and_end_on_shutdown() {
    let db = database(Backend::Sqlite).await.unwrap();
    let s = TestServer::start(db.config(), Options::default()).await;
    let viewer = login(&s, s.token(Role::Viewer)).await;
    // Without a session there is no stream.
    let r = client()
        .get(format!("{}/ui/events", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let mut r = client()
        .get(format!("{}/ui/events", s.base))
        .header("cookie", &viewer.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    let d = denied_decision(&s).await;
    let seq = d["chain"]["seq"].as_u64().unwrap();
    // The change event names the chain's head once the decision is in it.
    let mut seen = String::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !seen.contains(&format!("data: {seq}")) {
        assert!(
            std::time::Instant::now() < deadline,
            "no change event: {seen:?}"
        );
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(10), r.chunk())
            .await
            .expect("an event within 10 s")
            .unwrap()
            .expect("the stream is open");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(seen.contains("event: change"), "{seen}");
    // An open stream does not hold up a graceful shutdown.
    tokio::time::timeout(std::time::Duration::from_secs(10), s.stop())
        .await
        .expect("the server stops with a live page open");
    drop(r);
}

/// An approver approves the decision's build for its environment from the decision page; the
/// re-gated decision counts the approval (by the approver's token), and it can be revoked there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approve_from_the_decision_page_and_revoke() {
    let db = database(Backend::Sqlite).await.unwrap();
    let s = TestServer::start(db.config(), Options::default()).await;
    let (status, body) = s
        .post(
            Role::Ci,
            "/v1/decisions",
            &json!({"artifact": LOG4J_ARTIFACT, "environment": "production", "evidence": log4j_evidence()}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let chg002 = |d: &Value| {
        d["violations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["rule"] == "PCL-CHG-002")
    };
    assert!(chg002(&body["decision"]), "{body}");
    let id = body["decision"]["id"].as_str().unwrap().to_string();

    // A viewer may not approve.
    let viewer = login(&s, s.token(Role::Viewer)).await;
    let (status, _, _) = post_form(
        &s,
        &viewer,
        &format!("/ui/decisions/{id}/approve"),
        &[("reason", "looks fine")],
    )
    .await;
    assert_eq!(status, 403);

    let approver = login(&s, s.token(Role::Approver)).await;
    let (status, html) = get_page(&s, &approver.cookie, &format!("/ui/decisions/{id}")).await;
    assert_eq!(status, 200);
    assert!(html.contains("Approve this build for production"), "{html}");
    let (status, _, location) = post_form(
        &s,
        &approver,
        &format!("/ui/decisions/{id}/approve"),
        &[("reason", "CAB approved"), ("hours", "4")],
    )
    .await;
    assert_eq!(status, 303);
    let location = location.unwrap();
    let regated = location
        .strip_prefix("/ui/decisions/")
        .and_then(|r| r.split('?').next())
        .unwrap()
        .to_string();
    let (_, d) = s
        .get(Role::Viewer, &format!("/v1/decisions/{regated}"))
        .await;
    let d = if d["decision"].is_object() {
        d["decision"].clone()
    } else {
        d
    };
    assert!(!chg002(&d), "{d}");
    let approval = d["facts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["fact"] == "approval" && f["source"] == "recorded")
        .unwrap_or_else(|| panic!("{d}"));
    assert!(approval["by"].as_str().unwrap().starts_with("token:tok_"));

    // Listed on the page, and revocable there.
    let (_, html) = get_page(&s, &approver.cookie, &format!("/ui/decisions/{regated}")).await;
    let apr = html
        .split("class=\"approval-id\">")
        .nth(1)
        .and_then(|r| r.split('<').next())
        .unwrap_or_else(|| panic!("{html}"))
        .to_string();
    let (status, _, _) = post_form(
        &s,
        &approver,
        &format!("/ui/decisions/{regated}/approvals/{apr}/revoke"),
        &[("reason", "wrong build")],
    )
    .await;
    assert_eq!(status, 303);
    let (_, list) = s.get(Role::Viewer, "/v1/approvals?all=true").await;
    assert_eq!(list["approvals"][0]["status"], "revoked", "{list}");
    s.stop().await;
}

/// The posture page lists what runs in each environment with its state, rules and time in
/// violation, linked to the decision; the overview counts the running artifacts in violation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posture_page_and_overview_show_what_runs_in_violation() {
    let db = database(Backend::Sqlite).await.unwrap();
    let s = TestServer::start(db.config(), Options::default()).await;
    let viewer = login(&s, s.token(Role::Viewer)).await;
    let (status, html) = get_page(&s, &viewer.cookie, "/ui/posture").await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Nothing is recorded as running"), "{html}");

    let denied = denied_decision(&s).await;
    let id = denied["id"].as_str().unwrap().to_string();
    let (status, body) = s
        .post(
            Role::Ci,
            "/v1/deployments",
            &json!({"artifact": LOG4J_ARTIFACT, "environment": "staging"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert!(
        s.state
            .rejudge
            .settled(std::time::Duration::from_secs(20))
            .await,
        "re-judging settles"
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let html = loop {
        let (status, html) = get_page(&s, &viewer.cookie, "/ui/posture").await;
        assert_eq!(status, 200, "{html}");
        if html.contains("in violation for") || std::time::Instant::now() > deadline {
            break html;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert!(html.contains("id=\"env-staging\""), "{html}");
    assert!(html.contains("1 in violation"), "{html}");
    assert!(html.contains("in violation for"), "{html}");
    assert!(html.contains("<code>PCL-VULN-002</code>"), "{html}");
    assert!(
        html.contains(&format!("href=\"/ui/decisions/{id}\"")),
        "linked to the decision: {html}"
    );
    let (status, html) = get_page(&s, &viewer.cookie, "/ui").await;
    assert_eq!(status, 200);
    assert!(
        html.contains("1 of 1 running artifacts in violation"),
        "{html}"
    );
    s.stop().await;
}

const DIFF_BASE: &str = "defectdojo/defectdojo-django@sha256:53302007b6bca69dbb20922a2efcf873ff28947732a28bf6b4d33d17006463b5";
const DIFF_CANDIDATE: &str = "defectdojo/defectdojo-django@sha256:b914ffbdf28309f2f5fc46caf1a78bbd90f1e2786dd0f01b69c8b00a07a9d078";

/// The diff fixtures of the firewall's tests: two real builds (CycloneDX, Grype, provenance).
fn diff_evidence(which: &str) -> Value {
    let dir = repo().join("crates/firewall/tests/fixtures/diff");
    Value::Array(
        ["cdx.xml", "grype.json", "provenance.intoto.jsonl"]
            .iter()
            .map(|ext| evidence_file(&dir.join(format!("{which}.{ext}"))))
            .collect(),
    )
}

/// The text of the element with `id` (tags dropped, whitespace collapsed).
fn section_text(html: &str, id: &str) -> String {
    let start = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id} in {html}"));
    let rest = &html[start..];
    let rest = &rest[rest.find('>').unwrap() + 1..];
    let end = rest.find("</section>").unwrap_or(rest.len());
    let mut out = String::new();
    let mut in_tag = false;
    for c in rest[..end].chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The decision page reads the diff in words (and says "no baseline" once, in words, when
/// there is none), and draws the canary analysis a recorded verification points at.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decision_page_reads_the_diff_in_words_and_draws_the_canary() {
    let db = database(Backend::Sqlite).await.unwrap();
    let s = TestServer::start(db.config(), Options::default()).await;
    let viewer = login(&s, s.token(Role::Viewer)).await;

    // Nothing runs yet: no baseline, said once.
    let (status, first) = s
        .post(
            Role::Ci,
            "/v1/decisions",
            &json!({"artifact": DIFF_BASE, "environment": "production", "evidence": diff_evidence("base")}),
        )
        .await;
    assert_eq!(status, 200, "{first}");
    let first_id = first["decision"]["id"].as_str().unwrap().to_string();
    let (status, html) = get_page(&s, &viewer.cookie, &format!("/ui/decisions/{first_id}")).await;
    assert_eq!(status, 200, "{html}");
    let diff = section_text(&html, "diff");
    assert_eq!(
        diff,
        "No baseline: nothing of defectdojo/defectdojo-django ran in production before this decision, so there is nothing to compare."
    );
    for raw in [
        "baseline.artifact",
        "changes: null",
        ": null",
        "baseline.state",
    ] {
        assert!(!html.contains(raw), "{raw} on the page");
    }

    // It runs; the candidate is compared with it.
    let (status, body) = s
        .post(
            Role::Ci,
            "/v1/deployments",
            &json!({"artifact": DIFF_BASE, "environment": "production"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");

    // A canary analysis of the candidate (the regressed example), stored and recorded as
    // `portcullis verify canary --record` does: the report as evidence, its result as a fact.
    let config = portcullis_verify::config::AnalysisConfig::load(
        &repo().join("examples/verify/canary-regressed.yaml"),
    )
    .unwrap();
    let (name, digest) = DIFF_CANDIDATE.split_once('@').unwrap();
    let report = portcullis_verify::analysis::run(
        &config,
        &portcullis_verify::analysis::Subject {
            artifact: Some(portcullis_verify::report::ReportArtifact {
                name: name.into(),
                digest: digest.into(),
            }),
            environment: Some("production".into()),
        },
    )
    .unwrap();
    let bytes = serde_json::to_vec_pretty(&report).unwrap();
    let registry = portcullis_firewall::registry::Registry::new(
        s.store.clone(),
        portcullis_evidence::Limits::default(),
    );
    let (report_digest, _) = registry
        .record_artifact_evidence(
            &portcullis_firewall::ArtifactId {
                name: name.into(),
                digest: digest.into(),
            },
            portcullis_firewall::registry::ArtifactReport {
                blob_kind: "verification",
                kind: "canary",
                format: "portcullis-verification",
                bytes: &bytes,
                details: json!({}),
            },
            &portcullis_firewall::Actor::local("test", portcullis_firewall::Role::Admin),
        )
        .await
        .unwrap();
    let verifications =
        portcullis_verify::evidence::verifications_from_json(&bytes, &report_digest).unwrap();
    let (status, body) = s
        .post(
            Role::Verifier,
            "/v1/facts",
            &json!({"artifact_digest": digest, "environment": "production", "verifications": verifications}),
        )
        .await;
    assert_eq!(status, 201, "{body}");

    let (status, second) = s
        .post(
            Role::Ci,
            "/v1/decisions",
            &json!({"artifact": DIFF_CANDIDATE, "environment": "production", "evidence": diff_evidence("candidate")}),
        )
        .await;
    assert_eq!(status, 200, "{second}");
    let d = &second["decision"];
    assert_eq!(d["diff"]["baseline"]["state"], "known", "{d}");
    let id = d["id"].as_str().unwrap().to_string();
    let (status, html) = get_page(&s, &viewer.cookie, &format!("/ui/decisions/{id}")).await;
    assert_eq!(status, 200, "{html}");
    let diff = section_text(&html, "diff");
    let changes = &d["diff"]["changes"];
    let n = |p: &str| changes.pointer(p).unwrap().as_array().unwrap().len();
    assert!(
        diff.starts_with(
            "Compared with defectdojo/defectdojo-django@sha256:53302007b6bc… running in production (deployed "
        ),
        "{diff}"
    );
    assert!(
        diff.contains(&format!(
            "as the evidence of its decision {first_id} describes it"
        )),
        "{diff}"
    );
    assert!(
        diff.contains(&format!(
            "Components: {} added, {} removed, {} upgraded, {} downgraded, {} unchanged. Findings: {} new, {} fixed,",
            n("/components/added"),
            n("/components/removed"),
            n("/components/upgraded"),
            n("/components/downgraded"),
            changes["components"]["unchanged"],
            n("/findings/new"),
            n("/findings/fixed"),
        )),
        "{diff}"
    );
    assert!(
        diff.contains("Provenance: source repository, source commit changed."),
        "{diff}"
    );
    // Each downgrade by name with its versions; each new finding by id, severity and package.
    for dg in changes["components"]["downgraded"].as_array().unwrap() {
        let line = format!(
            "{} {} → {}",
            dg["name"].as_str().unwrap(),
            dg["from"].as_str().unwrap(),
            dg["to"].as_str().unwrap()
        );
        assert!(diff.contains(&line), "{line} in {diff}");
    }
    assert!(
        diff.contains(&format!(
            "Components downgraded ({})",
            n("/components/downgraded")
        )),
        "{diff}"
    );
    for f in changes["findings"]["new"].as_array().unwrap() {
        let c = &f["component"];
        let line = format!(
            "{} {} in {} {}",
            f["id"].as_str().unwrap(),
            f["severity"].as_str().unwrap(),
            c["name"].as_str().unwrap(),
            c["version"].as_str().unwrap()
        );
        assert!(diff.contains(&line), "{line} in {diff}");
    }
    assert!(
        diff.contains(&format!("New findings ({})", n("/findings/new"))),
        "{diff}"
    );
    assert!(diff.contains("source repository "), "{diff}");
    assert!(!diff.contains("No baseline"), "{diff}");
    for raw in ["baseline.artifact", "changes: null", ": null", "from_key"] {
        assert!(!html.contains(raw), "{raw} on the page");
    }

    // The canary behind the recorded verification: a chart per metric with both series, the
    // verdict, and the log templates with samples.
    assert!(
        html.contains(&format!("data-digest=\"{report_digest}\"")),
        "{html}"
    );
    assert!(
        html.contains(&format!(
            "(report <a href=\"/ui/canary/{}\"><code>{report_digest}</code></a>, drawn below)",
            report_digest.replace(':', "%3A")
        )),
        "{html}"
    );
    assert!(html.contains("data-verdict=\"fail\""), "{html}");
    let canary = &html[html.find("id=\"canary\"").unwrap()..];
    for metric in ["error_rate", "latency_p99", "throughput"] {
        let fig = canary
            .split(&format!("data-metric=\"{metric}\""))
            .nth(1)
            .and_then(|r| r.split("</figure>").next())
            .unwrap_or_else(|| panic!("no chart of {metric}"));
        assert!(
            fig.contains("<polyline class=\"pcv-series pcv-baseline\""),
            "{fig}"
        );
        assert!(
            fig.contains("<polyline class=\"pcv-series pcv-canary\""),
            "{fig}"
        );
        assert!(fig.contains("role=\"img\""), "{fig}");
    }
    assert!(
        canary.contains("class=\"pcv-sample\""),
        "samples of the log templates"
    );
    assert!(
        canary.contains("NullPointerException"),
        "the unexpected template"
    );
    // Its own page.
    let (status, page) = get_page(&s, &viewer.cookie, &format!("/ui/canary/{report_digest}")).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(
        page.matches("<figure class=\"pcv-metric").count(),
        3,
        "{page}"
    );
    let (status, _) = get_page(
        &s,
        &viewer.cookie,
        &format!("/ui/canary/sha256:{}", "0".repeat(64)),
    )
    .await;
    assert_eq!(status, 404);
    s.stop().await;
}

/// A warning is not a violation: where the dashboard counts, a decision that only warned
/// (dev warns where staging enforces) is counted as allowed with warnings, never among the
/// violated rules, and its warnings are listed as warnings.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warnings_are_counted_apart_from_violations() {
    let db = database(Backend::Sqlite).await.unwrap();
    let s = TestServer::start(db.config(), Options::default()).await;
    let viewer = login(&s, s.token(Role::Viewer)).await;
    let (status, body) = s
        .post(
            Role::Ci,
            "/v1/decisions",
            &json!({"artifact": LOG4J_ARTIFACT, "environment": "dev", "evidence": log4j_evidence(),
                    "context": {"pipeline": "shop", "stage": "deploy-dev"}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let d = &body["decision"];
    assert_eq!(d["decision"], "allow", "{d}");
    assert!(d["violations"].as_array().unwrap().is_empty(), "{d}");
    let warned: Vec<String> = d["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["rule"].as_str().unwrap().to_string())
        .collect();
    assert!(warned.iter().any(|r| r == "PCL-VULN-002"), "{d}");
    let id = d["id"].as_str().unwrap();

    // The overview: nothing violated; one decision allowed with warnings in dev.
    let (_, html) = get_page(&s, &viewer.cookie, "/ui").await;
    let top = html
        .split("id=\"top-rules\"")
        .nth(1)
        .and_then(|r| r.split("</table>").next())
        .unwrap();
    assert!(top.contains("no violations"), "{top}");
    for rule in &warned {
        assert!(
            !top.contains(rule.as_str()),
            "{rule} counted as violated: {top}"
        );
    }
    assert!(
        html.contains("Warnings (action warn) are not violations"),
        "{html}"
    );
    let env_row = html
        .split("id=\"per-environment\"")
        .nth(1)
        .and_then(|r| r.split("</table>").next())
        .unwrap();
    assert!(
        env_row.contains(
            "dev</a></td><td class=\"num\">0</td><td class=\"num\">1</td><td class=\"num\">0</td>"
        ),
        "dev: 0 allowed clean, 1 with warnings, 0 denied: {env_row}"
    );
    // The decisions list says allowed with warnings, not "warn".
    let (_, list) = get_page(&s, &viewer.cookie, "/ui/decisions").await;
    assert!(
        list.contains("<span class=\"badge warn\" title=\"allowed, with warnings (no violation)\">allow · warnings</span>"),
        "{list}"
    );
    // The decision: no violations, its warnings listed as warnings.
    let (_, page) = get_page(&s, &viewer.cookie, &format!("/ui/decisions/{id}")).await;
    assert!(page.contains("<h2>Violations (0)</h2>"), "{page}");
    assert!(
        page.contains(&format!("<h2>Warnings ({})</h2>", warned.len())),
        "{page}"
    );
    // Pipelines: passed, of which with warnings.
    let (_, pipes) = get_page(&s, &viewer.cookie, "/ui/pipelines").await;
    assert!(
        pipes.contains("<td>shop</td><td>deploy-dev</td><td class=\"num\">1</td><td class=\"num\">1</td><td class=\"num\">1</td><td class=\"num\">0</td>"),
        "{pipes}"
    );
    s.stop().await;
}
