//! Catalog history kept across restarts for logical decoding.
//!
//! Decoding needs each table's definition as of every change it reads, from a
//! slot's `restart_lsn` onward. In memory that is [`crate::catalog::CatalogHistory`];
//! a checkpoint image holds only the catalog as of its redo point. So every
//! checkpoint also writes `pg_logical/catalog_history`: the catalog versions in
//! force from the decoding floor (the oldest logical slot's `restart_lsn`, given
//! by the hook the server installs) up to the redo point. Startup puts them back
//! in front of the image's catalog. Without logical slots the file is removed
//! on a primary; a standby's restartpoint keeps the version in force at its
//! redo point, whose LSN tells the next start from where the catalog history
//! is exact (`Database::catalog_exact_from`).
//!
//! The file is written before the checkpoint image, so whichever image startup
//! finds, the file covers at least up to its redo point.
//! Layout (little-endian): `"TNDMCATH" | n u32 | (lsn u64, catalog bytes)* | crc32c u32`.
//!
//! PostgreSQL keeps old catalog rows instead (`catalog_xmin` holds back vacuum).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tandem_types::{Lsn, PgError, PgResult};

use crate::codec::{Reader, Writer};
use crate::fileutil::write_atomically;
use crate::record;
use crate::Catalog;

const MAGIC: &[u8; 8] = b"TNDMCATH";

pub fn path(datadir: &Path) -> PathBuf {
    datadir.join("pg_logical").join("catalog_history")
}

/// Writes `versions` (oldest first), or removes the file when empty.
pub fn write(datadir: &Path, versions: &[(Lsn, Arc<Catalog>)], fsync: bool) -> PgResult<()> {
    let p = path(datadir);
    if versions.is_empty() {
        return match std::fs::remove_file(&p) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(PgError::io(format!("remove file \"{}\"", p.display()), &e)),
        };
    }
    if let Some(dir) = p.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| PgError::io(format!("create directory \"{}\"", dir.display()), &e))?;
    }
    let mut w = Writer::new();
    w.buf.extend_from_slice(MAGIC);
    w.u32(versions.len() as u32);
    for (lsn, cat) in versions {
        w.lsn(*lsn);
        let mut c = Writer::new();
        record::catalog(&mut c, cat);
        w.bytes(&c.buf);
    }
    let crc = crc32c::crc32c(&w.buf);
    w.u32(crc);
    write_atomically(&p, &w.buf, fsync)
}

/// Reads the file: the versions (oldest first), empty when there is none.
pub fn load(datadir: &Path) -> PgResult<Vec<(Lsn, Arc<Catalog>)>> {
    let p = path(datadir);
    let bytes = match std::fs::read(&p) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(PgError::io(format!("read file \"{}\"", p.display()), &e)),
    };
    let corrupt = || {
        PgError::new(
            tandem_types::SqlState::DATA_CORRUPTED,
            format!("catalog history file \"{}\" is corrupt", p.display()),
        )
    };
    if bytes.len() < MAGIC.len() + 8 || &bytes[..MAGIC.len()] != MAGIC {
        return Err(corrupt());
    }
    let (body, tail) = bytes.split_at(bytes.len() - 4);
    let stored = u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]);
    if crc32c::crc32c(body) != stored {
        return Err(corrupt());
    }
    let mut r = Reader::new(&body[MAGIC.len()..], "catalog history");
    let n = r.u32()?;
    let mut out = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let lsn = r.lsn()?;
        let raw = r.bytes()?;
        let mut cr = Reader::new(raw, "catalog history");
        out.push((lsn, Arc::new(record::read_catalog(&mut cr)?)));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_removal() {
        let dir = tempfile::tempdir()
            .map_err(|e| e.to_string())
            .unwrap_or_else(|e| panic!("{e}"));
        let a = Arc::new(crate::catalog::bootstrap_catalog("postgres", None));
        let mut b = (*a).clone();
        b.missing_values
            .insert(tandem_types::Oid(16384), Vec::new());
        let versions = vec![(Lsn(100), a.clone()), (Lsn(200), Arc::new(b))];
        write(dir.path(), &versions, false).unwrap_or_else(|e| panic!("{e}"));
        let back = load(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back.len(), 2);
        assert_eq!(back[0].0, Lsn(100));
        assert_eq!(back[1].0, Lsn(200));
        assert!(back[1]
            .1
            .missing_values
            .contains_key(&tandem_types::Oid(16384)));
        write(dir.path(), &[], false).unwrap_or_else(|e| panic!("{e}"));
        assert!(load(dir.path())
            .unwrap_or_else(|e| panic!("{e}"))
            .is_empty());
    }

    #[test]
    fn corruption_is_detected() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let a = Arc::new(crate::catalog::bootstrap_catalog("postgres", None));
        write(dir.path(), &[(Lsn(8), a)], false).unwrap_or_else(|e| panic!("{e}"));
        let p = path(dir.path());
        let mut bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{e}"));
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0xff;
        std::fs::write(&p, bytes).unwrap_or_else(|e| panic!("{e}"));
        assert!(load(dir.path()).is_err());
    }
}
