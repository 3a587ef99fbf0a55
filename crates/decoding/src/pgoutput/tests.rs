//! pgoutput output compared byte for byte with PostgreSQL 17.11's pgoutput
//! for the same changes (rows of `pg_logical_slot_peek_binary_changes`, data
//! as hex), option parsing against its errors, and encode → parse round trips.

use std::collections::BTreeSet;
use std::sync::Arc;

use tandem_storage::{
    Catalog, ColumnDef, CommitOrigin, PrimaryKey, PublicationDef, ReplicaIdentity, TableDef,
};
use tandem_types::{DataType, Lsn, Oid, SqlState, Value, Xid};

use super::*;
use crate::pgoutput_read::{parse_message, LogicalMessage, OldKind, TupleColumn};
use crate::{DecodedMessage, DecodedTxn, TxnInfo};

fn col(name: &str, ty: DataType) -> ColumnDef {
    ColumnDef {
        name: name.into(),
        data_type: ty,
        not_null: false,
        default: None,
        dropped: false,
    }
}

/// `create table t (a int primary key, b text, c varchar(10), d numeric(10,2))`
fn t_table(ri: ReplicaIdentity) -> Arc<TableDef> {
    Arc::new(TableDef {
        oid: Oid(16384),
        schema: "public".into(),
        name: "t".into(),
        columns: vec![
            col("a", DataType::Int4),
            col("b", DataType::Text),
            col("c", DataType::Varchar(Some(10))),
            col("d", DataType::Numeric(Some((10, 2)))),
        ],
        primary_key: Some(PrimaryKey {
            name: "t_pkey".into(),
            columns: vec![0],
        }),
        replica_identity: ri,
        owner: Oid(10),
    })
}

/// `create table u (x int, y int)`
fn u_table() -> Arc<TableDef> {
    Arc::new(TableDef {
        oid: Oid(16391),
        schema: "public".into(),
        name: "u".into(),
        columns: vec![col("x", DataType::Int4), col("y", DataType::Int4)],
        primary_key: None,
        replica_identity: ReplicaIdentity::Default,
        owner: Oid(10),
    })
}

fn publication(oid: u32, name: &str, all: bool, tables: &[u32]) -> PublicationDef {
    PublicationDef {
        oid: Oid(oid),
        name: name.into(),
        owner: Oid(10),
        all_tables: all,
        pub_insert: true,
        pub_update: true,
        pub_delete: true,
        pub_truncate: true,
        via_root: false,
        tables: tables.iter().map(|&o| Oid(o)).collect::<BTreeSet<_>>(),
    }
}

/// `create publication p for table t; create publication pall for all tables`
fn catalog() -> Catalog {
    let mut c = Catalog::default();
    c.publications
        .insert(Oid(16389), publication(16389, "p", false, &[16384]));
    c.publications
        .insert(Oid(16390), publication(16390, "pall", true, &[]));
    c
}

fn lsn(s: &str) -> Lsn {
    s.parse().unwrap()
}

fn num(s: &str) -> Value {
    tandem_expr::text_in(s, &DataType::Numeric(Some((10, 2)))).unwrap()
}

fn row(a: i32, b: Option<&str>, c: Option<&str>, d: Option<&str>) -> Vec<Value> {
    vec![
        Value::Int4(a),
        b.map_or(Value::Null, |s| Value::Text(s.into())),
        c.map_or(Value::Null, |s| Value::Text(s.into())),
        d.map_or(Value::Null, num),
    ]
}

fn txn(
    xid: u32,
    commit: &str,
    end: &str,
    time: i64,
    changes: Vec<(&str, DecodedChange)>,
) -> DecodedTxn {
    DecodedTxn {
        info: TxnInfo {
            xid: Xid(xid),
            first_lsn: changes.first().map_or(lsn(commit), |(l, _)| lsn(l)),
            commit_lsn: lsn(commit),
            end_lsn: lsn(end),
            commit_time: time,
            origin: None,
        },
        has_catalog_changes: changes.is_empty(),
        part: crate::Part::WHOLE,
        changes: changes.into_iter().map(|(l, c)| (lsn(l), c)).collect(),
    }
}

fn insert(rel: &Arc<TableDef>, new: Vec<Value>) -> DecodedChange {
    DecodedChange::Insert {
        rel: rel.clone(),
        new: new.into(),
    }
}

#[allow(clippy::large_enum_variant)] // test data, built once
enum Item {
    Txn(DecodedTxn, Catalog),
    Msg(DecodedMessage),
}

fn hex(data: &[u8]) -> String {
    data.iter().map(|b| format!("{b:02x}")).collect()
}

/// Rows as `select lsn, xid, encode(data, 'hex')` shows them: `lsn|xid|hex`.
fn run(plugin: &mut PgOutput, items: &[Item]) -> PgResult<Vec<String>> {
    let mut rows = Vec::new();
    let mut push = |r: OutputRow| {
        rows.push(format!("{}|{}|{}", r.lsn, r.xid.0, hex(&r.data)));
        Ok(())
    };
    for item in items {
        match item {
            Item::Txn(t, c) => plugin.transaction(t, c, &mut push)?,
            Item::Msg(m) => plugin.message(m, &catalog(), &mut push)?,
        }
    }
    Ok(rows)
}

fn opts(list: &[(&str, Option<&str>)]) -> Vec<(String, Option<String>)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.map(str::to_string)))
        .collect()
}

fn plugin(list: &[(&str, &str)]) -> PgOutput {
    let o: Vec<(&str, Option<&str>)> = list.iter().map(|(k, v)| (*k, Some(*v))).collect();
    PgOutput::new(&opts(&o)).unwrap()
}

const R_T: &str = "52000040007075626c696300740064000401610000000017ffffffff00620000000019ffffffff006300000004130000000e006400000006a4000a0006";
const R_U: &str = "52000040077075626c696300750064000200780000000017ffffffff00790000000017ffffffff";

/// The first session: `insert into t values (1, 'it''s', 'v', 1.5)`;
/// `insert into u values (1, 2)`; a transaction inserting, updating (also the
/// key), deleting and emitting a transactional message; a non-transactional
/// message; `truncate t`.
fn first_session() -> Vec<Item> {
    let t = t_table(ReplicaIdentity::Default);
    let u = u_table();
    vec![
        Item::Txn(
            txn(
                742,
                "0/14B16B0",
                "0/14B16E0",
                0x0303d21d22effe,
                vec![(
                    "0/14B15C0",
                    insert(&t, row(1, Some("it's"), Some("v"), Some("1.50"))),
                )],
            ),
            catalog(),
        ),
        Item::Txn(
            txn(
                743,
                "0/14B1720",
                "0/14B1750",
                0x0303d21d22f1d7,
                vec![(
                    "0/14B16E0",
                    insert(&u, vec![Value::Int4(1), Value::Int4(2)]),
                )],
            ),
            catalog(),
        ),
        Item::Txn(
            txn(
                744,
                "0/14B1938",
                "0/14B1968",
                0x0303d21d22f892,
                vec![
                    ("0/14B1750", insert(&t, row(2, None, None, None))),
                    (
                        "0/14B17D0",
                        DecodedChange::Update {
                            rel: t.clone(),
                            old: None,
                            new: row(1, Some("x"), Some("v"), Some("1.50")).into(),
                        },
                    ),
                    (
                        "0/14B1828",
                        DecodedChange::Update {
                            rel: t.clone(),
                            old: Some(OldRow::Key(row(2, None, None, None))),
                            new: row(3, None, None, None).into(),
                        },
                    ),
                    (
                        "0/14B18B8",
                        DecodedChange::Delete {
                            rel: t.clone(),
                            old: Some(OldRow::Key(row(3, None, None, None))),
                        },
                    ),
                    (
                        "0/14B1938",
                        DecodedChange::Message {
                            prefix: "pre".into(),
                            content: b"hello".to_vec(),
                        },
                    ),
                ],
            ),
            catalog(),
        ),
        Item::Msg(DecodedMessage {
            lsn: lsn("0/14B1968"),
            end_lsn: lsn("0/14B19A0"),
            xid: Xid(0),
            prefix: "nt".into(),
            content: b"abc".to_vec(),
        }),
        Item::Txn(
            txn(
                745,
                "0/14B2538",
                "0/14B26A8",
                0x0303d21d22fda6,
                vec![(
                    "0/14B2508",
                    DecodedChange::Truncate {
                        rels: vec![t.clone()],
                        restart_seqs: false,
                        cascade: false,
                    },
                )],
            ),
            catalog(),
        ),
    ]
}

#[test]
fn changes_match_postgres() {
    let mut p = plugin(&[
        ("proto_version", "4"),
        ("publication_names", "p"),
        ("messages", "true"),
    ]);
    assert!(!p.textual());
    let rows = run(&mut p, &first_session()).unwrap();
    let expected = vec![
        "0/14B15C0|742|4200000000014b16b0000303d21d22effe000002e6".to_string(),
        format!("0/14B15C0|742|{R_T}"),
        "0/14B15C0|742|49000040004e00047400000001317400000004697427737400000001767400000004312e3530".into(),
        "0/14B16E0|742|430000000000014b16b000000000014b16e0000303d21d22effe".into(),
        "0/14B1750|744|4200000000014b1938000303d21d22f892000002e8".into(),
        "0/14B1750|744|49000040004e00047400000001326e6e6e".into(),
        "0/14B17D0|744|55000040004e00047400000001317400000001787400000001767400000004312e3530".into(),
        "0/14B1828|744|55000040004b00047400000001326e6e6e4e00047400000001336e6e6e".into(),
        "0/14B18B8|744|44000040004b00047400000001336e6e6e".into(),
        "0/14B1938|744|4d0100000000014b1938707265000000000568656c6c6f".into(),
        "0/14B1968|744|430000000000014b193800000000014b1968000303d21d22f892".into(),
        "0/14B19A0|0|4d0000000000014b19a06e740000000003616263".into(),
        "0/14B2508|745|4200000000014b2538000303d21d22fda6000002e9".into(),
        format!("0/14B2508|745|{R_T}"),
        "0/14B2508|745|54000000010000004000".into(),
        "0/14B26A8|745|430000000000014b253800000000014b26a8000303d21d22fda6".into(),
    ];
    assert_eq!(rows, expected);
}

#[test]
fn binary_all_tables_match_postgres() {
    let mut p = plugin(&[
        ("proto_version", "1"),
        ("publication_names", "pall"),
        ("binary", "true"),
    ]);
    let rows = run(&mut p, &first_session()).unwrap();
    let expected = vec![
        "0/14B15C0|742|4200000000014b16b0000303d21d22effe000002e6".to_string(),
        format!("0/14B15C0|742|{R_T}"),
        "0/14B15C0|742|49000040004e0004620000000400000001620000000469742773620000000176620000000c000200000000000200011388".into(),
        "0/14B16E0|742|430000000000014b16b000000000014b16e0000303d21d22effe".into(),
        "0/14B16E0|743|4200000000014b1720000303d21d22f1d7000002e7".into(),
        format!("0/14B16E0|743|{R_U}"),
        "0/14B16E0|743|49000040074e0002620000000400000001620000000400000002".into(),
        "0/14B1750|743|430000000000014b172000000000014b1750000303d21d22f1d7".into(),
        "0/14B1750|744|4200000000014b1938000303d21d22f892000002e8".into(),
        "0/14B1750|744|49000040004e00046200000004000000026e6e6e".into(),
        "0/14B17D0|744|55000040004e0004620000000400000001620000000178620000000176620000000c000200000000000200011388".into(),
        "0/14B1828|744|55000040004b00046200000004000000026e6e6e4e00046200000004000000036e6e6e".into(),
        "0/14B18B8|744|44000040004b00046200000004000000036e6e6e".into(),
        "0/14B1968|744|430000000000014b193800000000014b1968000303d21d22f892".into(),
        "0/14B2508|745|4200000000014b2538000303d21d22fda6000002e9".into(),
        format!("0/14B2508|745|{R_T}"),
        "0/14B2508|745|54000000010000004000".into(),
        "0/14B26A8|745|430000000000014b253800000000014b26a8000303d21d22fda6".into(),
    ];
    assert_eq!(rows, expected);
}

#[test]
fn missing_publication_fails_at_first_change() {
    for names in ["nosuch", "pall, nosuch"] {
        let mut p = plugin(&[
            ("proto_version", "4"),
            ("publication_names", names),
            ("messages", "true"),
        ]);
        let err = run(&mut p, &first_session()).unwrap_err();
        assert_eq!(err.code, SqlState::UNDEFINED_OBJECT);
        assert_eq!(err.message, "publication \"nosuch\" does not exist");
    }
    // Messages alone do not need the publications.
    let mut p = plugin(&[
        ("proto_version", "4"),
        ("publication_names", "nosuch"),
        ("messages", "true"),
    ]);
    let items = first_session();
    let rows = run(&mut p, &items[3..4]).unwrap();
    assert_eq!(
        rows,
        ["0/14B19A0|0|4d0000000000014b19a06e740000000003616263"]
    );
}

/// The second stretch of the slot, after the first session: a transaction
/// from replication origin "myorig" (id 1), a local one, REPLICA IDENTITY FULL
/// update and delete, and `truncate t, u restart identity cascade` with
/// REPLICA IDENTITY NOTHING on t.
fn second_session() -> Vec<Item> {
    let t = t_table(ReplicaIdentity::Default);
    let t_full = t_table(ReplicaIdentity::Full);
    let t_nothing = t_table(ReplicaIdentity::Nothing);
    let u = u_table();
    let mut from_origin = txn(
        747,
        "0/14B2A20",
        "0/14B2A68",
        0x02b0d5d4e94000,
        vec![("0/14B2940", insert(&t, row(10, Some("o"), None, None)))],
    );
    from_origin.info.origin = Some(CommitOrigin {
        origin: 1,
        remote_lsn: lsn("0/ABCDEF"),
        remote_time: 0x02b0d5d4e94000,
    });
    let mut items = first_session();
    items.extend([
        Item::Txn(from_origin, catalog()),
        Item::Txn(
            txn(
                748,
                "0/14B2AE8",
                "0/14B2B18",
                0x0303d21e4627ab,
                vec![("0/14B2A68", insert(&t, row(11, Some("a"), None, None)))],
            ),
            catalog(),
        ),
        Item::Txn(
            txn(
                752,
                "0/14B83F0",
                "0/14B8420",
                0x0303d21e464778,
                vec![(
                    "0/14B8318",
                    DecodedChange::Update {
                        rel: t_full.clone(),
                        old: Some(OldRow::Full(row(12, Some("a"), None, None))),
                        new: row(12, Some("z"), None, None).into(),
                    },
                )],
            ),
            catalog(),
        ),
        Item::Txn(
            txn(
                753,
                "0/14B8468",
                "0/14B8498",
                0x0303d21e464896,
                vec![(
                    "0/14B8420",
                    DecodedChange::Delete {
                        rel: t_full.clone(),
                        old: Some(OldRow::Full(row(12, Some("z"), None, None))),
                    },
                )],
            ),
            catalog(),
        ),
        Item::Txn(
            txn(
                755,
                "0/14B9748",
                "0/14B9950",
                0x0303d21e464f38,
                vec![(
                    "0/14B9718",
                    DecodedChange::Truncate {
                        rels: vec![t_nothing, u],
                        restart_seqs: true,
                        cascade: true,
                    },
                )],
            ),
            catalog(),
        ),
    ]);
    items
}

const SECOND_TAIL: &[&str] = &[
    "0/14B8318|752|4200000000014b83f0000303d21e464778000002f0",
    "0/14B8318|752|52000040007075626c696300740066000401610000000017ffffffff01620000000019ffffffff016300000004130000000e016400000006a4000a0006",
    "0/14B8318|752|55000040004f0004740000000231327400000001616e6e4e00047400000002313274000000017a6e6e",
    "0/14B8420|752|430000000000014b83f000000000014b8420000303d21e464778",
    "0/14B8420|753|4200000000014b8468000303d21e464896000002f1",
    "0/14B8420|753|44000040004f00047400000002313274000000017a6e6e",
    "0/14B8498|753|430000000000014b846800000000014b8498000303d21e464896",
    "0/14B9718|755|4200000000014b9748000303d21e464f38000002f3",
    "0/14B9718|755|52000040007075626c69630074006e000400610000000017ffffffff00620000000019ffffffff006300000004130000000e006400000006a4000a0006",
    "0/14B9718|755|52000040077075626c696300750064000200780000000017ffffffff00790000000017ffffffff",
    "0/14B9718|755|5400000002030000400000004007",
    "0/14B9950|755|430000000000014b974800000000014b9950000303d21e464f38",
];

fn after(rows: Vec<String>, lsn_floor: &str) -> Vec<String> {
    let floor = lsn(lsn_floor);
    rows.into_iter()
        .filter(|r| r.split('|').next().and_then(|l| l.parse::<Lsn>().ok()) > Some(floor))
        .collect()
}

#[test]
fn origin_identity_and_truncate_match_postgres() {
    let mut p = plugin(&[
        ("proto_version", "4"),
        ("publication_names", "pall"),
        ("messages", "true"),
    ]);
    p.set_origin_names(Box::new(|id| (id == 1).then(|| "myorig".to_string())));
    let rows = after(run(&mut p, &second_session()).unwrap(), "0/14B26A8");
    let mut expected = vec![
        "0/14B2940|747|4200000000014b2a200002b0d5d4e94000000002eb".to_string(),
        "0/14B2940|747|4f0000000000abcdef6d796f72696700".into(),
        format!("0/14B2940|747|{R_T}"),
        "0/14B2940|747|49000040004e00047400000002313074000000016f6e6e".into(),
        "0/14B2A68|747|430000000000014b2a2000000000014b2a680002b0d5d4e94000".into(),
        "0/14B2A68|748|4200000000014b2ae8000303d21e4627ab000002ec".into(),
        "0/14B2A68|748|49000040004e0004740000000231317400000001616e6e".into(),
        "0/14B2B18|748|430000000000014b2ae800000000014b2b18000303d21e4627ab".into(),
    ];
    expected.extend(SECOND_TAIL.iter().map(|s| s.to_string()));
    assert_eq!(rows, expected);

    // origin = none: the origin's transaction is skipped, so the next one
    // sends the schema.
    let mut p = plugin(&[
        ("proto_version", "4"),
        ("publication_names", "pall"),
        ("origin", "none"),
    ]);
    let rows = after(run(&mut p, &second_session()).unwrap(), "0/14B26A8");
    let mut expected = vec![
        "0/14B2A68|748|4200000000014b2ae8000303d21e4627ab000002ec".to_string(),
        format!("0/14B2A68|748|{R_T}"),
        "0/14B2A68|748|49000040004e0004740000000231317400000001616e6e".into(),
        "0/14B2B18|748|430000000000014b2ae800000000014b2b18000303d21e4627ab".into(),
    ];
    expected.extend(SECOND_TAIL.iter().map(|s| s.to_string()));
    assert_eq!(rows, expected);
}

#[test]
fn origin_name_comes_from_the_decoders_catalog() {
    // No lookup installed: the name of origin 1 is in the historic catalog.
    let mut items = second_session();
    for item in &mut items {
        if let Item::Txn(_, cat) = item {
            cat.origins.insert(1, "myorig".into());
        }
    }
    let mut p = plugin(&[("proto_version", "4"), ("publication_names", "pall")]);
    let rows = after(run(&mut p, &items).unwrap(), "0/14B26A8");
    assert_eq!(rows[1], "0/14B2940|747|4f0000000000abcdef6d796f72696700");
    // Neither the catalog nor a lookup knows it: no Origin message.
    let mut p = plugin(&[("proto_version", "4"), ("publication_names", "pall")]);
    let rows = after(run(&mut p, &second_session()).unwrap(), "0/14B26A8");
    assert_eq!(rows[1], format!("0/14B2940|747|{R_T}"));
}

#[test]
fn publication_changes_resend_schemas() {
    let t = t_table(ReplicaIdentity::Default);
    let sch = Arc::new(TableDef {
        oid: Oid(16414),
        schema: "Sch".into(),
        name: "Tab".into(),
        columns: vec![col("Col", DataType::Int4)],
        primary_key: Some(PrimaryKey {
            name: "Tab_pkey".into(),
            columns: vec![0],
        }),
        replica_identity: ReplicaIdentity::Default,
        owner: Oid(10),
    });
    let mut with_p2 = catalog();
    with_p2
        .publications
        .insert(Oid(16400), publication(16400, "p2", false, &[16391]));
    let mut altered = with_p2.clone();
    if let Some(pall) = altered.publications.get_mut(&Oid(16390)) {
        pall.pub_update = false;
        pall.pub_delete = false;
        pall.pub_truncate = false;
    }
    let ins = |xid, commit, end, time, at, a| {
        txn(
            xid,
            commit,
            end,
            time,
            vec![(at, insert(&t, row(a, Some("a"), None, None)))],
        )
    };
    let items = vec![
        Item::Txn(
            ins(
                757,
                "0/14B9CC0",
                "0/14B9CF0",
                0x0303d21f28b518,
                "0/14B9B40",
                20,
            ),
            catalog(),
        ),
        // create publication p2 for table u
        Item::Txn(
            txn(758, "0/14BA2F0", "0/14BA320", 0, vec![]),
            with_p2.clone(),
        ),
        Item::Txn(
            ins(
                759,
                "0/14BA3E0",
                "0/14BA410",
                0x0303d21f28b8cb,
                "0/14BA320",
                21,
            ),
            with_p2.clone(),
        ),
        // create table v
        Item::Txn(
            txn(760, "0/14BD4D0", "0/14BD500", 0, vec![]),
            with_p2.clone(),
        ),
        Item::Txn(
            ins(
                761,
                "0/14BD5C0",
                "0/14BD5F0",
                0x0303d21f28bcbd,
                "0/14BD500",
                22,
            ),
            with_p2.clone(),
        ),
        // alter publication pall set (publish = 'insert')
        Item::Txn(
            txn(764, "0/14C8550", "0/14C8580", 0, vec![]),
            altered.clone(),
        ),
        Item::Txn(
            txn(
                765,
                "0/14C8660",
                "0/14C8690",
                0x0303d21f28d2fb,
                vec![("0/14C8580", insert(&sch, vec![Value::Int4(1)]))],
            ),
            altered.clone(),
        ),
        Item::Txn(
            ins(
                766,
                "0/14C8750",
                "0/14C8780",
                0x0303d21f28d44e,
                "0/14C8690",
                23,
            ),
            altered.clone(),
        ),
    ];
    let mut p = plugin(&[("proto_version", "4"), ("publication_names", "pall")]);
    let rows = run(&mut p, &items).unwrap();
    let expected = vec![
        "0/14B9B40|757|4200000000014b9cc0000303d21f28b518000002f5".to_string(),
        format!("0/14B9B40|757|{R_T}"),
        "0/14B9B40|757|49000040004e0004740000000232307400000001616e6e".into(),
        "0/14B9CF0|757|430000000000014b9cc000000000014b9cf0000303d21f28b518".into(),
        "0/14BA320|759|4200000000014ba3e0000303d21f28b8cb000002f7".into(),
        format!("0/14BA320|759|{R_T}"),
        "0/14BA320|759|49000040004e0004740000000232317400000001616e6e".into(),
        "0/14BA410|759|430000000000014ba3e000000000014ba410000303d21f28b8cb".into(),
        "0/14BD500|761|4200000000014bd5c0000303d21f28bcbd000002f9".into(),
        "0/14BD500|761|49000040004e0004740000000232327400000001616e6e".into(),
        "0/14BD5F0|761|430000000000014bd5c000000000014bd5f0000303d21f28bcbd".into(),
        "0/14C8580|765|4200000000014c8660000303d21f28d2fb000002fd".into(),
        "0/14C8580|765|520000401e536368005461620064000101436f6c0000000017ffffffff".into(),
        "0/14C8580|765|490000401e4e0001740000000131".into(),
        "0/14C8690|765|430000000000014c866000000000014c8690000303d21f28d2fb".into(),
        "0/14C8690|766|4200000000014c8750000303d21f28d44e000002fe".into(),
        format!("0/14C8690|766|{R_T}"),
        "0/14C8690|766|49000040004e0004740000000232337400000001616e6e".into(),
        "0/14C8780|766|430000000000014c875000000000014c8780000303d21f28d44e".into(),
    ];
    assert_eq!(rows, expected);

    // With publish = 'insert' only, updates are filtered and the
    // transaction is empty: no Begin, no Commit.
    let upd = txn(
        767,
        "0/14C9000",
        "0/14C9030",
        1,
        vec![(
            "0/14C8F00",
            DecodedChange::Update {
                rel: t.clone(),
                old: None,
                new: row(23, Some("b"), None, None).into(),
            },
        )],
    );
    let rows = run(&mut p, &[Item::Txn(upd, altered)]).unwrap();
    assert!(rows.is_empty());
}

#[test]
fn dropped_columns_are_not_sent() {
    let mut cols = vec![
        col("x", DataType::Int4),
        col("gone", DataType::Text),
        col("z", DataType::Int4),
    ];
    cols[1].dropped = true;
    // create table dd (x int, gone text, z int); alter table dd drop column gone;
    let rel = TableDef {
        oid: Oid(16423),
        schema: "public".into(),
        name: "dd".into(),
        columns: cols,
        primary_key: None,
        replica_identity: ReplicaIdentity::Default,
        owner: Oid(10),
    };
    let mut buf = Vec::new();
    write_relation(&mut buf, &rel);
    assert_eq!(
        hex(&buf),
        "52000040277075626c69630064640064000200780000000017ffffffff007a0000000017ffffffff"
    );
    match parse_message(&buf).unwrap() {
        LogicalMessage::Relation { columns, .. } => {
            let names: Vec<_> = columns.iter().map(|c| (c.name.as_str(), c.flags)).collect();
            assert_eq!(names, [("x", 0), ("z", 0)]);
        }
        other => panic!("{other:?}"),
    }
    let mut full = rel.clone();
    full.replica_identity = ReplicaIdentity::Full;
    let mut buf = Vec::new();
    write_relation(&mut buf, &full);
    match parse_message(&buf).unwrap() {
        LogicalMessage::Relation { columns, .. } => {
            assert!(columns.iter().all(|c| c.flags == COLUMN_IS_KEY));
        }
        other => panic!("{other:?}"),
    }
    let mut buf = Vec::new();
    write_insert(
        &mut buf,
        &rel,
        &[Value::Int4(4), Value::Null, Value::Int4(8)],
        false,
    );
    assert_eq!(hex(&buf), "49000040274e0002740000000134740000000138");
}

#[test]
fn options_follow_postgres() {
    let err = |list: &[(&str, Option<&str>)]| {
        let e = PgOutput::new(&opts(list)).unwrap_err();
        (e.code.0, e.message)
    };
    let pv = |v| ("proto_version", Some(v));
    let pn = ("publication_names", Some("p"));
    assert_eq!(
        err(&[]),
        ("22023", "option \"proto_version\" missing".into())
    );
    assert_eq!(
        err(&[pn]),
        ("22023", "option \"proto_version\" missing".into())
    );
    assert_eq!(
        err(&[pv("4")]),
        ("22023", "option \"publication_names\" missing".into())
    );
    assert_eq!(
        err(&[pv("5"), pn]),
        (
            "0A000",
            "client sent proto_version=5 but server only supports protocol 4 or lower".into()
        )
    );
    assert_eq!(
        err(&[pv("0"), pn]),
        (
            "0A000",
            "client sent proto_version=0 but server only supports protocol 1 or higher".into()
        )
    );
    assert_eq!(
        err(&[pv(""), pn]).1,
        "client sent proto_version=0 but server only supports protocol 1 or higher"
    );
    assert_eq!(
        err(&[pv("x"), pn]),
        ("22023", "invalid proto_version".into())
    );
    assert_eq!(
        err(&[pv("4 "), pn]),
        ("22023", "invalid proto_version".into())
    );
    assert_eq!(
        err(&[pv("99999999999"), pn]),
        ("22023", "proto_version \"99999999999\" out of range".into())
    );
    assert_eq!(
        err(&[pv("-1"), pn]),
        ("22023", "proto_version \"-1\" out of range".into())
    );
    assert_eq!(
        err(&[pv("4294967295"), pn]).1,
        "client sent proto_version=-1 but server only supports protocol 4 or lower"
    );
    assert_eq!(
        PgOutput::new(&opts(&[pv(" 4"), pn])).unwrap().proto_version,
        4
    );
    assert_eq!(
        PgOutput::new(&opts(&[pv("+3"), pn])).unwrap().proto_version,
        3
    );
    assert_eq!(
        err(&[pv("1"), pv("1")]),
        ("42601", "conflicting or redundant options".into())
    );
    assert_eq!(
        err(&[pv("1"), pn, ("foo", Some("x"))]),
        ("XX000", "unrecognized pgoutput option: foo".into())
    );
    assert_eq!(
        err(&[pv("1"), ("publication_names", Some("p,\"a"))]),
        ("42602", "invalid publication_names syntax".into())
    );
    assert_eq!(
        err(&[pv("1"), ("publication_names", Some("pall,"))]).1,
        "invalid publication_names syntax"
    );
    assert_eq!(
        err(&[pv("1"), pn, ("streaming", Some("on"))]),
        (
            "22023",
            "requested proto_version=1 does not support streaming, need 2 or higher".into()
        )
    );
    assert_eq!(
        err(&[pv("3"), pn, ("streaming", Some("parallel"))]).1,
        "requested proto_version=3 does not support parallel streaming, need 4 or higher"
    );
    assert_eq!(
        err(&[pv("3"), pn, ("streaming", Some("of"))]),
        (
            "42601",
            "streaming requires a Boolean value or \"parallel\"".into()
        )
    );
    assert_eq!(
        err(&[pv("3"), pn, ("binary", Some("1"))]),
        ("42601", "binary requires a Boolean value".into())
    );
    assert_eq!(
        err(&[pv("2"), pn, ("two_phase", Some("true"))]).1,
        "requested proto_version=2 does not support two-phase commit, need 3 or higher"
    );
    assert_eq!(
        err(&[pv("3"), pn, ("origin", Some("xx"))]),
        ("22023", "unrecognized origin value: \"xx\"".into())
    );
    let p = PgOutput::new(&opts(&[
        pv("4"),
        ("publication_names", Some(" \"pALL\" , P ,\"a\"\"b\"")),
        ("binary", Some("TRUE")),
        ("messages", None),
        ("streaming", Some("parallel")),
        ("origin", Some("NONE")),
        ("two_phase", Some("off")),
    ]))
    .unwrap();
    assert_eq!(p.publication_names, ["pALL", "p", "a\"b"]);
    assert!(p.binary && p.messages && p.origin_none && !p.two_phase);
    assert_eq!(p.streaming, Streaming::Parallel);
    let p = PgOutput::new(&opts(&[pv("4"), ("publication_names", Some(""))])).unwrap();
    assert!(p.publication_names.is_empty());
    let long = "x".repeat(70);
    assert_eq!(split_identifier_list(&long).unwrap()[0].len(), 63);
    assert!(crate::start_plugin("pgoutput", &opts(&[pv("4"), pn])).is_ok());
}

#[test]
fn messages_round_trip() {
    let t = t_table(ReplicaIdentity::Default);
    let mut msgs = Vec::new();
    let mut b = Vec::new();
    write_begin(&mut b, lsn("1/2"), -5, Xid(7));
    msgs.push((
        b,
        LogicalMessage::Begin {
            final_lsn: lsn("1/2"),
            commit_time: -5,
            xid: Xid(7),
        },
    ));
    let mut b = Vec::new();
    write_commit(&mut b, lsn("1/2"), lsn("1/30"), 9);
    msgs.push((
        b,
        LogicalMessage::Commit {
            flags: 0,
            commit_lsn: lsn("1/2"),
            end_lsn: lsn("1/30"),
            commit_time: 9,
        },
    ));
    let mut b = Vec::new();
    write_origin(&mut b, lsn("0/ABCDEF"), "o1");
    msgs.push((
        b,
        LogicalMessage::Origin {
            origin_lsn: lsn("0/ABCDEF"),
            name: "o1".into(),
        },
    ));
    let mut b = Vec::new();
    write_update(
        &mut b,
        &t,
        Some(&OldRow::Full(row(1, Some("é"), None, None))),
        &row(2, None, Some("v"), Some("-1.25")),
        true,
    );
    let mut int2 = Vec::new();
    tandem_expr::binary_out(&Value::Int4(2), &DataType::Int4, &mut int2);
    msgs.push((
        b,
        LogicalMessage::Update {
            xid: None,
            relid: Oid(16384),
            old: Some((
                OldKind::Full,
                vec![
                    TupleColumn::Binary(vec![0, 0, 0, 1]),
                    TupleColumn::Binary("é".as_bytes().to_vec()),
                    TupleColumn::Null,
                    TupleColumn::Null,
                ],
            )),
            new: vec![
                TupleColumn::Binary(int2),
                TupleColumn::Null,
                TupleColumn::Binary(b"v".to_vec()),
                TupleColumn::Binary(vec![0, 2, 0, 0, 0x40, 0, 0, 2, 0, 1, 0x09, 0xc4]),
            ],
        },
    ));
    let mut b = Vec::new();
    write_delete(&mut b, &t, &OldRow::Key(row(5, None, None, None)), false);
    msgs.push((
        b,
        LogicalMessage::Delete {
            xid: None,
            relid: Oid(16384),
            old: (
                OldKind::Key,
                vec![
                    TupleColumn::Text(b"5".to_vec()),
                    TupleColumn::Null,
                    TupleColumn::Null,
                    TupleColumn::Null,
                ],
            ),
        },
    ));
    let mut b = Vec::new();
    write_truncate(&mut b, &[Oid(1), Oid(2)], true, false);
    msgs.push((
        b,
        LogicalMessage::Truncate {
            xid: None,
            flags: 1,
            relids: vec![Oid(1), Oid(2)],
        },
    ));
    let mut b = Vec::new();
    write_message(&mut b, true, lsn("0/10"), "px", &[0, 1, 2]);
    msgs.push((
        b,
        LogicalMessage::Message {
            xid: None,
            flags: 1,
            lsn: lsn("0/10"),
            prefix: "px".into(),
            content: vec![0, 1, 2],
        },
    ));
    for (bytes, expected) in msgs {
        assert_eq!(parse_message(&bytes).unwrap(), expected);
        // Every strict prefix is too short.
        for cut in 0..bytes.len() {
            assert!(
                parse_message(&bytes[..cut]).is_err(),
                "{expected:?} at {cut}"
            );
        }
    }
    let mut b = Vec::new();
    write_relation(&mut b, &t);
    match parse_message(&b).unwrap() {
        LogicalMessage::Relation {
            oid,
            namespace,
            name,
            replica_identity,
            columns,
            ..
        } => {
            assert_eq!(
                (oid, namespace.as_str(), name.as_str()),
                (Oid(16384), "public", "t")
            );
            assert_eq!(replica_identity, b'd');
            assert_eq!(columns.len(), 4);
            assert_eq!((columns[0].flags, columns[0].type_oid), (1, 23));
            assert_eq!(
                (columns[3].type_oid, columns[3].typmod),
                (1700, 0x000a_0006)
            );
        }
        other => panic!("{other:?}"),
    }
    let e = parse_message(b"Z").unwrap_err();
    assert_eq!(e.code, SqlState::PROTOCOL_VIOLATION);
    assert_eq!(
        e.message,
        "invalid logical replication message type \"??? (90)\""
    );
}

#[test]
fn parses_postgres_bytes() {
    let bytes = |h: &str| -> Vec<u8> {
        (0..h.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap())
            .collect()
    };
    assert_eq!(
        parse_message(&bytes("4200000000014b16b0000303d21d22effe000002e6")).unwrap(),
        LogicalMessage::Begin {
            final_lsn: lsn("0/14B16B0"),
            commit_time: 0x0303d21d22effe,
            xid: Xid(742),
        }
    );
    assert_eq!(
        parse_message(&bytes("5400000002030000400000004007")).unwrap(),
        LogicalMessage::Truncate {
            xid: None,
            flags: 3,
            relids: vec![Oid(16384), Oid(16391)],
        }
    );
    match parse_message(&bytes(
        "55000040004b00047400000001326e6e6e4e00047400000001336e6e6e",
    ))
    .unwrap()
    {
        LogicalMessage::Update { old, new, .. } => {
            assert_eq!(old.map(|o| o.0), Some(OldKind::Key));
            assert_eq!(new[0], TupleColumn::Text(b"3".to_vec()));
        }
        other => panic!("{other:?}"),
    }
    // Streaming forms carry the xid first.
    assert_eq!(
        crate::pgoutput_read::parse_message_in(
            &bytes("49000002f6000040004e0001740000000131"),
            true
        )
        .unwrap(),
        LogicalMessage::Insert {
            xid: Some(Xid(758)),
            relid: Oid(16384),
            new: vec![TupleColumn::Text(b"1".to_vec())],
        }
    );
}

#[test]
fn truncated_messages_are_protocol_violations() {
    let bytes = |h: &str| -> Vec<u8> {
        (0..h.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap())
            .collect()
    };
    for (hex, streamed) in [
        ("4200000000014b16b0000303d21d22effe000002e6", false),
        ("5400000002030000400000004007", false),
        (
            "55000040004b00047400000001326e6e6e4e00047400000001336e6e6e",
            false,
        ),
        ("49000002f6000040004e0001740000000131", true),
    ] {
        let whole = bytes(hex);
        for cut in 0..whole.len() {
            let e = crate::pgoutput_read::parse_message_in(&whole[..cut], streamed).unwrap_err();
            assert_eq!(e.code, SqlState::PROTOCOL_VIOLATION, "{hex} cut at {cut}");
        }
    }
}

/// `items` with each transaction cut into parts of one change each (a large
/// transaction reaches the plugin so, `reader.rs`).
fn one_change_parts(items: Vec<Item>) -> Vec<Item> {
    let mut out = Vec::new();
    for item in items {
        match item {
            Item::Txn(t, c) if t.changes.len() > 1 => {
                let n = t.changes.len();
                for (i, change) in t.changes.iter().enumerate() {
                    let mut part = t.clone();
                    part.changes = vec![change.clone()];
                    part.part = crate::Part {
                        first: i == 0,
                        last: i == n - 1,
                    };
                    out.push(Item::Txn(part, c.clone()));
                }
            }
            other => out.push(other),
        }
    }
    out
}

#[test]
fn a_transaction_in_parts_sends_what_it_sends_whole() {
    for list in [
        &[
            ("proto_version", "4"),
            ("publication_names", "p"),
            ("messages", "true"),
        ][..],
        &[("proto_version", "1"), ("publication_names", "pall")][..],
    ] {
        let whole = run(&mut plugin(list), &first_session()).unwrap();
        let parted = run(&mut plugin(list), &one_change_parts(first_session())).unwrap();
        assert_eq!(parted, whole, "{list:?}");
    }
    // Begin goes out once, before the first published change of any part;
    // Commit once, with the last part.
    let rows = run(
        &mut plugin(&[("proto_version", "4"), ("publication_names", "p")]),
        &one_change_parts(first_session()),
    )
    .unwrap();
    let kinds: String = rows
        .iter()
        .filter(|r| r.contains("|744|"))
        .map(|r| r.rsplit('|').next().unwrap_or("")[..2].to_string())
        .collect::<Vec<_>>()
        .join(" ");
    assert_eq!(kinds, "42 49 55 55 44 43");
}
