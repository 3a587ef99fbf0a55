//! A backend: one client connection's protocol, from the bytes on the socket to
//! the session. `startup.rs` (startup packet, authentication) and `postgres.rs`
//! (the query loop) are the two phases of a connection's life; the rest is what
//! they use: `pqcomm.rs` (sockets, TLS streams, message framing), `tls.rs`,
//! `hba.rs` (pg_hba.conf), `auth.rs` (password and SCRAM exchanges),
//! `printtup.rs` (rows and COPY data out to the client).
//!
//! Which thread runs a backend, and how a connection becomes a backend or a
//! walsender, is the postmaster's `backend_startup.rs`.

pub(crate) mod auth;
pub(crate) mod hba;
pub(crate) mod postgres;
pub(crate) mod pqcomm;
pub(crate) mod printtup;
pub(crate) mod startup;
pub(crate) mod tls;
