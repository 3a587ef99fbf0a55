//! `information_schema.tables`, `information_schema.columns`,
//! `information_schema.schemata`, `information_schema.views`,
//! `information_schema.sequences` and the
//! constraint views (`table_constraints`, `key_column_usage`,
//! `referential_constraints`, `check_constraints`), computed from the
//! catalog like PostgreSQL's `information_schema.sql` views.

use tandem_storage::Catalog;
use tandem_types::{DataType, PgResult, Value};

use super::*;

use DataType as T;

pub static TABLES: View = View {
    schema: "information_schema",
    name: "tables",
    oid: 13_200,
    relkind: b'v',
    columns: tables_cols,
    rows: tables_rows,
};
pub static COLUMNS: View = View {
    schema: "information_schema",
    name: "columns",
    oid: 13_201,
    relkind: b'v',
    columns: columns_cols,
    rows: columns_rows,
};
pub static SCHEMATA: View = View {
    schema: "information_schema",
    name: "schemata",
    oid: 13_202,
    relkind: b'v',
    columns: schemata_cols,
    rows: schemata_rows,
};

pub static SEQUENCES: View = View {
    schema: "information_schema",
    name: "sequences",
    oid: 13_208,
    relkind: b'v',
    columns: sequences_cols,
    rows: sequences_rows,
};

fn sequences_cols() -> Vec<(&'static str, DataType)> {
    vec![
        ("sequence_catalog", T::Name),
        ("sequence_schema", T::Name),
        ("sequence_name", T::Name),
        ("data_type", T::Text),
        ("numeric_precision", T::Int4),
        ("numeric_precision_radix", T::Int4),
        ("numeric_scale", T::Int4),
        ("start_value", T::Text),
        ("minimum_value", T::Text),
        ("maximum_value", T::Text),
        ("increment", T::Text),
        ("cycle_option", T::Text),
    ]
}

/// The sequences, an identity column's left out (as PostgreSQL's view
/// leaves out those with an internal dependency).
fn sequences_rows(ctx: &mut ExecContext<'_>) -> PgResult<Vec<Vec<Value>>> {
    let cat = ctx.txn.catalog();
    let db = &ctx.session.database;
    Ok(cat
        .sequences
        .values()
        .filter(|s| {
            s.owned_by
                .is_none_or(|(t, c)| !cat.identities.contains_key(&(t, c as u32)))
        })
        .map(|s| {
            let bits = match s.data_type {
                T::Int2 => 16,
                T::Int4 => 32,
                _ => 64,
            };
            vec![
                name(db),
                name(&s.schema),
                name(&s.name),
                text(&sql_data_type(&s.data_type)),
                i4(bits),
                i4(2),
                i4(0),
                text(&s.start.to_string()),
                text(&s.min_value.to_string()),
                text(&s.max_value.to_string()),
                text(&s.increment.to_string()),
                text(if s.cycle { "YES" } else { "NO" }),
            ]
        })
        .collect())
}

pub static VIEWS_VIEW: View = View {
    schema: "information_schema",
    name: "views",
    oid: 13_203,
    relkind: b'v',
    columns: views_cols,
    rows: views_rows,
};

fn views_cols() -> Vec<(&'static str, DataType)> {
    vec![
        ("table_catalog", T::Name),
        ("table_schema", T::Name),
        ("table_name", T::Name),
        ("view_definition", T::Text),
        ("check_option", T::Text),
        ("is_updatable", T::Text),
        ("is_insertable_into", T::Text),
        ("is_trigger_updatable", T::Text),
        ("is_trigger_deletable", T::Text),
        ("is_trigger_insertable_into", T::Text),
    ]
}

fn views_rows(ctx: &mut ExecContext<'_>) -> PgResult<Vec<Vec<Value>>> {
    let cat = ctx.txn.catalog();
    let db = &ctx.session.database;
    Ok(cat
        .views
        .values()
        .map(|v| {
            let mut row = vec![
                name(db),
                name(&v.schema),
                name(&v.name),
                text(&super::view_definition(ctx, v, false)),
                text("NONE"),
            ];
            row.extend(std::iter::repeat_n(text("NO"), 5));
            row
        })
        .collect())
}

fn tables_cols() -> Vec<(&'static str, DataType)> {
    vec![
        ("table_catalog", T::Name),
        ("table_schema", T::Name),
        ("table_name", T::Name),
        ("table_type", T::Text),
        ("self_referencing_column_name", T::Name),
        ("reference_generation", T::Text),
        ("user_defined_type_catalog", T::Name),
        ("user_defined_type_schema", T::Name),
        ("user_defined_type_name", T::Name),
        ("is_insertable_into", T::Text),
        ("is_typed", T::Text),
        ("commit_action", T::Text),
    ]
}

pub fn build_tables(cat: &Catalog, db: &str) -> Vec<Vec<Value>> {
    let row = |schema: &str, table: &str, kind: &str, insertable: bool| {
        vec![
            name(db),
            name(schema),
            name(table),
            text(kind),
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null,
            text(if insertable { "YES" } else { "NO" }),
            text("NO"),
            Value::Null,
        ]
    };
    let mut out: Vec<Vec<Value>> = cat
        .tables
        .values()
        .map(|t| row(&t.schema, &t.name, "BASE TABLE", true))
        .collect();
    for v in cat.views.values() {
        out.push(row(&v.schema, &v.name, "VIEW", false));
    }
    for v in VIEWS {
        out.push(row(
            v.schema,
            v.name,
            if v.relkind == b'v' {
                "VIEW"
            } else {
                "BASE TABLE"
            },
            false,
        ));
    }
    out
}

fn tables_rows(ctx: &mut ExecContext<'_>) -> PgResult<Vec<Vec<Value>>> {
    Ok(build_tables(&ctx.txn.catalog(), &ctx.session.database))
}

fn columns_cols() -> Vec<(&'static str, DataType)> {
    let mut v = vec![
        ("table_catalog", T::Name),
        ("table_schema", T::Name),
        ("table_name", T::Name),
        ("column_name", T::Name),
        ("ordinal_position", T::Int4),
        ("column_default", T::Text),
        ("is_nullable", T::Text),
        ("data_type", T::Text),
        ("character_maximum_length", T::Int4),
        ("character_octet_length", T::Int4),
        ("numeric_precision", T::Int4),
        ("numeric_precision_radix", T::Int4),
        ("numeric_scale", T::Int4),
        ("datetime_precision", T::Int4),
        ("interval_type", T::Text),
        ("interval_precision", T::Int4),
    ];
    for n in [
        "character_set_catalog",
        "character_set_schema",
        "character_set_name",
        "collation_catalog",
        "collation_schema",
        "collation_name",
        "domain_catalog",
        "domain_schema",
        "domain_name",
        "udt_catalog",
        "udt_schema",
        "udt_name",
        "scope_catalog",
        "scope_schema",
        "scope_name",
    ] {
        v.push((n, T::Name));
    }
    v.extend([
        ("maximum_cardinality", T::Int4),
        ("dtd_identifier", T::Name),
        ("is_self_referencing", T::Text),
        ("is_identity", T::Text),
        ("identity_generation", T::Text),
        ("identity_start", T::Text),
        ("identity_increment", T::Text),
        ("identity_maximum", T::Text),
        ("identity_minimum", T::Text),
        ("identity_cycle", T::Text),
        ("is_generated", T::Text),
        ("generation_expression", T::Text),
        ("is_updatable", T::Text),
    ]);
    v
}

/// `data_type` as the information schema spells it.
fn sql_data_type(t: &DataType) -> String {
    match t {
        T::Array(_) => "ARRAY".into(),
        other => crate::errors::type_name(other),
    }
}

/// One column as `information_schema.columns` describes it.
struct Col<'a> {
    schema: &'a str,
    table: &'a str,
    name: &'a str,
    pos: usize,
    ty: &'a DataType,
    nullable: bool,
    default: Option<&'a str>,
    /// An identity column: GENERATED ALWAYS?
    identity: Option<bool>,
    /// A user table's column (`is_updatable`; tandem's views are read only).
    updatable: bool,
}

fn column_row(db: &str, c: Col<'_>) -> Vec<Value> {
    let Col {
        schema,
        table,
        name: col,
        pos,
        ty,
        nullable,
        default,
        identity,
        updatable,
    } = c;
    let int = |v: Option<i64>| v.map(|x| i4(x as i32)).unwrap_or(Value::Null);
    let char_len = match ty {
        T::Varchar(Some(n)) | T::Bpchar(Some(n)) => Some(*n as i64),
        T::Bpchar(None) => Some(1),
        _ => None,
    };
    let octet_len = match ty {
        T::Varchar(_) | T::Bpchar(_) | T::Text => {
            Some(char_len.map(|n| n * 4).unwrap_or(1_073_741_824))
        }
        _ => None,
    };
    let (prec, radix, scale) = match ty {
        T::Int2 => (Some(16), Some(2), Some(0)),
        T::Int4 => (Some(32), Some(2), Some(0)),
        T::Int8 => (Some(64), Some(2), Some(0)),
        T::Float4 => (Some(24), Some(2), None),
        T::Float8 => (Some(53), Some(2), None),
        T::Numeric(Some((p, s))) => (Some(*p as i64), Some(10), Some(*s as i64)),
        T::Numeric(None) => (None, Some(10), None),
        _ => (None, None, None),
    };
    let dt_prec = match ty {
        T::Date => Some(0),
        T::Timestamp | T::TimestampTz | T::Interval => Some(6),
        _ => None,
    };
    let textual = matches!(ty, T::Text | T::Varchar(_) | T::Bpchar(_));
    let mut row = vec![
        name(db),
        name(schema),
        name(table),
        name(col),
        i4(pos as i32),
        opt_text(default),
        text(if nullable { "YES" } else { "NO" }),
        text(&sql_data_type(ty)),
        int(char_len),
        int(octet_len),
        int(prec),
        int(radix),
        int(scale),
        int(dt_prec),
        Value::Null,
        Value::Null,
        Value::Null,
        Value::Null,
        Value::Null,
        if textual { name(db) } else { Value::Null },
        if textual {
            name("pg_catalog")
        } else {
            Value::Null
        },
        if textual {
            name("default")
        } else {
            Value::Null
        },
        Value::Null,
        Value::Null,
        Value::Null,
        name(db),
        name("pg_catalog"),
        name(&type_internal_name(ty)),
        Value::Null,
        Value::Null,
        Value::Null,
        Value::Null,
        name(&pos.to_string()),
        text("NO"),
        text(if identity.is_some() { "YES" } else { "NO" }),
        match identity {
            Some(true) => text("ALWAYS"),
            Some(false) => text("BY DEFAULT"),
            None => Value::Null,
        },
    ];
    row.extend(std::iter::repeat_n(Value::Null, 5));
    row.push(text("NEVER"));
    row.push(Value::Null);
    row.push(text(if updatable { "YES" } else { "NO" }));
    row
}

pub fn build_columns(cat: &Catalog, db: &str) -> Vec<Vec<Value>> {
    let mut out = Vec::new();
    for t in cat.tables.values() {
        for (i, c) in t.columns.iter().enumerate().filter(|(_, c)| !c.dropped) {
            let identity = cat.identity(t.oid, i);
            out.push(column_row(
                db,
                Col {
                    schema: &t.schema,
                    table: &t.name,
                    name: &c.name,
                    pos: i + 1,
                    ty: &c.data_type,
                    nullable: !c.not_null,
                    // an identity column's sequence is no default here
                    default: c.default.as_deref().filter(|_| identity.is_none()),
                    identity,
                    updatable: true,
                },
            ));
        }
    }
    for v in cat.views.values() {
        for (i, (n, ty)) in v.columns.iter().enumerate() {
            let col = Col {
                schema: &v.schema,
                table: &v.name,
                name: n,
                pos: i + 1,
                ty,
                nullable: true,
                default: None,
                identity: None,
                updatable: false,
            };
            out.push(column_row(db, col));
        }
    }
    for v in VIEWS {
        for (i, (n, ty)) in (v.columns)().iter().enumerate() {
            let col = Col {
                schema: v.schema,
                table: v.name,
                name: n,
                pos: i + 1,
                ty,
                nullable: true,
                default: None,
                identity: None,
                updatable: false,
            };
            out.push(column_row(db, col));
        }
    }
    out
}

fn columns_rows(ctx: &mut ExecContext<'_>) -> PgResult<Vec<Vec<Value>>> {
    Ok(build_columns(&ctx.txn.catalog(), &ctx.session.database))
}

fn schemata_cols() -> Vec<(&'static str, DataType)> {
    vec![
        ("catalog_name", T::Name),
        ("schema_name", T::Name),
        ("schema_owner", T::Name),
        ("default_character_set_catalog", T::Name),
        ("default_character_set_schema", T::Name),
        ("default_character_set_name", T::Name),
        ("sql_path", T::Text),
    ]
}

fn schemata_rows(ctx: &mut ExecContext<'_>) -> PgResult<Vec<Vec<Value>>> {
    let cat = ctx.txn.catalog();
    let builtin = ["pg_catalog", "public", "information_schema", "pg_toast"]
        .into_iter()
        .filter_map(|s| cat.schema_oid(s));
    let created = cat.schemas.keys().copied();
    Ok(builtin
        .chain(created)
        .filter_map(|oid| {
            let schema = cat.schema_name(oid)?;
            let owner = role_name(&cat, cat.schema_owner(oid)?.0);
            let mut row = vec![name(&ctx.session.database), name(schema), name(&owner)];
            row.extend(std::iter::repeat_n(Value::Null, 4));
            Some(row)
        })
        .collect())
}

// ---- constraints: table_constraints, key_column_usage,
// ---- referential_constraints, check_constraints

pub static TABLE_CONSTRAINTS: View = View {
    schema: "information_schema",
    name: "table_constraints",
    oid: 13_204,
    relkind: b'v',
    columns: table_constraints_cols,
    rows: table_constraints_rows,
};
pub static KEY_COLUMN_USAGE: View = View {
    schema: "information_schema",
    name: "key_column_usage",
    oid: 13_205,
    relkind: b'v',
    columns: key_column_usage_cols,
    rows: key_column_usage_rows,
};
pub static REFERENTIAL_CONSTRAINTS: View = View {
    schema: "information_schema",
    name: "referential_constraints",
    oid: 13_206,
    relkind: b'v',
    columns: referential_constraints_cols,
    rows: referential_constraints_rows,
};
pub static CHECK_CONSTRAINTS: View = View {
    schema: "information_schema",
    name: "check_constraints",
    oid: 13_207,
    relkind: b'v',
    columns: check_constraints_cols,
    rows: check_constraints_rows,
};

/// One constraint as these views list it.
struct Con<'a> {
    name: String,
    table: &'a tandem_storage::TableDef,
    kind: ConKind<'a>,
}

enum ConKind<'a> {
    Primary(&'a [usize]),
    Unique(&'a [usize]),
    Foreign(&'a tandem_storage::ForeignKey),
    /// A CHECK's expression (a NOT NULL column's is `c IS NOT NULL`).
    Check(String),
}

/// Every constraint of every table: primary keys and UNIQUE (their
/// indexes), foreign keys and CHECKs, and a NOT NULL column's CHECK named
/// as PostgreSQL names it (`<namespace oid>_<table oid>_<attnum>_not_null`).
fn constraints(cat: &Catalog) -> Vec<Con<'_>> {
    let mut out = Vec::new();
    for i in index_views(cat) {
        let kind = match i.constraint {
            Some((_, b'p')) => ConKind::Primary(i.columns),
            Some(_) => ConKind::Unique(i.columns),
            None => continue,
        };
        out.push(Con {
            name: i.name.to_string(),
            table: i.table,
            kind,
        });
    }
    for c in cat.constraints.values() {
        let Some(table) = cat.tables.get(&c.table) else {
            continue;
        };
        let kind = match &c.kind {
            tandem_storage::ConstraintKind::ForeignKey(fk) => ConKind::Foreign(fk),
            tandem_storage::ConstraintKind::Check { expr, .. } => ConKind::Check(expr.clone()),
        };
        out.push(Con {
            name: c.name.clone(),
            table,
            kind,
        });
    }
    for t in cat.tables.values() {
        let ns = namespace_oid(cat, &t.schema).unwrap_or(PUBLIC_NAMESPACE);
        for (i, c) in t.columns.iter().enumerate() {
            if c.not_null && !c.dropped {
                out.push(Con {
                    name: format!("{ns}_{}_{}_not_null", t.oid.0, i + 1),
                    table: t,
                    kind: ConKind::Check(format!(
                        "{} IS NOT NULL",
                        tandem_types::ident::quote_identifier(&c.name)
                    )),
                });
            }
        }
    }
    out
}

fn table_constraints_cols() -> Vec<(&'static str, DataType)> {
    vec![
        ("constraint_catalog", T::Name),
        ("constraint_schema", T::Name),
        ("constraint_name", T::Name),
        ("table_catalog", T::Name),
        ("table_schema", T::Name),
        ("table_name", T::Name),
        ("constraint_type", T::Text),
        ("is_deferrable", T::Text),
        ("initially_deferred", T::Text),
        ("enforced", T::Text),
        ("nulls_distinct", T::Text),
    ]
}

fn table_constraints_rows(ctx: &mut ExecContext<'_>) -> PgResult<Vec<Vec<Value>>> {
    let cat = ctx.txn.catalog();
    let db = &ctx.session.database;
    Ok(constraints(&cat)
        .iter()
        .map(|c| {
            let kind = match c.kind {
                ConKind::Primary(_) => "PRIMARY KEY",
                ConKind::Unique(_) => "UNIQUE",
                ConKind::Foreign(_) => "FOREIGN KEY",
                ConKind::Check(_) => "CHECK",
            };
            vec![
                name(db),
                name(&c.table.schema),
                name(&c.name),
                name(db),
                name(&c.table.schema),
                name(&c.table.name),
                text(kind),
                text("NO"),
                text("NO"),
                text("YES"),
                match c.kind {
                    ConKind::Unique(_) => text("YES"),
                    _ => Value::Null,
                },
            ]
        })
        .collect())
}

fn key_column_usage_cols() -> Vec<(&'static str, DataType)> {
    vec![
        ("constraint_catalog", T::Name),
        ("constraint_schema", T::Name),
        ("constraint_name", T::Name),
        ("table_catalog", T::Name),
        ("table_schema", T::Name),
        ("table_name", T::Name),
        ("column_name", T::Name),
        ("ordinal_position", T::Int4),
        ("position_in_unique_constraint", T::Int4),
    ]
}

/// The columns of the unique key a foreign key is checked against.
fn referenced_key<'c>(
    cat: &'c Catalog,
    fk: &tandem_storage::ForeignKey,
) -> Option<(String, &'c [usize])> {
    match fk.ref_index {
        None => {
            let pk = cat.tables.get(&fk.ref_table)?.primary_key.as_ref()?;
            Some((pk.name.clone(), &pk.columns))
        }
        Some(i) => {
            let idx = cat.indexes.get(&i)?;
            Some((idx.name.clone(), &idx.columns))
        }
    }
}

fn key_column_usage_rows(ctx: &mut ExecContext<'_>) -> PgResult<Vec<Vec<Value>>> {
    let cat = ctx.txn.catalog();
    let db = &ctx.session.database;
    let mut out = Vec::new();
    for c in constraints(&cat) {
        let (columns, positions): (&[usize], Option<Vec<i64>>) = match &c.kind {
            ConKind::Primary(cols) | ConKind::Unique(cols) => (cols, None),
            ConKind::Foreign(fk) => {
                let key = referenced_key(&cat, fk).map(|(_, k)| k).unwrap_or(&[]);
                let pos = fk
                    .ref_columns
                    .iter()
                    .map(|r| key.iter().position(|k| k == r).map_or(0, |p| p as i64 + 1))
                    .collect();
                (&fk.columns, Some(pos))
            }
            ConKind::Check(_) => continue,
        };
        for (i, &col) in columns.iter().enumerate() {
            let Some(column) = c.table.columns.get(col) else {
                continue;
            };
            out.push(vec![
                name(db),
                name(&c.table.schema),
                name(&c.name),
                name(db),
                name(&c.table.schema),
                name(&c.table.name),
                name(&column.name),
                i4(i as i32 + 1),
                positions
                    .as_ref()
                    .and_then(|p| p.get(i))
                    .map_or(Value::Null, |&p| i4(p as i32)),
            ]);
        }
    }
    Ok(out)
}

fn referential_constraints_cols() -> Vec<(&'static str, DataType)> {
    vec![
        ("constraint_catalog", T::Name),
        ("constraint_schema", T::Name),
        ("constraint_name", T::Name),
        ("unique_constraint_catalog", T::Name),
        ("unique_constraint_schema", T::Name),
        ("unique_constraint_name", T::Name),
        ("match_option", T::Text),
        ("update_rule", T::Text),
        ("delete_rule", T::Text),
    ]
}

fn rule(a: tandem_storage::FkAction) -> &'static str {
    use tandem_storage::FkAction as A;
    match a {
        A::NoAction => "NO ACTION",
        A::Restrict => "RESTRICT",
        A::Cascade => "CASCADE",
        A::SetNull => "SET NULL",
        A::SetDefault => "SET DEFAULT",
    }
}

fn referential_constraints_rows(ctx: &mut ExecContext<'_>) -> PgResult<Vec<Vec<Value>>> {
    let cat = ctx.txn.catalog();
    let db = &ctx.session.database;
    let mut out = Vec::new();
    for c in constraints(&cat) {
        let ConKind::Foreign(fk) = c.kind else {
            continue;
        };
        let parent_schema = cat
            .tables
            .get(&fk.ref_table)
            .map_or("public", |t| t.schema.as_str());
        out.push(vec![
            name(db),
            name(&c.table.schema),
            name(&c.name),
            name(db),
            name(parent_schema),
            referenced_key(&cat, fk).map_or(Value::Null, |(n, _)| name(&n)),
            text(if fk.match_full { "FULL" } else { "NONE" }),
            text(rule(fk.on_update)),
            text(rule(fk.on_delete)),
        ]);
    }
    Ok(out)
}

fn check_constraints_cols() -> Vec<(&'static str, DataType)> {
    vec![
        ("constraint_catalog", T::Name),
        ("constraint_schema", T::Name),
        ("constraint_name", T::Name),
        ("check_clause", T::Text),
    ]
}

fn check_constraints_rows(ctx: &mut ExecContext<'_>) -> PgResult<Vec<Vec<Value>>> {
    let cat = ctx.txn.catalog();
    let db = &ctx.session.database;
    Ok(constraints(&cat)
        .into_iter()
        .filter_map(|c| match c.kind {
            ConKind::Check(clause) => Some(vec![
                name(db),
                name(&c.table.schema),
                name(&c.name),
                text(&clause),
            ]),
            _ => None,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_of_a_user_table() {
        let rows = build_columns(&testing::sample(), "postgres");
        let t: Vec<&Vec<Value>> = rows.iter().filter(|r| r[2] == name("t")).collect();
        assert_eq!(t.len(), 2);
        assert_eq!(t[0][7], text("integer"));
        assert_eq!(t[0][6], text("NO"));
        assert_eq!(t[0][10], i4(32));
        assert_eq!(t[1][7], text("character varying"));
        assert_eq!(t[1][8], i4(10));
        assert_eq!(t[1][27], name("varchar"));
        assert_eq!(t[1][5], text("'x'::character varying"));
        assert!(rows.iter().all(|r| r.len() == columns_cols().len()));
        let tables = build_tables(&testing::sample(), "postgres");
        assert_eq!(
            tables[0][..4],
            [
                name("postgres"),
                name("public"),
                name("t"),
                text("BASE TABLE")
            ]
        );
        assert!(tables.iter().all(|r| r.len() == tables_cols().len()));
    }
}
