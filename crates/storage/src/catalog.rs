//! The catalog's life cycle: the bootstrap catalog, DDL operations ([`CatalogOp`])
//! and how they change a [`Catalog`], and the history of committed catalogs.
//!
//! The catalog is one immutable value (`Arc<Catalog>`). A DDL transaction takes the
//! global DDL lock, clones the latest committed catalog, applies its operations to
//! the private copy and logs each one; its commit installs the copy as a new
//! version stamped with the commit LSN. Recovery applies the same logged operations
//! with [`apply_op`], so a replayed catalog equals the one that was committed.
//!
//! [`CatalogHistory`] keeps every installed version with its LSN: logical decoding
//! needs a table's definition as of each change (`catalog_at`). Pruning comes with
//! slots (catalog_xmin). PostgreSQL counterparts: the system catalogs
//! (`pg_class`, `pg_attribute`, `pg_authid`, `pg_database`, `pg_sequence`) and the
//! historic snapshots of `snapbuild.c`.

use std::sync::Arc;

use tandem_types::{DataType, Lsn, Oid, Value};

use crate::acl::{add_predefined_roles, AclItem, AuthMember};
use crate::{
    Catalog, ConstraintDef, IndexDef, PrimaryKey, PublicationDef, RoleDef, SequenceDef,
    SubscriptionDef, SubscriptionRelState, TableDef, ViewDef,
};

/// The first OID handed to user objects (PostgreSQL's `FirstNormalObjectId`).
pub const FIRST_NORMAL_OID: u32 = 16384;
/// The bootstrap superuser (PostgreSQL's `BOOTSTRAP_SUPERUSERID`).
pub const BOOTSTRAP_SUPERUSER_OID: Oid = Oid(10);
/// `postgres`, `template1`, `template0` as initdb creates them.
pub const POSTGRES_DB_OID: Oid = Oid(5);
pub const TEMPLATE1_DB_OID: Oid = Oid(1);
pub const TEMPLATE0_DB_OID: Oid = Oid(4);

/// A database (`pg_database` row).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DatabaseDef {
    pub oid: Oid,
    pub name: String,
    pub owner: Oid,
    pub is_template: bool,
    pub allow_connections: bool,
}

/// One logged DDL step.
#[derive(Clone, Debug, PartialEq)]
pub enum CatalogOp {
    /// Create or replace a table; columns beyond the previous definition's read as
    /// `fill` in rows written before (PostgreSQL's `attmissingval`).
    PutTable {
        def: TableDef,
        fill: Option<Value>,
    },
    DropTable(Oid),
    /// ALTER TABLE ADD PRIMARY KEY: sets the key (and NOT NULL on its columns) and
    /// re-keys the table's rows.
    AddPrimaryKey {
        table: Oid,
        pk: PrimaryKey,
    },
    PutRole(RoleDef),
    DropRole(Oid),
    PutSequence(SequenceDef),
    DropSequence(Oid),
    PutDatabase(DatabaseDef),
    DropDatabase(Oid),
    /// Create or replace a publication (`pg_publication` and its `pg_publication_rel`).
    PutPublication(PublicationDef),
    DropPublication(Oid),
    /// Create or replace a subscription (`pg_subscription` and, whole, its
    /// `pg_subscription_rel` rows).
    PutSubscription(SubscriptionDef),
    DropSubscription(Oid),
    /// Insert or update one `pg_subscription_rel` row (the apply worker's
    /// table-sync state changes; transactional like any catalog op).
    PutSubscriptionRel {
        subscription: Oid,
        rel: SubscriptionRelState,
    },
    /// Remove one `pg_subscription_rel` row.
    DropSubscriptionRel {
        subscription: Oid,
        relid: Oid,
    },
    /// Record the publisher a multi-host subscription streams from.
    PutSubscriptionFollowed {
        subscription: Oid,
        followed: crate::FollowedPublisher,
    },
    /// Create a replication origin (`pg_replication_origin` row).
    PutOrigin {
        id: u16,
        name: String,
    },
    /// Drop a replication origin (its progress goes with it).
    DropOrigin(u16),
    /// Set an object's ACL (`pg_class.relacl`, `pg_database.datacl`; `None`:
    /// back to the default ACL). OIDs are unique across object kinds.
    SetAcl {
        object: Oid,
        acl: Option<Vec<AclItem>>,
    },
    /// Insert or update one `pg_auth_members` row.
    PutAuthMember(AuthMember),
    /// Remove one `pg_auth_members` row.
    DropAuthMember(Oid),
    /// Create a secondary index (its entries follow as the index
    /// relation's rows).
    PutIndex(IndexDef),
    /// Drop a secondary index (its entries go with it).
    DropIndex(Oid),
    /// Create a foreign key or CHECK constraint.
    PutConstraint(ConstraintDef),
    /// Drop a foreign key or CHECK constraint.
    DropConstraint(Oid),
    /// Create or replace a view.
    PutView(ViewDef),
    /// Drop a view.
    DropView(Oid),
    /// Create an enum type, or give it more labels (ALTER TYPE ... ADD
    /// VALUE): the columns of its type see the new labels.
    PutType(tandem_types::EnumType),
    /// Drop an enum type.
    DropType(Oid),
    /// CREATE SCHEMA, or a schema's new owner.
    PutSchema(crate::SchemaDef),
    /// DROP SCHEMA.
    DropSchema(Oid),
    /// Make column `column` of `table` an identity column (`always`:
    /// GENERATED ALWAYS), or (`None`) an ordinary one again.
    SetIdentity {
        table: Oid,
        column: u32,
        always: Option<bool>,
    },
    /// `COMMENT ON`: set (or with `None` remove) the comment of an object
    /// (`class`: the catalog oid of its kind; `sub`: a column number or 0).
    SetComment {
        object: Oid,
        class: u32,
        sub: i32,
        text: Option<String>,
    },
}

/// Whether `ty` is (an array of) the enum type `oid`.
pub fn uses_type(ty: &tandem_types::DataType, oid: u32) -> bool {
    use tandem_types::DataType;
    match ty {
        DataType::Enum(t) => t.oid == oid,
        DataType::Array(e) => uses_type(e, oid),
        _ => false,
    }
}

/// Points `ty`, if it is (an array of) enum type `t`, at `t`'s labels.
fn refresh_type(ty: &mut tandem_types::DataType, t: &Arc<tandem_types::EnumType>) {
    use tandem_types::DataType;
    match ty {
        DataType::Enum(old) if old.oid == t.oid => *old = t.clone(),
        DataType::Array(e) => refresh_type(e, t),
        _ => {}
    }
}

/// The catalog initdb creates.
pub fn bootstrap_catalog(superuser: &str, password: Option<String>) -> Catalog {
    let mut cat = Catalog::default();
    cat.roles.insert(
        BOOTSTRAP_SUPERUSER_OID,
        RoleDef {
            oid: BOOTSTRAP_SUPERUSER_OID,
            name: superuser.to_string(),
            superuser: true,
            inherit: true,
            createrole: true,
            createdb: true,
            login: true,
            replication: true,
            bypassrls: true,
            connection_limit: -1,
            password,
        },
    );
    add_predefined_roles(&mut cat);
    for (oid, name, is_template, allow) in [
        (TEMPLATE1_DB_OID, "template1", true, true),
        (TEMPLATE0_DB_OID, "template0", true, false),
        (POSTGRES_DB_OID, "postgres", false, true),
    ] {
        cat.databases.insert(
            oid,
            DatabaseDef {
                oid,
                name: name.to_string(),
                owner: BOOTSTRAP_SUPERUSER_OID,
                is_template,
                allow_connections: allow,
            },
        );
    }
    cat
}

/// Applies one DDL step to a catalog (live DDL and recovery alike).
pub fn apply_op(cat: &mut Catalog, op: &CatalogOp) {
    match op {
        CatalogOp::PutTable { def, fill } => {
            let old_len = cat.tables.get(&def.oid).map(|t| t.columns.len());
            if let Some(old_len) = old_len {
                if def.columns.len() > old_len {
                    if let Some(fill) = fill.as_ref().filter(|v| !v.is_null()) {
                        let missing = cat.missing_values.entry(def.oid).or_default();
                        missing.resize(def.columns.len(), Value::Null);
                        for slot in missing.iter_mut().skip(old_len) {
                            *slot = fill.clone();
                        }
                    }
                }
            } else {
                cat.missing_values.remove(&def.oid);
            }
            cat.tables.insert(def.oid, Arc::new(def.clone()));
        }
        CatalogOp::DropTable(oid) => {
            cat.tables.remove(oid);
            cat.indexes.retain(|_, i| i.table != *oid);
            cat.constraints.retain(|_, c| {
                c.table != *oid && c.foreign_key().is_none_or(|fk| fk.ref_table != *oid)
            });
            cat.missing_values.remove(oid);
            cat.identities.retain(|(t, _), _| t != oid);
            cat.comments.retain(|(o, _, _), _| o != oid);
            cat.acls.remove(oid);
            // A dropped table leaves every publication (its pg_publication_rel
            // rows go with it, as in PostgreSQL).
            for p in cat.publications.values_mut() {
                p.tables.remove(oid);
            }
            for sub in cat.subscriptions.values_mut() {
                sub.relations.remove(oid);
            }
        }
        CatalogOp::AddPrimaryKey { table, pk } => {
            if let Some(t) = cat.tables.get(table) {
                let mut def = (**t).clone();
                for &c in &pk.columns {
                    if let Some(col) = def.columns.get_mut(c) {
                        col.not_null = true;
                    }
                }
                def.primary_key = Some(pk.clone());
                cat.tables.insert(*table, Arc::new(def));
            }
        }
        CatalogOp::PutIndex(i) => {
            cat.indexes.insert(i.oid, Arc::new(i.clone()));
        }
        CatalogOp::DropIndex(oid) => {
            cat.indexes.remove(oid);
            cat.comments.retain(|(o, _, _), _| o != oid);
        }
        CatalogOp::PutConstraint(c) => {
            cat.constraints.insert(c.oid, Arc::new(c.clone()));
        }
        CatalogOp::DropConstraint(oid) => {
            cat.constraints.remove(oid);
        }
        CatalogOp::PutView(v) => {
            cat.views.insert(v.oid, Arc::new(v.clone()));
        }
        CatalogOp::PutType(t) => {
            let t = Arc::new(t.clone());
            for def in cat.tables.values_mut() {
                if def.columns.iter().any(|c| uses_type(&c.data_type, t.oid)) {
                    let mut new = (**def).clone();
                    for c in &mut new.columns {
                        refresh_type(&mut c.data_type, &t);
                    }
                    *def = Arc::new(new);
                }
            }
            cat.types.insert(Oid(t.oid), t);
        }
        CatalogOp::DropType(oid) => {
            cat.types.remove(oid);
        }
        CatalogOp::PutSchema(s) => {
            cat.schemas.insert(s.oid, s.clone());
        }
        CatalogOp::DropSchema(oid) => {
            cat.schemas.remove(oid);
            cat.acls.remove(oid);
            cat.comments.retain(|(o, _, _), _| o != oid);
        }
        CatalogOp::DropView(oid) => {
            cat.views.remove(oid);
            cat.acls.remove(oid);
            cat.comments.retain(|(o, _, _), _| o != oid);
        }
        CatalogOp::SetComment {
            object,
            class,
            sub,
            text,
        } => match text {
            Some(t) => {
                cat.comments.insert((*object, *class, *sub), t.clone());
            }
            None => {
                cat.comments.remove(&(*object, *class, *sub));
            }
        },
        CatalogOp::SetIdentity {
            table,
            column,
            always,
        } => match always {
            Some(a) => {
                cat.identities.insert((*table, *column), *a);
            }
            None => {
                cat.identities.remove(&(*table, *column));
            }
        },
        CatalogOp::PutRole(r) => {
            cat.roles.insert(r.oid, r.clone());
        }
        CatalogOp::DropRole(oid) => {
            cat.roles.remove(oid);
            // Its memberships, both ways, go with it (as DROP ROLE does).
            cat.auth_members
                .retain(|_, m| m.role != *oid && m.member != *oid);
        }
        CatalogOp::PutSequence(s) => {
            cat.sequences.insert(s.oid, Arc::new(s.clone()));
        }
        CatalogOp::DropSequence(oid) => {
            cat.sequences.remove(oid);
            cat.comments.retain(|(o, _, _), _| o != oid);
        }
        CatalogOp::PutDatabase(d) => {
            cat.databases.insert(d.oid, d.clone());
        }
        CatalogOp::DropDatabase(oid) => {
            cat.databases.remove(oid);
            cat.acls.remove(oid);
        }
        CatalogOp::PutPublication(p) => {
            cat.publications.insert(p.oid, p.clone());
        }
        CatalogOp::DropPublication(oid) => {
            cat.publications.remove(oid);
        }
        CatalogOp::PutSubscription(sub) => {
            // A new connection string forgets the publisher followed: what
            // the subscription applies from now on may come from another
            // timeline (a single host, say), and a record kept for a later
            // return to the old string would judge hosts by a stale one.
            if cat
                .subscriptions
                .get(&sub.oid)
                .is_some_and(|old| old.conninfo != sub.conninfo)
            {
                cat.subscription_followed.remove(&sub.oid);
            }
            cat.subscriptions.insert(sub.oid, sub.clone());
        }
        CatalogOp::DropSubscription(oid) => {
            cat.subscriptions.remove(oid);
            cat.subscription_followed.remove(oid);
        }
        CatalogOp::PutSubscriptionFollowed {
            subscription,
            followed,
        } => {
            if cat.subscriptions.contains_key(subscription) {
                cat.subscription_followed
                    .insert(*subscription, followed.clone());
            }
        }
        CatalogOp::PutSubscriptionRel { subscription, rel } => {
            if let Some(sub) = cat.subscriptions.get_mut(subscription) {
                sub.relations.insert(rel.relid, rel.clone());
            }
        }
        CatalogOp::DropSubscriptionRel {
            subscription,
            relid,
        } => {
            if let Some(sub) = cat.subscriptions.get_mut(subscription) {
                sub.relations.remove(relid);
            }
        }
        CatalogOp::PutOrigin { id, name } => {
            cat.origins.insert(*id, name.clone());
        }
        CatalogOp::DropOrigin(id) => {
            cat.origins.remove(id);
        }
        CatalogOp::SetAcl { object, acl } => match acl {
            Some(acl) => {
                cat.acls.insert(*object, acl.clone());
            }
            None => {
                cat.acls.remove(object);
            }
        },
        CatalogOp::PutAuthMember(m) => {
            cat.auth_members.insert(m.oid, m.clone());
        }
        CatalogOp::DropAuthMember(oid) => {
            cat.auth_members.remove(oid);
        }
    }
}

/// The highest OID a step names (recovery keeps the OID counter above it;
/// origins have no OID: 0).
pub fn op_oid(op: &CatalogOp) -> Oid {
    match op {
        CatalogOp::PutOrigin { .. } | CatalogOp::DropOrigin(_) => Oid(0),
        CatalogOp::PutTable { def, .. } => def.oid,
        CatalogOp::DropTable(o)
        | CatalogOp::DropRole(o)
        | CatalogOp::DropSequence(o)
        | CatalogOp::DropDatabase(o)
        | CatalogOp::DropPublication(o)
        | CatalogOp::DropSubscription(o)
        | CatalogOp::DropAuthMember(o)
        | CatalogOp::DropIndex(o)
        | CatalogOp::DropConstraint(o)
        | CatalogOp::DropView(o)
        | CatalogOp::DropType(o)
        | CatalogOp::DropSchema(o) => *o,
        CatalogOp::PutType(t) => Oid(t.oid),
        CatalogOp::PutSchema(s) => s.oid,
        CatalogOp::PutView(v) => v.oid,
        CatalogOp::SetIdentity { table, .. } => *table,
        CatalogOp::SetComment { object, .. } => *object,
        CatalogOp::PutIndex(i) => i.oid,
        CatalogOp::PutConstraint(c) => c.oid,
        CatalogOp::SetAcl { object, .. } => *object,
        CatalogOp::PutAuthMember(m) => m.oid,
        CatalogOp::PutSubscriptionRel { subscription, .. }
        | CatalogOp::DropSubscriptionRel { subscription, .. }
        | CatalogOp::PutSubscriptionFollowed { subscription, .. } => *subscription,
        CatalogOp::PutSubscription(s) => s.oid,
        CatalogOp::AddPrimaryKey { table, .. } => *table,
        CatalogOp::PutRole(r) => r.oid,
        CatalogOp::PutSequence(s) => s.oid,
        CatalogOp::PutDatabase(d) => d.oid,
        CatalogOp::PutPublication(p) => p.oid,
    }
}

/// Whether every value a column of type `old` holds reads as a value of
/// type `new` with the rows left as they are: values [`keeps_values`]
/// keeps, or exact conversions [`conform_value`] makes when a row is read
/// (an integer to a wider integer, `numeric` with room for every value,
/// `double precision` or `text`; `real` to `double precision`). ALTER
/// COLUMN TYPE changes only the catalog for these, and a writer that built
/// its rows for `old` may still commit them; any other change rewrites the
/// rows, and such a writer fails at commit
/// (`Database::check_index_writes`).
pub fn reads_as(old: &DataType, new: &DataType) -> bool {
    use DataType as T;
    // digits of the largest value of each integer type
    let digits = |t: &DataType| match t {
        T::Int2 => Some(5),
        T::Int4 => Some(10),
        T::Int8 => Some(19),
        _ => None,
    };
    keeps_values(old, new)
        || match (old, new) {
            (T::Int2, T::Int4 | T::Int8 | T::Float8) | (T::Int4, T::Int8 | T::Float8) => true,
            (T::Float4, T::Float8) => true,
            (T::Int2 | T::Int4 | T::Int8, T::Text | T::Varchar(None) | T::Numeric(None)) => true,
            (T::Int2 | T::Int4 | T::Int8, T::Numeric(Some((p, s)))) => {
                digits(old).is_some_and(|d| p.saturating_sub(*s) >= d)
            }
            _ => false,
        }
}

/// Whether every value of type `old` is a value of type `new` as it is
/// stored (PostgreSQL rewrites no table for these either): a longer or
/// unbounded `varchar`, `text` and unbounded `varchar` either way,
/// `numeric` with more digits before the point or unconstrained.
pub fn keeps_values(old: &DataType, new: &DataType) -> bool {
    use DataType as T;
    match (old, new) {
        _ if old == new => true,
        (T::Varchar(_) | T::Text, T::Text | T::Varchar(None)) => true,
        (T::Varchar(Some(a)), T::Varchar(Some(b))) => b >= a,
        (T::Numeric(_), T::Numeric(None)) => true,
        (T::Numeric(Some((p1, s1))), T::Numeric(Some((p2, s2)))) => s1 == s2 && p2 >= p1,
        _ => false,
    }
}

/// Whether `v` was stored under another type than `ty` and reads as a
/// `ty` by [`conform_value`] (cheap: no conversion made).
fn is_stale(v: &Value, ty: &DataType) -> bool {
    use DataType as T;
    matches!(
        (v, ty),
        (
            Value::Int2(_),
            T::Int4 | T::Int8 | T::Numeric(_) | T::Float8 | T::Text | T::Varchar(None)
        ) | (
            Value::Int4(_),
            T::Int8 | T::Numeric(_) | T::Float8 | T::Text | T::Varchar(None)
        ) | (Value::Int8(_), T::Numeric(_) | T::Text | T::Varchar(None))
            | (Value::Float4(_), T::Float8)
    )
}

/// Whether a row of `def` holds a value stored under its column's earlier
/// type (see [`conform_value`]).
pub fn row_is_stale(def: &TableDef, row: &[Value]) -> bool {
    row.iter()
        .zip(&def.columns)
        .any(|(v, c)| is_stale(v, &c.data_type))
}

/// A value stored under a column's earlier type read as its type now: the
/// conversions ALTER COLUMN TYPE makes without rewriting the rows (each is
/// exact and cannot fail; the table keeps the values it has, and a writer
/// that built its rows for the earlier type commits them as they are).
/// `None` when `v` is already a `ty`.
pub fn conform_value(v: &Value, ty: &DataType) -> Option<Value> {
    use DataType as T;
    let int = match v {
        Value::Int2(i) => Some(i64::from(*i)),
        Value::Int4(i) => Some(i64::from(*i)),
        Value::Int8(i) => Some(*i),
        _ => None,
    };
    if !is_stale(v, ty) {
        return None;
    }
    Some(match (v, int, ty) {
        (_, Some(i), T::Int4) => Value::Int4(i32::try_from(i).ok()?),
        (_, Some(i), T::Int8) => Value::Int8(i),
        (_, Some(i), T::Numeric(m)) => {
            let mut d = rust_decimal::Decimal::from(i);
            if let Some((_, scale)) = m {
                d.rescale(*scale);
            }
            Value::Numeric(d)
        }
        (_, Some(i), T::Float8) => Value::Float8(i as f64),
        (_, Some(i), _) => Value::Text(i.to_string()),
        (Value::Float4(f), _, _) => Value::Float8(f64::from(*f)),
        _ => return None,
    })
}

impl Catalog {
    /// A row as the table's definition reads it now, if that differs from
    /// how it was stored: missing trailing columns (written before ADD
    /// COLUMN) read as their fill value, or NULL; a value stored under a
    /// column's earlier type (ALTER COLUMN TYPE converts on read, see
    /// [`conform_value`]) as the column's type now.
    pub fn pad_row(&self, table: Oid, row: &[Value]) -> Option<Vec<Value>> {
        let def = self.tables.get(&table)?;
        let ncols = def.columns.len();
        if row.len() >= ncols && !row_is_stale(def, row) {
            return None;
        }
        let missing = self.missing_values.get(&table);
        let mut out = row.to_vec();
        for i in row.len()..ncols {
            out.push(
                missing
                    .and_then(|m| m.get(i))
                    .cloned()
                    .unwrap_or(Value::Null),
            );
        }
        for (v, c) in out.iter_mut().zip(&def.columns) {
            if let Some(now) = conform_value(v, &c.data_type) {
                *v = now;
            }
        }
        Some(out)
    }

    pub fn database_by_name(&self, name: &str) -> Option<&DatabaseDef> {
        self.databases.values().find(|d| d.name == name)
    }
}

/// Every committed catalog version with the commit LSN that installed it, oldest
/// first. The first entry is stamped `Lsn::INVALID` (valid from the beginning).
pub struct CatalogHistory {
    versions: Vec<(Lsn, Arc<Catalog>)>,
}

impl CatalogHistory {
    pub fn new(initial: Arc<Catalog>) -> CatalogHistory {
        CatalogHistory {
            versions: vec![(Lsn::INVALID, initial)],
        }
    }

    pub fn latest(&self) -> &Arc<Catalog> {
        // Never empty: `new` puts one version in and nothing removes the last.
        &self.versions[self.versions.len() - 1].1
    }

    pub fn install(&mut self, lsn: Lsn, cat: Arc<Catalog>) {
        self.versions.push((lsn, cat));
    }

    /// The catalog as of `lsn`: the last version installed at or before it.
    pub fn at(&self, lsn: Lsn) -> Arc<Catalog> {
        let idx = self.versions.partition_point(|(l, _)| *l <= lsn);
        self.versions[idx.saturating_sub(1)].1.clone()
    }

    /// LSNs at which the catalog changed (for decoding and tests).
    pub fn change_lsns(&self) -> Vec<Lsn> {
        self.versions.iter().map(|(l, _)| *l).collect()
    }

    /// A history whose older versions were kept on disk for logical decoding
    /// (`catalog_file`): `older` (oldest first; the first one is treated as
    /// valid from the beginning) followed by nothing else — their last entry is
    /// the catalog as of the checkpoint. Empty `older` means `new(current)`.
    pub fn with_older(older: Vec<(Lsn, Arc<Catalog>)>, current: Arc<Catalog>) -> CatalogHistory {
        if older.is_empty() {
            return CatalogHistory::new(current);
        }
        let mut versions = older;
        versions[0].0 = Lsn::INVALID;
        CatalogHistory { versions }
    }

    /// The version in force at `lsn` and every later one up to `upto`
    /// (inclusive), oldest first.
    pub fn versions_between(&self, lsn: Lsn, upto: Lsn) -> Vec<(Lsn, Arc<Catalog>)> {
        let first = self
            .versions
            .partition_point(|(l, _)| *l <= lsn)
            .saturating_sub(1);
        self.versions[first..]
            .iter()
            .filter(|(l, _)| *l <= upto)
            .cloned()
            .collect()
    }

    /// Drops versions no longer needed by anything reading at or after `horizon`
    /// (keeps the one in force at `horizon`).
    pub fn prune_before(&mut self, horizon: Lsn) {
        let idx = self.versions.partition_point(|(l, _)| *l <= horizon);
        if idx > 1 {
            self.versions.drain(..idx - 1);
        }
    }
}

/// A sample subscription for unit tests: two `pg_subscription_rel` rows
/// (16384 ready at 0/1000, 16385 init).
#[cfg(test)]
pub(crate) fn test_subscription(oid: u32) -> SubscriptionDef {
    SubscriptionDef {
        oid: Oid(oid),
        database: POSTGRES_DB_OID,
        name: format!("s{oid}"),
        owner: BOOTSTRAP_SUPERUSER_OID,
        enabled: true,
        conninfo: "host=127.0.0.1 port=5432 dbname=postgres".into(),
        slot_name: Some(format!("s{oid}")),
        publications: vec!["p1".into(), "p2".into()],
        binary: false,
        streaming: b'p',
        two_phase: b'd',
        disable_on_error: false,
        failover: true,
        synchronous_commit: "off".into(),
        origin: "any".into(),
        password_required: true,
        run_as_owner: false,
        skip_lsn: Lsn::INVALID,
        relations: [
            SubscriptionRelState {
                relid: Oid(16384),
                state: b'r',
                lsn: Some(Lsn(0x1000)),
            },
            SubscriptionRelState {
                relid: Oid(16385),
                state: b'i',
                lsn: None,
            },
        ]
        .into_iter()
        .map(|r| (r.relid, r))
        .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ColumnDef, ReplicaIdentity};
    use tandem_types::DataType;

    fn table(ncols: usize) -> TableDef {
        TableDef {
            oid: Oid(16384),
            schema: "public".into(),
            name: "t".into(),
            columns: (0..ncols)
                .map(|i| ColumnDef {
                    name: format!("c{i}"),
                    data_type: DataType::Int4,
                    not_null: false,
                    default: None,
                    dropped: false,
                })
                .collect(),
            primary_key: None,
            replica_identity: ReplicaIdentity::Default,
            owner: BOOTSTRAP_SUPERUSER_OID,
        }
    }

    fn publication(oid: u32, tables: &[u32]) -> PublicationDef {
        PublicationDef {
            oid: Oid(oid),
            name: format!("p{oid}"),
            owner: BOOTSTRAP_SUPERUSER_OID,
            all_tables: false,
            pub_insert: true,
            pub_update: true,
            pub_delete: false,
            pub_truncate: true,
            via_root: false,
            tables: tables.iter().map(|&o| Oid(o)).collect(),
        }
    }

    #[test]
    fn publications_put_drop_and_lose_dropped_tables() {
        let mut cat = bootstrap_catalog("alice", None);
        apply_op(
            &mut cat,
            &CatalogOp::PutTable {
                def: table(1),
                fill: None,
            },
        );
        let op = CatalogOp::PutPublication(publication(16390, &[16384, 16385]));
        assert_eq!(op_oid(&op), Oid(16390));
        apply_op(&mut cat, &op);
        apply_op(
            &mut cat,
            &CatalogOp::PutPublication(publication(16391, &[16384])),
        );
        assert_eq!(
            cat.publication_by_name("p16390").map(|p| p.tables.len()),
            Some(2)
        );
        apply_op(&mut cat, &CatalogOp::DropTable(Oid(16384)));
        let left: Vec<Vec<Oid>> = cat
            .publications
            .values()
            .map(|p| p.tables.iter().copied().collect())
            .collect();
        assert_eq!(left, vec![vec![Oid(16385)], vec![]]);
        let drop = CatalogOp::DropPublication(Oid(16391));
        assert_eq!(op_oid(&drop), Oid(16391));
        apply_op(&mut cat, &drop);
        assert!(cat.publication_by_name("p16391").is_none());
        assert!(cat.publication_by_name("p16390").is_some());
    }

    #[test]
    fn subscriptions_put_rel_states_and_drop() {
        let mut cat = bootstrap_catalog("alice", None);
        apply_op(
            &mut cat,
            &CatalogOp::PutTable {
                def: table(1),
                fill: None,
            },
        );
        let sub = test_subscription(16400);
        let op = CatalogOp::PutSubscription(sub.clone());
        assert_eq!(op_oid(&op), Oid(16400));
        apply_op(&mut cat, &op);
        assert_eq!(cat.subscription_by_name("s16400"), Some(&sub));
        let put_rel = CatalogOp::PutSubscriptionRel {
            subscription: Oid(16400),
            rel: SubscriptionRelState {
                relid: Oid(16384),
                state: b'r',
                lsn: Some(Lsn(0x1000)),
            },
        };
        assert_eq!(op_oid(&put_rel), Oid(16400));
        apply_op(&mut cat, &put_rel);
        let states = |cat: &Catalog| -> Vec<(Oid, u8)> {
            cat.subscriptions
                .get(&Oid(16400))
                .map(|s| s.relations.values().map(|r| (r.relid, r.state)).collect())
                .unwrap_or_default()
        };
        assert_eq!(states(&cat), vec![(Oid(16384), b'r'), (Oid(16385), b'i')]);
        apply_op(
            &mut cat,
            &CatalogOp::DropSubscriptionRel {
                subscription: Oid(16400),
                relid: Oid(16385),
            },
        );
        assert_eq!(states(&cat), vec![(Oid(16384), b'r')]);
        // a dropped table leaves pg_subscription_rel too
        apply_op(&mut cat, &CatalogOp::DropTable(Oid(16384)));
        assert_eq!(states(&cat), vec![]);
        // rel-state ops on an unknown subscription change nothing
        apply_op(
            &mut cat,
            &CatalogOp::PutSubscriptionRel {
                subscription: Oid(1),
                rel: SubscriptionRelState {
                    relid: Oid(16384),
                    state: b'i',
                    lsn: None,
                },
            },
        );
        assert_eq!(cat.subscriptions.len(), 1);
        apply_op(&mut cat, &CatalogOp::DropSubscription(Oid(16400)));
        assert!(cat.subscriptions.is_empty());
    }

    #[test]
    fn bootstrap_has_superuser_and_three_databases() {
        let cat = bootstrap_catalog("alice", None);
        assert_eq!(cat.role_by_name("alice").map(|r| r.oid), Some(Oid(10)));
        assert_eq!(
            cat.database_by_name("postgres").map(|d| d.oid),
            Some(Oid(5))
        );
        assert_eq!(cat.databases.len(), 3);
    }

    #[test]
    fn added_column_reads_as_fill_in_old_rows() {
        let mut cat = Catalog::default();
        apply_op(
            &mut cat,
            &CatalogOp::PutTable {
                def: table(1),
                fill: None,
            },
        );
        apply_op(
            &mut cat,
            &CatalogOp::PutTable {
                def: table(2),
                fill: Some(Value::Int4(7)),
            },
        );
        apply_op(
            &mut cat,
            &CatalogOp::PutTable {
                def: table(3),
                fill: None,
            },
        );
        assert_eq!(
            cat.pad_row(Oid(16384), &[Value::Int4(1)]),
            Some(vec![Value::Int4(1), Value::Int4(7), Value::Null])
        );
        assert_eq!(
            cat.pad_row(
                Oid(16384),
                &[Value::Int4(1), Value::Int4(2), Value::Int4(3)]
            ),
            None
        );
    }

    #[test]
    fn values_stored_under_an_earlier_column_type_read_as_the_new_one() {
        let mut cat = Catalog::default();
        let mut def = table(5);
        let types = [
            DataType::Int8,
            DataType::Numeric(Some((12, 2))),
            DataType::Float8,
            DataType::Text,
            DataType::Int4,
        ];
        for (c, t) in def.columns.iter_mut().zip(types) {
            c.data_type = t;
        }
        apply_op(&mut cat, &CatalogOp::PutTable { def, fill: None });
        let stored = [
            Value::Int4(5),
            Value::Int4(-3),
            Value::Float4(0.1),
            Value::Int8(42),
            Value::Int2(7),
        ];
        assert_eq!(
            cat.pad_row(Oid(16384), &stored),
            Some(vec![
                Value::Int8(5),
                Value::Numeric(rust_decimal::Decimal::new(-300, 2)),
                Value::Float8(f64::from(0.1f32)),
                Value::Text("42".into()),
                Value::Int4(7),
            ])
        );
        // a row of the current types (or NULLs) is read as stored
        let current = [
            Value::Int8(5),
            Value::Null,
            Value::Float8(1.0),
            Value::Text("x".into()),
            Value::Int4(1),
        ];
        assert_eq!(cat.pad_row(Oid(16384), &current), None);
    }

    #[test]
    fn history_answers_as_of_an_lsn() {
        let mut h = CatalogHistory::new(Arc::new(Catalog::default()));
        let mut c1 = Catalog::default();
        apply_op(
            &mut c1,
            &CatalogOp::PutTable {
                def: table(1),
                fill: None,
            },
        );
        h.install(Lsn(100), Arc::new(c1));
        assert!(h.at(Lsn(99)).tables.is_empty());
        assert_eq!(h.at(Lsn(100)).tables.len(), 1);
        assert_eq!(h.at(Lsn(5000)).tables.len(), 1);
        h.prune_before(Lsn(200));
        assert_eq!(h.change_lsns(), vec![Lsn(100)]);
        assert_eq!(h.at(Lsn(50)).tables.len(), 1);
    }

    #[test]
    fn a_new_connection_string_forgets_the_publisher_followed() {
        let mut cat = Catalog::default();
        let mut sub = test_subscription(16500);
        sub.conninfo = "host=a,b port=1,2".into();
        apply_op(&mut cat, &CatalogOp::PutSubscription(sub.clone()));
        let followed = crate::FollowedPublisher {
            conninfo: sub.conninfo.clone(),
            system_identifier: "7".into(),
            timeline: 2,
        };
        let put_followed = CatalogOp::PutSubscriptionFollowed {
            subscription: sub.oid,
            followed,
        };
        apply_op(&mut cat, &put_followed);
        // another option changes: the record stays
        sub.binary = true;
        apply_op(&mut cat, &CatalogOp::PutSubscription(sub.clone()));
        assert!(cat.subscription_followed.contains_key(&sub.oid));
        // the connection string changes, then comes back: the record is gone
        let multi = sub.conninfo.clone();
        sub.conninfo = "host=b port=2".into();
        apply_op(&mut cat, &CatalogOp::PutSubscription(sub.clone()));
        sub.conninfo = multi;
        apply_op(&mut cat, &CatalogOp::PutSubscription(sub.clone()));
        assert!(!cat.subscription_followed.contains_key(&sub.oid));
    }
}
