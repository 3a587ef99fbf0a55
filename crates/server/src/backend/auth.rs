//! Client authentication once pg_hba.conf chose a method: `trust`, `reject`,
//! `password` (cleartext, checked against the SCRAM verifier) and
//! `scram-sha-256` (also used for `md5` lines, as PostgreSQL does when the stored
//! password is a SCRAM verifier, which in tandem it always is).
//!
//! A role that does not exist, or has no password, still goes through the full
//! password exchange and then fails with the same `28P01 password authentication
//! failed for user "u"` as a wrong password, so a client learns nothing about
//! which roles exist. The reason goes to the server log only, as PostgreSQL's
//! DETAIL (`Role "u" does not exist.`). A client that hangs up when asked for a
//! password (psql does, to prompt for one, then reconnects) is not an error.
//!
//! Corresponds to PostgreSQL's `src/backend/libpq/auth.c` (`ClientAuthentication`,
//! `CheckPasswordAuth`, `CheckSASLAuth`).

use tandem_protocol::frontend::{decode_password, decode_sasl_initial};
use tandem_protocol::scram::{self, ScramOutcome, ScramServer};
use tandem_protocol::BackendMessage;
use tandem_storage::RoleDef;
use tandem_types::{PgError, SqlState};

use crate::backend::hba::{HbaLine, Method};
use crate::backend::pqcomm::{fatal, protocol_fatal, Conn, ReadError};

pub(crate) enum AuthOutcome {
    Ok,
    /// The client closed the connection during the exchange.
    ClientGone,
    /// Send `client` (FATAL) to the client; log it with `log_detail` added.
    Failed {
        client: PgError,
        log_detail: Option<String>,
    },
}

fn password_failed(user: &str, reason: String, line: &HbaLine, hba_path: &str) -> AuthOutcome {
    AuthOutcome::Failed {
        client: PgError::fatal(
            SqlState::INVALID_PASSWORD,
            format!("password authentication failed for user \"{user}\""),
        ),
        log_detail: Some(format!(
            "{reason}\n\tConnection matched file \"{hba_path}\" line {}: \"{}\"",
            line.line_number, line.raw
        )),
    }
}

enum Read {
    Body(Vec<u8>),
    Gone,
    Failed(PgError),
}

/// Flushes, then reads the client's `p` message.
fn read_auth_response(conn: &mut Conn, expected: &str) -> Read {
    if conn.flush().is_err() {
        return Read::Gone;
    }
    match conn.read_raw_message() {
        Ok(Some((b'p', body))) => Read::Body(body),
        Ok(Some((tag, _))) => Read::Failed(protocol_fatal(format!(
            "expected {expected} response, got message type {tag}"
        ))),
        Ok(None) | Err(ReadError::Eof) => Read::Gone,
        Err(ReadError::Protocol { err, .. }) => Read::Failed(fatal(err)),
    }
}

/// Runs the exchange for `line.method`. `role` is `None` for an unknown role.
pub(crate) fn authenticate(
    conn: &mut Conn,
    line: &HbaLine,
    hba_path: &str,
    user: &str,
    role: Option<&RoleDef>,
) -> AuthOutcome {
    match &line.method {
        Method::Trust => match role {
            Some(_) => AuthOutcome::Ok,
            None => AuthOutcome::Failed {
                client: PgError::fatal(
                    SqlState::INVALID_AUTHORIZATION_SPECIFICATION,
                    format!("role \"{user}\" does not exist"),
                ),
                log_detail: None,
            },
        },
        // find_hba turns reject into its own error before we get here
        Method::Reject => AuthOutcome::Failed {
            client: PgError::fatal(
                SqlState::INVALID_AUTHORIZATION_SPECIFICATION,
                "pg_hba.conf rejects connection",
            ),
            log_detail: None,
        },
        Method::Password => {
            conn.send(&BackendMessage::AuthenticationCleartextPassword);
            let body = match read_auth_response(conn, "password") {
                Read::Body(b) => b,
                Read::Gone => return AuthOutcome::ClientGone,
                Read::Failed(e) => {
                    return AuthOutcome::Failed {
                        client: e,
                        log_detail: None,
                    }
                }
            };
            let password = match decode_password(&body) {
                Ok(p) => p,
                Err(e) => {
                    return AuthOutcome::Failed {
                        client: fatal(e),
                        log_detail: None,
                    }
                }
            };
            if password.is_empty() {
                return AuthOutcome::Failed {
                    client: PgError::fatal(
                        SqlState::INVALID_PASSWORD,
                        "empty password returned by client",
                    ),
                    log_detail: None,
                };
            }
            match role.map(|r| r.password.as_deref()) {
                None => password_failed(
                    user,
                    format!("Role \"{user}\" does not exist."),
                    line,
                    hba_path,
                ),
                Some(None) => password_failed(
                    user,
                    format!("User \"{user}\" has no password assigned."),
                    line,
                    hba_path,
                ),
                Some(Some(v)) if scram::verify_plain_password(v, &password) => AuthOutcome::Ok,
                Some(Some(_)) => password_failed(
                    user,
                    format!("Password does not match for user \"{user}\"."),
                    line,
                    hba_path,
                ),
            }
        }
        Method::ScramSha256 | Method::Md5 => scram_exchange(conn, line, hba_path, user, role),
        Method::Unsupported(name) => AuthOutcome::Failed {
            client: PgError::fatal(
                SqlState::INVALID_AUTHORIZATION_SPECIFICATION,
                format!("authentication method \"{name}\" is not supported"),
            ),
            log_detail: None,
        },
    }
}

fn scram_exchange(
    conn: &mut Conn,
    line: &HbaLine,
    hba_path: &str,
    user: &str,
    role: Option<&RoleDef>,
) -> AuthOutcome {
    let verifier = role.and_then(|r| r.password.as_deref());
    let mut server = ScramServer::new(verifier);
    conn.send(&BackendMessage::AuthenticationSasl {
        mechanisms: vec![scram::MECHANISM.to_string()],
    });
    let body = match read_auth_response(conn, "SASL") {
        Read::Body(b) => b,
        Read::Gone => return AuthOutcome::ClientGone,
        Read::Failed(e) => {
            return AuthOutcome::Failed {
                client: e,
                log_detail: None,
            }
        }
    };
    let (mechanism, data) = match decode_sasl_initial(&body) {
        Ok(x) => x,
        Err(e) => {
            return AuthOutcome::Failed {
                client: fatal(e),
                log_detail: None,
            }
        }
    };
    if mechanism != scram::MECHANISM {
        return AuthOutcome::Failed {
            client: protocol_fatal("client selected an invalid SASL authentication mechanism"),
            log_detail: None,
        };
    }
    let step = data
        .ok_or_else(|| protocol_fatal("malformed SCRAM message"))
        .and_then(|d| server.client_first(&d));
    let server_first = match step {
        Ok(s) => s,
        Err(e) => {
            return AuthOutcome::Failed {
                client: fatal(e),
                log_detail: None,
            }
        }
    };
    conn.send(&BackendMessage::AuthenticationSaslContinue(server_first));
    let body = match read_auth_response(conn, "SASL") {
        Read::Body(b) => b,
        Read::Gone => return AuthOutcome::ClientGone,
        Read::Failed(e) => {
            return AuthOutcome::Failed {
                client: e,
                log_detail: None,
            }
        }
    };
    match server.client_final(&body) {
        Ok(ScramOutcome::Success(server_final)) => {
            conn.send(&BackendMessage::AuthenticationSaslFinal(server_final));
            AuthOutcome::Ok
        }
        Ok(ScramOutcome::Failure) => {
            let reason = match role {
                None => format!("Role \"{user}\" does not exist."),
                Some(r) if r.password.is_none() => {
                    format!("User \"{user}\" has no password assigned.")
                }
                Some(_) => format!("Password does not match for user \"{user}\"."),
            };
            password_failed(user, reason, line, hba_path)
        }
        Err(e) => AuthOutcome::Failed {
            client: fatal(e),
            log_detail: None,
        },
    }
}
