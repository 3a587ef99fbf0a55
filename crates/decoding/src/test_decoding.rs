//! The `test_decoding` output plugin: PostgreSQL's text format for changes
//! (`BEGIN 758`, `table public.bdt: INSERT: a[integer]:1`, `COMMIT 758`).
//! Owns the plugin's options (parsed as PostgreSQL's `pg_decode_startup` parses
//! them) and the text of every row it emits.
//! PostgreSQL counterpart: `contrib/test_decoding/test_decoding.c`.

use tandem_types::ident::quote_identifier;
use tandem_types::{DataType, PgError, PgResult, SqlState, Value};

use crate::{DecodedChange, DecodedMessage, DecodedTxn, OldRow, OutputPlugin, OutputRow};
use tandem_storage::{Catalog, TableDef};

/// One `test_decoding` session with its options.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestDecoding {
    pub include_xids: bool,
    pub include_timestamp: bool,
    pub skip_empty_xacts: bool,
    pub only_local: bool,
    /// `force-binary`: the plugin declares binary output (only the
    /// `_binary_changes` functions accept it then).
    pub force_binary: bool,
    /// BEGIN was printed for the transaction whose parts are being decoded.
    begun: bool,
}

impl Default for TestDecoding {
    fn default() -> TestDecoding {
        TestDecoding {
            include_xids: true,
            include_timestamp: false,
            skip_empty_xacts: false,
            only_local: false,
            force_binary: false,
            begun: false,
        }
    }
}

/// PostgreSQL's `parse_bool`: a case-insensitive prefix of `true`, `false`,
/// `yes`, `no` (at least two letters for `on`/`off`), or `1`/`0`.
pub fn parse_bool(s: &str) -> Option<bool> {
    let lower = s.to_ascii_lowercase();
    let prefix_of = |word: &str, min: usize| lower.len() >= min && word.starts_with(&lower);
    match lower.as_bytes().first()? {
        b't' if prefix_of("true", 1) => Some(true),
        b'f' if prefix_of("false", 1) => Some(false),
        b'y' if prefix_of("yes", 1) => Some(true),
        b'n' if prefix_of("no", 1) => Some(false),
        b'o' if prefix_of("on", 2) => Some(true),
        b'o' if prefix_of("off", 2) => Some(false),
        b'1' if lower.len() == 1 => Some(true),
        b'0' if lower.len() == 1 => Some(false),
        _ => None,
    }
}

fn bad_value(name: &str, value: &str) -> PgError {
    PgError::new(
        SqlState::INVALID_PARAMETER_VALUE,
        format!("could not parse value \"{value}\" for parameter \"{name}\""),
    )
}

/// A boolean option; no value means true.
fn bool_option(name: &str, value: Option<&str>) -> PgResult<bool> {
    match value {
        None => Ok(true),
        Some(v) => parse_bool(v).ok_or_else(|| bad_value(name, v)),
    }
}

/// An option test_decoding accepts but that changes nothing here; no value
/// means the option is ignored.
fn check_bool_option(name: &str, value: Option<&str>) -> PgResult<()> {
    match value {
        None => Ok(()),
        Some(v) => parse_bool(v).map(|_| ()).ok_or_else(|| bad_value(name, v)),
    }
}

impl TestDecoding {
    /// Parses the options as `pg_decode_startup` does, in order. Errors:
    /// `22023 could not parse value "x" for parameter "include-xids"`,
    /// `22023 option "x" = "y" is unknown` (`(null)` for a missing value).
    pub fn new(options: &[(String, Option<String>)]) -> PgResult<TestDecoding> {
        let mut p = TestDecoding::default();
        for (name, value) in options {
            let v = value.as_deref();
            match name.as_str() {
                "include-xids" => p.include_xids = bool_option(name, v)?,
                "include-timestamp" => p.include_timestamp = bool_option(name, v)?,
                "skip-empty-xacts" => p.skip_empty_xacts = bool_option(name, v)?,
                "only-local" => p.only_local = bool_option(name, v)?,
                "force-binary" => {
                    if v.is_some() {
                        p.force_binary = bool_option(name, v)?;
                    }
                }
                // Table rewrites are not logged as changes here; streaming of
                // in-progress transactions does not exist (tandem logs a
                // transaction at commit).
                "include-rewrites" | "stream-changes" => check_bool_option(name, v)?,
                _ => {
                    return Err(PgError::new(
                        SqlState::INVALID_PARAMETER_VALUE,
                        format!(
                            "option \"{name}\" = \"{}\" is unknown",
                            v.unwrap_or("(null)")
                        ),
                    ))
                }
            }
        }
        Ok(p)
    }

    fn begin_text(&self, txn: &DecodedTxn) -> String {
        if self.include_xids {
            format!("BEGIN {}", txn.info.xid.0)
        } else {
            "BEGIN".to_string()
        }
    }

    fn commit_text(&self, txn: &DecodedTxn) -> String {
        let mut s = if self.include_xids {
            format!("COMMIT {}", txn.info.xid.0)
        } else {
            "COMMIT".to_string()
        };
        if self.include_timestamp {
            s.push_str(" (at ");
            tandem_expr::text_out(&Value::TimestampTz(txn.info.commit_time), &mut s);
            s.push(')');
        }
        s
    }
}

impl OutputPlugin for TestDecoding {
    fn textual(&self) -> bool {
        !self.force_binary
    }

    fn transaction(
        &mut self,
        txn: &DecodedTxn,
        _catalog: &Catalog,
        out: &mut dyn FnMut(OutputRow) -> PgResult<()>,
    ) -> PgResult<()> {
        if self.only_local && txn.info.origin.is_some() {
            return Ok(());
        }
        let xid = txn.info.xid;
        let mut row = |lsn, data: Vec<u8>| out(OutputRow { lsn, xid, data });
        if txn.part.first {
            self.begun = false;
            if !self.skip_empty_xacts {
                row(txn.info.first_lsn, self.begin_text(txn).into_bytes())?;
                self.begun = true;
            }
        }
        for (lsn, change) in &txn.changes {
            if !self.begun {
                // With skip-empty-xacts, BEGIN comes with the first change, at
                // its position.
                row(*lsn, self.begin_text(txn).into_bytes())?;
                self.begun = true;
            }
            row(*lsn, change_text(change))?;
        }
        if txn.part.last && self.begun {
            row(txn.info.end_lsn, self.commit_text(txn).into_bytes())?;
        }
        Ok(())
    }

    fn message(
        &mut self,
        msg: &DecodedMessage,
        _catalog: &Catalog,
        out: &mut dyn FnMut(OutputRow) -> PgResult<()>,
    ) -> PgResult<()> {
        out(OutputRow {
            lsn: msg.end_lsn,
            xid: msg.xid,
            data: message_text(false, &msg.prefix, &msg.content),
        })
    }
}

/// `message: transactional: 1 prefix: p, sz: 3 content:abc` (content as is).
fn message_text(transactional: bool, prefix: &str, content: &[u8]) -> Vec<u8> {
    let mut s = format!(
        "message: transactional: {} prefix: {prefix}, sz: {} content:",
        u8::from(transactional),
        content.len()
    )
    .into_bytes();
    s.extend_from_slice(content);
    s
}

/// The text of one change row.
pub fn change_text(change: &DecodedChange) -> Vec<u8> {
    let mut s = String::new();
    match change {
        DecodedChange::Insert { rel, new } => {
            table_prefix(&mut s, rel);
            s.push_str(" INSERT:");
            tuple_text(&mut s, rel, new, false);
        }
        DecodedChange::Update { rel, old, new } => {
            table_prefix(&mut s, rel);
            s.push_str(" UPDATE:");
            if let Some(old) = old {
                s.push_str(" old-key:");
                tuple_text(&mut s, rel, old_values(old), true);
                s.push_str(" new-tuple:");
            }
            tuple_text(&mut s, rel, new, false);
        }
        DecodedChange::Delete { rel, old } => {
            table_prefix(&mut s, rel);
            s.push_str(" DELETE:");
            match old {
                Some(old) => tuple_text(&mut s, rel, old_values(old), true),
                None => s.push_str(" (no-tuple-data)"),
            }
        }
        DecodedChange::Truncate {
            rels,
            restart_seqs,
            cascade,
        } => {
            s.push_str("table ");
            for (i, rel) in rels.iter().enumerate() {
                if i > 0 {
                    s.push_str(", ");
                }
                qualified_name(&mut s, rel);
            }
            s.push_str(": TRUNCATE:");
            if *restart_seqs {
                s.push_str(" restart_seqs");
            }
            if *cascade {
                s.push_str(" cascade");
            }
            if !restart_seqs && !cascade {
                s.push_str(" (no-flags)");
            }
        }
        DecodedChange::Message { prefix, content } => {
            return message_text(true, prefix, content);
        }
    }
    s.into_bytes()
}

fn old_values(old: &OldRow) -> &[Value] {
    match old {
        OldRow::Key(v) | OldRow::Full(v) => v,
    }
}

fn qualified_name(s: &mut String, rel: &TableDef) {
    s.push_str(&quote_identifier(&rel.schema));
    s.push('.');
    s.push_str(&quote_identifier(&rel.name));
}

fn table_prefix(s: &mut String, rel: &TableDef) {
    s.push_str("table ");
    qualified_name(s, rel);
    s.push(':');
}

/// ` name[type]:value` per live column; NULLs skipped in old images.
fn tuple_text(s: &mut String, rel: &TableDef, row: &[Value], skip_nulls: bool) {
    for (i, col) in rel.columns.iter().enumerate() {
        if col.dropped {
            continue;
        }
        let v = row.get(i).unwrap_or(&Value::Null);
        if v.is_null() && skip_nulls {
            continue;
        }
        s.push(' ');
        s.push_str(&quote_identifier(&col.name));
        s.push('[');
        s.push_str(&format_type(&col.data_type));
        s.push_str("]:");
        if v.is_null() {
            s.push_str("null");
        } else {
            literal(s, &col.data_type, v);
        }
    }
}

/// PostgreSQL's `format_type_be`: the type's name without its modifier.
pub fn format_type(ty: &DataType) -> String {
    fn bare(ty: &DataType) -> DataType {
        match ty {
            DataType::Numeric(_) => DataType::Numeric(None),
            DataType::Varchar(_) => DataType::Varchar(None),
            DataType::Bpchar(_) => DataType::Bpchar(None),
            DataType::Array(e) => DataType::Array(Box::new(bare(e))),
            other => other.clone(),
        }
    }
    bare(ty).display_name()
}

/// test_decoding's `print_literal`: numbers bare, booleans as `true`/`false`,
/// everything else single-quoted with quotes doubled.
fn literal(s: &mut String, ty: &DataType, v: &Value) {
    let mut text = String::new();
    tandem_expr::text_out(v, &mut text);
    match ty {
        DataType::Int2
        | DataType::Int4
        | DataType::Int8
        | DataType::Oid
        | DataType::Float4
        | DataType::Float8
        | DataType::Numeric(_) => s.push_str(&text),
        DataType::Bool => s.push_str(if text == "t" { "true" } else { "false" }),
        _ => {
            s.push('\'');
            for ch in text.chars() {
                if ch == '\'' {
                    s.push('\'');
                }
                s.push(ch);
            }
            s.push('\'');
        }
    }
}

#[cfg(test)]
mod tests;
