//! Parsing of `CREATE PUBLICATION`, `ALTER PUBLICATION` and `DROP PUBLICATION`
//! (the `CreatePublicationStmt` / `AlterPublicationStmt` rules of PostgreSQL's
//! `gram.y`, reduced to what tandem implements). sqlparser 0.63 does not know
//! these statements. Row filters, column lists and `TABLES IN SCHEMA` parse
//! to [`PubObject::Unsupported`] so the executor can say what is missing.

use tandem_types::PgResult;

use super::{char_pos, FrontParser, Tok, Token};

/// One `name [= value]` of a `WITH (...)` / `SET (...)` list.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct PubOption {
    /// Lower-cased option name.
    pub name: String,
    /// The value as written (string contents, number or word); `None` without `=`.
    pub value: Option<String>,
    /// 1-based character position of the option in the query (for
    /// `conflicting or redundant options`).
    pub position: u32,
}

/// What a publication statement names after `FOR` / `ADD` / `SET` / `DROP`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum PubObject {
    /// `TABLE [ONLY] name [*]`, name as written (folded, dots kept).
    Table(String),
    /// A form tandem does not implement; the string names it.
    Unsupported(&'static str),
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum PubTarget {
    /// No `FOR` clause.
    Empty,
    AllTables,
    Objects(Vec<PubObject>),
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum AlterPubAction {
    Add(Vec<PubObject>),
    Set(Vec<PubObject>),
    Drop(Vec<PubObject>),
    Options(Vec<PubOption>),
    /// `OWNER TO role`; `None` means `CURRENT_USER` / `CURRENT_ROLE` /
    /// `SESSION_USER` (one user per session in tandem).
    Owner(Option<String>),
    Rename(String),
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum PublicationStmt {
    Create {
        name: String,
        target: PubTarget,
        options: Vec<PubOption>,
    },
    Alter {
        name: String,
        action: AlterPubAction,
    },
    Drop {
        names: Vec<String>,
        if_exists: bool,
    },
}

impl<'a> FrontParser<'a> {
    /// After `CREATE PUBLICATION`.
    pub(super) fn create_publication(&mut self) -> PgResult<PublicationStmt> {
        let name = self.ident()?;
        let target = if self.eat_word("for") {
            if self.eat_word("all") {
                self.expect_word("tables")?;
                PubTarget::AllTables
            } else {
                PubTarget::Objects(self.publication_objects()?)
            }
        } else {
            PubTarget::Empty
        };
        let options = if self.eat_word("with") {
            self.option_list()?
        } else {
            Vec::new()
        };
        self.expect_end()?;
        Ok(PublicationStmt::Create {
            name,
            target,
            options,
        })
    }

    /// After `ALTER PUBLICATION`.
    pub(super) fn alter_publication(&mut self) -> PgResult<PublicationStmt> {
        let name = self.ident()?;
        let action = match self.peek_word() {
            Some("add") => {
                self.pos += 1;
                AlterPubAction::Add(self.publication_objects()?)
            }
            Some("drop") => {
                self.pos += 1;
                AlterPubAction::Drop(self.publication_objects()?)
            }
            Some("set") => {
                self.pos += 1;
                if matches!(
                    self.peek(),
                    Some(Token {
                        tok: Tok::Punct('('),
                        ..
                    })
                ) {
                    AlterPubAction::Options(self.option_list()?)
                } else {
                    AlterPubAction::Set(self.publication_objects()?)
                }
            }
            Some("owner") => {
                self.pos += 1;
                self.expect_word("to")?;
                match self.peek_word() {
                    Some("current_user" | "current_role" | "session_user") => {
                        self.pos += 1;
                        AlterPubAction::Owner(None)
                    }
                    _ => AlterPubAction::Owner(Some(self.ident()?)),
                }
            }
            Some("rename") => {
                self.pos += 1;
                self.expect_word("to")?;
                AlterPubAction::Rename(self.ident()?)
            }
            _ => return Err(self.error()),
        };
        self.expect_end()?;
        Ok(PublicationStmt::Alter { name, action })
    }

    /// After `DROP PUBLICATION`.
    pub(super) fn drop_publication(&mut self) -> PgResult<PublicationStmt> {
        let if_exists = if self.eat_word("if") {
            self.expect_word("exists")?;
            true
        } else {
            false
        };
        let mut names = vec![self.ident()?];
        while self.eat_punct(',') {
            names.push(self.ident()?);
        }
        if !self.eat_word("cascade") {
            self.eat_word("restrict");
        }
        self.expect_end()?;
        Ok(PublicationStmt::Drop { names, if_exists })
    }

    /// `TABLE t [, t | , TABLE t ...]` (`pub_obj_list`).
    fn publication_objects(&mut self) -> PgResult<Vec<PubObject>> {
        let mut objs = Vec::new();
        if self.eat_word("tables") {
            objs.push(self.schema_object()?);
        } else {
            self.expect_word("table")?;
            objs.push(self.table_object()?);
        }
        while self.eat_punct(',') {
            if self.eat_word("tables") {
                objs.push(self.schema_object()?);
            } else {
                self.eat_word("table");
                objs.push(self.table_object()?);
            }
        }
        Ok(objs)
    }

    /// After `TABLES`: `IN SCHEMA name | CURRENT_SCHEMA`.
    fn schema_object(&mut self) -> PgResult<PubObject> {
        self.expect_word("in")?;
        self.expect_word("schema")?;
        self.ident()?;
        Ok(PubObject::Unsupported("TABLES IN SCHEMA"))
    }

    /// `[ONLY] name [*] [(columns)] [WHERE (expr)]`.
    fn table_object(&mut self) -> PgResult<PubObject> {
        self.eat_word("only");
        let name = self.qualified_name()?;
        self.eat_punct('*');
        let mut unsupported = None;
        if matches!(
            self.peek(),
            Some(Token {
                tok: Tok::Punct('('),
                ..
            })
        ) {
            self.skip_parenthesized()?;
            unsupported = Some("column lists in publications");
        }
        if self.eat_word("where") {
            if !matches!(
                self.peek(),
                Some(Token {
                    tok: Tok::Punct('('),
                    ..
                })
            ) {
                return Err(self.error());
            }
            self.skip_parenthesized()?;
            unsupported = unsupported.or(Some("row filters in publications"));
        }
        Ok(match unsupported {
            Some(what) => PubObject::Unsupported(what),
            None => PubObject::Table(name),
        })
    }

    /// Skips a balanced `( ... )`.
    fn skip_parenthesized(&mut self) -> PgResult<()> {
        self.expect_punct('(')?;
        let mut depth = 1usize;
        while depth > 0 {
            match self.peek() {
                None => return Err(self.error()),
                Some(Token {
                    tok: Tok::Punct('('),
                    ..
                }) => depth += 1,
                Some(Token {
                    tok: Tok::Punct(')'),
                    ..
                }) => depth -= 1,
                Some(_) => {}
            }
            self.pos += 1;
        }
        Ok(())
    }

    /// `( name [= value] [, ...] )` of CREATE/ALTER PUBLICATION and
    /// SUBSCRIPTION, each option with its position for error reports.
    pub(super) fn option_list(&mut self) -> PgResult<Vec<PubOption>> {
        self.expect_punct('(')?;
        let mut opts = Vec::new();
        loop {
            let position = match self.peek() {
                Some(t) => char_pos(self.text, t.start, self.base),
                None => return Err(self.error()),
            };
            let name = self.ident()?;
            let value = if self.eat_punct('=') {
                Some(self.setting_value()?)
            } else {
                None
            };
            opts.push(PubOption {
                name,
                value,
                position,
            });
            if !self.eat_punct(',') {
                break;
            }
        }
        self.expect_punct(')')?;
        Ok(opts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::front_parser::{parse_query, FrontStmt, StmtKind};
    use tandem_types::SqlState;

    fn publication(sql: &str) -> PublicationStmt {
        match parse_query(sql).map(|mut v| v.remove(0).kind) {
            Ok(StmtKind::Front(FrontStmt::Publication(p))) => p,
            other => panic!("not a publication statement: {other:?}"),
        }
    }

    #[test]
    fn create_forms() {
        assert_eq!(
            publication("create publication p"),
            PublicationStmt::Create {
                name: "p".into(),
                target: PubTarget::Empty,
                options: vec![],
            }
        );
        let PublicationStmt::Create {
            name,
            target,
            options,
        } = publication(
            "CREATE PUBLICATION \"P\" FOR TABLE ONLY t1, public.t2 *, TABLE t3 \
             WITH (publish = 'insert', publish_via_partition_root)",
        )
        else {
            panic!("create expected")
        };
        assert_eq!(name, "P");
        assert_eq!(
            target,
            PubTarget::Objects(vec![
                PubObject::Table("t1".into()),
                PubObject::Table("public.t2".into()),
                PubObject::Table("t3".into()),
            ])
        );
        assert_eq!(options.len(), 2);
        assert_eq!(options[0].value.as_deref(), Some("insert"));
        assert_eq!(options[1].name, "publish_via_partition_root");
        assert_eq!(options[1].value, None);
        assert_eq!(options[1].position, 91);
        let PublicationStmt::Create { target, .. } =
            publication("create publication p for table t (a) where (a > 1)")
        else {
            panic!("create expected")
        };
        assert_eq!(
            target,
            PubTarget::Objects(vec![PubObject::Unsupported("column lists in publications")])
        );
    }

    #[test]
    fn alter_and_drop_forms() {
        assert_eq!(
            publication("alter publication p set (publish = '')"),
            PublicationStmt::Alter {
                name: "p".into(),
                action: AlterPubAction::Options(vec![PubOption {
                    name: "publish".into(),
                    value: Some(String::new()),
                    position: 26,
                }]),
            }
        );
        assert_eq!(
            publication("alter publication p drop table a, b"),
            PublicationStmt::Alter {
                name: "p".into(),
                action: AlterPubAction::Drop(vec![
                    PubObject::Table("a".into()),
                    PubObject::Table("b".into())
                ]),
            }
        );
        assert_eq!(
            publication("alter publication p owner to current_user"),
            PublicationStmt::Alter {
                name: "p".into(),
                action: AlterPubAction::Owner(None),
            }
        );
        assert_eq!(
            publication("alter publication p rename to q"),
            PublicationStmt::Alter {
                name: "p".into(),
                action: AlterPubAction::Rename("q".into()),
            }
        );
        assert_eq!(
            publication("drop publication if exists a, b cascade"),
            PublicationStmt::Drop {
                names: vec!["a".into(), "b".into()],
                if_exists: true,
            }
        );
    }

    #[test]
    fn syntax_errors_match_postgres() {
        let e = parse_query("create publication p9 for table;").unwrap_err();
        assert_eq!(e.code, SqlState::SYNTAX_ERROR);
        assert_eq!(e.message, "syntax error at or near \";\"");
        assert_eq!(e.position, Some(32));
        let e = parse_query("create publication p9 for all tables, table t2").unwrap_err();
        assert_eq!(e.message, "syntax error at or near \",\"");
        assert_eq!(e.position, Some(37));
        let e = parse_query("alter publication p set table").unwrap_err();
        assert_eq!(e.message, "syntax error at end of input");
    }
}
