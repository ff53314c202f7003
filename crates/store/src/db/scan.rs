//! Stores nothing itself: reads the whole audit chain for `verify`, entry 1 on in sequence order,
//! on a reader of its own that hands batches over a bounded channel, so that the checking
//! (hashing) runs on another thread while the next rows are read.
//!
//! - SQLite: a synchronous read-only connection (rusqlite, on the same libsqlite3-sys and so the
//!   same SQLite as sqlx) on a thread of its own, one statement, each row's text borrowed from
//!   SQLite and copied once into its entry. sqlx would run the statement on its worker thread
//!   and hand every row over with a copy of each value.
//! - PostgreSQL: `COPY (SELECT …) TO STDOUT (FORMAT binary)`, parsed here: the server streams
//!   the rows without a round trip per chunk, and no row is decoded by column name.
//! - Otherwise (an in-memory SQLite database, which another connection cannot open): reads of
//!   [`CHUNK`] entries through the pool.
//!
//! A read error ends the stream with that error; a reader whose receiver is gone stops.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use serde_json::Value;

use futures_util::StreamExt as _;
use tokio::sync::mpsc;

use super::pool::{Db, Store, on_db};
use super::tables::{RowValues, TableCheck, body_members, columns_of, picked_body, select_sql};
use crate::chain::Entry;
use crate::error::StoreError;

/// Entries per batch handed to the checker.
const BATCH: usize = 4096;
/// Batches read ahead of the checker at most.
const DEPTH: usize = 4;
/// Entries per query of the pooled fallback.
const CHUNK: i64 = 50_000;

/// The columns of an entry, in [`Entry`] order.
const SELECT: &str = "SELECT seq, at, kind, body, body_digest, prev_hash, hash FROM audit_log WHERE seq >= 1 ORDER BY seq";

/// An `audit_log` row as the pooled reader reads it.
type Row = (i64, String, String, String, String, String, String);

/// One batch of entries, or the error that ended the reading.
pub(super) type Batch = Result<Read, StoreError>;

/// Entries read, and those of the kinds the table checks read with the members of their body
/// the checks read (picked here, on the reader's thread, so the checker only hashes).
#[derive(Default)]
pub(super) struct Read {
    pub(super) entries: Vec<Entry>,
    /// The entry (its `body` left empty) and its picked body.
    pub(super) recorded: Vec<(Entry, Value)>,
}

/// The top-level body members the table checks read, per entry kind.
type Members = HashMap<&'static str, Vec<String>>;

/// A batch being filled.
struct Filling {
    members: Arc<Members>,
    read: Read,
}

impl Filling {
    fn new(members: Arc<Members>) -> Self {
        Self {
            members,
            read: Read::default(),
        }
    }

    fn push(&mut self, e: Entry) {
        if let Some(m) = self.members.get(e.kind.as_str()) {
            let body = picked_body(&e.body, m);
            let small = Entry {
                seq: e.seq,
                at: e.at.clone(),
                kind: e.kind.clone(),
                body: String::new(),
                body_digest: e.body_digest.clone(),
                prev_hash: e.prev_hash.clone(),
                hash: e.hash.clone(),
            };
            self.read.recorded.push((small, body));
        }
        self.read.entries.push(e);
    }

    fn full(&self) -> bool {
        self.read.entries.len() >= BATCH
    }

    fn is_empty(&self) -> bool {
        self.read.entries.is_empty()
    }

    fn take(&mut self) -> Read {
        std::mem::replace(
            &mut self.read,
            Read {
                entries: Vec::with_capacity(BATCH),
                recorded: Vec::new(),
            },
        )
    }
}

impl Store {
    /// Read the chain from entry 1 on, in sequence order, in batches.
    pub(super) fn scan_chain(&self) -> mpsc::Receiver<Batch> {
        let (tx, rx) = mpsc::channel(DEPTH);
        let members = Arc::new(body_members());
        match (&self.inner.db, sqlite_file(&self.inner.db)) {
            (Db::Sqlite(_), Some(path)) => {
                let location = self.inner.location.clone();
                let spawned = std::thread::Builder::new()
                    .name("portcullis-verify-read".into())
                    .spawn({
                        let tx = tx.clone();
                        move || {
                            if let Err(e) = read_sqlite(&path, &tx, members) {
                                let _ = tx.blocking_send(Err(StoreError::db(&location, e)));
                            }
                        }
                    });
                if let Err(e) = spawned {
                    let _ =
                        tx.try_send(Err(self.err(format!("cannot start the chain reader: {e}"))));
                }
            }
            (Db::Postgres(pool), _) => {
                let pool = pool.clone();
                let store = self.clone();
                tokio::spawn(async move {
                    if let Err(e) = read_postgres(&pool, &tx, members).await {
                        let _ = tx.send(Err(store.err(e))).await;
                    }
                });
            }
            (Db::Sqlite(_), None) => {
                let store = self.clone();
                tokio::spawn(async move { store.read_pooled(&tx, members).await });
            }
        }
        rx
    }

    /// The pooled reader: [`CHUNK`] entries per query.
    async fn read_pooled(&self, tx: &mpsc::Sender<Batch>, members: Arc<Members>) {
        let mut next = 1u64;
        loop {
            let from = i64::try_from(next).unwrap_or(i64::MAX);
            let rows: Result<Vec<Row>, _> = on_db!(&self.inner.db, pool => {
                sqlx::query_as("SELECT seq, at, kind, body, body_digest, prev_hash, hash FROM audit_log WHERE seq >= $1 ORDER BY seq LIMIT $2")
                    .bind(from).bind(CHUNK)
                    .fetch_all(pool).await
            });
            let rows = match rows {
                Ok(r) => r,
                Err(e) => {
                    let _ = tx.send(Err(self.err(e))).await;
                    return;
                }
            };
            let n = rows.len() as i64;
            let mut batch = Filling::new(members.clone());
            for (seq, at, kind, body, body_digest, prev_hash, hash) in rows {
                batch.push(Entry {
                    seq: seq as u64,
                    at,
                    kind,
                    body,
                    body_digest,
                    prev_hash,
                    hash,
                });
            }
            let Some(last) = batch.read.entries.last() else {
                return;
            };
            next = last.seq.saturating_add(1);
            if tx.send(Ok(batch.take())).await.is_err() || n < CHUNK {
                return;
            }
        }
    }
}

impl Store {
    /// Every row of the table `check` names, each column as text (NULL as None), for `verify`:
    /// read like the chain (rusqlite on a blocking thread; binary COPY; the pool otherwise).
    pub(super) async fn all_table_rows(
        &self,
        check: &'static TableCheck,
    ) -> Result<Vec<RowValues>, StoreError> {
        let sql = select_sql(check, "");
        let names = columns_of(check);
        match (&self.inner.db, sqlite_file(&self.inner.db)) {
            (Db::Sqlite(_), Some(path)) => {
                let read = tokio::task::spawn_blocking(move || sqlite_rows(&path, &sql, &names))
                    .await
                    .map_err(|e| self.err(format!("the table reader stopped: {e}")))?;
                read.map_err(|e| self.err(format!("{}: {e}", check.table)))
            }
            (Db::Postgres(pool), _) => {
                let mut conn = pool.acquire().await.map_err(|e| self.err(e))?;
                let read = copy_rows(&mut conn, check.table, &sql, &names).await;
                if read.is_err() {
                    conn.close_on_drop();
                }
                read.map_err(|e| self.err(format!("{}: {e}", check.table)))
            }
            (Db::Sqlite(_), None) => self.table_rows(check, "", &[]).await,
        }
    }
}

/// The rows of `sql` on a read-only connection of its own.
fn sqlite_rows(
    path: &std::path::Path,
    sql: &str,
    names: &[&'static str],
) -> Result<Vec<RowValues>, String> {
    use rusqlite::OpenFlags;
    use rusqlite::types::ValueRef;
    let conn = rusqlite::Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| format!("cannot open for reading: {e}"))?;
    conn.busy_timeout(std::time::Duration::from_secs(120))
        .map_err(|e| e.to_string())?;
    let mut stmt = conn.prepare(sql).map_err(|e| e.to_string())?;
    let mut rows = stmt.query([]).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(|e| e.to_string())? {
        let mut m = RowValues::new();
        for (i, name) in names.iter().enumerate() {
            let v = match row.get_ref(i).map_err(|e| e.to_string())? {
                ValueRef::Null => None,
                ValueRef::Text(b) | ValueRef::Blob(b) => Some(
                    std::str::from_utf8(b)
                        .map(str::to_string)
                        .map_err(|_| format!("{name} is not UTF-8 text"))?,
                ),
                ValueRef::Integer(n) => Some(n.to_string()),
                ValueRef::Real(x) => Some(x.to_string()),
            };
            m.insert((*name).to_string(), v);
        }
        out.push(m);
    }
    Ok(out)
}

/// The rows of `sql` as one binary COPY.
async fn copy_rows(
    conn: &mut sqlx::PgConnection,
    table: &'static str,
    sql: &str,
    names: &[&'static str],
) -> Result<Vec<RowValues>, String> {
    let copy = format!("COPY ({sql}) TO STDOUT (FORMAT binary)");
    let mut stream = conn.copy_out_raw(&copy).await.map_err(|e| e.to_string())?;
    let mut parser = CopyParser::new(table, names.len());
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| e.to_string())?;
        parser.feed(&chunk, &mut |f| {
            let mut m = RowValues::new();
            for (name, v) in names.iter().zip(f) {
                let v = match v {
                    Some(b) => Some(
                        std::str::from_utf8(b)
                            .map(str::to_string)
                            .map_err(|_| format!("{name} is not UTF-8 text"))?,
                    ),
                    None => None,
                };
                m.insert((*name).to_string(), v);
            }
            out.push(m);
            Ok(())
        })?;
    }
    if !parser.ended() {
        return Err(format!("the COPY of {table} ended before its trailer"));
    }
    Ok(out)
}

/// The file of a SQLite database another connection can open (None: in memory).
fn sqlite_file(db: &Db) -> Option<PathBuf> {
    let Db::Sqlite(pool) = db else { return None };
    let options = pool.connect_options();
    let path = options.get_filename();
    let text = path.to_string_lossy();
    if text.is_empty() || text == ":memory:" || text.starts_with("file:") || !path.is_file() {
        return None;
    }
    Some(path.to_path_buf())
}

/// Text of column `i` of a row (SQLite may hold a blob or a number in a text column: a blob
/// must be UTF-8, a number is read as its text).
fn text(row: &rusqlite::Row<'_>, i: usize, name: &str) -> Result<String, String> {
    use rusqlite::types::ValueRef;
    match row.get_ref(i).map_err(|e| e.to_string())? {
        ValueRef::Text(b) | ValueRef::Blob(b) => std::str::from_utf8(b)
            .map(str::to_string)
            .map_err(|_| format!("audit_log.{name} is not UTF-8 text")),
        ValueRef::Integer(n) => Ok(n.to_string()),
        ValueRef::Real(x) => Ok(x.to_string()),
        ValueRef::Null => Err(format!("audit_log.{name} is NULL")),
    }
}

/// The SQLite reader: one read-only connection, one statement (one snapshot of the chain).
fn read_sqlite(
    path: &std::path::Path,
    tx: &mpsc::Sender<Batch>,
    members: Arc<Members>,
) -> Result<(), String> {
    use rusqlite::OpenFlags;
    let conn = rusqlite::Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| format!("cannot open for reading: {e}"))?;
    conn.busy_timeout(std::time::Duration::from_secs(120))
        .map_err(|e| e.to_string())?;
    let mut stmt = conn.prepare(SELECT).map_err(|e| e.to_string())?;
    let mut rows = stmt.query([]).map_err(|e| e.to_string())?;
    let mut batch = Filling::new(members);
    while let Some(row) = rows.next().map_err(|e| e.to_string())? {
        let seq: i64 = match row.get_ref(0).map_err(|e| e.to_string())? {
            rusqlite::types::ValueRef::Integer(n) => n,
            _ => return Err("audit_log.seq is not an integer".into()),
        };
        batch.push(Entry {
            seq: seq as u64,
            at: text(row, 1, "at")?,
            kind: text(row, 2, "kind")?,
            body: text(row, 3, "body")?,
            body_digest: text(row, 4, "body_digest")?,
            prev_hash: text(row, 5, "prev_hash")?,
            hash: text(row, 6, "hash")?,
        });
        if batch.full() && tx.blocking_send(Ok(batch.take())).is_err() {
            return Ok(());
        }
    }
    if !batch.is_empty() {
        let _ = tx.blocking_send(Ok(batch.take()));
    }
    Ok(())
}

/// The PostgreSQL reader: the chain as one binary COPY, on a connection of its own. A COPY
/// left unread (the checker stopped at a tampered entry, an error) leaves the connection in the
/// middle of the protocol: it is closed rather than handed back to the pool.
async fn read_postgres(
    pool: &sqlx::PgPool,
    tx: &mpsc::Sender<Batch>,
    members: Arc<Members>,
) -> Result<(), String> {
    let mut conn = pool.acquire().await.map_err(|e| e.to_string())?;
    let read = copy_chain(&mut conn, tx, members).await;
    if !matches!(read, Ok(true)) {
        conn.close_on_drop();
    }
    read.map(|_| ())
}

/// Stream the COPY into batches: Ok(true) once read to its end, Ok(false) when the checker
/// stopped listening first.
async fn copy_chain(
    conn: &mut sqlx::PgConnection,
    tx: &mpsc::Sender<Batch>,
    members: Arc<Members>,
) -> Result<bool, String> {
    let sql = format!("COPY ({SELECT}) TO STDOUT (FORMAT binary)");
    let mut stream = conn.copy_out_raw(&sql).await.map_err(|e| e.to_string())?;
    let mut parser = CopyParser::new("audit_log", 7);
    let mut batch = Filling::new(members);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| e.to_string())?;
        parser.feed(&chunk, &mut |f| {
            batch.push(entry_of(f)?);
            Ok(())
        })?;
        if batch.full() && tx.send(Ok(batch.take())).await.is_err() {
            return Ok(false);
        }
    }
    if !parser.ended() {
        return Err("the COPY of audit_log ended before its trailer".into());
    }
    if !batch.is_empty() {
        let _ = tx.send(Ok(batch.take())).await;
    }
    Ok(true)
}

/// An entry from the fields of a COPY row (`seq` a bigint, the others text, none NULL).
fn entry_of(f: &[Option<&[u8]>]) -> Result<Entry, String> {
    let col = |i: usize, name: &str| -> Result<&[u8], String> {
        f.get(i)
            .copied()
            .flatten()
            .ok_or_else(|| format!("audit_log.{name} is NULL"))
    };
    let s = |i: usize, name: &str| {
        std::str::from_utf8(col(i, name)?)
            .map(str::to_string)
            .map_err(|_| format!("audit_log.{name} is not UTF-8 text"))
    };
    let seq: [u8; 8] = col(0, "seq")?
        .try_into()
        .map_err(|_| "audit_log.seq is not a bigint".to_string())?;
    Ok(Entry {
        seq: i64::from_be_bytes(seq) as u64,
        at: s(1, "at")?,
        kind: s(2, "kind")?,
        body: s(3, "body")?,
        body_digest: s(4, "body_digest")?,
        prev_hash: s(5, "prev_hash")?,
        hash: s(6, "hash")?,
    })
}

/// The signature that starts PostgreSQL's binary COPY format.
const SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";

/// PostgreSQL's binary COPY format, parsed as it arrives: a header (signature, flags, an
/// extension area), then per row a 16-bit field count and per field a 32-bit length (-1:
/// NULL) and the bytes, then a field count of -1.
struct CopyParser {
    /// What is copied, for messages.
    what: &'static str,
    /// Fields per row.
    cols: usize,
    /// Bytes of an unfinished header or row, carried to the next chunk.
    carry: Vec<u8>,
    header_read: bool,
    ended: bool,
}

/// The fields of one row (None: NULL), handed to a callback.
type OnRow<'f> = dyn FnMut(&[Option<&[u8]>]) -> Result<(), String> + 'f;

impl CopyParser {
    fn new(what: &'static str, cols: usize) -> Self {
        Self {
            what,
            cols,
            carry: Vec::new(),
            header_read: false,
            ended: false,
        }
    }

    fn ended(&self) -> bool {
        self.ended
    }

    /// Parse every complete row of `carry` + `chunk`, each handed to `row`.
    fn feed(&mut self, chunk: &[u8], row: &mut OnRow<'_>) -> Result<(), String> {
        if self.carry.is_empty() {
            let used = self.parse(chunk, row)?;
            self.carry
                .extend_from_slice(chunk.get(used..).unwrap_or_default());
        } else {
            self.carry.extend_from_slice(chunk);
            let carry = std::mem::take(&mut self.carry);
            let used = self.parse(&carry, row)?;
            self.carry = carry.get(used..).unwrap_or_default().to_vec();
        }
        Ok(())
    }

    /// Parse what is complete in `buf`; returns the bytes used.
    fn parse(&mut self, buf: &[u8], row: &mut OnRow<'_>) -> Result<usize, String> {
        let mut at = 0;
        let mut fields: Vec<Option<&[u8]>> = Vec::with_capacity(self.cols);
        loop {
            let rest = buf.get(at..).unwrap_or_default();
            match self.step(rest, &mut fields)? {
                Some(n) => {
                    if !fields.is_empty() {
                        row(&fields)?;
                    }
                    at += n;
                }
                None => return Ok(at),
            }
        }
    }

    /// One header, row or trailer at the start of `b`: the bytes it takes (None: more are
    /// needed); a row's fields are left in `fields` (empty for a header or trailer).
    fn step<'b>(
        &mut self,
        b: &'b [u8],
        fields: &mut Vec<Option<&'b [u8]>>,
    ) -> Result<Option<usize>, String> {
        fields.clear();
        let what = self.what;
        if self.ended {
            return if b.is_empty() {
                Ok(None)
            } else {
                Err(format!("the COPY of {what} has bytes after its trailer"))
            };
        }
        if !self.header_read {
            let Some(sig) = b.get(..SIGNATURE.len()) else {
                return Ok(None);
            };
            if sig != SIGNATURE {
                return Err(format!(
                    "the COPY of {what} is not in PostgreSQL's binary format"
                ));
            }
            let Some(ext) = int32(b, SIGNATURE.len() + 4) else {
                return Ok(None);
            };
            let ext =
                usize::try_from(ext).map_err(|_| format!("the COPY of {what} has a bad header"))?;
            let n = SIGNATURE.len() + 8 + ext;
            if b.len() < n {
                return Ok(None);
            }
            self.header_read = true;
            return Ok(Some(n));
        }
        let Some(count) = b.get(..2).and_then(|f| <[u8; 2]>::try_from(f).ok()) else {
            return Ok(None);
        };
        let count = i16::from_be_bytes(count);
        if count == -1 {
            self.ended = true;
            return Ok(Some(2));
        }
        if usize::try_from(count).ok() != Some(self.cols) {
            return Err(format!(
                "the COPY of {what} has a row of {count} columns, not {}",
                self.cols
            ));
        }
        let mut at = 2;
        for _ in 0..self.cols {
            let Some(len) = int32(b, at) else {
                fields.clear();
                return Ok(None);
            };
            at += 4;
            if len < 0 {
                fields.push(None);
                continue;
            }
            let len = usize::try_from(len).unwrap_or(usize::MAX);
            let Some(v) = b.get(at..at.saturating_add(len)) else {
                fields.clear();
                return Ok(None);
            };
            fields.push(Some(v));
            at += len;
        }
        Ok(Some(at))
    }
}

/// The big-endian 32-bit integer at `at` of `b`, if there.
fn int32(b: &[u8], at: usize) -> Option<i32> {
    let v = b.get(at..at + 4)?;
    Some(i32::from_be_bytes([
        *v.first()?,
        *v.get(1)?,
        *v.get(2)?,
        *v.get(3)?,
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(out: &mut Vec<u8>, v: &[u8]) {
        out.extend_from_slice(&(v.len() as i32).to_be_bytes());
        out.extend_from_slice(v);
    }

    fn copy_of(rows: &[(i64, &str)]) -> Vec<u8> {
        let mut out = SIGNATURE.to_vec();
        out.extend_from_slice(&0i32.to_be_bytes());
        out.extend_from_slice(&3i32.to_be_bytes());
        out.extend_from_slice(b"ext");
        for (seq, body) in rows {
            out.extend_from_slice(&7i16.to_be_bytes());
            field(&mut out, &seq.to_be_bytes());
            for v in ["2026-12-04T00:00:00.000Z", "decision", body, "d", "p", "h"] {
                field(&mut out, v.as_bytes());
            }
        }
        out.extend_from_slice(&(-1i16).to_be_bytes());
        out
    }

    fn entries(p: &mut CopyParser, bytes: &[u8], out: &mut Vec<Entry>) -> Result<(), String> {
        p.feed(bytes, &mut |f| {
            out.push(entry_of(f)?);
            Ok(())
        })
    }

    #[test]
    fn copy_rows_are_parsed_across_any_split_of_the_stream() {
        let bytes = copy_of(&[(1, "{\"a\":1}"), (2, "{}"), (-3, "[\"é\"]")]);
        for split in 0..bytes.len() {
            let mut p = CopyParser::new("audit_log", 7);
            let mut out = Vec::new();
            entries(&mut p, &bytes[..split], &mut out).unwrap();
            entries(&mut p, &bytes[split..], &mut out).unwrap();
            assert!(p.ended(), "split at {split}");
            let seqs: Vec<u64> = out.iter().map(|e| e.seq).collect();
            assert_eq!(seqs, vec![1, 2, (-3i64) as u64], "split at {split}");
            assert_eq!(out[2].body, "[\"é\"]");
            assert_eq!(out[0].kind, "decision");
            assert_eq!(out[1].hash, "h");
        }
    }

    #[test]
    fn nulls_are_read_as_none_for_tables() {
        let mut bytes = copy_of(&[]);
        bytes.truncate(bytes.len() - 2);
        bytes.extend_from_slice(&2i16.to_be_bytes());
        field(&mut bytes, b"x");
        bytes.extend_from_slice(&(-1i32).to_be_bytes());
        bytes.extend_from_slice(&(-1i16).to_be_bytes());
        let mut rows = Vec::new();
        let mut p = CopyParser::new("t", 2);
        p.feed(&bytes, &mut |f| {
            rows.push(f.iter().map(|v| v.map(<[u8]>::to_vec)).collect::<Vec<_>>());
            Ok(())
        })
        .unwrap();
        assert!(p.ended());
        assert_eq!(rows, vec![vec![Some(b"x".to_vec()), None]]);
    }

    #[test]
    fn a_bad_copy_stream_is_an_error_not_a_panic() {
        let mut out = Vec::new();
        let mut p = CopyParser::new("audit_log", 7);
        assert!(entries(&mut p, b"NOTCOPY\n\xff\r\n\0xxxxxxxx", &mut out).is_err());
        // A NULL column, a row of 2 columns, a short seq.
        let mut bytes = copy_of(&[]);
        bytes.truncate(bytes.len() - 2);
        let mut null = bytes.clone();
        null.extend_from_slice(&7i16.to_be_bytes());
        for _ in 0..7 {
            null.extend_from_slice(&(-1i32).to_be_bytes());
        }
        let mut two = bytes.clone();
        two.extend_from_slice(&2i16.to_be_bytes());
        let mut short = bytes.clone();
        short.extend_from_slice(&7i16.to_be_bytes());
        field(&mut short, b"1234");
        for v in ["2026", "decision", "{}", "d", "p", "h"] {
            field(&mut short, v.as_bytes());
        }
        for bad in [null, two, short] {
            let mut p = CopyParser::new("audit_log", 7);
            assert!(entries(&mut p, &bad, &mut out).is_err());
        }
        // Bytes after the trailer.
        let mut after = copy_of(&[(1, "{}")]);
        after.push(0);
        let mut p = CopyParser::new("audit_log", 7);
        assert!(entries(&mut p, &after, &mut out).is_err());
    }
}
