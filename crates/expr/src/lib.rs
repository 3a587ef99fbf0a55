//! Scalar world of SQL: value input/output (text and binary), casts, operators,
//! the function registry (pure functions and system functions such as
//! `pg_current_wal_lsn()`), and the virtual `pg_catalog` tables.
//!
//! Map of the crate (one concept per file, named after PostgreSQL's nouns):
//!
//! - `io_text`, `io_binary`, `array`: input/output functions (`typinput`,
//!   `typoutput`, `typreceive`, `typsend`), over `float`, `numeric`, `datetime`.
//! - `cast`: explicit/assignment casts and the implicit-cast lattice.
//! - `compare`: the total order used for sorting and the comparison operators.
//! - `operators` (+ `pattern` for LIKE and regular expressions).
//! - `functions/`: the function registry (`resolve_function`, `call_function`).
//! - `catalog/`: virtual `pg_catalog` / `information_schema` tables.
//!
//! `context.rs` is the vocabulary shared with the query and sql crates.

pub mod advisory;
pub mod array;
pub mod cast;
pub mod catalog;
pub mod compare;
pub mod context;
pub mod datetime;
pub mod errors;
pub mod float;
pub mod functions;
pub mod io_binary;
pub mod io_text;
pub mod json;
pub mod notify;
pub mod numeric;
pub mod operators;
pub mod pattern;
pub mod reg;
pub mod timezone;

pub use cast::{base_type, can_assign_cast, value_type};
pub use catalog::VirtualTable;
pub use context::{
    BackendActivityRow, ChangeRow, ChangeStream, ChangesRequest, CopySlotRequest, ExecContext,
    FailoverReadinessRow, FailoverSlotStandbyRow, LogicalSlotRequest, ReplicationSlotRow,
    ReplicationSlotStats, SessionInfo, SessionState, SslStatus, SubscriptionRemoteAction,
    SubscriptionRemoteRequest, SubscriptionRemoteResult, SubscriptionWorkerStat, WalReceiverRow,
    WalSenderRow,
};
pub use functions::{function_columns, session_ended, FunctionSig, ARRAY_SLICE_FUNCTION};
pub use io_text::{to_text, validate_utf8};
pub use operators::{resolve_binary, unary_op_type};
pub use reg::{cast_in_context, text_out_typed};

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
    /// `@>`, `<@`, `&&` on arrays: contains, is contained by, overlaps.
    Contains,
    ContainedBy,
    Overlaps,
    /// `json`/`jsonb` operators (`json.rs`): `->`, `->>`, `#>`, `#>>`, `?`,
    /// `?|`, `?&`, and `jsonb`'s `@>`, `<@`, `||`, `-` (chosen by the
    /// binder from the operand types).
    JsonGet,
    JsonGetText,
    JsonPath,
    JsonPathText,
    JsonExists,
    JsonExistsAny,
    JsonExistsAll,
    JsonContains,
    JsonContainedBy,
    JsonConcat,
    JsonDelete,
}

impl BinOp {
    /// One of the `json`/`jsonb` operators.
    pub fn is_json(self) -> bool {
        matches!(
            self,
            BinOp::JsonGet
                | BinOp::JsonGetText
                | BinOp::JsonPath
                | BinOp::JsonPathText
                | BinOp::JsonExists
                | BinOp::JsonExistsAny
                | BinOp::JsonExistsAll
                | BinOp::JsonContains
                | BinOp::JsonContainedBy
                | BinOp::JsonConcat
                | BinOp::JsonDelete
        )
    }

    /// `=`, `<>`, `<`, `<=`, `>`, `>=`: the result is boolean.
    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            BinOp::Eq | BinOp::NotEq | BinOp::Lt | BinOp::LtEq | BinOp::Gt | BinOp::GtEq
        )
    }

    /// LIKE/ILIKE and the regular-expression match operators: text on both sides.
    pub fn is_pattern(self) -> bool {
        matches!(
            self,
            BinOp::Like
                | BinOp::NotLike
                | BinOp::ILike
                | BinOp::NotILike
                | BinOp::RegexMatch
                | BinOp::RegexIMatch
                | BinOp::RegexNotMatch
                | BinOp::RegexNotIMatch
        )
    }
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
    io_text::text_in(text, ty)
}

/// PostgreSQL text output function, appended to `out`. (`t`/`f`, `\x` bytea, ...)
pub fn text_out(value: &Value, out: &mut String) {
    io_text::text_out(value, out)
}

/// Binary input (`typreceive`) for parameters in binary format.
pub fn binary_in(bytes: &[u8], ty: &DataType) -> PgResult<Value> {
    io_binary::binary_in(bytes, ty)
}

/// Binary output (`typsend`) for result columns in binary format.
pub fn binary_out(value: &Value, ty: &DataType, out: &mut Vec<u8>) {
    io_binary::binary_out(value, ty, out)
}

/// Explicit cast (`CAST(x AS t)`, `x::t`), including to/from text, with
/// PostgreSQL's rounding and range checks; varchar(n)/char(n) truncation/padding.
pub fn cast(value: Value, to: &DataType) -> PgResult<Value> {
    cast::cast(value, to)
}

/// Assignment cast (INSERT/UPDATE target): as PostgreSQL's assignment context, e.g.
/// `value too long for type character varying(3)` (22001).
pub fn assign_cast(value: Value, to: &DataType) -> PgResult<Value> {
    cast::assign_cast(value, to)
}

/// Whether `from` converts to `to` implicitly (function/operator resolution).
pub fn can_implicit_cast(from: &DataType, to: &DataType) -> bool {
    cast::can_implicit_cast(from, to)
}

/// SQL comparison for ORDER BY, GROUP BY, DISTINCT, joins: NULLs sort last
/// (ascending), numeric types compare across widths.
pub fn compare(a: &Value, b: &Value) -> std::cmp::Ordering {
    compare::compare(a, b)
}

/// Result type of `l op r`, or `42883 operator does not exist: integer + text`
/// (with PostgreSQL's hint). Unknown-typed literals adopt the other side's type.
pub fn binary_op_type(op: BinOp, l: &DataType, r: &DataType) -> PgResult<DataType> {
    operators::binary_op_type(op, l, r)
}

/// Evaluates `l op r` (NULL in, NULL out, except where SQL says otherwise);
/// `22012 division by zero`, `22003 integer out of range`.
pub fn binary_op(op: BinOp, l: Value, r: Value) -> PgResult<Value> {
    operators::binary_op(op, l, r)
}

pub fn unary_op(op: UnaryOp, v: Value) -> PgResult<Value> {
    operators::unary_op(op, v)
}

/// Resolves `name(args...)` (name lower-cased, `pg_catalog.` stripped by caller).
/// Unknown: `42883 function foo(integer) does not exist` with PostgreSQL's hint
/// `No function matches the given name and argument types. You might need to add explicit type casts.`
pub fn resolve_function(name: &str, arg_types: &[DataType]) -> PgResult<FunctionSig> {
    functions::resolve(name, arg_types)
}

/// Calls a resolved scalar function. Aggregates (`count`, `sum`, ...) and
/// table functions (`generate_series`) are not here: the query crate owns them.
pub fn call_function(
    sig: &FunctionSig,
    args: Vec<Value>,
    ctx: &mut ExecContext<'_>,
) -> PgResult<Value> {
    functions::call(sig, args, ctx)
}

/// Looks up a virtual table by (optional schema, name). Unqualified names resolve
/// in `pg_catalog` after `public` (as search_path does).
pub fn virtual_table(schema: Option<&str>, name: &str) -> Option<VirtualTable> {
    catalog::lookup(schema, name)
}

/// Materializes a virtual table's rows for the current transaction.
pub fn virtual_rows(table: &VirtualTable, ctx: &mut ExecContext<'_>) -> PgResult<Vec<Vec<Value>>> {
    catalog::rows(table, ctx)
}
