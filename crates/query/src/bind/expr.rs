//! Binding scalar expressions: AST -> [`Expr`] with a result type.
//!
//! Typing follows PostgreSQL's parse analysis:
//! - `'...'` literals and untyped `$n` start as `unknown` and take the type their
//!   context wants (the other operand, the target column, the function argument);
//!   a literal is converted right here with the type's input function, so
//!   `'abc' = int_col` fails at bind time as in PostgreSQL.
//! - `$n` types are recorded in `Binder::params` the first time context fixes them
//!   (this is what ParameterDescription reports).
//! - integer literals are `integer`, then `bigint`, then `numeric`; decimals are
//!   `numeric`.
//!
//! Output column names follow PostgreSQL's `FigureColname` ([`figure_colname`]).
//!
//! Corresponds to PostgreSQL's `parser/parse_expr.c`, `parse_coerce.c`,
//! `parse_func.c`, `parse_target.c`.

use std::str::FromStr;

use rust_decimal::Decimal;
use sqlparser::ast::{
    self, BinaryOperator, CastKind, DuplicateTreatment, FunctionArg, FunctionArgExpr,
    FunctionArgumentClause, FunctionArguments, Spanned, Subscript, UnaryOperator,
    Value as AstValue,
};
use tandem_expr::{BinOp, UnaryOp};
use tandem_types::{DataType, PgError, PgResult, SqlState, Value};

use super::{ident_name, object_parts, Binder, OutCol};
use crate::aggregates::{self, AggKind};
use crate::plan::{AggCall, Expr, SortKey, SrfCall, SubPlan};
use crate::sqltype::{base_type, cast_column_name, common_type, convert_type};

fn mismatch(msg: String) -> PgError {
    PgError::new(SqlState::DATATYPE_MISMATCH, msg)
}

/// Maps sqlparser's binary operators onto tandem's.
pub fn map_binop(op: &BinaryOperator) -> Option<BinOp> {
    Some(match op {
        BinaryOperator::Plus => BinOp::Add,
        BinaryOperator::Minus => BinOp::Sub,
        BinaryOperator::Multiply => BinOp::Mul,
        BinaryOperator::Divide => BinOp::Div,
        BinaryOperator::Modulo => BinOp::Mod,
        BinaryOperator::PGExp => BinOp::Pow,
        BinaryOperator::Eq => BinOp::Eq,
        BinaryOperator::NotEq => BinOp::NotEq,
        BinaryOperator::Lt => BinOp::Lt,
        BinaryOperator::LtEq => BinOp::LtEq,
        BinaryOperator::Gt => BinOp::Gt,
        BinaryOperator::GtEq => BinOp::GtEq,
        BinaryOperator::StringConcat => BinOp::Concat,
        BinaryOperator::PGRegexMatch => BinOp::RegexMatch,
        BinaryOperator::PGRegexIMatch => BinOp::RegexIMatch,
        BinaryOperator::PGRegexNotMatch => BinOp::RegexNotMatch,
        BinaryOperator::PGRegexNotIMatch => BinOp::RegexNotIMatch,
        BinaryOperator::PGLikeMatch => BinOp::Like,
        BinaryOperator::PGILikeMatch => BinOp::ILike,
        BinaryOperator::PGNotLikeMatch => BinOp::NotLike,
        BinaryOperator::PGNotILikeMatch => BinOp::NotILike,
        BinaryOperator::BitwiseAnd => BinOp::BitAnd,
        BinaryOperator::BitwiseOr => BinOp::BitOr,
        BinaryOperator::PGBitwiseXor | BinaryOperator::BitwiseXor => BinOp::BitXor,
        BinaryOperator::PGBitwiseShiftLeft => BinOp::ShiftLeft,
        BinaryOperator::PGBitwiseShiftRight => BinOp::ShiftRight,
        BinaryOperator::AtArrow => BinOp::Contains,
        BinaryOperator::ArrowAt => BinOp::ContainedBy,
        BinaryOperator::PGOverlap => BinOp::Overlaps,
        BinaryOperator::Arrow => BinOp::JsonGet,
        BinaryOperator::LongArrow => BinOp::JsonGetText,
        BinaryOperator::HashArrow => BinOp::JsonPath,
        BinaryOperator::HashLongArrow => BinOp::JsonPathText,
        BinaryOperator::Question => BinOp::JsonExists,
        BinaryOperator::QuestionAnd => BinOp::JsonExistsAll,
        BinaryOperator::QuestionPipe => BinOp::JsonExistsAny,
        BinaryOperator::PGCustomBinaryOperator(parts) => {
            return op_by_symbol(parts.last()?.as_str())
        }
        _ => return None,
    })
}

/// `OPERATOR(pg_catalog.~)` and friends.
fn op_by_symbol(sym: &str) -> Option<BinOp> {
    Some(match sym {
        "+" => BinOp::Add,
        "-" => BinOp::Sub,
        "*" => BinOp::Mul,
        "/" => BinOp::Div,
        "%" => BinOp::Mod,
        "^" => BinOp::Pow,
        "=" => BinOp::Eq,
        "<>" | "!=" => BinOp::NotEq,
        "<" => BinOp::Lt,
        "<=" => BinOp::LtEq,
        ">" => BinOp::Gt,
        ">=" => BinOp::GtEq,
        "||" => BinOp::Concat,
        "~" => BinOp::RegexMatch,
        "~*" => BinOp::RegexIMatch,
        "@>" => BinOp::Contains,
        "<@" => BinOp::ContainedBy,
        "&&" => BinOp::Overlaps,
        "!~" => BinOp::RegexNotMatch,
        "!~*" => BinOp::RegexNotIMatch,
        "~~" => BinOp::Like,
        "~~*" => BinOp::ILike,
        "!~~" => BinOp::NotLike,
        "!~~*" => BinOp::NotILike,
        _ => return None,
    })
}

/// Types a numeric literal: `integer`, else `bigint`, else `numeric`.
pub fn number_literal(s: &str) -> PgResult<(Value, DataType)> {
    if let Ok(i) = s.parse::<i32>() {
        return Ok((Value::Int4(i), DataType::Int4));
    }
    if let Ok(i) = s.parse::<i64>() {
        return Ok((Value::Int8(i), DataType::Int8));
    }
    let d = if s.contains(['e', 'E']) {
        Decimal::from_scientific(s)
    } else {
        Decimal::from_str(s)
    };
    d.map(|d| (Value::Numeric(d), DataType::Numeric(None)))
        .map_err(|_| {
            PgError::new(
                SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
                format!("value \"{s}\" is out of range for type numeric"),
            )
        })
}

/// The output column name PostgreSQL gives an expression (`?column?` if none).
pub fn figure_colname(e: &ast::Expr) -> String {
    colname(e).unwrap_or_else(|| "?column?".to_string())
}

fn colname(e: &ast::Expr) -> Option<String> {
    use ast::Expr as E;
    match e {
        E::Identifier(id) => Some(ident_name(id)),
        E::CompoundIdentifier(ids) => ids.last().map(ident_name),
        E::Function(f) => object_parts(&f.name).ok()?.pop(),
        // the operand's name when it is a strong one (a column, a function),
        // else the type's: `1::int8::text` is `text` (FigureColnameInternal)
        E::Cast {
            expr, data_type, ..
        } => match expr.as_ref() {
            E::Cast { .. } | E::TypedString(_) | E::Value(_) | E::Interval(_) | E::Case { .. } => {
                None
            }
            inner => colname(inner),
        }
        .or_else(|| cast_column_name(data_type)),
        E::TypedString(ts) => cast_column_name(&ts.data_type),
        E::Interval(_) => Some("interval".into()),
        E::Case { .. } => Some("case".into()),
        E::Nested(inner) | E::Collate { expr: inner, .. } => colname(inner),
        E::CompoundFieldAccess { root, access_chain } => match access_chain.last() {
            Some(ast::AccessExpr::Dot(E::Identifier(id))) => Some(ident_name(id)),
            _ => colname(root),
        },
        E::Array(_) => Some("array".into()),
        E::Exists { .. } => Some("exists".into()),
        E::Subquery(q) => match q.body.as_ref() {
            ast::SetExpr::Select(s) => match s.projection.first() {
                Some(ast::SelectItem::ExprWithAlias { alias, .. }) => Some(ident_name(alias)),
                Some(ast::SelectItem::UnnamedExpr(e)) => colname(e),
                _ => None,
            },
            _ => None,
        },
        E::Extract { .. } => Some("extract".into()),
        E::Substring {
            shorthand: true, ..
        } => Some("substr".into()),
        E::Substring { .. } => Some("substring".into()),
        E::Trim { .. } => Some("btrim".into()),
        E::Position { .. } => Some("position".into()),
        E::Ceil { .. } => Some("ceil".into()),
        E::Floor { .. } => Some("floor".into()),
        E::AtTimeZone { .. } => Some("timezone".into()),
        _ => None,
    }
}

const SRF_HINT: &str =
    "You might be able to move the set-returning function into a LATERAL FROM item.";

fn contains_srf(e: &Expr) -> bool {
    let mut found = false;
    e.walk(&mut |x| found |= matches!(x, Expr::SrfRef(_)));
    found
}

/// `CASE` and `COALESCE` may not contain set-returning functions (PostgreSQL 10+).
fn forbid_srf(e: &Expr, what: &str) -> PgResult<()> {
    if contains_srf(e) {
        return Err(PgError::new(
            SqlState::FEATURE_NOT_SUPPORTED,
            format!("set-returning functions are not allowed in {what}"),
        )
        .with_hint(SRF_HINT));
    }
    Ok(())
}

fn no_bool(what: &str, ty: &DataType) -> PgError {
    mismatch(format!(
        "argument of {what} must be type boolean, not type {}",
        ty.display_name()
    ))
}

/// A column reference's error (no such column, no such table, ambiguous)
/// pointed at the reference, as PostgreSQL points at it.
fn at_column_ref(err: PgError, first: &ast::Ident) -> PgError {
    let unresolved = matches!(
        err.code,
        SqlState::UNDEFINED_COLUMN | SqlState::UNDEFINED_TABLE | SqlState::AMBIGUOUS_COLUMN
    );
    let start = first.span.start;
    match unresolved {
        true => err.pointed_at(tandem_types::Locate::LineColumn(start.line, start.column)),
        false => err,
    }
}

/// An error converting literal `e` (not valid input for its type), pointed
/// at the literal as PostgreSQL points at it; other errors as they are.
pub fn at_literal(err: PgError, e: &ast::Expr) -> PgError {
    match e {
        ast::Expr::Value(v) => err.pointed_at(tandem_types::Locate::LineColumn(
            v.span.start.line,
            v.span.start.column,
        )),
        _ => err,
    }
}

impl Binder<'_> {
    /// Converts `e` of type `from` to `to`: unknown literals are converted now,
    /// untyped parameters get the type, anything else is cast at run time.
    pub fn coerce(&mut self, e: Expr, from: &DataType, to: &DataType) -> PgResult<Expr> {
        if from == to || *to == DataType::Unknown {
            return Ok(e);
        }
        if matches!(from, DataType::Bpchar(_))
            && matches!(to, DataType::Text | DataType::Varchar(_))
        {
            // character(n) -> text drops the padding (PostgreSQL's rtrim1),
            // so comparisons, length() and || ignore trailing spaces
            let (trimmed, _) = self.call_named("rtrim", vec![(e, DataType::Text)])?;
            return Ok(match to {
                DataType::Text => trimmed,
                _ => Expr::Cast {
                    e: Box::new(trimmed),
                    ty: to.clone(),
                },
            });
        }
        if matches!(
            from,
            DataType::RegClass | DataType::RegType | DataType::RegNamespace
        ) && crate::sqltype::is_string(to)
        {
            // the name it prints as, which needs the catalog: at run time
            let named = Expr::RegName {
                e: Box::new(e),
                ty: from.clone(),
            };
            return Ok(match to {
                DataType::Text => named,
                _ => Expr::Cast {
                    e: Box::new(named),
                    ty: to.clone(),
                },
            });
        }
        match e {
            Expr::Const(Value::Null) => Ok(Expr::Const(Value::Null)),
            Expr::Const(Value::Text(s)) if *from == DataType::Unknown => {
                if *to == DataType::RegClass {
                    return Ok(Expr::Const(self.regclass_lookup(&s)?));
                }
                if *to == DataType::RegNamespace {
                    // the schemas CREATE SCHEMA made too
                    let name = tandem_expr::reg::parse_qualified(&s).1;
                    if let Some(o) = self.catalog.schema_oid(&name) {
                        return Ok(Expr::Const(Value::Oid(o.0)));
                    }
                }
                if *to == DataType::RegType {
                    // the user's types too (the builtin ones and errors below)
                    if let Some(t) =
                        tandem_expr::io_text::type_by_name_in(&s, &self.catalog, &self.search_path)
                    {
                        return Ok(Expr::Const(Value::Oid(t.oid())));
                    }
                }
                let base = base_type(to);
                let mut v = tandem_expr::text_in(&s, &base)?;
                if base != *to {
                    v = tandem_expr::cast(v, to)?;
                }
                Ok(Expr::Const(v))
            }
            Expr::Param(n) if self.params.get(n) == Some(&DataType::Unknown) => {
                self.params[n] = base_type(to);
                if base_type(to) == *to {
                    Ok(Expr::Param(n))
                } else {
                    Ok(Expr::Cast {
                        e: Box::new(Expr::Param(n)),
                        ty: to.clone(),
                    })
                }
            }
            Expr::Const(v) if *from != DataType::Unknown && !matches!(to, DataType::RegClass) => {
                Ok(Expr::Const(tandem_expr::cast(v, to)?))
            }
            other => {
                if *to == DataType::RegClass
                    && (crate::sqltype::is_string(from) || *from == DataType::Unknown)
                {
                    return Ok(Expr::ToRegClass(Box::new(other)));
                }
                Ok(Expr::Cast {
                    e: Box::new(other),
                    ty: to.clone(),
                })
            }
        }
    }

    /// Resolves a relation name as `regclass` input does.
    pub fn regclass_lookup(&self, text: &str) -> PgResult<Value> {
        let t = text.trim();
        if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
            // regclass input takes an OID as it is
            return t
                .parse::<u32>()
                .map(Value::Oid)
                .map_err(|_| tandem_expr::reg::undefined_relation(text));
        }
        tandem_expr::reg::lookup_relation(text, &self.catalog, &self.search_path)
            .map(|(oid, _)| Value::Oid(oid))
            .ok_or_else(|| {
                // named as parsed: `'"T1"'::regclass` reports relation "T1"
                let shown = match tandem_expr::reg::parse_qualified(text) {
                    (Some(schema), name) => format!("{schema}.{name}"),
                    (None, name) => name,
                };
                tandem_expr::reg::undefined_relation(&shown)
            })
    }

    /// Binds a condition (`WHERE`, `ON`, `HAVING`, `CASE WHEN`): must be boolean.
    pub fn bind_condition(&mut self, e: &ast::Expr, what: &str) -> PgResult<Expr> {
        let (x, ty) = self.bind_expr(e)?;
        self.coerce_bool(x, &ty, what)
    }

    fn coerce_bool(&mut self, x: Expr, ty: &DataType, what: &str) -> PgResult<Expr> {
        match ty {
            DataType::Bool => Ok(x),
            DataType::Unknown => self.coerce(x, ty, &DataType::Bool),
            other => Err(no_bool(what, other)),
        }
    }

    /// Binds an expression with an unknown result resolved to text (target lists).
    pub fn bind_resolved(&mut self, e: &ast::Expr) -> PgResult<(Expr, DataType)> {
        let (x, ty) = self.bind_expr(e)?;
        if ty == DataType::Unknown {
            return Ok((self.coerce(x, &ty, &DataType::Text)?, DataType::Text));
        }
        Ok((x, ty))
    }

    pub fn bind_expr(&mut self, e: &ast::Expr) -> PgResult<(Expr, DataType)> {
        let bound = self.bind_expr_node(e)?;
        if self.notes.is_some() {
            self.note_expr(e, &bound);
        }
        Ok(bound)
    }

    /// Records what the deparser needs of `e`, bound as `bound`: its type,
    /// the range-table alias and name of the column it names, the argument
    /// types of the function it calls.
    fn note_expr(&mut self, e: &ast::Expr, bound: &(Expr, DataType)) {
        let column = match (&bound.0, e) {
            (
                Expr::Column(index) | Expr::Outer { index, .. },
                ast::Expr::Identifier(_) | ast::Expr::CompoundIdentifier(_),
            ) => {
                let depth = match bound.0 {
                    Expr::Outer { depth, .. } => depth,
                    _ => 0,
                };
                let level = self.levels.len().checked_sub(1 + depth);
                level
                    .and_then(|l| self.levels[l].columns.get(*index))
                    .map(|c| (c.table.clone(), c.name.clone(), depth))
            }
            _ => None,
        };
        let Some(notes) = self.notes.as_mut() else {
            return;
        };
        let key = crate::deparse::expr_key(e);
        notes.types.insert(key, bound.1.clone());
        if let Some(c) = column {
            notes.columns.insert(key, c);
        }
        if let (Expr::Func { sig, .. }, ast::Expr::Function(_)) = (&bound.0, e) {
            notes.funcs.insert(key, sig.arg_types.clone());
        }
    }

    fn bind_expr_node(&mut self, e: &ast::Expr) -> PgResult<(Expr, DataType)> {
        use ast::Expr as E;
        match e {
            E::Identifier(id) => {
                let name = ident_name(id);
                let r = match super::scope::resolve(&mut self.levels, None, &name) {
                    // CURRENT_SCHEMA is a keyword where no column has the name
                    Err(e) if id.quote_style.is_none() && name == "current_schema" => {
                        return self.keyword_function(&name)?.ok_or(e);
                    }
                    r => r.map_err(|e| at_column_ref(e, id))?,
                };
                self.require(r.table_oid, tandem_storage::acl::SELECT);
                Ok((r.expr, r.ty))
            }
            E::CompoundIdentifier(ids) => {
                let names: Vec<String> = ids.iter().map(ident_name).collect();
                let (q, n) = match names.as_slice() {
                    [t, c] => (t.as_str(), c.as_str()),
                    [_, t, c] => (t.as_str(), c.as_str()),
                    _ => return Err(PgError::unsupported(format!("column reference {e}"))),
                };
                let r = super::scope::resolve(&mut self.levels, Some(q), n)
                    .map_err(|e| at_column_ref(e, &ids[0]))?;
                self.require(r.table_oid, tandem_storage::acl::SELECT);
                Ok((r.expr, r.ty))
            }
            E::Value(v) => self.bind_value(&v.value),
            E::Nested(inner) => self.bind_expr(inner),
            E::Collate { expr, .. } => self.bind_expr(expr),
            E::BinaryOp { left, op, right } => self.bind_binary(left, op, right),
            E::UnaryOp { op, expr } => self.bind_unary(op, expr),
            E::IsNull(x) | E::IsNotNull(x) => {
                let (b, _) = self.bind_expr(x)?;
                Ok((
                    Expr::IsNull {
                        e: b.boxed(),
                        negated: matches!(e, E::IsNotNull(_)),
                    },
                    DataType::Bool,
                ))
            }
            E::IsUnknown(x) | E::IsNotUnknown(x) => {
                let b = self.bind_condition(x, "IS UNKNOWN")?;
                Ok((
                    Expr::IsNull {
                        e: b.boxed(),
                        negated: matches!(e, E::IsNotUnknown(_)),
                    },
                    DataType::Bool,
                ))
            }
            E::IsTrue(x) | E::IsNotTrue(x) | E::IsFalse(x) | E::IsNotFalse(x) => {
                let (value, negated, what) = match e {
                    E::IsTrue(_) => (true, false, "IS TRUE"),
                    E::IsNotTrue(_) => (true, true, "IS NOT TRUE"),
                    E::IsFalse(_) => (false, false, "IS FALSE"),
                    _ => (false, true, "IS NOT FALSE"),
                };
                let b = self.bind_condition(x, what)?;
                Ok((
                    Expr::IsBool {
                        e: b.boxed(),
                        value,
                        negated,
                    },
                    DataType::Bool,
                ))
            }
            E::IsDistinctFrom(l, r) | E::IsNotDistinctFrom(l, r) => {
                let (l, r, _) = self.bind_pair(l, r)?;
                Ok((
                    Expr::IsDistinct {
                        l: l.boxed(),
                        r: r.boxed(),
                        negated: matches!(e, E::IsNotDistinctFrom(..)),
                    },
                    DataType::Bool,
                ))
            }
            E::InList {
                expr,
                list,
                negated,
            } => {
                let (x, xt) = self.bind_expr(expr)?;
                if contains_srf(&x) {
                    return Err(mismatch("argument of IN must not return a set".into()));
                }
                let mut items = Vec::with_capacity(list.len());
                let mut types = vec![xt.clone()];
                for it in list {
                    let (b, t) = self.bind_expr(it)?;
                    types.push(t.clone());
                    items.push((b, t));
                }
                let common = common_type(&types).unwrap_or(xt.clone());
                let common = if common == DataType::Unknown {
                    DataType::Text
                } else {
                    common
                };
                let x = self.coerce(x, &xt, &common)?;
                let mut list = Vec::with_capacity(items.len());
                for (b, t) in items {
                    list.push(self.coerce(b, &t, &common)?);
                }
                Ok((
                    Expr::InList {
                        e: x.boxed(),
                        list,
                        negated: *negated,
                    },
                    DataType::Bool,
                ))
            }
            E::InSubquery {
                expr,
                subquery,
                negated,
            } => {
                let (x, xt) = self.bind_expr(expr)?;
                let (sub, cols) = self.bind_subquery(subquery)?;
                if cols.len() != 1 {
                    return Err(PgError::syntax("subquery has too many columns"));
                }
                let x = if xt == DataType::Unknown {
                    self.coerce(x, &xt, &cols[0].ty)?
                } else {
                    x
                };
                Ok((
                    Expr::InSubquery {
                        e: x.boxed(),
                        sub: Box::new(sub),
                        negated: *negated,
                    },
                    DataType::Bool,
                ))
            }
            E::Exists { subquery, negated } => {
                let (sub, _) = self.bind_subquery(subquery)?;
                Ok((
                    Expr::Exists {
                        sub: Box::new(sub),
                        negated: *negated,
                    },
                    DataType::Bool,
                ))
            }
            E::Subquery(q) => {
                let (sub, cols) = self.bind_subquery(q)?;
                if cols.len() != 1 {
                    return Err(PgError::syntax("subquery must return only one column"));
                }
                Ok((Expr::ScalarSub(Box::new(sub)), cols[0].ty.clone()))
            }
            E::Between {
                expr,
                negated,
                low,
                high,
            } => {
                let (x, xt) = self.bind_expr(expr)?;
                let (lo, lt) = self.bind_expr(low)?;
                let (hi, ht) = self.bind_expr(high)?;
                let ge = self.make_binary(BinOp::GtEq, x.clone(), xt.clone(), lo, lt)?;
                let le = self.make_binary(BinOp::LtEq, x, xt, hi, ht)?;
                let both = Expr::And(ge.0.boxed(), le.0.boxed());
                Ok((
                    if *negated {
                        Expr::Not(both.boxed())
                    } else {
                        both
                    },
                    DataType::Bool,
                ))
            }
            E::Like {
                negated,
                expr,
                pattern,
                escape_char,
                any: false,
            }
            | E::ILike {
                negated,
                expr,
                pattern,
                escape_char,
                any: false,
            } => {
                let op = match (matches!(e, E::ILike { .. }), negated) {
                    (false, false) => BinOp::Like,
                    (false, true) => BinOp::NotLike,
                    (true, false) => BinOp::ILike,
                    (true, true) => BinOp::NotILike,
                };
                let (l, lt) = self.bind_expr(expr)?;
                let (mut r, mut rt) = self.bind_expr(pattern)?;
                if let Some(esc) = escape_char {
                    // `p ESCAPE e` is `like_escape(p, e)` under LIKE's own escape
                    let esc = self.bind_expr(esc)?;
                    (r, rt) = self.call_named("like_escape", vec![(r, rt), esc])?;
                }
                self.make_binary(op, l, lt, r, rt)
            }
            E::AnyOp {
                left,
                compare_op,
                right,
                ..
            }
            | E::AllOp {
                left,
                compare_op,
                right,
            } => {
                let all = matches!(e, E::AllOp { .. });
                let op = map_binop(compare_op)
                    .ok_or_else(|| PgError::unsupported(format!("operator {compare_op}")))?;
                if let E::Subquery(q) = right.as_ref() {
                    if op == BinOp::Eq && !all {
                        return self.bind_expr(&E::InSubquery {
                            expr: left.clone(),
                            subquery: q.clone(),
                            negated: false,
                        });
                    }
                    if op == BinOp::NotEq && all {
                        return self.bind_expr(&E::InSubquery {
                            expr: left.clone(),
                            subquery: q.clone(),
                            negated: true,
                        });
                    }
                    return Err(PgError::unsupported(
                        "ANY/ALL (subquery) with this operator",
                    ));
                }
                let (l, lt) = self.bind_expr(left)?;
                let (r, rt) = self.bind_expr(right)?;
                // int2vector and oidvector are arrays of their elements here
                let rt = match rt {
                    DataType::Int2Vector => DataType::Array(Box::new(DataType::Int2)),
                    DataType::OidVector => DataType::Array(Box::new(DataType::Oid)),
                    other => other,
                };
                let (l, lt, r) = match &rt {
                    DataType::Array(elem) => {
                        let l = if lt == DataType::Unknown {
                            self.coerce(l, &lt, elem)?
                        } else {
                            l
                        };
                        let lt2 = if lt == DataType::Unknown {
                            (**elem).clone()
                        } else {
                            lt
                        };
                        (l, lt2, r)
                    }
                    DataType::Unknown => {
                        let lt2 = if lt == DataType::Unknown {
                            DataType::Text
                        } else {
                            lt
                        };
                        let l = self.coerce(l, &DataType::Unknown, &lt2)?;
                        let arr = DataType::Array(Box::new(base_type(&lt2)));
                        (l, lt2, self.coerce(r, &rt, &arr)?)
                    }
                    other => {
                        return Err(mismatch(format!(
                            "op ANY/ALL (array) requires array on right side, not {}",
                            other.display_name()
                        )))
                    }
                };
                let _ = lt;
                Ok((
                    Expr::AnyAll {
                        l: l.boxed(),
                        op,
                        r: r.boxed(),
                        all,
                    },
                    DataType::Bool,
                ))
            }
            E::Cast {
                kind,
                expr,
                data_type,
                ..
            } => {
                if matches!(kind, CastKind::TryCast | CastKind::SafeCast) {
                    return Err(PgError::unsupported("TRY_CAST"));
                }
                let to = convert_type(data_type, &self.catalog, &self.search_path)?;
                let (x, from) = self.bind_expr(expr)?;
                // input errors point at a literal; the type modifier applied
                // after (numeric(5,2), ...) is not the literal's doing
                let base = base_type(&to);
                let x = self
                    .coerce(x, &from, &base)
                    .map_err(|err| at_literal(err, expr))?;
                let x = if base == to {
                    x
                } else {
                    self.coerce(x, &base, &to)?
                };
                Ok((x, to))
            }
            E::TypedString(ts) => {
                let to = convert_type(&ts.data_type, &self.catalog, &self.search_path)?;
                let s = literal_string(&ts.value.value)
                    .ok_or_else(|| PgError::unsupported(format!("literal {e}")))?;
                Ok((
                    self.coerce(Expr::Const(Value::Text(s)), &DataType::Unknown, &to)?,
                    to,
                ))
            }
            E::Interval(iv) => {
                let (x, xt) = self.bind_expr(&iv.value)?;
                let x = match (x, &iv.leading_field) {
                    (Expr::Const(Value::Text(s)), Some(f)) if xt == DataType::Unknown => {
                        Expr::Const(Value::Text(format!("{s} {f}")))
                    }
                    (x, _) => x,
                };
                Ok((
                    self.coerce(x, &xt, &DataType::Interval)?,
                    DataType::Interval,
                ))
            }
            E::Case {
                operand,
                conditions,
                else_result,
                ..
            } => self.bind_case(operand.as_deref(), conditions, else_result.as_deref()),
            // a call PostgreSQL cannot resolve or allow here is pointed at
            E::Function(f) => self.bind_function(f).map_err(|e| {
                let unresolved = e.code == SqlState::UNDEFINED_FUNCTION
                    || (e.code == SqlState::GROUPING_ERROR
                        && e.message.starts_with("aggregate function"));
                match unresolved {
                    true => super::window::at_function(e, f),
                    false => e,
                }
            }),
            E::Array(arr) => {
                let mut items = Vec::new();
                let mut types = Vec::new();
                for it in &arr.elem {
                    let (b, t) = self.bind_expr(it)?;
                    items.push((b, t.clone()));
                    types.push(t);
                }
                let common = common_type(&types)?;
                let common = if common == DataType::Unknown {
                    DataType::Text
                } else {
                    common
                };
                let mut out = Vec::new();
                for (b, t) in items {
                    out.push(self.coerce(b, &t, &common)?);
                }
                Ok((Expr::Array(out), DataType::Array(Box::new(common))))
            }
            E::CompoundFieldAccess { root, access_chain } => {
                // `t.col[1]`: the dotted names before the subscripts are
                // one column reference
                let mut names = match root.as_ref() {
                    E::Identifier(i) => vec![i.clone()],
                    E::CompoundIdentifier(ids) => ids.clone(),
                    _ => Vec::new(),
                };
                let mut rest = access_chain.as_slice();
                while let (false, Some(ast::AccessExpr::Dot(E::Identifier(i)))) =
                    (names.is_empty(), rest.first())
                {
                    names.push(i.clone());
                    rest = &rest[1..];
                }
                let (mut x, mut ty) = if rest.len() < access_chain.len() {
                    self.bind_expr(&E::CompoundIdentifier(names))?
                } else {
                    self.bind_expr(root)?
                };
                for acc in rest {
                    match acc {
                        ast::AccessExpr::Subscript(Subscript::Index { index }) => {
                            // int2vector and oidvector subscripts start at 0
                            let (elem, base0) = match ty.clone() {
                                DataType::Array(elem) => (elem, false),
                                DataType::Int2Vector => (Box::new(DataType::Int2), true),
                                DataType::OidVector => (Box::new(DataType::Oid), true),
                                _ => return Err(cannot_subscript(&ty)),
                            };
                            let (i, it) = self.bind_expr(index)?;
                            let mut i = self.coerce(i, &it, &DataType::Int4)?;
                            if base0 {
                                i = Expr::Binary {
                                    op: BinOp::Add,
                                    l: i.boxed(),
                                    r: Expr::Const(Value::Int4(1)).boxed(),
                                };
                            }
                            x = Expr::Subscript {
                                e: x.boxed(),
                                index: i.boxed(),
                            };
                            ty = *elem;
                        }
                        ast::AccessExpr::Subscript(Subscript::Slice {
                            lower_bound,
                            upper_bound,
                            stride: None,
                        }) => {
                            if !matches!(ty, DataType::Array(_)) {
                                return Err(cannot_subscript(&ty));
                            }
                            let mut args = vec![(x, ty.clone())];
                            for b in [lower_bound, upper_bound] {
                                let (v, vt) = match b {
                                    Some(b) => self.bind_expr(b)?,
                                    None => (Expr::Const(Value::Null), DataType::Int4),
                                };
                                args.push((self.coerce(v, &vt, &DataType::Int4)?, DataType::Int4));
                            }
                            for b in [lower_bound, upper_bound] {
                                let omitted = Expr::Const(Value::Bool(b.is_none()));
                                args.push((omitted, DataType::Bool));
                            }
                            (x, ty) = self.call_named(tandem_expr::ARRAY_SLICE_FUNCTION, args)?;
                        }
                        _ => return Err(PgError::unsupported(format!("expression {e}"))),
                    }
                }
                Ok((x, ty))
            }
            E::Extract { field, expr, .. } => {
                let field = Expr::Const(Value::Text(field.to_string().to_lowercase()));
                let (x, xt) = self.bind_expr(expr)?;
                self.call_named("extract", vec![(field, DataType::Text), (x, xt)])
            }
            E::Substring {
                expr,
                substring_from,
                substring_for,
                ..
            } => {
                let mut args = vec![self.bind_expr(expr)?];
                if let Some(f) = substring_from {
                    args.push(self.bind_expr(f)?);
                } else {
                    args.push((Expr::Const(Value::Int4(1)), DataType::Int4));
                }
                if let Some(f) = substring_for {
                    args.push(self.bind_expr(f)?);
                }
                self.call_named("substring", args)
            }
            E::Position { expr, r#in } => {
                let args = vec![self.bind_expr(r#in)?, self.bind_expr(expr)?];
                self.call_named("strpos", args)
            }
            E::Trim {
                trim_where,
                trim_what,
                expr,
                ..
            } => {
                let name = match trim_where {
                    Some(ast::TrimWhereField::Leading) => "ltrim",
                    Some(ast::TrimWhereField::Trailing) => "rtrim",
                    _ => "btrim",
                };
                let mut args = vec![self.bind_expr(expr)?];
                if let Some(w) = trim_what {
                    args.push(self.bind_expr(w)?);
                }
                self.call_named(name, args)
            }
            E::Ceil { expr, .. } => {
                let a = self.bind_expr(expr)?;
                self.call_named("ceil", vec![a])
            }
            E::Floor { expr, .. } => {
                let a = self.bind_expr(expr)?;
                self.call_named("floor", vec![a])
            }
            E::AtTimeZone {
                timestamp,
                time_zone,
            } => {
                let args = vec![self.bind_expr(time_zone)?, self.bind_expr(timestamp)?];
                self.call_named("timezone", args)
            }
            E::Tuple(_) => Err(PgError::unsupported("row constructors")),
            other => Err(PgError::unsupported(format!("expression {other}"))),
        }
    }

    fn bind_value(&mut self, v: &AstValue) -> PgResult<(Expr, DataType)> {
        match v {
            AstValue::Number(s, _) => {
                let (v, t) = number_literal(s)?;
                Ok((Expr::Const(v), t))
            }
            AstValue::Boolean(b) => Ok((Expr::Const(Value::Bool(*b)), DataType::Bool)),
            AstValue::Null => Ok((Expr::Const(Value::Null), DataType::Unknown)),
            AstValue::Placeholder(p) => {
                let n: usize = p
                    .trim_start_matches('$')
                    .parse()
                    .map_err(|_| PgError::syntax(format!("syntax error at or near \"{p}\"")))?;
                if n == 0 || n > 65535 {
                    return Err(PgError::new(
                        SqlState::UNDEFINED_PARAMETER,
                        format!("there is no parameter ${n}"),
                    ));
                }
                if self.params.len() < n {
                    self.params.resize(n, DataType::Unknown);
                }
                Ok((Expr::Param(n - 1), self.params[n - 1].clone()))
            }
            other => match literal_string(other) {
                Some(s) => Ok((Expr::Const(Value::Text(s)), DataType::Unknown)),
                None => Err(PgError::unsupported(format!("literal {other}"))),
            },
        }
    }

    /// Binds both sides, resolving an unknown side to the other's type.
    fn bind_pair(&mut self, l: &ast::Expr, r: &ast::Expr) -> PgResult<(Expr, Expr, DataType)> {
        let (l, lt) = self.bind_expr(l)?;
        let (r, rt) = self.bind_expr(r)?;
        let (l, r, lt, _) = self.unify_unknown(l, lt, r, rt, false)?;
        Ok((l, r, lt))
    }

    fn unify_unknown(
        &mut self,
        l: Expr,
        lt: DataType,
        r: Expr,
        rt: DataType,
        text_op: bool,
    ) -> PgResult<(Expr, Expr, DataType, DataType)> {
        let unk = DataType::Unknown;
        Ok(match (lt == unk, rt == unk) {
            (true, true) => {
                let l = self.coerce(l, &unk, &DataType::Text)?;
                let r = self.coerce(r, &unk, &DataType::Text)?;
                (l, r, DataType::Text, DataType::Text)
            }
            (true, false) => {
                let to = if text_op {
                    DataType::Text
                } else {
                    base_type(&rt)
                };
                let l = self.coerce(l, &unk, &to)?;
                (l, r, to, rt)
            }
            (false, true) => {
                let to = if text_op {
                    DataType::Text
                } else {
                    base_type(&lt)
                };
                let r = self.coerce(r, &unk, &to)?;
                (l, r, lt, to)
            }
            (false, false) => (l, r, lt, rt),
        })
    }

    /// `l op r` with unknown operands resolved and the result type from tandem_expr.
    pub fn make_binary(
        &mut self,
        op: BinOp,
        l: Expr,
        lt: DataType,
        r: Expr,
        rt: DataType,
    ) -> PgResult<(Expr, DataType)> {
        if let Some(jop) = tandem_expr::json::json_variant(op, &lt, &rt) {
            // json operators decide their operands' types (an unknown
            // literal on the right is a key, a path or a document)
            let l_to = match lt {
                DataType::Unknown => DataType::Jsonb,
                ref t => t.clone(),
            };
            let r_to = tandem_expr::json::right_operand_type(jop, &rt);
            let ty = tandem_expr::binary_op_type(jop, &l_to, &r_to)?;
            let l = self.coerce(l, &lt, &l_to)?;
            let r = self.coerce(r, &rt, &r_to)?;
            return Ok((
                Expr::Binary {
                    op: jop,
                    l: l.boxed(),
                    r: r.boxed(),
                },
                ty,
            ));
        }
        let text_op = op.is_pattern();
        let concat_unknown =
            op == BinOp::Concat && (lt == DataType::Unknown || rt == DataType::Unknown);
        let (l, r, lt, rt) = if concat_unknown {
            let other = if lt == DataType::Unknown { &rt } else { &lt };
            let to = if matches!(other, DataType::Array(_)) {
                other.clone()
            } else {
                DataType::Text
            };
            let l = self.coerce(
                l,
                &lt.clone(),
                if lt == DataType::Unknown { &to } else { &lt },
            )?;
            let r = self.coerce(
                r,
                &rt.clone(),
                if rt == DataType::Unknown { &to } else { &rt },
            )?;
            let lt2 = if lt == DataType::Unknown {
                to.clone()
            } else {
                lt
            };
            let rt2 = if rt == DataType::Unknown { to } else { rt };
            (l, r, lt2, rt2)
        } else {
            self.unify_unknown(l, lt, r, rt, text_op)?
        };
        // character(n) compares and concatenates as text, its padding
        // dropped (PostgreSQL's bpchareq and textcat after the bpchar cast)
        let (l, lt, r, rt) = if op.is_comparison() || op == BinOp::Concat {
            let l = self.unpad(l, lt)?;
            let r = self.unpad(r, rt)?;
            (l.0, l.1, r.0, r.1)
        } else {
            (l, lt, r, rt)
        };
        let ty = tandem_expr::binary_op_type(op, &lt, &rt)?;
        Ok((
            Expr::Binary {
                op,
                l: l.boxed(),
                r: r.boxed(),
            },
            ty,
        ))
    }

    /// A `character(n)` operand as text without its padding; others as they are.
    fn unpad(&mut self, e: Expr, ty: DataType) -> PgResult<(Expr, DataType)> {
        match ty {
            DataType::Bpchar(_) => Ok((self.coerce(e, &ty, &DataType::Text)?, DataType::Text)),
            _ => Ok((e, ty)),
        }
    }

    fn bind_binary(
        &mut self,
        left: &ast::Expr,
        op: &BinaryOperator,
        right: &ast::Expr,
    ) -> PgResult<(Expr, DataType)> {
        match op {
            BinaryOperator::And | BinaryOperator::Or => {
                let what = if *op == BinaryOperator::And {
                    "AND"
                } else {
                    "OR"
                };
                let l = self.bind_condition(left, what)?;
                let r = self.bind_condition(right, what)?;
                let e = if *op == BinaryOperator::And {
                    Expr::And(l.boxed(), r.boxed())
                } else {
                    Expr::Or(l.boxed(), r.boxed())
                };
                Ok((e, DataType::Bool))
            }
            _ => {
                let bop = map_binop(op).ok_or_else(|| {
                    PgError::new(
                        SqlState::UNDEFINED_FUNCTION,
                        format!("operator does not exist: {op}"),
                    )
                })?;
                let (l, lt) = self.bind_expr(left)?;
                let (r, rt) = self.bind_expr(right)?;
                self.make_binary(bop, l, lt, r, rt).map_err(|e| {
                    // no such operator: pointed at it, before its right operand
                    let at = right.span().start;
                    if e.code == SqlState::UNDEFINED_FUNCTION && at.line > 0 {
                        e.with_locate(tandem_types::Locate::OperatorBefore(at.line, at.column))
                    } else {
                        e
                    }
                })
            }
        }
    }

    fn bind_unary(&mut self, op: &UnaryOperator, x: &ast::Expr) -> PgResult<(Expr, DataType)> {
        match op {
            UnaryOperator::Not => {
                let b = self.bind_condition(x, "NOT")?;
                Ok((Expr::Not(b.boxed()), DataType::Bool))
            }
            UnaryOperator::Minus => {
                if let ast::Expr::Value(v) = x {
                    if let AstValue::Number(s, _) = &v.value {
                        let (v, t) = number_literal(&format!("-{s}"))?;
                        return Ok((Expr::Const(v), t));
                    }
                }
                let (b, t) = self.bind_expr(x)?;
                let (b, t) = if t == DataType::Unknown {
                    (
                        self.coerce(b, &t, &DataType::Numeric(None))?,
                        DataType::Numeric(None),
                    )
                } else {
                    (b, t)
                };
                Ok((
                    Expr::Unary {
                        op: UnaryOp::Neg,
                        e: b.boxed(),
                    },
                    t,
                ))
            }
            UnaryOperator::Plus => self.bind_expr(x),
            UnaryOperator::BitwiseNot => {
                let (b, t) = self.bind_expr(x)?;
                Ok((
                    Expr::Unary {
                        op: UnaryOp::BitNot,
                        e: b.boxed(),
                    },
                    t,
                ))
            }
            // `|/ x` and `@ x`: sqrt(double precision) and abs()
            UnaryOperator::PGSquareRoot | UnaryOperator::PGAbs => {
                let (b, t) = self.bind_expr(x)?;
                if *op == UnaryOperator::PGAbs {
                    let t = if t == DataType::Unknown {
                        DataType::Float8
                    } else {
                        t
                    };
                    return self.call_named("abs", vec![(b, t)]);
                }
                let b = self.coerce(b, &t, &DataType::Float8)?;
                self.call_named("sqrt", vec![(b, DataType::Float8)])
            }
            other => Err(PgError::unsupported(format!("operator {other}"))),
        }
    }

    fn bind_case(
        &mut self,
        operand: Option<&ast::Expr>,
        conditions: &[ast::CaseWhen],
        else_result: Option<&ast::Expr>,
    ) -> PgResult<(Expr, DataType)> {
        let operand = match operand {
            Some(o) => Some(self.bind_expr(o)?),
            None => None,
        };
        let mut whens = Vec::new();
        let mut results = Vec::new();
        for cw in conditions {
            let cond = match &operand {
                Some((o, ot)) => {
                    let (v, vt) = self.bind_expr(&cw.condition)?;
                    self.make_binary(BinOp::Eq, o.clone(), ot.clone(), v, vt)?.0
                }
                None => self.bind_condition(&cw.condition, "CASE")?,
            };
            whens.push(cond);
            results.push(self.bind_expr(&cw.result)?);
        }
        let otherwise = match else_result {
            Some(e) => Some(self.bind_expr(e)?),
            None => None,
        };
        let mut types: Vec<DataType> = results.iter().map(|r| r.1.clone()).collect();
        if let Some((_, t)) = &otherwise {
            types.push(t.clone());
        }
        let common = common_type(&types).map_err(|e| PgError {
            message: e.message.replace("types", "CASE types"),
            ..e
        })?;
        let common = if common == DataType::Unknown {
            DataType::Text
        } else {
            common
        };
        let mut pairs = Vec::new();
        for (w, (r, rt)) in whens.into_iter().zip(results) {
            pairs.push((w, self.coerce(r, &rt, &common)?));
        }
        let otherwise = match otherwise {
            Some((e, t)) => Some(Box::new(self.coerce(e, &t, &common)?)),
            None => None,
        };
        for (w, t) in &pairs {
            forbid_srf(w, "CASE")?;
            forbid_srf(t, "CASE")?;
        }
        if let Some(o) = &otherwise {
            forbid_srf(o, "CASE")?;
        }
        // With an operand, the conditions compare the operand; binding kept it
        // inside each condition, so the plain searched form suffices.
        Ok((
            Expr::Case {
                operand: None,
                whens: pairs,
                otherwise,
            },
            common,
        ))
    }

    /// Binds a subquery as a new query level.
    pub fn bind_subquery(&mut self, q: &ast::Query) -> PgResult<(SubPlan, Vec<OutCol>)> {
        self.levels.push(super::scope::Level::new());
        let res = self.bind_query(q);
        let level = self.levels.pop();
        let (node, cols) = res?;
        let correlated = level.map(|l| l.correlated).unwrap_or(true);
        let id = self.next_subplan;
        self.next_subplan += 1;
        Ok((
            SubPlan {
                id,
                node,
                correlated,
            },
            cols,
        ))
    }

    /// Calls a function by name with bound arguments (SQL-syntax functions such as
    /// `EXTRACT`, `SUBSTRING ... FROM`).
    fn call_named(
        &mut self,
        name: &str,
        args: Vec<(Expr, DataType)>,
    ) -> PgResult<(Expr, DataType)> {
        let types: Vec<DataType> = args.iter().map(|a| a.1.clone()).collect();
        let sig = tandem_expr::resolve_function(name, &types)?;
        let mut out = Vec::with_capacity(args.len());
        for (i, (a, t)) in args.into_iter().enumerate() {
            let to = sig.arg_types.get(i).cloned().unwrap_or(t.clone());
            out.push(self.coerce(a, &t, &to)?);
        }
        let ret = sig.ret.clone();
        Ok((Expr::Func { sig, args: out }, ret))
    }

    fn bind_function(&mut self, f: &ast::Function) -> PgResult<(Expr, DataType)> {
        let mut parts = object_parts(&f.name)?;
        if parts.len() == 2 && parts[0] == "pg_catalog" {
            parts.remove(0);
        }
        if parts.len() != 1 {
            return Err(PgError::new(
                SqlState::UNDEFINED_FUNCTION,
                format!("function {}() does not exist", parts.join(".")),
            ));
        }
        let name = parts.remove(0);
        if !f.within_group.is_empty() {
            return Err(PgError::unsupported("WITHIN GROUP"));
        }
        let (args, distinct, order): (&[FunctionArg], bool, &[ast::OrderByExpr]) = match &f.args {
            FunctionArguments::None => {
                if let Some(r) = self.keyword_function(&name)? {
                    return Ok(r);
                }
                (&[], false, &[])
            }
            FunctionArguments::Subquery(q) if name == "array" => {
                let (sub, cols) = self.bind_subquery(q)?;
                if cols.len() != 1 {
                    return Err(PgError::syntax("subquery must return only one column"));
                }
                let elem = crate::sqltype::base_type(&cols[0].ty);
                return Ok((
                    Expr::ArraySub(Box::new(sub)),
                    DataType::Array(Box::new(elem)),
                ));
            }
            FunctionArguments::Subquery(_) => {
                return Err(PgError::unsupported("function call with subquery argument"))
            }
            FunctionArguments::List(list) => {
                let mut order: &[ast::OrderByExpr] = &[];
                for c in &list.clauses {
                    match c {
                        FunctionArgumentClause::OrderBy(o) => order = o,
                        other => {
                            return Err(PgError::unsupported(format!(
                                "function argument clause {other}"
                            )))
                        }
                    }
                }
                let distinct =
                    matches!(list.duplicate_treatment, Some(DuplicateTreatment::Distinct));
                (&list.args, distinct, order)
            }
        };
        // row_to_json(t), to_json(t), to_jsonb(t), json_agg(t),
        // jsonb_agg(t) of a FROM item t: its columns as a json object
        let row_arg;
        let args = match self.whole_row_json(&name, args)? {
            Some(row) if matches!(name.as_str(), "row_to_json" | "to_json" | "to_jsonb") => {
                return self.bind_expr(&row);
            }
            Some(row) => {
                row_arg = [FunctionArg::Unnamed(FunctionArgExpr::Expr(row))];
                &row_arg[..]
            }
            None => args,
        };
        if let Some(over) = &f.over {
            return self.bind_window(&name, f, args, distinct, order, over);
        }
        if name == "grouping" {
            // GROUPING(a, ...): its arguments are group keys; the grouped
            // query replaces the call with the bits of the row's set
            let mut bound = Vec::new();
            let mut types = Vec::new();
            for a in args {
                match a {
                    FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => {
                        let (x, t) = self.bind_resolved(e)?;
                        bound.push(x);
                        types.push(t);
                    }
                    _ => return Err(PgError::unsupported(format!("function argument {a}"))),
                }
            }
            let sig = tandem_expr::FunctionSig {
                name,
                arg_types: types,
                ret: DataType::Int4,
                volatile: false,
                id: usize::MAX,
            };
            return Ok((Expr::Func { sig, args: bound }, DataType::Int4));
        }
        let is_star = matches!(args, [FunctionArg::Unnamed(FunctionArgExpr::Wildcard)]);
        if let Some(kind) = aggregates::lookup(&name) {
            let kind = if is_star && kind == AggKind::Count {
                AggKind::CountStar
            } else {
                kind
            };
            return self.bind_aggregate(
                kind,
                &name,
                if is_star { &[] } else { args },
                distinct,
                order,
                f.filter.as_deref(),
            );
        }
        let misplaced = if distinct {
            Some("DISTINCT")
        } else if !order.is_empty() {
            Some("ORDER BY")
        } else if f.filter.is_some() {
            Some("FILTER")
        } else {
            None
        };
        if let Some(what) = misplaced {
            return Err(PgError::new(
                SqlState::WRONG_OBJECT_TYPE,
                format!("{what} specified, but {name} is not an aggregate function"),
            ));
        }
        let mut bound = Vec::with_capacity(args.len());
        for a in args {
            match a {
                FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => bound.push(self.bind_expr(e)?),
                _ => return Err(PgError::unsupported(format!("function argument {a}"))),
            }
        }
        if let Some(r) = self.special_function(&name, &mut bound)? {
            if matches!(name.as_str(), "coalesce") {
                forbid_srf(&r.0, "COALESCE")?;
            }
            return Ok(r);
        }
        if crate::table_functions::is_set_returning(&name) {
            let types: Vec<DataType> = bound.iter().map(|a| a.1.clone()).collect();
            if let Some((func, arg_types, ret)) = crate::table_functions::resolve(&name, &types)? {
                return self.bind_srf(&name, func, bound, &arg_types, ret);
            }
        }
        self.call_named(&name, bound)
    }

    /// For a function taking a row as json and a lone argument naming a
    /// FROM item (not a column), that item's columns as a json object
    /// (`jsonb_build_object` for the jsonb functions, else as
    /// `row_to_json` prints it), as an expression to bind instead.
    fn whole_row_json(&mut self, name: &str, args: &[FunctionArg]) -> PgResult<Option<ast::Expr>> {
        let jsonb = match name {
            "row_to_json" | "to_json" | "json_agg" => false,
            "to_jsonb" | "jsonb_agg" => true,
            _ => return Ok(None),
        };
        let [FunctionArg::Unnamed(FunctionArgExpr::Expr(ast::Expr::Identifier(id)))] = args else {
            return Ok(None);
        };
        let alias = ident_name(id);
        if super::scope::resolve(&mut self.levels, None, &alias).is_ok()
            || !self.level().tables.contains(&alias)
        {
            return Ok(None);
        }
        let columns = super::scope::wildcard(self.level(), Some(&alias))?;
        let fields: Vec<String> = columns
            .iter()
            .map(|(_, c)| {
                format!(
                    "{}, {}.{}",
                    tandem_types::ident::quote_literal(&c.name),
                    tandem_types::ident::quote_identifier(&alias),
                    tandem_types::ident::quote_identifier(&c.name)
                )
            })
            .collect();
        let func = match name {
            _ if jsonb => "jsonb_build_object",
            "json_agg" => "row_to_json_record",
            _ => "row_to_json_fields",
        };
        crate::dml::parse_expr(&format!("{func}({})", fields.join(", "))).map(Some)
    }

    /// A set-returning function in a target list: recorded in the level (calls
    /// with equal arguments share one entry) and referenced as `Expr::SrfRef`;
    /// elsewhere PostgreSQL's "not allowed" errors.
    fn bind_srf(
        &mut self,
        name: &str,
        func: crate::table_functions::TableFunc,
        args: Vec<(Expr, DataType)>,
        arg_types: &[DataType],
        ret: DataType,
    ) -> PgResult<(Expr, DataType)> {
        let level = self.level();
        let not_allowed = |clause: &str| {
            PgError::new(
                SqlState::FEATURE_NOT_SUPPORTED,
                format!("set-returning functions are not allowed in {clause}"),
            )
        };
        match level.agg_forbidden {
            Some("GROUP BY") => {
                return Err(PgError::unsupported("set-returning functions in GROUP BY"))
            }
            Some(clause) => return Err(not_allowed(clause)),
            None => {}
        }
        if level.in_agg {
            return Err(PgError::new(
                SqlState::FEATURE_NOT_SUPPORTED,
                "aggregate function calls cannot contain set-returning function calls",
            )
            .with_hint(SRF_HINT));
        }
        if !level.srf_allowed {
            return Err(match level.srf_clause {
                Some(clause) => not_allowed(clause),
                None => PgError::unsupported(format!("set-returning function {name}() here")),
            });
        }
        let mut out = Vec::with_capacity(args.len());
        for (i, (a, t)) in args.into_iter().enumerate() {
            let to = arg_types.get(i).cloned().unwrap_or(t.clone());
            out.push(self.coerce(a, &t, &to)?);
        }
        let call = SrfCall { func, args: out };
        let key = format!("{call:?}");
        let level = self.level();
        let idx = match level.srfs.iter().position(|(_, k)| *k == key) {
            Some(i) => i,
            None => {
                level.srfs.push((call, key));
                level.srfs.len() - 1
            }
        };
        Ok((Expr::SrfRef(idx), ret))
    }

    /// SQL value functions written without parentheses (`CURRENT_TIMESTAMP`).
    fn keyword_function(&mut self, name: &str) -> PgResult<Option<(Expr, DataType)>> {
        Ok(Some(match name {
            "current_timestamp" => (Expr::TxnTimestamp, DataType::TimestampTz),
            "localtimestamp" => (
                Expr::Cast {
                    e: Expr::TxnTimestamp.boxed(),
                    ty: DataType::Timestamp,
                },
                DataType::Timestamp,
            ),
            "current_date" => (
                Expr::Cast {
                    e: Expr::TxnTimestamp.boxed(),
                    ty: DataType::Date,
                },
                DataType::Date,
            ),
            "localtime" => (
                Expr::Cast {
                    e: Expr::TxnTimestamp.boxed(),
                    ty: DataType::Time,
                },
                DataType::Time,
            ),
            "current_user" | "session_user" | "user" | "current_role" => {
                (Expr::CurrentUser, DataType::Name)
            }
            "current_schema" => (
                Expr::Const(
                    self.catalog
                        .first_schema(&self.search_path)
                        .map_or(Value::Null, |s| Value::Text(s.to_string())),
                ),
                DataType::Name,
            ),
            _ => return Ok(None),
        }))
    }

    /// Functions with special typing rules, and those the query crate evaluates.
    fn special_function(
        &mut self,
        name: &str,
        args: &mut Vec<(Expr, DataType)>,
    ) -> PgResult<Option<(Expr, DataType)>> {
        match name {
            "coalesce" | "greatest" | "least" => {
                if args.is_empty() {
                    return Err(PgError::syntax(format!(
                        "syntax error at or near \")\" in {name}"
                    )));
                }
                let types: Vec<DataType> = args.iter().map(|a| a.1.clone()).collect();
                let common = common_type(&types).map_err(|e| PgError {
                    message: e
                        .message
                        .replace("types", &format!("{} types", name.to_uppercase())),
                    ..e
                })?;
                let common = if common == DataType::Unknown {
                    DataType::Text
                } else {
                    common
                };
                let mut out = Vec::new();
                for (a, t) in args.drain(..) {
                    out.push(self.coerce(a, &t, &common)?);
                }
                let e = match name {
                    "coalesce" => Expr::Coalesce(out),
                    "greatest" => Expr::Greatest(out),
                    _ => Expr::Least(out),
                };
                Ok(Some((e, common)))
            }
            "nullif" => {
                if args.len() != 2 {
                    return Err(PgError::new(
                        SqlState::UNDEFINED_FUNCTION,
                        "function nullif does not exist",
                    ));
                }
                let (r, rt) = args
                    .pop()
                    .unwrap_or((Expr::Const(Value::Null), DataType::Unknown));
                let (l, lt) = args
                    .pop()
                    .unwrap_or((Expr::Const(Value::Null), DataType::Unknown));
                let (l, r, lt, _) = self.unify_unknown(l, lt, r, rt, false)?;
                Ok(Some((Expr::NullIf(l.boxed(), r.boxed()), lt)))
            }
            "now" | "transaction_timestamp" if args.is_empty() => {
                Ok(Some((Expr::TxnTimestamp, DataType::TimestampTz)))
            }
            "statement_timestamp" if args.is_empty() => {
                Ok(Some((Expr::StmtTimestamp, DataType::TimestampTz)))
            }
            "current_user" | "session_user" if args.is_empty() => {
                Ok(Some((Expr::CurrentUser, DataType::Name)))
            }
            _ => Ok(None),
        }
    }

    fn bind_aggregate(
        &mut self,
        kind: AggKind,
        name: &str,
        args: &[FunctionArg],
        distinct: bool,
        order: &[ast::OrderByExpr],
        filter: Option<&ast::Expr>,
    ) -> PgResult<(Expr, DataType)> {
        let level = self.level();
        if let Some(clause) = level.agg_forbidden {
            return Err(PgError::new(
                SqlState::GROUPING_ERROR,
                format!("aggregate functions are not allowed in {clause}"),
            ));
        }
        if level.in_agg {
            return Err(PgError::new(
                SqlState::GROUPING_ERROR,
                "aggregate function calls cannot be nested",
            ));
        }
        level.in_agg = true;
        let res = self.bind_agg_parts(kind, name, args, order, filter);
        self.level().in_agg = false;
        let (args, types, order, filter) = res?;
        let ty = aggregates::result_type(kind, name, &types)?;
        let level = self.level();
        let arg_type = types.first().cloned().unwrap_or(DataType::Unknown);
        level.aggs.push(AggCall {
            kind,
            arg_type: arg_type.clone(),
            args,
            distinct,
            filter,
            order,
        });
        level.agg_types.push(arg_type);
        Ok((Expr::AggRef(level.aggs.len() - 1), ty))
    }

    #[allow(clippy::type_complexity)]
    pub(crate) fn bind_agg_parts(
        &mut self,
        kind: AggKind,
        name: &str,
        args: &[FunctionArg],
        order: &[ast::OrderByExpr],
        filter: Option<&ast::Expr>,
    ) -> PgResult<(Vec<Expr>, Vec<DataType>, Vec<SortKey>, Option<Expr>)> {
        let mut bound = Vec::new();
        let mut types = Vec::new();
        for a in args {
            let FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) = a else {
                return Err(PgError::unsupported(format!(
                    "aggregate argument {a} in {name}"
                )));
            };
            let (mut x, mut t) = self.bind_expr(e)?;
            if t == DataType::Unknown || kind == AggKind::StringAgg && crate::sqltype::is_string(&t)
            {
                x = self.coerce(x, &t, &DataType::Text)?;
                t = DataType::Text;
            }
            bound.push(x);
            types.push(t);
        }
        let mut keys = Vec::new();
        for o in order {
            let (x, _) = self.bind_expr(&o.expr)?;
            let desc = matches!(o.options.sort, Some(ast::OrderBySort::Desc));
            keys.push(SortKey {
                expr: x,
                desc,
                nulls_first: o.options.nulls_first.unwrap_or(desc),
            });
        }
        let filter = match filter {
            Some(f) => {
                let saved = self.level().agg_forbidden.replace("FILTER");
                let r = self.bind_condition(f, "FILTER");
                self.level().agg_forbidden = saved;
                Some(r?)
            }
            None => None,
        };
        Ok((bound, types, keys, filter))
    }
}

/// The text of a string literal of any quoting style.
pub fn literal_string(v: &AstValue) -> Option<String> {
    match v {
        AstValue::SingleQuotedString(s)
        | AstValue::EscapedStringLiteral(s)
        | AstValue::UnicodeStringLiteral(s)
        | AstValue::NationalStringLiteral(s)
        | AstValue::TripleSingleQuotedString(s)
        | AstValue::DoubleQuotedString(s) => Some(s.clone()),
        AstValue::DollarQuotedString(d) => Some(d.value.clone()),
        _ => None,
    }
}

/// `42804 cannot subscript type T because it does not support subscripting`.
fn cannot_subscript(ty: &DataType) -> PgError {
    mismatch(format!(
        "cannot subscript type {} because it does not support subscripting",
        ty.display_name()
    ))
}
