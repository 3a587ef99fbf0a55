//! Privileges and role membership: access control lists (`aclitem`), the
//! predefined roles, `pg_auth_members`, and the checks built on them.
//!
//! An ACL is a list of [`AclItem`]s, each `grantee=privileges/grantor`, where a
//! privilege may carry its grant option. A table without an ACL (`relacl` NULL)
//! has the default one: everything for its owner. Privileges are an [`AclMode`]
//! bit set laid out as PostgreSQL's (`INSERT` bit 0 ... `MAINTAIN` bit 14, grant
//! options in the upper 32 bits), so the text form `arwdDxtm` follows from the bit
//! order.
//!
//! Membership (PostgreSQL 16+): a grant of role R to member M carries three
//! options: ADMIN (M may grant R), INHERIT (M has R's privileges without SET
//! ROLE) and SET (M may SET ROLE to R). A superuser passes every check.
//!
//! PostgreSQL counterparts: `utils/adt/acl.c` (aclitem text, `aclmask`,
//! `aclupdate`, `aclnewowner`, `roles_is_member_of`, `has_privs_of_role`,
//! `member_can_set_role`, `is_admin_of_role`), `catalog/aclchk.c`
//! (`pg_class_aclmask`, `select_best_grantor`, `merge_acl_with_grant`), and
//! `catalog/pg_authid.dat` / `pg_auth_members` for the predefined roles.

use std::collections::BTreeSet;

use tandem_types::{Oid, PgError, PgResult, SqlState};

use crate::catalog::BOOTSTRAP_SUPERUSER_OID;
use crate::{Catalog, RoleDef};

/// A set of privileges, with their grant options in the upper 32 bits.
pub type AclMode = u64;

pub const INSERT: AclMode = 1 << 0;
pub const SELECT: AclMode = 1 << 1;
pub const UPDATE: AclMode = 1 << 2;
pub const DELETE: AclMode = 1 << 3;
pub const TRUNCATE: AclMode = 1 << 4;
pub const REFERENCES: AclMode = 1 << 5;
pub const TRIGGER: AclMode = 1 << 6;
pub const EXECUTE: AclMode = 1 << 7;
pub const USAGE: AclMode = 1 << 8;
pub const CREATE: AclMode = 1 << 9;
pub const CREATE_TEMP: AclMode = 1 << 10;
pub const CONNECT: AclMode = 1 << 11;
pub const SET: AclMode = 1 << 12;
pub const ALTER_SYSTEM: AclMode = 1 << 13;
pub const MAINTAIN: AclMode = 1 << 14;

/// One letter per privilege bit, in bit order (PostgreSQL's `ACL_ALL_RIGHTS_STR`).
const PRIV_CHARS: &[u8] = b"arwdDxtXUCTcsAm";

/// Everything a table can be granted (`ACL_ALL_RIGHTS_RELATION`).
pub const ALL_RIGHTS_RELATION: AclMode =
    INSERT | SELECT | UPDATE | DELETE | TRUNCATE | REFERENCES | TRIGGER | MAINTAIN;
/// Everything a sequence can be granted (`ACL_ALL_RIGHTS_SEQUENCE`).
pub const ALL_RIGHTS_SEQUENCE: AclMode = USAGE | SELECT | UPDATE;
/// Everything a database can be granted.
pub const ALL_RIGHTS_DATABASE: AclMode = CREATE | CREATE_TEMP | CONNECT;
/// Everything a schema can be granted (`ACL_ALL_RIGHTS_SCHEMA`).
pub const ALL_RIGHTS_SCHEMA: AclMode = USAGE | CREATE;

/// The grant options of `privs` (`ACL_GRANT_OPTION_FOR`).
pub const fn grant_option_for(privs: AclMode) -> AclMode {
    (privs & 0xffff_ffff) << 32
}

/// The privileges whose grant options `mode` holds (`ACL_OPTION_TO_PRIVS`).
pub const fn option_to_privs(mode: AclMode) -> AclMode {
    mode >> 32
}

/// The grantee of a grant to PUBLIC (`ACL_ID_PUBLIC`).
pub const PUBLIC: Oid = Oid(0);

/// One `aclitem`: `grantee=privileges/grantor`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AclItem {
    /// [`PUBLIC`] for a grant to everyone.
    pub grantee: Oid,
    pub grantor: Oid,
    /// Privileges, grant options in the upper half.
    pub mode: AclMode,
}

/// The privilege names GRANT accepts and `has_*_privilege` understands, with
/// their bits (PostgreSQL's `string_to_privilege` / `privilege_to_string`).
pub const PRIVILEGE_NAMES: &[(&str, AclMode)] = &[
    ("insert", INSERT),
    ("select", SELECT),
    ("update", UPDATE),
    ("delete", DELETE),
    ("truncate", TRUNCATE),
    ("references", REFERENCES),
    ("trigger", TRIGGER),
    ("execute", EXECUTE),
    ("usage", USAGE),
    ("create", CREATE),
    ("temporary", CREATE_TEMP),
    ("temp", CREATE_TEMP),
    ("connect", CONNECT),
    ("set", SET),
    ("alter system", ALTER_SYSTEM),
    ("maintain", MAINTAIN),
];

/// A privilege bit by its (lower-case) name.
pub fn privilege_by_name(name: &str) -> Option<AclMode> {
    PRIVILEGE_NAMES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, m)| *m)
}

/// The upper-case name of one privilege bit (`privilege_to_string`).
pub fn privilege_name(bit: AclMode) -> &'static str {
    match bit {
        INSERT => "INSERT",
        SELECT => "SELECT",
        UPDATE => "UPDATE",
        DELETE => "DELETE",
        TRUNCATE => "TRUNCATE",
        REFERENCES => "REFERENCES",
        TRIGGER => "TRIGGER",
        EXECUTE => "EXECUTE",
        USAGE => "USAGE",
        CREATE => "CREATE",
        CREATE_TEMP => "TEMP",
        CONNECT => "CONNECT",
        SET => "SET",
        ALTER_SYSTEM => "ALTER SYSTEM",
        MAINTAIN => "MAINTAIN",
        _ => "???",
    }
}

/// The default ACL of a database owned by `owner` (`acldefault(OBJECT_DATABASE)`):
/// PUBLIC may connect and create temporary tables, the owner may do all.
pub fn default_database_acl(owner: Oid) -> Vec<AclItem> {
    vec![
        AclItem {
            grantee: PUBLIC,
            grantor: owner,
            mode: CREATE_TEMP | CONNECT,
        },
        AclItem {
            grantee: owner,
            grantor: owner,
            mode: ALL_RIGHTS_DATABASE,
        },
    ]
}

/// The default ACL of a table owned by `owner` (`acldefault(OBJECT_TABLE)`).
pub fn default_relation_acl(owner: Oid) -> Vec<AclItem> {
    vec![AclItem {
        grantee: owner,
        grantor: owner,
        mode: ALL_RIGHTS_RELATION,
    }]
}

/// A role name as `aclitemout` writes it: double-quoted when it holds anything
/// but letters, digits and `_` (PostgreSQL's `putid`).
fn putid(out: &mut String, name: &str) {
    let plain = name.chars().all(|c| c.is_alphanumeric() || c == '_');
    if plain {
        out.push_str(name);
        return;
    }
    out.push('"');
    for c in name.chars() {
        if c == '"' {
            out.push('"');
        }
        out.push(c);
    }
    out.push('"');
}

fn role_label(out: &mut String, cat: &Catalog, oid: Oid) {
    match cat.roles.get(&oid) {
        Some(r) => putid(out, &r.name),
        None => out.push_str(&oid.0.to_string()),
    }
}

/// `aclitem` text: `bob=r*w/alice`, `=r/alice` for PUBLIC.
pub fn aclitem_text(cat: &Catalog, item: &AclItem) -> String {
    let mut out = String::new();
    if item.grantee != PUBLIC {
        role_label(&mut out, cat, item.grantee);
    }
    out.push('=');
    for (i, &c) in PRIV_CHARS.iter().enumerate() {
        let bit: AclMode = 1 << i;
        if item.mode & bit != 0 {
            out.push(c as char);
            if item.mode & grant_option_for(bit) != 0 {
                out.push('*');
            }
        }
    }
    out.push('/');
    role_label(&mut out, cat, item.grantor);
    out
}

/// One `pg_auth_members` row: `member` belongs to `role`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthMember {
    pub oid: Oid,
    /// `roleid`: the role granted.
    pub role: Oid,
    pub member: Oid,
    pub grantor: Oid,
    pub admin: bool,
    pub inherit: bool,
    pub set: bool,
}

/// The predefined roles of PostgreSQL 17 (`pg_authid.dat`), by OID.
pub const PREDEFINED_ROLES: &[(u32, &str)] = &[
    (3373, "pg_monitor"),
    (3374, "pg_read_all_settings"),
    (3375, "pg_read_all_stats"),
    (3377, "pg_stat_scan_tables"),
    (4200, "pg_signal_backend"),
    (4544, "pg_checkpoint"),
    (4550, "pg_use_reserved_connections"),
    (4569, "pg_read_server_files"),
    (4570, "pg_write_server_files"),
    (4571, "pg_execute_server_program"),
    (6171, "pg_database_owner"),
    (6181, "pg_read_all_data"),
    (6182, "pg_write_all_data"),
    (6304, "pg_create_subscription"),
    (6337, "pg_maintain"),
];

pub const PG_MONITOR: Oid = Oid(3373);
pub const PG_DATABASE_OWNER: Oid = Oid(6171);
pub const PG_READ_ALL_DATA: Oid = Oid(6181);
pub const PG_WRITE_ALL_DATA: Oid = Oid(6182);
pub const PG_CREATE_SUBSCRIPTION: Oid = Oid(6304);
pub const PG_MAINTAIN: Oid = Oid(6337);

/// The memberships initdb creates: pg_monitor is a member of three roles
/// (OIDs as PostgreSQL 17's initdb assigns them).
const PREDEFINED_MEMBERSHIPS: &[(u32, u32, u32)] = &[
    (10226, 3374, 3373),
    (10227, 3375, 3373),
    (10228, 3377, 3373),
];

/// Adds the predefined roles and their memberships a catalog lacks (initdb,
/// and catalogs written before tandem had them).
pub fn add_predefined_roles(cat: &mut Catalog) {
    for &(oid, name) in PREDEFINED_ROLES {
        if cat.roles.contains_key(&Oid(oid)) || cat.role_by_name(name).is_some() {
            continue;
        }
        cat.roles.insert(
            Oid(oid),
            RoleDef {
                oid: Oid(oid),
                name: name.to_string(),
                superuser: false,
                inherit: true,
                createrole: false,
                createdb: false,
                login: false,
                replication: false,
                bypassrls: false,
                connection_limit: -1,
                password: None,
            },
        );
    }
    for &(oid, role, member) in PREDEFINED_MEMBERSHIPS {
        if cat.auth_members.contains_key(&Oid(oid)) {
            continue;
        }
        cat.auth_members.insert(
            Oid(oid),
            AuthMember {
                oid: Oid(oid),
                role: Oid(role),
                member: Oid(member),
                grantor: BOOTSTRAP_SUPERUSER_OID,
                admin: false,
                inherit: true,
                set: true,
            },
        );
    }
}

/// Which membership edges a walk follows (PostgreSQL's `RoleRecurseType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recurse {
    /// Every grant (membership as such).
    Members,
    /// Grants with INHERIT: whose privileges a role has.
    Privs,
    /// Grants with SET: which roles a role may SET ROLE to.
    SetRole,
}

/// `permission denied for table t` (42501).
pub fn permission_denied_table(name: &str) -> PgError {
    PgError::new(
        SqlState::INSUFFICIENT_PRIVILEGE,
        format!("permission denied for table {name}"),
    )
}

/// `must be owner of table t` (42501).
pub fn must_be_owner_of_table(name: &str) -> PgError {
    PgError::new(
        SqlState::INSUFFICIENT_PRIVILEGE,
        format!("must be owner of table {name}"),
    )
}

impl Catalog {
    /// The role's superuser flag (false for an unknown role).
    pub fn is_superuser(&self, role: Oid) -> bool {
        self.roles.get(&role).is_some_and(|r| r.superuser)
    }

    /// `role` and every role it reaches through grants of kind `how`, `role`
    /// first (`roles_is_member_of`).
    pub fn roles_member_of(&self, role: Oid, how: Recurse) -> Vec<Oid> {
        let mut out = vec![role];
        let mut seen: BTreeSet<Oid> = [role].into_iter().collect();
        let mut i = 0;
        while i < out.len() {
            let cur = out[i];
            i += 1;
            for m in self.auth_members.values().filter(|m| m.member == cur) {
                let follow = match how {
                    Recurse::Members => true,
                    Recurse::Privs => m.inherit,
                    Recurse::SetRole => m.set,
                };
                if follow && seen.insert(m.role) {
                    out.push(m.role);
                }
            }
        }
        out
    }

    /// Does `member` have the privileges of `role` (itself, a superuser, or
    /// through INHERIT grants)? (`has_privs_of_role`)
    pub fn has_privs_of_role(&self, member: Oid, role: Oid) -> bool {
        member == role
            || self.is_superuser(member)
            || self.roles_member_of(member, Recurse::Privs).contains(&role)
    }

    /// May `member` SET ROLE to `role`? (`member_can_set_role`)
    pub fn member_can_set_role(&self, member: Oid, role: Oid) -> bool {
        member == role
            || self.is_superuser(member)
            || self
                .roles_member_of(member, Recurse::SetRole)
                .contains(&role)
    }

    /// Is `member` a member of `role`, directly or not? (`is_member_of_role`)
    pub fn is_member_of_role(&self, member: Oid, role: Oid) -> bool {
        member == role
            || self.is_superuser(member)
            || self
                .roles_member_of(member, Recurse::Members)
                .contains(&role)
    }

    /// May `member` grant `role` (ADMIN OPTION, possibly through another
    /// role)? A role is not its own admin. (`is_admin_of_role`)
    pub fn is_admin_of_role(&self, member: Oid, role: Oid) -> bool {
        if self.is_superuser(member) {
            return true;
        }
        if member == role {
            return false;
        }
        self.admin_through(member, role).is_some()
    }

    /// The role (`member` or one it belongs to) holding ADMIN OPTION on
    /// `role`, preferring `member` itself (`select_best_admin`).
    pub fn admin_through(&self, member: Oid, role: Oid) -> Option<Oid> {
        self.roles_member_of(member, Recurse::Members)
            .into_iter()
            .find(|&r| {
                self.auth_members
                    .values()
                    .any(|m| m.role == role && m.member == r && m.admin)
            })
    }

    /// A table's ACL as stored, or its default (the owner has everything).
    pub fn table_acl(&self, table: Oid) -> Vec<AclItem> {
        match self.acls.get(&table) {
            Some(acl) => acl.clone(),
            None => self
                .relation_owner(table)
                .map(|(owner, ..)| default_relation_acl(owner))
                .unwrap_or_default(),
        }
    }

    /// The owner, name and kind word (`table`, `view`) of a table or view.
    pub fn relation_owner(&self, rel: Oid) -> Option<(Oid, &str, &'static str)> {
        match (self.tables.get(&rel), self.views.get(&rel)) {
            (Some(t), _) => Some((t.owner, &t.name, "table")),
            (_, Some(v)) => Some((v.owner, &v.name, "view")),
            _ => None,
        }
    }

    /// A schema's owner: its creator's role for one CREATE SCHEMA made,
    /// `pg_database_owner` for `public`, the bootstrap superuser for the
    /// system schemas.
    pub fn schema_owner(&self, schema: Oid) -> Option<Oid> {
        if let Some(s) = self.schemas.get(&schema) {
            return Some(s.owner);
        }
        match self.schema_name(schema)? {
            "public" => Some(PG_DATABASE_OWNER),
            _ => Some(crate::catalog::BOOTSTRAP_SUPERUSER_OID),
        }
    }

    /// A schema's ACL as stored, or its default (`acldefault(OBJECT_SCHEMA)`:
    /// the owner's alone; initdb's for `public`, `pg_catalog` and
    /// `information_schema`: USAGE for PUBLIC too).
    pub fn schema_acl(&self, schema: Oid) -> Vec<AclItem> {
        if let Some(acl) = self.acls.get(&schema) {
            return acl.clone();
        }
        let Some(owner) = self.schema_owner(schema) else {
            return Vec::new();
        };
        let mut acl = vec![AclItem {
            grantee: owner,
            grantor: owner,
            mode: ALL_RIGHTS_SCHEMA,
        }];
        if matches!(
            self.schema_name(schema),
            Some("public" | "pg_catalog" | "information_schema")
        ) {
            acl.push(AclItem {
                grantee: PUBLIC,
                grantor: owner,
                mode: USAGE,
            });
        }
        acl
    }

    /// `pg_namespace.nspacl`: the ACL as stored; else `public`'s initdb
    /// ACL, NULL (`None`) for the others.
    pub fn schema_acl_shown(&self, schema: Oid) -> Option<Vec<AclItem>> {
        match self.acls.get(&schema) {
            Some(acl) => Some(acl.clone()),
            None if self.schema_name(schema) == Some("public") => Some(self.schema_acl(schema)),
            None => None,
        }
    }

    /// Which of `mask` `role` holds on a schema (`object_aclmask`).
    pub fn schema_aclmask(&self, schema: Oid, role: Oid, mask: AclMode) -> AclMode {
        let Some(owner) = self.schema_owner(schema) else {
            return 0;
        };
        if self.is_superuser(role) {
            return mask;
        }
        aclmask(self, &self.schema_acl(schema), role, owner, mask)
    }

    /// Refuses with `permission denied for schema s` unless `role` holds
    /// `mask` on schema `name`. Only the schemas CREATE SCHEMA made are
    /// checked (`public` keeps tandem's older rule: every role uses and
    /// creates in it).
    pub fn check_schema_privilege(&self, name: &str, role: Oid, mask: AclMode) -> PgResult<()> {
        let Some(s) = self.schemas.values().find(|s| s.name == name) else {
            return Ok(());
        };
        if self.schema_aclmask(s.oid, role, mask) == mask {
            return Ok(());
        }
        Err(PgError::new(
            SqlState::INSUFFICIENT_PRIVILEGE,
            format!("permission denied for schema {name}"),
        ))
    }

    /// The schemas of `path` whose objects `role` may use (USAGE): what an
    /// unqualified name is looked up in (PostgreSQL leaves the others out
    /// of the search path).
    pub fn usable_path(&self, path: &[String], role: Oid) -> Vec<String> {
        path.iter()
            .filter(|s| self.check_schema_privilege(s, role, USAGE).is_ok())
            .cloned()
            .collect()
    }

    /// A database's ACL as stored, or its default.
    pub fn database_acl(&self, db: Oid) -> Vec<AclItem> {
        match self.acls.get(&db) {
            Some(acl) => acl.clone(),
            None => self
                .databases
                .get(&db)
                .map(|d| default_database_acl(d.owner))
                .unwrap_or_default(),
        }
    }

    /// Which of `mask` `role` holds on a database (`object_aclmask`).
    pub fn database_aclmask(&self, db: Oid, role: Oid, mask: AclMode) -> AclMode {
        let Some(def) = self.databases.get(&db) else {
            return 0;
        };
        if self.is_superuser(role) {
            return mask;
        }
        aclmask(self, &self.database_acl(db), role, def.owner, mask)
    }

    /// Which of `mask` `role` holds on a table (`pg_class_aclmask`): a
    /// superuser holds all; the owner holds every grant option; grants to
    /// PUBLIC, to the role and to roles it inherits from count;
    /// pg_read_all_data, pg_write_all_data and pg_maintain add theirs. `all`:
    /// stop only once every bit is found, else at the first.
    pub fn table_aclmask(&self, table: Oid, role: Oid, mask: AclMode) -> AclMode {
        let Some((owner, ..)) = self.relation_owner(table) else {
            return 0;
        };
        if self.is_superuser(role) {
            return mask;
        }
        let mut result = aclmask(self, &self.table_acl(table), role, owner, mask);
        if mask & SELECT != 0
            && result & SELECT == 0
            && self.has_privs_of_role(role, PG_READ_ALL_DATA)
        {
            result |= SELECT;
        }
        let write = INSERT | UPDATE | DELETE;
        if mask & write & !result != 0 && self.has_privs_of_role(role, PG_WRITE_ALL_DATA) {
            result |= mask & write;
        }
        if mask & MAINTAIN != 0 && self.has_privs_of_role(role, PG_MAINTAIN) {
            result |= MAINTAIN;
        }
        result & mask
    }

    /// Does `role` hold every privilege of `mask` on the table?
    pub fn table_privileges_ok(&self, table: Oid, role: Oid, mask: AclMode) -> bool {
        self.table_aclmask(table, role, mask) == mask
    }

    /// Refuses with `permission denied for table t` unless `role` holds
    /// every privilege of `mask` on the table (`pg_class_aclcheck` plus
    /// `aclcheck_error`).
    pub fn check_table_privileges(&self, table: Oid, role: Oid, mask: AclMode) -> PgResult<()> {
        if self.table_privileges_ok(table, role, mask) {
            return Ok(());
        }
        Err(match self.relation_owner(table) {
            Some((_, name, "view")) => PgError::new(
                SqlState::INSUFFICIENT_PRIVILEGE,
                format!("permission denied for view {name}"),
            ),
            Some((_, name, _)) => permission_denied_table(name),
            None => permission_denied_table(&table.0.to_string()),
        })
    }

    /// Does `role` own the table (itself or through an inherited role)?
    /// (`object_ownercheck`)
    pub fn owns_table(&self, table: Oid, role: Oid) -> bool {
        self.tables
            .get(&table)
            .is_some_and(|t| self.has_privs_of_role(role, t.owner))
    }
}

/// Which of `mask` `role` holds under `acl` for an object owned by `owner`
/// (`aclmask` with ACLMASK_ALL): the owner's inherited grant options, then
/// direct and PUBLIC grants, then grants to roles whose privileges `role` has.
pub fn aclmask(cat: &Catalog, acl: &[AclItem], role: Oid, owner: Oid, mask: AclMode) -> AclMode {
    let goption_mask = grant_option_for(0xffff_ffff);
    let mut result: AclMode = 0;
    if mask & goption_mask != 0 && cat.has_privs_of_role(role, owner) {
        result = mask & goption_mask;
        if result == mask {
            return result;
        }
    }
    for item in acl {
        if item.grantee == PUBLIC || item.grantee == role {
            result |= item.mode & mask;
            if result == mask {
                return result;
            }
        }
    }
    for item in acl {
        if item.grantee == PUBLIC || item.grantee == role {
            continue;
        }
        if item.mode & mask & !result == 0 {
            continue;
        }
        if cat.has_privs_of_role(role, item.grantee) {
            result |= item.mode & mask;
            if result == mask {
                return result;
            }
        }
    }
    result
}

/// The grant options `role` itself holds directly under `acl` (no PUBLIC, no
/// inheritance), for choosing a grantor.
fn aclmask_direct(acl: &[AclItem], role: Oid, owner: Oid, mask: AclMode) -> AclMode {
    let goption_mask = grant_option_for(0xffff_ffff);
    let mut result = 0;
    if mask & goption_mask != 0 && role == owner {
        result = mask & goption_mask;
        if result == mask {
            return result;
        }
    }
    for item in acl.iter().filter(|i| i.grantee == role) {
        result |= item.mode & mask;
    }
    result
}

/// Who grants, and with which grant options, when `role` grants `privileges`
/// on an object owned by `owner` (`select_best_grantor`): the owner when
/// `role` is the owner or a superuser, else the role (itself or inherited)
/// holding the most of the needed grant options.
pub fn select_best_grantor(
    cat: &Catalog,
    role: Oid,
    privileges: AclMode,
    acl: &[AclItem],
    owner: Oid,
) -> (Oid, AclMode) {
    let needed = grant_option_for(privileges);
    if role == owner || cat.is_superuser(role) {
        return (owner, needed);
    }
    let mut best = (role, 0);
    let mut best_count = 0;
    for other in cat.roles_member_of(role, Recurse::Privs) {
        let held = aclmask_direct(acl, other, owner, needed);
        if held == needed {
            return (other, held);
        }
        let count = held.count_ones();
        if count > best_count {
            best = (other, held);
            best_count = count;
        }
    }
    best
}

/// How REVOKE treats grants that depend on a revoked grant option.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropBehavior {
    Restrict,
    Cascade,
}

/// Adds (`grant`) or removes `item.mode` on the entry of `item`'s grantee and
/// grantor (`aclupdate`); entries left empty are removed; revoked grant
/// options take the grants made with them along (or fail under RESTRICT).
pub fn acl_update(
    cat: &Catalog,
    acl: &mut Vec<AclItem>,
    item: AclItem,
    grant: bool,
    owner: Oid,
    behavior: DropBehavior,
) -> PgResult<()> {
    let pos = acl
        .iter()
        .position(|i| i.grantee == item.grantee && i.grantor == item.grantor);
    let old = pos.map(|p| acl[p].mode).unwrap_or(0);
    let new = if grant {
        old | item.mode
    } else {
        old & !item.mode
    };
    match pos {
        Some(p) if new == 0 => {
            acl.remove(p);
        }
        Some(p) => acl[p].mode = new,
        None if new != 0 => acl.push(AclItem { mode: new, ..item }),
        None => {}
    }
    let lost_goptions = option_to_privs(old & !new & grant_option_for(0xffff_ffff));
    if !grant && lost_goptions != 0 {
        recursive_revoke(cat, acl, item.grantee, lost_goptions, owner, behavior)?;
    }
    Ok(())
}

/// Revokes what `grantee` granted with grant options it no longer holds
/// (`recursive_revoke`).
fn recursive_revoke(
    cat: &Catalog,
    acl: &mut Vec<AclItem>,
    grantee: Oid,
    revoked: AclMode,
    owner: Oid,
    behavior: DropBehavior,
) -> PgResult<()> {
    // The owner always keeps its grant options.
    if grantee == owner {
        return Ok(());
    }
    // Still held through another grantor: nothing depends on what was lost.
    let still = aclmask(cat, acl, grantee, owner, grant_option_for(revoked));
    let lost = revoked & !option_to_privs(still);
    if lost == 0 {
        return Ok(());
    }
    let dependents: Vec<AclItem> = acl
        .iter()
        .filter(|i| i.grantor == grantee && i.mode & lost != 0)
        .copied()
        .collect();
    for d in dependents {
        if behavior == DropBehavior::Restrict {
            return Err(PgError::new(
                SqlState::DEPENDENT_OBJECTS_STILL_EXIST,
                "dependent privileges exist",
            )
            .with_hint("Use CASCADE to revoke them too."));
        }
        acl_update(
            cat,
            acl,
            AclItem {
                grantee: d.grantee,
                grantor: grantee,
                mode: lost | grant_option_for(lost),
            },
            false,
            owner,
            behavior,
        )?;
    }
    Ok(())
}

/// The ACL after the owner changes from `old` to `new` (`aclnewowner`):
/// entries naming `old` name `new`; entries that become duplicates merge.
pub fn acl_new_owner(acl: &[AclItem], old: Oid, new: Oid) -> Vec<AclItem> {
    let mut out: Vec<AclItem> = Vec::new();
    for item in acl {
        let mut it = *item;
        if it.grantee == old {
            it.grantee = new;
        }
        if it.grantor == old {
            it.grantor = new;
        }
        match out
            .iter_mut()
            .find(|o| o.grantee == it.grantee && o.grantor == it.grantor)
        {
            Some(o) => o.mode |= it.mode,
            None => out.push(it),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::bootstrap_catalog;

    fn role(cat: &mut Catalog, oid: u32, name: &str, inherit: bool) {
        cat.roles.insert(
            Oid(oid),
            RoleDef {
                oid: Oid(oid),
                name: name.into(),
                superuser: false,
                inherit,
                createrole: false,
                createdb: false,
                login: true,
                replication: false,
                bypassrls: false,
                connection_limit: -1,
                password: None,
            },
        );
    }

    fn grant(cat: &mut Catalog, oid: u32, role: u32, member: u32, inherit: bool, set: bool) {
        cat.auth_members.insert(
            Oid(oid),
            AuthMember {
                oid: Oid(oid),
                role: Oid(role),
                member: Oid(member),
                grantor: Oid(10),
                admin: false,
                inherit,
                set,
            },
        );
    }

    #[test]
    fn aclitem_text_matches_postgres() {
        let mut cat = bootstrap_catalog("postgres", None);
        role(&mut cat, 16390, "bob", true);
        role(&mut cat, 16391, "a b\"c", true);
        let items = [
            AclItem {
                grantee: Oid(10),
                grantor: Oid(10),
                mode: ALL_RIGHTS_RELATION,
            },
            AclItem {
                grantee: Oid(16390),
                grantor: Oid(10),
                mode: SELECT | INSERT | grant_option_for(SELECT),
            },
            AclItem {
                grantee: PUBLIC,
                grantor: Oid(10),
                mode: SELECT,
            },
            AclItem {
                grantee: Oid(16391),
                grantor: Oid(16390),
                mode: TRUNCATE,
            },
            AclItem {
                grantee: Oid(99999),
                grantor: Oid(10),
                mode: MAINTAIN,
            },
        ];
        let text: Vec<String> = items.iter().map(|i| aclitem_text(&cat, i)).collect();
        assert_eq!(
            text,
            [
                "postgres=arwdDxtm/postgres",
                "bob=ar*/postgres",
                "=r/postgres",
                "\"a b\"\"c\"=D/bob",
                "99999=m/postgres"
            ]
        );
    }

    #[test]
    fn predefined_roles_have_postgres_oids() {
        let cat = bootstrap_catalog("postgres", None);
        assert_eq!(
            cat.role_by_name("pg_create_subscription").map(|r| r.oid),
            Some(PG_CREATE_SUBSCRIPTION)
        );
        assert!(cat.is_member_of_role(PG_MONITOR, Oid(3374)));
        assert!(!cat.role_by_name("pg_monitor").is_some_and(|r| r.login));
    }

    #[test]
    fn membership_honours_inherit_and_set() {
        let mut cat = bootstrap_catalog("postgres", None);
        role(&mut cat, 16390, "bob", true);
        role(&mut cat, 16391, "grp", true);
        role(&mut cat, 16392, "top", true);
        role(&mut cat, 16393, "noset", true);
        grant(&mut cat, 20000, 16391, 16390, true, true);
        grant(&mut cat, 20001, 16392, 16391, false, true);
        grant(&mut cat, 20002, 16393, 16390, true, false);
        let (bob, grp, top, noset) = (Oid(16390), Oid(16391), Oid(16392), Oid(16393));
        assert!(cat.has_privs_of_role(bob, grp));
        assert!(!cat.has_privs_of_role(bob, top));
        assert!(cat.is_member_of_role(bob, top));
        assert!(cat.member_can_set_role(bob, top));
        assert!(!cat.member_can_set_role(bob, noset));
        assert!(cat.has_privs_of_role(bob, noset));
        assert!(!cat.has_privs_of_role(grp, bob));
        assert!(cat.has_privs_of_role(Oid(10), bob));
        assert!(!cat.is_admin_of_role(bob, grp));
        cat.auth_members.get_mut(&Oid(20000)).unwrap().admin = true;
        assert!(cat.is_admin_of_role(bob, grp));
        assert!(!cat.is_admin_of_role(grp, grp));
    }

    #[test]
    fn grant_options_and_cascading_revoke() {
        let mut cat = bootstrap_catalog("postgres", None);
        role(&mut cat, 16390, "bob", true);
        role(&mut cat, 16391, "carol", true);
        let (owner, bob, carol) = (Oid(10), Oid(16390), Oid(16391));
        let mut acl = default_relation_acl(owner);
        let item = |grantee, grantor, mode| AclItem {
            grantee,
            grantor,
            mode,
        };
        let r = DropBehavior::Restrict;
        acl_update(
            &cat,
            &mut acl,
            item(bob, owner, SELECT | grant_option_for(SELECT)),
            true,
            owner,
            r,
        )
        .unwrap();
        let (grantor, held) = select_best_grantor(&cat, bob, SELECT | INSERT, &acl, owner);
        assert_eq!((grantor, held), (bob, grant_option_for(SELECT)));
        acl_update(&cat, &mut acl, item(carol, bob, SELECT), true, owner, r).unwrap();
        let text: Vec<String> = acl.iter().map(|i| aclitem_text(&cat, i)).collect();
        assert_eq!(
            text,
            [
                "postgres=arwdDxtm/postgres",
                "bob=r*/postgres",
                "carol=r/bob"
            ]
        );
        let revoke = item(bob, owner, grant_option_for(SELECT));
        let err = acl_update(&cat, &mut acl.clone(), revoke, false, owner, r).unwrap_err();
        assert_eq!(err.message, "dependent privileges exist");
        acl_update(&cat, &mut acl, revoke, false, owner, DropBehavior::Cascade).unwrap();
        let text: Vec<String> = acl.iter().map(|i| aclitem_text(&cat, i)).collect();
        assert_eq!(text, ["postgres=arwdDxtm/postgres", "bob=r/postgres"]);
        assert_eq!(
            acl_new_owner(&acl, owner, bob),
            vec![item(bob, bob, ALL_RIGHTS_RELATION | SELECT)]
        );
    }
}
