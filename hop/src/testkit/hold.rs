//! Hostile and faulty traffic against a real hop process, the same scenarios
//! for both binaries: each plays one kind of client on 127.0.0.1, bounded in
//! count and time, and returns the figure its test asserts.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use std::path::Path;

use super::{HopProcess, Protocol, Stub, StubMode};

/// The hops' pod memory limit.
pub const POD_LIMIT: u64 = contract::POD_MEMORY_LIMIT;

/// A hop of `binary` calling an upstream that never answers, flooded with
/// 20,000 streams on one connection by a client that ignores the stream
/// limit and never reads: its peak memory stays under [`POD_LIMIT`] and it
/// keeps answering its health check. Prints the figures.
pub async fn assert_stream_flood_holds(binary: &Path, protocol: Protocol) {
    let stub = Stub::start(StubMode::Hang).await;
    let extra = [("UPSTREAM_TIMEOUT", "30s")];
    let hop = HopProcess::hop(binary, protocol, ("frontend", "prod"), &stub.url(), &extra).await;
    let written = stream_flood(hop.port, protocol, 20_000, Duration::from_secs(15)).await;
    let rss = peak_rss(hop.pid());
    eprintln!(
        "{}: {written} streams on one connection, peak RSS {:.1} MiB",
        name(binary),
        rss as f64 / 1048576.0
    );
    assert!(rss < POD_LIMIT, "peak RSS {rss} bytes");
    assert!(hop.healthy().await, "the hop stopped serving others");
}

/// A hop of `binary` with `IDLE_TIMEOUT=1s` gets 1,000 connections that send
/// nothing: all are closed soon after the timeout, and the hop answers its
/// health check meanwhile. Prints the figures.
pub async fn assert_idle_connections_close(binary: &Path, protocol: Protocol) {
    // Room for them all: the idle timeout closes them, not MAX_CONNECTIONS.
    let extra = [("IDLE_TIMEOUT", "1s"), ("MAX_CONNECTIONS", "2000")];
    let hop = HopProcess::hop(binary, protocol, ("frontend", "prod"), "", &extra).await;
    let (took, open) = idle_flood(&hop, 1000, Duration::from_secs(6)).await;
    eprintln!(
        "{}: 1000 idle connections, all closed after {took:?}, {open} left open",
        name(binary)
    );
    assert_eq!(open, 0);
    // Idle for 1s, GOAWAY, then at most 1s (IDLE_GRACE) more for a client that
    // never answers it; 2s of slack for a busy machine.
    assert!(
        took < Duration::from_secs(4),
        "closed after {took:?} with IDLE_TIMEOUT=1s"
    );
}

fn name(binary: &Path) -> String {
    binary
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
}

/// Peak resident memory of a process (VmHWM), in bytes. Linux only: the
/// tests that read it are the Linux tests.
pub fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc status");
    kib * 1024
}

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut out = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags];
    out.extend_from_slice(&stream.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// A header field as an HPACK literal without indexing, new name, no Huffman
/// (RFC 7541 6.2.2): the simplest encoding, enough for short names and values.
fn literal(out: &mut Vec<u8>, name: &str, value: &str) {
    out.push(0x00);
    out.push(name.len() as u8);
    out.extend_from_slice(name.as_bytes());
    out.push(value.len() as u8);
    out.extend_from_slice(value.as_bytes());
}

/// What an HTTP/2 client sends first: the preface and its SETTINGS (defaults).
pub fn h2_hello() -> Vec<u8> {
    let mut hello = PREFACE.to_vec();
    hello.extend(frame(0x4, 0, 0, &[]));
    hello
}

/// The frames of one complete call on `stream`: the hop's request for its
/// protocol (HTTP `GET /`, gRPC an empty `CallRequest`).
pub fn h2_call(protocol: Protocol, stream: u32) -> Vec<u8> {
    let mut block = Vec::new();
    match protocol {
        Protocol::Http => {
            // :method GET, :scheme http, :path / (static table 2, 6, 4).
            block.extend_from_slice(&[0x82, 0x86, 0x84]);
            literal(&mut block, ":authority", "hop");
            frame(0x1, 0x4 | 0x1, stream, &block) // HEADERS, END_HEADERS | END_STREAM
        }
        Protocol::Grpc => {
            // :method POST, :scheme http (static table 3, 6).
            block.extend_from_slice(&[0x83, 0x86]);
            literal(&mut block, ":path", "/chain.v1.Hop/Call");
            literal(&mut block, ":authority", "hop");
            literal(&mut block, "content-type", "application/grpc");
            literal(&mut block, "te", "trailers");
            let mut out = frame(0x1, 0x4, stream, &block); // HEADERS, END_HEADERS
            // An empty CallRequest (uncompressed, length 0), END_STREAM.
            out.extend(frame(0x0, 0x1, stream, &[0, 0, 0, 0, 0]));
            out
        }
    }
}

/// Opens `streams` calls on one HTTP/2 connection as fast as the socket takes
/// them, ignoring the hop's stream limit, and never reads an answer (a
/// client that floods and does not read). Gives up writing after `limit`.
/// Returns how many streams were written.
pub async fn stream_flood(port: u16, protocol: Protocol, streams: u32, limit: Duration) -> u32 {
    let mut socket = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    socket.write_all(&h2_hello()).await.expect("preface");
    let end = Instant::now() + limit;
    let mut written = 0;
    for i in 0..streams {
        let frames = h2_call(protocol, 2 * i + 1);
        match tokio::time::timeout_at(end.into(), socket.write_all(&frames)).await {
            Ok(Ok(())) => written += 1,
            _ => break,
        }
    }
    // Hold the connection (unread) a moment so the hop has it all in hand.
    tokio::time::sleep(Duration::from_millis(500)).await;
    written
}

/// Opens `count` connections to `hop` that send nothing and waits until the
/// hop has closed every one (at most `limit` after the last was opened);
/// meanwhile its health check must keep answering. Returns how long after
/// the last connection was opened the last one was closed, and how many were
/// still open at `limit`.
pub async fn idle_flood(hop: &HopProcess, count: usize, limit: Duration) -> (Duration, usize) {
    let port = hop.port;
    let mut sockets = Vec::with_capacity(count);
    for _ in 0..count {
        sockets.push(
            TcpStream::connect(("127.0.0.1", port))
                .await
                .expect("connect"),
        );
    }
    let start = Instant::now();
    let closed = sockets.into_iter().map(|mut s| {
        tokio::spawn(async move {
            let mut buf = [0u8; 64];
            // Closed: EOF, or a reset (HTTP/2 sends GOAWAY first: read past it).
            loop {
                match s.read(&mut buf).await {
                    Ok(0) | Err(_) => return Instant::now(),
                    Ok(_) => {}
                }
            }
        })
    });
    let closed: Vec<_> = closed.collect();
    let mut checks = 0;
    while start.elapsed() < limit && closed.iter().any(|h| !h.is_finished()) {
        assert!(
            hop.healthy().await,
            "a real call failed while {count} idle connections were open"
        );
        checks += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        checks > 0,
        "no real call was made while the idle connections were open"
    );
    let mut last = start;
    let mut open = 0;
    for handle in closed {
        if handle.is_finished() {
            last = last.max(handle.await.expect("reader task"));
        } else {
            handle.abort();
            open += 1;
        }
    }
    (last - start, open)
}

/// Three hops of `binary` (front, middle, back); 32 callers of the front hop
/// in a loop; SIGTERM of the middle hop (it must exit 0), a restart on its
/// port, and a moment more of load. Returns what `call` made of every call
/// (the caller's own words: a test sorts them into whole, refused, lost).
pub async fn restart_middle_under_load<F, Fut>(
    binary: &Path,
    protocol: Protocol,
    call: F,
) -> Vec<String>
where
    F: Fn(u16) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = String> + Send,
{
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    let hop = |name, upstream: String, extra: Vec<(&'static str, String)>| async move {
        let extra: Vec<(&str, &str)> = extra.iter().map(|(k, v)| (*k, v.as_str())).collect();
        HopProcess::hop(binary, protocol, (name, "prod"), &upstream, &extra).await
    };
    let backend = hop("backend", String::new(), vec![]).await;
    let mut middle = hop("middleware", backend.url(), vec![]).await;
    let frontend = hop("frontend", middle.url(), vec![]).await;
    let stop = Arc::new(AtomicBool::new(false));
    let callers: Vec<_> = (0..32)
        .map(|_| {
            let (stop, call, port) = (stop.clone(), call.clone(), frontend.port);
            tokio::spawn(async move {
                let mut outcomes = Vec::new();
                // Bounded in count as well as in time.
                while !stop.load(Ordering::Relaxed) && outcomes.len() < 2000 {
                    outcomes.push(call(port).await);
                }
                outcomes
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(800)).await;
    middle.sigterm();
    assert!(middle.wait(Duration::from_secs(10)).await.success());
    let port = vec![("PORT", middle.port.to_string())];
    let _restarted = hop("middleware", backend.url(), port).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    stop.store(true, Ordering::Relaxed);
    let mut outcomes = Vec::new();
    for caller in callers {
        outcomes.extend(caller.await.expect("caller task"));
    }
    outcomes
}
