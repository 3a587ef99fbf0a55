//! Sequences: `pg_catalog.pg_sequence` (the catalog) and `pg_sequences` (the
//! view, with owner and type names).

use tandem_storage::Catalog;
use tandem_types::{DataType, PgResult, Value};

use super::*;

use DataType as T;

pub static PG_SEQUENCE: View = View {
    schema: "pg_catalog",
    name: "pg_sequence",
    oid: 2224,
    relkind: b'r',
    columns: seq_cols,
    rows: seq_rows,
};
pub static PG_SEQUENCES: View = View {
    schema: "pg_catalog",
    name: "pg_sequences",
    oid: 12_007,
    relkind: b'v',
    columns: seqs_cols,
    rows: seqs_rows,
};

fn seq_cols() -> Vec<(&'static str, DataType)> {
    vec![
        ("seqrelid", T::Oid),
        ("seqtypid", T::Oid),
        ("seqstart", T::Int8),
        ("seqincrement", T::Int8),
        ("seqmax", T::Int8),
        ("seqmin", T::Int8),
        ("seqcache", T::Int8),
        ("seqcycle", T::Bool),
    ]
}

fn seqs_cols() -> Vec<(&'static str, DataType)> {
    vec![
        ("schemaname", T::Name),
        ("sequencename", T::Name),
        ("sequenceowner", T::Name),
        ("data_type", T::RegType),
        ("start_value", T::Int8),
        ("min_value", T::Int8),
        ("max_value", T::Int8),
        ("increment_by", T::Int8),
        ("cycle", T::Bool),
        ("cache_size", T::Int8),
        ("last_value", T::Int8),
    ]
}

pub fn build_sequence(cat: &Catalog) -> Vec<Vec<Value>> {
    cat.sequences
        .values()
        .map(|s| {
            vec![
                oid(s.oid.0),
                oid(s.data_type.oid()),
                Value::Int8(s.start),
                Value::Int8(s.increment),
                Value::Int8(s.max_value),
                Value::Int8(s.min_value),
                Value::Int8(s.cache),
                b(s.cycle),
            ]
        })
        .collect()
}

pub fn build_sequences(cat: &Catalog) -> Vec<Vec<Value>> {
    cat.sequences
        .values()
        .map(|s| {
            let owner = s
                .owned_by
                .and_then(|(t, _)| cat.tables.get(&t))
                .map(|t| t.owner.0)
                .unwrap_or(BOOTSTRAP_SUPERUSER);
            vec![
                name(&s.schema),
                name(&s.name),
                name(&role_name(cat, owner)),
                oid(s.data_type.oid()),
                Value::Int8(s.start),
                Value::Int8(s.min_value),
                Value::Int8(s.max_value),
                Value::Int8(s.increment),
                b(s.cycle),
                Value::Int8(s.cache),
                Value::Null,
            ]
        })
        .collect()
}

fn seq_rows(ctx: &mut ExecContext<'_>) -> PgResult<Vec<Vec<Value>>> {
    Ok(build_sequence(&ctx.txn.catalog()))
}

fn seqs_rows(ctx: &mut ExecContext<'_>) -> PgResult<Vec<Vec<Value>>> {
    let cat = ctx.txn.catalog();
    let mut rows = build_sequences(&cat);
    // last_value: what nextval returned last (NULL before the first call or
    // after a RESTART), as PostgreSQL's pg_sequence_last_value()
    for (row, s) in rows.iter_mut().zip(cat.sequences.values()) {
        if let Some((v, true, _)) = ctx.db.sequence_state(s.oid) {
            if let Some(last) = row.last_mut() {
                *last = Value::Int8(v);
            }
        }
    }
    Ok(rows)
}
