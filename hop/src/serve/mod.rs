//! What both servers do around their protocol: read the configuration, start
//! `/metrics`, bind `PORT`, accept until SIGTERM (or Ctrl-C), then drain the
//! connections and flush spans. Only the connection itself is the protocol's.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulConnection;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};

use contract::Protocol;

use crate::{Hop, HopConfig};

mod conn;
mod counted;
mod listen;
mod trim;

pub use conn::{Activity, Tracked};
pub use counted::{Counted, CountedBody, Overloaded};
pub use listen::listen;

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
    let metrics_addr = SocketAddr::new(hop.config.address, hop.config.metrics_port);
    if let Err(e) = hop.metrics.clone().serve(metrics_addr).await {
        eprintln!("METRICS_PORT {}: {e}", hop.config.metrics_port);
        return Err(1);
    }
    let addr = SocketAddr::new(hop.config.address, hop.config.port);
    let listener = listen(addr).map_err(|e| {
        eprintln!("PORT {}: {e}", hop.config.port);
        1
    })?;
    let upstreams: Vec<&str> = hop
        .config
        .upstreams
        .iter()
        .map(|t| t.raw.as_str())
        .collect();
    eprintln!("{}", hop.config.limits.memory_budget());
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

/// The connections still open when the hop stopped accepting.
pub struct Open {
    shutdown: watch::Sender<bool>,
    /// Every connection task holds a sender; `recv` is `None` once all ended.
    live: mpsc::Receiver<()>,
    count: Arc<AtomicUsize>,
}

/// Serves each accepted connection with `connection` until SIGTERM or Ctrl-C,
/// then stops accepting; returns the connections still open, to [`drain`].
///
/// The hop's limits hold for every connection: at most `MAX_CONNECTIONS`
/// open (a new one closes the one idle longest, or is closed at once when
/// none is idle), each closed once idle for `IDLE_TIMEOUT`, trickling a
/// header for `HEADER_TIMEOUT`, or holding an answer past
/// `REQUEST_TIMEOUT`. `connection` gets the socket and its [`Activity`], to
/// count requests with [`Counted`].
pub async fn accept_until_signal<C>(
    listener: TcpListener,
    limits: contract::Limits,
    mut connection: impl FnMut(TokioIo<Tracked<TcpStream>>, &Arc<Activity>) -> C,
) -> Open
where
    C: GracefulConnection + Send + 'static,
    C::Error: Send + 'static,
{
    let (shutdown, stop) = watch::channel(false);
    let (alive, live) = mpsc::channel::<()>(1);
    let count = Arc::new(AtomicUsize::new(0));
    let shared = conn::Shared::new(limits);
    let connections = Arc::new(Live::default());
    let trimmer = tokio::spawn(trim::after_bursts(count.clone(), shared.clone()));
    let mut errors = AcceptErrors::default();
    let signal = crate::shutdown::signal();
    tokio::pin!(signal);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        // Out of file descriptors and the like: back off, keep serving.
                        tokio::time::sleep(errors.failed(&e)).await;
                        continue;
                    }
                };
                errors.succeeded();
                let activity = Activity::new(&shared);
                let Some(id) = connections.admit(&activity, shared.limits().max_connections) else {
                    // Full of busy connections: this one is closed at once.
                    errors.refused(shared.limits().max_connections);
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let conn = connection(TokioIo::new(Tracked::new(stream, activity.clone())), &activity);
                let (stop, alive, count, connections) =
                    (stop.clone(), alive.clone(), count.clone(), connections.clone());
                shared.note_connections(count.fetch_add(1, Ordering::Relaxed) + 1);
                tokio::spawn(async move {
                    conn::run(conn, activity, stop).await;
                    connections.remove(id);
                    count.fetch_sub(1, Ordering::Relaxed);
                    drop(alive);
                });
            }
            _ = &mut signal => break,
        }
    }
    trimmer.abort();
    Open {
        shutdown,
        live,
        count,
    }
}

/// The connections that count against `MAX_CONNECTIONS`, by id.
#[derive(Default)]
struct Live {
    connections: Mutex<(u64, HashMap<u64, Arc<Activity>>)>,
}

impl Live {
    /// Counts a new connection in, closing the one idle longest if there are
    /// already `max`; `None` (not counted) when all of them are busy.
    fn admit(&self, activity: &Arc<Activity>, max: u32) -> Option<u64> {
        let mut guard = self
            .connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let (next, live) = &mut *guard;
        if live.len() >= max as usize {
            let idlest = live
                .iter()
                .filter_map(|(id, a)| a.idle_since().map(|since| (since, *id)))
                .min()?;
            if let Some(evicted) = live.remove(&idlest.1) {
                evicted.evict();
            }
        }
        *next += 1;
        live.insert(*next, activity.clone());
        Some(*next)
    }

    fn remove(&self, id: u64) {
        let mut guard = self
            .connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        guard.1.remove(&id);
    }
}

/// Backoff and a log that stays readable when `accept` keeps failing (at the
/// descriptor limit it fails as fast as it is called), or connections are
/// refused at `MAX_CONNECTIONS`.
#[derive(Default)]
struct AcceptErrors {
    streak: u32,
    last_log: Option<Instant>,
    unlogged: u64,
    refused: u64,
    last_refusal_log: Option<Instant>,
}

impl AcceptErrors {
    /// How long to wait before accepting again: 1 ms, doubling to 1 s.
    fn failed(&mut self, e: &std::io::Error) -> Duration {
        self.streak = self.streak.saturating_add(1);
        if self
            .last_log
            .is_none_or(|t| t.elapsed() >= Duration::from_secs(1))
        {
            let more = match self.unlogged {
                0 => String::new(),
                n => format!(" ({n} more since the last report)"),
            };
            eprintln!("accept: {e}{more}");
            self.last_log = Some(Instant::now());
            self.unlogged = 0;
        } else {
            self.unlogged += 1;
        }
        Duration::from_millis(1u64 << self.streak.min(10).saturating_sub(1))
    }

    fn succeeded(&mut self) {
        self.streak = 0;
    }

    /// A connection closed at once: `MAX_CONNECTIONS` open, none idle.
    fn refused(&mut self, max: u32) {
        self.refused += 1;
        if self
            .last_refusal_log
            .is_none_or(|t| t.elapsed() >= Duration::from_secs(1))
        {
            eprintln!(
                "MAX_CONNECTIONS ({max}) open and busy: closed {} new connection(s)",
                self.refused
            );
            self.last_refusal_log = Some(Instant::now());
            self.refused = 0;
        }
    }
}

/// Asks every open connection to finish (HTTP/2 GOAWAY, HTTP/1.1 `Connection:
/// close`), lets in-flight requests finish (at most [`DRAIN`]), then flushes
/// spans. Returns the exit code: 0.
pub async fn drain(hop: &Arc<Hop>, open: Open) -> i32 {
    let Open {
        shutdown,
        mut live,
        count,
    } = open;
    eprintln!(
        "SIGTERM: draining {} connection(s)",
        count.load(Ordering::Relaxed)
    );
    let _ = shutdown.send(true);
    if tokio::time::timeout(DRAIN, live.recv()).await.is_err() {
        eprintln!("drain: gave up after {DRAIN:?}");
    }
    let hop = hop.clone();
    let _ = tokio::task::spawn_blocking(move || hop.telemetry.shutdown()).await;
    0
}
