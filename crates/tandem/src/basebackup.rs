//! `tandem basebackup`: PostgreSQL's `pg_basebackup` for tandem. Connects with a
//! replication connection, optionally creates the slot (`-C`), runs BASE_BACKUP
//! (the protocol and the stream decoder are `tandem_client::basebackup`'s) and
//! writes what arrives into the new data directory: files fsynced as they
//! complete, the table store's rows into `base/store` by ingestion as they
//! stream in (`TableStore::restore`; nothing gathered in memory), WAL through `Wal::create` + `Wal::append_raw` (so `pg_wal` is
//! byte-identical to the primary's from the start LSN), and `global/control`
//! last, so an interrupted backup leaves a directory that refuses to start.
//! `-R` writes `standby.signal` and `primary_conninfo` / `primary_slot_name`
//! into `postgresql.auto.conf`; `-P` prints progress as
//! `N/M kB (P%), 1/1 tablespace`.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Args;
use tandem_client::basebackup::{self, BackupEvent, BackupRequest};
use tandem_storage::store::{StoreOptions, StoreRestore, TableStore};
use tandem_types::{Lsn, Oid, PgError, PgResult, SqlState, TimeLineId};
use tandem_wal::{Wal, WalOptions};

#[derive(Args)]
pub struct BasebackupArgs {
    /// Connection string of the primary.
    #[arg(short = 'd', long = "dbname")]
    conninfo: String,
    /// Directory to write the backup into (must be missing or empty).
    #[arg(short = 'D', long = "pgdata")]
    dir: PathBuf,
    /// Replication slot to use (with -R: primary_slot_name).
    #[arg(short = 'S', long = "slot")]
    slot: Option<String>,
    /// Create the replication slot named by -S.
    #[arg(short = 'C', long = "create-slot")]
    create_slot: bool,
    /// Write configuration for replication (standby.signal, primary_conninfo).
    #[arg(short = 'R', long = "write-recovery-conf")]
    write_recovery_conf: bool,
    /// Show progress information.
    #[arg(short = 'P', long = "progress")]
    progress: bool,
    /// Checkpoint mode: fast or spread.
    #[arg(short = 'c', long = "checkpoint", default_value = "spread")]
    checkpoint: String,
}

pub fn run(args: BasebackupArgs) -> anyhow::Result<()> {
    if args.create_slot && args.slot.is_none() {
        anyhow::bail!("--create-slot needs a slot to be specified using --slot");
    }
    let fast = match args.checkpoint.as_str() {
        "fast" => true,
        "spread" => false,
        other => {
            anyhow::bail!("invalid checkpoint argument \"{other}\", must be \"fast\" or \"spread\"")
        }
    };
    let opts = Options {
        conninfo: args.conninfo,
        dir: args.dir,
        slot: args.slot,
        create_slot: args.create_slot,
        write_recovery_conf: args.write_recovery_conf,
        progress: args.progress,
        fast,
    };
    receive(&opts).map_err(|e| anyhow::anyhow!("{}", e.message))?;
    Ok(())
}

/// What `run` checked and passes on.
struct Options {
    conninfo: String,
    dir: PathBuf,
    slot: Option<String>,
    create_slot: bool,
    write_recovery_conf: bool,
    progress: bool,
    fast: bool,
}

fn cerr(msg: impl Into<String>) -> PgError {
    PgError::new(SqlState::IO_ERROR, msg)
}

/// `could not <what> "<path>": <os error>`
fn io_error(what: &str, path: &Path, e: &std::io::Error) -> PgError {
    PgError::io(format_args!("{what} \"{}\"", path.display()), e)
}

fn write_file_durably(path: &Path, bytes: &[u8]) -> PgResult<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| io_error("create directory", parent, &e))?;
    }
    // data directory files are private to the server's user (0600), as
    // PostgreSQL's; the TLS key file must be
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| io_error("create file", path, &e))?;
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

/// The target directory must be missing or empty; it is created.
fn prepare_dir(dir: &Path) -> PgResult<()> {
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
    std::fs::create_dir_all(dir).map_err(|e| io_error("create directory", dir, &e))
}

/// Runs the backup into `opts.dir`. Returns the end LSN.
fn receive(opts: &Options) -> PgResult<Lsn> {
    let dir = opts.dir.as_path();
    prepare_dir(dir)?;
    let request = BackupRequest {
        label: "tandem basebackup".into(),
        slot: opts.slot.clone(),
        create_slot: opts.create_slot,
        fast: opts.fast,
    };
    let mut stream = basebackup::start(&opts.conninfo, &request)?;
    let store_dir = tandem_storage::recovery::store_path(dir);
    let store = TableStore::open(
        &store_dir,
        StoreOptions {
            cache_bytes: 8 << 20,
            memtable_bytes: 8 << 20,
        },
    )?;
    let mut writer = Writer::new(dir, &store);
    let (mut total, mut done) = (0u64, 0u64);
    while let Some(event) = stream.next_event()? {
        match event {
            BackupEvent::Total(n) => total = n,
            BackupEvent::Data(bytes) => {
                writer.data(bytes)?;
                done += bytes.len() as u64;
                if opts.progress {
                    print_progress(done, total, false);
                }
            }
            BackupEvent::File { name, size } => writer.start_file(name, size)?,
            BackupEvent::Store { applied_lsn } => writer.start_store(applied_lsn)?,
            BackupEvent::Wal { start, .. } => writer.start_wal(start)?,
            BackupEvent::CopyDone => writer.copy_done()?,
        }
    }
    if opts.progress {
        print_progress(total, total, true);
    }
    for sub in ["global", "base", "pg_wal"] {
        std::fs::create_dir_all(dir.join(sub))
            .map_err(|e| io_error("create directory", &dir.join(sub), &e))?;
    }
    if opts.write_recovery_conf {
        write_recovery_config(dir, &opts.conninfo, opts.slot.as_deref())?;
    }
    writer.write_control()?;
    Ok(stream.end_lsn())
}

/// `-R`: an empty `standby.signal`, and `primary_conninfo` (the `-d` string)
/// and `primary_slot_name` appended to `postgresql.auto.conf`.
fn write_recovery_config(dir: &Path, conninfo: &str, slot: Option<&str>) -> PgResult<()> {
    write_file_durably(&dir.join("standby.signal"), b"")?;
    let auto = dir.join("postgresql.auto.conf");
    let mut text = std::fs::read_to_string(&auto).unwrap_or_default();
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    let conninfo = conninfo.replace('\'', "''");
    text.push_str(&format!("primary_conninfo = '{conninfo}'\n"));
    if let Some(slot) = slot {
        text.push_str(&format!("primary_slot_name = '{slot}'\n"));
    }
    write_file_durably(&auto, text.as_bytes())
}

/// Where the current `d` bytes go.
enum Target<'a> {
    None,
    File {
        name: String,
        data: Vec<u8>,
    },
    /// Table store entries; `partial` holds the start of an entry whose end
    /// is in a later message.
    Store {
        restore: StoreRestore<'a>,
        applied_lsn: Lsn,
        partial: Vec<u8>,
    },
    Wal {
        wal: Arc<Wal>,
        pos: Lsn,
    },
}

/// A table store entry as streamed: table, row key bytes, encoded chain.
type StoreEntry<'a> = (Oid, &'a [u8], &'a [u8]);

/// Reads one store entry (`table u32, key length u32, key, chain length u32,
/// chain`, big-endian) from the front of `buf`: the entry and its length, or
/// `None` when `buf` ends inside it.
fn store_entry(buf: &[u8]) -> Option<(StoreEntry<'_>, usize)> {
    let u32_at = |at: usize| -> Option<usize> {
        let b: [u8; 4] = buf.get(at..at + 4)?.try_into().ok()?;
        Some(u32::from_be_bytes(b) as usize)
    };
    let table = Oid(u32_at(0)? as u32);
    let key_len = u32_at(4)?;
    let key = buf.get(8..8 + key_len)?;
    let chain_len = u32_at(8 + key_len)?;
    let start = 12 + key_len;
    let chain = buf.get(start..start + chain_len)?;
    Some(((table, key, chain), start + chain_len))
}

/// Writes the archive's files and WAL into the directory. `global/control`
/// is kept in memory until [`Writer::write_control`]; its segment size and
/// timeline shape the WAL that follows it.
struct Writer<'a> {
    dir: &'a Path,
    /// The new data directory's table store (empty until the store arrives).
    store: &'a TableStore,
    target: Target<'a>,
    control: Option<Vec<u8>>,
    /// segment size and timeline, from the control file
    wal_shape: Option<(u64, TimeLineId)>,
}

/// A file's announced size reserves at most this much up front.
const MAX_RESERVE: u64 = 64 << 20;

impl<'a> Writer<'a> {
    fn new(dir: &'a Path, store: &'a TableStore) -> Self {
        Writer {
            dir,
            store,
            target: Target::None,
            control: None,
            wal_shape: None,
        }
    }

    /// Completes the current file or table store (WAL ranges are completed
    /// by `copy_done`).
    fn finish_file(&mut self) -> PgResult<()> {
        let (name, data) = match std::mem::replace(&mut self.target, Target::None) {
            Target::File { name, data } => (name, data),
            Target::Store {
                restore,
                applied_lsn,
                partial,
            } => {
                if !partial.is_empty() {
                    return Err(cerr("malformed base backup stream"));
                }
                restore.finish(applied_lsn)?;
                return Ok(());
            }
            other => {
                self.target = other;
                return Ok(());
            }
        };
        if name == "global/control" {
            let c = tandem_storage::control::decode(&data)?;
            self.wal_shape = Some((c.wal_segment_size, c.timeline));
            self.control = Some(data);
            return Ok(());
        }
        write_file_durably(&self.dir.join(&name), &data)
    }

    fn start_file(&mut self, name: String, size: u64) -> PgResult<()> {
        self.finish_file()?;
        // a file name from the server stays inside the new data directory
        if !Path::new(&name)
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)))
        {
            return Err(cerr(format!("invalid file name \"{name}\" in base backup")));
        }
        let data = Vec::with_capacity(size.min(MAX_RESERVE) as usize);
        self.target = Target::File { name, data };
        Ok(())
    }

    fn start_store(&mut self, applied_lsn: Lsn) -> PgResult<()> {
        self.finish_file()?;
        self.target = Target::Store {
            restore: self.store.restore()?,
            applied_lsn,
            partial: Vec::new(),
        };
        Ok(())
    }

    fn start_wal(&mut self, start: Lsn) -> PgResult<()> {
        self.finish_file()?;
        let Some((segment_size, timeline)) = self.wal_shape.filter(|&(s, _)| s != 0) else {
            return Err(cerr("base backup sent WAL before the control file"));
        };
        let wal = Wal::create(
            WalOptions {
                dir: self.dir.join("pg_wal"),
                timeline,
                segment_size,
                fsync: true,
            },
            start,
        )?;
        self.target = Target::Wal { wal, pos: start };
        Ok(())
    }

    fn data(&mut self, bytes: &[u8]) -> PgResult<()> {
        match &mut self.target {
            Target::File { data, .. } => data.extend_from_slice(bytes),
            Target::Wal { wal, pos } => *pos = wal.append_raw(*pos, bytes)?,
            Target::Store {
                restore, partial, ..
            } => {
                // entries usually come whole in one message: parse them in
                // place, keeping only a split entry's start
                let joined;
                let buf = if partial.is_empty() {
                    bytes
                } else {
                    partial.extend_from_slice(bytes);
                    joined = std::mem::take(partial);
                    joined.as_slice()
                };
                let mut at = 0;
                while let Some(((table, key, chain), len)) = store_entry(&buf[at..]) {
                    restore.push(table, key, chain)?;
                    at += len;
                }
                *partial = buf[at..].to_vec();
            }
            Target::None => return Err(cerr("malformed base backup stream")),
        }
        Ok(())
    }

    fn copy_done(&mut self) -> PgResult<()> {
        self.finish_file()?;
        if let Target::Wal { wal, pos } = &self.target {
            wal.flush(*pos)?;
        }
        self.target = Target::None;
        Ok(())
    }

    /// Last: the control file's presence marks the backup as complete.
    fn write_control(self) -> PgResult<()> {
        let control = self
            .control
            .ok_or_else(|| cerr("base backup did not include global/control"))?;
        write_file_durably(&self.dir.join("global/control"), &control)?;
        if let Ok(d) = std::fs::File::open(self.dir.join("global")) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tandem_storage::control::{self, ControlFile, DbState};
    use tandem_types::{Oid, Xid};

    fn control_bytes() -> Vec<u8> {
        control::encode(&ControlFile {
            system_identifier: 1,
            state: DbState::InProduction,
            timeline: TimeLineId(1),
            checkpoint_lsn: Lsn(0x100),
            redo_lsn: Lsn(0x100),
            checkpoint_time: 0,
            next_xid: Xid(3),
            next_oid: Oid(16384),
            wal_segment_size: 16 << 20,
            next_rowid: 1,
        })
    }

    fn test_store(dir: &Path) -> TableStore {
        TableStore::open(
            &tandem_storage::recovery::store_path(dir),
            StoreOptions {
                cache_bytes: 1 << 20,
                memtable_bytes: 1 << 20,
            },
        )
        .unwrap()
    }

    /// Table store entries split anywhere across messages are put together.
    #[test]
    fn store_entries_arrive_in_pieces() {
        use tandem_storage::store::StoreBatch;
        use tandem_types::Value;
        let src_dir = tempfile::tempdir().unwrap();
        let src = test_store(src_dir.path());
        let mut b = StoreBatch::new(Lsn(0x500), Lsn(0));
        let key = |i: i32| tandem_storage::keycode::encode_key(&[Value::Int4(i)]);
        for i in 0..300 {
            let row: tandem_storage::heap::Row =
                vec![Value::Int4(i), Value::Text("x".repeat(i as usize))].into();
            b.put(Oid(16384 + (i % 3) as u32), key(i), row, Lsn(0x400));
        }
        src.apply(&b).unwrap();
        let snap = src.snapshot().unwrap();
        let mut wire = Vec::new();
        for e in snap.entries() {
            let e = e.unwrap();
            wire.extend_from_slice(&e.table.0.to_be_bytes());
            wire.extend_from_slice(&(e.key.0.len() as u32).to_be_bytes());
            wire.extend_from_slice(&e.key.0);
            wire.extend_from_slice(&(e.chain.len() as u32).to_be_bytes());
            wire.extend_from_slice(&e.chain);
        }
        let tmp = tempfile::tempdir().unwrap();
        let store = test_store(tmp.path());
        let mut w = Writer::new(tmp.path(), &store);
        w.start_store(snap.applied_lsn()).unwrap();
        for piece in wire.chunks(7) {
            w.data(piece).unwrap();
        }
        w.copy_done().unwrap();
        assert_eq!(store.applied_lsn(), Lsn(0x500));
        for i in 0..300 {
            let t = Oid(16384 + (i % 3) as u32);
            assert_eq!(
                store.get(t, &key(i), Lsn(0x500)).unwrap(),
                src.get(t, &key(i), Lsn(0x500)).unwrap(),
                "row {i}"
            );
        }
        // a stream that ends inside an entry is refused
        let tmp = tempfile::tempdir().unwrap();
        let store = test_store(tmp.path());
        let mut w = Writer::new(tmp.path(), &store);
        w.start_store(Lsn(0x500)).unwrap();
        w.data(&wire[..wire.len() - 1]).unwrap();
        assert_eq!(
            w.copy_done().unwrap_err().message,
            "malformed base backup stream"
        );
    }

    #[test]
    fn files_are_written_and_the_control_file_last() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let store = test_store(dir);
        let mut w = Writer::new(dir, &store);
        assert_eq!(
            w.data(b"x").unwrap_err().message,
            "malformed base backup stream"
        );
        w.start_file("postgresql.conf".into(), 3).unwrap();
        w.data(b"a=").unwrap();
        w.data(b"1").unwrap();
        let control = control_bytes();
        w.start_file("global/control".into(), control.len() as u64)
            .unwrap();
        w.data(&control).unwrap();
        w.copy_done().unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.join("postgresql.conf")).unwrap(),
            "a=1"
        );
        assert!(!dir.join("global/control").exists());
        w.write_control().unwrap();
        assert_eq!(std::fs::read(dir.join("global/control")).unwrap(), control);
    }

    #[test]
    fn wal_needs_the_control_file_first() {
        let tmp = tempfile::tempdir().unwrap();
        let store = test_store(tmp.path());
        let mut w = Writer::new(tmp.path(), &store);
        assert_eq!(
            w.start_wal(Lsn(0x100)).unwrap_err().message,
            "base backup sent WAL before the control file"
        );
        let w = Writer::new(tmp.path(), &store);
        assert_eq!(
            w.write_control().unwrap_err().message,
            "base backup did not include global/control"
        );
    }

    #[test]
    fn recovery_config_appends_to_auto_conf() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        std::fs::write(dir.join("postgresql.auto.conf"), "work_mem = '4MB'").unwrap();
        write_recovery_config(dir, "host=h password='it''s'", Some("s1")).unwrap();
        assert!(dir.join("standby.signal").exists());
        assert_eq!(
            std::fs::read_to_string(dir.join("postgresql.auto.conf")).unwrap(),
            "work_mem = '4MB'\nprimary_conninfo = 'host=h password=''it''''s'''\nprimary_slot_name = 's1'\n"
        );
    }

    #[test]
    fn a_non_empty_directory_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("f"), "").unwrap();
        assert_eq!(
            prepare_dir(tmp.path()).unwrap_err().message,
            format!(
                "directory \"{}\" exists but is not empty",
                tmp.path().display()
            )
        );
        prepare_dir(&tmp.path().join("new")).unwrap();
    }
}
