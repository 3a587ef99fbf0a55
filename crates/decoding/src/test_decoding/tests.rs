//! test_decoding output compared with rows captured from PostgreSQL 17.11's
//! contrib/test_decoding for the same changes.

use std::sync::Arc;

use tandem_storage::{ColumnDef, CommitOrigin, PrimaryKey, ReplicaIdentity, TableDef};
use tandem_types::{DataType, Lsn, Oid, SqlState, Value, Xid};

use super::*;
use crate::{DecodedTxn, TxnInfo};

fn col(name: &str, ty: DataType) -> ColumnDef {
    ColumnDef {
        name: name.into(),
        data_type: ty,
        not_null: false,
        default: None,
        dropped: false,
    }
}

fn table(name: &str, columns: Vec<ColumnDef>, pk: Option<Vec<usize>>) -> Arc<TableDef> {
    Arc::new(TableDef {
        oid: Oid(16384),
        schema: "public".into(),
        name: name.into(),
        columns,
        primary_key: pk.map(|columns| PrimaryKey {
            name: format!("{name}_pkey"),
            columns,
        }),
        replica_identity: ReplicaIdentity::Default,
        owner: Oid(10),
    })
}

/// `create table bdt (a integer primary key, b text, c varchar(10),
/// d numeric(10,2), e boolean, f bytea, g integer[], h timestamptz,
/// "Odd Col" float8, i bpchar(3), j char)`
fn bdt() -> Arc<TableDef> {
    table(
        "bdt",
        vec![
            col("a", DataType::Int4),
            col("b", DataType::Text),
            col("c", DataType::Varchar(Some(10))),
            col("d", DataType::Numeric(Some((10, 2)))),
            col("e", DataType::Bool),
            col("f", DataType::Bytea),
            col("g", DataType::Array(Box::new(DataType::Int4))),
            col("h", DataType::TimestampTz),
            col("Odd Col", DataType::Float8),
            col("i", DataType::Bpchar(Some(3))),
            col("j", DataType::Bpchar(Some(1))),
        ],
        Some(vec![0]),
    )
}

fn v(text: &str, ty: DataType) -> Value {
    tandem_expr::text_in(text, &ty).unwrap()
}

fn bdt_row(b: &str) -> Vec<Value> {
    vec![
        Value::Int4(1),
        Value::Text(b.into()),
        Value::Text("v".into()),
        v("1.50", DataType::Numeric(Some((10, 2)))),
        Value::Bool(true),
        Value::Bytea(vec![1, 2]),
        Value::Array(vec![Value::Int4(1), Value::Int4(2)]),
        v("2024-01-02 03:04:05.123456+00", DataType::TimestampTz),
        Value::Float8(1.5),
        Value::Text("ab ".into()),
        Value::Text("x".into()),
    ]
}

fn null_row(a: i32, width: usize) -> Vec<Value> {
    let mut r = vec![Value::Null; width];
    r[0] = Value::Int4(a);
    r
}

fn lsn(s: &str) -> Lsn {
    s.parse().unwrap()
}

fn txn(xid: u32, first: &str, end: &str, changes: Vec<(&str, DecodedChange)>) -> DecodedTxn {
    DecodedTxn {
        info: TxnInfo {
            xid: Xid(xid),
            first_lsn: lsn(first),
            commit_lsn: lsn(first),
            end_lsn: lsn(end),
            // 2026-11-22 01:15:41.805575+00
            commit_time: 848_625_341_805_575,
            origin: None,
        },
        has_catalog_changes: changes.is_empty(),
        part: crate::Part::WHOLE,
        changes: changes.into_iter().map(|(l, c)| (lsn(l), c)).collect(),
    }
}

/// The rows as `pg_logical_slot_get_changes` shows them: `lsn|xid|data`.
fn run(plugin: &mut TestDecoding, txns: &[DecodedTxn]) -> Vec<String> {
    let mut rows = Vec::new();
    for t in txns {
        plugin
            .transaction(
                t,
                &tandem_storage::Catalog::default(),
                &mut |r: crate::OutputRow| {
                    rows.push(format!(
                        "{}|{}|{}",
                        r.lsn,
                        r.xid.0,
                        String::from_utf8_lossy(&r.data)
                    ));
                    Ok(())
                },
            )
            .unwrap();
    }
    rows
}

fn opts(list: &[(&str, Option<&str>)]) -> Vec<(String, Option<String>)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.map(str::to_string)))
        .collect()
}

#[test]
fn insert_update_delete_match_postgres() {
    let rel = bdt();
    let txns = vec![
        txn(738, "0/147CA50", "0/14B1240", vec![]),
        txn(
            739,
            "0/14B1240",
            "0/14B1398",
            vec![(
                "0/14B1240",
                DecodedChange::Insert {
                    rel: rel.clone(),
                    new: bdt_row("it's").into(),
                },
            )],
        ),
        txn(
            740,
            "0/14B1398",
            "0/14B1450",
            vec![(
                "0/14B1398",
                DecodedChange::Insert {
                    rel: rel.clone(),
                    new: null_row(2, 11).into(),
                },
            )],
        ),
        txn(
            742,
            "0/14B1508",
            "0/14B15D8",
            vec![(
                "0/14B1508",
                DecodedChange::Update {
                    rel: rel.clone(),
                    old: Some(OldRow::Key(null_row(2, 11))),
                    new: null_row(3, 11).into(),
                },
            )],
        ),
        txn(
            743,
            "0/14B15D8",
            "0/14B1650",
            vec![(
                "0/14B15D8",
                DecodedChange::Delete {
                    rel: rel.clone(),
                    old: Some(OldRow::Key(null_row(3, 11))),
                },
            )],
        ),
        txn(
            745,
            "0/14B1808",
            "0/14B1910",
            vec![(
                "0/14B1808",
                DecodedChange::Update {
                    rel: rel.clone(),
                    old: Some(OldRow::Full(bdt_row("x"))),
                    new: bdt_row("y").into(),
                },
            )],
        ),
        txn(
            750,
            "0/14B1CB8",
            "0/14B1D20",
            vec![(
                "0/14B1CB8",
                DecodedChange::Delete {
                    rel: rel.clone(),
                    old: None,
                },
            )],
        ),
    ];
    let out = run(&mut TestDecoding::new(&[]).unwrap(), &txns);
    let full = "a[integer]:1 b[text]:'x' c[character varying]:'v' d[numeric]:1.50 e[boolean]:true f[bytea]:'\\x0102' g[integer[]]:'{1,2}' h[timestamp with time zone]:'2024-01-02 03:04:05.123456+00' \"Odd Col\"[double precision]:1.5 i[character]:'ab ' j[character]:'x'";
    let nulls = "b[text]:null c[character varying]:null d[numeric]:null e[boolean]:null f[bytea]:null g[integer[]]:null h[timestamp with time zone]:null \"Odd Col\"[double precision]:null i[character]:null j[character]:null";
    let expected = vec![
        "0/147CA50|738|BEGIN 738".to_string(),
        "0/14B1240|738|COMMIT 738".to_string(),
        "0/14B1240|739|BEGIN 739".to_string(),
        "0/14B1240|739|table public.bdt: INSERT: a[integer]:1 b[text]:'it''s' c[character varying]:'v' d[numeric]:1.50 e[boolean]:true f[bytea]:'\\x0102' g[integer[]]:'{1,2}' h[timestamp with time zone]:'2024-01-02 03:04:05.123456+00' \"Odd Col\"[double precision]:1.5 i[character]:'ab ' j[character]:'x'".to_string(),
        "0/14B1398|739|COMMIT 739".to_string(),
        "0/14B1398|740|BEGIN 740".to_string(),
        format!("0/14B1398|740|table public.bdt: INSERT: a[integer]:2 {nulls}"),
        "0/14B1450|740|COMMIT 740".to_string(),
        "0/14B1508|742|BEGIN 742".to_string(),
        format!("0/14B1508|742|table public.bdt: UPDATE: old-key: a[integer]:2 new-tuple: a[integer]:3 {nulls}"),
        "0/14B15D8|742|COMMIT 742".to_string(),
        "0/14B15D8|743|BEGIN 743".to_string(),
        "0/14B15D8|743|table public.bdt: DELETE: a[integer]:3".to_string(),
        "0/14B1650|743|COMMIT 743".to_string(),
        "0/14B1808|745|BEGIN 745".to_string(),
        format!(
            "0/14B1808|745|table public.bdt: UPDATE: old-key: {full} new-tuple: {}",
            full.replace("b[text]:'x'", "b[text]:'y'")
        ),
        "0/14B1910|745|COMMIT 745".to_string(),
        "0/14B1CB8|750|BEGIN 750".to_string(),
        "0/14B1CB8|750|table public.bdt: DELETE: (no-tuple-data)".to_string(),
        "0/14B1D20|750|COMMIT 750".to_string(),
    ];
    assert_eq!(out, expected);
}

#[test]
fn dropped_columns_and_quoted_names_match_postgres() {
    let mut cols = vec![
        col("x", DataType::Int4),
        col("y", DataType::Text),
        col("z", DataType::Int4),
    ];
    cols[1].dropped = true;
    let nopk = table("nopk", cols, None);
    let mixed = table(
        "Mixed",
        vec![
            col("User", DataType::Int4),
            col("select", DataType::Int4),
            col("int", DataType::Int4),
            col("order", DataType::Text),
        ],
        None,
    );
    let t = txn(
        763,
        "0/14BFA18",
        "0/14BFA90",
        vec![
            (
                "0/14B8020",
                DecodedChange::Insert {
                    rel: nopk.clone(),
                    new: vec![Value::Int4(4), Value::Null, Value::Int4(8)].into(),
                },
            ),
            (
                "0/14BFA18",
                DecodedChange::Insert {
                    rel: mixed,
                    new: vec![
                        Value::Int4(1),
                        Value::Int4(2),
                        Value::Int4(3),
                        Value::Text("o".into()),
                    ]
                    .into(),
                },
            ),
        ],
    );
    let out = run(&mut TestDecoding::new(&[]).unwrap(), &[t]);
    assert_eq!(
        out[1..3],
        [
            "0/14B8020|763|table public.nopk: INSERT: x[integer]:4 z[integer]:8",
            "0/14BFA18|763|table public.\"Mixed\": INSERT: \"User\"[integer]:1 \"select\"[integer]:2 \"int\"[integer]:3 \"order\"[text]:'o'",
        ]
    );
    assert_eq!(quote_identifier("a$b"), "\"a$b\"");
    assert_eq!(quote_identifier("ä"), "\"ä\"");
    assert_eq!(quote_identifier("say\"hi"), "\"say\"\"hi\"");
    assert_eq!(quote_identifier("_ok1"), "_ok1");
    assert_eq!(quote_identifier("name"), "name");
}

#[test]
fn truncate_flags_match_postgres() {
    let a = bdt();
    let b = table("nopk", vec![col("x", DataType::Int4)], None);
    let tr = |rels: Vec<Arc<TableDef>>, restart_seqs, cascade| {
        String::from_utf8(change_text(&DecodedChange::Truncate {
            rels,
            restart_seqs,
            cascade,
        }))
        .unwrap()
    };
    assert_eq!(
        tr(vec![a.clone()], false, false),
        "table public.bdt: TRUNCATE: (no-flags)"
    );
    assert_eq!(
        tr(vec![a.clone(), b], true, false),
        "table public.bdt, public.nopk: TRUNCATE: restart_seqs"
    );
    assert_eq!(
        tr(vec![a.clone()], false, true),
        "table public.bdt: TRUNCATE: cascade"
    );
    assert_eq!(
        tr(vec![a], true, true),
        "table public.bdt: TRUNCATE: restart_seqs cascade"
    );
}

#[test]
fn messages_match_postgres() {
    let nopk = table("nopk", vec![col("x", DataType::Int4)], None);
    let t = txn(
        761,
        "0/14BBEB8",
        "0/14BBF98",
        vec![
            (
                "0/14BBEB8",
                DecodedChange::Insert {
                    rel: nopk,
                    new: vec![Value::Int4(9)].into(),
                },
            ),
            (
                "0/14BBF30",
                DecodedChange::Message {
                    prefix: "mid".into(),
                    content: vec![],
                },
            ),
        ],
    );
    let mut p = TestDecoding::new(&[]).unwrap();
    assert_eq!(
        run(&mut p, &[t]),
        [
            "0/14BBEB8|761|BEGIN 761",
            "0/14BBEB8|761|table public.nopk: INSERT: x[integer]:9",
            "0/14BBF30|761|message: transactional: 1 prefix: mid, sz: 0 content:",
            "0/14BBF98|761|COMMIT 761",
        ]
    );
    let only_msg = txn(
        760,
        "0/14BBE10",
        "0/14BBE78",
        vec![(
            "0/14BBE48",
            DecodedChange::Message {
                prefix: "p".into(),
                content: b"abc".to_vec(),
            },
        )],
    );
    assert_eq!(
        run(&mut p, &[only_msg])[1],
        "0/14BBE48|760|message: transactional: 1 prefix: p, sz: 3 content:abc"
    );
    let mut rows = Vec::new();
    for (xid, prefix, content, end) in [
        (0, "np", "hello", "0/14BBEB8"),
        (761, "ntx", "x", "0/14BBF68"),
    ] {
        let msg = DecodedMessage {
            lsn: Lsn(1),
            end_lsn: lsn(end),
            xid: Xid(xid),
            prefix: prefix.into(),
            content: content.as_bytes().to_vec(),
        };
        p.message(
            &msg,
            &tandem_storage::Catalog::default(),
            &mut |r: crate::OutputRow| {
                rows.push(format!(
                    "{}|{}|{}",
                    r.lsn,
                    r.xid.0,
                    String::from_utf8_lossy(&r.data)
                ));
                Ok(())
            },
        )
        .unwrap();
    }
    assert_eq!(
        rows,
        [
            "0/14BBEB8|0|message: transactional: 0 prefix: np, sz: 5 content:hello",
            "0/14BBF68|761|message: transactional: 0 prefix: ntx, sz: 1 content:x",
        ]
    );
}

#[test]
fn options_change_begin_and_commit_as_in_postgres() {
    let t2 = table("t2", vec![col("a", DataType::Int4)], Some(vec![0]));
    let ddl = txn(765, "0/14BFB30", "0/14C82A0", vec![]);
    let mut ins = txn(
        766,
        "0/14C8200",
        "0/14C83B0",
        vec![(
            "0/14C82A0",
            DecodedChange::Insert {
                rel: t2,
                new: vec![Value::Int4(1)].into(),
            },
        )],
    );
    ins.info.commit_time = 848_625_341_806_256;
    let both = [ddl, ins];

    let mut p = TestDecoding::new(&opts(&[
        ("include-xids", Some("0")),
        ("include-timestamp", Some("on")),
    ]))
    .unwrap();
    assert_eq!(
        run(&mut p, &both),
        [
            "0/14BFB30|765|BEGIN",
            "0/14C82A0|765|COMMIT (at 2026-11-22 01:15:41.805575+00)",
            "0/14C8200|766|BEGIN",
            "0/14C82A0|766|table public.t2: INSERT: a[integer]:1",
            "0/14C83B0|766|COMMIT (at 2026-11-22 01:15:41.806256+00)",
        ]
    );

    // skip-empty-xacts: the DDL transaction prints nothing, BEGIN takes the
    // first change's position.
    let mut p = TestDecoding::new(&opts(&[
        ("skip-empty-xacts", Some("1")),
        ("include-xids", Some("f")),
        ("include-rewrites", Some("yes")),
        ("stream-changes", Some("off")),
        ("only-local", Some("of")),
    ]))
    .unwrap();
    assert_eq!(
        run(&mut p, &both),
        [
            "0/14C82A0|766|BEGIN",
            "0/14C82A0|766|table public.t2: INSERT: a[integer]:1",
            "0/14C83B0|766|COMMIT",
        ]
    );
    let mut p = TestDecoding::new(&opts(&[
        ("force-binary", Some("0")),
        ("skip-empty-xacts", None),
    ]))
    .unwrap();
    assert!(p.textual());
    assert_eq!(run(&mut p, &both)[0], "0/14C82A0|766|BEGIN 766");

    // only-local skips transactions made by an apply worker.
    let mut remote = both[1].clone();
    remote.info.origin = Some(CommitOrigin {
        origin: 1,
        remote_lsn: Lsn(8),
        remote_time: 0,
    });
    let mut p = TestDecoding::new(&opts(&[("only-local", None)])).unwrap();
    assert!(run(&mut p, &[remote.clone()]).is_empty());
    let mut p = TestDecoding::new(&[]).unwrap();
    assert_eq!(run(&mut p, &[remote]).len(), 3);

    let p = TestDecoding::new(&opts(&[("force-binary", Some("1"))])).unwrap();
    assert!(!p.textual());
}

#[test]
fn option_errors_match_postgres() {
    let err = |list: &[(&str, Option<&str>)]| {
        let e = TestDecoding::new(&opts(list)).unwrap_err();
        assert_eq!(e.code, SqlState::INVALID_PARAMETER_VALUE);
        e.message
    };
    assert_eq!(
        err(&[("foo", Some("bar"))]),
        "option \"foo\" = \"bar\" is unknown"
    );
    assert_eq!(
        err(&[("foo", None)]),
        "option \"foo\" = \"(null)\" is unknown"
    );
    assert_eq!(
        err(&[("include-xids", Some("maybe"))]),
        "could not parse value \"maybe\" for parameter \"include-xids\""
    );
    assert_eq!(
        err(&[("include-xids", Some(""))]),
        "could not parse value \"\" for parameter \"include-xids\""
    );
    for unknown in ["include-sequences", "two-phase-commit", "INCLUDE-XIDS"] {
        assert_eq!(
            err(&[(unknown, Some("0"))]),
            format!("option \"{unknown}\" = \"0\" is unknown")
        );
    }
    assert_eq!(
        err(&[("include-xids", None), ("stream-changes", Some("x"))]),
        "could not parse value \"x\" for parameter \"stream-changes\""
    );
    assert_eq!(
        err(&[("force-binary", Some("x"))]),
        "could not parse value \"x\" for parameter \"force-binary\""
    );
}

#[test]
fn parse_bool_is_postgres_parse_bool() {
    for (s, want) in [
        ("t", Some(true)),
        ("TRUE", Some(true)),
        ("tr", Some(true)),
        ("truex", None),
        ("y", Some(true)),
        ("yes", Some(true)),
        ("n", Some(false)),
        ("no", Some(false)),
        ("f", Some(false)),
        ("FaLsE", Some(false)),
        ("o", None),
        ("on", Some(true)),
        ("of", Some(false)),
        ("off", Some(false)),
        ("offx", None),
        ("1", Some(true)),
        ("0", Some(false)),
        ("01", None),
        ("", None),
        (" on", None),
    ] {
        assert_eq!(parse_bool(s), want, "{s:?}");
    }
}

#[test]
fn plugins_are_checked_by_name() {
    assert!(crate::check_plugin("test_decoding").is_ok());
    assert!(crate::check_plugin("pgoutput").is_ok());
    let e = crate::check_plugin("nope").unwrap_err();
    assert_eq!(e.code, SqlState::UNDEFINED_FILE);
    assert_eq!(
        e.message,
        "could not access file \"nope\": No such file or directory"
    );
    assert!(crate::start_plugin("test_decoding", &[]).unwrap().textual());
    assert_eq!(
        crate::start_plugin("pgoutput", &[]).err().map(|e| e.code),
        Some(SqlState::INVALID_PARAMETER_VALUE)
    );
    assert_eq!(
        crate::start_plugin("nope", &[]).err().map(|e| e.code),
        Some(SqlState::UNDEFINED_FILE)
    );
}
