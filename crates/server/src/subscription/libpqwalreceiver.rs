//! The apply worker's connection to its publisher: connect with
//! `replication=database` and start logical streaming from the subscription's
//! slot with pgoutput's options (PostgreSQL's
//! `replication/libpqwalreceiver/libpqwalreceiver.c`: `libpqrcv_connect`,
//! `libpqrcv_startstreaming`).

use std::time::Duration;

use tandem_protocol::BackendMessage;
use tandem_storage::SubscriptionDef;
use tandem_types::{Lsn, PgError, PgResult, SqlState};

use super::worker_internal::{conninfo_for, WorkerCtx};
use tandem_client::{quote_literal, quote_repl_ident, ReplClient};

/// `publication_names` as pgoutput wants it: a quoted, comma-separated list.
fn publication_names(pubs: &[String]) -> String {
    pubs.iter()
        .map(|p| format!("\"{}\"", p.replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(",")
}

/// `START_REPLICATION SLOT s LOGICAL <start> (proto_version '4', origin '...',
/// publication_names '...' [, binary 'true'])`.
fn start_command(
    slot: &str,
    start: Lsn,
    origin: &str,
    publications: &[String],
    binary: bool,
) -> String {
    let mut options = vec![
        "proto_version '4'".to_string(),
        format!("origin {}", quote_literal(origin)),
        format!(
            "publication_names {}",
            quote_literal(&publication_names(publications))
        ),
    ];
    if binary {
        options.push("binary 'true'".into());
    }
    format!(
        "START_REPLICATION SLOT {} LOGICAL {start} ({})",
        quote_repl_ident(slot),
        options.join(", ")
    )
}

/// Connects to the publisher and starts streaming `slot` from `start`; the
/// returned client is in COPY mode.
pub(super) fn start_streaming(
    ctx: &WorkerCtx,
    sub: &SubscriptionDef,
    slot: &str,
    start: Lsn,
) -> PgResult<ReplClient> {
    let client = connect(ctx, sub, &conninfo_for(sub, &sub.name))?;
    start_on(ctx, client, sub, slot, start)
}

/// A `replication=database` connection with `conninfo` (the subscription's,
/// or one of its hosts), with the password rule of a non-superuser's
/// subscription checked.
pub(super) fn connect(
    ctx: &WorkerCtx,
    sub: &SubscriptionDef,
    conninfo: &str,
) -> PgResult<ReplClient> {
    let client = ReplClient::connect_mode(conninfo, "database").map_err(|e| {
        PgError::new(
            SqlState::CONNECTION_FAILURE,
            format!("could not connect to the publisher: {}", e.message),
        )
    })?;
    super::worker_internal::check_password_used(
        super::worker_internal::must_use_password(&ctx.db, sub),
        client.used_password,
    )?;
    Ok(client)
}

/// START_REPLICATION on a connected client; the returned client is in COPY
/// mode.
pub(super) fn start_on(
    ctx: &WorkerCtx,
    mut client: ReplClient,
    sub: &SubscriptionDef,
    slot: &str,
    start: Lsn,
) -> PgResult<ReplClient> {
    let cmd = start_command(slot, start, &sub.origin, &sub.publications, sub.binary);
    // The slot may still be held by the walsender of this worker's previous
    // run (a restart after a parameter change): retry that briefly.
    let mut attempts = 0;
    loop {
        client.send_query(&cmd)?;
        let started = loop {
            match client.read_message()? {
                BackendMessage::CopyBothResponse { .. } => break Ok(()),
                BackendMessage::ErrorResponse(e) => break Err(e.to_pg_error()),
                _ => {}
            }
        };
        match started {
            Ok(()) => return Ok(client),
            Err(e) if e.code == SqlState::OBJECT_IN_USE && attempts < 30 && !ctx.should_stop() => {
                attempts += 1;
                // wait for ReadyForQuery, then try again
                while !matches!(client.read_message()?, BackendMessage::ReadyForQuery(_)) {}
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => {
                return Err(PgError {
                    message: format!("could not start WAL streaming: ERROR:  {}", e.message),
                    ..e
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_command_quotes_each_layer() {
        let pubs = ["p1".to_string(), "it's \"q\"".to_string()];
        assert_eq!(
            start_command("s\"1", Lsn(0x16B_3748), "any", &pubs, false),
            "START_REPLICATION SLOT \"s\"\"1\" LOGICAL 0/16B3748 (proto_version '4', \
             origin 'any', publication_names '\"p1\",\"it''s \"\"q\"\"\"')"
        );
        assert!(start_command("s", Lsn(1), "none", &pubs[..1], true)
            .ends_with("origin 'none', publication_names '\"p1\"', binary 'true')"));
    }
}
