//! The Tokio runtime of a hop.

use tokio::runtime::{Builder, Runtime};

/// A multi-threaded runtime (Tokio reads TOKIO_WORKER_THREADS, default: one
/// worker per core), except with TOKIO_WORKER_THREADS=1: then a
/// current-thread runtime, which does the same work without the cross-thread
/// wake-ups of a one-worker scheduler (cheaper per request, see
/// scripts/bench-chain).
pub fn build() -> std::io::Result<Runtime> {
    match std::env::var("TOKIO_WORKER_THREADS")
        .as_deref()
        .map(str::trim)
    {
        Ok("1") => Builder::new_current_thread().enable_all().build(),
        _ => Builder::new_multi_thread().enable_all().build(),
    }
}
