//! Virtual system tables: `pg_catalog.*` and `information_schema.*` computed on
//! read from the transaction's catalog (`Transaction::catalog()`), the session
//! (`ExecContext`) and the server hooks.
//!
//! Each table is one file holding a [`View`]: its schema, name, OID, PostgreSQL's
//! column names and types (in PostgreSQL's order, so `SELECT *` matches), and a
//! row builder. Adding a table is one small file plus one line in [`VIEWS`].
//! Row builders that only need the catalog are pure functions of it (tested
//! without a server). Views whose rows live in the server (`pg_stat_activity`,
//! `pg_replication_slots`, `pg_stat_replication_slots`, `pg_stat_replication`,
//! `pg_stat_wal_receiver`, `pg_stat_subscription`, tandem's
//! `pg_failover_readiness` and `pg_failover_slot_standbys`) get typed rows through `ServerHooks` and list their
//! columns as [`Column`]s: name, type and the field each value comes from, in
//! one table.
//!
//! OIDs: user objects carry the OIDs storage allocated. Objects tandem has no
//! stored OID for get stable synthetic ones from [`pkey_index_oid`],
//! [`pkey_constraint_oid`], [`unique_constraint_oid`] and [`attrdef_oid`].
//! [`index_views`] lists primary key and secondary indexes alike. Namespaces are PostgreSQL's
//! (`pg_catalog` 11, `public` 2200). Corresponds to PostgreSQL's
//! `catalog/pg_*.h` and `catalog/system_views.sql`, `information_schema.sql`.

mod information_schema;
mod pg_am;
mod pg_attrdef;
mod pg_attribute;
mod pg_auth_members;
mod pg_class;
mod pg_collation;
mod pg_constraint;
mod pg_database;
mod pg_empty;
mod pg_extension;
mod pg_failover_readiness;
mod pg_index;
mod pg_indexes;
mod pg_namespace;
mod pg_proc;
mod pg_publication;
mod pg_replication_origin;
mod pg_replication_slots;
mod pg_roles;
mod pg_sequences;
mod pg_settings;
mod pg_stat_activity;
mod pg_stat_replication;
mod pg_stat_replication_slots;
mod pg_stat_ssl;
mod pg_stat_wal_receiver;
mod pg_subscription;
mod pg_tables;
mod pg_tablespace;
mod pg_type;

use tandem_types::{DataType, PgResult, Value};

use crate::ExecContext;

pub use pg_extension::{PLPGSQL_MEMBERS, PLPGSQL_OID};
pub use pg_publication::{publication_rel_oid, published_tables};
pub use pg_type::{type_category, type_internal_name};

pub const PG_CATALOG_NAMESPACE: u32 = 11;
pub const PG_TOAST_NAMESPACE: u32 = 99;
pub const PUBLIC_NAMESPACE: u32 = 2200;
pub const INFORMATION_SCHEMA_NAMESPACE: u32 = 13_183;
/// The bootstrap superuser's role OID.
pub const BOOTSTRAP_SUPERUSER: u32 = 10;
pub const HEAP_AM: u32 = 2;
pub const BTREE_AM: u32 = 403;
pub const DEFAULT_TABLESPACE: u32 = 1663;
pub const DEFAULT_COLLATION: u32 = 100;
/// `pg_database.oid` of the database tandem serves.
pub const DATABASE_OID: u32 = 5;

/// Synthetic OID of a table's primary-key index (`t_pkey` in `pg_class`).
pub fn pkey_index_oid(table: u32) -> u32 {
    0x7000_0000u32.wrapping_add(table)
}

/// Synthetic OID of a table's primary-key constraint (`pg_constraint`).
pub fn pkey_constraint_oid(table: u32) -> u32 {
    0x6000_0000u32.wrapping_add(table)
}

/// Synthetic OID of the UNIQUE constraint a secondary index backs
/// (`pg_constraint`).
pub fn unique_constraint_oid(index: u32) -> u32 {
    0x6800_0000u32.wrapping_add(index)
}

/// One index as the catalog shows it: a table's primary key index or a
/// secondary index (`pg_class` relkind `i`, `pg_index`, `pg_indexes`, the
/// constraint it backs in `pg_constraint`, `pg_get_indexdef`).
pub struct IndexView<'a> {
    pub oid: u32,
    pub name: &'a str,
    pub table: &'a tandem_storage::TableDef,
    pub columns: &'a [usize],
    pub unique: bool,
    pub primary: bool,
    /// The constraint it backs: its `pg_constraint` OID and `contype`.
    pub constraint: Option<(u32, u8)>,
}

impl IndexView<'_> {
    /// The indexed columns' names, quoted as SQL identifiers.
    pub fn column_names(&self) -> Vec<String> {
        self.columns
            .iter()
            .filter_map(|&i| self.table.columns.get(i))
            .map(|c| tandem_types::ident::quote_identifier(&c.name))
            .collect()
    }

    /// `pg_get_indexdef`: `CREATE [UNIQUE] INDEX i ON s.t USING btree (a, b)`.
    pub fn definition(&self) -> String {
        use tandem_types::ident::quote_identifier as q;
        format!(
            "CREATE {}INDEX {} ON {}.{} USING btree ({})",
            if self.unique { "UNIQUE " } else { "" },
            q(self.name),
            q(&self.table.schema),
            q(&self.table.name),
            self.column_names().join(", ")
        )
    }

    /// `pg_get_constraintdef` of the constraint it backs.
    pub fn constraint_definition(&self) -> Option<String> {
        let kind = match self.constraint?.1 {
            b'p' => "PRIMARY KEY",
            _ => "UNIQUE",
        };
        Some(format!("{kind} ({})", self.column_names().join(", ")))
    }
}

/// `pg_get_constraintdef` of a foreign key or CHECK constraint:
/// `FOREIGN KEY (a) REFERENCES p(id) [MATCH FULL] [ON UPDATE ..] [ON DELETE ..]`,
/// `CHECK ((a > 0))` (`pretty`: `CHECK (a > 0)`).
pub fn constraint_definition(
    cat: &tandem_storage::Catalog,
    c: &tandem_storage::ConstraintDef,
    pretty: bool,
) -> String {
    use tandem_storage::{ConstraintKind, FkAction};
    use tandem_types::ident::quote_identifier as q;
    let fk = match &c.kind {
        ConstraintKind::ForeignKey(fk) => fk,
        ConstraintKind::Check {
            expr, pretty: p, ..
        } => return format!("CHECK ({})", if pretty { p } else { expr }),
    };
    let names = |t: Option<&std::sync::Arc<tandem_storage::TableDef>>, cols: &[usize]| {
        cols.iter()
            .map(|&i| {
                t.and_then(|t| t.columns.get(i))
                    .map_or_else(|| "?".to_string(), |c| q(&c.name))
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let parent = cat.tables.get(&fk.ref_table);
    let mut out = format!(
        "FOREIGN KEY ({}) REFERENCES {}({})",
        names(cat.tables.get(&c.table), &fk.columns),
        parent.map_or_else(|| "?".to_string(), |p| q(&p.name)),
        names(parent, &fk.ref_columns)
    );
    if fk.match_full {
        out.push_str(" MATCH FULL");
    }
    let action = |a: FkAction| match a {
        FkAction::NoAction => None,
        FkAction::Restrict => Some("RESTRICT"),
        FkAction::Cascade => Some("CASCADE"),
        FkAction::SetNull => Some("SET NULL"),
        FkAction::SetDefault => Some("SET DEFAULT"),
    };
    if let Some(a) = action(fk.on_update) {
        out.push_str(&format!(" ON UPDATE {a}"));
    }
    if let Some(a) = action(fk.on_delete) {
        out.push_str(&format!(" ON DELETE {a}"));
    }
    out
}

/// The oid of the index a foreign key is checked against (`conindid`).
pub fn foreign_key_index(fk: &tandem_storage::ForeignKey) -> u32 {
    fk.ref_index.map_or(pkey_index_oid(fk.ref_table.0), |i| i.0)
}

/// Every index of the catalog: per table (in OID order) its primary key's,
/// then its secondary indexes in OID order.
pub fn index_views(cat: &tandem_storage::Catalog) -> Vec<IndexView<'_>> {
    let mut out = Vec::new();
    for t in cat.tables.values() {
        if let Some(pk) = &t.primary_key {
            out.push(IndexView {
                oid: pkey_index_oid(t.oid.0),
                name: &pk.name,
                table: t,
                columns: &pk.columns,
                unique: true,
                primary: true,
                constraint: Some((pkey_constraint_oid(t.oid.0), b'p')),
            });
        }
        if cat.indexes.is_empty() {
            continue;
        }
        for i in cat.indexes.values().filter(|i| i.table == t.oid) {
            out.push(IndexView {
                oid: i.oid.0,
                name: &i.name,
                table: t,
                columns: &i.columns,
                unique: i.unique,
                primary: false,
                constraint: i.constraint.then(|| (unique_constraint_oid(i.oid.0), b'u')),
            });
        }
    }
    out
}

/// `pg_class`'s own oid (the `classoid` of a relation's comment).
pub const PG_CLASS_OID: u32 = 1259;

/// The oid of the system catalog named `name` (`'pg_class'`), if tandem
/// shows one.
pub fn catalog_oid(name: &str) -> Option<u32> {
    view_by_name("pg_catalog", name).map(|v| v.oid)
}

/// Every comment (`pg_description` rows: object, its catalog, column number
/// or 0, text): plpgsql's, then those of COMMENT ON whose object still
/// exists.
pub fn descriptions(cat: &tandem_storage::Catalog) -> Vec<(u32, u32, i32, String)> {
    use tandem_types::Oid;
    let mut out = vec![(
        pg_extension::PLPGSQL_OID,
        pg_extension::VIEW.oid,
        0,
        pg_extension::PLPGSQL_DESCRIPTION.to_string(),
    )];
    out.extend(
        pg_namespace::DESCRIPTIONS
            .iter()
            .map(|(o, d)| (*o, pg_namespace::VIEW.oid, 0, d.to_string())),
    );
    if cat.comments.is_empty() {
        return out;
    }
    let indexes = index_views(cat);
    let exists = |o: Oid| {
        cat.tables.contains_key(&o)
            || cat.views.contains_key(&o)
            || cat.sequences.contains_key(&o)
            || indexes.iter().any(|i| i.oid == o.0)
            || cat.schema_name(o).is_some()
    };
    // COMMENT ON SCHEMA public replaces initdb's
    out.retain(|(o, class, sub, _)| !cat.comments.contains_key(&(Oid(*o), *class, *sub)));
    for ((object, class, sub), text) in &cat.comments {
        if exists(*object) {
            out.push((object.0, *class, *sub, text.clone()));
        }
    }
    out
}

/// Synthetic OID of a column default (`pg_attrdef`).
pub fn attrdef_oid(table: u32, attnum: i16) -> u32 {
    0x5000_0000u32
        .wrapping_add(table.wrapping_mul(2048))
        .wrapping_add(attnum as u32)
}

/// An object's stored ACL as `aclitem[]` text (`{bob=r/alice,...}` elements),
/// or NULL when it has the default one (PostgreSQL's `relacl` / `datacl`).
pub fn acl_value(cat: &tandem_storage::Catalog, object: tandem_types::Oid) -> Value {
    match cat.acls.get(&object) {
        Some(acl) => Value::Array(
            acl.iter()
                .map(|i| Value::Text(tandem_storage::acl::aclitem_text(cat, i)))
                .collect(),
        ),
        None => Value::Null,
    }
}

/// OID of a schema name (a built-in schema or one CREATE SCHEMA made).
pub fn namespace_oid(cat: &tandem_storage::Catalog, schema: &str) -> Option<u32> {
    cat.schema_oid(schema).map(|o| o.0)
}

/// The schema of OID `oid` (see [`namespace_oid`]).
pub fn namespace_name(cat: &tandem_storage::Catalog, oid: u32) -> Option<String> {
    cat.schema_name(tandem_types::Oid(oid)).map(str::to_string)
}

pub type Columns = fn() -> Vec<(&'static str, DataType)>;
pub type Rows = fn(&mut ExecContext<'_>) -> PgResult<Vec<Vec<Value>>>;

/// One virtual table.
pub struct View {
    pub schema: &'static str,
    pub name: &'static str,
    pub oid: u32,
    /// `r` for PostgreSQL's catalog tables, `v` for its system views
    pub relkind: u8,
    pub columns: Columns,
    pub rows: Rows,
}

/// All virtual tables (add new ones here).
pub static VIEWS: &[&View] = &[
    &pg_class::VIEW,
    &pg_namespace::VIEW,
    &pg_attribute::VIEW,
    &pg_type::VIEW,
    &pg_index::VIEW,
    &pg_constraint::VIEW,
    &pg_attrdef::VIEW,
    &pg_am::VIEW,
    &pg_database::VIEW,
    &pg_roles::PG_ROLES,
    &pg_roles::PG_AUTHID,
    &pg_roles::PG_USER,
    &pg_auth_members::VIEW,
    &pg_settings::VIEW,
    &pg_stat_activity::VIEW,
    &pg_stat_ssl::VIEW,
    &pg_replication_origin::PG_REPLICATION_ORIGIN,
    &pg_replication_origin::PG_REPLICATION_ORIGIN_STATUS,
    &pg_replication_slots::SLOTS,
    &pg_stat_replication::STAT_REPLICATION,
    &pg_stat_replication_slots::STAT_REPLICATION_SLOTS,
    &pg_stat_wal_receiver::STAT_WAL_RECEIVER,
    &pg_failover_readiness::FAILOVER_READINESS,
    &pg_failover_readiness::FAILOVER_SLOT_STANDBYS,
    &pg_publication::PG_PUBLICATION,
    &pg_publication::PG_PUBLICATION_REL,
    &pg_publication::PG_PUBLICATION_NAMESPACE,
    &pg_publication::PG_PUBLICATION_TABLES,
    &pg_subscription::PG_SUBSCRIPTION,
    &pg_subscription::PG_SUBSCRIPTION_REL,
    &pg_subscription::PG_STAT_SUBSCRIPTION,
    &pg_tables::VIEW,
    &pg_indexes::VIEW,
    &pg_sequences::PG_SEQUENCES,
    &pg_sequences::PG_SEQUENCE,
    &pg_tablespace::VIEW,
    &pg_proc::VIEW,
    &pg_collation::VIEW,
    &pg_extension::VIEW,
    &pg_empty::PG_VIEWS,
    &pg_empty::PG_INHERITS,
    &pg_empty::PG_PARTITIONED_TABLE,
    &pg_empty::PG_DESCRIPTION,
    &pg_empty::PG_SHDESCRIPTION,
    &pg_empty::PG_RANGE,
    &pg_empty::PG_ENUM,
    &pg_empty::PG_TRIGGER,
    &pg_empty::PG_REWRITE,
    &pg_empty::PG_POLICY,
    &pg_empty::PG_STATISTIC_EXT,
    &pg_empty::PG_FOREIGN_TABLE,
    &pg_empty::PG_DEPEND,
    &pg_empty::PG_OPCLASS,
    &information_schema::TABLES,
    &information_schema::COLUMNS,
    &information_schema::SCHEMATA,
    &information_schema::VIEWS_VIEW,
    &information_schema::SEQUENCES,
    &information_schema::TABLE_CONSTRAINTS,
    &information_schema::KEY_COLUMN_USAGE,
    &information_schema::REFERENTIAL_CONSTRAINTS,
    &information_schema::CHECK_CONSTRAINTS,
];

/// One column of a view whose rows are typed values `R` (the server-side
/// views: `pg_stat_activity`, `pg_replication_slots`, ...): PostgreSQL's name
/// and type, and the column's value in a row. A view lists these in column
/// order, so its names, types and values cannot drift apart.
pub struct Column<R> {
    pub name: &'static str,
    pub ty: DataType,
    pub value: fn(&R) -> Value,
}

/// The `(name, type)` list of `columns` (a [`View`]'s `columns`).
pub(crate) fn column_list<R>(columns: &[Column<R>]) -> Vec<(&'static str, DataType)> {
    columns.iter().map(|c| (c.name, c.ty.clone())).collect()
}

/// The values of `row`, one per column of `columns`.
pub(crate) fn row_values<R>(columns: &[Column<R>], row: &R) -> Vec<Value> {
    columns.iter().map(|c| (c.value)(row)).collect()
}

/// A virtual system table/view as the query crate sees it.
pub struct VirtualTable {
    pub schema: &'static str,
    pub name: &'static str,
    pub columns: Vec<(String, DataType)>,
}

pub fn view_by_name(schema: &str, name: &str) -> Option<&'static View> {
    VIEWS
        .iter()
        .copied()
        .find(|v| v.schema == schema && v.name == name)
}

pub fn view_by_oid(oid: u32) -> Option<&'static View> {
    VIEWS.iter().copied().find(|v| v.oid == oid)
}

/// `(schema, name)` lookup; unqualified names resolve in `pg_catalog` (the
/// caller has already looked in `public`).
pub fn lookup(schema: Option<&str>, name: &str) -> Option<VirtualTable> {
    let v = match schema {
        Some(s) => view_by_name(s, name)?,
        None => view_by_name("pg_catalog", name)?,
    };
    Some(VirtualTable {
        schema: v.schema,
        name: v.name,
        columns: (v.columns)()
            .into_iter()
            .map(|(n, t)| (n.to_string(), t))
            .collect(),
    })
}

/// Materializes a virtual table for the current transaction.
pub fn rows(table: &VirtualTable, ctx: &mut ExecContext<'_>) -> PgResult<Vec<Vec<Value>>> {
    match view_by_name(table.schema, table.name) {
        Some(v) => (v.rows)(ctx),
        None => Ok(Vec::new()),
    }
}

// ---- small constructors shared by the view files ----

pub(crate) fn name(s: &str) -> Value {
    Value::Text(s.to_string())
}

pub(crate) fn text(s: &str) -> Value {
    Value::Text(s.to_string())
}

pub(crate) fn opt_text(s: Option<&str>) -> Value {
    s.map(text).unwrap_or(Value::Null)
}

pub(crate) fn oid(o: u32) -> Value {
    Value::Oid(o)
}

pub(crate) fn ch(c: u8) -> Value {
    Value::Char(c)
}

pub(crate) fn b(v: bool) -> Value {
    Value::Bool(v)
}

pub(crate) fn i2(v: i16) -> Value {
    Value::Int2(v)
}

pub(crate) fn i4(v: i32) -> Value {
    Value::Int4(v)
}

pub(crate) fn opt_i4(v: Option<i32>) -> Value {
    v.map(Value::Int4).unwrap_or(Value::Null)
}

/// A `pg_lsn` column: NULL for `Lsn::INVALID` (InvalidXLogRecPtr).
pub(crate) fn lsn(l: tandem_types::Lsn) -> Value {
    if l.is_valid() {
        Value::PgLsn(l)
    } else {
        Value::Null
    }
}

/// A `pg_lsn` column: NULL for `None` and for `Lsn::INVALID`.
pub(crate) fn opt_lsn(l: Option<tandem_types::Lsn>) -> Value {
    l.map(lsn).unwrap_or(Value::Null)
}

/// A `timestamptz` column (microseconds since 2000-01-01 UTC).
pub(crate) fn opt_ts(t: Option<i64>) -> Value {
    t.map(Value::TimestampTz).unwrap_or(Value::Null)
}

/// An `xid` column.
pub(crate) fn opt_xid(x: Option<tandem_types::Xid>) -> Value {
    x.map(|x| Value::Xid(x.0)).unwrap_or(Value::Null)
}

/// `pg_get_viewdef(view, pretty)`: as the server's query engine prints the
/// view's query, else the query as written.
pub fn view_definition(
    ctx: &ExecContext<'_>,
    view: &tandem_storage::ViewDef,
    pretty: bool,
) -> String {
    ctx.hooks
        .view_definition(view, ctx, pretty)
        .unwrap_or_else(|| view.query.clone())
}

/// Name of a role by OID (for `*owner` columns of the views).
pub(crate) fn role_name(cat: &tandem_storage::Catalog, role: u32) -> String {
    cat.roles
        .get(&tandem_types::Oid(role))
        .map(|r| r.name.clone())
        .unwrap_or_else(|| format!("unknown (OID={role})"))
}

#[cfg(test)]
pub(crate) mod testing {
    use std::sync::Arc;

    use tandem_storage::{
        Catalog, ColumnDef, PrimaryKey, ReplicaIdentity, RoleDef, SequenceDef, TableDef,
    };
    use tandem_types::{DataType, Oid};

    /// A catalog with a superuser, `t(id int primary key, name varchar(10) default 'x')`
    /// and its serial-style sequence `t_id_seq`.
    pub fn sample() -> Catalog {
        let mut c = Catalog::default();
        c.roles.insert(
            Oid(10),
            RoleDef {
                oid: Oid(10),
                name: "postgres".into(),
                superuser: true,
                inherit: true,
                createrole: true,
                createdb: true,
                login: true,
                replication: true,
                bypassrls: true,
                connection_limit: -1,
                password: Some("SCRAM-SHA-256$4096:x$y:z".into()),
            },
        );
        let col = |n: &str, t: DataType, nn: bool, d: Option<&str>| ColumnDef {
            name: n.into(),
            data_type: t,
            not_null: nn,
            default: d.map(|s| s.to_string()),
            dropped: false,
        };
        c.tables.insert(
            Oid(16384),
            Arc::new(TableDef {
                oid: Oid(16384),
                schema: "public".into(),
                name: "t".into(),
                columns: vec![
                    col(
                        "id",
                        DataType::Int4,
                        true,
                        Some("nextval('t_id_seq'::regclass)"),
                    ),
                    col(
                        "name",
                        DataType::Varchar(Some(10)),
                        false,
                        Some("'x'::character varying"),
                    ),
                ],
                primary_key: Some(PrimaryKey {
                    name: "t_pkey".into(),
                    columns: vec![0],
                }),
                replica_identity: ReplicaIdentity::Default,
                owner: Oid(10),
            }),
        );
        c.sequences.insert(
            Oid(16390),
            Arc::new(SequenceDef {
                oid: Oid(16390),
                schema: "public".into(),
                name: "t_id_seq".into(),
                data_type: DataType::Int4,
                start: 1,
                increment: 1,
                min_value: 1,
                max_value: i32::MAX as i64,
                cache: 1,
                cycle: false,
                owned_by: Some((Oid(16384), 0)),
            }),
        );
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_view_is_found_by_name_and_has_unique_oid() {
        let mut oids = std::collections::HashSet::new();
        for v in VIEWS {
            assert!(oids.insert(v.oid), "duplicate oid for {}", v.name);
            let t = lookup(Some(v.schema), v.name).unwrap();
            assert!(!t.columns.is_empty());
        }
        assert!(lookup(None, "pg_class").is_some());
        assert!(lookup(None, "tables").is_none());
        assert!(lookup(Some("information_schema"), "columns").is_some());
        let cols: Vec<String> = lookup(None, "pg_namespace")
            .unwrap()
            .columns
            .into_iter()
            .map(|c| c.0)
            .collect();
        assert_eq!(cols, ["oid", "nspname", "nspowner", "nspacl"]);
    }
}
