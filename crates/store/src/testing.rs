//! Test support (feature `testing`): a fresh store on SQLite or on a database of its own on
//! the PostgreSQL server named by `PORTCULLIS_TEST_POSTGRES_URL` — skipped with a message when
//! unset, a failure under CI.

#![allow(clippy::panic, clippy::expect_used, missing_docs)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sqlx::postgres::{PgPool, PgPoolOptions};

use crate::db::{Backend, StoreConfig};

pub const POSTGRES_URL_VAR: &str = "PORTCULLIS_TEST_POSTGRES_URL";

/// A fresh store location on one backend, and what it takes to clean it up.
pub struct TestDb {
    pub url: String,
    pub dir: tempfile::TempDir,
    admin: Option<(PgPool, String)>,
}

impl TestDb {
    /// None when PostgreSQL is asked for and not configured (outside CI).
    pub async fn new(backend: Backend) -> Option<Self> {
        let dir = tempfile::tempdir().expect("a temporary directory");
        match backend {
            Backend::Sqlite => Some(Self {
                url: format!("sqlite://{}", dir.path().join("portcullis.db").display()),
                dir,
                admin: None,
            }),
            Backend::Postgres => {
                let server = match std::env::var(POSTGRES_URL_VAR) {
                    Ok(u) if !u.trim().is_empty() => u.trim().to_string(),
                    _ => portcullis_testkit::skip_or_fail!(
                        "PostgreSQL tests",
                        "{POSTGRES_URL_VAR} is not set"
                    ),
                };
                let admin = PgPoolOptions::new()
                    .max_connections(1)
                    .acquire_timeout(Duration::from_secs(30))
                    .connect(&server)
                    .await
                    .unwrap_or_else(|e| panic!("{POSTGRES_URL_VAR}: cannot connect: {e}"));
                let name = unique_database_name();
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&admin)
                    .await
                    .unwrap_or_else(|e| panic!("cannot create database {name}: {e}"));
                Some(Self {
                    url: with_database(&server, &name),
                    dir,
                    admin: Some((admin, name)),
                })
            }
        }
    }

    /// A store configuration on this database; `home` names the key's directory (replicas
    /// of one database each have their own key).
    pub fn config_in(&self, home: &str) -> StoreConfig {
        let dir = self.dir.path().join(home);
        let _ = std::fs::create_dir_all(&dir);
        StoreConfig {
            url: self.url.clone(),
            ..StoreConfig::in_home(&dir)
        }
    }

    pub fn config(&self) -> StoreConfig {
        StoreConfig {
            url: self.url.clone(),
            ..StoreConfig::in_home(self.dir.path())
        }
    }

    /// Drop the PostgreSQL database (best effort).
    pub async fn cleanup(&self) {
        let Some((admin, name)) = &self.admin else {
            return;
        };
        let force = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
        if let Err(e) = sqlx::query(&force).execute(admin).await {
            eprintln!("warning: could not drop the test database {name}: {e}");
        }
        admin.close().await;
    }
}

/// `pcl_t_<pid>_…`: scripts/test drops those a finished run left behind.
pub fn unique_database_name() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "pcl_t_{}_s{}_{nanos:x}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// `url` with its database replaced by `database`.
pub fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let start = base.find("://").map_or(0, |i| i + 3);
    let end = base
        .get(start..)
        .and_then(|r| r.find('/'))
        .map_or(base.len(), |i| start + i);
    let mut out = format!("{}/{database}", base.get(..end).unwrap_or(base));
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}
