//! Stores nothing: tells subscribers of the changes replicas must learn of.
//!
//! This process's changes come through a broadcast channel, other processes' through PostgreSQL
//! LISTEN/NOTIFY or, on SQLite, by polling the audit log.

use std::time::Duration;

use sqlx::sqlite::SqlitePool;

use super::pool::{Db, Inner, Store};
use crate::chain::Entry;
use crate::error::StoreError;
use crate::records::StoreEvent;

/// The PostgreSQL channel that carries [`StoreEvent`]s between replicas.
pub const CHANGES_CHANNEL: &str = "portcullis_changes";

impl Store {
    /// Subscribe to the changes replicas must learn of (see [`Subscription`]).
    pub async fn subscribe(&self) -> Result<Subscription, StoreError> {
        let local = self.inner.events.subscribe();
        let remote = match &self.inner.db {
            Db::Sqlite(pool) => Remote::Poll {
                pool: pool.clone(),
                last: self.head().await?.map(|(seq, _)| seq).unwrap_or(0),
                pending: Default::default(),
                due: tokio::time::Instant::now() + POLL_INTERVAL,
            },
            Db::Postgres(pool) => {
                let mut l = sqlx::postgres::PgListener::connect_with(pool)
                    .await
                    .map_err(|e| self.err(e))?;
                l.listen(CHANGES_CHANNEL).await.map_err(|e| self.err(e))?;
                Remote::Listen(Box::new(l))
            }
        };
        Ok(Subscription { local, remote })
    }
}

/// Tell this process's subscribers about committed live changes.
pub(super) fn publish(inner: &Inner, entries: &[Option<Entry>]) {
    for e in entries
        .iter()
        .flatten()
        .filter(|e| StoreEvent::is_live(&e.kind))
    {
        // No subscriber is not an error.
        let _ = inner.events.send(StoreEvent {
            kind: e.kind.clone(),
            seq: e.seq,
        });
    }
}

/// A stream of [`StoreEvent`]s: this process's changes, and on PostgreSQL every replica's
/// (LISTEN/NOTIFY). After anything that may have lost events (a dropped connection, a slow
/// reader) it yields a [`StoreEvent::RELOAD`].
pub struct Subscription {
    local: tokio::sync::broadcast::Receiver<StoreEvent>,
    remote: Remote,
}

/// Where other processes' changes come from.
enum Remote {
    /// PostgreSQL: LISTEN on [`CHANGES_CHANNEL`].
    Listen(Box<sqlx::postgres::PgListener>),
    /// SQLite has no notifications between processes (a CLI and a server on one file): poll
    /// the chain for live entries after the last one seen.
    Poll {
        pool: SqlitePool,
        last: i64,
        pending: std::collections::VecDeque<StoreEvent>,
        /// When the next poll is due: kept across calls, so that local events arriving more
        /// often than the interval (a decision every few milliseconds) do not put it off
        /// for ever.
        due: tokio::time::Instant,
    },
}

/// How often SQLite subscribers look for other processes' changes.
const POLL_INTERVAL: Duration = Duration::from_millis(500);

impl Subscription {
    /// The next event (waits for it).
    pub async fn next(&mut self) -> StoreEvent {
        let reload = || StoreEvent {
            kind: StoreEvent::RELOAD.into(),
            seq: 0,
        };
        loop {
            let local = async {
                match self.local.recv().await {
                    Ok(e) => Some(e),
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => Some(reload()),
                    // The store is gone: nothing more will come from here.
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => None,
                }
            };
            let remote = async {
                match &mut self.remote {
                    Remote::Poll {
                        pool,
                        last,
                        pending,
                        due,
                    } => loop {
                        if let Some(e) = pending.pop_front() {
                            return Some(e);
                        }
                        tokio::time::sleep_until(*due).await;
                        *due = tokio::time::Instant::now() + POLL_INTERVAL;
                        let rows: Result<Vec<(i64, String)>, _> = sqlx::query_as(
                            "SELECT seq, kind FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT 10000",
                        )
                        .bind(*last)
                        .fetch_all(&*pool)
                        .await;
                        match rows {
                            Ok(rows) => {
                                for (seq, kind) in rows {
                                    *last = seq;
                                    if StoreEvent::is_live(&kind) {
                                        pending.push_back(StoreEvent {
                                            kind,
                                            seq: seq as u64,
                                        });
                                    }
                                }
                            }
                            Err(_) => return Some(reload()),
                        }
                    },
                    Remote::Listen(l) => match l.try_recv().await {
                        Ok(Some(n)) => Some(parse_event(n.payload()).unwrap_or_else(reload)),
                        // The connection was lost (sqlx reconnects on the next call): whatever
                        // was sent meanwhile is lost, so reload everything.
                        Ok(None) => Some(reload()),
                        Err(_) => {
                            tokio::time::sleep(Duration::from_millis(200)).await;
                            Some(reload())
                        }
                    },
                }
            };
            let got = tokio::select! {
                e = local => e,
                e = remote => e,
            };
            match got {
                Some(e) => return e,
                None => std::future::pending::<()>().await,
            }
        }
    }
}

fn parse_event(payload: &str) -> Option<StoreEvent> {
    let (kind, seq) = payload.rsplit_once(':')?;
    Some(StoreEvent {
        kind: kind.to_string(),
        seq: seq.parse().ok()?,
    })
}
