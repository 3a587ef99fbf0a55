//! PostgreSQL frontend/backend protocol, sans I/O: message encoding and decoding for
//! both sides (server: decode frontend, encode backend; client, for the later
//! walreceiver and apply worker: the reverse), and SCRAM-SHA-256.
//!
//! INTERFACE STUB (written by the lead): the server helper owns this crate.

pub mod scram {
    //! SCRAM-SHA-256 (RFC 5802/7677) as PostgreSQL uses it.

    /// Builds a PostgreSQL-format verifier for `password`:
    /// `SCRAM-SHA-256$4096:<salt b64>$<StoredKey b64>:<ServerKey b64>`.
    pub fn make_verifier(password: &str) -> String {
        let _ = password;
        todo!()
    }
}
