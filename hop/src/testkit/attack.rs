//! The attacks scripts/chaos plays against a hop with its rendered defaults,
//! each on 127.0.0.1, bounded in count and time, beside a good client that
//! keeps calling: what the hop may not do is lose a good call (an
//! "overloaded" answer is fine) or go past its pod's memory limit.

use std::future::poll_fn;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use super::hold::{self, peak_rss};
use super::{HopProcess, Protocol, grpc_call, http_get};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attack {
    /// One connection, 100 streams each sending all but the end of a 4.2 MB body.
    UnfinishedMessages,
    /// 10,000 keep-alive connections with one answered request each, held.
    IdleConnections,
    /// 80 connections x 100 streams whose answers cannot be sent (window 0).
    ZeroWindow,
    /// 80 connections x 100 requests that never end.
    NeverEnding,
    /// 3,000 HTTP/2 connections sending their HEADERS a byte a second, 15 s.
    Slowloris,
}

impl Attack {
    pub const ALL: [Attack; 5] = [
        Attack::UnfinishedMessages,
        Attack::IdleConnections,
        Attack::ZeroWindow,
        Attack::NeverEnding,
        Attack::Slowloris,
    ];

    fn name(self) -> &'static str {
        match self {
            Attack::UnfinishedMessages => "unfinished 4.2 MB bodies on 100 streams",
            Attack::IdleConnections => "10,000 idle keep-alive connections",
            Attack::ZeroWindow => "80 x 100 zero-window streams",
            Attack::NeverEnding => "80 x 100 never-ending requests",
            Attack::Slowloris => "3,000 HTTP/2 slowloris connections, 15 s",
        }
    }
}

/// What an attack did to the hop.
#[derive(Debug)]
pub struct Outcome {
    pub attack: Attack,
    /// What the attack asked for (connections or streams; the hop may
    /// refuse or close some).
    pub opened: u64,
    /// Peak resident memory (VmHWM), bytes.
    pub peak: u64,
    /// Resident memory a few seconds after the attack (VmRSS), bytes.
    pub after: u64,
    pub good: GoodCalls,
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mib = |b: u64| b as f64 / 1048576.0;
        write!(
            f,
            "{:<44} asked {:>6}  peak {:>5.1} MiB  after {:>5.1} MiB  (limit {:.0} MiB)  \
             good client: {} answered, {} overloaded, {} lost",
            self.attack.name(),
            self.opened,
            mib(self.peak),
            mib(self.after),
            mib(hold::POD_LIMIT),
            self.good.answered,
            self.good.overloaded,
            self.good.lost.len(),
        )
    }
}

/// The good client's calls during an attack.
#[derive(Debug, Default)]
pub struct GoodCalls {
    pub answered: u64,
    pub overloaded: u64,
    /// What went wrong with each call that got neither.
    pub lost: Vec<String>,
}

/// Every [`Attack`] on a hop of the workspace binary `name`, one after the
/// other (each on a fresh hop), printing each outcome; then asserts that no
/// peak reached the pod's limit and that no good call was lost (answered, or
/// told "overloaded" while an attack holds MAX_IN_FLIGHT).
pub async fn every_attack(name: &str, protocol: Protocol) {
    let binary = super::workspace_binary(name);
    let mut outcomes = Vec::new();
    for attack in Attack::ALL {
        let outcome = run(&binary, protocol, attack).await;
        eprintln!("{name}: {outcome}");
        outcomes.push(outcome);
    }
    for outcome in &outcomes {
        assert!(outcome.peak < hold::POD_LIMIT, "{outcome}");
        assert!(
            outcome.good.lost.is_empty(),
            "{outcome}: {:?}",
            outcome.good.lost
        );
        assert!(
            outcome.good.answered + outcome.good.overloaded > 0,
            "{outcome}"
        );
    }
}

/// Starts a hop of `binary` with its defaults, plays `attack` on it beside a
/// good client, and reads its memory.
pub async fn run(binary: &Path, protocol: Protocol, attack: Attack) -> Outcome {
    let hop = HopProcess::hop(binary, protocol, ("frontend", "prod"), "", &[]).await;
    let stop = Arc::new(AtomicBool::new(false));
    let good = tokio::spawn(good_client(hop.port, protocol, stop.clone()));
    let opened = match attack {
        Attack::UnfinishedMessages => unfinished_messages(hop.port, protocol).await,
        Attack::IdleConnections => idle_connections(hop.port, protocol).await,
        Attack::ZeroWindow => streams(hop.port, protocol, Streams::ZeroWindow).await,
        Attack::NeverEnding => streams(hop.port, protocol, Streams::NeverEnding).await,
        Attack::Slowloris => slowloris(hop.port).await,
    };
    stop.store(true, Ordering::Relaxed);
    let good = good.await.expect("good client");
    let peak = peak_rss(hop.pid());
    // The hop gives memory back once the load has fallen (every 5 s).
    tokio::time::sleep(Duration::from_secs(7)).await;
    Outcome {
        attack,
        opened,
        peak,
        after: rss(hop.pid()),
        good,
    }
}

/// Resident memory now (VmRSS), bytes.
fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc status");
    kib * 1024
}

/// A call every 50 ms on a new connection, until `stop`.
async fn good_client(port: u16, protocol: Protocol, stop: Arc<AtomicBool>) -> GoodCalls {
    let mut calls = GoodCalls::default();
    // Bounded in count as well as in time.
    while !stop.load(Ordering::Relaxed) && calls.answered + calls.overloaded < 5000 {
        match protocol {
            Protocol::Http => match http_get(port, "/", &[]).await {
                Ok((200, ..)) => calls.answered += 1,
                Ok((503, _, body)) if body == "overloaded\n" => calls.overloaded += 1,
                Ok((status, _, body)) => calls.lost.push(format!("{status} {body}")),
                Err(e) => calls.lost.push(e),
            },
            Protocol::Grpc => match grpc_call(port, &[]).await {
                Ok(_) => calls.answered += 1,
                Err(s) if s.code() == tonic::Code::ResourceExhausted => calls.overloaded += 1,
                Err(s) => calls.lost.push(format!("{:?} {}", s.code(), s.message())),
            },
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    calls
}

/// An HTTP/2 client connection (the h2 crate's), its window `window`.
async fn h2_connect(port: u16, window: u32) -> Option<h2::client::SendRequest<Bytes>> {
    let tcp = TcpStream::connect(("127.0.0.1", port)).await.ok()?;
    let (send, connection) = h2::client::Builder::new()
        .initial_window_size(window)
        .handshake::<_, Bytes>(tcp)
        .await
        .ok()?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Some(send)
}

/// The hop's call for `protocol`, its end left to the caller.
fn call(port: u16, protocol: Protocol) -> http::Request<()> {
    let builder = http::Request::builder();
    let builder = match protocol {
        Protocol::Http => builder
            .method("GET")
            .uri(format!("http://127.0.0.1:{port}/")),
        Protocol::Grpc => builder
            .method("POST")
            .uri(format!("http://127.0.0.1:{port}/chain.v1.Hop/Call"))
            .header("content-type", "application/grpc")
            .header("te", "trailers"),
    };
    builder.body(()).expect("a request")
}

/// Opens up to `count` streams on `send` (the h2 client waits for the hop's
/// stream limit: streams it does not grant within a second are not opened).
async fn open_streams(
    send: h2::client::SendRequest<Bytes>,
    port: u16,
    protocol: Protocol,
    count: u32,
    end: bool,
) -> Vec<(h2::client::ResponseFuture, h2::SendStream<Bytes>)> {
    let mut send = send;
    let mut streams = Vec::new();
    for _ in 0..count {
        match tokio::time::timeout(Duration::from_secs(1), send.clone().ready()).await {
            Ok(Ok(ready)) => send = ready,
            _ => break,
        }
        match send.send_request(call(port, protocol), end) {
            Ok(stream) => streams.push(stream),
            Err(_) => break,
        }
    }
    streams
}

/// One connection, 100 streams, each sending a body announced as 4.2 MB (a
/// gRPC message's length prefix; over HTTP a body without a length) as fast
/// as the hop's windows let it, never the end; for 5 s.
async fn unfinished_messages(port: u16, protocol: Protocol) -> u64 {
    const SIZE: u32 = 4_200_000;
    let Some(send) = h2_connect(port, 65_535).await else {
        return 0;
    };
    let streams = open_streams(send, port, protocol, 100, false).await;
    let opened = streams.len() as u64;
    let sent = Arc::new(AtomicU64::new(0));
    let senders: Vec<_> = streams
        .into_iter()
        .map(|(response, mut body)| {
            let sent = sent.clone();
            tokio::spawn(async move {
                let _response = response;
                let mut prefix = vec![0u8];
                prefix.extend_from_slice(&SIZE.to_be_bytes());
                if body.send_data(Bytes::from(prefix), false).is_err() {
                    return;
                }
                let chunk = Bytes::from(vec![b'a'; 16 << 10]);
                let mut left = SIZE as usize - 1;
                while left > 0 {
                    body.reserve_capacity(chunk.len().min(left));
                    let granted = match poll_fn(|cx| body.poll_capacity(cx)).await {
                        Some(Ok(n)) => n,
                        _ => return,
                    };
                    let n = granted.min(left);
                    if n == 0 || body.send_data(chunk.slice(..n), false).is_err() {
                        return;
                    }
                    sent.fetch_add(n as u64, Ordering::Relaxed);
                    left -= n;
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(5)).await;
    for sender in senders {
        sender.abort();
    }
    eprintln!(
        "  (unfinished bodies: {} KiB sent in all before the hop stopped reading or refused)",
        sent.load(Ordering::Relaxed) >> 10
    );
    opened
}

/// 10,000 connections, each with one request answered, then held open 3 s.
async fn idle_connections(port: u16, protocol: Protocol) -> u64 {
    const COUNT: usize = 10_000;
    let request = match protocol {
        Protocol::Http => b"GET / HTTP/1.1\r\nhost: hop\r\n\r\n".to_vec(),
        Protocol::Grpc => [hold::h2_hello(), hold::h2_call(protocol, 1)].concat(),
    };
    let request = Arc::new(request);
    let mut held = Vec::with_capacity(COUNT);
    // A hundred at a time.
    for _ in 0..COUNT / 100 {
        let batch: Vec<_> = (0..100)
            .map(|_| {
                let request = request.clone();
                tokio::spawn(async move {
                    let mut socket = TcpStream::connect(("127.0.0.1", port)).await.ok()?;
                    socket.write_all(&request).await.ok()?;
                    let mut buf = [0u8; 1024];
                    let read = tokio::time::timeout(Duration::from_secs(2), socket.read(&mut buf));
                    matches!(read.await, Ok(Ok(n)) if n > 0).then_some(socket)
                })
            })
            .collect();
        for socket in batch {
            if let Ok(Some(socket)) = socket.await {
                held.push(socket);
            }
        }
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    held.len() as u64
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Streams {
    /// Complete requests whose answers cannot be sent: the client's window is 0.
    ZeroWindow,
    /// Requests whose end never comes.
    NeverEnding,
}

/// 80 connections x 100 streams of `kind`, held 5 s.
async fn streams(port: u16, protocol: Protocol, kind: Streams) -> u64 {
    let window = match kind {
        Streams::ZeroWindow => 0,
        Streams::NeverEnding => 65_535,
    };
    let connections: Vec<_> = (0..80)
        .map(|_| {
            tokio::spawn(async move {
                let send = h2_connect(port, window).await?;
                // gRPC requests carry a message: sent (empty) with the end
                // for complete requests, never for never-ending ones.
                let end = kind == Streams::ZeroWindow && protocol == Protocol::Http;
                let mut streams = open_streams(send, port, protocol, 100, end).await;
                if kind == Streams::ZeroWindow && protocol == Protocol::Grpc {
                    for (_, body) in &mut streams {
                        let _ = body.send_data(Bytes::from_static(&[0, 0, 0, 0, 0]), true);
                    }
                }
                Some(streams)
            })
        })
        .collect();
    let mut held = Vec::new();
    for connection in connections {
        if let Ok(Some(streams)) = connection.await {
            held.push(streams);
        }
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    held.iter().map(|s| s.len() as u64).sum()
}

/// 3,000 connections: the HTTP/2 preface and SETTINGS at once, then a
/// request's HEADERS frame one byte a second, for 15 s.
async fn slowloris(port: u16) -> u64 {
    const COUNT: usize = 3000;
    let mut sockets = Vec::with_capacity(COUNT);
    for _ in 0..COUNT {
        if let Ok(mut socket) = TcpStream::connect(("127.0.0.1", port)).await
            && socket.write_all(&hold::h2_hello()).await.is_ok()
        {
            sockets.push(socket);
        }
    }
    let opened = sockets.len() as u64;
    let headers = hold::h2_call(Protocol::Http, 1);
    for byte in headers.iter().take(15) {
        tokio::time::sleep(Duration::from_secs(1)).await;
        for socket in &mut sockets {
            // Closed by the hop: nothing more to send on it.
            let _ = socket.try_write(std::slice::from_ref(byte));
        }
    }
    opened
}
