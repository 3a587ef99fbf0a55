//! The server side of the SQL functions and views that need more than one
//! session can see: `pg_stat_activity`, `pg_cancel_backend`/`pg_terminate_backend`,
//! `pg_reload_conf`, the replication slot functions (with
//! `pg_sync_replication_slots`) and `pg_replication_slots`,
//! `pg_failover_readiness`, `pg_failover_slot_standbys`,
//! `pg_stat_replication`, `pg_stat_wal_receiver`, subscription workers, the
//! publisher-side calls of CREATE/ALTER/DROP SUBSCRIPTION and `tandem_demote`
//! (`demote.rs`). The sql and expr crates
//! reach all of it through the [`ServerHooks`] trait; [`Hooks`] implements it by
//! delegating to the module that owns each concept.
//!
//! The views' rows cross as typed structs with PostgreSQL's column names
//! (`tandem_expr::context::{BackendActivityRow, ReplicationSlotRow,
//! WalSenderRow, WalReceiverRow, SubscriptionWorkerStat}`), filled by the
//! modules that own the state (`procarray`, `slot`, `walsender::walsndctl`,
//! `walreceiver`, `subscription::launcher`). Each view's column list and its
//! field-to-column mapping are one table in `tandem_expr::catalog`; a new
//! column is a field of the struct, an entry in that table, and the line of
//! the owning module that fills it. Nothing here knows column positions.
//!
//! Corresponds to PostgreSQL's `replication/slotfuncs.c`,
//! `replication/walreceiverfuncs.c`, `utils/adt/pgstatfuncs.c` and
//! `storage/ipc/signalfuncs.c`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tandem_expr::context::ServerHooks;

use crate::procarray::Registry;
use tandem_types::PgTimestamp;

/// [`ServerHooks`] for sessions of this server.
pub(crate) struct Hooks {
    pub registry: Arc<Registry>,
    /// Set to ask the postmaster loop to reload (what SIGHUP does).
    pub reload: Arc<AtomicBool>,
    /// When the postmaster started, microseconds since 2000-01-01 UTC.
    pub start_time: i64,
    /// Slots and walsenders (`None` only in unit tests).
    pub repl: Option<ReplHooks>,
    /// What `tandem_demote()` raises (`None` only in unit tests).
    pub demote: Option<crate::demote::Trigger>,
}

/// What the replication functions and views reach through the hooks.
pub(crate) struct ReplHooks {
    pub slots: Arc<tandem_replication::slot::SlotRegistry>,
    pub walsenders: Arc<crate::walsender::walsndctl::WalSenders>,
    pub db: Arc<tandem_storage::Database>,
    pub config: Arc<tandem_config::Config>,
    /// The walreceiver's state (`pg_stat_wal_receiver`).
    pub walrcv: crate::walreceiver::WalRcvShared,
    /// Subscription apply workers.
    pub launcher: Arc<crate::subscription::Launcher>,
    /// Failover slot synchronization (`pg_sync_replication_slots()`).
    pub slotsync: Arc<crate::slot::slotsync::SlotSync>,
    /// Decoding statistics of the logical slots (`pg_stat_replication_slots`).
    pub slot_stats: Arc<tandem_replication::slot_stats::SlotStats>,
}

fn no_slots() -> tandem_types::PgError {
    tandem_types::PgError::unsupported("replication slots")
}

impl Hooks {
    /// What a long wait inside a SQL function checks: the session's query
    /// cancel (57014) and terminate (57P01) requests.
    fn interrupt_check(&self, pid: i32) -> impl Fn() -> tandem_types::PgResult<()> + '_ {
        move || match self.registry.get(pid) {
            Some(e) if e.terminating() => Err(crate::backend::startup::admin_shutdown_error()),
            Some(e) if e.cancel.lock().load(Ordering::SeqCst) => {
                Err(tandem_expr::functions::query_canceled())
            }
            _ => Ok(()),
        }
    }
}

impl ServerHooks for Hooks {
    fn view_definition(
        &self,
        view: &tandem_storage::ViewDef,
        ctx: &tandem_expr::ExecContext<'_>,
        pretty: bool,
    ) -> Option<String> {
        Some(tandem_query::deparse::view_definition(view, ctx, pretty))
    }

    fn in_recovery(&self) -> bool {
        self.repl.as_ref().is_some_and(|r| r.db.in_recovery())
    }

    /// `pg_reload_conf()`: raises the same flag SIGHUP raises, so the postmaster
    /// loop reloads postgresql.conf and pg_hba.conf within its next tick. (Setting
    /// the flag instead of `kill(getpid(), SIGHUP)` also works when the server runs
    /// inside a test process that installed no handler.)
    fn reload_conf(&self) -> bool {
        self.reload.store(true, Ordering::SeqCst);
        true
    }

    fn signal_backend(&self, pid: i32, terminate: bool) -> bool {
        match self.registry.get(pid) {
            Some(b) => {
                if terminate {
                    b.request_terminate();
                } else {
                    b.cancel();
                }
                true
            }
            None => false,
        }
    }

    fn activity(&self) -> Vec<tandem_expr::BackendActivityRow> {
        self.registry.activity_rows()
    }

    fn stop_subscription_workers(&self, subid: tandem_types::Oid) {
        if let Some(r) = &self.repl {
            r.launcher.stop_workers(subid);
        }
    }

    fn subscription_workers(&self) -> Vec<tandem_expr::SubscriptionWorkerStat> {
        self.repl
            .as_ref()
            .map(|r| r.launcher.stats())
            .unwrap_or_default()
    }

    fn create_physical_slot(
        &self,
        pid: i32,
        name: &str,
        reserve: bool,
        temporary: bool,
    ) -> tandem_types::PgResult<(String, Option<tandem_types::Lsn>)> {
        let r = self.repl.as_ref().ok_or_else(no_slots)?;
        let lsn = crate::slot::create_physical(
            &r.slots, &r.db, &r.config, pid, name, reserve, temporary,
        )?;
        Ok((name.to_string(), lsn))
    }

    fn drop_replication_slot(&self, pid: i32, name: &str) -> tandem_types::PgResult<()> {
        let r = self.repl.as_ref().ok_or_else(no_slots)?;
        crate::slot::drop_slot(&r.slots, &r.db, &r.config, pid, name, false)
    }

    fn create_logical_slot(
        &self,
        pid: i32,
        req: &tandem_expr::LogicalSlotRequest,
    ) -> tandem_types::PgResult<tandem_types::Lsn> {
        let r = self.repl.as_ref().ok_or_else(no_slots)?;
        let lsn = crate::slot::logical::create(
            &r.slots,
            &r.db,
            &r.config,
            pid,
            &crate::slot::logical::NewLogicalSlot {
                name: &req.name,
                plugin: &req.plugin,
                temporary: req.temporary,
                two_phase: req.two_phase,
                failover: req.failover,
                database: tandem_types::Oid(req.database),
                allowed_plugins: &req.allowed_plugins,
            },
        )?;
        r.slot_stats.create(&req.name);
        r.slots
            .release(&req.name, pid, PgTimestamp::now().as_micros());
        Ok(lsn)
    }

    fn logical_slot_changes(
        &self,
        pid: i32,
        req: &tandem_expr::ChangesRequest,
    ) -> tandem_types::PgResult<Box<dyn tandem_expr::ChangeStream>> {
        let r = self.repl.as_ref().ok_or_else(no_slots)?;
        let stream = crate::slot::logical::open_changes(
            &r.slots,
            &r.db,
            &r.config,
            pid,
            crate::slot::logical::GetChanges {
                name: &req.name,
                upto_lsn: req.upto_lsn,
                upto_nchanges: req.upto_nchanges,
                options: req.options.clone(),
                peek: req.peek,
                binary: req.binary,
                database: Some(tandem_types::Oid(req.database)),
                allowed_plugins: &req.allowed_plugins,
                interrupted: &self.interrupt_check(pid),
                stats: Some(r.slot_stats.clone()),
            },
        )?;
        Ok(Box::new(stream))
    }

    fn advance_slot(
        &self,
        pid: i32,
        name: &str,
        upto: tandem_types::Lsn,
    ) -> tandem_types::PgResult<tandem_types::Lsn> {
        let r = self.repl.as_ref().ok_or_else(no_slots)?;
        let moved = crate::slot::logical::advance(
            &r.slots,
            &r.db,
            &r.config,
            pid,
            name,
            upto,
            &self.interrupt_check(pid),
        )?;
        // A physical slot listed in synchronized_standby_slots may release
        // logical walsenders waiting for it.
        r.walsenders.wakeup_all();
        Ok(moved)
    }

    fn copy_slot(
        &self,
        pid: i32,
        req: &tandem_expr::CopySlotRequest,
    ) -> tandem_types::PgResult<tandem_types::Lsn> {
        let r = self.repl.as_ref().ok_or_else(no_slots)?;
        let lsn = crate::slot::logical::copy(&r.slots, &r.config, pid, req)?;
        r.slot_stats.create(&req.dst);
        Ok(lsn)
    }

    fn sync_replication_slots(&self, pid: i32) -> tandem_types::PgResult<()> {
        let r = self.repl.as_ref().ok_or_else(no_slots)?;
        r.slotsync.sync_function(pid)
    }

    fn replication_slots(&self) -> Vec<tandem_expr::ReplicationSlotRow> {
        match &self.repl {
            Some(r) => crate::slot::rows(&r.slots, &r.db, &r.config),
            None => Vec::new(),
        }
    }

    fn replication_slot_stats(&self, slot: &str) -> tandem_expr::ReplicationSlotStats {
        let Some(r) = &self.repl else {
            return Default::default();
        };
        let c = r.slot_stats.get(slot);
        tandem_expr::ReplicationSlotStats {
            total_txns: c.total_txns,
            total_bytes: c.total_bytes,
            stats_reset: c.stats_reset,
        }
    }

    /// `pg_stat_reset_replication_slot`: an unknown slot is PostgreSQL's
    /// 42704; a physical slot has no statistics (nothing to do).
    fn reset_replication_slot_stats(&self, slot: Option<&str>) -> tandem_types::PgResult<()> {
        let r = self.repl.as_ref().ok_or_else(no_slots)?;
        let now = PgTimestamp::now().as_micros();
        match slot {
            Some(name) => {
                let info = r.slots.get(name).ok_or_else(|| {
                    tandem_types::PgError::new(
                        tandem_types::SqlState::UNDEFINED_OBJECT,
                        format!("replication slot \"{name}\" does not exist"),
                    )
                })?;
                if info.data.is_logical() {
                    r.slot_stats.reset(Some(name), &[], now);
                }
            }
            None => r.slot_stats.reset(
                None,
                &crate::slot::logical::logical_slot_names(&r.slots),
                now,
            ),
        }
        Ok(())
    }

    fn stat_wal_receiver(&self) -> Option<tandem_expr::WalReceiverRow> {
        let r = self.repl.as_ref()?;
        crate::walreceiver::stat_row(&r.walrcv, &r.db)
    }

    fn stat_replication(&self) -> Vec<tandem_expr::WalSenderRow> {
        match &self.repl {
            Some(r) => r.walsenders.rows(),
            None => Vec::new(),
        }
    }

    fn failover_readiness(&self) -> Vec<tandem_expr::FailoverReadinessRow> {
        let Some(r) = &self.repl else {
            return Vec::new();
        };
        let streaming =
            crate::walreceiver::stat_row(&r.walrcv, &r.db).is_some_and(|w| w.status == "streaming");
        r.slotsync.readiness_rows(streaming)
    }

    /// `pg_failover_slot_standbys` on a primary: the primary's failover
    /// slots against the standbys `readiness::counted_standbys` counts.
    fn failover_slot_standbys(&self) -> Vec<tandem_expr::FailoverSlotStandbyRow> {
        let Some(r) = &self.repl else {
            return Vec::new();
        };
        if r.db.in_recovery() {
            return Vec::new();
        }
        let setting = r.config.get_str(tandem_replication::standby_slots::SETTING);
        let listed = tandem_replication::standby_slots::parse(&setting).unwrap_or_default();
        let walsenders: std::collections::BTreeSet<i32> =
            r.walsenders.rows().iter().map(|w| w.pid).collect();
        tandem_replication::readiness::takeovers(&r.slots.list(), &listed, &walsenders)
            .into_iter()
            .map(|t| tandem_expr::FailoverSlotStandbyRow {
                could_take_over: t.reason.is_none(),
                slot_name: t.slot_name,
                standby_slot: t.standby_slot,
                standby_flush_lsn: t.standby_flush,
                slot_confirmed_flush_lsn: t.slot_confirmed_flush,
                reason: t.reason,
            })
            .collect()
    }

    /// CREATE / ALTER / DROP SUBSCRIPTION's actions on the publisher.
    fn subscription_remote(
        &self,
        req: &tandem_expr::SubscriptionRemoteRequest,
    ) -> tandem_types::PgResult<tandem_expr::SubscriptionRemoteResult> {
        crate::subscription::remote::run(req)
    }

    fn postmaster_start_time(&self) -> i64 {
        self.start_time
    }

    /// `tandem_demote(primary_conninfo, primary_slot_name)` (`demote.rs`):
    /// the calling session is marked to end once its reply is sent before
    /// the shutdown can begin, so the shutdown does not cut that reply.
    fn demote(
        &self,
        pid: i32,
        primary_conninfo: &str,
        primary_slot_name: &str,
    ) -> tandem_types::PgResult<()> {
        let (Some(t), Some(r)) = (&self.demote, &self.repl) else {
            return Err(tandem_types::PgError::unsupported("tandem_demote"));
        };
        let caller = self.registry.get(pid);
        if let Some(e) = &caller {
            e.set_end_after_reply(true);
        }
        let result = crate::demote::request(
            t,
            &r.config,
            r.db.in_recovery(),
            primary_conninfo,
            primary_slot_name,
        );
        if let (Err(_), Some(e)) = (&result, &caller) {
            e.set_end_after_reply(false);
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn activity_rows_and_terminate() {
        let r = Registry::new();
        let reg = r.register(Some("127.0.0.1".into()), None);
        {
            let mut a = reg.entry.activity.lock();
            a.user = "alice".into();
            a.application_name = "psql".into();
        }
        reg.entry.set_state("active", Some("select 1"));
        let hooks = Hooks {
            registry: r.clone(),
            reload: Arc::new(AtomicBool::new(false)),
            start_time: 0,
            repl: None,
            demote: None,
        };
        let rows = hooks.activity();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].pid, reg.entry.pid);
        assert_eq!(rows[0].usename.as_deref(), Some("alice"));
        assert_eq!(rows[0].state, "active");
        assert_eq!(rows[0].query, "select 1");
        assert!(hooks.signal_backend(reg.entry.pid, true));
        assert!(reg.entry.terminating());
        assert!(!hooks.signal_backend(-5, false));
        assert!(hooks.reload_conf());
        assert!(hooks.reload.load(Ordering::SeqCst));
        assert!(!r.wait_empty(Duration::from_millis(10)));
        drop(reg);
        assert!(r.wait_empty(Duration::from_millis(10)));
    }
}
