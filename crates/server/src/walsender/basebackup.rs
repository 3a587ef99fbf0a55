//! BASE_BACKUP, the walsender side ([`send`]): takes a fresh checkpoint and
//! streams the files a node needs to start from it. The client side, which
//! writes them into a directory, is `tandem basebackup`'s.
//! PostgreSQL counterpart: `replication/basebackup.c`.
//!
//! The payload is tandem's own format (PostgreSQL sends tar archives). Result
//! shapes around it are PostgreSQL's: a first result set `recptr text, tli int8`
//! with the start position, then a CopyOutResponse whose CopyData payloads are
//!
//! | first byte | body | meaning |
//! |---|---|---|
//! | `t` | total u64 | bytes that follow in `d` messages (for progress) |
//! | `f` | path cstring, size u64 | a file; its bytes follow in `d` messages |
//! | `s` | applied LSN u64 | the table store's rows follow in `d` messages, as whole entries `table u32, key length u32, key, chain length u32, chain` (in table then key order) |
//! | `w` | start u64, end u64 | WAL bytes `[start, end)` follow in `d` messages |
//! | `d` | bytes | contents of the current file / WAL range |
//!
//! (integers big-endian), CopyDone, and a second result set with the end position.
//!
//! Files sent: `base/checkpoint` (the image of the backup's own checkpoint:
//! catalog, sequences, origins; no rows),
//! `postgresql.conf`, `pg_hba.conf`, `postgresql.auto.conf`, `pg_ident.conf`
//! when present, the TLS certificate and key files kept in the data directory,
//! the timeline history files (`pg_wal/*.history`), and `global/control` last.
//! Then the table store, streamed from a consistent view of it taken after
//! the checkpoint (it holds at least the checkpoint's commits; the rows are
//! never gathered in memory). WAL runs from the image's redo LSN to the flush
//! LSN after the view was taken, so it covers every commit the view holds;
//! the node made from the backup replays it and skips what its store holds.
//! The total announced by `t` counts the store by its size on disk, an
//! estimate (PostgreSQL's is one too). The client writes `global/control`
//! only after everything else is durable, so an interrupted backup leaves a
//! directory without a control file, which refuses to start.

use std::path::Path;

use tandem_replication::command::Options;
use tandem_sql::{FieldDescription, QuerySink};
use tandem_storage::store::StoreSnapshot;
use tandem_types::{DataType, Lsn, PgError, PgResult, SqlState, TimeLineId, Value};

use crate::backend::printtup::SocketSink;
use crate::shared::Shared;

const CHUNK: usize = 256 * 1024;
const CONFIG_FILES: &[&str] = &[
    "postgresql.conf",
    "pg_hba.conf",
    "postgresql.auto.conf",
    "pg_ident.conf",
];

/// The TLS files named by the `ssl_*_file` settings that live in the data
/// directory (relative names, as the defaults `server.crt` and `server.key`):
/// PostgreSQL's base backup copies the whole directory, so a standby made from
/// it starts with the primary's certificate; files elsewhere are not copied,
/// as PostgreSQL's are not.
fn tls_files(shared: &Shared) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for setting in [
        "ssl_cert_file",
        "ssl_key_file",
        "ssl_ca_file",
        "ssl_crl_file",
    ] {
        let name = shared.config.get_str(setting);
        let path = Path::new(&name);
        let inside = !name.is_empty()
            && path
                .components()
                .all(|c| matches!(c, std::path::Component::Normal(_)));
        if inside
            && !names.contains(&name)
            && !CONFIG_FILES.contains(&name.as_str())
            && shared.datadir.join(path).is_file()
        {
            names.push(name);
        }
    }
    names
}

pub(crate) fn io_error(what: &str, path: &Path, e: &std::io::Error) -> PgError {
    PgError::new(
        SqlState("58030"),
        format!("could not {what} \"{}\": {e}", path.display()),
    )
}

fn lsn_row(sink: &mut SocketSink<'_>, lsn: Lsn, tli: TimeLineId) -> PgResult<()> {
    sink.row_description(&[
        FieldDescription::computed("recptr", DataType::Text),
        FieldDescription::computed("tli", DataType::Int8),
    ])?;
    sink.data_row(
        &[Value::Text(lsn.to_string()), Value::Int8(tli.0 as i64)],
        &[DataType::Text, DataType::Int8],
        &[],
    )?;
    sink.command_complete("SELECT")
}

/// The table store's rows: `s` with the view's `applied_lsn`, then `d`
/// messages of whole entries (`table u32, key length u32, key, chain length
/// u32, chain`), read from the view as they are sent.
fn send_store(sink: &mut SocketSink<'_>, store: &StoreSnapshot) -> PgResult<()> {
    let mut msg = vec![b's'];
    msg.extend_from_slice(&store.applied_lsn().0.to_be_bytes());
    sink.copy_out_data(&msg)?;
    let mut m = Vec::with_capacity(CHUNK + 1024);
    m.push(b'd');
    for entry in store.entries() {
        let e = entry?;
        m.extend_from_slice(&e.table.0.to_be_bytes());
        m.extend_from_slice(&(e.key.0.len() as u32).to_be_bytes());
        m.extend_from_slice(&e.key.0);
        m.extend_from_slice(&(e.chain.len() as u32).to_be_bytes());
        m.extend_from_slice(&e.chain);
        if m.len() >= CHUNK {
            sink.copy_out_data(&m)?;
            m.truncate(1);
        }
    }
    if m.len() > 1 {
        sink.copy_out_data(&m)?;
    }
    Ok(())
}

/// Walsender side of BASE_BACKUP.
pub(crate) fn send(shared: &Shared, sink: &mut SocketSink<'_>, options: &Options) -> PgResult<()> {
    let mut fast = false;
    for (name, value) in options {
        if name == "checkpoint" {
            match value.as_text().unwrap_or("").to_ascii_lowercase().as_str() {
                "fast" => fast = true,
                "spread" => fast = false,
                other => {
                    return Err(PgError::new(
                        SqlState::SYNTAX_ERROR,
                        format!("unrecognized checkpoint type: \"{other}\""),
                    ))
                }
            }
        } else if name == "fast" {
            fast = true;
        }
    }
    let db = &shared.db;
    if db.in_recovery() {
        return Err(PgError::new(
            SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE,
            "base backups from a standby are not supported",
        ));
    }
    // the image (no rows) and a view of the table store taken after it
    let (_, point) = db.checkpoint_for_backup(if fast {
        "immediate force wait"
    } else {
        "force wait"
    })?;
    let datadir = &shared.datadir;
    let start = point.redo;
    let store_estimate = db.table_store().and_then(|s| s.disk_space()).unwrap_or(0);
    let control_path = datadir.join("global/control");
    let control =
        std::fs::read(&control_path).map_err(|e| io_error("read file", &control_path, &e))?;
    let mut files: Vec<(String, Vec<u8>)> = vec![("base/checkpoint".into(), point.image)];
    for name in CONFIG_FILES {
        let p = datadir.join(name);
        if let Ok(bytes) = std::fs::read(&p) {
            files.push(((*name).to_string(), bytes));
        }
    }
    for name in tls_files(shared) {
        let p = datadir.join(&name);
        let bytes = std::fs::read(&p).map_err(|e| io_error("read file", &p, &e))?;
        files.push((name, bytes));
    }
    // the timeline history files (PostgreSQL's base backup sends them too):
    // a node made from this backup knows every ancestor of its timeline, and
    // a timeline it creates by promotion lists them all
    let wal = db.wal();
    for tli in 2..=wal.timeline().0 {
        let name = format!("pg_wal/{}", tandem_wal::history_file_name(TimeLineId(tli)));
        let p = datadir.join(&name);
        match std::fs::read(&p) {
            Ok(bytes) => files.push((name, bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_error("read file", &p, &e)),
        }
    }
    files.push(("global/control".into(), control));
    wal.flush(wal.insert_lsn())?;
    let end = wal.flush_lsn();
    let tli = wal.timeline();
    lsn_row(sink, start, tli)?;
    sink.copy_out_response(0)?;
    let total: u64 =
        files.iter().map(|(_, b)| b.len() as u64).sum::<u64>() + store_estimate + (end.0 - start.0);
    let mut msg = vec![b't'];
    msg.extend_from_slice(&total.to_be_bytes());
    sink.copy_out_data(&msg)?;
    for (name, bytes) in &files {
        let mut msg = vec![b'f'];
        msg.extend_from_slice(name.as_bytes());
        msg.push(0);
        msg.extend_from_slice(&(bytes.len() as u64).to_be_bytes());
        sink.copy_out_data(&msg)?;
        for chunk in bytes.chunks(CHUNK) {
            let mut m = Vec::with_capacity(chunk.len() + 1);
            m.push(b'd');
            m.extend_from_slice(chunk);
            sink.copy_out_data(&m)?;
        }
    }
    send_store(sink, &point.store)?;
    let mut msg = vec![b'w'];
    msg.extend_from_slice(&start.0.to_be_bytes());
    msg.extend_from_slice(&end.0.to_be_bytes());
    sink.copy_out_data(&msg)?;
    let mut pos = start;
    while pos < end {
        let bytes = wal.read_raw(pos, CHUNK.min((end.0 - pos.0) as usize))?;
        if bytes.is_empty() {
            break;
        }
        pos = pos.advance(bytes.len() as u64);
        let mut m = Vec::with_capacity(bytes.len() + 1);
        m.push(b'd');
        m.extend_from_slice(&bytes);
        sink.copy_out_data(&m)?;
    }
    sink.copy_out_done()?;
    lsn_row(sink, end, tli)?;
    sink.command_complete("BASE_BACKUP")
}
