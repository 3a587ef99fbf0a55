//! Logical decoding: turns WAL into committed transactions with the table
//! definitions in force at each change, and hands them to output plugins
//! (`test_decoding`, `pgoutput`).
//!
//! Read `reader.rs` first (WAL → [`Decoded`] items), then `test_decoding.rs`.
//! Slots, positions and the SQL/replication interfaces are the server's
//! (`crates/server/src/slot/logical.rs`); this crate owns only "bytes of WAL in,
//! plugin output out".
//!
//! tandem writes a transaction's records contiguously at commit (see
//! `tandem_storage::record`), so there is no reorder buffer: a transaction is
//! complete once its COMMIT record has been read, and any record boundary
//! between transactions is a consistent point to start decoding from.
//! PostgreSQL counterparts: `replication/logical/decode.c`, `reorderbuffer.c`,
//! `contrib/test_decoding/test_decoding.c`, `replication/pgoutput/pgoutput.c`.

use std::sync::Arc;

use tandem_storage::{Catalog, CommitOrigin, TableDef};
use tandem_types::{Lsn, PgError, PgResult, SqlState, Value, Xid};
use tandem_wal::Wal;

pub mod pgoutput;
pub mod pgoutput_read;
pub mod reader;
pub mod stats;
pub mod test_decoding;

pub use reader::Decoder;

/// Facts about one committed transaction.
#[derive(Clone, Debug, PartialEq)]
pub struct TxnInfo {
    pub xid: Xid,
    /// Start of the transaction's first record (test_decoding's BEGIN row).
    pub first_lsn: Lsn,
    /// Start of the COMMIT record (pgoutput's commit_lsn).
    pub commit_lsn: Lsn,
    /// End of the COMMIT record (test_decoding's COMMIT row, pgoutput's end_lsn,
    /// the position a consumer confirms).
    pub end_lsn: Lsn,
    /// Microseconds since 2000-01-01 UTC.
    pub commit_time: i64,
    /// Set when an apply worker (replication origin) made the transaction.
    pub origin: Option<CommitOrigin>,
}

/// One decoded change. Rows are padded to the table's width as of the change
/// (columns added later read as their missing value); dropped columns are still
/// present and marked `dropped` in `rel.columns` (plugins skip them).
#[derive(Clone, Debug, PartialEq)]
pub enum DecodedChange {
    Insert {
        rel: Arc<TableDef>,
        new: Arc<[Value]>,
    },
    Update {
        rel: Arc<TableDef>,
        /// The old row image as PostgreSQL would log it: `Some(Key)` only when
        /// REPLICA IDENTITY DEFAULT and the key changed, `Some(Full)` with
        /// REPLICA IDENTITY FULL, else `None`.
        old: Option<OldRow>,
        new: Arc<[Value]>,
    },
    Delete {
        rel: Arc<TableDef>,
        /// `None` with REPLICA IDENTITY NOTHING (or DEFAULT without a key).
        old: Option<OldRow>,
    },
    Truncate {
        rels: Vec<Arc<TableDef>>,
        restart_seqs: bool,
        cascade: bool,
    },
    /// `pg_logical_emit_message(true, ...)`: part of its transaction.
    Message { prefix: String, content: Vec<u8> },
}

/// An old row image carried by an UPDATE or DELETE.
#[derive(Clone, Debug, PartialEq)]
pub enum OldRow {
    /// Row-shaped, only the replica identity (primary key) columns set.
    Key(Vec<Value>),
    /// The whole old row (REPLICA IDENTITY FULL).
    Full(Vec<Value>),
}

/// A committed transaction, its changes in WAL order with each change's LSN:
/// the start of its record, except for [`DecodedChange::Message`], whose LSN is
/// the END of its record (PostgreSQL reports messages at their end LSN, in
/// test_decoding and pgoutput alike).
#[derive(Clone, Debug, PartialEq)]
pub struct DecodedTxn {
    pub info: TxnInfo,
    pub changes: Vec<(Lsn, DecodedChange)>,
    /// The transaction changed the catalog (DDL). Such changes produce no
    /// output rows, but test_decoding still prints BEGIN/COMMIT for them. In
    /// a part: whether the parts so far did (known for the whole transaction
    /// in its last part).
    pub has_catalog_changes: bool,
    /// Which part of its transaction this is: a large transaction is decoded
    /// in parts, in order, each with some of its changes (`reader.rs`).
    pub part: Part,
}

/// Where a [`DecodedTxn`] stands in its transaction. A plugin begins the
/// transaction with its first part and ends it with its last; every part
/// carries the whole transaction's [`TxnInfo`] (its COMMIT is read first).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Part {
    pub first: bool,
    pub last: bool,
}

impl Part {
    /// A transaction decoded in one piece.
    pub const WHOLE: Part = Part {
        first: true,
        last: true,
    };
}

/// A non-transactional `pg_logical_emit_message(false, ...)`.
#[derive(Clone, Debug, PartialEq)]
pub struct DecodedMessage {
    pub lsn: Lsn,
    pub end_lsn: Lsn,
    /// The emitting transaction's xid when it had one, else 0.
    pub xid: Xid,
    pub prefix: String,
    pub content: Vec<u8>,
}

/// What the decoder yields, in WAL order of the COMMIT (or message) record.
#[derive(Clone, Debug, PartialEq)]
pub enum Decoded {
    Txn(DecodedTxn),
    Message(DecodedMessage),
}

/// One row of plugin output: `(lsn, xid, data)` of
/// `pg_logical_slot_get_changes`, or one XLogData message of a logical walsender
/// (`lsn` is its dataStart/walEnd).
#[derive(Clone, Debug, PartialEq)]
pub struct OutputRow {
    pub lsn: Lsn,
    pub xid: Xid,
    pub data: Vec<u8>,
}

/// An output plugin instance: created per decoding session with its options.
pub trait OutputPlugin: Send {
    /// False for binary plugins (pgoutput): `pg_logical_slot_get_changes`
    /// refuses them, the `_binary_` functions accept both.
    fn textual(&self) -> bool;
    /// Emits the rows of one committed transaction (nothing when filtered out,
    /// e.g. `only-local` and the transaction has an origin, or
    /// `skip-empty-xacts` and nothing printable), or of one part of it
    /// ([`DecodedTxn::part`]: called for each part in order; what the plugin
    /// must remember between parts, such as whether it began the transaction,
    /// it keeps itself).
    /// `catalog` is the decoder's catalog after the transaction (publications,
    /// relation definitions for plugins that need more than `rel`).
    fn transaction(
        &mut self,
        txn: &DecodedTxn,
        catalog: &Catalog,
        out: &mut dyn FnMut(OutputRow) -> PgResult<()>,
    ) -> PgResult<()>;
    /// Emits a non-transactional message.
    fn message(
        &mut self,
        msg: &DecodedMessage,
        catalog: &Catalog,
        out: &mut dyn FnMut(OutputRow) -> PgResult<()>,
    ) -> PgResult<()>;
}

/// The "plugin" of fast-forward decoding (`pg_replication_slot_advance`):
/// it emits nothing and takes no options. PostgreSQL does not load the
/// slot's output plugin in fast-forward mode, so a `pgoutput` slot advances
/// without `proto_version` or `publication_names`.
pub struct FastForward;

impl OutputPlugin for FastForward {
    fn textual(&self) -> bool {
        true
    }
    fn transaction(
        &mut self,
        _txn: &DecodedTxn,
        _catalog: &Catalog,
        _out: &mut dyn FnMut(OutputRow) -> PgResult<()>,
    ) -> PgResult<()> {
        Ok(())
    }
    fn message(
        &mut self,
        _msg: &DecodedMessage,
        _catalog: &Catalog,
        _out: &mut dyn FnMut(OutputRow) -> PgResult<()>,
    ) -> PgResult<()> {
        Ok(())
    }
}

/// Names of the plugins tandem has.
pub const PLUGINS: &[&str] = &["test_decoding", "pgoutput"];

/// Checks a plugin name at slot creation. Unknown names fail as PostgreSQL
/// fails to load the library: `58P01 could not access file "x": No such file
/// or directory`.
pub fn check_plugin(name: &str) -> PgResult<()> {
    if PLUGINS.contains(&name) {
        return Ok(());
    }
    Err(PgError::new(
        SqlState::UNDEFINED_FILE,
        format!("could not access file \"{name}\": No such file or directory"),
    ))
}

/// `output_plugin_libraries`: only listed libraries may serve as output
/// plugins (`42501 library "x" may not be used as an output plugin`).
pub fn check_plugin_allowed(name: &str, allowed: &str) -> PgResult<()> {
    let listed = allowed
        .split(',')
        .map(|s| s.trim().trim_matches('"'))
        .any(|s| s == name);
    if listed {
        return Ok(());
    }
    Err(tandem_types::PgError::new(
        tandem_types::SqlState::INSUFFICIENT_PRIVILEGE,
        format!("library \"{name}\" may not be used as an output plugin"),
    )
    .with_hint("If it is safe for all REPLICATION users to use this library as an output plugin, add it to \"output_plugin_libraries\" and reload the server configuration."))
}

/// Starts a plugin with the options of `pg_logical_slot_get_changes(...,
/// VARIADIC options)` or `START_REPLICATION ... LOGICAL X/X (options)`.
/// Unknown options fail as the plugin does (`22023 option "x" = "y" is unknown`).
pub fn start_plugin(
    name: &str,
    options: &[(String, Option<String>)],
) -> PgResult<Box<dyn OutputPlugin>> {
    match name {
        "test_decoding" => Ok(Box::new(test_decoding::TestDecoding::new(options)?)),
        "pgoutput" => Ok(Box::new(pgoutput::PgOutput::new(options)?)),
        _ => check_plugin(name).and_then(|()| {
            Err(PgError::internal(format!(
                "output plugin \"{name}\" has no implementation"
            )))
        }),
    }
}

/// Convenience for the server: a decoder over `wal` from `restart` with the
/// catalog in force there.
pub fn decoder(wal: Arc<Wal>, catalog_at_start: Arc<Catalog>, restart: Lsn) -> Decoder {
    Decoder::new(wal, catalog_at_start, restart)
}
