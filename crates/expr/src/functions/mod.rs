//! The function registry: every scalar function tandem knows, how a call
//! `name(args...)` is resolved to one overload, and how it is invoked.
//!
//! Resolution follows PostgreSQL's `func_select_candidate` in the small: among the
//! overloads whose parameters accept the argument types (exactly, by implicit
//! cast, or as an unknown literal), pick the one with the most exact matches, then
//! the one using the most preferred types (`text`, `double precision`), then the
//! first declared. Polymorphic parameters (`any`, `anyarray`, `anyelement`) and
//! `VARIADIC "any"` take their types from the call.
//!
//! Each concept lives in its own file and contributes a `defs()` list:
//! `string`, `math`, `datetime`, `array`, `system` (session, settings, signals),
//! `wal` (LSNs and control data), `sequence`, `info` (catalog helpers that psql
//! and drivers call), `privileges` (`has_*_privilege`, `pg_has_role`). Aggregates and set-returning functions belong to the query
//! crate; composite-returning functions (`pg_control_system()`) return a
//! `Value::Record` and describe their columns through [`function_columns`].
//! Corresponds to PostgreSQL's `parser/parse_func.c` and `utils/fmgr`.

mod array;
pub use array::SLICE as ARRAY_SLICE_FUNCTION;
mod datetime;
mod info;
pub mod json;
mod math;
mod origin;
mod privileges;
mod replication;
mod sequence;
mod string;
mod system;
mod wal;

pub use replication::ChangeRows;

use std::collections::HashMap;
use std::sync::OnceLock;

use tandem_types::{DataType, PgError, PgResult, SqlState, Value};

use crate::cast::{base_type, can_implicit_cast, cast, value_type};
use crate::errors::undefined_function;
use crate::ExecContext;

pub use info::format_type;
pub use math::greatest_least;
pub use sequence::{resolve_relation, session_ended};
pub use string::md5_hex;
pub use system::{query_canceled, size_pretty, VERSION};
pub use wal::{walfile_name, CATALOG_VERSION_NO, PG_CONTROL_VERSION};

/// A resolved scalar function.
#[derive(Clone, Debug)]
pub struct FunctionSig {
    /// canonical lower-case name
    pub name: String,
    /// types the arguments must be cast to before the call
    pub arg_types: Vec<DataType>,
    pub ret: DataType,
    /// volatile functions are evaluated per row (random(), nextval()); others may
    /// be folded
    pub volatile: bool,
    /// Index of the chosen overload in the registry (set by `resolve_function`).
    pub id: usize,
}

/// A declared parameter.
#[derive(Clone, Debug)]
pub(crate) enum Arg {
    T(DataType),
    /// `"any"`: the argument keeps its own type.
    Any,
    /// `anyarray`
    AnyArray,
    /// `anyelement`, tied to the element type of an `anyarray` argument if any.
    AnyElement,
    /// `VARIADIC "any"`: zero or more further arguments of any type.
    VarAny,
    /// `anyenum`: an enum type, the same for every such argument.
    AnyEnum,
}

/// A declared result type.
#[derive(Clone, Debug)]
pub(crate) enum Ret {
    T(DataType),
    /// the (resolved) type of argument n
    Arg(usize),
    /// an array of the (resolved) type of argument n
    ArrayOf(usize),
}

pub(crate) type Pure = fn(&[Value]) -> PgResult<Value>;
pub(crate) type Typed = fn(&[Value], &FunctionSig) -> PgResult<Value>;
pub(crate) type WithCtx = fn(&[Value], &FunctionSig, &mut ExecContext<'_>) -> PgResult<Value>;

#[derive(Clone, Copy)]
pub(crate) enum Imp {
    /// depends only on the argument values
    Pure(Pure),
    /// needs the resolved signature (argument types)
    Typed(Typed),
    /// needs the session, transaction or database
    Ctx(WithCtx),
}

pub(crate) struct Def {
    pub name: &'static str,
    pub args: Vec<Arg>,
    pub ret: Ret,
    pub volatile: bool,
    /// NULL in any argument gives NULL without calling
    pub strict: bool,
    pub imp: Imp,
}

impl Def {
    pub fn pure(name: &'static str, args: Vec<Arg>, ret: Ret, f: Pure) -> Def {
        Def {
            name,
            args,
            ret,
            volatile: false,
            strict: true,
            imp: Imp::Pure(f),
        }
    }
    pub fn typed(name: &'static str, args: Vec<Arg>, ret: Ret, f: Typed) -> Def {
        Def {
            name,
            args,
            ret,
            volatile: false,
            strict: true,
            imp: Imp::Typed(f),
        }
    }
    pub fn ctx(name: &'static str, args: Vec<Arg>, ret: Ret, f: WithCtx) -> Def {
        Def {
            name,
            args,
            ret,
            volatile: true,
            strict: true,
            imp: Imp::Ctx(f),
        }
    }
    /// Not strict: the implementation sees NULL arguments.
    pub fn lax(mut self) -> Def {
        self.strict = false;
        self
    }
    pub fn volatile(mut self) -> Def {
        self.volatile = true;
        self
    }
    pub fn stable(mut self) -> Def {
        self.volatile = false;
        self
    }
}

/// Shorthand for a concrete parameter type.
pub(crate) fn t(ty: DataType) -> Arg {
    Arg::T(ty)
}

/// Shorthand for a concrete result type.
pub(crate) fn r(ty: DataType) -> Ret {
    Ret::T(ty)
}

struct Registry {
    defs: Vec<Def>,
    by_name: HashMap<&'static str, Vec<usize>>,
}

fn registry() -> &'static Registry {
    static REG: OnceLock<Registry> = OnceLock::new();
    REG.get_or_init(|| {
        let mut defs = Vec::new();
        defs.extend(string::defs());
        defs.extend(math::defs());
        defs.extend(datetime::defs());
        defs.extend(array::defs());
        defs.extend(system::defs());
        defs.extend(wal::defs());
        defs.extend(replication::defs());
        defs.extend(origin::defs());
        defs.extend(sequence::defs());
        defs.extend(info::defs());
        defs.extend(privileges::defs());
        defs.extend(json::defs());
        let mut by_name: HashMap<&'static str, Vec<usize>> = HashMap::new();
        for (i, d) in defs.iter().enumerate() {
            by_name.entry(d.name).or_default().push(i);
        }
        Registry { defs, by_name }
    })
}

/// Names of all registered functions (for `pg_proc`).
pub fn function_names() -> Vec<(&'static str, usize)> {
    let reg = registry();
    let mut names: Vec<(&'static str, usize)> = reg
        .by_name
        .iter()
        .map(|(n, ids)| (*n, reg.defs[ids[0]].args.len()))
        .collect();
    names.sort();
    names
}

fn is_preferred(ty: &DataType) -> bool {
    matches!(
        ty,
        DataType::Text | DataType::Float8 | DataType::TimestampTz | DataType::Oid
    )
}

/// How well `actual` fits parameter `param`: `None` if it cannot, else
/// (exact, preferred) flags.
fn fit(param: &Arg, actual: &DataType, array_elem: Option<&DataType>) -> Option<(bool, bool)> {
    match param {
        Arg::Any | Arg::VarAny => Some((true, false)),
        Arg::AnyArray => match actual {
            DataType::Array(_) => Some((true, false)),
            DataType::Unknown => Some((false, false)),
            _ => None,
        },
        Arg::AnyEnum => match actual {
            DataType::Enum(_) => Some((true, false)),
            DataType::Unknown => Some((false, false)),
            _ => None,
        },
        Arg::AnyElement => match array_elem {
            Some(e) if *actual != DataType::Unknown => {
                if base_type(actual) == base_type(e) {
                    Some((true, false))
                } else if can_implicit_cast(actual, e) {
                    Some((false, false))
                } else {
                    None
                }
            }
            _ => Some((*actual != DataType::Unknown, false)),
        },
        Arg::T(ty) => {
            if base_type(actual) == base_type(ty) {
                Some((true, is_preferred(ty)))
            } else if can_implicit_cast(actual, ty) {
                Some((false, is_preferred(ty)))
            } else {
                None
            }
        }
    }
}

fn elem_of(ty: &DataType) -> DataType {
    match ty {
        DataType::Array(e) => (**e).clone(),
        _ => DataType::Text,
    }
}

/// Resolves `name(args...)`; `42883 function foo(integer) does not exist` if
/// nothing fits.
pub fn resolve(name: &str, arg_types: &[DataType]) -> PgResult<FunctionSig> {
    let name = name.to_ascii_lowercase();
    let name = name.strip_prefix("pg_catalog.").unwrap_or(&name);
    let reg = registry();
    let Some(ids) = reg.by_name.get(name) else {
        return Err(undefined_function(name, arg_types));
    };
    let mut best: Option<(usize, (usize, usize))> = None;
    for &id in ids {
        let def = &reg.defs[id];
        let variadic = matches!(def.args.last(), Some(Arg::VarAny));
        let fixed = if variadic {
            def.args.len() - 1
        } else {
            def.args.len()
        };
        if arg_types.len() < fixed || (!variadic && arg_types.len() != fixed) {
            continue;
        }
        let array_elem = def
            .args
            .iter()
            .zip(arg_types)
            .find(|(p, a)| matches!(p, Arg::AnyArray) && matches!(a, DataType::Array(_)))
            .map(|(_, a)| elem_of(a));
        let mut score = (0usize, 0usize);
        let mut ok = true;
        for (i, actual) in arg_types.iter().enumerate() {
            let param = def.args.get(i).unwrap_or(&Arg::VarAny);
            match fit(param, actual, array_elem.as_ref()) {
                Some((exact, preferred)) => {
                    score.0 += exact as usize;
                    score.1 += preferred as usize;
                }
                None => {
                    ok = false;
                    break;
                }
            }
        }
        if ok && best.is_none_or(|(_, s)| score > s) {
            best = Some((id, score));
        }
    }
    let Some((id, _)) = best else {
        return Err(undefined_function(name, arg_types));
    };
    Ok(make_sig(id, &reg.defs[id], arg_types))
}

fn make_sig(id: usize, def: &Def, actual: &[DataType]) -> FunctionSig {
    let array_arg = def
        .args
        .iter()
        .zip(actual)
        .find(|(p, a)| matches!(p, Arg::AnyArray) && matches!(a, DataType::Array(_)))
        .map(|(_, a)| a.clone());
    let enum_arg = actual.iter().find(|a| matches!(a, DataType::Enum(_)));
    let arg_types: Vec<DataType> = actual
        .iter()
        .enumerate()
        .map(|(i, a)| match def.args.get(i).unwrap_or(&Arg::VarAny) {
            Arg::T(ty) => match (ty, a) {
                // keep the argument's modifiers when the base type is the same
                (DataType::Numeric(None), DataType::Numeric(_)) => a.clone(),
                _ => ty.clone(),
            },
            Arg::Any | Arg::VarAny => a.clone(),
            Arg::AnyArray => match (a, &array_arg) {
                (DataType::Array(_), _) => a.clone(),
                (_, Some(arr)) => arr.clone(),
                _ => DataType::Array(Box::new(DataType::Text)),
            },
            Arg::AnyElement => match &array_arg {
                Some(arr) => elem_of(arr),
                None if *a == DataType::Unknown => DataType::Text,
                None => a.clone(),
            },
            Arg::AnyEnum => enum_arg.unwrap_or(a).clone(),
        })
        .collect();
    let ret = match &def.ret {
        Ret::T(ty) => ty.clone(),
        Ret::Arg(n) => arg_types.get(*n).map(base_type).unwrap_or(DataType::Text),
        Ret::ArrayOf(n) => DataType::Array(Box::new(
            arg_types.get(*n).map(base_type).unwrap_or(DataType::Text),
        )),
    };
    FunctionSig {
        name: def.name.to_string(),
        arg_types,
        ret,
        volatile: def.volatile,
        id,
    }
}

/// Brings an argument to its parameter type unless it already has that
/// representation (OID alias names are left for the function to resolve).
fn coerce_arg(v: Value, ty: &DataType) -> PgResult<Value> {
    if v.is_null() || matches!(ty, DataType::Unknown) {
        return Ok(v);
    }
    let vt = value_type(&v);
    let same = base_type(&vt) == base_type(ty)
        || (vt == DataType::Text
            && crate::cast::is_string_type(ty)
            && !matches!(ty, DataType::Bpchar(Some(_)) | DataType::Varchar(Some(_))))
        || (vt == DataType::Text
            && matches!(ty, DataType::Json | DataType::Jsonb | DataType::Uuid))
        || (vt == DataType::Oid
            && matches!(
                ty,
                DataType::RegClass | DataType::RegType | DataType::RegProc | DataType::RegNamespace
            ))
        || (matches!(v, Value::Array(_))
            && matches!(ty, DataType::Array(_))
            && vt_is_compatible_array(&v, ty));
    if same {
        return Ok(v);
    }
    if vt == DataType::Text
        && matches!(
            ty,
            DataType::RegClass | DataType::RegProc | DataType::RegNamespace
        )
    {
        return Ok(v);
    }
    cast(v, ty)
}

fn vt_is_compatible_array(v: &Value, ty: &DataType) -> bool {
    let vt = value_type(v);
    base_type(&vt) == base_type(ty)
        || matches!(v, Value::Array(items) if items.iter().all(|i| i.is_null()))
}

/// Calls a resolved function. Arguments are coerced to `sig.arg_types` first.
pub fn call(sig: &FunctionSig, args: Vec<Value>, ctx: &mut ExecContext<'_>) -> PgResult<Value> {
    let (def, args) = prepare(sig, args)?;
    let Some(args) = args else {
        return Ok(Value::Null);
    };
    if matches!(sig.ret, DataType::Numeric(_))
        && args.iter().any(|a| matches!(a, Value::NumericSpecial(_)))
    {
        if let Some(r) = math::special_numeric(&sig.name, &args) {
            return r;
        }
    }
    match def.imp {
        Imp::Pure(f) => f(&args),
        Imp::Typed(f) => f(&args, sig),
        Imp::Ctx(f) => f(&args, sig, ctx),
    }
}

/// Whether `sig` is a set-returning function whose rows come one at a time
/// (the logical decoding functions): [`call_rows`] starts it.
pub fn streams_rows(sig: &FunctionSig) -> bool {
    replication::is_changes_function(&sig.name)
}

/// Starts a function for which [`streams_rows`] holds, with its arguments
/// coerced as [`call`] does.
pub fn call_rows(
    sig: &FunctionSig,
    args: Vec<Value>,
    ctx: &mut ExecContext<'_>,
) -> PgResult<replication::ChangeRows> {
    match prepare(sig, args)? {
        (_, Some(args)) => replication::open_changes(&args, sig, ctx),
        // (these functions are not strict: prepare passes their NULLs on)
        (_, None) => Err(PgError::internal(format!(
            "{} was given a NULL it does not take",
            sig.name
        ))),
    }
}

/// Looks the overload up and coerces the arguments; `None` when a strict
/// function got a NULL.
fn prepare(sig: &FunctionSig, args: Vec<Value>) -> PgResult<(&'static Def, Option<Vec<Value>>)> {
    let reg = registry();
    let def = match reg.defs.get(sig.id) {
        Some(d) if d.name == sig.name => d,
        _ => {
            let again = resolve(&sig.name, &sig.arg_types)?;
            &reg.defs[again.id]
        }
    };
    if def.strict && args.iter().any(|a| a.is_null()) {
        return Ok((def, None));
    }
    let args = args
        .into_iter()
        .enumerate()
        .map(|(i, v)| match sig.arg_types.get(i) {
            Some(ty) => coerce_arg(v, ty),
            None => Ok(v),
        })
        .collect::<PgResult<Vec<_>>>()?;
    Ok((def, Some(args)))
}

/// Evaluates a function that needs no session (tests and constant folding):
/// resolves by the values' own types. Fails for functions that need a context.
pub fn call_pure(name: &str, args: Vec<Value>) -> PgResult<Value> {
    let types: Vec<DataType> = args.iter().map(value_type).collect();
    let sig = resolve(name, &types)?;
    let (def, args) = prepare(&sig, args)?;
    let Some(args) = args else {
        return Ok(Value::Null);
    };
    match def.imp {
        Imp::Pure(f) => f(&args),
        Imp::Typed(f) => f(&args, &sig),
        Imp::Ctx(_) => Err(PgError::new(
            SqlState::FEATURE_NOT_SUPPORTED,
            format!("function {name} needs a session"),
        )),
    }
}

/// Output columns of functions that return a composite (`pg_control_system()`),
/// so that `SELECT * FROM f()` and `SELECT col FROM f()` work. The function's
/// value is a `Value::Record` with fields in this order. `None` for scalar
/// functions.
pub fn function_columns(name: &str) -> Option<Vec<(String, DataType)>> {
    let name = name.to_ascii_lowercase();
    let name = name.strip_prefix("pg_catalog.").unwrap_or(&name);
    wal::composite_columns(name)
        .or_else(|| system::composite_columns(name))
        .or_else(|| replication::composite_columns(name))
        .or_else(|| json::composite_columns(name))
        .map(|cols| cols.into_iter().map(|(n, t)| (n.to_string(), t)).collect())
}

// ---- helpers shared by the function files ----

pub(crate) fn arg_text(args: &[Value], i: usize) -> String {
    match args.get(i) {
        Some(Value::Text(s)) => s.clone(),
        Some(v) => crate::io_text::to_text(v),
        None => String::new(),
    }
}

pub(crate) fn arg_i64(args: &[Value], i: usize) -> PgResult<i64> {
    match args.get(i) {
        Some(Value::Int2(v)) => Ok(*v as i64),
        Some(Value::Int4(v)) => Ok(*v as i64),
        Some(Value::Int8(v)) => Ok(*v),
        Some(Value::Oid(v)) => Ok(*v as i64),
        Some(
            v @ (Value::Numeric(_)
            | Value::NumericSpecial(_)
            | Value::Float8(_)
            | Value::Float4(_)
            | Value::Text(_)),
        ) => match cast(v.clone(), &DataType::Int8)? {
            Value::Int8(x) => Ok(x),
            _ => Err(PgError::internal("integer argument expected")),
        },
        _ => Err(PgError::internal("integer argument expected")),
    }
}

pub(crate) fn arg_f64(args: &[Value], i: usize) -> PgResult<f64> {
    match args.get(i) {
        Some(Value::Float8(f)) => Ok(*f),
        Some(Value::Float4(f)) => Ok(*f as f64),
        Some(v) => match cast(v.clone(), &DataType::Float8)? {
            Value::Float8(f) => Ok(f),
            _ => Err(PgError::internal("float argument expected")),
        },
        None => Err(PgError::internal("float argument expected")),
    }
}

pub(crate) fn arg_bool(args: &[Value], i: usize) -> bool {
    matches!(args.get(i), Some(Value::Bool(true)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use DataType as T;

    #[test]
    fn resolution_prefers_exact_then_preferred_types() {
        assert_eq!(resolve("round", &[T::Int4]).unwrap().ret, T::Float8);
        assert_eq!(
            resolve("round", &[T::Numeric(None)]).unwrap().ret,
            T::Numeric(None)
        );
        assert_eq!(resolve("abs", &[T::Int2]).unwrap().ret, T::Int2);
        assert_eq!(
            resolve("length", &[T::Varchar(Some(3))]).unwrap().ret,
            T::Int4
        );
        assert_eq!(
            resolve("length", &[T::Unknown]).unwrap().arg_types,
            vec![T::Text]
        );
        assert_eq!(
            resolve("concat", &[T::Int4, T::Unknown, T::Bool])
                .unwrap()
                .ret,
            T::Text
        );
        assert_eq!(
            resolve("array_length", &[T::Array(Box::new(T::Int4)), T::Int4])
                .unwrap()
                .ret,
            T::Int4
        );
        assert_eq!(
            resolve("pg_catalog.upper", &[T::Text]).unwrap().name,
            "upper"
        );
    }

    #[test]
    fn unknown_functions_fail_like_postgres() {
        let e = resolve("foo", &[T::Int4]).unwrap_err();
        assert_eq!(e.code.0, "42883");
        assert_eq!(e.message, "function foo(integer) does not exist");
        assert_eq!(
            e.hint.as_deref(),
            Some("No function matches the given name and argument types. You might need to add explicit type casts.")
        );
        assert_eq!(
            resolve("upper", &[T::Int4]).unwrap_err().message,
            "function upper(integer) does not exist"
        );
        assert_eq!(
            resolve("lower", &[]).unwrap_err().message,
            "function lower() does not exist"
        );
    }

    #[test]
    fn composite_functions_describe_their_columns() {
        let cols = function_columns("pg_control_system").unwrap();
        let names: Vec<&str> = cols.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "pg_control_version",
                "catalog_version_no",
                "system_identifier",
                "pg_control_last_modified"
            ]
        );
        assert!(function_columns("lower").is_none());
    }
}
