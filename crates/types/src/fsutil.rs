//! File system durability helpers shared by the WAL, storage and replication slots
//! (PostgreSQL: `fsync_fname` and `data_sync_elevel` in `storage/file/fd.c`).
//!
//! A failed fsync is a PANIC, as PostgreSQL with `data_sync_retry = off`: after
//! a failed fsync the kernel may have dropped the dirty pages, so a retry could
//! report success for data that never reached the disk.

use std::fs::File;
use std::io;
use std::path::Path;

use crate::error::{PgError, Severity};

/// fsyncs a directory so that entries created, renamed or removed in it are durable.
pub fn fsync_dir(dir: &Path) -> Result<(), PgError> {
    let d = File::open(dir)
        .map_err(|e| PgError::io(format_args!("open directory \"{}\"", dir.display()), &e))?;
    d.sync_all().map_err(|e| fsync_error(dir, &e))
}

/// `could not fsync file "...": ...` as a PANIC (see the module comment).
pub fn fsync_error(path: &Path, e: &io::Error) -> PgError {
    let mut err = PgError::io(format_args!("fsync file \"{}\"", path.display()), e);
    err.severity = Severity::Panic;
    err
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fsyncs_a_directory_and_reports_a_missing_one() {
        let dir = std::env::temp_dir();
        assert!(fsync_dir(&dir).is_ok());
        let missing = dir.join(format!("tandem-fsutil-missing-{}", std::process::id()));
        let err = fsync_dir(&missing).unwrap_err();
        assert!(
            err.message.starts_with(&format!(
                "could not open directory \"{}\"",
                missing.display()
            )),
            "{}",
            err.message
        );
        assert_eq!(err.severity, Severity::Error);
    }

    #[test]
    fn fsync_failure_is_a_panic() {
        let e = io::Error::from_raw_os_error(5);
        let err = fsync_error(Path::new("pg_wal"), &e);
        assert_eq!(err.severity, Severity::Panic);
        assert!(err.message.starts_with("could not fsync file \"pg_wal\": "));
    }
}
