//! The replication command language (PostgreSQL's `repl_gram.y` / `repl_scanner.l`).
//!
//! A walsender connection (`replication=true` or `replication=database`) accepts
//! these commands in simple Query messages:
//!
//! ```text
//! IDENTIFY_SYSTEM
//! SHOW name
//! TIMELINE_HISTORY tli
//! READ_REPLICATION_SLOT slot
//! CREATE_REPLICATION_SLOT slot [TEMPORARY] PHYSICAL [RESERVE_WAL | (options)]
//! CREATE_REPLICATION_SLOT slot [TEMPORARY] LOGICAL plugin
//!         [EXPORT_SNAPSHOT | NOEXPORT_SNAPSHOT | USE_SNAPSHOT | TWO_PHASE | (options)]
//! ALTER_REPLICATION_SLOT slot (options)
//! DROP_REPLICATION_SLOT slot [WAIT]
//! START_REPLICATION [SLOT slot] [PHYSICAL] X/X [TIMELINE tli]
//! START_REPLICATION SLOT slot LOGICAL X/X [(option ['value'], ...)]
//! BASE_BACKUP [(options)] | BASE_BACKUP [LABEL 'x'] [PROGRESS] [FAST] [WAL] [NOWAIT] ...
//! ```
//!
//! Identifiers fold to lower case unless double-quoted; options are
//! `name [value]` where the value is a string, a number or a word. A statement that
//! does not start with one of these keywords is SQL ([`is_replication_command`]
//! tells which): a `replication=database` connection runs it as SQL, a physical one
//! refuses it.

use tandem_types::ident::{truncate_identifier, NAMEDATALEN};
use tandem_types::{Lsn, PgError, PgResult, SqlState, TimeLineId};

/// Value of a generic option: `(name value, ...)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OptionValue {
    /// The option was given without a value (PostgreSQL treats it as true).
    None,
    Str(String),
    Number(String),
    Word(String),
}

impl OptionValue {
    /// Boolean interpretation as PostgreSQL's `defGetBoolean`.
    pub fn as_bool(&self, name: &str) -> PgResult<bool> {
        let text = match self {
            OptionValue::None => return Ok(true),
            OptionValue::Str(s) | OptionValue::Word(s) | OptionValue::Number(s) => {
                s.to_ascii_lowercase()
            }
        };
        match text.as_str() {
            "true" | "on" | "1" => Ok(true),
            "false" | "off" | "0" => Ok(false),
            _ => Err(PgError::new(
                SqlState::SYNTAX_ERROR,
                format!("{name} requires a Boolean value"),
            )),
        }
    }

    pub fn as_text(&self) -> Option<&str> {
        match self {
            OptionValue::None => None,
            OptionValue::Str(s) | OptionValue::Word(s) | OptionValue::Number(s) => Some(s),
        }
    }
}

pub type Options = Vec<(String, OptionValue)>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotKind {
    Physical,
    Logical,
}

/// A parsed replication command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReplCommand {
    IdentifySystem,
    Show(String),
    TimelineHistory(TimeLineId),
    ReadReplicationSlot(String),
    CreateReplicationSlot {
        name: String,
        temporary: bool,
        kind: SlotKind,
        /// output plugin (logical only)
        plugin: Option<String>,
        /// RESERVE_WAL, EXPORT_SNAPSHOT, TWO_PHASE, FAILOVER, SNAPSHOT '...', as options
        options: Options,
    },
    AlterReplicationSlot {
        name: String,
        options: Options,
    },
    DropReplicationSlot {
        name: String,
        wait: bool,
    },
    StartReplication {
        slot: Option<String>,
        kind: SlotKind,
        start: Lsn,
        timeline: Option<TimeLineId>,
        /// plugin options (logical only)
        options: Options,
    },
    BaseBackup {
        options: Options,
    },
}

/// The command keywords: a statement starting with another word is SQL.
const COMMANDS: &[&str] = &[
    "IDENTIFY_SYSTEM",
    "SHOW",
    "TIMELINE_HISTORY",
    "READ_REPLICATION_SLOT",
    "CREATE_REPLICATION_SLOT",
    "ALTER_REPLICATION_SLOT",
    "DROP_REPLICATION_SLOT",
    "START_REPLICATION",
    "BASE_BACKUP",
    "UPLOAD_MANIFEST",
];

/// Whether `text` is a replication command (as `replication_scanner_is_replication_command`).
pub fn is_replication_command(text: &str) -> bool {
    let mut lx = Lexer::new(text);
    matches!(lx.next_token(), Ok(Some(Token::Word(w))) if COMMANDS.iter().any(|c| c.eq_ignore_ascii_case(&w)))
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    /// unquoted word, kept as typed (keywords compare case-insensitively)
    Word(String),
    /// "quoted identifier"
    Ident(String),
    Str(String),
    Number(String),
    /// X/X
    Lsn(Lsn),
    LParen,
    RParen,
    Comma,
    Semicolon,
}

struct Lexer<'a> {
    s: &'a [u8],
    pos: usize,
}

fn syntax_error() -> PgError {
    PgError::new(SqlState::SYNTAX_ERROR, "syntax error")
}

impl<'a> Lexer<'a> {
    fn new(text: &'a str) -> Lexer<'a> {
        Lexer {
            s: text.as_bytes(),
            pos: 0,
        }
    }

    fn skip_space(&mut self) {
        while self.pos < self.s.len() {
            let c = self.s[self.pos];
            if c.is_ascii_whitespace() {
                self.pos += 1;
            } else if c == b'-' && self.s.get(self.pos + 1) == Some(&b'-') {
                while self.pos < self.s.len() && self.s[self.pos] != b'\n' {
                    self.pos += 1;
                }
            } else {
                break;
            }
        }
    }

    fn quoted(&mut self, q: u8) -> PgResult<String> {
        // at the opening quote
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            match self.s.get(self.pos) {
                None => {
                    return Err(PgError::new(
                        SqlState::SYNTAX_ERROR,
                        if q == b'\'' {
                            "unterminated quoted string"
                        } else {
                            "unterminated quoted identifier"
                        },
                    ))
                }
                Some(&c) if c == q => {
                    if self.s.get(self.pos + 1) == Some(&q) {
                        out.push(q);
                        self.pos += 2;
                    } else {
                        self.pos += 1;
                        break;
                    }
                }
                Some(&c) => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
        String::from_utf8(out).map_err(|_| syntax_error())
    }

    fn next_token(&mut self) -> PgResult<Option<Token>> {
        self.skip_space();
        let Some(&c) = self.s.get(self.pos) else {
            return Ok(None);
        };
        let tok = match c {
            b'(' => {
                self.pos += 1;
                Token::LParen
            }
            b')' => {
                self.pos += 1;
                Token::RParen
            }
            b',' => {
                self.pos += 1;
                Token::Comma
            }
            b';' => {
                self.pos += 1;
                Token::Semicolon
            }
            b'\'' => Token::Str(self.quoted(b'\'')?),
            b'"' => {
                let id = self.quoted(b'"')?;
                if id.is_empty() {
                    return Err(PgError::new(
                        SqlState::SYNTAX_ERROR,
                        "zero-length delimited identifier",
                    ));
                }
                Token::Ident(id)
            }
            _ if c.is_ascii_hexdigit()
                || c.is_ascii_alphabetic()
                || c == b'_'
                || c == b'-'
                || c == b'.' =>
            {
                let start = self.pos;
                while self.pos < self.s.len() {
                    let d = self.s[self.pos];
                    if d.is_ascii_alphanumeric()
                        || d == b'_'
                        || d == b'/'
                        || d == b'.'
                        || d == b'-'
                        || d == b'$'
                    {
                        self.pos += 1;
                    } else {
                        break;
                    }
                }
                let text =
                    std::str::from_utf8(&self.s[start..self.pos]).map_err(|_| syntax_error())?;
                if text.contains('/') {
                    Token::Lsn(text.parse().map_err(|_| syntax_error())?)
                } else if text
                    .bytes()
                    .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-')
                    && text.bytes().any(|b| b.is_ascii_digit())
                {
                    Token::Number(text.to_string())
                } else {
                    Token::Word(text.to_string())
                }
            }
            _ => return Err(syntax_error()),
        };
        Ok(Some(tok))
    }
}

struct Parser {
    toks: Vec<Token>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.toks.get(self.pos)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn peek_keyword(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(w)) if w.eq_ignore_ascii_case(kw))
    }

    fn eat_keyword(&mut self, kw: &str) -> bool {
        if self.peek_keyword(kw) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// An identifier: unquoted words fold to lower case.
    fn ident(&mut self) -> PgResult<String> {
        match self.next() {
            Some(Token::Word(w)) => Ok(w.to_ascii_lowercase()),
            Some(Token::Ident(i)) => Ok(i),
            _ => Err(syntax_error()),
        }
    }

    fn lsn(&mut self) -> PgResult<Lsn> {
        match self.next() {
            Some(Token::Lsn(l)) => Ok(l),
            _ => Err(syntax_error()),
        }
    }

    fn timeline(&mut self) -> PgResult<TimeLineId> {
        match self.next() {
            Some(Token::Number(n)) => match n.parse::<u32>() {
                Ok(t) if t > 0 => Ok(TimeLineId(t)),
                _ => Err(PgError::new(
                    SqlState::SYNTAX_ERROR,
                    format!("invalid timeline {n}"),
                )),
            },
            _ => Err(syntax_error()),
        }
    }

    /// `( name [value] [, ...] )`, the opening paren not yet consumed.
    fn generic_options(&mut self) -> PgResult<Options> {
        let mut opts = Vec::new();
        if !matches!(self.next(), Some(Token::LParen)) {
            return Err(syntax_error());
        }
        if matches!(self.peek(), Some(Token::RParen)) {
            self.pos += 1;
            return Ok(opts);
        }
        loop {
            let name = self.ident()?;
            let value = match self.peek() {
                Some(Token::Str(s)) => {
                    let v = OptionValue::Str(s.clone());
                    self.pos += 1;
                    v
                }
                Some(Token::Number(n)) => {
                    let v = OptionValue::Number(n.clone());
                    self.pos += 1;
                    v
                }
                Some(Token::Word(w)) => {
                    let v = OptionValue::Word(w.to_ascii_lowercase());
                    self.pos += 1;
                    v
                }
                Some(Token::Ident(w)) => {
                    let v = OptionValue::Word(w.clone());
                    self.pos += 1;
                    v
                }
                _ => OptionValue::None,
            };
            opts.push((name, value));
            match self.next() {
                Some(Token::Comma) => continue,
                Some(Token::RParen) => return Ok(opts),
                _ => return Err(syntax_error()),
            }
        }
    }

    fn end(&mut self) -> PgResult<()> {
        if matches!(self.peek(), Some(Token::Semicolon)) {
            self.pos += 1;
        }
        if self.pos < self.toks.len() {
            return Err(syntax_error());
        }
        Ok(())
    }
}

/// Parses one replication command, dropping the NOTICEs of
/// [`parse_with_notices`].
pub fn parse(text: &str) -> PgResult<ReplCommand> {
    parse_with_notices(text).map(|(command, _)| command)
}

/// Whether an unquoted word is an identifier as PostgreSQL's scanner reads one
/// (`ident_start ident_cont*`), not a number, an LSN or punctuation.
fn is_identifier_word(w: &str) -> bool {
    w.bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && w.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'$')
}

/// Parses one replication command. Errors: `42601 syntax error` (PostgreSQL's
/// replication grammar reports no position).
///
/// The NOTICEs are those the scanner raises while reading the command, to send
/// to the client before its result: an identifier of `NAMEDATALEN` bytes or
/// more is cut to 63 (`42622 identifier "..." will be truncated to "..."`), as
/// `repl_scanner.l` does for quoted and unquoted identifiers alike.
pub fn parse_with_notices(text: &str) -> PgResult<(ReplCommand, Vec<PgError>)> {
    let mut lx = Lexer::new(text);
    let mut toks = Vec::new();
    let mut notices = Vec::new();
    while let Some(mut t) = lx.next_token()? {
        match &mut t {
            Token::Ident(id) => notices.extend(truncate_identifier(id)),
            Token::Word(w) if w.len() >= NAMEDATALEN && is_identifier_word(w) => {
                // unquoted identifiers fold to lower case before they are cut
                let mut folded = w.to_ascii_lowercase();
                notices.extend(truncate_identifier(&mut folded));
                *w = folded;
            }
            _ => {}
        }
        toks.push(t);
    }
    let mut p = Parser { toks, pos: 0 };
    let Some(Token::Word(cmd)) = p.next() else {
        return Err(syntax_error());
    };
    let cmd = cmd.to_ascii_uppercase();
    let result = match cmd.as_str() {
        "IDENTIFY_SYSTEM" => ReplCommand::IdentifySystem,
        "SHOW" => {
            // var_name: identifiers joined by dots
            let mut name = p.ident()?;
            while let Some(Token::Word(w)) = p.peek() {
                if let Some(rest) = w.strip_prefix('.') {
                    name.push('.');
                    name.push_str(&rest.to_ascii_lowercase());
                    p.pos += 1;
                } else {
                    break;
                }
            }
            ReplCommand::Show(name)
        }
        "TIMELINE_HISTORY" => ReplCommand::TimelineHistory(p.timeline()?),
        "READ_REPLICATION_SLOT" => ReplCommand::ReadReplicationSlot(p.ident()?),
        "CREATE_REPLICATION_SLOT" => parse_create_slot(&mut p)?,
        "ALTER_REPLICATION_SLOT" => {
            let name = p.ident()?;
            let options = p.generic_options()?;
            ReplCommand::AlterReplicationSlot { name, options }
        }
        "DROP_REPLICATION_SLOT" => {
            let name = p.ident()?;
            let wait = p.eat_keyword("WAIT");
            ReplCommand::DropReplicationSlot { name, wait }
        }
        "START_REPLICATION" => parse_start(&mut p)?,
        "BASE_BACKUP" => parse_base_backup(&mut p)?,
        _ => return Err(syntax_error()),
    };
    p.end()?;
    Ok((result, notices))
}

fn parse_create_slot(p: &mut Parser) -> PgResult<ReplCommand> {
    let name = p.ident()?;
    let temporary = p.eat_keyword("TEMPORARY");
    let mut options = Vec::new();
    let (kind, plugin) = if p.eat_keyword("PHYSICAL") {
        if matches!(p.peek(), Some(Token::LParen)) {
            options = p.generic_options()?;
        } else if p.eat_keyword("RESERVE_WAL") {
            options.push(("reserve_wal".to_string(), OptionValue::None));
        }
        (SlotKind::Physical, None)
    } else if p.eat_keyword("LOGICAL") {
        let plugin = p.ident()?;
        if matches!(p.peek(), Some(Token::LParen)) {
            options = p.generic_options()?;
        } else {
            // legacy keyword options, in any order
            loop {
                if p.eat_keyword("EXPORT_SNAPSHOT") {
                    options.push(("snapshot".into(), OptionValue::Str("export".into())));
                } else if p.eat_keyword("NOEXPORT_SNAPSHOT") {
                    options.push(("snapshot".into(), OptionValue::Str("nothing".into())));
                } else if p.eat_keyword("USE_SNAPSHOT") {
                    options.push(("snapshot".into(), OptionValue::Str("use".into())));
                } else if p.eat_keyword("TWO_PHASE") {
                    options.push(("two_phase".into(), OptionValue::None));
                } else {
                    break;
                }
            }
        }
        (SlotKind::Logical, Some(plugin))
    } else {
        return Err(syntax_error());
    };
    Ok(ReplCommand::CreateReplicationSlot {
        name,
        temporary,
        kind,
        plugin,
        options,
    })
}

fn parse_start(p: &mut Parser) -> PgResult<ReplCommand> {
    let slot = if p.eat_keyword("SLOT") {
        Some(p.ident()?)
    } else {
        None
    };
    if p.eat_keyword("LOGICAL") {
        let Some(slot) = slot else {
            return Err(syntax_error());
        };
        let start = p.lsn()?;
        let options = if matches!(p.peek(), Some(Token::LParen)) {
            p.generic_options()?
        } else {
            Vec::new()
        };
        return Ok(ReplCommand::StartReplication {
            slot: Some(slot),
            kind: SlotKind::Logical,
            start,
            timeline: None,
            options,
        });
    }
    p.eat_keyword("PHYSICAL");
    let start = p.lsn()?;
    let timeline = if p.eat_keyword("TIMELINE") {
        Some(p.timeline()?)
    } else {
        None
    };
    Ok(ReplCommand::StartReplication {
        slot,
        kind: SlotKind::Physical,
        start,
        timeline,
        options: Vec::new(),
    })
}

fn parse_base_backup(p: &mut Parser) -> PgResult<ReplCommand> {
    if matches!(p.peek(), Some(Token::LParen)) {
        return Ok(ReplCommand::BaseBackup {
            options: p.generic_options()?,
        });
    }
    // legacy syntax
    let mut options = Vec::new();
    while let Some(Token::Word(w)) = p.peek().cloned() {
        let kw = w.to_ascii_uppercase();
        p.pos += 1;
        match kw.as_str() {
            "LABEL" => match p.next() {
                Some(Token::Str(s)) => options.push(("label".into(), OptionValue::Str(s))),
                _ => return Err(syntax_error()),
            },
            "PROGRESS" | "FAST" | "WAL" | "NOWAIT" | "TABLESPACE_MAP" | "NOVERIFY_CHECKSUMS" => {
                let name = if kw == "FAST" {
                    "checkpoint".to_string()
                } else {
                    kw.to_ascii_lowercase()
                };
                let value = if kw == "FAST" {
                    OptionValue::Str("fast".into())
                } else {
                    OptionValue::None
                };
                options.push((name, value));
            }
            "MAX_RATE" => match p.next() {
                Some(Token::Number(n)) => options.push(("max_rate".into(), OptionValue::Number(n))),
                _ => return Err(syntax_error()),
            },
            _ => return Err(syntax_error()),
        }
    }
    Ok(ReplCommand::BaseBackup { options })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_real_clients_send() {
        assert_eq!(
            parse("IDENTIFY_SYSTEM").unwrap(),
            ReplCommand::IdentifySystem
        );
        assert_eq!(
            parse("SHOW data_directory_mode").unwrap(),
            ReplCommand::Show("data_directory_mode".into())
        );
        // pg_recvlogical 15/17
        assert_eq!(
            parse("START_REPLICATION SLOT \"s1\" LOGICAL 0/0 (\"include-xids\" '0', \"skip-empty-xacts\" '1')").unwrap(),
            ReplCommand::StartReplication {
                slot: Some("s1".into()),
                kind: SlotKind::Logical,
                start: Lsn(0),
                timeline: None,
                options: vec![
                    ("include-xids".into(), OptionValue::Str("0".into())),
                    ("skip-empty-xacts".into(), OptionValue::Str("1".into()))
                ],
            }
        );
        // walreceiver
        assert_eq!(
            parse("START_REPLICATION SLOT \"standby1_slot\" 0/3000000 TIMELINE 1").unwrap(),
            ReplCommand::StartReplication {
                slot: Some("standby1_slot".into()),
                kind: SlotKind::Physical,
                start: Lsn(0x3000000),
                timeline: Some(TimeLineId(1)),
                options: vec![],
            }
        );
        assert_eq!(
            parse(
                "CREATE_REPLICATION_SLOT \"sub1\" LOGICAL pgoutput (SNAPSHOT 'nothing', FAILOVER)"
            )
            .unwrap(),
            ReplCommand::CreateReplicationSlot {
                name: "sub1".into(),
                temporary: false,
                kind: SlotKind::Logical,
                plugin: Some("pgoutput".into()),
                options: vec![
                    ("snapshot".into(), OptionValue::Str("nothing".into())),
                    ("failover".into(), OptionValue::None)
                ],
            }
        );
        assert_eq!(
            parse("CREATE_REPLICATION_SLOT s TEMPORARY PHYSICAL RESERVE_WAL").unwrap(),
            ReplCommand::CreateReplicationSlot {
                name: "s".into(),
                temporary: true,
                kind: SlotKind::Physical,
                plugin: None,
                options: vec![("reserve_wal".into(), OptionValue::None)],
            }
        );
        assert_eq!(
            parse("ALTER_REPLICATION_SLOT \"sub1\" ( FAILOVER false )").unwrap(),
            ReplCommand::AlterReplicationSlot {
                name: "sub1".into(),
                options: vec![("failover".into(), OptionValue::Word("false".into()))]
            }
        );
        assert_eq!(
            parse("drop_replication_slot \"X\" wait;").unwrap(),
            ReplCommand::DropReplicationSlot {
                name: "X".into(),
                wait: true
            }
        );
        assert_eq!(
            parse("TIMELINE_HISTORY 2").unwrap(),
            ReplCommand::TimelineHistory(TimeLineId(2))
        );
        assert_eq!(
            parse("BASE_BACKUP ( LABEL 'pg_basebackup base backup',  PROGRESS,  CHECKPOINT 'fast',  WAIT 0, MANIFEST 'yes', TARGET 'client')")
                .unwrap(),
            ReplCommand::BaseBackup {
                options: vec![
                    ("label".into(), OptionValue::Str("pg_basebackup base backup".into())),
                    ("progress".into(), OptionValue::None),
                    ("checkpoint".into(), OptionValue::Str("fast".into())),
                    ("wait".into(), OptionValue::Number("0".into())),
                    ("manifest".into(), OptionValue::Str("yes".into())),
                    ("target".into(), OptionValue::Str("client".into())),
                ]
            }
        );
    }

    #[test]
    fn bad_commands_are_syntax_errors() {
        for bad in [
            "",
            "IDENTIFY_SYSTEM extra",
            "START_REPLICATION",
            "START_REPLICATION SLOT s LOGICAL",
            "START_REPLICATION 0/XYZ",
            "START_REPLICATION LOGICAL 0/0",
            "CREATE_REPLICATION_SLOT s",
            "CREATE_REPLICATION_SLOT s LOGICAL",
            "DROP_REPLICATION_SLOT",
            "ALTER_REPLICATION_SLOT s (failover",
            "TIMELINE_HISTORY x",
            "SHOW 'x'",
            "START_REPLICATION SLOT \"unterminated",
        ] {
            let e = parse(bad).unwrap_err();
            assert_eq!(e.code, SqlState::SYNTAX_ERROR, "{bad}");
        }
    }

    #[test]
    fn long_identifiers_are_truncated_with_a_notice() {
        let long = "Slot_".repeat(14); // 70 bytes
        let (cmd, notices) = parse_with_notices(&format!("DROP_REPLICATION_SLOT {long}")).unwrap();
        let folded = long.to_ascii_lowercase();
        assert_eq!(
            cmd,
            ReplCommand::DropReplicationSlot {
                name: folded[..63].to_string(),
                wait: false
            }
        );
        assert_eq!(notices.len(), 1);
        assert_eq!(notices[0].severity, tandem_types::Severity::Notice);
        assert_eq!(notices[0].code, SqlState::NAME_TOO_LONG);
        assert_eq!(
            notices[0].message,
            format!(
                "identifier \"{folded}\" will be truncated to \"{}\"",
                &folded[..63]
            )
        );

        // quoted identifiers keep their case; every long one gets its notice
        let plugin = "p".repeat(64);
        let (cmd, notices) = parse_with_notices(&format!(
            "CREATE_REPLICATION_SLOT \"{long}\" LOGICAL {plugin}"
        ))
        .unwrap();
        match cmd {
            ReplCommand::CreateReplicationSlot { name, plugin, .. } => {
                assert_eq!(name, long[..63]);
                assert_eq!(plugin.as_deref(), Some(&"p".repeat(63)[..]));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(notices.len(), 2);
        assert!(notices[0]
            .message
            .starts_with(&format!("identifier \"{long}\"")));

        // 63 bytes fit: no notice
        let (_, notices) =
            parse_with_notices(&format!("READ_REPLICATION_SLOT {}", "s".repeat(63))).unwrap();
        assert!(notices.is_empty());
    }

    #[test]
    fn sql_is_not_a_replication_command() {
        assert!(is_replication_command("  identify_system"));
        assert!(is_replication_command(
            "START_REPLICATION SLOT s LOGICAL 0/0"
        ));
        assert!(!is_replication_command(
            "SELECT pg_catalog.set_config('search_path', '', false);"
        ));
        assert!(!is_replication_command("select 1"));
    }

    #[test]
    fn lexer_never_panics_on_garbage() {
        let mut seed = 12345u64;
        for _ in 0..2000 {
            let len = (seed % 40) as usize;
            let mut s = String::new();
            for _ in 0..len {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let alphabet = b"START_REPLICATION SLOT ()',\"/0123456789abcdefXYZ;-.";
                s.push(alphabet[(seed >> 33) as usize % alphabet.len()] as char);
            }
            let _ = parse(&s);
        }
    }
}
