//! A transaction's WAL records waiting for its commit in a temporary file,
//! under `base/pgsql_tmp` as PostgreSQL keeps its temporary files: the INSERT
//! records of the bulk-load runs that moved to the table store (`txn.rs`,
//! `Transaction::spill`). Written as the runs move, read back once, in order,
//! by the commit, removed with the transaction; startup empties the directory
//! ([`remove_temp_files`]) of what a crash left.
//!
//! Layout, one record after another: kind u8, xid u32 LE, payload length
//! u32 LE, payload.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use tandem_types::{Oid, PgError, PgResult, Xid};
use tandem_wal::Record;

/// The inserts into one table a list of changes ends with, counted as they
/// come: a transaction's `ops` (`Transaction::count_insert`) and a replayed
/// transaction's changes (`recovery.rs`) move such a run to the table store
/// once it holds [`Database::bulk_spill_bytes`](crate::Database) of changes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct InsertRun {
    pub table: Oid,
    /// The run is changes `start..end`.
    pub start: usize,
    pub end: usize,
    /// The memory its changes hold.
    pub bytes: usize,
}

impl InsertRun {
    /// `run` after change `at` of `bytes`, an insert into `table` (`None`:
    /// any other change, which ends the run): extended when it follows the
    /// run's last change into the same table, else a run of its own.
    pub(crate) fn next(
        run: Option<InsertRun>,
        at: usize,
        table: Option<Oid>,
        bytes: usize,
    ) -> Option<InsertRun> {
        let table = table?;
        Some(match run {
            Some(r) if r.table == table && r.end == at => InsertRun {
                end: at + 1,
                bytes: r.bytes + bytes,
                ..r
            },
            _ => InsertRun {
                table,
                start: at,
                end: at + 1,
                bytes,
            },
        })
    }
}

/// The temporary files' directory in a data directory.
pub fn temp_dir(datadir: &Path) -> PathBuf {
    datadir.join("base").join("pgsql_tmp")
}

/// Removes what a crash left in the temporary files' directory (at startup:
/// no transaction is running).
pub fn remove_temp_files(datadir: &Path) -> PgResult<()> {
    let dir = temp_dir(datadir);
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(PgError::io(
                format_args!("open directory \"{}\"", dir.display()),
                &e,
            ))
        }
    };
    for entry in entries.flatten() {
        let path = entry.path();
        std::fs::remove_file(&path)
            .map_err(|e| PgError::io(format_args!("remove file \"{}\"", path.display()), &e))?;
    }
    Ok(())
}

static NEXT_FILE: AtomicU64 = AtomicU64::new(0);

/// A transaction's temporary file of records.
pub(crate) struct SpillFile {
    path: PathBuf,
    out: BufWriter<File>,
    /// Bytes appended so far.
    len: u64,
}

fn io_error(what: &str, path: &Path, e: &std::io::Error) -> PgError {
    PgError::io(
        format_args!("{what} temporary file \"{}\"", path.display()),
        e,
    )
}

impl SpillFile {
    pub(crate) fn create(datadir: &Path) -> PgResult<SpillFile> {
        let dir = temp_dir(datadir);
        std::fs::create_dir_all(&dir)
            .map_err(|e| PgError::io(format_args!("create directory \"{}\"", dir.display()), &e))?;
        let n = NEXT_FILE.fetch_add(1, Ordering::Relaxed);
        let path = dir.join(format!("pgsql_tmp{}.{n}", std::process::id()));
        let file = File::create(&path).map_err(|e| io_error("create", &path, &e))?;
        Ok(SpillFile {
            path,
            out: BufWriter::with_capacity(256 << 10, file),
            len: 0,
        })
    }

    /// Appends a record, given by its parts.
    pub(crate) fn append_parts(&mut self, kind: u8, xid: Xid, payload: &[u8]) -> PgResult<()> {
        let len = u32::try_from(payload.len())
            .map_err(|_| PgError::internal("WAL record too large for a temporary file"))?;
        let mut head = [0u8; 9];
        head[0] = kind;
        head[1..5].copy_from_slice(&xid.0.to_le_bytes());
        head[5..9].copy_from_slice(&len.to_le_bytes());
        self.len += (head.len() + payload.len()) as u64;
        self.out
            .write_all(&head)
            .and_then(|_| self.out.write_all(payload))
            .map_err(|e| io_error("write to", &self.path, &e))
    }

    /// Bytes appended so far (about the WAL the records will take).
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// A reader from the start (what was appended so far).
    pub(crate) fn reader(&mut self) -> PgResult<SpillReader> {
        self.out
            .flush()
            .map_err(|e| io_error("write to", &self.path, &e))?;
        let file = File::open(&self.path).map_err(|e| io_error("open", &self.path, &e))?;
        Ok(SpillReader {
            path: self.path.clone(),
            input: BufReader::with_capacity(256 << 10, file),
        })
    }
}

impl Drop for SpillFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Reads a [`SpillFile`]'s records back in order.
pub(crate) struct SpillReader {
    path: PathBuf,
    input: BufReader<File>,
}

impl SpillReader {
    /// The next record.
    #[cfg(test)]
    pub(crate) fn next(&mut self) -> PgResult<Record> {
        let mut rec = Record {
            kind: 0,
            xid: Xid(0),
            payload: Vec::new(),
        };
        self.next_into(&mut rec)?;
        Ok(rec)
    }

    /// The next record, into `rec` (its payload's buffer reused).
    pub(crate) fn next_into(&mut self, rec: &mut Record) -> PgResult<()> {
        let err = |e: std::io::Error| io_error("read", &self.path, &e);
        let mut head = [0u8; 9];
        self.input.read_exact(&mut head).map_err(err)?;
        let xid = u32::from_le_bytes([head[1], head[2], head[3], head[4]]);
        let len = u32::from_le_bytes([head[5], head[6], head[7], head[8]]) as usize;
        rec.kind = head[0];
        rec.xid = Xid(xid);
        rec.payload.clear();
        rec.payload.resize(len, 0);
        self.input.read_exact(&mut rec.payload).map_err(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_come_back_in_order_and_the_file_goes_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut f = SpillFile::create(dir.path()).unwrap();
        let recs: Vec<Record> = (0..1000u32)
            .map(|i| Record {
                kind: 16 + (i % 3) as u8,
                xid: Xid(740),
                payload: vec![i as u8; (i % 300) as usize],
            })
            .collect();
        for r in &recs {
            f.append_parts(r.kind, r.xid, &r.payload).unwrap();
        }
        let mut r = f.reader().unwrap();
        for want in &recs {
            assert_eq!(&r.next().unwrap(), want);
        }
        assert!(r.next().is_err(), "nothing after the last record");
        let path = f.path.clone();
        assert!(path.exists());
        drop(r);
        drop(f);
        assert!(!path.exists());
        // what a crash leaves is removed at startup
        let path = temp_dir(dir.path()).join("pgsql_tmp1.0");
        std::fs::write(&path, b"left by a crash").unwrap();
        remove_temp_files(dir.path()).unwrap();
        assert!(!path.exists());
    }
}
