//! Running one test body on both backends.
//!
//! [`on_both_backends!`] turns `async fn name(store: Store, ctx: &Ctx)` into the tests
//! `name_sqlite` and `name_postgres`. SQLite runs in a temporary directory. PostgreSQL runs in a
//! database of its own, created for the test on the server `PORTCULLIS_TEST_POSTGRES_URL` names
//! and dropped afterwards (even when the test fails); when that variable is unset the PostgreSQL
//! variant says so on stderr and passes, except under CI (`CI=true`), where a skip is a failure.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use portcullis_store::{Backend, Store, StoreConfig};
use sqlx::Connection;
use sqlx::postgres::{PgPool, PgPoolOptions};

/// The variable naming the PostgreSQL server (any database on it: tests create their own).
pub const POSTGRES_URL_VAR: &str = "PORTCULLIS_TEST_POSTGRES_URL";

/// `name_sqlite` and `name_postgres` tests running `async fn name(store: Store, ctx: &Ctx)`,
/// each on a fresh store.
macro_rules! on_both_backends {
    ($($body:ident => $sqlite:ident, $postgres:ident;)+) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $sqlite() {
            support::run(portcullis_store::Backend::Sqlite, |store, ctx| async move {
                $body(store, &ctx).await
            })
            .await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $postgres() {
            support::run(portcullis_store::Backend::Postgres, |store, ctx| async move {
                $body(store, &ctx).await
            })
            .await;
        }
    )+};
}

/// Set up the backend, open the store, run `body` (as a task of its own, so that a failing test
/// still gets its database dropped), clean up, and fail as the body failed.
pub async fn run<F, Fut>(backend: Backend, body: F)
where
    F: FnOnce(Store, Arc<Ctx>) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(ctx) = Ctx::new(backend).await else {
        return;
    };
    let ctx = Arc::new(ctx);
    let task = {
        let ctx = ctx.clone();
        tokio::spawn(async move {
            let store = ctx.open(&ctx.config()).await;
            body(store, ctx).await;
        })
    };
    let outcome = task.await;
    ctx.cleanup().await;
    if let Err(e) = outcome {
        match e.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(e) => panic!("the test task did not finish: {e}"),
        }
    }
}

/// What a test body knows about its store besides the store itself.
pub struct Ctx {
    backend: Backend,
    /// The store's URL (a database of its own on PostgreSQL).
    url: String,
    /// Keys (and the SQLite database).
    dir: tempfile::TempDir,
    /// PostgreSQL: a connection to the server, and the test database to drop at the end.
    admin: Option<(PgPool, String)>,
}

impl Ctx {
    async fn new(backend: Backend) -> Option<Self> {
        let dir = tempfile::tempdir().expect("a temporary directory");
        match backend {
            Backend::Sqlite => {
                let url = format!("sqlite://{}", dir.path().join("portcullis.db").display());
                Some(Self {
                    backend,
                    url,
                    dir,
                    admin: None,
                })
            }
            Backend::Postgres => {
                let server = postgres_url()?;
                let admin = PgPoolOptions::new()
                    .max_connections(1)
                    .acquire_timeout(Duration::from_secs(30))
                    .connect(&server)
                    .await
                    .unwrap_or_else(|e| {
                        panic!(
                            "{POSTGRES_URL_VAR}={}: cannot connect: {e}",
                            redact(&server)
                        )
                    });
                let name = unique_database_name();
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&admin)
                    .await
                    .unwrap_or_else(|e| {
                        panic!("{}: cannot create database {name}: {e}", redact(&server))
                    });
                Some(Self {
                    backend,
                    url: with_database(&server, &name),
                    dir,
                    admin: Some((admin, name)),
                })
            }
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The store's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A temporary directory for this test (key files).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The key of the store the test was given.
    pub fn key_path(&self) -> PathBuf {
        self.dir().join("checkpoint.key")
    }

    /// The configuration of the store the test was given: only the first commit and explicit
    /// `Store::checkpoint` calls sign checkpoints.
    pub fn config(&self) -> StoreConfig {
        StoreConfig {
            url: self.url.clone(),
            key_path: self.key_path(),
            checkpoint_every: 1_000_000,
            checkpoint_interval: Duration::from_secs(24 * 3600),
            // Whatever else there is to configure: the defaults.
            ..StoreConfig::in_home(self.dir())
        }
    }

    /// Open a store (another handle on the test's database when `config.url` is [`Ctx::url`]).
    pub async fn open(&self, config: &StoreConfig) -> Store {
        Store::open(config)
            .await
            .unwrap_or_else(|e| panic!("cannot open the store: {e}"))
    }

    /// A second store on the same database with the same key: another process of the same
    /// installation.
    pub async fn second_handle(&self) -> Store {
        self.open(&self.config()).await
    }

    /// A store on the same database signing with another key (file `name` in [`Ctx::dir`],
    /// created when absent): a replica.
    pub async fn open_with_key(&self, name: &str) -> (Store, PathBuf) {
        let key_path = self.dir().join(name);
        let config = StoreConfig {
            key_path: key_path.clone(),
            ..self.config()
        };
        (self.open(&config).await, key_path)
    }

    /// `SELECT COUNT(*) …` (or any query of one integer) on a connection of its own.
    pub async fn count(&self, sql: &str) -> i64 {
        let result = match self.backend {
            Backend::Sqlite => {
                let mut conn = sqlx::SqliteConnection::connect(&self.url)
                    .await
                    .expect("a connection to the SQLite store");
                let n = sqlx::query_scalar::<_, i64>(sql).fetch_one(&mut conn).await;
                let _ = conn.close().await;
                n
            }
            Backend::Postgres => {
                let mut conn = sqlx::PgConnection::connect(&self.url)
                    .await
                    .expect("a connection to the PostgreSQL store");
                let n = sqlx::query_scalar::<_, i64>(sql).fetch_one(&mut conn).await;
                let _ = conn.close().await;
                n
            }
        };
        result.unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// An SQL literal of `bytes` for a BLOB (SQLite) or BYTEA (PostgreSQL) column.
    pub fn bytes_literal(&self, bytes: &[u8]) -> String {
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        match self.backend {
            Backend::Sqlite => format!("X'{hex}'"),
            Backend::Postgres => format!("'\\x{hex}'::bytea"),
        }
    }

    /// Drop the PostgreSQL test database (best effort: a failure is reported, not fatal).
    async fn cleanup(&self) {
        let Some((admin, name)) = &self.admin else {
            return;
        };
        let force = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
        if sqlx::query(&force).execute(admin).await.is_err() {
            // Before PostgreSQL 13: end the sessions still connected, then drop.
            let _ = sqlx::query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            )
            .bind(name)
            .execute(admin)
            .await;
            if let Err(e) = sqlx::query(&format!("DROP DATABASE IF EXISTS {name}"))
                .execute(admin)
                .await
            {
                eprintln!("warning: could not drop the test database {name}: {e}");
            }
        }
        admin.close().await;
    }
}

/// The PostgreSQL server to test against, or `None` (after saying so) when none is configured.
/// Under CI a missing server is a failure, not a skip.
pub fn postgres_url() -> Option<String> {
    match std::env::var(POSTGRES_URL_VAR) {
        Ok(url) if !url.trim().is_empty() => Some(url.trim().to_string()),
        _ => portcullis_testkit::skip_or_fail!("PostgreSQL tests", "{POSTGRES_URL_VAR} is not set"),
    }
}

/// `pcl_t_<pid>_<counter>_<random>`: unique across the tests of a run and across concurrent
/// runs. Only `[a-z0-9_]`, so it needs no quoting.
fn unique_database_name() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut random = [0u8; 4];
    getrandom::fill(&mut random).expect("randomness from the operating system");
    format!(
        "pcl_t_{}_{}_{:08x}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        u32::from_be_bytes(random)
    )
}

/// `url` with its database (the path) replaced by `database`; user, host, port and query
/// parameters are kept.
pub fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let authority_end = base
        .get(authority_start..)
        .and_then(|rest| rest.find('/'))
        .map_or(base.len(), |i| authority_start + i);
    let mut out = format!("{}/{database}", &base[..authority_end]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

/// A URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => match url[s + 3..at].split_once(':') {
            Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
            None => url.to_string(),
        },
        _ => url.to_string(),
    }
}

/// `s` as an SQL string literal.
pub fn sql_str(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}
