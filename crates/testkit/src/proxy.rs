//! A movable address on loopback: a TCP forwarder that stands for the
//! virtual IP an operator moves to the new primary after a failover.
//!
//! [`Proxy::start`] listens on a free port of 127.0.0.1 and forwards each
//! accepted connection to the current target port; [`Proxy::retarget`]
//! points new connections elsewhere and closes the forwarded ones, as moving
//! a VIP breaks the connections through it. Clients configured with the
//! proxy's port (a subscription's `CONNECTION`, say) reach the new primary
//! without being told. Threads only; stopped when dropped.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

/// A forwarder from `127.0.0.1:port` to `127.0.0.1:<target>`.
pub struct Proxy {
    /// The port clients connect to.
    pub port: u16,
    target: Arc<AtomicU16>,
    open: Arc<Mutex<Vec<TcpStream>>>,
    stop: Arc<AtomicBool>,
}

fn pump(mut from: TcpStream, mut to: TcpStream) {
    let mut buf = [0u8; 16384];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
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
        let (t, o, s) = (target.clone(), open.clone(), stop.clone());
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
                thread::spawn(move || pump(client, server));
                thread::spawn(move || pump(s2, c2));
            }
        });
        Proxy {
            port,
            target,
            open,
            stop,
        }
    }

    /// Sends new connections to `target_port` and closes the open ones.
    pub fn retarget(&self, target_port: u16) {
        self.target.store(target_port, Ordering::SeqCst);
        if let Ok(mut list) = self.open.lock() {
            for s in list.drain(..) {
                let _ = s.shutdown(Shutdown::Both);
            }
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // wake the accept loop so it sees the flag
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        self.retarget(0);
    }
}
