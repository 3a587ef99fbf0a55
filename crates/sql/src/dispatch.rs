//! Statement dispatch: routes one parsed statement to its implementation and
//! returns its CommandComplete tag (PostgreSQL's `tcop/utility.c`
//! `standard_ProcessUtility` plus `pquery.c`'s portal strategies, reduced).
//!
//! Rows leave through [`Output`]: streamed with a RowDescription (simple
//! protocol), streamed without one in the Bind's formats (extended Execute), or
//! collected for a portal that is read in pages (Execute with `max_rows`).

use std::sync::Arc;

use sqlparser::ast::Statement;
use tandem_query::{CommandKind, OutputColumn, Plan};
use tandem_types::{DataType, PgError, PgResult, SqlState, Value};

use crate::front_parser::{FrontStmt, ParsedStmt, StmtKind};
use crate::session::Session;
use crate::tags::{plan_command_name, plan_tag};
use crate::transaction::parse_isolation;
use crate::{copy, ddl, utility, FieldDescription, QuerySink};

pub(crate) enum RowMode<'f> {
    /// RowDescription, then text DataRows.
    Simple,
    /// DataRows in these formats (one per column, or empty for all text).
    Extended(&'f [i16]),
    /// Kept for paging, to be sent in these formats.
    Collect(Vec<Vec<Value>>, &'f [i16]),
}

/// The catalog OID alias columns are named from, the session's
/// `search_path` (a relation found by its name alone prints unqualified)
/// and those columns' positions.
type RegNames = (Arc<tandem_storage::Catalog>, Arc<[String]>, Vec<usize>);

pub(crate) struct Output<'a, 'f> {
    pub sink: &'a mut dyn QuerySink,
    pub mode: RowMode<'f>,
    /// Column types of the rows being produced (set by `describe`).
    pub types: Vec<DataType>,
    /// How OID alias columns (`regclass`, ...) sent as text are named (set
    /// by `run_plan`).
    names: Option<RegNames>,
    /// The `int2vector`/`oidvector` columns sent as text: held as arrays,
    /// they print as space-separated lists (set by `describe`).
    vectors: Vec<usize>,
}

impl<'a, 'f> Output<'a, 'f> {
    pub(crate) fn new(sink: &'a mut dyn QuerySink, mode: RowMode<'f>) -> Output<'a, 'f> {
        Output {
            sink,
            mode,
            types: Vec::new(),
            names: None,
            vectors: Vec::new(),
        }
    }

    /// Whether column `i` goes out in text format.
    fn text_column(&self, i: usize) -> bool {
        let formats = match &self.mode {
            RowMode::Simple => return true,
            RowMode::Extended(f) | RowMode::Collect(_, f) => f,
        };
        match formats.len() {
            0 => true,
            1 => formats[0] == 0,
            _ => formats.get(i).is_none_or(|f| *f == 0),
        }
    }

    /// Text output of OID alias columns prints names, as PostgreSQL's
    /// `regclassout` and friends do; they need the catalog.
    fn name_reg_columns(&mut self, ctx: &tandem_expr::ExecContext<'_>) {
        let cols: Vec<usize> = (0..self.types.len())
            .filter(|&i| {
                matches!(
                    self.types[i],
                    DataType::RegClass | DataType::RegType | DataType::RegNamespace
                ) && self.text_column(i)
            })
            .collect();
        if !cols.is_empty() {
            let path = tandem_expr::reg::session_search_path(ctx);
            self.names = Some((ctx.txn.catalog(), path, cols));
        }
    }

    /// The statement returns rows of these columns.
    pub(crate) fn describe(&mut self, fields: &[FieldDescription]) -> PgResult<()> {
        self.types = fields.iter().map(|f| f.data_type.clone()).collect();
        self.vectors = (0..self.types.len())
            .filter(|&i| {
                matches!(self.types[i], DataType::Int2Vector | DataType::OidVector)
                    && self.text_column(i)
            })
            .collect();
        match self.mode {
            RowMode::Simple => self.sink.row_description(fields),
            _ => Ok(()),
        }
    }

    pub(crate) fn row(&mut self, mut row: Vec<Value>) -> PgResult<()> {
        for &i in &self.vectors {
            if let Some(Value::Array(items)) = row.get(i) {
                let words: Vec<String> = items.iter().map(tandem_expr::to_text).collect();
                row[i] = Value::Text(words.join(" "));
            }
        }
        if let Some((catalog, path, cols)) = &self.names {
            for &i in cols {
                if let Some(Value::Oid(o)) = row.get(i) {
                    let name = tandem_expr::reg::reg_name(*o, &self.types[i], catalog, Some(path));
                    row[i] = Value::Text(name);
                }
            }
        }
        match &mut self.mode {
            RowMode::Simple => self.sink.data_row(&row, &self.types, &[]),
            RowMode::Extended(formats) => self.sink.data_row(&row, &self.types, formats),
            RowMode::Collect(rows, _) => {
                rows.push(row);
                Ok(())
            }
        }
    }
}

/// RowDescription fields of a plan's output.
pub(crate) fn plan_fields(columns: &[OutputColumn], formats: &[i16]) -> Vec<FieldDescription> {
    columns
        .iter()
        .enumerate()
        .map(|(i, c)| FieldDescription {
            name: c.name.clone(),
            table_oid: c.table_oid.0,
            column_id: c.attnum,
            data_type: c.data_type.clone(),
            format: formats.get(i).copied().unwrap_or(0),
        })
        .collect()
}

/// Does a plan send RowDescription? SELECT always, DML only with RETURNING.
pub(crate) fn plan_returns_rows(plan: &Plan) -> bool {
    plan.kind == CommandKind::Select || !plan.columns.is_empty()
}

/// Runs one statement in the current transaction state; returns its tag.
pub(crate) fn execute(
    s: &mut Session,
    stmt: &ParsedStmt,
    out: &mut Output<'_, '_>,
) -> PgResult<String> {
    match &stmt.kind {
        StmtKind::Front(f) => execute_front(s, f, out),
        StmtKind::Sql {
            stmt: ast,
            create_user,
            overriding,
        } => execute_sql(s, ast, *create_user, *overriding, &stmt.text, out),
    }
}

fn execute_front(s: &mut Session, stmt: &FrontStmt, out: &mut Output<'_, '_>) -> PgResult<String> {
    match stmt {
        FrontStmt::AlterSystem { name, value } => utility::alter_system(s, name, value.as_deref()),
        FrontStmt::Checkpoint => utility::checkpoint(s),
        FrontStmt::Vacuum { tables, .. } => utility::vacuum(s, tables),
        FrontStmt::Analyze { tables } => utility::analyze(s, tables),
        FrontStmt::Copy(c) => copy::copy(s, c, out),
        FrontStmt::CreateSequence(seq) => ddl::sequence::create(s, seq),
        FrontStmt::AlterSequence(seq) => ddl::sequence::alter(s, seq),
        FrontStmt::Publication(p) => ddl::publication::execute(s, p),
        FrontStmt::Subscription(sub) => ddl::subscription::execute(s, sub),
        FrontStmt::Grant(g) => ddl::grant::execute(s, g),
        FrontStmt::Move { name, direction } => crate::cursor::move_forward(s, name, direction),
        FrontStmt::CreateTableLike { text, base, likes } => {
            ddl::table_like::create(s, text, *base, likes)
        }
        FrontStmt::Unsupported(what) => Err(PgError::unsupported(what)),
    }
}

fn execute_sql(
    s: &mut Session,
    stmt: &Statement,
    create_user: bool,
    overriding: Option<tandem_query::Overriding>,
    text: &str,
    out: &mut Output<'_, '_>,
) -> PgResult<String> {
    if tandem_query::is_plannable(stmt) {
        let mut types = Vec::new();
        let plan = s.with_ctx(&[], |ctx| {
            tandem_query::plan_with(stmt, &mut types, ctx, overriding)
        })?;
        if !types.is_empty() {
            return Err(PgError::new(
                SqlState::UNDEFINED_PARAMETER,
                "there is no parameter $1",
            ));
        }
        return run_plan(s, &plan, &[], out);
    }
    match stmt {
        Statement::StartTransaction { modes, begin, .. } => {
            let (state, effect) = s.xact.state.begin();
            let warned = matches!(effect, crate::transaction::Effect::Warn(_));
            s.xact.state = state;
            s.apply(effect)?;
            if !warned {
                utility::apply_transaction_modes(s, modes)?;
            }
            Ok(if *begin { "BEGIN" } else { "START TRANSACTION" }.into())
        }
        Statement::Commit { chain: true, .. } | Statement::Rollback { chain: true, .. } => {
            Err(PgError::unsupported("AND CHAIN"))
        }
        Statement::Commit { .. } => {
            let (state, effect, tag) = s.xact.state.commit();
            s.xact.state = state;
            s.apply(effect)?;
            Ok(tag.into())
        }
        Statement::Rollback {
            savepoint: Some(name),
            ..
        } => {
            for (n, v) in s.rollback_to_savepoint(&crate::types::ident(name))? {
                out.sink.parameter_status(&n, &v)?;
            }
            Ok("ROLLBACK".into())
        }
        Statement::Rollback { .. } => {
            let (state, effect) = s.xact.state.rollback();
            s.xact.state = state;
            s.apply(effect)?;
            Ok("ROLLBACK".into())
        }
        Statement::Savepoint { name } => {
            s.savepoint(crate::types::ident(name))?;
            Ok("SAVEPOINT".into())
        }
        Statement::ReleaseSavepoint { name } => {
            s.release_savepoint(&crate::types::ident(name))?;
            Ok("RELEASE".into())
        }
        Statement::Set(set) => utility::set(s, set, out.sink),
        Statement::ShowVariable { variable } => utility::show(s, variable, out),
        Statement::Reset(r) => utility::reset(s, r, out.sink),
        Statement::Discard { object_type } => utility::discard(s, object_type),
        Statement::Deallocate { name, .. } => utility::deallocate(s, name),
        Statement::Prepare {
            name,
            data_types,
            statement,
        } => utility::prepare(s, name, data_types, statement, text),
        Statement::Execute {
            name: Some(name),
            parameters,
            ..
        } => utility::execute(s, name, parameters, out),
        Statement::Explain {
            analyze,
            statement,
            options,
            ..
        } => utility::explain(s, *analyze, options.as_deref(), statement, out),
        Statement::CreateTable(ct) => ddl::table::create(s, ct),
        Statement::CreateIndex(ci) => ddl::index::create(s, ci),
        Statement::CreateView(cv) => ddl::view::create(s, cv),
        Statement::CreateSchema {
            schema_name,
            if_not_exists,
            or_replace: false,
            with: None,
            options: None,
            default_collate_spec: None,
            clone: None,
        } => ddl::schema::create(s, schema_name, *if_not_exists),
        Statement::CreateType {
            name,
            representation,
        } => ddl::enum_type::create(s, name, representation.as_ref()),
        Statement::AlterType(at) => ddl::enum_type::alter(s, at),
        Statement::Comment {
            object_type,
            object_name,
            comment,
            ..
        } => ddl::comment::comment(s, object_type, object_name, comment),
        Statement::AlterTable(at) => ddl::table::alter(s, at),
        Statement::AlterSchema(a) => ddl::schema::alter(s, a),
        Statement::Truncate(t) => ddl::table::truncate(s, t),
        Statement::Drop {
            object_type,
            if_exists,
            names,
            cascade,
            ..
        } => ddl::drop(s, object_type, *if_exists, names, *cascade, text),
        Statement::CreateRole(cr) => ddl::role::create(s, cr, create_user),
        Statement::AlterRole { name, operation } => ddl::role::alter(s, name, operation),
        Statement::LISTEN { channel } => utility::listen(s, channel),
        Statement::Close { cursor } => crate::cursor::close(s, cursor),
        Statement::Declare { stmts } => match stmts.as_slice() {
            [d] => crate::cursor::declare(s, d, &[], &[]),
            _ => Err(PgError::unsupported(construct_name(text))),
        },
        Statement::Fetch {
            name,
            direction,
            into: None,
            ..
        } => crate::cursor::fetch(s, name, direction, out),
        Statement::UNLISTEN { channel } => utility::unlisten(s, channel),
        Statement::NOTIFY { channel, payload } => utility::notify(s, channel, payload.as_deref()),
        _ => Err(PgError::unsupported(construct_name(text))),
    }
}

/// Executes a plan into `out`; returns the tag.
pub(crate) fn run_plan(
    s: &mut Session,
    plan: &Plan,
    params: &[Value],
    out: &mut Output<'_, '_>,
) -> PgResult<String> {
    if plan.writes() {
        s.check_writable(plan_command_name(plan.kind))?;
    }
    if plan_returns_rows(plan) {
        out.describe(&plan_fields(&plan.columns, &[]))?;
    }
    let rows = s.with_ctx(params, |ctx| {
        out.name_reg_columns(ctx);
        tandem_query::execute(plan, ctx, &mut |row| out.row(row))
    })?;
    Ok(plan_tag(plan.kind, rows))
}

/// `CREATE INDEX`, `GRANT`, ...: the leading words naming an unsupported construct.
pub(crate) fn construct_name(text: &str) -> String {
    let words: Vec<String> = crate::front_parser::lex(text)
        .map(|toks| {
            toks.into_iter()
                .map_while(|t| match t.tok {
                    crate::front_parser::Tok::Word {
                        text,
                        quoted: false,
                    } => Some(text.to_uppercase()),
                    _ => None,
                })
                .take(4)
                .collect()
        })
        .unwrap_or_default();
    let first = words.first().cloned().unwrap_or_default();
    match first.as_str() {
        "CREATE" | "ALTER" | "DROP" | "COMMENT" => {
            let skip = [
                "OR",
                "REPLACE",
                "UNIQUE",
                "TEMP",
                "TEMPORARY",
                "UNLOGGED",
                "MATERIALIZED",
                "ON",
            ];
            let next = words[1..]
                .iter()
                .find(|w| !skip.contains(&w.as_str()))
                .cloned();
            match next {
                Some(n) => format!("{first} {n}"),
                None => first,
            }
        }
        _ => first,
    }
}

/// `ISOLATION LEVEL` text of a transaction mode.
pub(crate) fn isolation_from_ast(
    l: &sqlparser::ast::TransactionIsolationLevel,
) -> PgResult<tandem_storage::IsolationLevel> {
    use sqlparser::ast::TransactionIsolationLevel as L;
    let name = match l {
        L::ReadUncommitted => "read uncommitted",
        L::ReadCommitted => "read committed",
        L::RepeatableRead => "repeatable read",
        L::Serializable => "serializable",
        L::Snapshot => return Err(PgError::syntax("syntax error at or near \"SNAPSHOT\"")),
    };
    parse_isolation(name).ok_or_else(|| PgError::internal("isolation level"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsupported_construct_names() {
        assert_eq!(
            construct_name("create unique index i on t(a)"),
            "CREATE INDEX"
        );
        assert_eq!(
            construct_name("CREATE OR REPLACE VIEW v AS select 1"),
            "CREATE VIEW"
        );
        assert_eq!(construct_name("listen chan"), "LISTEN");
    }
}
