//! The web dashboard (`/ui/…`): server-rendered HTML (askama templates under `templates/`),
//! readable without JavaScript; the vendored htmx and its SSE extension only refresh the live
//! parts when the store changes. Login takes an API token and keeps a server-side session bound
//! to it (a revoked token ends its sessions at once); every form posts with a per-session CSRF
//! token, and every POST re-checks the role of the token behind the session.
//!
//! Nothing is decided here: pages read the store's queries, changes go through
//! `portcullis_firewall::registry`, and re-gating is `Firewall::decide` + `Firewall::record`.

mod pages;

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use subtle::ConstantTimeEq;

use crate::AppState;
use crate::auth::{Caller, Permission, Role};
use crate::problem::Problem;

/// The session cookie.
pub const COOKIE: &str = "pcl_session";
/// How long a session lasts after login.
const SESSION_LIFETIME: Duration = Duration::from_secs(12 * 3600);
/// Most sessions kept at once (the oldest are dropped first).
const MAX_SESSIONS: usize = 10_000;

/// Whether the server speaks TLS (the session cookie is then `Secure`). `serve` adds it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Transport {
    pub tls: bool,
}

/// A logged-in browser: the token it logged in with (by id) and its CSRF token.
#[derive(Debug, Clone)]
struct Session {
    token_id: String,
    csrf: String,
    expires: Instant,
}

/// The dashboard's own state: sessions (in this process), the last chain verification, and the
/// head of the chain the live pages follow.
pub struct Dash {
    sessions: Mutex<HashMap<String, Session>>,
    verified: Mutex<Option<pages::ChainCheck>>,
    head: tokio::sync::OnceCell<tokio::sync::watch::Receiver<i64>>,
}

impl Dash {
    fn new() -> Self {
        Self {
            sessions: Mutex::new(HashMap::new()),
            verified: Mutex::new(None),
            head: tokio::sync::OnceCell::new(),
        }
    }

    fn sessions(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        match self.sessions.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// A new session for `token_id`: (cookie secret, CSRF token).
    fn open_session(&self, token_id: &str) -> Result<(String, String), String> {
        let secret = random_token()?;
        let csrf = random_token()?;
        let mut sessions = self.sessions();
        let now = Instant::now();
        sessions.retain(|_, s| s.expires > now);
        if sessions.len() >= MAX_SESSIONS
            && let Some(oldest) = sessions
                .iter()
                .min_by_key(|(_, s)| s.expires)
                .map(|(k, _)| k.clone())
        {
            sessions.remove(&oldest);
        }
        sessions.insert(
            session_key(&secret),
            Session {
                token_id: token_id.to_string(),
                csrf: csrf.clone(),
                expires: now + SESSION_LIFETIME,
            },
        );
        Ok((secret, csrf))
    }

    fn close_session(&self, secret: &str) {
        self.sessions().remove(&session_key(secret));
    }

    fn session(&self, secret: &str) -> Option<Session> {
        let key = session_key(secret);
        let mut sessions = self.sessions();
        match sessions.get(&key) {
            Some(s) if s.expires > Instant::now() => Some(s.clone()),
            Some(_) => {
                sessions.remove(&key);
                None
            }
            None => None,
        }
    }

    fn chain_check(&self) -> Option<pages::ChainCheck> {
        match self.verified.lock() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    fn set_chain_check(&self, c: pages::ChainCheck) {
        match self.verified.lock() {
            Ok(mut g) => *g = Some(c),
            Err(p) => *p.into_inner() = Some(c),
        }
    }

    /// The head of the chain, followed by one task per process (polled once a second, so
    /// other replicas' and the CLI's changes show too).
    async fn head(&self, state: &Arc<AppState>) -> tokio::sync::watch::Receiver<i64> {
        self.head
            .get_or_init(|| async {
                let first = state
                    .store
                    .head()
                    .await
                    .ok()
                    .flatten()
                    .map_or(0, |(s, _)| s);
                let (tx, rx) = tokio::sync::watch::channel(first);
                let state = state.clone();
                tokio::spawn(async move {
                    loop {
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        if tx.is_closed() {
                            return;
                        }
                        match state.store.head().await {
                            Ok(h) => {
                                let seq = h.map_or(0, |(s, _)| s);
                                tx.send_if_modified(|v| {
                                    let moved = *v != seq;
                                    *v = seq;
                                    moved
                                });
                            }
                            Err(e) => {
                                tracing::warn!(error = %e, "dashboard: cannot read the chain head")
                            }
                        }
                    }
                });
                rx
            })
            .await
            .clone()
    }
}

/// The key a session is kept under: a digest of its secret.
fn session_key(secret: &str) -> String {
    portcullis_firewall::sha256(secret.as_bytes())
}

fn random_token() -> Result<String, String> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(|e| format!("no randomness: {e}"))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b))
}

/// The person behind a dashboard request: a live session whose token is still valid.
#[derive(Debug, Clone)]
pub struct User {
    pub token_id: String,
    pub role: Role,
    pub csrf: String,
}

impl User {
    pub fn caller(&self) -> Caller {
        Caller {
            token_id: self.token_id.clone(),
            role: self.role,
        }
    }

    pub fn may(&self, p: Permission) -> bool {
        self.role.allows(p)
    }

    /// The role check every POST makes again (whatever buttons the page showed).
    pub fn require(&self, p: Permission) -> Result<(), PageError> {
        self.caller().require(p).map_err(PageError::from)
    }

    pub fn actor(&self) -> String {
        self.caller().actor()
    }

    /// The user as the firewall sees it (its token's name and role).
    pub fn as_actor(&self) -> portcullis_firewall::Actor {
        self.caller().as_actor()
    }
}

fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

fn dash_of(parts: &Parts) -> Option<Arc<Dash>> {
    parts.extensions.get::<Arc<Dash>>().cloned()
}

/// Where to send a visitor without a session: the login page, back here afterwards.
fn to_login(parts: &Parts) -> Response {
    let next = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/ui");
    let target = format!("/ui/login?next={}", urlencode(next));
    if parts.headers.contains_key("hx-request") {
        let mut r = StatusCode::UNAUTHORIZED.into_response();
        if let Ok(v) = HeaderValue::from_str(&target) {
            r.headers_mut().insert("hx-redirect", v);
        }
        return r;
    }
    Redirect::to(&target).into_response()
}

impl FromRequestParts<Arc<AppState>> for User {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let Some(dash) = dash_of(parts) else {
            return Err(PageError::internal("the dashboard's state is missing").into_response());
        };
        let Some(secret) = cookie_value(&parts.headers, COOKIE) else {
            return Err(to_login(parts));
        };
        let Some(session) = dash.session(secret) else {
            return Err(to_login(parts));
        };
        // The token may have been revoked (or its role changed) since the login.
        let Some(role) = state.tokens().role_of(&session.token_id) else {
            dash.close_session(secret);
            return Err(to_login(parts));
        };
        Ok(User {
            token_id: session.token_id,
            role,
            csrf: session.csrf,
        })
    }
}

/// Check a form's CSRF token against the session's, and the Origin header (when the browser
/// sends one) against the Host: a cross-site form post fails both.
pub fn check_csrf(user: &User, headers: &HeaderMap, given: &str) -> Result<(), PageError> {
    let same = bool::from(user.csrf.as_bytes().ct_eq(given.as_bytes()));
    if !same {
        return Err(PageError::new(
            StatusCode::FORBIDDEN,
            "The form is stale or was not sent by this dashboard",
            "its CSRF token does not match this session's: reload the page and try again",
        ));
    }
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        let host = headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let origin_host = origin.split("://").nth(1).unwrap_or(origin);
        if origin != "null" && !origin_host.eq_ignore_ascii_case(host) {
            return Err(PageError::new(
                StatusCode::FORBIDDEN,
                "Cross-site request refused",
                format!("the form was posted from {origin}, not from this dashboard ({host})"),
            ));
        }
    }
    Ok(())
}

/// An error page: status, title and what went wrong.
#[derive(Debug, Clone)]
pub struct PageError {
    pub status: StatusCode,
    pub title: String,
    pub detail: String,
}

impl PageError {
    pub fn new(status: StatusCode, title: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            status,
            title: title.into(),
            detail: detail.into(),
        }
    }

    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "dashboard: internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "The server failed",
            detail.to_string(),
        )
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "Not found", detail)
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "The form is not filled in correctly",
            detail,
        )
    }
}

impl From<Problem> for PageError {
    fn from(p: Problem) -> Self {
        Self {
            status: StatusCode::from_u16(p.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            title: p.title,
            detail: p.detail,
        }
    }
}

impl From<portcullis_store::StoreError> for PageError {
    fn from(e: portcullis_store::StoreError) -> Self {
        PageError::internal(e)
    }
}

impl From<portcullis_firewall::ServiceError> for PageError {
    fn from(e: portcullis_firewall::ServiceError) -> Self {
        PageError::from(Problem::from(e))
    }
}

impl From<portcullis_firewall::registry::RegistryError> for PageError {
    fn from(e: portcullis_firewall::registry::RegistryError) -> Self {
        PageError::from(Problem::from(e))
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        pages::error_page(&self)
    }
}

/// A vendored asset, served under a name with its content hash (cached for a year).
pub struct Asset {
    pub name: &'static str,
    pub content_type: &'static str,
    pub bytes: &'static [u8],
    pub hash: String,
}

impl Asset {
    fn new(name: &'static str, content_type: &'static str, bytes: &'static [u8]) -> Self {
        let digest = portcullis_firewall::sha256(bytes);
        let hash = digest
            .strip_prefix("sha256:")
            .unwrap_or(&digest)
            .chars()
            .take(16)
            .collect();
        Self {
            name,
            content_type,
            bytes,
            hash,
        }
    }

    /// Where pages link to it.
    pub fn url(&self) -> String {
        format!("/ui/assets/{}/{}", self.hash, self.name)
    }
}

pub static ASSETS: LazyLock<[Asset; 3]> = LazyLock::new(|| {
    [
        Asset::new(
            "dashboard.css",
            "text/css; charset=utf-8",
            include_bytes!("../../assets/dashboard.css"),
        ),
        Asset::new(
            "htmx.min.js",
            "text/javascript; charset=utf-8",
            include_bytes!("../../assets/htmx.min.js"),
        ),
        Asset::new(
            "htmx-ext-sse.min.js",
            "text/javascript; charset=utf-8",
            include_bytes!("../../assets/htmx-ext-sse.min.js"),
        ),
    ]
});

/// Percent-encode a query value.
pub fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The dashboard's routes (every one under `/ui`, plus `/` sending browsers there).
pub fn router() -> Router<Arc<AppState>> {
    let dash = Arc::new(Dash::new());
    Router::new()
        .route("/", get(|| async { Redirect::to("/ui") }))
        .route("/ui", get(pages::overview))
        .route("/ui/", get(|| async { Redirect::to("/ui") }))
        .route("/ui/login", get(pages::login_form).post(pages::login))
        .route("/ui/logout", post(pages::logout))
        .route("/ui/events", get(pages::events))
        .route("/ui/decisions", get(pages::decisions))
        .route("/ui/decisions/{id}", get(pages::decision))
        .route("/ui/decisions/{id}/regate", post(pages::regate))
        .route("/ui/decisions/{id}/proof", get(pages::proof))
        .route("/ui/environments", get(pages::environments))
        .route(
            "/ui/advisories",
            get(pages::advisories).post(pages::add_advisory),
        )
        .route(
            "/ui/advisories/{id}/withdraw",
            post(pages::withdraw_advisory),
        )
        .route(
            "/ui/exceptions",
            get(pages::exceptions).post(pages::grant_exception),
        )
        .route("/ui/exceptions/{id}/revoke", post(pages::revoke_exception))
        .route("/ui/rules", get(pages::rules))
        .route("/ui/pipelines", get(pages::pipelines))
        .route("/ui/audit", get(pages::audit))
        .route("/ui/report", get(pages::report))
        .route("/ui/assets/{hash}/{name}", get(pages::asset))
        .layer(axum::Extension(dash))
}
