//! `pg_catalog.pg_indexes`: the primary-key indexes with their definitions.

use tandem_storage::Catalog;
use tandem_types::{DataType, PgResult, Value};

use super::*;
use tandem_types::ident::quote_identifier;

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
    cat.tables
        .values()
        .filter_map(|t| {
            let pk = t.primary_key.as_ref()?;
            let cols: Vec<String> = pk
                .columns
                .iter()
                .filter_map(|&i| t.columns.get(i))
                .map(|c| quote_identifier(&c.name))
                .collect();
            let def = format!(
                "CREATE UNIQUE INDEX {} ON {}.{} USING btree ({})",
                quote_identifier(&pk.name),
                quote_identifier(&t.schema),
                quote_identifier(&t.name),
                cols.join(", ")
            );
            Some(vec![
                name(&t.schema),
                name(&t.name),
                name(&pk.name),
                Value::Null,
                text(&def),
            ])
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
