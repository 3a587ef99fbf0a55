//! `pg_catalog.pg_class`: tables (`r`), their primary-key indexes (`i`),
//! sequences (`S`), and tandem's own virtual catalogs (`r`) and views (`v`).

use tandem_storage::{Catalog, ReplicaIdentity};
use tandem_types::{DataType, PgResult, Value};

use super::*;

use DataType as T;

pub static VIEW: View = View {
    schema: "pg_catalog",
    name: "pg_class",
    oid: 1259,
    relkind: b'r',
    columns,
    rows,
};

fn columns() -> Vec<(&'static str, DataType)> {
    vec![
        ("oid", T::Oid),
        ("relname", T::Name),
        ("relnamespace", T::Oid),
        ("reltype", T::Oid),
        ("reloftype", T::Oid),
        ("relowner", T::Oid),
        ("relam", T::Oid),
        ("relfilenode", T::Oid),
        ("reltablespace", T::Oid),
        ("relpages", T::Int4),
        ("reltuples", T::Float4),
        ("relallvisible", T::Int4),
        ("reltoastrelid", T::Oid),
        ("relhasindex", T::Bool),
        ("relisshared", T::Bool),
        ("relpersistence", T::Char),
        ("relkind", T::Char),
        ("relnatts", T::Int2),
        ("relchecks", T::Int2),
        ("relhasrules", T::Bool),
        ("relhastriggers", T::Bool),
        ("relhassubclass", T::Bool),
        ("relrowsecurity", T::Bool),
        ("relforcerowsecurity", T::Bool),
        ("relispopulated", T::Bool),
        ("relreplident", T::Char),
        ("relispartition", T::Bool),
        ("relrewrite", T::Oid),
        ("relfrozenxid", T::Xid),
        ("relminmxid", T::Xid),
        ("relacl", T::Array(Box::new(T::Text))),
        ("reloptions", T::Array(Box::new(T::Text))),
        ("relpartbound", T::Text),
    ]
}

struct Rel<'a> {
    oid: u32,
    name: &'a str,
    namespace: u32,
    owner: u32,
    am: u32,
    has_index: bool,
    has_triggers: bool,
    /// CHECK constraints (`relchecks`).
    checks: i16,
    kind: u8,
    natts: usize,
    replident: u8,
    acl: Value,
}

fn row(r: Rel<'_>) -> Vec<Value> {
    let storage = matches!(r.kind, b'r' | b'i' | b'S');
    vec![
        oid(r.oid),
        name(r.name),
        oid(r.namespace),
        oid(0),
        oid(0),
        oid(r.owner),
        oid(r.am),
        oid(if storage { r.oid } else { 0 }),
        oid(0),
        i4(if storage { 1 } else { 0 }),
        Value::Float4(-1.0),
        i4(0),
        oid(0),
        b(r.has_index),
        b(false),
        ch(b'p'),
        ch(r.kind),
        i2(r.natts as i16),
        i2(r.checks),
        b(false),
        b(r.has_triggers),
        b(false),
        b(false),
        b(false),
        b(true),
        ch(r.replident),
        b(false),
        oid(0),
        Value::Xid(if r.kind == b'r' { 3 } else { 0 }),
        Value::Xid(if r.kind == b'r' { 1 } else { 0 }),
        r.acl,
        Value::Null,
        Value::Null,
    ]
}

pub fn build(cat: &Catalog) -> Vec<Vec<Value>> {
    let mut out = Vec::new();
    for t in cat.tables.values() {
        let ns = namespace_oid(cat, &t.schema).unwrap_or(PUBLIC_NAMESPACE);
        let replident = match t.replica_identity {
            ReplicaIdentity::Default => b'd',
            ReplicaIdentity::Nothing => b'n',
            ReplicaIdentity::Full => b'f',
            ReplicaIdentity::Index { .. } => b'i',
        };
        out.push(row(Rel {
            oid: t.oid.0,
            name: &t.name,
            namespace: ns,
            owner: t.owner.0,
            am: HEAP_AM,
            has_index: t.primary_key.is_some() || !cat.indexes_of(t.oid).is_empty(),
            // a foreign key's checks are triggers in PostgreSQL
            has_triggers: !cat.foreign_keys_of(t.oid).is_empty()
                || !cat.foreign_keys_to(t.oid).is_empty(),
            checks: cat
                .constraints_of(t.oid)
                .iter()
                .filter(|c| c.foreign_key().is_none())
                .count() as i16,
            kind: b'r',
            natts: t.columns.len(),
            replident,
            acl: acl_value(cat, t.oid),
        }));
    }
    for idx in index_views(cat) {
        out.push(row(Rel {
            oid: idx.oid,
            name: idx.name,
            namespace: namespace_oid(cat, &idx.table.schema).unwrap_or(PUBLIC_NAMESPACE),
            owner: idx.table.owner.0,
            am: BTREE_AM,
            has_index: false,
            has_triggers: false,
            checks: 0,
            kind: b'i',
            natts: idx.columns.len(),
            replident: b'n',
            acl: Value::Null,
        }));
    }
    for v in cat.views.values() {
        out.push(row(Rel {
            oid: v.oid.0,
            name: &v.name,
            namespace: namespace_oid(cat, &v.schema).unwrap_or(PUBLIC_NAMESPACE),
            owner: v.owner.0,
            am: 0,
            has_index: false,
            has_triggers: false,
            checks: 0,
            kind: b'v',
            natts: v.columns.len(),
            replident: b'n',
            acl: acl_value(cat, v.oid),
        }));
    }
    for s in cat.sequences.values() {
        let owner = s
            .owned_by
            .and_then(|(t, _)| cat.tables.get(&t))
            .map(|t| t.owner.0)
            .unwrap_or(BOOTSTRAP_SUPERUSER);
        out.push(row(Rel {
            oid: s.oid.0,
            name: &s.name,
            namespace: namespace_oid(cat, &s.schema).unwrap_or(PUBLIC_NAMESPACE),
            owner,
            am: 0,
            has_index: false,
            has_triggers: false,
            checks: 0,
            kind: b'S',
            natts: 3,
            replident: b'n',
            acl: Value::Null,
        }));
    }
    for v in VIEWS {
        out.push(row(Rel {
            oid: v.oid,
            name: v.name,
            namespace: namespace_oid(cat, v.schema).unwrap_or(PG_CATALOG_NAMESPACE),
            owner: BOOTSTRAP_SUPERUSER,
            am: if v.relkind == b'r' { HEAP_AM } else { 0 },
            has_index: false,
            has_triggers: false,
            checks: 0,
            kind: v.relkind,
            natts: (v.columns)().len(),
            replident: b'n',
            acl: Value::Null,
        }));
    }
    out
}

fn rows(ctx: &mut ExecContext<'_>) -> PgResult<Vec<Vec<Value>>> {
    Ok(build(&ctx.txn.catalog()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_indexes_sequences_and_views() {
        let rows = build(&testing::sample());
        let find = |n: &str| rows.iter().find(|r| r[1] == Value::Text(n.into())).unwrap();
        let t = find("t");
        assert_eq!(
            (t[0].clone(), t[16].clone(), t[13].clone(), t[17].clone()),
            (
                Value::Oid(16384),
                Value::Char(b'r'),
                Value::Bool(true),
                Value::Int2(2)
            )
        );
        assert_eq!(t[2], Value::Oid(PUBLIC_NAMESPACE));
        assert_eq!(t[25], Value::Char(b'd'));
        let i = find("t_pkey");
        assert_eq!(
            (i[0].clone(), i[16].clone(), i[6].clone()),
            (
                Value::Oid(pkey_index_oid(16384)),
                Value::Char(b'i'),
                Value::Oid(BTREE_AM)
            )
        );
        assert_eq!(find("t_id_seq")[16], Value::Char(b'S'));
        assert_eq!(find("pg_settings")[16], Value::Char(b'v'));
        assert_eq!(find("pg_class")[2], Value::Oid(PG_CATALOG_NAMESPACE));
        assert!(rows.iter().all(|r| r.len() == columns().len()));
    }
}
