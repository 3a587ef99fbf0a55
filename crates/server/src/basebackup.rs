//! BASE_BACKUP, the client side ([`receive`], used by `tandem basebackup`):
//! writes what the walsender streams into a new data directory. The stream's
//! format is described in the walsender's `basebackup.rs`.
//! PostgreSQL counterpart: `bin/pg_basebackup`.

use std::io::Write;
use std::path::{Path, PathBuf};

use tandem_protocol::BackendMessage;
use tandem_types::{Lsn, PgError, PgResult, SqlState, TimeLineId};
use tandem_wal::{Wal, WalOptions};

use crate::replclient::ReplClient;
use crate::walsender::basebackup::io_error;

/// Client options of `tandem basebackup`.
#[derive(Clone, Debug, Default)]
pub struct BackupOptions {
    pub conninfo: String,
    pub dir: PathBuf,
    pub slot: Option<String>,
    pub create_slot: bool,
    pub write_recovery_conf: bool,
    pub progress: bool,
    pub fast: bool,
}

fn cerr(msg: impl Into<String>) -> PgError {
    PgError::new(SqlState("58030"), msg)
}

fn be_u64(b: &[u8]) -> PgResult<u64> {
    b.get(..8)
        .and_then(|s| <[u8; 8]>::try_from(s).ok())
        .map(u64::from_be_bytes)
        .ok_or_else(|| cerr("malformed base backup stream"))
}

fn write_file_durably(path: &Path, bytes: &[u8]) -> PgResult<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| io_error("create directory", parent, &e))?;
    }
    let mut f = std::fs::File::create(path).map_err(|e| io_error("create file", path, &e))?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .map_err(|e| io_error("write file", path, &e))
}

fn print_progress(done: u64, total: u64, last: bool) {
    let total_kb = total.div_ceil(1024).max(1);
    let done_kb = done.div_ceil(1024).min(total_kb);
    let pct = done_kb * 100 / total_kb;
    eprint!(
        "\r{done_kb}/{total_kb} kB ({pct}%), 1/1 tablespace{}",
        if last { "\n" } else { "" }
    );
}

enum Target {
    None,
    File { name: String, data: Vec<u8> },
    Wal { wal: std::sync::Arc<Wal>, pos: Lsn },
}

/// Client side: runs a base backup into `opts.dir` (created if missing; it must
/// be empty). Returns the end LSN.
pub fn receive(opts: &BackupOptions) -> PgResult<Lsn> {
    let dir = &opts.dir;
    if dir.exists() {
        let mut entries =
            std::fs::read_dir(dir).map_err(|e| io_error("access directory", dir, &e))?;
        if entries.next().is_some() {
            return Err(cerr(format!(
                "directory \"{}\" exists but is not empty",
                dir.display()
            )));
        }
    }
    std::fs::create_dir_all(dir).map_err(|e| io_error("create directory", dir, &e))?;
    let mut client = ReplClient::connect(&opts.conninfo)?;
    if let (true, Some(slot)) = (opts.create_slot, &opts.slot) {
        client.query(&format!(
            "CREATE_REPLICATION_SLOT \"{slot}\" PHYSICAL RESERVE_WAL"
        ))?;
    }
    client.set_read_timeout(None);
    client.send_query(&format!(
        "BASE_BACKUP ( LABEL 'tandem basebackup', PROGRESS, CHECKPOINT '{}' )",
        if opts.fast { "fast" } else { "spread" }
    ))?;
    let mut control: Option<Vec<u8>> = None;
    let mut segment_size = 0u64;
    let mut timeline = TimeLineId(1);
    let mut total = 0u64;
    let mut done = 0u64;
    let mut target = Target::None;
    let mut results: Vec<Lsn> = Vec::new();
    let mut error = None;
    let finish_file = |target: &mut Target,
                       control: &mut Option<Vec<u8>>|
     -> PgResult<Option<(u64, TimeLineId)>> {
        if let Target::File { name, data } = std::mem::replace(target, Target::None) {
            if name == "global/control" {
                let c = tandem_storage::control::decode(&data)?;
                *control = Some(data);
                return Ok(Some((c.wal_segment_size, c.timeline)));
            }
            if name.contains("..") || name.starts_with('/') {
                return Err(cerr(format!("invalid file name \"{name}\"")));
            }
            write_file_durably(&dir.join(&name), &data)?;
        }
        Ok(None)
    };
    loop {
        match client.read_message()? {
            BackendMessage::DataRow(cols) => {
                if let Some(Some(text)) = cols.first() {
                    if let Ok(l) = String::from_utf8_lossy(text).parse::<Lsn>() {
                        results.push(l);
                    }
                }
            }
            BackendMessage::CopyData(payload) => {
                let Some((&kind, body)) = payload.split_first() else {
                    continue;
                };
                match kind {
                    b't' => total = be_u64(body)?,
                    b'f' => {
                        if let Some((s, t)) = finish_file(&mut target, &mut control)? {
                            segment_size = s;
                            timeline = t;
                        }
                        let nul = body
                            .iter()
                            .position(|&b| b == 0)
                            .ok_or_else(|| cerr("malformed base backup stream"))?;
                        let name = String::from_utf8_lossy(&body[..nul]).into_owned();
                        let size = be_u64(&body[nul + 1..])?;
                        target = Target::File {
                            name,
                            data: Vec::with_capacity(size as usize),
                        };
                    }
                    b'w' => {
                        if let Some((s, t)) = finish_file(&mut target, &mut control)? {
                            segment_size = s;
                            timeline = t;
                        }
                        let start = Lsn(be_u64(body)?);
                        if segment_size == 0 {
                            return Err(cerr("base backup sent WAL before the control file"));
                        }
                        let wal = Wal::create(
                            WalOptions {
                                dir: dir.join("pg_wal"),
                                timeline,
                                segment_size,
                                fsync: true,
                            },
                            start,
                        )?;
                        target = Target::Wal { wal, pos: start };
                    }
                    b'd' => {
                        match &mut target {
                            Target::File { data, .. } => data.extend_from_slice(body),
                            Target::Wal { wal, pos } => {
                                *pos = wal.append_raw(*pos, body)?;
                            }
                            Target::None => return Err(cerr("malformed base backup stream")),
                        }
                        done += body.len() as u64;
                        if opts.progress {
                            print_progress(done, total, false);
                        }
                    }
                    _ => return Err(cerr("malformed base backup stream")),
                }
            }
            BackendMessage::CopyDone => {
                if let Some((s, t)) = finish_file(&mut target, &mut control)? {
                    segment_size = s;
                    timeline = t;
                }
                if let Target::Wal { wal, pos } = &target {
                    wal.flush(*pos)?;
                }
                target = Target::None;
            }
            BackendMessage::ErrorResponse(e) => error = Some(e.to_pg_error()),
            BackendMessage::ReadyForQuery(_) => break,
            _ => {}
        }
    }
    let _ = segment_size;
    client.close();
    if let Some(e) = error {
        return Err(e);
    }
    if opts.progress {
        print_progress(total, total, true);
    }
    let end = results.last().copied().unwrap_or(Lsn::INVALID);
    for sub in ["global", "base", "pg_wal"] {
        std::fs::create_dir_all(dir.join(sub))
            .map_err(|e| io_error("create directory", &dir.join(sub), &e))?;
    }
    if opts.write_recovery_conf {
        write_file_durably(&dir.join("standby.signal"), b"")?;
        let auto = dir.join("postgresql.auto.conf");
        let mut text = std::fs::read_to_string(&auto).unwrap_or_default();
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        let conninfo = opts.conninfo.replace('\'', "''");
        text.push_str(&format!("primary_conninfo = '{conninfo}'\n"));
        if let Some(slot) = &opts.slot {
            text.push_str(&format!("primary_slot_name = '{slot}'\n"));
        }
        write_file_durably(&auto, text.as_bytes())?;
    }
    let control = control.ok_or_else(|| cerr("base backup did not include global/control"))?;
    // last: its presence marks the backup as complete
    write_file_durably(&dir.join("global/control"), &control)?;
    if let Ok(d) = std::fs::File::open(dir.join("global")) {
        let _ = d.sync_all();
    }
    Ok(end)
}
