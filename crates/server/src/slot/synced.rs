//! What a synced slot refuses while the server is a standby. A slot with
//! `synced = true` was created and is kept up to date by slot
//! synchronization from the primary; until promotion, nobody else may
//! decode from it (`pg_logical_slot_{get,peek}_[binary_]changes`,
//! `pg_replication_slot_advance`, `START_REPLICATION ... LOGICAL`), drop it
//! (`pg_drop_replication_slot`, `DROP_REPLICATION_SLOT`) or alter it
//! (`ALTER_REPLICATION_SLOT`). After promotion (`in_recovery` false) the
//! slot is an ordinary slot again, though `synced` stays true.
//!
//! Every path goes through [`refuse`]; slot synchronization itself passes
//! `allow_synced = true` (PostgreSQL's `IsSyncingReplicationSlots()`).
//!
//! Corresponds to the synced-slot checks of PostgreSQL's
//! `replication/logical/logical.c` (`CreateDecodingContext`) and
//! `replication/slot.c` (`ReplicationSlotDrop`, `ReplicationSlotAlter`).

use tandem_replication::slot::SlotData;
use tandem_types::{PgError, PgResult, SqlState};

/// What is being done to a slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SlotOp {
    /// Logical decoding, including `pg_replication_slot_advance` (which
    /// decodes without output).
    Decode,
    Drop,
    Alter,
}

const DETAIL: &str = "This replication slot is being synchronized from the primary server.";

/// `55000` when `data` is a synced slot, the server is in recovery and the
/// caller is not slot synchronization (`allow_synced`):
/// - decoding: `cannot use replication slot "s" for logical decoding`, with
///   hint `Specify another replication slot.`;
/// - drop: `cannot drop replication slot "s"`;
/// - alter: `cannot alter replication slot "s"`;
///
/// each with detail `This replication slot is being synchronized from the
/// primary server.`
pub(crate) fn refuse(
    op: SlotOp,
    data: &SlotData,
    in_recovery: bool,
    allow_synced: bool,
) -> PgResult<()> {
    if !(in_recovery && data.synced) || allow_synced {
        return Ok(());
    }
    let name = &data.name;
    let err = |msg: String| {
        PgError::new(SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE, msg).with_detail(DETAIL)
    };
    Err(match op {
        SlotOp::Decode => err(format!(
            "cannot use replication slot \"{name}\" for logical decoding"
        ))
        .with_hint("Specify another replication slot."),
        SlotOp::Drop => err(format!("cannot drop replication slot \"{name}\"")),
        SlotOp::Alter => err(format!("cannot alter replication slot \"{name}\"")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tandem_replication::slot::Persistency;
    use tandem_types::Oid;

    fn slot(synced: bool) -> SlotData {
        SlotData {
            database: Some(Oid(5)),
            plugin: Some("pgoutput".into()),
            failover: true,
            synced,
            ..SlotData::physical("lsub1_slot", Persistency::Persistent)
        }
    }

    #[test]
    fn a_synced_slot_is_refused_on_a_standby_only() {
        for op in [SlotOp::Decode, SlotOp::Drop, SlotOp::Alter] {
            assert!(refuse(op, &slot(true), true, false).is_err(), "{op:?}");
            // promoted: usable again, though still marked synced
            assert!(refuse(op, &slot(true), false, false).is_ok(), "{op:?}");
            // a slot of the standby's own
            assert!(refuse(op, &slot(false), true, false).is_ok(), "{op:?}");
            // slot synchronization itself
            assert!(refuse(op, &slot(true), true, true).is_ok(), "{op:?}");
        }
    }

    #[test]
    fn texts_are_postgresql_17s() {
        let e = refuse(SlotOp::Decode, &slot(true), true, false).unwrap_err();
        assert_eq!(e.code, SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE);
        assert_eq!(
            e.message,
            "cannot use replication slot \"lsub1_slot\" for logical decoding"
        );
        assert_eq!(e.detail.as_deref(), Some(DETAIL));
        assert_eq!(e.hint.as_deref(), Some("Specify another replication slot."));
        let e = refuse(SlotOp::Drop, &slot(true), true, false).unwrap_err();
        assert_eq!(e.code, SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE);
        assert_eq!(e.message, "cannot drop replication slot \"lsub1_slot\"");
        assert_eq!(e.detail.as_deref(), Some(DETAIL));
        assert_eq!(e.hint, None);
        let e = refuse(SlotOp::Alter, &slot(true), true, false).unwrap_err();
        assert_eq!(e.code, SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE);
        assert_eq!(e.message, "cannot alter replication slot \"lsub1_slot\"");
        assert_eq!(e.detail.as_deref(), Some(DETAIL));
        assert_eq!(e.hint, None);
    }

    /// Every user path refuses a synced slot on a standby through
    /// [`refuse`], and accepts it on a primary (a promoted standby).
    mod paths {
        use std::path::Path;
        use std::sync::Arc;

        use tandem_config::Config;
        use tandem_replication::slot::SlotRegistry;
        use tandem_storage::{BootstrapOptions, Database, OpenOptions};
        use tandem_types::{Lsn, PgError, Xid};
        use tandem_wal::{Wal, WalOptions};

        use super::*;
        use crate::slot::logical::{self, GetChanges};

        /// A primary, and a standby opened from its checkpoint and WAL (left
        /// in recovery: nothing replays or promotes it).
        fn primary_and_standby(pdir: &Path, sdir: &Path) -> (Arc<Database>, Arc<Database>) {
            Database::bootstrap(
                pdir,
                BootstrapOptions {
                    superuser: "postgres".into(),
                    password_verifier: None,
                    wal_segment_size: 1 << 20,
                },
            )
            .unwrap();
            let primary = Database::open(pdir, OpenOptions { fsync: false }).unwrap();
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
                let pw = primary.wal();
                pw.flush(pw.insert_lsn()).unwrap();
                let mut pos = redo;
                loop {
                    let bytes = pw.read_raw(pos, 64 * 1024).unwrap();
                    if bytes.is_empty() {
                        break;
                    }
                    pos = wal.append_raw(pos, &bytes).unwrap();
                }
                wal.flush(pos).unwrap();
            }
            std::fs::write(sdir.join("standby.signal"), b"").unwrap();
            let (standby, _replay) =
                Database::open_standby(sdir, OpenOptions { fsync: false }).unwrap();
            (primary, standby)
        }

        /// A registry holding a persistent synced failover slot at `at`.
        fn synced_slot(dir: &Path, at: Lsn, next_xid: Xid) -> SlotRegistry {
            let slots = SlotRegistry::open(dir, 10, 0).unwrap();
            let data = SlotData {
                database: Some(Oid(5)),
                plugin: Some("test_decoding".into()),
                restart_lsn: Some(at),
                confirmed_flush: Some(at),
                catalog_xmin: Some(next_xid),
                failover: true,
                synced: true,
                ..SlotData::physical("lsub1_slot", Persistency::Persistent)
            };
            slots.create(data, 1).unwrap();
            slots.release("lsub1_slot", 1, 0);
            slots
        }

        fn config() -> Arc<Config> {
            let config = Config::defaults();
            config.set_runtime("wal_level", "logical").unwrap();
            config
        }

        fn changes(name: &str, peek: bool, binary: bool) -> GetChanges<'_> {
            GetChanges {
                name,
                upto_lsn: None,
                upto_nchanges: None,
                options: Vec::new(),
                peek,
                binary,
                database: Some(Oid(5)),
                allowed_plugins: "test_decoding",
                interrupted: &|| Ok(()),
            }
        }

        fn message(r: PgResult<impl std::fmt::Debug>) -> String {
            r.map_err(|e: PgError| e.message).unwrap_err()
        }

        #[test]
        fn decoding_advancing_and_dropping_follow_the_rule() {
            let (pdir, sdir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
            let (primary, standby) = primary_and_standby(pdir.path(), sdir.path());
            assert!(standby.in_recovery() && !primary.in_recovery());
            let config = config();
            const DECODE: &str = "cannot use replication slot \"lsub1_slot\" for logical decoding";

            // a standby: refused, and the slot stays inactive
            let rdir = tempfile::tempdir().unwrap();
            let at = standby.replay_lsn();
            let slots = synced_slot(rdir.path(), at, standby.next_xid());
            for (peek, binary) in [(false, false), (true, false), (false, true), (true, true)] {
                let r = logical::get_changes(
                    &slots,
                    &standby,
                    &config,
                    7,
                    changes("lsub1_slot", peek, binary),
                );
                assert_eq!(message(r), DECODE);
            }
            let r = logical::advance(&slots, &standby, &config, 7, "lsub1_slot", at, &|| Ok(()));
            assert_eq!(message(r), DECODE);
            let r = crate::slot::drop_slot(&slots, &standby, &config, 7, "lsub1_slot", false);
            assert_eq!(message(r), "cannot drop replication slot \"lsub1_slot\"");
            let info = slots.get("lsub1_slot").unwrap();
            assert_eq!(info.active_pid, None);
            assert!(info.inactive_since.is_some());

            // a primary (what a promoted standby is): an ordinary slot
            let rdir = tempfile::tempdir().unwrap();
            let at = primary.wal().insert_lsn();
            let slots = synced_slot(rdir.path(), at, primary.next_xid());
            let rows = logical::get_changes(
                &slots,
                &primary,
                &config,
                7,
                changes("lsub1_slot", true, false),
            )
            .unwrap();
            assert!(rows.is_empty());
            logical::get_changes(
                &slots,
                &primary,
                &config,
                7,
                changes("lsub1_slot", false, false),
            )
            .unwrap();
            logical::advance(&slots, &primary, &config, 7, "lsub1_slot", at, &|| Ok(())).unwrap();
            crate::slot::drop_slot(&slots, &primary, &config, 7, "lsub1_slot", false).unwrap();
            assert!(slots.get("lsub1_slot").is_none());
        }
    }
}
