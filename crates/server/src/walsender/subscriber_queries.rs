//! Canned answers to the catalog queries of PostgreSQL subscribers: on a
//! `replication=database` connection, the queries that call
//! `pg_get_publication_tables` (a set-returning function over composite
//! results that tandem's SQL does not run) are recognised by their text and
//! answered from the catalog (docs/logical-decoding.md). Everything else goes
//! to the connection's SQL session.
//!
//! Mirrors what PostgreSQL's `pg_get_publication_tables`
//! (`catalog/pg_publication.c`) returns to the subscriber's
//! `fetch_table_list` (`commands/subscriptioncmds.c`) and the tablesync
//! worker's `fetch_remote_table_info` (`replication/logical/tablesync.c`).

use tandem_sql::{FieldDescription, QuerySink};
use tandem_types::{DataType, Oid, PgResult, Value};

use crate::backend::printtup::SocketSink;

/// A result set computed by the walsender itself: column names and text rows.
pub(super) struct CannedResult {
    pub columns: Vec<&'static str>,
    pub rows: Vec<Vec<Option<String>>>,
}

impl CannedResult {
    /// Sends the result set (all columns text).
    pub(super) fn send(&self, sink: &mut SocketSink<'_>) -> PgResult<()> {
        let fields: Vec<_> = self
            .columns
            .iter()
            .map(|c| FieldDescription::text(c))
            .collect();
        let types = vec![DataType::Text; fields.len()];
        sink.row_description(&fields)?;
        for row in &self.rows {
            let values: Vec<Value> = row
                .iter()
                .map(|v| v.clone().map(Value::Text).unwrap_or(Value::Null))
                .collect();
            sink.data_row(&values, &types, &[])?;
        }
        sink.command_complete(&format!("SELECT {}", self.rows.len()))
    }
}

/// Collapses runs of whitespace into one space (PostgreSQL's subscriber
/// builds its queries with newlines and indentation).
fn squash_whitespace(sql: &str) -> String {
    sql.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Parses a list of `quote_literal` strings separated by commas (`'a', 'b'`,
/// `E'c\\d'`); `None` if anything else is there.
fn parse_literal_list(text: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut chars = text.trim().chars().peekable();
    loop {
        while chars.peek() == Some(&' ') {
            chars.next();
        }
        let escaped = matches!(chars.peek(), Some('E') | Some('e'));
        if escaped {
            chars.next();
        }
        if chars.next() != Some('\'') {
            return None;
        }
        let mut s = String::new();
        loop {
            match chars.next()? {
                '\'' if chars.peek() == Some(&'\'') => {
                    chars.next();
                    s.push('\'');
                }
                '\'' => break,
                '\\' if escaped => s.push(chars.next()?),
                c => s.push(c),
            }
        }
        out.push(s);
        while chars.peek() == Some(&' ') {
            chars.next();
        }
        match chars.next() {
            None => return Some(out),
            Some(',') => continue,
            Some(_) => return None,
        }
    }
}

/// `prefix <relid> suffix ( <publication list> )`: the relid and the list.
fn relid_and_publications(rest: &str, middle: &str) -> Option<(u32, Vec<String>)> {
    let (relid, after) = rest.split_once(middle)?;
    let relid = relid.trim().parse().ok()?;
    let list = after.strip_suffix(')')?;
    Some((relid, parse_literal_list(list)?))
}

/// The catalog queries of PostgreSQL 16 and 17 subscribers that call
/// `pg_get_publication_tables` (a set-returning function over composite
/// results that tandem's SQL does not run), answered from the catalog.
/// tandem has neither column lists nor row filters, so every published
/// table is published whole. Other queries (`None`) go to the SQL session.
///
/// - `fetch_table_list` (CREATE SUBSCRIPTION, ALTER SUBSCRIPTION ... REFRESH
///   PUBLICATION): `nspname, relname, attrs` of every table the named
///   publications publish, `attrs` its live columns' numbers;
/// - the tablesync worker's column-list query: one NULL (all columns) per
///   published table;
/// - its row-filter query: one NULL (no filter).
pub(super) fn subscriber_catalog_query(
    catalog: &tandem_storage::Catalog,
    sql: &str,
) -> Option<CannedResult> {
    const TABLE_LIST: &str = "SELECT DISTINCT n.nspname, c.relname, gpt.attrs FROM pg_class c \
        JOIN pg_namespace n ON n.oid = c.relnamespace JOIN ( SELECT \
        (pg_get_publication_tables(VARIADIC array_agg(pubname::text))).* FROM pg_publication \
        WHERE pubname IN (";
    const TABLE_LIST_END: &str = ")) AS gpt ON gpt.relid = c.oid";
    const COLUMN_LIST: &str = "SELECT DISTINCT (CASE WHEN (array_length(gpt.attrs, 1) = \
        c.relnatts) THEN NULL ELSE gpt.attrs END) FROM pg_publication p, LATERAL \
        pg_get_publication_tables(p.pubname) gpt, pg_class c WHERE gpt.relid =";
    const COLUMN_LIST_MIDDLE: &str = "AND c.oid = gpt.relid AND p.pubname IN (";
    const ROW_FILTER: &str = "SELECT DISTINCT pg_get_expr(gpt.qual, gpt.relid) FROM \
        pg_publication p, LATERAL pg_get_publication_tables(p.pubname) gpt WHERE gpt.relid =";
    const ROW_FILTER_MIDDLE: &str = "AND p.pubname IN (";

    let q = squash_whitespace(sql);
    let q = q.trim_end_matches(';').trim_end();
    let published = |pubs: &[String], table: &tandem_storage::TableDef| {
        catalog
            .publications
            .values()
            .any(|p| pubs.contains(&p.name) && p.includes(table.oid))
    };
    if let Some(rest) = q.strip_prefix(TABLE_LIST) {
        let pubs = parse_literal_list(rest.strip_suffix(TABLE_LIST_END)?)?;
        let mut rows: Vec<Vec<Option<String>>> = catalog
            .tables
            .values()
            .filter(|t| published(&pubs, t))
            .map(|t| {
                let attrs: Vec<String> = t
                    .columns
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| !c.dropped)
                    .map(|(i, _)| (i + 1).to_string())
                    .collect();
                vec![
                    Some(t.schema.clone()),
                    Some(t.name.clone()),
                    Some(attrs.join(" ")),
                ]
            })
            .collect();
        rows.sort();
        return Some(CannedResult {
            columns: vec!["nspname", "relname", "attrs"],
            rows,
        });
    }
    let (column, (relid, pubs)) = if let Some(rest) = q.strip_prefix(COLUMN_LIST) {
        ("attrs", relid_and_publications(rest, COLUMN_LIST_MIDDLE)?)
    } else if let Some(rest) = q.strip_prefix(ROW_FILTER) {
        (
            "pg_get_expr",
            relid_and_publications(rest, ROW_FILTER_MIDDLE)?,
        )
    } else {
        return None;
    };
    let published = catalog
        .tables
        .get(&Oid(relid))
        .is_some_and(|t| published(&pubs, t));
    Some(CannedResult {
        columns: vec![column],
        rows: if published { vec![vec![None]] } else { vec![] },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_lists() {
        assert_eq!(
            parse_literal_list(" 'p', 'it''s' ,E'a\\\\b'"),
            Some(vec!["p".into(), "it's".into(), "a\\b".into()])
        );
        assert_eq!(parse_literal_list("'p' 'q'"), None);
        assert_eq!(parse_literal_list("p"), None);
    }

    #[test]
    fn pg17_queries_are_recognized() {
        let cat = tandem_storage::Catalog::default();
        let list = "SELECT DISTINCT n.nspname, c.relname, gpt.attrs\n       FROM pg_class c\n         JOIN pg_namespace n ON n.oid = c.relnamespace\n         JOIN ( SELECT (pg_get_publication_tables(VARIADIC array_agg(pubname::text))).*\n                FROM pg_publication\n                WHERE pubname IN ( 'p' )) AS gpt\n             ON gpt.relid = c.oid\n";
        let r = subscriber_catalog_query(&cat, list).map(|r| r.columns);
        assert_eq!(r, Some(vec!["nspname", "relname", "attrs"]));
        let cols = "SELECT DISTINCT  (CASE WHEN (array_length(gpt.attrs, 1) = c.relnatts)   THEN NULL ELSE gpt.attrs END)  FROM pg_publication p,  LATERAL pg_get_publication_tables(p.pubname) gpt,  pg_class c WHERE gpt.relid = 16384 AND c.oid = gpt.relid   AND p.pubname IN ( 'p' )";
        let r = subscriber_catalog_query(&cat, cols).map(|r| r.columns);
        assert_eq!(r, Some(vec!["attrs"]));
        let filt = "SELECT DISTINCT pg_get_expr(gpt.qual, gpt.relid)  FROM pg_publication p,  LATERAL pg_get_publication_tables(p.pubname) gpt WHERE gpt.relid = 16384   AND p.pubname IN ( 'p', 'q' )";
        let r = subscriber_catalog_query(&cat, filt).map(|r| r.rows.len());
        assert_eq!(r, Some(0));
        assert!(subscriber_catalog_query(&cat, "SELECT 1").is_none());
    }
}
