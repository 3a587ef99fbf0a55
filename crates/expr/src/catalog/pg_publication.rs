//! Publications: the catalogs `pg_catalog.pg_publication`, `pg_publication_rel`
//! and the always-empty `pg_publication_namespace`, and the view
//! `pg_publication_tables` (each published table with its columns), computed
//! from `Catalog.publications`. Row filters and column lists do not exist in
//! tandem, so `prqual`, `prattrs` and `rowfilter` are NULL and `attnames` lists
//! every live column. PostgreSQL: `catalog/pg_publication.h`,
//! `pg_publication_rel.h`, `pg_publication_namespace.h`, `system_views.sql`
//! (`pg_publication_tables`) and `pg_publication.c`
//! (`pg_get_publication_tables`).

use tandem_storage::{Catalog, PublicationDef, TableDef};
use tandem_types::{DataType, PgResult, Value};

use super::*;

use DataType as T;

pub static PG_PUBLICATION: View = View {
    schema: "pg_catalog",
    name: "pg_publication",
    oid: 6104,
    relkind: b'r',
    columns: pub_cols,
    rows: pub_rows,
};

pub static PG_PUBLICATION_REL: View = View {
    schema: "pg_catalog",
    name: "pg_publication_rel",
    oid: 6106,
    relkind: b'r',
    columns: rel_cols,
    rows: rel_rows,
};

pub static PG_PUBLICATION_TABLES: View = View {
    schema: "pg_catalog",
    name: "pg_publication_tables",
    oid: 12_030,
    relkind: b'v',
    columns: tables_cols,
    rows: tables_rows,
};

/// `TABLES IN SCHEMA` membership: always empty in tandem (psql's `\dRp+`
/// reads it).
pub static PG_PUBLICATION_NAMESPACE: View = View {
    schema: "pg_catalog",
    name: "pg_publication_namespace",
    oid: 6237,
    relkind: b'r',
    columns: namespace_cols,
    rows: |_| Ok(Vec::new()),
};

fn namespace_cols() -> Vec<(&'static str, DataType)> {
    vec![("oid", T::Oid), ("pnpubid", T::Oid), ("pnnspid", T::Oid)]
}

/// Synthetic OID of a `pg_publication_rel` row (tandem stores membership as a
/// set of table OIDs, without an OID of its own).
pub fn publication_rel_oid(publication: u32, table: u32) -> u32 {
    0x4000_0000u32
        .wrapping_add(publication.wrapping_mul(65_536))
        .wrapping_add(table)
}

fn pub_cols() -> Vec<(&'static str, DataType)> {
    vec![
        ("oid", T::Oid),
        ("pubname", T::Name),
        ("pubowner", T::Oid),
        ("puballtables", T::Bool),
        ("pubinsert", T::Bool),
        ("pubupdate", T::Bool),
        ("pubdelete", T::Bool),
        ("pubtruncate", T::Bool),
        ("pubviaroot", T::Bool),
    ]
}

fn rel_cols() -> Vec<(&'static str, DataType)> {
    vec![
        ("oid", T::Oid),
        ("prpubid", T::Oid),
        ("prrelid", T::Oid),
        ("prqual", T::Text),
        ("prattrs", T::Array(Box::new(T::Int2))),
    ]
}

fn tables_cols() -> Vec<(&'static str, DataType)> {
    vec![
        ("pubname", T::Name),
        ("schemaname", T::Name),
        ("tablename", T::Name),
        ("attnames", T::Array(Box::new(T::Name))),
        ("rowfilter", T::Text),
    ]
}

pub fn build_publication(cat: &Catalog) -> Vec<Vec<Value>> {
    cat.publications
        .values()
        .map(|p| {
            vec![
                oid(p.oid.0),
                name(&p.name),
                oid(p.owner.0),
                b(p.all_tables),
                b(p.pub_insert),
                b(p.pub_update),
                b(p.pub_delete),
                b(p.pub_truncate),
                b(p.via_root),
            ]
        })
        .collect()
}

pub fn build_publication_rel(cat: &Catalog) -> Vec<Vec<Value>> {
    cat.publications
        .values()
        .flat_map(|p| {
            p.tables.iter().map(move |t| {
                vec![
                    oid(publication_rel_oid(p.oid.0, t.0)),
                    oid(p.oid.0),
                    oid(t.0),
                    Value::Null,
                    Value::Null,
                ]
            })
        })
        .collect()
}

/// The tables a publication covers, in OID order (all of them for FOR ALL TABLES).
pub fn published_tables<'c>(cat: &'c Catalog, p: &PublicationDef) -> Vec<&'c TableDef> {
    cat.tables
        .values()
        .filter(|t| p.includes(t.oid))
        .map(|t| &**t)
        .collect()
}

pub fn build_publication_tables(cat: &Catalog) -> Vec<Vec<Value>> {
    let mut rows = Vec::new();
    for p in cat.publications.values() {
        for t in published_tables(cat, p) {
            let cols = t
                .columns
                .iter()
                .filter(|c| !c.dropped)
                .map(|c| name(&c.name))
                .collect();
            rows.push(vec![
                name(&p.name),
                name(&t.schema),
                name(&t.name),
                Value::Array(cols),
                Value::Null,
            ]);
        }
    }
    rows
}

fn pub_rows(ctx: &mut ExecContext<'_>) -> PgResult<Vec<Vec<Value>>> {
    Ok(build_publication(&ctx.txn.catalog()))
}

fn rel_rows(ctx: &mut ExecContext<'_>) -> PgResult<Vec<Vec<Value>>> {
    Ok(build_publication_rel(&ctx.txn.catalog()))
}

fn tables_rows(ctx: &mut ExecContext<'_>) -> PgResult<Vec<Vec<Value>>> {
    Ok(build_publication_tables(&ctx.txn.catalog()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::testing::sample;
    use tandem_types::Oid;

    fn with_publications() -> Catalog {
        let mut cat = sample();
        let t = *cat.tables.keys().next().unwrap_or(&Oid(0));
        let base = PublicationDef {
            oid: Oid(16500),
            name: "p_some".into(),
            owner: Oid(10),
            all_tables: false,
            pub_insert: true,
            pub_update: false,
            pub_delete: true,
            pub_truncate: false,
            via_root: false,
            tables: [t].into_iter().collect(),
        };
        let all = PublicationDef {
            oid: Oid(16501),
            name: "p_all".into(),
            all_tables: true,
            tables: Default::default(),
            ..base.clone()
        };
        let empty = PublicationDef {
            oid: Oid(16502),
            name: "p_none".into(),
            tables: Default::default(),
            ..base.clone()
        };
        for p in [base, all, empty] {
            cat.publications.insert(p.oid, p);
        }
        cat
    }

    #[test]
    fn publication_rows_follow_the_catalog() {
        let cat = with_publications();
        let rows = build_publication(&cat);
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].len(), pub_cols().len());
        assert_eq!(
            rows[0],
            vec![
                oid(16500),
                name("p_some"),
                oid(10),
                b(false),
                b(true),
                b(false),
                b(true),
                b(false),
                b(false)
            ]
        );
        assert_eq!(rows[1][3], b(true));
    }

    #[test]
    fn rel_rows_list_explicit_members_only() {
        let cat = with_publications();
        let t = *cat.tables.keys().next().unwrap_or(&Oid(0));
        let rows = build_publication_rel(&cat);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0][1], oid(16500));
        assert_eq!(rows[0][2], oid(t.0));
        assert_eq!(rows[0][3], Value::Null);
    }

    #[test]
    fn tables_view_expands_all_tables() {
        let cat = with_publications();
        let rows = build_publication_tables(&cat);
        let ntables = cat.tables.len();
        // p_some: one table; p_all: every table; p_none: nothing.
        assert_eq!(rows.len(), 1 + ntables);
        assert_eq!(rows[0][0], name("p_some"));
        assert_eq!(rows[0][1], name("public"));
        assert_eq!(rows[0][3], Value::Array(vec![name("id"), name("name")]));
        assert_eq!(rows[0][4], Value::Null);
    }
}
