//! Transaction blocks: the state machine of PostgreSQL's `xact.c` block states,
//! the storage transaction it drives, and the block's savepoints.
//!
//! ```text
//!            any statement                BEGIN
//!   Idle ───────────────────▶ Implicit ──────────▶ InBlock ◀─┐ BEGIN: WARNING 25001
//!    ▲  end of message / Sync   │  error → rollback    │  │    │
//!    └──────────────────────────┘                      │  └────┘
//!    ▲          COMMIT / ROLLBACK                      │ error
//!    ├─────────────────────────────────────────────────┤
//!    │  COMMIT (answers ROLLBACK) / ROLLBACK        Failed ── other statements: 25P02
//!    └──────────────────────────────────────────────┘
//! ```
//!
//! Savepoints do not nest blocks: `SAVEPOINT` records the storage transaction's
//! write set and the session's settings ([`NamedSavepoint`]), `ROLLBACK TO`
//! puts both back and turns a failed block into an open one again, `RELEASE`
//! forgets the savepoint and those after it. A block that fails while it has a
//! savepoint keeps its storage transaction (and its row locks) for a `ROLLBACK
//! TO`; without one it is rolled back at once.
//!
//! The decisions ([`BlockState`] transitions) are pure and return [`Effect`]s; the
//! session applies them to the storage transaction. The storage transaction starts
//! lazily, at the first statement that needs one, so `SET TRANSACTION ISOLATION
//! LEVEL` after `BEGIN` still works, and a REPEATABLE READ snapshot is taken at the
//! first query, as in PostgreSQL.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use tandem_config::ConfigSavepoint;
use tandem_storage::{Database, IsolationLevel, Savepoint, Transaction};
use tandem_types::{PgError, PgResult, SqlState};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BlockState {
    /// No transaction.
    Idle,
    /// Around the statements of one simple-query message, or of an extended batch
    /// up to Sync.
    Implicit,
    /// After BEGIN.
    InBlock,
    /// An explicit block after an error: only ROLLBACK/COMMIT are accepted.
    Failed,
}

/// What the session must do to the storage transaction after a transition.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Effect {
    None,
    Commit,
    Rollback,
    /// Nothing to do to the transaction; send this WARNING.
    Warn(PgError),
    /// Commit (or roll back for `Rollback`), and send this WARNING first.
    WarnThen(PgError, Box<Effect>),
}

pub(crate) fn no_transaction_warning() -> PgError {
    PgError {
        code: SqlState::NO_ACTIVE_SQL_TRANSACTION,
        ..PgError::warning("there is no transaction in progress")
    }
}

pub(crate) fn in_failed_transaction() -> PgError {
    PgError::new(
        SqlState::IN_FAILED_SQL_TRANSACTION,
        "current transaction is aborted, commands ignored until end of transaction block",
    )
}

impl BlockState {
    /// A statement is about to run (`exit` is ROLLBACK/COMMIT, which a failed
    /// block accepts). Idle starts an implicit transaction.
    pub(crate) fn statement(self, exit: bool) -> PgResult<BlockState> {
        match self {
            BlockState::Idle => Ok(BlockState::Implicit),
            BlockState::Failed if !exit => Err(in_failed_transaction()),
            s => Ok(s),
        }
    }

    pub(crate) fn begin(self) -> (BlockState, Effect) {
        match self {
            BlockState::Idle | BlockState::Implicit => (BlockState::InBlock, Effect::None),
            BlockState::InBlock => (
                BlockState::InBlock,
                Effect::Warn(PgError {
                    code: SqlState::ACTIVE_SQL_TRANSACTION,
                    ..PgError::warning("there is already a transaction in progress")
                }),
            ),
            // statement() refuses BEGIN in a failed block before we get here
            BlockState::Failed => (BlockState::Failed, Effect::None),
        }
    }

    /// COMMIT / END. Returns the tag too: a failed block answers ROLLBACK.
    pub(crate) fn commit(self) -> (BlockState, Effect, &'static str) {
        match self {
            BlockState::InBlock => (BlockState::Idle, Effect::Commit, "COMMIT"),
            BlockState::Failed => (BlockState::Idle, Effect::Rollback, "ROLLBACK"),
            BlockState::Implicit | BlockState::Idle => (
                BlockState::Idle,
                Effect::WarnThen(no_transaction_warning(), Box::new(Effect::Commit)),
                "COMMIT",
            ),
        }
    }

    /// ROLLBACK / ABORT.
    pub(crate) fn rollback(self) -> (BlockState, Effect) {
        match self {
            BlockState::InBlock | BlockState::Failed => (BlockState::Idle, Effect::Rollback),
            BlockState::Implicit | BlockState::Idle => (
                BlockState::Idle,
                Effect::WarnThen(no_transaction_warning(), Box::new(Effect::Rollback)),
            ),
        }
    }

    /// An error happened: an implicit transaction ends, a block becomes Failed. The
    /// storage transaction is rolled back in both cases. Idempotent.
    pub(crate) fn error(self) -> (BlockState, Effect) {
        match self {
            BlockState::Idle => (BlockState::Idle, Effect::None),
            BlockState::Implicit => (BlockState::Idle, Effect::Rollback),
            BlockState::InBlock | BlockState::Failed => (BlockState::Failed, Effect::Rollback),
        }
    }

    /// End of a simple-query message or Sync: an implicit transaction commits.
    pub(crate) fn end_of_batch(self) -> (BlockState, Effect) {
        match self {
            BlockState::Implicit => (BlockState::Idle, Effect::Commit),
            s => (s, Effect::None),
        }
    }

    /// ReadyForQuery status byte.
    pub(crate) fn status_byte(self) -> u8 {
        match self {
            BlockState::Idle | BlockState::Implicit => b'I',
            BlockState::InBlock => b'T',
            BlockState::Failed => b'E',
        }
    }
}

/// A savepoint of the open block, under its (folded) name.
pub(crate) struct NamedSavepoint {
    pub name: String,
    pub storage: Savepoint,
    pub config: ConfigSavepoint,
    /// LISTEN / NOTIFY of the transaction so far.
    pub notify: tandem_expr::notify::NotifyMark,
}

/// `SAVEPOINT` / `RELEASE` / `ROLLBACK TO` outside a transaction block.
pub(crate) fn savepoint_outside_block(what: &str) -> PgError {
    PgError::new(
        SqlState::NO_ACTIVE_SQL_TRANSACTION,
        format!("{what} can only be used in transaction blocks"),
    )
}

/// The position of the newest savepoint called `name`.
pub(crate) fn find_savepoint(savepoints: &[NamedSavepoint], name: &str) -> PgResult<usize> {
    savepoints
        .iter()
        .rposition(|s| s.name == name)
        .ok_or_else(|| {
            PgError::new(
                SqlState::INVALID_SAVEPOINT_SPECIFICATION,
                format!("savepoint \"{name}\" does not exist"),
            )
        })
}

/// The session's transaction: block state, characteristics, the storage
/// transaction once started.
pub(crate) struct Xact {
    pub state: BlockState,
    pub txn: Option<Transaction>,
    pub isolation: IsolationLevel,
    pub read_only: bool,
    /// Transaction start, microseconds since 2000-01-01.
    pub start_time: i64,
    /// The statement counter value when `start_statement` last ran on `txn`.
    pub statement_seen: u64,
    /// The block's savepoints, oldest first.
    pub savepoints: Vec<NamedSavepoint>,
}

impl Xact {
    pub(crate) fn new() -> Xact {
        Xact {
            state: BlockState::Idle,
            txn: None,
            isolation: IsolationLevel::ReadCommitted,
            read_only: false,
            start_time: 0,
            statement_seen: 0,
            savepoints: Vec::new(),
        }
    }

    /// The storage transaction, begun now if needed, without starting a
    /// statement (no snapshot is taken for REPEATABLE READ yet).
    pub(crate) fn begun(
        &mut self,
        db: &Arc<Database>,
        cancel: &Arc<AtomicBool>,
    ) -> &mut Transaction {
        self.txn.get_or_insert_with(|| {
            let mut t = db.begin(self.isolation, self.read_only);
            t.set_cancel_flag(cancel.clone());
            t
        })
    }

    /// The storage transaction, started now if needed; `start_statement` runs once
    /// per session statement (`statement_seq`).
    pub(crate) fn storage(
        &mut self,
        db: &Arc<Database>,
        cancel: &Arc<AtomicBool>,
        statement_seq: u64,
    ) -> &mut Transaction {
        let start = self.txn.is_none() || self.statement_seen != statement_seq;
        self.statement_seen = statement_seq;
        let txn = self.begun(db, cancel);
        if start {
            txn.start_statement();
        }
        txn
    }

    /// `SET TRANSACTION ISOLATION LEVEL` / `BEGIN ISOLATION LEVEL`: only before the
    /// first query of the transaction.
    pub(crate) fn set_isolation(&mut self, level: IsolationLevel) -> PgResult<()> {
        if let Some(t) = &self.txn {
            if t.isolation() != level {
                return Err(PgError::new(
                    SqlState::ACTIVE_SQL_TRANSACTION,
                    "SET TRANSACTION ISOLATION LEVEL must be called before any query",
                ));
            }
        }
        self.isolation = level;
        Ok(())
    }

    pub(crate) fn set_read_only(&mut self, read_only: bool) -> PgResult<()> {
        if !read_only && self.read_only && self.txn.is_some() {
            return Err(PgError::new(
                SqlState::ACTIVE_SQL_TRANSACTION,
                "transaction read-write mode must be set before any query",
            ));
        }
        self.read_only = read_only;
        Ok(())
    }
}

/// `read committed` / `repeatable read` / `serializable` (as SHOW prints them).
pub(crate) fn isolation_name(level: IsolationLevel) -> &'static str {
    match level {
        IsolationLevel::ReadCommitted => "read committed",
        IsolationLevel::RepeatableRead => "repeatable read",
        IsolationLevel::Serializable => "serializable",
    }
}

pub(crate) fn parse_isolation(s: &str) -> Option<IsolationLevel> {
    // the settings' own spelling first (every transaction start)
    match s {
        "read committed" => return Some(IsolationLevel::ReadCommitted),
        "repeatable read" => return Some(IsolationLevel::RepeatableRead),
        "serializable" => return Some(IsolationLevel::Serializable),
        _ => {}
    }
    match s.trim().to_ascii_lowercase().replace('_', " ").as_str() {
        "read committed" | "read uncommitted" => Some(IsolationLevel::ReadCommitted),
        "repeatable read" => Some(IsolationLevel::RepeatableRead),
        "serializable" => Some(IsolationLevel::Serializable),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn implicit_transaction_commits_at_end_of_batch() {
        let s = BlockState::Idle.statement(false).expect("starts");
        assert_eq!(s, BlockState::Implicit);
        assert_eq!(s.end_of_batch(), (BlockState::Idle, Effect::Commit));
        assert_eq!(s.status_byte(), b'I');
    }

    #[test]
    fn begin_in_implicit_becomes_block_and_twice_warns() {
        let (s, e) = BlockState::Implicit.begin();
        assert_eq!((s, e), (BlockState::InBlock, Effect::None));
        let (s, e) = s.begin();
        assert_eq!(s, BlockState::InBlock);
        match e {
            Effect::Warn(w) => {
                assert_eq!(w.code, SqlState::ACTIVE_SQL_TRANSACTION);
                assert_eq!(w.message, "there is already a transaction in progress");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(s.end_of_batch().1, Effect::None);
        assert_eq!(s.status_byte(), b'T');
    }

    #[test]
    fn error_in_block_fails_until_rollback_and_commit_answers_rollback() {
        let (s, e) = BlockState::InBlock.error();
        assert_eq!((s, e), (BlockState::Failed, Effect::Rollback));
        assert_eq!(s.status_byte(), b'E');
        let err = s.statement(false).unwrap_err();
        assert_eq!(err.code, SqlState::IN_FAILED_SQL_TRANSACTION);
        assert_eq!(s.statement(true).expect("exit allowed"), BlockState::Failed);
        assert_eq!(s.commit(), (BlockState::Idle, Effect::Rollback, "ROLLBACK"));
        assert_eq!(s.rollback(), (BlockState::Idle, Effect::Rollback));
        // a second error report changes nothing
        assert_eq!(s.error().0, BlockState::Failed);
    }

    #[test]
    fn commit_without_block_warns_25p01() {
        let (s, e, tag) = BlockState::Implicit.commit();
        assert_eq!((s, tag), (BlockState::Idle, "COMMIT"));
        match e {
            Effect::WarnThen(w, then) => {
                assert_eq!(w.code, SqlState::NO_ACTIVE_SQL_TRANSACTION);
                assert_eq!(*then, Effect::Commit);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            BlockState::Implicit.rollback().1,
            Effect::WarnThen(_, _)
        ));
    }

    #[test]
    fn implicit_error_ends_transaction() {
        assert_eq!(
            BlockState::Implicit.error(),
            (BlockState::Idle, Effect::Rollback)
        );
        assert_eq!(BlockState::Idle.error(), (BlockState::Idle, Effect::None));
    }

    #[test]
    fn isolation_names_round_trip() {
        for l in [
            IsolationLevel::ReadCommitted,
            IsolationLevel::RepeatableRead,
            IsolationLevel::Serializable,
        ] {
            assert_eq!(parse_isolation(isolation_name(l)), Some(l));
        }
    }
}
