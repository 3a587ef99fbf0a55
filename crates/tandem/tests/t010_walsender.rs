//! The primary side of physical replication: the walsender and physical slots.
//!
//! - the real `pg_receivewal` streams WAL through a slot it creates; the segment
//!   files it writes are byte-identical to the server's `pg_wal` for what it
//!   received, and the slot's `restart_lsn` follows its flush reports;
//! - slot SQL functions and `pg_replication_slots` over tokio-postgres; slots
//!   survive SIGKILL; temporary slots die with their session;
//! - WAL retention by a slot and invalidation past `max_slot_wal_keep_size`;
//! - replication commands and their errors over a raw replication connection
//!   (a tiny blocking protocol client below): IDENTIFY_SYSTEM, SHOW,
//!   TIMELINE_HISTORY, CREATE/READ/DROP_REPLICATION_SLOT, START_REPLICATION with
//!   XLogData, standby replies, hot standby feedback, CopyDone, keepalives,
//!   `wal_sender_timeout`, `max_wal_senders`.
//!
//! pg_receivewal: PostgreSQL 15's refuses servers newer than 15, so the tests use
//! PostgreSQL 17's (`PG17_BIN`, see `tandem_testkit::pg17`).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tandem_testkit::{message, require_pg17_program, sqlstate, wait_for, Node, DEADLINE};

const SEG: u64 = 1024 * 1024;

fn parse_lsn(s: &str) -> u64 {
    let (hi, lo) = s.trim().split_once('/').expect("lsn");
    (u64::from_str_radix(hi, 16).unwrap() << 32) | u64::from_str_radix(lo, 16).unwrap()
}

fn seg_name(segno: u64) -> String {
    format!(
        "00000001{:08X}{:08X}",
        segno / (0x1_0000_0000 / SEG),
        segno % (0x1_0000_0000 / SEG)
    )
}

/// A node initialised with 1 MB WAL segments.
fn small_segment_node(name: &str, conf: &str) -> Node {
    let node = Node::init_with(name, &["--wal-segsize", "1"]);
    node.append_conf(conf);
    node
}

/// Writes one row and switches to a new segment, `n` times.
fn fill_segments(node: &Node, n: usize) {
    // separate statements: a switch inside the inserting transaction would
    // come before its commit record
    for _ in 0..n {
        node.safe_psql("INSERT INTO filler VALUES (1)");
        node.safe_psql("SELECT pg_switch_wal()");
    }
}

// ---------------------------------------------------------------- raw client

/// A message from the server: tag and body.
type Msg = (u8, Vec<u8>);

struct ReplConn {
    s: TcpStream,
}

#[derive(Debug, Default)]
struct Reply {
    rows: Vec<Vec<Option<String>>>,
    columns: Vec<(String, u32)>,
    tag: Option<String>,
    /// (severity, code, message, detail)
    error: Option<(String, String, String, Option<String>)>,
    /// NoticeResponses, as the error fields.
    notices: Vec<(String, String, String, Option<String>)>,
}

fn error_fields(body: &[u8]) -> (String, String, String, Option<String>) {
    let mut sev = String::new();
    let mut code = String::new();
    let mut msg = String::new();
    let mut detail = None;
    for f in body.split(|b| *b == 0).filter(|f| !f.is_empty()) {
        let v = String::from_utf8_lossy(&f[1..]).to_string();
        match f[0] {
            b'S' => sev = v,
            b'C' => code = v,
            b'M' => msg = v,
            b'D' => detail = Some(v),
            _ => {}
        }
    }
    (sev, code, msg, detail)
}

impl ReplConn {
    fn connect(node: &Node, replication: &str) -> Result<ReplConn, (String, String, String)> {
        let s = TcpStream::connect(("127.0.0.1", node.port)).expect("connect");
        s.set_read_timeout(Some(DEADLINE)).unwrap();
        let mut c = ReplConn { s };
        let mut body = Vec::new();
        body.extend_from_slice(&196608u32.to_be_bytes());
        for (k, v) in [
            ("user", "postgres"),
            ("database", "postgres"),
            ("replication", replication),
            ("application_name", "rawclient"),
        ] {
            body.extend_from_slice(k.as_bytes());
            body.push(0);
            body.extend_from_slice(v.as_bytes());
            body.push(0);
        }
        body.push(0);
        let mut pkt = ((body.len() + 4) as u32).to_be_bytes().to_vec();
        pkt.extend_from_slice(&body);
        c.s.write_all(&pkt).unwrap();
        loop {
            let (tag, body) = c.read().expect("startup reply");
            match tag {
                b'Z' => return Ok(c),
                b'E' => {
                    let (sev, code, msg, _) = error_fields(&body);
                    return Err((sev, code, msg));
                }
                _ => {}
            }
        }
    }

    fn read(&mut self) -> Option<Msg> {
        let mut hdr = [0u8; 5];
        self.s.read_exact(&mut hdr).ok()?;
        let len = u32::from_be_bytes([hdr[1], hdr[2], hdr[3], hdr[4]]) as usize;
        let mut body = vec![0u8; len - 4];
        self.s.read_exact(&mut body).ok()?;
        Some((hdr[0], body))
    }

    fn send(&mut self, tag: u8, body: &[u8]) {
        let mut m = vec![tag];
        m.extend_from_slice(&((body.len() + 4) as u32).to_be_bytes());
        m.extend_from_slice(body);
        self.s.write_all(&m).unwrap();
    }

    fn query_start(&mut self, q: &str) {
        let mut b = q.as_bytes().to_vec();
        b.push(0);
        self.send(b'Q', &b);
    }

    /// Runs a command and collects its result up to ReadyForQuery.
    fn query(&mut self, q: &str) -> Reply {
        self.query_start(q);
        self.collect()
    }

    fn collect(&mut self) -> Reply {
        let mut r = Reply::default();
        loop {
            let (tag, body) = self.read().expect("reply");
            match tag {
                b'T' => {
                    let n = u16::from_be_bytes([body[0], body[1]]) as usize;
                    let mut pos = 2;
                    for _ in 0..n {
                        let end = pos + body[pos..].iter().position(|b| *b == 0).unwrap();
                        let name = String::from_utf8_lossy(&body[pos..end]).to_string();
                        pos = end + 1;
                        let typ = u32::from_be_bytes([
                            body[pos + 6],
                            body[pos + 7],
                            body[pos + 8],
                            body[pos + 9],
                        ]);
                        pos += 18;
                        r.columns.push((name, typ));
                    }
                }
                b'D' => {
                    let n = u16::from_be_bytes([body[0], body[1]]) as usize;
                    let mut pos = 2;
                    let mut row = Vec::new();
                    for _ in 0..n {
                        let len = i32::from_be_bytes([
                            body[pos],
                            body[pos + 1],
                            body[pos + 2],
                            body[pos + 3],
                        ]);
                        pos += 4;
                        if len < 0 {
                            row.push(None);
                        } else {
                            let v = &body[pos..pos + len as usize];
                            row.push(Some(String::from_utf8_lossy(v).to_string()));
                            pos += len as usize;
                        }
                    }
                    r.rows.push(row);
                }
                b'C' => r.tag = Some(String::from_utf8_lossy(&body[..body.len() - 1]).to_string()),
                b'E' => r.error = Some(error_fields(&body)),
                b'N' => r.notices.push(error_fields(&body)),
                b'Z' => return r,
                _ => {}
            }
        }
    }

    /// Sends a standby status update.
    fn status(&mut self, write: u64, flush: u64, apply: u64, reply: bool) {
        let mut b = vec![b'r'];
        for v in [write, flush, apply, 0] {
            b.extend_from_slice(&v.to_be_bytes());
        }
        b.push(reply as u8);
        self.send(b'd', &b);
    }

    fn feedback(&mut self, xmin: u32, catalog_xmin: u32) {
        let mut b = vec![b'h'];
        b.extend_from_slice(&0i64.to_be_bytes());
        for v in [xmin, 0, catalog_xmin, 0] {
            b.extend_from_slice(&v.to_be_bytes());
        }
        self.send(b'd', &b);
    }
}

fn err_of(r: &Reply) -> (String, String) {
    let e = r
        .error
        .as_ref()
        .unwrap_or_else(|| panic!("expected an error, got {r:?}"));
    (e.1.clone(), e.2.clone())
}

fn u64_at(b: &[u8], pos: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[pos..pos + 8]);
    u64::from_be_bytes(a)
}

fn slot_field(node: &Node, slot: &str, col: &str) -> String {
    node.safe_psql(&format!(
        "SELECT coalesce({col}::text, 'NULL') FROM pg_replication_slots WHERE slot_name = '{slot}'"
    ))
}

// ---------------------------------------------------------------- tests

/// slot_name, slot_type, temporary, active, has restart_lsn, wal_status,
/// invalidation_reason, conflicting
type SlotRow = (
    String,
    String,
    bool,
    bool,
    bool,
    Option<String>,
    Option<String>,
    Option<bool>,
);

struct Receiver(Child);

impl Drop for Receiver {
    fn drop(&mut self) {
        // SAFETY: kill(2) on our own child.
        unsafe {
            libc::kill(self.0.id() as i32, libc::SIGINT);
        }
        let end = Instant::now() + Duration::from_secs(10);
        while Instant::now() < end {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn pg_receivewal_streams_byte_identical_wal_through_its_slot() {
    let Some(prw) = require_pg17_program("pg_receivewal") else {
        return;
    };
    let mut node = small_segment_node("walsnd-recv", "");
    node.start();
    node.safe_psql("CREATE TABLE filler (a int)");
    let recv = node.datadir.parent().unwrap().join("recv");
    std::fs::create_dir_all(&recv).unwrap();
    let conn_args = |c: &mut Command| {
        c.args(["-h", "127.0.0.1", "-U", "postgres", "-p"])
            .arg(node.port.to_string())
            .arg("-D")
            .arg(&recv);
    };
    let mut create = Command::new(&prw);
    conn_args(&mut create);
    let out = create
        .args(["--slot", "recv", "--create-slot"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(slot_field(&node, "recv", "slot_type"), "physical");
    assert_eq!(slot_field(&node, "recv", "active"), "false");

    let mut stream = Command::new(&prw);
    conn_args(&mut stream);
    let child = stream
        .args(["--slot", "recv", "--status-interval", "1", "--no-loop"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let receiver = Receiver(child);
    wait_for("pg_receivewal to stream", DEADLINE, || {
        (node.safe_psql("SELECT state FROM pg_stat_replication") == "streaming").then_some(())
    });
    assert_eq!(slot_field(&node, "recv", "active"), "true");
    let start_restart = parse_lsn(&slot_field(&node, "recv", "restart_lsn"));

    fill_segments(&node, 3);
    node.safe_psql("INSERT INTO filler VALUES (2)");
    let flush = parse_lsn(&node.safe_psql("SELECT pg_current_wal_flush_lsn()"));
    // its flush reports move the slot, and pg_stat_replication shows them
    wait_for(
        "pg_receivewal to confirm completed segments",
        DEADLINE,
        || {
            let r = parse_lsn(&slot_field(&node, "recv", "restart_lsn"));
            (r >= (flush / SEG) * SEG && r > start_restart).then_some(())
        },
    );
    wait_for(
        "pg_stat_replication to show the written position",
        DEADLINE,
        || {
            let w = node.safe_psql("SELECT write_lsn FROM pg_stat_replication");
            (!w.is_empty() && parse_lsn(&w) >= flush).then_some(())
        },
    );
    let row = node.safe_psql(
        "SELECT application_name, client_addr, sent_lsn >= write_lsn, sync_state, \
         reply_time IS NOT NULL, usename FROM pg_stat_replication",
    );
    assert_eq!(row, "pg_receivewal|127.0.0.1|t|async|t|postgres");
    drop(receiver);
    wait_for("the slot to be released", DEADLINE, || {
        (slot_field(&node, "recv", "active") == "false").then_some(())
    });

    // byte-identical segments for everything received
    let first = start_restart / SEG;
    let last = flush / SEG;
    let mut compared = 0;
    for segno in first..=last {
        let ours = std::fs::read(node.datadir.join("pg_wal").join(seg_name(segno))).unwrap();
        let done = recv.join(seg_name(segno));
        let partial = recv.join(format!("{}.partial", seg_name(segno)));
        let theirs = std::fs::read(&done)
            .or_else(|_| std::fs::read(&partial))
            .unwrap_or_else(|_| panic!("pg_receivewal wrote no {}", seg_name(segno)));
        let upto = if segno == last {
            (flush - segno * SEG) as usize
        } else {
            SEG as usize
        };
        assert_eq!(theirs.len(), SEG as usize);
        assert!(
            ours[..upto] == theirs[..upto],
            "segment {} differs within the received range",
            seg_name(segno)
        );
        compared += 1;
    }
    assert!(compared >= 4, "compared {compared} segments");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slot_functions_view_and_crash_survival() {
    let mut node = Node::init("walsnd-slots");
    node.start();
    let c = node.connect().await;
    let row = c
        .query_one(
            "SELECT * FROM pg_create_physical_replication_slot('reserved', true)",
            &[],
        )
        .await
        .unwrap();
    let name: String = row.get(0);
    assert_eq!(name, "reserved");
    let lsn: Option<String> = c
        .query_one(
            "SELECT lsn::text FROM pg_create_physical_replication_slot('lazy')",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(lsn, None);
    let e = c
        .query("SELECT pg_create_physical_replication_slot('lazy')", &[])
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e).as_deref(), Some("42710"));
    assert_eq!(message(&e), "replication slot \"lazy\" already exists");
    let e = c
        .query("SELECT pg_drop_replication_slot('nope')", &[])
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e).as_deref(), Some("42704"));
    assert_eq!(message(&e), "replication slot \"nope\" does not exist");

    // every PostgreSQL 17 column, in order, then PostgreSQL 19's
    // slotsync_skip_reason
    let cols = c
        .prepare("SELECT * FROM pg_replication_slots")
        .await
        .unwrap()
        .columns()
        .iter()
        .map(|c| c.name().to_string())
        .collect::<Vec<_>>();
    assert_eq!(
        cols,
        [
            "slot_name",
            "plugin",
            "slot_type",
            "datoid",
            "database",
            "temporary",
            "active",
            "active_pid",
            "xmin",
            "catalog_xmin",
            "restart_lsn",
            "confirmed_flush_lsn",
            "wal_status",
            "safe_wal_size",
            "two_phase",
            "inactive_since",
            "conflicting",
            "invalidation_reason",
            "failover",
            "synced",
            "slotsync_skip_reason"
        ]
    );
    let rows = c
        .query(
            "SELECT slot_name::text, slot_type, temporary, active, restart_lsn IS NOT NULL, \
             wal_status, invalidation_reason, conflicting FROM pg_replication_slots ORDER BY 1",
            &[],
        )
        .await
        .unwrap();
    let got: Vec<SlotRow> = rows
        .iter()
        .map(|r| {
            (
                r.get(0),
                r.get(1),
                r.get(2),
                r.get(3),
                r.get(4),
                r.get(5),
                r.get(6),
                r.get(7),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "lazy".into(),
                "physical".into(),
                false,
                false,
                false,
                None,
                None,
                None
            ),
            (
                "reserved".into(),
                "physical".into(),
                false,
                false,
                true,
                Some("reserved".into()),
                None,
                None
            ),
        ]
    );
    let stat_cols = c
        .prepare("SELECT * FROM pg_stat_replication")
        .await
        .unwrap()
        .columns()
        .len();
    assert_eq!(stat_cols, 20);

    // a temporary slot lives as long as its session
    let t = node.connect().await;
    t.query_one(
        "SELECT pg_create_physical_replication_slot('tmp', false, true)",
        &[],
    )
    .await
    .unwrap();
    let row = c
        .query_one(
            "SELECT temporary, active FROM pg_replication_slots WHERE slot_name = 'tmp'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!((row.get::<_, bool>(0), row.get::<_, bool>(1)), (true, true));
    let e = c
        .query("SELECT pg_drop_replication_slot('tmp')", &[])
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e).as_deref(), Some("55006"));
    drop(t);
    let end = Instant::now() + DEADLINE;
    loop {
        let n: i64 = c
            .query_one(
                "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'tmp'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        if n == 0 {
            break;
        }
        assert!(Instant::now() < end, "temporary slot outlived its session");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // slots survive SIGKILL with their positions
    let before =
        node.safe_psql("SELECT slot_name, restart_lsn FROM pg_replication_slots ORDER BY 1");
    c.execute("SELECT pg_drop_replication_slot('lazy')", &[])
        .await
        .unwrap();
    drop(c);
    node.kill9();
    node.start();
    let after =
        node.safe_psql("SELECT slot_name, restart_lsn FROM pg_replication_slots ORDER BY 1");
    assert_eq!(
        after,
        before
            .lines()
            .filter(|l| !l.starts_with("lazy"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert_eq!(slot_field(&node, "reserved", "active"), "false");
    assert_ne!(slot_field(&node, "reserved", "inactive_since"), "NULL");
}

#[test]
fn slot_keeps_wal_until_max_slot_wal_keep_size_invalidates_it() {
    let mut node = small_segment_node("walsnd-retain", "max_wal_size = '32MB'");
    node.start();
    node.safe_psql("CREATE TABLE filler (a int)");
    let lsn = node.safe_psql("SELECT lsn FROM pg_create_physical_replication_slot('keep', true)");
    let held = parse_lsn(&lsn) / SEG;
    fill_segments(&node, 5);
    node.safe_psql("CHECKPOINT");
    // the slot's segment and everything after it are still there
    for segno in held..held + 5 {
        assert!(
            node.datadir.join("pg_wal").join(seg_name(segno)).exists(),
            "segment {} removed despite the slot",
            seg_name(segno)
        );
    }
    assert_eq!(slot_field(&node, "keep", "wal_status"), "reserved");
    assert_eq!(slot_field(&node, "keep", "safe_wal_size"), "NULL");

    // now cap what slots may hold at 2 MB
    node.stop();
    node.append_conf("max_slot_wal_keep_size = '2MB'");
    node.start();
    assert_eq!(slot_field(&node, "keep", "wal_status"), "unreserved");
    fill_segments(&node, 2);
    node.safe_psql("CHECKPOINT");
    assert_eq!(slot_field(&node, "keep", "wal_status"), "lost");
    assert_eq!(
        slot_field(&node, "keep", "invalidation_reason"),
        "wal_removed"
    );
    assert_eq!(slot_field(&node, "keep", "restart_lsn"), "NULL");
    assert!(!node.datadir.join("pg_wal").join(seg_name(held)).exists());
    let log = node.log();
    assert!(
        log.contains("LOG:  invalidating obsolete replication slot \"keep\""),
        "{log}"
    );
    assert!(
        log.contains(&format!(
            "DETAIL:  The slot's restart_lsn {lsn} exceeds the limit by "
        )),
        "{log}"
    );
    assert!(
        log.contains("HINT:  You might need to increase \"max_slot_wal_keep_size\"."),
        "{log}"
    );
    // and it stays lost across a restart
    node.restart();
    assert_eq!(
        slot_field(&node, "keep", "invalidation_reason"),
        "wal_removed"
    );
}

#[test]
fn replication_commands_and_their_errors() {
    let mut node = small_segment_node(
        "walsnd-cmds",
        "max_wal_senders = 3\nwal_sender_timeout = '2s'",
    );
    node.start();
    node.safe_psql("CREATE TABLE filler (a int)");
    let mut c = ReplConn::connect(&node, "true").expect("replication connection");

    let r = c.query("IDENTIFY_SYSTEM");
    let names: Vec<&str> = r.columns.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["systemid", "timeline", "xlogpos", "dbname"]);
    assert_eq!(r.columns[1].1, 23);
    assert_eq!(r.rows[0][1].as_deref(), Some("1"));
    assert_eq!(r.rows[0][3], None);
    assert_eq!(r.tag.as_deref(), Some("IDENTIFY_SYSTEM"));
    assert_eq!(
        c.query("SHOW wal_segment_size").rows[0][0].as_deref(),
        Some("1MB")
    );

    let r = c.query("TIMELINE_HISTORY 1");
    assert_eq!(
        err_of(&r),
        (
            "58P01".into(),
            "could not open file \"pg_wal/00000001.history\": No such file or directory".into()
        )
    );
    let r = c.query("SELECT 1");
    assert_eq!(
        err_of(&r),
        (
            "0A000".into(),
            "cannot execute SQL commands in WAL sender for physical replication".into()
        )
    );
    let r = c.query("CREATE_REPLICATION_SLOT");
    assert_eq!(err_of(&r).0, "42601");

    // slots over the replication protocol
    let r = c.query("CREATE_REPLICATION_SLOT tslot TEMPORARY PHYSICAL RESERVE_WAL");
    let names: Vec<&str> = r.columns.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "slot_name",
            "consistent_point",
            "snapshot_name",
            "output_plugin"
        ]
    );
    assert_eq!(
        r.rows,
        vec![vec![Some("tslot".into()), Some("0/0".into()), None, None]]
    );
    assert_eq!(slot_field(&node, "tslot", "temporary"), "true");
    let r = c.query("READ_REPLICATION_SLOT tslot");
    assert_eq!(
        r.columns.iter().map(|c| c.1).collect::<Vec<_>>(),
        [25, 25, 20]
    );
    assert_eq!(r.rows[0][0].as_deref(), Some("physical"));
    assert_eq!(
        r.rows[0][1].as_deref(),
        Some(slot_field(&node, "tslot", "restart_lsn").as_str())
    );
    assert_eq!(r.rows[0][2].as_deref(), Some("1"));
    assert_eq!(
        c.query("READ_REPLICATION_SLOT nope").rows,
        vec![vec![None, None, None]]
    );
    let r = c.query("CREATE_REPLICATION_SLOT tslot PHYSICAL");
    assert_eq!(
        err_of(&r),
        (
            "42710".into(),
            "replication slot \"tslot\" already exists".into()
        )
    );
    assert_eq!(
        c.query("CREATE_REPLICATION_SLOT perm PHYSICAL")
            .tag
            .as_deref(),
        Some("CREATE_REPLICATION_SLOT")
    );
    assert_eq!(
        c.query("DROP_REPLICATION_SLOT perm WAIT").tag.as_deref(),
        Some("DROP_REPLICATION_SLOT")
    );
    let r = c.query("DROP_REPLICATION_SLOT perm");
    assert_eq!(
        err_of(&r),
        (
            "42704".into(),
            "replication slot \"perm\" does not exist".into()
        )
    );

    // START_REPLICATION errors
    let flush = node.safe_psql("SELECT pg_current_wal_flush_lsn()");
    let r = c.query("START_REPLICATION PHYSICAL 1/0");
    assert_eq!(
        err_of(&r),
        (
            "XX000".into(),
            format!("requested starting point 1/0 is ahead of the WAL flush position of this server {flush}")
        )
    );
    let r = c.query("START_REPLICATION 0/100000 TIMELINE 2");
    assert_eq!(
        err_of(&r).1,
        "requested timeline 2 is not in this server's history"
    );
    let r = c.query("START_REPLICATION SLOT nope PHYSICAL 0/100000");
    assert_eq!(
        err_of(&r),
        (
            "42704".into(),
            "replication slot \"nope\" does not exist".into()
        )
    );

    // streaming: XLogData equals pg_wal, replies move the slot and the view
    node.safe_psql("INSERT INTO filler VALUES (1)");
    let flush = parse_lsn(&node.safe_psql("SELECT pg_current_wal_flush_lsn()"));
    let restart = parse_lsn(&slot_field(&node, "tslot", "restart_lsn"));
    let start = restart - restart % SEG;
    c.query_start(&format!(
        "START_REPLICATION SLOT tslot PHYSICAL {:X}/{:X}",
        start >> 32,
        start as u32
    ));
    let (tag, body) = c.read().unwrap();
    assert_eq!((tag, body), (b'W', vec![0, 0, 0]));
    let seg = std::fs::read(node.datadir.join("pg_wal").join(seg_name(start / SEG))).unwrap();
    let mut pos = start;
    while pos < flush {
        let (tag, body) = c.read().unwrap();
        assert_eq!(tag, b'd');
        if body[0] == b'k' {
            continue;
        }
        assert_eq!(body[0], b'w');
        assert_eq!(u64_at(&body, 1), pos, "XLogData must be contiguous");
        assert!(u64_at(&body, 9) >= flush);
        let data = &body[25..];
        let off = (pos - start) as usize;
        assert_eq!(data, &seg[off..off + data.len()]);
        pos += data.len() as u64;
    }
    assert_eq!(pos, flush, "never beyond the flush position");
    // a reply requesting an answer gets a keepalive at once
    c.status(flush, flush, start, true);
    let (tag, body) = c.read().unwrap();
    assert_eq!((tag, body[0], body[17]), (b'd', b'k', 0));
    assert_eq!(u64_at(&body, 1), flush);
    wait_for("the slot to follow the flush report", DEADLINE, || {
        (parse_lsn(&slot_field(&node, "tslot", "restart_lsn")) == flush).then_some(())
    });
    let row = node.safe_psql(
        "SELECT state, sent_lsn = flush_lsn, replay_lsn::text, application_name FROM pg_stat_replication",
    );
    assert_eq!(
        row,
        format!("streaming|t|{:X}/{:X}|rawclient", start >> 32, start as u32)
    );
    c.feedback(1234, 0);
    wait_for("hot standby feedback to reach the slot", DEADLINE, || {
        (slot_field(&node, "tslot", "xmin") == "1234").then_some(())
    });
    assert_eq!(slot_field(&node, "tslot", "catalog_xmin"), "NULL");
    // another session cannot use the active slot
    let mut other = ReplConn::connect(&node, "true").unwrap();
    let r = other.query("START_REPLICATION SLOT tslot PHYSICAL 0/100000");
    assert_eq!(err_of(&r).0, "55006");
    // CopyDone ends the stream: CopyDone, CommandComplete, ReadyForQuery
    c.send(b'c', &[]);
    let mut tags = Vec::new();
    loop {
        let (tag, body) = c.read().unwrap();
        if tag == b'd' {
            continue;
        }
        tags.push(tag);
        if tag == b'C' {
            assert_eq!(body, b"START_STREAMING\0");
        }
        if tag == b'Z' {
            break;
        }
    }
    assert_eq!(tags, [b'c', b'C', b'Z']);
    assert_eq!(c.query("IDENTIFY_SYSTEM").rows.len(), 1);
    assert_eq!(
        node.safe_psql(
            "SELECT state FROM pg_stat_replication WHERE application_name = 'rawclient' LIMIT 1"
        ),
        "startup"
    );

    // max_wal_senders = 3: c, other, and one more
    let third = ReplConn::connect(&node, "true").unwrap();
    let Err((sev, code, msg)) = ReplConn::connect(&node, "true") else {
        panic!("a fourth walsender was accepted");
    };
    assert_eq!(
        (sev.as_str(), code.as_str(), msg.as_str()),
        (
            "FATAL",
            "53300",
            "number of requested standby connections exceeds \"max_wal_senders\" (currently 3)"
        )
    );
    drop(third);
    drop(other);

    // a silent standby: keepalive asking for a reply, then the timeout
    let now = node.safe_psql("SELECT pg_current_wal_flush_lsn()");
    c.query_start(&format!("START_REPLICATION PHYSICAL {now}"));
    let started = Instant::now();
    let mut pinged = false;
    while let Some((tag, body)) = c.read() {
        if tag == b'd' && body[0] == b'k' && body[17] == 1 {
            pinged = true;
        }
    }
    let waited = started.elapsed();
    assert!(pinged, "no keepalive requesting a reply");
    assert!(
        waited >= Duration::from_millis(1900) && waited < Duration::from_secs(10),
        "{waited:?}"
    );
    wait_for("the timeout to be logged", DEADLINE, || {
        node.log()
            .contains("LOG:  terminating walsender process due to replication timeout")
            .then_some(())
    });
    // its temporary slot went with the session
    wait_for("the temporary slot to be dropped", DEADLINE, || {
        node.safe_psql("SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'tslot'")
            .eq("0")
            .then_some(())
    });
}

#[test]
fn removed_segment_and_database_connections() {
    let mut node = small_segment_node("walsnd-removed", "");
    node.start();
    node.safe_psql("CREATE TABLE filler (a int)");
    fill_segments(&node, 3);
    node.safe_psql("CHECKPOINT");
    assert!(!node.datadir.join("pg_wal").join(seg_name(1)).exists());
    let mut c = ReplConn::connect(&node, "true").unwrap();
    let r = c.query("START_REPLICATION PHYSICAL 0/100000");
    assert_eq!(
        err_of(&r),
        (
            "58P01".into(),
            "requested WAL segment 000000010000000000000001 has already been removed".into()
        )
    );
    // the connection stays usable
    assert_eq!(c.query("IDENTIFY_SYSTEM").rows.len(), 1);

    // replication=database runs SQL and replication commands
    let mut d = ReplConn::connect(&node, "database").unwrap();
    assert_eq!(d.query("SELECT 40 + 2").rows, vec![vec![Some("42".into())]]);
    let r = d.query("IDENTIFY_SYSTEM");
    assert_eq!(r.rows[0][3].as_deref(), Some("postgres"));
}

/// An over-long slot name in a replication command is truncated to 63 bytes
/// with PostgreSQL's NOTICE (42622), not refused.
#[test]
fn over_long_slot_name_in_a_replication_command_is_truncated_with_a_notice() {
    let mut node = small_segment_node("walsnd-longname", "max_wal_senders = 3");
    node.start();
    let mut c = ReplConn::connect(&node, "true").expect("replication connection");
    let long = "s".repeat(70);
    let short = "s".repeat(63);
    let r = c.query(&format!("CREATE_REPLICATION_SLOT {long} PHYSICAL"));
    assert_eq!(r.error, None);
    assert_eq!(
        r.notices,
        [(
            "NOTICE".to_string(),
            "42622".to_string(),
            format!("identifier \"{long}\" will be truncated to \"{short}\""),
            None
        )]
    );
    assert_eq!(r.rows[0][0].as_deref(), Some(short.as_str()));
    assert_eq!(
        node.safe_psql("SELECT slot_name FROM pg_replication_slots"),
        short
    );
}
