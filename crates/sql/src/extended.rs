//! The extended query protocol: prepared statements and portals (PostgreSQL's
//! `tcop/postgres.c` `exec_parse_message` / `exec_bind_message` /
//! `exec_execute_message`, `utils/cache/plancache.c`, `utils/mmgr/portalmem.c`).
//!
//! ```text
//! Parse(name, sql, oids) ── parse + plan once ──▶ Prepared { stmt, param types, plan }
//! Bind(portal, name, params, formats) ───────────▶ Portal { Prepared, values, formats }
//! Execute(portal, max_rows)
//!     max_rows = 0, fresh portal: rows stream straight to the client
//!     max_rows > 0: the result is materialized once, then paged (PortalSuspended)
//! Sync: an implicit transaction (started by Parse/Bind/Execute) commits
//! ```
//!
//! Plan cache: a prepared statement keeps its plan with the `Arc<Catalog>` it was
//! made against; an execution re-plans only when the transaction's catalog is a
//! different `Arc` (DDL happened). `pgbench -M prepared` therefore plans once.
//! Portals live until closed or until their transaction ends.

use std::collections::VecDeque;
use std::sync::Arc;

use parking_lot::Mutex;
use sqlparser::ast::Statement;
use tandem_query::Plan;
use tandem_storage::Catalog;
use tandem_types::{DataType, PgError, PgResult, SqlState, Value};

use crate::dispatch::{self, plan_fields, plan_returns_rows, run_plan, Output, RowMode};
use crate::front_parser::{self, ParsedStmt, StmtKind};
use crate::session::{is_exit_statement, Session};
use crate::types::type_from_oid;
use crate::{utility, ExecuteOutcome, FieldDescription, QuerySink};

struct CachedPlan {
    plan: Arc<Plan>,
    catalog: Arc<Catalog>,
}

/// A prepared statement (named, or the unnamed one).
pub(crate) struct Prepared {
    /// `None` for an empty query string.
    pub stmt: Option<ParsedStmt>,
    /// After planning: every `$n`'s type (unknowns resolved to text).
    pub param_types: Vec<DataType>,
    pub text: String,
    plan: Mutex<Option<CachedPlan>>,
}

impl Prepared {
    pub(crate) fn forget_plan(&self) {
        *self.plan.lock() = None;
    }

    pub(crate) fn plannable(&self) -> Option<&Statement> {
        match &self.stmt {
            Some(ParsedStmt {
                kind: StmtKind::Sql { stmt, .. },
                ..
            }) if tandem_query::is_plannable(stmt) => Some(stmt),
            _ => None,
        }
    }

    fn is_exit(&self) -> bool {
        self.stmt.as_ref().is_some_and(is_exit_statement)
    }
}

enum PortalState {
    New,
    /// Materialized rows still to send.
    Buffered {
        rows: VecDeque<Vec<Value>>,
        types: Vec<DataType>,
        tag: String,
    },
    Done {
        tag: String,
    },
}

/// A bound statement ready to run.
pub(crate) struct Portal {
    prepared: Arc<Prepared>,
    params: Vec<Value>,
    /// One per result column, or empty for all text.
    formats: Vec<i16>,
    state: PortalState,
}

fn no_statement(name: &str) -> PgError {
    if name.is_empty() {
        PgError::new(
            SqlState::INVALID_SQL_STATEMENT_NAME,
            "unnamed prepared statement does not exist",
        )
    } else {
        PgError::new(
            SqlState::INVALID_SQL_STATEMENT_NAME,
            format!("prepared statement \"{name}\" does not exist"),
        )
    }
}

fn no_portal(name: &str) -> PgError {
    PgError::new(
        SqlState::INVALID_CURSOR_NAME,
        format!("portal \"{name}\" does not exist"),
    )
}

fn protocol(msg: String) -> PgError {
    PgError::new(SqlState::PROTOCOL_VIOLATION, msg)
}

/// Formats as the client sent them, expanded to one per item (0, 1 or n given).
fn expand_formats(formats: &[i16], n: usize, what: &str, count_name: &str) -> PgResult<Vec<i16>> {
    match formats.len() {
        0 => Ok(vec![0; n]),
        1 => Ok(vec![formats[0]; n]),
        k if k == n => Ok(formats.to_vec()),
        k => Err(protocol(format!(
            "bind message has {k} {what} formats but {n} {count_name}"
        ))),
    }
}

impl Session {
    /// Parses and plans a statement (Parse, SQL PREPARE).
    pub(crate) fn prepare_statement(
        &mut self,
        stmt: Option<ParsedStmt>,
        mut param_types: Vec<DataType>,
        text: &str,
    ) -> PgResult<Prepared> {
        let mut cached = None;
        if let Some(ParsedStmt {
            kind:
                StmtKind::Sql {
                    stmt: ast,
                    overriding,
                    ..
                },
            ..
        }) = &stmt
        {
            if tandem_query::is_plannable(ast) {
                let (plan, catalog) = self
                    .with_ctx(&[], |ctx| {
                        let plan =
                            tandem_query::plan_with(ast, &mut param_types, ctx, *overriding)?;
                        Ok((plan, ctx.txn.catalog()))
                    })
                    .map_err(|e| match &stmt {
                        Some(s) => s.locate(e),
                        None => e,
                    })?;
                cached = Some(CachedPlan {
                    plan: Arc::new(plan),
                    catalog,
                });
            }
        }
        for t in param_types.iter_mut() {
            if *t == DataType::Unknown {
                *t = DataType::Text;
            }
        }
        Ok(Prepared {
            stmt,
            param_types,
            text: text.to_string(),
            plan: Mutex::new(cached),
        })
    }

    /// The statement's plan, re-planned if the catalog changed since.
    pub(crate) fn plan_of(&mut self, p: &Prepared, ast: &Statement) -> PgResult<Arc<Plan>> {
        let catalog = self.with_ctx(&[], |ctx| Ok(ctx.txn.catalog()))?;
        self.plan_against(p, ast, catalog)
    }

    /// [`Session::plan_of`] with the transaction's catalog in hand.
    pub(crate) fn plan_against(
        &mut self,
        p: &Prepared,
        ast: &Statement,
        catalog: Arc<Catalog>,
    ) -> PgResult<Arc<Plan>> {
        if let Some(c) = p.plan.lock().as_ref() {
            if Arc::ptr_eq(&c.catalog, &catalog) {
                return Ok(Arc::clone(&c.plan));
            }
        }
        let mut types = p.param_types.clone();
        let overriding = match &p.stmt {
            Some(ParsedStmt {
                kind: StmtKind::Sql { overriding, .. },
                ..
            }) => *overriding,
            _ => None,
        };
        let plan = Arc::new(self.with_ctx(&[], |ctx| {
            tandem_query::plan_with(ast, &mut types, ctx, overriding)
        })?);
        *p.plan.lock() = Some(CachedPlan {
            plan: Arc::clone(&plan),
            catalog,
        });
        Ok(plan)
    }

    /// Runs a prepared statement with bound values into `out`; returns the tag.
    pub(crate) fn run_prepared(
        &mut self,
        p: &Prepared,
        params: &[Value],
        out: &mut Output<'_, '_>,
    ) -> PgResult<String> {
        let result = match (p.plannable(), &p.stmt) {
            (Some(ast), _) => self
                .plan_of(p, ast)
                .and_then(|plan| run_plan(self, &plan, params, out)),
            (None, Some(stmt)) => match declared_cursor(stmt) {
                Some(d) => crate::cursor::declare(self, d, params, &p.param_types),
                None => dispatch::execute(self, stmt, out),
            },
            (None, None) => Ok(String::new()),
        };
        result.map_err(|e| match &p.stmt {
            Some(s) => s.locate(e),
            None => e,
        })
    }

    /// Result columns of a prepared statement (`None`: NoData).
    fn result_fields(&mut self, p: &Prepared) -> PgResult<Option<Vec<FieldDescription>>> {
        if let Some(ast) = p.plannable() {
            let plan = self.plan_of(p, ast)?;
            return Ok(plan_returns_rows(&plan).then(|| plan_fields(&plan.columns, &[])));
        }
        match &p.stmt {
            Some(ParsedStmt {
                kind: StmtKind::Sql { stmt, .. },
                ..
            }) => match &**stmt {
                Statement::ShowVariable { variable } => {
                    Ok(Some(utility::show_fields(self, variable)))
                }
                Statement::Explain { .. } => Ok(Some(utility::explain_fields())),
                Statement::Fetch { name, .. } => {
                    crate::cursor::fields(self, &crate::types::ident(name)).map(Some)
                }
                _ => Ok(None),
            },
            _ => Ok(None),
        }
    }

    /// How many columns a prepared statement's rows have (0: NoData).
    fn result_width(&mut self, p: &Prepared) -> PgResult<usize> {
        if let Some(ast) = p.plannable() {
            let plan = self.plan_of(p, ast)?;
            return Ok(if plan_returns_rows(&plan) {
                plan.columns.len()
            } else {
                0
            });
        }
        Ok(self.result_fields(p)?.map_or(0, |f| f.len()))
    }

    /// Runs `f`; on error marks the transaction failed (as the server will too).
    fn guarded<R>(&mut self, f: impl FnOnce(&mut Session) -> PgResult<R>) -> PgResult<R> {
        let r = f(self);
        if r.is_err() {
            self.on_error();
        }
        r
    }

    /// Parse: `param_oids` as sent (0 = unspecified).
    pub fn parse(&mut self, name: &str, sql: &str, param_oids: &[u32]) -> PgResult<()> {
        self.guarded(|s| {
            if !name.is_empty() && s.prepared.contains_key(name) {
                return Err(PgError::new(
                    SqlState::DUPLICATE_PREPARED_STATEMENT,
                    format!("prepared statement \"{name}\" already exists"),
                ));
            }
            let stmt = front_parser::parse_single(sql)?;
            s.log_extended("parse", name, sql);
            let exit = stmt.as_ref().is_some_and(is_exit_statement);
            s.begin_statement();
            s.enter_statement(exit)?;
            let types = param_oids
                .iter()
                .map(|&o| match type_from_oid(o) {
                    // not built in: an enum type (or its array) of the catalog
                    Err(e) => s.with_ctx(&[], |ctx| {
                        tandem_expr::io_text::type_by_oid_in(o, &ctx.txn.catalog()).ok_or(e)
                    }),
                    found => found,
                })
                .collect::<PgResult<Vec<_>>>()?;
            let prepared = s.prepare_statement(stmt, types, sql)?;
            s.prepared.insert(name.to_string(), Arc::new(prepared));
            Ok(())
        })
    }

    pub fn bind(
        &mut self,
        portal: &str,
        statement: &str,
        param_formats: &[i16],
        params: &[Option<Vec<u8>>],
        result_formats: &[i16],
    ) -> PgResult<()> {
        self.guarded(|s| {
            let prepared = s.prepared.get(statement).cloned().ok_or_else(|| no_statement(statement))?;
            s.enter_statement(prepared.is_exit())?;
            s.sync_time_zone();
            let needed = prepared.param_types.len();
            if params.len() != needed {
                return Err(protocol(format!(
                    "bind message supplies {} parameters, but prepared statement \"{statement}\" requires {needed}",
                    params.len()
                )));
            }
            let pformats = expand_formats(param_formats, params.len(), "parameter", "parameters")?;
            let mut values = Vec::with_capacity(params.len());
            for ((p, ty), fmt) in params.iter().zip(&prepared.param_types).zip(&pformats) {
                values.push(match p {
                    None => Value::Null,
                    Some(bytes) if *fmt == 1 => tandem_expr::binary_in(bytes, ty)?,
                    Some(bytes) => {
                        let text = std::str::from_utf8(bytes).map_err(|_| {
                            PgError::new(
                                SqlState::CHARACTER_NOT_IN_REPERTOIRE,
                                "invalid byte sequence for encoding \"UTF8\"",
                            )
                        })?;
                        if *ty == DataType::RegClass
                            && !text.trim().bytes().all(|b| b.is_ascii_digit())
                        {
                            // a relation's name: looked up in the catalog
                            s.with_ctx(&[], |ctx| {
                                let cat = ctx.txn.catalog();
                                let path = tandem_expr::reg::session_search_path(ctx);
                                tandem_expr::reg::lookup_relation(text, &cat, &path)
                                    .map(|(oid, _)| Value::Oid(oid))
                                    .ok_or_else(|| tandem_expr::reg::undefined_relation(text))
                            })?
                        } else {
                            tandem_expr::text_in(text, ty)?
                        }
                    }
                });
            }
            let ncols = s.result_width(&prepared)?;
            let formats = if result_formats.is_empty() {
                Vec::new()
            } else {
                match result_formats.len() {
                    1 => vec![result_formats[0]; ncols],
                    k if k == ncols => result_formats.to_vec(),
                    k => {
                        return Err(protocol(format!(
                            "bind message has {k} result formats but query has {ncols} columns"
                        )))
                    }
                }
            };
            if !portal.is_empty() && s.portals.contains_key(portal) {
                return Err(PgError::new(
                    SqlState::DUPLICATE_CURSOR,
                    format!("cursor \"{portal}\" already exists"),
                ));
            }
            s.portals.insert(
                portal.to_string(),
                Portal {
                    prepared,
                    params: values,
                    formats,
                    state: PortalState::New,
                },
            );
            Ok(())
        })
    }

    /// Describe 'S': ParameterDescription then RowDescription or NoData.
    pub fn describe_statement(&mut self, name: &str, sink: &mut dyn QuerySink) -> PgResult<()> {
        self.guarded(|s| {
            let prepared = s
                .prepared
                .get(name)
                .cloned()
                .ok_or_else(|| no_statement(name))?;
            s.enter_statement(prepared.is_exit())?;
            sink.parameter_description(&prepared.param_types)?;
            match s.result_fields(&prepared)? {
                Some(fields) => sink.row_description(&fields),
                None => sink.no_data(),
            }
        })
    }

    /// Describe 'P': RowDescription or NoData.
    pub fn describe_portal(&mut self, name: &str, sink: &mut dyn QuerySink) -> PgResult<()> {
        self.guarded(|s| {
            let (prepared, formats) = match s.portals.get(name) {
                Some(p) => (Arc::clone(&p.prepared), p.formats.clone()),
                // a SQL cursor is a portal too (psycopg describes the one
                // it DECLAREd before it FETCHes)
                None if s.cursors.contains_key(name) => {
                    return sink.row_description(&crate::cursor::fields(s, name)?);
                }
                None => return Err(no_portal(name)),
            };
            s.enter_statement(prepared.is_exit())?;
            match s.result_fields(&prepared)? {
                Some(mut fields) => {
                    for (f, fmt) in fields.iter_mut().zip(formats.iter()) {
                        f.format = *fmt;
                    }
                    sink.row_description(&fields)
                }
                None => sink.no_data(),
            }
        })
    }

    /// Execute: `max_rows == 0` means all.
    pub fn execute(
        &mut self,
        portal: &str,
        max_rows: u32,
        sink: &mut dyn QuerySink,
    ) -> PgResult<ExecuteOutcome> {
        let r = self.execute_portal(portal, max_rows, sink);
        if r.is_err() {
            let _ = self.flush_notices(sink);
            self.on_error();
        }
        r
    }

    fn execute_portal(
        &mut self,
        name: &str,
        max_rows: u32,
        sink: &mut dyn QuerySink,
    ) -> PgResult<ExecuteOutcome> {
        let mut portal = self.portals.remove(name).ok_or_else(|| no_portal(name))?;
        self.begin_statement();
        self.enter_statement(portal.prepared.is_exit())?;
        if let PortalState::New = portal.state {
            let prepared = Arc::clone(&portal.prepared);
            if prepared.stmt.is_none() {
                sink.empty_query()?;
                return Ok(ExecuteOutcome::Complete);
            }
            self.log_extended("execute", name, &prepared.text);
            if max_rows == 0 {
                let mut out = Output::new(sink, RowMode::Extended(&portal.formats));
                let tag = self.run_prepared(&prepared, &portal.params, &mut out)?;
                self.flush_notices(sink)?;
                sink.command_complete(&tag)?;
                portal.state = PortalState::Done { tag };
                self.portals.insert(name.to_string(), portal);
                return Ok(ExecuteOutcome::Complete);
            }
            let mut out = Output::new(sink, RowMode::Collect(Vec::new(), &portal.formats));
            let tag = self.run_prepared(&prepared, &portal.params, &mut out)?;
            let rows = match out.mode {
                RowMode::Collect(rows, _) => rows,
                _ => Vec::new(),
            };
            portal.state = PortalState::Buffered {
                rows: rows.into(),
                types: out.types,
                tag,
            };
        }
        let outcome = match &mut portal.state {
            PortalState::Buffered { rows, types, tag } => {
                let limit = if max_rows == 0 {
                    usize::MAX
                } else {
                    max_rows as usize
                };
                let mut sent = 0;
                while sent < limit {
                    let Some(row) = rows.pop_front() else { break };
                    sink.data_row(&row, types, &portal.formats)?;
                    sent += 1;
                }
                self.flush_notices(sink)?;
                if max_rows == 0 || sent < limit {
                    let tag = if tag.starts_with("SELECT ") {
                        format!("SELECT {sent}")
                    } else {
                        tag.clone()
                    };
                    sink.command_complete(&tag)?;
                    portal.state = PortalState::Done { tag };
                    ExecuteOutcome::Complete
                } else {
                    ExecuteOutcome::Suspended
                }
            }
            PortalState::Done { tag } => {
                let tag = if tag.starts_with("SELECT ") {
                    "SELECT 0".to_string()
                } else {
                    tag.clone()
                };
                sink.command_complete(&tag)?;
                ExecuteOutcome::Complete
            }
            PortalState::New => ExecuteOutcome::Complete,
        };
        self.portals.insert(name.to_string(), portal);
        Ok(outcome)
    }

    pub fn close_statement(&mut self, name: &str) {
        self.prepared.remove(name);
    }

    pub fn close_portal(&mut self, name: &str) {
        self.portals.remove(name);
    }

    /// Sync: ends an implicit extended-protocol transaction (commit, or rollback if
    /// it failed). Errors from the commit are returned.
    pub fn sync(&mut self) -> PgResult<()> {
        self.guarded(|s| s.end_of_batch())
    }
}

/// The cursor a prepared DECLARE makes (its query may take the Bind's values).
fn declared_cursor(stmt: &ParsedStmt) -> Option<&sqlparser::ast::Declare> {
    match &stmt.kind {
        StmtKind::Sql { stmt, .. } => match &**stmt {
            Statement::Declare { stmts } if stmts.len() == 1 => stmts.first(),
            _ => None,
        },
        StmtKind::Front(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_expansion() {
        assert_eq!(
            expand_formats(&[], 2, "parameter", "parameters").expect("ok"),
            vec![0, 0]
        );
        assert_eq!(
            expand_formats(&[1], 3, "parameter", "parameters").expect("ok"),
            vec![1, 1, 1]
        );
        let e = expand_formats(&[0, 1], 3, "parameter", "parameters").unwrap_err();
        assert_eq!(e.code, SqlState::PROTOCOL_VIOLATION);
        assert_eq!(
            e.message,
            "bind message has 2 parameter formats but 3 parameters"
        );
    }
}
