//! Parsing of `CREATE SUBSCRIPTION`, `ALTER SUBSCRIPTION` and `DROP
//! SUBSCRIPTION` (the `CreateSubscriptionStmt` / `AlterSubscriptionStmt` /
//! `DropSubscriptionStmt` rules of PostgreSQL's `gram.y`). sqlparser 0.63 does
//! not know these statements. Options are kept as written (`name [= value]`,
//! with positions) for `ddl::subscription` to validate.

use tandem_types::PgResult;

use super::{FrontParser, PubOption, Tok, Token};

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum AlterSubAction {
    Connection(String),
    Enable,
    Disable,
    /// `SET (options)`
    Options(Vec<PubOption>),
    SetPublication(Vec<String>, Vec<PubOption>),
    AddPublication(Vec<String>, Vec<PubOption>),
    DropPublication(Vec<String>, Vec<PubOption>),
    Refresh(Vec<PubOption>),
    Skip(Vec<PubOption>),
    /// `OWNER TO role`; `None` means `CURRENT_USER` / `CURRENT_ROLE` /
    /// `SESSION_USER`.
    Owner(Option<String>),
    Rename(String),
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum SubscriptionStmt {
    Create {
        name: String,
        conninfo: String,
        publications: Vec<String>,
        options: Vec<PubOption>,
    },
    Alter {
        name: String,
        action: AlterSubAction,
    },
    Drop {
        name: String,
        if_exists: bool,
    },
}

impl<'a> FrontParser<'a> {
    /// After `CREATE SUBSCRIPTION`.
    pub(super) fn create_subscription(&mut self) -> PgResult<SubscriptionStmt> {
        let name = self.ident()?;
        self.expect_word("connection")?;
        let conninfo = self.string_literal()?;
        self.expect_word("publication")?;
        let publications = self.name_list()?;
        let options = self.opt_with_options()?;
        self.expect_end()?;
        Ok(SubscriptionStmt::Create {
            name,
            conninfo,
            publications,
            options,
        })
    }

    /// After `ALTER SUBSCRIPTION`.
    pub(super) fn alter_subscription(&mut self) -> PgResult<SubscriptionStmt> {
        let name = self.ident()?;
        let action = match self.peek_word() {
            Some("connection") => {
                self.pos += 1;
                AlterSubAction::Connection(self.string_literal()?)
            }
            Some("enable") => {
                self.pos += 1;
                AlterSubAction::Enable
            }
            Some("disable") => {
                self.pos += 1;
                AlterSubAction::Disable
            }
            Some("set") => {
                self.pos += 1;
                if self.eat_word("publication") {
                    let names = self.name_list()?;
                    AlterSubAction::SetPublication(names, self.opt_with_options()?)
                } else {
                    AlterSubAction::Options(self.option_list()?)
                }
            }
            Some("add") => {
                self.pos += 1;
                self.expect_word("publication")?;
                let names = self.name_list()?;
                AlterSubAction::AddPublication(names, self.opt_with_options()?)
            }
            Some("drop") => {
                self.pos += 1;
                self.expect_word("publication")?;
                let names = self.name_list()?;
                AlterSubAction::DropPublication(names, self.opt_with_options()?)
            }
            Some("refresh") => {
                self.pos += 1;
                self.expect_word("publication")?;
                AlterSubAction::Refresh(self.opt_with_options()?)
            }
            Some("skip") => {
                self.pos += 1;
                AlterSubAction::Skip(self.option_list()?)
            }
            Some("owner") => {
                self.pos += 1;
                self.expect_word("to")?;
                match self.peek_word() {
                    Some("current_user" | "current_role" | "session_user") => {
                        self.pos += 1;
                        AlterSubAction::Owner(None)
                    }
                    _ => AlterSubAction::Owner(Some(self.ident()?)),
                }
            }
            Some("rename") => {
                self.pos += 1;
                self.expect_word("to")?;
                AlterSubAction::Rename(self.ident()?)
            }
            _ => return Err(self.error()),
        };
        self.expect_end()?;
        Ok(SubscriptionStmt::Alter { name, action })
    }

    /// After `DROP SUBSCRIPTION` (one name only, as in PostgreSQL).
    pub(super) fn drop_subscription(&mut self) -> PgResult<SubscriptionStmt> {
        let if_exists = if self.eat_word("if") {
            self.expect_word("exists")?;
            true
        } else {
            false
        };
        let name = self.ident()?;
        if !self.eat_word("cascade") {
            self.eat_word("restrict");
        }
        self.expect_end()?;
        Ok(SubscriptionStmt::Drop { name, if_exists })
    }

    fn string_literal(&mut self) -> PgResult<String> {
        match self.peek() {
            Some(Token {
                tok: Tok::Str(s), ..
            }) => {
                self.pos += 1;
                Ok(s.clone())
            }
            _ => Err(self.error()),
        }
    }

    fn name_list(&mut self) -> PgResult<Vec<String>> {
        let mut names = vec![self.ident()?];
        while self.eat_punct(',') {
            names.push(self.ident()?);
        }
        Ok(names)
    }

    fn opt_with_options(&mut self) -> PgResult<Vec<PubOption>> {
        if self.eat_word("with") {
            self.option_list()
        } else {
            Ok(Vec::new())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::front_parser::{parse_query, FrontStmt, StmtKind};
    use tandem_types::SqlState;

    fn subscription(sql: &str) -> SubscriptionStmt {
        match parse_query(sql).map(|mut v| v.remove(0).kind) {
            Ok(StmtKind::Front(FrontStmt::Subscription(p))) => p,
            other => panic!("not a subscription statement: {other:?}"),
        }
    }

    #[test]
    fn create_forms() {
        let SubscriptionStmt::Create {
            name,
            conninfo,
            publications,
            options,
        } = subscription(
            "CREATE SUBSCRIPTION \"S\" CONNECTION 'host=h dbname=d' PUBLICATION p, \"Q\" \
             WITH (slot_name = NONE, enabled = false, binary)",
        )
        else {
            panic!("create expected")
        };
        assert_eq!(name, "S");
        assert_eq!(conninfo, "host=h dbname=d");
        assert_eq!(publications, vec!["p".to_string(), "Q".to_string()]);
        assert_eq!(options.len(), 3);
        assert_eq!(options[0].value.as_deref(), Some("none"));
        assert_eq!(options[2].name, "binary");
        assert_eq!(options[2].value, None);
    }

    #[test]
    fn alter_and_drop_forms() {
        let alter = |sql: &str| match subscription(sql) {
            SubscriptionStmt::Alter { action, .. } => action,
            other => panic!("alter expected: {other:?}"),
        };
        assert_eq!(
            alter("alter subscription s connection 'x=1'"),
            AlterSubAction::Connection("x=1".into())
        );
        assert_eq!(alter("alter subscription s enable"), AlterSubAction::Enable);
        assert!(matches!(
            alter("alter subscription s set (failover = true)"),
            AlterSubAction::Options(o) if o.len() == 1 && o[0].value.as_deref() == Some("true")
        ));
        assert!(matches!(
            alter("alter subscription s set publication a, b with (refresh = false)"),
            AlterSubAction::SetPublication(n, o) if n.len() == 2 && o.len() == 1
        ));
        assert!(matches!(
            alter("alter subscription s drop publication a"),
            AlterSubAction::DropPublication(n, o) if n == vec!["a".to_string()] && o.is_empty()
        ));
        assert!(matches!(
            alter("alter subscription s refresh publication with (copy_data = false)"),
            AlterSubAction::Refresh(o) if o.len() == 1
        ));
        assert!(matches!(
            alter("alter subscription s skip (lsn = '0/10')"),
            AlterSubAction::Skip(o) if o[0].value.as_deref() == Some("0/10")
        ));
        assert_eq!(
            alter("alter subscription s owner to current_user"),
            AlterSubAction::Owner(None)
        );
        assert_eq!(
            alter("alter subscription s rename to t"),
            AlterSubAction::Rename("t".into())
        );
        assert_eq!(
            subscription("drop subscription if exists s cascade"),
            SubscriptionStmt::Drop {
                name: "s".into(),
                if_exists: true
            }
        );
    }

    #[test]
    fn syntax_errors_match_postgres() {
        let e = parse_query("drop subscription s6, s5").unwrap_err();
        assert_eq!(e.code, SqlState::SYNTAX_ERROR);
        assert_eq!(e.message, "syntax error at or near \",\"");
        assert_eq!(e.position, Some(21));
        let e = parse_query("create subscription s connection x publication p").unwrap_err();
        assert_eq!(e.message, "syntax error at or near \"x\"");
        let e = parse_query("create subscription s connection 'x' publication").unwrap_err();
        assert_eq!(e.message, "syntax error at end of input");
    }
}
