//! Where the state is: `--database-url` / `PORTCULLIS_DATABASE_URL`, else an SQLite file under
//! `$PORTCULLIS_HOME` (default `./.portcullis`). Opening it, and the runtime its calls need.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use portcullis_store::{Store, StoreConfig};

/// The store every stateful command uses.
#[derive(Args, Debug, Clone)]
pub struct StoreArgs {
    /// `postgres://…` for several replicas sharing one database, or `sqlite://PATH`. Default:
    /// SQLite in `$PORTCULLIS_HOME/portcullis.db`.
    #[arg(
        long,
        env = "PORTCULLIS_DATABASE_URL",
        value_name = "URL",
        global = true
    )]
    pub database_url: Option<String>,
    /// The state directory (default `./.portcullis`): the SQLite database and the checkpoint key.
    #[arg(long, env = "PORTCULLIS_HOME", value_name = "DIR", global = true)]
    pub home: Option<PathBuf>,
    /// The ed25519 key that signs audit checkpoints (created on first use). Default:
    /// `$PORTCULLIS_HOME/checkpoint.key`.
    #[arg(
        long,
        env = "PORTCULLIS_CHECKPOINT_KEY",
        value_name = "FILE",
        global = true
    )]
    pub checkpoint_key: Option<PathBuf>,
}

impl StoreArgs {
    pub fn config(&self) -> StoreConfig {
        let home = self
            .home
            .clone()
            .unwrap_or_else(|| PathBuf::from(".portcullis"));
        let mut config = StoreConfig::in_home(&home);
        if let Some(url) = &self.database_url {
            config.url = url.clone();
        }
        if let Some(key) = &self.checkpoint_key {
            config.key_path = key.clone();
        }
        config
    }

    /// Open the store.
    pub async fn open(&self) -> anyhow::Result<Store> {
        let config = self.config();
        Store::open(&config)
            .await
            .with_context(|| "cannot open the store (see --database-url, --home)".to_string())
    }
}

/// A runtime for the store's calls (the decision itself is CPU work outside it).
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Who is acting: `--by`, else `$PORTCULLIS_USER`, else `$USER`.
pub fn actor(by: &Option<String>) -> String {
    by.clone()
        .or_else(|| std::env::var("PORTCULLIS_USER").ok())
        .or_else(|| std::env::var("USER").ok())
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| "unknown".into())
}

/// The command line as an actor: `actor(by)` with role admin (whoever can open the store can
/// change anything in it anyway; the server's tokens are what roles limit).
pub fn cli_actor(by: &Option<String>) -> portcullis_firewall::Actor {
    portcullis_firewall::Actor::local(actor(by), portcullis_firewall::Role::Admin)
}
