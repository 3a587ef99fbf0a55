//! Window function calls (`f(...) OVER (...)`): the function, its window
//! (an inline one, a `WINDOW name AS (...)` of the SELECT, or one built on
//! a named one) and its frame. Each call is recorded in its level and
//! referenced as `Expr::WinRef`; `select.rs` plans them as a `Window` node
//! above grouping and HAVING and below DISTINCT, ORDER BY and LIMIT.
//!
//! Corresponds to PostgreSQL's `parser/parse_func.c` (window function
//! checks) and `parse_clause.c` (transformWindowDefinitions).

use sqlparser::ast::{
    self, FunctionArg, FunctionArgExpr, WindowFrameBound, WindowFrameUnits, WindowSpec, WindowType,
};
use tandem_types::{DataType, Locate, PgError, PgResult, SqlState};

use super::select::sort_key;
use super::{ident_name, Binder};
use crate::aggregates::{self, AggKind};
use crate::plan::{Expr, Frame, FrameBound, WindowCall, WindowFunc};

fn windowing_error(message: impl Into<String>) -> PgError {
    PgError::new(SqlState("42P20"), message)
}

/// Points an error at the function's name.
pub(crate) fn at_function(e: PgError, f: &ast::Function) -> PgError {
    match f.name.0.first().and_then(|p| p.as_ident()) {
        Some(id) => e.pointed_at(Locate::LineColumn(id.span.start.line, id.span.start.column)),
        None => e,
    }
}

/// A window function of its own (not an aggregate), with its argument count
/// range.
fn window_function(name: &str) -> Option<(WindowFunc, usize, usize)> {
    Some(match name {
        "row_number" => (WindowFunc::RowNumber, 0, 0),
        "rank" => (WindowFunc::Rank, 0, 0),
        "dense_rank" => (WindowFunc::DenseRank, 0, 0),
        "percent_rank" => (WindowFunc::PercentRank, 0, 0),
        "cume_dist" => (WindowFunc::CumeDist, 0, 0),
        "ntile" => (WindowFunc::Ntile, 1, 1),
        "lag" => (WindowFunc::Lag, 1, 3),
        "lead" => (WindowFunc::Lead, 1, 3),
        "first_value" => (WindowFunc::FirstValue, 1, 1),
        "last_value" => (WindowFunc::LastValue, 1, 1),
        "nth_value" => (WindowFunc::NthValue, 2, 2),
        _ => return None,
    })
}

impl Binder<'_> {
    /// Binds `f`, whose arguments are `args`, as a window function call.
    pub(crate) fn bind_window(
        &mut self,
        name: &str,
        f: &ast::Function,
        args: &[FunctionArg],
        distinct: bool,
        order: &[ast::OrderByExpr],
        over: &WindowType,
    ) -> PgResult<(Expr, DataType)> {
        let level = self.level();
        if let Some(clause) = level.agg_forbidden.or(level.srf_clause) {
            return Err(at_function(
                windowing_error(format!("window functions are not allowed in {clause}")),
                f,
            ));
        }
        if level.in_window {
            return Err(at_function(
                windowing_error("window function calls cannot be nested"),
                f,
            ));
        }
        if level.in_agg {
            return Err(at_function(
                PgError::new(
                    SqlState::GROUPING_ERROR,
                    "aggregate function calls cannot contain window function calls",
                ),
                f,
            ));
        }
        if distinct {
            return Err(at_function(
                PgError::new(
                    SqlState::FEATURE_NOT_SUPPORTED,
                    "DISTINCT is not implemented for window functions",
                ),
                f,
            ));
        }
        if !order.is_empty() {
            return Err(at_function(
                PgError::new(
                    SqlState::FEATURE_NOT_SUPPORTED,
                    "aggregate ORDER BY is not implemented for window functions",
                ),
                f,
            ));
        }
        let spec = self.window_spec(over)?;
        self.level().in_window = true;
        let r = self.bind_window_call(name, f, args, &spec);
        self.level().in_window = false;
        let (call, ty) = r?;
        let level = self.level();
        level.windows.push(call);
        Ok((Expr::WinRef(level.windows.len() - 1), ty))
    }

    /// The window an OVER clause names or spells out, named windows resolved.
    fn window_spec(&mut self, over: &WindowType) -> PgResult<WindowSpec> {
        let named = |b: &mut Binder, id: &ast::Ident| -> PgResult<WindowSpec> {
            let name = ident_name(id);
            b.level()
                .named_windows
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, s)| s.clone())
                .ok_or_else(|| {
                    PgError::new(
                        SqlState::UNDEFINED_OBJECT,
                        format!("window \"{name}\" does not exist"),
                    )
                })
        };
        match over {
            WindowType::NamedWindow(id) => named(self, id),
            WindowType::WindowSpec(spec) => {
                let Some(base) = &spec.window_name else {
                    return Ok(spec.clone());
                };
                let mut out = named(self, base)?;
                let name = ident_name(base);
                if !spec.partition_by.is_empty() {
                    return Err(windowing_error(format!(
                        "cannot override PARTITION BY clause of window \"{name}\""
                    )));
                }
                if !spec.order_by.is_empty() {
                    if !out.order_by.is_empty() {
                        return Err(windowing_error(format!(
                            "cannot override ORDER BY clause of window \"{name}\""
                        )));
                    }
                    out.order_by = spec.order_by.clone();
                }
                if out.window_frame.is_some() {
                    return Err(windowing_error(format!(
                        "cannot copy window \"{name}\" because it has a frame clause"
                    )));
                }
                out.window_frame = spec.window_frame.clone();
                out.window_name = None;
                Ok(out)
            }
        }
    }

    fn bind_window_call(
        &mut self,
        name: &str,
        f: &ast::Function,
        args: &[FunctionArg],
        spec: &WindowSpec,
    ) -> PgResult<(WindowCall, DataType)> {
        let is_star = matches!(args, [FunctionArg::Unnamed(FunctionArgExpr::Wildcard)]);
        let (func, args, filter, ty) = if let Some(kind) = aggregates::lookup(name) {
            let kind = if is_star && kind == AggKind::Count {
                AggKind::CountStar
            } else {
                kind
            };
            let args = if is_star { &[][..] } else { args };
            let (bound, types, _, filter) =
                self.bind_agg_parts(kind, name, args, &[], f.filter.as_deref())?;
            let ty = aggregates::result_type(kind, name, &types)?;
            let arg_type = types.first().cloned().unwrap_or(DataType::Unknown);
            (WindowFunc::Agg(kind, arg_type), bound, filter, ty)
        } else {
            if f.filter.is_some() {
                return Err(at_function(
                    PgError::new(
                        SqlState::WRONG_OBJECT_TYPE,
                        "FILTER is not implemented for non-aggregate window functions",
                    ),
                    f,
                ));
            }
            let mut bound = Vec::with_capacity(args.len());
            for a in args {
                match a {
                    FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => {
                        bound.push(self.bind_expr(e)?)
                    }
                    _ => return Err(PgError::unsupported(format!("function argument {a}"))),
                }
            }
            let types: Vec<DataType> = bound.iter().map(|a| a.1.clone()).collect();
            let Some((func, min, max)) = window_function(name) else {
                if tandem_expr::resolve_function(name, &types).is_ok() {
                    return Err(at_function(
                        PgError::new(
                            SqlState::WRONG_OBJECT_TYPE,
                            format!(
                                "OVER specified, but {name} is not a window function nor an aggregate function"
                            ),
                        ),
                        f,
                    ));
                }
                return Err(at_function(
                    tandem_expr::errors::undefined_function(name, &types),
                    f,
                ));
            };
            if bound.len() < min || bound.len() > max {
                return Err(at_function(
                    tandem_expr::errors::undefined_function(name, &types),
                    f,
                ));
            }
            let value_type = match types.first() {
                Some(DataType::Unknown) | None => DataType::Text,
                Some(t) => t.clone(),
            };
            let mut out = Vec::with_capacity(bound.len());
            for (i, (x, t)) in bound.into_iter().enumerate() {
                let want = match (&func, i) {
                    (WindowFunc::Ntile, _) | (_, 1) => DataType::Int4,
                    _ => value_type.clone(),
                };
                out.push(self.coerce(x, &t, &want)?);
            }
            let ty = match func {
                WindowFunc::RowNumber | WindowFunc::Rank | WindowFunc::DenseRank => DataType::Int8,
                WindowFunc::PercentRank | WindowFunc::CumeDist => DataType::Float8,
                WindowFunc::Ntile => DataType::Int4,
                _ => value_type,
            };
            (func, out, None, ty)
        };
        let mut partition = Vec::with_capacity(spec.partition_by.len());
        for e in &spec.partition_by {
            partition.push(self.bind_expr(e)?.0);
        }
        let mut order = Vec::with_capacity(spec.order_by.len());
        for o in &spec.order_by {
            let (x, _) = self.bind_expr(&o.expr)?;
            order.push(sort_key(x, &o.options));
        }
        let frame = self.bind_frame(spec.window_frame.as_ref())?;
        Ok((
            WindowCall {
                func,
                args,
                filter,
                partition,
                order,
                frame,
            },
            ty,
        ))
    }

    fn bind_frame(&mut self, frame: Option<&ast::WindowFrame>) -> PgResult<Frame> {
        let Some(frame) = frame else {
            return Ok(Frame {
                rows: false,
                start: FrameBound::UnboundedPreceding,
                end: FrameBound::CurrentRow,
            });
        };
        let rows = match frame.units {
            WindowFrameUnits::Rows => true,
            WindowFrameUnits::Range => false,
            WindowFrameUnits::Groups => return Err(PgError::unsupported("GROUPS frames")),
        };
        let start = self.bind_frame_bound(&frame.start_bound, rows)?;
        let end = match &frame.end_bound {
            Some(b) => self.bind_frame_bound(b, rows)?,
            None => FrameBound::CurrentRow,
        };
        if matches!(start, FrameBound::UnboundedFollowing) {
            return Err(windowing_error("frame start cannot be UNBOUNDED FOLLOWING"));
        }
        if matches!(end, FrameBound::UnboundedPreceding) {
            return Err(windowing_error("frame end cannot be UNBOUNDED PRECEDING"));
        }
        Ok(Frame { rows, start, end })
    }

    fn bind_frame_bound(&mut self, b: &WindowFrameBound, rows: bool) -> PgResult<FrameBound> {
        let offset = |binder: &mut Binder, e: &ast::Expr| -> PgResult<Expr> {
            if !rows {
                return Err(PgError::unsupported(
                    "RANGE with offset PRECEDING/FOLLOWING",
                ));
            }
            let (x, t) = binder.bind_expr(e)?;
            binder.coerce(x, &t, &DataType::Int8)
        };
        Ok(match b {
            WindowFrameBound::CurrentRow => FrameBound::CurrentRow,
            WindowFrameBound::Preceding(None) => FrameBound::UnboundedPreceding,
            WindowFrameBound::Following(None) => FrameBound::UnboundedFollowing,
            WindowFrameBound::Preceding(Some(e)) => FrameBound::Preceding(offset(self, e)?),
            WindowFrameBound::Following(Some(e)) => FrameBound::Following(offset(self, e)?),
        })
    }
}
