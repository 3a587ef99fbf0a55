//! `pg_catalog.pg_settings`: the session's effective settings
//! (`SessionConfig::settings_rows`).

use tandem_config::SettingRow;
use tandem_types::{DataType, PgResult, Value};

use super::*;

use DataType as T;

pub static VIEW: View = View {
    schema: "pg_catalog",
    name: "pg_settings",
    oid: 12_003,
    relkind: b'v',
    columns,
    rows,
};

fn columns() -> Vec<(&'static str, DataType)> {
    vec![
        ("name", T::Text),
        ("setting", T::Text),
        ("unit", T::Text),
        ("category", T::Text),
        ("short_desc", T::Text),
        ("extra_desc", T::Text),
        ("context", T::Text),
        ("vartype", T::Text),
        ("source", T::Text),
        ("min_val", T::Text),
        ("max_val", T::Text),
        ("enumvals", T::Array(Box::new(T::Text))),
        ("boot_val", T::Text),
        ("reset_val", T::Text),
        ("sourcefile", T::Text),
        ("sourceline", T::Int4),
        ("pending_restart", T::Bool),
    ]
}

pub fn build(settings: &[SettingRow]) -> Vec<Vec<Value>> {
    settings
        .iter()
        .map(|s| {
            vec![
                text(&s.name),
                text(&s.setting),
                opt_text(s.unit.as_deref()),
                text(&s.category),
                text(&s.short_desc),
                Value::Null,
                text(&s.context),
                text(&s.vartype),
                text(&s.source),
                opt_text(s.min_val.as_deref()),
                opt_text(s.max_val.as_deref()),
                s.enumvals
                    .as_ref()
                    .map(|v| Value::Array(v.iter().map(|e| text(e)).collect()))
                    .unwrap_or(Value::Null),
                text(&s.boot_val),
                text(&s.reset_val),
                Value::Null,
                Value::Null,
                b(s.pending_restart),
            ]
        })
        .collect()
}

fn rows(ctx: &mut ExecContext<'_>) -> PgResult<Vec<Vec<Value>>> {
    Ok(build(&ctx.config.settings_rows()))
}
