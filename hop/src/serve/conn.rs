//! One accepted connection, whatever the protocol: what it is doing
//! ([`Activity`]: bytes moved, requests open and since when, as
//! [`super::Counted`] counts them), and when it is closed ([`run`]): idle, a
//! header trickled for longer than `HEADER_TIMEOUT`, an answer stuck past its
//! deadline, room made for a new connection, or SIGTERM (hyper's graceful
//! close: HTTP/2 GOAWAY, HTTP/1.1 `Connection: close` on the answer in
//! progress).

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use contract::Limits;
use hyper_util::server::graceful::GracefulConnection;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{Notify, watch};

/// What every connection of a hop shares: one clock, the hop's limits, and
/// its requests open over all connections.
pub(super) struct Shared {
    epoch: Instant,
    limits: Limits,
    open: AtomicUsize,
    /// The most requests and connections open at once since the trimmer
    /// last looked (`hop::serve::trim`).
    open_peak: AtomicUsize,
    connections_peak: AtomicUsize,
    /// How often a connection looks at its own [`Activity`].
    tick: Duration,
}

impl Shared {
    pub(super) fn new(limits: Limits) -> Arc<Shared> {
        let shortest = [
            limits.idle_timeout,
            limits.header_timeout,
            limits.request_timeout,
        ]
        .into_iter()
        .map(Duration::from)
        .min()
        .unwrap_or_default();
        Arc::new(Shared {
            epoch: Instant::now(),
            limits,
            open: AtomicUsize::new(0),
            open_peak: AtomicUsize::new(0),
            connections_peak: AtomicUsize::new(0),
            tick: (shortest / 4).clamp(Duration::from_millis(50), Duration::from_secs(1)),
        })
    }

    fn now(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// Counts a request in, unless `MAX_IN_FLIGHT` are already open.
    pub(super) fn try_open(&self) -> bool {
        let before = self.open.fetch_add(1, Ordering::Relaxed);
        if before >= self.limits.max_in_flight as usize {
            self.open.fetch_sub(1, Ordering::Relaxed);
            return false;
        }
        self.open_peak.fetch_max(before + 1, Ordering::Relaxed);
        true
    }

    /// Counts a request out.
    pub(super) fn closed(&self) {
        self.open.fetch_sub(1, Ordering::Relaxed);
    }

    pub(super) fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Requests open over all connections.
    pub(super) fn open_requests(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    /// `connections` are open now.
    pub(super) fn note_connections(&self, connections: usize) {
        self.connections_peak
            .fetch_max(connections, Ordering::Relaxed);
    }

    /// The most connections + requests open at once since the last call.
    pub(super) fn take_peak(&self) -> usize {
        self.connections_peak.swap(0, Ordering::Relaxed) + self.open_peak.swap(0, Ordering::Relaxed)
    }
}

/// What a connection is doing, shared by its socket ([`Tracked`]), its
/// service ([`super::Counted`]) and its task ([`run`]). Times are milliseconds on
/// the hop's clock, so connections compare.
pub struct Activity {
    shared: Arc<Shared>,
    /// When a byte last moved or a request ended.
    last: AtomicU64,
    /// When a byte was last read.
    last_read: AtomicU64,
    /// 1 + when the first byte was read since the last request began; 0: none.
    reading_since: AtomicU64,
    /// When each request open on this connection began (until its answer
    /// has been sent or dropped).
    open: Mutex<Vec<u64>>,
    /// Told to close at once, to make room for a new connection.
    evict: Notify,
}

/// Why a connection is closed.
#[derive(Debug, PartialEq, Eq)]
enum Close {
    /// Nothing open, nothing moved for `IDLE_TIMEOUT`.
    Idle,
    /// Bytes kept arriving for `HEADER_TIMEOUT` without making a request.
    SlowHeader,
    /// An answer is still not sent past `REQUEST_TIMEOUT` (a client that
    /// does not read, or a zero window).
    Overdue,
    /// Idle longest when a new connection needed its room.
    Evicted,
}

/// After the deadline resets a request, how long its answer may take to be
/// dropped before the connection counts as stuck.
const OVERDUE_GRACE: u64 = 1000;

impl Activity {
    pub(super) fn new(shared: &Arc<Shared>) -> Arc<Activity> {
        let now = shared.now();
        Arc::new(Activity {
            shared: shared.clone(),
            last: AtomicU64::new(now),
            last_read: AtomicU64::new(now),
            reading_since: AtomicU64::new(0),
            open: Mutex::new(Vec::new()),
            evict: Notify::new(),
        })
    }

    fn touch(&self) {
        self.last.store(self.shared.now(), Ordering::Relaxed);
    }

    fn read(&self) {
        let now = self.shared.now();
        self.last.store(now, Ordering::Relaxed);
        self.last_read.store(now, Ordering::Relaxed);
        // Only the connection's own task reads: no race between load and store.
        if self.reading_since.load(Ordering::Relaxed) == 0 {
            self.reading_since.store(now + 1, Ordering::Relaxed);
        }
    }

    fn open(&self) -> std::sync::MutexGuard<'_, Vec<u64>> {
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn shared(&self) -> &Shared {
        &self.shared
    }

    /// A request's headers have arrived: whatever was read before was them.
    pub(super) fn request_arrived(&self) {
        self.reading_since.store(0, Ordering::Relaxed);
    }

    /// A request is open on this connection from now; returns when it began.
    pub(super) fn began(&self) -> u64 {
        let now = self.shared.now();
        self.open().push(now);
        now
    }

    /// The request that `began` then has ended (its answer sent or dropped).
    pub(super) fn ended(&self, began: u64) {
        let mut open = self.open();
        // Requests that began the same millisecond are interchangeable.
        if let Some(i) = open.iter().position(|&t| t == began) {
            open.swap_remove(i);
        }
        drop(open);
        self.touch();
    }

    /// When it was last active, if nothing is open on it.
    pub(super) fn idle_since(&self) -> Option<u64> {
        self.open()
            .is_empty()
            .then(|| self.last.load(Ordering::Relaxed))
    }

    /// Closes the connection at once (its task notices at its next poll).
    pub(super) fn evict(&self) {
        self.evict.notify_one();
    }

    /// Whether the connection should close now, and why.
    fn verdict(&self) -> Option<Close> {
        let limits = &self.shared.limits;
        let ms = |d: contract::Duration| d.as_nanos() / 1_000_000;
        let now = self.shared.now();
        let oldest = self.open().iter().min().copied();
        if let Some(oldest) = oldest {
            let overdue = ms(limits.request_timeout) + OVERDUE_GRACE;
            return (now.saturating_sub(oldest) > overdue).then_some(Close::Overdue);
        }
        let since = self.reading_since.load(Ordering::Relaxed);
        let reading = self.last_read.load(Ordering::Relaxed);
        if since != 0 && reading.saturating_sub(since - 1) >= ms(limits.header_timeout) {
            return Some(Close::SlowHeader);
        }
        let last = self.last.load(Ordering::Relaxed);
        (now.saturating_sub(last) >= ms(limits.idle_timeout)).then_some(Close::Idle)
    }

    /// Resolves when the connection should close.
    async fn watch(&self) -> Close {
        loop {
            tokio::select! {
                _ = self.evict.notified() => return Close::Evicted,
                _ = tokio::time::sleep(self.shared.tick) => {}
            }
            if let Some(close) = self.verdict() {
                return close;
            }
        }
    }
}

/// A socket that tells its [`Activity`] when bytes move.
pub struct Tracked<I> {
    io: I,
    activity: Arc<Activity>,
}

impl<I> Tracked<I> {
    pub(super) fn new(io: I, activity: Arc<Activity>) -> Tracked<I> {
        Tracked { io, activity }
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for Tracked<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let poll = Pin::new(&mut self.io).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.read();
        }
        poll
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Tracked<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.io).poll_write(cx, data);
        if matches!(poll, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        poll
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        if matches!(poll, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        poll
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// After the GOAWAY of an idle HTTP/2 connection, how long a client has to
/// acknowledge it before the connection is dropped (one that never reads
/// would otherwise hold it).
const IDLE_GRACE: Duration = Duration::from_secs(1);

/// Runs one connection to its end: closed by the client; idle or trickling
/// a header (closed gracefully, then dropped if it still lingers
/// [`IDLE_GRACE`] later); an answer stuck past its deadline, or evicted
/// (dropped at once); or asked to close by `shutdown` (then it has until the
/// drain ends).
pub(super) async fn run<C: GracefulConnection>(
    conn: C,
    activity: Arc<Activity>,
    mut shutdown: watch::Receiver<bool>,
) {
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        close = activity.watch() => {
            if matches!(close, Close::Idle | Close::SlowHeader) {
                conn.as_mut().graceful_shutdown();
                let grace = Duration::from(activity.shared.limits.idle_timeout).min(IDLE_GRACE);
                let _ = tokio::time::timeout(grace, conn).await;
            }
        }
        // The only change is to `true` (or the sender is gone): stop.
        _ = shutdown.changed() => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}
