//! Catalogs that tandem has no objects for yet: they exist with PostgreSQL's
//! columns so client queries joining them work, and return no rows
//! (`pg_views` lists the user's views, `pg_description` the comments;
//! `pg_inherits`, `pg_partitioned_table`,
//! `pg_shdescription`, `pg_range`, `pg_trigger`, `pg_rewrite`,
//! `pg_policy`, `pg_statistic_ext`, `pg_foreign_table`, `pg_opclass`;
//! `pg_depend` has the rows of owned sequences only, `pg_enum` the labels of
//! enum types).

use tandem_types::{DataType, PgResult, Value};

use super::View;
use crate::ExecContext;

use DataType as T;

fn empty(_: &mut ExecContext<'_>) -> PgResult<Vec<Vec<Value>>> {
    Ok(Vec::new())
}

fn arr(t: T) -> T {
    T::Array(Box::new(t))
}

pub static PG_VIEWS: View = View {
    schema: "pg_catalog",
    name: "pg_views",
    oid: 12_000,
    relkind: b'v',
    columns: views_cols,
    rows: views_rows,
};
/// The user's views (`CREATE VIEW`), their definitions as
/// `pg_get_viewdef(oid)` prints them.
fn views_rows(ctx: &mut ExecContext<'_>) -> PgResult<Vec<Vec<Value>>> {
    let cat = ctx.txn.catalog();
    Ok(cat
        .views
        .values()
        .map(|v| {
            vec![
                Value::Text(v.schema.clone()),
                Value::Text(v.name.clone()),
                Value::Text(super::role_name(&cat, v.owner.0)),
                Value::Text(super::view_definition(ctx, v, false)),
            ]
        })
        .collect())
}
fn views_cols() -> Vec<(&'static str, T)> {
    vec![
        ("schemaname", T::Name),
        ("viewname", T::Name),
        ("viewowner", T::Name),
        ("definition", T::Text),
    ]
}

pub static PG_INHERITS: View = View {
    schema: "pg_catalog",
    name: "pg_inherits",
    oid: 2611,
    relkind: b'r',
    columns: inherits_cols,
    rows: empty,
};
fn inherits_cols() -> Vec<(&'static str, T)> {
    vec![
        ("inhrelid", T::Oid),
        ("inhparent", T::Oid),
        ("inhseqno", T::Int4),
        ("inhdetachpending", T::Bool),
    ]
}

pub static PG_PARTITIONED_TABLE: View = View {
    schema: "pg_catalog",
    name: "pg_partitioned_table",
    oid: 3350,
    relkind: b'r',
    columns: part_cols,
    rows: empty,
};
fn part_cols() -> Vec<(&'static str, T)> {
    vec![
        ("partrelid", T::Oid),
        ("partstrat", T::Char),
        ("partnatts", T::Int2),
        ("partdefid", T::Oid),
        ("partattrs", arr(T::Int2)),
        ("partclass", arr(T::Oid)),
        ("partcollation", arr(T::Oid)),
        ("partexprs", T::Text),
    ]
}

pub static PG_DESCRIPTION: View = View {
    schema: "pg_catalog",
    name: "pg_description",
    oid: 2609,
    relkind: b'r',
    columns: descr_cols,
    rows: descr_rows,
};
/// plpgsql's comment and those of COMMENT ON (`super::descriptions`).
fn descr_rows(ctx: &mut ExecContext<'_>) -> PgResult<Vec<Vec<Value>>> {
    Ok(super::descriptions(&ctx.txn.catalog())
        .into_iter()
        .map(|(object, class, sub, text)| {
            vec![
                Value::Oid(object),
                Value::Oid(class),
                Value::Int4(sub),
                Value::Text(text),
            ]
        })
        .collect())
}
fn descr_cols() -> Vec<(&'static str, T)> {
    vec![
        ("objoid", T::Oid),
        ("classoid", T::Oid),
        ("objsubid", T::Int4),
        ("description", T::Text),
    ]
}

pub static PG_SHDESCRIPTION: View = View {
    schema: "pg_catalog",
    name: "pg_shdescription",
    oid: 2396,
    relkind: b'r',
    columns: shdescr_cols,
    rows: empty,
};
fn shdescr_cols() -> Vec<(&'static str, T)> {
    vec![
        ("objoid", T::Oid),
        ("classoid", T::Oid),
        ("description", T::Text),
    ]
}

pub static PG_RANGE: View = View {
    schema: "pg_catalog",
    name: "pg_range",
    oid: 3541,
    relkind: b'r',
    columns: range_cols,
    rows: empty,
};
fn range_cols() -> Vec<(&'static str, T)> {
    vec![
        ("rngtypid", T::Oid),
        ("rngsubtype", T::Oid),
        ("rngmultitypid", T::Oid),
        ("rngcollation", T::Oid),
        ("rngsubopc", T::Oid),
        ("rngcanonical", T::Oid),
        ("rngsubdiff", T::Oid),
    ]
}

pub static PG_ENUM: View = View {
    schema: "pg_catalog",
    name: "pg_enum",
    oid: 3501,
    relkind: b'r',
    columns: enum_cols,
    rows: enum_rows,
};
/// The labels of the enum types users made.
fn enum_rows(ctx: &mut ExecContext<'_>) -> PgResult<Vec<Vec<Value>>> {
    Ok(ctx
        .txn
        .catalog()
        .types
        .values()
        .flat_map(|t| {
            t.labels.iter().map(|l| {
                vec![
                    Value::Oid(l.oid),
                    Value::Oid(t.oid),
                    Value::Float4(l.sort_order),
                    Value::Text(l.name.clone()),
                ]
            })
        })
        .collect())
}
fn enum_cols() -> Vec<(&'static str, T)> {
    vec![
        ("oid", T::Oid),
        ("enumtypid", T::Oid),
        ("enumsortorder", T::Float4),
        ("enumlabel", T::Name),
    ]
}

pub static PG_TRIGGER: View = View {
    schema: "pg_catalog",
    name: "pg_trigger",
    oid: 2620,
    relkind: b'r',
    columns: trigger_cols,
    rows: empty,
};
fn trigger_cols() -> Vec<(&'static str, T)> {
    vec![
        ("oid", T::Oid),
        ("tgrelid", T::Oid),
        ("tgparentid", T::Oid),
        ("tgname", T::Name),
        ("tgfoid", T::Oid),
        ("tgtype", T::Int2),
        ("tgenabled", T::Char),
        ("tgisinternal", T::Bool),
        ("tgconstrrelid", T::Oid),
        ("tgconstrindid", T::Oid),
        ("tgconstraint", T::Oid),
        ("tgdeferrable", T::Bool),
        ("tginitdeferred", T::Bool),
        ("tgnargs", T::Int2),
        ("tgattr", arr(T::Int2)),
        ("tgargs", T::Bytea),
        ("tgqual", T::Text),
        ("tgoldtable", T::Name),
        ("tgnewtable", T::Name),
    ]
}

pub static PG_REWRITE: View = View {
    schema: "pg_catalog",
    name: "pg_rewrite",
    oid: 2618,
    relkind: b'r',
    columns: rewrite_cols,
    rows: empty,
};
fn rewrite_cols() -> Vec<(&'static str, T)> {
    vec![
        ("oid", T::Oid),
        ("rulename", T::Name),
        ("ev_class", T::Oid),
        ("ev_type", T::Char),
        ("ev_enabled", T::Char),
        ("is_instead", T::Bool),
        ("ev_qual", T::Text),
        ("ev_action", T::Text),
    ]
}

pub static PG_POLICY: View = View {
    schema: "pg_catalog",
    name: "pg_policy",
    oid: 3256,
    relkind: b'r',
    columns: policy_cols,
    rows: empty,
};
fn policy_cols() -> Vec<(&'static str, T)> {
    vec![
        ("oid", T::Oid),
        ("polname", T::Name),
        ("polrelid", T::Oid),
        ("polcmd", T::Char),
        ("polpermissive", T::Bool),
        ("polroles", arr(T::Oid)),
        ("polqual", T::Text),
        ("polwithcheck", T::Text),
    ]
}

pub static PG_STATISTIC_EXT: View = View {
    schema: "pg_catalog",
    name: "pg_statistic_ext",
    oid: 3381,
    relkind: b'r',
    columns: stat_cols,
    rows: empty,
};
fn stat_cols() -> Vec<(&'static str, T)> {
    vec![
        ("oid", T::Oid),
        ("stxrelid", T::Oid),
        ("stxname", T::Name),
        ("stxnamespace", T::Oid),
        ("stxowner", T::Oid),
        ("stxstattarget", T::Int2),
        ("stxkeys", arr(T::Int2)),
        ("stxkind", arr(T::Char)),
        ("stxexprs", T::Text),
    ]
}

pub static PG_FOREIGN_TABLE: View = View {
    schema: "pg_catalog",
    name: "pg_foreign_table",
    oid: 3118,
    relkind: b'r',
    columns: ft_cols,
    rows: empty,
};
fn ft_cols() -> Vec<(&'static str, T)> {
    vec![
        ("ftrelid", T::Oid),
        ("ftserver", T::Oid),
        ("ftoptions", arr(T::Text)),
    ]
}

pub static PG_DEPEND: View = View {
    schema: "pg_catalog",
    name: "pg_depend",
    oid: 2608,
    relkind: b'r',
    columns: depend_cols,
    rows: depend_rows,
};

/// The dependencies clients look up: a sequence owned by a column (`a` for
/// serial and OWNED BY, `i` for an identity column's), which psql and ORMs
/// follow to find a column's sequence, and plpgsql's members (`e`, for
/// `\dx+`).
fn depend_rows(ctx: &mut ExecContext<'_>) -> PgResult<Vec<Vec<Value>>> {
    use super::{ch, i4, oid};
    const PG_CLASS: u32 = 1259;
    let cat = ctx.txn.catalog();
    let mut rows: Vec<Vec<Value>> = cat
        .sequences
        .values()
        .filter_map(|s| {
            let (table, column) = s.owned_by?;
            let identity = cat.identity(table, column).is_some();
            Some(vec![
                oid(PG_CLASS),
                oid(s.oid.0),
                i4(0),
                oid(PG_CLASS),
                oid(table.0),
                i4(column as i32 + 1),
                ch(if identity { b'i' } else { b'a' }),
            ])
        })
        .collect();
    // plpgsql's members
    for (class, object, _) in super::pg_extension::PLPGSQL_MEMBERS {
        rows.push(vec![
            oid(class),
            oid(object),
            i4(0),
            oid(super::pg_extension::VIEW.oid),
            oid(super::pg_extension::PLPGSQL_OID),
            i4(0),
            ch(b'e'),
        ]);
    }
    rows.sort_by_key(|r| match r[1] {
        Value::Oid(o) => o,
        _ => 0,
    });
    Ok(rows)
}
fn depend_cols() -> Vec<(&'static str, T)> {
    vec![
        ("classid", T::Oid),
        ("objid", T::Oid),
        ("objsubid", T::Int4),
        ("refclassid", T::Oid),
        ("refobjid", T::Oid),
        ("refobjsubid", T::Int4),
        ("deptype", T::Char),
    ]
}

/// Operator classes: every index tandem builds uses its columns' default
/// btree class, which clients treat as the absence of a row here.
pub static PG_OPCLASS: View = View {
    schema: "pg_catalog",
    name: "pg_opclass",
    oid: 2616,
    relkind: b'r',
    columns: opclass_cols,
    rows: empty,
};
fn opclass_cols() -> Vec<(&'static str, T)> {
    vec![
        ("oid", T::Oid),
        ("opcmethod", T::Oid),
        ("opcname", T::Name),
        ("opcnamespace", T::Oid),
        ("opcowner", T::Oid),
        ("opcfamily", T::Oid),
        ("opcintype", T::Oid),
        ("opcdefault", T::Bool),
        ("opckeytype", T::Oid),
    ]
}
