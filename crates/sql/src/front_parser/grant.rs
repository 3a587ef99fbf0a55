//! Parsing of `GRANT` and `REVOKE`, both forms: privileges on objects
//! (`GrantStmt` of PostgreSQL's `gram.y`) and role membership
//! (`GrantRoleStmt`). Which one a statement is follows from the `ON` after the
//! first list, as in PostgreSQL. Column lists and object kinds tandem does not
//! implement parse to [`GrantObjects::Unsupported`] / an error naming them, so
//! the executor can say what is missing.

use tandem_types::PgResult;

use super::FrontParser;

/// A role as GRANT/REVOKE names it (PostgreSQL's `RoleSpec`).
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum RoleSpec {
    Name(String),
    Public,
    /// `CURRENT_USER` / `CURRENT_ROLE`
    CurrentUser,
    SessionUser,
}

/// What a privilege GRANT/REVOKE applies to.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum GrantObjects {
    /// `[TABLE] t [, ...]`, names as written (folded, dots kept).
    Tables(Vec<String>),
    /// `ALL TABLES IN SCHEMA s [, ...]`
    AllTablesInSchema(Vec<String>),
    /// `DATABASE d [, ...]`
    Databases(Vec<String>),
    /// `SCHEMA s [, ...]`
    Schemas(Vec<String>),
    /// An object kind tandem has no privileges for; names the construct.
    Unsupported(String),
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum GrantStmt {
    Privileges {
        /// GRANT (true) or REVOKE.
        grant: bool,
        /// `WITH GRANT OPTION` (GRANT) / `GRANT OPTION FOR` (REVOKE).
        grant_option: bool,
        /// Lower-cased privilege names; `None` is `ALL [PRIVILEGES]`.
        privileges: Option<Vec<String>>,
        /// A column list was given (column privileges).
        columns: bool,
        objects: GrantObjects,
        grantees: Vec<RoleSpec>,
        granted_by: Option<RoleSpec>,
        cascade: bool,
    },
    Roles {
        grant: bool,
        roles: Vec<String>,
        members: Vec<RoleSpec>,
        /// GRANT: `WITH ADMIN|INHERIT|SET OPTION|TRUE|FALSE` as (option, value);
        /// REVOKE: `ADMIN|INHERIT|SET OPTION FOR` as (option, false).
        options: Vec<(String, bool)>,
        granted_by: Option<RoleSpec>,
        cascade: bool,
    },
}

impl<'a> FrontParser<'a> {
    /// After `GRANT` (`grant`) or `REVOKE`.
    pub(super) fn grant_statement(&mut self, grant: bool) -> PgResult<GrantStmt> {
        let mut option_for = None;
        if !grant {
            let save = self.pos;
            if let Some(w @ ("grant" | "admin" | "inherit" | "set")) = self.peek_word() {
                let w = w.to_string();
                self.pos += 1;
                if self.eat_word("option") {
                    self.expect_word("for")?;
                    option_for = Some(w);
                } else {
                    self.pos = save;
                }
            }
        }
        // The first list: privileges or role names.
        let mut names = Vec::new();
        let mut all = false;
        let mut columns = false;
        if self.peek_word() == Some("all") {
            self.pos += 1;
            self.eat_word("privileges");
            all = true;
            columns |= self.column_list()?;
        } else {
            loop {
                let mut name = self.ident()?;
                if name == "alter" && self.eat_word("system") {
                    name = "alter system".into();
                }
                names.push(name);
                columns |= self.column_list()?;
                if !self.eat_punct(',') {
                    break;
                }
            }
        }
        if all || self.peek_word() == Some("on") {
            self.expect_word("on")?;
            let objects = self.grant_objects()?;
            self.expect_word(if grant { "to" } else { "from" })?;
            let grantees = self.role_specs()?;
            let mut grant_option = option_for.as_deref() == Some("grant");
            if option_for.is_some() && !grant_option {
                return Err(self.error());
            }
            if grant && self.eat_word("with") {
                self.expect_word("grant")?;
                self.expect_word("option")?;
                grant_option = true;
            }
            let granted_by = self.granted_by()?;
            let cascade = !grant && self.drop_behavior();
            self.expect_end()?;
            return Ok(GrantStmt::Privileges {
                grant,
                grant_option,
                privileges: (!all).then_some(names),
                columns,
                objects,
                grantees,
                granted_by,
                cascade,
            });
        }
        if columns || option_for.as_deref() == Some("grant") {
            return Err(self.error());
        }
        self.expect_word(if grant { "to" } else { "from" })?;
        let members = self.role_specs()?;
        let mut options = Vec::new();
        if let Some(o) = option_for {
            options.push((o, false));
        }
        if grant && self.eat_word("with") {
            loop {
                let name = self.ident()?;
                let value = match self.peek_word() {
                    Some("option" | "true") => true,
                    Some("false") => false,
                    _ => return Err(self.error()),
                };
                self.pos += 1;
                options.push((name, value));
                if !self.eat_punct(',') {
                    break;
                }
            }
        }
        let granted_by = self.granted_by()?;
        let cascade = !grant && self.drop_behavior();
        self.expect_end()?;
        Ok(GrantStmt::Roles {
            grant,
            roles: names,
            members,
            options,
            granted_by,
            cascade,
        })
    }

    /// `(col, ...)` after a privilege: true if there was one.
    fn column_list(&mut self) -> PgResult<bool> {
        if !self.eat_punct('(') {
            return Ok(false);
        }
        self.ident()?;
        while self.eat_punct(',') {
            self.ident()?;
        }
        self.expect_punct(')')?;
        Ok(true)
    }

    fn grant_objects(&mut self) -> PgResult<GrantObjects> {
        match self.peek_word() {
            Some("all") => {
                self.pos += 1;
                let kind = self.ident()?;
                self.expect_word("in")?;
                self.expect_word("schema")?;
                let schemas = self.grant_name_list()?;
                if kind == "tables" {
                    Ok(GrantObjects::AllTablesInSchema(schemas))
                } else {
                    Ok(GrantObjects::Unsupported(format!(
                        "privileges on ALL {} IN SCHEMA",
                        kind.to_uppercase()
                    )))
                }
            }
            Some("table") => {
                self.pos += 1;
                Ok(GrantObjects::Tables(self.grant_name_list()?))
            }
            Some("database") => {
                self.pos += 1;
                Ok(GrantObjects::Databases(self.grant_name_list()?))
            }
            Some("schema") => {
                self.pos += 1;
                Ok(GrantObjects::Schemas(self.grant_name_list()?))
            }
            Some(
                kind @ ("sequence" | "function" | "procedure" | "routine" | "language"
                | "tablespace" | "domain" | "type" | "foreign" | "large" | "parameter"),
            ) => {
                let what = format!("privileges on {}", kind.to_uppercase());
                self.pos += 1;
                // Skip the rest of the object list up to TO/FROM.
                while !self.at_end() && !matches!(self.peek_word(), Some("to" | "from")) {
                    self.pos += 1;
                }
                Ok(GrantObjects::Unsupported(what))
            }
            _ => Ok(GrantObjects::Tables(self.grant_name_list()?)),
        }
    }

    fn grant_name_list(&mut self) -> PgResult<Vec<String>> {
        let mut names = vec![self.qualified_name()?];
        while self.eat_punct(',') {
            names.push(self.qualified_name()?);
        }
        Ok(names)
    }

    fn role_spec(&mut self) -> PgResult<RoleSpec> {
        Ok(match self.peek_word() {
            Some("public") => {
                self.pos += 1;
                RoleSpec::Public
            }
            Some("current_user" | "current_role") => {
                self.pos += 1;
                RoleSpec::CurrentUser
            }
            Some("session_user") => {
                self.pos += 1;
                RoleSpec::SessionUser
            }
            Some("group") => {
                self.pos += 1;
                RoleSpec::Name(self.ident()?)
            }
            _ => RoleSpec::Name(self.ident()?),
        })
    }

    fn role_specs(&mut self) -> PgResult<Vec<RoleSpec>> {
        let mut specs = vec![self.role_spec()?];
        while self.eat_punct(',') {
            specs.push(self.role_spec()?);
        }
        Ok(specs)
    }

    fn granted_by(&mut self) -> PgResult<Option<RoleSpec>> {
        if self.eat_word("granted") {
            self.expect_word("by")?;
            return Ok(Some(self.role_spec()?));
        }
        Ok(None)
    }

    /// `CASCADE` (true) or `RESTRICT` / nothing.
    fn drop_behavior(&mut self) -> bool {
        if self.eat_word("cascade") {
            return true;
        }
        self.eat_word("restrict");
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::front_parser::{parse_query, FrontStmt, StmtKind};

    fn grant(sql: &str) -> GrantStmt {
        match parse_query(sql).unwrap().remove(0).kind {
            StmtKind::Front(FrontStmt::Grant(g)) => g,
            other => panic!("not a grant: {other:?}"),
        }
    }

    #[test]
    fn privilege_grants() {
        assert_eq!(
            grant("GRANT select, INSERT ON TABLE t, public.u TO bob, PUBLIC WITH GRANT OPTION"),
            GrantStmt::Privileges {
                grant: true,
                grant_option: true,
                privileges: Some(vec!["select".into(), "insert".into()]),
                columns: false,
                objects: GrantObjects::Tables(vec!["t".into(), "public.u".into()]),
                grantees: vec![RoleSpec::Name("bob".into()), RoleSpec::Public],
                granted_by: None,
                cascade: false,
            }
        );
        assert_eq!(
            grant("revoke grant option for all privileges on all tables in schema public from \"Bob\" cascade"),
            GrantStmt::Privileges {
                grant: false,
                grant_option: true,
                privileges: None,
                columns: false,
                objects: GrantObjects::AllTablesInSchema(vec!["public".into()]),
                grantees: vec![RoleSpec::Name("Bob".into())],
                granted_by: None,
                cascade: true,
            }
        );
        match grant("grant select (a, b) on t to bob") {
            GrantStmt::Privileges { columns, .. } => assert!(columns),
            other => panic!("{other:?}"),
        }
        match grant("grant usage on schema public to bob") {
            GrantStmt::Privileges { objects, .. } => {
                assert_eq!(objects, GrantObjects::Schemas(vec!["public".into()]))
            }
            other => panic!("{other:?}"),
        }
        match grant("grant create on database postgres to current_user") {
            GrantStmt::Privileges {
                objects, grantees, ..
            } => {
                assert_eq!(objects, GrantObjects::Databases(vec!["postgres".into()]));
                assert_eq!(grantees, vec![RoleSpec::CurrentUser]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn role_grants() {
        assert_eq!(
            grant("GRANT pg_create_subscription, grp TO bob WITH ADMIN OPTION, INHERIT FALSE GRANTED BY postgres"),
            GrantStmt::Roles {
                grant: true,
                roles: vec!["pg_create_subscription".into(), "grp".into()],
                members: vec![RoleSpec::Name("bob".into())],
                options: vec![("admin".into(), true), ("inherit".into(), false)],
                granted_by: Some(RoleSpec::Name("postgres".into())),
                cascade: false,
            }
        );
        assert_eq!(
            grant("revoke admin option for grp from bob"),
            GrantStmt::Roles {
                grant: false,
                roles: vec!["grp".into()],
                members: vec![RoleSpec::Name("bob".into())],
                options: vec![("admin".into(), false)],
                granted_by: None,
                cascade: false,
            }
        );
        match grant("revoke set from bob") {
            GrantStmt::Roles { roles, .. } => assert_eq!(roles, vec!["set".to_string()]),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn grant_syntax_errors() {
        for (sql, msg) in [
            ("grant select on t", "syntax error at end of input"),
            ("grant select on t to", "syntax error at end of input"),
            (
                "grant grp to bob with admin",
                "syntax error at end of input",
            ),
            (
                "revoke select on t to bob",
                "syntax error at or near \"to\"",
            ),
        ] {
            let err = parse_query(sql).unwrap_err();
            assert_eq!(err.message, msg, "{sql}");
        }
    }
}
