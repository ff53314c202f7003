//! The dashboard's own state, kept in this process: sessions, the last verification of the
//! chain, and the head of the chain the live pages follow.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;

use crate::auth::NoRandomness;
use crate::state::AppState;

/// How long a session lasts after login.
const SESSION_LIFETIME: Duration = Duration::from_secs(12 * 3600);
/// Most sessions kept at once (the oldest are dropped first).
const MAX_SESSIONS: usize = 10_000;

/// A logged-in browser: the token it logged in with (by id) and its CSRF token.
#[derive(Debug, Clone)]
pub struct Session {
    pub token_id: String,
    pub csrf: String,
    expires: Instant,
}

/// The last verification of the whole chain this process made.
#[derive(Debug, Clone)]
pub struct ChainCheck {
    pub at: String,
    pub intact: bool,
    pub detail: String,
}

/// The dashboard's own state: sessions (in this process), the last chain verification, and the
/// head of the chain the live pages follow.
pub struct Dash {
    sessions: Mutex<HashMap<String, Session>>,
    verified: Mutex<Option<ChainCheck>>,
    head: tokio::sync::OnceCell<tokio::sync::watch::Receiver<i64>>,
}

impl Dash {
    pub fn new() -> Self {
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
    pub fn open_session(&self, token_id: &str) -> Result<(String, String), NoRandomness> {
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

    pub fn close_session(&self, secret: &str) {
        self.sessions().remove(&session_key(secret));
    }

    pub fn session(&self, secret: &str) -> Option<Session> {
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

    pub fn chain_check(&self) -> Option<ChainCheck> {
        match self.verified.lock() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    pub fn set_chain_check(&self, c: ChainCheck) {
        match self.verified.lock() {
            Ok(mut g) => *g = Some(c),
            Err(p) => *p.into_inner() = Some(c),
        }
    }

    /// The head of the chain, followed by one task per process (polled once a second, so
    /// other replicas' and the CLI's changes show too).
    pub async fn head(&self, state: &Arc<AppState>) -> tokio::sync::watch::Receiver<i64> {
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

fn random_token() -> Result<String, NoRandomness> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(NoRandomness)?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b))
}
