//! What a synced slot refuses while the server is a standby. A slot with
//! `synced = true` was created and is kept up to date by slot
//! synchronization from the primary; until promotion, nobody else may
//! decode from it (`pg_logical_slot_{get,peek}_[binary_]changes`,
//! `pg_replication_slot_advance`, `START_REPLICATION ... LOGICAL`), drop it
//! (`pg_drop_replication_slot`, `DROP_REPLICATION_SLOT`) or alter it
//! (`ALTER_REPLICATION_SLOT`). A synced physical slot (a tandem extension:
//! a copy of one of the primary's physical slots) is refused the same way
//! for streaming (`START_REPLICATION SLOT ... PHYSICAL`, from a cascading
//! standby) and for `pg_replication_slot_advance`. After promotion
//! (`in_recovery` false) the slot is an ordinary slot again, though `synced`
//! stays true.
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
    /// Physical streaming through the slot.
    Stream,
    /// `pg_replication_slot_advance` of a physical slot.
    Advance,
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
        SlotOp::Stream => err(format!(
            "cannot use replication slot \"{name}\" for physical replication"
        ))
        .with_hint("Specify another replication slot."),
        SlotOp::Advance => err(format!("cannot advance replication slot \"{name}\"")),
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
        for op in [
            SlotOp::Decode,
            SlotOp::Drop,
            SlotOp::Alter,
            SlotOp::Stream,
            SlotOp::Advance,
        ] {
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
        let e = refuse(SlotOp::Stream, &slot(true), true, false).unwrap_err();
        assert_eq!(
            e.message,
            "cannot use replication slot \"lsub1_slot\" for physical replication"
        );
        let e = refuse(SlotOp::Advance, &slot(true), true, false).unwrap_err();
        assert_eq!(e.message, "cannot advance replication slot \"lsub1_slot\"");
        assert_eq!(e.detail.as_deref(), Some(DETAIL));
    }
}
