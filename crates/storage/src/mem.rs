//! Giving freed memory back to the system after large writes. glibc keeps
//! what a transaction of millions of rows freed (its write set, then its
//! versions in the recent heap once the applier has stored them) in its
//! arenas, so the server's resident size would stay at that transaction's
//! peak; `malloc_trim` returns the free pages. Called by the applier once it
//! has stored such a transaction (`applier.rs`), where the last of its
//! memory is freed. The `tandem` server allocates with jemalloc, which
//! returns freed pages on its own (there the trim finds nothing to do); the
//! trim serves programs that keep glibc's malloc (this crate's tests).

/// Changes of one committed transaction after whose storing freed memory is
/// given back (a trim walks every arena and holds each one's lock while it
/// does: not for groups of small commits, where it lengthened the standby's
/// replay tail).
pub(crate) const TRIM_AFTER_WRITES: u64 = 100_000;

/// Returns free heap pages of every malloc arena to the system.
pub(crate) fn give_back_freed() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes the arenas' own locks and only releases
    // memory malloc holds as free; it is safe to call from any thread.
    unsafe {
        libc::malloc_trim(0);
    }
}
