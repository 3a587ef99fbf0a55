//! Golden tests for the SQL applications and their tools use: each
//! `tests/app_sql/NAME.sql` is run by the real psql against a fresh tandem
//! node, and its output must equal `NAME.out`, recorded from PostgreSQL 17
//! by `scripts/record-golden.sh app_sql` (masking and comparison:
//! `tandem_testkit::golden`). Errors are part of each script: SQLSTATE
//! texts, DETAIL lines and command results are compared line by line.

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/app_sql");

tandem_testkit::golden_tests! {
    DIR;
    savepoints => "01_savepoints",
}
