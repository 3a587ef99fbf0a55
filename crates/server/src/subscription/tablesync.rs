//! The initial copy of a subscribed table (PostgreSQL's
//! `replication/logical/tablesync.c`), run by the apply worker before it
//! starts streaming, for every table in state `i` (init) or `d` (data copy).
//!
//! For one table, on its own `replication=database` connection named like
//! its slot:
//! 1. state `d` is committed locally;
//! 2. the publisher's column list is read from `pg_attribute`;
//! 3. `BEGIN READ ONLY ISOLATION LEVEL REPEATABLE READ`, then
//!    `CREATE_REPLICATION_SLOT "pg_<subid>_sync_<relid>_<sysid>" TEMPORARY
//!    LOGICAL pgoutput (SNAPSHOT 'use')`: the transaction now sees exactly the
//!    data committed before the slot's consistent point C;
//! 4. `COPY schema.table (columns) TO STDOUT` streams the rows, which one local
//!    transaction inserts together with state `s` (synced) at LSN C;
//! 5. COMMIT on the publisher; closing the connection drops the slot.
//!
//! Why this is enough (PostgreSQL needs a catch-up phase on the sync slot):
//! the copy is taken after the apply worker's streaming position P (C is a
//! current position of the publisher, P one it already sent), so the table
//! misses nothing, and the apply worker skips the table's changes from
//! transactions that committed before C (they are in the copy) and applies
//! the rest (`worker.rs`, `applies_to`). The slot is temporary because nothing
//! streams from it: a subscriber that dies mid-copy leaves no slot behind.
//! A failure leaves the table in `d` and the next run copies it again
//! (the local copy transaction committed nothing).

use std::sync::Arc;

use tandem_client::{quote_literal, quote_repl_ident, ReplClient};
use tandem_protocol::BackendMessage;
use tandem_storage::{
    Catalog, Database, IsolationLevel, SubscriptionDef, SubscriptionRelState, TableDef,
};
use tandem_types::elog::log;
use tandem_types::{Lsn, Oid, PgError, PgResult, SqlState, Value};

use super::changes::RowEval;
use super::defaults::LazyEval;
use super::worker_internal::{conninfo_for, RunEnd, WorkerCtx};
use tandem_query::checks::RowChecks;
use tandem_types::ident::quote_identifier;

/// PostgreSQL's tablesync slot name (`ReplicationSlotNameForTablesync`): the
/// subscription oid, the table oid and this node's system identifier.
pub(crate) fn sync_slot_name(subid: Oid, relid: Oid, sysid: u64) -> String {
    format!("pg_{}_sync_{}_{}", subid.0, relid.0, sysid)
}

/// Tables of `sub` that wait for their initial copy and still exist locally.
fn pending(sub: &SubscriptionDef, cat: &Catalog) -> Vec<Oid> {
    sub.relations
        .values()
        .filter(|r| (r.state == b'i' || r.state == b'd') && cat.tables.contains_key(&r.relid))
        .map(|r| r.relid)
        .collect()
}

/// Whether some table of `sub` waits for its initial copy.
pub(crate) fn needs_sync(sub: &SubscriptionDef, cat: &Catalog) -> bool {
    !pending(sub, cat).is_empty()
}

/// Copies every table of `sub` still waiting for its initial data.
pub(crate) fn sync_pending(ctx: &WorkerCtx, sub: &SubscriptionDef) -> PgResult<RunEnd> {
    let pending = pending(sub, &ctx.db.catalog());
    for relid in pending {
        if ctx.should_stop() {
            return Ok(RunEnd::Stopped);
        }
        let cat = ctx.db.catalog();
        let Some(table) = cat.tables.get(&relid).cloned() else {
            continue;
        };
        log(&format!(
            "logical replication table synchronization worker for subscription \"{}\", table \"{}\" has started",
            sub.name, table.name
        ));
        {
            let mut st = ctx.stat.lock();
            st.syncing = Some(relid);
        }
        let mut eval = LazyEval::new(None, &ctx.db, &ctx.config);
        let result = copy_table(&ctx.db, sub, &table, &ctx.data_error, &mut eval);
        ctx.stat.lock().syncing = None;
        result?;
        log(&format!(
            "logical replication table synchronization worker for subscription \"{}\", table \"{}\" has finished",
            sub.name, table.name
        ));
    }
    Ok(RunEnd::Restart)
}

fn set_state(db: &Arc<Database>, subid: Oid, rel: SubscriptionRelState) -> PgResult<()> {
    let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
    txn.set_subscription_rel_state(subid, rel)?;
    if let Some(end) = txn.commit()? {
        db.wal().flush(end)?;
    }
    Ok(())
}

fn copy_table(
    db: &Arc<Database>,
    sub: &SubscriptionDef,
    table: &Arc<TableDef>,
    data_error: &std::sync::atomic::AtomicBool,
    eval: &mut LazyEval,
) -> PgResult<()> {
    // The copy writes as the apply would: refused without INSERT.
    let cat = db.catalog();
    let current = cat.subscriptions.get(&sub.oid).unwrap_or(sub);
    super::changes::check_privileges(&cat, current, table, tandem_storage::acl::INSERT)?;
    set_state(
        db,
        sub.oid,
        SubscriptionRelState {
            relid: table.oid,
            state: b'd',
            lsn: None,
        },
    )?;
    let sysid = db.control().system_identifier;
    let slot = sync_slot_name(sub.oid, table.oid, sysid);
    let mut client =
        ReplClient::connect_mode(&conninfo_for(sub, &slot), "database").map_err(|e| {
            PgError::new(
                SqlState::CONNECTION_FAILURE,
                format!("could not connect to the publisher: {}", e.message),
            )
        })?;
    super::worker_internal::check_password_used(
        super::worker_internal::must_use_password(db, sub),
        client.used_password,
    )?;
    let qualified = format!(
        "{}.{}",
        quote_identifier(&table.schema),
        quote_identifier(&table.name)
    );
    // the publisher's columns, in attnum order
    let cols = client.query(&format!(
        "SELECT a.attname FROM pg_catalog.pg_attribute a \
         JOIN pg_catalog.pg_class c ON a.attrelid = c.oid \
         JOIN pg_catalog.pg_namespace n ON c.relnamespace = n.oid \
         WHERE n.nspname = {} AND c.relname = {} AND a.attnum > 0 AND NOT a.attisdropped \
         ORDER BY a.attnum",
        quote_literal(&table.schema),
        quote_literal(&table.name)
    ))?;
    let remote_cols: Vec<String> = cols
        .into_iter()
        .filter_map(|r| r.into_iter().next().flatten())
        .collect();
    if remote_cols.is_empty() {
        return Err(PgError::new(
            SqlState::UNDEFINED_OBJECT,
            format!(
                "table \"{}.{}\" not found on publisher",
                table.schema, table.name
            ),
        ));
    }
    let mut targets = Vec::with_capacity(remote_cols.len());
    let mut missing = Vec::new();
    for c in &remote_cols {
        match table
            .columns
            .iter()
            .position(|l| !l.dropped && &l.name == c)
        {
            Some(i) => targets.push(i),
            None => missing.push(format!("\"{c}\"")),
        }
    }
    if !missing.is_empty() {
        let noun = if missing.len() == 1 {
            "column"
        } else {
            "columns"
        };
        return Err(PgError::new(
            SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE,
            format!(
                "logical replication target relation \"{}.{}\" is missing replicated {noun}: {}",
                table.schema,
                table.name,
                missing.join(", ")
            ),
        ));
    }
    client.query("BEGIN READ ONLY ISOLATION LEVEL REPEATABLE READ")?;
    let created = client.query(&format!(
        "CREATE_REPLICATION_SLOT {} TEMPORARY LOGICAL pgoutput (SNAPSHOT 'use')",
        quote_repl_ident(&slot)
    ))?;
    let consistent: Lsn = created
        .first()
        .and_then(|r| r.get(1).cloned().flatten())
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| {
            PgError::new(
                SqlState::PROTOCOL_VIOLATION,
                format!("could not create replication slot \"{slot}\": no consistent point"),
            )
        })?;
    let column_list = remote_cols
        .iter()
        .map(|c| quote_identifier(c))
        .collect::<Vec<_>>()
        .join(", ");
    client.send_query(&format!("COPY {qualified} ({column_list}) TO STDOUT"))?;
    // what a copied row gets besides its fields: the DEFAULTs of the columns
    // not copied, then a check of the CHECK constraints (as COPY FROM)
    let copied_row = CopiedRow {
        table,
        targets: &targets,
        defaults: table
            .columns
            .iter()
            .enumerate()
            .filter(|(i, c)| !c.dropped && !targets.contains(i))
            .filter_map(|(i, c)| Some((i, c.default.clone()?)))
            .collect(),
        checks: RowChecks::for_table(cat.clone(), table)?,
    };
    let mut txn = super::changes::begin_apply(db);
    let mut copied = 0u64;
    let mut err: Option<PgError> = None;
    let mut partial = String::new();
    loop {
        match client.read_message()? {
            BackendMessage::CopyData(bytes) => {
                if err.is_some() {
                    continue;
                }
                partial.push_str(tandem_expr::io_text::validate_utf8(&bytes)?);
                while let Some(nl) = partial.find('\n') {
                    let line: String = partial.drain(..=nl).collect();
                    let line = &line[..line.len() - 1];
                    if let Err(e) = copied_row.insert(&mut txn, line, eval) {
                        err = Some(e);
                        break;
                    }
                    copied += 1;
                }
            }
            BackendMessage::ErrorResponse(e) => {
                err.get_or_insert(e.to_pg_error());
            }
            BackendMessage::ReadyForQuery(_) => break,
            _ => {}
        }
    }
    if let Some(e) = err {
        txn.rollback();
        data_error.store(true, std::sync::atomic::Ordering::Release);
        return Err(e.with_context(format!("COPY {}, line {}", table.name, copied + 1)));
    }
    txn.set_subscription_rel_state(
        sub.oid,
        SubscriptionRelState {
            relid: table.oid,
            state: b's',
            lsn: Some(consistent),
        },
    )?;
    if let Some(end) = txn.commit()? {
        db.wal().flush(end)?;
    }
    // ends the publisher's transaction; the temporary slot goes with the
    // connection
    let _ = client.query("COMMIT");
    client.close();
    Ok(())
}

/// How one line of the initial copy becomes a local row.
struct CopiedRow<'t> {
    table: &'t TableDef,
    /// The local column of each copied field.
    targets: &'t [usize],
    /// Local columns not copied that have a DEFAULT.
    defaults: Vec<(usize, String)>,
    checks: RowChecks,
}

impl CopiedRow<'_> {
    fn insert(
        &self,
        txn: &mut tandem_storage::Transaction,
        line: &str,
        eval: &mut LazyEval,
    ) -> PgResult<()> {
        let table = self.table;
        let fields = tandem_sql::split_copy_text_line(line)?;
        if fields.len() != self.targets.len() {
            return Err(PgError::new(
                SqlState::BAD_COPY_FILE_FORMAT,
                "extra data after last expected column",
            ));
        }
        let mut row = vec![Value::Null; table.columns.len()];
        for (f, &col) in fields.into_iter().zip(self.targets) {
            if let Some(text) = f {
                row[col] = tandem_expr::text_in(&text, &table.columns[col].data_type)?;
            }
        }
        for (pos, expr) in &self.defaults {
            row[*pos] = eval.default_value(txn, expr, &table.columns[*pos].data_type)?;
        }
        if !self.checks.is_empty() {
            eval.check(txn, &self.checks, table, &row)?;
        }
        txn.insert(table.oid, row)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_names() {
        assert_eq!(
            sync_slot_name(Oid(16394), Oid(16384), 7441234567890123456),
            "pg_16394_sync_16384_7441234567890123456"
        );
    }
}
