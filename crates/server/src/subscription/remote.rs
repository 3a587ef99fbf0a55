//! The publisher side of CREATE / ALTER / DROP SUBSCRIPTION: runs one
//! [`SubscriptionRemoteAction`] over a `replication=database` connection to the
//! subscription's publisher (the blocking [`ReplClient`]) and words failures
//! as PostgreSQL does. PostgreSQL counterparts: `libpqwalreceiver.c`
//! (`libpqrcv_connect`, `libpqrcv_create_slot`, `libpqrcv_alter_slot`) and
//! the remote parts of `commands/subscriptioncmds.c`
//! (`ReplicationSlotDropAtPubNode`, `fetch_table_list`, `check_publications`).

use tandem_client::{
    quote_literal as literal, quote_repl_ident as ident, with_application_name, ReplClient,
};
use tandem_expr::{SubscriptionRemoteAction, SubscriptionRemoteRequest, SubscriptionRemoteResult};
use tandem_types::{Lsn, PgError, PgResult, SqlState};

/// libpq's rendering of a server error (`ERROR:  message`).
fn libpq_text(e: &PgError) -> String {
    format!("ERROR:  {}", e.message)
}

fn connect(req: &SubscriptionRemoteRequest) -> Result<ReplClient, PgError> {
    // The subscription name is the default application_name.
    ReplClient::connect_mode(
        &with_application_name(&req.conninfo, &req.subscription),
        "database",
    )
}

/// [`connect`], then the password rule of a non-superuser's subscription.
fn connect_checked(req: &SubscriptionRemoteRequest) -> PgResult<Result<ReplClient, PgError>> {
    match connect(req) {
        Ok(c) => {
            super::worker_internal::check_password_used(req.must_use_password, c.used_password)?;
            Ok(Ok(c))
        }
        Err(e) => Ok(Err(e)),
    }
}

/// Runs one remote action for a subscription command.
pub(crate) fn run(req: &SubscriptionRemoteRequest) -> PgResult<SubscriptionRemoteResult> {
    let client = match connect_checked(req)? {
        Ok(c) => c,
        Err(e) => {
            return Err(match &req.action {
                SubscriptionRemoteAction::DropSlot { slot } => PgError::new(
                    SqlState::CONNECTION_FAILURE,
                    format!(
                        "could not connect to publisher when attempting to drop replication slot \"{slot}\": {}",
                        e.message
                    ),
                )
                .with_hint(
                    "Use ALTER SUBSCRIPTION ... DISABLE to disable the subscription, and then use ALTER SUBSCRIPTION ... SET (slot_name = NONE) to disassociate it from the slot.",
                ),
                _ => PgError::new(
                    SqlState::CONNECTION_FAILURE,
                    format!("could not connect to the publisher: {}", e.message),
                ),
            })
        }
    };
    let mut client = client;
    let result = act(&mut client, &req.action);
    client.close();
    result
}

fn act(
    client: &mut ReplClient,
    action: &SubscriptionRemoteAction,
) -> PgResult<SubscriptionRemoteResult> {
    match action {
        SubscriptionRemoteAction::CreateSlot {
            slot,
            two_phase,
            failover,
        } => {
            let cmd = format!(
                "CREATE_REPLICATION_SLOT {} LOGICAL pgoutput (TWO_PHASE {two_phase}, FAILOVER {failover}, SNAPSHOT 'nothing')",
                ident(slot)
            );
            let rows = client.query(&cmd).map_err(|e| {
                PgError::new(
                    SqlState::PROTOCOL_VIOLATION,
                    format!(
                        "could not create replication slot \"{slot}\": {}",
                        libpq_text(&e)
                    ),
                )
            })?;
            let lsn = rows
                .first()
                .and_then(|r| r.get(1).cloned().flatten())
                .and_then(|s| s.parse::<Lsn>().ok())
                .unwrap_or(Lsn(0));
            Ok(SubscriptionRemoteResult::SlotCreated { lsn })
        }
        SubscriptionRemoteAction::DropSlot { slot } => {
            client
                .query(&format!("DROP_REPLICATION_SLOT {} WAIT", ident(slot)))
                .map_err(|e| {
                    PgError::new(
                        SqlState::CONNECTION_FAILURE,
                        format!(
                            "could not drop replication slot \"{slot}\" on publisher: {}",
                            libpq_text(&e)
                        ),
                    )
                })?;
            Ok(SubscriptionRemoteResult::Done)
        }
        SubscriptionRemoteAction::AlterSlot { slot, failover } => {
            client
                .query(&format!(
                    "ALTER_REPLICATION_SLOT {} ( FAILOVER {failover} )",
                    ident(slot)
                ))
                .map_err(|e| {
                    PgError::new(
                        SqlState::PROTOCOL_VIOLATION,
                        format!(
                            "could not alter replication slot \"{slot}\": {}",
                            libpq_text(&e)
                        ),
                    )
                })?;
            Ok(SubscriptionRemoteResult::Done)
        }
        SubscriptionRemoteAction::PublishedTables { publications } => {
            let list = publications
                .iter()
                .map(|p| literal(p))
                .collect::<Vec<_>>()
                .join(", ");
            let fetch_failed = |e: PgError| {
                PgError::new(
                    SqlState::CONNECTION_FAILURE,
                    format!(
                        "could not receive list of replicated tables from the publisher: {}",
                        libpq_text(&e)
                    ),
                )
            };
            let existing = client
                .query(&format!(
                    "SELECT pubname FROM pg_catalog.pg_publication WHERE pubname IN ({list})"
                ))
                .map_err(|e| {
                    PgError::new(
                        SqlState::CONNECTION_FAILURE,
                        format!(
                            "could not receive list of publications from the publisher: {}",
                            libpq_text(&e)
                        ),
                    )
                })?;
            let rows = client
                .query(&format!(
                    "SELECT DISTINCT schemaname, tablename FROM pg_catalog.pg_publication_tables \
                     WHERE pubname IN ({list}) ORDER BY 1, 2"
                ))
                .map_err(fetch_failed)?;
            let mut tables = Vec::new();
            for r in rows {
                if let (Some(Some(schema)), Some(Some(table))) = (r.first(), r.get(1)) {
                    tables.push((schema.clone(), table.clone()));
                }
            }
            Ok(SubscriptionRemoteResult::Tables {
                tables,
                existing_publications: existing
                    .into_iter()
                    .filter_map(|r| r.into_iter().next().flatten())
                    .collect(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_and_quoting() {
        assert_eq!(literal("a'b"), "'a''b'");
        assert_eq!(ident("a\"b"), "\"a\"\"b\"");
        let e = PgError::new(
            SqlState::UNDEFINED_OBJECT,
            "replication slot \"s\" does not exist",
        );
        assert_eq!(
            libpq_text(&e),
            "ERROR:  replication slot \"s\" does not exist"
        );
    }

    #[test]
    fn refused_connection_reads_like_postgres() {
        let req = SubscriptionRemoteRequest {
            conninfo: "host=127.0.0.1 port=1 dbname=postgres".into(),
            subscription: "s".into(),
            action: SubscriptionRemoteAction::PublishedTables {
                publications: vec!["p".into()],
            },
            must_use_password: false,
        };
        let e = run(&req).unwrap_err();
        assert_eq!(e.code, SqlState::CONNECTION_FAILURE);
        assert!(e
            .message
            .starts_with("could not connect to the publisher: connection to server at \"127.0.0.1\", port 1 failed: Connection refused\n\tIs the server running"));
        let drop = SubscriptionRemoteRequest {
            action: SubscriptionRemoteAction::DropSlot { slot: "s".into() },
            ..req
        };
        let e = run(&drop).unwrap_err();
        assert!(e.message.starts_with(
            "could not connect to publisher when attempting to drop replication slot \"s\": "
        ));
        assert!(e.hint.is_some());
    }
}
