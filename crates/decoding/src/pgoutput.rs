//! The `pgoutput` output plugin: PostgreSQL's logical replication protocol
//! (the messages a subscription's apply worker reads: Begin, Relation, Insert,
//! Update, Delete, Truncate, Message, Origin, Commit), byte for byte as
//! PostgreSQL 17 writes them.
//! Owns the plugin's options (parsed with PostgreSQL's rules and errors), the
//! per-session relation cache (which Relation messages were already sent),
//! publication filtering, and the encoding of every message. The client-side
//! reader of these messages is `pgoutput_read.rs`.
//! PostgreSQL counterparts: `src/backend/replication/pgoutput/pgoutput.c`
//! (plugin) and `src/backend/replication/logical/proto.c` (message encoding).

use std::collections::BTreeMap;
use std::sync::Arc;

use tandem_storage::{Catalog, PublicationDef, ReplicaIdentity, TableDef};
use tandem_types::bytes_io::{BufMut, PutBytes};
use tandem_types::ident::truncate_identifier;
use tandem_types::{DataType, Lsn, Oid, PgError, PgResult, SqlState, Value, Xid};

use crate::{DecodedChange, DecodedMessage, DecodedTxn, OldRow, OutputPlugin, OutputRow};

/// Lowest protocol version served (`LOGICALREP_PROTO_MIN_VERSION_NUM`).
pub const PROTO_MIN_VERSION: u32 = 1;
/// Version needed for `streaming = on` (`LOGICALREP_PROTO_STREAM_VERSION_NUM`).
pub const PROTO_STREAM_VERSION: u32 = 2;
/// Version needed for `two_phase` (`LOGICALREP_PROTO_TWOPHASE_VERSION_NUM`).
pub const PROTO_TWOPHASE_VERSION: u32 = 3;
/// Version needed for `streaming = parallel`; also the highest served.
pub const PROTO_STREAM_PARALLEL_VERSION: u32 = 4;
/// Highest protocol version served (`LOGICALREP_PROTO_MAX_VERSION_NUM`).
pub const PROTO_MAX_VERSION: u32 = 4;

/// Relation column flag: the column is part of the replica identity key.
pub const COLUMN_IS_KEY: u8 = 1;
/// Truncate option flags (`TRUNCATE_CASCADE`, `TRUNCATE_RESTART_SEQS`).
pub const TRUNCATE_CASCADE: u8 = 1;
pub const TRUNCATE_RESTART_SEQS: u8 = 2;
/// Message flag: the message is transactional.
pub const MESSAGE_TRANSACTIONAL: u8 = 1;

/// The `streaming` option.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Streaming {
    Off,
    On,
    Parallel,
}

/// Looks up a replication origin's name by its id (`replorigin_by_oid`), for
/// origins the decoder's catalog does not name (the catalog passed to
/// `transaction`, `Catalog::origins`, is asked first). When neither knows the
/// id, no Origin message is sent, as PostgreSQL does for an origin whose name
/// it cannot find.
pub type OriginNames = Box<dyn Fn(u16) -> Option<String> + Send>;

/// One `pgoutput` session: options plus the relation cache.
pub struct PgOutput {
    pub proto_version: u32,
    /// Names after identifier parsing (unquoted names folded to lower case).
    pub publication_names: Vec<String>,
    pub binary: bool,
    pub messages: bool,
    pub streaming: Streaming,
    /// `origin = none`: transactions made by an apply worker are not sent.
    pub origin_none: bool,
    pub two_phase: bool,
    origin_names: Option<OriginNames>,
    /// Per relation, the definition its last Relation message described.
    sent_relations: BTreeMap<Oid, Arc<TableDef>>,
    /// The publications seen by the previous transaction: any change to them
    /// makes every relation's schema be sent again (PostgreSQL's
    /// `rel_sync_cache_publication_cb`).
    seen_publications: Option<BTreeMap<Oid, PublicationDef>>,
    /// Begin was sent for the transaction whose parts are being decoded.
    begun: bool,
}

impl std::fmt::Debug for PgOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgOutput")
            .field("proto_version", &self.proto_version)
            .field("publication_names", &self.publication_names)
            .field("binary", &self.binary)
            .field("messages", &self.messages)
            .field("streaming", &self.streaming)
            .field("origin_none", &self.origin_none)
            .field("two_phase", &self.two_phase)
            .finish_non_exhaustive()
    }
}

fn redundant() -> PgError {
    PgError::new(SqlState::SYNTAX_ERROR, "conflicting or redundant options")
}

/// `defGetBoolean` on a string argument: `true`/`false`/`on`/`off` in any case;
/// no value means true.
fn def_boolean(name: &str, value: Option<&str>) -> PgResult<bool> {
    let Some(v) = value else {
        return Ok(true);
    };
    if v.eq_ignore_ascii_case("true") || v.eq_ignore_ascii_case("on") {
        Ok(true)
    } else if v.eq_ignore_ascii_case("false") || v.eq_ignore_ascii_case("off") {
        Ok(false)
    } else {
        Err(PgError::new(
            SqlState::SYNTAX_ERROR,
            format!("{name} requires a Boolean value"),
        ))
    }
}

/// `defGetStreamingMode`: a Boolean word or `parallel`; no value means on.
fn def_streaming(name: &str, value: Option<&str>) -> PgResult<Streaming> {
    let Some(v) = value else {
        return Ok(Streaming::On);
    };
    if v.eq_ignore_ascii_case("false") || v.eq_ignore_ascii_case("off") {
        Ok(Streaming::Off)
    } else if v.eq_ignore_ascii_case("true") || v.eq_ignore_ascii_case("on") {
        Ok(Streaming::On)
    } else if v.eq_ignore_ascii_case("parallel") {
        Ok(Streaming::Parallel)
    } else {
        Err(PgError::new(
            SqlState::SYNTAX_ERROR,
            format!("{name} requires a Boolean value or \"parallel\""),
        ))
    }
}

/// The C library's `strtoul(s, &end, 10)` followed by PostgreSQL's checks:
/// leading white space and a sign are accepted, trailing characters are not,
/// a negative number wraps (and so is out of range).
fn parse_proto_version(value: Option<&str>) -> PgResult<u32> {
    let invalid = || PgError::new(SqlState::INVALID_PARAMETER_VALUE, "invalid proto_version");
    let s = value.ok_or_else(invalid)?;
    let rest = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (negative, digits) = match rest.as_bytes().first() {
        Some(b'-') => (true, &rest[1..]),
        Some(b'+') => (false, &rest[1..]),
        _ => (false, rest),
    };
    if digits.is_empty() {
        // No conversion: strtoul leaves the end pointer at the start.
        return if s.is_empty() { Ok(0) } else { Err(invalid()) };
    }
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    // Overflow of unsigned long sets errno: "invalid proto_version".
    let magnitude: u64 = digits.parse().map_err(|_| invalid())?;
    let parsed = if negative {
        magnitude.wrapping_neg()
    } else {
        magnitude
    };
    u32::try_from(parsed).map_err(|_| {
        PgError::new(
            SqlState::INVALID_PARAMETER_VALUE,
            format!("proto_version \"{s}\" out of range"),
        )
    })
}

/// PostgreSQL's `SplitIdentifierString(s, ',')`: names separated by commas,
/// white space around them ignored, double-quoted names kept as written (`""`
/// for a quote), other names folded to lower case. `None` on bad syntax.
pub fn split_identifier_list(s: &str) -> Option<Vec<String>> {
    let is_space = |c: char| matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0c' | '\x0b');
    let mut names = Vec::new();
    let mut rest = s.trim_start_matches(is_space);
    if rest.is_empty() {
        return Some(names);
    }
    loop {
        let mut name;
        if let Some(quoted) = rest.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = quoted.char_indices();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                if c == '"' {
                    if quoted[i + 1..].starts_with('"') {
                        value.push('"');
                        chars.next();
                    } else {
                        end = Some(i + 1);
                        break;
                    }
                } else {
                    value.push(c);
                }
            }
            let end = end?;
            if value.is_empty() {
                return None;
            }
            name = value;
            rest = &quoted[end..];
        } else {
            let end = rest
                .find(|c: char| c == ',' || is_space(c))
                .unwrap_or(rest.len());
            if end == 0 {
                return None;
            }
            name = rest[..end].to_ascii_lowercase();
            rest = &rest[end..];
        }
        // SplitIdentifierString truncates without a notice
        let _ = truncate_identifier(&mut name);
        names.push(name);
        rest = rest.trim_start_matches(is_space);
        if let Some(after) = rest.strip_prefix(',') {
            rest = after.trim_start_matches(is_space);
        } else if rest.is_empty() {
            return Some(names);
        } else {
            return None;
        }
    }
}

impl PgOutput {
    /// Parses the options as `pgoutput_startup` does, in order, then checks
    /// them. Errors (SQLSTATE, text) are PostgreSQL 17's:
    /// `42601 conflicting or redundant options`, `22023 invalid proto_version`,
    /// `22023 proto_version "x" out of range`, `42602 invalid publication_names
    /// syntax`, `42601 binary requires a Boolean value`, `42601 streaming
    /// requires a Boolean value or "parallel"`, `22023 unrecognized origin
    /// value: "x"`, `XX000 unrecognized pgoutput option: x`, `22023 option
    /// "proto_version" missing`, `22023 option "publication_names" missing`,
    /// `0A000 client sent proto_version=5 but server only supports protocol 4
    /// or lower` (and `1 or higher`), `22023 requested proto_version=1 does not
    /// support streaming, need 2 or higher` (parallel: 4; two-phase: 3).
    pub fn new(options: &[(String, Option<String>)]) -> PgResult<PgOutput> {
        let mut proto_version = None;
        let mut publication_names = None;
        let mut binary = None;
        let mut messages = None;
        let mut streaming = None;
        let mut two_phase = None;
        let mut origin_none = None;
        for (name, value) in options {
            let v = value.as_deref();
            match name.as_str() {
                "proto_version" => {
                    if proto_version.is_some() {
                        return Err(redundant());
                    }
                    proto_version = Some(parse_proto_version(v)?);
                }
                "publication_names" => {
                    if publication_names.is_some() {
                        return Err(redundant());
                    }
                    let list = v.and_then(split_identifier_list).ok_or_else(|| {
                        PgError::new(SqlState("42602"), "invalid publication_names syntax")
                    })?;
                    publication_names = Some(list);
                }
                "binary" => {
                    if binary.is_some() {
                        return Err(redundant());
                    }
                    binary = Some(def_boolean(name, v)?);
                }
                "messages" => {
                    if messages.is_some() {
                        return Err(redundant());
                    }
                    messages = Some(def_boolean(name, v)?);
                }
                "streaming" => {
                    if streaming.is_some() {
                        return Err(redundant());
                    }
                    streaming = Some(def_streaming(name, v)?);
                }
                "two_phase" => {
                    if two_phase.is_some() {
                        return Err(redundant());
                    }
                    two_phase = Some(def_boolean(name, v)?);
                }
                "origin" => {
                    if origin_none.is_some() {
                        return Err(redundant());
                    }
                    let Some(v) = v else {
                        return Err(PgError::new(
                            SqlState::SYNTAX_ERROR,
                            format!("{name} requires a parameter"),
                        ));
                    };
                    if v.eq_ignore_ascii_case("none") {
                        origin_none = Some(true);
                    } else if v.eq_ignore_ascii_case("any") {
                        origin_none = Some(false);
                    } else {
                        return Err(PgError::new(
                            SqlState::INVALID_PARAMETER_VALUE,
                            format!("unrecognized origin value: \"{v}\""),
                        ));
                    }
                }
                _ => {
                    return Err(PgError::new(
                        SqlState::INTERNAL_ERROR,
                        format!("unrecognized pgoutput option: {name}"),
                    ))
                }
            }
        }
        let missing = |opt: &str| {
            PgError::new(
                SqlState::INVALID_PARAMETER_VALUE,
                format!("option \"{opt}\" missing"),
            )
        };
        let proto_version = proto_version.ok_or_else(|| missing("proto_version"))?;
        let publication_names = publication_names.ok_or_else(|| missing("publication_names"))?;
        // PostgreSQL formats the version with %d.
        let shown = proto_version as i32;
        if proto_version > PROTO_MAX_VERSION {
            return Err(PgError::new(
                SqlState::FEATURE_NOT_SUPPORTED,
                format!(
                    "client sent proto_version={shown} but server only supports protocol {PROTO_MAX_VERSION} or lower"
                ),
            ));
        }
        if proto_version < PROTO_MIN_VERSION {
            return Err(PgError::new(
                SqlState::FEATURE_NOT_SUPPORTED,
                format!(
                    "client sent proto_version={shown} but server only supports protocol {PROTO_MIN_VERSION} or higher"
                ),
            ));
        }
        let streaming = streaming.unwrap_or(Streaming::Off);
        let too_old = |what: &str, need: u32| {
            PgError::new(
                SqlState::INVALID_PARAMETER_VALUE,
                format!(
                    "requested proto_version={shown} does not support {what}, need {need} or higher"
                ),
            )
        };
        match streaming {
            Streaming::On if proto_version < PROTO_STREAM_VERSION => {
                return Err(too_old("streaming", PROTO_STREAM_VERSION))
            }
            Streaming::Parallel if proto_version < PROTO_STREAM_PARALLEL_VERSION => {
                return Err(too_old("parallel streaming", PROTO_STREAM_PARALLEL_VERSION))
            }
            // tandem logs a transaction whole at commit, so there is never an
            // in-progress transaction to stream: accepted, changes nothing.
            _ => {}
        }
        let two_phase = two_phase.unwrap_or(false);
        if two_phase {
            if proto_version < PROTO_TWOPHASE_VERSION {
                return Err(too_old("two-phase commit", PROTO_TWOPHASE_VERSION));
            }
            // Prepared transactions are not decoded at PREPARE time (yet).
            return Err(PgError::new(
                SqlState::INVALID_PARAMETER_VALUE,
                "two-phase commit requested, but not supported by output plugin",
            ));
        }
        Ok(PgOutput {
            proto_version,
            publication_names,
            binary: binary.unwrap_or(false),
            messages: messages.unwrap_or(false),
            streaming,
            origin_none: origin_none.unwrap_or(false),
            two_phase,
            origin_names: None,
            sent_relations: BTreeMap::new(),
            seen_publications: None,
            begun: false,
        })
    }

    /// Installs the replication origin name lookup used for Origin messages.
    pub fn set_origin_names(&mut self, names: OriginNames) {
        self.origin_names = Some(names);
    }

    /// Which kinds of change the session's publications publish for `table`
    /// (the union over the named publications that include it). A named
    /// publication that does not exist fails as in PostgreSQL 17, when the
    /// first change needs it: `42704 publication "x" does not exist`.
    pub fn pub_actions(&self, catalog: &Catalog, table: Oid) -> PgResult<PubActions> {
        let mut actions = PubActions::default();
        for name in &self.publication_names {
            let Some(publication) = catalog.publication_by_name(name) else {
                return Err(PgError::new(
                    SqlState::UNDEFINED_OBJECT,
                    format!("publication \"{name}\" does not exist"),
                ));
            };
            if publication.includes(table) {
                actions.insert |= publication.pub_insert;
                actions.update |= publication.pub_update;
                actions.delete |= publication.pub_delete;
                actions.truncate |= publication.pub_truncate;
            }
        }
        Ok(actions)
    }

    /// Sends the Relation message for `rel` unless the one last sent for it
    /// described the same definition.
    fn maybe_send_relation(&mut self, rel: &Arc<TableDef>, msgs: &mut Vec<Vec<u8>>) {
        if self.sent_relations.get(&rel.oid) == Some(rel) {
            return;
        }
        // a Type message before the relation for each column of a type
        // that is not built in, as PostgreSQL's send_relation_and_attrs
        for col in rel.columns.iter().filter(|c| !c.dropped) {
            let mut buf = Vec::new();
            if write_type(&mut buf, &col.data_type) {
                msgs.push(buf);
            }
        }
        let mut buf = Vec::new();
        write_relation(&mut buf, rel);
        msgs.push(buf);
        self.sent_relations.insert(rel.oid, rel.clone());
    }

    /// The name of origin `origin`: from the decoder's catalog, else the
    /// installed lookup.
    fn origin_name(&self, origin: u16, catalog: &Catalog) -> Option<String> {
        catalog
            .origins
            .get(&origin)
            .cloned()
            .or_else(|| self.origin_names.as_ref().and_then(|f| f(origin)))
    }

    /// The messages one change produces (empty when it is not published),
    /// the first change of a transaction preceded by Begin (and Origin).
    fn change_messages(
        &mut self,
        txn: &DecodedTxn,
        lsn: Lsn,
        change: &DecodedChange,
        catalog: &Catalog,
        begun: &mut bool,
    ) -> PgResult<Vec<Vec<u8>>> {
        let mut msgs = Vec::new();
        match change {
            DecodedChange::Insert { rel, new } => {
                if !self.pub_actions(catalog, rel.oid)?.insert {
                    return Ok(msgs);
                }
                self.begin_messages(txn, catalog, begun, &mut msgs);
                self.maybe_send_relation(rel, &mut msgs);
                let mut buf = Vec::new();
                write_insert(&mut buf, rel, new, self.binary);
                msgs.push(buf);
            }
            DecodedChange::Update { rel, old, new } => {
                if !self.pub_actions(catalog, rel.oid)?.update {
                    return Ok(msgs);
                }
                self.begin_messages(txn, catalog, begun, &mut msgs);
                self.maybe_send_relation(rel, &mut msgs);
                let mut buf = Vec::new();
                write_update(&mut buf, rel, old.as_ref(), new, self.binary);
                msgs.push(buf);
            }
            DecodedChange::Delete { rel, old } => {
                if !self.pub_actions(catalog, rel.oid)?.delete {
                    return Ok(msgs);
                }
                // Without an old tuple (REPLICA IDENTITY NOTHING) the delete
                // cannot be published and is skipped.
                let Some(old) = old else {
                    return Ok(msgs);
                };
                self.begin_messages(txn, catalog, begun, &mut msgs);
                self.maybe_send_relation(rel, &mut msgs);
                let mut buf = Vec::new();
                write_delete(&mut buf, rel, old, self.binary);
                msgs.push(buf);
            }
            DecodedChange::Truncate {
                rels,
                restart_seqs,
                cascade,
            } => {
                let mut published = Vec::new();
                for rel in rels {
                    if self.pub_actions(catalog, rel.oid)?.truncate {
                        published.push(rel);
                    }
                }
                if published.is_empty() {
                    return Ok(msgs);
                }
                self.begin_messages(txn, catalog, begun, &mut msgs);
                for rel in &published {
                    // TRUNCATE gives the table a new relfilenode, which
                    // invalidates it: its schema always goes out again.
                    self.sent_relations.remove(&rel.oid);
                    self.maybe_send_relation(rel, &mut msgs);
                }
                let oids: Vec<Oid> = published.iter().map(|r| r.oid).collect();
                let mut buf = Vec::new();
                write_truncate(&mut buf, &oids, *cascade, *restart_seqs);
                msgs.push(buf);
            }
            DecodedChange::Message { prefix, content } => {
                if !self.messages {
                    return Ok(msgs);
                }
                // A transactional message's LSN is the end of its record.
                self.begin_messages(txn, catalog, begun, &mut msgs);
                let mut buf = Vec::new();
                write_message(&mut buf, true, lsn, prefix, content);
                msgs.push(buf);
            }
        }
        Ok(msgs)
    }

    fn begin_messages(
        &self,
        txn: &DecodedTxn,
        catalog: &Catalog,
        begun: &mut bool,
        msgs: &mut Vec<Vec<u8>>,
    ) {
        if *begun {
            return;
        }
        *begun = true;
        let mut buf = Vec::new();
        write_begin(
            &mut buf,
            txn.info.commit_lsn,
            txn.info.commit_time,
            txn.info.xid,
        );
        msgs.push(buf);
        if let Some(origin) = &txn.info.origin {
            if let Some(name) = self.origin_name(origin.origin, catalog) {
                let mut buf = Vec::new();
                write_origin(&mut buf, origin.remote_lsn, &name);
                msgs.push(buf);
            }
        }
    }

    /// Forgets every sent schema when the publications changed since the
    /// previous transaction.
    fn note_publications(&mut self, catalog: &Catalog) {
        if self.seen_publications.as_ref() != Some(&catalog.publications) {
            if self.seen_publications.is_some() {
                self.sent_relations.clear();
            }
            self.seen_publications = Some(catalog.publications.clone());
        }
    }
}

/// The kinds of change published for one table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PubActions {
    pub insert: bool,
    pub update: bool,
    pub delete: bool,
    pub truncate: bool,
}

impl OutputPlugin for PgOutput {
    fn textual(&self) -> bool {
        false
    }

    fn transaction(
        &mut self,
        txn: &DecodedTxn,
        catalog: &Catalog,
        out: &mut dyn FnMut(OutputRow) -> PgResult<()>,
    ) -> PgResult<()> {
        self.note_publications(catalog);
        let xid = txn.info.xid;
        let skipped = self.origin_none && txn.info.origin.is_some();
        if txn.part.first {
            self.begun = false;
        }
        let mut begun = self.begun;
        if !skipped {
            for (lsn, change) in &txn.changes {
                let msgs = self.change_messages(txn, *lsn, change, catalog, &mut begun)?;
                for data in msgs {
                    out(OutputRow {
                        lsn: *lsn,
                        xid,
                        data,
                    })?;
                }
            }
            self.begun = begun;
            // An empty transaction (nothing published) sends neither Begin
            // nor Commit.
            if begun && txn.part.last {
                let mut buf = Vec::new();
                write_commit(
                    &mut buf,
                    txn.info.commit_lsn,
                    txn.info.end_lsn,
                    txn.info.commit_time,
                );
                out(OutputRow {
                    lsn: txn.info.end_lsn,
                    xid,
                    data: buf,
                })?;
            }
        }
        // The truncation's invalidation is replayed at commit as well: the
        // next change of a truncated table sends its schema again, whether or
        // not this transaction was sent. (A part's truncations take effect at
        // once: a later part's change of the table sends its schema again,
        // which a subscriber takes as it takes any Relation message.)
        for (_, change) in &txn.changes {
            if let DecodedChange::Truncate { rels, .. } = change {
                for rel in rels {
                    self.sent_relations.remove(&rel.oid);
                }
            }
        }
        Ok(())
    }

    fn message(
        &mut self,
        msg: &DecodedMessage,
        catalog: &Catalog,
        out: &mut dyn FnMut(OutputRow) -> PgResult<()>,
    ) -> PgResult<()> {
        self.note_publications(catalog);
        if !self.messages {
            return Ok(());
        }
        let mut buf = Vec::new();
        write_message(&mut buf, false, msg.end_lsn, &msg.prefix, &msg.content);
        out(OutputRow {
            lsn: msg.end_lsn,
            xid: msg.xid,
            data: buf,
        })
    }
}

// ---- message encoding (proto.c) ----

/// Begin: `B`, final (commit record) LSN, commit time, xid.
pub fn write_begin(buf: &mut Vec<u8>, final_lsn: Lsn, commit_time: i64, xid: Xid) {
    buf.put_u8(b'B');
    buf.put_u64(final_lsn.0);
    buf.put_i64(commit_time);
    buf.put_u32(xid.0);
}

/// Commit: `C`, flags (0), commit LSN, end LSN, commit time.
pub fn write_commit(buf: &mut Vec<u8>, commit_lsn: Lsn, end_lsn: Lsn, commit_time: i64) {
    buf.put_u8(b'C');
    buf.put_u8(0);
    buf.put_u64(commit_lsn.0);
    buf.put_u64(end_lsn.0);
    buf.put_i64(commit_time);
}

/// Origin: `O`, the commit's LSN on the origin server, origin name.
pub fn write_origin(buf: &mut Vec<u8>, origin_lsn: Lsn, name: &str) {
    buf.put_u8(b'O');
    buf.put_u64(origin_lsn.0);
    buf.put_cstr(name);
}

/// `d`, `n`, `f` (`i` is USING INDEX, which tandem does not have).
pub fn replica_identity_char(ri: &ReplicaIdentity) -> u8 {
    match ri {
        ReplicaIdentity::Default => b'd',
        ReplicaIdentity::Nothing => b'n',
        ReplicaIdentity::Full => b'f',
        ReplicaIdentity::Index { .. } => b'i',
    }
}

/// PostgreSQL's `FirstGenbkiObjectId`: types below it are built in, and
/// pgoutput sends no Type message for them.
const FIRST_GENBKI_OBJECT_ID: u32 = 10_000;

/// Type: `Y`, oid, namespace, name, for a type that is not built in (an
/// enum type or its array); false (nothing written) for a builtin one.
pub fn write_type(buf: &mut Vec<u8>, ty: &DataType) -> bool {
    if ty.oid() < FIRST_GENBKI_OBJECT_ID {
        return false;
    }
    let (schema, name) = match ty {
        DataType::Enum(t) => (&t.schema, t.name.clone()),
        DataType::Array(e) => match &**e {
            DataType::Enum(t) => (&t.schema, format!("_{}", t.name)),
            _ => return false,
        },
        _ => return false,
    };
    buf.put_u8(b'Y');
    buf.put_u32(ty.oid());
    buf.put_cstr(schema);
    buf.put_cstr(&name);
    true
}

/// Relation: `R`, oid, namespace, name, replica identity, then the live
/// columns: flags (1 = part of the identity key), name, type oid, typmod.
pub fn write_relation(buf: &mut Vec<u8>, rel: &TableDef) {
    buf.put_u8(b'R');
    buf.put_u32(rel.oid.0);
    // PostgreSQL sends an empty namespace for pg_catalog.
    buf.put_cstr(if rel.schema == "pg_catalog" {
        ""
    } else {
        &rel.schema
    });
    buf.put_cstr(&rel.name);
    buf.put_u8(replica_identity_char(&rel.replica_identity));
    let live = rel.columns.iter().filter(|c| !c.dropped).count();
    buf.put_i16(live as i16);
    for (i, col) in rel.columns.iter().enumerate() {
        if col.dropped {
            continue;
        }
        let key = match rel.replica_identity {
            ReplicaIdentity::Full => true,
            ReplicaIdentity::Default => rel
                .primary_key
                .as_ref()
                .is_some_and(|pk| pk.columns.contains(&i)),
            ReplicaIdentity::Index { columns, .. } => i < 64 && columns & (1 << i) != 0,
            ReplicaIdentity::Nothing => false,
        };
        buf.put_u8(if key { COLUMN_IS_KEY } else { 0 });
        buf.put_cstr(&col.name);
        buf.put_u32(col.data_type.oid());
        buf.put_i32(col.data_type.typmod());
    }
}

/// TupleData: live column count, then per column `n` (NULL), `t` + int32
/// length + text, or `b` + int32 length + binary (`binary = true`).
pub fn write_tuple(buf: &mut Vec<u8>, rel: &TableDef, row: &[Value], binary: bool) {
    let live = rel.columns.iter().filter(|c| !c.dropped).count();
    buf.put_i16(live as i16);
    for (i, col) in rel.columns.iter().enumerate() {
        if col.dropped {
            continue;
        }
        let value = row.get(i).unwrap_or(&Value::Null);
        if value.is_null() {
            buf.put_u8(b'n');
            continue;
        }
        let mut data = Vec::new();
        if binary {
            buf.put_u8(b'b');
            tandem_expr::binary_out(value, &col.data_type, &mut data);
        } else {
            buf.put_u8(b't');
            let mut text = String::new();
            tandem_expr::text_out(value, &mut text);
            data = text.into_bytes();
        }
        buf.put_u32_prefixed(&data);
    }
}

/// Insert: `I`, relation oid, `N`, new tuple.
pub fn write_insert(buf: &mut Vec<u8>, rel: &TableDef, new: &[Value], binary: bool) {
    buf.put_u8(b'I');
    buf.put_u32(rel.oid.0);
    buf.put_u8(b'N');
    write_tuple(buf, rel, new, binary);
}

fn write_old(buf: &mut Vec<u8>, rel: &TableDef, old: &OldRow, binary: bool) {
    match old {
        OldRow::Key(values) => {
            buf.put_u8(b'K');
            write_tuple(buf, rel, values, binary);
        }
        OldRow::Full(values) => {
            buf.put_u8(b'O');
            write_tuple(buf, rel, values, binary);
        }
    }
}

/// Update: `U`, relation oid, optional `K` (old key) or `O` (old row) tuple,
/// `N`, new tuple.
pub fn write_update(
    buf: &mut Vec<u8>,
    rel: &TableDef,
    old: Option<&OldRow>,
    new: &[Value],
    binary: bool,
) {
    buf.put_u8(b'U');
    buf.put_u32(rel.oid.0);
    if let Some(old) = old {
        write_old(buf, rel, old, binary);
    }
    buf.put_u8(b'N');
    write_tuple(buf, rel, new, binary);
}

/// Delete: `D`, relation oid, `K` or `O` old tuple.
pub fn write_delete(buf: &mut Vec<u8>, rel: &TableDef, old: &OldRow, binary: bool) {
    buf.put_u8(b'D');
    buf.put_u32(rel.oid.0);
    write_old(buf, rel, old, binary);
}

/// Truncate: `T`, relation count, flags, relation oids.
pub fn write_truncate(buf: &mut Vec<u8>, rels: &[Oid], cascade: bool, restart_seqs: bool) {
    buf.put_u8(b'T');
    buf.put_u32(rels.len() as u32);
    let mut flags = 0;
    if cascade {
        flags |= TRUNCATE_CASCADE;
    }
    if restart_seqs {
        flags |= TRUNCATE_RESTART_SEQS;
    }
    buf.put_u8(flags);
    for oid in rels {
        buf.put_u32(oid.0);
    }
}

/// Message: `M`, flags (1 = transactional), LSN, prefix, content length,
/// content.
pub fn write_message(
    buf: &mut Vec<u8>,
    transactional: bool,
    lsn: Lsn,
    prefix: &str,
    content: &[u8],
) {
    buf.put_u8(b'M');
    buf.put_u8(if transactional {
        MESSAGE_TRANSACTIONAL
    } else {
        0
    });
    buf.put_u64(lsn.0);
    buf.put_cstr(prefix);
    buf.put_u32_prefixed(content);
}

#[cfg(test)]
mod tests;
