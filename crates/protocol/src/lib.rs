//! PostgreSQL frontend/backend protocol version 3.0, sans I/O: message encoding
//! and decoding for both sides (server: decode frontend, encode backend; client,
//! for the walreceiver and the apply worker: the reverse), and SCRAM-SHA-256.
//!
//! Nothing here touches a socket. The server reads a header, asks
//! [`frontend::decode_header`] how long the body may be, reads it, and hands it to
//! [`frontend::decode_message`]; it answers by appending
//! [`backend::BackendMessage`]s (or the hot-path helpers in [`buf`]) to a buffer it
//! flushes when it chooses. Every decoder validates as PostgreSQL does and returns
//! `08P01` errors with PostgreSQL's texts; none panics on any input.
//!
//! | module     | PostgreSQL                                   |
//! |------------|----------------------------------------------|
//! | `buf`      | `libpq/pqformat.c`                           |
//! | `frontend` | `postmaster/backend_startup.c`, `tcop/postgres.c` |
//! | `backend`  | `libpq/pqformat.c`, `utils/error/elog.c`     |
//! | `replication` | `replication/walsender.c`, `walreceiver.c` (CopyBoth payloads) |
//! | `scram`    | `libpq/auth-scram.c`, `interfaces/libpq/fe-auth-scram.c` |

pub mod backend;
pub mod buf;
pub mod frontend;
pub mod replication;
pub mod scram;

pub use backend::{encode_error, BackendMessage, ErrorFields, FieldDesc};
pub use frontend::{FrontendMessage, StartupPacket, Target};
