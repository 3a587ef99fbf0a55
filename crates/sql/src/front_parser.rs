//! The front of parsing: splits a query string into statements and parses each one,
//! by hand for what sqlparser 0.63 rejects or gets wrong, by sqlparser otherwise
//! (PostgreSQL's `parser/scan.l` + `gram.y` roles, much reduced).
//!
//! Splitting (on `;` outside quotes, dollar quotes and comments) and tokenizing
//! live in [`crate::scan`]. Every piece is
//! parsed before anything runs, as PostgreSQL parses a whole message first: one
//! syntax error means no statement of the message executes.
//!
//! Hand-parsed ([`FrontStmt`]): `ALTER SYSTEM`, `CHECKPOINT`, `VACUUM`, `ANALYZE`,
//! `COPY`, `CREATE SEQUENCE` (sqlparser wants a fixed option order),
//! `CREATE/ALTER/DROP PUBLICATION` (in [`publication`]), and
//! `CREATE/ALTER/DROP SUBSCRIPTION` (in [`subscription`]), `GRANT` / `REVOKE`
//! (in [`grant`]). `CREATE USER` is rewritten in place to
//! `CREATE ROLE` (same length, so error positions stay right) and flagged.
//!
//! Errors carry PostgreSQL's text and a 1-based character position into the whole
//! query string: `42601 syntax error at or near "x"`, `syntax error at end of input`.

use sqlparser::ast::Statement;
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;
use tandem_types::{Locate, PgError, PgResult, SqlState};

pub(crate) use crate::scan::{lex, split_statements, Piece, Tok, Token};

mod grant;
mod publication;
mod subscription;

pub(crate) use grant::{GrantObjects, GrantStmt, RoleSpec};

pub(crate) use publication::{AlterPubAction, PubObject, PubOption, PubTarget, PublicationStmt};
pub(crate) use subscription::{AlterSubAction, SubscriptionStmt};

/// One parsed statement with its source text.
#[derive(Clone, Debug)]
pub(crate) struct ParsedStmt {
    pub kind: StmtKind,
    /// The statement's own text (without the `;`).
    pub text: String,
    /// Characters before `text` in the query string it came from; None when
    /// `text` is not the client's (a statement re-printed from a tree).
    pub base: Option<usize>,
}

impl ParsedStmt {
    /// Resolves an error's [`Locate`] into its position in the query string
    /// (a position already set wins; one that cannot be found is left out).
    pub(crate) fn locate(&self, mut e: PgError) -> PgError {
        let Some(loc) = e.take_locate() else {
            return e;
        };
        let (Some(base), None) = (self.base, e.position) else {
            return e;
        };
        let at = match loc {
            Locate::LineColumn(line, col) => {
                Some(line_col_to_byte(&self.text, line as usize, col as usize))
            }
            Locate::OperatorBefore(line, col) => operator_before(
                &self.text,
                line_col_to_byte(&self.text, line as usize, col as usize),
            ),
            Locate::ParenBefore(line, col) => {
                let at = line_col_to_byte(&self.text, line as usize, col as usize);
                let toks = lex(&self.text).ok();
                let before = toks.as_ref().and_then(|t| t.iter().rfind(|t| t.start < at));
                match before {
                    Some(t) if t.tok == Tok::Punct('(') => Some(t.start),
                    _ => Some(at),
                }
            }
            Locate::Words(words) => find_words(&self.text, words),
        };
        if let Some(at) = at {
            e.position = Some(char_pos(&self.text, at, base));
        }
        e
    }
}

/// The byte where the operator written before byte `at` starts: the tokens
/// before it, back over `(`, then over the characters of a multi-character
/// operator (`||`, `<=`), which the lexer splits.
fn operator_before(text: &str, at: usize) -> Option<usize> {
    let toks = lex(text).ok()?;
    let mut k = toks.iter().rposition(|t| t.start < at)?;
    while k > 0 && toks[k].tok == Tok::Punct('(') {
        k -= 1;
    }
    let op_char = |t: &Token| matches!(t.tok, Tok::Punct(c) if "+-*/<>=~!@#%^&|`?".contains(c));
    while k > 0 && op_char(&toks[k]) && op_char(&toks[k - 1]) && toks[k - 1].end == toks[k].start {
        k -= 1;
    }
    Some(toks[k].start)
}

/// The byte where the unquoted words of `words` first follow each other.
fn find_words(text: &str, words: &str) -> Option<usize> {
    let toks = lex(text).ok()?;
    let want: Vec<&str> = words.split(' ').collect();
    toks.windows(want.len())
        .find(|w| w.iter().zip(&want).all(|(t, x)| t.word() == Some(x)))
        .map(|w| w[0].start)
}

#[derive(Clone, Debug)]
pub(crate) enum StmtKind {
    /// Parsed by sqlparser. `create_user` marks a rewritten `CREATE USER`;
    /// `overriding` is an INSERT's OVERRIDING clause (taken out of the text
    /// sqlparser reads).
    Sql {
        stmt: Box<Statement>,
        create_user: bool,
        overriding: Option<tandem_query::Overriding>,
    },
    Front(FrontStmt),
}

/// A `LIKE source [INCLUDING | EXCLUDING option] ...` element of CREATE
/// TABLE (which sqlparser does not read): where it stands in the
/// statement's text (bytes) and what it says.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct LikeClause {
    pub start: usize,
    pub end: usize,
    /// The source's name as written, and where it starts (bytes).
    pub source: String,
    pub source_at: usize,
    /// Each option in order, `true` for INCLUDING (`all` stands for them all).
    pub options: Vec<(bool, String)>,
}

/// Statements the hand-written parser owns.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum FrontStmt {
    /// `CREATE TABLE name (... LIKE source ...)`: the statement's text (run
    /// as CREATE TABLE once each LIKE is replaced by what it copies), the
    /// characters before it in the query string, and its LIKE elements.
    CreateTableLike {
        text: String,
        base: usize,
        likes: Vec<LikeClause>,
    },
    /// `ALTER SYSTEM SET name = value` (`Some`), `RESET name` / `SET name TO DEFAULT`
    /// (`None`); `RESET ALL` has name `all`.
    AlterSystem {
        name: String,
        value: Option<String>,
    },
    Checkpoint,
    Vacuum {
        tables: Vec<String>,
        analyze: bool,
    },
    Analyze {
        tables: Vec<String>,
    },
    Copy(CopyStmt),
    CreateSequence(SequenceStmt),
    AlterSequence(SequenceStmt),
    Publication(PublicationStmt),
    Subscription(SubscriptionStmt),
    /// `GRANT` / `REVOKE`, privileges or role membership.
    Grant(GrantStmt),
    /// `MOVE [direction] [FROM | IN] cursor`: a FETCH that returns no rows.
    Move {
        name: sqlparser::ast::Ident,
        direction: sqlparser::ast::FetchDirection,
    },
    /// Recognised but not implemented yet; the string names the construct.
    Unsupported(String),
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum CopySource {
    Table {
        name: String,
        columns: Vec<String>,
    },
    /// `COPY (query) TO STDOUT`
    Query(Box<Statement>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CopyFormat {
    Text,
    Csv,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct CopyStmt {
    pub source: CopySource,
    /// true: `FROM STDIN`; false: `TO STDOUT`
    pub from: bool,
    pub format: CopyFormat,
    pub delimiter: Option<u8>,
    pub null: Option<String>,
    pub header: bool,
    pub quote: Option<u8>,
    pub escape: Option<u8>,
}

#[derive(Clone, Debug, PartialEq, Default)]
pub(crate) struct SequenceStmt {
    pub name: String,
    pub if_not_exists: bool,
    pub type_name: Option<String>,
    pub increment: Option<i64>,
    /// `Some(None)` is `NO MINVALUE`.
    pub min_value: Option<Option<i64>>,
    pub max_value: Option<Option<i64>>,
    pub start: Option<i64>,
    pub cache: Option<i64>,
    pub cycle: Option<bool>,
    /// `OWNED BY t.c` (`Some(None)`: `OWNED BY NONE`)
    pub owned_by: Option<Option<(String, String)>>,
    /// ALTER SEQUENCE: `IF EXISTS`, and `RESTART [[WITH] n]` (`Some(None)`:
    /// back to the start value).
    pub if_exists: bool,
    pub restart: Option<Option<i64>>,
}

/// Parses a whole simple-query string. Empty result: EmptyQueryResponse.
pub(crate) fn parse_query(sql: &str) -> PgResult<Vec<ParsedStmt>> {
    split_statements(sql)
        .into_iter()
        .map(|piece| parse_piece(sql, &piece))
        .collect()
}

/// Parses one statement (extended protocol Parse: the string must hold at most one).
pub(crate) fn parse_single(sql: &str) -> PgResult<Option<ParsedStmt>> {
    let mut stmts = parse_query(sql)?;
    if stmts.len() > 1 {
        return Err(PgError::syntax(
            "cannot insert multiple commands into a prepared statement",
        ));
    }
    Ok(stmts.pop())
}

fn parse_piece(whole: &str, piece: &Piece<'_>) -> PgResult<ParsedStmt> {
    let base = whole[..piece.offset].chars().count();
    let text = piece.text.to_string();
    let toks = lex(piece.text)
        .map_err(|(msg, at)| PgError::syntax(msg).with_position(char_pos(piece.text, at, base)))?;
    let words: Vec<&str> = toks
        .iter()
        .take(3)
        .map(|t| t.word().unwrap_or(""))
        .collect();
    let w = |i: usize| words.get(i).copied().unwrap_or("");
    let front = matches!(
        (w(0), w(1)),
        ("alter", "system")
            | ("checkpoint" | "vacuum" | "analyze" | "analyse" | "copy", _)
            | ("create" | "alter", "sequence")
            | ("create" | "alter" | "drop", "publication" | "subscription")
            | ("grant" | "revoke", _)
    );
    if front {
        let mut p = FrontParser {
            toks: &toks,
            pos: 0,
            text: piece.text,
            base,
            terminated: piece.terminated,
        };
        let stmt = p.statement()?;
        return Ok(ParsedStmt {
            kind: StmtKind::Front(stmt),
            text,
            base: Some(base),
        });
    }
    if (w(0), w(1)) == ("create", "table") {
        let likes = like_elements(&toks, piece.text, base)?;
        if !likes.is_empty() {
            return Ok(ParsedStmt {
                kind: StmtKind::Front(FrontStmt::CreateTableLike {
                    text: piece.text.to_string(),
                    base,
                    likes,
                }),
                text,
                base: Some(base),
            });
        }
    }
    let mut sql_text = piece.text.to_string();
    let create_user = w(0) == "create" && w(1) == "user";
    if create_user {
        if let Some(t) = toks.get(1) {
            sql_text.replace_range(t.start..t.end, "ROLE");
        }
    }
    if matches!(w(0), "create" | "alter") {
        reorder_identity_options(&mut sql_text, &toks);
    }
    // `FETCH [direction] name`: sqlparser wants the direction and the FROM
    // (or IN) that PostgreSQL leaves optional; MOVE is read as a FETCH
    let moving = w(0) == "move";
    if matches!(w(0), "fetch" | "move")
        && !toks.iter().any(|t| matches!(t.word(), Some("from" | "in")))
    {
        if let Some(name) = toks.last().filter(|_| toks.len() > 1) {
            let missing = if toks.len() == 2 {
                "NEXT FROM "
            } else {
                "FROM "
            };
            sql_text.insert_str(name.start, missing);
        }
    }
    if moving {
        sql_text.replace_range(toks[0].start..toks[0].end, "FETCH");
        if let Statement::Fetch {
            name, direction, ..
        } = parse_with_sqlparser(&sql_text, piece.text, base, piece.terminated)?
        {
            return Ok(ParsedStmt {
                kind: StmtKind::Front(FrontStmt::Move { name, direction }),
                text,
                base: Some(base),
            });
        }
    }
    let overriding =
        match w(0) {
            "insert" => take_overriding(&mut sql_text, &toks).map_err(|at| {
                let near = toks.get(at).map_or("", |t| &piece.text[t.start..t.end]);
                PgError::syntax(format!("syntax error at or near \"{near}\"")).with_position(
                    char_pos(piece.text, toks.get(at).map_or(0, |t| t.start), base),
                )
            })?,
            _ => None,
        };
    let stmt = parse_with_sqlparser(&sql_text, piece.text, base, piece.terminated)?;
    Ok(ParsedStmt {
        kind: StmtKind::Sql {
            stmt: Box::new(stmt),
            create_user,
            overriding,
        },
        text,
        base: Some(base),
    })
}

/// An INSERT's `OVERRIDING SYSTEM VALUE` / `OVERRIDING USER VALUE`, which
/// sqlparser does not parse: blanked out of the text (its length kept, so
/// error positions hold) and returned. `Err(i)`: token `i` should have been
/// `VALUE`.
fn take_overriding(
    text: &mut String,
    toks: &[Token],
) -> Result<Option<tandem_query::Overriding>, usize> {
    let Some(i) = toks.windows(2).position(|w| {
        w[0].word() == Some("overriding") && matches!(w[1].word(), Some("system" | "user"))
    }) else {
        return Ok(None);
    };
    if toks.get(i + 2).and_then(Token::word) != Some("value") {
        return Err(i + 2);
    }
    let kind = match toks[i + 1].word() {
        Some("system") => tandem_query::Overriding::System,
        _ => tandem_query::Overriding::User,
    };
    let (from, to) = (toks[i].start, toks[i + 2].end);
    text.replace_range(from..to, &" ".repeat(to - from));
    Ok(Some(kind))
}

/// sqlparser takes the options of `GENERATED ... AS IDENTITY (...)` only in
/// the order CREATE SEQUENCE's synopsis lists them (INCREMENT, MINVALUE,
/// MAXVALUE, START, CACHE, CYCLE); PostgreSQL takes any order. Puts each
/// list in that order, keeping the text's length so error positions hold.
/// A list with an option it does not know is left as written.
fn reorder_identity_options(text: &mut String, toks: &[Token]) {
    fn rank(inner: &[Token], k: usize) -> Option<u8> {
        match inner[k].word()? {
            "increment" => Some(0),
            "minvalue" => Some(1),
            "maxvalue" => Some(2),
            "start" => Some(3),
            "cache" => Some(4),
            "cycle" => Some(5),
            "no" => match inner.get(k + 1)?.word()? {
                "minvalue" => Some(1),
                "maxvalue" => Some(2),
                "cycle" => Some(5),
                _ => None,
            },
            _ => None,
        }
    }
    let mut i = 0;
    while i + 1 < toks.len() {
        if toks[i].word() != Some("identity") || toks[i + 1].tok != Tok::Punct('(') {
            i += 1;
            continue;
        }
        let open = i + 1;
        let mut depth = 0;
        let Some(close) = toks[open..].iter().position(|t| {
            match t.tok {
                Tok::Punct('(') => depth += 1,
                Tok::Punct(')') => depth -= 1,
                _ => {}
            }
            depth == 0
        }) else {
            return;
        };
        let close = open + close;
        i = close;
        let inner = &toks[open + 1..close];
        // (rank, first token, last token) of each option
        let mut groups: Vec<(u8, usize, usize)> = Vec::new();
        for k in 0..inner.len() {
            let after_no = k > 0 && inner[k - 1].word() == Some("no");
            match rank(inner, k) {
                Some(r) if !after_no => groups.push((r, k, k)),
                _ => match groups.last_mut() {
                    Some(g) => g.2 = k,
                    None => return,
                },
            }
        }
        if groups.windows(2).all(|w| w[0].0 <= w[1].0) {
            continue;
        }
        groups.sort_by_key(|g| g.0);
        let (from, to) = (toks[open].end, toks[close].start);
        let mut list = String::with_capacity(to - from);
        for g in &groups {
            if !list.is_empty() {
                list.push(' ');
            }
            list.push_str(&text[inner[g.1].start..inner[g.2].end]);
        }
        if list.len() > to - from {
            return;
        }
        while list.len() < to - from {
            list.push(' ');
        }
        text.replace_range(from..to, &list);
    }
}

/// Runs sqlparser on one statement's text; maps its errors to PostgreSQL's.
/// The options a LIKE element of CREATE TABLE takes.
const LIKE_OPTIONS: [&str; 10] = [
    "comments",
    "compression",
    "constraints",
    "defaults",
    "generated",
    "identity",
    "indexes",
    "statistics",
    "storage",
    "all",
];

/// The LIKE elements of a CREATE TABLE's parenthesized list (none when it
/// has none, or no list).
fn like_elements(toks: &[Token], text: &str, base: usize) -> PgResult<Vec<LikeClause>> {
    let Some(open) = toks.iter().position(|t| t.tok == Tok::Punct('(')) else {
        return Ok(Vec::new());
    };
    let mut likes = Vec::new();
    let mut depth = 0usize;
    // the first token of each element at depth 1
    let mut element_start = open + 1;
    let mut i = open;
    while i < toks.len() {
        match toks[i].tok {
            Tok::Punct('(') => depth += 1,
            Tok::Punct(')') => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    break;
                }
            }
            Tok::Punct(',') if depth == 1 => element_start = i + 1,
            _ => {}
        }
        if depth == 1 && i == element_start && toks[i].word() == Some("like") {
            let (like, next) = like_element(toks, text, base, i)?;
            likes.push(like);
            i = next;
            continue;
        }
        i += 1;
    }
    Ok(likes)
}

/// The LIKE element starting at token `at`, and the token after it.
fn like_element(
    toks: &[Token],
    text: &str,
    base: usize,
    at: usize,
) -> PgResult<(LikeClause, usize)> {
    let syntax = |k: usize| match toks.get(k) {
        Some(t) => PgError::syntax(format!(
            "syntax error at or near \"{}\"",
            &text[t.start..t.end]
        ))
        .with_position(char_pos(text, t.start, base)),
        None => PgError::syntax("syntax error at end of input")
            .with_position(char_pos(text, text.len(), base) + 1),
    };
    let ends = |k: usize| {
        toks.get(k)
            .is_none_or(|t| matches!(t.tok, Tok::Punct(',') | Tok::Punct(')')))
    };
    let mut k = at + 1;
    let name_start = k;
    while !ends(k) && !matches!(toks[k].word(), Some("including" | "excluding")) {
        k += 1;
    }
    if k == name_start {
        return Err(syntax(k));
    }
    let source = text[toks[name_start].start..toks[k - 1].end].to_string();
    let mut options = Vec::new();
    while !ends(k) {
        let including = match toks[k].word() {
            Some("including") => true,
            Some("excluding") => false,
            _ => return Err(syntax(k)),
        };
        match toks.get(k + 1).and_then(|t| t.word()) {
            Some(o) if LIKE_OPTIONS.contains(&o) => options.push((including, o.to_string())),
            _ => return Err(syntax(k + 1)),
        }
        k += 2;
    }
    let like = LikeClause {
        start: toks[at].start,
        end: toks[k - 1].end,
        source,
        source_at: toks[name_start].start,
        options,
    };
    Ok((like, k))
}

pub(crate) fn parse_with_sqlparser(
    sql: &str,
    original: &str,
    base: usize,
    terminated: bool,
) -> PgResult<Statement> {
    let dialect = PostgreSqlDialect {};
    let result = Parser::new(&dialect)
        .try_with_sql(sql)
        .and_then(|mut p| p.parse_statements());
    match result {
        Ok(mut stmts) if stmts.len() == 1 => Ok(stmts.remove(0)),
        Ok(_) => Err(PgError::syntax("syntax error at or near \";\"")),
        Err(e) => Err(map_parser_error(&e.to_string(), original, base, terminated)),
    }
}

/// Turns sqlparser's "Expected: X, found: T at Line: L, Column: C" into
/// `syntax error at or near "T"` with PostgreSQL's position.
fn map_parser_error(msg: &str, text: &str, base: usize, terminated: bool) -> PgError {
    let end_of_input = || {
        if terminated {
            PgError::syntax("syntax error at or near \";\"")
                .with_position((base + text.chars().count() + 1) as u32)
        } else {
            PgError::syntax("syntax error at end of input")
                .with_position((base + text.chars().count() + 1) as u32)
        }
    };
    let loc = parse_location(msg);
    if msg.contains("Unterminated string literal") {
        if let Some((l, c)) = loc {
            let at = line_col_to_byte(text, l, c);
            let rest = &text[at..];
            return PgError::syntax(format!("unterminated quoted string at or near \"{rest}\""))
                .with_position(char_pos(text, at, base));
        }
    }
    if let Some(idx) = msg.find("found: ") {
        let after = &msg[idx + 7..];
        let token = match after.rfind(" at Line: ") {
            Some(e) => &after[..e],
            None => after,
        };
        if token == "EOF" {
            return end_of_input();
        }
        if let Some((l, c)) = loc {
            let at = line_col_to_byte(text, l, c);
            let tok = token_text_at(text, at).unwrap_or(token);
            return PgError::syntax(format!("syntax error at or near \"{tok}\""))
                .with_position(char_pos(text, at, base));
        }
        return PgError::syntax(format!("syntax error at or near \"{token}\""));
    }
    if msg.contains("EOF") {
        return end_of_input();
    }
    PgError::syntax(format!(
        "syntax error: {}",
        msg.trim_start_matches("sql parser error: ")
    ))
}

fn parse_location(msg: &str) -> Option<(usize, usize)> {
    let idx = msg.rfind("Line: ")?;
    let rest = &msg[idx + 6..];
    let comma = rest.find(',')?;
    let line: usize = rest[..comma].trim().parse().ok()?;
    let cidx = rest.find("Column: ")?;
    let col: String = rest[cidx + 8..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    Some((line, col.parse().ok()?))
}

/// Byte offset of 1-based (line, column) (columns count characters).
fn line_col_to_byte(text: &str, line: usize, col: usize) -> usize {
    let mut cur_line = 1;
    let mut cur_col = 1;
    for (i, ch) in text.char_indices() {
        if cur_line == line && cur_col == col {
            return i;
        }
        if ch == '\n' {
            cur_line += 1;
            cur_col = 1;
        } else {
            cur_col += 1;
        }
    }
    text.len()
}

/// The source text of the token starting at byte `at` (as PostgreSQL quotes it).
fn token_text_at(text: &str, at: usize) -> Option<&str> {
    let toks = lex(&text[at..]).ok()?;
    let t = toks.first()?;
    (t.start == 0 || text[at..at + t.start].trim().is_empty())
        .then(|| &text[at + t.start..at + t.end])
}

pub(crate) fn char_pos(text: &str, byte: usize, base: usize) -> u32 {
    let byte = byte.min(text.len());
    (base + text[..byte].chars().count() + 1) as u32
}

// ---------------------------------------------------------------------------
// The hand-written statement parser.

struct FrontParser<'a> {
    toks: &'a [Token],
    pos: usize,
    text: &'a str,
    base: usize,
    terminated: bool,
}

impl<'a> FrontParser<'a> {
    fn peek(&self) -> Option<&'a Token> {
        self.toks.get(self.pos)
    }

    fn peek_word(&self) -> Option<&'a str> {
        self.peek().and_then(|t| t.word())
    }

    fn error(&self) -> PgError {
        match self.peek() {
            Some(t) => PgError::syntax(format!(
                "syntax error at or near \"{}\"",
                &self.text[t.start..t.end]
            ))
            .with_position(char_pos(self.text, t.start, self.base)),
            None => {
                let msg = if self.terminated {
                    "syntax error at or near \";\""
                } else {
                    "syntax error at end of input"
                };
                PgError::syntax(msg)
                    .with_position((self.base + self.text.chars().count() + 1) as u32)
            }
        }
    }

    fn eat_word(&mut self, w: &str) -> bool {
        if self.peek_word() == Some(w) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect_word(&mut self, w: &str) -> PgResult<()> {
        if self.eat_word(w) {
            Ok(())
        } else {
            Err(self.error())
        }
    }

    fn eat_punct(&mut self, c: char) -> bool {
        if matches!(self.peek(), Some(Token { tok: Tok::Punct(p), .. }) if *p == c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect_punct(&mut self, c: char) -> PgResult<()> {
        if self.eat_punct(c) {
            Ok(())
        } else {
            Err(self.error())
        }
    }

    fn at_end(&self) -> bool {
        self.pos >= self.toks.len()
    }

    fn expect_end(&self) -> PgResult<()> {
        if self.at_end() {
            Ok(())
        } else {
            Err(self.error())
        }
    }

    /// Any identifier (quoted or not).
    fn ident(&mut self) -> PgResult<String> {
        match self.peek() {
            Some(Token {
                tok: Tok::Word { text, .. },
                ..
            }) => {
                self.pos += 1;
                Ok(text.clone())
            }
            _ => Err(self.error()),
        }
    }

    /// `name` or `schema.name` (kept as written, dots included).
    fn qualified_name(&mut self) -> PgResult<String> {
        let mut name = self.ident()?;
        while self.eat_punct('.') {
            name.push('.');
            name.push_str(&self.ident()?);
        }
        Ok(name)
    }

    fn string(&mut self) -> PgResult<String> {
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

    fn signed_int(&mut self) -> PgResult<i64> {
        let neg = self.eat_punct('-');
        if !neg {
            self.eat_punct('+');
        }
        match self.peek() {
            Some(Token {
                tok: Tok::Num(n), ..
            }) => {
                let v: i64 = n.parse().map_err(|_| self.error())?;
                self.pos += 1;
                Ok(if neg { -v } else { v })
            }
            _ => Err(self.error()),
        }
    }

    fn statement(&mut self) -> PgResult<FrontStmt> {
        let first = self.peek_word().unwrap_or("");
        match first {
            "alter" => {
                self.pos += 1;
                if self.eat_word("system") {
                    return self.alter_system();
                }
                if self.eat_word("publication") {
                    return self.alter_publication().map(FrontStmt::Publication);
                }
                if self.eat_word("subscription") {
                    return self.alter_subscription().map(FrontStmt::Subscription);
                }
                if self.eat_word("sequence") {
                    return self.alter_sequence();
                }
                let what = self.ident()?;
                Ok(FrontStmt::Unsupported(format!(
                    "ALTER {}",
                    what.to_uppercase()
                )))
            }
            "create" | "drop" => {
                self.pos += 1;
                let what = self.ident()?;
                if first == "create" && what == "sequence" {
                    return self.create_sequence().map(FrontStmt::CreateSequence);
                }
                if what == "publication" {
                    return if first == "create" {
                        self.create_publication()
                    } else {
                        self.drop_publication()
                    }
                    .map(FrontStmt::Publication);
                }
                if what == "subscription" {
                    return if first == "create" {
                        self.create_subscription()
                    } else {
                        self.drop_subscription()
                    }
                    .map(FrontStmt::Subscription);
                }
                Ok(FrontStmt::Unsupported(format!(
                    "{} {}",
                    first.to_uppercase(),
                    what.to_uppercase()
                )))
            }
            "grant" | "revoke" => {
                self.pos += 1;
                self.grant_statement(first == "grant").map(FrontStmt::Grant)
            }
            "checkpoint" => {
                self.pos += 1;
                self.expect_end()?;
                Ok(FrontStmt::Checkpoint)
            }
            "vacuum" => {
                self.pos += 1;
                self.vacuum()
            }
            "analyze" | "analyse" => {
                self.pos += 1;
                self.eat_word("verbose");
                let tables = self.table_list()?;
                Ok(FrontStmt::Analyze { tables })
            }
            "copy" => {
                self.pos += 1;
                self.copy().map(FrontStmt::Copy)
            }
            _ => Err(self.error()),
        }
    }

    fn alter_system(&mut self) -> PgResult<FrontStmt> {
        if self.eat_word("reset") {
            let name = self.qualified_name()?;
            self.expect_end()?;
            return Ok(FrontStmt::AlterSystem { name, value: None });
        }
        self.expect_word("set")?;
        let name = self.qualified_name()?;
        if !self.eat_punct('=') {
            self.expect_word("to")?;
        }
        if self.eat_word("default") {
            self.expect_end()?;
            return Ok(FrontStmt::AlterSystem { name, value: None });
        }
        let mut values = Vec::new();
        loop {
            values.push(self.setting_value()?);
            if !self.eat_punct(',') {
                break;
            }
        }
        self.expect_end()?;
        Ok(FrontStmt::AlterSystem {
            name,
            value: Some(values.join(", ")),
        })
    }

    /// A setting value: string, (signed) number, or word.
    fn setting_value(&mut self) -> PgResult<String> {
        let neg = self.eat_punct('-');
        let t = self.peek().ok_or_else(|| self.error())?;
        let v = match &t.tok {
            Tok::Str(s) if !neg => s.clone(),
            Tok::Num(n) => {
                if neg {
                    format!("-{n}")
                } else {
                    n.clone()
                }
            }
            Tok::Word { text, .. } if !neg => text.clone(),
            _ => return Err(self.error()),
        };
        self.pos += 1;
        Ok(v)
    }

    fn table_list(&mut self) -> PgResult<Vec<String>> {
        let mut tables = Vec::new();
        if self.at_end() {
            return Ok(tables);
        }
        loop {
            tables.push(self.qualified_name()?);
            if self.eat_punct('(') {
                // column list: accepted and ignored
                while !self.eat_punct(')') {
                    if self.at_end() {
                        return Err(self.error());
                    }
                    self.pos += 1;
                }
            }
            if !self.eat_punct(',') {
                break;
            }
        }
        self.expect_end()?;
        Ok(tables)
    }

    fn vacuum(&mut self) -> PgResult<FrontStmt> {
        let mut analyze = false;
        if self.eat_punct('(') {
            loop {
                let opt = self.ident()?;
                if opt == "analyze" || opt == "analyse" {
                    analyze = true;
                }
                // optional boolean/number argument
                if !matches!(
                    self.peek(),
                    Some(Token {
                        tok: Tok::Punct(',' | ')'),
                        ..
                    })
                ) {
                    self.pos += 1;
                }
                if self.eat_punct(')') {
                    break;
                }
                self.expect_punct(',')?;
            }
        } else {
            loop {
                match self.peek_word() {
                    Some("full" | "freeze" | "verbose") => self.pos += 1,
                    Some("analyze" | "analyse") => {
                        analyze = true;
                        self.pos += 1;
                    }
                    _ => break,
                }
            }
        }
        let tables = self.table_list()?;
        Ok(FrontStmt::Vacuum { tables, analyze })
    }

    fn copy(&mut self) -> PgResult<CopyStmt> {
        let source = if matches!(
            self.peek(),
            Some(Token {
                tok: Tok::Punct('('),
                ..
            })
        ) {
            let open = self.pos;
            let mut depth = 0;
            let mut close = None;
            for (k, t) in self.toks.iter().enumerate().skip(open) {
                match t.tok {
                    Tok::Punct('(') => depth += 1,
                    Tok::Punct(')') => {
                        depth -= 1;
                        if depth == 0 {
                            close = Some(k);
                            break;
                        }
                    }
                    _ => {}
                }
            }
            let close = close.ok_or_else(|| {
                self.pos = self.toks.len();
                self.error()
            })?;
            let from = self.toks[open].end;
            let to = self.toks[close].start;
            let inner = &self.text[from..to];
            let inner_base = self.base + self.text[..from].chars().count();
            let stmt = parse_with_sqlparser(inner, inner, inner_base, false)?;
            self.pos = close + 1;
            CopySource::Query(Box::new(stmt))
        } else {
            let name = self.qualified_name()?;
            let mut columns = Vec::new();
            if self.eat_punct('(') {
                loop {
                    columns.push(self.ident()?);
                    if self.eat_punct(')') {
                        break;
                    }
                    self.expect_punct(',')?;
                }
            }
            CopySource::Table { name, columns }
        };
        let from = if self.eat_word("from") {
            true
        } else if self.eat_word("to") {
            false
        } else {
            return Err(self.error());
        };
        if let CopySource::Query(_) = source {
            if from {
                self.pos -= 1;
                return Err(self.error());
            }
        }
        match self.peek() {
            Some(t) if t.word() == Some("stdin") && from => self.pos += 1,
            Some(t) if t.word() == Some("stdout") && !from => self.pos += 1,
            Some(Token {
                tok: Tok::Str(_), ..
            }) => {
                return Err(PgError::unsupported(if from {
                    "COPY FROM a file"
                } else {
                    "COPY TO a file"
                }))
            }
            Some(t) if t.word() == Some("program") => {
                return Err(PgError::unsupported("COPY PROGRAM"))
            }
            _ => return Err(self.error()),
        }
        let mut stmt = CopyStmt {
            source,
            from,
            format: CopyFormat::Text,
            delimiter: None,
            null: None,
            header: false,
            quote: None,
            escape: None,
        };
        self.eat_word("with");
        if self.eat_punct('(') {
            loop {
                self.copy_option(&mut stmt, true)?;
                if self.eat_punct(')') {
                    break;
                }
                self.expect_punct(',')?;
            }
        } else {
            while !self.at_end() {
                self.copy_option(&mut stmt, false)?;
            }
        }
        self.expect_end()?;
        Ok(stmt)
    }

    /// One COPY option; `modern` is the parenthesized `(name value, ...)` syntax.
    fn copy_option(&mut self, stmt: &mut CopyStmt, modern: bool) -> PgResult<()> {
        let name = self.ident()?;
        let single_byte = |p: &mut Self, what: &str| -> PgResult<u8> {
            p.eat_word("as");
            let s = p.string()?;
            if s.len() != 1 {
                return Err(PgError::new(
                    SqlState::FEATURE_NOT_SUPPORTED,
                    format!("COPY {what} must be a single one-byte character"),
                ));
            }
            Ok(s.as_bytes()[0])
        };
        match name.as_str() {
            "format" if modern => {
                let f = self.ident()?;
                stmt.format = match f.as_str() {
                    "text" => CopyFormat::Text,
                    "csv" => CopyFormat::Csv,
                    "binary" => return Err(PgError::unsupported("COPY BINARY")),
                    _ => {
                        return Err(PgError::new(
                            SqlState::INVALID_PARAMETER_VALUE,
                            format!("COPY format \"{f}\" not recognized"),
                        ))
                    }
                };
            }
            "csv" if !modern => stmt.format = CopyFormat::Csv,
            "binary" if !modern => return Err(PgError::unsupported("COPY BINARY")),
            "freeze" | "header" => {
                let on = self.optional_bool(modern)?;
                if name == "header" {
                    stmt.header = on;
                }
            }
            "delimiter" => stmt.delimiter = Some(single_byte(self, "delimiter")?),
            "quote" => stmt.quote = Some(single_byte(self, "quote")?),
            "escape" => stmt.escape = Some(single_byte(self, "escape")?),
            "null" => {
                self.eat_word("as");
                stmt.null = Some(self.string()?);
            }
            "encoding" => {
                let enc = self.string()?;
                let e = enc.to_ascii_lowercase().replace(['-', '_'], "");
                if e != "utf8" && e != "sqlascii" {
                    return Err(PgError::unsupported(format!("COPY ENCODING '{enc}'")));
                }
            }
            "force_quote" | "force_not_null" | "force_null" => {
                return Err(PgError::unsupported(format!(
                    "COPY {}",
                    name.to_uppercase()
                )))
            }
            _ => {
                self.pos -= 1;
                if modern {
                    return Err(PgError::new(
                        SqlState::SYNTAX_ERROR,
                        format!("option \"{name}\" not recognized"),
                    )
                    .with_position(char_pos(
                        self.text,
                        self.toks[self.pos].start,
                        self.base,
                    )));
                }
                return Err(self.error());
            }
        }
        Ok(())
    }

    /// `[true|false|on|off|1|0]` after a boolean option (modern syntax only).
    fn optional_bool(&mut self, modern: bool) -> PgResult<bool> {
        if !modern {
            return Ok(true);
        }
        let t = match self.peek() {
            Some(t) => t,
            None => return Ok(true),
        };
        let v = match &t.tok {
            Tok::Word { text, .. } => match text.as_str() {
                "true" | "on" | "yes" => Some(true),
                "false" | "off" | "no" => Some(false),
                "match" => Some(true),
                _ => None,
            },
            Tok::Num(n) if n == "1" => Some(true),
            Tok::Num(n) if n == "0" => Some(false),
            Tok::Str(s) => match s.to_ascii_lowercase().as_str() {
                "true" | "on" => Some(true),
                "false" | "off" => Some(false),
                _ => None,
            },
            _ => return Ok(true),
        };
        match v {
            Some(b) => {
                self.pos += 1;
                Ok(b)
            }
            None => Err(self.error()),
        }
    }

    fn create_sequence(&mut self) -> PgResult<SequenceStmt> {
        let mut s = SequenceStmt::default();
        if self.eat_word("if") {
            self.expect_word("not")?;
            self.expect_word("exists")?;
            s.if_not_exists = true;
        }
        s.name = self.qualified_name()?;
        while !self.at_end() {
            self.sequence_option(&mut s, false)?;
        }
        Ok(s)
    }

    /// `ALTER SEQUENCE [IF EXISTS] name option ...`; the forms that rename,
    /// move or re-own a sequence are not run.
    fn alter_sequence(&mut self) -> PgResult<FrontStmt> {
        let mut s = SequenceStmt::default();
        if self.eat_word("if") {
            self.expect_word("exists")?;
            s.if_exists = true;
        }
        s.name = self.qualified_name()?;
        match self.peek_word() {
            Some("rename") => {
                return Ok(FrontStmt::Unsupported("ALTER SEQUENCE ... RENAME".into()))
            }
            Some("owner") => {
                return Ok(FrontStmt::Unsupported("ALTER SEQUENCE ... OWNER TO".into()))
            }
            Some("set") => return Ok(FrontStmt::Unsupported("ALTER SEQUENCE ... SET".into())),
            _ => {}
        }
        // at least one option
        if self.at_end() {
            return Err(self.error());
        }
        while !self.at_end() {
            self.sequence_option(&mut s, true)?;
        }
        Ok(FrontStmt::AlterSequence(s))
    }

    /// One option of CREATE SEQUENCE (any order, as PostgreSQL takes them);
    /// `alter` also takes RESTART.
    fn sequence_option(&mut self, s: &mut SequenceStmt, alter: bool) -> PgResult<()> {
        let w = self.ident()?;
        match w.as_str() {
            "as" => {
                let mut ty = self.ident()?;
                if ty == "double" || ty == "character" {
                    ty.push(' ');
                    ty.push_str(&self.ident()?);
                }
                s.type_name = Some(ty);
            }
            "increment" => {
                self.eat_word("by");
                s.increment = Some(self.signed_int()?);
            }
            "minvalue" => s.min_value = Some(Some(self.signed_int()?)),
            "maxvalue" => s.max_value = Some(Some(self.signed_int()?)),
            "start" => {
                self.eat_word("with");
                s.start = Some(self.signed_int()?);
            }
            "restart" if alter => {
                let with = self.eat_word("with");
                s.restart = Some(if with || (!self.at_end() && self.peek_word().is_none()) {
                    Some(self.signed_int()?)
                } else {
                    None
                });
            }
            "cache" => s.cache = Some(self.signed_int()?),
            "cycle" => s.cycle = Some(true),
            "no" => {
                let what = self.ident()?;
                match what.as_str() {
                    "minvalue" => s.min_value = Some(None),
                    "maxvalue" => s.max_value = Some(None),
                    "cycle" => s.cycle = Some(false),
                    _ => {
                        self.pos -= 1;
                        return Err(self.error());
                    }
                }
            }
            "owned" => {
                self.expect_word("by")?;
                if self.eat_word("none") {
                    s.owned_by = Some(None);
                    return Ok(());
                }
                let full = self.qualified_name()?;
                match full.rsplit_once('.') {
                    Some((t, c)) => s.owned_by = Some(Some((t.to_string(), c.to_string()))),
                    None => {
                        return Err(PgError::syntax("invalid relation name in OWNED BY option"));
                    }
                }
            }
            _ => {
                self.pos -= 1;
                return Err(self.error());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn front(sql: &str) -> FrontStmt {
        match parse_query(sql).expect("parses").remove(0).kind {
            StmtKind::Front(f) => f,
            other => panic!("not a front statement: {other:?}"),
        }
    }

    #[test]
    fn alter_system_forms() {
        assert_eq!(
            front("ALTER SYSTEM SET work_mem = '1MB'"),
            FrontStmt::AlterSystem {
                name: "work_mem".into(),
                value: Some("1MB".into())
            }
        );
        assert_eq!(
            front("alter system set wal_level to logical"),
            FrontStmt::AlterSystem {
                name: "wal_level".into(),
                value: Some("logical".into())
            }
        );
        assert_eq!(
            front("ALTER SYSTEM SET x TO DEFAULT"),
            FrontStmt::AlterSystem {
                name: "x".into(),
                value: None
            }
        );
        assert_eq!(
            front("ALTER SYSTEM RESET ALL"),
            FrontStmt::AlterSystem {
                name: "all".into(),
                value: None
            }
        );
        assert_eq!(
            front("ALTER SYSTEM SET a = -1"),
            FrontStmt::AlterSystem {
                name: "a".into(),
                value: Some("-1".into())
            }
        );
    }

    #[test]
    fn vacuum_analyze_checkpoint() {
        assert_eq!(front("CHECKPOINT"), FrontStmt::Checkpoint);
        assert_eq!(
            front("vacuum analyze pgbench_branches"),
            FrontStmt::Vacuum {
                tables: vec!["pgbench_branches".into()],
                analyze: true
            }
        );
        assert_eq!(
            front("VACUUM (FULL, ANALYZE true) a, b"),
            FrontStmt::Vacuum {
                tables: vec!["a".into(), "b".into()],
                analyze: true
            }
        );
        assert_eq!(front("ANALYZE"), FrontStmt::Analyze { tables: vec![] });
        assert_eq!(
            front("analyze t"),
            FrontStmt::Analyze {
                tables: vec!["t".into()]
            }
        );
    }

    #[test]
    fn copy_forms() {
        let FrontStmt::Copy(c) = front("copy pgbench_accounts from stdin with (freeze on)") else {
            panic!()
        };
        assert!(c.from);
        assert_eq!(
            c.source,
            CopySource::Table {
                name: "pgbench_accounts".into(),
                columns: vec![]
            }
        );
        let FrontStmt::Copy(c) =
            front("COPY t (a, b) FROM STDIN WITH (FORMAT csv, HEADER, DELIMITER ';', NULL 'x')")
        else {
            panic!()
        };
        assert_eq!(c.format, CopyFormat::Csv);
        assert!(c.header);
        assert_eq!(c.delimiter, Some(b';'));
        assert_eq!(c.null.as_deref(), Some("x"));
        let FrontStmt::Copy(c) = front("COPY (select a from t where b = ')') TO STDOUT CSV HEADER")
        else {
            panic!()
        };
        assert!(!c.from);
        assert!(matches!(c.source, CopySource::Query(_)));
        assert_eq!(c.format, CopyFormat::Csv);
        assert!(parse_query("COPY t FROM '/etc/passwd'").is_err());
    }

    #[test]
    fn identity_options_any_order() {
        let mut text = "CREATE TABLE t (id int GENERATED ALWAYS AS IDENTITY (CACHE 2 START WITH 5  NO CYCLE INCREMENT BY -2), v int)".to_string();
        let toks = lex(&text).expect("lexes");
        let len = text.len();
        reorder_identity_options(&mut text, &toks);
        assert_eq!(
            text,
            "CREATE TABLE t (id int GENERATED ALWAYS AS IDENTITY (INCREMENT BY -2 START WITH 5 CACHE 2 NO CYCLE ), v int)"
        );
        assert_eq!(text.len(), len);
        let parsed = parse_query(
            "CREATE TABLE t (id int GENERATED BY DEFAULT AS IDENTITY (START 3 INCREMENT 2))",
        );
        assert!(parsed.is_ok(), "{parsed:?}");
    }

    #[test]
    fn alter_sequence_forms() {
        let FrontStmt::AlterSequence(s) =
            front("ALTER SEQUENCE IF EXISTS s RESTART INCREMENT 2 NO MAXVALUE OWNED BY NONE")
        else {
            panic!()
        };
        assert!(s.if_exists);
        assert_eq!(s.restart, Some(None));
        assert_eq!(s.increment, Some(2));
        assert_eq!(s.max_value, Some(None));
        assert_eq!(s.owned_by, Some(None));
        let FrontStmt::AlterSequence(s) = front("alter sequence s restart with 10") else {
            panic!()
        };
        assert_eq!(s.restart, Some(Some(10)));
        let FrontStmt::AlterSequence(s) = front("alter sequence s restart 7 cycle") else {
            panic!()
        };
        assert_eq!((s.restart, s.cycle), (Some(Some(7)), Some(true)));
        assert!(parse_query("ALTER SEQUENCE s").is_err());
    }

    #[test]
    fn create_sequence_any_order() {
        let FrontStmt::CreateSequence(s) =
            front("CREATE SEQUENCE IF NOT EXISTS s MINVALUE 1 MAXVALUE 100 START 5 INCREMENT BY -1 CACHE 1 NO CYCLE")
        else {
            panic!()
        };
        assert!(s.if_not_exists);
        assert_eq!(s.increment, Some(-1));
        assert_eq!(s.start, Some(5));
        assert_eq!(s.max_value, Some(Some(100)));
        assert_eq!(s.cycle, Some(false));
    }

    #[test]
    fn publications_are_routed_here() {
        assert_eq!(
            front("CREATE PUBLICATION p FOR ALL TABLES"),
            FrontStmt::Publication(PublicationStmt::Create {
                name: "p".into(),
                target: PubTarget::AllTables,
                options: vec![],
            })
        );
        assert_eq!(
            front("drop subscription s"),
            FrontStmt::Subscription(SubscriptionStmt::Drop {
                name: "s".into(),
                if_exists: false,
            })
        );
    }

    #[test]
    fn syntax_errors_have_postgres_text_and_position() {
        let e = parse_query("SELEC 1").unwrap_err();
        assert_eq!(e.code, SqlState::SYNTAX_ERROR);
        assert_eq!(e.message, "syntax error at or near \"SELEC\"");
        assert_eq!(e.position, Some(1));
        let e = parse_query("select 1; select * from t where").unwrap_err();
        assert_eq!(e.message, "syntax error at end of input");
        assert_eq!(e.position, Some(32));
        let e = parse_query("select 1; VACUUM ANALYZE t u").unwrap_err();
        assert_eq!(e.message, "syntax error at or near \"u\"");
        assert_eq!(e.position, Some(28));
        let e = parse_query("select 'abc").unwrap_err();
        assert_eq!(e.message, "unterminated quoted string at or near \"'abc\"");
        assert_eq!(e.position, Some(8));
    }

    #[test]
    fn create_user_is_rewritten_as_role() {
        let p = parse_query("CREATE USER bob LOGIN")
            .expect("parses")
            .remove(0);
        match p.kind {
            StmtKind::Sql {
                stmt, create_user, ..
            } => {
                assert!(create_user);
                assert!(matches!(*stmt, Statement::CreateRole(_)));
            }
            _ => panic!(),
        }
    }
}
