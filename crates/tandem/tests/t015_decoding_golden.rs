//! Golden tests for logical decoding: each `tests/decoding/NAME.sql` is
//! run by the real psql against a fresh tandem node with `wal_level = logical`,
//! and its output must equal `NAME.out`, recorded from PostgreSQL 17 by
//! `scripts/record-golden.sh decoding` (masking and comparison:
//! `tandem_testkit::golden`). Corresponds to PostgreSQL's
//! contrib/test_decoding regression suite.

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/decoding");

tandem_testkit::golden_tests! {
    DIR;
    failover_slot_with_test_decoding => "01_failover_slot",
    dml_with_primary_key => "02_dml_primary_key",
    replica_identity => "03_replica_identity",
    types => "04_types",
    ddl_between_changes => "05_ddl",
    truncate => "06_truncate",
    transactions_and_options => "07_transactions",
    peek_and_limits => "08_peek_and_limits",
    messages => "09_messages",
    advance_and_copy => "10_advance_and_copy",
    slots_and_errors => "11_slots_and_errors",
    savepoints => "12_savepoints",
    on_conflict => "13_on_conflict",
    json_and_indexes => "14_json_and_indexes",
    time_and_time_zones => "15_time_and_time_zones",
    replica_identity_index => "16_replica_identity_index",
    enums => "17_enum",
}
