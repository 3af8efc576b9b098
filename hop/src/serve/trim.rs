//! Memory given back after a burst. glibc's malloc keeps what a burst freed
//! in its arenas (one per thread that allocated): the hop's RSS would stay at
//! the burst's peak. Once the load has fallen to half its peak, the hop asks
//! malloc to return its free pages (`malloc_trim`). Other allocators (musl's
//! return memory on their own) have nothing to do here.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::conn::Shared;

/// How often the load is looked at.
const EVERY: Duration = Duration::from_secs(5);

/// Runs until the process ends: `connections` and the requests open in
/// `shared` are the load.
pub(super) async fn after_bursts(connections: Arc<AtomicUsize>, shared: Arc<Shared>) {
    let mut peak = 0;
    loop {
        tokio::time::sleep(EVERY).await;
        let load = connections.load(Ordering::Relaxed) + shared.open_requests();
        // The peak between two looks too: a burst can be shorter than EVERY.
        peak = peak.max(shared.take_peak()).max(load);
        // A burst of at least a few dozen connections or requests is over.
        if peak >= 32 && load <= peak / 2 {
            let _ = tokio::task::spawn_blocking(trim).await;
            peak = load;
        }
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn trim() {
    // SAFETY: malloc_trim only walks and releases malloc's own free lists.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim() {}
