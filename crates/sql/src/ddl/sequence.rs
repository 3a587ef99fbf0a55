//! CREATE SEQUENCE / DROP SEQUENCE, and the owned sequences of serial columns
//! (PostgreSQL's `commands/sequence.c`). Values themselves (`nextval`) are the
//! storage layer's; this module validates options and writes definitions.

use sqlparser::ast::ObjectName;
use tandem_expr::ExecContext;
use tandem_storage::SequenceDef;
use tandem_types::{DataType, Oid, PgError, PgResult, SqlState};

use super::{skipping, undefined_relation};
use crate::front_parser::SequenceStmt;
use crate::session::Session;
use crate::types::{front_relation_name, parse_type_name, relation_name, RelName};

fn invalid(msg: String) -> PgError {
    PgError::new(SqlState::INVALID_PARAMETER_VALUE, msg)
}

/// Builds a validated definition from options (PostgreSQL's `init_params`).
pub(crate) fn build_def(
    oid: Oid,
    name: &str,
    data_type: DataType,
    opts: &SequenceStmt,
    owned_by: Option<(Oid, usize)>,
) -> PgResult<SequenceDef> {
    let (type_min, type_max) = match data_type {
        DataType::Int2 => (i16::MIN as i64, i16::MAX as i64),
        DataType::Int4 => (i32::MIN as i64, i32::MAX as i64),
        DataType::Int8 => (i64::MIN, i64::MAX),
        _ => {
            return Err(invalid(
                "sequence type must be smallint, integer, or bigint".into(),
            ))
        }
    };
    let increment = opts.increment.unwrap_or(1);
    if increment == 0 {
        return Err(invalid("INCREMENT must not be zero".into()));
    }
    let max_value = opts
        .max_value
        .flatten()
        .unwrap_or(if increment > 0 { type_max } else { -1 });
    let min_value = opts
        .min_value
        .flatten()
        .unwrap_or(if increment > 0 { 1 } else { type_min });
    let type_name = data_type.display_name();
    if max_value > type_max || max_value < type_min {
        return Err(invalid(format!(
            "MAXVALUE ({max_value}) is out of range for sequence data type {type_name}"
        )));
    }
    if min_value < type_min || min_value > type_max {
        return Err(invalid(format!(
            "MINVALUE ({min_value}) is out of range for sequence data type {type_name}"
        )));
    }
    if min_value >= max_value {
        return Err(invalid(format!(
            "MINVALUE ({min_value}) must be less than MAXVALUE ({max_value})"
        )));
    }
    let start = opts
        .start
        .unwrap_or(if increment > 0 { min_value } else { max_value });
    if start < min_value {
        return Err(invalid(format!(
            "START value ({start}) cannot be less than MINVALUE ({min_value})"
        )));
    }
    if start > max_value {
        return Err(invalid(format!(
            "START value ({start}) cannot be greater than MAXVALUE ({max_value})"
        )));
    }
    let cache = opts.cache.unwrap_or(1);
    if cache < 1 {
        return Err(invalid(format!(
            "CACHE ({cache}) must be greater than zero"
        )));
    }
    Ok(SequenceDef {
        oid,
        schema: "public".into(),
        name: name.to_string(),
        data_type,
        start,
        increment,
        min_value,
        max_value,
        cache,
        cycle: opts.cycle.unwrap_or(false),
        owned_by,
    })
}

/// `42P07 relation "x" already exists`.
pub(crate) fn duplicate_relation(name: &str) -> PgError {
    PgError::new(
        SqlState::DUPLICATE_TABLE,
        format!("relation \"{name}\" already exists"),
    )
}

/// Before creating relation `name`: false when it is free; true (and a
/// `... already exists, skipping` notice) when it is taken and
/// `if_not_exists`; else `42P07`.
pub(crate) fn relation_taken(
    ctx: &mut ExecContext<'_>,
    schema: &str,
    name: &str,
    if_not_exists: bool,
) -> PgResult<bool> {
    if !relation_exists(ctx, schema, name) {
        return Ok(false);
    }
    if !if_not_exists {
        return Err(duplicate_relation(name));
    }
    ctx.notices.push(skipping(
        SqlState::DUPLICATE_TABLE,
        format!("relation \"{name}\" already exists, skipping"),
    ));
    Ok(true)
}

/// Is the name taken in `schema` by any relation (table, view, sequence or
/// index, a primary key's included)?
pub(crate) fn relation_exists(ctx: &ExecContext<'_>, schema: &str, name: &str) -> bool {
    let cat = ctx.txn.catalog();
    cat.relation_exists(schema, name)
        || cat
            .tables
            .values()
            .any(|t| t.schema == schema && t.primary_key.as_ref().is_some_and(|pk| pk.name == name))
}

pub(crate) fn create(s: &mut Session, stmt: &SequenceStmt) -> PgResult<String> {
    s.check_writable("CREATE SEQUENCE")?;
    let rel = front_relation_name(&stmt.name)?;
    let data_type = match &stmt.type_name {
        Some(t) => parse_type_name(t)?.0,
        None => DataType::Int8,
    };
    s.with_ctx(&[], |ctx| {
        let schema = rel.create_in(ctx)?;
        let name = &rel.name;
        if relation_taken(ctx, &schema, name, stmt.if_not_exists)? {
            return Ok(());
        }
        super::enum_type::check_row_type_free(ctx, &schema, name)?;
        let owned_by = resolve_owned_by(ctx, stmt.owned_by.as_ref().and_then(Option::as_ref))?;
        let oid = ctx.txn.allocate_oid();
        let mut def = build_def(oid, name, data_type.clone(), stmt, owned_by)?;
        def.schema = schema;
        ctx.txn.put_sequence(def)
    })?;
    Ok("CREATE SEQUENCE".into())
}

/// `OWNED BY t.c`: the table and column position.
fn resolve_owned_by(
    ctx: &ExecContext<'_>,
    owned_by: Option<&(String, String)>,
) -> PgResult<Option<(Oid, usize)>> {
    let Some((t, c)) = owned_by else {
        return Ok(None);
    };
    let table = front_relation_name(t)?
        .table(ctx)
        .ok_or_else(|| undefined_relation(t))?;
    Ok(Some((table.oid, super::table::column_of(&table, c)?)))
}

/// `ALTER SEQUENCE [IF EXISTS] name option ...` (PostgreSQL's
/// `AlterSequence`): options not given keep their values (MINVALUE and
/// MAXVALUE follow a new type when they were the old type's bounds);
/// `RESTART` sets the counter at once (it is not rolled back, as a
/// `setval()` is not), otherwise the counter stays and must fit the new
/// bounds.
pub(crate) fn alter(s: &mut Session, stmt: &SequenceStmt) -> PgResult<String> {
    s.check_writable("ALTER SEQUENCE")?;
    let rel = front_relation_name(&stmt.name)?;
    s.with_ctx(&[], |ctx| {
        let Some(old) = rel.sequence(ctx) else {
            let name = rel.shown();
            if let Some(kind) = relation_kind_plural(ctx, &rel) {
                return Err(PgError::new(
                    SqlState::WRONG_OBJECT_TYPE,
                    format!("cannot open relation \"{name}\""),
                )
                .with_detail(format!("This operation is not supported for {kind}.")));
            }
            if stmt.if_exists {
                ctx.notices.push(skipping(
                    SqlState::SUCCESSFUL_COMPLETION,
                    format!("relation \"{name}\" does not exist, skipping"),
                ));
                return Ok(());
            }
            return Err(undefined_relation(&stmt.name));
        };
        let data_type = match &stmt.type_name {
            Some(t) => parse_type_name(t)?.0,
            None => old.data_type.clone(),
        };
        let bounds = |t: &DataType| match t {
            DataType::Int2 => (i16::MIN as i64, i16::MAX as i64),
            DataType::Int4 => (i32::MIN as i64, i32::MAX as i64),
            _ => (i64::MIN, i64::MAX),
        };
        // a bound at the old type's limit follows the new type
        let (old_lo, old_hi) = bounds(&old.data_type);
        let retyped = data_type != old.data_type;
        let keep_min = !(retyped && old.min_value == old_lo);
        let keep_max = !(retyped && old.max_value == old_hi);
        let merged = SequenceStmt {
            increment: stmt.increment.or(Some(old.increment)),
            min_value: stmt
                .min_value
                .or_else(|| keep_min.then_some(Some(old.min_value))),
            max_value: stmt
                .max_value
                .or_else(|| keep_max.then_some(Some(old.max_value))),
            start: stmt.start.or(Some(old.start)),
            cache: stmt.cache.or(Some(old.cache)),
            cycle: stmt.cycle.or(Some(old.cycle)),
            ..SequenceStmt::default()
        };
        let owned_by = match &stmt.owned_by {
            None => old.owned_by,
            Some(o) => resolve_owned_by(ctx, o.as_ref())?,
        };
        let mut def = build_def(old.oid, &old.name, data_type, &merged, owned_by)?;
        def.schema = old.schema.clone();
        let restart = match stmt.restart {
            Some(Some(v)) => Some(v),
            Some(None) => Some(def.start),
            None => None,
        };
        let value = match restart {
            Some(v) => v,
            None => ctx
                .db
                .sequence_state(old.oid)
                .map(|(v, _, _)| v)
                .unwrap_or(old.start),
        };
        if value < def.min_value {
            return Err(invalid(format!(
                "RESTART value ({value}) cannot be less than MINVALUE ({})",
                def.min_value
            )));
        }
        if value > def.max_value {
            return Err(invalid(format!(
                "RESTART value ({value}) cannot be greater than MAXVALUE ({})",
                def.max_value
            )));
        }
        let oid = def.oid;
        ctx.txn.put_sequence(def)?;
        if let Some(v) = restart {
            ctx.txn.setval(oid, v, false)?;
        }
        Ok(())
    })?;
    Ok("ALTER SEQUENCE".into())
}

/// What kind of relation other than a sequence `name` is, in the plural
/// PostgreSQL's "not supported for ..." DETAIL uses.
fn relation_kind_plural(ctx: &ExecContext<'_>, name: &RelName) -> Option<&'static str> {
    if name.table(ctx).is_some() {
        Some("tables")
    } else if name.view(ctx).is_some() {
        Some("views")
    } else if name.index(ctx).is_some() {
        Some("indexes")
    } else {
        None
    }
}

pub(crate) fn drop(s: &mut Session, names: &[ObjectName], if_exists: bool) -> PgResult<String> {
    s.check_writable("DROP SEQUENCE")?;
    let names = names
        .iter()
        .map(relation_name)
        .collect::<PgResult<Vec<_>>>()?;
    s.with_ctx(&[], |ctx| {
        for rel in &names {
            if super::schema_missing(ctx, rel, if_exists)? {
                continue;
            }
            let name = &rel.name;
            match rel.sequence(ctx) {
                Some(seq) => {
                    let oid = seq.oid;
                    ctx.txn.drop_sequence(oid)?;
                }
                None if if_exists => ctx.notices.push(skipping(
                    SqlState::SUCCESSFUL_COMPLETION,
                    format!("sequence \"{name}\" does not exist, skipping"),
                )),
                None => {
                    return Err(PgError::new(
                        SqlState::UNDEFINED_TABLE,
                        format!("sequence \"{name}\" does not exist"),
                    ))
                }
            }
        }
        Ok(())
    })?;
    Ok("DROP SEQUENCE".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_defaults_and_checks() {
        let d =
            build_def(Oid(1), "s", DataType::Int8, &SequenceStmt::default(), None).expect("valid");
        assert_eq!(
            (d.start, d.increment, d.min_value, d.max_value, d.cache),
            (1, 1, 1, i64::MAX, 1)
        );
        let desc = SequenceStmt {
            increment: Some(-1),
            ..Default::default()
        };
        let d = build_def(Oid(1), "s", DataType::Int4, &desc, None).expect("valid");
        assert_eq!(
            (d.start, d.min_value, d.max_value),
            (-1, i32::MIN as i64, -1)
        );
        let bad = SequenceStmt {
            start: Some(0),
            ..Default::default()
        };
        let e = build_def(Oid(1), "s", DataType::Int8, &bad, None).unwrap_err();
        assert_eq!(
            e.message,
            "START value (0) cannot be less than MINVALUE (1)"
        );
        let zero = SequenceStmt {
            increment: Some(0),
            ..Default::default()
        };
        assert_eq!(
            build_def(Oid(1), "s", DataType::Int8, &zero, None)
                .unwrap_err()
                .message,
            "INCREMENT must not be zero"
        );
    }
}
