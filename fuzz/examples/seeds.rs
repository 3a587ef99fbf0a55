//! Writes the seed corpus of every fuzz target (`fuzz/seeds/<target>/`): valid
//! inputs produced by tandem's own encoders, each prefixed with the mode byte
//! the target reads first. Run from the repository root:
//! `cargo run --manifest-path fuzz/Cargo.toml --example seeds -- fuzz/seeds`.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tandem_decoding::pgoutput::{
    write_begin, write_commit, write_delete, write_insert, write_message, write_origin,
    write_relation, write_truncate, write_update,
};
use tandem_decoding::OldRow;
use tandem_protocol::frontend::{
    encode_password, encode_sasl_initial, encode_special, encode_startup,
};
use tandem_protocol::replication::{
    encode_standby_message, put_keepalive, put_xlog_data, StandbyMessage,
};
use tandem_protocol::scram::ScramClient;
use tandem_protocol::{FrontendMessage, StartupPacket, Target};
use tandem_replication::slot::{Invalidation, Persistency, SlotData, SlotRegistry};
use tandem_storage::record::{
    change_record, checkpoint_record, commit_record, message_record, sequence_record,
    slot_state_record, Change, CheckpointRecord, CommitRecord, MessageRecord, SequenceRecord,
    SlotStateEntry, SlotStateRecord,
};
use tandem_storage::{
    CatalogOp, ColumnDef, CommitOrigin, OldTuple, PrimaryKey, ReplicaIdentity, RowKey, TableDef,
};
use tandem_types::{DataType, Lsn, Oid, TimeLineId, Value, Xid};
use tandem_wal::record::{encode_record, payload_crc};
use tandem_wal::{kinds, Record};

type Res = Result<(), Box<dyn std::error::Error>>;

fn main() -> Res {
    let root = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "fuzz/seeds".into()),
    );
    frontend(&root.join("frontend_message"))?;
    repl_command(&root.join("repl_command"))?;
    wal(&root.join("wal_record"))?;
    wal_decode(&root.join("wal_decode"))?;
    pgoutput(&root.join("pgoutput"))?;
    slot_state(&root.join("slot_state"))?;
    conninfo(&root.join("conninfo"))?;
    Ok(())
}

/// Replaces the directory's seeds with `seeds` (name, bytes).
fn write_all(dir: &Path, seeds: Vec<(String, Vec<u8>)>) -> Res {
    if dir.exists() {
        fs::remove_dir_all(dir)?;
    }
    fs::create_dir_all(dir)?;
    for (name, bytes) in seeds {
        fs::write(dir.join(name), bytes)?;
    }
    Ok(())
}

fn with_mode(mode: u8, bytes: &[u8]) -> Vec<u8> {
    let mut v = vec![mode];
    v.extend_from_slice(bytes);
    v
}

fn frontend(dir: &Path) -> Res {
    let msgs = vec![
        FrontendMessage::Query("select 1; select 'a'".into()),
        FrontendMessage::Parse {
            name: "s1".into(),
            query: "select $1::int, $2".into(),
            param_types: vec![23, 25],
        },
        FrontendMessage::Bind {
            portal: "p".into(),
            statement: "s1".into(),
            param_formats: vec![0, 1],
            params: vec![Some(b"42".to_vec()), None],
            result_formats: vec![1],
        },
        FrontendMessage::Describe {
            target: Target::Statement,
            name: "s1".into(),
        },
        FrontendMessage::Describe {
            target: Target::Portal,
            name: "p".into(),
        },
        FrontendMessage::Execute {
            portal: "p".into(),
            max_rows: 10,
        },
        FrontendMessage::Close {
            target: Target::Portal,
            name: "p".into(),
        },
        FrontendMessage::Sync,
        FrontendMessage::Flush,
        FrontendMessage::CopyData(b"1\tone\n".to_vec()),
        FrontendMessage::CopyDone,
        FrontendMessage::CopyFail("stop".into()),
        FrontendMessage::AuthResponse(b"secret\0".to_vec()),
        FrontendMessage::Terminate,
    ];
    let mut seeds = Vec::new();
    let mut all = Vec::new();
    for (i, m) in msgs.iter().enumerate() {
        let mut b = Vec::new();
        m.encode(&mut b);
        all.extend_from_slice(&b);
        seeds.push((format!("typed-{i:02}"), with_mode(0, &b)));
    }
    seeds.push(("typed-all".into(), with_mode(0, &all)));
    // Startup packets: the length word is decoded separately, the body after it.
    let mut b = Vec::new();
    encode_startup(
        &[
            ("user", "alice"),
            ("database", "db"),
            ("replication", "database"),
        ],
        &mut b,
    );
    seeds.push(("startup".into(), with_mode(1, &b[4..])));
    for (name, p) in [
        ("ssl", StartupPacket::SslRequest),
        ("gss", StartupPacket::GssEncRequest),
        (
            "cancel",
            StartupPacket::CancelRequest {
                pid: 1234,
                secret: 99,
            },
        ),
    ] {
        let mut b = Vec::new();
        encode_special(&p, &mut b);
        seeds.push((format!("startup-{name}"), with_mode(1, &b[4..])));
    }
    // Password and SASL bodies (after the `p` header).
    let mut b = Vec::new();
    encode_password("secret", &mut b);
    seeds.push(("password".into(), with_mode(2, &b[5..])));
    let client = ScramClient::with_nonce("", "secret", "rOprNGfwEbeRWgbNEkqO");
    let first = client.client_first();
    let mut b = Vec::new();
    encode_sasl_initial("SCRAM-SHA-256", &first, &mut b);
    seeds.push(("sasl-initial".into(), with_mode(2, &b[5..])));
    // SCRAM: client-first NUL client-final.
    let mut scram = first.clone();
    scram.push(0);
    scram.extend_from_slice(
        b"c=biws,r=rOprNGfwEbeRWgbNEkqOfuzznonce,p=dHpaFvaL1bc5SmJHgX8I3HqbYRT8ziNWJBN5qQ+yUBE=",
    );
    seeds.push(("scram".into(), with_mode(3, &scram)));
    // Replication CopyData payloads.
    let status = encode_standby_message(&StandbyMessage::Status {
        write: Lsn(0x016B_3748),
        flush: Lsn(0x016B_3748),
        apply: Lsn(0x016B_3000),
        send_time: 774_000_000_000_000,
        reply_requested: true,
    });
    seeds.push(("standby-status".into(), with_mode(4, &status)));
    let hs = encode_standby_message(&StandbyMessage::HotStandbyFeedback {
        send_time: 774_000_000_000_000,
        xmin: 740,
        xmin_epoch: 0,
        catalog_xmin: 738,
        catalog_xmin_epoch: 0,
    });
    seeds.push(("standby-hs".into(), with_mode(4, &hs)));
    // put_* write whole CopyData messages: strip the `d` header.
    let mut b = Vec::new();
    put_xlog_data(
        &mut b,
        Lsn(0x100_0000),
        Lsn(0x100_0040),
        774_000_000_000_000,
        b"walbytes",
    );
    seeds.push(("primary-xlogdata".into(), with_mode(4, &b[5..])));
    let mut b = Vec::new();
    put_keepalive(&mut b, Lsn(0x100_0040), 774_000_000_000_000, true);
    seeds.push(("primary-keepalive".into(), with_mode(4, &b[5..])));
    write_all(dir, seeds)
}

fn repl_command(dir: &Path) -> Res {
    let cmds = [
        "IDENTIFY_SYSTEM",
        "SHOW wal_segment_size",
        "TIMELINE_HISTORY 2",
        "READ_REPLICATION_SLOT s1",
        "CREATE_REPLICATION_SLOT s1 TEMPORARY PHYSICAL RESERVE_WAL",
        "CREATE_REPLICATION_SLOT \"S 2\" LOGICAL pgoutput (SNAPSHOT 'nothing', TWO_PHASE false, FAILOVER true)",
        "CREATE_REPLICATION_SLOT s3 LOGICAL test_decoding EXPORT_SNAPSHOT",
        "ALTER_REPLICATION_SLOT s1 (FAILOVER true, TWO_PHASE)",
        "DROP_REPLICATION_SLOT s1 WAIT",
        "START_REPLICATION SLOT s1 PHYSICAL 0/16B3748 TIMELINE 1",
        "START_REPLICATION 1/0",
        "START_REPLICATION SLOT sub LOGICAL 0/0 (proto_version '4', publication_names '\"p1\",p2', binary 'true', streaming 'parallel')",
        "BASE_BACKUP (LABEL 'b''k', PROGRESS, CHECKPOINT 'fast', WAL, WAIT false, MAX_RATE 32768, MANIFEST 'yes')",
        "BASE_BACKUP LABEL 'x' PROGRESS FAST WAL NOWAIT",
        "select pg_current_wal_lsn() /* sql */;",
    ];
    let seeds = cmds
        .iter()
        .enumerate()
        .map(|(i, c)| (format!("cmd-{i:02}"), c.as_bytes().to_vec()))
        .collect();
    write_all(dir, seeds)
}

fn table() -> TableDef {
    let col = |name: &str, data_type| ColumnDef {
        name: name.into(),
        data_type,
        not_null: false,
        default: None,
        dropped: false,
    };
    TableDef {
        oid: Oid(16384),
        schema: "public".into(),
        name: "t".into(),
        columns: vec![
            col("a", DataType::Int4),
            col("b", DataType::Text),
            col("c", DataType::Varchar(Some(10))),
        ],
        primary_key: Some(PrimaryKey {
            name: "t_pkey".into(),
            columns: vec![0],
        }),
        replica_identity: ReplicaIdentity::Default,
        owner: Oid(10),
    }
}

/// One record of every storage kind, as tandem writes them.
fn wal_records() -> Vec<Record> {
    let row: Arc<[Value]> = vec![Value::Int4(1), Value::Text("one".into()), Value::Null].into();
    let key = RowKey(vec![0x80, 0, 0, 1]);
    let xid = Xid(740);
    vec![
        change_record(
            &Change::Insert {
                table: Oid(16384),
                key: key.clone(),
                row: row.clone(),
            },
            xid,
        ),
        change_record(
            &Change::Update {
                table: Oid(16384),
                old_key: key.clone(),
                key: RowKey(vec![0x80, 0, 0, 2]),
                row: row.clone(),
                old: OldTuple::Key(row.to_vec()),
            },
            xid,
        ),
        change_record(
            &Change::Delete {
                table: Oid(16384),
                key,
                old: OldTuple::Full(row.to_vec()),
            },
            xid,
        ),
        change_record(
            &Change::Truncate {
                tables: vec![Oid(16384), Oid(16391)],
                restart_seqs: true,
                cascade: false,
            },
            xid,
        ),
        change_record(
            &Change::Catalog(Box::new(CatalogOp::PutTable {
                def: table(),
                fill: Some(Value::Int4(0)),
            })),
            xid,
        ),
        change_record(
            &Change::Catalog(Box::new(CatalogOp::DropTable(Oid(16384)))),
            xid,
        ),
        commit_record(
            &CommitRecord {
                commit_time: 774_000_000_000_000,
                origin: Some(CommitOrigin {
                    origin: 1,
                    remote_lsn: Lsn(0x300_0000),
                    remote_time: 7,
                }),
            },
            xid,
        ),
        commit_record(
            &CommitRecord {
                commit_time: 1,
                origin: None,
            },
            xid,
        ),
        sequence_record(&SequenceRecord {
            seq: Oid(16400),
            last_value: 33,
            is_called: true,
        }),
        message_record(
            &MessageRecord {
                transactional: true,
                prefix: "app".into(),
                content: b"hello".to_vec(),
            },
            xid,
        ),
        checkpoint_record(&CheckpointRecord {
            redo: Lsn(0x100_0028),
            timeline: TimeLineId(1),
            next_xid: Xid(741),
            next_oid: Oid(16500),
            shutdown: true,
        }),
        slot_state_record(&SlotStateRecord {
            slots: vec![SlotStateEntry {
                name: "sub".into(),
                plugin: "pgoutput".into(),
                database: "postgres".into(),
                restart_lsn: Lsn(0x100_0000),
                confirmed_flush: Lsn(0x100_0100),
                catalog_xmin: Xid(738),
                two_phase: false,
                failover: true,
                invalidation: String::new(),
            }],
            dropped: vec!["old".into()],
            standby_slots: None,
        }),
        slot_state_record(&SlotStateRecord {
            slots: Vec::new(),
            dropped: Vec::new(),
            standby_slots: Some("ANY 1 (sb1_slot, sb2_slot)".into()),
        }),
    ]
}

fn wal(dir: &Path) -> Res {
    let records = wal_records();
    let mut seeds = Vec::new();
    let mut stream = Vec::new();
    let mut prev = Lsn(0);
    for (i, r) in records.iter().enumerate() {
        let mut payload = vec![r.kind];
        payload.extend_from_slice(&r.payload);
        seeds.push((format!("payload-{i:02}"), with_mode(0, &payload)));
        let at = Lsn(stream.len() as u64);
        encode_record(
            &mut stream,
            prev,
            r.kind,
            r.xid,
            &r.payload,
            payload_crc(&r.payload),
        );
        prev = at;
    }
    seeds.push(("stream".into(), with_mode(1, &stream)));
    let history = "1\t0/3000158\tno recovery target specified\n\n2\t0/5000000\tbefore 2000-01-01 00:00:00+00\n";
    seeds.push(("history".into(), with_mode(2, history.as_bytes())));
    write_all(dir, seeds)
}

/// Streams for `wal_decode`: the LSN they start at (8 bytes little endian),
/// the segment size byte (`1 << (3 + b % 37)`), then records written by
/// `encode_record`, each linked to the one before; one stream crosses a
/// segment boundary after a SWITCH record, as `pg_switch_wal()` leaves it.
fn wal_decode(dir: &Path) -> Res {
    let records = wal_records();
    let mut seeds = Vec::new();
    // (name, start LSN, segment size exponent, records, switch at the end)
    let shapes: [(&str, u64, u8, &[Record], bool); 4] = [
        ("all-kinds", 0x100_0028, 24, &records, false),
        ("one-commit", 0x2_0000_0000, 24, &records[6..7], false),
        ("switch", 0x100_0000 - 0x200, 24, &records[..3], true),
        ("small-segments", 0x4000, 12, &records[8..10], true),
    ];
    for (name, start, shift, recs, switch) in shapes {
        let segsize = 1u64 << shift;
        let mut stream = Vec::new();
        let mut prev = Lsn(0);
        let mut put = |stream: &mut Vec<u8>, kind: u8, xid: Xid, payload: &[u8]| {
            let at = Lsn(start + stream.len() as u64);
            encode_record(stream, prev, kind, xid, payload, payload_crc(payload));
            prev = at;
        };
        for r in recs {
            put(&mut stream, r.kind, r.xid, &r.payload);
        }
        if switch {
            put(&mut stream, kinds::SWITCH, Xid(0), &[]);
            let end = start + stream.len() as u64;
            let boundary = end.div_ceil(segsize) * segsize;
            stream.resize((boundary - start) as usize, 0);
            put(&mut stream, kinds::NOOP, Xid(0), &[]);
        }
        let mut input = start.to_le_bytes().to_vec();
        input.push(shift - 3);
        input.extend_from_slice(&stream);
        seeds.push((name.to_string(), input));
    }
    write_all(dir, seeds)
}

fn pgoutput(dir: &Path) -> Res {
    let t = table();
    let row = vec![Value::Int4(1), Value::Text("one".into()), Value::Null];
    let mut msgs: Vec<(&str, bool, Vec<u8>)> = Vec::new();
    let mut b = Vec::new();
    write_begin(&mut b, Lsn(0x100_0100), 774_000_000_000_000, Xid(740));
    msgs.push(("begin", false, b));
    let mut b = Vec::new();
    write_commit(
        &mut b,
        Lsn(0x100_0100),
        Lsn(0x100_0128),
        774_000_000_000_000,
    );
    msgs.push(("commit", false, b));
    let mut b = Vec::new();
    write_origin(&mut b, Lsn(0x300_0000), "pg_16400");
    msgs.push(("origin", false, b));
    let mut b = Vec::new();
    write_relation(&mut b, &t);
    msgs.push(("relation", false, b));
    for binary in [false, true] {
        let mut b = Vec::new();
        write_insert(&mut b, &t, &row, binary);
        msgs.push((if binary { "insert-binary" } else { "insert" }, false, b));
        let mut b = Vec::new();
        write_update(&mut b, &t, Some(&OldRow::Key(row.clone())), &row, binary);
        msgs.push((if binary { "update-binary" } else { "update" }, false, b));
        let mut b = Vec::new();
        write_delete(&mut b, &t, &OldRow::Full(row.clone()), binary);
        msgs.push((if binary { "delete-binary" } else { "delete" }, false, b));
    }
    let mut b = Vec::new();
    write_truncate(&mut b, &[Oid(16384), Oid(16391)], true, false);
    msgs.push(("truncate", false, b));
    let mut b = Vec::new();
    write_message(&mut b, true, Lsn(0x100_0200), "app", b"hello");
    msgs.push(("message", false, b));
    // Kinds tandem's pgoutput does not send (streaming, two-phase, Type), laid
    // out as PostgreSQL 17's "Logical Replication Message Formats" describe.
    let be32 = |v: u32| v.to_be_bytes().to_vec();
    let be64 = |v: u64| v.to_be_bytes().to_vec();
    let cat = |parts: Vec<Vec<u8>>| parts.concat();
    msgs.push((
        "stream-start",
        false,
        cat(vec![b"S".to_vec(), be32(741), vec![1]]),
    ));
    msgs.push(("stream-stop", false, b"E".to_vec()));
    msgs.push((
        "stream-commit",
        false,
        cat(vec![
            b"c".to_vec(),
            be32(741),
            vec![0],
            be64(0x200),
            be64(0x228),
            be64(5),
        ]),
    ));
    msgs.push((
        "stream-abort",
        false,
        cat(vec![b"A".to_vec(), be32(741), be32(742)]),
    ));
    let mut b = Vec::new();
    write_insert(&mut b, &t, &row, false);
    let mut streamed = vec![b'I'];
    streamed.extend_from_slice(&be32(741));
    streamed.extend_from_slice(&b[1..]);
    msgs.push(("stream-insert", true, streamed));
    msgs.push((
        "begin-prepare",
        false,
        cat(vec![
            b"b".to_vec(),
            be64(0x300),
            be64(0x328),
            be64(5),
            be32(743),
            b"gid\0".to_vec(),
        ]),
    ));
    msgs.push((
        "prepare",
        false,
        cat(vec![
            b"P".to_vec(),
            vec![0],
            be64(0x300),
            be64(0x328),
            be64(5),
            be32(743),
            b"gid\0".to_vec(),
        ]),
    ));
    msgs.push((
        "commit-prepared",
        false,
        cat(vec![
            b"K".to_vec(),
            vec![0],
            be64(0x400),
            be64(0x428),
            be64(6),
            be32(743),
            b"gid\0".to_vec(),
        ]),
    ));
    msgs.push((
        "rollback-prepared",
        false,
        cat(vec![
            b"r".to_vec(),
            vec![0],
            be64(0x328),
            be64(0x428),
            be64(5),
            be64(6),
            be32(743),
            b"gid\0".to_vec(),
        ]),
    ));
    msgs.push((
        "stream-prepare",
        false,
        cat(vec![
            b"p".to_vec(),
            vec![0],
            be64(0x300),
            be64(0x328),
            be64(5),
            be32(743),
            b"gid\0".to_vec(),
        ]),
    ));
    msgs.push((
        "type",
        false,
        cat(vec![b"Y".to_vec(), be32(16500), b"public\0mood\0".to_vec()]),
    ));
    let seeds = msgs
        .into_iter()
        .map(|(name, streamed, bytes)| (name.to_string(), with_mode(streamed as u8, &bytes)))
        .collect();
    write_all(dir, seeds)
}

/// Slot state files as the registry writes them (a temporary `pg_replslot`).
fn slot_state(dir: &Path) -> Res {
    let tmp = std::env::temp_dir().join(format!("tandem-fuzz-seeds-{}", std::process::id()));
    let reg = SlotRegistry::open(&tmp, 10, 0)?;
    let logical = SlotData {
        database: Some(Oid(5)),
        plugin: Some("pgoutput".into()),
        xmin: None,
        catalog_xmin: Some(Xid(738)),
        restart_lsn: Some(Lsn(0x100_0000)),
        confirmed_flush: Some(Lsn(0x100_0100)),
        two_phase: true,
        two_phase_at: Some(Lsn(0x100_0100)),
        failover: true,
        synced: true,
        ..SlotData::physical("sub", Persistency::Persistent)
    };
    let physical = SlotData {
        xmin: Some(Xid(740)),
        restart_lsn: Some(Lsn(0x100_0000)),
        invalidated: Some(Invalidation::WalRemoved),
        ..SlotData::physical("standby1", Persistency::Persistent)
    };
    reg.create(logical, 1)?;
    reg.create(physical, 1)?;
    let mut seeds = Vec::new();
    for name in ["sub", "standby1"] {
        let bytes = fs::read(tmp.join(name).join("state"))?;
        seeds.push((name.to_string(), with_mode(0, &bytes)));
    }
    drop(reg);
    fs::remove_dir_all(&tmp)?;
    write_all(dir, seeds)
}

fn conninfo(dir: &Path) -> Res {
    let strings = [
        "host=localhost port=5432 dbname=postgres user=repl password='s3 cr\\'et' application_name=walreceiver",
        "host=a,b,/tmp hostaddr=127.0.0.1,,::1 port=5432,5433,5434 connect_timeout=10 sslmode=prefer",
        "postgresql://user:p%40ss@[::1]:5433,host2/db?sslmode=require&application_name=sub",
        "postgres://%2Fvar%2Frun%2Fpostgresql/db",
        "postgresql:///postgres?host=/tmp&port=5432&target_session_attrs=read-write",
        "dbname = 'x y' options='-c search_path=public'",
    ];
    let seeds = strings
        .iter()
        .enumerate()
        .map(|(i, s)| (format!("conninfo-{i}"), s.as_bytes().to_vec()))
        .collect();
    write_all(dir, seeds)
}
