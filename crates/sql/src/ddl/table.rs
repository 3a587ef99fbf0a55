//! CREATE TABLE, ALTER TABLE, DROP TABLE, TRUNCATE (PostgreSQL's
//! `commands/tablecmds.c`, `parser/parse_utilcmd.c` for serial expansion).
//!
//! Column defaults are stored as SQL text and evaluated by whoever inserts.
//! `serial` columns expand as in PostgreSQL: an owned sequence `t_col_seq`, NOT
//! NULL, `DEFAULT nextval('t_col_seq'::regclass)`. UNIQUE constraints are
//! indexes (`index.rs`); CHECK and REFERENCES are refused (0A000) rather
//! than accepted unenforced.

use sqlparser::ast::{
    AlterColumnOperation, AlterTable, AlterTableOperation, ColumnDef as AstColumnDef, ColumnOption,
    CreateTable, CreateTableOptions, GeneratedAs, ObjectName, Owner,
    ReplicaIdentity as AstReplicaIdentity, SequenceOptions, TableConstraint, Truncate,
    TruncateIdentityOption,
};
use tandem_expr::ExecContext;
use tandem_storage::{Catalog, ColumnDef, PrimaryKey, ReplicaIdentity, TableDef};
use tandem_types::{DataType, Oid, PgError, PgResult, SqlState, Value};

use super::check::{self, NewCheck};
use super::foreign_key::{self, NewForeignKey};
use super::sequence::{build_def, duplicate_relation, relation_exists, relation_taken};
use super::{skipping, undefined_relation};
use crate::front_parser::SequenceStmt;
use crate::session::Session;
use crate::types::{ident, parse_type_name, parse_type_name_in, relation_name, RelName, Serial};
use tandem_types::ident::quote_identifier;

/// A column being defined, before the table has an oid.
struct NewColumn {
    def: ColumnDef,
    serial: Option<Serial>,
    /// `GENERATED ALWAYS|BY DEFAULT AS IDENTITY [(options)]`: ALWAYS, and
    /// the options of its sequence.
    identity: Option<(bool, SequenceStmt)>,
    primary_key: bool,
    /// `UNIQUE` on the column, with its constraint name if given.
    unique: Option<Option<String>>,
    /// `REFERENCES` on the column.
    references: Vec<NewForeignKey>,
    /// `CHECK` on the column.
    checks: Vec<NewCheck>,
}

fn duplicate_column(name: &str) -> PgError {
    PgError::new(
        SqlState::DUPLICATE_COLUMN,
        format!("column \"{name}\" specified more than once"),
    )
}

fn column_missing(col: &str, table: &str) -> PgError {
    PgError::new(
        SqlState::UNDEFINED_COLUMN,
        format!("column \"{col}\" of relation \"{table}\" does not exist"),
    )
}

fn multiple_pk(table: &str) -> PgError {
    PgError::new(
        SqlState::INVALID_TABLE_DEFINITION,
        format!("multiple primary keys for table \"{table}\" are not allowed"),
    )
}

/// Translates a column definition (type and column constraints).
fn column_from_ast(c: &AstColumnDef, cat: &Catalog, path: &[String]) -> PgResult<NewColumn> {
    let name = ident(&c.name);
    let (data_type, serial) = parse_type_name_in(&c.data_type.to_string(), cat, path)
        .map_err(|e| tandem_query::sqltype::at_type_name(e, &c.data_type))?;
    let mut col = NewColumn {
        def: ColumnDef {
            name,
            data_type,
            not_null: serial.is_some(),
            default: None,
            dropped: false,
        },
        serial,
        identity: None,
        primary_key: false,
        unique: None,
        references: Vec::new(),
        checks: Vec::new(),
    };
    for opt in &c.options {
        match &opt.option {
            ColumnOption::NotNull => col.def.not_null = true,
            ColumnOption::Null => {
                if col.serial.is_some() {
                    return Err(PgError::syntax(format!(
                        "conflicting NULL/NOT NULL declarations for column \"{}\" of table",
                        col.def.name
                    )));
                }
                col.def.not_null = false
            }
            ColumnOption::Default(e) => {
                if col.serial.is_some() {
                    return Err(PgError::syntax(format!(
                        "multiple default values specified for column \"{}\"",
                        col.def.name
                    )));
                }
                col.def.default = Some(stored_default(e, &col.def.data_type));
            }
            ColumnOption::PrimaryKey(_) => {
                col.primary_key = true;
                col.def.not_null = true;
            }
            ColumnOption::Unique(u) => {
                if u.characteristics.is_some() {
                    return Err(PgError::unsupported("deferrable constraints"));
                }
                col.unique = Some(opt.name.as_ref().map(ident));
            }
            ColumnOption::Check(c) => col
                .checks
                .push(check::new_check(opt.name.as_ref().map(ident), &c.expr)),
            ColumnOption::ForeignKey(fk) => {
                let name = opt.name.as_ref().map(ident);
                let fk = foreign_key::from_ast(fk, name, Some(&col.def.name))?;
                col.references.push(fk);
            }
            ColumnOption::Generated {
                generated_as,
                sequence_options,
                generation_expr: None,
                ..
            } => {
                let always = match generated_as {
                    GeneratedAs::Always => true,
                    GeneratedAs::ByDefault => false,
                    GeneratedAs::ExpStored => {
                        return Err(PgError::unsupported("generated columns"))
                    }
                };
                if !matches!(
                    col.def.data_type,
                    DataType::Int2 | DataType::Int4 | DataType::Int8
                ) {
                    return Err(PgError::new(
                        SqlState::INVALID_PARAMETER_VALUE,
                        "identity column type must be smallint, integer, or bigint",
                    ));
                }
                let opts = identity_options(sequence_options.as_deref().unwrap_or(&[]))?;
                col.identity = Some((always, opts));
                col.def.not_null = true;
            }
            ColumnOption::Generated { .. } => {
                return Err(PgError::unsupported("generated columns"))
            }
            ColumnOption::Identity(_) => return Err(PgError::unsupported("this form of IDENTITY")),
            ColumnOption::Collation(_) => return Err(PgError::unsupported("COLLATE")),
            other => return Err(PgError::unsupported(format!("column option {other}"))),
        }
    }
    Ok(col)
}

/// A column default as PostgreSQL's `pg_get_expr` prints it back: a
/// quoted literal (also one cast to a type) of a non-numeric type with its
/// cast (`'anon'::text`), of a numeric or boolean type bare (`5`), a
/// negative number quoted with its cast (`'-1'::integer`); other
/// expressions as written.
fn stored_default(e: &sqlparser::ast::Expr, ty: &tandem_types::DataType) -> String {
    use sqlparser::ast::{Expr as E, UnaryOperator, Value as V};
    use tandem_types::DataType as T;
    if let E::Cast {
        expr, data_type, ..
    } = e
    {
        let literal =
            matches!(expr.as_ref(), E::Value(v) if matches!(v.value, V::SingleQuotedString(_)));
        if let (true, Ok((cast_to, None))) = (literal, parse_type_name(&data_type.to_string())) {
            return stored_default(expr, &cast_to);
        }
    }
    let numeric = matches!(
        ty,
        T::Int2 | T::Int4 | T::Int8 | T::Numeric(_) | T::Float4 | T::Float8
    );
    let cast_name = || match ty {
        T::Bpchar(_) => "bpchar".to_string(),
        T::Varchar(_) => "character varying".to_string(),
        T::Numeric(_) => "numeric".to_string(),
        t => t.display_name(),
    };
    let quoted = |s: &str| format!("'{}'::{}", s.replace('\'', "''"), cast_name());
    match e {
        E::Value(v) => match &v.value {
            V::SingleQuotedString(s) if numeric || *ty == T::Bool => s.trim().to_string(),
            V::SingleQuotedString(s) => quoted(s),
            _ => e.to_string(),
        },
        E::UnaryOp {
            op: UnaryOperator::Minus,
            expr,
        } if numeric => match expr.as_ref() {
            E::Value(v) => match &v.value {
                V::Number(n, _) => quoted(&format!("-{n}")),
                _ => e.to_string(),
            },
            _ => e.to_string(),
        },
        _ => lower_cast_types(&e.to_string()),
    }
}

/// An expression's text with the type names of its `::` casts in lower
/// case, as PostgreSQL prints them (sqlparser prints `'s'::REGCLASS`);
/// string literals and quoted names stay as they are.
fn lower_cast_types(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut quote: Option<char> = None;
    let mut lower = false;
    let mut prev = '\0';
    for c in text.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '\'' || c == '"' => quote = Some(c),
            None if prev == ':' && c == ':' => lower = true,
            None if lower && !(c.is_ascii_alphanumeric() || c == '_') => lower = false,
            None => {}
        }
        out.push(if lower && quote.is_none() {
            c.to_ascii_lowercase()
        } else {
            c
        });
        prev = c;
    }
    out
}

/// The name and column names of a UNIQUE table constraint.
fn unique_constraint(
    u: &sqlparser::ast::UniqueConstraint,
) -> PgResult<(Option<String>, Vec<String>)> {
    if u.characteristics.is_some() {
        return Err(PgError::unsupported("deferrable constraints"));
    }
    if !u.include.is_empty() {
        return Err(PgError::unsupported("INCLUDE"));
    }
    Ok((
        u.name.as_ref().map(ident),
        super::index::index_column_names(&u.columns)?,
    ))
}

/// Column names of a PRIMARY KEY constraint.
fn pk_columns(pk: &sqlparser::ast::PrimaryKeyConstraint) -> PgResult<Vec<String>> {
    pk.columns
        .iter()
        .map(|c| match &c.column.expr {
            sqlparser::ast::Expr::Identifier(i) => Ok(ident(i)),
            other => Err(PgError::syntax(format!(
                "syntax error at or near \"{other}\""
            ))),
        })
        .collect()
}

/// The sequence options of an identity column (`START WITH 100 ...`).
fn identity_options(opts: &[SequenceOptions]) -> PgResult<SequenceStmt> {
    let int = |e: &sqlparser::ast::Expr| -> PgResult<i64> {
        let text = e.to_string().replace(' ', "");
        text.parse::<i64>()
            .map_err(|_| PgError::syntax(format!("syntax error at or near \"{text}\"")))
    };
    let mut out = SequenceStmt::default();
    for o in opts {
        match o {
            SequenceOptions::IncrementBy(e, _) => out.increment = Some(int(e)?),
            SequenceOptions::MinValue(e) => out.min_value = Some(e.as_ref().map(int).transpose()?),
            SequenceOptions::MaxValue(e) => out.max_value = Some(e.as_ref().map(int).transpose()?),
            SequenceOptions::StartWith(e, _) => out.start = Some(int(e)?),
            SequenceOptions::Cache(e) => out.cache = Some(int(e)?),
            SequenceOptions::Cycle(c) => out.cycle = Some(!*c),
        }
    }
    Ok(out)
}

/// Creates the owned sequences of serial and identity columns (each with
/// its options) of table `table` and sets their defaults.
fn create_serial_sequences(
    ctx: &mut ExecContext<'_>,
    schema: &str,
    table: &str,
    table_oid: Oid,
    cols: &mut [ColumnDef],
    serials: &[(usize, SequenceStmt)],
) -> PgResult<()> {
    for (pos, opts) in serials {
        let pos = *pos;
        let col = &mut cols[pos];
        let mut seq_name = format!("{table}_{}_seq", col.name);
        let mut n = 0;
        while relation_exists(ctx, schema, &seq_name) {
            n += 1;
            seq_name = format!("{table}_{}_seq{n}", col.name);
        }
        let oid = ctx.txn.allocate_oid();
        let mut def = build_def(
            oid,
            &seq_name,
            col.data_type.clone(),
            opts,
            Some((table_oid, pos)),
        )?;
        def.schema = schema.to_string();
        ctx.txn.put_sequence(def)?;
        // regclass's text of the sequence: qualified outside public
        let seq = if schema == "public" {
            quote_identifier(&seq_name)
        } else {
            format!(
                "{}.{}",
                quote_identifier(schema),
                quote_identifier(&seq_name)
            )
        };
        col.default = Some(format!("nextval('{}'::regclass)", seq.replace('\'', "''")));
    }
    Ok(())
}

pub(crate) fn create(s: &mut Session, ct: &CreateTable) -> PgResult<String> {
    s.check_writable("CREATE TABLE")?;
    if ct.query.is_some() {
        return Err(PgError::unsupported("CREATE TABLE AS"));
    }
    if ct.like.is_some() || ct.clone.is_some() || ct.inherits.is_some() || ct.partition_by.is_some()
    {
        return Err(PgError::unsupported("this form of CREATE TABLE"));
    }
    if ct.temporary {
        return Err(PgError::unsupported("temporary tables"));
    }
    match &ct.table_options {
        CreateTableOptions::None | CreateTableOptions::With(_) => {}
        _ => return Err(PgError::unsupported("this form of CREATE TABLE")),
    }
    let rel = relation_name(&ct.name)?;
    let name = rel.name.clone();
    let (cat, path) = s.with_ctx(&[], |ctx| {
        Ok((
            ctx.txn.catalog(),
            tandem_expr::reg::session_search_path(ctx),
        ))
    })?;
    let mut cols: Vec<NewColumn> = ct
        .columns
        .iter()
        .map(|c| column_from_ast(c, &cat, &path))
        .collect::<PgResult<_>>()?;
    for (i, c) in cols.iter().enumerate() {
        if cols[..i].iter().any(|o| o.def.name == c.def.name) {
            return Err(duplicate_column(&c.def.name));
        }
    }
    let mut pk: Option<(Option<String>, Vec<usize>)> = None;
    // the columns' REFERENCES, then the table's FOREIGN KEYs
    let mut references: Vec<NewForeignKey> = cols
        .iter_mut()
        .flat_map(|c| std::mem::take(&mut c.references))
        .collect();
    // the columns' CHECKs, then the table's
    let mut checks: Vec<NewCheck> = cols
        .iter_mut()
        .flat_map(|c| std::mem::take(&mut c.checks))
        .collect();
    // UNIQUE constraints in the order PostgreSQL makes their indexes:
    // the columns', then the table's
    let mut uniques: Vec<(Option<String>, Vec<String>)> = cols
        .iter()
        .filter_map(|c| Some((c.unique.clone()?, vec![c.def.name.clone()])))
        .collect();
    for (i, c) in cols.iter().enumerate() {
        if c.primary_key {
            if pk.is_some() {
                return Err(multiple_pk(&name));
            }
            pk = Some((None, vec![i]));
        }
    }
    for con in &ct.constraints {
        match con {
            TableConstraint::PrimaryKey(p) => {
                if pk.is_some() {
                    return Err(multiple_pk(&name));
                }
                let mut positions = Vec::new();
                for cname in pk_columns(p)? {
                    let pos = cols
                        .iter()
                        .position(|c| c.def.name == cname)
                        .ok_or_else(|| {
                            PgError::new(
                                SqlState::UNDEFINED_COLUMN,
                                format!("column \"{cname}\" named in key does not exist"),
                            )
                        })?;
                    cols[pos].def.not_null = true;
                    positions.push(pos);
                }
                pk = Some((p.name.as_ref().map(ident), positions));
            }
            TableConstraint::Unique(u) => uniques.push(unique_constraint(u)?),
            TableConstraint::Check(c) => {
                checks.push(check::new_check(c.name.as_ref().map(ident), &c.expr))
            }
            TableConstraint::ForeignKey(fk) => {
                references.push(foreign_key::from_ast(fk, None, None)?)
            }
            _ => return Err(PgError::unsupported("this table constraint")),
        }
    }
    let serials: Vec<(usize, SequenceStmt)> = cols
        .iter()
        .enumerate()
        .filter_map(|(i, c)| {
            let serial = c.serial.map(|k| SequenceStmt {
                max_value: Some(Some(k.max_value())),
                ..Default::default()
            });
            Some((
                i,
                serial.or_else(|| c.identity.as_ref().map(|(_, o)| o.clone()))?,
            ))
        })
        .collect();
    let identities: Vec<(usize, bool)> = cols
        .iter()
        .enumerate()
        .filter_map(|(i, c)| Some((i, c.identity.as_ref()?.0)))
        .collect();
    let if_not_exists = ct.if_not_exists;
    s.with_ctx(&[], |ctx| {
        let schema = rel.create_in(ctx)?;
        if relation_taken(ctx, &schema, &name, if_not_exists)? {
            return Ok(());
        }
        super::enum_type::check_row_type_free(ctx, &schema, &name)?;
        let oid = ctx.txn.allocate_oid();
        let mut columns: Vec<ColumnDef> = cols.into_iter().map(|c| c.def).collect();
        create_serial_sequences(ctx, &schema, &name, oid, &mut columns, &serials)?;
        let def = TableDef {
            oid,
            schema,
            name: name.clone(),
            columns,
            primary_key: pk.map(|(n, columns)| PrimaryKey {
                name: n.unwrap_or_else(|| format!("{name}_pkey")),
                columns,
            }),
            replica_identity: ReplicaIdentity::Default,
            owner: Oid(ctx.session.user_oid),
        };
        ctx.txn.put_table(def.clone(), None)?;
        for &(column, always) in &identities {
            ctx.txn.set_identity(oid, column, Some(always))?;
        }
        for (name, columns) in &uniques {
            super::index::add_unique(ctx, &def, name.clone(), columns)?;
        }
        for c in &checks {
            check::add(ctx, &def, c, false)?;
        }
        for fk in &references {
            foreign_key::add(ctx, &def, fk)?;
        }
        Ok(())
    })?;
    Ok("CREATE TABLE".into())
}

/// The table definition by name, or 42P01.
fn lookup(ctx: &ExecContext<'_>, name: &RelName) -> PgResult<TableDef> {
    match name.table(ctx) {
        Some(t) => Ok((*t).clone()),
        None if name.view(ctx).is_some() => Err(PgError::new(
            SqlState::WRONG_OBJECT_TYPE,
            format!("\"{}\" is not a table", name.name),
        )),
        None => Err(undefined_relation(&name.shown())),
    }
}

fn has_rows(ctx: &ExecContext<'_>, table: Oid, col: Option<usize>) -> PgResult<bool> {
    let mut found = false;
    ctx.txn.scan(table, &mut |_, row| {
        let hit = match col {
            None => true,
            Some(c) => row.get(c).is_none_or(Value::is_null),
        };
        if hit {
            found = true;
        }
        Ok(!hit)
    })?;
    Ok(found)
}

pub(crate) fn alter(s: &mut Session, at: &AlterTable) -> PgResult<String> {
    s.check_writable("ALTER TABLE")?;
    let name = relation_name(&at.name)?;
    let if_exists = at.if_exists;
    s.with_ctx(&[], |ctx| {
        if if_exists && name.table(ctx).is_none() {
            ctx.notices.push(skipping(
                SqlState::SUCCESSFUL_COMPLETION,
                format!("relation \"{}\" does not exist, skipping", name.shown()),
            ));
            return Ok(());
        }
        for op in &at.operations {
            alter_one(ctx, &name, op)?;
        }
        Ok(())
    })?;
    Ok("ALTER TABLE".into())
}

fn find_column(def: &TableDef, col: &str) -> Option<usize> {
    def.columns.iter().position(|c| !c.dropped && c.name == col)
}

/// The position of live column `col` of `def`, else `42703 column "c" of
/// relation "t" does not exist`.
pub(crate) fn column_of(def: &TableDef, col: &str) -> PgResult<usize> {
    find_column(def, col).ok_or_else(|| {
        PgError::new(
            SqlState::UNDEFINED_COLUMN,
            format!(
                "column \"{col}\" of relation \"{}\" does not exist",
                def.name
            ),
        )
    })
}

/// Refuses with `must be owner of table t` unless the acting role owns the
/// table (or is a superuser).
pub(crate) fn check_owner(ctx: &ExecContext<'_>, def: &TableDef) -> PgResult<()> {
    let cat = ctx.txn.catalog();
    if cat.owns_table(def.oid, Oid(ctx.session.user_oid)) {
        return Ok(());
    }
    Err(tandem_storage::acl::must_be_owner_of_table(&def.name))
}

/// The session's user must have the privileges of `owner`, the owner of
/// view `name` (`42501 must be owner of view x`).
pub(crate) fn check_owner_of(ctx: &ExecContext<'_>, owner: Oid, name: &str) -> PgResult<()> {
    if ctx
        .txn
        .catalog()
        .has_privs_of_role(Oid(ctx.session.user_oid), owner)
    {
        return Ok(());
    }
    Err(PgError::new(
        SqlState::INSUFFICIENT_PRIVILEGE,
        format!("must be owner of view {name}"),
    ))
}

/// `ALTER TABLE t OWNER TO r` (`ATExecChangeOwner`): a non-superuser must own
/// the table and be able to SET ROLE to the new owner; the ACL follows.
/// `REPLICA IDENTITY USING INDEX name`: a unique index of the table over
/// NOT NULL columns (its primary key's included), with PostgreSQL's errors.
fn identity_index(ctx: &ExecContext<'_>, def: &TableDef, name: &str) -> PgResult<ReplicaIdentity> {
    let cat = ctx.txn.catalog();
    let (oid, columns, unique) = match (&def.primary_key, cat.index_by_name("public", name)) {
        (Some(pk), _) if pk.name == name => (
            Oid(tandem_expr::catalog::pkey_index_oid(def.oid.0)),
            pk.columns.clone(),
            true,
        ),
        (_, Some(idx)) if idx.table == def.oid => (idx.oid, idx.columns.clone(), idx.unique),
        (_, found) => {
            let other_pk = cat
                .tables
                .values()
                .any(|t| t.primary_key.as_ref().is_some_and(|pk| pk.name == name));
            if found.is_some() || other_pk {
                return Err(PgError::new(
                    SqlState::WRONG_OBJECT_TYPE,
                    format!("\"{name}\" is not an index for table \"{}\"", def.name),
                ));
            }
            return Err(PgError::new(
                SqlState::UNDEFINED_OBJECT,
                format!("index \"{name}\" for table \"{}\" does not exist", def.name),
            ));
        }
    };
    if !unique {
        return Err(PgError::new(
            SqlState::WRONG_OBJECT_TYPE,
            format!("cannot use non-unique index \"{name}\" as replica identity"),
        ));
    }
    if let Some(col) = columns
        .iter()
        .map(|&c| &def.columns[c])
        .find(|c| !c.not_null)
    {
        return Err(PgError::new(
            SqlState::WRONG_OBJECT_TYPE,
            format!(
                "index \"{name}\" cannot be used as replica identity because column \"{}\" is nullable",
                col.name
            ),
        ));
    }
    if columns.iter().any(|&c| c >= 64) {
        return Err(PgError::unsupported(
            "REPLICA IDENTITY USING INDEX over a column past the 64th",
        ));
    }
    Ok(ReplicaIdentity::Index {
        index: oid,
        columns: columns.iter().fold(0, |m, &c| m | 1 << c),
    })
}

fn change_owner(ctx: &mut ExecContext<'_>, mut def: TableDef, owner: &Owner) -> PgResult<()> {
    let cat = ctx.txn.catalog();
    let me = Oid(ctx.session.user_oid);
    let new_owner = match owner {
        Owner::Ident(i) => super::grant::role_oid(&cat, &ident(i))?,
        Owner::CurrentRole | Owner::CurrentUser | Owner::SessionUser => me,
    };
    if def.owner == new_owner {
        return Ok(());
    }
    super::check_can_set_role(&cat, me, new_owner)?;
    if let Some(acl) = cat.acls.get(&def.oid) {
        let acl = tandem_storage::acl::acl_new_owner(acl, def.owner, new_owner);
        ctx.txn.set_acl(def.oid, Some(acl))?;
    }
    def.owner = new_owner;
    ctx.txn.put_table(def, None)
}

/// `ALTER TABLE table DROP COLUMN column` (DROP TYPE ... CASCADE).
pub(crate) fn drop_column(
    ctx: &mut ExecContext<'_>,
    table: &TableDef,
    column: &str,
) -> PgResult<()> {
    let table = RelName {
        schema: Some(table.schema.clone()),
        name: table.name.clone(),
        at: None,
    };
    let op = AlterTableOperation::DropColumn {
        has_column_keyword: true,
        column_names: vec![sqlparser::ast::Ident::with_quote('"', column)],
        if_exists: false,
        drop_behavior: None,
    };
    alter_one(ctx, &table, &op)
}

fn alter_one(ctx: &mut ExecContext<'_>, rel: &RelName, op: &AlterTableOperation) -> PgResult<()> {
    let mut def = lookup(ctx, rel)?;
    let table = rel.name.as_str();
    check_owner(ctx, &def)?;
    match op {
        AlterTableOperation::OwnerTo { new_owner } => change_owner(ctx, def, new_owner),
        AlterTableOperation::AddColumn {
            if_not_exists,
            column_def,
            ..
        } => {
            let col = column_from_ast(
                column_def,
                &ctx.txn.catalog(),
                &tandem_expr::reg::session_search_path(ctx),
            )?;
            if find_column(&def, &col.def.name).is_some() {
                if *if_not_exists {
                    ctx.notices.push(skipping(
                        SqlState::DUPLICATE_COLUMN,
                        format!(
                            "column \"{}\" of relation \"{table}\" already exists, skipping",
                            col.def.name
                        ),
                    ));
                    return Ok(());
                }
                return Err(PgError::new(
                    SqlState::DUPLICATE_COLUMN,
                    format!(
                        "column \"{}\" of relation \"{table}\" already exists",
                        col.def.name
                    ),
                ));
            }
            if col.serial.is_some() || col.identity.is_some() {
                return Err(PgError::unsupported("adding a serial or identity column"));
            }
            if col.primary_key {
                return Err(PgError::unsupported("ADD COLUMN ... PRIMARY KEY"));
            }
            let fill = match &col.def.default {
                Some(d) => Some(tandem_query::eval_expr_text(
                    d,
                    Some(&col.def.data_type),
                    ctx,
                )?),
                None => None,
            };
            if col.def.not_null
                && fill.as_ref().is_none_or(Value::is_null)
                && has_rows(ctx, def.oid, None)?
            {
                return Err(PgError::new(
                    SqlState::NOT_NULL_VIOLATION,
                    format!(
                        "column \"{}\" of relation \"{table}\" contains null values",
                        col.def.name
                    ),
                ));
            }
            def.columns.push(col.def);
            ctx.txn.put_table(def, fill)?;
            if !col.references.is_empty() || !col.checks.is_empty() {
                let def = lookup(ctx, rel)?;
                for c in &col.checks {
                    check::add(ctx, &def, c, true)?;
                }
                for fk in &col.references {
                    foreign_key::add(ctx, &def, fk)?;
                }
            }
            Ok(())
        }
        AlterTableOperation::DropColumn {
            column_names,
            if_exists,
            ..
        } => {
            for cname in column_names.iter().map(ident) {
                let Some(pos) = find_column(&def, &cname) else {
                    if *if_exists {
                        ctx.notices.push(skipping(
                            SqlState::SUCCESSFUL_COMPLETION,
                            format!("column \"{cname}\" of relation \"{table}\" does not exist, skipping"),
                        ));
                        continue;
                    }
                    return Err(column_missing(&cname, table));
                };
                if def
                    .primary_key
                    .as_ref()
                    .is_some_and(|pk| pk.columns.contains(&pos))
                {
                    return Err(PgError::unsupported("dropping a primary key column"));
                }
                foreign_key::drop_column(ctx, &def, pos)?;
                check::drop_column(ctx, &def, pos)?;
                if ctx.txn.catalog().identity(def.oid, pos).is_some() {
                    ctx.txn.set_identity(def.oid, pos, None)?;
                }
                let commented = (def.oid, super::comment::PG_CLASS, pos as i32 + 1);
                if ctx.txn.catalog().comments.contains_key(&commented) {
                    ctx.txn
                        .set_comment(def.oid, commented.1, commented.2, None)?;
                }
                super::index::drop_covering(ctx, def.oid, pos)?;
                def.columns[pos].dropped = true;
                def.columns[pos].not_null = false;
                def.columns[pos].default = None;
                def.columns[pos].name = format!("........pg.dropped.{}........", pos + 1);
                drop_owned_sequences(ctx, def.oid, Some(pos))?;
            }
            ctx.txn.put_table(def, None)
        }
        AlterTableOperation::AddConstraint { constraint, .. } => match constraint {
            TableConstraint::PrimaryKey(p) => {
                if def.primary_key.is_some() {
                    return Err(multiple_pk(table));
                }
                let mut positions = Vec::new();
                for cname in pk_columns(p)? {
                    let pos = find_column(&def, &cname).ok_or_else(|| {
                        PgError::new(
                            SqlState::UNDEFINED_COLUMN,
                            format!("column \"{cname}\" of relation \"{table}\" does not exist"),
                        )
                    })?;
                    positions.push(pos);
                }
                let pk = PrimaryKey {
                    name: p
                        .name
                        .as_ref()
                        .map(ident)
                        .unwrap_or_else(|| format!("{table}_pkey")),
                    columns: positions.clone(),
                };
                ctx.txn.add_primary_key(def.oid, pk)?;
                let mut def = lookup(ctx, rel)?;
                if positions.iter().any(|&p| !def.columns[p].not_null) {
                    for p in positions {
                        def.columns[p].not_null = true;
                    }
                    ctx.txn.put_table(def, None)?;
                }
                Ok(())
            }
            TableConstraint::Unique(u) => {
                let (name, columns) = unique_constraint(u)?;
                super::index::add_unique(ctx, &def, name, &columns)
            }
            TableConstraint::Check(c) => {
                let c = check::new_check(c.name.as_ref().map(ident), &c.expr);
                check::add(ctx, &def, &c, true)
            }
            TableConstraint::ForeignKey(fk) => {
                let fk = foreign_key::from_ast(fk, None, None)?;
                foreign_key::add(ctx, &def, &fk)
            }
            _ => Err(PgError::unsupported("this table constraint")),
        },
        AlterTableOperation::DropConstraint {
            if_exists, name, ..
        } => {
            let name = ident(name);
            if def.primary_key.as_ref().is_some_and(|pk| pk.name == name) {
                return Err(PgError::unsupported("dropping a primary key"));
            }
            if super::index::drop_unique(ctx, &def, &name)?
                || foreign_key::drop_named(ctx, &def, &name)?
            {
                return Ok(());
            }
            let message = format!("constraint \"{name}\" of relation \"{table}\" does not exist");
            if *if_exists {
                ctx.notices.push(skipping(
                    SqlState::SUCCESSFUL_COMPLETION,
                    format!("{message}, skipping"),
                ));
                return Ok(());
            }
            Err(PgError::new(SqlState::UNDEFINED_OBJECT, message))
        }
        AlterTableOperation::AlterColumn { column_name, op } => {
            let cname = ident(column_name);
            let pos = find_column(&def, &cname).ok_or_else(|| column_missing(&cname, table))?;
            match op {
                AlterColumnOperation::SetNotNull => {
                    if !def.columns[pos].not_null && has_rows(ctx, def.oid, Some(pos))? {
                        return Err(PgError::new(
                            SqlState::NOT_NULL_VIOLATION,
                            format!(
                                "column \"{cname}\" of relation \"{table}\" contains null values"
                            ),
                        ));
                    }
                    def.columns[pos].not_null = true;
                }
                AlterColumnOperation::DropNotNull => {
                    if def
                        .primary_key
                        .as_ref()
                        .is_some_and(|pk| pk.columns.contains(&pos))
                    {
                        return Err(PgError::new(
                            SqlState::INVALID_TABLE_DEFINITION,
                            format!("column \"{cname}\" is in a primary key"),
                        ));
                    }
                    def.columns[pos].not_null = false;
                }
                AlterColumnOperation::SetDefault { value } => {
                    def.columns[pos].default =
                        Some(stored_default(value, &def.columns[pos].data_type))
                }
                AlterColumnOperation::DropDefault => def.columns[pos].default = None,
                AlterColumnOperation::SetDataType {
                    data_type, using, ..
                } => return retype_column(ctx, def, pos, data_type, using.as_ref()),
                AlterColumnOperation::AddGenerated { .. } => {
                    return Err(PgError::unsupported("identity columns"))
                }
            }
            ctx.txn.put_table(def, None)
        }
        AlterTableOperation::ReplicaIdentity { identity } => {
            def.replica_identity = match identity {
                AstReplicaIdentity::Default => ReplicaIdentity::Default,
                AstReplicaIdentity::Full => ReplicaIdentity::Full,
                AstReplicaIdentity::Nothing => ReplicaIdentity::Nothing,
                AstReplicaIdentity::Index(name) => identity_index(ctx, &def, &ident(name))?,
            };
            ctx.txn.put_table(def, None)
        }
        AlterTableOperation::RenameColumn {
            old_column_name,
            new_column_name,
        } => {
            let old = ident(old_column_name);
            let new = ident(new_column_name);
            let pos = find_column(&def, &old).ok_or_else(|| column_missing(&old, table))?;
            if find_column(&def, &new).is_some() {
                return Err(PgError::new(
                    SqlState::DUPLICATE_COLUMN,
                    format!("column \"{new}\" of relation \"{table}\" already exists"),
                ));
            }
            check::rename_column(ctx, &def, pos, &old, &new)?;
            def.columns[pos].name = new;
            ctx.txn.put_table(def, None)
        }
        AlterTableOperation::RenameTable { table_name } => {
            let new_name = match table_name {
                sqlparser::ast::RenameTableNameKind::To(n)
                | sqlparser::ast::RenameTableNameKind::As(n) => relation_name(n)?.name,
            };
            if relation_exists(ctx, &def.schema, &new_name) {
                return Err(duplicate_relation(&new_name));
            }
            def.name = new_name;
            ctx.txn.put_table(def, None)
        }
        other => Err(PgError::unsupported(format!(
            "ALTER TABLE {}",
            op_name(other)
        ))),
    }
}

/// ALTER COLUMN TYPE: column `pos` of `def` becomes a `data_type`, its
/// values converted by `using` (or as an assignment casts them). What
/// reads as the new type with the rows as they are
/// (`tandem_storage::catalog::reads_as`) changes the catalog alone; any
/// other change reads every row (the table watched: a commit of another
/// that writes it meanwhile fails this one with 40001), converts it, checks
/// the table's CHECK constraints against it, and rewrites the rows whose
/// value changed ([`tandem_storage::mvcc::Transaction::rewrite_row`]: an
/// UPDATE that decoding skips, as PostgreSQL decodes nothing of a rewrite).
fn retype_column(
    ctx: &mut ExecContext<'_>,
    mut def: TableDef,
    pos: usize,
    data_type: &sqlparser::ast::DataType,
    using: Option<&sqlparser::ast::Expr>,
) -> PgResult<()> {
    use tandem_storage::catalog::{keeps_values, reads_as};
    let cat = ctx.txn.catalog();
    let path = tandem_expr::reg::session_search_path(ctx);
    let (new, serial) = parse_type_name_in(&data_type.to_string(), &cat, &path)?;
    if serial.is_some() {
        return Err(PgError::new(
            SqlState::UNDEFINED_OBJECT,
            format!(
                "type \"{}\" does not exist",
                data_type.to_string().to_lowercase()
            ),
        ));
    }
    let cname = def.columns[pos].name.clone();
    check_no_view_uses(&cat, &def, &cname)?;
    let old = def.columns[pos].data_type.clone();
    // `USING column` is the column as an assignment casts it
    let using =
        using.filter(|u| !matches!(u, sqlparser::ast::Expr::Identifier(i) if ident(i) == cname));
    if let Some(sub) = using.and_then(check::first_subquery) {
        return Err(check::at(
            PgError::new(
                SqlState::FEATURE_NOT_SUPPORTED,
                "cannot use subquery in transform expression",
            ),
            sub,
        ));
    }
    let conversion = tandem_query::retype::Conversion::bind(cat.clone(), &def, pos, using, &new)
        .map_err(|e| match (e.code == SqlState::UNDEFINED_COLUMN, using) {
            (true, Some(u)) => match check::unknown_column(u, &def) {
                Some(id) => check::at(e, id),
                None => e,
            },
            _ => e,
        })?;
    if let Some(d) = &def.columns[pos].default {
        tandem_query::retype::check_default(cat.clone(), &def, pos, d, &new)?;
    }
    let keyed = column_is_keyed(&cat, &def, pos);
    let catalog_only = using.is_none()
        && reads_as(&old, &new)
        && (!keyed || keeps_values(&old, &new) || keys_alike(&old, &new));
    if !catalog_only && column_in_foreign_key(&cat, &def, pos) {
        return Err(PgError::unsupported(format!(
            "ALTER COLUMN TYPE from {} to {} of a foreign key column (a table rewrite)",
            old.display_name(),
            new.display_name()
        )));
    }
    if cat.identities.contains_key(&(def.oid, pos as u32)) {
        retype_identity_sequence(ctx, &def, pos, &new)?;
    }
    if catalog_only {
        def.columns[pos].data_type = new;
        return ctx.txn.put_table(def, None);
    }
    ctx.txn.watch_table(def.oid)?;
    let mut retyped = def.clone();
    retyped.columns[pos].data_type = new;
    // the table's CHECK constraints, bound over the new types, must hold
    // for every row (PostgreSQL checks them as it rewrites)
    let checks = tandem_query::checks::RowChecks::for_table(cat, &retyped)?;
    let violated = |e: PgError| {
        let name = e.objects().and_then(|o| o.constraint.clone());
        match (e.code == SqlState::CHECK_VIOLATION, name) {
            (true, Some(name)) => PgError::new(
                SqlState::CHECK_VIOLATION,
                format!(
                    "check constraint \"{name}\" of relation \"{}\" is violated by some row",
                    def.name
                ),
            ),
            _ => e,
        }
    };
    // every row converted as it is read, under the old definition, and
    // written at once when its value changes (the scan goes on after it;
    // the new definition goes in after the last row)
    check::for_each_row(ctx, def.oid, &mut |ctx, key, row| {
        let mut row = row.to_vec();
        let v = conversion.convert(ctx, &row)?;
        if v.is_null() && retyped.columns[pos].not_null {
            return Err(PgError::new(
                SqlState::NOT_NULL_VIOLATION,
                format!(
                    "column \"{}\" of relation \"{}\" contains null values",
                    retyped.columns[pos].name, retyped.name
                ),
            )
            .with_column(&retyped.schema, &retyped.name, &retyped.columns[pos].name));
        }
        let differs = row.get(pos).is_some_and(|old| !stored_alike(old, &v));
        if let Some(slot) = row.get_mut(pos) {
            *slot = v;
        }
        checks.check_in(ctx, &retyped, &row).map_err(violated)?;
        if differs {
            ctx.txn.rewrite_row(retyped.oid, key, row)?;
        }
        Ok(true)
    })?;
    ctx.txn.put_table(retyped, None)
}

/// Whether two values are stored alike (`numeric` equal in value and
/// scale: `1.5` and `1.50` print differently).
fn stored_alike(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Numeric(x), Value::Numeric(y)) => x == y && x.scale() == y.scale(),
        _ => a == b,
    }
}

/// Old and new values of a key column encode alike (integers of any
/// width, `real` and `double precision`): a primary key, index or foreign
/// key over the column keeps finding its rows.
fn keys_alike(old: &DataType, new: &DataType) -> bool {
    use DataType as T;
    matches!(
        (old, new),
        (T::Int2 | T::Int4, T::Int4 | T::Int8) | (T::Float4, T::Float8)
    )
}

/// Whether column `pos` is in the table's primary key, an index of it, or
/// a foreign key from or to it.
fn column_is_keyed(cat: &tandem_storage::Catalog, def: &TableDef, pos: usize) -> bool {
    def.primary_key
        .as_ref()
        .is_some_and(|pk| pk.columns.contains(&pos))
        || cat
            .indexes_of(def.oid)
            .iter()
            .any(|i| i.columns.contains(&pos))
        || column_in_foreign_key(cat, def, pos)
}

/// Whether column `pos` is in a foreign key from or to its table.
fn column_in_foreign_key(cat: &tandem_storage::Catalog, def: &TableDef, pos: usize) -> bool {
    cat.constraints.values().any(|c| {
        c.foreign_key().is_some_and(|fk| {
            (c.table == def.oid && fk.columns.contains(&pos))
                || (fk.ref_table == def.oid && fk.ref_columns.contains(&pos))
        })
    })
}

/// An identity column's sequence takes the column's new integer type (and
/// that type's bounds where it had the old one's), as PostgreSQL's ALTER
/// COLUMN TYPE does.
fn retype_identity_sequence(
    ctx: &mut ExecContext<'_>,
    def: &TableDef,
    pos: usize,
    new: &DataType,
) -> PgResult<()> {
    let cat = ctx.txn.catalog();
    let bounds = |t: &DataType| match t {
        DataType::Int2 => Some((i64::from(i16::MIN), i64::from(i16::MAX))),
        DataType::Int4 => Some((i64::from(i32::MIN), i64::from(i32::MAX))),
        DataType::Int8 => Some((i64::MIN, i64::MAX)),
        _ => None,
    };
    let Some(seq) = cat
        .sequences
        .values()
        .find(|s| s.owned_by == Some((def.oid, pos)))
    else {
        return Ok(());
    };
    let (Some((old_min, old_max)), Some((new_min, new_max))) =
        (bounds(&seq.data_type), bounds(new))
    else {
        return Ok(());
    };
    let mut seq = (**seq).clone();
    seq.data_type = new.clone();
    if seq.max_value == old_max {
        seq.max_value = new_max;
    }
    if seq.min_value == old_min {
        seq.min_value = new_min;
    }
    ctx.txn.put_sequence(seq)
}

/// ALTER COLUMN TYPE is refused while a view reads the column (its `*`
/// reads them all), as PostgreSQL refuses it.
fn check_no_view_uses(cat: &tandem_storage::Catalog, def: &TableDef, column: &str) -> PgResult<()> {
    for v in cat.views_reading(def.oid) {
        if view_reads_column(&v.query, column) {
            return Err(PgError::new(
                SqlState::FEATURE_NOT_SUPPORTED,
                "cannot alter type of a column used by a view or rule",
            )
            .with_detail(format!(
                "rule _RETURN on view {} depends on column \"{column}\"",
                v.name
            )));
        }
    }
    Ok(())
}

/// Whether a view's query text names `column` (an identifier of that
/// name, or a `*`): the words of its query, not a binding of it, so a
/// column of the same name in another table it reads counts too.
fn view_reads_column(query: &str, column: &str) -> bool {
    use super::QueryToken as Q;
    super::query_tokens(query).is_none_or(|tokens| {
        tokens
            .iter()
            .any(|t| matches!(t, Q::Star) || matches!(t, Q::Word(w) if w == column))
    })
}

fn op_name(op: &AlterTableOperation) -> String {
    let text = op.to_string();
    text.split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Drops sequences owned by the table (or by one of its columns).
pub(crate) fn drop_owned_sequences(
    ctx: &mut ExecContext<'_>,
    table: Oid,
    column: Option<usize>,
) -> PgResult<()> {
    let owned: Vec<Oid> = ctx
        .txn
        .catalog()
        .sequences
        .values()
        .filter(|s| {
            s.owned_by
                .is_some_and(|(t, c)| t == table && column.is_none_or(|col| col == c))
        })
        .map(|s| s.oid)
        .collect();
    for oid in owned {
        ctx.txn.drop_sequence(oid)?;
    }
    Ok(())
}

pub(crate) fn drop(
    s: &mut Session,
    names: &[ObjectName],
    if_exists: bool,
    cascade: bool,
) -> PgResult<String> {
    let names = super::drop_names(s, "DROP TABLE", names)?;
    s.with_ctx(&[], |ctx| {
        let mut oids = Vec::new();
        for rel in &names {
            if super::schema_missing(ctx, rel, if_exists)? {
                continue;
            }
            let name = &rel.name;
            match rel.table(ctx) {
                Some(t) => {
                    check_owner(ctx, &t)?;
                    oids.push(t.oid)
                }
                None if rel.view(ctx).is_some() => {
                    return Err(super::view::wrong_kind(&rel.name, "table", "VIEW"))
                }
                None if if_exists => ctx.notices.push(skipping(
                    SqlState::SUCCESSFUL_COMPLETION,
                    format!("table \"{name}\" does not exist, skipping"),
                )),
                None => {
                    return Err(PgError::new(
                        SqlState::UNDEFINED_TABLE,
                        format!("table \"{name}\" does not exist"),
                    ))
                }
            }
        }
        super::view::drop_dependents(ctx, &oids, cascade)?;
        for oid in oids {
            drop_owned_sequences(ctx, oid, None)?;
            ctx.txn.drop_table(oid)?;
        }
        Ok(())
    })?;
    Ok("DROP TABLE".into())
}

pub(crate) fn truncate(s: &mut Session, t: &Truncate) -> PgResult<String> {
    s.check_writable("TRUNCATE TABLE")?;
    let names = t
        .table_names
        .iter()
        .map(|n| relation_name(&n.name))
        .collect::<PgResult<Vec<_>>>()?;
    let restart = matches!(t.identity, Some(TruncateIdentityOption::Restart));
    let cascade = matches!(t.cascade, Some(sqlparser::ast::CascadeOption::Cascade));
    s.with_ctx(&[], |ctx| {
        let cat = ctx.txn.catalog();
        let mut oids = names
            .iter()
            .map(|n| {
                n.table(ctx)
                    .map(|t| t.oid)
                    .ok_or_else(|| undefined_relation(&n.shown()))
            })
            .collect::<PgResult<Vec<_>>>()?;
        foreign_key::truncate_set(ctx, &mut oids, cascade)?;
        let me = Oid(ctx.session.user_oid);
        for &oid in &oids {
            cat.check_table_privileges(oid, me, tandem_storage::acl::TRUNCATE)?;
        }
        // Both flags are logged for decoding (test_decoding prints them).
        ctx.txn.truncate_with(&oids, restart, cascade)?;
        if restart {
            for seq in cat.sequences.values() {
                if seq.owned_by.is_some_and(|(t, _)| oids.contains(&t)) {
                    ctx.db.setval(seq.oid, seq.start, false)?;
                }
            }
        }
        Ok(())
    })?;
    Ok("TRUNCATE TABLE".into())
}

#[cfg(test)]
mod lower_cast_types_tests {
    #[test]
    fn only_cast_type_names_are_lowered() {
        assert_eq!(
            super::lower_cast_types("nextval('S_Seq'::REGCLASS) || 'A::B'::TEXT || \"X\"::INT"),
            "nextval('S_Seq'::regclass) || 'A::B'::text || \"X\"::int"
        );
    }
}
