//! Bad input gets an error, never a crash or a hang, and other sessions keep
//! being served: malformed protocol messages, a 100 MB query, invalid UTF-8,
//! unknown functions and wrong types.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use tandem_testkit::{message, sqlstate, Node};

fn startup_packet(user: &str) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&196608u32.to_be_bytes());
    for (k, v) in [("user", user), ("database", "postgres")] {
        body.extend_from_slice(k.as_bytes());
        body.push(0);
        body.extend_from_slice(v.as_bytes());
        body.push(0);
    }
    body.push(0);
    let mut pkt = ((body.len() + 4) as u32).to_be_bytes().to_vec();
    pkt.extend(body);
    pkt
}

/// Reads backend messages until ReadyForQuery ('Z') or an ErrorResponse ('E'),
/// returning the message types seen (and the error text if any).
fn read_until_ready(s: &mut TcpStream) -> (Vec<u8>, Option<String>) {
    let mut seen = Vec::new();
    let mut err = None;
    loop {
        let mut hdr = [0u8; 5];
        if s.read_exact(&mut hdr).is_err() {
            return (seen, err);
        }
        let len = u32::from_be_bytes([hdr[1], hdr[2], hdr[3], hdr[4]]) as usize;
        let mut body = vec![0u8; len.saturating_sub(4)];
        if s.read_exact(&mut body).is_err() {
            return (seen, err);
        }
        seen.push(hdr[0]);
        if hdr[0] == b'E' {
            let text = String::from_utf8_lossy(&body).to_string();
            err = Some(text);
        }
        if hdr[0] == b'Z' {
            return (seen, err);
        }
    }
}

fn connect_raw(node: &Node) -> TcpStream {
    let mut s = TcpStream::connect(("127.0.0.1", node.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(&startup_packet("postgres")).unwrap();
    let (seen, err) = read_until_ready(&mut s);
    assert!(
        err.is_none() && seen.last() == Some(&b'Z'),
        "startup failed: {err:?}"
    );
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_messages_get_errors_and_server_keeps_serving() {
    let mut node = Node::init("bad-protocol");
    node.start();
    let other = node.connect().await;

    // A garbage startup packet (absurd length).
    let mut s = TcpStream::connect(("127.0.0.1", node.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(&[0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4]).unwrap();
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf); // server closes the connection
    drop(s);

    // A message with an unknown type byte: FATAL 08P01, connection closed.
    let mut s = connect_raw(&node);
    s.write_all(&[b'!', 0, 0, 0, 4]).unwrap();
    let (_, err) = read_until_ready(&mut s);
    let err = err.expect("an error for an unknown message type");
    assert!(err.contains("08P01"), "{err}");

    // A Query whose length field lies (shorter than its body) / has no terminator.
    let mut s = connect_raw(&node);
    s.write_all(&[b'Q', 0, 0, 0, 6, b'x', b'y']).unwrap();
    let (_, err) = read_until_ready(&mut s);
    assert!(err.is_some(), "an error for a malformed Query");

    // Invalid UTF-8 in a query string: an ERROR, and the connection stays usable.
    let mut s = connect_raw(&node);
    let q = b"SELECT '\xff\xfe'\0";
    let mut msg = vec![b'Q'];
    msg.extend_from_slice(&((q.len() + 4) as u32).to_be_bytes());
    msg.extend_from_slice(q);
    s.write_all(&msg).unwrap();
    let (seen, err) = read_until_ready(&mut s);
    let err = err.expect("an error for invalid UTF-8");
    assert!(err.contains("22021"), "{err}");
    assert_eq!(seen.last(), Some(&b'Z'));
    let q = b"SELECT 1\0";
    let mut msg = vec![b'Q'];
    msg.extend_from_slice(&((q.len() + 4) as u32).to_be_bytes());
    msg.extend_from_slice(q);
    s.write_all(&msg).unwrap();
    let (seen, err) = read_until_ready(&mut s);
    assert!(err.is_none());
    assert!(seen.contains(&b'D'));

    let one: i32 = other.query_one("SELECT 1", &[]).await.unwrap().get(0);
    assert_eq!(one, 1);
    node.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_query_and_wrong_types() {
    let mut node = Node::init("bad-sql");
    node.start();
    let c = node.connect().await;
    let other = node.connect().await;
    // 100 MB query text.
    let big = format!("SELECT '{}'::text IS NULL", "x".repeat(100 * 1024 * 1024));
    match c.simple_query(&big).await {
        Ok(_) => {}
        Err(e) => assert!(
            e.as_db_error().is_some(),
            "expected a server error, got {e}"
        ),
    }
    let one: i32 = other.query_one("SELECT 1", &[]).await.unwrap().get(0);
    assert_eq!(one, 1);

    c.batch_execute("CREATE TABLE t (a int PRIMARY KEY, d date)")
        .await
        .unwrap();
    let e = c
        .batch_execute("INSERT INTO t VALUES ('abc', '2026-01-01')")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e).as_deref(), Some("22P02"));
    assert_eq!(
        message(&e),
        "invalid input syntax for type integer: \"abc\""
    );
    let e = c
        .batch_execute("INSERT INTO t VALUES (1, 'notadate')")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e).as_deref(), Some("22007"));
    let e = c.batch_execute("SELECT d * 2 FROM t").await.unwrap_err();
    assert_eq!(sqlstate(&e).as_deref(), Some("42883"));
    let e = c.batch_execute("SELEC 1").await.unwrap_err();
    assert_eq!(sqlstate(&e).as_deref(), Some("42601"));
    assert_eq!(message(&e), "syntax error at or near \"SELEC\"");
    let e = c.batch_execute("SELECT 2147483647 + 1").await.unwrap_err();
    assert_eq!(sqlstate(&e).as_deref(), Some("22003"));
    assert_eq!(message(&e), "integer out of range");
    let e = c
        .batch_execute("CREATE TABLE t2 (a date REFERENCES t(d))")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e).as_deref(), Some("42830"));
    assert_eq!(
        message(&e),
        "there is no unique constraint matching given keys for referenced table \"t\""
    );
    let e = c
        .batch_execute("CREATE TYPE pair AS (a int, b int)")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e).as_deref(), Some("0A000"));
    let one: i32 = c.query_one("SELECT 1", &[]).await.unwrap().get(0);
    assert_eq!(one, 1);
    node.stop();
}
