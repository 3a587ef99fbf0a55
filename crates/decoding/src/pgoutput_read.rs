//! The client side of the logical replication protocol: parses the messages
//! `pgoutput` sends (every kind of PostgreSQL 17's "Logical Replication Message
//! Formats", streaming and two-phase ones included) into [`LogicalMessage`],
//! for the apply worker and for tests.
//! Owns only the decoding of bytes; what to do with a message is the reader's.
//! PostgreSQL counterpart: the `logicalrep_read_*` functions of
//! `src/backend/replication/logical/proto.c`.

use tandem_types::{ByteReader, Lsn, Oid, PgError, PgResult, ReadError, SqlState, Xid};

/// One column of a TupleData.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TupleColumn {
    /// `n`
    Null,
    /// `u`: an unchanged TOASTed value (never sent by tandem).
    UnchangedToast,
    /// `t`: the type's text output.
    Text(Vec<u8>),
    /// `b`: the type's binary send format.
    Binary(Vec<u8>),
}

/// Which old image an Update or Delete carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OldKind {
    /// `K`: only the replica identity key columns (others NULL).
    Key,
    /// `O`: the whole old row (REPLICA IDENTITY FULL).
    Full,
}

/// A column of a Relation message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RelationColumn {
    /// 1 = part of the replica identity key.
    pub flags: u8,
    pub name: String,
    pub type_oid: u32,
    pub typmod: i32,
}

/// One decoded logical replication message. `xid` fields marked "streamed"
/// are present only inside a streamed transaction (between Stream Start and
/// Stream Stop).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogicalMessage {
    Begin {
        final_lsn: Lsn,
        commit_time: i64,
        xid: Xid,
    },
    Message {
        xid: Option<Xid>,
        flags: u8,
        lsn: Lsn,
        prefix: String,
        content: Vec<u8>,
    },
    Commit {
        flags: u8,
        commit_lsn: Lsn,
        end_lsn: Lsn,
        commit_time: i64,
    },
    Origin {
        origin_lsn: Lsn,
        name: String,
    },
    Relation {
        xid: Option<Xid>,
        oid: Oid,
        /// Empty for pg_catalog.
        namespace: String,
        name: String,
        /// `d`, `n`, `f` or `i`.
        replica_identity: u8,
        columns: Vec<RelationColumn>,
    },
    Type {
        xid: Option<Xid>,
        oid: u32,
        namespace: String,
        name: String,
    },
    Insert {
        xid: Option<Xid>,
        relid: Oid,
        new: Vec<TupleColumn>,
    },
    Update {
        xid: Option<Xid>,
        relid: Oid,
        old: Option<(OldKind, Vec<TupleColumn>)>,
        new: Vec<TupleColumn>,
    },
    Delete {
        xid: Option<Xid>,
        relid: Oid,
        old: (OldKind, Vec<TupleColumn>),
    },
    Truncate {
        xid: Option<Xid>,
        /// 1 = CASCADE, 2 = RESTART IDENTITY.
        flags: u8,
        relids: Vec<Oid>,
    },
    StreamStart {
        xid: Xid,
        first_segment: bool,
    },
    StreamStop,
    StreamCommit {
        xid: Xid,
        flags: u8,
        commit_lsn: Lsn,
        end_lsn: Lsn,
        commit_time: i64,
    },
    StreamAbort {
        xid: Xid,
        subxid: Xid,
        /// With protocol 4 and parallel streaming: abort LSN and time.
        abort: Option<(Lsn, i64)>,
    },
    BeginPrepare {
        prepare_lsn: Lsn,
        end_lsn: Lsn,
        prepare_time: i64,
        xid: Xid,
        gid: String,
    },
    Prepare {
        flags: u8,
        prepare_lsn: Lsn,
        end_lsn: Lsn,
        prepare_time: i64,
        xid: Xid,
        gid: String,
    },
    CommitPrepared {
        flags: u8,
        commit_lsn: Lsn,
        end_lsn: Lsn,
        commit_time: i64,
        xid: Xid,
        gid: String,
    },
    RollbackPrepared {
        flags: u8,
        prepare_end_lsn: Lsn,
        rollback_end_lsn: Lsn,
        prepare_time: i64,
        rollback_time: i64,
        xid: Xid,
        gid: String,
    },
    StreamPrepare {
        flags: u8,
        prepare_lsn: Lsn,
        end_lsn: Lsn,
        prepare_time: i64,
        xid: Xid,
        gid: String,
    },
}

fn insufficient() -> PgError {
    PgError::new(
        SqlState::PROTOCOL_VIOLATION,
        "insufficient data left in message",
    )
}

fn invalid_string() -> PgError {
    PgError::new(SqlState::PROTOCOL_VIOLATION, "invalid string in message")
}

/// A reader over one message (`pq_getmsg*`): every short read, single bytes
/// included, is `insufficient data left in message`.
type Reader<'a> = ByteReader<'a, PgError>;

fn reader(bytes: &[u8]) -> Reader<'_> {
    ByteReader::with_errors(bytes, |e| match e {
        ReadError::Unterminated => invalid_string(),
        _ => insufficient(),
    })
}

/// The logical replication protocol's fields, on top of the integer reads.
trait LogicalReads {
    fn lsn(&mut self) -> PgResult<Lsn>;
    fn xid(&mut self) -> PgResult<Xid>;
    fn oid(&mut self) -> PgResult<Oid>;
    /// A NUL-terminated UTF-8 string (`pq_getmsgstring`).
    fn cstr(&mut self) -> PgResult<String>;
    /// A byte string after its `int32` length; a negative length is refused.
    fn counted(&mut self) -> PgResult<Vec<u8>>;
    fn xid_if(&mut self, streamed: bool) -> PgResult<Option<Xid>>;
    fn tuple(&mut self) -> PgResult<Vec<TupleColumn>>;
    fn old_kind(&mut self, action: u8) -> PgResult<OldKind>;
}

impl LogicalReads for Reader<'_> {
    fn lsn(&mut self) -> PgResult<Lsn> {
        Ok(Lsn(self.get_u64()?))
    }
    fn xid(&mut self) -> PgResult<Xid> {
        Ok(Xid(self.get_u32()?))
    }
    fn oid(&mut self) -> PgResult<Oid> {
        Ok(Oid(self.get_u32()?))
    }
    fn cstr(&mut self) -> PgResult<String> {
        let bytes = self.get_cstr_bytes()?;
        String::from_utf8(bytes.to_vec()).map_err(|_| invalid_string())
    }
    fn counted(&mut self) -> PgResult<Vec<u8>> {
        match self.get_i32_prefixed()? {
            Some(data) => Ok(data.to_vec()),
            None => Err(insufficient()),
        }
    }
    fn xid_if(&mut self, streamed: bool) -> PgResult<Option<Xid>> {
        if streamed {
            Ok(Some(self.xid()?))
        } else {
            Ok(None)
        }
    }

    fn tuple(&mut self) -> PgResult<Vec<TupleColumn>> {
        let n = self.get_i16()?;
        let mut cols = Vec::with_capacity(usize::try_from(n).unwrap_or(0));
        for _ in 0..n {
            let kind = self.get_u8()?;
            cols.push(match kind {
                b'n' => TupleColumn::Null,
                b'u' => TupleColumn::UnchangedToast,
                b't' => TupleColumn::Text(self.counted()?),
                b'b' => TupleColumn::Binary(self.counted()?),
                other => {
                    return Err(PgError::new(
                        SqlState::PROTOCOL_VIOLATION,
                        format!("unrecognized data representation type '{}'", other as char),
                    ))
                }
            });
        }
        Ok(cols)
    }

    fn old_kind(&mut self, action: u8) -> PgResult<OldKind> {
        match action {
            b'K' => Ok(OldKind::Key),
            b'O' => Ok(OldKind::Full),
            other => Err(expected_action("K or O", other)),
        }
    }
}

fn expected_action(what: &str, got: u8) -> PgError {
    PgError::new(
        SqlState::PROTOCOL_VIOLATION,
        format!("expected {what}, got {}", got as char),
    )
}

/// Parses one message outside a streamed transaction.
pub fn parse_message(bytes: &[u8]) -> PgResult<LogicalMessage> {
    parse_message_in(bytes, false)
}

/// Parses one message; `streamed` says whether it sits between Stream Start
/// and Stream Stop (change, relation, type and message kinds then carry the
/// xid of their subtransaction first). Errors are `08P01`:
/// `insufficient data left in message`, `invalid logical replication message
/// type "??? (N)"`, and the like.
pub fn parse_message_in(bytes: &[u8], streamed: bool) -> PgResult<LogicalMessage> {
    let mut r = reader(bytes);
    let kind = r.get_u8()?;
    let msg = match kind {
        b'B' => LogicalMessage::Begin {
            final_lsn: r.lsn()?,
            commit_time: r.get_i64()?,
            xid: r.xid()?,
        },
        b'M' => {
            let xid = r.xid_if(streamed)?;
            let flags = r.get_u8()?;
            let lsn = r.lsn()?;
            let prefix = r.cstr()?;
            LogicalMessage::Message {
                xid,
                flags,
                lsn,
                prefix,
                content: r.counted()?,
            }
        }
        b'C' => LogicalMessage::Commit {
            flags: r.get_u8()?,
            commit_lsn: r.lsn()?,
            end_lsn: r.lsn()?,
            commit_time: r.get_i64()?,
        },
        b'O' => LogicalMessage::Origin {
            origin_lsn: r.lsn()?,
            name: r.cstr()?,
        },
        b'R' => {
            let xid = r.xid_if(streamed)?;
            let oid = r.oid()?;
            let namespace = r.cstr()?;
            let name = r.cstr()?;
            let replica_identity = r.get_u8()?;
            let n = r.get_i16()?;
            let mut columns = Vec::with_capacity(usize::try_from(n).unwrap_or(0));
            for _ in 0..n {
                columns.push(RelationColumn {
                    flags: r.get_u8()?,
                    name: r.cstr()?,
                    type_oid: r.get_u32()?,
                    typmod: r.get_i32()?,
                });
            }
            LogicalMessage::Relation {
                xid,
                oid,
                namespace,
                name,
                replica_identity,
                columns,
            }
        }
        b'Y' => LogicalMessage::Type {
            xid: r.xid_if(streamed)?,
            oid: r.get_u32()?,
            namespace: r.cstr()?,
            name: r.cstr()?,
        },
        b'I' => {
            let xid = r.xid_if(streamed)?;
            let relid = r.oid()?;
            let action = r.get_u8()?;
            if action != b'N' {
                return Err(expected_action("new tuple", action));
            }
            LogicalMessage::Insert {
                xid,
                relid,
                new: r.tuple()?,
            }
        }
        b'U' => {
            let xid = r.xid_if(streamed)?;
            let relid = r.oid()?;
            let mut action = r.get_u8()?;
            let mut old = None;
            if action == b'K' || action == b'O' {
                let kind = r.old_kind(action)?;
                old = Some((kind, r.tuple()?));
                action = r.get_u8()?;
            }
            if action != b'N' {
                return Err(expected_action("action 'N'", action));
            }
            LogicalMessage::Update {
                xid,
                relid,
                old,
                new: r.tuple()?,
            }
        }
        b'D' => {
            let xid = r.xid_if(streamed)?;
            let relid = r.oid()?;
            let action = r.get_u8()?;
            let kind = r.old_kind(action)?;
            LogicalMessage::Delete {
                xid,
                relid,
                old: (kind, r.tuple()?),
            }
        }
        b'T' => {
            let xid = r.xid_if(streamed)?;
            let n = r.get_u32()?;
            let flags = r.get_u8()?;
            let mut relids = Vec::new();
            for _ in 0..n {
                relids.push(r.oid()?);
            }
            LogicalMessage::Truncate { xid, flags, relids }
        }
        b'S' => LogicalMessage::StreamStart {
            xid: r.xid()?,
            first_segment: r.get_u8()? == 1,
        },
        b'E' => LogicalMessage::StreamStop,
        b'c' => LogicalMessage::StreamCommit {
            xid: r.xid()?,
            flags: r.get_u8()?,
            commit_lsn: r.lsn()?,
            end_lsn: r.lsn()?,
            commit_time: r.get_i64()?,
        },
        b'A' => {
            let xid = r.xid()?;
            let subxid = r.xid()?;
            let abort = if r.remaining() >= 16 {
                Some((r.lsn()?, r.get_i64()?))
            } else {
                None
            };
            LogicalMessage::StreamAbort { xid, subxid, abort }
        }
        b'b' => LogicalMessage::BeginPrepare {
            prepare_lsn: r.lsn()?,
            end_lsn: r.lsn()?,
            prepare_time: r.get_i64()?,
            xid: r.xid()?,
            gid: r.cstr()?,
        },
        b'P' | b'p' => {
            let flags = r.get_u8()?;
            let prepare_lsn = r.lsn()?;
            let end_lsn = r.lsn()?;
            let prepare_time = r.get_i64()?;
            let xid = r.xid()?;
            let gid = r.cstr()?;
            if kind == b'P' {
                LogicalMessage::Prepare {
                    flags,
                    prepare_lsn,
                    end_lsn,
                    prepare_time,
                    xid,
                    gid,
                }
            } else {
                LogicalMessage::StreamPrepare {
                    flags,
                    prepare_lsn,
                    end_lsn,
                    prepare_time,
                    xid,
                    gid,
                }
            }
        }
        b'K' => LogicalMessage::CommitPrepared {
            flags: r.get_u8()?,
            commit_lsn: r.lsn()?,
            end_lsn: r.lsn()?,
            commit_time: r.get_i64()?,
            xid: r.xid()?,
            gid: r.cstr()?,
        },
        b'r' => LogicalMessage::RollbackPrepared {
            flags: r.get_u8()?,
            prepare_end_lsn: r.lsn()?,
            rollback_end_lsn: r.lsn()?,
            prepare_time: r.get_i64()?,
            rollback_time: r.get_i64()?,
            xid: r.xid()?,
            gid: r.cstr()?,
        },
        other => {
            return Err(PgError::new(
                SqlState::PROTOCOL_VIOLATION,
                format!("invalid logical replication message type \"??? ({other})\""),
            ))
        }
    };
    Ok(msg)
}
