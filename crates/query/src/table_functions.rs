//! Set-returning functions in `FROM`: `generate_series` (integers, numerics and
//! timestamps with an interval step), `unnest(array)`, and scalar functions used
//! as a one-row table (`SELECT * FROM pg_current_wal_lsn()`). Composite-returning
//! system functions without arguments (`pg_control_system()`) are virtual tables of
//! `tandem_expr` and bound as such.
//!
//! Corresponds to PostgreSQL's `utils/adt/int.c` (generate_series_int4),
//! `arrayfuncs.c` (array_unnest) and `nodeFunctionscan.c`.

use tandem_expr::{ExecContext, FunctionSig};
use tandem_types::{DataType, PgError, PgResult, SqlState, Value};

#[derive(Clone, Debug)]
pub enum TableFunc {
    /// `generate_series(start, stop[, step])` over an integer type.
    SeriesInt(DataType),
    SeriesNumeric,
    /// Timestamps with an interval step.
    SeriesTimestamp(DataType),
    Unnest,
    /// `generate_subscripts(array, dim)`: the subscripts of that dimension
    /// (only dimension 1 has any), from the lower bound given (arrays
    /// start at 1, `int2vector` and `oidvector` at 0).
    Subscripts(i32),
    /// `jsonb_array_elements(_text)`, `jsonb_object_keys` and their `json`
    /// twins (by name: `tandem_expr::functions::json::set_values`).
    Json(&'static str),
    /// `pg_partition_ancestors(regclass)`: a partition and its ancestors;
    /// tandem has no partitioned tables, so no rows (as PostgreSQL gives
    /// for a table that is no partition).
    PartitionAncestors,
    /// `pg_listening_channels()`: the channels this session listens on.
    ListeningChannels,
    /// A scalar function yielding one row.
    Scalar(FunctionSig),
    /// A composite-returning function (`pg_control_system()`): one row of its
    /// record's fields (`width` columns, described by `tandem_expr::function_columns`).
    Composite(FunctionSig, usize),
}

/// Whether `name` is one of [`resolve`]'s set-returning functions (so a call
/// in a target list is a ProjectSet).
pub fn is_set_returning(name: &str) -> bool {
    matches!(
        name,
        "generate_series"
            | "generate_subscripts"
            | "unnest"
            | "jsonb_array_elements"
            | "jsonb_array_elements_text"
            | "jsonb_object_keys"
            | "json_array_elements"
            | "json_array_elements_text"
            | "json_object_keys"
            | "pg_partition_ancestors"
            | "pg_listening_channels"
    )
}

/// Binds a table function by name and argument types: the function, the types to
/// coerce the arguments to, and the result column type.
pub fn resolve(
    name: &str,
    args: &[DataType],
) -> PgResult<Option<(TableFunc, Vec<DataType>, DataType)>> {
    match name {
        "generate_series" => {
            if !(2..=3).contains(&args.len()) {
                return Err(no_function(name, args));
            }
            // Unknown literals take the type of the other bound (the step of a
            // timestamp series is an interval), as function resolution does.
            let base = args[..2]
                .iter()
                .find(|t| **t != DataType::Unknown)
                .cloned()
                .unwrap_or(DataType::Int4);
            let timelike = matches!(
                base,
                DataType::Timestamp | DataType::TimestampTz | DataType::Date
            );
            let types: Vec<DataType> = args
                .iter()
                .enumerate()
                .map(|(i, t)| match t {
                    DataType::Unknown if i == 2 && timelike => DataType::Interval,
                    DataType::Unknown => base.clone(),
                    t => t.clone(),
                })
                .collect();
            let ty =
                crate::sqltype::common_type(&types[..2]).map_err(|_| no_function(name, args))?;
            match ty {
                DataType::Int2 | DataType::Int4 | DataType::Int8 => {
                    let t = if ty == DataType::Int2 {
                        DataType::Int4
                    } else {
                        ty
                    };
                    let step_t =
                        crate::sqltype::common_type(&types).map_err(|_| no_function(name, args))?;
                    let t = if step_t == DataType::Int8 {
                        DataType::Int8
                    } else {
                        t
                    };
                    if !matches!(step_t, DataType::Int2 | DataType::Int4 | DataType::Int8) {
                        return Err(no_function(name, args));
                    }
                    Ok(Some((
                        TableFunc::SeriesInt(t.clone()),
                        vec![t.clone(); args.len()],
                        t,
                    )))
                }
                DataType::Numeric(_) => {
                    let t = DataType::Numeric(None);
                    Ok(Some((
                        TableFunc::SeriesNumeric,
                        vec![t.clone(); args.len()],
                        t,
                    )))
                }
                DataType::Timestamp | DataType::TimestampTz | DataType::Date => {
                    if args.len() != 3 {
                        return Err(no_function(name, args));
                    }
                    let t = if ty == DataType::Date {
                        DataType::TimestampTz
                    } else {
                        ty
                    };
                    Ok(Some((
                        TableFunc::SeriesTimestamp(t.clone()),
                        vec![t.clone(), t.clone(), DataType::Interval],
                        t,
                    )))
                }
                _ => Err(no_function(name, args)),
            }
        }
        "jsonb_array_elements"
        | "jsonb_array_elements_text"
        | "jsonb_object_keys"
        | "json_array_elements"
        | "json_array_elements_text"
        | "json_object_keys" => {
            let json = name.starts_with("jsonb");
            let arg = if json {
                DataType::Jsonb
            } else {
                DataType::Json
            };
            let fits = matches!(args, [a] if *a == arg || *a == DataType::Unknown);
            if !fits {
                return Err(no_function(name, args));
            }
            let ret = if name.ends_with("_text") || name.ends_with("_keys") {
                DataType::Text
            } else {
                arg.clone()
            };
            let name: &'static str = match name {
                "jsonb_array_elements" => "jsonb_array_elements",
                "jsonb_array_elements_text" => "jsonb_array_elements_text",
                "jsonb_object_keys" => "jsonb_object_keys",
                "json_array_elements" => "json_array_elements",
                "json_array_elements_text" => "json_array_elements_text",
                _ => "json_object_keys",
            };
            Ok(Some((TableFunc::Json(name), vec![arg], ret)))
        }
        "generate_subscripts" => match args {
            [a, d] | [a, d, DataType::Bool]
                if matches!(d, DataType::Int2 | DataType::Int4 | DataType::Unknown)
                    && vector_elem(a).is_some() =>
            {
                let mut types = args.to_vec();
                types[1] = DataType::Int4;
                let lower = i32::from(!matches!(a, DataType::Array(_)));
                Ok(Some((
                    TableFunc::Subscripts(1 - lower),
                    types,
                    DataType::Int4,
                )))
            }
            _ => Err(no_function(name, args)),
        },
        "pg_partition_ancestors" => match args {
            [DataType::RegClass | DataType::Oid | DataType::Unknown | DataType::Text] => {
                Ok(Some((
                    TableFunc::PartitionAncestors,
                    vec![DataType::RegClass],
                    DataType::RegClass,
                )))
            }
            _ => Err(no_function(name, args)),
        },
        "pg_listening_channels" => match args {
            [] => Ok(Some((TableFunc::ListeningChannels, vec![], DataType::Text))),
            _ => Err(no_function(name, args)),
        },
        "unnest" => match args {
            [a] if vector_elem(a).is_some() => {
                let elem = vector_elem(a).unwrap_or(DataType::Unknown);
                Ok(Some((TableFunc::Unnest, args.to_vec(), elem)))
            }
            [DataType::Unknown] => Err(PgError::new(
                SqlState::INDETERMINATE_DATATYPE,
                "could not determine polymorphic type because input has type unknown",
            )),
            _ => Err(no_function(name, args)),
        },
        _ => Ok(None),
    }
}

/// The element type of an array, `int2vector` or `oidvector`.
fn vector_elem(t: &DataType) -> Option<DataType> {
    match t {
        DataType::Array(elem) => Some((**elem).clone()),
        DataType::Int2Vector => Some(DataType::Int2),
        DataType::OidVector => Some(DataType::Oid),
        _ => None,
    }
}

fn no_function(name: &str, args: &[DataType]) -> PgError {
    let list: Vec<String> = args.iter().map(|t| t.display_name()).collect();
    PgError::new(SqlState::UNDEFINED_FUNCTION, format!("function {name}({}) does not exist", list.join(", ")))
        .with_hint("No function matches the given name and argument types. You might need to add explicit type casts.")
}

fn step_zero() -> PgError {
    PgError::new(
        SqlState::INVALID_PARAMETER_VALUE,
        "step size cannot equal zero",
    )
}

fn as_i64(v: &Value) -> Option<i64> {
    match v {
        Value::Int2(i) => Some(*i as i64),
        Value::Int4(i) => Some(*i as i64),
        Value::Int8(i) => Some(*i),
        _ => None,
    }
}

/// Produces the function's rows (one value each); `emit` returns false to stop.
pub fn run(
    func: &TableFunc,
    args: Vec<Value>,
    ctx: &mut ExecContext<'_>,
    emit: &mut dyn FnMut(Value) -> PgResult<bool>,
) -> PgResult<()> {
    if !matches!(func, TableFunc::Scalar(_) | TableFunc::Composite(..))
        && args.iter().any(Value::is_null)
    {
        return Ok(());
    }
    match func {
        TableFunc::SeriesInt(ty) => {
            let start = as_i64(&args[0]).unwrap_or(0);
            let stop = as_i64(&args[1]).unwrap_or(0);
            let step = args.get(2).and_then(as_i64).unwrap_or(1);
            if step == 0 {
                return Err(step_zero());
            }
            let mut i = start;
            while (step > 0 && i <= stop) || (step < 0 && i >= stop) {
                let v = if *ty == DataType::Int8 {
                    Value::Int8(i)
                } else {
                    Value::Int4(i as i32)
                };
                if !emit(v)? {
                    break;
                }
                match i.checked_add(step) {
                    Some(n) => i = n,
                    None => break,
                }
            }
        }
        TableFunc::SeriesNumeric => {
            let num = |v: &Value| match v {
                Value::Numeric(d) => *d,
                other => rust_decimal::Decimal::from(as_i64(other).unwrap_or(0)),
            };
            let (start, stop) = (num(&args[0]), num(&args[1]));
            let step = args.get(2).map(num).unwrap_or(rust_decimal::Decimal::ONE);
            if step.is_zero() {
                return Err(step_zero());
            }
            let mut i = start;
            while (step.is_sign_positive() && i <= stop) || (step.is_sign_negative() && i >= stop) {
                if !emit(Value::Numeric(i))? {
                    break;
                }
                i += step;
            }
        }
        TableFunc::SeriesTimestamp(ty) => {
            let ts = |v: &Value| match v {
                Value::Timestamp(t) | Value::TimestampTz(t) => *t,
                _ => 0,
            };
            let (start, stop) = (ts(&args[0]), ts(&args[1]));
            let Value::Interval(months, days, us) = args[2] else {
                return Err(PgError::internal(
                    "generate_series step must be an interval",
                ));
            };
            if months == 0 && days == 0 && us == 0 {
                return Err(step_zero());
            }
            let step = Value::Interval(months, days, us);
            let mut cur = args[0].clone();
            let forward = months > 0 || days > 0 || (months == 0 && days == 0 && us > 0);
            let _ = start;
            loop {
                let c = ts(&cur);
                if (forward && c > stop) || (!forward && c < stop) {
                    break;
                }
                let out = if *ty == DataType::Timestamp {
                    Value::Timestamp(c)
                } else {
                    Value::TimestampTz(c)
                };
                if !emit(out)? {
                    break;
                }
                cur = tandem_expr::binary_op(tandem_expr::BinOp::Add, cur, step.clone())?;
            }
        }
        TableFunc::Subscripts(lower) => {
            let reverse = args.get(2) == Some(&Value::Bool(true));
            let n = match (args.first(), args.get(1)) {
                (Some(Value::Array(items)), Some(Value::Int4(1))) => items.len() as i32,
                _ => 0,
            };
            let mut subs: Vec<i32> = (*lower..*lower + n).collect();
            if reverse {
                subs.reverse();
            }
            for s in subs {
                if !emit(Value::Int4(s))? {
                    break;
                }
            }
        }
        TableFunc::PartitionAncestors => {}
        TableFunc::ListeningChannels => {
            for c in ctx.notify.listening().to_vec() {
                if !emit(Value::Text(c))? {
                    break;
                }
            }
        }
        TableFunc::Json(name) => {
            if let Some(arg) = args.first().filter(|a| !a.is_null()) {
                for v in tandem_expr::functions::json::set_values(name, arg)? {
                    if !emit(v)? {
                        break;
                    }
                }
            }
        }
        TableFunc::Unnest => {
            if let Some(Value::Array(items)) = args.into_iter().next() {
                for v in items {
                    if !emit(v)? {
                        break;
                    }
                }
            }
        }
        TableFunc::Scalar(sig) | TableFunc::Composite(sig, _) => {
            let v = tandem_expr::call_function(sig, args, ctx)?;
            emit(v)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generate_series_types() {
        let (f, args, ret) = resolve("generate_series", &[DataType::Int4, DataType::Int4])
            .unwrap()
            .unwrap();
        assert!(matches!(f, TableFunc::SeriesInt(DataType::Int4)));
        assert_eq!(args, vec![DataType::Int4, DataType::Int4]);
        assert_eq!(ret, DataType::Int4);
        let (_, _, ret) = resolve("generate_series", &[DataType::Int4, DataType::Int8])
            .unwrap()
            .unwrap();
        assert_eq!(ret, DataType::Int8);
        assert!(resolve("generate_series", &[DataType::Text, DataType::Int4]).is_err());
        assert!(resolve("foo", &[]).unwrap().is_none());
    }
}
