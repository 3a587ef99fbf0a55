//! CHECK constraints: `CHECK (expr)` on a column or a table in CREATE TABLE
//! and ALTER TABLE ADD [CONSTRAINT name] CHECK (PostgreSQL's `tablecmds.c`
//! AddRelationNewConstraints, `ruleutils.c` for the text it keeps).
//!
//! The expression is validated by binding it over the table's row (its
//! errors are PostgreSQL's), and kept as text in the two forms
//! `pg_get_constraintdef` prints: plain, every operation parenthesized and
//! every implicit cast spelled out (`(price > (0)::numeric)`), which is also
//! the text evaluated on each row write (`tandem_query::checks`); and pretty
//! (`price > 0::numeric`). The printer covers what CHECK constraints are
//! made of (columns, constants, comparison and arithmetic operators, AND /
//! OR / NOT, IS [NOT] NULL, BETWEEN, IN lists, function calls, casts); other
//! expressions are kept as written.

use sqlparser::ast::{self, BinaryOperator, Spanned, UnaryOperator};
use tandem_expr::ExecContext;
use tandem_query::checks::RowChecks;
use tandem_storage::{ConstraintDef, ConstraintKind, RowKey, TableDef};
use tandem_types::ident::quote_identifier;
use tandem_types::{DataType, Locate, Oid, PgError, PgResult, SqlState, Value};

use super::foreign_key::constraint_name;
use crate::types::ident;

/// A CHECK as written, with its constraint name if given.
pub(crate) struct NewCheck {
    name: Option<String>,
    expr: ast::Expr,
}

pub(crate) fn new_check(name: Option<String>, expr: &ast::Expr) -> NewCheck {
    NewCheck {
        name,
        expr: expr.clone(),
    }
}

/// An expression as `ruleutils.c` sees it after parse analysis: constants
/// typed, implicit casts made explicit.
#[derive(Clone, Debug)]
enum D {
    Col(String, DataType),
    /// A numeric constant as written (typed `int4`, `int8` or `numeric`).
    Num(String, DataType),
    /// A string constant, typed when the context gave it a type.
    Str(String, Option<DataType>),
    Bool(bool),
    Null,
    /// A constant of another type than its literal's, or a column cast.
    Cast(Box<D>, DataType),
    Op(String, Box<D>, Box<D>),
    And(Vec<D>),
    Or(Vec<D>),
    Not(Box<D>),
    IsNull(Box<D>, bool),
    Func(String, Vec<D>, DataType),
    /// `x op ANY (ARRAY[...])` (an IN list).
    Any(String, Box<D>, Vec<D>),
    /// What the printer does not model, as written.
    Raw(String),
}

/// A constant's type as `ruleutils.c` labels it (no length: `bpchar` for
/// `character` without one).
fn type_label(t: &DataType) -> String {
    match t {
        DataType::Bpchar(None) => "bpchar".to_string(),
        other => other.display_name(),
    }
}

fn is_int(t: &DataType) -> bool {
    matches!(t, DataType::Int2 | DataType::Int4 | DataType::Int8)
}

impl D {
    fn ty(&self) -> DataType {
        match self {
            D::Col(_, t) | D::Num(_, t) | D::Cast(_, t) | D::Func(_, _, t) => t.clone(),
            D::Str(_, t) => t.clone().unwrap_or(DataType::Unknown),
            D::Bool(_) | D::And(_) | D::Or(_) | D::Not(_) | D::IsNull(..) | D::Any(..) => {
                DataType::Bool
            }
            D::Op(op, l, r) => match op.as_str() {
                "=" | "<>" | "<" | "<=" | ">" | ">=" => DataType::Bool,
                "||" => DataType::Text,
                _ => {
                    let (lt, rt) = (l.ty(), r.ty());
                    if lt == rt || is_int(&lt) && is_int(&rt) {
                        if is_int(&lt)
                            && is_int(&rt)
                            && (lt == DataType::Int8 || rt == DataType::Int8)
                        {
                            DataType::Int8
                        } else {
                            lt
                        }
                    } else {
                        rt
                    }
                }
            },
            D::Null | D::Raw(_) => DataType::Unknown,
        }
    }

    /// This operand as a value of type `to` (the other operand's).
    fn coerced(self, to: &DataType) -> D {
        let from = self.ty();
        if *to == DataType::Unknown {
            return self;
        }
        if unmodified(from.clone()) == unmodified(to.clone()) {
            return match self {
                D::Str(s, None) => D::Str(s, Some(unmodified(to.clone()))),
                other => other,
            };
        }
        match self {
            D::Str(s, None) => D::Str(s, Some(to.clone())),
            D::Null => D::Null,
            other if is_int(&from) && is_int(to) && !matches!(other, D::Num(..)) => other,
            other => D::Cast(Box::new(other), to.clone()),
        }
    }
}

/// The common type two operands of a comparison or arithmetic operator
/// are brought to (PostgreSQL's operator resolution for the usual cases).
fn common_type(l: &DataType, r: &DataType) -> DataType {
    use DataType as T;
    match (l, r) {
        (T::Unknown, t) | (t, T::Unknown) => match t {
            T::Varchar(_) => T::Text,
            other => other.clone(),
        },
        (a, b) if is_int(a) && is_int(b) => T::Unknown,
        (T::Numeric(_), b) | (b, T::Numeric(_)) if is_int(b) => T::Numeric(None),
        (T::Float8 | T::Float4, b) | (b, T::Float8 | T::Float4) if is_int(b) => T::Float8,
        (T::Varchar(_), T::Text) | (T::Text, T::Varchar(_)) | (T::Varchar(_), T::Varchar(_)) => {
            T::Text
        }
        (a, _) => a.clone(),
    }
}

fn unmodified(t: DataType) -> DataType {
    match t {
        DataType::Numeric(_) => DataType::Numeric(None),
        DataType::Varchar(_) => DataType::Varchar(None),
        DataType::Bpchar(_) => DataType::Bpchar(None),
        other => other,
    }
}

fn binary(op: &str, l: D, r: D) -> D {
    let (lt, rt) = (l.ty(), r.ty());
    let common = match op {
        // no cross-width `%` operator: the narrower integer is widened
        "%" if is_int(&lt) && is_int(&rt) && lt != rt => {
            let width = |t: &DataType| match t {
                DataType::Int2 => 2,
                DataType::Int4 => 4,
                _ => 8,
            };
            if width(&lt) > width(&rt) {
                lt.clone()
            } else {
                rt.clone()
            }
        }
        _ => unmodified(common_type(&lt, &rt)),
    };
    D::Op(
        op.to_string(),
        Box::new(l.coerced(&common)),
        Box::new(r.coerced(&common)),
    )
}

fn op_text(op: &BinaryOperator) -> Option<&'static str> {
    Some(match op {
        BinaryOperator::Eq => "=",
        BinaryOperator::NotEq => "<>",
        BinaryOperator::Lt => "<",
        BinaryOperator::LtEq => "<=",
        BinaryOperator::Gt => ">",
        BinaryOperator::GtEq => ">=",
        BinaryOperator::Plus => "+",
        BinaryOperator::Minus => "-",
        BinaryOperator::Multiply => "*",
        BinaryOperator::Divide => "/",
        BinaryOperator::Modulo => "%",
        BinaryOperator::StringConcat => "||",
        _ => return None,
    })
}

/// Builds the analyzed form of `e` over the columns of `def`.
fn analyze(e: &ast::Expr, def: &TableDef) -> D {
    use ast::Expr as E;
    let raw = || D::Raw(e.to_string());
    match e {
        E::Nested(inner) => analyze(inner, def),
        E::Identifier(id) => {
            let name = ident(id);
            match def.columns.iter().find(|c| !c.dropped && c.name == name) {
                Some(c) => D::Col(quote_identifier(&name), c.data_type.clone()),
                None => raw(),
            }
        }
        E::Value(v) => match &v.value {
            ast::Value::Number(n, _) => {
                let ty = if n.contains(['.', 'e', 'E']) {
                    DataType::Numeric(None)
                } else if n.parse::<i32>().is_ok() {
                    DataType::Int4
                } else if n.parse::<i64>().is_ok() {
                    DataType::Int8
                } else {
                    DataType::Numeric(None)
                };
                D::Num(n.clone(), ty)
            }
            ast::Value::SingleQuotedString(s) => D::Str(s.clone(), None),
            ast::Value::Boolean(b) => D::Bool(*b),
            ast::Value::Null => D::Null,
            _ => raw(),
        },
        E::UnaryOp {
            op: UnaryOperator::Minus,
            expr,
        } => match analyze(expr, def) {
            D::Num(n, t) => D::Num(format!("-{n}"), t),
            _ => raw(),
        },
        E::UnaryOp {
            op: UnaryOperator::Not,
            expr,
        } => D::Not(Box::new(analyze(expr, def))),
        E::BinaryOp { left, op, right } => match op {
            BinaryOperator::And => flatten(true, analyze(left, def), analyze(right, def)),
            BinaryOperator::Or => flatten(false, analyze(left, def), analyze(right, def)),
            other => match op_text(other) {
                Some(op) => binary(op, analyze(left, def), analyze(right, def)),
                None => raw(),
            },
        },
        E::IsNull(x) => D::IsNull(Box::new(analyze(x, def)), false),
        E::IsNotNull(x) => D::IsNull(Box::new(analyze(x, def)), true),
        E::Between {
            expr,
            negated,
            low,
            high,
        } => {
            let x = analyze(expr, def);
            let (lo, hi) = (analyze(low, def), analyze(high, def));
            match negated {
                false => D::And(vec![binary(">=", x.clone(), lo), binary("<=", x, hi)]),
                true => D::Or(vec![binary("<", x.clone(), lo), binary(">", x, hi)]),
            }
        }
        E::InList {
            expr,
            list,
            negated,
        } => {
            let x = analyze(expr, def);
            let items: Vec<D> = list.iter().map(|i| analyze(i, def)).collect();
            let common = items
                .iter()
                .fold(x.ty(), |t, i| match common_type(&t, &i.ty()) {
                    DataType::Unknown => t,
                    c => c,
                });
            let common = unmodified(common);
            let items = items.into_iter().map(|i| i.coerced(&common)).collect();
            let op = if *negated { "<>" } else { "=" };
            let any = D::Any(op.to_string(), Box::new(x.coerced(&common)), items);
            if *negated {
                // NOT IN is `x <> ALL (...)`; printed by the same shape
                return match any {
                    D::Any(_, x, items) => D::Any("<> ALL".into(), x, items),
                    other => other,
                };
            }
            any
        }
        E::Function(f) => {
            let name = f.name.to_string().to_lowercase();
            let args: Vec<D> = match &f.args {
                ast::FunctionArguments::List(l) => l
                    .args
                    .iter()
                    .filter_map(|a| match a {
                        ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(x)) => {
                            Some(analyze(x, def))
                        }
                        _ => None,
                    })
                    .collect(),
                ast::FunctionArguments::None => Vec::new(),
                ast::FunctionArguments::Subquery(_) => return raw(),
            };
            let types: Vec<DataType> = args.iter().map(D::ty).collect();
            match tandem_expr::resolve_function(&name, &types) {
                Ok(sig) => {
                    let args = args
                        .into_iter()
                        .zip(&sig.arg_types)
                        .map(|(a, t)| a.coerced(&unmodified(t.clone())))
                        .collect();
                    D::Func(name, args, sig.ret.clone())
                }
                Err(_) => raw(),
            }
        }
        E::Cast {
            expr, data_type, ..
        } => match crate::types::parse_type_name(&data_type.to_string()) {
            Ok((t, None)) => match analyze(expr, def) {
                D::Str(s, None) => D::Str(s, Some(t)),
                other => other.coerced(&t),
            },
            _ => raw(),
        },
        _ => raw(),
    }
}

/// `a AND b` with `a` or `b` an AND already: one list (PostgreSQL's
/// BoolExpr flattens them the same way).
fn flatten(and: bool, l: D, r: D) -> D {
    let mut items = Vec::new();
    for x in [l, r] {
        match (and, x) {
            (true, D::And(xs)) | (false, D::Or(xs)) => items.extend(xs),
            (_, x) => items.push(x),
        }
    }
    if and {
        D::And(items)
    } else {
        D::Or(items)
    }
}

fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Operator precedence classes for the pretty printer's parentheses.
fn arith_class(op: &str) -> Option<u8> {
    match op {
        "+" | "-" => Some(1),
        "*" | "/" | "%" => Some(2),
        _ => None,
    }
}

/// Whether `child` prints without parentheses under `parent` in pretty
/// mode (`ruleutils.c` isSimpleNode); `left`: it is the left operand.
fn simple_under(child: &D, parent: &D, left: bool) -> bool {
    match child {
        D::Op(op, ..) | D::Any(op, ..) => match parent {
            D::Op(pop, ..) => match (arith_class(op), arith_class(pop)) {
                (Some(c), Some(p)) if c > p => true,
                (Some(c), Some(p)) if c == p => left,
                _ => false,
            },
            D::And(_) | D::Or(_) | D::Not(_) | D::Func(..) => true,
            _ => false,
        },
        D::And(_) | D::Not(_) => matches!(parent, D::And(_) | D::Or(_)),
        D::Or(_) => matches!(parent, D::Or(_)),
        D::IsNull(..) => matches!(parent, D::And(_) | D::Or(_) | D::Not(_)),
        _ => true,
    }
}

/// Prints `d` plainly (every operation in parentheses) or pretty.
fn print(d: &D, pretty: bool, out: &mut String) {
    let wrapped = !pretty
        && matches!(
            d,
            D::Op(..) | D::And(_) | D::Or(_) | D::Not(_) | D::IsNull(..) | D::Any(..)
        );
    if wrapped {
        out.push('(');
    }
    print_bare(d, pretty, out);
    if wrapped {
        out.push(')');
    }
}

/// Prints an operand of `parent`.
fn operand(c: &D, parent: &D, left: bool, pretty: bool, out: &mut String) {
    if !pretty {
        return print(c, pretty, out);
    }
    if simple_under(c, parent, left) {
        print_bare(c, pretty, out);
    } else {
        out.push('(');
        print_bare(c, pretty, out);
        out.push(')');
    }
}

/// Prints `d` without the parentheses plain mode puts around it.
fn print_bare(d: &D, pretty: bool, out: &mut String) {
    match d {
        D::Col(name, _) => out.push_str(name),
        D::Num(n, t) if n.starts_with('-') => {
            out.push_str(&quote_literal(n));
            out.push_str("::");
            out.push_str(&type_label(t));
        }
        D::Num(n, DataType::Int8) => {
            out.push_str(&quote_literal(n));
            out.push_str("::bigint");
        }
        D::Num(n, _) => out.push_str(n),
        D::Str(s, t) => {
            out.push_str(&quote_literal(s));
            if let Some(t) = t {
                out.push_str("::");
                out.push_str(&type_label(t));
            }
        }
        D::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        D::Null => out.push_str("NULL"),
        D::Cast(x, t) => {
            match (pretty, x.as_ref()) {
                (_, D::Num(n, _)) if n.starts_with('-') => {
                    // a negative constant of the cast's type
                    out.push_str(&quote_literal(n));
                    out.push_str("::");
                    out.push_str(&type_label(t));
                    return;
                }
                (true, x) if matches!(x, D::Col(..) | D::Num(..) | D::Func(..)) => {
                    print_bare(x, pretty, out)
                }
                (true, x) => {
                    out.push('(');
                    print_bare(x, pretty, out);
                    out.push(')');
                }
                (false, x) => {
                    out.push('(');
                    print_bare(x, pretty, out);
                    out.push(')');
                }
            }
            out.push_str("::");
            out.push_str(&type_label(t));
        }
        D::Op(op, l, r) => {
            operand(l, d, true, pretty, out);
            out.push_str(&format!(" {op} "));
            operand(r, d, false, pretty, out);
        }
        D::And(xs) | D::Or(xs) => {
            let sep = if matches!(d, D::And(_)) {
                " AND "
            } else {
                " OR "
            };
            for (i, x) in xs.iter().enumerate() {
                if i > 0 {
                    out.push_str(sep);
                }
                operand(x, d, i == 0, pretty, out);
            }
        }
        D::Not(x) => {
            out.push_str("NOT ");
            operand(x, d, false, pretty, out);
        }
        D::IsNull(x, not) => {
            operand(x, d, true, pretty, out);
            out.push_str(if *not { " IS NOT NULL" } else { " IS NULL" });
        }
        D::Func(name, args, _) => {
            out.push_str(name);
            out.push('(');
            for (i, a) in args.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                operand(a, d, true, pretty, out);
            }
            out.push(')');
        }
        D::Any(op, x, items) => {
            operand(x, d, true, pretty, out);
            let (op, quantifier) = match op.strip_suffix(" ALL") {
                Some(op) => (op, "ALL"),
                None => (op.as_str(), "ANY"),
            };
            out.push_str(&format!(" {op} {quantifier} (ARRAY["));
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                print_bare(item, pretty, out);
            }
            out.push_str("])");
        }
        D::Raw(text) => out.push_str(text),
    }
}

/// The columns (positions) an analyzed expression reads, in order of
/// position.
fn columns_of(d: &D, def: &TableDef, out: &mut Vec<usize>) {
    match d {
        D::Col(name, _) => {
            let found = def
                .columns
                .iter()
                .position(|c| !c.dropped && quote_identifier(&c.name) == *name);
            if let Some(p) = found {
                if !out.contains(&p) {
                    out.push(p);
                }
            }
        }
        D::Cast(x, _) | D::Not(x) | D::IsNull(x, _) => columns_of(x, def, out),
        D::Op(_, l, r) => {
            columns_of(l, def, out);
            columns_of(r, def, out);
        }
        D::And(xs) | D::Or(xs) | D::Func(_, xs, _) => {
            xs.iter().for_each(|x| columns_of(x, def, out))
        }
        D::Any(_, x, xs) => {
            columns_of(x, def, out);
            xs.iter().for_each(|x| columns_of(x, def, out));
        }
        D::Num(..) | D::Str(..) | D::Bool(_) | D::Null | D::Raw(_) => {}
    }
}

/// Points an error at `e` (unless it points somewhere already).
pub(crate) fn at(err: PgError, e: &ast::Expr) -> PgError {
    let start = e.span().start;
    let locate = match e {
        // its span starts inside the parentheses
        ast::Expr::Subquery(_) => Locate::ParenBefore(start.line, start.column),
        _ => Locate::LineColumn(start.line, start.column),
    };
    err.pointed_at(locate)
}

/// The first identifier of `e` that names no column of `def`.
pub(crate) fn unknown_column<'e>(e: &'e ast::Expr, def: &TableDef) -> Option<&'e ast::Expr> {
    let mut found = None;
    walk(e, &mut |x| {
        if let ast::Expr::Identifier(id) = x {
            let name = ident(id);
            if found.is_none() && !def.columns.iter().any(|c| !c.dropped && c.name == name) {
                found = Some(x);
            }
        }
    });
    found
}

/// The first subquery of `e`.
pub(crate) fn first_subquery(e: &ast::Expr) -> Option<&ast::Expr> {
    let mut found = None;
    walk(e, &mut |x| {
        let sub = matches!(
            x,
            ast::Expr::Subquery(_) | ast::Expr::Exists { .. } | ast::Expr::InSubquery { .. }
        );
        if sub && found.is_none() {
            found = Some(x);
        }
    });
    found
}

/// Visits `e` and its subexpressions (in the forms a CHECK is written
/// with), outer first, left to right.
fn walk<'e>(e: &'e ast::Expr, f: &mut impl FnMut(&'e ast::Expr)) {
    use ast::Expr as E;
    f(e);
    match e {
        E::Nested(x) | E::UnaryOp { expr: x, .. } | E::IsNull(x) | E::IsNotNull(x) => walk(x, f),
        E::Cast { expr, .. } => walk(expr, f),
        E::BinaryOp { left, right, .. } => {
            walk(left, f);
            walk(right, f);
        }
        E::Between {
            expr, low, high, ..
        } => {
            walk(expr, f);
            walk(low, f);
            walk(high, f);
        }
        E::InList { expr, list, .. } => {
            walk(expr, f);
            list.iter().for_each(|x| walk(x, f));
        }
        E::Function(func) => {
            if let ast::FunctionArguments::List(l) = &func.args {
                for a in &l.args {
                    if let ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(x)) = a {
                        walk(x, f);
                    }
                }
            }
        }
        _ => {}
    }
}

/// Adds CHECK `nc` to table `def`: validates it, names it, and (`check_rows`,
/// ALTER TABLE) checks the table's rows.
pub(crate) fn add(
    ctx: &mut ExecContext<'_>,
    def: &TableDef,
    nc: &NewCheck,
    check_rows: bool,
) -> PgResult<()> {
    if let Some(sub) = first_subquery(&nc.expr) {
        return Err(at(
            PgError::new(
                SqlState::FEATURE_NOT_SUPPORTED,
                "cannot use subquery in check constraint",
            ),
            sub,
        ));
    }
    // bound over the row as written: its errors (an unknown column, a
    // result that is no boolean) are PostgreSQL's
    let ty =
        tandem_query::checks::bind_type(ctx.txn.catalog(), def, &nc.expr).map_err(|e| {
            match (
                e.code == SqlState::UNDEFINED_COLUMN,
                unknown_column(&nc.expr, def),
            ) {
                (true, Some(id)) => at(e, id),
                _ => e,
            }
        })?;
    if !matches!(ty, DataType::Bool | DataType::Unknown) {
        return Err(at(
            PgError::new(
                SqlState::DATATYPE_MISMATCH,
                format!(
                    "argument of CHECK must be type boolean, not type {}",
                    ty.display_name()
                ),
            ),
            &nc.expr,
        ));
    }
    let analyzed = analyze(&nc.expr, def);
    let mut expr = String::new();
    print(&analyzed, false, &mut expr);
    let mut pretty = String::new();
    print(&analyzed, true, &mut pretty);
    let mut columns = Vec::new();
    columns_of(&analyzed, def, &mut columns);
    columns.sort_unstable();
    // named after the one column it reads, if it reads one
    let column: Vec<String> = match columns.as_slice() {
        [c] => vec![def.columns[*c].name.clone()],
        _ => Vec::new(),
    };
    let name = constraint_name(ctx, def, nc.name.as_deref(), &column, "check")?;
    if check_rows {
        let checks = RowChecks::single(ctx.txn.catalog(), def, &name, &expr)?;
        if !all_rows_pass(ctx, def, &checks)? {
            return Err(PgError::new(
                SqlState::CHECK_VIOLATION,
                format!(
                    "check constraint \"{name}\" of relation \"{}\" is violated by some row",
                    def.name
                ),
            ));
        }
    }
    let oid = ctx.txn.allocate_oid();
    ctx.txn.add_check(ConstraintDef {
        oid,
        name,
        table: def.oid,
        kind: ConstraintKind::Check {
            expr,
            pretty,
            columns,
        },
    })
}

/// Whether every row of `def` passes `checks`.
fn all_rows_pass(ctx: &mut ExecContext<'_>, def: &TableDef, checks: &RowChecks) -> PgResult<bool> {
    let mut pass = true;
    for_each_row(ctx, def.oid, &mut |ctx, _, row| {
        match checks.check_in(ctx, def, row) {
            Err(e) if e.code == SqlState::CHECK_VIOLATION => pass = false,
            other => other?,
        }
        Ok(pass)
    })?;
    Ok(pass)
}

/// A visitor of a table's rows given the statement's context.
pub(crate) type RowVisit<'v> =
    dyn FnMut(&mut ExecContext<'_>, &RowKey, &[Value]) -> PgResult<bool> + 'v;

/// Visits the rows of `table` as the transaction sees them, read a batch
/// at a time so that `visit` has the transaction (the executor needs it);
/// `visit` returns whether to go on.
pub(crate) fn for_each_row(
    ctx: &mut ExecContext<'_>,
    table: Oid,
    visit: &mut RowVisit<'_>,
) -> PgResult<()> {
    const BATCH: usize = 4096;
    let mut after: Option<RowKey> = None;
    loop {
        let mut rows = Vec::new();
        ctx.txn.scan_after(table, after.as_ref(), &mut |k, row| {
            rows.push((k.clone(), row.to_vec()));
            Ok(rows.len() < BATCH)
        })?;
        for (k, row) in &rows {
            if !visit(ctx, k, row)? {
                return Ok(());
            }
        }
        if rows.len() < BATCH {
            return Ok(());
        }
        after = rows.pop().map(|r| r.0);
    }
}

/// ALTER TABLE RENAME COLUMN: the CHECK constraints that read the column
/// get their texts (which evaluation binds by name, and which
/// `pg_get_constraintdef` prints) with its new name, as PostgreSQL prints
/// them from the parse tree.
pub(crate) fn rename_column(
    ctx: &mut ExecContext<'_>,
    def: &TableDef,
    column: usize,
    old: &str,
    new: &str,
) -> PgResult<()> {
    for c in checks_reading(ctx, def, column) {
        let ConstraintKind::Check {
            expr,
            pretty,
            columns,
        } = &c.kind
        else {
            continue;
        };
        let renamed = ConstraintDef {
            kind: ConstraintKind::Check {
                expr: rename_in_text(expr, old, new),
                pretty: rename_in_text(pretty, old, new),
                columns: columns.clone(),
            },
            ..(*c).clone()
        };
        ctx.txn.add_check(renamed)?;
    }
    Ok(())
}

/// `text` (a printed CHECK expression) with each reference to column `old`
/// written as `new`: identifiers only, not strings, function names (a word
/// before `(`) or type names (a word after `::`).
fn rename_in_text(text: &str, old: &str, new: &str) -> String {
    use crate::scan::{lex, Tok};
    let Ok(toks) = lex(text) else {
        return text.to_string();
    };
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for (i, t) in toks.iter().enumerate() {
        let Tok::Word { text: word, .. } = &t.tok else {
            continue;
        };
        let call = toks.get(i + 1).is_some_and(|n| n.tok == Tok::Punct('('));
        let type_name =
            i >= 2 && toks[i - 1].tok == Tok::Punct(':') && toks[i - 2].tok == Tok::Punct(':');
        if word != old || call || type_name {
            continue;
        }
        out.push_str(&text[copied..t.start]);
        out.push_str(&quote_identifier(new));
        copied = t.end;
    }
    out.push_str(&text[copied..]);
    out
}

/// The CHECK constraints of `def` that read column `column`.
fn checks_reading(
    ctx: &ExecContext<'_>,
    def: &TableDef,
    column: usize,
) -> Vec<std::sync::Arc<ConstraintDef>> {
    ctx.txn
        .catalog()
        .constraints_of(def.oid)
        .into_iter()
        .filter(|c| matches!(&c.kind, ConstraintKind::Check { columns, .. } if columns.contains(&column)))
        .collect()
}

/// Before ALTER TABLE DROP COLUMN: the CHECK constraints that read the
/// column go with it (as PostgreSQL drops them).
pub(crate) fn drop_column(
    ctx: &mut ExecContext<'_>,
    def: &TableDef,
    column: usize,
) -> PgResult<()> {
    for c in checks_reading(ctx, def, column) {
        ctx.txn.drop_constraint(c.oid)?;
    }
    Ok(())
}
