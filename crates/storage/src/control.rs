//! `global/control`: the facts a node needs before it can read anything else
//! (system identifier, cluster state, timeline, latest checkpoint, next ids,
//! WAL segment size).
//!
//! Layout (little-endian), then a CRC32C of all preceding bytes:
//! ```text
//! magic "TNDMCTL1" | version u32 | system_identifier u64 | state u8 | timeline u32
//! checkpoint_lsn u64 | redo_lsn u64 | checkpoint_time i64 | next_xid u32 | next_oid u32
//! wal_segment_size u64 | next_rowid u64 | crc32c u32
//! ```
//! Written atomically (tmp + fsync + rename + fsync dir): the checkpoint file it
//! names is durable before it is written. PostgreSQL counterpart: `pg_control.h`,
//! `xlog.c` (UpdateControlFile), `pg_controldata`.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use tandem_types::{Lsn, Oid, PgError, PgResult, SqlState, TimeLineId, Xid};

use crate::codec::{Reader, Writer};
use crate::fileutil::write_atomically;

const MAGIC: &[u8; 8] = b"TNDMCTL1";
const VERSION: u32 = 1;

/// Cluster state as `pg_controldata` prints it ("Database cluster state").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DbState {
    ShutDown,
    ShutDownInRecovery,
    InCrashRecovery,
    InArchiveRecovery,
    InProduction,
}

impl DbState {
    pub fn as_str(self) -> &'static str {
        match self {
            DbState::ShutDown => "shut down",
            DbState::ShutDownInRecovery => "shut down in recovery",
            DbState::InCrashRecovery => "in crash recovery",
            DbState::InArchiveRecovery => "in archive recovery",
            DbState::InProduction => "in production",
        }
    }
    fn code(self) -> u8 {
        match self {
            DbState::ShutDown => 1,
            DbState::ShutDownInRecovery => 2,
            DbState::InCrashRecovery => 4,
            DbState::InArchiveRecovery => 5,
            DbState::InProduction => 6,
        }
    }
    fn from_code(c: u8) -> Option<DbState> {
        Some(match c {
            1 => DbState::ShutDown,
            2 => DbState::ShutDownInRecovery,
            4 => DbState::InCrashRecovery,
            5 => DbState::InArchiveRecovery,
            6 => DbState::InProduction,
            _ => return None,
        })
    }
}

/// Contents of `global/control`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ControlFile {
    pub system_identifier: u64,
    pub state: DbState,
    pub timeline: TimeLineId,
    pub checkpoint_lsn: Lsn,
    pub redo_lsn: Lsn,
    /// seconds since the Unix epoch
    pub checkpoint_time: i64,
    pub next_xid: Xid,
    pub next_oid: Oid,
    pub wal_segment_size: u64,
    pub next_rowid: u64,
}

pub fn control_path(datadir: &Path) -> PathBuf {
    datadir.join("global").join("control")
}

/// A new system identifier as PostgreSQL makes one: seconds in the high 32 bits,
/// microseconds and some randomness below.
pub fn new_system_identifier() -> u64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    (now.as_secs() << 32) | ((now.subsec_micros() as u64) << 12) | (rand::random::<u64>() & 0xFFF)
}

pub fn encode(c: &ControlFile) -> Vec<u8> {
    let mut w = Writer::new();
    w.buf.extend_from_slice(MAGIC);
    w.u32(VERSION);
    w.u64(c.system_identifier);
    w.u8(c.state.code());
    w.u32(c.timeline.0);
    w.lsn(c.checkpoint_lsn);
    w.lsn(c.redo_lsn);
    w.i64(c.checkpoint_time);
    w.xid(c.next_xid);
    w.oid(c.next_oid);
    w.u64(c.wal_segment_size);
    w.u64(c.next_rowid);
    let crc = crc32c::crc32c(&w.buf);
    w.u32(crc);
    w.buf
}

fn bad_control() -> PgError {
    PgError::fatal(
        SqlState::DATA_CORRUPTED,
        "incorrect checksum in control file",
    )
}

pub fn decode(bytes: &[u8]) -> PgResult<ControlFile> {
    if bytes.len() < 12 || &bytes[..8] != MAGIC {
        return Err(bad_control());
    }
    let (body, crc) = bytes.split_at(bytes.len() - 4);
    let crc = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
    if crc32c::crc32c(body) != crc {
        return Err(bad_control());
    }
    let mut r = Reader::new(&body[8..], "control file");
    if r.u32()? != VERSION {
        return Err(PgError::fatal(
            SqlState::DATA_CORRUPTED,
            "control file has an unsupported version",
        ));
    }
    Ok(ControlFile {
        system_identifier: r.u64()?,
        state: DbState::from_code(r.u8()?).ok_or_else(bad_control)?,
        timeline: TimeLineId(r.u32()?),
        checkpoint_lsn: r.lsn()?,
        redo_lsn: r.lsn()?,
        checkpoint_time: r.i64()?,
        next_xid: r.xid()?,
        next_oid: r.oid()?,
        wal_segment_size: r.u64()?,
        next_rowid: r.u64()?,
    })
}

/// Reads `DATADIR/global/control` (also usable on a stopped cluster).
pub fn read_control(datadir: &Path) -> PgResult<ControlFile> {
    let path = control_path(datadir);
    let bytes = std::fs::read(&path).map_err(|e| {
        let mut err = PgError::io(format_args!("open file \"{}\"", path.display()), &e);
        err.severity = tandem_types::Severity::Fatal;
        err
    })?;
    decode(&bytes)
}

pub fn write_control(datadir: &Path, c: &ControlFile, fsync: bool) -> PgResult<()> {
    write_atomically(&control_path(datadir), &encode(c), fsync)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ControlFile {
        ControlFile {
            system_identifier: new_system_identifier(),
            state: DbState::InProduction,
            timeline: TimeLineId(1),
            checkpoint_lsn: Lsn(0x1000028),
            redo_lsn: Lsn(0x1000000),
            checkpoint_time: 1_700_000_000,
            next_xid: Xid(740),
            next_oid: Oid(16384),
            wal_segment_size: 16 << 20,
            next_rowid: 1,
        }
    }

    #[test]
    fn control_file_round_trips_and_detects_corruption() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("global")).unwrap();
        let c = sample();
        write_control(dir.path(), &c, true).unwrap();
        assert_eq!(read_control(dir.path()).unwrap(), c);
        let mut bytes = encode(&c);
        bytes[20] ^= 1;
        assert_eq!(
            decode(&bytes).unwrap_err().message,
            "incorrect checksum in control file"
        );
        assert!(decode(&bytes[..5]).is_err());
    }

    #[test]
    fn system_identifier_has_time_in_high_bits() {
        let id = new_system_identifier();
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        assert!((id >> 32).abs_diff(secs) < 5);
    }
}
