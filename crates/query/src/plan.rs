//! The plan: bound expressions ([`Expr`]) and executor nodes ([`Node`]).
//!
//! The binder (`bind/`) turns sqlparser ASTs into these trees and the executor
//! (`exec/`) runs them. A plan is immutable and reusable across executions (prepared
//! statements): everything that varies per execution (parameters, snapshot, outer
//! rows of correlated subqueries) arrives at run time.
//!
//! Rows are `Vec<Value>`; a bound column reference is a position in the row its
//! node sees. Correlated references ([`Expr::Outer`]) walk up the chain of outer
//! rows (`exec::Env`): depth 1 is the row of the query level directly around.
//!
//! Corresponds to PostgreSQL's `nodes/primnodes.h` + `nodes/plannodes.h`, much
//! simplified.

use tandem_expr::{BinOp, FunctionSig, UnaryOp};
use tandem_types::{DataType, Oid, Value};

use crate::aggregates::AggKind;
use crate::table_functions::TableFunc;

/// A bound scalar expression.
#[derive(Clone, Debug)]
pub enum Expr {
    Const(Value),
    /// Column of the current row.
    Column(usize),
    /// Column of an outer row (correlated subquery, LATERAL).
    Outer {
        depth: usize,
        index: usize,
    },
    /// `$n`, 0-based.
    Param(usize),
    Binary {
        op: BinOp,
        l: Box<Expr>,
        r: Box<Expr>,
    },
    Unary {
        op: UnaryOp,
        e: Box<Expr>,
    },
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    IsNull {
        e: Box<Expr>,
        negated: bool,
    },
    /// `IS [NOT] TRUE|FALSE`
    IsBool {
        e: Box<Expr>,
        value: bool,
        negated: bool,
    },
    IsDistinct {
        l: Box<Expr>,
        r: Box<Expr>,
        negated: bool,
    },
    InList {
        e: Box<Expr>,
        list: Vec<Expr>,
        negated: bool,
    },
    InSubquery {
        e: Box<Expr>,
        sub: Box<SubPlan>,
        negated: bool,
    },
    Exists {
        sub: Box<SubPlan>,
        negated: bool,
    },
    ScalarSub(Box<SubPlan>),
    ArraySub(Box<SubPlan>),
    /// `l op ANY/ALL (array)`
    AnyAll {
        l: Box<Expr>,
        op: BinOp,
        r: Box<Expr>,
        all: bool,
    },
    Case {
        operand: Option<Box<Expr>>,
        whens: Vec<(Expr, Expr)>,
        otherwise: Option<Box<Expr>>,
    },
    Coalesce(Vec<Expr>),
    NullIf(Box<Expr>, Box<Expr>),
    Greatest(Vec<Expr>),
    Least(Vec<Expr>),
    Cast {
        e: Box<Expr>,
        ty: DataType,
    },
    /// text -> regclass at run time (needs the catalog).
    ToRegClass(Box<Expr>),
    /// An OID alias value (`regclass`, `regtype`, `regnamespace`: `ty`) ->
    /// the name it prints as (needs the catalog).
    RegName {
        e: Box<Expr>,
        ty: DataType,
    },
    Func {
        sig: FunctionSig,
        args: Vec<Expr>,
    },
    Array(Vec<Expr>),
    Subscript {
        e: Box<Expr>,
        index: Box<Expr>,
    },
    /// `now()`, `current_timestamp`: transaction start.
    TxnTimestamp,
    StmtTimestamp,
    CurrentUser,
    /// Placeholder for aggregate `n` while binding a grouped query; replaced by a
    /// column of the Aggregate node's output before execution.
    AggRef(usize),
    /// Placeholder for set-returning function `n` of the target list while binding;
    /// replaced by a column of the `ProjectSet` node's output before execution.
    SrfRef(usize),
    /// Placeholder for window function call `n` while binding; replaced by a
    /// column of the `Window` node's output before execution.
    WinRef(usize),
}

/// A set-returning function call in a target list (see [`Node::ProjectSet`]).
#[derive(Clone, Debug)]
pub struct SrfCall {
    pub func: TableFunc,
    pub args: Vec<Expr>,
}

/// A subquery inside an expression.
#[derive(Clone, Debug)]
pub struct SubPlan {
    /// Unique in the statement: results of uncorrelated subqueries are cached by it.
    pub id: usize,
    pub node: Node,
    /// References columns of enclosing query levels (re-run per outer row).
    pub correlated: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JoinKind {
    Inner,
    Left,
    Right,
    Full,
}

#[derive(Clone, Debug)]
pub struct SortKey {
    pub expr: Expr,
    pub desc: bool,
    pub nulls_first: bool,
}

/// A window function call: `func(args) OVER (PARTITION BY partition ORDER
/// BY order frame)` (see [`Node::Window`]).
#[derive(Clone, Debug)]
pub struct WindowCall {
    pub func: WindowFunc,
    pub args: Vec<Expr>,
    /// `FILTER (WHERE ...)` of an aggregate used as a window function.
    pub filter: Option<Expr>,
    pub partition: Vec<Expr>,
    pub order: Vec<SortKey>,
    pub frame: Frame,
}

#[derive(Clone, Debug, PartialEq)]
pub enum WindowFunc {
    RowNumber,
    Rank,
    DenseRank,
    PercentRank,
    CumeDist,
    Ntile,
    Lag,
    Lead,
    FirstValue,
    LastValue,
    NthValue,
    /// An aggregate over the frame, with the type of its first argument.
    Agg(AggKind, DataType),
}

/// A window frame: `ROWS` counts rows, `RANGE` (the default) makes a row's
/// peers (equal ORDER BY values) part of `CURRENT ROW`.
#[derive(Clone, Debug)]
pub struct Frame {
    pub rows: bool,
    pub start: FrameBound,
    pub end: FrameBound,
}

#[derive(Clone, Debug)]
pub enum FrameBound {
    UnboundedPreceding,
    /// `n PRECEDING` (ROWS only), `n` evaluated once per partition.
    Preceding(Expr),
    CurrentRow,
    Following(Expr),
    UnboundedFollowing,
}

#[derive(Clone, Debug)]
pub struct AggCall {
    pub kind: AggKind,
    /// Type of the first argument (picks the transition state).
    pub arg_type: DataType,
    pub args: Vec<Expr>,
    pub distinct: bool,
    pub filter: Option<Expr>,
    /// `ORDER BY` inside the call (`array_agg(x ORDER BY y)`).
    pub order: Vec<SortKey>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetOpKind {
    Union,
    Intersect,
    Except,
}

/// The range an [`Node::IndexScan`] reads of the column after its prefix:
/// each bound an expression free of the row and whether it is inclusive.
#[derive(Clone, Debug)]
pub struct IndexRange {
    pub ty: DataType,
    pub lower: Option<(Expr, bool)>,
    pub upper: Option<(Expr, bool)>,
}

/// An executor node. Every node produces rows of a fixed width.
#[derive(Clone, Debug)]
pub enum Node {
    /// Literal rows (`VALUES`, or one empty row for `SELECT` without `FROM`).
    Values {
        rows: Vec<Vec<Expr>>,
    },
    /// Full scan of a stored table; `filter` is applied while scanning.
    SeqScan {
        table: Oid,
        filter: Option<Expr>,
        pure_filter: bool,
    },
    /// Primary-key point lookup: `key` values in key-column order, with the key
    /// columns' types.
    PkLookup {
        table: Oid,
        key: Vec<(Expr, DataType)>,
        filter: Option<Expr>,
    },
    /// Rows found through a secondary index: equality on its leading
    /// columns (`prefix`, with the columns' types), then optionally a range
    /// on the next one; `filter` (every conjunct of the scan, the ones the
    /// index answers included) is checked on each row. `for_order`: chosen
    /// for its order (ORDER BY ... LIMIT): read in growing windows so that
    /// the LIMIT stops it early.
    IndexScan {
        table: Oid,
        index: Oid,
        prefix: Vec<(Expr, DataType)>,
        range: Option<IndexRange>,
        filter: Option<Expr>,
        for_order: bool,
    },
    /// A virtual catalog table of `tandem_expr`.
    Virtual {
        schema: &'static str,
        name: &'static str,
    },
    TableFunc {
        func: TableFunc,
        args: Vec<Expr>,
        /// WITH ORDINALITY: each row ends with its number (bigint, from 1).
        ordinality: bool,
    },
    Filter {
        input: Box<Node>,
        pred: Expr,
    },
    Project {
        input: Box<Node>,
        exprs: Vec<Expr>,
    },
    /// Joins; output is left row ++ right row. `equi` pairs (left expr, right expr)
    /// make it a hash join; `lateral` re-runs the right side per left row.
    Join {
        left: Box<Node>,
        right: Box<Node>,
        kind: JoinKind,
        equi: Vec<(Expr, Expr)>,
        cond: Option<Expr>,
        lateral: bool,
        left_width: usize,
        right_width: usize,
    },
    /// Output: group key values ++ aggregate results.
    Aggregate {
        input: Box<Node>,
        groups: Vec<Expr>,
        aggs: Vec<AggCall>,
    },
    Sort {
        input: Box<Node>,
        keys: Vec<SortKey>,
    },
    /// `DISTINCT` (on: None) or `DISTINCT ON (exprs)` (input already sorted).
    Distinct {
        input: Box<Node>,
        on: Option<Vec<Expr>>,
    },
    Limit {
        input: Box<Node>,
        limit: Option<Expr>,
        offset: Option<Expr>,
    },
    SetOp {
        left: Box<Node>,
        right: Box<Node>,
        op: SetOpKind,
        all: bool,
    },
    /// Set-returning functions of a target list (PostgreSQL's ProjectSet): per
    /// input row, runs every call in lockstep and emits input row ++ one value per
    /// call, as many rows as the longest call yields (shorter ones padded with
    /// NULL; none when every call is empty).
    ProjectSet {
        input: Box<Node>,
        srfs: Vec<SrfCall>,
    },
    /// Window functions (PostgreSQL's WindowAgg): reads every input row, then
    /// emits each one followed by one value per call, in the order of the
    /// last call's partitions and ORDER BY.
    Window {
        input: Box<Node>,
        calls: Vec<WindowCall>,
    },
    /// `WITH RECURSIVE`'s UNION [ALL]: emits `base`'s rows, then runs `step`
    /// with work table `id` holding the rows emitted last, until it emits
    /// none (without ALL, rows already emitted are dropped).
    RecursiveUnion {
        id: usize,
        base: Box<Node>,
        step: Box<Node>,
        all: bool,
    },
    /// The rows of work table `id` (see `RecursiveUnion`).
    WorkTable {
        id: usize,
    },
    /// `SELECT ... FOR UPDATE` over a single table: locks each row it returns.
    LockRows {
        input: Box<Node>,
        table: Oid,
        key_cols: Vec<usize>,
    },
}

impl Expr {
    pub fn boxed(self) -> Box<Expr> {
        Box::new(self)
    }

    /// Visits this expression and its children (not into subplans).
    pub fn walk(&self, f: &mut dyn FnMut(&Expr)) {
        f(self);
        self.for_each_child(&mut |c| c.walk(f));
    }

    fn for_each_child(&self, f: &mut dyn FnMut(&Expr)) {
        match self {
            Expr::Binary { l, r, .. }
            | Expr::And(l, r)
            | Expr::Or(l, r)
            | Expr::IsDistinct { l, r, .. }
            | Expr::NullIf(l, r)
            | Expr::AnyAll { l, r, .. } => {
                f(l);
                f(r);
            }
            Expr::Subscript { e, index } => {
                f(e);
                f(index);
            }
            Expr::Unary { e, .. }
            | Expr::Not(e)
            | Expr::IsNull { e, .. }
            | Expr::IsBool { e, .. }
            | Expr::Cast { e, .. }
            | Expr::ToRegClass(e)
            | Expr::RegName { e, .. }
            | Expr::InSubquery { e, .. } => f(e),
            Expr::InList { e, list, .. } => {
                f(e);
                list.iter().for_each(f);
            }
            Expr::Case {
                operand,
                whens,
                otherwise,
            } => {
                if let Some(o) = operand {
                    f(o);
                }
                for (w, t) in whens {
                    f(w);
                    f(t);
                }
                if let Some(o) = otherwise {
                    f(o);
                }
            }
            Expr::Coalesce(v) | Expr::Greatest(v) | Expr::Least(v) | Expr::Array(v) => {
                v.iter().for_each(f)
            }
            Expr::Func { args, .. } => args.iter().for_each(f),
            _ => {}
        }
    }

    /// Rewrites the expression bottom-up-optional: `f` returns `Some(replacement)`
    /// to replace a node (its children are then not visited).
    pub fn rewrite(self, f: &mut dyn FnMut(&Expr) -> Option<Expr>) -> Expr {
        if let Some(r) = f(&self) {
            return r;
        }
        let mut rw = |b: Box<Expr>| Box::new((*b).rewrite(f));
        match self {
            Expr::Binary { op, l, r } => {
                let l = rw(l);
                Expr::Binary { op, l, r: rw(r) }
            }
            Expr::And(l, r) => {
                let l = rw(l);
                Expr::And(l, rw(r))
            }
            Expr::Or(l, r) => {
                let l = rw(l);
                Expr::Or(l, rw(r))
            }
            Expr::IsDistinct { l, r, negated } => {
                let l = rw(l);
                Expr::IsDistinct {
                    l,
                    r: rw(r),
                    negated,
                }
            }
            Expr::NullIf(l, r) => {
                let l = rw(l);
                Expr::NullIf(l, rw(r))
            }
            Expr::AnyAll { l, op, r, all } => {
                let l = rw(l);
                Expr::AnyAll {
                    l,
                    op,
                    r: rw(r),
                    all,
                }
            }
            Expr::Subscript { e, index } => {
                let e = rw(e);
                Expr::Subscript {
                    e,
                    index: rw(index),
                }
            }
            Expr::Unary { op, e } => Expr::Unary { op, e: rw(e) },
            Expr::Not(e) => Expr::Not(rw(e)),
            Expr::IsNull { e, negated } => Expr::IsNull { e: rw(e), negated },
            Expr::IsBool { e, value, negated } => Expr::IsBool {
                e: rw(e),
                value,
                negated,
            },
            Expr::Cast { e, ty } => Expr::Cast { e: rw(e), ty },
            Expr::ToRegClass(e) => Expr::ToRegClass(rw(e)),
            Expr::RegName { e, ty } => Expr::RegName { e: rw(e), ty },
            Expr::InSubquery { e, sub, negated } => Expr::InSubquery {
                e: rw(e),
                sub,
                negated,
            },
            Expr::InList { e, list, negated } => {
                let e = rw(e);
                Expr::InList {
                    e,
                    list: list.into_iter().map(|x| x.rewrite(f)).collect(),
                    negated,
                }
            }
            Expr::Case {
                operand,
                whens,
                otherwise,
            } => {
                let operand = operand.map(&mut rw);
                let whens = whens
                    .into_iter()
                    .map(|(w, t)| (w.rewrite(f), t.rewrite(f)))
                    .collect();
                let otherwise = otherwise.map(|o| Box::new((*o).rewrite(f)));
                Expr::Case {
                    operand,
                    whens,
                    otherwise,
                }
            }
            Expr::Coalesce(v) => Expr::Coalesce(v.into_iter().map(|x| x.rewrite(f)).collect()),
            Expr::Greatest(v) => Expr::Greatest(v.into_iter().map(|x| x.rewrite(f)).collect()),
            Expr::Least(v) => Expr::Least(v.into_iter().map(|x| x.rewrite(f)).collect()),
            Expr::Array(v) => Expr::Array(v.into_iter().map(|x| x.rewrite(f)).collect()),
            Expr::Func { sig, args } => Expr::Func {
                sig,
                args: args.into_iter().map(|x| x.rewrite(f)).collect(),
            },
            other => other,
        }
    }

    /// True when evaluation needs nothing but the row and parameters (no function
    /// calls, subqueries or catalog access): such filters run inside storage scans.
    pub fn is_pure(&self) -> bool {
        let mut pure = true;
        self.walk(&mut |e| {
            if matches!(
                e,
                Expr::Func { .. }
                    | Expr::InSubquery { .. }
                    | Expr::Exists { .. }
                    | Expr::ScalarSub(_)
                    | Expr::ArraySub(_)
                    | Expr::ToRegClass(_)
                    | Expr::RegName { .. }
                    | Expr::AggRef(_)
                    | Expr::SrfRef(_)
                    | Expr::WinRef(_)
            ) {
                pure = false;
            }
        });
        pure
    }

    /// True when evaluation reads rows of tables (a subquery).
    pub fn has_subquery(&self) -> bool {
        let mut found = false;
        self.walk(&mut |e| {
            if matches!(
                e,
                Expr::InSubquery { .. }
                    | Expr::Exists { .. }
                    | Expr::ScalarSub(_)
                    | Expr::ArraySub(_)
            ) {
                found = true;
            }
        });
        found
    }

    /// Columns of the current row this expression reads.
    pub fn columns(&self, out: &mut Vec<usize>) {
        self.walk(&mut |e| {
            if let Expr::Column(i) = e {
                out.push(*i);
            }
        });
    }

    /// Shifts column references by `-by` (pushing an expression down to a node
    /// whose row starts at `by`).
    pub fn shift_columns(self, by: usize) -> Expr {
        if by == 0 {
            return self;
        }
        self.rewrite(&mut |e| match e {
            Expr::Column(i) => Some(Expr::Column(i - by)),
            _ => None,
        })
    }
}
