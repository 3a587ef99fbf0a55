//! The OID alias types `regclass`, `regtype`, `regproc`, `regnamespace`:
//! names ⇄ OIDs through the catalog.
//!
//! A `Value` of these types is a `Value::Oid`. Turning a name into an OID (and
//! back, for output) needs the catalog, so the context-free `cast`/`text_out`
//! only handle numbers; callers with an `ExecContext` use [`cast_in_context`] and
//! [`text_out_typed`]. Names follow SQL identifier rules: unquoted parts fold to
//! lower case, `"Quoted"` parts keep their case, `schema.name` qualifies.
//! Relations are looked up in `public` then `pg_catalog` (the search path);
//! `information_schema` must be named. Corresponds to PostgreSQL's
//! `utils/adt/regproc.c`.

use tandem_storage::Catalog;
use tandem_types::{DataType, PgError, PgResult, SqlState, Value};

use crate::cast::{cast, is_string_type};
use crate::catalog;
use crate::io_text::{text_out, type_by_name_in, type_by_oid_in};
use crate::ExecContext;

/// Splits `a.b` / `"A".b` into (schema, name) with identifier case folding.
pub fn parse_qualified(text: &str) -> (Option<String>, String) {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut chars = text.trim().chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                cur.push('"');
            }
            '"' => quoted = !quoted,
            '.' if !quoted => parts.push(std::mem::take(&mut cur)),
            c if quoted => cur.push(c),
            c => cur.extend(c.to_lowercase()),
        }
    }
    parts.push(cur);
    let name = parts.pop().unwrap_or_default();
    (parts.pop(), name)
}

/// What kind of relation an OID names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RelKind {
    Table,
    Index,
    Sequence,
    View,
}

/// The relation called `text` (a table, sequence, primary-key index or
/// system view) and its kind.
/// An unqualified name is looked up along `path` (the session's
/// `search_path`, [`session_search_path`]), then in `pg_catalog`.
pub fn lookup_relation(text: &str, cat: &Catalog, path: &[String]) -> Option<(u32, RelKind)> {
    let (schema, name) = parse_qualified(text);
    let schemas: Vec<&str> = match &schema {
        Some(s) => vec![s.as_str()],
        None => path
            .iter()
            .map(String::as_str)
            .chain(std::iter::once("pg_catalog"))
            .collect(),
    };
    for s in schemas {
        if let Some(t) = cat.table_by_name(s, &name) {
            return Some((t.oid.0, RelKind::Table));
        }
        if let Some(q) = cat.sequence_by_name(s, &name) {
            return Some((q.oid.0, RelKind::Sequence));
        }
        if let Some(i) = catalog::index_views(cat)
            .iter()
            .find(|i| i.table.schema == s && i.name == name)
        {
            return Some((i.oid, RelKind::Index));
        }
        if let Some(v) = cat.view_by_name(s, &name) {
            return Some((v.oid.0, RelKind::View));
        }
        if let Some(v) = catalog::view_by_name(s, &name) {
            return Some((v.oid, RelKind::View));
        }
    }
    None
}

/// The schemas of the session's `search_path`, in order. Read for every
/// statement bound, so the parsed list is kept per thread for as long as
/// the setting (the same shared value) and the role stay.
pub fn session_search_path(ctx: &ExecContext<'_>) -> std::sync::Arc<[String]> {
    type Cached = (std::sync::Arc<str>, String, std::sync::Arc<[String]>);
    thread_local! {
        static LAST: std::cell::RefCell<Option<Cached>> = const { std::cell::RefCell::new(None) };
    }
    let setting = ctx.config.get_shared_str("search_path");
    LAST.with(|last| {
        let mut last = last.borrow_mut();
        if let Some((s, user, path)) = last.as_ref() {
            if std::sync::Arc::ptr_eq(s, &setting) && *user == ctx.session.user {
                return path.clone();
            }
        }
        let path: std::sync::Arc<[String]> =
            tandem_storage::parse_search_path(&setting, &ctx.session.user).into();
        *last = Some((setting, ctx.session.user.clone(), path.clone()));
        path
    })
}

/// `42P01 relation "x" does not exist`.
pub fn undefined_relation(name: &str) -> PgError {
    PgError::new(
        SqlState::UNDEFINED_TABLE,
        format!("relation \"{name}\" does not exist"),
    )
}

/// The name `regclass` output prints for `oid`: unqualified when its name
/// alone finds it along `path` (the session's `search_path`; without one,
/// in `public` and `pg_catalog`), or `None` if no relation has it.
pub fn regclass_name(oid: u32, cat: &Catalog, path: Option<&[String]>) -> Option<String> {
    let (schema, name) = relation_names(oid, cat)?;
    let q = tandem_types::ident::quote_identifier(&name);
    if relation_visible(oid, &schema, &q, cat, path) {
        Some(q)
    } else {
        Some(format!(
            "{}.{q}",
            tandem_types::ident::quote_identifier(&schema)
        ))
    }
}

/// The schema and name of relation `oid`.
fn relation_names(oid: u32, cat: &Catalog) -> Option<(String, String)> {
    let o = tandem_types::Oid(oid);
    if let Some(t) = cat.tables.get(&o) {
        Some((t.schema.clone(), t.name.clone()))
    } else if let Some(s) = cat.sequences.get(&o) {
        Some((s.schema.clone(), s.name.clone()))
    } else if let Some(v) = cat.views.get(&o) {
        Some((v.schema.clone(), v.name.clone()))
    } else if let Some(i) = catalog::index_views(cat).iter().find(|i| i.oid == oid) {
        Some((i.table.schema.clone(), i.name.to_string()))
    } else {
        catalog::view_by_oid(oid).map(|v| (v.schema.to_string(), v.name.to_string()))
    }
}

/// Whether relation `oid` (in `schema`, its name quoted as `quoted`) is
/// found by its name alone along `path` (PostgreSQL's
/// `RelationIsVisible`); without a path, whether it is in `public` or
/// `pg_catalog`.
fn relation_visible(
    oid: u32,
    schema: &str,
    quoted: &str,
    cat: &Catalog,
    path: Option<&[String]>,
) -> bool {
    match path {
        Some(path) => {
            schema == "pg_catalog"
                || lookup_relation(quoted, cat, path).is_some_and(|(found, _)| found == oid)
        }
        None => schema == "public" || schema == "pg_catalog",
    }
}

/// `pg_table_is_visible(oid)` along `path`.
pub fn table_is_visible(oid: u32, cat: &Catalog, path: &[String]) -> bool {
    relation_names(oid, cat).is_some_and(|(schema, name)| {
        let q = tandem_types::ident::quote_identifier(&name);
        relation_visible(oid, &schema, &q, cat, Some(path))
    })
}

/// `format_type`-style name of a type OID for `regtype` output.
pub fn regtype_name(oid: u32, cat: &Catalog, path: Option<&[String]>) -> Option<String> {
    type_by_oid_in(oid, cat).map(|t| type_display(&t, cat, path))
}

/// A type's name as `format_type` prints it: an enum type (or an array of
/// one) by its name alone where `path` (a `search_path`) finds it so,
/// else schema-qualified (without a path: qualified outside `public`).
pub fn type_display(ty: &DataType, cat: &Catalog, path: Option<&[String]>) -> String {
    let visible = |t: &tandem_types::EnumType| {
        path.is_some_and(|p| {
            cat.lookup_type(p, None, &t.name)
                .is_some_and(|f| f.oid == t.oid)
        })
    };
    let quoted = tandem_types::ident::quote_identifier;
    match ty {
        DataType::Enum(t) if visible(t) => quoted(&t.name),
        DataType::Array(e) => match &**e {
            DataType::Enum(t) if visible(t) => format!("{}[]", quoted(&t.name)),
            _ => ty.display_name(),
        },
        _ => ty.display_name(),
    }
}

/// Casts with catalog access: names to `regclass`/`regtype`/`regproc` and OID
/// alias values to text by name; everything else as [`cast`].
pub fn cast_in_context(
    value: Value,
    from: &DataType,
    to: &DataType,
    ctx: &ExecContext<'_>,
) -> PgResult<Value> {
    match (&value, to) {
        (Value::Text(s), DataType::RegClass) if !s.trim().bytes().all(|b| b.is_ascii_digit()) => {
            let cat = ctx.txn.catalog();
            lookup_relation(s, &cat, &session_search_path(ctx))
                .map(|(oid, _)| Value::Oid(oid))
                .ok_or_else(|| undefined_relation(s))
        }
        (Value::Text(s), DataType::RegType) if !s.trim().bytes().all(|b| b.is_ascii_digit()) => {
            let cat = ctx.txn.catalog();
            type_by_name_in(s, &cat, &session_search_path(ctx))
                .map(|t| Value::Oid(t.oid()))
                .ok_or_else(|| {
                    PgError::new(
                        SqlState::UNDEFINED_OBJECT,
                        format!("type \"{s}\" does not exist"),
                    )
                })
        }
        (Value::Oid(o), t)
            if is_string_type(t)
                && matches!(
                    from,
                    DataType::RegClass | DataType::RegType | DataType::RegNamespace
                ) =>
        {
            let mut s = String::new();
            text_out_typed(&Value::Oid(*o), from, ctx, &mut s);
            cast(Value::Text(s), to)
        }
        _ => cast(value, to),
    }
}

/// What OID `oid` of alias type `ty` prints as: the relation's, type's or
/// schema's name, `-` for 0, the number when nothing has that OID.
pub fn reg_name(oid: u32, ty: &DataType, cat: &Catalog, path: Option<&[String]>) -> String {
    let name = match ty {
        _ if oid == 0 => Some("-".to_string()),
        DataType::RegClass => regclass_name(oid, cat, path),
        DataType::RegType => regtype_name(oid, cat, path),
        DataType::RegNamespace => {
            catalog::namespace_name(cat, oid).map(|n| tandem_types::ident::quote_identifier(&n))
        }
        _ => None,
    };
    name.unwrap_or_else(|| oid.to_string())
}

/// Text output knowing the column type: `regclass`/`regtype` print names.
pub fn text_out_typed(value: &Value, ty: &DataType, ctx: &ExecContext<'_>, out: &mut String) {
    match (value, ty) {
        (Value::Oid(0), DataType::RegProc) => out.push('-'),
        (Value::Oid(o), DataType::RegClass | DataType::RegType | DataType::RegNamespace) => {
            let path = session_search_path(ctx);
            out.push_str(&reg_name(*o, ty, &ctx.txn.catalog(), Some(&path)))
        }
        _ => text_out(value, out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qualified_names_fold_case_like_identifiers() {
        assert_eq!(parse_qualified("Foo"), (None, "foo".to_string()));
        assert_eq!(
            parse_qualified("public.\"MyTab\""),
            (Some("public".to_string()), "MyTab".to_string())
        );
        assert_eq!(parse_qualified("\"a.b\""), (None, "a.b".to_string()));
        assert_eq!(
            parse_qualified("pg_catalog.pg_class"),
            (Some("pg_catalog".to_string()), "pg_class".to_string())
        );
    }

    #[test]
    fn regtype_names() {
        let cat = Catalog::default();
        assert_eq!(regtype_name(23, &cat, None).as_deref(), Some("integer"));
        assert_eq!(
            regtype_name(1043, &cat, None).as_deref(),
            Some("character varying")
        );
        assert_eq!(regtype_name(1007, &cat, None).as_deref(), Some("integer[]"));
    }
}
