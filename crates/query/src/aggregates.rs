//! Aggregate functions: `count`, `sum`, `avg`, `min`, `max`, `array_agg`,
//! `string_agg`, `bool_and`/`bool_or`/`every`, `json_agg`/`jsonb_agg`. Owns their result types (as
//! PostgreSQL's `pg_aggregate` defines them: `sum(int4)` is `int8`, `sum(int8)` and
//! `avg(int)` are `numeric`) and their transition state ([`Accumulator`]).
//!
//! Corresponds to PostgreSQL's `utils/adt/int8.c`/`numeric.c` aggregate support and
//! `executor/nodeAgg.c` transition logic.

use std::cmp::Ordering;

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};
use tandem_types::{DataType, NumericSpecial, PgError, PgResult, SqlState, Value};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AggKind {
    CountStar,
    Count,
    Sum,
    Avg,
    Min,
    Max,
    ArrayAgg,
    StringAgg,
    BoolAnd,
    BoolOr,
    /// `json_agg` / `jsonb_agg`
    JsonAgg,
    JsonbAgg,
}

/// Recognizes an aggregate function name (lower case, schema stripped).
pub fn lookup(name: &str) -> Option<AggKind> {
    Some(match name {
        "count" => AggKind::Count,
        "sum" => AggKind::Sum,
        "avg" => AggKind::Avg,
        "min" => AggKind::Min,
        "max" => AggKind::Max,
        "array_agg" => AggKind::ArrayAgg,
        "string_agg" => AggKind::StringAgg,
        "bool_and" | "every" => AggKind::BoolAnd,
        "bool_or" => AggKind::BoolOr,
        "json_agg" => AggKind::JsonAgg,
        "jsonb_agg" => AggKind::JsonbAgg,
        _ => return None,
    })
}

fn no_function(name: &str, args: &[DataType]) -> PgError {
    let list: Vec<String> = args.iter().map(|t| t.display_name()).collect();
    PgError::new(SqlState::UNDEFINED_FUNCTION, format!("function {name}({}) does not exist", list.join(", ")))
        .with_hint("No function matches the given name and argument types. You might need to add explicit type casts.")
}

/// Result type of an aggregate over arguments of `args` types, and the types the
/// arguments are coerced to (unknown literals become text).
pub fn result_type(kind: AggKind, name: &str, args: &[DataType]) -> PgResult<DataType> {
    let arg = args.first().cloned().unwrap_or(DataType::Unknown);
    let arg = if arg == DataType::Unknown {
        DataType::Text
    } else {
        arg
    };
    let expect = match kind {
        AggKind::CountStar => 0,
        AggKind::StringAgg => 2,
        _ => 1,
    };
    if args.len() != expect {
        return Err(no_function(name, args));
    }
    Ok(match kind {
        AggKind::CountStar | AggKind::Count => DataType::Int8,
        AggKind::Sum => match arg {
            DataType::Int2 | DataType::Int4 => DataType::Int8,
            DataType::Int8 | DataType::Numeric(_) => DataType::Numeric(None),
            DataType::Float4 => DataType::Float4,
            DataType::Float8 => DataType::Float8,
            DataType::Interval => DataType::Interval,
            _ => return Err(no_function(name, args)),
        },
        AggKind::Avg => match arg {
            DataType::Int2 | DataType::Int4 | DataType::Int8 | DataType::Numeric(_) => {
                DataType::Numeric(None)
            }
            DataType::Float4 | DataType::Float8 => DataType::Float8,
            DataType::Interval => DataType::Interval,
            _ => return Err(no_function(name, args)),
        },
        AggKind::Min | AggKind::Max => match arg {
            DataType::Bool | DataType::Json | DataType::Jsonb | DataType::Record => {
                return Err(no_function(name, args))
            }
            DataType::Varchar(_) | DataType::Name => DataType::Text,
            other => crate::sqltype::base_type(&other),
        },
        AggKind::ArrayAgg => DataType::Array(Box::new(crate::sqltype::base_type(&arg))),
        AggKind::StringAgg => DataType::Text,
        AggKind::JsonAgg => DataType::Json,
        AggKind::JsonbAgg => DataType::Jsonb,
        AggKind::BoolAnd | AggKind::BoolOr => {
            if arg != DataType::Bool {
                return Err(no_function(name, args));
            }
            DataType::Bool
        }
    })
}

/// Transition state of one aggregate for one group.
#[derive(Clone, Debug)]
pub enum Accumulator {
    Count(i64),
    SumInt {
        sum: i128,
        any: bool,
        wide: bool,
    },
    /// The sum of the numbers, and of the NaNs and infinities apart.
    SumNumeric(Option<Decimal>, Option<NumericSpecial>),
    SumFloat {
        sum: f64,
        any: bool,
        single: bool,
    },
    SumInterval(Option<(i64, i64, i64)>),
    AvgNumeric {
        sum: Decimal,
        count: i64,
        special: Option<NumericSpecial>,
    },
    AvgFloat {
        sum: f64,
        count: i64,
    },
    AvgInterval {
        sum: (i64, i64, i64),
        count: i64,
    },
    MinMax {
        best: Option<Value>,
        max: bool,
    },
    Array(Vec<Value>),
    StringAgg(Option<String>),
    Bool {
        acc: Option<bool>,
        and: bool,
    },
    /// `json_agg` / `jsonb_agg`: the values (NULLs too) and their type.
    Json {
        items: Vec<Value>,
        ty: DataType,
        jsonb: bool,
    },
}

impl Accumulator {
    pub fn new(kind: AggKind, arg: &DataType) -> Accumulator {
        match kind {
            AggKind::CountStar | AggKind::Count => Accumulator::Count(0),
            AggKind::Sum => match arg {
                DataType::Int2 | DataType::Int4 => Accumulator::SumInt {
                    sum: 0,
                    any: false,
                    wide: false,
                },
                DataType::Int8 => Accumulator::SumInt {
                    sum: 0,
                    any: false,
                    wide: true,
                },
                DataType::Float4 => Accumulator::SumFloat {
                    sum: 0.0,
                    any: false,
                    single: true,
                },
                DataType::Float8 => Accumulator::SumFloat {
                    sum: 0.0,
                    any: false,
                    single: false,
                },
                DataType::Interval => Accumulator::SumInterval(None),
                _ => Accumulator::SumNumeric(None, None),
            },
            AggKind::Avg => match arg {
                DataType::Float4 | DataType::Float8 => Accumulator::AvgFloat { sum: 0.0, count: 0 },
                DataType::Interval => Accumulator::AvgInterval {
                    sum: (0, 0, 0),
                    count: 0,
                },
                _ => Accumulator::AvgNumeric {
                    sum: Decimal::ZERO,
                    count: 0,
                    special: None,
                },
            },
            AggKind::Min => Accumulator::MinMax {
                best: None,
                max: false,
            },
            AggKind::Max => Accumulator::MinMax {
                best: None,
                max: true,
            },
            AggKind::ArrayAgg => Accumulator::Array(Vec::new()),
            AggKind::JsonAgg | AggKind::JsonbAgg => Accumulator::Json {
                items: Vec::new(),
                ty: arg.clone(),
                jsonb: kind == AggKind::JsonbAgg,
            },
            AggKind::StringAgg => Accumulator::StringAgg(None),
            AggKind::BoolAnd => Accumulator::Bool {
                acc: None,
                and: true,
            },
            AggKind::BoolOr => Accumulator::Bool {
                acc: None,
                and: false,
            },
        }
    }

    /// Adds one input row (`args` evaluated). `count(*)` gets no arguments.
    pub fn add(&mut self, args: &[Value]) -> PgResult<()> {
        let v = args.first().unwrap_or(&Value::Null);
        if let Accumulator::Count(n) = self {
            if args.is_empty() || !v.is_null() {
                *n += 1;
            }
            return Ok(());
        }
        if let Accumulator::Array(items) | Accumulator::Json { items, .. } = self {
            items.push(v.clone());
            return Ok(());
        }
        if v.is_null() {
            return Ok(());
        }
        match self {
            Accumulator::SumInt { sum, any, .. } => {
                *sum += int_of(v)? as i128;
                *any = true;
            }
            Accumulator::SumNumeric(s, special) => match v {
                Value::NumericSpecial(x) => *special = Some(add_special(*special, *x)),
                // past a NaN or an infinity, numbers change nothing
                _ if special.is_some() => {}
                _ => {
                    let d = decimal_of(v)?;
                    *s = Some(match s {
                        Some(x) => x.checked_add(d).ok_or_else(numeric_overflow)?,
                        None => d,
                    });
                }
            },
            Accumulator::SumFloat { sum, any, .. } => {
                *sum += float_of(v)?;
                *any = true;
            }
            Accumulator::SumInterval(s) => {
                let (m, d, us) = interval_of(v)?;
                let cur = s.unwrap_or((0, 0, 0));
                *s = Some((cur.0 + m, cur.1 + d, cur.2 + us));
            }
            Accumulator::AvgNumeric {
                sum,
                count,
                special,
            } => {
                *count += 1;
                match v {
                    Value::NumericSpecial(x) => *special = Some(add_special(*special, *x)),
                    _ if special.is_some() => {}
                    _ => {
                        *sum = sum
                            .checked_add(decimal_of(v)?)
                            .ok_or_else(numeric_overflow)?
                    }
                }
            }
            Accumulator::AvgFloat { sum, count } => {
                *sum += float_of(v)?;
                *count += 1;
            }
            Accumulator::AvgInterval { sum, count } => {
                let (m, d, us) = interval_of(v)?;
                *sum = (sum.0 + m, sum.1 + d, sum.2 + us);
                *count += 1;
            }
            Accumulator::MinMax { best, max } => {
                let replace = match best {
                    None => true,
                    Some(b) => {
                        let o = tandem_expr::compare(v, b);
                        if *max {
                            o == Ordering::Greater
                        } else {
                            o == Ordering::Less
                        }
                    }
                };
                if replace {
                    *best = Some(v.clone());
                }
            }
            Accumulator::StringAgg(s) => {
                let Value::Text(t) = v else {
                    return Err(PgError::internal("string_agg expects text"));
                };
                match s {
                    None => *s = Some(t.clone()),
                    Some(acc) => {
                        if let Some(Value::Text(d)) = args.get(1) {
                            acc.push_str(d);
                        }
                        acc.push_str(t);
                    }
                }
            }
            Accumulator::Bool { acc, and } => {
                let Value::Bool(b) = v else {
                    return Err(PgError::internal("bool aggregate expects boolean"));
                };
                *acc = Some(match acc {
                    None => *b,
                    Some(a) => {
                        if *and {
                            *a && *b
                        } else {
                            *a || *b
                        }
                    }
                });
            }
            Accumulator::Count(_) | Accumulator::Array(_) | Accumulator::Json { .. } => {}
        }
        Ok(())
    }

    /// The aggregate's result for the group.
    pub fn finish(self) -> PgResult<Value> {
        Ok(match self {
            Accumulator::Count(n) => Value::Int8(n),
            Accumulator::SumInt { any: false, .. } => Value::Null,
            Accumulator::SumInt {
                sum, wide: false, ..
            } => Value::Int8(i64::try_from(sum).map_err(|_| {
                PgError::new(SqlState::NUMERIC_VALUE_OUT_OF_RANGE, "bigint out of range")
            })?),
            Accumulator::SumInt {
                sum, wide: true, ..
            } => Value::Numeric(Decimal::from_i128_with_scale(sum, 0)),
            Accumulator::SumNumeric(_, Some(x)) => Value::NumericSpecial(x),
            Accumulator::SumNumeric(s, None) => s.map(Value::Numeric).unwrap_or(Value::Null),
            Accumulator::SumFloat { any: false, .. } => Value::Null,
            Accumulator::SumFloat {
                sum, single: true, ..
            } => Value::Float4(sum as f32),
            Accumulator::SumFloat { sum, .. } => Value::Float8(sum),
            Accumulator::SumInterval(s) => match s {
                Some((m, d, us)) => Value::Interval(m as i32, d as i32, us),
                None => Value::Null,
            },
            Accumulator::AvgNumeric { count: 0, .. } => Value::Null,
            Accumulator::AvgNumeric {
                special: Some(x), ..
            } => Value::NumericSpecial(x),
            Accumulator::AvgNumeric { sum, count, .. } => {
                Value::Numeric(numeric_div(sum, Decimal::from(count))?)
            }
            Accumulator::AvgFloat { count: 0, .. } => Value::Null,
            Accumulator::AvgFloat { sum, count } => Value::Float8(sum / count as f64),
            Accumulator::AvgInterval { count: 0, .. } => Value::Null,
            Accumulator::AvgInterval { sum, count } => Value::Interval(
                (sum.0 / count) as i32,
                (sum.1 / count) as i32,
                sum.2 / count,
            ),
            Accumulator::MinMax { best, .. } => best.unwrap_or(Value::Null),
            Accumulator::Array(items) => {
                if items.is_empty() {
                    Value::Null
                } else {
                    Value::Array(items)
                }
            }
            Accumulator::StringAgg(s) => s.map(Value::Text).unwrap_or(Value::Null),
            Accumulator::Bool { acc, .. } => acc.map(Value::Bool).unwrap_or(Value::Null),
            Accumulator::Json { items, .. } if items.is_empty() => Value::Null,
            Accumulator::Json { items, ty, jsonb } => {
                if jsonb {
                    let docs = items
                        .iter()
                        .map(|v| tandem_expr::json::to_json(v, &ty))
                        .collect::<PgResult<Vec<_>>>()?;
                    let doc = tandem_expr::json::Json::Array(docs).normalize();
                    Value::Text(doc.jsonb_text())
                } else {
                    let texts = items
                        .iter()
                        .map(|v| tandem_expr::json::json_text_of(v, &ty))
                        .collect::<PgResult<Vec<_>>>()?;
                    // rows and arrays each start a line (json_agg_transfn)
                    let sep = match ty {
                        DataType::Record | DataType::Array(_) => ", \n ",
                        _ => ", ",
                    };
                    Value::Text(format!("[{}]", texts.join(sep)))
                }
            }
        })
    }
}

fn numeric_overflow() -> PgError {
    PgError::new(
        SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
        "value overflows numeric format",
    )
}

fn int_of(v: &Value) -> PgResult<i64> {
    Ok(match v {
        Value::Int2(i) => *i as i64,
        Value::Int4(i) => *i as i64,
        Value::Int8(i) => *i,
        _ => return Err(PgError::internal("integer aggregate input expected")),
    })
}

fn float_of(v: &Value) -> PgResult<f64> {
    Ok(match v {
        Value::Float4(f) => *f as f64,
        Value::Float8(f) => *f,
        other => int_of(other)? as f64,
    })
}

/// A running sum of NaNs and infinities: NaN once a NaN or both infinities
/// were added, else the infinity.
fn add_special(sum: Option<NumericSpecial>, x: NumericSpecial) -> NumericSpecial {
    match sum {
        None => x,
        Some(s) if s == x => s,
        Some(_) => NumericSpecial::NaN,
    }
}

fn decimal_of(v: &Value) -> PgResult<Decimal> {
    Ok(match v {
        Value::Numeric(d) => *d,
        other => Decimal::from(int_of(other)?),
    })
}

fn interval_of(v: &Value) -> PgResult<(i64, i64, i64)> {
    match v {
        Value::Interval(m, d, us) => Ok((*m as i64, *d as i64, *us)),
        _ => Err(PgError::internal("interval aggregate input expected")),
    }
}

/// Base-10000 weight and first digit of a nonzero decimal, as PostgreSQL's numeric
/// representation sees it.
fn weight_and_first_digit(d: Decimal) -> (i32, u32) {
    let a = d.abs();
    let int_part = a.trunc();
    if !int_part.is_zero() {
        let digits = int_part.to_string().trim_start_matches('-').len() as i32;
        let weight = (digits - 1) / 4;
        let first = (int_part / Decimal::from(10_000i64.pow(weight as u32))).trunc();
        (weight, first.to_u32().unwrap_or(1))
    } else {
        // 0.xxxx: weight -1 is the first group of four decimals, and so on.
        let mut w = -1;
        let mut x = a * Decimal::from(10_000);
        while x.trunc().is_zero() && w > -8 {
            x *= Decimal::from(10_000);
            w -= 1;
        }
        (w, x.trunc().to_u32().unwrap_or(1))
    }
}

/// Numeric division with PostgreSQL's result scale (`select_div_scale`): at least
/// 16 significant digits, at least the inputs' scales.
pub fn numeric_div(a: Decimal, b: Decimal) -> PgResult<Decimal> {
    if b.is_zero() {
        return Err(PgError::new(SqlState::DIVISION_BY_ZERO, "division by zero"));
    }
    let mut qweight = 0;
    if !a.is_zero() {
        let (w1, f1) = weight_and_first_digit(a);
        let (w2, f2) = weight_and_first_digit(b);
        qweight = w1 - w2;
        if f1 <= f2 {
            qweight -= 1;
        }
    }
    let mut rscale = 16 - qweight * 4;
    rscale = rscale
        .max(a.scale() as i32)
        .max(b.scale() as i32)
        .clamp(0, 28);
    let q = a.checked_div(b).ok_or_else(numeric_overflow)?;
    let mut q = q.round_dp_with_strategy(rscale as u32, RoundingStrategy::MidpointAwayFromZero);
    q.rescale(rscale as u32);
    Ok(q)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn avg(vals: &[i32]) -> String {
        let mut acc = Accumulator::new(AggKind::Avg, &DataType::Int4);
        for v in vals {
            acc.add(&[Value::Int4(*v)]).unwrap();
        }
        match acc.finish().unwrap() {
            Value::Numeric(d) => d.to_string(),
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn avg_uses_postgres_division_scale() {
        assert_eq!(avg(&[1, 2]), "1.5000000000000000");
        assert_eq!(avg(&[10, 20]), "15.0000000000000000");
        assert_eq!(avg(&[0, 1]), "0.50000000000000000000");
        assert_eq!(avg(&[20000, 0]), "10000.0000000000000000");
        assert_eq!(avg(&[1, 1, 2]), "1.3333333333333333");
    }

    #[test]
    fn sums_have_postgres_result_types() {
        assert_eq!(
            result_type(AggKind::Sum, "sum", &[DataType::Int4]).unwrap(),
            DataType::Int8
        );
        assert_eq!(
            result_type(AggKind::Sum, "sum", &[DataType::Int8]).unwrap(),
            DataType::Numeric(None)
        );
        assert_eq!(
            result_type(AggKind::Avg, "avg", &[DataType::Int4]).unwrap(),
            DataType::Numeric(None)
        );
        let mut s = Accumulator::new(AggKind::Sum, &DataType::Int4);
        assert_eq!(s.clone().finish().unwrap(), Value::Null);
        s.add(&[Value::Int4(3)]).unwrap();
        s.add(&[Value::Null]).unwrap();
        assert_eq!(s.finish().unwrap(), Value::Int8(3));
        let err = result_type(AggKind::Sum, "sum", &[DataType::Text]).unwrap_err();
        assert_eq!(err.message, "function sum(text) does not exist");
    }

    #[test]
    fn count_ignores_nulls_but_count_star_does_not() {
        let mut c = Accumulator::new(AggKind::Count, &DataType::Int4);
        c.add(&[Value::Null]).unwrap();
        c.add(&[Value::Int4(1)]).unwrap();
        assert_eq!(c.finish().unwrap(), Value::Int8(1));
        let mut c = Accumulator::new(AggKind::CountStar, &DataType::Unknown);
        c.add(&[]).unwrap();
        c.add(&[]).unwrap();
        assert_eq!(c.finish().unwrap(), Value::Int8(2));
    }
}
