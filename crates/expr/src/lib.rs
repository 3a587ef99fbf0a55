//! Scalar world of SQL: value input/output (text and binary), casts, operators,
//! the function registry (pure functions and system functions such as
//! `pg_current_wal_lsn()`), and the virtual `pg_catalog` tables.
//!
//! INTERFACE STUB (written by the lead): the expr helper owns this crate and
//! replaces the bodies; keep the signatures (extend freely). `context.rs` is shared
//! vocabulary: change it only additively.

pub mod context;

pub use context::{ExecContext, SessionInfo};

use tandem_types::{DataType, PgResult, Value};

/// Binary operators after parsing (sqlparser's operators map onto these).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
    /// `||`
    Concat,
    Like,
    NotLike,
    ILike,
    NotILike,
    /// `~`, `~*`, `!~`, `!~*`
    RegexMatch,
    RegexIMatch,
    RegexNotMatch,
    RegexNotIMatch,
    BitAnd,
    BitOr,
    BitXor,
    ShiftLeft,
    ShiftRight,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    Neg,
    Plus,
    BitNot,
}

/// PostgreSQL text input function: `'42'::integer`, `'0/16B3748'::pg_lsn`.
/// Errors as PostgreSQL: `22P02 invalid input syntax for type integer: "abc"`,
/// `22003 value "99999999999" is out of range for type integer`.
pub fn text_in(text: &str, ty: &DataType) -> PgResult<Value> {
    let _ = (text, ty);
    todo!()
}

/// PostgreSQL text output function, appended to `out`. (`t`/`f`, `\x` bytea, ...)
pub fn text_out(value: &Value, out: &mut String) {
    let _ = (value, out);
    todo!()
}

/// Binary input (`typreceive`) for parameters in binary format.
pub fn binary_in(bytes: &[u8], ty: &DataType) -> PgResult<Value> {
    let _ = (bytes, ty);
    todo!()
}

/// Binary output (`typsend`) for result columns in binary format.
pub fn binary_out(value: &Value, ty: &DataType, out: &mut Vec<u8>) {
    let _ = (value, ty, out);
    todo!()
}

/// Explicit cast (`CAST(x AS t)`, `x::t`), including to/from text, with
/// PostgreSQL's rounding and range checks; varchar(n)/char(n) truncation/padding.
pub fn cast(value: Value, to: &DataType) -> PgResult<Value> {
    let _ = (value, to);
    todo!()
}

/// Assignment cast (INSERT/UPDATE target): as PostgreSQL's assignment context, e.g.
/// `value too long for type character varying(3)` (22001).
pub fn assign_cast(value: Value, to: &DataType) -> PgResult<Value> {
    let _ = (value, to);
    todo!()
}

/// Whether `from` converts to `to` implicitly (function/operator resolution).
pub fn can_implicit_cast(from: &DataType, to: &DataType) -> bool {
    let _ = (from, to);
    todo!()
}

/// SQL comparison for ORDER BY, GROUP BY, DISTINCT, joins: NULLs sort last
/// (ascending), numeric types compare across widths.
pub fn compare(a: &Value, b: &Value) -> std::cmp::Ordering {
    let _ = (a, b);
    todo!()
}

/// Result type of `l op r`, or `42883 operator does not exist: integer + text`
/// (with PostgreSQL's hint). Unknown-typed literals adopt the other side's type.
pub fn binary_op_type(op: BinOp, l: &DataType, r: &DataType) -> PgResult<DataType> {
    let _ = (op, l, r);
    todo!()
}

/// Evaluates `l op r` (NULL in, NULL out, except where SQL says otherwise);
/// `22012 division by zero`, `22003 integer out of range`.
pub fn binary_op(op: BinOp, l: Value, r: Value) -> PgResult<Value> {
    let _ = (op, l, r);
    todo!()
}

pub fn unary_op(op: UnaryOp, v: Value) -> PgResult<Value> {
    let _ = (op, v);
    todo!()
}

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
}

/// Resolves `name(args...)` (name lower-cased, `pg_catalog.` stripped by caller).
/// Unknown: `42883 function foo(integer) does not exist` with PostgreSQL's hint
/// `No function matches the given name and argument types. You might need to add explicit type casts.`
pub fn resolve_function(name: &str, arg_types: &[DataType]) -> PgResult<FunctionSig> {
    let _ = (name, arg_types);
    todo!()
}

/// Calls a resolved scalar function. Aggregates (`count`, `sum`, ...) and
/// table functions (`generate_series`) are not here: the query crate owns them.
pub fn call_function(sig: &FunctionSig, args: Vec<Value>, ctx: &mut ExecContext<'_>) -> PgResult<Value> {
    let _ = (sig, args, ctx);
    todo!()
}

/// A virtual system table/view (`pg_class`, `pg_namespace`, `pg_attribute`,
/// `pg_type`, `pg_roles`, `pg_settings`, `pg_replication_slots`, ...).
pub struct VirtualTable {
    pub schema: &'static str,
    pub name: &'static str,
    pub columns: Vec<(String, DataType)>,
}

/// Looks up a virtual table by (optional schema, name). Unqualified names resolve
/// in `pg_catalog` after `public` (as search_path does).
pub fn virtual_table(schema: Option<&str>, name: &str) -> Option<VirtualTable> {
    let _ = (schema, name);
    todo!()
}

/// Materializes a virtual table's rows for the current transaction.
pub fn virtual_rows(table: &VirtualTable, ctx: &mut ExecContext<'_>) -> PgResult<Vec<Vec<Value>>> {
    let _ = (table, ctx);
    todo!()
}
