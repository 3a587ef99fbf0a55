//! Application programs over real drivers: each program in `tests/clients`
//! runs against a fresh tandem node and a fresh PostgreSQL 17 server, and
//! must succeed on tandem and print the same on both (psycopg 3,
//! SQLAlchemy 2 and asyncpg from PyPI: `scripts/install-pyclients.sh`).

use tandem_testkit::{pg17, pyclients, Node};

const CLIENTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients");

/// Runs `program` on both servers and compares.
fn same_on_both(test: &str, program: &str) {
    let Some(python) = pyclients::require_python_clients(test) else {
        return;
    };
    if !pg17::require_pg17(test) {
        return;
    }
    let script = format!("{CLIENTS}/{program}");
    let mut pg = Node::init_pg17(&format!("{test}_pg"), &[("timezone", "'UTC'")]);
    pg.start();
    let mut tandem = Node::init(&format!("{test}_tandem"));
    tandem.start();
    let url = |n: &Node| {
        format!(
            "postgresql+psycopg://postgres@127.0.0.1:{}/postgres",
            n.port
        )
    };
    let (pg_ok, pg_out, pg_err) = pyclients::run(&python, &script, &[&url(&pg)]);
    let (ok, out, err) = pyclients::run(&python, &script, &[&url(&tandem)]);
    pg.stop();
    tandem.stop();
    assert!(
        pg_ok,
        "{program} fails on PostgreSQL 17:\n{pg_out}\n{pg_err}"
    );
    assert!(ok, "{program} fails on tandem:\n{out}\n{err}");
    assert_eq!(
        out, pg_out,
        "{program}: tandem's output differs from PostgreSQL 17's"
    );
}

#[test]
fn sqlalchemy_core_program() {
    same_on_both("t061_sqlalchemy", "sqlalchemy_core.py");
}

#[test]
fn asyncpg_program() {
    same_on_both("t061_asyncpg", "asyncpg_basics.py");
}
