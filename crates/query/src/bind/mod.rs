//! The binder: sqlparser AST + catalog -> plan ([`crate::plan`]).
//!
//! - `scope.rs`: which columns a name can mean (query levels, outer references).
//! - `expr.rs`: scalar expressions: literals typed by context, `$n` type inference,
//!   operators, functions, subqueries, output column names.
//! - `select.rs`: queries: FROM (tables, virtual tables, subqueries, VALUES, table
//!   functions, joins, LATERAL), WHERE pushdown and primary-key lookups, GROUP BY /
//!   aggregates / HAVING, DISTINCT [ON], ORDER BY, LIMIT, set operations, CTEs.
//!
//! Corresponds to PostgreSQL's `parser/analyze.c` + the parts of
//! `optimizer/plan/planner.c` a small OLTP executor needs.

pub mod expr;
pub mod recursive;
pub mod scope;
pub mod select;
pub mod window;

use std::sync::Arc;

use sqlparser::ast::{self, Ident, ObjectName, ObjectNamePart};
use tandem_storage::Catalog;
use tandem_types::{DataType, Oid, PgError, PgResult};

use scope::Level;

/// A common table expression visible to the query being bound.
#[derive(Clone, Debug)]
pub struct CteDef {
    pub name: String,
    pub query: ast::Query,
    pub columns: Vec<String>,
    /// Defined by `WITH RECURSIVE`: it may refer to itself.
    pub recursive: bool,
    /// While its own query is being bound (`recursive.rs`).
    pub state: CteState,
    /// A data-modifying CTE (`WITH x AS (DELETE ... RETURNING ...)`): the
    /// work table its RETURNING rows are kept in, and their columns.
    pub dml: Option<(usize, Vec<OutCol>)>,
}

/// Where the binding of a `WITH RECURSIVE` CTE's own query stands.
#[derive(Clone, Debug, PartialEq)]
pub enum CteState {
    Idle,
    /// Binding its non-recursive term (or its whole query): a reference to
    /// itself now is an error.
    Binding,
    /// Binding its recursive term: a reference to itself reads work table
    /// `id`, whose columns are these; `used` once one did.
    Recursing {
        id: usize,
        columns: Vec<(String, DataType)>,
        used: bool,
    },
}

/// Binding state of one statement.
pub struct Binder<'p> {
    pub catalog: Arc<Catalog>,
    /// Parameter types: given by Parse, filled in by inference.
    pub params: &'p mut Vec<DataType>,
    pub levels: Vec<Level>,
    pub next_subplan: usize,
    /// Work tables of recursive CTEs bound so far (their ids).
    pub next_worktable: usize,
    pub ctes: Vec<CteDef>,
    /// Correlation of the FROM item bound last (see `select.rs` item_level).
    pub last_subquery_correlated: Option<bool>,
    /// Privileges the statement needs, per table or view and the role that
    /// must hold them (PostgreSQL's `RTEPermissionInfo.requiredPerms` and
    /// `checkAsUser`): SELECT for every relation read (a FROM item, or a DML
    /// target whose columns are read), and the DML verb. The role is
    /// `None` for the session's own, a view's owner for what the view reads.
    pub perms: std::collections::BTreeMap<(Oid, Option<Oid>), tandem_storage::acl::AclMode>,
    /// The role relations are read as while a view's query is bound (its
    /// owner); `None` outside views.
    pub check_as: Option<Oid>,
    /// Views the statement reads (a CREATE VIEW's dependencies).
    pub views_used: Vec<Oid>,
    /// Schemas an unqualified relation name is looked up in, in order (the
    /// session's `search_path`; `pg_catalog`'s relations are found after
    /// them).
    pub search_path: Arc<[String]>,
    /// The session's role (schemas are used as it, or as [`Binder::check_as`]).
    pub role: Oid,
    /// What the deparser needs to know of the expressions bound (their
    /// types, the relations their columns come from); kept only while a
    /// view's definition is printed (`crate::deparse`).
    pub notes: Option<Box<crate::deparse::Notes>>,
    /// The data-modifying CTEs bound, with their work tables, in the order
    /// they run (before the statement).
    pub(crate) dml_ctes: Vec<(usize, crate::Body)>,
    /// The work tables of data-modifying CTEs some query of the statement
    /// reads.
    pub(crate) dml_ctes_read: Vec<usize>,
}

/// An output column of a bound query.
#[derive(Clone, Debug)]
pub struct OutCol {
    pub name: String,
    pub ty: DataType,
    pub table_oid: Oid,
    pub attnum: i16,
}

impl<'p> Binder<'p> {
    pub fn new(catalog: Arc<Catalog>, params: &'p mut Vec<DataType>) -> Binder<'p> {
        Binder {
            catalog,
            params,
            levels: Vec::new(),
            next_subplan: 0,
            next_worktable: 0,
            ctes: Vec::new(),
            last_subquery_correlated: None,
            perms: Default::default(),
            check_as: None,
            views_used: Vec::new(),
            search_path: Arc::from(vec!["public".to_string()]),
            role: tandem_storage::catalog::BOOTSTRAP_SUPERUSER_OID,
            notes: None,
            dml_ctes: Vec::new(),
            dml_ctes_read: Vec::new(),
        }
    }

    /// A binder for a statement of the session of `ctx` (its `search_path`).
    pub fn for_session(
        ctx: &tandem_expr::ExecContext<'_>,
        params: &'p mut Vec<DataType>,
    ) -> Binder<'p> {
        let mut b = Binder::new(ctx.txn.catalog(), params);
        b.search_path = tandem_expr::reg::session_search_path(ctx);
        b.role = Oid(ctx.session.user_oid);
        b
    }

    /// The schema a relation named `[schema.]name` is looked up in: the one
    /// named, which the reading role must be allowed to use, else the first
    /// of the search path it may use that has it.
    pub fn relation_schema(&self, schema: Option<&str>, name: &str) -> PgResult<String> {
        let role = self.check_as.unwrap_or(self.role);
        if let Some(s) = schema {
            self.catalog
                .check_schema_privilege(s, role, tandem_storage::acl::USAGE)?;
            return Ok(s.to_string());
        }
        if self.catalog.schemas.is_empty() {
            // only the built-in schemas, which every role may use
            return Ok(self.catalog.lookup_schema(&self.search_path, None, name));
        }
        let path = self.catalog.usable_path(&self.search_path, role);
        Ok(self.catalog.lookup_schema(&path, None, name))
    }

    /// Records that the statement needs `mask` on `table` (a user table or
    /// view; system catalogs are readable), as the role reading it.
    pub fn require(&mut self, table: Oid, mask: tandem_storage::acl::AclMode) {
        if self.catalog.tables.contains_key(&table) || self.catalog.views.contains_key(&table) {
            *self.perms.entry((table, self.check_as)).or_default() |= mask;
        }
    }

    pub fn level(&mut self) -> &mut Level {
        if self.levels.is_empty() {
            self.levels.push(Level::new());
        }
        let n = self.levels.len();
        &mut self.levels[n - 1]
    }

    /// After binding: parameters nobody gave a type become `text`.
    pub fn finish_params(&mut self) {
        for p in self.params.iter_mut() {
            if *p == DataType::Unknown {
                *p = DataType::Text;
            }
        }
    }
}

/// An identifier as PostgreSQL folds it: unquoted ones lower-case.
pub fn ident_name(id: &Ident) -> String {
    if id.quote_style.is_some() {
        id.value.clone()
    } else {
        id.value.to_lowercase()
    }
}

/// The parts of an object name, folded.
pub fn object_parts(name: &ObjectName) -> PgResult<Vec<String>> {
    name.0
        .iter()
        .map(|p| match p {
            ObjectNamePart::Identifier(id) => Ok(ident_name(id)),
            ObjectNamePart::Function(_) => Err(PgError::unsupported(format!("name {name}"))),
        })
        .collect()
}
