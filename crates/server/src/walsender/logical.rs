//! The logical side of the walsender: `CREATE_REPLICATION_SLOT ... LOGICAL`,
//! `ALTER_REPLICATION_SLOT`, and `START_REPLICATION SLOT s LOGICAL X/X
//! (options)` streaming decoded changes (PostgreSQL's `XLogSendLogical`).
//!
//! Each output row of the plugin goes out as one XLogData message whose
//! dataStart and walEnd are the row's LSN. The client's standby status
//! updates confirm positions: `confirmed_flush_lsn` follows the client's flush
//! position, `restart_lsn` the last transaction boundary at or before it
//! (`crate::logical` explains why boundaries suffice). Keepalives carry the
//! end of what was decoded, so a client that saw no output can still confirm
//! past skipped WAL.
//!
//! Corresponds to PostgreSQL's `walsender.c` (`CreateReplicationSlot`,
//! `AlterReplicationSlot`, `StartLogicalReplication`, `XLogSendLogical`,
//! `ProcessStandbyReplyMessage`).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tandem_protocol::replication::{self as wire, StandbyMessage};
use tandem_protocol::BackendMessage;
use tandem_replication::command::{OptionValue, Options};
use tandem_replication::physical::{Timers, WalSndState};
use tandem_sql::{QuerySink, SnapshotRefusal};
use tandem_types::elog::{self, Level};
use tandem_types::{DataType, Lsn, Oid, PgError, PgResult, SqlState, Value, Xid};

use super::{
    drain_client, read_standby, replication_timeout, text_field, SlotUse, StreamEnd, WalSender,
};
use crate::backend::pqcomm::Conn;
use crate::backend::printtup::SocketSink;
use crate::backend::startup::{admin_shutdown_error, Replication};
use crate::procarray::now_pg_micros;
use crate::slot::logical::{self, NewLogicalSlot};

fn conflicting() -> PgError {
    PgError::new(SqlState::SYNTAX_ERROR, "conflicting or redundant options")
}

/// Plugin options of START_REPLICATION as `(name, value)` text pairs.
fn plugin_options(options: &Options) -> Vec<(String, Option<String>)> {
    options
        .iter()
        .map(|(k, v)| {
            let value = match v {
                OptionValue::None => None,
                OptionValue::Str(s) | OptionValue::Number(s) | OptionValue::Word(s) => {
                    Some(s.clone())
                }
            };
            (k.clone(), value)
        })
        .collect()
}

/// `output_plugin_libraries` (a walsender has no SET of its own for it).
fn allowed_plugins(config: &tandem_config::Config) -> String {
    config.get_str("output_plugin_libraries")
}

impl WalSender<'_> {
    /// The database a `replication=database` connection is attached to;
    /// logical commands need one.
    fn logical_database(&self) -> PgResult<Oid> {
        if self.startup.replication != Replication::Logical {
            return Err(PgError::new(
                SqlState::FEATURE_NOT_SUPPORTED,
                "logical decoding requires a database connection",
            ));
        }
        Ok(self
            .shared
            .db
            .catalog()
            .database_by_name(&self.startup.database)
            .map(|d| d.oid)
            .unwrap_or(Oid(5)))
    }

    /// `CREATE_REPLICATION_SLOT s [TEMPORARY] LOGICAL plugin [(FAILOVER,
    /// TWO_PHASE, SNAPSHOT 'export'|'use'|'nothing')]`.
    pub(super) fn create_logical_slot(
        &mut self,
        sink: &mut SocketSink<'_>,
        name: String,
        temporary: bool,
        plugin: Option<String>,
        options: &Options,
    ) -> PgResult<()> {
        let database = self.logical_database()?;
        let (mut two_phase, mut failover, mut snapshot) = (None, None, None);
        for (opt, value) in options {
            match opt.as_str() {
                "two_phase" => {
                    if two_phase.replace(value.as_bool(opt)?).is_some() {
                        return Err(conflicting());
                    }
                }
                "failover" => {
                    if failover.replace(value.as_bool(opt)?).is_some() {
                        return Err(conflicting());
                    }
                }
                "snapshot" => {
                    let v = value.as_text().unwrap_or_default().to_string();
                    if !matches!(v.as_str(), "export" | "use" | "nothing") {
                        return Err(PgError::new(
                            SqlState::SYNTAX_ERROR,
                            format!("unrecognized value for CREATE_REPLICATION_SLOT option \"snapshot\": \"{v}\""),
                        ));
                    }
                    if snapshot.replace(v).is_some() {
                        return Err(conflicting());
                    }
                }
                "reserve_wal" => return Err(conflicting()),
                other => {
                    return Err(PgError::internal(format!("unrecognized option: {other}")));
                }
            }
        }
        let snapshot = snapshot.unwrap_or_else(|| "export".into());
        let in_txn = self
            .session
            .as_ref()
            .is_some_and(|s| s.transaction_status() != b'I');
        if snapshot == "use" {
            // PostgreSQL's checks (errmsg only: XX000), in its order. The
            // storage transaction opens now, before the consistent point is
            // chosen, so pruning cannot pass it.
            const USE: &str = "CREATE_REPLICATION_SLOT ... (SNAPSHOT 'use')";
            let refusal = match self.session.as_mut() {
                Some(s) => s.prepare_snapshot_import().err(),
                None => Some(SnapshotRefusal::NotInBlock),
            };
            if let Some(r) = refusal {
                let what = match r {
                    SnapshotRefusal::NotInBlock => "must be called inside a transaction",
                    SnapshotRefusal::NotRepeatableRead => {
                        "must be called in REPEATABLE READ isolation mode transaction"
                    }
                    SnapshotRefusal::NotReadOnly => "must be called in a read-only transaction",
                    SnapshotRefusal::SnapshotTaken => "must be called before any query",
                };
                return Err(PgError::internal(format!("{USE} {what}")));
            }
        }
        if snapshot == "export" && in_txn {
            return Err(PgError::new(
                SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE,
                "CREATE_REPLICATION_SLOT ... (SNAPSHOT 'export') must not be called inside a transaction",
            ));
        }
        let plugin = plugin.unwrap_or_default();
        let pid = self.entry.pid;
        let shared = self.shared;
        let lsn = logical::create(
            &shared.slots,
            &shared.db,
            &shared.config,
            pid,
            &NewLogicalSlot {
                name: &name,
                plugin: &plugin,
                temporary,
                two_phase: two_phase.unwrap_or(false),
                failover: failover.unwrap_or(false),
                database,
                allowed_plugins: &allowed_plugins(&shared.config),
            },
        )?;
        shared.slots.release(&name, pid, now_pg_micros());
        if snapshot == "use" {
            // The transaction reads exactly what committed up to the slot's
            // consistent point; decoding sends what commits after it.
            if let Some(s) = self.session.as_mut() {
                s.set_snapshot_lsn(lsn)?;
            }
        }
        // tandem cannot import snapshots yet: an exported snapshot is named
        // (clients print it) but SET TRANSACTION SNAPSHOT does not accept it.
        let snapshot_name = (snapshot == "export").then(|| {
            Value::Text(format!(
                "{:08X}-{:08X}-1",
                pid as u32,
                shared.db.next_xid().0
            ))
        });
        sink.row_description(&[
            text_field("slot_name"),
            text_field("consistent_point"),
            text_field("snapshot_name"),
            text_field("output_plugin"),
        ])?;
        sink.data_row(
            &[
                Value::Text(name),
                Value::Text(lsn.to_string()),
                snapshot_name.unwrap_or(Value::Null),
                Value::Text(plugin),
            ],
            &[const { DataType::Text }; 4],
            &[],
        )?;
        sink.command_complete("CREATE_REPLICATION_SLOT")
    }

    /// `ALTER_REPLICATION_SLOT s (FAILOVER [bool], TWO_PHASE [bool])`.
    pub(super) fn alter_slot(
        &mut self,
        sink: &mut SocketSink<'_>,
        name: String,
        options: &Options,
    ) -> PgResult<()> {
        let (mut failover, mut two_phase) = (None, None);
        for (opt, value) in options {
            match opt.as_str() {
                "failover" => {
                    if failover.replace(value.as_bool(opt)?).is_some() {
                        return Err(conflicting());
                    }
                }
                "two_phase" => {
                    if two_phase.replace(value.as_bool(opt)?).is_some() {
                        return Err(conflicting());
                    }
                }
                other => {
                    return Err(PgError::internal(format!("unrecognized option: {other}")));
                }
            }
        }
        let shared = self.shared;
        let pid = self.entry.pid;
        let data = shared.slots.acquire(&name, pid, false)?;
        let _use = SlotUse {
            slots: &shared.slots,
            name: name.clone(),
            pid,
        };
        if !data.is_logical() {
            return Err(PgError::new(
                SqlState::FEATURE_NOT_SUPPORTED,
                "cannot use ALTER_REPLICATION_SLOT with a physical replication slot",
            ));
        }
        if shared.db.in_recovery() {
            return Err(PgError::new(
                SqlState::FEATURE_NOT_SUPPORTED,
                "cannot alter replication slot \"".to_string() + &name + "\"",
            )
            .with_detail("This replication slot is being synchronized from the primary server."));
        }
        if failover == Some(true)
            && data.persistency == tandem_replication::slot::Persistency::Temporary
        {
            return Err(PgError::new(
                SqlState::INVALID_PARAMETER_VALUE,
                "cannot enable failover for a temporary replication slot",
            ));
        }
        shared.slots.update(&name, |d| {
            if let Some(f) = failover {
                d.failover = f;
            }
            if let Some(t) = two_phase {
                d.two_phase = t;
            }
        })?;
        sink.command_complete("ALTER_REPLICATION_SLOT")
    }

    /// `START_REPLICATION SLOT s LOGICAL X/X [(options)]`.
    pub(super) fn start_logical(
        &mut self,
        conn: &mut Conn,
        slot: Option<String>,
        start: Lsn,
        options: &Options,
    ) -> PgResult<()> {
        let database = self.logical_database()?;
        let Some(name) = slot else {
            return Err(PgError::new(
                SqlState::SYNTAX_ERROR,
                "syntax error: START_REPLICATION ... LOGICAL requires a slot",
            ));
        };
        let shared = self.shared;
        let pid = self.entry.pid;
        logical::check_requirements(&shared.config)?;
        let data = shared.slots.acquire(&name, pid, false)?;
        let _use = SlotUse {
            slots: &shared.slots,
            name: name.clone(),
            pid,
        };
        logical::check_usable(&data, Some(database))?;
        let mut session = logical::Session::start(
            &shared.db,
            &data,
            &plugin_options(options),
            start,
            &allowed_plugins(&shared.config),
        )?;
        let Some(reader_handle) = conn.plain_read_clone() else {
            return Err(PgError::unsupported(
                "START_REPLICATION over an SSL connection",
            ));
        };
        let confirmed = data.confirmed_flush.unwrap_or(Lsn::INVALID);
        if start.is_valid() && start < confirmed {
            elog::emit(
                Level::Log,
                &format!("{start} has been already streamed, forwarding to {confirmed}"),
                None,
                None,
            );
        }
        elog::emit(
            Level::Log,
            &format!("starting logical decoding for slot \"{name}\""),
            Some(&format!(
                "Streaming transactions committing after {confirmed}, reading WAL from {}.",
                data.restart_lsn.unwrap_or(Lsn::INVALID)
            )),
            None,
        );
        self.walsnd.progress.lock().state = WalSndState::Catchup;
        conn.send(&BackendMessage::CopyBothResponse {
            format: 0,
            column_formats: Vec::new(),
        });
        if conn.flush().is_err() {
            self.exit = true;
            return Ok(());
        }
        {
            let mut p = self.walsnd.progress.lock();
            p.sent = confirmed.max(start);
        }
        self.walsnd.inbox.lock().events.clear();
        let pre = conn.take_buffered();
        let stop = AtomicBool::new(false);
        let walsnd = self.walsnd.clone();
        let outcome = std::thread::scope(|scope| {
            let reader = std::thread::Builder::new()
                .name("walsender-reader".into())
                .spawn_scoped(scope, || read_standby(reader_handle, pre, &walsnd, &stop));
            let r = match reader {
                Ok(_) => self.stream_logical(conn, &name, &mut session),
                Err(e) => Err(PgError::internal(format!("could not start reader: {e}"))),
            };
            stop.store(true, Ordering::SeqCst);
            r
        });
        match outcome {
            Ok(StreamEnd::Completed) => {
                // PostgreSQL ends the COPY (`COPY 0`), then the command:
                // libpqrcv_endstreaming reads both results.
                conn.send(&BackendMessage::CommandComplete("COPY 0".into()));
                conn.send(&BackendMessage::CommandComplete("START_REPLICATION".into()));
                Ok(())
            }
            Ok(StreamEnd::Exit) => {
                self.exit = true;
                Ok(())
            }
            Err(e) => {
                if conn.broken {
                    self.exit = true;
                }
                Err(e)
            }
        }
    }

    /// The logical streaming loop.
    fn stream_logical(
        &mut self,
        conn: &mut Conn,
        slot: &str,
        session: &mut logical::Session,
    ) -> PgResult<StreamEnd> {
        let shared = self.shared;
        let db = shared.db.clone();
        let timeout_ms = shared.config.get_ms("wal_sender_timeout").unwrap_or(60_000);
        let mut timers = Timers::new(timeout_ms, now_pg_micros());
        // Consistent points reached (item ends) not yet confirmed, with the
        // last xid before each: restart_lsn moves to the newest one at or
        // before the client's flush position.
        let mut boundaries: VecDeque<(Lsn, Option<Xid>)> = VecDeque::new();
        let mut sent = session.position();
        // Nothing announced yet: the first idle round tells the client where
        // WAL stands (pg_recvlogical --endpos may already be reached).
        let mut announced = Lsn::INVALID;
        let mut done_sending = false;
        let mut done_receiving = false;
        loop {
            let seen = self.walsnd.inbox.lock().generation;
            if self.entry.terminating() {
                return Err(admin_shutdown_error());
            }
            let walsnd = self.walsnd.clone();
            let mut on_msg = |conn: &mut Conn, msg: StandbyMessage, now: i64| {
                if let StandbyMessage::Status {
                    write,
                    flush,
                    apply,
                    send_time,
                    reply_requested,
                } = msg
                {
                    {
                        let mut p = walsnd.progress.lock();
                        p.write = write;
                        p.flush = flush;
                        p.apply = apply;
                        p.reply_time = Some(send_time);
                    }
                    self.confirm(slot, flush, &mut boundaries)?;
                    if reply_requested {
                        wire::put_keepalive(conn.out(), sent, now, false);
                    }
                }
                Ok(())
            };
            if let Some(end) = drain_client(
                &walsnd,
                conn,
                &mut timers,
                &mut done_sending,
                &mut done_receiving,
                &mut on_msg,
            )? {
                return Ok(end);
            }
            let now = now_pg_micros();
            if replication_timeout(&timers, now) {
                return Ok(StreamEnd::Exit);
            }
            // Decode a bounded number of items per round so replies are read.
            let mut more = false;
            if !done_sending {
                let limit = logical::end_of_wal(&db);
                for _ in 0..64 {
                    let out = conn.out();
                    let stepped = session.step(limit, &mut |row| {
                        wire::put_xlog_data(out, row.lsn, row.lsn, now_pg_micros(), &row.data);
                        Ok(())
                    })?;
                    let Some(end) = stepped else {
                        // Records without output (checkpoints, ...) still move
                        // the position: a consistent point like any item end.
                        let pos = session.position();
                        if pos > sent {
                            sent = pos;
                            boundaries.push_back((pos, None));
                        }
                        break;
                    };
                    sent = end.end;
                    boundaries.push_back((end.end, end.xid));
                    if conn.maybe_flush().is_err() {
                        return Ok(StreamEnd::Exit);
                    }
                    more = true;
                }
                let caught_up = {
                    let mut p = self.walsnd.progress.lock();
                    p.sent = sent;
                    let c = !more && p.state == WalSndState::Catchup;
                    if c {
                        p.state = WalSndState::Streaming;
                    }
                    c
                };
                if caught_up {
                    shared.walsenders.sync_recompute();
                }
                // Tell an idle client how far WAL was read, so it can confirm
                // past transactions that produced no output.
                if !more && sent > announced {
                    wire::put_keepalive(conn.out(), sent, now, false);
                    announced = sent;
                    timers.pinged();
                }
            }
            if !done_sending && timers.keepalive_due(now) {
                wire::put_keepalive(conn.out(), sent, now, true);
                announced = sent;
                timers.pinged();
            }
            if conn.flush().is_err() {
                return Ok(StreamEnd::Exit);
            }
            if more {
                continue;
            }
            // On a standby decoding follows replay, which does not signal the
            // walsender: wake up often then.
            let cap = if db.in_recovery() { 50_000 } else { 10_000_000 };
            let sleep_us = timers.sleep_time(now_pg_micros(), cap).max(1);
            let mut inbox = self.walsnd.inbox.lock();
            if inbox.generation == seen && inbox.events.is_empty() {
                self.walsnd
                    .wake
                    .wait_for(&mut inbox, Duration::from_micros(sleep_us as u64));
            }
        }
    }

    /// The client confirmed `flush`: move the slot's positions.
    fn confirm(
        &self,
        slot: &str,
        flush: Lsn,
        boundaries: &mut VecDeque<(Lsn, Option<Xid>)>,
    ) -> PgResult<()> {
        if !flush.is_valid() {
            return Ok(());
        }
        let mut restart = None;
        let mut last_xid = None;
        while let Some(&(b, xid)) = boundaries.front() {
            if b > flush {
                break;
            }
            restart = Some(b);
            last_xid = xid.or(last_xid);
            boundaries.pop_front();
        }
        let next_xid = last_xid.map(|x| Xid(x.0.wrapping_add(1)));
        let slots = &self.shared.slots;
        let Some(info) = slots.get(slot) else {
            return Ok(());
        };
        let d = &info.data;
        let moves_confirmed = d.confirmed_flush.is_none_or(|c| c < flush);
        let moves_restart = restart.is_some_and(|r| d.restart_lsn.is_none_or(|c| c < r));
        if !moves_confirmed && !moves_restart {
            return Ok(());
        }
        // written at most every LAZY_SAVE_INTERVAL: the subscriber's origin
        // (or the client's own position) covers what a crash would resend
        slots.update_lazily(slot, tandem_replication::slot::LAZY_SAVE_INTERVAL, |d| {
            if moves_confirmed {
                d.confirmed_flush = Some(flush);
            }
            if let (true, Some(r)) = (moves_restart, restart) {
                d.restart_lsn = Some(r);
                if let Some(x) = next_xid {
                    if d.catalog_xmin.is_none_or(|c| c.0 < x.0) {
                        d.catalog_xmin = Some(x);
                    }
                }
            }
        })
    }
}

/// A result set computed by the walsender itself: column names and text rows.
pub(super) struct CannedResult {
    pub columns: Vec<&'static str>,
    pub rows: Vec<Vec<Option<String>>>,
}

/// Collapses runs of whitespace into one space (PostgreSQL's subscriber
/// builds its queries with newlines and indentation).
fn squash_whitespace(sql: &str) -> String {
    sql.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Parses a list of `quote_literal` strings separated by commas (`'a', 'b'`,
/// `E'c\\d'`); `None` if anything else is there.
fn parse_literal_list(text: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut chars = text.trim().chars().peekable();
    loop {
        while chars.peek() == Some(&' ') {
            chars.next();
        }
        let escaped = matches!(chars.peek(), Some('E') | Some('e'));
        if escaped {
            chars.next();
        }
        if chars.next() != Some('\'') {
            return None;
        }
        let mut s = String::new();
        loop {
            match chars.next()? {
                '\'' if chars.peek() == Some(&'\'') => {
                    chars.next();
                    s.push('\'');
                }
                '\'' => break,
                '\\' if escaped => s.push(chars.next()?),
                c => s.push(c),
            }
        }
        out.push(s);
        while chars.peek() == Some(&' ') {
            chars.next();
        }
        match chars.next() {
            None => return Some(out),
            Some(',') => continue,
            Some(_) => return None,
        }
    }
}

/// `prefix <relid> suffix ( <publication list> )`: the relid and the list.
fn relid_and_publications(rest: &str, middle: &str) -> Option<(u32, Vec<String>)> {
    let (relid, after) = rest.split_once(middle)?;
    let relid = relid.trim().parse().ok()?;
    let list = after.strip_suffix(')')?;
    Some((relid, parse_literal_list(list)?))
}

/// The catalog queries of PostgreSQL 16 and 17 subscribers that call
/// `pg_get_publication_tables` (a set-returning function over composite
/// results that tandem's SQL does not run), answered from the catalog.
/// tandem has neither column lists nor row filters, so every published
/// table is published whole. Other queries (`None`) go to the SQL session.
///
/// - `fetch_table_list` (CREATE SUBSCRIPTION, ALTER SUBSCRIPTION ... REFRESH
///   PUBLICATION): `nspname, relname, attrs` of every table the named
///   publications publish, `attrs` its live columns' numbers;
/// - the tablesync worker's column-list query: one NULL (all columns) per
///   published table;
/// - its row-filter query: one NULL (no filter).
pub(super) fn subscriber_catalog_query(
    catalog: &tandem_storage::Catalog,
    sql: &str,
) -> Option<CannedResult> {
    const TABLE_LIST: &str = "SELECT DISTINCT n.nspname, c.relname, gpt.attrs FROM pg_class c \
        JOIN pg_namespace n ON n.oid = c.relnamespace JOIN ( SELECT \
        (pg_get_publication_tables(VARIADIC array_agg(pubname::text))).* FROM pg_publication \
        WHERE pubname IN (";
    const TABLE_LIST_END: &str = ")) AS gpt ON gpt.relid = c.oid";
    const COLUMN_LIST: &str = "SELECT DISTINCT (CASE WHEN (array_length(gpt.attrs, 1) = \
        c.relnatts) THEN NULL ELSE gpt.attrs END) FROM pg_publication p, LATERAL \
        pg_get_publication_tables(p.pubname) gpt, pg_class c WHERE gpt.relid =";
    const COLUMN_LIST_MIDDLE: &str = "AND c.oid = gpt.relid AND p.pubname IN (";
    const ROW_FILTER: &str = "SELECT DISTINCT pg_get_expr(gpt.qual, gpt.relid) FROM \
        pg_publication p, LATERAL pg_get_publication_tables(p.pubname) gpt WHERE gpt.relid =";
    const ROW_FILTER_MIDDLE: &str = "AND p.pubname IN (";

    let q = squash_whitespace(sql);
    let q = q.trim_end_matches(';').trim_end();
    let published = |pubs: &[String], table: &tandem_storage::TableDef| {
        catalog
            .publications
            .values()
            .any(|p| pubs.contains(&p.name) && p.includes(table.oid))
    };
    if let Some(rest) = q.strip_prefix(TABLE_LIST) {
        let pubs = parse_literal_list(rest.strip_suffix(TABLE_LIST_END)?)?;
        let mut rows: Vec<Vec<Option<String>>> = catalog
            .tables
            .values()
            .filter(|t| published(&pubs, t))
            .map(|t| {
                let attrs: Vec<String> = t
                    .columns
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| !c.dropped)
                    .map(|(i, _)| (i + 1).to_string())
                    .collect();
                vec![
                    Some(t.schema.clone()),
                    Some(t.name.clone()),
                    Some(attrs.join(" ")),
                ]
            })
            .collect();
        rows.sort();
        return Some(CannedResult {
            columns: vec!["nspname", "relname", "attrs"],
            rows,
        });
    }
    let (column, (relid, pubs)) = if let Some(rest) = q.strip_prefix(COLUMN_LIST) {
        ("attrs", relid_and_publications(rest, COLUMN_LIST_MIDDLE)?)
    } else if let Some(rest) = q.strip_prefix(ROW_FILTER) {
        (
            "pg_get_expr",
            relid_and_publications(rest, ROW_FILTER_MIDDLE)?,
        )
    } else {
        return None;
    };
    let published = catalog
        .tables
        .get(&Oid(relid))
        .is_some_and(|t| published(&pubs, t));
    Some(CannedResult {
        columns: vec![column],
        rows: if published { vec![vec![None]] } else { vec![] },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_lists() {
        assert_eq!(
            parse_literal_list(" 'p', 'it''s' ,E'a\\\\b'"),
            Some(vec!["p".into(), "it's".into(), "a\\b".into()])
        );
        assert_eq!(parse_literal_list("'p' 'q'"), None);
        assert_eq!(parse_literal_list("p"), None);
    }

    #[test]
    fn pg17_queries_are_recognized() {
        let cat = tandem_storage::Catalog::default();
        let list = "SELECT DISTINCT n.nspname, c.relname, gpt.attrs\n       FROM pg_class c\n         JOIN pg_namespace n ON n.oid = c.relnamespace\n         JOIN ( SELECT (pg_get_publication_tables(VARIADIC array_agg(pubname::text))).*\n                FROM pg_publication\n                WHERE pubname IN ( 'p' )) AS gpt\n             ON gpt.relid = c.oid\n";
        let r = subscriber_catalog_query(&cat, list).map(|r| r.columns);
        assert_eq!(r, Some(vec!["nspname", "relname", "attrs"]));
        let cols = "SELECT DISTINCT  (CASE WHEN (array_length(gpt.attrs, 1) = c.relnatts)   THEN NULL ELSE gpt.attrs END)  FROM pg_publication p,  LATERAL pg_get_publication_tables(p.pubname) gpt,  pg_class c WHERE gpt.relid = 16384 AND c.oid = gpt.relid   AND p.pubname IN ( 'p' )";
        let r = subscriber_catalog_query(&cat, cols).map(|r| r.columns);
        assert_eq!(r, Some(vec!["attrs"]));
        let filt = "SELECT DISTINCT pg_get_expr(gpt.qual, gpt.relid)  FROM pg_publication p,  LATERAL pg_get_publication_tables(p.pubname) gpt WHERE gpt.relid = 16384   AND p.pubname IN ( 'p', 'q' )";
        let r = subscriber_catalog_query(&cat, filt).map(|r| r.rows.len());
        assert_eq!(r, Some(0));
        assert!(subscriber_catalog_query(&cat, "SELECT 1").is_none());
    }
}
