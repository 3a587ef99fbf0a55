//! Test fixtures shared by the server's unit tests: a primary database and a
//! standby made from its checkpoint, as a base backup would, without sockets.

use std::path::Path;
use std::sync::Arc;

use tandem_storage::recovery::StandbyReplay;
use tandem_storage::{BootstrapOptions, Database, OpenOptions};
use tandem_types::Lsn;
use tandem_wal::{Wal, WalOptions};

/// Copies WAL `[from, primary's end)` into `wal` and flushes it.
pub(crate) fn ship(primary: &Database, wal: &Wal, from: Lsn) -> Lsn {
    let pw = primary.wal();
    pw.flush(pw.insert_lsn()).unwrap();
    let mut pos = from;
    loop {
        let bytes = pw.read_raw(pos, 64 * 1024).unwrap();
        if bytes.is_empty() {
            break;
        }
        pos = wal.append_raw(pos, &bytes).unwrap();
    }
    wal.flush(pos).unwrap();
    pos
}

/// A primary, and a standby data directory made from its checkpoint (what
/// a base backup holds), with `standby.signal`.
pub(crate) fn primary_and_standby(
    pdir: &Path,
    sdir: &Path,
) -> (Arc<Database>, Arc<Database>, StandbyReplay) {
    Database::bootstrap(
        pdir,
        BootstrapOptions {
            superuser: "postgres".into(),
            password_verifier: None,
            wal_segment_size: 1 << 20,
        },
    )
    .unwrap();
    let primary = Database::open(pdir, OpenOptions::new(false)).unwrap();
    primary.checkpoint("immediate force wait").unwrap();
    for sub in ["base", "global"] {
        std::fs::create_dir_all(sdir.join(sub)).unwrap();
    }
    for f in ["base/checkpoint", "global/control"] {
        std::fs::copy(pdir.join(f), sdir.join(f)).unwrap();
    }
    let redo = primary.control().redo_lsn;
    {
        let wal = Wal::create(
            WalOptions {
                dir: sdir.join("pg_wal"),
                timeline: primary.wal().timeline(),
                segment_size: primary.wal().segment_size(),
                fsync: false,
            },
            redo,
        )
        .unwrap();
        ship(&primary, &wal, redo);
    }
    std::fs::write(sdir.join("standby.signal"), b"").unwrap();
    let (standby, replay) = Database::open_standby(sdir, OpenOptions::new(false)).unwrap();
    (primary, standby, replay)
}
