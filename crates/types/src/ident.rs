//! SQL identifiers and literals as PostgreSQL writes them back out.
//!
//! - [`quote_identifier`]: PostgreSQL's `quote_identifier` (`ruleutils.c`): an
//!   identifier stays bare only when it reads back as itself, i.e. it is lower-case
//!   letters, digits and `_`, does not start with a digit, and is not a keyword
//!   other than an unreserved one.
//! - [`quote_literal`]: PostgreSQL's `quote_literal_cstr` (`quote.c`).
//! - [`truncate_identifier`]: PostgreSQL's `truncate_identifier` (`scansup.c`):
//!   names longer than `NAMEDATALEN - 1` bytes are cut, with a NOTICE.
//!
//! The keyword table is PostgreSQL 17's `src/include/parser/kwlist.h`, reduced to
//! the keywords whose category is not `UNRESERVED_KEYWORD`: only those change how
//! an identifier is quoted.

use crate::error::{PgError, SqlState};

/// PostgreSQL's `NAMEDATALEN`: a name holds at most `NAMEDATALEN - 1` bytes.
pub const NAMEDATALEN: usize = 64;

/// The category of a keyword that is not unreserved (`kwlist.h`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeywordCategory {
    /// `COL_NAME_KEYWORD`: usable as a column name, not as a function or type name.
    ColName,
    /// `TYPE_FUNC_NAME_KEYWORD`: usable as a function or type name, not as a column name.
    TypeFuncName,
    /// `RESERVED_KEYWORD`.
    Reserved,
}

use KeywordCategory::{ColName, Reserved, TypeFuncName};

/// PostgreSQL 17's keywords other than `UNRESERVED_KEYWORD`, sorted by name
/// (byte order, for binary search).
const KEYWORDS: &[(&str, KeywordCategory)] = &[
    ("all", Reserved),
    ("analyse", Reserved),
    ("analyze", Reserved),
    ("and", Reserved),
    ("any", Reserved),
    ("array", Reserved),
    ("as", Reserved),
    ("asc", Reserved),
    ("asymmetric", Reserved),
    ("authorization", TypeFuncName),
    ("between", ColName),
    ("bigint", ColName),
    ("binary", TypeFuncName),
    ("bit", ColName),
    ("boolean", ColName),
    ("both", Reserved),
    ("case", Reserved),
    ("cast", Reserved),
    ("char", ColName),
    ("character", ColName),
    ("check", Reserved),
    ("coalesce", ColName),
    ("collate", Reserved),
    ("collation", TypeFuncName),
    ("column", Reserved),
    ("concurrently", TypeFuncName),
    ("constraint", Reserved),
    ("create", Reserved),
    ("cross", TypeFuncName),
    ("current_catalog", Reserved),
    ("current_date", Reserved),
    ("current_role", Reserved),
    ("current_schema", TypeFuncName),
    ("current_time", Reserved),
    ("current_timestamp", Reserved),
    ("current_user", Reserved),
    ("dec", ColName),
    ("decimal", ColName),
    ("default", Reserved),
    ("deferrable", Reserved),
    ("desc", Reserved),
    ("distinct", Reserved),
    ("do", Reserved),
    ("else", Reserved),
    ("end", Reserved),
    ("except", Reserved),
    ("exists", ColName),
    ("extract", ColName),
    ("false", Reserved),
    ("fetch", Reserved),
    ("float", ColName),
    ("for", Reserved),
    ("foreign", Reserved),
    ("freeze", TypeFuncName),
    ("from", Reserved),
    ("full", TypeFuncName),
    ("grant", Reserved),
    ("greatest", ColName),
    ("group", Reserved),
    ("grouping", ColName),
    ("having", Reserved),
    ("ilike", TypeFuncName),
    ("in", Reserved),
    ("initially", Reserved),
    ("inner", TypeFuncName),
    ("inout", ColName),
    ("int", ColName),
    ("integer", ColName),
    ("intersect", Reserved),
    ("interval", ColName),
    ("into", Reserved),
    ("is", TypeFuncName),
    ("isnull", TypeFuncName),
    ("join", TypeFuncName),
    ("json", ColName),
    ("json_array", ColName),
    ("json_arrayagg", ColName),
    ("json_exists", ColName),
    ("json_object", ColName),
    ("json_objectagg", ColName),
    ("json_query", ColName),
    ("json_scalar", ColName),
    ("json_serialize", ColName),
    ("json_table", ColName),
    ("json_value", ColName),
    ("lateral", Reserved),
    ("leading", Reserved),
    ("least", ColName),
    ("left", TypeFuncName),
    ("like", TypeFuncName),
    ("limit", Reserved),
    ("localtime", Reserved),
    ("localtimestamp", Reserved),
    ("merge_action", ColName),
    ("national", ColName),
    ("natural", TypeFuncName),
    ("nchar", ColName),
    ("none", ColName),
    ("normalize", ColName),
    ("not", Reserved),
    ("notnull", TypeFuncName),
    ("null", Reserved),
    ("nullif", ColName),
    ("numeric", ColName),
    ("offset", Reserved),
    ("on", Reserved),
    ("only", Reserved),
    ("or", Reserved),
    ("order", Reserved),
    ("out", ColName),
    ("outer", TypeFuncName),
    ("overlaps", TypeFuncName),
    ("overlay", ColName),
    ("placing", Reserved),
    ("position", ColName),
    ("precision", ColName),
    ("primary", Reserved),
    ("real", ColName),
    ("references", Reserved),
    ("returning", Reserved),
    ("right", TypeFuncName),
    ("row", ColName),
    ("select", Reserved),
    ("session_user", Reserved),
    ("setof", ColName),
    ("similar", TypeFuncName),
    ("smallint", ColName),
    ("some", Reserved),
    ("substring", ColName),
    ("symmetric", Reserved),
    ("system_user", Reserved),
    ("table", Reserved),
    ("tablesample", TypeFuncName),
    ("then", Reserved),
    ("time", ColName),
    ("timestamp", ColName),
    ("to", Reserved),
    ("trailing", Reserved),
    ("treat", ColName),
    ("trim", ColName),
    ("true", Reserved),
    ("union", Reserved),
    ("unique", Reserved),
    ("user", Reserved),
    ("using", Reserved),
    ("values", ColName),
    ("varchar", ColName),
    ("variadic", Reserved),
    ("verbose", TypeFuncName),
    ("when", Reserved),
    ("where", Reserved),
    ("window", Reserved),
    ("with", Reserved),
    ("xmlattributes", ColName),
    ("xmlconcat", ColName),
    ("xmlelement", ColName),
    ("xmlexists", ColName),
    ("xmlforest", ColName),
    ("xmlnamespaces", ColName),
    ("xmlparse", ColName),
    ("xmlpi", ColName),
    ("xmlroot", ColName),
    ("xmlserialize", ColName),
    ("xmltable", ColName),
];

/// The category of `word` if it is a keyword that is not unreserved. `word` is
/// compared as written: pass it in lower case (keywords are).
pub fn keyword_category(word: &str) -> Option<KeywordCategory> {
    KEYWORDS
        .binary_search_by(|(k, _)| (*k).cmp(word))
        .ok()
        .map(|i| KEYWORDS[i].1)
}

/// PostgreSQL's `quote_identifier`: `ident` bare when it is lower-case letters,
/// digits and `_`, does not start with a digit and is not a keyword other than an
/// unreserved one; otherwise in double quotes, inner double quotes doubled.
pub fn quote_identifier(ident: &str) -> String {
    let bytes = ident.as_bytes();
    let safe = bytes
        .first()
        .is_some_and(|&b| b.is_ascii_lowercase() || b == b'_')
        && bytes
            .iter()
            .all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && keyword_category(ident).is_none();
    if safe {
        return ident.to_string();
    }
    let mut out = String::with_capacity(ident.len() + 2);
    out.push('"');
    for c in ident.chars() {
        if c == '"' {
            out.push('"');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// PostgreSQL's `quote_literal_cstr`: `'it''s'`; when `s` holds a backslash the
/// literal is written `E'...'` with backslashes doubled, so it reads back the
/// same whatever `standard_conforming_strings` is.
pub fn quote_literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 3);
    if s.contains('\\') {
        out.push('E');
    }
    out.push('\'');
    for c in s.chars() {
        if c == '\'' || c == '\\' {
            out.push(c);
        }
        out.push(c);
    }
    out.push('\'');
    out
}

/// PostgreSQL's `truncate_identifier`: cuts `ident` to at most `NAMEDATALEN - 1`
/// bytes (at a character boundary) and returns the NOTICE PostgreSQL raises
/// then, `42622 identifier "..." will be truncated to "..."`. `None` when it fits.
pub fn truncate_identifier(ident: &mut String) -> Option<PgError> {
    if ident.len() < NAMEDATALEN {
        return None;
    }
    let mut end = NAMEDATALEN - 1;
    while !ident.is_char_boundary(end) {
        end -= 1;
    }
    let notice = PgError {
        code: SqlState::NAME_TOO_LONG,
        ..PgError::notice(format!(
            "identifier \"{ident}\" will be truncated to \"{}\"",
            &ident[..end]
        ))
    };
    ident.truncate(end);
    Some(notice)
}

/// `s` as a JSON string literal appended to `out` (PostgreSQL's
/// `escape_json`: `"`, `\\`, `\b`, `\f`, `\n`, `\r`, `\t` escaped, other
/// control characters as `\u00XX`, everything else as it is).
pub fn quote_json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Severity;

    #[test]
    fn keyword_table_is_sorted_for_binary_search() {
        assert!(KEYWORDS.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(KEYWORDS.len(), 164);
    }

    #[test]
    fn quotes_like_postgresql() {
        // type/function-name, column-name and reserved keywords are quoted
        assert_eq!(quote_identifier("left"), "\"left\"");
        assert_eq!(quote_identifier("join"), "\"join\"");
        assert_eq!(quote_identifier("between"), "\"between\"");
        assert_eq!(quote_identifier("int"), "\"int\"");
        assert_eq!(quote_identifier("select"), "\"select\"");
        assert_eq!(quote_identifier("json_table"), "\"json_table\"");
        // unreserved keywords and plain names are not
        assert_eq!(quote_identifier("abort"), "abort");
        assert_eq!(quote_identifier("name"), "name");
        assert_eq!(quote_identifier("_x"), "_x");
        assert_eq!(quote_identifier("a1_b"), "a1_b");
        // anything that would not read back as itself is
        assert_eq!(quote_identifier("Foo"), "\"Foo\"");
        assert_eq!(quote_identifier("a\"b"), "\"a\"\"b\"");
        assert_eq!(quote_identifier("1a"), "\"1a\"");
        assert_eq!(quote_identifier("a$b"), "\"a$b\"");
        assert_eq!(quote_identifier("ä"), "\"ä\"");
        assert_eq!(quote_identifier(""), "\"\"");
    }

    #[test]
    fn keyword_categories() {
        assert_eq!(
            keyword_category("left"),
            Some(KeywordCategory::TypeFuncName)
        );
        assert_eq!(keyword_category("between"), Some(KeywordCategory::ColName));
        assert_eq!(keyword_category("select"), Some(KeywordCategory::Reserved));
        assert_eq!(keyword_category("abort"), None);
        assert_eq!(keyword_category("foo"), None);
    }

    #[test]
    fn quotes_literals_like_postgresql() {
        assert_eq!(quote_literal("it's"), "'it''s'");
        assert_eq!(quote_literal(""), "''");
        assert_eq!(quote_literal("a\\b'c"), "E'a\\\\b''c'");
    }

    #[test]
    fn truncates_long_identifiers_with_a_notice() {
        let mut short = "a".repeat(63);
        assert!(truncate_identifier(&mut short).is_none());
        assert_eq!(short.len(), 63);

        let mut long = "b".repeat(70);
        let notice = truncate_identifier(&mut long).unwrap();
        assert_eq!(long, "b".repeat(63));
        assert_eq!(notice.severity, Severity::Notice);
        assert_eq!(notice.code, SqlState::NAME_TOO_LONG);
        assert_eq!(
            notice.message,
            format!(
                "identifier \"{}\" will be truncated to \"{}\"",
                "b".repeat(70),
                "b".repeat(63)
            )
        );

        // never splits a character: 62 ASCII bytes then a 2-byte 'é'
        let mut multi = format!("{}é", "c".repeat(62));
        assert!(truncate_identifier(&mut multi).is_some());
        assert_eq!(multi, "c".repeat(62));
    }
}
