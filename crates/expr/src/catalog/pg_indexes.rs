//! `pg_catalog.pg_indexes`: every index (primary keys' and secondary) with its
//! definition.

use tandem_storage::Catalog;
use tandem_types::{DataType, PgResult, Value};

use super::*;

use DataType as T;

pub static VIEW: View = View {
    schema: "pg_catalog",
    name: "pg_indexes",
    oid: 12_006,
    relkind: b'v',
    columns,
    rows,
};

fn columns() -> Vec<(&'static str, DataType)> {
    vec![
        ("schemaname", T::Name),
        ("tablename", T::Name),
        ("indexname", T::Name),
        ("tablespace", T::Name),
        ("indexdef", T::Text),
    ]
}

pub fn build(cat: &Catalog) -> Vec<Vec<Value>> {
    index_views(cat)
        .iter()
        .map(|i| {
            vec![
                name(&i.table.schema),
                name(&i.table.name),
                name(i.name),
                Value::Null,
                text(&i.definition()),
            ]
        })
        .collect()
}

fn rows(ctx: &mut ExecContext<'_>) -> PgResult<Vec<Vec<Value>>> {
    Ok(build(&ctx.txn.catalog()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_definition_as_postgres_prints_it() {
        let rows = build(&testing::sample());
        assert_eq!(
            rows[0][4],
            text("CREATE UNIQUE INDEX t_pkey ON public.t USING btree (id)")
        );
    }
}
