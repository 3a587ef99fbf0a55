//! The log lines of startup, crash recovery and checkpoints, as PostgreSQL prints
//! them (own test binary: the log destination is process-global).

mod common;

use common::*;
use tandem_types::elog::{set_log_file, set_min_level, Level};

#[test]
fn crash_recovery_and_checkpoints_log_like_postgres() {
    let logdir = tempfile::tempdir().unwrap();
    let logpath = logdir.path().join("log");
    set_log_file(std::fs::File::create(&logpath).unwrap());
    set_min_level(Level::Log);
    let read_log = || std::fs::read_to_string(&logpath).unwrap();

    let (dir, db) = fresh();
    assert!(read_log().contains("LOG:  database system was shut down at "));
    let t = create_table(&db, "t", true);
    insert_rows(&db, t, &[(1, 1)]);
    drop(db); // crash
    let db = open(dir.path());
    let log = read_log();
    for line in [
        "LOG:  database system was interrupted; last known up at ",
        "LOG:  database system was not properly shut down; automatic recovery in progress",
        "LOG:  redo starts at 0/",
        "LOG:  invalid record length at 0/",
        "LOG:  redo done at 0/",
        "LOG:  checkpoint starting: end-of-recovery immediate wait",
        // "wrote N rows" counts the rows the table store's applier wrote
        // since the last checkpoint: the row committed before the crash was
        // already in the store (the applier writes every flushed commit), so
        // recovery skipped it and the end-of-recovery checkpoint wrote none.
        "LOG:  checkpoint complete: wrote 0 rows; 0 WAL file(s) added, ",
    ] {
        assert!(log.contains(line), "missing {line:?} in:\n{log}");
    }
    db.shutdown().unwrap();
    assert!(read_log().contains("LOG:  checkpoint starting: shutdown immediate"));
    drop(db);
    let db = open(dir.path());
    let log = read_log();
    let after_shutdown = &log[log.rfind("shutdown immediate").unwrap()..];
    assert!(after_shutdown.contains("database system was shut down at"));
    assert!(
        !after_shutdown.contains("redo starts"),
        "no redo after a clean shutdown"
    );
    drop(db);
}
