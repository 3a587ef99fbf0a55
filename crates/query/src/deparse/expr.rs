//! Expressions of a view's query, printed as ruleutils prints the trees
//! of PostgreSQL's parse analysis.
//!
//! An AST expression is first lowered to [`P`], the node PostgreSQL's
//! parser makes of it: literals take the type their context gives them
//! (`'x'::text`, `10::numeric`), operands get the implicit casts operator
//! resolution adds (`varchar` is compared as `text`), `IN (...)` of
//! constants becomes `= ANY (ARRAY[...])`, `BETWEEN` two comparisons,
//! `LIKE` the `~~` operator. Printing then follows ruleutils'
//! get_rule_expr: parentheses around every operator unless pretty, where
//! only precedence needs them (isSimpleNode), casts as `(x)::type`.

use sqlparser::ast::{self, BinaryOperator, UnaryOperator};
use tandem_types::ident::quote_identifier;
use tandem_types::{DataType, PgResult};

use super::{expr_key, unsupported, Deparser, Level, INDENT_VAR};
use crate::bind::{ident_name, object_parts};

/// An expression as PostgreSQL's parse analysis leaves it.
#[derive(Clone, Debug)]
pub(crate) enum P<'q> {
    /// A column: its range-table alias and name, and how many query
    /// levels out its relation is.
    Var(Option<String>, String, usize),
    /// A constant in its type's output form (`None`: NULL).
    Const(Option<String>, DataType),
    /// An operator; a prefix one has no left operand.
    Op(String, Option<Box<P<'q>>>, Box<P<'q>>),
    And(Vec<P<'q>>),
    Or(Vec<P<'q>>),
    Not(Box<P<'q>>),
    Func(String, Vec<P<'q>>),
    /// A type coercion: by a function (`func`) or a relabeling of the
    /// same bits; written in the query (`explicit`) or added by the parser.
    Cast {
        arg: Box<P<'q>>,
        ty: DataType,
        func: bool,
        explicit: bool,
    },
    Agg(Box<Agg<'q>>),
    Case {
        arg: Option<Box<P<'q>>>,
        whens: Vec<(P<'q>, P<'q>)>,
        default: Box<P<'q>>,
    },
    /// COALESCE, GREATEST, LEAST, NULLIF: a keyword and its arguments.
    Special(&'static str, Vec<P<'q>>),
    /// `IS [NOT] NULL`, `IS [NOT] TRUE` ...: the argument and the words.
    Test(Box<P<'q>>, &'static str),
    Distinct(Box<P<'q>>, Box<P<'q>>),
    /// `l op ANY|ALL (r)`.
    ArrayOp {
        op: String,
        all: bool,
        l: Box<P<'q>>,
        r: Box<P<'q>>,
    },
    Array(Vec<P<'q>>),
    Subscript(Box<P<'q>>, Vec<P<'q>>),
    SubLink(SubKind<'q>, &'q ast::Query),
    /// CURRENT_DATE, CURRENT_USER ...
    Keyword(&'static str),
    /// A function PostgreSQL prints in the SQL standard's syntax.
    Sql(SqlFunc, Vec<P<'q>>),
}

#[derive(Clone, Debug)]
pub(crate) enum SqlFunc {
    /// `EXTRACT(field FROM x)`.
    Extract(String),
    /// `SUBSTRING(x FROM a [FOR b])`.
    Substring,
    /// `POSITION(a IN b)`.
    Position,
}

/// An aggregate or window function call.
#[derive(Clone, Debug)]
pub(crate) struct Agg<'q> {
    name: String,
    args: Vec<P<'q>>,
    /// The arguments as written (an ORDER BY item naming one is printed
    /// as the argument, casts included).
    written: Vec<&'q ast::Expr>,
    star: bool,
    distinct: bool,
    order: &'q [ast::OrderByExpr],
    filter: Option<P<'q>>,
    over: Option<&'q ast::WindowType>,
}

#[derive(Clone, Debug)]
pub(crate) enum SubKind<'q> {
    Exists,
    Expr,
    Array,
    /// `l IN (...)`, `l op ANY (...)`.
    Any(Box<P<'q>>, String),
    All(Box<P<'q>>, String),
}

/// The node a child is printed under (isSimpleNode's `parentNode`).
#[derive(Clone, Copy, PartialEq)]
enum Parent<'s> {
    /// A binary operator (its name, and whether the child is its left
    /// operand); `None` for a prefix one.
    Op(Option<&'s str>, bool),
    And,
    Or,
    Not,
    /// A coercion made by a function.
    FuncCast,
    /// Anything else that parenthesizes only what is not simple.
    Other,
}

pub(super) fn strip_nested(e: &ast::Expr) -> &ast::Expr {
    match e {
        ast::Expr::Nested(x) => strip_nested(x),
        other => other,
    }
}

/// ruleutils' format_type_with_typemod.
fn type_name(ty: &DataType) -> String {
    match ty {
        DataType::Bpchar(None) => "bpchar".to_string(),
        t => t.display_name(),
    }
}

fn without_typmod(t: &DataType) -> DataType {
    match t {
        DataType::Varchar(_) => DataType::Varchar(None),
        DataType::Bpchar(_) => DataType::Bpchar(None),
        DataType::Numeric(_) => DataType::Numeric(None),
        DataType::Array(e) => DataType::Array(Box::new(without_typmod(e))),
        other => other.clone(),
    }
}

/// No cast is needed to read a `from` as a `to`.
fn same_type(from: &DataType, to: &DataType) -> bool {
    use DataType as T;
    from == to
        || matches!(
            (from, to),
            (_, T::Unknown)
                | (T::Varchar(_), T::Varchar(None))
                | (T::Numeric(_), T::Numeric(None))
                | (T::Bpchar(_), T::Bpchar(None))
        )
}

/// A binary-compatible coercion (a RelabelType, no function call).
fn relabels(from: &DataType, to: &DataType) -> bool {
    use DataType as T;
    match (from, to) {
        (T::Varchar(_), T::Text) | (T::Text, T::Varchar(None)) | (T::Int4, T::Oid) => true,
        (T::Array(a), T::Array(b)) => relabels(a, b),
        _ => false,
    }
}

fn is_stringish(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Text | DataType::Varchar(_) | DataType::Bpchar(_) | DataType::Unknown
    )
}

fn is_int(t: &DataType) -> bool {
    matches!(t, DataType::Int2 | DataType::Int4 | DataType::Int8)
}

fn is_float(t: &DataType) -> bool {
    matches!(t, DataType::Float4 | DataType::Float8)
}

fn is_datetime(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Date | DataType::Time | DataType::Timestamp | DataType::TimestampTz
    )
}

/// `varchar` has no operators of its own: it is read as `text`.
fn as_text(t: &DataType) -> DataType {
    match t {
        DataType::Varchar(_) => DataType::Text,
        DataType::Array(e) if matches!(**e, DataType::Varchar(_)) => {
            DataType::Array(Box::new(DataType::Text))
        }
        other => other.clone(),
    }
}

/// The types operator `op` reads its operands as, given theirs: what
/// PostgreSQL's operator resolution picks for the common cases.
fn operand_types(op: &str, l: &DataType, r: &DataType) -> (DataType, DataType) {
    use DataType as T;
    let text_array = || T::Array(Box::new(T::Text));
    match op {
        "->" | "->>" | "?" => {
            let r = if *r == T::Unknown { T::Text } else { r.clone() };
            return (l.clone(), r);
        }
        "#>" | "#>>" | "?|" | "?&" => {
            let r = if *r == T::Unknown {
                text_array()
            } else {
                r.clone()
            };
            return (l.clone(), r);
        }
        "~~" | "!~~" | "~~*" | "!~~*" | "~" | "!~" | "~*" | "!~*" => {
            let l = match l {
                T::Bpchar(_) => l.clone(),
                T::Unknown => T::Text,
                other => as_text(other),
            };
            let r = if *r == T::Unknown {
                T::Text
            } else {
                as_text(r)
            };
            return (l, r);
        }
        _ => {}
    }
    let unknown_side = |other: &DataType| -> DataType {
        match (op, other) {
            ("||", o) if is_stringish(o) => T::Text,
            ("||", T::Jsonb) => T::Jsonb,
            ("||", _) => T::Text,
            ("+" | "-", o) if is_datetime(o) && *o != T::Date => T::Interval,
            ("-", T::Jsonb) => T::Text,
            (_, T::Bpchar(_)) => T::Bpchar(None),
            (_, o) => as_text(o),
        }
    };
    match (l, r) {
        (T::Unknown, T::Unknown) => (T::Text, T::Text),
        (T::Unknown, o) => (unknown_side(o), as_text(o)),
        (o, T::Unknown) => (as_text(o), unknown_side(o)),
        (T::Name, _) | (_, T::Name) => (l.clone(), r.clone()),
        (T::Bpchar(_), T::Bpchar(_)) => (l.clone(), r.clone()),
        (a, b) if is_stringish(a) && is_stringish(b) => (T::Text, T::Text),
        (a, b) if is_int(a) && matches!(b, T::Numeric(_)) => (T::Numeric(None), b.clone()),
        (a, b) if matches!(a, T::Numeric(_)) && is_int(b) => (a.clone(), T::Numeric(None)),
        (a, b) if (is_int(a) || matches!(a, T::Numeric(_))) && is_float(b) => {
            (b.clone(), b.clone())
        }
        (a, b) if is_float(a) && (is_int(b) || matches!(b, T::Numeric(_))) => {
            (a.clone(), a.clone())
        }
        (a, b) if op == "||" => (as_text(a), as_text(b)),
        (a, b) => (as_text(a), as_text(b)),
    }
}

/// A literal read as `ty`, in that type's output form (`1e3` as numeric
/// is `1000`).
fn typed_literal(text: &str, ty: &DataType) -> String {
    if is_stringish(ty) || matches!(ty, DataType::Enum(_)) {
        return text.to_string();
    }
    let base = crate::sqltype::base_type(ty);
    match tandem_expr::text_in(text, &base) {
        Ok(v) => {
            let mut out = String::new();
            tandem_expr::text_out(&v, &mut out);
            out
        }
        Err(_) => text.to_string(),
    }
}

fn binary_op_name(op: &BinaryOperator) -> Option<String> {
    use BinaryOperator as B;
    Some(
        match op {
            B::Plus => "+",
            B::Minus => "-",
            B::Multiply => "*",
            B::Divide => "/",
            B::Modulo => "%",
            B::PGExp => "^",
            B::Eq => "=",
            B::NotEq => "<>",
            B::Lt => "<",
            B::LtEq => "<=",
            B::Gt => ">",
            B::GtEq => ">=",
            B::StringConcat => "||",
            B::PGRegexMatch => "~",
            B::PGRegexIMatch => "~*",
            B::PGRegexNotMatch => "!~",
            B::PGRegexNotIMatch => "!~*",
            B::PGLikeMatch => "~~",
            B::PGILikeMatch => "~~*",
            B::PGNotLikeMatch => "!~~",
            B::PGNotILikeMatch => "!~~*",
            B::BitwiseAnd => "&",
            B::BitwiseOr => "|",
            B::PGBitwiseXor | B::BitwiseXor => "#",
            B::PGBitwiseShiftLeft => "<<",
            B::PGBitwiseShiftRight => ">>",
            B::AtArrow => "@>",
            B::ArrowAt => "<@",
            B::PGOverlap => "&&",
            B::Arrow => "->",
            B::LongArrow => "->>",
            B::HashArrow => "#>",
            B::HashLongArrow => "#>>",
            B::Question => "?",
            B::QuestionAnd => "?&",
            B::QuestionPipe => "?|",
            B::PGCustomBinaryOperator(parts) => return parts.last().cloned(),
            _ => return None,
        }
        .to_string(),
    )
}

/// A constant written in the query (no column, no call).
fn is_constant(e: &ast::Expr) -> bool {
    match strip_nested(e) {
        ast::Expr::Value(_) | ast::Expr::TypedString(_) => true,
        ast::Expr::Cast { expr, .. } | ast::Expr::UnaryOp { expr, .. } => is_constant(expr),
        _ => false,
    }
}

impl<'a> Deparser<'a> {
    fn type_of(&self, e: &ast::Expr) -> DataType {
        self.notes
            .types
            .get(&expr_key(e))
            .cloned()
            .unwrap_or(DataType::Unknown)
    }

    /// `p` of type `from` read as a `to`, as the parser coerces it (to
    /// the type alone: an implicit coercion keeps no length or precision).
    fn coerce<'q>(&self, p: P<'q>, from: &DataType, to: &DataType) -> P<'q> {
        let to = &without_typmod(to);
        if same_type(from, to) {
            return p;
        }
        match p {
            P::Const(text, DataType::Unknown) => {
                P::Const(text.map(|t| typed_literal(&t, to)), to.clone())
            }
            p => P::Cast {
                arg: Box::new(p),
                ty: to.clone(),
                func: !relabels(from, to),
                explicit: false,
            },
        }
    }

    /// An expression and the type it has before its context casts it.
    pub(super) fn lower<'q>(&self, e: &'q ast::Expr) -> PgResult<(P<'q>, DataType)> {
        use ast::Expr as E;
        let ty = self.type_of(e);
        let p = match e {
            E::Nested(x) => return self.lower(x),
            E::Identifier(_) | E::CompoundIdentifier(_) => {
                if let Some((q, n, depth)) = self.notes.columns.get(&expr_key(e)) {
                    P::Var(q.clone(), n.clone(), *depth)
                } else {
                    match e {
                        E::Identifier(id) if ident_name(id) == "current_schema" => {
                            P::Keyword("CURRENT_SCHEMA")
                        }
                        _ => return Err(unsupported("name")),
                    }
                }
            }
            E::Value(v) => return self.literal(&v.value, &ty, false),
            E::TypedString(ts) => {
                let to = crate::sqltype::convert_type(&ts.data_type, self.catalog, self.view_path)?;
                let text = match &ts.value.value {
                    ast::Value::SingleQuotedString(s) => s.clone(),
                    _ => return Err(unsupported("typed literal")),
                };
                return Ok((P::Const(Some(typed_literal(&text, &to)), to.clone()), to));
            }
            E::UnaryOp { op, expr } => match (op, strip_nested(expr)) {
                (UnaryOperator::Minus, E::Value(v))
                    if matches!(v.value, ast::Value::Number(..)) =>
                {
                    return self.literal(&v.value, &ty, true)
                }
                (UnaryOperator::Not, x) => P::Not(Box::new(self.lower(x)?.0)),
                (UnaryOperator::Minus, _) => P::Op("-".into(), None, Box::new(self.lower(expr)?.0)),
                (UnaryOperator::Plus, _) => P::Op("+".into(), None, Box::new(self.lower(expr)?.0)),
                _ => return Err(unsupported("prefix operator")),
            },
            E::BinaryOp { left, op, right } => match op {
                BinaryOperator::And | BinaryOperator::Or => {
                    let mut args = Vec::new();
                    self.flatten(e, op, &mut args)?;
                    if *op == BinaryOperator::And {
                        P::And(args)
                    } else {
                        P::Or(args)
                    }
                }
                other => {
                    let name = binary_op_name(other).ok_or_else(|| unsupported("operator"))?;
                    self.binary(name, left, right)?
                }
            },
            E::IsNull(x) => P::Test(Box::new(self.lower(x)?.0), " IS NULL"),
            E::IsNotNull(x) => P::Test(Box::new(self.lower(x)?.0), " IS NOT NULL"),
            E::IsTrue(x) => P::Test(Box::new(self.lower(x)?.0), " IS TRUE"),
            E::IsNotTrue(x) => P::Test(Box::new(self.lower(x)?.0), " IS NOT TRUE"),
            E::IsFalse(x) => P::Test(Box::new(self.lower(x)?.0), " IS FALSE"),
            E::IsNotFalse(x) => P::Test(Box::new(self.lower(x)?.0), " IS NOT FALSE"),
            E::IsUnknown(x) => P::Test(Box::new(self.lower(x)?.0), " IS UNKNOWN"),
            E::IsNotUnknown(x) => P::Test(Box::new(self.lower(x)?.0), " IS NOT UNKNOWN"),
            E::IsDistinctFrom(l, r) | E::IsNotDistinctFrom(l, r) => {
                let (lp, lt) = self.lower(l)?;
                let (rp, rt) = self.lower(r)?;
                let (lt2, rt2) = operand_types("=", &lt, &rt);
                let d = P::Distinct(
                    Box::new(self.coerce(lp, &lt, &lt2)),
                    Box::new(self.coerce(rp, &rt, &rt2)),
                );
                if matches!(e, E::IsNotDistinctFrom(..)) {
                    P::Not(Box::new(d))
                } else {
                    d
                }
            }
            E::Like {
                negated,
                any: false,
                expr,
                pattern,
                escape_char: None,
            } => self.binary(if *negated { "!~~" } else { "~~" }.into(), expr, pattern)?,
            E::ILike {
                negated,
                any: false,
                expr,
                pattern,
                escape_char: None,
            } => self.binary(if *negated { "!~~*" } else { "~~*" }.into(), expr, pattern)?,
            E::Between {
                expr,
                negated,
                low,
                high,
            } => {
                let (lo_op, hi_op) = if *negated { ("<", ">") } else { (">=", "<=") };
                let lo = self.binary(lo_op.into(), expr, low)?;
                let hi = self.binary(hi_op.into(), expr, high)?;
                if *negated {
                    P::Or(vec![lo, hi])
                } else {
                    P::And(vec![lo, hi])
                }
            }
            E::InList {
                expr,
                list,
                negated,
            } => self.in_list(expr, list, *negated)?,
            E::InSubquery {
                expr,
                subquery,
                negated,
            } => {
                let s = P::SubLink(
                    SubKind::Any(Box::new(self.lower(expr)?.0), "=".into()),
                    subquery,
                );
                if *negated {
                    P::Not(Box::new(s))
                } else {
                    s
                }
            }
            E::Exists { subquery, negated } => {
                let s = P::SubLink(SubKind::Exists, subquery);
                if *negated {
                    P::Not(Box::new(s))
                } else {
                    s
                }
            }
            E::Subquery(q) => P::SubLink(SubKind::Expr, q),
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
                let op = binary_op_name(compare_op).ok_or_else(|| unsupported("operator"))?;
                if let E::Subquery(q) = strip_nested(right) {
                    let l = Box::new(self.lower(left)?.0);
                    let kind = if all {
                        SubKind::All(l, op)
                    } else {
                        SubKind::Any(l, op)
                    };
                    return Ok((P::SubLink(kind, q), ty));
                }
                let (lp, lt) = self.lower(left)?;
                let (rp, rt) = self.lower(right)?;
                let elem = match &rt {
                    DataType::Array(e) => (**e).clone(),
                    _ => lt.clone(),
                };
                let (lt2, et2) = operand_types(&op, &lt, &elem);
                let at2 = DataType::Array(Box::new(et2));
                P::ArrayOp {
                    op,
                    all,
                    l: Box::new(self.coerce(lp, &lt, &lt2)),
                    r: Box::new(self.coerce(rp, &rt, &at2)),
                }
            }
            E::Case {
                operand,
                conditions,
                else_result,
                ..
            } => self.case(operand.as_deref(), conditions, else_result.as_deref(), &ty)?,
            E::Cast {
                kind: ast::CastKind::Cast | ast::CastKind::DoubleColon,
                expr,
                data_type,
                format: None,
            } => {
                let to = crate::sqltype::convert_type(data_type, self.catalog, self.view_path)?;
                let (x, from) = self.lower(expr)?;
                let p = match x {
                    P::Const(text, DataType::Unknown) => {
                        P::Const(text.map(|t| typed_literal(&t, &to)), to.clone())
                    }
                    x if from == to => x,
                    x => P::Cast {
                        arg: Box::new(x),
                        func: !relabels(&from, &to),
                        ty: to.clone(),
                        explicit: true,
                    },
                };
                return Ok((p, to));
            }
            E::Function(f) => self.function(e, f, &ty)?,
            E::Interval(iv) if iv.last_field.is_none() && iv.leading_precision.is_none() => {
                let text = match strip_nested(&iv.value) {
                    E::Value(v) => match &v.value {
                        ast::Value::SingleQuotedString(s) => s.clone(),
                        _ => return Err(unsupported("interval")),
                    },
                    _ => return Err(unsupported("interval")),
                };
                let text = match &iv.leading_field {
                    Some(f) => format!("{text} {f}"),
                    None => text,
                };
                let ty = DataType::Interval;
                return Ok((P::Const(Some(typed_literal(&text, &ty)), ty.clone()), ty));
            }
            E::Extract { field, expr, .. } => {
                let field = field.to_string().to_lowercase();
                P::Sql(SqlFunc::Extract(field), vec![self.lower(expr)?.0])
            }
            E::Substring {
                expr,
                substring_from,
                substring_for,
                special: false,
                ..
            } => {
                let (x, xt) = self.lower(expr)?;
                let mut args = vec![self.coerce(x, &xt, &as_text(&xt))];
                match substring_from {
                    Some(f) => args.push(self.lower(f)?.0),
                    None => return Err(unsupported("SUBSTRING")),
                }
                if let Some(f) = substring_for {
                    args.push(self.lower(f)?.0);
                }
                P::Sql(SqlFunc::Substring, args)
            }
            E::Position { expr, r#in } => {
                let (a, at) = self.lower(expr)?;
                let (b, bt) = self.lower(r#in)?;
                let (at2, bt2) = operand_types("=", &at, &bt);
                P::Sql(
                    SqlFunc::Position,
                    vec![self.coerce(a, &at, &at2), self.coerce(b, &bt, &bt2)],
                )
            }
            E::Array(arr) => {
                let elem = match &ty {
                    DataType::Array(t) => (**t).clone(),
                    _ => DataType::Text,
                };
                let mut elems = Vec::new();
                for x in &arr.elem {
                    let (p, t) = self.lower(x)?;
                    elems.push(self.coerce(p, &t, &elem));
                }
                P::Array(elems)
            }
            E::CompoundFieldAccess { root, access_chain } => {
                let mut idx = Vec::new();
                for a in access_chain {
                    match a {
                        ast::AccessExpr::Subscript(ast::Subscript::Index { index }) => {
                            idx.push(self.lower(index)?.0)
                        }
                        _ => return Err(unsupported("field access")),
                    }
                }
                P::Subscript(Box::new(self.lower(root)?.0), idx)
            }
            _ => return Err(unsupported("expression")),
        };
        Ok((p, ty))
    }

    /// `a AND b AND c` is one AND of three (as gram.y folds a left-deep
    /// chain); parentheses keep a nested one.
    fn flatten<'q>(
        &self,
        e: &'q ast::Expr,
        op: &BinaryOperator,
        out: &mut Vec<P<'q>>,
    ) -> PgResult<()> {
        match e {
            ast::Expr::BinaryOp { left, op: o, right } if o == op => {
                match left.as_ref() {
                    ast::Expr::BinaryOp { op: lo, .. } if lo == op => {
                        self.flatten(left, op, out)?
                    }
                    l => out.push(self.lower(l)?.0),
                }
                out.push(self.lower(right)?.0);
                Ok(())
            }
            other => {
                out.push(self.lower(other)?.0);
                Ok(())
            }
        }
    }

    fn literal<'q>(
        &self,
        v: &ast::Value,
        ty: &DataType,
        negative: bool,
    ) -> PgResult<(P<'q>, DataType)> {
        Ok(match v {
            ast::Value::Number(n, _) => {
                let text = if negative { format!("-{n}") } else { n.clone() };
                let ty = match ty {
                    DataType::Unknown => crate::bind::expr::number_literal(&text)?.1,
                    t => t.clone(),
                };
                (P::Const(Some(typed_literal(&text, &ty)), ty.clone()), ty)
            }
            ast::Value::SingleQuotedString(s)
            | ast::Value::EscapedStringLiteral(s)
            | ast::Value::NationalStringLiteral(s) => (
                P::Const(Some(s.clone()), DataType::Unknown),
                DataType::Unknown,
            ),
            ast::Value::DollarQuotedString(d) => (
                P::Const(Some(d.value.clone()), DataType::Unknown),
                DataType::Unknown,
            ),
            ast::Value::Boolean(b) => (
                P::Const(Some(b.to_string()), DataType::Bool),
                DataType::Bool,
            ),
            ast::Value::Null => (P::Const(None, DataType::Unknown), DataType::Unknown),
            _ => return Err(unsupported("literal")),
        })
    }

    fn binary<'q>(&self, op: String, l: &'q ast::Expr, r: &'q ast::Expr) -> PgResult<P<'q>> {
        let (lp, lt) = self.lower(l)?;
        let (rp, rt) = self.lower(r)?;
        let (lt2, rt2) = operand_types(&op, &lt, &rt);
        Ok(P::Op(
            op,
            Some(Box::new(self.coerce(lp, &lt, &lt2))),
            Box::new(self.coerce(rp, &rt, &rt2)),
        ))
    }

    /// `x [NOT] IN (...)` as transformAExprIn makes it: the constants as
    /// one `= ANY (ARRAY[...])` (`<> ALL`), any other item its own
    /// comparison, ORed (ANDed).
    fn in_list<'q>(
        &self,
        x: &'q ast::Expr,
        list: &'q [ast::Expr],
        negated: bool,
    ) -> PgResult<P<'q>> {
        let op = if negated { "<>" } else { "=" };
        let (lp, lt) = self.lower(x)?;
        let (consts, others): (Vec<&ast::Expr>, Vec<&ast::Expr>) =
            list.iter().partition(|e| is_constant(e));
        let mut result: Option<P<'q>> = None;
        let mut singles = others;
        if consts.len() > 1 {
            let mut types = vec![lt.clone()];
            types.extend(consts.iter().map(|e| self.type_of(e)));
            match crate::sqltype::common_type(&types) {
                Ok(common) => {
                    let common = if common == DataType::Unknown {
                        DataType::Text
                    } else {
                        common
                    };
                    let mut elems = Vec::new();
                    for c in &consts {
                        let (p, t) = self.lower(c)?;
                        elems.push(self.coerce(p, &t, &common));
                    }
                    let (lt2, et2) = operand_types(op, &lt, &common);
                    let array = self.coerce(
                        P::Array(elems),
                        &DataType::Array(Box::new(common.clone())),
                        &DataType::Array(Box::new(et2)),
                    );
                    result = Some(P::ArrayOp {
                        op: op.into(),
                        all: negated,
                        l: Box::new(self.coerce(lp.clone(), &lt, &lt2)),
                        r: Box::new(array),
                    });
                }
                Err(_) => singles.extend(consts),
            }
        } else {
            singles.extend(consts);
        }
        for item in singles {
            let (rp, rt) = self.lower(item)?;
            let (lt2, rt2) = operand_types(op, &lt, &rt);
            let cmp = P::Op(
                op.into(),
                Some(Box::new(self.coerce(lp.clone(), &lt, &lt2))),
                Box::new(self.coerce(rp, &rt, &rt2)),
            );
            result = Some(match result {
                None => cmp,
                Some(r) if negated => P::And(vec![r, cmp]),
                Some(r) => P::Or(vec![r, cmp]),
            });
        }
        result.ok_or_else(|| unsupported("IN ()"))
    }

    fn case<'q>(
        &self,
        operand: Option<&'q ast::Expr>,
        conditions: &'q [ast::CaseWhen],
        else_result: Option<&'q ast::Expr>,
        ty: &DataType,
    ) -> PgResult<P<'q>> {
        let ty = if *ty == DataType::Unknown {
            DataType::Text
        } else {
            ty.clone()
        };
        let (arg, arg_ty) = match operand {
            Some(o) => {
                let (p, t) = self.lower(o)?;
                (Some(Box::new(p)), t)
            }
            None => (None, DataType::Unknown),
        };
        let mut whens = Vec::new();
        for c in conditions {
            let (w, wt) = self.lower(&c.condition)?;
            let w = match &arg {
                // WHEN shows the value the operand is compared with
                Some(_) => {
                    let (_, rt2) = operand_types("=", &arg_ty, &wt);
                    self.coerce(w, &wt, &rt2)
                }
                None => w,
            };
            let (r, rt) = self.lower(&c.result)?;
            whens.push((w, self.coerce(r, &rt, &ty)));
        }
        let default = match else_result {
            Some(e) => {
                let (p, t) = self.lower(e)?;
                self.coerce(p, &t, &ty)
            }
            None => P::Const(None, ty.clone()),
        };
        Ok(P::Case {
            arg,
            whens,
            default: Box::new(default),
        })
    }

    fn function<'q>(
        &self,
        e: &'q ast::Expr,
        f: &'q ast::Function,
        ty: &DataType,
    ) -> PgResult<P<'q>> {
        let mut parts = object_parts(&f.name)?;
        let name = parts.pop().unwrap_or_default();
        if !f.within_group.is_empty() || f.null_treatment.is_some() {
            return Err(unsupported("function call"));
        }
        let (args, distinct, order, star): (Vec<&ast::Expr>, bool, &[ast::OrderByExpr], bool) =
            match &f.args {
                ast::FunctionArguments::None => {
                    let keyword = match name.as_str() {
                        "current_date" => "CURRENT_DATE",
                        "current_timestamp" => "CURRENT_TIMESTAMP",
                        "current_time" => "CURRENT_TIME",
                        "localtimestamp" => "LOCALTIMESTAMP",
                        "localtime" => "LOCALTIME",
                        "current_user" => "CURRENT_USER",
                        "current_role" => "CURRENT_ROLE",
                        "session_user" => "SESSION_USER",
                        "user" => "USER",
                        "current_schema" => "CURRENT_SCHEMA",
                        "current_catalog" => "CURRENT_CATALOG",
                        _ => return Err(unsupported("function call")),
                    };
                    return Ok(P::Keyword(keyword));
                }
                ast::FunctionArguments::Subquery(q) if name == "array" => {
                    return Ok(P::SubLink(SubKind::Array, q));
                }
                ast::FunctionArguments::Subquery(_) => return Err(unsupported("function call")),
                ast::FunctionArguments::List(list) => {
                    let mut order: &[ast::OrderByExpr] = &[];
                    for c in &list.clauses {
                        match c {
                            ast::FunctionArgumentClause::OrderBy(o) => order = o,
                            _ => return Err(unsupported("function call")),
                        }
                    }
                    let distinct = matches!(
                        list.duplicate_treatment,
                        Some(ast::DuplicateTreatment::Distinct)
                    );
                    let mut args = Vec::new();
                    let mut star = false;
                    for a in &list.args {
                        match a {
                            ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(x)) => {
                                args.push(x)
                            }
                            ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Wildcard) => {
                                star = true
                            }
                            _ => return Err(unsupported("function argument")),
                        }
                    }
                    (args, distinct, order, star)
                }
            };
        let special = match name.as_str() {
            "coalesce" => Some("COALESCE"),
            "greatest" => Some("GREATEST"),
            "least" => Some("LEAST"),
            _ => None,
        };
        if let Some(word) = special {
            let to = if *ty == DataType::Unknown {
                DataType::Text
            } else {
                ty.clone()
            };
            let mut out = Vec::new();
            for a in args {
                let (p, t) = self.lower(a)?;
                out.push(self.coerce(p, &t, &to));
            }
            return Ok(P::Special(word, out));
        }
        if name == "nullif" && args.len() == 2 {
            let (lp, lt) = self.lower(args[0])?;
            let (rp, rt) = self.lower(args[1])?;
            let (lt2, rt2) = operand_types("=", &lt, &rt);
            return Ok(P::Special(
                "NULLIF",
                vec![self.coerce(lp, &lt, &lt2), self.coerce(rp, &rt, &rt2)],
            ));
        }
        if crate::aggregates::lookup(&name).is_some() || f.over.is_some() {
            let text_args = matches!(name.as_str(), "max" | "min" | "string_agg");
            let mut out = Vec::new();
            for a in &args {
                let (p, t) = self.lower(a)?;
                out.push(if text_args || t == DataType::Unknown {
                    let to = if t == DataType::Unknown {
                        DataType::Text
                    } else {
                        as_text(&t)
                    };
                    self.coerce(p, &t, &to)
                } else {
                    p
                });
            }
            let filter = match &f.filter {
                Some(x) => Some(self.lower(x)?.0),
                None => None,
            };
            return Ok(P::Agg(Box::new(Agg {
                name,
                args: out,
                written: args,
                star,
                distinct,
                order,
                filter,
                over: f.over.as_ref(),
            })));
        }
        if distinct || !order.is_empty() || f.filter.is_some() || star {
            return Err(unsupported("function call"));
        }
        let declared = self.notes.funcs.get(&expr_key(e));
        let mut out = Vec::new();
        for (i, a) in args.into_iter().enumerate() {
            let (p, t) = self.lower(a)?;
            out.push(match declared.and_then(|d| d.get(i)) {
                Some(to) if !matches!(to, DataType::Record | DataType::Void) => {
                    self.coerce(p, &t, to)
                }
                _ => p,
            });
        }
        Ok(P::Func(name, out))
    }

    /// An expression of WHERE, HAVING, ON, LIMIT: get_rule_expr without
    /// its implicit casts shown at the top.
    pub(super) fn plain_expr(&mut self, e: &ast::Expr, lv: &mut Level<'_>) -> PgResult<()> {
        let (p, _) = self.lower(e)?;
        self.print(&p, lv, false)
    }

    /// A target list expression: an untyped literal there is text.
    fn lower_target<'q>(&self, e: &'q ast::Expr) -> PgResult<P<'q>> {
        let (p, t) = self.lower(e)?;
        Ok(if t == DataType::Unknown {
            self.coerce(p, &t, &DataType::Text)
        } else {
            p
        })
    }

    /// An item of a VALUES list, read as its column's type.
    pub(super) fn value_item(
        &mut self,
        e: &ast::Expr,
        ty: &DataType,
        lv: &mut Level<'_>,
    ) -> PgResult<()> {
        let (p, t) = self.lower(e)?;
        let p = self.coerce(p, &t, ty);
        self.print(&p, lv, false)
    }

    pub(super) fn target_expr(&mut self, e: &ast::Expr, lv: &mut Level<'_>) -> PgResult<()> {
        let p = self.lower_target(e)?;
        self.print(&p, lv, true)
    }

    /// An ORDER BY / GROUP BY item that is no target list column (ruleutils'
    /// get_rule_sortgroupclause).
    pub(super) fn sort_expr(&mut self, e: &ast::Expr, lv: &mut Level<'_>) -> PgResult<()> {
        let p = self.lower_target(e)?;
        self.sort_node(&p, lv)
    }

    fn sort_node(&mut self, p: &P<'_>, lv: &mut Level<'_>) -> PgResult<()> {
        match p {
            P::Var(q, n, depth) => {
                self.variable(q.as_deref(), n, *depth, lv);
                Ok(())
            }
            P::Const(text, ty) => {
                self.constant(text.as_deref(), ty, 1);
                Ok(())
            }
            p => {
                let paren =
                    self.paren || matches!(p, P::Func(..) | P::Agg(_) | P::Cast { func: true, .. });
                if paren {
                    self.buf.push('(');
                }
                self.print(p, lv, true)?;
                if paren {
                    self.buf.push(')');
                }
                Ok(())
            }
        }
    }

    /// ruleutils' get_const_expr; `showtype` -1 never labels the type, 0
    /// labels it unless reading the text would give it, 1 always does.
    fn constant(&mut self, text: Option<&str>, ty: &DataType, showtype: i32) {
        let Some(text) = text else {
            self.buf.push_str("NULL");
            if showtype >= 0 {
                self.buf.push_str("::");
                self.buf.push_str(&type_name(ty));
            }
            return;
        };
        let mut label = true;
        match ty {
            DataType::Int4 if !text.starts_with('-') => {
                self.buf.push_str(text);
                label = false;
            }
            DataType::Numeric(m)
                if text.starts_with(|c: char| c.is_ascii_digit())
                    && text.contains(['e', 'E', '.']) =>
            {
                self.buf.push_str(text);
                label = m.is_some();
            }
            DataType::Bool => {
                self.buf.push_str(if matches!(text, "t" | "true") {
                    "true"
                } else {
                    "false"
                });
                label = false;
            }
            _ => {
                self.buf.push('\'');
                self.buf.push_str(&text.replace('\'', "''"));
                self.buf.push('\'');
            }
        }
        if *ty == DataType::Unknown {
            label = false;
        }
        if showtype < 0 {
            return;
        }
        if label || showtype > 0 {
            self.buf.push_str("::");
            self.buf.push_str(&type_name(ty));
        }
    }

    /// ruleutils' isSimpleNode: `p` under `parent` needs no parentheses
    /// (asked only when pretty).
    fn is_simple(&self, p: &P<'_>, parent: Parent<'_>) -> bool {
        // what prints its own parentheses, or binds looser, needs none
        // under a boolean operator (a cast needs them)
        let own_parens =
            |parent: Parent<'_>| matches!(parent, Parent::And | Parent::Or | Parent::Not);
        match p {
            P::Var(..) | P::Const(..) => true,
            P::Func(..)
            | P::Agg(_)
            | P::Special(..)
            | P::Array(_)
            | P::Subscript(..)
            | P::Case { .. }
            | P::Keyword(_)
            | P::Sql(..)
            | P::Cast { func: true, .. } => true,
            P::Cast { arg, .. } => self.is_simple(arg, Parent::Other),
            P::Op(op, l, _) => {
                if let Parent::Op(parent_op, first) = parent {
                    let prio = |o: &str| match o.chars().next() {
                        Some('+' | '-') => Some(false),
                        Some('*' | '/' | '%') => Some(true),
                        _ => None,
                    };
                    let mine = if l.is_some() { prio(op) } else { None };
                    let theirs = parent_op.and_then(prio);
                    return match (mine, theirs) {
                        (Some(true), Some(false)) => true,
                        (Some(false), Some(true)) => false,
                        (Some(_), Some(_)) => first,
                        _ => false,
                    };
                }
                own_parens(parent)
            }
            P::SubLink(..) | P::Test(..) | P::Distinct(..) => own_parens(parent),
            P::And(_) | P::Or(_) | P::Not(_) => matches!(
                (p, parent),
                (P::Not(_) | P::And(_), Parent::And | Parent::Or) | (P::Or(_), Parent::Or)
            ),
            P::ArrayOp { .. } => false,
        }
    }

    /// ruleutils' get_rule_expr_paren.
    fn print_paren(
        &mut self,
        p: &P<'_>,
        lv: &mut Level<'_>,
        show_implicit: bool,
        parent: Parent<'_>,
    ) -> PgResult<()> {
        let paren = self.paren && !self.is_simple(p, parent);
        if paren {
            self.buf.push('(');
        }
        self.print(p, lv, show_implicit)?;
        if paren {
            self.buf.push(')');
        }
        Ok(())
    }

    fn open(&mut self) {
        if !self.paren {
            self.buf.push('(');
        }
    }

    fn close(&mut self) {
        if !self.paren {
            self.buf.push(')');
        }
    }

    fn list(&mut self, items: &[P<'_>], lv: &mut Level<'_>) -> PgResult<()> {
        for (i, a) in items.iter().enumerate() {
            if i > 0 {
                self.buf.push_str(", ");
            }
            self.print(a, lv, true)?;
        }
        Ok(())
    }

    /// ruleutils' get_rule_expr.
    fn print(&mut self, p: &P<'_>, lv: &mut Level<'_>, show_implicit: bool) -> PgResult<()> {
        match p {
            P::Var(q, n, depth) => self.variable(q.as_deref(), n, *depth, lv),
            P::Const(text, ty) => self.constant(text.as_deref(), ty, 0),
            P::Op(op, Some(l), r) => {
                self.open();
                self.print_paren(l, lv, true, Parent::Op(Some(op), true))?;
                self.buf.push(' ');
                self.buf.push_str(op);
                self.buf.push(' ');
                self.print_paren(r, lv, true, Parent::Op(Some(op), false))?;
                self.close();
            }
            P::Op(op, None, r) => {
                self.open();
                self.buf.push_str(op);
                self.buf.push(' ');
                self.print_paren(r, lv, true, Parent::Op(None, false))?;
                self.close();
            }
            P::And(args) | P::Or(args) => {
                let (word, parent) = match p {
                    P::And(_) => (" AND ", Parent::And),
                    _ => (" OR ", Parent::Or),
                };
                self.open();
                for (i, a) in args.iter().enumerate() {
                    if i > 0 {
                        self.buf.push_str(word);
                    }
                    self.print_paren(a, lv, false, parent)?;
                }
                self.close();
            }
            P::Not(x) => {
                self.open();
                self.buf.push_str("NOT ");
                self.print_paren(x, lv, false, Parent::Not)?;
                self.close();
            }
            P::Func(name, args) => {
                self.buf.push_str(&quote_identifier(name));
                self.buf.push('(');
                self.list(args, lv)?;
                self.buf.push(')');
            }
            P::Cast {
                arg,
                ty,
                func,
                explicit,
            } => {
                let parent = if *func {
                    Parent::FuncCast
                } else {
                    Parent::Other
                };
                if !explicit && !show_implicit {
                    return self.print_paren(arg, lv, false, parent);
                }
                match arg.as_ref() {
                    P::Const(text, t) if t == ty => self.constant(text.as_deref(), t, -1),
                    a => {
                        self.open();
                        self.print_paren(a, lv, false, parent)?;
                        self.close();
                    }
                }
                self.buf.push_str("::");
                self.buf.push_str(&type_name(ty));
            }
            P::Agg(a) => self.aggregate(a, lv)?,
            P::Case {
                arg,
                whens,
                default,
            } => {
                self.keyword(lv, "CASE", 0, INDENT_VAR, 0);
                if let Some(a) = arg {
                    self.buf.push(' ');
                    self.print(a, lv, true)?;
                }
                for (w, r) in whens {
                    self.keyword(lv, "WHEN ", 0, 0, 0);
                    self.print(w, lv, false)?;
                    self.buf.push_str(" THEN ");
                    self.print(r, lv, true)?;
                }
                self.keyword(lv, "ELSE ", 0, 0, 0);
                self.print(default, lv, true)?;
                self.keyword(lv, "END", -INDENT_VAR, 0, 0);
            }
            P::Special(word, args) => {
                self.buf.push_str(word);
                self.buf.push('(');
                self.list(args, lv)?;
                self.buf.push(')');
            }
            P::Test(x, words) => {
                self.open();
                self.print_paren(x, lv, true, Parent::Other)?;
                self.buf.push_str(words);
                self.close();
            }
            P::Distinct(l, r) => {
                self.open();
                self.print_paren(l, lv, true, Parent::Other)?;
                self.buf.push_str(" IS DISTINCT FROM ");
                self.print_paren(r, lv, true, Parent::Other)?;
                self.close();
            }
            P::ArrayOp { op, all, l, r } => {
                self.open();
                self.print_paren(l, lv, true, Parent::Other)?;
                self.buf.push(' ');
                self.buf.push_str(op);
                self.buf.push_str(if *all { " ALL (" } else { " ANY (" });
                self.print_paren(r, lv, true, Parent::Other)?;
                self.buf.push(')');
                self.close();
            }
            P::Array(elems) => {
                self.buf.push_str("ARRAY[");
                self.list(elems, lv)?;
                self.buf.push(']');
            }
            P::Subscript(x, idx) => {
                let paren = !matches!(x.as_ref(), P::Var(..));
                if paren {
                    self.buf.push('(');
                }
                self.print(x, lv, show_implicit)?;
                if paren {
                    self.buf.push(')');
                }
                for i in idx {
                    self.buf.push('[');
                    self.print(i, lv, false)?;
                    self.buf.push(']');
                }
            }
            P::SubLink(kind, q) => {
                self.buf.push_str(if matches!(kind, SubKind::Array) {
                    "ARRAY("
                } else {
                    "("
                });
                let wrapped = match kind {
                    SubKind::Exists => {
                        self.buf.push_str("EXISTS ");
                        true
                    }
                    SubKind::Any(l, op) | SubKind::All(l, op) => {
                        self.print(l, lv, true)?;
                        match (kind, op.as_str()) {
                            (SubKind::Any(..), "=") => self.buf.push_str(" IN "),
                            (SubKind::Any(..), op) => self.buf.push_str(&format!(" {op} ANY ")),
                            (_, op) => self.buf.push_str(&format!(" {op} ALL ")),
                        }
                        true
                    }
                    SubKind::Expr | SubKind::Array => false,
                };
                if wrapped {
                    self.buf.push('(');
                }
                self.query(q, true, None, false, lv.indent)?;
                self.buf.push_str(if wrapped { "))" } else { ")" });
            }
            P::Keyword(k) => self.buf.push_str(k),
            P::Sql(SqlFunc::Extract(field), args) => {
                self.buf.push_str("EXTRACT(");
                self.buf.push_str(field);
                self.buf.push_str(" FROM ");
                self.print(&args[0], lv, false)?;
                self.buf.push(')');
            }
            P::Sql(SqlFunc::Substring, args) => {
                self.buf.push_str("SUBSTRING(");
                for (i, a) in args.iter().enumerate() {
                    self.buf.push_str(match i {
                        0 => "",
                        1 => " FROM ",
                        _ => " FOR ",
                    });
                    self.print(a, lv, false)?;
                }
                self.buf.push(')');
            }
            P::Sql(SqlFunc::Position, args) => {
                self.buf.push_str("POSITION((");
                self.print(&args[0], lv, false)?;
                self.buf.push_str(") IN (");
                self.print(&args[1], lv, false)?;
                self.buf.push_str("))");
            }
        }
        Ok(())
    }

    /// ruleutils' get_agg_expr / get_windowfunc_expr.
    fn aggregate(&mut self, a: &Agg<'_>, lv: &mut Level<'_>) -> PgResult<()> {
        self.buf.push_str(&quote_identifier(&a.name));
        self.buf.push('(');
        if a.distinct {
            self.buf.push_str("DISTINCT ");
        }
        if a.star {
            self.buf.push('*');
        } else {
            self.list(&a.args, lv)?;
        }
        if !a.order.is_empty() {
            self.buf.push_str(" ORDER BY ");
            self.order_items(a.order, Some((&a.written, &a.args)), lv)?;
        }
        self.buf.push(')');
        if let Some(f) = &a.filter {
            self.buf.push_str(" FILTER (WHERE ");
            self.print(f, lv, false)?;
            self.buf.push(')');
        }
        match a.over {
            None => {}
            Some(ast::WindowType::NamedWindow(name)) => {
                self.buf.push_str(" OVER ");
                self.buf.push_str(&quote_identifier(&ident_name(name)));
            }
            Some(ast::WindowType::WindowSpec(spec)) => {
                self.buf.push_str(" OVER ");
                self.window_spec(spec, lv)?;
            }
        }
        Ok(())
    }

    /// ruleutils' get_rule_windowspec.
    pub(super) fn window_spec(
        &mut self,
        spec: &ast::WindowSpec,
        lv: &mut Level<'_>,
    ) -> PgResult<()> {
        self.buf.push('(');
        let mut space = false;
        if let Some(name) = &spec.window_name {
            self.buf.push_str(&quote_identifier(&ident_name(name)));
            space = true;
        }
        if !spec.partition_by.is_empty() && spec.window_name.is_none() {
            self.buf.push_str("PARTITION BY ");
            for (i, e) in spec.partition_by.iter().enumerate() {
                if i > 0 {
                    self.buf.push_str(", ");
                }
                self.sort_expr(e, lv)?;
            }
            space = true;
        }
        if !spec.order_by.is_empty() {
            if space {
                self.buf.push(' ');
            }
            self.buf.push_str("ORDER BY ");
            self.order_items(&spec.order_by, None, lv)?;
            space = true;
        }
        if let Some(frame) = &spec.window_frame {
            if space {
                self.buf.push(' ');
            }
            self.frame(frame, lv)?;
        }
        self.buf.push(')');
        Ok(())
    }

    fn order_items(
        &mut self,
        items: &[ast::OrderByExpr],
        args: Option<(&[&ast::Expr], &[P<'_>])>,
        lv: &mut Level<'_>,
    ) -> PgResult<()> {
        for (i, o) in items.iter().enumerate() {
            if i > 0 {
                self.buf.push_str(", ");
            }
            let text = o.expr.to_string();
            let arg = args.and_then(|(written, lowered)| {
                let at = written.iter().position(|w| w.to_string() == text)?;
                lowered.get(at)
            });
            match arg {
                Some(p) => self.sort_node(p, lv)?,
                None => self.sort_expr(&o.expr, lv)?,
            }
            self.sort_options(&o.options)?;
        }
        Ok(())
    }

    /// An ORDER BY item's direction and NULLS placement, where not the
    /// default (ruleutils' get_rule_orderby).
    pub(super) fn sort_options(&mut self, o: &ast::OrderByOptions) -> PgResult<()> {
        if matches!(o.sort, Some(ast::OrderBySort::Using(_))) {
            return Err(unsupported("ORDER BY USING"));
        }
        let desc = matches!(o.sort, Some(ast::OrderBySort::Desc));
        if desc {
            self.buf.push_str(" DESC");
        }
        match (desc, o.nulls_first) {
            (false, Some(true)) => self.buf.push_str(" NULLS FIRST"),
            (true, Some(false)) => self.buf.push_str(" NULLS LAST"),
            _ => {}
        }
        Ok(())
    }

    fn frame(&mut self, frame: &ast::WindowFrame, lv: &mut Level<'_>) -> PgResult<()> {
        self.buf.push_str(match frame.units {
            ast::WindowFrameUnits::Rows => "ROWS ",
            ast::WindowFrameUnits::Range => "RANGE ",
            ast::WindowFrameUnits::Groups => "GROUPS ",
        });
        if frame.end_bound.is_some() {
            self.buf.push_str("BETWEEN ");
        }
        self.frame_bound(&frame.start_bound, lv)?;
        if let Some(end) = &frame.end_bound {
            self.buf.push_str(" AND ");
            self.frame_bound(end, lv)?;
        }
        Ok(())
    }

    fn frame_bound(&mut self, b: &ast::WindowFrameBound, lv: &mut Level<'_>) -> PgResult<()> {
        match b {
            ast::WindowFrameBound::CurrentRow => self.buf.push_str("CURRENT ROW"),
            ast::WindowFrameBound::Preceding(None) => self.buf.push_str("UNBOUNDED PRECEDING"),
            ast::WindowFrameBound::Following(None) => self.buf.push_str("UNBOUNDED FOLLOWING"),
            ast::WindowFrameBound::Preceding(Some(e))
            | ast::WindowFrameBound::Following(Some(e)) => {
                self.plain_expr(e, lv)?;
                self.buf
                    .push_str(if matches!(b, ast::WindowFrameBound::Preceding(_)) {
                        " PRECEDING"
                    } else {
                        " FOLLOWING"
                    });
            }
        }
        Ok(())
    }
}
