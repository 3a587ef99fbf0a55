//! A latch: one thread sets it, another sleeps until it is set, optionally
//! together with a socket becoming readable, so a thread blocked on its
//! connection still wakes at once for an event of another thread (the
//! walreceiver waits for its primary and for the startup thread's replay
//! progress, or a stop request).
//!
//! Built on an eventfd: [`Latch::set`] adds to its counter (the fd becomes
//! readable), [`Latch::reset`] reads it back to zero, and the waits `poll` the
//! eventfd with the socket. A set before the wait is not lost: the fd stays
//! readable until reset. A flag beside the fd spares the system call of a set
//! on a latch that is set already (a walsender's latch is set on every WAL
//! flush), as PostgreSQL's `is_set`. The waiter resets the latch before it looks at what
//! may have changed, as PostgreSQL's latch protocol has it. If the eventfd
//! cannot be created the latch is inert: waits are plain socket waits.
//!
//! PostgreSQL counterpart: `storage/ipc/latch.c` (`SetLatch`, `ResetLatch`,
//! `WaitLatchOrSocket`).

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

pub(crate) struct Latch {
    fd: Option<OwnedFd>,
    /// Set since the last reset (the fd is readable, or about to be).
    is_set: AtomicBool,
}

/// What ended a wait (both may be true; neither: the timeout passed).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Woken {
    pub latch: bool,
    pub socket: bool,
}

impl Latch {
    pub fn new() -> Latch {
        // SAFETY: eventfd takes no pointers; a negative result is an error.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        // SAFETY: a non-negative fd was just created and is owned by no one else.
        let fd = (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd) });
        Latch {
            fd,
            is_set: AtomicBool::new(false),
        }
    }

    /// Wakes the waiter (now, or at its next wait if it is not waiting).
    pub fn set(&self) {
        // A set latch stays set until the waiter's reset, which comes before
        // it looks at what changed: this change is seen then.
        if self.is_set.swap(true, Ordering::SeqCst) {
            return;
        }
        if let Some(fd) = &self.fd {
            let one: u64 = 1;
            // SAFETY: writes the 8 bytes of `one`, which outlives the call. A
            // full counter (EAGAIN) means the latch is set already.
            let _ = unsafe {
                libc::write(
                    fd.as_raw_fd(),
                    (&one as *const u64).cast::<libc::c_void>(),
                    std::mem::size_of::<u64>(),
                )
            };
        }
    }

    /// Clears the latch (the waiter, before it checks what changed).
    pub fn reset(&self) {
        // Drained first, cleared after: a set between the two found the flag
        // up and wrote nothing, but its change is seen by the check that
        // follows this reset; a set after the clear writes again. (A set
        // whose write lands after the drain leaves one spurious wakeup.)
        if let Some(fd) = &self.fd {
            let mut n: u64 = 0;
            // SAFETY: reads at most 8 bytes into `n`, which outlives the call;
            // EAGAIN (not set) is fine on the non-blocking fd.
            let _ = unsafe {
                libc::read(
                    fd.as_raw_fd(),
                    (&mut n as *mut u64).cast::<libc::c_void>(),
                    std::mem::size_of::<u64>(),
                )
            };
        }
        self.is_set.store(false, Ordering::SeqCst);
    }

    /// The eventfd to `poll` for the latch with other descriptors (readable
    /// while set); `None` for an inert latch.
    pub fn raw_fd(&self) -> Option<RawFd> {
        self.fd.as_ref().map(|f| f.as_raw_fd())
    }

    /// Sleeps until the latch is set, `socket` is readable (or closed), or
    /// `timeout` passes. The latch stays set: the caller resets it.
    pub fn wait_or_socket(&self, socket: RawFd, timeout: Duration) -> Woken {
        // (poll skips a negative descriptor: an inert latch)
        let mut fds = [pollfd(socket), pollfd(self.raw_fd().unwrap_or(-1))];
        poll(&mut fds, timeout_ms(timeout));
        Woken {
            socket: fds[0].revents != 0,
            latch: fds[1].revents != 0,
        }
    }
}

impl Default for Latch {
    fn default() -> Latch {
        Latch::new()
    }
}

/// Whether `socket` has input (or is closed) right now, without waiting.
pub(crate) fn socket_readable(socket: RawFd) -> bool {
    let mut fds = [pollfd(socket)];
    poll(&mut fds, 0);
    fds[0].revents != 0
}

fn pollfd(fd: RawFd) -> libc::pollfd {
    libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    }
}

/// `poll(2)`; an error (EINTR) counts as a wakeup with nothing ready, the
/// caller's loop looks again.
fn poll(fds: &mut [libc::pollfd], timeout_ms: i32) {
    // SAFETY: `fds` is a valid, exclusively borrowed array of pollfd for the call.
    let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) };
    if n < 0 {
        for f in fds.iter_mut() {
            f.revents = 0;
        }
    }
}

/// A timeout in whole milliseconds for `poll`, rounded up (a wait for a timer
/// due in 0.3 ms must not return before it).
fn timeout_ms(d: Duration) -> i32 {
    let ms = d.as_micros().div_ceil(1000);
    i32::try_from(ms).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::net::UnixStream;
    use std::time::Instant;

    #[test]
    fn a_set_before_the_wait_is_not_lost_and_reset_clears_it() {
        let latch = Latch::new();
        let (a, mut b) = UnixStream::pair().unwrap();
        latch.set();
        latch.set();
        let w = latch.wait_or_socket(a.as_raw_fd(), Duration::from_secs(10));
        assert_eq!(
            w,
            Woken {
                latch: true,
                socket: false
            }
        );
        latch.reset();
        let started = Instant::now();
        let w = latch.wait_or_socket(a.as_raw_fd(), Duration::from_millis(30));
        assert_eq!(w, Woken::default());
        assert!(started.elapsed() >= Duration::from_millis(30));
        assert!(!socket_readable(a.as_raw_fd()));
        b.write_all(b"x").unwrap();
        assert!(socket_readable(a.as_raw_fd()));
        let w = latch.wait_or_socket(a.as_raw_fd(), Duration::from_secs(10));
        assert!(w.socket && !w.latch);
    }

    #[test]
    fn another_thread_wakes_the_waiter() {
        let latch = std::sync::Arc::new(Latch::new());
        let (a, _b) = UnixStream::pair().unwrap();
        let l2 = latch.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            l2.set();
        });
        let w = latch.wait_or_socket(a.as_raw_fd(), Duration::from_secs(20));
        assert!(w.latch);
        t.join().unwrap();
    }

    #[test]
    fn timeouts_round_up_to_whole_milliseconds() {
        assert_eq!(timeout_ms(Duration::ZERO), 0);
        assert_eq!(timeout_ms(Duration::from_micros(300)), 1);
        assert_eq!(timeout_ms(Duration::from_millis(100)), 100);
        assert_eq!(timeout_ms(Duration::from_secs(u64::MAX)), i32::MAX);
    }
}
