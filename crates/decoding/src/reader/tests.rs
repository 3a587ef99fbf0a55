//! Decoder tests: a real Database in a temporary directory, its WAL decoded and
//! printed with test_decoding.

use std::sync::Arc;

use tandem_storage::{
    BootstrapOptions, ColumnDef, Database, IsolationLevel, OpenOptions, PrimaryKey,
    ReplicaIdentity, TableDef, Transaction,
};
use tandem_types::{DataType, Lsn, Oid, Value};

use super::*;
use crate::test_decoding::TestDecoding;
use crate::Part;
use crate::{DecodedChange, OutputPlugin};

fn fresh() -> (tempfile::TempDir, Arc<Database>) {
    let dir = tempfile::tempdir().unwrap();
    Database::bootstrap(
        dir.path(),
        BootstrapOptions {
            superuser: "postgres".into(),
            password_verifier: None,
            wal_segment_size: 1 << 20,
        },
    )
    .unwrap();
    let db = Database::open(dir.path(), OpenOptions::new(false)).unwrap();
    (dir, db)
}

fn col(name: &str, ty: DataType) -> ColumnDef {
    ColumnDef {
        name: name.into(),
        data_type: ty,
        not_null: false,
        default: None,
        dropped: false,
    }
}

fn begin(db: &Arc<Database>) -> Transaction {
    let mut t = db.begin(IsolationLevel::ReadCommitted, false);
    t.start_statement();
    t
}

fn commit(db: &Arc<Database>, t: Transaction) {
    if let Some(end) = t.commit().unwrap() {
        db.wal().flush(end).unwrap();
    }
}

/// `create table name (id integer primary key?, v text)` inside `t`.
fn create(t: &mut Transaction, name: &str, pk: bool) -> TableDef {
    let oid = t.allocate_oid();
    let mut id = col("id", DataType::Int4);
    id.not_null = pk;
    let def = TableDef {
        oid,
        schema: "public".into(),
        name: name.into(),
        columns: vec![id, col("v", DataType::Text)],
        primary_key: pk.then(|| PrimaryKey {
            name: format!("{name}_pkey"),
            columns: vec![0],
        }),
        replica_identity: ReplicaIdentity::Default,
        owner: Oid(10),
    };
    t.put_table(def.clone(), None).unwrap();
    def
}

fn row(id: i32, v: &str) -> Vec<Value> {
    vec![Value::Int4(id), Value::Text(v.into())]
}

fn key_of(t: &Transaction, table: Oid, id: i32) -> tandem_storage::RowKey {
    t.get_by_pk(table, &[Value::Int4(id)]).unwrap().unwrap().0
}

fn set_identity(db: &Arc<Database>, def: &TableDef, ri: ReplicaIdentity) -> TableDef {
    let mut t = begin(db);
    let mut d = (**t.catalog().tables.get(&def.oid).unwrap()).clone();
    d.replica_identity = ri;
    t.put_table(d.clone(), None).unwrap();
    commit(db, t);
    d
}

fn decoder_at_start(db: &Arc<Database>) -> (Decoder, Lsn) {
    let start = db.wal().insert_lsn();
    (Decoder::new(db.wal().clone(), db.catalog(), start), start)
}

fn all(dec: &mut Decoder, db: &Arc<Database>) -> Vec<Decoded> {
    let mut out = Vec::new();
    while let Some(d) = dec.next(db.wal().flush_lsn()).unwrap() {
        out.push(d);
    }
    out
}

/// test_decoding's rows (data only) for everything decoded.
fn printed(items: &[Decoded], options: &[(&str, Option<&str>)]) -> Vec<String> {
    let opts: Vec<(String, Option<String>)> = options
        .iter()
        .map(|(k, v)| (k.to_string(), v.map(str::to_string)))
        .collect();
    let mut p = TestDecoding::new(&opts).unwrap();
    let cat = tandem_storage::Catalog::default();
    let mut rows = Vec::new();
    let mut push = |r: crate::OutputRow| {
        rows.push(String::from_utf8_lossy(&r.data).into_owned());
        Ok(())
    };
    for item in items {
        match item {
            Decoded::Txn(t) => p.transaction(t, &cat, &mut push).unwrap(),
            Decoded::Message(m) => p.message(m, &cat, &mut push).unwrap(),
        }
    }
    rows
}

fn txn(d: &Decoded) -> &DecodedTxn {
    match d {
        Decoded::Txn(t) => t,
        Decoded::Message(m) => panic!("expected a transaction, got {m:?}"),
    }
}

#[test]
fn changes_decode_with_postgres_old_row_rules() {
    let (_dir, db) = fresh();
    let (mut dec, _) = decoder_at_start(&db);

    let mut t = begin(&db);
    let def = create(&mut t, "bdt", true);
    commit(&db, t);
    let oid = def.oid;

    let mut t = begin(&db);
    t.insert(oid, row(1, "a")).unwrap();
    t.insert(oid, row(2, "b")).unwrap();
    commit(&db, t);

    // REPLICA IDENTITY DEFAULT: old key only when the key changes.
    let mut t = begin(&db);
    let k1 = key_of(&t, oid, 1);
    t.lock_row(oid, &k1, None).unwrap();
    t.update(oid, &k1, row(1, "x")).unwrap();
    let k2 = key_of(&t, oid, 2);
    t.lock_row(oid, &k2, None).unwrap();
    t.update(oid, &k2, row(3, "b")).unwrap();
    let k3 = key_of(&t, oid, 3);
    t.delete(oid, &k3).unwrap();
    commit(&db, t);

    set_identity(&db, &def, ReplicaIdentity::Full);
    let mut t = begin(&db);
    let k1 = key_of(&t, oid, 1);
    t.lock_row(oid, &k1, None).unwrap();
    t.update(oid, &k1, row(1, "y")).unwrap();
    commit(&db, t);

    set_identity(&db, &def, ReplicaIdentity::Nothing);
    let mut t = begin(&db);
    let k1 = key_of(&t, oid, 1);
    t.lock_row(oid, &k1, None).unwrap();
    t.update(oid, &k1, row(1, "z")).unwrap();
    t.delete(oid, &k1).unwrap();
    commit(&db, t);

    let items = all(&mut dec, &db);
    assert_eq!(
        printed(&items, &[("include-xids", Some("0"))]),
        [
            "BEGIN",
            "COMMIT",
            "BEGIN",
            "table public.bdt: INSERT: id[integer]:1 v[text]:'a'",
            "table public.bdt: INSERT: id[integer]:2 v[text]:'b'",
            "COMMIT",
            "BEGIN",
            "table public.bdt: UPDATE: id[integer]:1 v[text]:'x'",
            "table public.bdt: UPDATE: old-key: id[integer]:2 new-tuple: id[integer]:3 v[text]:'b'",
            "table public.bdt: DELETE: id[integer]:3",
            "COMMIT",
            "BEGIN",
            "COMMIT",
            "BEGIN",
            "table public.bdt: UPDATE: old-key: id[integer]:1 v[text]:'x' new-tuple: id[integer]:1 v[text]:'y'",
            "COMMIT",
            "BEGIN",
            "COMMIT",
            "BEGIN",
            "table public.bdt: UPDATE: id[integer]:1 v[text]:'z'",
            "table public.bdt: DELETE: (no-tuple-data)",
            "COMMIT",
        ]
    );
    assert!(txn(&items[0]).has_catalog_changes);
    assert!(!txn(&items[1]).has_catalog_changes);
    // Positions: BEGIN at the first record, COMMIT's end is where decoding
    // continues, each change at its record's start, in order.
    let t = txn(&items[2]);
    assert_eq!(t.info.first_lsn, t.changes[0].0);
    assert!(t.changes[0].0 < t.changes[1].0 && t.changes[2].0 < t.info.commit_lsn);
    assert!(t.info.commit_lsn < t.info.end_lsn);
    assert_eq!(dec.position(), db.wal().flush_lsn());
    assert_eq!(dec.next(db.wal().flush_lsn()).unwrap(), None);
}

#[test]
fn ddl_between_changes_uses_the_definition_in_force() {
    let (_dir, db) = fresh();
    let (mut dec, _) = decoder_at_start(&db);
    let mut t = begin(&db);
    let def = create(&mut t, "nopk", false);
    let oid = def.oid;
    t.insert(oid, row(1, "a")).unwrap();
    commit(&db, t);

    let mut t = begin(&db);
    t.insert(oid, row(2, "q")).unwrap();
    // ALTER TABLE nopk ADD COLUMN z integer DEFAULT 7
    let mut d = def.clone();
    d.columns.push(col("z", DataType::Int4));
    t.put_table(d.clone(), Some(Value::Int4(7))).unwrap();
    t.insert(
        oid,
        vec![Value::Int4(3), Value::Text("r".into()), Value::Int4(4)],
    )
    .unwrap();
    // ALTER TABLE nopk DROP COLUMN v
    d.columns[1].dropped = true;
    t.put_table(d.clone(), None).unwrap();
    t.insert(oid, vec![Value::Int4(4), Value::Null, Value::Int4(8)])
        .unwrap();
    commit(&db, t);

    // A row written before ADD COLUMN reads as the fill value in a FULL image.
    let mut d2 = d.clone();
    d2.replica_identity = ReplicaIdentity::Full;
    let mut t = begin(&db);
    t.put_table(d2, None).unwrap();
    let mut first = None;
    t.scan(oid, &mut |k, r| {
        if r[0] == Value::Int4(1) {
            first = Some(k.clone());
        }
        Ok(true)
    })
    .unwrap();
    let k = first.unwrap();
    t.delete(oid, &k).unwrap();
    commit(&db, t);

    let items = all(&mut dec, &db);
    assert_eq!(
        printed(&items, &[("skip-empty-xacts", None)]),
        [
            format!("BEGIN {}", txn(&items[0]).info.xid),
            "table public.nopk: INSERT: id[integer]:1 v[text]:'a'".to_string(),
            format!("COMMIT {}", txn(&items[0]).info.xid),
            format!("BEGIN {}", txn(&items[1]).info.xid),
            "table public.nopk: INSERT: id[integer]:2 v[text]:'q'".to_string(),
            "table public.nopk: INSERT: id[integer]:3 v[text]:'r' z[integer]:4".to_string(),
            "table public.nopk: INSERT: id[integer]:4 z[integer]:8".to_string(),
            format!("COMMIT {}", txn(&items[1]).info.xid),
            format!("BEGIN {}", txn(&items[2]).info.xid),
            "table public.nopk: DELETE: id[integer]:1 z[integer]:7".to_string(),
            format!("COMMIT {}", txn(&items[2]).info.xid),
        ]
    );
    // The changes carry the definition of their moment.
    let t = txn(&items[1]);
    match (&t.changes[0].1, &t.changes[2].1) {
        (DecodedChange::Insert { rel: before, .. }, DecodedChange::Insert { rel: after, .. }) => {
            assert_eq!(before.columns.len(), 2);
            assert_eq!(after.columns.len(), 3);
            assert!(after.columns[1].dropped);
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(t.has_catalog_changes);
    // The decoder's catalog follows the WAL.
    assert_eq!(
        dec.catalog().tables[&oid].replica_identity,
        ReplicaIdentity::Full
    );
}

#[test]
fn messages_are_decoded_in_order() {
    let (_dir, db) = fresh();
    let mut t = begin(&db);
    let def = create(&mut t, "m", false);
    commit(&db, t);
    let (mut dec, _) = decoder_at_start(&db);

    // Message-only transaction: the message assigns an xid, so a COMMIT is
    // written.
    let mut t = begin(&db);
    t.emit_message("p", b"abc").unwrap();
    commit(&db, t);

    let plain_end = db
        .emit_message_nontransactional("np", b"hello", None, true)
        .unwrap();

    let mut t = begin(&db);
    t.insert(def.oid, row(9, "9")).unwrap();
    t.emit_message("mid", b"").unwrap();
    let xid = t.xid();
    let inner_end = db
        .emit_message_nontransactional("ntx", b"x", xid, false)
        .unwrap();
    t.insert(def.oid, row(10, "10")).unwrap();
    // Rolled back with its savepoint: not logged.
    let sp = t.savepoint();
    t.emit_message("gone", b"!").unwrap();
    t.rollback_to(&sp);
    commit(&db, t);

    // A rolled-back transaction writes nothing.
    let mut t = begin(&db);
    t.emit_message("never", b"").unwrap();
    t.rollback();

    let items = all(&mut dec, &db);
    assert_eq!(
        printed(&items, &[("include-xids", Some("off"))]),
        [
            "BEGIN",
            "message: transactional: 1 prefix: p, sz: 3 content:abc",
            "COMMIT",
            "message: transactional: 0 prefix: np, sz: 5 content:hello",
            "message: transactional: 0 prefix: ntx, sz: 1 content:x",
            "BEGIN",
            "table public.m: INSERT: id[integer]:9 v[text]:'9'",
            "message: transactional: 1 prefix: mid, sz: 0 content:",
            "table public.m: INSERT: id[integer]:10 v[text]:'10'",
            "COMMIT",
        ]
    );
    let first = txn(&items[0]);
    // A message is reported at the end of its record.
    assert!(first.changes[0].0 > first.info.first_lsn);
    assert_eq!(first.changes[0].0, first.info.commit_lsn);
    match (&items[1], &items[2]) {
        (Decoded::Message(a), Decoded::Message(b)) => {
            assert_eq!(a.end_lsn, plain_end);
            assert_eq!(a.xid.0, 0);
            assert_eq!(b.end_lsn, inner_end);
            assert_eq!(Some(b.xid), xid);
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(Some(txn(&items[3]).info.xid), xid);
}

#[test]
fn a_transaction_past_the_limit_waits_and_lock_only_ones_are_skipped() {
    let (_dir, db) = fresh();
    let mut t = begin(&db);
    let def = create(&mut t, "t", true);
    commit(&db, t);
    let (mut dec, start) = decoder_at_start(&db);

    // Only a row lock: a COMMIT without changes, nothing to decode.
    let mut t = begin(&db);
    t.assign_xid();
    commit(&db, t);

    let mut t = begin(&db);
    t.insert(def.oid, row(1, "a")).unwrap();
    t.insert(def.oid, row(2, "b")).unwrap();
    commit(&db, t);
    let flush = db.wal().flush_lsn();

    // Stop inside the transaction: nothing, and it is read again later.
    let mut probe = Decoder::new(db.wal().clone(), db.catalog(), start);
    let Some(Decoded::Txn(whole)) = probe.next(flush).unwrap() else {
        panic!("expected the transaction");
    };
    for limit in [
        whole.info.first_lsn,
        whole.changes[1].0,
        whole.info.commit_lsn,
    ] {
        assert_eq!(dec.next(limit).unwrap(), None);
        assert_eq!(dec.position(), whole.info.first_lsn);
    }
    assert_eq!(dec.next(Lsn(whole.info.end_lsn.0 - 1)).unwrap(), None);
    let Some(Decoded::Txn(again)) = dec.next(whole.info.end_lsn).unwrap() else {
        panic!("expected the transaction at its end");
    };
    assert_eq!(again, whole);
    assert_eq!(dec.position(), whole.info.end_lsn);
    assert_eq!(dec.next(flush).unwrap(), None);

    // More WAL later: the same decoder continues.
    let mut t = begin(&db);
    t.insert(def.oid, row(3, "c")).unwrap();
    commit(&db, t);
    let items = all(&mut dec, &db);
    assert_eq!(items.len(), 1);
    assert_eq!(txn(&items[0]).changes.len(), 1);
}

#[test]
fn truncate_carries_its_flags_and_tables() {
    let (_dir, db) = fresh();
    let mut t = begin(&db);
    let a = create(&mut t, "a", true);
    let b = create(&mut t, "b", false);
    commit(&db, t);
    let (mut dec, _) = decoder_at_start(&db);
    let mut t = begin(&db);
    t.truncate(&[a.oid]).unwrap();
    commit(&db, t);
    let mut t = begin(&db);
    t.truncate_with(&[a.oid, b.oid], true, false).unwrap();
    commit(&db, t);
    let mut t = begin(&db);
    t.truncate_with(&[b.oid], true, true).unwrap();
    commit(&db, t);
    let items = all(&mut dec, &db);
    let rows = printed(&items, &[("skip-empty-xacts", Some("on"))]);
    let data: Vec<&str> = rows
        .iter()
        .map(String::as_str)
        .filter(|r| r.starts_with("table"))
        .collect();
    assert_eq!(
        data,
        [
            "table public.a: TRUNCATE: (no-flags)",
            "table public.a, public.b: TRUNCATE: restart_seqs",
            "table public.b: TRUNCATE: restart_seqs cascade",
        ]
    );
}

#[test]
fn recovery_skips_messages_and_decoding_works_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    Database::bootstrap(
        dir.path(),
        BootstrapOptions {
            superuser: "postgres".into(),
            password_verifier: None,
            wal_segment_size: 1 << 20,
        },
    )
    .unwrap();
    let (start, catalog, msg_xid) = {
        let db = Database::open(dir.path(), OpenOptions::new(false)).unwrap();
        let start = db.wal().insert_lsn();
        let catalog = db.catalog();
        let mut t = begin(&db);
        let def = create(&mut t, "r", true);
        t.insert(def.oid, row(1, "a")).unwrap();
        t.emit_message("p", b"in").unwrap();
        commit(&db, t);
        let mut t = begin(&db);
        let xid = t.assign_xid();
        db.emit_message_nontransactional("q", b"out", Some(xid), true)
            .unwrap();
        t.emit_message("only", b"m").unwrap();
        commit(&db, t);
        (start, catalog, xid)
    };
    let db = Database::open(dir.path(), OpenOptions::new(false)).unwrap();
    assert!(db.control().next_xid.0 > msg_xid.0);
    assert_eq!(db.catalog().tables.len(), 1);
    let mut dec = Decoder::new(db.wal().clone(), catalog, start);
    let items = all(&mut dec, &db);
    assert_eq!(
        printed(&items, &[("include-xids", Some("0"))]),
        [
            "BEGIN",
            "table public.r: INSERT: id[integer]:1 v[text]:'a'",
            "message: transactional: 1 prefix: p, sz: 2 content:in",
            "COMMIT",
            "message: transactional: 0 prefix: q, sz: 3 content:out",
            "BEGIN",
            "message: transactional: 1 prefix: only, sz: 1 content:m",
            "COMMIT",
        ]
    );
}

#[test]
fn origins_create_advance_drop_and_only_local() {
    let (_dir, db) = fresh();
    let mut t = begin(&db);
    let def = create(&mut t, "t", true);
    commit(&db, t);
    let (mut dec, _) = decoder_at_start(&db);
    // create: a catalog-only transaction (BEGIN/COMMIT as in PostgreSQL)
    let mut t = begin(&db);
    let id = t.create_origin("o1").unwrap();
    let create_xid = t.xid().unwrap();
    commit(&db, t);
    // advance: an empty commit with an origin; decoded as nothing
    let end = db.advance_origin(id, Lsn(0x5555)).unwrap();
    db.wal().flush(end).unwrap();
    // an applied remote transaction, then a local one
    let mut t = begin(&db);
    t.insert(def.oid, row(1, "remote")).unwrap();
    t.set_origin(Some(tandem_storage::CommitOrigin {
        origin: id,
        remote_lsn: Lsn(0x6000),
        remote_time: 0,
    }));
    let remote_xid = t.xid().unwrap();
    commit(&db, t);
    let mut t = begin(&db);
    t.insert(def.oid, row(2, "local")).unwrap();
    let local_xid = t.xid().unwrap();
    commit(&db, t);
    let items = all(&mut dec, &db);
    assert_eq!(items.len(), 3);
    assert_eq!(txn(&items[0]).info.xid, create_xid);
    assert_eq!(txn(&items[1]).info.origin.map(|o| o.origin), Some(id));
    assert_eq!(
        printed(&items, &[]),
        vec![
            format!("BEGIN {create_xid}"),
            format!("COMMIT {create_xid}"),
            format!("BEGIN {remote_xid}"),
            "table public.t: INSERT: id[integer]:1 v[text]:'remote'".to_string(),
            format!("COMMIT {remote_xid}"),
            format!("BEGIN {local_xid}"),
            "table public.t: INSERT: id[integer]:2 v[text]:'local'".to_string(),
            format!("COMMIT {local_xid}"),
        ]
    );
    assert_eq!(
        printed(
            &items,
            &[("skip-empty-xacts", Some("1")), ("only-local", Some("1"))]
        ),
        vec![
            format!("BEGIN {local_xid}"),
            "table public.t: INSERT: id[integer]:2 v[text]:'local'".to_string(),
            format!("COMMIT {local_xid}"),
        ]
    );
}

/// Every part the decoder yields for the transaction it is in, with the
/// position it reports after each.
fn parts_of(dec: &mut Decoder, limit: Lsn) -> Vec<(DecodedTxn, Lsn)> {
    let mut parts = Vec::new();
    loop {
        match dec.next(limit).unwrap() {
            Some(Decoded::Txn(t)) => {
                let last = t.part.last;
                parts.push((t, dec.position()));
                if last {
                    return parts;
                }
            }
            other => panic!("expected a part, got {other:?}"),
        }
    }
}

#[test]
fn a_large_transaction_comes_in_parts_that_print_as_the_whole() {
    let (_dir, db) = fresh();
    let mut t = begin(&db);
    let def = create(&mut t, "big", true);
    commit(&db, t);
    let oid = def.oid;
    let start = db.wal().insert_lsn();

    // One transaction of 2 500 inserts, an ADD COLUMN and a message half way,
    // then updates and deletes.
    let mut t = begin(&db);
    for i in 0..1200 {
        t.insert(oid, row(i, &format!("row {i}"))).unwrap();
    }
    t.emit_message("half", b"way").unwrap();
    let mut d = def.clone();
    d.columns.push(col("z", DataType::Int4));
    t.put_table(d, Some(Value::Int4(7))).unwrap();
    for i in 1200..2500 {
        t.insert(
            oid,
            vec![
                Value::Int4(i),
                Value::Text(format!("row {i}")),
                Value::Int4(i),
            ],
        )
        .unwrap();
    }
    for i in (0..2500).step_by(7) {
        let k = key_of(&t, oid, i);
        let new = vec![
            Value::Int4(i),
            Value::Text("changed".into()),
            Value::Int4(-i),
        ];
        t.update(oid, &k, new).unwrap();
    }
    for i in (0..2500).step_by(11) {
        let k = key_of(&t, oid, i);
        t.delete(oid, &k).unwrap();
    }
    commit(&db, t);
    // A transaction of DDL only, large enough to be decoded in parts too.
    let mut t = begin(&db);
    for i in 0..40 {
        create(&mut t, &format!("ddl_only_{i}"), true);
    }
    commit(&db, t);
    // A small one after them.
    let mut t = begin(&db);
    t.insert(
        oid,
        vec![Value::Int4(9999), Value::Text("last".into()), Value::Null],
    )
    .unwrap();
    commit(&db, t);
    let flush = db.wal().flush_lsn();

    let mut whole_dec = Decoder::new(db.wal().clone(), db.catalog_at(start), start);
    let whole = all(&mut whole_dec, &db);
    assert_eq!(whole.len(), 3);
    let big = txn(&whole[0]).clone();
    assert_eq!(big.part, Part::WHOLE);

    let in_parts =
        || Decoder::new(db.wal().clone(), db.catalog_at(start), start).with_whole_limit(1024);
    // Below the big transaction's COMMIT: nothing yet, however often asked,
    // and the position stays at its start.
    let mut dec = in_parts();
    for limit in [big.changes[5].0, big.changes[2000].0, big.info.commit_lsn] {
        assert_eq!(dec.next(limit).unwrap(), None);
        assert_eq!(dec.position(), start);
    }
    // Then its parts, in order, the position moving only with the last.
    let parts = parts_of(&mut dec, big.info.end_lsn);
    assert!(parts.len() > 2, "{} parts", parts.len());
    let mut changes = Vec::new();
    for (i, (p, pos)) in parts.iter().enumerate() {
        let last = i == parts.len() - 1;
        assert_eq!(
            p.part,
            Part {
                first: i == 0,
                last
            }
        );
        assert_eq!(p.info, big.info);
        if !last {
            assert_eq!(p.changes.len(), PART_CHANGES);
            assert_eq!(*pos, start);
        } else {
            assert_eq!(*pos, big.info.end_lsn);
            assert!(p.has_catalog_changes);
        }
        changes.extend(p.changes.iter().cloned());
    }
    assert_eq!(changes, big.changes);
    // The plugin saw the catalog after the transaction in every part, as it
    // does for a transaction decoded whole.
    assert_eq!(dec.catalog().tables[&oid].columns.len(), 3);

    // The rest follows: the DDL-only transaction as one part, then the small
    // one whole.
    let ddl = parts_of(&mut dec, flush);
    assert_eq!(ddl.len(), 1);
    assert_eq!(ddl[0].0, *txn(&whole[1]));
    let Some(Decoded::Txn(small)) = dec.next(flush).unwrap() else {
        panic!("expected the small transaction");
    };
    assert_eq!(small, *txn(&whole[2]));
    assert_eq!(dec.next(flush).unwrap(), None);

    // test_decoding prints the parts exactly as the whole, with and without
    // skipping empty transactions.
    let mut dec = in_parts();
    let parted = all(&mut dec, &db);
    assert!(parted.len() > 4);
    for options in [&[][..], &[("skip-empty-xacts", None)][..]] {
        let (a, b) = (printed(&whole, options), printed(&parted, options));
        assert_eq!(a.len(), b.len());
        assert!(a == b, "parts print differently with {options:?}");
    }
    let lines = printed(&parted, &[]);
    assert!(
        lines.contains(&"message: transactional: 1 prefix: half, sz: 3 content:way".to_string())
    );
}
