//! Applying decoded remote changes to local tables: the relation map (remote
//! Relation messages matched to local tables by schema and name, columns by
//! name), tuple conversion (text with the local type's input function, binary
//! with its receive function), and INSERT / UPDATE / DELETE / TRUNCATE on a
//! storage [`Transaction`]. Which relations a transaction applies to is the
//! worker's decision (`worker.rs`); this module only does what it is told.
//!
//! Row lookup for UPDATE and DELETE (PostgreSQL's `FindReplTupleInLocalRel`):
//! by the local primary key when every key column arrives in the lookup tuple
//! (the old key `K`, the old row `O`, or the new row when the key did not
//! change), otherwise by a sequential scan comparing every column the lookup
//! tuple carries. A row that is not found is a conflict that is logged and
//! skipped (as PostgreSQL does); a duplicate key is an error.
//!
//! Privileges ([`check_privileges`]): each change is checked against the
//! subscription owner's or the table owner's privileges, as PostgreSQL 16+
//! does; a refusal is an apply error like any other.
//!
//! PostgreSQL counterparts: `replication/logical/relation.c` (the map) and the
//! `apply_handle_*` functions of `replication/logical/worker.c`.

use std::collections::HashMap;
use std::sync::Arc;

use tandem_decoding::pgoutput_read::{OldKind, RelationColumn, TupleColumn};
use tandem_query::checks::RowChecks;
use tandem_storage::{Catalog, LockResult, RowKey, TableDef, Transaction};
use tandem_types::elog::{self, Level};
use tandem_types::{DataType, Lsn, Oid, PgError, PgResult, SqlState, Value, Xid};

/// A transaction that applies replicated rows: foreign keys unchecked, as
/// PostgreSQL's apply and table sync workers run with
/// `session_replication_role = replica` (the publisher checked them).
pub(crate) fn begin_apply(db: &Arc<tandem_storage::Database>) -> Transaction {
    let mut txn = db.begin(tandem_storage::IsolationLevel::ReadCommitted, false);
    txn.set_foreign_key_checks(false);
    txn
}

/// Checks that a change needing `mask` on `table` may be applied for `sub`
/// (PostgreSQL 16+'s rule): with `run_as_owner` as the subscription owner;
/// otherwise as the table owner, which the subscription owner must be able
/// to SET ROLE to (`SwitchToUntrustedUser`; staying the subscription owner
/// when the table owner can SET ROLE back to it). The acting role then needs
/// `mask` on the table (`TargetPrivilegesCheck`).
pub(crate) fn check_privileges(
    cat: &Catalog,
    sub: &tandem_storage::SubscriptionDef,
    table: &TableDef,
    mask: tandem_storage::acl::AclMode,
) -> PgResult<()> {
    let owner = sub.owner;
    let acting = if sub.run_as_owner {
        owner
    } else if !cat.member_can_set_role(owner, table.owner) {
        let name = |o: Oid| {
            cat.roles
                .get(&o)
                .map(|r| r.name.clone())
                .unwrap_or_else(|| o.0.to_string())
        };
        return Err(PgError::new(
            SqlState::INSUFFICIENT_PRIVILEGE,
            format!(
                "role \"{}\" cannot SET ROLE to \"{}\"",
                name(owner),
                name(table.owner)
            ),
        ));
    } else if cat.member_can_set_role(table.owner, owner) {
        owner
    } else {
        table.owner
    };
    cat.check_table_privileges(table.oid, acting, mask)
}

/// A remote relation as its last Relation message described it.
#[derive(Clone, Debug)]
pub(crate) struct RemoteRel {
    pub namespace: String,
    pub name: String,
    pub columns: Vec<RelationColumn>,
}

impl RemoteRel {
    /// `schema.name` as PostgreSQL's messages show a target relation.
    pub fn qualified(&self) -> String {
        let ns = if self.namespace.is_empty() {
            "pg_catalog"
        } else {
            &self.namespace
        };
        format!("{ns}.{}", self.name)
    }
}

/// A remote relation resolved against one local catalog version.
#[derive(Clone, Debug)]
pub(crate) struct LocalRel {
    pub table: Arc<TableDef>,
    /// For each remote column: the local column position it fills.
    pub map: Vec<Option<usize>>,
    /// Local columns the publisher does not send that have a DEFAULT:
    /// (position, expression text), filled on INSERT as PostgreSQL does.
    pub defaults: Vec<(usize, String)>,
    /// The local table's CHECK constraints, bound once per catalog version
    /// (None: it has none); every applied row must pass them, as
    /// PostgreSQL's apply worker checks them (`ExecConstraints`).
    pub checks: Option<Arc<RowChecks>>,
}

/// Where the current remote transaction stands (for error CONTEXT lines).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct RemoteXact {
    pub xid: Xid,
    /// The remote commit LSN (Begin's final_lsn).
    pub final_lsn: Lsn,
}

/// Remote relations by remote oid, and their local resolution cached per
/// catalog version.
#[derive(Default)]
pub(crate) struct RelationMap {
    remote: HashMap<Oid, Arc<RemoteRel>>,
    local: HashMap<Oid, Arc<LocalRel>>,
    /// The catalog the `local` entries were resolved against.
    catalog: Option<Arc<Catalog>>,
}

impl RelationMap {
    /// A Relation message: (re)defines remote relation `oid`.
    pub fn define(&mut self, oid: Oid, rel: RemoteRel) {
        self.local.remove(&oid);
        self.remote.insert(oid, Arc::new(rel));
    }

    pub fn remote(&self, oid: Oid) -> PgResult<Arc<RemoteRel>> {
        self.remote.get(&oid).cloned().ok_or_else(|| {
            PgError::new(
                SqlState::PROTOCOL_VIOLATION,
                format!("no relation map entry for remote relation ID {}", oid.0),
            )
        })
    }

    /// The local table for remote relation `oid` under `catalog`: PostgreSQL's
    /// errors when it does not exist or lacks a replicated column.
    pub fn resolve(&mut self, oid: Oid, catalog: &Arc<Catalog>) -> PgResult<Arc<LocalRel>> {
        if !self
            .catalog
            .as_ref()
            .is_some_and(|c| Arc::ptr_eq(c, catalog))
        {
            self.local.clear();
            self.catalog = Some(catalog.clone());
        }
        if let Some(l) = self.local.get(&oid) {
            return Ok(l.clone());
        }
        let remote = self.remote(oid)?;
        let resolved = Arc::new(resolve(&remote, catalog)?);
        self.local.insert(oid, resolved.clone());
        Ok(resolved)
    }
}

fn resolve(remote: &RemoteRel, catalog: &Arc<Catalog>) -> PgResult<LocalRel> {
    let schema = if remote.namespace.is_empty() {
        "pg_catalog"
    } else {
        remote.namespace.as_str()
    };
    let Some(table) = catalog.table_by_name(schema, &remote.name) else {
        return Err(PgError::new(
            SqlState::UNDEFINED_OBJECT,
            format!(
                "logical replication target relation \"{}\" does not exist",
                remote.qualified()
            ),
        ));
    };
    let mut map = Vec::with_capacity(remote.columns.len());
    let mut missing = Vec::new();
    for c in &remote.columns {
        let local = table
            .columns
            .iter()
            .position(|l| !l.dropped && l.name == c.name);
        if local.is_none() {
            missing.push(format!("\"{}\"", c.name));
        }
        map.push(local);
    }
    if !missing.is_empty() {
        let (noun, list) = if missing.len() == 1 {
            ("column", missing.join(", "))
        } else {
            ("columns", missing.join(", "))
        };
        return Err(PgError::new(
            SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE,
            format!(
                "logical replication target relation \"{}\" is missing replicated {noun}: {list}",
                remote.qualified()
            ),
        ));
    }
    let defaults = table
        .columns
        .iter()
        .enumerate()
        .filter(|(i, c)| !c.dropped && !map.contains(&Some(*i)))
        .filter_map(|(i, c)| c.default.clone().map(|d| (i, d)))
        .collect();
    let checks = RowChecks::for_table(catalog.clone(), table)?;
    let checks = (!checks.is_empty()).then(|| Arc::new(checks));
    Ok(LocalRel {
        table: table.clone(),
        map,
        defaults,
        checks,
    })
}

/// One column value in the local column's type.
fn convert(col: &TupleColumn, ty: &DataType) -> PgResult<Option<Value>> {
    Ok(match col {
        TupleColumn::Null => Some(Value::Null),
        TupleColumn::UnchangedToast => None,
        TupleColumn::Text(bytes) => {
            let text = tandem_expr::io_text::validate_utf8(bytes)?;
            Some(tandem_expr::text_in(text, ty)?)
        }
        TupleColumn::Binary(bytes) => Some(tandem_expr::binary_in(bytes, ty)?),
    })
}

/// A remote tuple as local values: `Some(v)` for each local column the tuple
/// carries a value for (`None`: not sent, or an unchanged TOASTed value).
/// `key_only`: only the remote replica identity columns count (an old `K`
/// tuple carries NULL in the others).
fn local_values(
    rel: &LocalRel,
    remote: &RemoteRel,
    tuple: &[TupleColumn],
    key_only: bool,
) -> PgResult<Vec<Option<Value>>> {
    let mut out = vec![None; rel.table.columns.len()];
    for (i, col) in tuple.iter().enumerate() {
        let Some(Some(local)) = rel.map.get(i) else {
            continue;
        };
        if key_only && remote.columns.get(i).is_none_or(|c| c.flags & 1 == 0) {
            continue;
        }
        let ty = &rel.table.columns[*local].data_type;
        out[*local] = convert(col, ty)?;
    }
    Ok(out)
}

/// What happened to one change.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    Applied,
    /// UPDATE / DELETE found no local row (a logged conflict, skipped).
    Missing,
}

/// What the apply worker evaluates in the apply transaction.
pub(crate) trait RowEval {
    /// A column DEFAULT (expression text) of type `ty`.
    fn default_value(
        &mut self,
        txn: &mut Transaction,
        expr: &str,
        ty: &DataType,
    ) -> PgResult<Value>;
    /// `23514` unless `row` passes `checks` (the constraints of `def`).
    fn check(
        &mut self,
        txn: &mut Transaction,
        checks: &RowChecks,
        def: &TableDef,
        row: &[Value],
    ) -> PgResult<()>;
}

/// Applies one INSERT.
pub(crate) fn insert(
    txn: &mut Transaction,
    rel: &LocalRel,
    remote: &RemoteRel,
    new: &[TupleColumn],
    eval: &mut dyn RowEval,
) -> PgResult<Outcome> {
    let values = local_values(rel, remote, new, false)?;
    let mut row: Vec<Value> = values
        .into_iter()
        .map(|v| v.unwrap_or(Value::Null))
        .collect();
    txn.start_statement();
    for (pos, expr) in &rel.defaults {
        row[*pos] = eval.default_value(txn, expr, &rel.table.columns[*pos].data_type)?;
    }
    if let Some(checks) = &rel.checks {
        eval.check(txn, checks, &rel.table, &row)?;
    }
    txn.insert(rel.table.oid, row)?;
    Ok(Outcome::Applied)
}

/// Finds the local row an UPDATE or DELETE targets; locks it.
fn find_row(
    txn: &mut Transaction,
    rel: &LocalRel,
    lookup: &[Option<Value>],
    remote: &RemoteRel,
) -> PgResult<Option<(RowKey, Vec<Value>)>> {
    txn.start_statement();
    let table = &rel.table;
    let by_key = table
        .primary_key
        .as_ref()
        .and_then(|pk| {
            pk.columns
                .iter()
                .map(|c| lookup.get(*c).cloned().flatten())
                .collect::<Option<Vec<Value>>>()
        })
        .filter(|k| !k.iter().any(|v| matches!(v, Value::Null)));
    let found = match by_key {
        Some(key) => txn.get_by_pk(table.oid, &key)?,
        None => {
            if lookup.iter().all(Option::is_none) {
                return Err(PgError::new(
                    SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE,
                    format!(
                        "logical replication target relation \"{}\" has neither REPLICA IDENTITY index nor PRIMARY KEY and published relation does not have REPLICA IDENTITY FULL",
                        remote.qualified()
                    ),
                ));
            }
            let mut hit = None;
            txn.scan(table.oid, &mut |key, row| {
                let matches = lookup.iter().enumerate().all(|(i, want)| match want {
                    None => true,
                    Some(w) => row.get(i).is_some_and(|have| values_equal(have, w)),
                });
                if matches {
                    hit = Some((key.clone(), row.to_vec()));
                    return Ok(false);
                }
                Ok(true)
            })?;
            hit
        }
    };
    let Some((key, row)) = found else {
        return Ok(None);
    };
    match txn.lock_row(table.oid, &key, Some(&row))? {
        LockResult::Unchanged => Ok(Some((key, row))),
        LockResult::Updated(k, r) => Ok(Some((k, r))),
        LockResult::Deleted => Ok(None),
    }
}

/// Equality as a lookup needs it: NULL matches NULL (REPLICA IDENTITY FULL
/// rows with NULLs must be found).
fn values_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::Null, _) | (_, Value::Null) => false,
        _ => tandem_expr::compare::values_equal(a, b),
    }
}

/// Applies one UPDATE.
pub(crate) fn update(
    txn: &mut Transaction,
    rel: &LocalRel,
    remote: &RemoteRel,
    old: Option<&(OldKind, Vec<TupleColumn>)>,
    new: &[TupleColumn],
    eval: &mut dyn RowEval,
) -> PgResult<Outcome> {
    let new_values = local_values(rel, remote, new, false)?;
    let lookup = match old {
        Some((OldKind::Key, t)) => local_values(rel, remote, t, true)?,
        Some((OldKind::Full, t)) => local_values(rel, remote, t, false)?,
        // the key did not change: the new row's identity columns find it
        None => local_values(rel, remote, new, true)?,
    };
    let Some((key, mut row)) = find_row(txn, rel, &lookup, remote)? else {
        return Ok(Outcome::Missing);
    };
    for (i, v) in new_values.into_iter().enumerate() {
        if let (Some(v), Some(slot)) = (v, row.get_mut(i)) {
            *slot = v;
        }
    }
    if let Some(checks) = &rel.checks {
        eval.check(txn, checks, &rel.table, &row)?;
    }
    txn.update(rel.table.oid, &key, row)?;
    Ok(Outcome::Applied)
}

/// Applies one DELETE.
pub(crate) fn delete(
    txn: &mut Transaction,
    rel: &LocalRel,
    remote: &RemoteRel,
    old: &(OldKind, Vec<TupleColumn>),
) -> PgResult<Outcome> {
    let lookup = local_values(rel, remote, &old.1, old.0 == OldKind::Key)?;
    let Some((key, _)) = find_row(txn, rel, &lookup, remote)? else {
        return Ok(Outcome::Missing);
    };
    txn.delete(rel.table.oid, &key)?;
    Ok(Outcome::Applied)
}

/// The CONTEXT line of an error or conflict while applying a change
/// (PostgreSQL's `apply_error_callback`).
pub(crate) fn error_context(
    origin: &str,
    message_type: &str,
    relation: Option<&str>,
    xact: &RemoteXact,
) -> String {
    let rel = relation
        .map(|r| format!(" for replication target relation \"{r}\""))
        .unwrap_or_default();
    if xact.final_lsn.is_valid() {
        format!(
            "processing remote data for replication origin \"{origin}\" during message type \"{message_type}\"{rel} in transaction {}, finished at {}",
            xact.xid.0, xact.final_lsn
        )
    } else {
        format!(
            "processing remote data for replication origin \"{origin}\" during message type \"{message_type}\"{rel}"
        )
    }
}

/// Logs an UPDATE / DELETE whose row was not found (PostgreSQL 18's conflict
/// report; PostgreSQL 17 only logs it at DEBUG1) and goes on.
pub(crate) fn log_missing(kind: &str, relation: &str, context: &str) {
    let (conflict, detail) = if kind == "UPDATE" {
        ("update_missing", "Could not find the row to be updated.")
    } else {
        ("delete_missing", "Could not find the row to be deleted.")
    };
    elog::emit_with_context(
        Level::Log,
        &format!("conflict detected on relation \"{relation}\": conflict={conflict}"),
        Some(detail),
        None,
        Some(context),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_lines_match_postgres() {
        let x = RemoteXact {
            xid: Xid(743),
            final_lsn: Lsn(0x15720E0),
        };
        assert_eq!(
            error_context("pg_16395", "INSERT", Some("public.t"), &x),
            "processing remote data for replication origin \"pg_16395\" during message type \"INSERT\" for replication target relation \"public.t\" in transaction 743, finished at 0/15720E0"
        );
        assert_eq!(
            error_context("pg_1", "BEGIN", None, &RemoteXact::default()),
            "processing remote data for replication origin \"pg_1\" during message type \"BEGIN\""
        );
    }

    #[test]
    fn null_matches_null_in_lookups() {
        assert!(values_equal(&Value::Null, &Value::Null));
        assert!(!values_equal(&Value::Null, &Value::Int4(1)));
        assert!(values_equal(&Value::Int4(1), &Value::Int4(1)));
    }
}
