//! `PgError`: the error every layer returns when a client must hear about it.
//!
//! It carries what PostgreSQL's ErrorResponse carries: severity, SQLSTATE, message,
//! and optional detail, hint and cursor position. Message style is PostgreSQL's:
//! lower case, no trailing period, `could not ...` for failures, `cannot ...` for
//! refusals; detail and hint are full sentences. The wire encoding happens in one
//! place (`tandem-protocol`).

use std::fmt;

/// A five-character SQLSTATE code. Constants below name the ones tandem raises.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SqlState(pub &'static str);

impl SqlState {
    pub const SUCCESSFUL_COMPLETION: SqlState = SqlState("00000");
    pub const WARNING: SqlState = SqlState("01000");
    pub const NO_ACTIVE_SQL_TRANSACTION: SqlState = SqlState("25P01");
    pub const ACTIVE_SQL_TRANSACTION: SqlState = SqlState("25001");
    pub const IN_FAILED_SQL_TRANSACTION: SqlState = SqlState("25P02");
    pub const READ_ONLY_SQL_TRANSACTION: SqlState = SqlState("25006");
    pub const FEATURE_NOT_SUPPORTED: SqlState = SqlState("0A000");
    pub const SYNTAX_ERROR: SqlState = SqlState("42601");
    pub const UNDEFINED_TABLE: SqlState = SqlState("42P01");
    pub const UNDEFINED_COLUMN: SqlState = SqlState("42703");
    pub const UNDEFINED_FUNCTION: SqlState = SqlState("42883");
    pub const UNDEFINED_OBJECT: SqlState = SqlState("42704");
    pub const UNDEFINED_SCHEMA: SqlState = SqlState("3F000");
    pub const UNDEFINED_PARAMETER: SqlState = SqlState("42P02");
    pub const DUPLICATE_TABLE: SqlState = SqlState("42P07");
    pub const DUPLICATE_OBJECT: SqlState = SqlState("42710");
    pub const INVALID_FOREIGN_KEY: SqlState = SqlState("42830");
    pub const DUPLICATE_COLUMN: SqlState = SqlState("42701");
    pub const AMBIGUOUS_COLUMN: SqlState = SqlState("42702");
    pub const DATATYPE_MISMATCH: SqlState = SqlState("42804");
    pub const UNDEFINED_DATABASE: SqlState = SqlState("3D000");
    pub const INVALID_PARAMETER_VALUE: SqlState = SqlState("22023");
    pub const INVALID_TEXT_REPRESENTATION: SqlState = SqlState("22P02");
    pub const INVALID_DATETIME_FORMAT: SqlState = SqlState("22007");
    pub const DATETIME_FIELD_OVERFLOW: SqlState = SqlState("22008");
    pub const NUMERIC_VALUE_OUT_OF_RANGE: SqlState = SqlState("22003");
    pub const DIVISION_BY_ZERO: SqlState = SqlState("22012");
    pub const STRING_DATA_RIGHT_TRUNCATION: SqlState = SqlState("22001");
    pub const CHARACTER_NOT_IN_REPERTOIRE: SqlState = SqlState("22021");
    pub const UNTRANSLATABLE_CHARACTER: SqlState = SqlState("22P05");
    pub const INVALID_BINARY_REPRESENTATION: SqlState = SqlState("22P03");
    pub const CARDINALITY_VIOLATION: SqlState = SqlState("21000");
    pub const NOT_NULL_VIOLATION: SqlState = SqlState("23502");
    pub const NULL_VALUE_NOT_ALLOWED: SqlState = SqlState("22004");
    pub const UNIQUE_VIOLATION: SqlState = SqlState("23505");
    pub const FOREIGN_KEY_VIOLATION: SqlState = SqlState("23503");
    pub const CHECK_VIOLATION: SqlState = SqlState("23514");
    pub const INVALID_TABLE_DEFINITION: SqlState = SqlState("42P16");
    pub const INVALID_COLUMN_REFERENCE: SqlState = SqlState("42P10");
    pub const GROUPING_ERROR: SqlState = SqlState("42803");
    pub const WRONG_OBJECT_TYPE: SqlState = SqlState("42809");
    pub const INSUFFICIENT_PRIVILEGE: SqlState = SqlState("42501");
    pub const DEPENDENT_OBJECTS_STILL_EXIST: SqlState = SqlState("2BP01");
    pub const OBJECT_IN_USE: SqlState = SqlState("55006");
    pub const OBJECT_NOT_IN_PREREQUISITE_STATE: SqlState = SqlState("55000");
    pub const CANT_CHANGE_RUNTIME_PARAM: SqlState = SqlState("55P02");
    pub const PROGRAM_LIMIT_EXCEEDED: SqlState = SqlState("54000");
    pub const STATEMENT_TOO_COMPLEX: SqlState = SqlState("54001");
    pub const CONFIGURATION_LIMIT_EXCEEDED: SqlState = SqlState("53400");
    pub const TOO_MANY_CONNECTIONS: SqlState = SqlState("53300");
    pub const QUERY_CANCELED: SqlState = SqlState("57014");
    pub const ADMIN_SHUTDOWN: SqlState = SqlState("57P01");
    pub const CANNOT_CONNECT_NOW: SqlState = SqlState("57P03");
    pub const T_R_SERIALIZATION_FAILURE: SqlState = SqlState("40001");
    pub const T_R_DEADLOCK_DETECTED: SqlState = SqlState("40P01");
    pub const PROTOCOL_VIOLATION: SqlState = SqlState("08P01");
    pub const CONNECTION_FAILURE: SqlState = SqlState("08006");
    pub const INVALID_AUTHORIZATION_SPECIFICATION: SqlState = SqlState("28000");
    pub const INVALID_PASSWORD: SqlState = SqlState("28P01");
    pub const INVALID_SQL_STATEMENT_NAME: SqlState = SqlState("26000");
    pub const INVALID_CURSOR_NAME: SqlState = SqlState("34000");
    pub const DUPLICATE_PREPARED_STATEMENT: SqlState = SqlState("42P05");
    pub const DUPLICATE_CURSOR: SqlState = SqlState("42P03");
    pub const INVALID_TRANSACTION_STATE: SqlState = SqlState("25000");
    pub const INVALID_SAVEPOINT_SPECIFICATION: SqlState = SqlState("3B001");
    pub const UNDEFINED_FILE: SqlState = SqlState("58P01");
    pub const IO_ERROR: SqlState = SqlState("58030");
    pub const DATA_CORRUPTED: SqlState = SqlState("XX001");
    pub const INTERNAL_ERROR: SqlState = SqlState("XX000");
    pub const INVALID_ESCAPE_SEQUENCE: SqlState = SqlState("22025");
    pub const BAD_COPY_FILE_FORMAT: SqlState = SqlState("22P04");
    pub const INVALID_ROW_COUNT_IN_LIMIT: SqlState = SqlState("2201W");
    pub const INVALID_ROW_COUNT_IN_RESULT_OFFSET: SqlState = SqlState("2201X");
    pub const ARRAY_SUBSCRIPT_ERROR: SqlState = SqlState("2202E");
    pub const INDETERMINATE_DATATYPE: SqlState = SqlState("42P18");
    pub const INVALID_SCHEMA_NAME: SqlState = SqlState("3F000");
    pub const DUPLICATE_SCHEMA: SqlState = SqlState("42P06");
    pub const RESERVED_NAME: SqlState = SqlState("42939");
    pub const INVALID_NAME: SqlState = SqlState("42602");
    pub const NAME_TOO_LONG: SqlState = SqlState("42622");

    pub fn code(self) -> &'static str {
        self.0
    }
}

/// Severity as PostgreSQL spells it in ErrorResponse/NoticeResponse field `S`/`V`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Error,
    Fatal,
    Panic,
    Warning,
    Notice,
    Debug,
    Info,
    Log,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "ERROR",
            Severity::Fatal => "FATAL",
            Severity::Panic => "PANIC",
            Severity::Warning => "WARNING",
            Severity::Notice => "NOTICE",
            Severity::Debug => "DEBUG",
            Severity::Info => "INFO",
            Severity::Log => "LOG",
        }
    }
}

/// Where in its statement an error points, said by code that has the syntax
/// tree but not the text (the binder); the SQL layer turns it into
/// [`PgError::position`] with the statement's text at hand.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Locate {
    /// A 1-based line and column, as the parser's spans give them.
    LineColumn(u64, u64),
    /// The operator before a line and column (its right operand's start):
    /// the token before it, opening parentheses passed over.
    OperatorBefore(u64, u64),
    /// The `(` just before a line and column, else that place (PostgreSQL
    /// points at a sublink's parenthesis, and at an ON CONFLICT target's).
    ParenBefore(u64, u64),
    /// The first place where these words follow each other (lower case,
    /// separated by single spaces; matched as whole tokens, any case).
    Words(&'static str),
}

/// An error (or notice) as a PostgreSQL client sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PgError {
    pub severity: Severity,
    pub code: SqlState,
    pub message: String,
    pub detail: Option<String>,
    /// Boxed like `context`, to keep `PgError` small.
    pub hint: Option<Box<str>>,
    /// 1-based character position in the query text, if known.
    pub position: Option<u32>,
    /// Where it happened (`CONTEXT:` line, protocol field `W`). Boxed to keep
    /// `PgError` (the error type of every `PgResult`) small.
    pub context: Option<Box<str>>,
    /// What few errors carry, boxed together to keep `PgError` (the error
    /// type of every `PgResult`) small.
    pub extra: Option<Box<ErrorExtra>>,
}

/// The rarely set parts of a [`PgError`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ErrorExtra {
    /// A position still to be resolved against the statement's text.
    pub locate: Option<Locate>,
    /// The schema, table, column and constraint the error is about
    /// (protocol fields `s`, `t`, `c`, `n`; drivers expose them, e.g. the
    /// constraint of a unique violation).
    pub objects: Option<ErrorObjects>,
}

/// What a constraint or column error names ([`PgError::objects`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ErrorObjects {
    pub schema: String,
    pub table: String,
    pub column: Option<String>,
    pub constraint: Option<String>,
}

pub type PgResult<T> = Result<T, PgError>;

impl PgError {
    /// An ERROR with the given SQLSTATE and message.
    pub fn new(code: SqlState, message: impl Into<String>) -> PgError {
        PgError {
            severity: Severity::Error,
            code,
            message: message.into(),
            detail: None,
            hint: None,
            position: None,
            context: None,
            extra: None,
        }
    }

    pub fn fatal(code: SqlState, message: impl Into<String>) -> PgError {
        PgError {
            severity: Severity::Fatal,
            ..PgError::new(code, message)
        }
    }

    pub fn notice(message: impl Into<String>) -> PgError {
        PgError {
            severity: Severity::Notice,
            ..PgError::new(SqlState::SUCCESSFUL_COMPLETION, message)
        }
    }

    pub fn warning(message: impl Into<String>) -> PgError {
        PgError {
            severity: Severity::Warning,
            ..PgError::new(SqlState::WARNING, message)
        }
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> PgError {
        self.detail = Some(detail.into());
        self
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> PgError {
        self.hint = Some(hint.into().into_boxed_str());
        self
    }

    pub fn with_context(mut self, context: impl Into<String>) -> PgError {
        self.context = Some(context.into().into_boxed_str());
        self
    }

    pub fn with_position(mut self, position: u32) -> PgError {
        self.position = Some(position);
        self
    }

    /// Names the constraint of `schema.table` the error is about (`23505`,
    /// `23503`, `23514`).
    pub fn with_constraint(mut self, schema: &str, table: &str, constraint: &str) -> PgError {
        self.extra_mut().objects = Some(ErrorObjects {
            schema: schema.to_string(),
            table: table.to_string(),
            column: None,
            constraint: Some(constraint.to_string()),
        });
        self
    }

    /// Names the column of `schema.table` the error is about (`23502`).
    pub fn with_column(mut self, schema: &str, table: &str, column: &str) -> PgError {
        self.extra_mut().objects = Some(ErrorObjects {
            schema: schema.to_string(),
            table: table.to_string(),
            column: Some(column.to_string()),
            constraint: None,
        });
        self
    }

    fn extra_mut(&mut self) -> &mut ErrorExtra {
        self.extra.get_or_insert_with(Box::default)
    }

    /// The objects the error names ([`PgError::with_constraint`]).
    pub fn objects(&self) -> Option<&ErrorObjects> {
        self.extra.as_ref().and_then(|x| x.objects.as_ref())
    }

    /// The position still to resolve ([`PgError::with_locate`]).
    pub fn locate(&self) -> Option<&Locate> {
        self.extra.as_ref().and_then(|x| x.locate.as_ref())
    }

    /// Takes the position still to resolve.
    pub fn take_locate(&mut self) -> Option<Locate> {
        self.extra.as_mut().and_then(|x| x.locate.take())
    }

    /// Points the error into its statement before the text is at hand (see
    /// [`Locate`]); a position already known wins.
    pub fn with_locate(mut self, locate: Locate) -> PgError {
        self.extra_mut().locate = Some(locate);
        self
    }

    /// Points the error at a place of its statement (from a parser span)
    /// unless it points somewhere already, so that the innermost place an
    /// error is raised at wins, or the place is unknown (line 0).
    pub fn pointed_at(self, locate: Locate) -> PgError {
        let line = match locate {
            Locate::LineColumn(l, _) | Locate::OperatorBefore(l, _) | Locate::ParenBefore(l, _) => {
                l
            }
            Locate::Words(_) => 1,
        };
        if line == 0 || self.position.is_some() || self.locate().is_some() {
            return self;
        }
        self.with_locate(locate)
    }

    /// `0A000`: something PostgreSQL supports and tandem does not (yet).
    pub fn unsupported(what: impl fmt::Display) -> PgError {
        PgError::new(
            SqlState::FEATURE_NOT_SUPPORTED,
            format!("{what} is not supported"),
        )
    }

    pub fn syntax(message: impl Into<String>) -> PgError {
        PgError::new(SqlState::SYNTAX_ERROR, message)
    }

    pub fn internal(message: impl Into<String>) -> PgError {
        PgError::new(SqlState::INTERNAL_ERROR, message)
    }

    /// `58030`: an I/O failure, worded `could not <what>: <os error>`.
    pub fn io(what: impl fmt::Display, err: &std::io::Error) -> PgError {
        PgError::new(SqlState::IO_ERROR, format!("could not {what}: {err}"))
    }

    pub fn is_fatal(&self) -> bool {
        matches!(self.severity, Severity::Fatal | Severity::Panic)
    }
}

impl fmt::Display for PgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:  {}", self.severity.as_str(), self.message)?;
        if let Some(d) = &self.detail {
            write!(f, "\nDETAIL:  {d}")?;
        }
        if let Some(h) = &self.hint {
            write!(f, "\nHINT:  {h}")?;
        }
        Ok(())
    }
}

impl std::error::Error for PgError {}
