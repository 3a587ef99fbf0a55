//! `json` and `jsonb` functions (PostgreSQL's `json.c`, `jsonb.c`,
//! `jsonfuncs.c`): building documents from SQL values, and the scalar
//! functions over them. The document model is `crate::json`.

use tandem_types::{DataType, PgError, PgResult, SqlState, Value};

use super::{r, t, Arg, Def, FunctionSig};
use crate::io_text::to_text;
use crate::json::{json_text_of, parse, quote, to_json, Json};

use DataType as T;

pub(crate) fn defs() -> Vec<Def> {
    let jb = || t(T::Jsonb);
    let text_array = || t(T::Array(Box::new(T::Text)));
    vec![
        Def::typed("to_json", vec![Arg::Any], r(T::Json), |a, s| {
            Ok(Value::Text(json_text_of(&a[0], arg_type(s, 0))?))
        }),
        Def::typed("to_jsonb", vec![Arg::Any], r(T::Jsonb), |a, s| {
            Ok(Value::Text(
                to_json(&a[0], arg_type(s, 0))?.normalize().jsonb_text(),
            ))
        }),
        Def::typed(
            "json_build_object",
            vec![Arg::VarAny],
            r(T::Json),
            json_build_object,
        )
        .lax(),
        Def::typed(
            "jsonb_build_object",
            vec![Arg::VarAny],
            r(T::Jsonb),
            |a, s| {
                let members = pairs(a, s, "jsonb_build_object")?;
                Ok(Value::Text(Json::Object(members).normalize().jsonb_text()))
            },
        )
        .lax(),
        Def::typed("json_build_array", vec![Arg::VarAny], r(T::Json), |a, s| {
            let items = a
                .iter()
                .enumerate()
                .map(|(i, v)| json_text_of(v, arg_type(s, i)))
                .collect::<PgResult<Vec<_>>>()?;
            Ok(Value::Text(format!("[{}]", items.join(", "))))
        })
        .lax(),
        Def::typed(
            "jsonb_build_array",
            vec![Arg::VarAny],
            r(T::Jsonb),
            |a, s| {
                let items = a
                    .iter()
                    .enumerate()
                    .map(|(i, v)| to_json(v, arg_type(s, i)))
                    .collect::<PgResult<Vec<_>>>()?;
                Ok(Value::Text(Json::Array(items).normalize().jsonb_text()))
            },
        )
        .lax(),
        Def::pure("json_typeof", vec![t(T::Json)], r(T::Text), typeof_),
        Def::pure("jsonb_typeof", vec![jb()], r(T::Text), typeof_),
        // what the binder makes of row_to_json(t), to_json(t), json_agg(t)
        // for a FROM item t: its columns' names and values, alternating
        Def::typed(
            "row_to_json_fields",
            vec![Arg::VarAny],
            r(T::Json),
            row_to_json_fields,
        )
        .lax(),
        // the same as json_agg(t) aggregates it: a row, not a json value
        Def::typed(
            "row_to_json_record",
            vec![Arg::VarAny],
            r(T::Record),
            row_to_json_fields,
        )
        .lax(),
        Def::pure("jsonb_pretty", vec![jb()], r(T::Text), |a| {
            Ok(Value::Text(doc(&a[0])?.pretty()))
        }),
        Def::pure(
            "json_array_length",
            vec![t(T::Json)],
            r(T::Int4),
            array_length,
        ),
        Def::pure("jsonb_array_length", vec![jb()], r(T::Int4), array_length),
        Def::pure("jsonb_strip_nulls", vec![jb()], r(T::Jsonb), |a| {
            Ok(jsonb(doc(&a[0])?.strip_nulls()))
        }),
        Def::pure("jsonb_each", vec![jb()], r(T::Record), |a| each(a, false)),
        Def::pure("jsonb_each_text", vec![jb()], r(T::Record), |a| {
            each(a, true)
        }),
        Def::pure("json_each", vec![t(T::Json)], r(T::Record), |a| {
            each(a, false)
        }),
        Def::pure("json_each_text", vec![t(T::Json)], r(T::Record), |a| {
            each(a, true)
        }),
        Def::pure(
            "jsonb_set",
            vec![jb(), text_array(), jb()],
            r(T::Jsonb),
            |a| set(a, true),
        ),
        Def::pure(
            "jsonb_set",
            vec![jb(), text_array(), jb(), t(T::Bool)],
            r(T::Jsonb),
            |a| set(a, a[3] == Value::Bool(true)),
        ),
    ]
}

/// `jsonb_each(_text)`'s columns (`functions::function_columns`).
pub(super) fn composite_columns(name: &str) -> Option<Vec<(&'static str, DataType)>> {
    match name {
        "jsonb_each" => Some(vec![("key", T::Text), ("value", T::Jsonb)]),
        "json_each" => Some(vec![("key", T::Text), ("value", T::Json)]),
        "jsonb_each_text" | "json_each_text" => Some(vec![("key", T::Text), ("value", T::Text)]),
        _ => None,
    }
}

/// The members of an object as (key, value) records.
fn each(a: &[Value], text: bool) -> PgResult<Value> {
    let Json::Object(members) = doc(&a[0])? else {
        return Err(PgError::new(
            SqlState::INVALID_PARAMETER_VALUE,
            "cannot call jsonb_each on a non-object",
        ));
    };
    Ok(Value::Array(
        members
            .into_iter()
            .map(|(k, v)| {
                let v = match text {
                    true => v.as_text(),
                    false => jsonb(v),
                };
                Value::Record(vec![Value::Text(k), v])
            })
            .collect(),
    ))
}

/// `jsonb_array_elements(_text)` and `jsonb_object_keys`: the values of a
/// one-column set-returning call (the query crate's table functions).
pub fn set_values(name: &str, arg: &Value) -> PgResult<Vec<Value>> {
    let j = doc(arg)?;
    let scalar = |what: &str| {
        PgError::new(
            SqlState::INVALID_PARAMETER_VALUE,
            format!("cannot {what} a scalar"),
        )
    };
    Ok(match name {
        "jsonb_object_keys" | "json_object_keys" => match j {
            Json::Object(m) => m.into_iter().map(|(k, _)| Value::Text(k)).collect(),
            Json::Array(_) => {
                return Err(PgError::new(
                    SqlState::INVALID_PARAMETER_VALUE,
                    format!("cannot call {name} on an array"),
                ))
            }
            _ => return Err(scalar(&format!("call {name} on"))),
        },
        _ => {
            let text = name.ends_with("_text");
            match j {
                Json::Array(items) => items
                    .into_iter()
                    .map(|v| if text { v.as_text() } else { jsonb(v) })
                    .collect(),
                Json::Object(_) => {
                    return Err(PgError::new(
                        SqlState::INVALID_PARAMETER_VALUE,
                        "cannot extract elements from an object",
                    ))
                }
                _ => return Err(scalar("extract elements from")),
            }
        }
    })
}

fn arg_type(s: &FunctionSig, i: usize) -> &DataType {
    s.arg_types.get(i).unwrap_or(&DataType::Unknown)
}

fn doc(v: &Value) -> PgResult<Json> {
    parse(&to_text(v))
}

fn jsonb(j: Json) -> Value {
    Value::Text(j.jsonb_text())
}

fn typeof_(a: &[Value]) -> PgResult<Value> {
    Ok(Value::Text(doc(&a[0])?.type_name().to_string()))
}

fn array_length(a: &[Value]) -> PgResult<Value> {
    match doc(&a[0])? {
        Json::Array(items) => Ok(Value::Int4(items.len() as i32)),
        Json::Object(_) => Err(PgError::new(
            SqlState::INVALID_PARAMETER_VALUE,
            "cannot get array length of a non-array",
        )),
        _ => Err(PgError::new(
            SqlState::INVALID_PARAMETER_VALUE,
            "cannot get array length of a scalar",
        )),
    }
}

fn set(a: &[Value], create: bool) -> PgResult<Value> {
    let mut target = doc(&a[0])?;
    let path: Vec<String> = match &a[1] {
        Value::Array(items) => items.iter().map(to_text).collect(),
        other => vec![to_text(other)],
    };
    target.set(&path, doc(&a[2])?.normalize(), create)?;
    Ok(jsonb(target))
}

/// The key/value pairs of a `*_build_object` call.
fn pairs(a: &[Value], s: &FunctionSig, func: &str) -> PgResult<Vec<(String, Json)>> {
    if !a.len().is_multiple_of(2) {
        return Err(PgError::new(
            SqlState::INVALID_PARAMETER_VALUE,
            "argument list must have even number of elements",
        )
        .with_hint(format!(
            "The arguments of {func}() must consist of alternating keys and values."
        )));
    }
    let mut out = Vec::with_capacity(a.len() / 2);
    for (i, kv) in a.chunks(2).enumerate() {
        if kv[0].is_null() {
            return Err(PgError::new(
                SqlState::NULL_VALUE_NOT_ALLOWED,
                "null value not allowed for object key",
            ));
        }
        out.push((to_text(&kv[0]), to_json(&kv[1], arg_type(s, i * 2 + 1))?));
    }
    Ok(out)
}

/// A row as `row_to_json` prints it (PostgreSQL's composite_to_json):
/// compact (`{"a":1,"b":[1,2]}`), `json` and `jsonb` values as their text.
fn row_to_json_fields(a: &[Value], s: &FunctionSig) -> PgResult<Value> {
    let mut out = String::from("{");
    for (i, kv) in a.chunks(2).enumerate() {
        if i > 0 {
            out.push(',');
        }
        quote(&to_text(&kv[0]), &mut out);
        out.push(':');
        match (kv.get(1).unwrap_or(&Value::Null), arg_type(s, i * 2 + 1)) {
            (Value::Text(t), T::Json | T::Jsonb) => out.push_str(t),
            (v, ty) => out.push_str(&to_json(v, ty)?.compact_text()),
        }
    }
    out.push('}');
    Ok(Value::Text(out))
}

/// `json_build_object`: keeps `json` values' own text, spaces its colons
/// as PostgreSQL does (`{"a" : 1}`).
fn json_build_object(a: &[Value], s: &FunctionSig) -> PgResult<Value> {
    let _ = pairs(a, s, "json_build_object")?;
    let mut out = String::from("{");
    for (i, kv) in a.chunks(2).enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        quote(&to_text(&kv[0]), &mut out);
        out.push_str(" : ");
        out.push_str(&json_text_of(&kv[1], arg_type(s, i * 2 + 1))?);
    }
    out.push('}');
    Ok(Value::Text(out))
}
