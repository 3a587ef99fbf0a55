//! A movable address on loopback: a TCP forwarder that stands for the
//! virtual IP an operator moves to the new primary after a failover.
//!
//! [`Proxy::start`] listens on a free port of 127.0.0.1 and forwards each
//! accepted connection to the current target port; [`Proxy::retarget`]
//! points new connections elsewhere and closes the forwarded ones, as moving
//! a VIP breaks the connections through it. Clients configured with the
//! proxy's port (a subscription's `CONNECTION`, say) reach the new primary
//! without being told. Threads only; stopped when dropped.
//!
//! A proxy also stands for a bad link between two nodes: [`Proxy::stall`]
//! holds every byte (connections stay open, nothing arrives: a partition
//! TCP has not noticed), [`Proxy::slow`] delays each chunk forwarded,
//! [`Proxy::break_connections`] closes the open connections and lets new
//! ones through, [`Proxy::pass`] forwards normally again.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// [`Proxy`]'s link mode: forward at once.
const PASS: u32 = 0;
/// [`Proxy`]'s link mode: hold every byte.
const STALL: u32 = u32::MAX;

/// A forwarder from `127.0.0.1:port` to `127.0.0.1:<target>`.
pub struct Proxy {
    /// The port clients connect to.
    pub port: u16,
    target: Arc<AtomicU16>,
    open: Arc<Mutex<Vec<TcpStream>>>,
    stop: Arc<AtomicBool>,
    /// [`PASS`], [`STALL`], or a delay in milliseconds per chunk.
    mode: Arc<AtomicU32>,
}

fn pump(mut from: TcpStream, mut to: TcpStream, mode: Arc<AtomicU32>, stop: Arc<AtomicBool>) {
    let mut buf = [0u8; 16384];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                loop {
                    match mode.load(Ordering::SeqCst) {
                        PASS => break,
                        _ if stop.load(Ordering::SeqCst) => break,
                        STALL => thread::sleep(Duration::from_millis(10)),
                        ms => {
                            thread::sleep(Duration::from_millis(u64::from(ms)));
                            break;
                        }
                    }
                }
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(Shutdown::Both);
    let _ = from.shutdown(Shutdown::Both);
}

impl Proxy {
    /// Starts forwarding to `target_port`. Panics if no port can be bound.
    pub fn start(target_port: u16) -> Proxy {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .unwrap_or_else(|e| panic!("bind a proxy port on 127.0.0.1: {e}"));
        let port = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("proxy address: {e}"))
            .port();
        let target = Arc::new(AtomicU16::new(target_port));
        let open: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let mode = Arc::new(AtomicU32::new(PASS));
        let (t, o, s, m) = (target.clone(), open.clone(), stop.clone(), mode.clone());
        thread::spawn(move || {
            for client in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(("127.0.0.1", t.load(Ordering::SeqCst))) else {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                let (Ok(c2), Ok(s2)) = (client.try_clone(), server.try_clone()) else {
                    continue;
                };
                if let Ok(mut list) = o.lock() {
                    list.retain(|s: &TcpStream| s.peer_addr().is_ok());
                    if let (Ok(c3), Ok(s3)) = (client.try_clone(), server.try_clone()) {
                        list.push(c3);
                        list.push(s3);
                    }
                }
                let (m1, st1) = (m.clone(), s.clone());
                thread::spawn(move || pump(client, server, m1, st1));
                let (m2, st2) = (m.clone(), s.clone());
                thread::spawn(move || pump(s2, c2, m2, st2));
            }
        });
        Proxy {
            port,
            target,
            open,
            stop,
            mode,
        }
    }

    /// The port new connections are forwarded to.
    pub fn target(&self) -> u16 {
        self.target.load(Ordering::SeqCst)
    }

    /// Holds every byte on every connection, open or new, until
    /// [`Proxy::pass`] or [`Proxy::slow`].
    pub fn stall(&self) {
        self.mode.store(STALL, Ordering::SeqCst);
    }

    /// Delays each chunk forwarded by `delay` (at least 1 ms).
    pub fn slow(&self, delay: Duration) {
        let ms = delay.as_millis().clamp(1, u128::from(STALL - 1)) as u32;
        self.mode.store(ms, Ordering::SeqCst);
    }

    /// Forwards at once again.
    pub fn pass(&self) {
        self.mode.store(PASS, Ordering::SeqCst);
    }

    /// Closes the open connections; new ones go through.
    pub fn break_connections(&self) {
        if let Ok(mut list) = self.open.lock() {
            for s in list.drain(..) {
                let _ = s.shutdown(Shutdown::Both);
            }
        }
    }

    /// Sends new connections to `target_port` and closes the open ones.
    pub fn retarget(&self, target_port: u16) {
        self.target.store(target_port, Ordering::SeqCst);
        self.break_connections();
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.pass();
        // wake the accept loop so it sees the flag
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        self.retarget(0);
    }
}
