//! Array functions: `array_length`, `cardinality`, `array_position`,
//! `array_to_string`, `string_to_array`, `array_append`, `array_cat`, ...
//!
//! Arrays are 1-based with lower bound 1; an empty array has no dimensions
//! (`array_length('{}', 1)` is NULL). `unnest` is a table function and lives in
//! the query crate. Corresponds to PostgreSQL's `utils/adt/arrayfuncs.c` and
//! `array_userfuncs.c`.

use tandem_types::{DataType, PgResult, Value};

use super::{arg_i64, arg_text, r, t, Arg, Def, Ret};
use crate::compare::values_equal;
use crate::io_text::to_text;

use DataType as T;

pub(super) fn defs() -> Vec<Def> {
    let text = || t(T::Text);
    let text_arr = || r(T::Array(Box::new(T::Text)));
    vec![
        // `a[lo:hi]` (the binder calls this with NULL for an omitted bound;
        // the name cannot be written as a function call without quotes):
        // the elements in range, renumbered from 1, as PostgreSQL's array_subscript
        Def::pure(
            SLICE,
            vec![
                Arg::AnyArray,
                t(T::Int4),
                t(T::Int4),
                t(T::Bool),
                t(T::Bool),
            ],
            Ret::Arg(0),
            |a| {
                if a[0].is_null() {
                    return Ok(Value::Null);
                }
                let all = items(&a[0]);
                // an omitted bound is the array's own; a NULL one makes NULL
                let bound = |i: usize, omitted: i64| match (&a[i + 2], &a[i]) {
                    (Value::Bool(true), _) => Some(omitted),
                    (_, Value::Int4(v)) => Some(*v as i64),
                    _ => None,
                };
                let (Some(lo), Some(hi)) = (bound(1, 1), bound(2, all.len() as i64)) else {
                    return Ok(Value::Null);
                };
                let lo = lo.max(1);
                let hi = hi.min(all.len() as i64);
                if lo > hi {
                    return Ok(Value::Array(Vec::new()));
                }
                Ok(Value::Array(all[(lo - 1) as usize..hi as usize].to_vec()))
            },
        )
        .lax(),
        Def::pure(
            "array_length",
            vec![Arg::AnyArray, t(T::Int4)],
            r(T::Int4),
            |a| dim_len(a, false),
        ),
        Def::pure(
            "array_upper",
            vec![Arg::AnyArray, t(T::Int4)],
            r(T::Int4),
            |a| dim_len(a, false),
        ),
        Def::pure(
            "array_lower",
            vec![Arg::AnyArray, t(T::Int4)],
            r(T::Int4),
            |a| dim_len(a, true),
        ),
        Def::pure("array_ndims", vec![Arg::AnyArray], r(T::Int4), |a| {
            let d = dims(items(&a[0]));
            Ok(if d.is_empty() {
                Value::Null
            } else {
                Value::Int4(d.len() as i32)
            })
        }),
        Def::pure("array_dims", vec![Arg::AnyArray], r(T::Text), |a| {
            let d = dims(items(&a[0]));
            if d.is_empty() {
                return Ok(Value::Null);
            }
            Ok(Value::Text(d.iter().map(|n| format!("[1:{n}]")).collect()))
        }),
        Def::pure("cardinality", vec![Arg::AnyArray], r(T::Int4), |a| {
            let d = dims(items(&a[0]));
            Ok(Value::Int4(if d.is_empty() {
                0
            } else {
                d.iter().product::<usize>() as i32
            }))
        }),
        Def::pure(
            "array_position",
            vec![Arg::AnyArray, Arg::AnyElement],
            r(T::Int4),
            |a| position(a, 1),
        )
        .lax(),
        Def::pure(
            "array_position",
            vec![Arg::AnyArray, Arg::AnyElement, t(T::Int4)],
            r(T::Int4),
            |a| {
                let start = arg_i64(a, 2)?.max(1) as usize;
                position(a, start)
            },
        )
        .lax(),
        Def::pure(
            "array_positions",
            vec![Arg::AnyArray, Arg::AnyElement],
            r(T::Array(Box::new(T::Int4))),
            |a| {
                if a[0].is_null() {
                    return Ok(Value::Null);
                }
                let found = items(&a[0])
                    .iter()
                    .enumerate()
                    .filter(|(_, v)| same(v, &a[1]))
                    .map(|(i, _)| Value::Int4(i as i32 + 1))
                    .collect();
                Ok(Value::Array(found))
            },
        )
        .lax(),
        Def::pure(
            "array_to_string",
            vec![Arg::AnyArray, text()],
            r(T::Text),
            array_to_string,
        ),
        Def::pure(
            "array_to_string",
            vec![Arg::AnyArray, text(), text()],
            r(T::Text),
            array_to_string,
        )
        .lax(),
        Def::pure(
            "string_to_array",
            vec![text(), text()],
            text_arr(),
            string_to_array,
        )
        .lax(),
        Def::pure(
            "string_to_array",
            vec![text(), text(), text()],
            text_arr(),
            string_to_array,
        )
        .lax(),
        Def::pure(
            "array_append",
            vec![Arg::AnyArray, Arg::AnyElement],
            Ret::Arg(0),
            |a| {
                let mut v = items_or_empty(&a[0]);
                v.push(a[1].clone());
                Ok(Value::Array(v))
            },
        )
        .lax(),
        Def::pure(
            "array_prepend",
            vec![Arg::AnyElement, Arg::AnyArray],
            Ret::Arg(1),
            |a| {
                let mut v = items_or_empty(&a[1]);
                v.insert(0, a[0].clone());
                Ok(Value::Array(v))
            },
        )
        .lax(),
        Def::pure(
            "array_cat",
            vec![Arg::AnyArray, Arg::AnyArray],
            Ret::Arg(0),
            |a| {
                if a[0].is_null() && a[1].is_null() {
                    return Ok(Value::Null);
                }
                let mut v = items_or_empty(&a[0]);
                v.extend(items_or_empty(&a[1]));
                Ok(Value::Array(v))
            },
        )
        .lax(),
        Def::pure(
            "array_remove",
            vec![Arg::AnyArray, Arg::AnyElement],
            Ret::Arg(0),
            |a| {
                if a[0].is_null() {
                    return Ok(Value::Null);
                }
                Ok(Value::Array(
                    items(&a[0])
                        .iter()
                        .filter(|v| !same(v, &a[1]))
                        .cloned()
                        .collect(),
                ))
            },
        )
        .lax(),
        Def::pure(
            "array_replace",
            vec![Arg::AnyArray, Arg::AnyElement, Arg::AnyElement],
            Ret::Arg(0),
            |a| {
                if a[0].is_null() {
                    return Ok(Value::Null);
                }
                Ok(Value::Array(
                    items(&a[0])
                        .iter()
                        .map(|v| {
                            if same(v, &a[1]) {
                                a[2].clone()
                            } else {
                                v.clone()
                            }
                        })
                        .collect(),
                ))
            },
        )
        .lax(),
    ]
}

/// The function an array slice `a[lo:hi]` is bound to (args: array, lo,
/// hi, lo omitted, hi omitted).
pub const SLICE: &str = "[:]";

fn items(v: &Value) -> &[Value] {
    match v {
        Value::Array(items) => items,
        _ => &[],
    }
}

fn items_or_empty(v: &Value) -> Vec<Value> {
    items(v).to_vec()
}

/// Dimension lengths (outermost first); empty for an empty array.
fn dims(items: &[Value]) -> Vec<usize> {
    if items.is_empty() {
        return Vec::new();
    }
    let mut d = vec![items.len()];
    if let Some(Value::Array(inner)) = items.first() {
        d.extend(dims(inner));
    }
    d
}

fn dim_len(a: &[Value], lower: bool) -> PgResult<Value> {
    let d = dims(items(&a[0]));
    let n = arg_i64(a, 1)?;
    Ok(match usize::try_from(n - 1).ok().and_then(|i| d.get(i)) {
        Some(len) => Value::Int4(if lower { 1 } else { *len as i32 }),
        None => Value::Null,
    })
}

/// `IS NOT DISTINCT FROM`, as array searches compare.
fn same(a: &Value, b: &Value) -> bool {
    match (a.is_null(), b.is_null()) {
        (true, true) => true,
        (false, false) => values_equal(a, b),
        _ => false,
    }
}

fn position(a: &[Value], start: usize) -> PgResult<Value> {
    if a[0].is_null() {
        return Ok(Value::Null);
    }
    Ok(items(&a[0])
        .iter()
        .enumerate()
        .skip(start - 1)
        .find(|(_, v)| same(v, &a[1]))
        .map(|(i, _)| Value::Int4(i as i32 + 1))
        .unwrap_or(Value::Null))
}

fn flatten(items: &[Value], out: &mut Vec<Value>) {
    for v in items {
        match v {
            Value::Array(inner) => flatten(inner, out),
            v => out.push(v.clone()),
        }
    }
}

fn array_to_string(a: &[Value]) -> PgResult<Value> {
    if a[0].is_null() || a[1].is_null() {
        return Ok(Value::Null);
    }
    let sep = arg_text(a, 1);
    let null_as = a.get(2).filter(|v| !v.is_null()).map(to_text);
    let mut flat = Vec::new();
    flatten(items(&a[0]), &mut flat);
    let parts: Vec<String> = flat
        .iter()
        .filter_map(|v| {
            if v.is_null() {
                null_as.clone()
            } else {
                Some(to_text(v))
            }
        })
        .collect();
    Ok(Value::Text(parts.join(&sep)))
}

fn string_to_array(a: &[Value]) -> PgResult<Value> {
    if a[0].is_null() {
        return Ok(Value::Null);
    }
    let s = arg_text(a, 0);
    if s.is_empty() {
        return Ok(Value::Array(Vec::new()));
    }
    let null_str = a.get(2).filter(|v| !v.is_null()).map(to_text);
    let parts: Vec<String> = match &a[1] {
        Value::Null => s.chars().map(|c| c.to_string()).collect(),
        d => {
            let d = to_text(d);
            if d.is_empty() {
                vec![s]
            } else {
                s.split(d.as_str()).map(|p| p.to_string()).collect()
            }
        }
    };
    Ok(Value::Array(
        parts
            .into_iter()
            .map(|p| {
                if null_str.as_deref() == Some(p.as_str()) {
                    Value::Null
                } else {
                    Value::Text(p)
                }
            })
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use crate::functions::call_pure;
    use crate::io_text::to_text;
    use tandem_types::Value;

    fn arr(v: &[i32]) -> Value {
        Value::Array(v.iter().map(|x| Value::Int4(*x)).collect())
    }
    fn f(name: &str, args: Vec<Value>) -> String {
        match call_pure(name, args) {
            Ok(v) => to_text(&v),
            Err(e) => format!("ERROR {}: {}", e.code.0, e.message),
        }
    }
    fn tx(s: &str) -> Value {
        Value::Text(s.into())
    }

    #[test]
    fn dimensions_and_search() {
        assert_eq!(
            f("array_length", vec![arr(&[1, 2, 3]), Value::Int4(1)]),
            "3"
        );
        assert_eq!(f("array_length", vec![arr(&[]), Value::Int4(1)]), "");
        assert_eq!(
            f(
                "array_length",
                vec![
                    Value::Array(vec![arr(&[1, 2]), arr(&[3, 4])]),
                    Value::Int4(2)
                ]
            ),
            "2"
        );
        assert_eq!(
            f(
                "cardinality",
                vec![Value::Array(vec![arr(&[1, 2]), arr(&[3, 4])])]
            ),
            "4"
        );
        assert_eq!(f("cardinality", vec![arr(&[])]), "0");
        assert_eq!(f("array_dims", vec![arr(&[1, 2])]), "[1:2]");
        assert_eq!(
            f("array_position", vec![arr(&[5, 6, 7]), Value::Int4(6)]),
            "2"
        );
        assert_eq!(
            f("array_position", vec![arr(&[5, 6, 7]), Value::Int4(9)]),
            ""
        );
        assert_eq!(
            f(
                "array_position",
                vec![Value::Array(vec![Value::Int4(1), Value::Null]), Value::Null]
            ),
            "2"
        );
        assert_eq!(
            f("array_positions", vec![arr(&[1, 2, 1]), Value::Int4(1)]),
            "{1,3}"
        );
        assert_eq!(f("array_append", vec![arr(&[1]), Value::Int4(2)]), "{1,2}");
        assert_eq!(f("array_prepend", vec![Value::Int4(0), arr(&[1])]), "{0,1}");
        assert_eq!(f("array_cat", vec![arr(&[1]), arr(&[2, 3])]), "{1,2,3}");
        assert_eq!(
            f("array_remove", vec![arr(&[1, 2, 1]), Value::Int4(1)]),
            "{2}"
        );
    }

    #[test]
    fn strings_and_arrays() {
        let a = Value::Array(vec![Value::Int4(1), Value::Null, Value::Int4(3)]);
        assert_eq!(f("array_to_string", vec![a.clone(), tx(",")]), "1,3");
        assert_eq!(f("array_to_string", vec![a, tx(","), tx("*")]), "1,*,3");
        assert_eq!(
            f("string_to_array", vec![tx("a,b,,c"), tx(",")]),
            "{a,b,\"\",c}"
        );
        assert_eq!(
            f("string_to_array", vec![tx("a,b,x"), tx(","), tx("x")]),
            "{a,b,NULL}"
        );
        assert_eq!(
            f("string_to_array", vec![tx("abc"), Value::Null]),
            "{a,b,c}"
        );
        assert_eq!(f("string_to_array", vec![tx(""), tx(",")]), "{}");
    }
}
