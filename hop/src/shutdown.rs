//! Waiting for the signal to drain: SIGTERM (Kubernetes) or Ctrl-C.

/// Resolves on SIGTERM or SIGINT.
pub async fn signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(term) => term,
        Err(e) => {
            eprintln!("cannot listen for SIGTERM ({e}); only Ctrl-C will stop the hop");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
