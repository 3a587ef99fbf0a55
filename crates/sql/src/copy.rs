//! COPY FROM STDIN and COPY TO STDOUT in text and csv formats (PostgreSQL's
//! `commands/copyfrom.c`, `copyfromparse.c`, `copyto.c`).
//!
//! COPY FROM reads CopyData chunks through the sink, cuts them into records
//! (lines in text format; csv records may hold quoted newlines), splits fields
//! without allocating when a field needs no unescaping, and inserts each row the
//! way INSERT does: text input of the column's type, typmod checks, DEFAULTs for
//! columns not listed, NOT NULL. An error ends the COPY at once: the server crate
//! discards the rest of the client's CopyData (see the crate docs).
//!
//! COPY TO runs `SELECT cols FROM t` (or the given query) through the planner and
//! writes one CopyData message per row.

use std::borrow::Cow;

use tandem_expr::ExecContext;
use tandem_storage::TableDef;
use tandem_types::ident::quote_identifier;
use tandem_types::{DataType, PgError, PgResult, SqlState, Value};

use crate::dispatch::Output;
use crate::front_parser::{CopyFormat, CopySource, CopyStmt};
use crate::session::Session;
use crate::tags::copy_tag;
use crate::types::front_relation_name;

fn bad_copy(msg: impl Into<String>) -> PgError {
    PgError::new(SqlState::BAD_COPY_FILE_FORMAT, msg)
}

pub(crate) fn copy(s: &mut Session, c: &CopyStmt, out: &mut Output<'_, '_>) -> PgResult<String> {
    if c.from {
        copy_from(s, c, out)
    } else {
        copy_to(s, c, out)
    }
}

/// Options resolved with their per-format defaults.
struct Format {
    csv: bool,
    delimiter: u8,
    null: String,
    quote: u8,
    escape: u8,
    header: bool,
}

impl Format {
    fn new(c: &CopyStmt) -> PgResult<Format> {
        let csv = c.format == CopyFormat::Csv;
        let delimiter = c.delimiter.unwrap_or(if csv { b',' } else { b'\t' });
        if !csv && (c.quote.is_some() || c.escape.is_some()) {
            return Err(PgError::new(
                SqlState::FEATURE_NOT_SUPPORTED,
                "COPY QUOTE requires CSV mode",
            ));
        }
        if delimiter == b'\n' || delimiter == b'\r' || (!csv && delimiter == b'\\') {
            return Err(PgError::new(
                SqlState::INVALID_PARAMETER_VALUE,
                "COPY delimiter cannot be newline or carriage return",
            ));
        }
        let quote = c.quote.unwrap_or(b'"');
        Ok(Format {
            csv,
            delimiter,
            null: c
                .null
                .clone()
                .unwrap_or_else(|| if csv { String::new() } else { "\\N".into() }),
            quote,
            escape: c.escape.unwrap_or(quote),
            header: c.header,
        })
    }
}

// ---------------------------------------------------------------------------
// COPY FROM

/// Target table columns and what to do for the others.
struct Target {
    table: TableDef,
    /// Positions (in the table) of the input columns, in input order.
    input: Vec<usize>,
    /// Positions and DEFAULT texts of non-input columns that have defaults.
    defaults: Vec<(usize, String)>,
    /// The table's CHECK constraints (COPY FROM).
    checks: tandem_query::checks::RowChecks,
}

/// The COPY table, checked for `mask` (INSERT for FROM, SELECT for TO).
fn resolve_target(
    ctx: &ExecContext<'_>,
    name: &str,
    columns: &[String],
    mask: tandem_storage::acl::AclMode,
) -> PgResult<Target> {
    let rel = front_relation_name(name)?;
    let cat = ctx.txn.catalog();
    let table = rel
        .table(ctx)
        .map(|t| (*t).clone())
        .ok_or_else(|| super::ddl::undefined_relation(name))?;
    cat.check_table_privileges(table.oid, tandem_types::Oid(ctx.session.user_oid), mask)?;
    let input: Vec<usize> = if columns.is_empty() {
        (0..table.columns.len())
            .filter(|&i| !table.columns[i].dropped)
            .collect()
    } else {
        let mut v: Vec<usize> = Vec::new();
        for c in columns {
            let pos = super::ddl::table::column_of(&table, c)?;
            if v.contains(&pos) {
                return Err(PgError::new(
                    SqlState::DUPLICATE_COLUMN,
                    format!("column \"{c}\" specified more than once"),
                ));
            }
            v.push(pos);
        }
        v
    };
    let defaults = table
        .columns
        .iter()
        .enumerate()
        .filter(|(i, c)| !c.dropped && !input.contains(i))
        .filter_map(|(i, c)| c.default.clone().map(|d| (i, d)))
        .collect();
    let checks = tandem_query::checks::RowChecks::for_table(ctx.txn.catalog(), &table)?;
    Ok(Target {
        table,
        input,
        defaults,
        checks,
    })
}

/// Text of one field converted to the column's type: its input function, which
/// applies the typmod too (`varchar(n)`, `char(n)` lengths, `numeric(p,s)`), as
/// PostgreSQL's COPY calls the input function with the column's typmod.
fn field_value(text: &str, ty: &DataType) -> PgResult<Value> {
    tandem_expr::text_in(text, ty)
}

/// Failing row text for the NOT NULL detail: `(1, null)`.
fn failing_row(row: &[Value]) -> String {
    let mut s = String::from("(");
    for (i, v) in row.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        if v.is_null() {
            s.push_str("null");
        } else {
            tandem_expr::text_out(v, &mut s);
        }
    }
    s.push(')');
    s
}

/// Builds and inserts one row from its fields (`None` = NULL).
fn insert_row(
    ctx: &mut ExecContext<'_>,
    target: &Target,
    fields: &[Option<Cow<'_, str>>],
    line: u64,
) -> PgResult<()> {
    let cols = &target.table.columns;
    if fields.len() > target.input.len() {
        return Err(bad_copy("extra data after last expected column"));
    }
    if fields.len() < target.input.len() {
        let missing = &cols[target.input[fields.len()]].name;
        return Err(bad_copy(format!("missing data for column \"{missing}\"")));
    }
    let mut row = vec![Value::Null; cols.len()];
    for (f, &pos) in fields.iter().zip(&target.input) {
        if let Some(text) = f {
            row[pos] = field_value(text, &cols[pos].data_type).map_err(|e| {
                e.with_context(format!(
                    "COPY {}, line {line}, column {}: \"{text}\"",
                    target.table.name, cols[pos].name
                ))
            })?;
        }
    }
    for (pos, default) in &target.defaults {
        row[*pos] = tandem_query::eval_expr_text(default, Some(&cols[*pos].data_type), ctx)?;
    }
    for (i, c) in cols.iter().enumerate() {
        if c.not_null && row[i].is_null() {
            return Err(PgError::new(
                SqlState::NOT_NULL_VIOLATION,
                format!(
                    "null value in column \"{}\" of relation \"{}\" violates not-null constraint",
                    c.name, target.table.name
                ),
            )
            .with_detail(format!("Failing row contains {}.", failing_row(&row)))
            .with_column(&target.table.schema, &target.table.name, &c.name));
        }
    }
    target.checks.check_in(ctx, &target.table, &row)?;
    ctx.txn.insert(target.table.oid, row)?;
    Ok(())
}

/// Splits one text-format line into fields.
fn split_text_line<'l>(
    line: &'l str,
    fmt: &Format,
    out: &mut Vec<Option<Cow<'l, str>>>,
) -> PgResult<()> {
    out.clear();
    let delim = fmt.delimiter as char;
    for raw in line.split(delim) {
        if raw == fmt.null {
            out.push(None);
        } else if raw.contains('\\') {
            out.push(Some(Cow::Owned(unescape_text(raw)?)));
        } else {
            out.push(Some(Cow::Borrowed(raw)));
        }
    }
    Ok(())
}

/// Splits one line of `COPY ... TO STDOUT` default text format (tab
/// delimiter, `\N` for NULL, backslash escapes) into fields; for clients of
/// other servers' COPY output (the subscription tablesync).
pub fn split_copy_text_line(line: &str) -> PgResult<Vec<Option<String>>> {
    line.split('\t')
        .map(|raw| match raw {
            "\\N" => Ok(None),
            r if r.contains('\\') => unescape_text(r).map(Some),
            r => Ok(Some(r.to_string())),
        })
        .collect()
}

/// Text-format backslash escapes: `\b \f \n \r \t \v \\`, octal `\123`, hex `\x41`.
fn unescape_text(raw: &str) -> PgResult<String> {
    let b = raw.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' || i + 1 >= b.len() {
            out.push(b[i]);
            i += 1;
            continue;
        }
        let c = b[i + 1];
        i += 2;
        match c {
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'v' => out.push(11),
            b'0'..=b'7' => {
                let mut v = (c - b'0') as u32;
                let mut k = 0;
                while k < 2 && i < b.len() && (b'0'..=b'7').contains(&b[i]) {
                    v = v * 8 + (b[i] - b'0') as u32;
                    i += 1;
                    k += 1;
                }
                out.push((v & 0xff) as u8);
            }
            b'x' if i < b.len() && b[i].is_ascii_hexdigit() => {
                let mut v = 0u32;
                let mut k = 0;
                while k < 2 && i < b.len() && b[i].is_ascii_hexdigit() {
                    v = v * 16 + (b[i] as char).to_digit(16).unwrap_or(0);
                    i += 1;
                    k += 1;
                }
                out.push(v as u8);
            }
            other => out.push(other),
        }
    }
    String::from_utf8(out).map_err(|_| {
        PgError::new(
            SqlState::CHARACTER_NOT_IN_REPERTOIRE,
            "invalid byte sequence for encoding \"UTF8\"",
        )
    })
}

/// Length of the next complete csv record in `buf` (including its newline), or
/// `None` if the record continues past the buffer (`eof`: take the rest).
fn csv_record_len(buf: &[u8], fmt: &Format, eof: bool) -> Option<usize> {
    let mut in_quote = false;
    let mut i = 0;
    while i < buf.len() {
        let c = buf[i];
        if in_quote {
            if c == fmt.escape && fmt.escape != fmt.quote && buf.get(i + 1) == Some(&fmt.quote) {
                i += 2;
                continue;
            }
            if c == fmt.quote {
                in_quote = false;
            }
        } else if c == fmt.quote {
            in_quote = true;
        } else if c == b'\n' {
            return Some(i + 1);
        }
        i += 1;
    }
    (eof && !buf.is_empty()).then_some(buf.len())
}

/// Splits one csv record (without its line ending) into fields.
fn split_csv_record<'l>(
    rec: &'l str,
    fmt: &Format,
    out: &mut Vec<Option<Cow<'l, str>>>,
) -> PgResult<()> {
    out.clear();
    let b = rec.as_bytes();
    let mut i = 0;
    loop {
        let start = i;
        let mut owned: Option<Vec<u8>> = None;
        let mut plain_end = i;
        while i < b.len() && b[i] != fmt.delimiter {
            if b[i] == fmt.quote {
                let buf = owned.get_or_insert_with(|| b[start..i].to_vec());
                i += 1;
                loop {
                    if i >= b.len() {
                        return Err(bad_copy("unterminated CSV quoted field"));
                    }
                    if b[i] == fmt.escape
                        && (b.get(i + 1) == Some(&fmt.quote) || b.get(i + 1) == Some(&fmt.escape))
                    {
                        // doubled quote, or escaped quote/escape
                        buf.push(b[i + 1]);
                        i += 2;
                        continue;
                    }
                    if b[i] == fmt.quote {
                        i += 1;
                        break;
                    }
                    buf.push(b[i]);
                    i += 1;
                }
            } else {
                if let Some(buf) = owned.as_mut() {
                    buf.push(b[i]);
                }
                i += 1;
                plain_end = i;
            }
        }
        let field: Option<Cow<'l, str>> = match owned {
            Some(bytes) => Some(Cow::Owned(String::from_utf8(bytes).map_err(|_| {
                PgError::new(
                    SqlState::CHARACTER_NOT_IN_REPERTOIRE,
                    "invalid byte sequence for encoding \"UTF8\"",
                )
            })?)),
            None => {
                let raw = &rec[start..plain_end.max(start)];
                if raw == fmt.null {
                    None
                } else {
                    Some(Cow::Borrowed(raw))
                }
            }
        };
        // a quoted field is never NULL, even when it matches the null string
        out.push(field);
        if i >= b.len() {
            break;
        }
        i += 1; // delimiter
    }
    Ok(())
}

/// Incremental record reader over CopyData chunks.
struct CopyReader<'f> {
    fmt: &'f Format,
    buf: Vec<u8>,
    done: bool,
    header_pending: bool,
    rows: u64,
    /// Lines read so far (the header's included), for CONTEXT lines.
    line: u64,
}

impl<'f> CopyReader<'f> {
    /// Inserts every complete record in the buffer (`eof`: also the last partial).
    fn drain(&mut self, ctx: &mut ExecContext<'_>, target: &Target, eof: bool) -> PgResult<()> {
        let mut fields: Vec<Option<Cow<'_, str>>> = Vec::with_capacity(target.input.len());
        let buf = std::mem::take(&mut self.buf);
        let mut pos = 0;
        while !self.done && pos < buf.len() {
            let rest = &buf[pos..];
            let len = if self.fmt.csv {
                match csv_record_len(rest, self.fmt, eof) {
                    Some(l) => l,
                    None => break,
                }
            } else {
                match rest.iter().position(|&c| c == b'\n') {
                    Some(l) => l + 1,
                    None if eof => rest.len(),
                    None => break,
                }
            };
            pos += len;
            let mut rec = &rest[..len];
            if rec.last() == Some(&b'\n') {
                rec = &rec[..rec.len() - 1];
            }
            if rec.last() == Some(&b'\r') {
                rec = &rec[..rec.len() - 1];
            }
            if rec == b"\\." {
                self.done = true;
                break;
            }
            self.line += 1;
            if self.header_pending {
                self.header_pending = false;
                continue;
            }
            let line = std::str::from_utf8(rec).map_err(|_| {
                PgError::new(
                    SqlState::CHARACTER_NOT_IN_REPERTOIRE,
                    "invalid byte sequence for encoding \"UTF8\"",
                )
            })?;
            let at = |e: PgError| match e.context {
                // PostgreSQL's CopyFromErrorCallback
                None => e.with_context(format!(
                    "COPY {}, line {}: \"{line}\"",
                    target.table.name, self.line
                )),
                Some(_) => e,
            };
            let split = if self.fmt.csv {
                split_csv_record(line, self.fmt, &mut fields)
            } else {
                split_text_line(line, self.fmt, &mut fields)
            };
            split.map_err(at)?;
            insert_row(ctx, target, &fields, self.line).map_err(at)?;
            self.rows += 1;
            if self.rows.is_multiple_of(1024)
                && ctx.cancel.load(std::sync::atomic::Ordering::Relaxed)
            {
                return Err(PgError::new(
                    SqlState::QUERY_CANCELED,
                    "canceling statement due to user request",
                ));
            }
        }
        let mut buf = buf;
        buf.drain(..pos);
        self.buf = buf;
        Ok(())
    }
}

fn copy_from(s: &mut Session, c: &CopyStmt, out: &mut Output<'_, '_>) -> PgResult<String> {
    s.check_writable("COPY FROM")?;
    let CopySource::Table { name, columns } = &c.source else {
        return Err(PgError::syntax("syntax error at or near \"FROM\""));
    };
    let fmt = Format::new(c)?;
    let target = s.with_ctx(&[], |ctx| {
        resolve_target(ctx, name, columns, tandem_storage::acl::INSERT)
    })?;
    out.sink.copy_in_response(target.input.len())?;
    let mut reader = CopyReader {
        fmt: &fmt,
        buf: Vec::new(),
        done: false,
        header_pending: fmt.header,
        rows: 0,
        line: 0,
    };
    while let Some(data) = out.sink.copy_in_read()? {
        if reader.done {
            continue;
        }
        reader.buf.extend_from_slice(&data);
        s.with_ctx(&[], |ctx| reader.drain(ctx, &target, false))?;
    }
    if !reader.done && !reader.buf.is_empty() {
        s.with_ctx(&[], |ctx| reader.drain(ctx, &target, true))?;
    }
    // foreign key checks of the rows copied in
    s.with_ctx(&[], |ctx| ctx.txn.finish_statement())?;
    Ok(copy_tag(reader.rows))
}

// ---------------------------------------------------------------------------
// COPY TO

/// Appends one value in COPY text format (escaped).
fn write_text_field(v: &Value, fmt: &Format, scratch: &mut String, line: &mut Vec<u8>) {
    if v.is_null() {
        line.extend_from_slice(fmt.null.as_bytes());
        return;
    }
    scratch.clear();
    tandem_expr::text_out(v, scratch);
    for &b in scratch.as_bytes() {
        match b {
            b'\\' => line.extend_from_slice(b"\\\\"),
            b'\n' => line.extend_from_slice(b"\\n"),
            b'\r' => line.extend_from_slice(b"\\r"),
            b'\t' => line.extend_from_slice(b"\\t"),
            8 => line.extend_from_slice(b"\\b"),
            12 => line.extend_from_slice(b"\\f"),
            11 => line.extend_from_slice(b"\\v"),
            d if d == fmt.delimiter => {
                line.push(b'\\');
                line.push(d);
            }
            other => line.push(other),
        }
    }
}

/// Appends one value in csv, quoting when needed (empty strings are quoted so
/// they differ from NULL).
fn write_csv_field(v: Option<&str>, fmt: &Format, line: &mut Vec<u8>) {
    let Some(text) = v else {
        line.extend_from_slice(fmt.null.as_bytes());
        return;
    };
    let needs = text.is_empty()
        || text == fmt.null
        || text
            .bytes()
            .any(|b| b == fmt.delimiter || b == fmt.quote || b == b'\n' || b == b'\r')
        || text == "\\.";
    if !needs {
        line.extend_from_slice(text.as_bytes());
        return;
    }
    line.push(fmt.quote);
    for b in text.bytes() {
        if b == fmt.quote || b == fmt.escape {
            line.push(fmt.escape);
        }
        line.push(b);
    }
    line.push(fmt.quote);
}

fn copy_to(s: &mut Session, c: &CopyStmt, out: &mut Output<'_, '_>) -> PgResult<String> {
    let fmt = Format::new(c)?;
    let stmt = match &c.source {
        CopySource::Query(q) => (**q).clone(),
        CopySource::Table { name, columns } => {
            let target = s.with_ctx(&[], |ctx| {
                resolve_target(ctx, name, columns, tandem_storage::acl::INSERT)
            })?;
            let cols: Vec<String> = target
                .input
                .iter()
                .map(|&i| quote_identifier(&target.table.columns[i].name))
                .collect();
            let sql = format!(
                "SELECT {} FROM {}.{}",
                cols.join(", "),
                quote_identifier(&target.table.schema),
                quote_identifier(&target.table.name)
            );
            let dialect = sqlparser::dialect::PostgreSqlDialect {};
            let mut stmts = sqlparser::parser::Parser::parse_sql(&dialect, &sql)
                .map_err(|e| PgError::internal(format!("COPY query: {e}")))?;
            stmts.pop().ok_or_else(|| PgError::internal("COPY query"))?
        }
    };
    if !tandem_query::is_plannable(&stmt) {
        return Err(PgError::unsupported("this statement in COPY"));
    }
    let mut types = Vec::new();
    let plan = s.with_ctx(&[], |ctx| tandem_query::plan(&stmt, &mut types, ctx))?;
    if plan.kind != tandem_query::CommandKind::Select {
        s.check_writable(crate::tags::plan_command_name(plan.kind))?;
    }
    out.sink.copy_out_response(plan.columns.len())?;
    if fmt.header {
        let mut line = Vec::new();
        for (i, col) in plan.columns.iter().enumerate() {
            if i > 0 {
                line.push(fmt.delimiter);
            }
            if fmt.csv {
                write_csv_field(Some(&col.name), &fmt, &mut line);
            } else {
                write_text_field(
                    &Value::Text(col.name.clone()),
                    &fmt,
                    &mut String::new(),
                    &mut line,
                );
            }
        }
        line.push(b'\n');
        out.sink.copy_out_data(&line)?;
    }
    let sink = &mut *out.sink;
    let mut scratch = String::new();
    let mut line = Vec::new();
    let rows = s.with_ctx(&[], |ctx| {
        tandem_query::execute(&plan, ctx, &mut |row| {
            line.clear();
            for (i, v) in row.iter().enumerate() {
                if i > 0 {
                    line.push(fmt.delimiter);
                }
                if fmt.csv {
                    if v.is_null() {
                        write_csv_field(None, &fmt, &mut line);
                    } else {
                        scratch.clear();
                        tandem_expr::text_out(v, &mut scratch);
                        write_csv_field(Some(&scratch), &fmt, &mut line);
                    }
                } else {
                    write_text_field(v, &fmt, &mut scratch, &mut line);
                }
            }
            line.push(b'\n');
            sink.copy_out_data(&line)
        })
    })?;
    sink.copy_out_done()?;
    Ok(copy_tag(rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(csv: bool) -> Format {
        Format {
            csv,
            delimiter: if csv { b',' } else { b'\t' },
            null: if csv { String::new() } else { "\\N".into() },
            quote: b'"',
            escape: b'"',
            header: false,
        }
    }

    #[test]
    fn text_lines_split_with_nulls_and_escapes() {
        let f = fmt(false);
        let mut out = Vec::new();
        split_text_line("1\t\\N\ta\\tb\\\\c\\n\t", &f, &mut out).expect("ok");
        assert_eq!(out.len(), 4);
        assert_eq!(out[0].as_deref(), Some("1"));
        assert!(matches!(out[0], Some(Cow::Borrowed(_))));
        assert_eq!(out[1], None);
        assert_eq!(out[2].as_deref(), Some("a\tb\\c\n"));
        assert_eq!(out[3].as_deref(), Some(""));
        assert_eq!(unescape_text("\\101\\x42").expect("ok"), "AB");
    }

    #[test]
    fn csv_records_and_fields() {
        let f = fmt(true);
        let data = b"1,\"a,b\"\n2,\"multi\nline\"\n3,";
        assert_eq!(csv_record_len(data, &f, false), Some(8));
        assert_eq!(csv_record_len(&data[8..], &f, false), Some(15));
        assert_eq!(csv_record_len(&data[23..], &f, false), None);
        assert_eq!(csv_record_len(&data[23..], &f, true), Some(2));
        let mut out = Vec::new();
        split_csv_record("1,\"a,\"\"b\"\"\",,\"\"", &f, &mut out).expect("ok");
        assert_eq!(out.len(), 4);
        assert_eq!(out[1].as_deref(), Some("a,\"b\""));
        assert_eq!(out[2], None);
        assert_eq!(out[3].as_deref(), Some(""));
    }

    #[test]
    fn csv_output_quotes_when_needed() {
        let f = fmt(true);
        let mut line = Vec::new();
        write_csv_field(Some("plain"), &f, &mut line);
        line.push(b',');
        write_csv_field(Some("a,\"b"), &f, &mut line);
        line.push(b',');
        write_csv_field(Some(""), &f, &mut line);
        line.push(b',');
        write_csv_field(None, &f, &mut line);
        assert_eq!(
            String::from_utf8(line).expect("utf8"),
            "plain,\"a,\"\"b\",\"\","
        );
    }
}
