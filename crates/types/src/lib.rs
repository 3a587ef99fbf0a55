//! Shared vocabulary of tandem: the domain newtypes every other crate speaks.
//!
//! - [`Lsn`], [`TimeLineId`], [`Xid`], [`Oid`]: positions and identifiers, printed
//!   the way PostgreSQL prints them (`0/16B3748`).
//! - [`PgError`] and [`SqlState`]: the one error type that reaches a client, carrying
//!   PostgreSQL's severity, SQLSTATE, message, detail and hint.
//! - [`Value`] and [`DataType`]: SQL datums and their types (text and binary I/O in
//!   `value.rs`).
//! - [`bytes_io`]: the bounds-checked [`ByteReader`] and the writer helpers every
//!   wire message and on-disk format is read and written with.
//! - [`elog`]: PostgreSQL-style log lines (`... [pid] LOG:  message`).
//! - [`ident`]: identifier, literal and JSON string quoting as PostgreSQL writes them
//!   (`quote_identifier`, with PostgreSQL 17's keyword categories).
//! - [`PgTimestamp`]: now and other instants as PostgreSQL's `TimestampTz` counts
//!   them (microseconds since 2000-01-01 UTC).
//! - [`fsutil`]: directory fsync, and fsync failures as PANIC.
//! - [`enum_type`]: the labels of a `CREATE TYPE ... AS ENUM` type.
//!
//! Read `ids.rs` first, then `error.rs`.

pub mod bytes_io;
pub mod elog;
pub mod enum_type;
pub mod error;
pub mod fsutil;
pub mod ident;
pub mod ids;
pub mod timestamp;
pub mod value;

pub use bytes_io::{ByteReader, ReadError};
pub use enum_type::{EnumLabel, EnumType};
pub use error::{ErrorExtra, ErrorObjects, Locate, PgError, PgResult, Severity, SqlState};
pub use ids::{Lsn, Oid, TimeLineId, Xid};
pub use timestamp::PgTimestamp;
pub use value::{DataType, NumericSpecial, Value};
