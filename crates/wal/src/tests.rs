//! Scenario tests of the WAL as a whole: round trips, records across segments,
//! torn tails and stale records, group commit from many threads, segment switch,
//! removal, raw (physical replication) copies, and a randomized round trip.

use std::fs::{self, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use tandem_types::{Lsn, SqlState, TimeLineId, Xid};

use crate::record::Invalid;
use crate::segment::segno_of;
use crate::*;

fn opts(dir: &Path, segment_size: u64, fsync: bool) -> WalOptions {
    WalOptions {
        dir: dir.join("pg_wal"),
        timeline: TimeLineId(1),
        segment_size,
        fsync,
    }
}

fn rec(kind: RecordKind, xid: u32, payload: &[u8]) -> Record {
    Record {
        kind,
        xid: Xid(xid),
        payload: payload.to_vec(),
    }
}

/// A payload of `len` bytes that depends on `seed`.
fn payload(seed: u64, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (seed.wrapping_mul(31).wrapping_add(i as u64 * 7) % 251) as u8)
        .collect()
}

fn read_all(wal: &Wal, from: Lsn) -> Vec<ReadRecord> {
    let mut r = wal.reader(from);
    let mut out = Vec::new();
    while let Some(rec) = r.next_record().unwrap() {
        out.push(rec);
    }
    out
}

/// The file holding `lsn` and the offset of `lsn` in it.
fn file_at(o: &WalOptions, lsn: Lsn) -> (std::path::PathBuf, u64) {
    let name = segment_file_name(o.timeline, lsn, o.segment_size);
    (o.dir.join(name), lsn.0 % o.segment_size)
}

fn flip_byte(o: &WalOptions, lsn: Lsn) {
    let (path, off) = file_at(o, lsn);
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    let mut b = [0u8; 1];
    f.read_exact_at(&mut b, off).unwrap();
    f.write_all_at(&[b[0] ^ 0x40], off).unwrap();
}

const START: Lsn = Lsn(0x100_0000 + 40);

#[test]
fn round_trip_then_reopen_continues_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let o = opts(dir.path(), DEFAULT_SEGMENT_SIZE, true);
    let wal = Wal::create(o.clone(), START).unwrap();
    assert!(o.dir.join("000000010000000000000001").exists());
    assert_eq!(
        fs::metadata(o.dir.join("000000010000000000000001"))
            .unwrap()
            .len(),
        DEFAULT_SEGMENT_SIZE
    );
    let batch = vec![
        rec(16, 5, b"first"),
        rec(17, 5, b""),
        rec(kinds::NOOP, 0, &[9; 100]),
    ];
    let (starts, end) = wal.append(&batch).unwrap();
    assert_eq!(starts, vec![START, START.advance(32), START.advance(56)]);
    assert_eq!(end, START.advance(56 + 128));
    assert_eq!(wal.insert_lsn(), end);
    assert_eq!(wal.flush_lsn(), START, "nothing is durable before flush");
    assert!(
        read_all(&wal, START).is_empty(),
        "readers see only durable WAL"
    );
    wal.flush(end).unwrap();
    assert_eq!((wal.write_lsn(), wal.flush_lsn()), (end, end));
    let got = read_all(&wal, START);
    assert_eq!(got.len(), 3);
    for (i, r) in got.iter().enumerate() {
        assert_eq!(
            (r.lsn, r.kind, r.xid, &r.payload),
            (starts[i], batch[i].kind, batch[i].xid, &batch[i].payload)
        );
    }
    assert_eq!(got[2].end_lsn, end);
    drop(wal);

    let wal = Wal::open(o.clone(), START).unwrap();
    assert_eq!(wal.insert_lsn(), end);
    assert_eq!(wal.flush_lsn(), end);
    assert_eq!(wal.last_record_lsn(), starts[2]);
    let reason = wal.end_of_wal_at_open().unwrap();
    assert_eq!(reason.reason, Invalid::ZeroLength);
    assert_eq!(reason.at, end);
    let (more, end2) = wal.append(&[rec(18, 6, b"after reopen")]).unwrap();
    assert_eq!(more[0], end);
    wal.flush(end2).unwrap();
    drop(wal);
    let wal = Wal::open(o, START).unwrap();
    let got = read_all(&wal, START);
    assert_eq!(got.len(), 4);
    assert_eq!(got[3].payload, b"after reopen");
    assert_eq!(wal.insert_lsn(), end2);
}

#[test]
fn records_cross_segment_boundaries_including_records_larger_than_a_segment() {
    let dir = tempfile::tempdir().unwrap();
    let o = opts(dir.path(), 1024, false);
    let wal = Wal::create(o.clone(), Lsn(1024)).unwrap();
    let sizes = [0usize, 1, 7, 8, 1000, 1001, 5000, 3, 24, 2047, 9, 100];
    let mut written = Vec::new();
    for round in 0..20u64 {
        let recs: Vec<Record> = sizes
            .iter()
            .enumerate()
            .map(|(i, &n)| {
                rec(
                    20,
                    (round * 100 + i as u64) as u32,
                    &payload(round * 13 + i as u64, n),
                )
            })
            .collect();
        let (starts, end) = wal.append(&recs).unwrap();
        written.extend(starts.into_iter().zip(recs));
        if round % 3 == 0 {
            wal.flush(end).unwrap();
        }
    }
    wal.flush(wal.insert_lsn()).unwrap();
    let check = |wal: &Wal| {
        let got = read_all(wal, Lsn(1024));
        assert_eq!(got.len(), written.len());
        for (g, (lsn, r)) in got.iter().zip(&written) {
            assert_eq!((g.lsn, g.xid, &g.payload), (*lsn, r.xid, &r.payload));
        }
    };
    check(&wal);
    let segs = wal.segments().unwrap();
    assert!(segs.len() > 50, "{} segments", segs.len());
    assert!(
        segs.windows(2).all(|w| w[1].segno == w[0].segno + 1),
        "no gaps"
    );
    let end = wal.insert_lsn();
    drop(wal);
    let wal = Wal::open(o, Lsn(1024)).unwrap();
    assert_eq!(wal.insert_lsn(), end);
    check(&wal);
}

/// Writes records 0..n of `len` bytes each and returns their starts and the end.
fn write_n(wal: &Wal, n: u64, len: usize) -> (Vec<Lsn>, Lsn) {
    let recs: Vec<Record> = (0..n)
        .map(|i| rec(30, i as u32 + 1, &payload(i, len)))
        .collect();
    let (starts, end) = wal.append(&recs).unwrap();
    wal.flush(end).unwrap();
    (starts, end)
}

#[test]
fn torn_tail_truncated_mid_record_stops_at_last_good_record_and_appends_overwrite_it() {
    let dir = tempfile::tempdir().unwrap();
    let o = opts(dir.path(), 4096, true);
    let wal = Wal::create(o.clone(), Lsn(4096)).unwrap();
    let (starts, _) = write_n(&wal, 10, 100); // 128 bytes each, all in segment 1
    drop(wal);
    // Torn write: the file ends in the middle of record 7.
    let (path, off) = file_at(&o, starts[7]);
    OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(off + 50)
        .unwrap();

    let wal = Wal::open(o.clone(), Lsn(4096)).unwrap();
    assert_eq!(wal.insert_lsn(), starts[7]);
    assert_eq!(wal.end_of_wal_at_open().unwrap().reason, Invalid::Truncated);
    assert_eq!(
        fs::metadata(&path).unwrap().len(),
        4096,
        "segment restored to full size"
    );
    assert_eq!(read_all(&wal, Lsn(4096)).len(), 7);
    let (new, end) = wal
        .append(&[rec(31, 99, b"new seven"), rec(31, 100, b"new eight")])
        .unwrap();
    assert_eq!(new[0], starts[7]);
    wal.flush(end).unwrap();
    drop(wal);
    let wal = Wal::open(o, Lsn(4096)).unwrap();
    let got = read_all(&wal, Lsn(4096));
    assert_eq!(got.len(), 9);
    assert_eq!(got[7].payload, b"new seven");
    assert_eq!(got[8].payload, b"new eight");
    assert_eq!(wal.insert_lsn(), end);
}

#[test]
fn flipped_byte_ends_wal_at_the_damaged_record() {
    let dir = tempfile::tempdir().unwrap();
    let o = opts(dir.path(), 4096, false);
    let wal = Wal::create(o.clone(), Lsn(4096)).unwrap();
    let (starts, _) = write_n(&wal, 40, 100); // crosses into segment 2
    drop(wal);
    flip_byte(&o, starts[5].advance(60)); // payload byte of record 5
    let wal = Wal::open(o.clone(), Lsn(4096)).unwrap();
    assert_eq!(wal.insert_lsn(), starts[5]);
    assert_eq!(wal.end_of_wal_at_open().unwrap().reason, Invalid::BadCrc);
    assert_eq!(
        wal.end_of_wal_at_open().unwrap().to_string(),
        format!(
            "incorrect resource manager data checksum in record at {}",
            starts[5]
        )
    );
    assert_eq!(read_all(&wal, Lsn(4096)).len(), 5);
    // Later segments held only records after the end: removed.
    assert_eq!(wal.segments().unwrap().len(), 1);
    // A flipped length byte: also the end.
    drop(wal);
    let wal = Wal::open(o.clone(), Lsn(4096)).unwrap();
    write_n(&wal, 3, 10);
    assert_eq!(read_all(&wal, Lsn(4096)).len(), 8);
}

#[test]
fn stale_record_with_valid_crc_but_wrong_prev_link_is_not_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let o = opts(dir.path(), 4096, false);
    let wal = Wal::create(o.clone(), Lsn(4096)).unwrap();
    let (starts, _) = write_n(&wal, 4, 100); // A B C D, same length
    drop(wal);
    // Put a copy of B (a record that checks out on its own) where D was: its
    // prev-link names A, not C.
    let (path, _) = file_at(&o, starts[0]);
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .unwrap();
    let mut b = vec![0u8; 128];
    f.read_exact_at(&mut b, starts[1].0 % 4096).unwrap();
    f.write_all_at(&b, starts[3].0 % 4096).unwrap();
    drop(f);
    let wal = Wal::open(o, Lsn(4096)).unwrap();
    assert_eq!(read_all(&wal, Lsn(4096)).len(), 3);
    let end = wal.end_of_wal_at_open().unwrap();
    assert_eq!(
        end.reason,
        Invalid::BadPrev {
            expected: starts[2],
            found: starts[0]
        }
    );
    assert_eq!(
        end.to_string(),
        format!(
            "record with incorrect prev-link {} at {}",
            starts[0], starts[3]
        )
    );
}

#[test]
fn stale_record_lining_up_after_a_rewritten_tail_is_wiped_at_open() {
    // A B C D on disk; C is damaged; after reopen C' (same length as C) is written
    // where C was. D's prev-link names C's start == C''s start, so only the wipe
    // at open keeps D from coming back.
    let dir = tempfile::tempdir().unwrap();
    let o = opts(dir.path(), 4096, true);
    let wal = Wal::create(o.clone(), Lsn(4096)).unwrap();
    let (starts, _) = write_n(&wal, 4, 100);
    drop(wal);
    flip_byte(&o, starts[2].advance(30));
    let wal = Wal::open(o.clone(), Lsn(4096)).unwrap();
    let (c2, end) = wal.append(&[rec(30, 77, &payload(99, 100))]).unwrap();
    assert_eq!(c2[0], starts[2]);
    assert_eq!(end, starts[3]);
    wal.flush(end).unwrap();
    drop(wal);
    let wal = Wal::open(o, Lsn(4096)).unwrap();
    let got = read_all(&wal, Lsn(4096));
    assert_eq!(got.len(), 3, "stale D must not come back");
    assert_eq!(got[2].xid, Xid(77));
    assert_eq!(wal.insert_lsn(), starts[3]);
}

#[test]
fn eight_threads_append_and_flush_then_every_flushed_record_is_there_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let o = opts(dir.path(), 64 * 1024, true);
    let wal = Wal::create(o.clone(), Lsn(64 * 1024)).unwrap();
    const THREADS: u32 = 8;
    const PER_THREAD: u32 = 150;
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let wal = Arc::clone(&wal);
            thread::spawn(move || {
                let mut mine = Vec::new();
                for i in 0..PER_THREAD {
                    let mut p = payload(u64::from(t * 1000 + i), 100);
                    p[..8].copy_from_slice(&[t.to_le_bytes(), i.to_le_bytes()].concat());
                    let (lsns, end) = wal.append(&[rec(40, t + 1, &p)]).unwrap();
                    wal.flush(end).unwrap();
                    assert!(wal.flush_lsn() >= end);
                    mine.push((lsns[0], p));
                }
                mine
            })
        })
        .collect();
    let mut all: Vec<(Lsn, Vec<u8>)> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    let stats = wal.stats();
    assert_eq!(stats.wal_records, u64::from(THREADS * PER_THREAD));
    assert!(stats.wal_sync >= 1 && stats.wal_sync <= stats.wal_records);
    drop(wal);
    all.sort();
    let wal = Wal::open(o, Lsn(64 * 1024)).unwrap();
    let got = read_all(&wal, Lsn(64 * 1024));
    assert_eq!(got.len(), all.len());
    let mut next_seq = [0u32; THREADS as usize];
    for (g, (lsn, p)) in got.iter().zip(&all) {
        assert_eq!((g.lsn, &g.payload), (*lsn, p));
        let t = u32::from_le_bytes(g.payload[0..4].try_into().unwrap());
        let i = u32::from_le_bytes(g.payload[4..8].try_into().unwrap());
        assert_eq!(g.xid, Xid(t + 1));
        assert_eq!(i, next_seq[t as usize], "thread {t}'s records in order");
        next_seq[t as usize] += 1;
    }
}

#[test]
fn switch_moves_to_next_segment_and_returns_end_of_switch_record() {
    let dir = tempfile::tempdir().unwrap();
    let o = opts(dir.path(), 4096, false);
    let wal = Wal::create(o.clone(), Lsn(4096)).unwrap();
    let (a, _) = wal.append(&[rec(16, 1, b"before")]).unwrap();
    let switch_end = wal.switch_segment().unwrap();
    // The switch record starts where the next record would have gone.
    assert_eq!(switch_end, Lsn(4096 + 32 + HEADER_SIZE as u64));
    assert_eq!(wal.insert_lsn(), Lsn(8192));
    assert_eq!(wal.flush_lsn(), Lsn(8192));
    // Nothing written since: no second switch, the current position is returned.
    assert_eq!(wal.switch_segment().unwrap(), Lsn(8192));
    assert_eq!(wal.insert_lsn(), Lsn(8192));
    let (b, end) = wal.append(&[rec(16, 2, b"after")]).unwrap();
    assert_eq!(b[0], Lsn(8192));
    wal.flush(end).unwrap();
    let got = read_all(&wal, Lsn(4096));
    assert_eq!(got.len(), 3);
    assert_eq!(got[0].lsn, a[0]);
    assert_eq!(got[1].kind, kinds::SWITCH);
    assert_eq!(got[1].end_lsn, Lsn(8192));
    assert_eq!(
        (got[2].lsn, &got[2].payload[..]),
        (Lsn(8192), &b"after"[..])
    );
    drop(wal);
    let wal = Wal::open(o, Lsn(4096)).unwrap();
    assert_eq!(read_all(&wal, Lsn(4096)).len(), 3);
    assert_eq!(wal.insert_lsn(), end);
    assert_eq!(wal.last_record_lsn(), Lsn(8192));
}

#[test]
fn switch_right_after_reopen_at_a_switch_keeps_position() {
    let dir = tempfile::tempdir().unwrap();
    let o = opts(dir.path(), 4096, false);
    let wal = Wal::create(o.clone(), Lsn(4096)).unwrap();
    wal.append(&[rec(16, 1, b"x")]).unwrap();
    let switch_end = wal.switch_segment().unwrap();
    drop(wal);
    let wal = Wal::open(o, Lsn(4096)).unwrap();
    assert_eq!(
        wal.insert_lsn(),
        Lsn(8192),
        "the end of WAL after a switch is the boundary"
    );
    assert!(switch_end < Lsn(8192));
    assert_eq!(wal.switch_segment().unwrap(), Lsn(8192));
}

#[test]
fn removal_deletes_whole_old_segments_only() {
    let dir = tempfile::tempdir().unwrap();
    let o = opts(dir.path(), 1024, false);
    let wal = Wal::create(o.clone(), Lsn(1024)).unwrap();
    write_n(&wal, 81, 100); // 81 * 128 = 10368 bytes: segments 1..=11
    let segs: Vec<u64> = wal.segments().unwrap().iter().map(|s| s.segno).collect();
    assert_eq!(segs, (1..=11).collect::<Vec<_>>());
    // keep_from inside segment 5: segments 1..=4 end at or before it.
    assert_eq!(wal.remove_segments_before(Lsn(5 * 1024 + 100)).unwrap(), 4);
    assert_eq!(wal.segments().unwrap()[0].segno, 5);
    // keep_from on a boundary: segment 5 ends exactly there.
    assert_eq!(wal.remove_segments_before(Lsn(6 * 1024)).unwrap(), 1);
    // Never the current segment, even when asked to remove everything.
    let current = segno_of(wal.insert_lsn(), 1024);
    wal.remove_segments_before(Lsn(u64::MAX / 2)).unwrap();
    assert_eq!(
        wal.segments()
            .unwrap()
            .iter()
            .map(|s| s.segno)
            .collect::<Vec<_>>(),
        vec![current]
    );
    // Reading removed WAL says so as PostgreSQL's walsender does.
    let err = wal.reader(Lsn(1024)).next_record().unwrap_err();
    assert_eq!(err.code, SqlState::UNDEFINED_FILE);
    assert_eq!(
        err.message,
        "requested WAL segment 000000010000000000000001 has already been removed"
    );
    let err = wal.read_raw(Lsn(2048), 10).unwrap_err();
    assert_eq!(err.code, SqlState::UNDEFINED_FILE);
    // The WAL keeps working.
    let (_, end) = write_n(&wal, 3, 10);
    assert_eq!(wal.flush_lsn(), end);
}

/// A standby's walreceiver writes received WAL (reported as written, not yet
/// flushed) while its flusher thread flushes: every write lands, the flush
/// position never passes the write position, and a flush covers the
/// segments written (and closed) since the previous one.
#[test]
fn writes_go_on_while_a_flusher_syncs_and_flushes_cover_closed_segments() {
    let dir = tempfile::tempdir().unwrap();
    let po = opts(&dir.path().join("primary"), 1024, false);
    let so = opts(&dir.path().join("standby"), 1024, true);
    let primary = Wal::create(po, Lsn(1024)).unwrap();
    let standby = Wal::create(so, Lsn(1024)).unwrap();
    for i in 0..40u32 {
        let (_, end) = primary
            .append(&[rec(50, i + 1, &payload(u64::from(i), 150 + i as usize * 7))])
            .unwrap();
        primary.flush(end).unwrap();
    }
    let end = primary.flush_lsn();
    assert!(end.0 > 4 * 1024, "the stream spans several segments");

    // one piece, written but not flushed
    let first = primary.read_raw(Lsn(1024), 100).unwrap();
    standby.append_raw(Lsn(1024), &first).unwrap();
    assert_eq!(standby.write_lsn(), Lsn(1024));
    assert_eq!(standby.write().unwrap(), Lsn(1124));
    assert_eq!(standby.write_lsn(), Lsn(1124));
    assert_eq!(standby.flush_lsn(), Lsn(1024), "a write does not flush");

    let stop = std::sync::atomic::AtomicBool::new(false);
    thread::scope(|s| {
        let flusher = s.spawn(|| {
            let mut flushes = 0;
            while !stop.load(std::sync::atomic::Ordering::Acquire) {
                let w = standby.write_lsn();
                standby.flush(w).unwrap();
                assert!(standby.flush_lsn() >= w);
                assert!(standby.flush_lsn() <= standby.write_lsn());
                flushes += 1;
            }
            flushes
        });
        let mut pos = Lsn(1124);
        while pos < end {
            let bytes = primary.read_raw(pos, 211).unwrap();
            standby.append_raw(pos, &bytes).unwrap();
            pos = pos.advance(bytes.len() as u64);
            assert_eq!(standby.write().unwrap(), pos);
        }
        stop.store(true, std::sync::atomic::Ordering::Release);
        assert!(flusher.join().unwrap() > 0);
    });
    standby.flush(end).unwrap();
    assert_eq!(standby.flush_lsn(), end);
    assert_eq!(
        standby.read_raw(Lsn(1024), 1 << 20).unwrap(),
        primary.read_raw(Lsn(1024), 1 << 20).unwrap()
    );
    // every segment written (1 to the one of the last byte) was synced
    let segments = (end.0 - 1) / 1024;
    assert!(
        standby.stats().wal_sync >= segments,
        "{:?}",
        standby.stats()
    );
}

#[test]
fn raw_copy_makes_a_byte_identical_standby() {
    let dir = tempfile::tempdir().unwrap();
    let po = opts(&dir.path().join("primary"), 1024, false);
    let so = opts(&dir.path().join("standby"), 1024, false);
    let primary = Wal::create(po.clone(), Lsn(1024)).unwrap();
    let standby = Wal::create(so.clone(), Lsn(1024)).unwrap();
    let sizes = [10usize, 300, 2000, 0, 17];
    for (i, n) in sizes.iter().enumerate() {
        let (_, end) = primary
            .append(&[rec(50, i as u32 + 1, &payload(i as u64, *n))])
            .unwrap();
        primary.flush(end).unwrap();
    }
    primary.switch_segment().unwrap();
    let (_, end) = primary.append(&[rec(50, 9, b"after switch")]).unwrap();
    primary.flush(end).unwrap();
    assert!(primary.read_raw(end, 100).unwrap().is_empty());

    // Ship in odd-sized pieces, resending an overlap once.
    let mut pos = Lsn(1024);
    let mut step = 1;
    while pos < primary.flush_lsn() {
        let bytes = primary.read_raw(pos, 333).unwrap();
        assert!(!bytes.is_empty());
        if step == 3 {
            standby
                .append_raw(
                    Lsn(pos.0 - 5),
                    &primary.read_raw(Lsn(pos.0 - 5), 5).unwrap(),
                )
                .unwrap();
        }
        let new_end = standby.append_raw(pos, &bytes).unwrap();
        pos = pos.advance(bytes.len() as u64);
        assert_eq!(new_end, pos);
        if step % 2 == 0 {
            standby.flush(pos).unwrap();
        }
        step += 1;
    }
    standby.flush(pos).unwrap();
    assert!(standby.append_raw(pos.advance(8), b"gap").is_err());
    assert!(
        standby.append(&[rec(50, 1, b"x")]).is_err(),
        "record appends wait for reopen"
    );
    assert_eq!(read_all(&standby, Lsn(1024)), read_all(&primary, Lsn(1024)));
    assert_eq!(
        standby.read_raw(Lsn(1024), 1 << 20).unwrap(),
        primary.read_raw(Lsn(1024), 1 << 20).unwrap()
    );
    drop(standby);
    // Promotion-like reopen: the chain continues from the last received record.
    let standby = Wal::open(so, Lsn(1024)).unwrap();
    assert_eq!(standby.insert_lsn(), end);
    let (_, e2) = standby.append(&[rec(50, 10, b"promoted")]).unwrap();
    standby.flush(e2).unwrap();
    assert_eq!(read_all(&standby, Lsn(1024)).len(), sizes.len() + 3);
}

#[test]
fn reader_follows_a_writer_and_wait_for_flush_wakes_without_polling() {
    let dir = tempfile::tempdir().unwrap();
    let o = opts(dir.path(), 4096, false);
    let wal = Wal::create(o, Lsn(4096)).unwrap();
    let start = Instant::now();
    assert_eq!(
        wal.wait_for_flush(Lsn(4096), Duration::from_millis(50)),
        Lsn(4096)
    );
    assert!(start.elapsed() >= Duration::from_millis(50));

    let follower = {
        let wal = Arc::clone(&wal);
        thread::spawn(move || {
            let mut r = wal.reader(Lsn(4096));
            let mut seen = Vec::new();
            while seen.len() < 300 {
                match r.next_record().unwrap() {
                    Some(rec) => seen.push(rec.xid.0),
                    None => {
                        let at = wal.flush_lsn();
                        if r.position() >= at {
                            wal.wait_for_flush(at, Duration::from_secs(10));
                        }
                    }
                }
            }
            seen
        })
    };
    for i in 0..300u32 {
        let (_, end) = wal
            .append(&[rec(
                60,
                i + 1,
                &payload(u64::from(i), (i % 50) as usize * 40),
            )])
            .unwrap();
        if i % 7 == 0 || i == 299 {
            wal.flush(end).unwrap();
        }
    }
    let seen = follower.join().unwrap();
    assert_eq!(seen, (1..=300).collect::<Vec<_>>());
}

#[test]
fn a_record_partly_flushed_is_waited_for_past_the_flush_position_the_reader_saw() {
    let dir = tempfile::tempdir().unwrap();
    let po = opts(&dir.path().join("primary"), 4096, false);
    let so = opts(&dir.path().join("standby"), 4096, false);
    let primary = Wal::create(po, Lsn(4096)).unwrap();
    let standby = Wal::create(so, Lsn(4096)).unwrap();
    let (_, end) = primary.append(&[rec(50, 1, &payload(1, 500))]).unwrap();
    primary.flush(end).unwrap();
    // the standby has flushed only the first half of the record
    let bytes = primary.read_raw(Lsn(4096), 1 << 20).unwrap();
    let half = bytes.len() / 2;
    standby.append_raw(Lsn(4096), &bytes[..half]).unwrap();
    standby.flush(standby.insert_lsn()).unwrap();
    let mut r = standby.reader(Lsn(4096));
    assert_eq!(r.next_record().unwrap(), None);
    assert_eq!(r.position(), Lsn(4096));
    let seen = r.flush_seen();
    assert_eq!(seen, standby.flush_lsn());
    // waiting past the reader's position would return at once, again and
    // again; past what it saw, the wait lasts until more is flushed
    let started = Instant::now();
    assert_eq!(
        standby.wait_for_flush(seen, Duration::from_millis(30)),
        seen
    );
    assert!(started.elapsed() >= Duration::from_millis(30));
    standby
        .append_raw(Lsn(4096).advance(half as u64), &bytes[half..])
        .unwrap();
    standby.flush(standby.insert_lsn()).unwrap();
    assert!(standby.wait_for_flush(seen, Duration::from_secs(10)) > seen);
    assert_eq!(r.next_record().unwrap().map(|rec| rec.xid), Some(Xid(1)));
}

#[test]
fn the_flush_listener_hears_each_new_flush_position_from_the_flushing_thread() {
    let dir = tempfile::tempdir().unwrap();
    let wal = Wal::create(opts(dir.path(), 4096, false), Lsn(4096)).unwrap();
    let heard = Arc::new(parking_lot::Mutex::new(Vec::new()));
    let h2 = heard.clone();
    let me = thread::current().id();
    wal.set_flush_listener(Some(Arc::new(move |lsn| {
        assert_eq!(thread::current().id(), me);
        h2.lock().push(lsn);
    })));
    let (_, a) = wal.append(&[rec(50, 1, b"one")]).unwrap();
    wal.flush(a).unwrap();
    // nothing new: no call
    wal.flush(a).unwrap();
    let (_, b) = wal.append(&[rec(50, 2, b"two")]).unwrap();
    wal.flush(b).unwrap();
    assert_eq!(*heard.lock(), vec![a, b]);
    wal.set_flush_listener(None);
    let (_, c) = wal.append(&[rec(50, 3, b"three")]).unwrap();
    wal.flush(c).unwrap();
    assert_eq!(*heard.lock(), vec![a, b]);
}

#[test]
fn refuses_oversized_and_switch_records_and_bad_options() {
    let dir = tempfile::tempdir().unwrap();
    let o = opts(dir.path(), 4096, false);
    let wal = Wal::create(o.clone(), Lsn(4096)).unwrap();
    let err = wal
        .append(&[rec(16, 1, &vec![0; MAX_RECORD_SIZE])])
        .unwrap_err();
    assert_eq!(err.code, SqlState::PROGRAM_LIMIT_EXCEEDED);
    assert_eq!(err.message, "oversized WAL record");
    assert!(wal.append(&[rec(kinds::SWITCH, 0, b"")]).is_err());
    assert_eq!(
        wal.insert_lsn(),
        Lsn(4096),
        "a refused batch appends nothing"
    );
    assert_eq!(wal.append(&[]).unwrap(), (vec![], Lsn(4096)));
    assert!(
        Wal::create(o.clone(), Lsn(4096)).is_err(),
        "directory already has WAL"
    );
    assert!(Wal::create(opts(&dir.path().join("x"), 3000, false), Lsn(4096)).is_err());
    assert!(Wal::create(opts(&dir.path().join("y"), 4096, false), Lsn(4097)).is_err());
}

#[test]
fn open_stops_at_a_record_running_into_a_missing_segment() {
    let dir = tempfile::tempdir().unwrap();
    let o = opts(dir.path(), 1024, false);
    let wal = Wal::create(o.clone(), Lsn(1024)).unwrap();
    // Records of 136 bytes: record 7 starts at 1976 and crosses into segment 2;
    // the last ones are in segment 3.
    let (starts, _) = write_n(&wal, 16, 110);
    drop(wal);
    fs::remove_file(o.dir.join(segment_name(TimeLineId(1), 2, 1024))).unwrap();
    let wal = Wal::open(o.clone(), Lsn(1024)).unwrap();
    assert_eq!(wal.insert_lsn(), starts[7]);
    assert_eq!(wal.end_of_wal_at_open().unwrap().reason, Invalid::Truncated);
    // The end is in segment 1: segment 3 (after it) is gone too.
    let segs: Vec<u64> = wal.segments().unwrap().iter().map(|s| s.segno).collect();
    assert_eq!(segs, vec![1]);
    write_n(&wal, 2, 1500);
    drop(wal);
    let wal = Wal::open(o, Lsn(1024)).unwrap();
    assert_eq!(read_all(&wal, Lsn(1024)).len(), 9);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Any sequence of batches, flushes, switches and reopens reads back exactly as
    /// written (the records flushed before each reopen).
    #[test]
    fn randomized_round_trip(ops in prop::collection::vec(
        prop_oneof![
            6 => prop::collection::vec(0usize..1500, 1..5).prop_map(Op::Append),
            2 => Just(Op::Flush),
            1 => Just(Op::Switch),
            1 => Just(Op::Reopen),
        ],
        1..30,
    )) {
        let dir = tempfile::tempdir().unwrap();
        let o = opts(dir.path(), 1024, false);
        let mut wal = Wal::create(o.clone(), Lsn(1024)).unwrap();
        let mut durable: Vec<(Lsn, Vec<u8>)> = Vec::new();
        let mut pending: Vec<(Lsn, Vec<u8>)> = Vec::new();
        let mut seed = 0u64;
        for op in ops {
            match op {
                Op::Append(sizes) => {
                    let recs: Vec<Record> = sizes.iter().map(|&n| { seed += 1; rec(70, seed as u32, &payload(seed, n)) }).collect();
                    let (starts, _) = wal.append(&recs).unwrap();
                    pending.extend(starts.into_iter().zip(recs.into_iter().map(|r| r.payload)));
                }
                Op::Flush => {
                    wal.flush(wal.insert_lsn()).unwrap();
                    durable.append(&mut pending);
                }
                Op::Switch => {
                    let before = wal.insert_lsn();
                    let end = wal.switch_segment().unwrap();
                    durable.append(&mut pending);
                    if before.0.is_multiple_of(1024) {
                        prop_assert_eq!(end, before);
                    } else {
                        durable.push((before, Vec::new()));
                        prop_assert_eq!(end, before.advance(HEADER_SIZE as u64));
                        prop_assert_eq!(wal.insert_lsn().0 % 1024, 0);
                    }
                }
                Op::Reopen => {
                    // Unflushed records are lost, like a crash.
                    drop(wal);
                    pending.clear();
                    wal = Wal::open(o.clone(), Lsn(1024)).unwrap();
                }
            }
            let got: Vec<(Lsn, Vec<u8>)> = read_all(&wal, Lsn(1024)).into_iter().map(|r| (r.lsn, r.payload)).collect();
            prop_assert_eq!(&got, &durable);
        }
    }
}

#[derive(Clone, Debug)]
enum Op {
    Append(Vec<usize>),
    Flush,
    Switch,
    Reopen,
}

#[test]
fn a_failed_write_poisons_the_wal_like_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let o = opts(dir.path(), 1024, true);
    let wal = Wal::create(o.clone(), Lsn(1024)).unwrap();
    write_n(&wal, 2, 100);
    // The next segment cannot be created: the directory is gone.
    fs::remove_dir_all(&o.dir).unwrap();
    let (_, end) = wal.append(&[rec(16, 1, &[1; 2000])]).unwrap();
    let err = wal.flush(end).unwrap_err();
    assert!(
        err.message.starts_with("could not create file"),
        "{}",
        err.message
    );
    // Every later call fails the same way; nothing is retried.
    assert_eq!(wal.flush(end).unwrap_err(), err);
    assert_eq!(wal.append(&[rec(16, 2, b"x")]).unwrap_err(), err);
    assert_eq!(wal.switch_segment().unwrap_err(), err);
    let at = wal.flush_lsn();
    assert_eq!(
        wal.wait_for_flush(at, Duration::from_secs(5)),
        at,
        "no hang after failure"
    );
}

#[test]
fn next_segment_is_preallocated_in_the_background() {
    let dir = tempfile::tempdir().unwrap();
    let o = opts(dir.path(), 4096, true);
    let wal = Wal::create(o.clone(), Lsn(4096)).unwrap();
    write_n(&wal, 20, 100); // ends at 4096 + 2560: past the middle of segment 1
    drop(wal); // waits for the background creation
    let next = o.dir.join(segment_name(TimeLineId(1), 2, 4096));
    assert_eq!(fs::metadata(&next).unwrap().len(), 4096);
    assert!(fs::read(&next).unwrap().iter().all(|&b| b == 0));
    let leftovers: Vec<_> = fs::read_dir(&o.dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("xlogtemp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // A reopen reads through the preallocated (zero) segment as end of WAL.
    let wal = Wal::open(o, Lsn(4096)).unwrap();
    assert_eq!(read_all(&wal, Lsn(4096)).len(), 20);
}

#[test]
fn preallocate_creates_the_segments_a_large_append_will_need() {
    let dir = tempfile::tempdir().unwrap();
    let o = opts(dir.path(), 4096, true);
    let wal = Wal::create(o.clone(), Lsn(4096)).unwrap();
    wal.preallocate(4 * 4096 + 100); // segments 2 to 5
    let seg = |n| o.dir.join(segment_name(TimeLineId(1), n, 4096));
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !(2..=5).all(|n| seg(n).exists()) {
        assert!(
            std::time::Instant::now() < deadline,
            "segments 2-5 not created"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    drop(wal);
    assert!(!seg(6).exists(), "created more than asked for");
    for n in 2..=5 {
        assert!(fs::read(seg(n)).unwrap().iter().all(|&b| b == 0));
    }
    // appends go through the preallocated segments and read back
    let wal = Wal::open(o.clone(), Lsn(4096)).unwrap();
    write_n(&wal, 120, 100);
    assert_eq!(read_all(&wal, Lsn(4096)).len(), 120);
    drop(wal);
    let wal = Wal::open(o, Lsn(4096)).unwrap();
    assert_eq!(read_all(&wal, Lsn(4096)).len(), 120);
}

#[test]
fn switch_timeline_copies_prefix_and_continues_on_new_timeline() {
    let dir = tempfile::tempdir().unwrap();
    let seg = 1024;
    let wal = Wal::create(opts(dir.path(), seg, true), Lsn(seg)).unwrap();
    let mut last = Lsn::INVALID;
    for i in 0..40 {
        let (starts, end) = wal
            .append(&[rec(kinds::NOOP, i, &payload(i as u64, 40))])
            .unwrap();
        wal.flush(end).unwrap();
        last = starts[0];
    }
    let switch = wal.insert_lsn();
    wal.write_history_file(
        TimeLineId(2),
        TimeLineId(1),
        switch,
        "no recovery target specified",
    )
    .unwrap();
    wal.switch_timeline(TimeLineId(2), switch, last).unwrap();
    assert_eq!(wal.timeline(), TimeLineId(2));
    let history = fs::read_to_string(dir.path().join("pg_wal/00000002.history")).unwrap();
    assert_eq!(
        history,
        format!("1\t{switch}\tno recovery target specified\n")
    );
    let (_, end) = wal.append(&[rec(kinds::NOOP, 99, b"after")]).unwrap();
    wal.flush(end).unwrap();
    assert!(dir
        .path()
        .join("pg_wal")
        .join(segment_file_name(TimeLineId(2), switch, seg))
        .exists());
    // reading from the start crosses from timeline 1 segments into timeline 2
    let mut r = wal.reader(Lsn(seg));
    let mut n = 0;
    let mut kinds_xids = Vec::new();
    while let Some(rec) = r.next_record().unwrap() {
        kinds_xids.push(rec.xid.0);
        n += 1;
    }
    assert_eq!(n, 41);
    assert_eq!(kinds_xids.last(), Some(&99));
    drop(r);
    drop(wal);
    // reopened on timeline 2 from the first record: the same 41 records
    let wal = Wal::open(
        WalOptions {
            timeline: TimeLineId(2),
            ..opts(dir.path(), seg, true)
        },
        Lsn(seg),
    )
    .unwrap();
    assert_eq!(wal.insert_lsn(), end);
}

/// Ships the primary's durable WAL from `pos` to the standby; returns the new end.
fn ship(primary: &Wal, standby: &Wal, mut pos: Lsn, upto: Lsn) -> Lsn {
    while pos < upto {
        let bytes = primary
            .read_raw(pos, (upto.0 - pos.0).min(700) as usize)
            .unwrap();
        assert!(!bytes.is_empty());
        pos = standby.append_raw(pos, &bytes).unwrap();
    }
    standby.flush(pos).unwrap();
    pos
}

#[test]
fn a_standby_follows_a_promoted_node_across_the_timeline_switch() {
    let dir = tempfile::tempdir().unwrap();
    let seg = 1024;
    let po = opts(&dir.path().join("promoted"), seg, false);
    let so = opts(&dir.path().join("follower"), seg, false);
    let promoted = Wal::create(po.clone(), Lsn(seg)).unwrap();
    let follower = Wal::create(so.clone(), Lsn(seg)).unwrap();
    let mut last = Lsn::INVALID;
    for i in 0..30 {
        let (starts, end) = promoted
            .append(&[rec(kinds::NOOP, i, &payload(i as u64, 50))])
            .unwrap();
        promoted.flush(end).unwrap();
        last = starts[0];
    }
    let switch = promoted.insert_lsn();
    // the follower received part of timeline 1 before the old primary went away
    let mid = Lsn(seg + 3 * 64);
    let mid = read_all(&promoted, Lsn(seg))
        .into_iter()
        .map(|r| r.end_lsn)
        .find(|e| *e > mid)
        .unwrap();
    ship(&promoted, &follower, Lsn(seg), mid);
    promoted
        .write_history_file(TimeLineId(2), TimeLineId(1), switch, "x")
        .unwrap();
    promoted
        .switch_timeline(TimeLineId(2), switch, last)
        .unwrap();
    for i in 30..60 {
        let (_, end) = promoted
            .append(&[rec(kinds::NOOP, i, &payload(i as u64, 50))])
            .unwrap();
        promoted.flush(end).unwrap();
    }
    assert_eq!(promoted.timeline_of(Lsn(seg)), TimeLineId(1));
    assert_eq!(promoted.timeline_of(switch), TimeLineId(2));
    // A stale timeline-1 file past the switch on the promoted node must not be
    // read: reading the old timeline up to the switch, then the new one.
    let stale = po
        .dir
        .join(segment_file_name(TimeLineId(1), Lsn(switch.0 + seg), seg));
    fs::write(&stale, vec![0xAB; seg as usize]).unwrap();
    assert_eq!(read_all(&promoted, Lsn(seg)).len(), 60);

    // The follower: rest of timeline 1 up to the switch point, the history
    // file, the switch, then timeline 2.
    let pos = ship(&promoted, &follower, mid, switch);
    assert_eq!(pos, switch);
    assert!(follower
        .follow_timeline(TimeLineId(2), Lsn(switch.0 + 8))
        .is_err());
    let text = fs::read(po.dir.join("00000002.history")).unwrap();
    assert!(follower
        .store_history_file(TimeLineId(2), b"garbage\n")
        .is_err());
    follower.store_history_file(TimeLineId(2), &text).unwrap();
    assert!(follower.has_history_file(TimeLineId(2)));
    let mut reader = follower.reader(Lsn(seg));
    let mut seen = Vec::new();
    while let Some(r) = reader.next_record().unwrap() {
        seen.push(r);
    }
    assert_eq!(seen.len(), 30);
    follower.follow_timeline(TimeLineId(2), switch).unwrap();
    assert_eq!(follower.timeline(), TimeLineId(2));
    assert!(follower.append(&[rec(50, 1, b"x")]).is_err(), "still raw");
    ship(&promoted, &follower, switch, promoted.flush_lsn());
    // the reader created before the switch follows it
    while let Some(r) = reader.next_record().unwrap() {
        seen.push(r);
    }
    assert_eq!(seen, read_all(&promoted, Lsn(seg)));
    assert_eq!(
        follower.read_raw(Lsn(seg), 1 << 20).unwrap(),
        promoted.read_raw(Lsn(seg), 1 << 20).unwrap()
    );
    assert!(so
        .dir
        .join(segment_file_name(TimeLineId(2), switch, seg))
        .exists());
    let end = follower.flush_lsn();
    drop(reader);
    drop(follower);
    // reopened on timeline 2 (its history file is there): the same WAL
    let follower = Wal::open(
        WalOptions {
            timeline: TimeLineId(2),
            ..so
        },
        Lsn(seg),
    )
    .unwrap();
    assert_eq!(follower.insert_lsn(), end);
    assert_eq!(read_all(&follower, Lsn(seg)).len(), 60);
    assert_eq!(
        follower.timelines().switch_point(TimeLineId(1)),
        Some((switch, TimeLineId(2)))
    );
}

#[test]
fn a_streamed_append_stays_contiguous_while_others_append() {
    let dir = tempfile::tempdir().unwrap();
    let o = opts(dir.path(), DEFAULT_SEGMENT_SIZE, true);
    let wal = std::sync::Arc::new(Wal::create(o, START).unwrap());
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let other = {
        let (wal, stop) = (wal.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                wal.append(&[rec(16, 2, b"other")]).unwrap();
                n += 1;
            }
            n
        })
    };
    // 200 pieces of 50 records (about 10 MB: past the write-behind size)
    let mut piece_no = 0;
    let end = wal
        .append_stream(&mut |piece| {
            piece.clear();
            for i in 0..50 {
                piece.push(rec(16, 1, &[(piece_no * 50 + i) as u8; 1000]));
            }
            piece_no += 1;
            std::thread::yield_now();
            Ok(piece_no < 200)
        })
        .unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let others = other.join().unwrap();
    wal.flush(wal.insert_lsn()).unwrap();
    let got = read_all(&wal, START);
    let mine: Vec<usize> = got
        .iter()
        .enumerate()
        .filter(|(_, r)| r.xid == Xid(1))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(mine.len(), 10_000);
    assert_eq!(mine[9_999] - mine[0], 9_999, "no record between the pieces");
    assert_eq!(got[mine[9_999]].end_lsn, end);
    for (n, &i) in mine.iter().enumerate() {
        assert_eq!(got[i].payload[0], n as u8, "in order");
    }
    assert_eq!(got.len(), 10_000 + others);
}
