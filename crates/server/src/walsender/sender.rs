//! What one walsender connection carries from command to command (PostgreSQL
//! keeps it in `walsender.c`'s file-level variables: `MyWalSnd`, the session,
//! whether the connection must end), and the helpers every command file of the
//! walsender shares: text result columns, a slot held for the length of a
//! command, and applying a streaming client's confirmation to its slot.
//!
//! A leaf of `walsender/`: the command files (`mod.rs`, `physical.rs`,
//! `logical.rs`, `copyboth.rs`, `subscriber_queries.rs`) import it, it imports
//! none of them.

use std::sync::Arc;

use tandem_replication::slot::{SlotAdvance, SlotData, SlotRegistry, LAZY_SAVE_INTERVAL};
use tandem_sql::{FieldDescription, QuerySink, Session};
use tandem_types::{DataType, Lsn, PgResult, Value};

use crate::backend::printtup::SocketSink;
use crate::backend::startup::StartupInfo;
use crate::procarray::BackendEntry;
use crate::shared::Shared;
use crate::walsender::walsndctl::WalSnd;
use tandem_types::PgTimestamp;

/// One replication connection after authentication.
pub(super) struct WalSender<'a> {
    pub shared: &'a Arc<Shared>,
    pub entry: &'a Arc<BackendEntry>,
    /// This walsender's entry in the walsender array (`MyWalSnd`).
    pub walsnd: &'a Arc<WalSnd>,
    pub startup: &'a StartupInfo,
    /// The SQL session of a logical (`replication=database`) connection.
    pub session: Option<Session>,
    /// Set when streaming ended in a way that ends the connection.
    pub exit: bool,
}

impl WalSender<'_> {
    /// Ends the SQL session, if any (the connection is closing).
    pub(super) fn end(&mut self) {
        if let Some(s) = self.session.as_mut() {
            s.terminate();
        }
    }
}

/// A text result column.
/// The result of CREATE_REPLICATION_SLOT, physical and logical alike:
/// `slot_name, consistent_point, snapshot_name, output_plugin`.
pub(super) fn send_created_slot(
    sink: &mut SocketSink<'_>,
    name: String,
    consistent_point: Lsn,
    snapshot_name: Option<String>,
    plugin: Option<String>,
) -> PgResult<()> {
    sink.row_description(&[
        FieldDescription::text("slot_name"),
        FieldDescription::text("consistent_point"),
        FieldDescription::text("snapshot_name"),
        FieldDescription::text("output_plugin"),
    ])?;
    let text = |v: Option<String>| v.map(Value::Text).unwrap_or(Value::Null);
    sink.data_row(
        &[
            Value::Text(name),
            Value::Text(consistent_point.to_string()),
            text(snapshot_name),
            text(plugin),
        ],
        &[const { DataType::Text }; 4],
        &[],
    )?;
    sink.command_complete("CREATE_REPLICATION_SLOT")
}

/// Releases an acquired slot when a command ends, however it ends.
pub(super) struct SlotUse<'a> {
    pub slots: &'a SlotRegistry,
    pub name: String,
    pub pid: i32,
}

impl Drop for SlotUse<'_> {
    fn drop(&mut self) {
        self.slots
            .release(&self.name, self.pid, PgTimestamp::now().as_micros());
    }
}

/// Applies a streaming client's confirmation to the slot it streams from:
/// `rule` ([`tandem_replication::slot::advance_physical`] or
/// [`tandem_replication::slot::advance_logical`]) decides on the slot's
/// current data. Written lazily ([`SlotRegistry::update_lazily`]): the client
/// confirms often. A slot that is gone is left alone.
pub(super) fn advance_slot(
    slots: &SlotRegistry,
    name: &str,
    rule: impl Fn(&SlotData) -> Option<SlotAdvance>,
) -> PgResult<()> {
    if move_slot(slots, name, rule)? {
        slots.save_lazily(name, LAZY_SAVE_INTERVAL)?;
    }
    Ok(())
}

/// The in-memory half of [`advance_slot`] (`true`: the slot moved); the
/// caller writes it with `SlotRegistry::save_lazily` once it has woken who
/// waits for the move.
pub(super) fn move_slot(
    slots: &SlotRegistry,
    name: &str,
    rule: impl Fn(&SlotData) -> Option<SlotAdvance>,
) -> PgResult<bool> {
    let Some(info) = slots.get(name) else {
        return Ok(false);
    };
    if rule(&info.data).is_none() {
        return Ok(false);
    }
    slots.move_lazily(name, |d| {
        if let Some(adv) = rule(d) {
            adv.apply(d);
        }
    })
}
