//! System information functions that psql, drivers and ORMs call while
//! describing a database: `pg_typeof`, `format_type`, `enum_range`, `pg_get_userbyid`,
//! `pg_table_is_visible`, `pg_get_expr`, `pg_get_constraintdef`,
//! `pg_get_indexdef`, `pg_get_replica_identity_index`, `obj_description`, `has_*_privilege`,
//! `pg_encoding_to_char`, `to_regclass`.
//!
//! Sequences, functions, tablespaces and columns have no ACLs yet, so their
//! `has_*_privilege` functions answer true (tables, schemas, databases and
//! roles are answered in `privileges.rs`). Corresponds to PostgreSQL's `utils/adt/format_type.c`, `ruleutils.c`,
//! `acl.c`, `misc.c`.

use std::cmp::Ordering;

use tandem_types::{DataType, Oid, PgError, PgResult, SqlState, Value};

use super::{arg_i64, arg_text, r, t, Arg, Def, FunctionSig, Ret};
use crate::catalog;
use crate::compare::compare;
use crate::errors::type_name;
use crate::io_text::type_by_oid_in;
use crate::reg::lookup_relation;
use crate::ExecContext;

use DataType as T;

pub(super) fn defs() -> Vec<Def> {
    let oid = || t(T::Oid);
    let text = || t(T::Text);
    let mut d = vec![
        // enum_first(anyenum), enum_last(anyenum), enum_range(anyenum
        // [, anyenum]): the argument values only name the type (NULL::mood)
        // but for the bounds of the two-argument enum_range
        Def::typed("enum_first", vec![Arg::AnyEnum], Ret::Arg(0), |_, sig| {
            let t = enum_of(sig)?;
            t.values().next().ok_or_else(|| no_values(t))
        })
        .lax(),
        Def::typed("enum_last", vec![Arg::AnyEnum], Ret::Arg(0), |_, sig| {
            let t = enum_of(sig)?;
            t.values().last().ok_or_else(|| no_values(t))
        })
        .lax(),
        Def::typed(
            "enum_range",
            vec![Arg::AnyEnum],
            Ret::ArrayOf(0),
            |_, sig| Ok(Value::Array(enum_of(sig)?.values().collect())),
        )
        .lax(),
        Def::typed(
            "enum_range",
            vec![Arg::AnyEnum, Arg::AnyEnum],
            Ret::ArrayOf(0),
            |a, sig| {
                let within = |v: &Value| {
                    [(&a[0], Ordering::Less), (&a[1], Ordering::Greater)]
                        .iter()
                        .all(|(bound, out)| bound.is_null() || compare(v, bound) != *out)
                };
                Ok(Value::Array(
                    enum_of(sig)?.values().filter(within).collect(),
                ))
            },
        )
        .lax(),
        Def::ctx(
            "pg_describe_object",
            vec![oid(), oid(), t(T::Int4)],
            r(T::Text),
            |a, _, c| {
                let (class, object) = (arg_i64(a, 0)? as u32, arg_i64(a, 1)? as u32);
                let sub = arg_i64(a, 2)? as i32;
                Ok(describe_object(&c.txn.catalog(), class, object, sub)
                    .map(Value::Text)
                    .unwrap_or(Value::Null))
            },
        )
        .stable(),
        Def::typed("pg_typeof", vec![Arg::Any], r(T::RegType), |_, sig| {
            let ty = sig.arg_types.first().cloned().unwrap_or(T::Unknown);
            Ok(Value::Text(type_name(&ty)))
        })
        .lax(),
        Def::ctx(
            "format_type",
            vec![oid(), t(T::Int4)],
            r(T::Text),
            |a, _, c| {
                let Value::Oid(o) = a[0] else {
                    return Ok(Value::Null);
                };
                let typmod = if a[1].is_null() {
                    -1
                } else {
                    arg_i64(a, 1)? as i32
                };
                let path = crate::reg::session_search_path(c);
                Ok(Value::Text(format_type(
                    o,
                    typmod,
                    &c.txn.catalog(),
                    Some(&path),
                )))
            },
        )
        .stable()
        .lax(),
        Def::ctx("pg_get_userbyid", vec![oid()], r(T::Name), |a, _, c| {
            let o = arg_i64(a, 0)? as u32;
            let cat = c.txn.catalog();
            Ok(Value::Text(match cat.roles.get(&Oid(o)) {
                Some(role) => role.name.clone(),
                None => format!("unknown (OID={o})"),
            }))
        })
        .stable(),
        Def::pure("pg_get_expr", vec![text(), oid()], r(T::Text), |a| {
            Ok(a[0].clone())
        }),
        Def::pure(
            "pg_get_expr",
            vec![text(), oid(), t(T::Bool)],
            r(T::Text),
            |a| Ok(a[0].clone()),
        ),
        Def::ctx(
            "pg_get_constraintdef",
            vec![oid()],
            r(T::Text),
            constraintdef,
        )
        .stable(),
        Def::ctx(
            "pg_get_constraintdef",
            vec![oid(), t(T::Bool)],
            r(T::Text),
            constraintdef,
        )
        .stable(),
        Def::ctx(
            "pg_get_replica_identity_index",
            vec![t(T::RegClass)],
            r(T::RegClass),
            replica_identity_index,
        )
        .stable(),
        Def::ctx("pg_get_indexdef", vec![oid()], r(T::Text), indexdef).stable(),
        Def::ctx(
            "pg_get_indexdef",
            vec![oid(), t(T::Int4), t(T::Bool)],
            r(T::Text),
            indexdef,
        )
        .stable(),
        // by name first: an untyped literal is taken as the name, as
        // PostgreSQL prefers the string category
        Def::ctx("pg_get_viewdef", vec![t(T::Text)], r(T::Text), viewdef).stable(),
        Def::ctx("pg_get_viewdef", vec![oid()], r(T::Text), viewdef).stable(),
        Def::ctx(
            "pg_get_viewdef",
            vec![t(T::Text), t(T::Bool)],
            r(T::Text),
            viewdef,
        )
        .stable(),
        Def::ctx(
            "pg_get_viewdef",
            vec![oid(), t(T::Bool)],
            r(T::Text),
            viewdef,
        )
        .stable(),
        Def::pure("pg_get_partkeydef", vec![oid()], r(T::Text), |_| {
            Ok(Value::Null)
        }),
        // no triggers (pg_trigger is empty: a foreign key's checks are no
        // trigger rows in tandem)
        Def::pure("pg_get_triggerdef", vec![oid()], r(T::Text), |_| {
            Ok(Value::Null)
        }),
        Def::pure(
            "pg_get_triggerdef",
            vec![oid(), t(T::Bool)],
            r(T::Text),
            |_| Ok(Value::Null),
        ),
        // every function is a built-in of pg_catalog (no CREATE FUNCTION),
        // on the search path; pg_proc does not record their types, so the
        // result and argument texts are unknown (NULL)
        Def::pure("pg_function_is_visible", vec![oid()], r(T::Bool), |_| {
            Ok(Value::Bool(true))
        }),
        Def::pure("pg_get_function_result", vec![oid()], r(T::Text), |_| {
            Ok(Value::Null)
        }),
        Def::pure("pg_get_function_arguments", vec![oid()], r(T::Text), |_| {
            Ok(Value::Null)
        }),
        Def::pure(
            "pg_get_function_identity_arguments",
            vec![oid()],
            r(T::Text),
            |_| Ok(Value::Null),
        ),
        // no partitioned tables: a table is no partition (NULL, as
        // PostgreSQL answers for one)
        Def::pure(
            "pg_partition_root",
            vec![t(T::RegClass)],
            r(T::RegClass),
            |_| Ok(Value::Null),
        ),
        Def::pure("pg_tablespace_location", vec![oid()], r(T::Text), |_| {
            Ok(Value::Text(String::new()))
        }),
        Def::ctx("obj_description", vec![oid()], r(T::Text), description).stable(),
        Def::ctx(
            "obj_description",
            vec![oid(), t(T::Name)],
            r(T::Text),
            description,
        )
        .stable(),
        Def::ctx(
            "col_description",
            vec![oid(), t(T::Int4)],
            r(T::Text),
            description,
        )
        .stable(),
        Def::pure("pg_encoding_to_char", vec![t(T::Int4)], r(T::Name), |a| {
            Ok(Value::Text(
                match arg_i64(a, 0)? {
                    0 => "SQL_ASCII",
                    6 => "UTF8",
                    8 => "LATIN1",
                    _ => "",
                }
                .to_string(),
            ))
        }),
        Def::pure("pg_char_to_encoding", vec![t(T::Name)], r(T::Int4), |a| {
            Ok(Value::Int4(
                match arg_text(a, 0)
                    .to_ascii_uppercase()
                    .replace(['-', '_'], "")
                    .as_str()
                {
                    "SQLASCII" => 0,
                    "UTF8" | "UNICODE" => 6,
                    "LATIN1" => 8,
                    _ => -1,
                },
            ))
        }),
        Def::ctx("to_regclass", vec![text()], r(T::RegClass), |a, _, c| {
            let cat = c.txn.catalog();
            Ok(
                lookup_relation(&arg_text(a, 0), &cat, &crate::reg::session_search_path(c))
                    .map(|(o, _)| Value::Oid(o))
                    .unwrap_or(Value::Null),
            )
        })
        .stable(),
        Def::ctx("to_regtype", vec![text()], r(T::RegType), |a, _, c| {
            Ok(crate::io_text::type_by_name_in(
                &arg_text(a, 0),
                &c.txn.catalog(),
                &crate::reg::session_search_path(c),
            )
            .map(|t| Value::Oid(t.oid()))
            .unwrap_or(Value::Null))
        })
        .stable(),
        Def::ctx("to_regnamespace", vec![text()], r(T::Oid), |a, _, c| {
            let name = crate::reg::parse_qualified(&arg_text(a, 0)).1;
            Ok(catalog::namespace_oid(&c.txn.catalog(), &name)
                .map(Value::Oid)
                .unwrap_or(Value::Null))
        })
        .stable(),
    ];
    // what psql's \d asks of every table
    d.push(
        Def::ctx(
            "pg_relation_is_publishable",
            vec![oid()],
            r(T::Bool),
            |a, _, c| {
                let o = arg_i64(a, 0)? as u32;
                Ok(Value::Bool(c.txn.catalog().tables.contains_key(&Oid(o))))
            },
        )
        .stable(),
    );
    d.push(Def::pure(
        "pg_get_statisticsobjdef_columns",
        vec![oid()],
        r(T::Text),
        // no extended statistics objects exist
        |_| Ok(Value::Null),
    ));
    // a user's enum type (or its array): found by its name alone along
    // search_path; the built-in types always
    d.push(
        Def::ctx("pg_type_is_visible", vec![oid()], r(T::Bool), |a, _, c| {
            let o = arg_i64(a, 0)? as u32;
            let cat = c.txn.catalog();
            let elem = |t: T| match t {
                T::Array(e) => *e,
                t => t,
            };
            let visible = match crate::io_text::type_by_oid_in(o, &cat).map(elem) {
                Some(T::Enum(t)) => {
                    let path = crate::reg::session_search_path(c);
                    cat.lookup_type(&path, None, &t.name)
                        .is_some_and(|f| f.oid == t.oid)
                }
                _ => true,
            };
            Ok(Value::Bool(visible))
        })
        .stable(),
    );
    for vis in ["pg_function_is_visible", "pg_collation_is_visible"] {
        d.push(Def::pure(vis, vec![oid()], r(T::Bool), |_| {
            Ok(Value::Bool(true))
        }));
    }
    // visible: found by its name alone along search_path (pg_catalog's
    // always; information_schema's views only when it is on the path)
    d.push(
        Def::ctx("pg_table_is_visible", vec![oid()], r(T::Bool), |a, _, c| {
            let rel = arg_i64(a, 0)? as u32;
            let path = crate::reg::session_search_path(c);
            Ok(Value::Bool(crate::reg::table_is_visible(
                rel,
                &c.txn.catalog(),
                &path,
            )))
        })
        .stable(),
    );
    for name in [
        "has_sequence_privilege",
        "has_function_privilege",
        "has_tablespace_privilege",
        "has_any_column_privilege",
    ] {
        d.push(Def::pure(
            name,
            vec![Arg::Any, Arg::Any],
            r(T::Bool),
            |_| Ok(Value::Bool(true)),
        ));
        d.push(Def::pure(
            name,
            vec![Arg::Any, Arg::Any, Arg::Any],
            r(T::Bool),
            |_| Ok(Value::Bool(true)),
        ));
    }
    d.push(Def::pure(
        "has_column_privilege",
        vec![Arg::Any, Arg::Any, Arg::Any],
        r(T::Bool),
        |_| Ok(Value::Bool(true)),
    ));
    d.push(Def::pure(
        "has_column_privilege",
        vec![Arg::Any, Arg::Any, Arg::Any, Arg::Any],
        r(T::Bool),
        |_| Ok(Value::Bool(true)),
    ));
    d
}

/// `pg_describe_object(classid, objid, objsubid)`: an object as PostgreSQL's
/// `getObjectDescription` words it (`table t`, `column a of table t`,
/// `type mood`, `schema public`, `function plpgsql_validator(oid)`); None for
/// an object tandem does not have.
fn describe_object(
    cat: &tandem_storage::Catalog,
    class: u32,
    object: u32,
    sub: i32,
) -> Option<String> {
    use catalog::{PLPGSQL_MEMBERS, PLPGSQL_OID};
    if let Some((.., d)) = PLPGSQL_MEMBERS
        .iter()
        .find(|(c, o, _)| *c == class && *o == object)
    {
        return Some(d.to_string());
    }
    match class {
        catalog::PG_CLASS_OID => {
            let (kind, name, columns) = relation_kind(cat, object)?;
            match usize::try_from(sub).ok().filter(|&s| s > 0) {
                Some(s) => Some(format!("column {} of {kind} {name}", columns.get(s - 1)?)),
                None => Some(format!("{kind} {name}")),
            }
        }
        1247 => type_by_oid_in(object, cat).map(|t| format!("type {}", t.display_name())),
        2615 => catalog::namespace_name(cat, object).map(|n| format!("schema {n}")),
        3079 if object == PLPGSQL_OID => Some("extension plpgsql".into()),
        _ => None,
    }
}

/// A relation's kind word, its name as regclass prints it, and its columns.
fn relation_kind(
    cat: &tandem_storage::Catalog,
    rel: u32,
) -> Option<(&'static str, String, Vec<String>)> {
    let name = crate::reg::regclass_name(rel, cat, None)?;
    let oid = Oid(rel);
    let names = |cols: &[(String, DataType)]| cols.iter().map(|c| c.0.clone()).collect();
    Some(if let Some(t) = cat.tables.get(&oid) {
        let cols = t.columns.iter().map(|c| c.name.clone()).collect();
        ("table", name, cols)
    } else if cat.sequences.contains_key(&oid) {
        ("sequence", name, Vec::new())
    } else if let Some(v) = cat.views.get(&oid) {
        ("view", name, names(&v.columns))
    } else if let Some(v) = catalog::view_by_oid(rel) {
        let kind = if v.relkind == b'v' { "view" } else { "table" };
        let cols = (v.columns)().into_iter().map(|c| c.0.to_string()).collect();
        (kind, name, cols)
    } else {
        ("index", name, Vec::new())
    })
}

/// The enum type a function on `anyenum` was called with.
fn enum_of(sig: &FunctionSig) -> PgResult<&tandem_types::EnumType> {
    match sig.arg_types.first() {
        Some(T::Enum(t)) => Ok(t),
        _ => Err(PgError::new(
            SqlState::INVALID_PARAMETER_VALUE,
            "could not determine actual enum type",
        )),
    }
}

fn no_values(t: &tandem_types::EnumType) -> PgError {
    PgError::new(
        SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE,
        format!("enum {} contains no values", t.name),
    )
}

/// `format_type(type_oid, typmod)`: `integer`, `character varying(10)`,
/// `numeric(10,2)`, `integer[]`; `???` for an unknown OID.
pub fn format_type(
    oid: u32,
    typmod: i32,
    cat: &tandem_storage::Catalog,
    path: Option<&[String]>,
) -> String {
    let Some(ty) = type_by_oid_in(oid, cat) else {
        return "???".to_string();
    };
    let with_mod = match (&ty, typmod) {
        (T::Varchar(_), m) if m >= 4 => T::Varchar(Some((m - 4) as u32)),
        (T::Bpchar(_), m) if m >= 4 => T::Bpchar(Some((m - 4) as u32)),
        (T::Bpchar(_), _) => return "character".to_string(),
        (T::Numeric(_), m) if m >= 4 => {
            T::Numeric(Some((((m - 4) >> 16) as u32, ((m - 4) & 0xffff) as u32)))
        }
        _ => ty,
    };
    crate::reg::type_display(&with_mod, cat, path)
}

/// `obj_description(oid [, catalog])`, `col_description(table, column)`:
/// the comment of an object (`pg_description`), or NULL.
fn description(a: &[Value], sig: &FunctionSig, c: &mut ExecContext<'_>) -> PgResult<Value> {
    if a.iter().any(Value::is_null) {
        return Ok(Value::Null);
    }
    let object = arg_i64(a, 0)? as u32;
    let (class, sub) = match (sig.name.as_str(), a.get(1)) {
        ("col_description", _) => (Some(catalog::PG_CLASS_OID), arg_i64(a, 1)? as i32),
        (_, Some(Value::Text(name))) => (catalog::catalog_oid(name), 0),
        _ => (None, 0),
    };
    let cat = c.txn.catalog();
    Ok(catalog::descriptions(&cat)
        .into_iter()
        .find(|(o, cl, s, _)| *o == object && class.is_none_or(|c| c == *cl) && *s == sub)
        .map_or(Value::Null, |(.., text)| Value::Text(text)))
}

/// `pg_get_viewdef(view [, pretty])`, the view by OID or by name: NULL for
/// what is no view.
fn viewdef(a: &[Value], _: &FunctionSig, c: &mut ExecContext<'_>) -> PgResult<Value> {
    if a.iter().any(Value::is_null) {
        return Ok(Value::Null);
    }
    let o = match &a[0] {
        Value::Text(name) => {
            let path = crate::reg::session_search_path(c);
            crate::reg::lookup_relation(name, &c.txn.catalog(), &path)
                .map(|(oid, _)| oid)
                .ok_or_else(|| {
                    let shown = match crate::reg::parse_qualified(name) {
                        (Some(schema), rel) => format!("{schema}.{rel}"),
                        (None, rel) => rel,
                    };
                    crate::reg::undefined_relation(&shown)
                })?
        }
        _ => arg_i64(a, 0)? as u32,
    };
    let pretty = a.get(1) == Some(&Value::Bool(true));
    let cat = c.txn.catalog();
    Ok(match cat.views.get(&Oid(o)) {
        Some(v) => Value::Text(catalog::view_definition(c, v, pretty)),
        None => Value::Null,
    })
}

fn constraintdef(a: &[Value], _: &FunctionSig, c: &mut ExecContext<'_>) -> PgResult<Value> {
    let o = arg_i64(a, 0)? as u32;
    let cat = c.txn.catalog();
    if let Some(con) = cat.constraints.get(&Oid(o)) {
        let pretty = a.get(1) == Some(&Value::Bool(true));
        return Ok(Value::Text(catalog::constraint_definition(
            &cat, con, pretty,
        )));
    }
    Ok(catalog::index_views(&cat)
        .iter()
        .find(|i| i.constraint.is_some_and(|(con, _)| con == o))
        .and_then(|i| i.constraint_definition())
        .map_or(Value::Null, Value::Text))
}

/// `pg_get_replica_identity_index(regclass)`: the index of `REPLICA
/// IDENTITY USING INDEX`, or the primary key's under DEFAULT, else NULL.
fn replica_identity_index(
    a: &[Value],
    _: &FunctionSig,
    c: &mut ExecContext<'_>,
) -> PgResult<Value> {
    let o = arg_i64(a, 0)? as u32;
    let cat = c.txn.catalog();
    Ok(cat
        .tables
        .get(&Oid(o))
        .and_then(|t| match t.replica_identity {
            tandem_storage::ReplicaIdentity::Default if t.primary_key.is_some() => {
                Some(Value::Oid(catalog::pkey_index_oid(t.oid.0)))
            }
            tandem_storage::ReplicaIdentity::Index { index, .. } => Some(Value::Oid(index.0)),
            _ => None,
        })
        .unwrap_or(Value::Null))
}

fn indexdef(a: &[Value], _: &FunctionSig, c: &mut ExecContext<'_>) -> PgResult<Value> {
    let o = arg_i64(a, 0)? as u32;
    let column = if a.len() > 1 { arg_i64(a, 1)? } else { 0 };
    let cat = c.txn.catalog();
    let views = catalog::index_views(&cat);
    let Some(i) = views.iter().find(|i| i.oid == o) else {
        return Ok(Value::Null);
    };
    if column > 0 {
        return Ok(Value::Text(
            i.column_names()
                .get(column as usize - 1)
                .cloned()
                .unwrap_or_default(),
        ));
    }
    Ok(Value::Text(i.definition()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::functions::call_pure;

    #[test]
    fn format_type_matches_postgres() {
        let cat = tandem_storage::Catalog::default();
        let f = |oid, typmod| format_type(oid, typmod, &cat, None);
        assert_eq!(f(23, -1), "integer");
        assert_eq!(f(1043, 14), "character varying(10)");
        assert_eq!(f(1043, -1), "character varying");
        assert_eq!(f(1042, 5), "character(1)");
        assert_eq!(f(1700, (10 << 16) + 2 + 4), "numeric(10,2)");
        assert_eq!(f(1114, -1), "timestamp without time zone");
        assert_eq!(f(1007, -1), "integer[]");
        assert_eq!(f(99999, -1), "???");
    }

    #[test]
    fn pg_typeof_names_the_argument_type() {
        assert_eq!(
            crate::to_text(&call_pure("pg_typeof", vec![Value::Int4(1)]).unwrap()),
            "integer"
        );
        assert_eq!(
            crate::to_text(&call_pure("pg_typeof", vec![Value::Null]).unwrap()),
            "unknown"
        );
        let sig = crate::functions::resolve("pg_typeof", &[T::Varchar(Some(3))]).unwrap();
        assert_eq!(sig.ret, T::RegType);
        assert_eq!(
            crate::to_text(
                &call_pure(
                    "has_sequence_privilege",
                    vec![Value::Text("t".into()), Value::Text("select".into())]
                )
                .unwrap()
            ),
            "t"
        );
        assert_eq!(
            crate::to_text(&call_pure("pg_encoding_to_char", vec![Value::Int4(6)]).unwrap()),
            "UTF8"
        );
    }
}
