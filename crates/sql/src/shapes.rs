//! Plans of simple-query statements kept by their shape: tandem's own shortcut
//! (PostgreSQL parses and plans every simple query afresh).
//!
//! A client that sends `SELECT abalance FROM pgbench_accounts WHERE aid = 41`
//! and then the same text with another number pays sqlparser and the planner
//! each time, though only a value changed. [`shape_of`] scans the text once,
//! without allocating per token, and replaces each integer literal that stands
//! where a parameter would mean the same thing by `$n`; the result is the
//! statement's *shape*, the literals its values. The session keeps, per shape,
//! a prepared statement made from the shape text with every `$n` typed
//! `integer` (the type PostgreSQL gives such a literal), and runs it with the
//! values; DDL (a new catalog) makes it forget every shape.
//!
//! Which literals become parameters (anything else stays in the shape's text,
//! so the shape only caches less, never means something else):
//! - only plain digits that fit `integer` (a larger literal is `bigint` or
//!   `numeric`, and `-2147483648` is an `integer` only as one literal);
//! - only right after `=`, `<>`, `!=`, `<`, `>`, `<=`, `>=`, `+`, `-`, `*`, `/`,
//!   `%`, `LIMIT` or `OFFSET`, or as an item of a `VALUES` row or an `IN (...)`
//!   list: never a position (`ORDER BY 1`, `GROUP BY 2`, `DISTINCT ON (1)`), a
//!   type modifier (`numeric(10, 2)`) or an array bound.
//!
//! Only single statements that start with SELECT, INSERT, UPDATE, DELETE or
//! WITH and hold no `$n` of their own take this path. A shape whose text does
//! not parse, is not a planned statement, or fails to plan, is remembered as
//! such (until the catalog changes) and its statements take the ordinary path,
//! which reports errors with positions in the client's own text.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

use tandem_storage::Catalog;
use tandem_types::{DataType, PgResult, Value};

use crate::dispatch::{run_plan, Output, RowMode};
use crate::extended::Prepared;
use crate::front_parser::{self, StmtKind};
use crate::scan::{comment_at, is_ident_byte, skip_token};
use crate::session::Session;
use crate::QuerySink;

/// Shapes kept per session before the cache starts over.
const MAX_SHAPES: usize = 256;

/// A statement's text with its replaceable literals taken out.
#[derive(Debug, PartialEq)]
pub(crate) struct Shape {
    /// The text, each replaced literal written as `$n`.
    pub key: String,
    /// The replaced literals, in order (`$1` first).
    pub values: Vec<Value>,
}

/// What the session knows about a shape.
pub(crate) enum Known {
    /// Planned: run it with the shape's values.
    Plan(Arc<Prepared>),
    /// Takes the ordinary path: the shape did not parse, is not planned or
    /// failed to plan.
    Ordinary,
}

/// The session's shapes, all known against one catalog.
#[derive(Default)]
pub(crate) struct Shapes {
    known: HashMap<String, Known>,
    catalog: Option<Arc<Catalog>>,
}

impl Shapes {
    /// Forgets every shape when the catalog is not the one they were known
    /// against (DDL happened): each is planned again at its next use, and
    /// no old catalog stays alive for them.
    fn follow(&mut self, catalog: &Arc<Catalog>) {
        if !self
            .catalog
            .as_ref()
            .is_some_and(|c| Arc::ptr_eq(c, catalog))
        {
            self.known.clear();
            self.catalog = Some(Arc::clone(catalog));
        }
    }

    pub(crate) fn get(&self, key: &str) -> Option<&Known> {
        self.known.get(key)
    }

    pub(crate) fn insert(&mut self, key: String, known: Known) {
        if self.known.len() >= MAX_SHAPES {
            self.known.clear();
        }
        self.known.insert(key, known);
    }
}

impl Session {
    /// Runs a simple-query string by its shape's plan. `None`: it takes the
    /// ordinary path (and nothing of it has run; statement start and the
    /// block-state rule may have been applied, which the ordinary path repeats
    /// harmlessly).
    pub(crate) fn run_by_shape(
        &mut self,
        sql: &str,
        sink: &mut dyn QuerySink,
    ) -> Option<PgResult<()>> {
        let shape = shape_of(sql)?;
        if self.config.get_enum("log_statement") != "none" {
            // The ordinary path logs by statement class.
            return None;
        }
        self.begin_statement();
        if let Err(e) = self.enter_statement(false) {
            return Some(Err(e));
        }
        let catalog = self.with_ctx(&[], |ctx| Ok(ctx.txn.catalog())).ok()?;
        self.shapes.follow(&catalog);
        let notices = self.notices.len();
        let prepared = match self.shapes.get(&shape.key) {
            Some(Known::Plan(p)) => Arc::clone(p),
            Some(Known::Ordinary) => return None,
            None => self.plan_shape(&shape)?,
        };
        let planned = prepared
            .plannable()
            .map(|ast| self.plan_against(&prepared, ast, catalog));
        let plan = match planned {
            Some(Ok(plan)) => plan,
            _ => {
                // the ordinary path reports it, with positions in the
                // client's text
                self.notices.truncate(notices);
                self.shapes.insert(shape.key, Known::Ordinary);
                return None;
            }
        };
        self.multi_statement = false;
        let mut out = Output::new(&mut *sink, RowMode::Simple);
        let tag = match run_plan(self, &plan, &shape.values, &mut out) {
            Ok(tag) => tag,
            Err(e) => return Some(Err(e)),
        };
        Some(
            self.end_of_batch()
                .and_then(|()| self.flush_notices(sink))
                .and_then(|()| sink.command_complete(&tag)),
        )
    }

    /// Parses and plans a shape not known yet; remembers the outcome.
    fn plan_shape(&mut self, shape: &Shape) -> Option<Arc<Prepared>> {
        let stmt = match front_parser::parse_single(&shape.key) {
            Ok(Some(stmt)) if matches!(&stmt.kind, StmtKind::Sql { stmt, .. } if tandem_query::is_plannable(stmt)) => {
                stmt
            }
            _ => {
                self.shapes.insert(shape.key.clone(), Known::Ordinary);
                return None;
            }
        };
        let types = vec![DataType::Int4; shape.values.len()];
        let notices = self.notices.len();
        match self.prepare_statement(Some(stmt), types, &shape.key) {
            Ok(p) => {
                let p = Arc::new(p);
                self.shapes
                    .insert(shape.key.clone(), Known::Plan(Arc::clone(&p)));
                Some(p)
            }
            Err(_) => {
                self.notices.truncate(notices);
                self.shapes.insert(shape.key.clone(), Known::Ordinary);
                None
            }
        }
    }
}

/// Where a `(` was opened: only items of VALUES rows and IN lists are values.
#[derive(Clone, Copy, PartialEq)]
enum Group {
    Values,
    In,
    Other,
}

/// The token before the one being read, as far as the rule needs it.
#[derive(Clone, Copy, PartialEq)]
enum Prev {
    /// A token after which an integer literal is a value.
    ValueSlot,
    /// `(` or `,`: a value only inside a VALUES row or an IN list.
    ListItem,
    Word(KeyWord),
    Other,
}

#[derive(Clone, Copy, PartialEq)]
enum KeyWord {
    Values,
    In,
    Other,
}

fn is_op_byte(c: u8) -> bool {
    matches!(
        c,
        b'+' | b'-'
            | b'*'
            | b'/'
            | b'<'
            | b'>'
            | b'='
            | b'~'
            | b'!'
            | b'@'
            | b'#'
            | b'%'
            | b'^'
            | b'&'
            | b'|'
            | b'`'
            | b'?'
    )
}

fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c >= 0x80
}

/// The shape of a single SELECT / INSERT / UPDATE / DELETE / WITH statement,
/// or `None` when the text is anything else (see the module comment).
pub(crate) fn shape_of(sql: &str) -> Option<Shape> {
    let b = sql.as_bytes();
    let mut key = String::with_capacity(sql.len() + 8);
    let mut values = Vec::new();
    let mut copied = 0;
    let mut groups: Vec<Group> = Vec::new();
    // The depth at which VALUES rows are being listed.
    let mut values_depth: Option<usize> = None;
    let mut prev = Prev::Other;
    let mut first = true;
    let mut ended = false;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if comment_at(b, i) {
            i = skip_token(b, i);
            continue;
        }
        if ended {
            // Something after the `;`: more than one statement.
            return None;
        }
        let start = i;
        if first {
            if !is_ident_start(c) {
                return None;
            }
            while i < b.len() && is_ident_byte(b[i]) {
                i += 1;
            }
            let word = &sql[start..i];
            let dml = ["select", "insert", "update", "delete", "with"]
                .iter()
                .any(|w| word.eq_ignore_ascii_case(w));
            if !dml {
                return None;
            }
            first = false;
            prev = Prev::Word(KeyWord::Other);
            continue;
        }
        match c {
            b';' => {
                ended = true;
                i += 1;
            }
            b'\'' | b'"' => {
                i = skip_token(b, i);
                prev = Prev::Other;
            }
            b'$' => {
                if b.get(i + 1).is_some_and(u8::is_ascii_digit) {
                    // A parameter of the client's own: the ordinary path
                    // reports it.
                    return None;
                }
                i = skip_token(b, i);
                prev = Prev::Other;
            }
            b'(' => {
                let depth = groups.len();
                let group = if values_depth == Some(depth) {
                    Group::Values
                } else if prev == Prev::Word(KeyWord::In) {
                    Group::In
                } else {
                    Group::Other
                };
                groups.push(group);
                prev = Prev::ListItem;
                i += 1;
            }
            b')' => {
                groups.pop();
                if values_depth.is_some_and(|d| d > groups.len()) {
                    values_depth = None;
                }
                prev = Prev::Other;
                i += 1;
            }
            b',' => {
                prev = Prev::ListItem;
                i += 1;
            }
            _ if is_ident_start(c) => {
                while i < b.len() && is_ident_byte(b[i]) {
                    i += 1;
                }
                let word = &sql[start..i];
                let kw = if word.eq_ignore_ascii_case("values") {
                    values_depth = Some(groups.len());
                    KeyWord::Values
                } else {
                    if values_depth == Some(groups.len()) {
                        values_depth = None;
                    }
                    if word.eq_ignore_ascii_case("in") {
                        KeyWord::In
                    } else {
                        KeyWord::Other
                    }
                };
                let slot =
                    word.eq_ignore_ascii_case("limit") || word.eq_ignore_ascii_case("offset");
                prev = if slot {
                    Prev::ValueSlot
                } else {
                    Prev::Word(kw)
                };
            }
            _ if c.is_ascii_digit()
                || (c == b'.' && b.get(i + 1).is_some_and(u8::is_ascii_digit)) =>
            {
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'.' || b[i] == b'_')
                {
                    i += 1;
                }
                let text = &sql[start..i];
                let in_list = matches!(groups.last(), Some(Group::Values | Group::In));
                let value_here = prev == Prev::ValueSlot || (prev == Prev::ListItem && in_list);
                if value_here && text.bytes().all(|d| d.is_ascii_digit()) {
                    if let Ok(n) = text.parse::<i32>() {
                        values.push(Value::Int4(n));
                        key.push_str(&sql[copied..start]);
                        let _ = write!(key, "${}", values.len());
                        copied = i;
                    }
                }
                prev = Prev::Other;
            }
            _ if is_op_byte(c) => {
                while i < b.len() && is_op_byte(b[i]) {
                    // A comment starts inside an operator's run: the operator
                    // ends there (as in PostgreSQL's scanner).
                    if comment_at(b, i) {
                        break;
                    }
                    i += 1;
                }
                let op = &sql[start..i];
                prev = if matches!(
                    op,
                    "=" | "<>" | "!=" | "<" | ">" | "<=" | ">=" | "+" | "-" | "*" | "/" | "%"
                ) {
                    Prev::ValueSlot
                } else {
                    Prev::Other
                };
                if i == start {
                    i += 1;
                }
            }
            _ => {
                prev = Prev::Other;
                i += 1;
            }
        }
    }
    if first {
        return None;
    }
    key.push_str(&sql[copied..]);
    Some(Shape { key, values })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(sql: &str) -> Option<String> {
        shape_of(sql).map(|s| s.key)
    }

    #[test]
    fn value_literals_become_parameters() {
        let s = shape_of("SELECT abalance FROM pgbench_accounts WHERE aid = 41;").expect("shape");
        assert_eq!(
            s.key,
            "SELECT abalance FROM pgbench_accounts WHERE aid = $1;"
        );
        assert_eq!(s.values, vec![Value::Int4(41)]);
        let s = shape_of("UPDATE pgbench_accounts SET abalance = abalance + -4212 WHERE aid = 7")
            .expect("shape");
        assert_eq!(
            s.key,
            "UPDATE pgbench_accounts SET abalance = abalance + -$1 WHERE aid = $2"
        );
        assert_eq!(s.values, vec![Value::Int4(4212), Value::Int4(7)]);
        let s = shape_of(
            "insert into h (tid, bid, aid, delta, mtime) values (1, 2, 3, -4, now()), (5, 6, 7, 8, now())",
        )
        .expect("shape");
        assert_eq!(
            s.key,
            "insert into h (tid, bid, aid, delta, mtime) values ($1, $2, $3, -$4, now()), ($5, $6, $7, $8, now())"
        );
        assert_eq!(
            key("select * from t where a in (1, 2) and b<=3 limit 10 offset 5").as_deref(),
            Some("select * from t where a in ($1, $2) and b<=$3 limit $4 offset $5")
        );
    }

    #[test]
    fn literals_with_another_meaning_stay() {
        for sql in [
            "select a from t order by 1",
            "select a, count(*) from t group by 1, 2",
            "select distinct on (1) a from t",
            "select 1::numeric(10, 2)",
            "select cast(a as varchar(20)) from t",
            "select a[1] from t",
            "select 5",
            "select f(1, 2)",
            "select a from t where a = 2147483648",
            "select a from t where a = 1.5",
            "select a from t where a = 1e3",
            "select a from t where a = '7'",
            "select a from t where a between 1 and 2",
            "update t set (a, b) = (1, 2)",
            "insert into t select 1 on conflict (a) do update set b = excluded.b + f(2)",
        ] {
            let s = shape_of(sql).expect("a shape");
            assert_eq!(s.key, sql, "{sql}");
            assert!(s.values.is_empty(), "{sql}");
        }
        // VALUES rows end where the list does.
        assert_eq!(
            key("insert into t values (1) returning f(2)").as_deref(),
            Some("insert into t values ($1) returning f(2)")
        );
    }

    #[test]
    fn only_single_planned_statements() {
        for sql in [
            "select 1; select 2",
            "select a from t where a = $1",
            "begin",
            "set x = 1",
            "copy t from stdin",
            "",
            "  -- nothing\n",
            "(select 1)",
        ] {
            assert_eq!(shape_of(sql), None, "{sql}");
        }
        assert_eq!(
            key("select a from t where a = 3; -- done").as_deref(),
            Some("select a from t where a = $1; -- done")
        );
        assert_eq!(
            key("select 'it''s ; = 4', a from t where a = 4").as_deref(),
            Some("select 'it''s ; = 4', a from t where a = $1")
        );
        assert_eq!(
            key("select a from t where a =-- c\n 4").as_deref(),
            Some("select a from t where a =-- c\n $1")
        );
    }
}
