//! A real server on a loopback port, over a fresh store, with a token per role.

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine as _;
use portcullis_firewall::{Config, Firewall};
use portcullis_policy::PolicyBundle;
use portcullis_policy::gatekeeper::Gatekeeper;
use portcullis_server::auth::{self, Role};
use portcullis_server::{AppState, ServerSettings};
use portcullis_store::testing::TestDb;
use portcullis_store::{Backend, Store, StoreConfig};
use serde_json::{Value, json};

pub const LOG4J_ARTIFACT: &str = "registry.example.com/shop/checkout-api@sha256:9f3c1d0a8e5b7c2f4a6d8e0b1c3f5a7d9e1b3c5f7a9d1e3b5c7f9a1d3e5b7c9f";

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn examples() -> PathBuf {
    repo().join("examples")
}

/// An evidence item of a decision request: the exact bytes of a file.
pub fn evidence_file(path: &Path) -> Value {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    json!({
        "name": path.display().to_string(),
        "content_base64": base64::engine::general_purpose::STANDARD.encode(bytes),
    })
}

pub struct Options {
    pub settings: ServerSettings,
    pub gatekeeper: Option<PathBuf>,
    /// Configuration file (default: examples/portcullis.yaml).
    pub config: Option<PathBuf>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            settings: ServerSettings::default(),
            gatekeeper: None,
            config: Some(examples().join("portcullis.yaml")),
        }
    }
}

pub struct TestServer {
    pub base: String,
    pub tokens: HashMap<Role, String>,
    pub store: Store,
    pub state: Arc<AppState>,
    pub client: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

pub fn firewall(opts: &Options) -> Firewall {
    let bundle = PolicyBundle::load(&[]).expect("the built-in library");
    let config = match &opts.config {
        Some(p) => Config::load(p).expect("the configuration"),
        None => Config::default(),
    };
    // The examples' attestations are signed with the demo key; a test server trusts it, as
    // `portcullis serve --trusted-keys examples/keys` would.
    let keys = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/keys");
    let (trust, _) = portcullis_firewall::AttestationTrust::load_dir(&keys).expect("the demo key");
    let mut fw = Firewall::new(bundle, config)
        .expect("a firewall")
        .with_trust(trust);
    if let Some(dir) = &opts.gatekeeper {
        fw = fw.with_gatekeeper(Gatekeeper::load_dir(dir).expect("gatekeeper files"));
    }
    fw
}

impl TestServer {
    pub async fn start(config: StoreConfig, opts: Options) -> Self {
        let store = Store::open(&config).await.expect("the store");
        let mut tokens = HashMap::new();
        for role in Role::ALL {
            let (secret, _) = auth::create_token(&store, role.as_str(), role, "test")
                .await
                .expect("a token");
            tokens.insert(role, secret);
        }
        let state = AppState::new(
            store.clone(),
            firewall(&opts),
            Default::default(),
            opts.settings,
            portcullis_evidence::Limits::default(),
        )
        .await
        .expect("the server state");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(portcullis_server::serve(
            state.clone(),
            listener,
            None,
            async move {
                let _ = rx.await;
            },
        ));
        Self {
            base,
            tokens,
            store,
            state,
            client: reqwest::Client::new(),
            stop: Some(stop),
            task: Some(task),
        }
    }

    pub fn token(&self, role: Role) -> &str {
        &self.tokens[&role]
    }

    pub async fn post(&self, role: Role, path: &str, body: &Value) -> (u16, Value) {
        let r = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(self.token(role))
            .json(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, role: Role, path: &str) -> (u16, Value) {
        let r = self
            .client
            .get(format!("{}{path}", self.base))
            .bearer_auth(self.token(role))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            t.await.unwrap().unwrap();
        }
    }
}

/// A fresh database on `backend` (None: PostgreSQL not configured, outside CI).
pub async fn database(backend: Backend) -> Option<TestDb> {
    TestDb::new(backend).await
}
