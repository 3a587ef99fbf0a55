//! Replication origins: the catalog `pg_catalog.pg_replication_origin`
//! (`roident`, `roname`, from `Catalog.origins`; readable by everyone) and the
//! view `pg_replication_origin_status` (`local_id`, `external_id`,
//! `remote_lsn`, `local_lsn`: one row per origin with progress, from storage's
//! progress map; superuser-only, as PostgreSQL revokes it from PUBLIC).
//! A freshly created origin has no row in the view until something moves it.
//! PostgreSQL: `catalog/pg_replication_origin.h`, `system_views.sql`
//! (`pg_show_replication_origin_status()` in `origin.c`).

use tandem_storage::{Catalog, OriginProgress};
use tandem_types::{DataType, PgError, PgResult, SqlState, Value};

use super::*;

use DataType as T;

pub static PG_REPLICATION_ORIGIN: View = View {
    schema: "pg_catalog",
    name: "pg_replication_origin",
    oid: 6000,
    relkind: b'r',
    columns: origin_cols,
    rows: origin_rows,
};

pub static PG_REPLICATION_ORIGIN_STATUS: View = View {
    schema: "pg_catalog",
    name: "pg_replication_origin_status",
    oid: 12_339,
    relkind: b'v',
    columns: status_cols,
    rows: status_rows,
};

fn origin_cols() -> Vec<(&'static str, DataType)> {
    vec![("roident", T::Oid), ("roname", T::Text)]
}

fn status_cols() -> Vec<(&'static str, DataType)> {
    vec![
        ("local_id", T::Oid),
        ("external_id", T::Text),
        ("remote_lsn", T::PgLsn),
        ("local_lsn", T::PgLsn),
    ]
}

pub fn build_origin(cat: &Catalog) -> Vec<Vec<Value>> {
    cat.origins
        .iter()
        .map(|(id, n)| vec![oid(u32::from(*id)), text(n)])
        .collect()
}

/// Rows of `pg_replication_origin_status`: origins with progress, named by
/// `cat` (NULL name for one the catalog no longer has).
pub fn build_status(cat: &Catalog, progress: &[(u16, OriginProgress)]) -> Vec<Vec<Value>> {
    progress
        .iter()
        .map(|(id, p)| {
            vec![
                oid(u32::from(*id)),
                opt_text(cat.origins.get(id).map(String::as_str)),
                Value::PgLsn(p.remote_lsn),
                Value::PgLsn(p.local_lsn),
            ]
        })
        .collect()
}

fn origin_rows(ctx: &mut ExecContext<'_>) -> PgResult<Vec<Vec<Value>>> {
    Ok(build_origin(&ctx.txn.catalog()))
}

fn status_rows(ctx: &mut ExecContext<'_>) -> PgResult<Vec<Vec<Value>>> {
    if !ctx.session.superuser {
        return Err(PgError::new(
            SqlState::INSUFFICIENT_PRIVILEGE,
            "permission denied for view pg_replication_origin_status",
        ));
    }
    let progress = ctx.db.origin_progress_all();
    Ok(build_status(&ctx.txn.catalog(), &progress))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::testing::sample;
    use tandem_types::Lsn;

    #[test]
    fn origins_and_status_rows() {
        let mut cat = sample();
        cat.origins.insert(2, "b".into());
        cat.origins.insert(1, "a".into());
        assert_eq!(
            build_origin(&cat),
            vec![
                vec![Value::Oid(1), Value::Text("a".into())],
                vec![Value::Oid(2), Value::Text("b".into())],
            ]
        );
        let progress = [(
            2u16,
            OriginProgress {
                remote_lsn: Lsn(0x1234),
                local_lsn: Lsn(0),
            },
        )];
        assert_eq!(
            build_status(&cat, &progress),
            vec![vec![
                Value::Oid(2),
                Value::Text("b".into()),
                Value::PgLsn(Lsn(0x1234)),
                Value::PgLsn(Lsn(0)),
            ]]
        );
        assert_eq!(origin_cols().len(), 2);
        assert_eq!(status_cols()[3].0, "local_lsn");
    }
}
