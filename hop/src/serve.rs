//! What both servers do around their protocol: read the configuration, start
//! `/metrics`, bind `PORT`, accept until SIGTERM (or Ctrl-C), then drain the
//! connections and flush spans. Only the connection itself is the protocol's.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::{GracefulConnection, GracefulShutdown};
use tokio::net::{TcpListener, TcpStream};

use contract::Protocol;

use crate::{Hop, HopConfig};

/// How long in-flight requests may take to finish after SIGTERM (Kubernetes
/// gives 30 s before SIGKILL by default).
pub const DRAIN: Duration = Duration::from_secs(20);

/// A configured hop with its port bound and `/metrics` served.
pub struct Bound {
    pub hop: Arc<Hop>,
    pub listener: TcpListener,
}

/// Reads the environment, builds the hop, serves `/metrics`, binds `PORT`
/// (the protocol's default when unset) and says so on stderr. An error is
/// printed and its exit code returned: 2 for configuration, 1 for ports.
pub async fn bind(protocol: Protocol) -> Result<Bound, i32> {
    let config = HopConfig::from_process_env(protocol).map_err(|e| {
        eprintln!("configuration error: {e}");
        2
    })?;
    let hop = Arc::new(Hop::new(config).map_err(|e| {
        eprintln!("cannot start: {e}");
        2
    })?);
    let metrics_addr = SocketAddr::from(([0, 0, 0, 0], hop.config.metrics_port));
    if let Err(e) = hop.metrics.clone().serve(metrics_addr).await {
        eprintln!("METRICS_PORT {}: {e}", hop.config.metrics_port);
        return Err(1);
    }
    let addr = SocketAddr::from(([0, 0, 0, 0], hop.config.port));
    let listener = TcpListener::bind(addr).await.map_err(|e| {
        eprintln!("PORT {}: {e}", hop.config.port);
        1
    })?;
    let upstreams: Vec<&str> = hop
        .config
        .upstreams
        .iter()
        .map(|t| t.raw.as_str())
        .collect();
    eprintln!(
        "{}-{} serving {} on {addr}, metrics on {metrics_addr}, upstreams: {upstreams:?}",
        hop.config.service,
        hop.config.version,
        match protocol {
            Protocol::Http => "HTTP",
            Protocol::Grpc => "gRPC",
        },
    );
    Ok(Bound { hop, listener })
}

/// Serves each accepted connection with `connection` until SIGTERM or Ctrl-C,
/// then stops accepting; returns the connections still open, to [`drain`].
pub async fn accept_until_signal<C>(
    listener: TcpListener,
    mut connection: impl FnMut(TokioIo<TcpStream>) -> C,
) -> GracefulShutdown
where
    C: GracefulConnection + Send + 'static,
    C::Error: Send + 'static,
{
    let graceful = GracefulShutdown::new();
    let signal = crate::shutdown::signal();
    tokio::pin!(signal);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        // Out of file descriptors and the like: back off, keep serving.
                        eprintln!("accept: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let watched = graceful.watch(connection(TokioIo::new(stream)));
                tokio::spawn(async move {
                    // Connection errors (resets, malformed requests) are the client's business.
                    let _ = watched.await;
                });
            }
            _ = &mut signal => break,
        }
    }
    graceful
}

/// Lets in-flight requests finish (at most [`DRAIN`]), then flushes spans.
/// Returns the exit code: 0.
pub async fn drain(hop: &Arc<Hop>, graceful: GracefulShutdown) -> i32 {
    eprintln!("SIGTERM: draining {} connection(s)", graceful.count());
    if tokio::time::timeout(DRAIN, graceful.shutdown())
        .await
        .is_err()
    {
        eprintln!("drain: gave up after {DRAIN:?}");
    }
    let hop = hop.clone();
    let _ = tokio::task::spawn_blocking(move || hop.telemetry.shutdown()).await;
    0
}
