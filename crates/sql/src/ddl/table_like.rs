//! `CREATE TABLE name (... LIKE source [INCLUDING | EXCLUDING option] ...)`
//! (PostgreSQL's `transformTableLikeClause`): each LIKE element is replaced
//! by the source's columns (names, types, NOT NULL; defaults, CHECK
//! constraints, identity as the options ask), the statement then runs as
//! any CREATE TABLE (`table.rs`), and the source's indexes and column
//! comments follow when asked for. The front parser finds the elements,
//! which sqlparser does not read (`front_parser::LikeClause`).

use tandem_expr::ExecContext;
use tandem_storage::{ConstraintKind, TableDef};
use tandem_types::ident::quote_identifier;
use tandem_types::{PgError, PgResult};

use super::undefined_relation;
use crate::front_parser::{char_pos, parse_with_sqlparser, LikeClause};
use crate::session::Session;
use crate::types::RelName;

/// What the options of one LIKE ask to copy besides columns and NOT NULL.
#[derive(Default)]
struct Copied {
    comments: bool,
    constraints: bool,
    defaults: bool,
    identity: bool,
    indexes: bool,
}

impl Copied {
    /// The options in order, a later one overriding an earlier (`INCLUDING
    /// ALL EXCLUDING INDEXES`); those tandem has nothing to copy for
    /// (compression, generated, statistics, storage) are accepted.
    fn of(options: &[(bool, String)]) -> Copied {
        let mut c = Copied::default();
        for (on, o) in options {
            let all = o == "all";
            if all || o == "comments" {
                c.comments = *on;
            }
            if all || o == "constraints" {
                c.constraints = *on;
            }
            if all || o == "defaults" {
                c.defaults = *on;
            }
            if all || o == "identity" {
                c.identity = *on;
            }
            if all || o == "indexes" {
                c.indexes = *on;
            }
        }
        c
    }
}

/// What runs after the table is made: an index over columns (unique or
/// not), a column comment.
enum After {
    Index { unique: bool, columns: Vec<String> },
    Comment { column: String, text: String },
}

pub(crate) fn create(
    s: &mut Session,
    text: &str,
    base: usize,
    likes: &[LikeClause],
) -> PgResult<String> {
    s.check_writable("CREATE TABLE")?;
    let (sql, after) = s.with_ctx(&[], |ctx| {
        let mut sql = text.to_string();
        let mut after = Vec::new();
        // from the last, so that the earlier ranges stay where they are
        for like in likes.iter().rev() {
            let source = source_table(ctx, &like.source)
                .map_err(|e| e.with_position(char_pos(text, like.source_at, base)))?;
            let mut more = Vec::new();
            let elements = elements(ctx, &source, &Copied::of(&like.options), &mut more);
            sql.replace_range(like.start..like.end, &elements);
            more.extend(after);
            after = more;
        }
        Ok((sql, after))
    })?;
    let stmt = parse_with_sqlparser(&sql, &sql, base, false)?;
    let sqlparser::ast::Statement::CreateTable(ct) = &stmt else {
        return Err(PgError::syntax("syntax error in CREATE TABLE"));
    };
    super::table::create(s, ct)?;
    let table = ct.name.to_string();
    for a in after {
        let stmt = match &a {
            After::Index { unique, columns } => format!(
                "CREATE {}INDEX ON {table} ({})",
                if *unique { "UNIQUE " } else { "" },
                columns.join(", ")
            ),
            After::Comment { column, text } => format!(
                "COMMENT ON COLUMN {table}.{column} IS '{}'",
                text.replace('\'', "''")
            ),
        };
        match parse_with_sqlparser(&stmt, &stmt, 0, false)? {
            sqlparser::ast::Statement::CreateIndex(ci) => {
                super::index::create(s, &ci)?;
            }
            sqlparser::ast::Statement::Comment {
                object_type,
                object_name,
                comment,
                ..
            } => {
                super::comment::comment(s, &object_type, &object_name, &comment)?;
            }
            _ => return Err(PgError::internal("unexpected statement after LIKE")),
        }
    }
    Ok("CREATE TABLE".into())
}

/// The table a LIKE names (`42P01` when there is none).
fn source_table(ctx: &ExecContext<'_>, written: &str) -> PgResult<std::sync::Arc<TableDef>> {
    let (schema, name) = tandem_expr::reg::parse_qualified(written);
    let rel = RelName {
        schema,
        name,
        at: None,
    };
    rel.table(ctx)
        .ok_or_else(|| undefined_relation(&rel.shown()))
}

/// The table elements a LIKE of `def` stands for; the indexes and comments
/// to make after the table go to `after`.
fn elements(
    ctx: &ExecContext<'_>,
    def: &TableDef,
    copied: &Copied,
    after: &mut Vec<After>,
) -> String {
    let cat = ctx.txn.catalog();
    let key_columns: Vec<usize> = def
        .primary_key
        .as_ref()
        .map(|pk| pk.columns.clone())
        .unwrap_or_default();
    let mut out: Vec<String> = Vec::new();
    for (pos, c) in def.columns.iter().enumerate().filter(|(_, c)| !c.dropped) {
        let mut e = format!(
            "{} {}",
            quote_identifier(&c.name),
            c.data_type.display_name()
        );
        if c.not_null || key_columns.contains(&pos) {
            e.push_str(" NOT NULL");
        }
        match (copied.identity, cat.identity(def.oid, pos)) {
            (true, Some(always)) => e.push_str(if always {
                " GENERATED ALWAYS AS IDENTITY"
            } else {
                " GENERATED BY DEFAULT AS IDENTITY"
            }),
            _ => {
                if let (true, Some(d)) = (copied.defaults, &c.default) {
                    if cat.identity(def.oid, pos).is_none() {
                        e.push_str(" DEFAULT ");
                        e.push_str(d);
                    }
                }
            }
        }
        out.push(e);
        if copied.comments {
            let key = (def.oid, super::comment::PG_CLASS, pos as i32 + 1);
            if let Some(text) = cat.comments.get(&key) {
                after.push(After::Comment {
                    column: quote_identifier(&c.name),
                    text: text.clone(),
                });
            }
        }
    }
    let names = |cols: &[usize]| -> Vec<String> {
        cols.iter()
            .filter_map(|&i| def.columns.get(i))
            .map(|c| quote_identifier(&c.name))
            .collect()
    };
    if copied.constraints {
        for con in cat.constraints_of(def.oid) {
            if let ConstraintKind::Check { expr, .. } = &con.kind {
                out.push(format!(
                    "CONSTRAINT {} CHECK ({expr})",
                    quote_identifier(&con.name)
                ));
            }
        }
    }
    if copied.indexes {
        if !key_columns.is_empty() {
            out.push(format!("PRIMARY KEY ({})", names(&key_columns).join(", ")));
        }
        for idx in cat.indexes_of(def.oid) {
            if idx.constraint {
                out.push(format!("UNIQUE ({})", names(&idx.columns).join(", ")));
            } else {
                after.push(After::Index {
                    unique: idx.unique,
                    columns: names(&idx.columns),
                });
            }
        }
    }
    out.join(", ")
}
