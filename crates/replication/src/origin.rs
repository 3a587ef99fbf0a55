//! Names of the replication origins logical replication creates (PostgreSQL's
//! `ReplicationOriginNameForLogicalRep` in `replication/logical/worker.c`).
//!
//! `CREATE SUBSCRIPTION` creates the origin and the apply worker advances it;
//! both must spell the name the same way.

use tandem_types::Oid;

/// The replication origin of subscription `sub`'s apply worker: `pg_<oid>`.
pub fn origin_name(sub: Oid) -> String {
    format!("pg_{}", sub.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apply_origin_is_pg_and_the_subscription_oid() {
        assert_eq!(origin_name(Oid(16394)), "pg_16394");
    }
}
