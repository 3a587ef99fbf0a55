//! Durable file writes: write a temporary file, fsync it, rename it over the
//! target, fsync the directory. A crash leaves either the old or the new file,
//! never a torn one. (PostgreSQL: `durable_rename` in `fd.c`.)

use std::fs::{self, File};
use std::io::Write;
use std::path::Path;

use tandem_types::fsutil::fsync_dir;
use tandem_types::{PgError, PgResult};

/// Atomically replaces `path` with `bytes` (tmp + fsync + rename + fsync dir).
pub fn write_atomically(path: &Path, bytes: &[u8], fsync: bool) -> PgResult<()> {
    let tmp = path.with_extension("tmp");
    let mut f = File::create(&tmp)
        .map_err(|e| PgError::io(format_args!("create file \"{}\"", tmp.display()), &e))?;
    f.write_all(bytes)
        .map_err(|e| PgError::io(format_args!("write file \"{}\"", tmp.display()), &e))?;
    if fsync {
        f.sync_all()
            .map_err(|e| PgError::io(format_args!("fsync file \"{}\"", tmp.display()), &e))?;
    }
    drop(f);
    durable_rename(&tmp, path, fsync)
}

/// Renames `from` to `to` and fsyncs the target's directory.
pub fn durable_rename(from: &Path, to: &Path, fsync: bool) -> PgResult<()> {
    fs::rename(from, to).map_err(|e| {
        PgError::io(
            format_args!("rename file \"{}\" to \"{}\"", from.display(), to.display()),
            &e,
        )
    })?;
    if fsync {
        if let Some(dir) = to.parent() {
            fsync_dir(dir)?;
        }
    }
    Ok(())
}
